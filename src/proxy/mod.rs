//! The regional HTTP front. For now a placeholder page naming the region; the proxy issue
//! replaces it with balancing, health checks and retries across the region's backends.

use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// A client that has not sent its headers by then is dropped (slowloris).
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves a page containing `region=<name>` on every path until `shutdown`.
pub async fn serve_placeholder(listener: TcpListener, region: String, shutdown: CancellationToken) {
    let body = Bytes::from(format!("Meridian demo backend\nregion={region}\n"));
    loop {
        let (stream, _) = tokio::select! {
            () = shutdown.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::debug!(%error, "http accept error");
                    continue;
                }
            },
        };
        let body = body.clone();
        let shutdown = shutdown.clone();
        // Connection tasks are short-lived and end with the shutdown token.
        tokio::spawn(async move {
            let service = service_fn(move |_request: Request<Incoming>| {
                let body = body.clone();
                async move {
                    let mut response = Response::new(Full::new(body));
                    response.headers_mut().insert(
                        hyper::header::CONTENT_TYPE,
                        hyper::header::HeaderValue::from_static("text/plain; charset=utf-8"),
                    );
                    Ok::<_, Infallible>(response)
                }
            });
            let connection = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .serve_connection(TokioIo::new(stream), service);
            tokio::pin!(connection);
            tokio::select! {
                _ = connection.as_mut() => {}
                () = shutdown.cancelled() => {
                    connection.as_mut().graceful_shutdown();
                    let _ = tokio::time::timeout(HEADER_TIMEOUT, connection.as_mut()).await;
                }
            }
        });
    }
}
