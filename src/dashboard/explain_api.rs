//! `GET /api/v1/explain?name=&client=[&type=]`: the same report as `meridian explain`, from
//! the node's current view (its verdicts included), as JSON.

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::router::{ApiError, StatusState};
use crate::explain::{Client, explain as report};

#[derive(Debug, Deserialize)]
pub(super) struct ExplainQuery {
    name: Option<String>,
    client: Option<String>,
    #[serde(rename = "type")]
    record_type: Option<String>,
}

pub(super) async fn explain(
    State(state): State<Arc<StatusState>>,
    query: Result<Query<ExplainQuery>, QueryRejection>,
) -> Response {
    let bad = |message: String| ApiError::new(StatusCode::BAD_REQUEST, message).into_response();
    let query = match query {
        Ok(Query(query)) => query,
        Err(rejection) => return ApiError::from(rejection).into_response(),
    };
    let (Some(name), Some(client)) = (query.name, query.client) else {
        return bad(
            "explain: give name= (the name queried) and client= (an address, or a subnet such as 81.2.69.0/24)"
                .to_string(),
        );
    };
    let client: Client = match client.parse() {
        Ok(client) => client,
        Err(error) => return bad(format!("explain: {error}")),
    };
    let view = state.reloader.view().load_full();
    let record_type = query.record_type.unwrap_or_else(|| "A".to_string());
    // The place is read from the database file again (tens of milliseconds for a full City
    // file): off the runtime that answers the health probes.
    let explained =
        tokio::task::spawn_blocking(move || report(&view, client, &name, &record_type)).await;
    let Ok(explained) = explained else {
        return ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "explain: the report could not be built".to_string(),
        )
        .into_response();
    };
    match explained {
        Ok(report) => {
            // The JSON, plus the very text `meridian explain` prints, for people.
            let text = report.to_string();
            let mut body = serde_json::to_value(&report).unwrap_or_default();
            if let Some(fields) = body.as_object_mut() {
                fields.insert("text".to_string(), serde_json::Value::String(text));
            }
            Json(body).into_response()
        }
        Err(error) => bad(format!("explain: {error}")),
    }
}
