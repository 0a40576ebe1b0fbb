//! The health part of the API: every region's verdict with its votes, the event timeline,
//! and the operator's drain, undrain and force-up.

use std::sync::Arc;
use std::time::Instant;

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::router::{ApiError, StatusState, authorize};
use crate::health::quorum::{Operator, SelfReport, Vote};

/// `GET /api/v1/regions`: per region, the verdict, every vantage point's vote, this node's
/// own probe of it, its self-report and its operator state.
pub(super) async fn regions(State(state): State<Arc<StatusState>>) -> Response {
    Json(report(&state)).into_response()
}

/// `GET /api/v1/regions/{name}`: one region of [`regions`].
pub(super) async fn region(
    State(state): State<Arc<StatusState>>,
    name: Result<Path<String>, PathRejection>,
) -> Response {
    let name = match name {
        Ok(Path(name)) => name,
        Err(rejection) => return ApiError::from(rejection).into_response(),
    };
    let report = report(&state);
    let found = report["regions"].as_array().and_then(|regions| {
        regions
            .iter()
            .find(|region| region["name"] == name.as_str())
    });
    match found {
        Some(region) => Json(region.clone()).into_response(),
        None => ApiError::new(
            StatusCode::NOT_FOUND,
            format!(
                "no region {name:?} (known: {})",
                state.reloader.view().load().config.known_regions()
            ),
        )
        .into_response(),
    }
}

/// The body of `GET /api/v1/regions`.
pub(super) fn report(state: &StatusState) -> Value {
    let view = state.reloader.view().load();
    let core = state.monitor.core();
    let now = Instant::now();
    let max_age = view.config.health.ballot_max_age();
    let (isolated, local_isolated) = core.isolated();
    let regions: Vec<Value> = view
        .config
        .regions
        .iter()
        .map(|region| {
            let name = region.name.as_str();
            let health = view.health.get(region.id);
            let verdict = core.verdicts().get(name);
            let mut votes: Vec<Value> = core
                .ballots()
                .iter()
                .filter_map(|(prober, ballot)| {
                    let vote = ballot.votes.get(name)?;
                    // What the prober said of its vote when it gossiped it: for people.
                    let said = core.peers().get(prober).and_then(|peer| peer.votes.get(name));
                    Some(json!({
                        "from": prober,
                        "vote": vote_word(*vote),
                        "status": said.map(|said| said.status.clone()),
                        "latency_ms": said.and_then(|said| said.latency_us).map(|us| us as f64 / 1000.0),
                        "age_ms": millis(now.saturating_duration_since(ballot.at)),
                        "fresh": now.saturating_duration_since(ballot.at) <= max_age,
                        "isolated": isolated.iter().any(|i| i == prober),
                    }))
                })
                .collect();
            let target = core.targets().get(name);
            if let Some(target) = target.filter(|t| t.state.has_result()) {
                votes.push(json!({
                    "from": core.local(),
                    "vote": vote_word(match target.state.vote() {
                        crate::health::hysteresis::Vote::Up => Vote::Up,
                        crate::health::hysteresis::Vote::Down => Vote::Down,
                    }),
                    "status": target.state.status().to_string(),
                    "latency_ms": target.latency.map(|l| l.as_secs_f64() * 1000.0),
                    "age_ms": target.last_result_at.map(|at| millis(now.saturating_duration_since(at))),
                    "fresh": true,
                    "isolated": local_isolated,
                }));
            }
            let operator = core.operator().get(name);
            // A region's backends as its node lists them: this node's own from its proxy,
            // the others' from their last answer to this node's probe.
            let (backends, backends_fresh) = if name == state.identity.region {
                let local = state.local_health.load();
                (serde_json::to_value(&local.backends).unwrap_or_default(), true)
            } else {
                (
                    target.and_then(|t| t.backends.clone()).unwrap_or_else(|| json!([])),
                    target.is_some_and(|t| t.error.is_none() && t.last_result_at.is_some()),
                )
            };
            json!({
                "name": name,
                "latitude": region.location.latitude,
                "longitude": region.location.longitude,
                "capacity": region.capacity,
                "backends": backends,
                // False when the region's last answer is older than this node's last probe of
                // it: the backends are as it last reported them.
                "backends_fresh": backends_fresh,
                "up": health.is_none_or(|h| h.up),
                "reason": health.map(|h| h.reason.clone()),
                "in_transition": health.is_some_and(|h| h.transition),
                "down_votes": verdict.map(|v| v.down_votes.clone()).unwrap_or_default(),
                "up_votes": verdict.map(|v| v.up_votes.clone()).unwrap_or_default(),
                "votes": votes,
                "probe": target.map(|t| json!({
                    "status": t.state.status().to_string(),
                    "latency_ms": t.latency.map(|l| l.as_secs_f64() * 1000.0),
                    "error": t.error,
                    "self_report": match &t.report {
                        SelfReport::Healthy => json!({"healthy": true}),
                        SelfReport::Unhealthy(reason) => json!({"healthy": false, "reason": reason}),
                        SelfReport::Unknown => Value::Null,
                    },
                })),
                "operator": operator,
                "config_hash": core.peers().get(name).map(|peer| peer.config_hash.clone()),
            })
        })
        .collect();
    json!({
        "node": state.identity.node,
        "region": state.identity.region,
        "isolated": local_isolated,
        "isolated_probers": isolated,
        "view_generation": view.generation,
        "regions": regions,
    })
}

/// `GET /api/v1/events`: the timeline, oldest first.
pub(super) async fn events(State(state): State<Arc<StatusState>>) -> Response {
    Json(json!({ "events": state.monitor.timeline.recent() })).into_response()
}

/// `POST /api/v1/regions/{name}/{drain|undrain|force-up}`, with the admin token.
pub(super) async fn operator_action(
    State(state): State<Arc<StatusState>>,
    path: Result<Path<(String, String)>, PathRejection>,
    headers: HeaderMap,
) -> Response {
    if let Err(refusal) = authorize(&state, &headers) {
        return refusal.into_response();
    }
    let (name, action) = match path {
        Ok(Path(path)) => path,
        Err(rejection) => return ApiError::from(rejection).into_response(),
    };
    let wanted = match action.as_str() {
        "drain" => Operator::Drained,
        "undrain" => Operator::None,
        "force-up" => Operator::ForcedUp,
        _ => {
            return ApiError::new(
                StatusCode::NOT_FOUND,
                format!("no such action {action:?}: drain, undrain or force-up"),
            )
            .into_response();
        }
    };
    let view = state.reloader.view().load();
    if view.config.region_by_name(&name).is_none() {
        return ApiError::new(
            StatusCode::NOT_FOUND,
            format!(
                "no region {name:?} (known: {})",
                view.config.known_regions()
            ),
        )
        .into_response();
    }
    let by = format!("{}/{}", state.identity.region, state.identity.node);
    match state.monitor.set_operator(&name, wanted, &by) {
        Ok(entry) => Json(json!({ "region": name, "operator": entry })).into_response(),
        Err(error) => ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!(
                "not applied: cannot save the operator state to {}: {error}",
                state.monitor.state_file().display()
            ),
        )
        .into_response(),
    }
}

fn vote_word(vote: Vote) -> &'static str {
    match vote {
        Vote::Up => "up",
        Vote::Down => "down",
    }
}

fn millis(duration: std::time::Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// `GET /api/v1/nodes`: this node and every node heard from in the gossip, with version and
/// config hash; `drift` flags a node whose config differs from this one's.
pub(super) async fn nodes(State(state): State<Arc<StatusState>>) -> Response {
    Json(nodes_report(&state)).into_response()
}

/// The body of `GET /api/v1/nodes`.
pub(super) fn nodes_report(state: &StatusState) -> Value {
    let view = state.reloader.view().load();
    let own_hash = view.config.content_hash.as_str();
    let core = state.monitor.core();
    let now = Instant::now();
    let mut nodes = vec![json!({
        "region": state.identity.region,
        "node": state.identity.node,
        "version": state.identity.version,
        "config_hash": own_hash,
        "this_node": true,
        "drift": false,
        "heard_ms_ago": 0,
    })];
    for (region, peer) in core.peers() {
        if *region == state.identity.region {
            continue;
        }
        nodes.push(json!({
            "region": region,
            "node": peer.node,
            "version": peer.version,
            "config_hash": peer.config_hash,
            "this_node": false,
            "drift": peer.config_hash != own_hash,
            "heard_ms_ago": millis(now.saturating_duration_since(peer.heard)),
        }));
    }
    let drift = nodes.iter().any(|node| node["drift"] == true);
    json!({ "drift": drift, "nodes": nodes })
}
