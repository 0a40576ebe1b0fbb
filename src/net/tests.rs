//! The accept loop over real sockets on loopback: caps, slots coming back, idle timeouts,
//! pressure, drain, and HTTP through a tower service.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::*;

/// Long enough for any loopback exchange; a test waiting this long has failed.
const WAIT: Duration = Duration::from_secs(3);

/// Echoes single bytes, waiting for each at an idle point.
async fn echo(mut stream: TcpStream, _peer: SocketAddr, conn: Conn) {
    let mut byte = [0u8; 1];
    while let Some(Ok(1)) = conn.idle(stream.read(&mut byte)).await {
        if stream.write_all(&byte).await.is_err() {
            return;
        }
    }
}

struct Listener {
    addr: SocketAddr,
    shutdown: CancellationToken,
    serving: JoinHandle<std::io::Result<()>>,
}

async fn start_echo(limits: Limits) -> Listener {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
    let shutdown = CancellationToken::new();
    let serving = tokio::spawn(serve(listener, limits, shutdown.clone(), echo));
    Listener {
        addr,
        shutdown,
        serving,
    }
}

/// A connection from `source` (any 127/8 address works on loopback).
async fn connect_from(source: &str, addr: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap_or_else(|e| panic!("{e}"));
    let local: SocketAddr = format!("{source}:0")
        .parse()
        .unwrap_or_else(|e| panic!("{e}"));
    socket.bind(local).unwrap_or_else(|e| panic!("{e}"));
    socket.connect(addr).await.unwrap_or_else(|e| panic!("{e}"))
}

/// True when the server echoes a byte: the connection was admitted and is still served.
async fn echoes(stream: &mut TcpStream) -> bool {
    let exchange = async {
        stream.write_all(b"x").await?;
        let mut byte = [0u8; 1];
        stream.read_exact(&mut byte).await?;
        Ok::<_, std::io::Error>(byte == *b"x")
    };
    matches!(tokio::time::timeout(WAIT, exchange).await, Ok(Ok(true)))
}

/// True when the server closes the connection within `within`.
async fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    let mut byte = [0u8; 1];
    matches!(
        tokio::time::timeout(within, stream.read(&mut byte)).await,
        Ok(Ok(0) | Err(_))
    )
}

#[tokio::test]
async fn one_source_cannot_take_every_slot() {
    let limits = Limits {
        max_connections: 8,
        max_per_source: 4,
        ..Limits::default()
    };
    let listener = start_echo(limits).await;
    let mut first = Vec::new();
    for _ in 0..4 {
        let mut stream = connect_from("127.0.0.2", listener.addr).await;
        assert!(echoes(&mut stream).await, "within the source's cap");
        first.push(stream);
    }
    for _ in 0..4 {
        let mut extra = connect_from("127.0.0.2", listener.addr).await;
        assert!(
            closed_within(&mut extra, WAIT).await,
            "past the source's cap"
        );
    }
    for _ in 0..4 {
        let mut other = connect_from("127.0.0.3", listener.addr).await;
        assert!(echoes(&mut other).await, "another source still gets in");
        first.push(other);
    }
    // Both caps full now: even a new source is closed at accept.
    let mut ninth = connect_from("127.0.0.4", listener.addr).await;
    assert!(closed_within(&mut ninth, WAIT).await, "past the global cap");
    for stream in &mut first {
        assert!(
            echoes(stream).await,
            "admitted connections are still served"
        );
    }
    listener.shutdown.cancel();
}

#[tokio::test]
async fn a_closed_connection_gives_its_slot_back() {
    let limits = Limits {
        max_connections: 8,
        max_per_source: 1,
        ..Limits::default()
    };
    let listener = start_echo(limits).await;
    let mut held = connect_from("127.0.0.2", listener.addr).await;
    assert!(echoes(&mut held).await);
    let mut refused = connect_from("127.0.0.2", listener.addr).await;
    assert!(closed_within(&mut refused, WAIT).await);
    drop(held);
    // The slot comes back when the server sees the close, a moment later.
    let deadline = Instant::now() + WAIT;
    loop {
        let mut again = connect_from("127.0.0.2", listener.addr).await;
        if echoes(&mut again).await {
            break;
        }
        assert!(Instant::now() < deadline, "the slot never came back");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    listener.shutdown.cancel();
}

#[tokio::test]
async fn idle_connections_are_closed() {
    let limits = Limits {
        idle_timeout: Duration::from_millis(200),
        ..Limits::default()
    };
    let listener = start_echo(limits).await;
    let mut stream = TcpStream::connect(listener.addr)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(echoes(&mut stream).await);
    let started = Instant::now();
    assert!(closed_within(&mut stream, WAIT).await);
    assert!(
        started.elapsed() >= Duration::from_millis(150),
        "not before the timeout"
    );
    listener.shutdown.cancel();
}

/// Opens four connections against `max_connections`, then says whether the first, already
/// open, is closed within 2 s of its next exchange (idle timeouts: 30 s, 200 ms under
/// pressure).
async fn idle_life_with(max_connections: usize) -> bool {
    let limits = Limits {
        max_connections,
        idle_timeout: Duration::from_secs(30),
        idle_timeout_under_pressure: Duration::from_millis(200),
        ..Limits::default()
    };
    let listener = start_echo(limits).await;
    let mut first = TcpStream::connect(listener.addr)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(echoes(&mut first).await);
    let mut others = Vec::new();
    for _ in 0..3 {
        let mut stream = TcpStream::connect(listener.addr)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(echoes(&mut stream).await);
        others.push(stream);
    }
    // A new exchange starts a new idle wait, which reads the live count again.
    assert!(echoes(&mut first).await);
    let closed = closed_within(&mut first, Duration::from_secs(2)).await;
    listener.shutdown.cancel();
    closed
}

#[tokio::test]
async fn under_pressure_open_connections_get_the_short_idle_timeout() {
    assert!(
        idle_life_with(4).await,
        "4 of 4 is pressure: closed after 200 ms"
    );
    assert!(!idle_life_with(100).await, "4 of 100 is not: open for 30 s");
}

#[tokio::test]
async fn shutdown_lets_an_exchange_finish_and_closes_idle_connections() {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
    let shutdown = CancellationToken::new();
    // Answers each byte after 300 ms, and says when it has one: shutdown can then land in
    // the middle of an exchange.
    let received = Arc::new(Notify::new());
    let slow = {
        let received = received.clone();
        move |mut stream: TcpStream, _peer, conn: Conn| {
            let received = received.clone();
            async move {
                let mut byte = [0u8; 1];
                while let Some(Ok(1)) = conn.idle(stream.read(&mut byte)).await {
                    received.notify_one();
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    if stream.write_all(&byte).await.is_err() {
                        return;
                    }
                }
            }
        }
    };
    let serving = tokio::spawn(serve(listener, Limits::default(), shutdown.clone(), slow));
    let mut idle = TcpStream::connect(addr)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let mut busy = TcpStream::connect(addr)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    // The idle connection's byte was received (and notified) before its echo.
    assert!(echoes(&mut idle).await);
    received.notified().await;
    busy.write_all(b"y").await.unwrap_or_else(|e| panic!("{e}"));
    let waited = tokio::time::timeout(WAIT, received.notified()).await;
    assert!(waited.is_ok(), "the server never got the busy byte");
    shutdown.cancel();

    assert!(closed_within(&mut idle, WAIT).await, "idle: closed at once");
    let mut byte = [0u8; 1];
    let reply = tokio::time::timeout(WAIT, busy.read_exact(&mut byte)).await;
    assert!(
        matches!(reply, Ok(Ok(_))) && byte == *b"y",
        "busy: finished"
    );
    assert!(closed_within(&mut busy, WAIT).await, "busy: then closed");
    let stopped = tokio::time::timeout(WAIT, serving).await;
    assert!(matches!(stopped, Ok(Ok(Ok(())))), "{stopped:?}");
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "the listener is closed"
    );
}

#[tokio::test]
async fn connections_still_busy_after_the_drain_grace_are_cut() {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
    let shutdown = CancellationToken::new();
    let limits = Limits {
        drain_grace: Duration::from_millis(200),
        ..Limits::default()
    };
    // Ignores shutdown: holds its stream until dropped. Says when it is accepted.
    let accepted = Arc::new(Notify::new());
    let stuck = {
        let accepted = accepted.clone();
        move |stream: TcpStream, _peer, _conn: Conn| {
            accepted.notify_one();
            async move {
                std::future::pending::<()>().await;
                drop(stream);
            }
        }
    };
    let serving = tokio::spawn(serve(listener, limits, shutdown.clone(), stuck));
    let mut stream = TcpStream::connect(addr)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let waited = tokio::time::timeout(WAIT, accepted.notified()).await;
    assert!(waited.is_ok(), "never accepted");
    let started = Instant::now();
    shutdown.cancel();
    let stopped = tokio::time::timeout(WAIT, serving).await;
    assert!(matches!(stopped, Ok(Ok(Ok(())))), "{stopped:?}");
    assert!(
        started.elapsed() >= Duration::from_millis(150),
        "waited the grace"
    );
    assert!(
        closed_within(&mut stream, WAIT).await,
        "the stuck one was dropped"
    );
}

mod http {
    use axum::Router;
    use axum::routing::get;

    use super::*;

    async fn start(limits: Limits) -> Listener {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
        let shutdown = CancellationToken::new();
        let app = Router::new().route("/hello", get(|| async { "hello" }));
        let serving = tokio::spawn(serve_http(listener, limits, shutdown.clone(), app));
        Listener {
            addr,
            shutdown,
            serving,
        }
    }

    /// One keep-alive GET; the response text up to the end of its 5-byte body.
    async fn get_hello(stream: &mut TcpStream) -> String {
        stream
            .write_all(b"GET /hello HTTP/1.1\r\nhost: test\r\n\r\n")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let mut response = Vec::new();
        let mut buf = [0u8; 1024];
        while !response.ends_with(b"hello") {
            let read = tokio::time::timeout(WAIT, stream.read(&mut buf)).await;
            match read {
                Ok(Ok(n)) if n > 0 => response.extend_from_slice(&buf[..n]),
                other => panic!("no complete response: {other:?}"),
            }
        }
        String::from_utf8_lossy(&response).into_owned()
    }

    #[tokio::test]
    async fn a_router_answers_on_a_kept_alive_connection_until_shutdown() {
        let listener = start(Limits::default()).await;
        let mut stream = TcpStream::connect(listener.addr)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        for _ in 0..2 {
            let response = get_hello(&mut stream).await;
            assert!(response.starts_with("HTTP/1.1 200 OK"), "{response}");
        }
        listener.shutdown.cancel();
        assert!(
            closed_within(&mut stream, WAIT).await,
            "idle keep-alive closed"
        );
        let stopped = tokio::time::timeout(WAIT, listener.serving).await;
        assert!(matches!(stopped, Ok(Ok(Ok(())))), "{stopped:?}");
    }

    #[tokio::test]
    async fn idle_keep_alive_connections_get_the_pressure_timeout() {
        let limits = Limits {
            max_connections: 4,
            idle_timeout: Duration::from_secs(30),
            idle_timeout_under_pressure: Duration::from_millis(200),
            ..Limits::default()
        };
        let listener = start(limits).await;
        let mut first = TcpStream::connect(listener.addr)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(get_hello(&mut first).await.starts_with("HTTP/1.1 200"));
        let mut others = Vec::new();
        for _ in 0..3 {
            let mut stream = TcpStream::connect(listener.addr)
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            assert!(get_hello(&mut stream).await.starts_with("HTTP/1.1 200"));
            others.push(stream);
        }
        // The next wait for a request head starts under pressure.
        assert!(get_hello(&mut first).await.starts_with("HTTP/1.1 200"));
        assert!(closed_within(&mut first, Duration::from_secs(2)).await);
        listener.shutdown.cancel();
    }

    #[tokio::test]
    async fn without_pressure_keep_alive_connections_stay_open() {
        let limits = Limits {
            idle_timeout: Duration::from_secs(30),
            idle_timeout_under_pressure: Duration::from_millis(200),
            ..Limits::default()
        };
        let listener = start(limits).await;
        let mut stream = TcpStream::connect(listener.addr)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(get_hello(&mut stream).await.starts_with("HTTP/1.1 200"));
        assert!(!closed_within(&mut stream, Duration::from_millis(600)).await);
        assert!(get_hello(&mut stream).await.starts_with("HTTP/1.1 200"));
        listener.shutdown.cancel();
    }
}
