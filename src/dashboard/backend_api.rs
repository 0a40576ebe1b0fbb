//! The backend part of the API: `POST /api/v1/regions/{name}/backends/{id}/drain|undrain`,
//! the operator's drain of one of this node's backends (HAProxy's `set server state drain`).
//!
//! Backends belong to one region's proxy, and each node runs only its own region's proxy, so
//! a drain is sent to a node of the backend's region: naming another region gets 409 with
//! that region's status address. With several nodes in a region, each has its own proxy and
//! its own drain file: send the drain to each. The change is saved to the node's state dir
//! before it applies (a failed save changes nothing: 500), and it survives reloads and
//! restarts.

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::router::{ApiError, StatusState, authorize};
use crate::health::backend_drain::DrainError;

/// `POST /api/v1/regions/{name}/backends/{id}/{drain|undrain}`, with the admin token.
pub(super) async fn backend_action(
    State(state): State<Arc<StatusState>>,
    path: Result<Path<(String, String, String)>, PathRejection>,
    headers: HeaderMap,
) -> Response {
    // The token first: nothing about the request is looked at before it is authorised.
    if let Err(refusal) = authorize(&state, &headers) {
        return refusal.into_response();
    }
    let (name, id, action) = match path {
        Ok(Path(path)) => path,
        Err(rejection) => return ApiError::from(rejection).into_response(),
    };
    let drained = match action.as_str() {
        "drain" => true,
        "undrain" => false,
        _ => {
            return ApiError::new(
                StatusCode::NOT_FOUND,
                format!("no such backend action {action:?}: drain or undrain"),
            )
            .into_response();
        }
    };
    let view = state.reloader.view().load_full();
    let Some(region) = view.config.region_by_name(&name) else {
        return ApiError::new(
            StatusCode::NOT_FOUND,
            format!(
                "no region {name:?} (known: {})",
                view.config.known_regions()
            ),
        )
        .into_response();
    };
    let own = &state.identity.region;
    if region.name != *own {
        return ApiError::new(
            StatusCode::CONFLICT,
            format!(
                "backends of region {name} are drained through a node of {name} (its status listener: {}); this node is in {own}",
                region.status_url
            ),
        )
        .into_response();
    }
    let Some(control) = state.backends.clone() else {
        return ApiError::new(
            StatusCode::CONFLICT,
            format!("this node of {own} runs no HTTP proxy (no listen.http): it has no backends"),
        )
        .into_response();
    };
    let by = format!("{own}/{}", state.identity.node);
    // The save syncs a file: off the runtime's threads.
    let result = tokio::task::spawn_blocking(move || control.set_drained(&id, drained, &by)).await;
    match result {
        Ok(Ok(change)) => Json(change).into_response(),
        Ok(Err(error @ DrainError::UnknownBackend { .. })) => {
            ApiError::new(StatusCode::NOT_FOUND, error.to_string()).into_response()
        }
        Ok(Err(error @ DrainError::Save { .. })) => {
            tracing::error!(%error, "backend drain refused");
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, error.to_string()).into_response()
        }
        Err(error) => ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("not applied: the drain task failed: {error}"),
        )
        .into_response(),
    }
}
