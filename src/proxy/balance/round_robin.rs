//! Round robin: each eligible backend in turn, weights ignored.
//!
//! The state is the index of the last backend picked, not a ticket counter. With a counter
//! taken modulo the backend count, a backend that is down makes its successor take its turn
//! too (picked twice per cycle); starting each search right after the last pick instead
//! steps over the hole, so the backends still up keep equal shares, and a backend that
//! returns simply gets its turn when the rotation next reaches it.

use std::sync::atomic::{AtomicUsize, Ordering};

use super::{Candidate, Pick};

#[derive(Debug)]
pub(super) struct RoundRobin {
    /// The last index picked; `usize::MAX` before the first pick, so that one starts at 0.
    last: AtomicUsize,
}

impl RoundRobin {
    pub(super) fn new() -> Self {
        Self {
            last: AtomicUsize::new(usize::MAX),
        }
    }

    pub(super) fn pick(&self, candidates: &[Candidate], pick: &Pick<'_>) -> Option<usize> {
        let count = candidates.len();
        let mut last = self.last.load(Ordering::Relaxed);
        loop {
            let start = last.wrapping_add(1) % count.max(1);
            // No eligible backend leaves the cursor where it was.
            let chosen = (0..count)
                .map(|step| (start + step) % count)
                .find(|&index| pick.is_eligible(candidates, index))?;
            // Another thread may have moved the cursor since we read it; then search again
            // from where it put it, so two concurrent picks never take the same turn.
            match self.last.compare_exchange_weak(
                last,
                chosen,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Some(chosen),
                Err(actual) => last = actual,
            }
        }
    }
}
