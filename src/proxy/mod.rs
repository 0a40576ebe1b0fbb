//! The regional HTTP front. For now a placeholder page naming the region; the proxy issue
//! replaces it with balancing, health checks and retries across the region's backends.

pub mod backend_health;
pub mod balance;
pub mod framing;

use axum::Router;
use axum::http::header::CONTENT_TYPE;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::net::{self, Limits};

/// Serves a page containing `region=<name>` on every path until `shutdown`, through the
/// shared accept loop (caps, idle timeouts, drain).
pub async fn serve_placeholder(listener: TcpListener, region: String, shutdown: CancellationToken) {
    let body = format!("Meridian demo backend\nregion={region}\n");
    let page = Router::new().fallback(move || {
        let body = body.clone();
        async move { ([(CONTENT_TYPE, "text/plain; charset=utf-8")], body) }
    });
    if let Err(error) = net::serve_http(listener, Limits::default(), shutdown, page).await {
        tracing::error!(%error, "http front stopped");
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    use super::*;

    #[tokio::test]
    async fn every_path_gets_the_page_naming_the_region() {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
        let shutdown = CancellationToken::new();
        let serving = tokio::spawn(serve_placeholder(
            listener,
            "eu-west".to_string(),
            shutdown.clone(),
        ));
        for path in ["/", "/any/path?x=1"] {
            let mut stream = TcpStream::connect(addr)
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            let request = format!("GET {path} HTTP/1.1\r\nhost: test\r\nconnection: close\r\n\r\n");
            stream
                .write_all(request.as_bytes())
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            let mut response = String::new();
            tokio::time::timeout(Duration::from_secs(3), stream.read_to_string(&mut response))
                .await
                .unwrap_or_else(|_| panic!("no response"))
                .unwrap_or_else(|e| panic!("{e}"));
            assert!(response.starts_with("HTTP/1.1 200 OK"), "{response}");
            assert!(
                response.contains("content-type: text/plain; charset=utf-8"),
                "{response}"
            );
            assert!(response.ends_with("region=eu-west\n"), "{response}");
        }
        shutdown.cancel();
        let stopped = tokio::time::timeout(Duration::from_secs(3), serving).await;
        assert!(stopped.is_ok(), "still serving after shutdown");
    }
}
