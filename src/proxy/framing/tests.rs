//! The guard as hyper's IO: a real hyper http1 server on loopback, raw requests over TCP.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::FramingGuard;

const MAX_HEAD: usize = 16 * 1024;

/// Answers `path=<path> body=<body>`, so a response shows which request reached the service.
async fn echo(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, hyper::Error> {
    let mut text = format!("path={} body=", request.uri().path()).into_bytes();
    text.extend_from_slice(&request.into_body().collect().await?.to_bytes());
    Ok(Response::new(Full::new(Bytes::from(text))))
}

/// A hyper http1 server behind the guard on 127.0.0.1:0; `max_buf_size` is hyper's.
async fn serve(max_buf_size: Option<usize>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut builder = http1::Builder::new();
                if let Some(size) = max_buf_size {
                    builder.max_buf_size(size);
                }
                let io = TokioIo::new(FramingGuard::new(stream, MAX_HEAD));
                // What the client receives is the result under test.
                let _ = builder.serve_connection(io, service_fn(echo)).await;
            });
        }
    });
    addr
}

/// Sends `request` on a new connection and returns everything received until the server
/// closes (or resets) it.
async fn exchange(addr: SocketAddr, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(addr)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    stream
        .write_all(request)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let mut response = Vec::new();
    let mut chunk = [0; 4096];
    loop {
        let read = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut chunk))
            .await
            .unwrap_or_else(|_| panic!("connection still open: {response:?}"));
        match read {
            Ok(0) | Err(_) => break,
            Ok(count) => response.extend_from_slice(&chunk[..count]),
        }
    }
    String::from_utf8_lossy(&response).into_owned()
}

const GET_FIRST: &[u8] = b"GET /first HTTP/1.1\r\nHost: a\r\n\r\n";

const SMUGGLING: [&[u8]; 9] = [
    b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc",
    b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 3\r\n\r\nabc",
    b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3x\r\n\r\nabc",
    b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a\r\nX-Folded: a\r\n b\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a\r\n: empty\r\n\r\n",
];

#[tokio::test]
async fn every_smuggling_shape_gets_a_400_from_hyper() {
    let addr = serve(None).await;
    for request in SMUGGLING {
        let response = exchange(addr, request).await;
        let shown = String::from_utf8_lossy(request);
        assert!(
            response.starts_with("HTTP/1.1 400 Bad Request\r\n"),
            "{shown:?}: {response:?}"
        );
        assert!(
            !response.contains("path="),
            "{shown:?} reached the service: {response:?}"
        );
    }
}

#[tokio::test]
async fn a_refused_request_is_answered_after_the_ones_before_it() {
    let addr = serve(None).await;
    for bad in SMUGGLING {
        let response = exchange(addr, &[GET_FIRST, bad].concat()).await;
        let refusal = response.find("HTTP/1.1 400");
        assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response:?}");
        assert!(response.contains("path=/first body="), "{response:?}");
        assert!(refusal > response.find("path=/first"), "{response:?}");
        assert_eq!(response.matches("path=").count(), 1, "{response:?}");
    }
}

#[tokio::test]
async fn pipelined_good_requests_both_get_200() {
    let addr = serve(None).await;
    let second =
        b"POST /second HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi";
    let response = exchange(addr, &[GET_FIRST, second].concat()).await;
    assert_eq!(
        response.matches("HTTP/1.1 200 OK\r\n").count(),
        2,
        "{response:?}"
    );
    let first = response.find("path=/first body=");
    assert!(first.is_some(), "{response:?}");
    assert!(
        response.find("path=/second body=hi") > first,
        "{response:?}"
    );
}

#[tokio::test]
async fn a_chunked_post_body_arrives_intact() {
    let addr = serve(None).await;
    let request = b"POST /upload HTTP/1.1\r\nHost: a\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n\
        4;name=value\r\nWiki\r\n5 ;x\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nExpires: never\r\n\r\n";
    let response = exchange(addr, request).await;
    assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response:?}");
    assert!(
        response.ends_with("path=/upload body=Wikipedia in\r\n\r\nchunks."),
        "{response:?}"
    );
}

fn oversized_request() -> Vec<u8> {
    let mut request = b"GET / HTTP/1.1\r\nHost: a\r\nX-Pad: ".to_vec();
    request.resize(MAX_HEAD + 100, b'a');
    request.extend_from_slice(b"\r\n\r\n");
    request
}

#[tokio::test]
async fn an_oversized_head_gets_400_from_a_roomy_hyper() {
    let response = exchange(serve(None).await, &oversized_request()).await;
    assert!(
        response.starts_with("HTTP/1.1 400 Bad Request\r\n"),
        "{response:?}"
    );
}

#[tokio::test]
async fn an_oversized_head_gets_431_when_hyper_buffers_less_than_the_guard() {
    let response = exchange(serve(Some(8192)).await, &oversized_request()).await;
    assert!(
        response.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"),
        "{response:?}"
    );
}

#[tokio::test]
async fn a_smuggled_request_after_a_declined_upgrade_gets_400() {
    let addr = serve(None).await;
    let upgrade =
        b"GET /chat HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n";
    let response = exchange(addr, &[upgrade.as_slice(), SMUGGLING[0]].concat()).await;
    assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response:?}");
    assert!(
        response.contains("HTTP/1.1 400 Bad Request\r\n"),
        "{response:?}"
    );
    assert!(!response.contains("path=/smuggled"), "{response:?}");
}

#[tokio::test]
async fn a_broken_chunked_body_ends_the_connection() {
    let addr = serve(None).await;
    let request = b"POST /broken HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n\
        3\r\nabc\r\nzz\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n";
    let response = exchange(addr, request).await;
    assert!(!response.contains("path=/smuggled"), "{response:?}");
    assert!(!response.contains("200 OK"), "{response:?}");
}

/// Everything the guard hands over through 5-byte reads while the client writes `stream` in
/// pieces of 1 to 7 bytes, and the kind of error that ended it, if any.
async fn read_through_guard(stream: &[u8]) -> (Vec<u8>, Option<std::io::ErrorKind>) {
    let (mut client, server) = tokio::io::duplex(64);
    let owned = stream.to_vec();
    let writer = tokio::spawn(async move {
        let mut rest = owned.as_slice();
        let mut size = 1;
        while !rest.is_empty() {
            let (piece, tail) = rest.split_at(size.min(rest.len()));
            if client.write_all(piece).await.is_err() {
                return;
            }
            rest = tail;
            size = size % 7 + 1;
        }
    });
    let mut guard = FramingGuard::new(server, 128);
    let mut released = Vec::new();
    let mut space = [0; 5];
    let error = loop {
        match guard.read(&mut space).await {
            Ok(0) => break None,
            Ok(count) => released.extend_from_slice(&space[..count]),
            Err(e) => break Some(e.kind()),
        }
    };
    writer.await.unwrap_or_else(|e| panic!("{e}"));
    (released, error)
}

#[tokio::test]
async fn the_guard_hands_over_checked_bytes_through_small_reads() {
    let good = [
        GET_FIRST,
        b"POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3;x\r\nabc\r\n0\r\n\r\n",
        b"POST /l HTTP/1.1\r\nContent-Length: 3\r\n\r\nxyz",
    ]
    .concat();
    let stream = [good.as_slice(), SMUGGLING[2]].concat();
    let (released, error) = read_through_guard(&stream).await;
    let mut spoiled = stream.clone();
    spoiled[good.len()] = b'(';
    assert_eq!(released, spoiled);
    assert_eq!(error, None);
}

#[tokio::test]
async fn the_guard_fails_the_read_at_a_broken_chunk() {
    let head = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
    let stream = [head.as_slice(), b"3\r\nabc\r\nzz\r\n\r\n", GET_FIRST].concat();
    let (released, error) = read_through_guard(&stream).await;
    assert_eq!(released, stream[..head.len() + 8]);
    assert_eq!(error, Some(std::io::ErrorKind::InvalidData));
}

#[tokio::test]
async fn the_guard_drops_a_partial_head_at_the_end_of_the_stream() {
    let stream = [GET_FIRST, b"GET /partial HTTP/1.1\r\nHost"].concat();
    let (released, error) = read_through_guard(&stream).await;
    assert_eq!(released, GET_FIRST);
    assert_eq!(error, None);
}
