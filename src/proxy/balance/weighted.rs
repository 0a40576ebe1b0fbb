//! Smooth weighted round robin, as nginx does it.
//!
//! Every pick adds each eligible backend's weight to its current weight, takes the backend
//! with the highest current weight and subtracts the eligible total from it. Over a cycle
//! of `total` picks each backend gets exactly its weight's share, and the heavy ones are
//! spread out (weights 5, 1, 1 give `a a b a c a a`, not `a a a a a b c`), so no backend
//! takes a burst.
//!
//! Only eligible backends take part: one that is down or already tried neither gains nor
//! pays, so it keeps its place and re-enters the cycle where it left it.

use std::sync::{Mutex, PoisonError};

use super::{Candidate, Pick};

#[derive(Debug)]
pub(super) struct SmoothWeighted {
    /// Current weight per backend. A mutex rather than atomics: one pick reads and writes
    /// every entry and must see them all consistently. It is held for one pass over the
    /// candidates.
    current: Mutex<Vec<i64>>,
}

impl SmoothWeighted {
    pub(super) fn new(backends: usize) -> Self {
        Self {
            current: Mutex::new(vec![0; backends]),
        }
    }

    pub(super) fn pick(&self, candidates: &[Candidate], pick: &Pick<'_>) -> Option<usize> {
        // The state is a vector of plain numbers, valid after any panic; keep using it.
        let mut current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        if current.len() < candidates.len() {
            current.resize(candidates.len(), 0);
        }
        let mut total: i64 = 0;
        let mut best: Option<usize> = None;
        for (index, candidate) in candidates.iter().enumerate() {
            if !pick.is_eligible(candidates, index) {
                continue;
            }
            let weight = i64::from(candidate.weight);
            current[index] += weight;
            total += weight;
            // Strictly greater: the lowest index wins a tie, as in nginx.
            if best.is_none_or(|best| current[index] > current[best]) {
                best = Some(index);
            }
        }
        let chosen = best?;
        current[chosen] -= total;
        Some(chosen)
    }
}
