//! Cheap per-thread random numbers for balancing and check jitter: not for secrets.

use std::cell::Cell;
use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;

thread_local! {
    // Seeded from the process's hash randomness, so threads and runs differ.
    static STATE: Cell<u64> = Cell::new(RandomState::new().hash_one(0u64) | 1);
}

/// A uniformly distributed `u64` (splitmix64).
pub(crate) fn next_u64() -> u64 {
    STATE.with(|state| {
        let next = state.get().wrapping_add(0x9e37_79b9_7f4a_7c15);
        state.set(next);
        let mut z = next;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    })
}

/// A uniformly distributed `f64` in [0, 1).
pub(crate) fn unit() -> f64 {
    (next_u64() >> 11) as f64 / (1u64 << 53) as f64
}
