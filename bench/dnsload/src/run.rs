//! What the UDP and TCP senders share: the run's settings, pacing to a rate, and judging
//! an answer against the query it claims to answer.

use std::net::SocketAddr;
use std::time::Instant;

use crate::query::Query;
use crate::stats::{Done, Stats};

/// One sending thread's share of the run.
#[derive(Debug, Clone)]
pub(crate) struct RunConfig {
    pub(crate) server: SocketAddr,
    /// Queries in flight at most (for TCP: over all of the thread's connections).
    pub(crate) window: usize,
    /// TCP connections of this thread.
    pub(crate) connections: usize,
    /// Queries per second for this thread; None sends as fast as the window allows.
    pub(crate) rate: Option<f64>,
    pub(crate) duration_ns: u64,
    pub(crate) timeout_ns: u64,
    /// Where in the query file this thread starts, so threads do not send in step.
    pub(crate) first_query: usize,
    pub(crate) id_offset: u16,
}

/// The run's clock: nanoseconds since the thread started.
#[derive(Debug)]
pub(crate) struct Clock(Instant);

impl Clock {
    pub(crate) fn start() -> Self {
        Self(Instant::now())
    }

    pub(crate) fn now_ns(&self) -> u64 {
        self.0.elapsed().as_nanos() as u64
    }
}

/// Open-loop pacing: query k is due at k / rate. With a rate, a query's latency counts
/// from when it was due, not from when it left, so a full window or a slow loop shows up
/// as latency instead of quietly lowering the rate (coordinated omission).
#[derive(Debug)]
pub(crate) struct Pacer {
    rate: Option<f64>,
}

impl Pacer {
    pub(crate) fn new(rate: Option<f64>) -> Self {
        Self { rate }
    }

    /// How many queries are due at `now_ns` beyond the `sent` already sent.
    pub(crate) fn due(&self, now_ns: u64, sent: u64) -> u64 {
        match self.rate {
            None => u64::MAX,
            Some(rate) => ((now_ns as f64 * rate / 1e9) as u64 + 1).saturating_sub(sent),
        }
    }

    /// The time to count the `index`-th query's latency from.
    pub(crate) fn stamp(&self, index: u64, now_ns: u64) -> u64 {
        match self.rate {
            None => now_ns,
            Some(rate) => ((index as f64 * 1e9 / rate) as u64).min(now_ns),
        }
    }

    /// How long to sleep before the next query is due (at most `cap_ns`).
    pub(crate) fn wait_ns(&self, now_ns: u64, sent: u64, cap_ns: u64) -> u64 {
        match self.rate {
            None => cap_ns,
            Some(rate) => ((sent as f64 * 1e9 / rate) as u64)
                .saturating_sub(now_ns)
                .min(cap_ns),
        }
    }
}

/// Counts one reply: matched to its query by ID, it must be a response (QR) that echoes the
/// question; anything else is `unmatched`. Returns the connection the query was sent on.
pub(crate) fn record_reply(
    reply: &[u8],
    queries: &[Query],
    now_ns: u64,
    finish: impl FnOnce(u16) -> Option<Done>,
    stats: &mut Stats,
) -> Option<usize> {
    if reply.len() < 12 {
        stats.unmatched += 1;
        return None;
    }
    let Some(done) = finish(u16::from_be_bytes([reply[0], reply[1]])) else {
        stats.unmatched += 1;
        return None;
    };
    let question = queries[done.query].question();
    let echoed = reply
        .get(12..12 + question.len())
        .is_some_and(|q| q.eq_ignore_ascii_case(question));
    if reply[2] & 0x80 == 0 || !echoed {
        stats.unmatched += 1;
        return Some(done.conn);
    }
    stats.answered += 1;
    stats.rcodes[usize::from(reply[3] & 0x0f)] += 1;
    if reply[2] & 0x02 != 0 {
        stats.truncated += 1;
    }
    stats
        .latency
        .record(now_ns.saturating_sub(done.stamp_ns) / 1000);
    stats.last_answer_ns = stats.last_answer_ns.max(now_ns);
    Some(done.conn)
}
