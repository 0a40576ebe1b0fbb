//! One backend's requests, errors and response times over the last few seconds, for the
//! dashboard and `/healthz` (Prometheus has the full histograms; this is what a person reads
//! at a glance: requests per second, error rate, p99).
//!
//! A ring of one-second slots, each with counters and a coarse latency histogram, written
//! with relaxed atomics by every worker. A slot is reset by the first writer of a new
//! second; a write racing that reset may land in either second, which a display tolerates.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Seconds summed for a reading: complete seconds only, so a reading does not dip at the
/// start of each second.
const SPAN: u64 = 5;
/// Slots in the ring: the span, the second being written, and one being reset.
const SLOTS: usize = SPAN as usize + 2;

/// Upper bounds of the latency buckets, in milliseconds (1-2-5 steps); the last is +Inf.
const BOUNDS_MS: [f64; 16] = [
    0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0, 2000.0, 5000.0,
    10000.0,
];
const BUCKETS: usize = BOUNDS_MS.len() + 1;

#[derive(Debug)]
struct Slot {
    /// The second (since the window was made) this slot counts; `u64::MAX` when unused.
    second: AtomicU64,
    requests: AtomicU32,
    errors: AtomicU32,
    latency: [AtomicU32; BUCKETS],
}

/// What a reading says.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Reading {
    pub(crate) requests_per_second: f64,
    /// Of the requests in the span; `None` without requests.
    pub(crate) error_rate: Option<f64>,
    /// The upper bound of the bucket holding the 99th percentile; `None` without responses.
    pub(crate) p99_ms: Option<f64>,
}

#[derive(Debug)]
pub(crate) struct Window {
    origin: Instant,
    slots: [Slot; SLOTS],
}

impl Window {
    pub(crate) fn new() -> Self {
        Self {
            origin: Instant::now(),
            slots: std::array::from_fn(|_| Slot {
                second: AtomicU64::new(u64::MAX),
                requests: AtomicU32::new(0),
                errors: AtomicU32::new(0),
                latency: std::array::from_fn(|_| AtomicU32::new(0)),
            }),
        }
    }

    /// A response came back after `latency`; `error` for a 5xx.
    pub(crate) fn response(&self, now: Instant, latency: Duration, error: bool) {
        let slot = self.slot(now);
        slot.requests.fetch_add(1, Ordering::Relaxed);
        if error {
            slot.errors.fetch_add(1, Ordering::Relaxed);
        }
        let ms = latency.as_secs_f64() * 1000.0;
        let bucket = BOUNDS_MS
            .iter()
            .position(|bound| ms <= *bound)
            .unwrap_or(BOUNDS_MS.len());
        slot.latency[bucket].fetch_add(1, Ordering::Relaxed);
    }

    /// An attempt that got no response at all (refused, reset, timed out): an error.
    pub(crate) fn failure(&self, now: Instant) {
        let slot = self.slot(now);
        slot.requests.fetch_add(1, Ordering::Relaxed);
        slot.errors.fetch_add(1, Ordering::Relaxed);
    }

    /// The last [`SPAN`] complete seconds before `now`.
    pub(crate) fn read(&self, now: Instant) -> Reading {
        let current = self.second(now);
        let mut requests = 0u64;
        let mut errors = 0u64;
        let mut latency = [0u64; BUCKETS];
        for slot in &self.slots {
            let second = slot.second.load(Ordering::Relaxed);
            if second >= current || second + SPAN < current {
                continue;
            }
            requests += u64::from(slot.requests.load(Ordering::Relaxed));
            errors += u64::from(slot.errors.load(Ordering::Relaxed));
            for (sum, count) in latency.iter_mut().zip(&slot.latency) {
                *sum += u64::from(count.load(Ordering::Relaxed));
            }
        }
        let responses: u64 = latency.iter().sum();
        let p99_ms = (responses > 0).then(|| {
            // The smallest bucket holding at least 99% of the responses.
            let wanted = responses - responses / 100;
            let mut seen = 0;
            let bucket = latency
                .iter()
                .position(|count| {
                    seen += count;
                    seen >= wanted
                })
                .unwrap_or(BUCKETS - 1);
            BOUNDS_MS.get(bucket).copied().unwrap_or(f64::INFINITY)
        });
        Reading {
            requests_per_second: requests as f64 / SPAN as f64,
            error_rate: (requests > 0).then(|| errors as f64 / requests as f64),
            // +Inf is not JSON: past the last bound, say the last bound.
            p99_ms: p99_ms.map(|ms| ms.min(BOUNDS_MS[BOUNDS_MS.len() - 1])),
        }
    }

    fn second(&self, now: Instant) -> u64 {
        now.saturating_duration_since(self.origin).as_secs()
    }

    /// The slot of `now`'s second, reset first if it still holds an older second.
    fn slot(&self, now: Instant) -> &Slot {
        let second = self.second(now);
        let slot = &self.slots[(second % SLOTS as u64) as usize];
        let held = slot.second.load(Ordering::Relaxed);
        if held != second
            && slot
                .second
                .compare_exchange(held, second, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            slot.requests.store(0, Ordering::Relaxed);
            slot.errors.store(0, Ordering::Relaxed);
            for count in &slot.latency {
                count.store(0, Ordering::Relaxed);
            }
        }
        slot
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reading_covers_the_complete_seconds_before_now() {
        let window = Window::new();
        let t0 = window.origin;
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        // 100 responses in second 0: 98 fast, 1 slow, 1 an error at 40 ms.
        for _ in 0..98 {
            window.response(at(100), Duration::from_micros(800), false);
        }
        window.response(at(200), Duration::from_millis(15), false);
        window.response(at(300), Duration::from_millis(40), true);
        // Second 1: 10 failures without a response.
        for _ in 0..10 {
            window.failure(at(1500));
        }
        // Still in second 1: only second 0 is complete.
        let early = window.read(at(1900));
        assert_eq!(early.requests_per_second, 100.0 / 5.0);
        assert_eq!(early.error_rate, Some(0.01));
        assert_eq!(early.p99_ms, Some(20.0));
        // In second 2, both count.
        let later = window.read(at(2100));
        assert_eq!(later.requests_per_second, 110.0 / 5.0);
        assert_eq!(later.error_rate, Some(11.0 / 110.0));
        // Five seconds on, second 0 has left the span; six on, both have.
        assert_eq!(window.read(at(6100)).requests_per_second, 10.0 / 5.0);
        let idle = window.read(at(7100));
        assert_eq!(idle.requests_per_second, 0.0);
        assert_eq!(idle.error_rate, None);
        assert_eq!(idle.p99_ms, None);
    }

    #[test]
    fn a_slot_is_reused_for_a_later_second_from_zero() {
        let window = Window::new();
        let t0 = window.origin;
        window.response(t0, Duration::from_millis(1), false);
        // The same slot, SLOTS seconds later.
        let again = t0 + Duration::from_secs(SLOTS as u64);
        window.response(again, Duration::from_millis(1), false);
        let reading = window.read(again + Duration::from_secs(1));
        assert_eq!(reading.requests_per_second, 1.0 / 5.0);
    }

    #[test]
    fn slow_responses_past_the_last_bound_read_as_the_last_bound() {
        let window = Window::new();
        let t0 = window.origin;
        window.response(t0, Duration::from_secs(30), false);
        assert_eq!(
            window.read(t0 + Duration::from_secs(1)).p99_ms,
            Some(10000.0)
        );
    }
}
