//! The demo's built-in backends: three small web servers per region, on the addresses of
//! the region's `[proxy]` backends, and the chaos controls that stop and restart them.
//!
//! A backend answers `GET /` with `region=<name> backend=<id>` and `GET /echo` with the
//! request line and headers it received. Stopping one closes its listener and every open
//! connection at once, as a crash would.

use std::convert::Infallible;
use std::fmt::Write as _;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response as HyperResponse};
use hyper_util::rt::TokioIo;
use serde_json::json;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::Config;

/// One demo backend: where it listens and whether it runs.
#[derive(Debug)]
pub struct DemoBackend {
    pub region: String,
    pub index: usize,
    pub id: String,
    pub address: SocketAddr,
    /// Cancelled to stop the running instance; `None` while stopped.
    running: Mutex<Option<CancellationToken>>,
}

/// Every demo backend of every region, and the tasks serving them.
#[derive(Debug, Clone)]
pub struct DemoBackends {
    backends: Arc<Vec<DemoBackend>>,
    tracker: TaskTracker,
    shutdown: CancellationToken,
}

impl DemoBackends {
    /// Starts a backend on each address of each region's `[proxy]` backends.
    pub async fn start(config: &Config, shutdown: CancellationToken) -> io::Result<Self> {
        let backends = config
            .regions
            .iter()
            .flat_map(|region| {
                region
                    .proxy
                    .backends
                    .iter()
                    .enumerate()
                    .map(|(index, backend)| DemoBackend {
                        region: region.name.clone(),
                        index,
                        id: backend.id.clone(),
                        address: backend.address,
                        running: Mutex::new(None),
                    })
            })
            .collect();
        let all = Self {
            backends: Arc::new(backends),
            tracker: TaskTracker::new(),
            shutdown,
        };
        for backend in all.backends.iter() {
            all.start_one(backend).await?;
        }
        Ok(all)
    }

    pub fn iter(&self) -> impl Iterator<Item = &DemoBackend> {
        self.backends.iter()
    }

    fn find(&self, region: &str, index: usize) -> Option<&DemoBackend> {
        self.backends
            .iter()
            .find(|b| b.region == region && b.index == index)
    }

    /// Starts `backend` unless it runs; binding fails if its port is taken.
    async fn start_one(&self, backend: &DemoBackend) -> io::Result<()> {
        if backend.token().is_some() {
            return Ok(());
        }
        let listener = TcpListener::bind(backend.address).await?;
        let token = self.shutdown.child_token();
        *backend
            .running
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(token.clone());
        let page = format!("region={} backend={}\n", backend.region, backend.id);
        self.tracker
            .spawn(serve(listener, Arc::new(page), token, self.tracker.clone()));
        Ok(())
    }

    fn stop_one(backend: &DemoBackend) {
        if let Some(token) = backend
            .running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        {
            token.cancel();
        }
    }

    /// Waits for every backend task after shutdown.
    pub async fn wait(&self) {
        self.tracker.close();
        self.tracker.wait().await;
    }

    /// `POST /demo/backends/{region}/{index}/stop` and `.../start`, for the status
    /// listeners (demo only).
    pub fn chaos_routes(&self) -> Router {
        Router::new()
            .route("/demo/backends", get(list))
            .route("/demo/backends/{region}/{index}/{action}", post(chaos))
            .with_state(self.clone())
    }
}

impl DemoBackend {
    fn token(&self) -> Option<CancellationToken> {
        self.running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub fn is_running(&self) -> bool {
        self.token().is_some()
    }
}

/// `GET /demo/backends`: every demo backend and whether it runs, for the dashboard's chaos
/// controls.
async fn list(State(backends): State<DemoBackends>) -> Response {
    let list: Vec<_> = backends
        .iter()
        .map(|backend| {
            json!({
                "region": backend.region,
                "index": backend.index,
                "backend": backend.id,
                "address": backend.address.to_string(),
                "running": backend.is_running(),
            })
        })
        .collect();
    Json(json!({ "backends": list })).into_response()
}

async fn chaos(
    State(backends): State<DemoBackends>,
    Path((region, index, action)): Path<(String, usize, String)>,
) -> Response {
    let Some(backend) = backends.find(&region, index) else {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({ "error": format!("no demo backend {index} in region {region:?}") })),
        )
            .into_response();
    };
    let result = match action.as_str() {
        "stop" => {
            DemoBackends::stop_one(backend);
            Ok(())
        }
        "start" => backends.start_one(backend).await,
        _ => {
            return (
                StatusCode::NOT_FOUND,
                Json(json!({ "error": format!("unknown action {action:?}: stop or start") })),
            )
                .into_response();
        }
    };
    match result {
        Ok(()) => {
            tracing::info!(region, backend = %backend.id, action, "demo backend");
            Json(json!({
                "region": backend.region,
                "index": backend.index,
                "backend": backend.id,
                "address": backend.address.to_string(),
                "running": backend.is_running(),
            }))
            .into_response()
        }
        Err(error) => (
            StatusCode::CONFLICT,
            Json(json!({ "error": format!("cannot start {}: {error}", backend.id) })),
        )
            .into_response(),
    }
}

/// Serves one backend until `stop`, which drops the listener and every connection.
async fn serve(
    listener: TcpListener,
    page: Arc<String>,
    stop: CancellationToken,
    tracker: TaskTracker,
) {
    loop {
        let accepted = tokio::select! {
            () = stop.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        let Ok((stream, _)) = accepted else {
            continue;
        };
        let (page, stop) = (page.clone(), stop.clone());
        tracker.spawn(async move {
            let service = service_fn(move |request| {
                let page = page.clone();
                async move { Ok::<_, Infallible>(answer(&page, &request)) }
            });
            let connection = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades();
            tokio::select! {
                () = stop.cancelled() => {}
                _ = connection => {}
            }
        });
    }
}

fn answer(page: &str, request: &Request<Incoming>) -> HyperResponse<Full<Bytes>> {
    let body = if request.uri().path() == "/echo" {
        let mut echo = format!(
            "{} {} {:?}\n",
            request.method(),
            request.uri(),
            request.version()
        );
        for (name, value) in request.headers() {
            let _ = writeln!(
                echo,
                "{name}: {}",
                String::from_utf8_lossy(value.as_bytes())
            );
        }
        echo
    } else {
        page.to_string()
    };
    let mut response = HyperResponse::new(Full::new(Bytes::from(body)));
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}
