//! Backend selection: pure, over a snapshot of the backends' weights, availability and
//! in-flight counts. No I/O, no clock; randomness comes in with the request.
//!
//! One [`Balancer`] is built per backend set and policy when a config is published and is
//! shared by every worker thread, so `pick` takes `&self`: the round-robin cursor is an
//! atomic and the smooth weighted state sits behind a short mutex. Least request and the
//! hash ring keep no state between picks.
//!
//! Every policy obeys the same contract, so the proxy's retry loop can rely on it: a pick
//! is always *eligible* (available, weight above zero, not in `tried`), and `None` means no
//! eligible backend is left.
//!
//! - `round_robin.rs`: each eligible backend in turn.
//! - `weighted.rs`: nginx's smooth weighted round robin.
//! - `least_request.rs`: power of two choices on in-flight requests per unit of weight.
//! - `ring.rs`: consistent hashing on a ring of virtual nodes, with bounded load.

mod least_request;
mod ring;
mod round_robin;
mod weighted;

use crate::region::proxy::{Backend, Policy};

use ring::Ring;
use round_robin::RoundRobin;
use weighted::SmoothWeighted;

/// What the balancer knows about one backend at the moment of a pick; `candidates[i]`
/// describes the `i`-th backend given to [`Balancer::new`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Candidate {
    /// The weight to balance by now (it may differ from the configured one); 0 means never
    /// pick this backend.
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
    /// A fresh random number (power of two choices, tie breaks, a ring position when a
    /// consistent-hash request has no key).
    pub random: u64,
}

impl Pick<'_> {
    /// Whether `candidates[index]` may be picked: available, weighted and not yet tried.
    pub fn is_eligible(&self, candidates: &[Candidate], index: usize) -> bool {
        candidates
            .get(index)
            .is_some_and(|candidate| candidate.is_serving() && !self.tried.contains(&index))
    }

    /// The first eligible candidate in index order: the last resort of every policy, so
    /// none of them can answer `None` while an eligible backend exists.
    fn first_eligible(&self, candidates: &[Candidate]) -> Option<usize> {
        (0..candidates.len()).find(|&index| self.is_eligible(candidates, index))
    }
}

impl Candidate {
    /// Available with a weight above zero: it takes traffic, whether or not this request
    /// already tried it (bounded load counts tried backends' requests too).
    fn is_serving(&self) -> bool {
        self.available && self.weight > 0
    }
}

/// The selection state for one backend set and policy, built when a config is published.
#[derive(Debug)]
pub struct Balancer {
    strategy: Strategy,
}

#[derive(Debug)]
enum Strategy {
    RoundRobin(RoundRobin),
    WeightedRoundRobin(SmoothWeighted),
    LeastRequest,
    ConsistentHash(Ring),
}

impl Balancer {
    pub fn new(policy: &Policy, backends: &[Backend]) -> Self {
        let strategy = match policy {
            Policy::RoundRobin => Strategy::RoundRobin(RoundRobin::new()),
            Policy::WeightedRoundRobin => {
                Strategy::WeightedRoundRobin(SmoothWeighted::new(backends.len()))
            }
            Policy::LeastRequest => Strategy::LeastRequest,
            Policy::ConsistentHash { load_factor, .. } => {
                Strategy::ConsistentHash(Ring::new(backends, *load_factor))
            }
        };
        Self { strategy }
    }

    /// The index of the backend to send to, or `None` when no candidate is eligible
    /// (available, weight above zero, not in `pick.tried`).
    pub fn pick(&self, candidates: &[Candidate], pick: Pick<'_>) -> Option<usize> {
        let chosen = match &self.strategy {
            Strategy::RoundRobin(rotation) => rotation.pick(candidates, &pick),
            Strategy::WeightedRoundRobin(smooth) => smooth.pick(candidates, &pick),
            Strategy::LeastRequest => least_request::pick(candidates, &pick),
            Strategy::ConsistentHash(ring) => ring.pick(candidates, &pick),
        };
        debug_assert!(chosen.is_none_or(|index| pick.is_eligible(candidates, index)));
        chosen
    }
}

/// A stable 64-bit hash of a consistent-hash key (the same on every node and release).
///
/// FNV-1a alone is stable and fast but leaves short, similar keys (`user-1`, `user-2`)
/// close together in the high bits a ring lookup compares first, so its output goes through
/// murmur3's 64-bit finaliser. Changing either moves every key to another backend: the
/// golden values in the tests pin them.
pub fn hash_key(bytes: &[u8]) -> u64 {
    let fnv = bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    mix64(fnv)
}

/// murmur3's fmix64: a bijection on `u64` in which every input bit flips each output bit
/// with probability close to one half. Used to spread hashes and to derive further random
/// draws from one.
pub fn mix64(mut x: u64) -> u64 {
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    x ^= x >> 33;
    x
}

/// Maps a uniform `random` onto `0..n` by its high bits (Lemire's multiply-shift), which
/// is less biased than `%` and needs no division.
fn below(random: u64, n: usize) -> usize {
    // The product's high word is below n, so it fits back into usize.
    ((u128::from(random) * n as u128) >> 64) as usize
}

#[cfg(test)]
mod tests;
