//! The proxy's listener: the shared accept loop (caps, back-off, drain), then hyper serving
//! HTTP/1.1 and HTTP/2 (prior knowledge) on each connection, with the region's limits.

use std::convert::Infallible;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::forward;
use super::framing::FramingGuard;
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
            let mut builder = auto::Builder::new(TokioExecutor::new());
            let timeouts = &settings.timeouts;
            // The first request head is timed by the guard (408 at `request_head`); hyper's
            // timer, a little longer, bounds the waits for later heads, idle ones included.
            let later_heads = timeouts
                .client_idle
                .max(timeouts.request_head + Duration::from_secs(1));
            let io = FramingGuard::with_head_timeout(
                stream,
                settings.limits.max_header_bytes,
                Some(timeouts.request_head),
            );
            builder
                .http1()
                .timer(IdleTimer::new(conn.clone()))
                .header_read_timeout(later_heads)
                .max_buf_size(settings.limits.max_header_bytes)
                .max_headers(settings.limits.max_header_count);
            builder
                .http2()
                .timer(TokioTimer::new())
                .max_header_list_size(
                    u32::try_from(settings.limits.max_header_bytes).unwrap_or(u32::MAX),
                );
            drop(snapshot);
            let service = service_fn(move |request| {
                let proxy = proxy.clone();
                async move { Ok::<_, Infallible>(forward::handle(proxy, peer, request).await) }
            });
            let connection = builder.serve_connection_with_upgrades(TokioIo::new(io), service);
            net::drive(connection, &conn, peer).await;
        }
    })
    .await
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
