//! What the dashboard page reads: DNS totals (`GET /api/v1/dns`) and one live stream of the
//! whole state (`GET /api/v1/dashboard/stream`).
//!
//! The stream sends a `snapshot` (regions, nodes, DNS totals) at once, every second, and
//! right after each health event, which is sent too (`health`, as on
//! `/api/v1/events/stream`). A page therefore shows a change within a second of it and needs
//! no polling; rates are computed by the page from two snapshots' totals and times.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::Stream;
use serde_json::{Value, json};

use super::health_api::{nodes_report, report};
use super::router::StatusState;
use super::stream_api::timeline_event;
use crate::telemetry;

/// How often a snapshot is sent when nothing happens.
const SNAPSHOT_EVERY: Duration = Duration::from_secs(1);

/// `GET /api/v1/dns`: DNS queries answered by this node since it started, summed by
/// protocol, response code, question type, answered region and client continent.
pub(super) async fn dns() -> Response {
    Json(dns_report()).into_response()
}

fn dns_report() -> Value {
    json!({
        "at_unix_ms": unix_ms(),
        "totals": telemetry::dns::summary(),
    })
}

/// Everything the page shows but the timeline.
fn snapshot(state: &StatusState) -> Value {
    json!({
        "node": state.identity.node,
        "region": state.identity.region,
        "version": state.identity.version,
        "regions": report(state),
        "nodes": nodes_report(state),
        "dns": dns_report(),
    })
}

/// `GET /api/v1/dashboard/stream`.
pub(super) async fn stream(
    State(state): State<Arc<StatusState>>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let receiver = state.monitor.timeline.subscribe();
    let mut ticker = tokio::time::interval(SNAPSHOT_EVERY);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let start = (receiver, ticker, state, None::<Event>);
    let stream = futures_util::stream::unfold(
        start,
        |(mut receiver, mut ticker, state, pending)| async move {
            // A health event is followed by a snapshot that shows its effect.
            if let Some(snapshot_next) = pending {
                return Some((Ok(snapshot_next), (receiver, ticker, state, None)));
            }
            let event = tokio::select! {
                _ = state.shutdown.cancelled() => return None,
                _ = ticker.tick() => None,
                received = receiver.recv() => Some(timeline_event(received)?),
            };
            let snapshot = Event::default()
                .event("snapshot")
                .data(snapshot(&state).to_string());
            Some(match event {
                Some(event) => (Ok(event), (receiver, ticker, state, Some(snapshot))),
                None => (Ok(snapshot), (receiver, ticker, state, None)),
            })
        },
    );
    Sse::new(stream).keep_alive(KeepAlive::default())
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| {
            u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
        })
}
