//! What the proxy refuses, strips and adds: timeouts, limits, strict framing, hop-by-hop
//! headers, forwarding headers, rate limits.

use std::num::NonZeroU32;
use std::time::Duration;

use meridian::region::proxy::RateLimit;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::backends::Backend;
use super::harness::{Harness, settings};

/// Sends `raw` on a new connection and reads until the proxy closes it or 3 s pass.
async fn exchange(harness: &Harness, raw: &[u8]) -> String {
    let mut stream = TcpStream::connect(harness.addr).await.unwrap();
    stream.write_all(raw).await.unwrap();
    let mut response = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(3), stream.read_to_end(&mut response)).await;
    String::from_utf8_lossy(&response).into_owned()
}

/// A client's failures left every backend healthy and serving.
async fn assert_backends_unharmed(harness: &Harness) {
    assert_eq!(harness.get("/").await.0, 200);
    let health = harness.local_health.load();
    assert!(
        health.backends.iter().all(|b| b.state == "healthy"),
        "{health:?}"
    );
}

async fn one_backend() -> (Vec<std::sync::Arc<Backend>>, Harness) {
    let backends = vec![Backend::start("g0").await];
    let harness = Harness::start(settings(&backends)).await;
    (backends, harness)
}

#[tokio::test]
async fn a_slow_header_client_is_cut_with_408() {
    let backends = vec![Backend::start("s0").await];
    let mut settings = settings(&backends);
    settings.timeouts.request_head = Duration::from_millis(400);
    let harness = Harness::start(settings).await;
    let mut stream = TcpStream::connect(harness.addr).await.unwrap();
    stream
        .write_all(b"GET / HTTP/1.1\r\nhost: a\r\n")
        .await
        .unwrap();
    let mut response = Vec::new();
    let read =
        tokio::time::timeout(Duration::from_secs(3), stream.read_to_end(&mut response)).await;
    assert!(read.is_ok(), "the slow client was not cut");
    let response = String::from_utf8_lossy(&response);
    assert!(response.starts_with("HTTP/1.1 408"), "{response:?}");
    assert_eq!(backends[0].received(), 0);
}

#[tokio::test]
async fn a_keep_alive_connection_outlives_the_head_timeout() {
    let backends = vec![Backend::start("k0").await];
    let mut settings = settings(&backends);
    settings.timeouts.request_head = Duration::from_millis(300);
    let harness = Harness::start(settings).await;
    let mut stream = TcpStream::connect(harness.addr).await.unwrap();
    for round in 0..3 {
        stream
            .write_all(b"GET / HTTP/1.1\r\nhost: a\r\n\r\n")
            .await
            .unwrap();
        let mut response = vec![0u8; 4096];
        let read = tokio::time::timeout(Duration::from_secs(3), stream.read(&mut response))
            .await
            .unwrap()
            .unwrap();
        let response = String::from_utf8_lossy(&response[..read]);
        assert!(
            response.starts_with("HTTP/1.1 200"),
            "round {round}: {response:?}"
        );
        // Longer than the head timeout, idle between requests: not a slow head.
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[tokio::test]
async fn oversized_or_too_many_headers_get_431() {
    let (backends, harness) = one_backend().await;
    let big = format!(
        "GET / HTTP/1.1\r\nhost: a\r\nx-big: {}\r\n\r\n",
        "a".repeat(20_000)
    );
    assert!(
        exchange(&harness, big.as_bytes())
            .await
            .starts_with("HTTP/1.1 431")
    );
    let mut many = String::from("GET / HTTP/1.1\r\nhost: a\r\n");
    for i in 0..150 {
        many.push_str(&format!("x-h{i}: v\r\n"));
    }
    many.push_str("\r\n");
    assert!(
        exchange(&harness, many.as_bytes())
            .await
            .starts_with("HTTP/1.1 431")
    );
    assert_eq!(backends[0].received(), 0);
}

#[tokio::test]
async fn a_body_over_the_limit_gets_413() {
    let backends = vec![Backend::start("l0").await];
    let mut settings = settings(&backends);
    settings.limits.max_body_bytes = 1000;
    let harness = Harness::start(settings).await;
    let response = harness
        .client
        .post(harness.url("/"))
        .body(vec![b'x'; 2000])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 413);
    assert_eq!(backends[0].received(), 0);
}

#[tokio::test]
async fn a_streamed_body_over_the_limit_gets_413_and_costs_the_backend_nothing() {
    let backends = vec![Backend::start("m0").await];
    let mut settings = settings(&backends);
    settings.limits.max_body_bytes = 100_000;
    let harness = Harness::start(settings).await;
    // Chunked, so the size is only known as it streams (and it is not held for replay).
    let chunk = format!("{:x}\r\n{}\r\n", 50_000, "y".repeat(50_000));
    let mut raw = b"POST / HTTP/1.1\r\nhost: a\r\ntransfer-encoding: chunked\r\n\r\n".to_vec();
    for _ in 0..3 {
        raw.extend_from_slice(chunk.as_bytes());
    }
    raw.extend_from_slice(b"0\r\n\r\n");
    for _ in 0..4 {
        let response = exchange(&harness, &raw).await;
        assert!(response.starts_with("HTTP/1.1 413"), "{response:?}");
    }
    // Four failed uploads in a row did not eject the backend.
    assert_backends_unharmed(&harness).await;
}

#[tokio::test]
async fn a_client_that_trickles_its_body_gets_408_and_costs_the_backend_nothing() {
    let backends = vec![Backend::start("t0").await];
    let mut settings = settings(&backends);
    settings.timeouts.request_head = Duration::from_millis(300);
    settings.outlier.consecutive_failures = 1;
    let harness = Harness::start(settings).await;
    for _ in 0..2 {
        let response = exchange(
            &harness,
            b"POST / HTTP/1.1\r\nhost: a\r\ncontent-length: 100\r\n\r\nonly ten..",
        )
        .await;
        assert!(response.starts_with("HTTP/1.1 408"), "{response:?}");
    }
    assert_eq!(backends[0].received(), 0);
    assert_backends_unharmed(&harness).await;
}

#[tokio::test]
async fn a_stalled_streamed_upload_is_the_client_s_timeout_not_the_backend_s() {
    let backends = vec![Backend::start("u0").await];
    let mut settings = settings(&backends);
    settings.timeouts.response_head = Duration::from_millis(300);
    settings.outlier.consecutive_failures = 1;
    let harness = Harness::start(settings).await;
    // One chunk of a chunked upload, then nothing: the backend waits for the rest.
    let response = exchange(
        &harness,
        b"POST / HTTP/1.1\r\nhost: a\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n",
    )
    .await;
    assert!(response.starts_with("HTTP/1.1 408"), "{response:?}");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_backends_unharmed(&harness).await;
}

#[tokio::test]
async fn strict_framing_refuses_ambiguous_requests_with_400() {
    let (backends, harness) = one_backend().await;
    let cases: [(&str, &[u8]); 7] = [
        ("CL and TE", b"POST / HTTP/1.1\r\nhost: a\r\ncontent-length: 3\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n"),
        ("TE and CL", b"POST / HTTP/1.1\r\nhost: a\r\ntransfer-encoding: chunked\r\ncontent-length: 3\r\n\r\n0\r\n\r\n"),
        ("duplicate CL", b"POST / HTTP/1.1\r\nhost: a\r\ncontent-length: 3\r\ncontent-length: 3\r\n\r\nabc"),
        ("invalid CL", b"POST / HTTP/1.1\r\nhost: a\r\ncontent-length: 3x\r\n\r\nabc"),
        ("non-final chunked", b"POST / HTTP/1.1\r\nhost: a\r\ntransfer-encoding: chunked, gzip\r\n\r\n0\r\n\r\n"),
        ("obs-fold", b"GET / HTTP/1.1\r\nhost: a\r\nx-folded: a\r\n b\r\n\r\n"),
        ("empty header name", b"GET / HTTP/1.1\r\nhost: a\r\n: v\r\n\r\n"),
    ];
    for (what, raw) in cases {
        let response = exchange(&harness, raw).await;
        assert!(response.starts_with("HTTP/1.1 400"), "{what}: {response:?}");
    }
    assert_eq!(backends[0].received(), 0);
}

#[tokio::test]
async fn hop_by_hop_headers_are_stripped_and_forwarding_headers_added() {
    let (_backends, harness) = one_backend().await;
    let response = harness
        .client
        .get(harness.url("/echo"))
        .header("connection", "x-private")
        .header("x-private", "1")
        .header("keep-alive", "timeout=5")
        .header("proxy-connection", "keep-alive")
        .header("te", "trailers")
        .header("x-forwarded-for", "203.0.113.1")
        .header("x-kept", "yes")
        .send()
        .await
        .unwrap();
    let echo = response.text().await.unwrap().to_lowercase();
    for gone in ["x-private", "keep-alive", "proxy-connection", "\nte:"] {
        assert!(!echo.contains(gone), "{gone} reached the backend:\n{echo}");
    }
    assert!(echo.contains("x-kept: yes"), "{echo}");
    // An untrusted client's X-Forwarded-For is replaced, not extended.
    assert!(echo.contains("x-forwarded-for: 127.0.0.1\n"), "{echo}");
    assert!(
        echo.contains("forwarded: for=127.0.0.1;proto=http"),
        "{echo}"
    );
    assert!(echo.contains("x-forwarded-proto: http"), "{echo}");
    assert!(echo.contains("via: 1.1 meridian"), "{echo}");
}

#[tokio::test]
async fn connect_is_refused_and_expect_continue_is_answered_by_the_proxy() {
    let (backends, harness) = one_backend().await;
    let response = exchange(
        &harness,
        b"CONNECT example.com:443 HTTP/1.1\r\nhost: example.com:443\r\nconnection: close\r\n\r\n",
    )
    .await;
    assert!(response.starts_with("HTTP/1.1 405"), "{response:?}");
    assert_eq!(backends[0].received(), 0);
    let response = exchange(
        &harness,
        b"POST /echo HTTP/1.1\r\nhost: a\r\ncontent-length: 5\r\nexpect: 100-continue\r\nconnection: close\r\n\r\nhello",
    )
    .await;
    assert!(response.contains("HTTP/1.1 200"), "{response:?}");
    assert!(
        !response.to_lowercase().contains("\nexpect:"),
        "{response:?}"
    );
    assert!(response.ends_with("\nhello"), "{response:?}");
}

#[tokio::test]
async fn a_trusted_proxy_s_forwarded_for_is_appended_to() {
    let backends = vec![Backend::start("f0").await];
    let mut settings = settings(&backends);
    settings.trusted_proxies = vec!["127.0.0.0/8".parse().unwrap()];
    let harness = Harness::start(settings).await;
    let echo = harness
        .client
        .get(harness.url("/echo"))
        .header("x-forwarded-for", "203.0.113.1")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        echo.contains("x-forwarded-for: 203.0.113.1, 127.0.0.1\n"),
        "{echo}"
    );
}

#[tokio::test]
async fn the_rate_limit_answers_429_with_retry_after() {
    let backends = vec![Backend::start("r0").await];
    let mut settings = settings(&backends);
    settings.rate_limit = Some(RateLimit {
        per_second: NonZeroU32::new(1).unwrap(),
        burst: NonZeroU32::new(3).unwrap(),
    });
    let harness = Harness::start(settings).await;
    let mut statuses = Vec::new();
    let mut retry_after = None;
    for _ in 0..6 {
        let response = harness.client.get(harness.url("/")).send().await.unwrap();
        statuses.push(response.status().as_u16());
        if response.status().as_u16() == 429 {
            retry_after = response
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().to_string());
        }
    }
    assert_eq!(&statuses[..3], &[200, 200, 200], "{statuses:?}");
    assert!(statuses[3..].iter().all(|s| *s == 429), "{statuses:?}");
    assert_eq!(retry_after.as_deref(), Some("1"));
    assert_eq!(backends[0].received(), 3);
}

#[tokio::test]
async fn http2_prior_knowledge_is_served() {
    let (_backends, harness) = one_backend().await;
    let stream = TcpStream::connect(harness.addr).await.unwrap();
    let (mut sender, connection) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(stream),
    )
    .await
    .unwrap();
    tokio::spawn(connection);
    let request = hyper::Request::builder()
        .uri(format!("http://{}/echo", harness.addr))
        .body(http_body_util::Empty::<bytes::Bytes>::new())
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    assert_eq!(response.status(), 200);
    use http_body_util::BodyExt;
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let echo = String::from_utf8_lossy(&body);
    assert!(echo.starts_with("GET /echo\n"), "{echo}");
    assert!(echo.contains(&format!("host: {}", harness.addr)), "{echo}");
}
