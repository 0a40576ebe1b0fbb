//! The timeline of health changes: every vote, verdict, isolation and operator change, with
//! its reason and voters, kept in a bounded buffer for the dashboard and `explain`, and
//! broadcast to whoever follows it live.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;
use tokio::sync::broadcast;

/// Events kept; older ones fall off the front.
pub const TIMELINE_CAPACITY: usize = 512;

/// What changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// This node's vote about a region (its probe hysteresis) changed.
    Vote,
    /// The verdict about a region changed: traffic moves.
    Verdict,
    /// This node could reach no other region, or can again.
    Isolation,
    /// An operator drained, undrained or forced up a region (here or on another node).
    Operator,
}

impl EventKind {
    /// The label value: as serialized.
    /// Every kind, for the metrics to show from the start.
    pub const ALL: [EventKind; 4] = [
        EventKind::Vote,
        EventKind::Verdict,
        EventKind::Isolation,
        EventKind::Operator,
    ];

    pub fn name(self) -> &'static str {
        match self {
            EventKind::Vote => "vote",
            EventKind::Verdict => "verdict",
            EventKind::Isolation => "isolation",
            EventKind::Operator => "operator",
        }
    }
}

/// One change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Event {
    /// Increasing within the process: a client that saw `seq` asks for what came after.
    pub seq: u64,
    /// Wall-clock time, ms since the Unix epoch (for display).
    pub at_unix_ms: u64,
    pub kind: EventKind,
    pub region: String,
    pub from: String,
    pub to: String,
    pub reason: String,
    /// The vantage points behind a verdict (those voting down, then up), or who acted.
    pub voters: Vec<String>,
}

/// A bounded, shared timeline.
#[derive(Debug)]
pub struct Timeline {
    events: Mutex<(u64, VecDeque<Event>)>,
    live: broadcast::Sender<Event>,
}

impl Default for Timeline {
    fn default() -> Self {
        Self::new()
    }
}

impl Timeline {
    pub fn new() -> Self {
        Self {
            events: Mutex::new((0, VecDeque::with_capacity(TIMELINE_CAPACITY))),
            live: broadcast::channel(64).0,
        }
    }

    /// Records a change (numbered and dated here), logs it, and tells live followers.
    pub fn record(
        &self,
        kind: EventKind,
        region: &str,
        from: &str,
        to: &str,
        reason: &str,
        voters: Vec<String>,
    ) -> Event {
        let at_unix_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        let event = {
            let mut guard = self.events.lock().unwrap_or_else(|e| e.into_inner());
            let (seq, events) = &mut *guard;
            *seq += 1;
            let event = Event {
                seq: *seq,
                at_unix_ms,
                kind,
                region: region.to_string(),
                from: from.to_string(),
                to: to.to_string(),
                reason: reason.to_string(),
                voters,
            };
            if events.len() == TIMELINE_CAPACITY {
                events.pop_front();
            }
            events.push_back(event.clone());
            event
        };
        let voters = event.voters.join(",");
        match kind {
            // A verdict moves traffic and isolation freezes it: both are worth a warning.
            EventKind::Verdict | EventKind::Isolation => tracing::warn!(
                kind = ?kind, region, from, to, reason, voters, "health change"
            ),
            EventKind::Vote | EventKind::Operator => tracing::info!(
                kind = ?kind, region, from, to, reason, voters, "health change"
            ),
        }
        // Rare enough for a lookup per event.
        metrics::counter!("meridian_health_events_total", "kind" => kind.name()).increment(1);
        // Nobody following is fine.
        let _ = self.live.send(event.clone());
        event
    }

    /// The events kept, oldest first.
    pub fn recent(&self) -> Vec<Event> {
        let guard = self.events.lock().unwrap_or_else(|e| e.into_inner());
        guard.1.iter().cloned().collect()
    }

    /// Follows new events as they are recorded.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.live.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_timeline_is_bounded_numbered_and_broadcast() {
        let timeline = Timeline::new();
        let mut live = timeline.subscribe();
        timeline.record(EventKind::Verdict, "us-east", "up", "down", "x", Vec::new());
        assert_eq!(live.try_recv().map(|e| e.seq).ok(), Some(1));
        for index in 1..TIMELINE_CAPACITY + 3 {
            timeline.record(
                EventKind::Vote,
                "eu-west",
                "up",
                "down",
                &format!("{index}"),
                Vec::new(),
            );
        }
        let kept = timeline.recent();
        assert_eq!(kept.len(), TIMELINE_CAPACITY);
        assert_eq!(kept[0].seq, 4);
        assert_eq!(
            kept.last().map(|e| e.seq),
            Some(TIMELINE_CAPACITY as u64 + 3)
        );
    }
}
