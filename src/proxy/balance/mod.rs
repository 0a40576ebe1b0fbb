//! Backend selection: pure, over a snapshot of the backends' weights, availability and
//! in-flight counts. No I/O, no clock; randomness comes in with the request.
//!
//! STUB: round robin over available, untried backends. The balancing work replaces it.

use std::sync::atomic::{AtomicUsize, Ordering};

use crate::region::proxy::{Backend, Policy};

/// What the balancer knows about one backend at the moment of a pick; `candidates[i]`
/// describes the `i`-th backend given to [`Balancer::new`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Candidate {
    pub weight: u32,
    pub in_flight: u32,
    /// Healthy and not ejected (and not draining).
    pub available: bool,
}

/// One pick's inputs besides the candidates.
#[derive(Debug, Clone, Copy)]
pub struct Pick<'a> {
    /// The consistent-hash key's hash ([`hash_key`]); ignored by other policies.
    pub hash: Option<u64>,
    /// Backends this request already tried: never picked again.
    pub tried: &'a [usize],
    /// A fresh random number (power of two choices, tie breaks).
    pub random: u64,
}

/// The selection state for one backend set and policy, built when a config is published.
#[derive(Debug)]
pub struct Balancer {
    next: AtomicUsize,
}

impl Balancer {
    pub fn new(_policy: &Policy, _backends: &[Backend]) -> Self {
        Self {
            next: AtomicUsize::new(0),
        }
    }

    /// The index of the backend to send to, or `None` when no candidate is available and
    /// untried.
    pub fn pick(&self, candidates: &[Candidate], pick: Pick<'_>) -> Option<usize> {
        let n = candidates.len();
        if n == 0 {
            return None;
        }
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        (0..n)
            .map(|k| (start + k) % n)
            .find(|&i| candidates[i].available && !pick.tried.contains(&i))
    }
}

/// A stable 64-bit hash of a consistent-hash key (the same on every node and release).
pub fn hash_key(bytes: &[u8]) -> u64 {
    // FNV-1a.
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}
