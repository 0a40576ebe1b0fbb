//! Consistent hashing with bounded load: a ring of virtual nodes, walked clockwise from the
//! key's hash to the first eligible backend that is not overloaded.
//!
//! Each backend's points are hashed from its stable `id`, never from its index or address,
//! so every node builds the same ring from the same backends in any order, and adding or
//! removing one backend only moves the keys that land on (or leave) that backend's points.
//!
//! Bounded load (Mirrokni, Thorup and Zadimoghaddam, "Consistent Hashing with Bounded
//! Loads"; HAProxy's `hash-balance-factor`) keeps a hot key from piling onto one backend: a
//! backend may take this request only if its in-flight count stays within `load_factor`
//! times its fair share of all in-flight requests, this one included. Otherwise the walk
//! moves on clockwise, so a key's overflow always spills to the same next backends.

use std::fmt;

use super::{Candidate, Pick, hash_key, mix64};
use crate::region::proxy::Backend;

/// Virtual nodes per unit of weight, as nginx's `hash ... consistent`: with 160 points a
/// backend's share of the ring is within a few percent of fair.
const POINTS_PER_WEIGHT: u64 = 160;

/// Cap on the ring's points, so that large weights cannot make it megabytes (and the
/// binary search slow): weights are scaled down to fit, but every backend keeps at least
/// one point.
const MAX_POINTS: u64 = 40_000;

/// The cap on `load_factor`, in thousandths: a million times the fair share is no bound at
/// all, and capping keeps the bound's arithmetic far from overflow.
const MAX_LOAD_FACTOR_MILLI: u64 = 1_000_000_000;

/// Spaces the points of one backend along a splitmix64 sequence seeded by its id hash.
const POINT_STEP: u64 = 0x9e37_79b9_7f4a_7c15;

pub(super) struct Ring {
    /// Point positions, ascending.
    hashes: Vec<u64>,
    /// The backend index owning `hashes[i]`; `u32` keeps the ring at 12 bytes a point.
    owners: Vec<u32>,
    /// How many backends have points (`0..backends`).
    backends: usize,
    /// `load_factor` in thousandths, at least 1000: the bound is then integer arithmetic.
    load_factor_milli: u64,
}

impl Ring {
    pub(super) fn new(backends: &[Backend], load_factor: f64) -> Self {
        // Past u32::MAX backends an index cannot be an owner; such backends are left off
        // the ring (the last-resort scan can still pick them).
        let on_ring = &backends[..backends.len().min(u32::MAX as usize)];
        let weights: Vec<u64> = on_ring
            .iter()
            .map(|backend| u64::from(backend.weight.max(1)))
            .collect();
        let total_weight: u64 = weights.iter().sum();
        let budget = POINTS_PER_WEIGHT
            .saturating_mul(total_weight)
            .min(MAX_POINTS);
        let mut points: Vec<(u64, u32)> = Vec::new();
        for (owner, (backend, weight)) in (0u32..).zip(on_ring.iter().zip(&weights)) {
            // Below the cap this is exactly 160 * weight; above it, the share of the budget.
            let count = (budget * weight / total_weight.max(1)).max(1);
            let seed = hash_key(backend.id.as_bytes());
            // Point k is the same whatever the count, so when the cap scales a backend's
            // count down, its remaining points stay where they were.
            points.extend((1..=count).map(|k| {
                let position = mix64(seed.wrapping_add(k.wrapping_mul(POINT_STEP)));
                (position, owner)
            }));
        }
        // Ties between two backends' points are astronomically rare; break them by id so
        // that even then the ring does not depend on the backends' order.
        points.sort_unstable_by(|a, b| {
            a.0.cmp(&b.0)
                .then_with(|| on_ring[a.1 as usize].id.cmp(&on_ring[b.1 as usize].id))
        });
        // `as u64` saturates: infinity becomes the cap, NaN becomes 0 and then the floor.
        let load_factor_milli =
            ((load_factor * 1000.0).round() as u64).clamp(1000, MAX_LOAD_FACTOR_MILLI);
        Self {
            hashes: points.iter().map(|&(position, _)| position).collect(),
            owners: points.iter().map(|&(_, owner)| owner).collect(),
            backends: on_ring.len(),
            load_factor_milli,
        }
    }

    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.hashes.len()
    }

    pub(super) fn pick(&self, candidates: &[Candidate], pick: &Pick<'_>) -> Option<usize> {
        let on_ring = self.backends.min(candidates.len());
        let mut unvisited = (0..on_ring)
            .filter(|&index| pick.is_eligible(candidates, index))
            .count();
        if unvisited == 0 || self.hashes.is_empty() {
            return pick.first_eligible(candidates);
        }
        let load = Load::of(candidates);
        // Without a key (no header, cookie or address to hash) any point will do; mixing
        // the random number guards against a caller passing a counter.
        let key = pick.hash.unwrap_or_else(|| mix64(pick.random));
        let start = self.hashes.partition_point(|&position| position < key);
        let mut visited = vec![false; on_ring];
        let mut spill = None;
        for step in 0..self.hashes.len() {
            let owner = self.owners[(start + step) % self.hashes.len()] as usize;
            if owner >= on_ring || visited[owner] {
                continue;
            }
            visited[owner] = true;
            if !pick.is_eligible(candidates, owner) {
                continue;
            }
            if load.admits(&candidates[owner], self.load_factor_milli) {
                return Some(owner);
            }
            // Everyone over the bound (possible when `tried` removed the ones under it):
            // the first on the walk, so the key still goes where its overflow usually goes.
            spill.get_or_insert(owner);
            unvisited -= 1;
            if unvisited == 0 {
                break;
            }
        }
        spill.or_else(|| pick.first_eligible(candidates))
    }
}

/// The load the bound shares out: in-flight requests and weight of every backend taking
/// traffic, including ones this request already tried, since they still serve others.
struct Load {
    in_flight: u128,
    weight: u128,
}

impl Load {
    fn of(candidates: &[Candidate]) -> Self {
        candidates
            .iter()
            .filter(|candidate| candidate.is_serving())
            .fold(
                Self {
                    in_flight: 0,
                    weight: 0,
                },
                |load, candidate| Self {
                    in_flight: load.in_flight + u128::from(candidate.in_flight),
                    weight: load.weight + u128::from(candidate.weight),
                },
            )
    }

    /// Whether `candidate` stays within its bound with this request:
    /// `in_flight + 1 <= ceil(load_factor * (total_in_flight + 1) * weight / total_weight)`.
    ///
    /// The fair share is by weight, as in HAProxy: the ring already gives a backend of
    /// weight 3 three times the keys, and a bound by head count would spill most of them.
    /// With equal weights it is the paper's `ceil(c * (m + 1) / n)`. Since `c >= 1`, the
    /// bounds add up to at least the total, so some backend is always under its bound.
    fn admits(&self, candidate: &Candidate, load_factor_milli: u64) -> bool {
        let share = u128::from(load_factor_milli)
            .saturating_mul(self.in_flight + 1)
            .saturating_mul(u128::from(candidate.weight));
        let bound = share.div_ceil(1000 * self.weight.max(1));
        u128::from(candidate.in_flight) < bound
    }
}

impl fmt::Debug for Ring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ring")
            .field("points", &self.hashes.len())
            .field("backends", &self.backends)
            .field("load_factor_milli", &self.load_factor_milli)
            .finish()
    }
}
