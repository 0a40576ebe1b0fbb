//! Counts of UDP answers held back by response-rate limiting (`dns/rrl.rs`), by action.
//!
//! Added once per batch of datagrams, not per answer, so two UDP threads under a flood share
//! a cache line a few thousand times a second at most. Both series are in `/metrics` from
//! the start, at 0, so a dashboard's rate is 0 rather than missing before the first flood.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

static DROPPED: AtomicU64 = AtomicU64::new(0);
static SLIPPED: AtomicU64 = AtomicU64::new(0);

/// Adds one batch's limited answers: `dropped` not sent, `slipped` sent as TC replies.
pub fn count(dropped: u64, slipped: u64) {
    if dropped != 0 {
        DROPPED.fetch_add(dropped, Ordering::Relaxed);
    }
    if slipped != 0 {
        SLIPPED.fetch_add(slipped, Ordering::Relaxed);
    }
}

/// The totals so far: (dropped, slipped).
pub fn totals() -> (u64, u64) {
    (
        DROPPED.load(Ordering::Relaxed),
        SLIPPED.load(Ordering::Relaxed),
    )
}

/// Appends the counters to a Prometheus text exposition.
pub fn render_into(out: &mut String) {
    let (dropped, slipped) = totals();
    out.push_str("# HELP meridian_dns_rate_limited_total UDP answers over the response rate limit: dropped, or slipped (sent as a TC=1 reply without records, so the client retries over TCP).\n");
    out.push_str("# TYPE meridian_dns_rate_limited_total counter\n");
    let _ = writeln!(
        out,
        "meridian_dns_rate_limited_total{{action=\"dropped\"}} {dropped}"
    );
    let _ = writeln!(
        out,
        "meridian_dns_rate_limited_total{{action=\"slipped\"}} {slipped}"
    );
}
