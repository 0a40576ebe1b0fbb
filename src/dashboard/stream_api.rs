//! `GET /api/v1/events/stream`: the health timeline as server-sent events, live. Each change
//! is one `health` event (its JSON as the data, its sequence number as the id); a follower
//! that fell behind gets one `lagged` event saying how many it missed, and should reload
//! `/api/v1/events`. The stream ends when the node stops, so a dashboard left open never
//! holds up a shutdown.

use std::convert::Infallible;
use std::sync::Arc;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use tokio::sync::broadcast::error::RecvError;

use super::router::StatusState;
use crate::health;

pub(super) async fn events(
    State(state): State<Arc<StatusState>>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let receiver = state.monitor.timeline.subscribe();
    let shutdown = state.shutdown.clone();
    let stream = futures_util::stream::unfold(receiver, move |mut receiver| {
        let shutdown = shutdown.clone();
        async move {
            let received = tokio::select! {
                _ = shutdown.cancelled() => return None,
                received = receiver.recv() => received,
            };
            Some((Ok(timeline_event(received)?), receiver))
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}

/// What a follower of the timeline is sent for one receive: the change as a `health` event,
/// or a `lagged` event with how many it missed; `None` once the timeline is gone. The
/// dashboard's stream (`live_api.rs`) sends the same events.
pub(super) fn timeline_event(received: Result<health::events::Event, RecvError>) -> Option<Event> {
    match received {
        Ok(event) => Some(
            Event::default()
                .event("health")
                .id(event.seq.to_string())
                .data(serde_json::to_string(&event).unwrap_or_default()),
        ),
        Err(RecvError::Lagged(missed)) => {
            Some(Event::default().event("lagged").data(missed.to_string()))
        }
        Err(RecvError::Closed) => None,
    }
}
