//! The retry budget: retries may add at most a share of the region's recent requests (over
//! a 10 s window), plus a small allowance per second, as Finagle and Linkerd budget them.
//!
//! A cap on retries *in flight* at one instant (Envoy's form) turns a backend's death into
//! client errors: a killed backend fails all of its requests in flight within a millisecond,
//! far more at once than a share of the requests in flight (measured: 22 failed at once out
//! of 64 in flight, 12 allowed, 10 clients got 502). Over a window the same burst is a small
//! share of the traffic, while a sustained storm (a region retrying everything) is still
//! held to the share. Time comes in as an argument: the arithmetic is testable without a
//! clock.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// Seconds the budget looks back.
const WINDOW: usize = 10;

#[derive(Debug, Default)]
struct Slot {
    /// Which second (since the budget's origin) the counts belong to.
    second: AtomicU64,
    requests: AtomicU64,
    retries: AtomicU64,
}

#[derive(Debug)]
pub(crate) struct RetryBudget {
    origin: Instant,
    slots: [Slot; WINDOW],
}

impl RetryBudget {
    pub(crate) fn new(origin: Instant) -> Self {
        Self {
            origin,
            slots: Default::default(),
        }
    }

    fn second(&self, now: Instant) -> u64 {
        now.saturating_duration_since(self.origin).as_secs()
    }

    /// The slot of `now`'s second, emptied first if it still holds an older second.
    fn slot(&self, now: Instant) -> &Slot {
        let second = self.second(now);
        let slot = &self.slots[(second % WINDOW as u64) as usize];
        let held = slot.second.load(Ordering::Acquire);
        if held != second
            && slot
                .second
                .compare_exchange(held, second, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        {
            // Counts racing with the reset may land in either second: a budget, not a ledger.
            slot.requests.store(0, Ordering::Relaxed);
            slot.retries.store(0, Ordering::Relaxed);
        }
        slot
    }

    /// Counts a request (its first attempt).
    pub(crate) fn request(&self, now: Instant) {
        self.slot(now).requests.fetch_add(1, Ordering::Relaxed);
    }

    /// Takes one retry from the budget if the window allows it: retries in the window stay
    /// within `share` of its requests plus `per_second` for each second of the window.
    pub(crate) fn try_retry(&self, now: Instant, share: f64, per_second: u32) -> bool {
        let current = self.second(now);
        let (mut requests, mut retries) = (0u64, 0u64);
        for slot in &self.slots {
            let second = slot.second.load(Ordering::Acquire);
            if current.saturating_sub(second) < WINDOW as u64 && second <= current {
                requests += slot.requests.load(Ordering::Relaxed);
                retries += slot.retries.load(Ordering::Relaxed);
            }
        }
        let allowed = share * requests as f64 + f64::from(per_second) * WINDOW as f64;
        if (retries + 1) as f64 > allowed {
            return false;
        }
        self.slot(now).retries.fetch_add(1, Ordering::Relaxed);
        true
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn at(origin: Instant, millis: u64) -> Instant {
        origin + Duration::from_millis(millis)
    }

    #[test]
    fn a_burst_within_the_share_of_recent_traffic_is_allowed() {
        let t0 = Instant::now();
        let budget = RetryBudget::new(t0);
        for i in 0..1000 {
            budget.request(at(t0, i));
        }
        // 20% of 1000 requests, plus 3 per second over 10 s: 230 retries, then no more.
        let allowed = (0..300)
            .filter(|_| budget.try_retry(at(t0, 1000), 0.2, 3))
            .count();
        assert_eq!(allowed, 230);
    }

    #[test]
    fn without_traffic_only_the_per_second_allowance_remains() {
        let t0 = Instant::now();
        let budget = RetryBudget::new(t0);
        let allowed = (0..100).filter(|_| budget.try_retry(t0, 0.2, 3)).count();
        assert_eq!(allowed, 30);
    }

    #[test]
    fn the_window_forgets_old_seconds() {
        let t0 = Instant::now();
        let budget = RetryBudget::new(t0);
        for _ in 0..1000 {
            budget.request(t0);
        }
        assert_eq!(
            (0..500).filter(|_| budget.try_retry(t0, 0.2, 0)).count(),
            200
        );
        // Eleven seconds on, the requests and retries of second 0 are gone.
        let later = at(t0, 11_000);
        assert!(!budget.try_retry(later, 0.2, 0));
        for _ in 0..100 {
            budget.request(later);
        }
        assert_eq!(
            (0..50).filter(|_| budget.try_retry(later, 0.2, 0)).count(),
            20
        );
    }

    #[test]
    fn a_sustained_storm_is_held_to_the_share() {
        let t0 = Instant::now();
        let budget = RetryBudget::new(t0);
        let (mut requests, mut retried) = (0u64, 0u64);
        // 30 s of 100 requests per second, every one failing and asking for a retry.
        for second in 0..30u64 {
            for i in 0..100u64 {
                let now = at(t0, second * 1000 + i * 10);
                budget.request(now);
                requests += 1;
                if budget.try_retry(now, 0.2, 1) {
                    retried += 1;
                }
            }
        }
        let ratio = retried as f64 / requests as f64;
        assert!(ratio < 0.25, "{retried} retries for {requests} requests");
    }
}
