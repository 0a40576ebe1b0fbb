//! The proxy's listener: the shared accept loop (caps, back-off, drain), then hyper serving
//! HTTP/1.1 and HTTP/2 (prior knowledge) on each connection, with the region's limits.

use std::convert::Infallible;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::{http1, http2};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

use super::forward;
use super::framing::FramingGuard;
use super::headers::Peer;
use super::state::Proxy;
use crate::net::{self, IdleTimer, Limits};

/// Serves `proxy` on `listener` until `shutdown`: then stops accepting, lets each
/// connection finish the request in flight within the drain grace, and returns.
pub async fn serve(
    listener: TcpListener,
    proxy: Arc<Proxy>,
    shutdown: CancellationToken,
) -> io::Result<()> {
    let timeouts = proxy.snapshot().settings.timeouts.clone();
    let limits = Limits {
        // A proxy holds more connections than a name server: browsers open several each.
        max_connections: 4096,
        max_per_source: 512,
        idle_timeout: timeouts.client_idle,
        ..Limits::default()
    };
    net::serve(listener, limits, shutdown, move |stream, peer, conn| {
        let proxy = proxy.clone();
        async move {
            let _ = stream.set_nodelay(true);
            // Limits as of this connection's start: a reload applies to new connections.
            let snapshot = proxy.snapshot();
            let settings = &snapshot.settings;
            let timeouts = settings.timeouts.clone();
            let limits = settings.limits.clone();
            drop(snapshot);
            let client = Arc::new(Peer::new(peer.ip()));
            let service = service_fn(move |request| {
                let (proxy, client) = (proxy.clone(), client.clone());
                async move { Ok::<_, Infallible>(forward::handle(proxy, client, request).await) }
            });
            match protocol(&stream, timeouts.request_head).await {
                Protocol::Gone => {}
                Protocol::Http2 => {
                    let mut builder = http2::Builder::new(TokioExecutor::new());
                    builder.timer(TokioTimer::new()).max_header_list_size(
                        u32::try_from(limits.max_header_bytes).unwrap_or(u32::MAX),
                    );
                    let connection = builder.serve_connection(TokioIo::new(stream), service);
                    net::drive(connection, &conn, peer).await;
                }
                Protocol::Http1 => {
                    // The first request head is timed by the guard (408 at `request_head`);
                    // hyper's timer, a little longer, bounds the waits for later heads,
                    // idle ones included.
                    let later_heads = timeouts
                        .client_idle
                        .max(timeouts.request_head + Duration::from_secs(1));
                    let io = FramingGuard::with_head_timeout(
                        stream,
                        limits.max_header_bytes,
                        Some(timeouts.request_head),
                    );
                    let connection = http1::Builder::new()
                        .timer(IdleTimer::new(conn.clone()))
                        .header_read_timeout(later_heads)
                        .max_buf_size(limits.max_header_bytes)
                        .max_headers(limits.max_header_count)
                        .serve_connection(TokioIo::new(io), service)
                        .with_upgrades();
                    net::drive(connection, &conn, peer).await;
                }
            }
        }
    })
    .await
}

/// What a new connection speaks.
enum Protocol {
    Http1,
    /// HTTP/2 with prior knowledge: the connection starts with the client preface.
    Http2,
    /// Closed, or silent past the head timeout, before saying anything.
    Gone,
}

/// The HTTP/2 client connection preface (RFC 9113 section 3.4).
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Tells HTTP/2 from HTTP/1 by the first bytes, without consuming them. Deciding here
/// rather than in hyper-util's `auto` builder keeps each connection to the state of the one
/// protocol it speaks: measured, `auto` cost 39 KiB per idle HTTP/1.1 connection, a plain
/// HTTP/1.1 connection 21 KiB.
async fn protocol(stream: &TcpStream, timeout: Duration) -> Protocol {
    let decide = async {
        let mut first = [0u8; H2_PREFACE.len()];
        loop {
            let Ok(read) = stream.peek(&mut first).await else {
                return Protocol::Gone;
            };
            if read == 0 {
                return Protocol::Gone;
            }
            if first[..read] != H2_PREFACE[..read] {
                return Protocol::Http1;
            }
            if read == H2_PREFACE.len() {
                return Protocol::Http2;
            }
            // Part of the preface so far: peek again once more may have come (a peek returns
            // at once while bytes wait, so pause rather than spin).
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    tokio::time::timeout(timeout, decide)
        .await
        .unwrap_or(Protocol::Gone)
}

/// Runs one proxy worker on the calling thread until `shutdown`: its own single-threaded
/// runtime serving its own listener (one of several sharing the port), with its own share of
/// the upstream connections. A request then stays on one core from accept to response, as
/// in nginx's and HAProxy's event loops; a shared work-stealing runtime would move it and its
/// connections between cores.
pub fn run_worker(
    index: usize,
    listener: std::net::TcpListener,
    proxy: Arc<Proxy>,
    shutdown: CancellationToken,
) -> io::Result<()> {
    super::pool::set_worker(index);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .thread_name(format!("proxy-{index}"))
        .build()?;
    runtime.block_on(async move {
        let listener = TcpListener::from_std(listener)?;
        serve(listener, proxy, shutdown).await
    })
}
