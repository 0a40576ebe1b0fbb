//! Test backends: each serves `backend=<id>` and can be told to answer with a status, to
//! hang (accept and never answer), or to stop (listener and connections closed at once).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU8, AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

const ANSWER: u8 = 0;
const HANG: u8 = 1;
const DROP: u8 = 2;

/// One test backend on 127.0.0.1.
pub(crate) struct Backend {
    pub(crate) id: String,
    pub(crate) addr: SocketAddr,
    mode: Arc<AtomicU8>,
    status: Arc<AtomicU16>,
    delay_ms: Arc<AtomicU64>,
    /// Requests whose head arrived (whatever was answered), health checks aside.
    pub(crate) received: Arc<AtomicU64>,
    /// The last request's headers and body, as text.
    pub(crate) last: Arc<Mutex<String>>,
    running: Mutex<Option<CancellationToken>>,
}

impl Backend {
    pub(crate) async fn start(id: &str) -> Arc<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let backend = Arc::new(Self {
            id: id.to_string(),
            addr: listener.local_addr().unwrap(),
            mode: Arc::new(AtomicU8::new(ANSWER)),
            status: Arc::new(AtomicU16::new(200)),
            delay_ms: Arc::new(AtomicU64::new(0)),
            received: Arc::new(AtomicU64::new(0)),
            last: Arc::new(Mutex::new(String::new())),
            running: Mutex::new(None),
        });
        backend.serve(listener);
        backend
    }

    fn serve(self: &Arc<Self>, listener: TcpListener) {
        let token = CancellationToken::new();
        *self.running.lock().unwrap() = Some(token.clone());
        let backend = self.clone();
        tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    () = token.cancelled() => return,
                    accepted = listener.accept() => accepted,
                };
                let Ok((stream, _)) = accepted else { continue };
                let (backend, token) = (backend.clone(), token.clone());
                tokio::spawn(async move {
                    let service = service_fn(move |request| {
                        let backend = backend.clone();
                        async move { backend.answer(request).await }
                    });
                    let connection = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .with_upgrades();
                    tokio::select! {
                        () = token.cancelled() => {}
                        _ = connection => {}
                    }
                });
            }
        });
    }

    async fn answer(
        &self,
        mut request: Request<Incoming>,
    ) -> Result<Response<Full<Bytes>>, &'static str> {
        // Active health checks are the proxy's business, not traffic.
        let check = request
            .headers()
            .get("user-agent")
            .is_some_and(|agent| agent == "meridian-health-check");
        if !check {
            self.received.fetch_add(1, Ordering::SeqCst);
        }
        if request.headers().contains_key("upgrade") {
            return Ok(echo_upgrade(&mut request));
        }
        let (head, body) = request.into_parts();
        let mut text = format!("{} {}\n", head.method, head.uri);
        for (name, value) in &head.headers {
            text.push_str(&format!("{name}: {}\n", value.to_str().unwrap_or("?")));
        }
        let body = body
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        text.push('\n');
        text.push_str(&String::from_utf8_lossy(&body));
        *self.last.lock().unwrap() = text.clone();
        match self.mode.load(Ordering::SeqCst) {
            HANG => std::future::pending::<()>().await,
            DROP => return Err("dropped"),
            _ => {}
        }
        let delay = self.delay_ms.load(Ordering::SeqCst);
        if delay > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(delay)).await;
        }
        let status = self.status.load(Ordering::SeqCst);
        let body = if head.uri.path() == "/echo" {
            text
        } else {
            format!("backend={}\n", self.id)
        };
        let mut response = Response::new(Full::new(Bytes::from(body)));
        *response.status_mut() = hyper::StatusCode::from_u16(status).unwrap();
        Ok(response)
    }

    /// Read each request, then close the connection without a response.
    pub(crate) fn drop_requests(&self) {
        self.mode.store(DROP, Ordering::SeqCst);
    }

    /// Answer each request after `ms` milliseconds.
    pub(crate) fn set_delay(&self, ms: u64) {
        self.delay_ms.store(ms, Ordering::SeqCst);
    }

    /// Answer every request with `status`.
    pub(crate) fn set_status(&self, status: u16) {
        self.status.store(status, Ordering::SeqCst);
    }

    /// Accept connections and read requests, never answer.
    pub(crate) fn hang(&self) {
        self.mode.store(HANG, Ordering::SeqCst);
    }

    /// Close the listener and every connection, as a crash would.
    pub(crate) fn stop(&self) {
        if let Some(token) = self.running.lock().unwrap().take() {
            token.cancel();
        }
    }

    /// Listen again on the same port.
    pub(crate) async fn restart(self: &Arc<Self>) {
        self.mode.store(ANSWER, Ordering::SeqCst);
        let listener = TcpListener::bind(self.addr).await.unwrap();
        self.serve(listener);
    }

    pub(crate) fn received(&self) -> u64 {
        self.received.load(Ordering::SeqCst)
    }
}

/// Switches to the requested protocol and echoes every byte back.
fn echo_upgrade(request: &mut Request<Incoming>) -> Response<Full<Bytes>> {
    let upgrade = hyper::upgrade::on(request);
    tokio::spawn(async move {
        if let Ok(upgraded) = upgrade.await {
            let (mut read, mut write) = tokio::io::split(TokioIo::new(upgraded));
            let _ = tokio::io::copy(&mut read, &mut write).await;
        }
    });
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = hyper::StatusCode::SWITCHING_PROTOCOLS;
    let headers = response.headers_mut();
    headers.insert("connection", "upgrade".parse().unwrap());
    headers.insert("upgrade", "echo".parse().unwrap());
    response
}
