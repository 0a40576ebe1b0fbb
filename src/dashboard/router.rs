//! The status router and its handlers; errors become JSON responses in one place.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use axum::extract::State;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;

use tokio_util::sync::CancellationToken;

use crate::config::AdminToken;
use crate::health::SharedLocalHealth;
use crate::health::monitor::Monitor;
use crate::health::quorum::Operator;
use crate::reload::{Outcome, Reloader};

/// Who this node is, for `/healthz` and peers.
#[derive(Debug, Clone)]
pub struct NodeIdentity {
    pub region: String,
    pub node: String,
    pub version: &'static str,
    pub started: Instant,
}

/// What the status handlers read: the node's identity and its reloader (which holds the
/// published view).
#[derive(Debug)]
pub struct StatusState {
    pub identity: NodeIdentity,
    pub reloader: Arc<Reloader>,
    /// A token for admin actions when the config has none (the demo makes one up).
    pub fallback_token: Option<AdminToken>,
    /// The region's backend capacity, published by its proxy.
    pub local_health: SharedLocalHealth,
    /// The cross-region health monitor: votes, verdicts, operator state, events.
    pub monitor: Arc<Monitor>,
    /// The node's: long-lived responses (the event stream) end when it is cancelled.
    pub shutdown: CancellationToken,
    /// The region's proxy, for backend drains; `None` on a node without an HTTP listener.
    pub backends: Option<crate::health::SharedBackendControl>,
}

/// The status router of one node.
pub fn router(state: Arc<StatusState>) -> Router {
    Router::new()
        .route("/", get(super::page::index))
        .route("/assets/{file}", get(super::page::asset))
        .route("/healthz", get(healthz))
        .route("/-/reload", post(reload))
        .route("/metrics", get(metrics))
        .route("/api/v1/openapi.json", get(openapi))
        .route("/api/v1/regions", get(super::health_api::regions))
        .route("/api/v1/regions/{name}", get(super::health_api::region))
        .route("/api/v1/events", get(super::health_api::events))
        .route("/api/v1/nodes", get(super::health_api::nodes))
        .route("/api/v1/events/stream", get(super::stream_api::events))
        .route("/api/v1/explain", get(super::explain_api::explain))
        .route("/api/v1/dns", get(super::live_api::dns))
        .route("/api/v1/dashboard/stream", get(super::live_api::stream))
        .route(
            "/api/v1/regions/{name}/{action}",
            post(super::health_api::operator_action),
        )
        .route(
            "/api/v1/regions/{name}/backends/{id}/{action}",
            post(super::backend_api::backend_action),
        )
        .fallback(not_found)
        .layer(axum::middleware::map_response(nosniff))
        .with_state(state)
}

/// Every answer is taken as the type it says: a JSON error echoing a hostile name is never
/// sniffed into HTML.
async fn nosniff(mut response: Response) -> Response {
    response.headers_mut().insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

async fn healthz(State(state): State<Arc<StatusState>>) -> Response {
    let view = state.reloader.view().load();
    let stats = &state.reloader.stats;
    let last_error = stats
        .last_error
        .lock()
        .map(|error| error.clone())
        .unwrap_or_default();
    let local = state.local_health.load();
    let healthy = local.is_healthy();
    let gossip = state.monitor.gossip(
        &state.identity.node,
        state.identity.version,
        &view.config.content_hash,
    );
    let status = if healthy {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = Json(json!({
        "status": if healthy { "ok" } else { "unhealthy" },
        "reason": (!healthy).then(|| format!(
            "healthy backend capacity {:.0}% is below the {:.0}% threshold ({} of {} backends healthy)",
            local.healthy_capacity_share * 100.0,
            local.threshold * 100.0,
            local.healthy_backends,
            local.total_backends,
        )),
        "region": state.identity.region,
        "node": state.identity.node,
        "version": state.identity.version,
        "config_hash": view.config.content_hash,
        "view_generation": view.generation,
        "uptime_seconds": state.identity.started.elapsed().as_secs(),
        "geo_database": {
            "path": view.geo.path().display().to_string(),
            "type": view.geo.database_type(),
        },
        "reloads": {
            "applied": stats.applied.load(Ordering::Relaxed),
            "unchanged": stats.unchanged.load(Ordering::Relaxed),
            "failed": stats.failed.load(Ordering::Relaxed),
            "last_error": last_error,
        },
        "healthy_backends": local.healthy_backends,
        "total_backends": local.total_backends,
        "healthy_capacity_share": local.healthy_capacity_share,
        "healthy_threshold": local.threshold,
        "draining": gossip.operator.operator_for(&state.identity.region) == Operator::Drained,
        "backends": local.backends,
        "gossip": gossip,
    }));
    (status, body).into_response()
}

async fn reload(State(state): State<Arc<StatusState>>, headers: HeaderMap) -> Response {
    if let Err(refusal) = authorize(&state, &headers) {
        return refusal.into_response();
    }
    match state.reloader.reload_logged("api").await {
        Ok(Outcome::Applied {
            generation,
            config_hash,
        }) => Json(json!({
            "outcome": "applied",
            "view_generation": generation,
            "config_hash": config_hash,
        }))
        .into_response(),
        Ok(Outcome::Unchanged { generation }) => Json(json!({
            "outcome": "unchanged",
            "view_generation": generation,
        }))
        .into_response(),
        Err(error) => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("reload refused, the running config stays: {error}"),
        )
        .into_response(),
    }
}

/// `GET /metrics`: every metric of the process, in the Prometheus text format.
async fn metrics() -> Response {
    match crate::telemetry::render() {
        Some(text) => (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
            )],
            text,
        )
            .into_response(),
        None => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "no metrics: another metrics recorder was installed first".to_string(),
        )
        .into_response(),
    }
}

/// The OpenAPI document of this router, built into the binary.
const OPENAPI_DOCUMENT: &str = include_str!("openapi.json");

/// `GET /api/v1/openapi.json`: the API's OpenAPI document, as committed.
async fn openapi() -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        OPENAPI_DOCUMENT,
    )
        .into_response()
}

async fn not_found() -> Response {
    ApiError::new(StatusCode::NOT_FOUND, "no such endpoint".to_string()).into_response()
}

/// An error answer: a status and a message, as JSON.
#[derive(Debug)]
pub(super) struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    pub(super) fn new(status: StatusCode, message: String) -> Self {
        Self { status, message }
    }
}

/// A query string the handler's extractor cannot read (a repeated key, say): a JSON 400 like
/// every other error, not axum's plain text.
impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        Self::new(rejection.status(), rejection.body_text())
    }
}

/// A path segment the handler's extractor cannot read (not UTF-8 once decoded): the same.
impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        Self::new(rejection.status(), rejection.body_text())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(json!({ "error": self.message }))).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// The token of an `Authorization: Bearer <token>` value. The scheme's letter case does not
/// matter (RFC 9110 section 11.1, RFC 6750 section 2.1): clients send `bearer` too.
fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("Bearer").then_some(token)
}

/// Admin actions need `Authorization: Bearer <token>`: 401 without one, 403 with a wrong one
/// or when the node has no token at all.
pub(super) fn authorize(state: &StatusState, headers: &HeaderMap) -> Result<(), ApiError> {
    let view = state.reloader.view().load();
    let configured = view.config.admin_token.as_ref();
    if configured.is_none() && state.fallback_token.is_none() {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "admin actions are off: no admin token is configured ([admin] token in meridian.toml or MERIDIAN_ADMIN_TOKEN)".to_string(),
        ));
    }
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(bearer_token);
    match presented {
        None => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "admin action: send Authorization: Bearer <token>".to_string(),
        )),
        Some(token)
            if configured
                .or(state.fallback_token.as_ref())
                .is_some_and(|expected| expected.matches(token.trim())) =>
        {
            Ok(())
        }
        Some(_) => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "admin action: wrong token".to_string(),
        )),
    }
}
