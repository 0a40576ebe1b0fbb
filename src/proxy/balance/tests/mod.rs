//! The balancer's contract for every policy, the key hash, and a property loop over
//! pseudo-random inputs; each policy's own behaviour is in the file named after it.

mod least_request;
mod ring;
mod round_robin;
mod weighted;

use std::net::{Ipv4Addr, SocketAddr};

use super::*;
use crate::region::proxy::HashKey;

/// A deterministic pseudo-random sequence (xorshift64*), so every run sees the same inputs.
struct XorShift(u64);

impl XorShift {
    fn new(seed: u64) -> Self {
        Self(seed.max(1))
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform-enough in `0..n` for tests.
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn backend(id: &str, weight: u32) -> Backend {
    Backend {
        id: id.to_string(),
        address: SocketAddr::from((Ipv4Addr::new(10, 0, 0, 1), 8080)),
        weight,
    }
}

/// Backends `b0`, `b1`, ... with these configured weights.
fn backends(weights: &[u32]) -> Vec<Backend> {
    weights
        .iter()
        .enumerate()
        .map(|(index, &weight)| backend(&format!("b{index}"), weight))
        .collect()
}

/// Available, idle candidates with these weights.
fn idle(weights: &[u32]) -> Vec<Candidate> {
    weights
        .iter()
        .map(|&weight| Candidate {
            weight,
            in_flight: 0,
            available: true,
        })
        .collect()
}

/// Available candidates with these in-flight counts and weight 1.
fn loaded(in_flight: &[u32]) -> Vec<Candidate> {
    in_flight
        .iter()
        .map(|&in_flight| Candidate {
            weight: 1,
            in_flight,
            available: true,
        })
        .collect()
}

fn consistent_hash(load_factor: f64) -> Policy {
    Policy::ConsistentHash {
        key: HashKey::ClientIp,
        load_factor,
    }
}

fn all_policies() -> Vec<Policy> {
    vec![
        Policy::RoundRobin,
        Policy::WeightedRoundRobin,
        Policy::LeastRequest,
        consistent_hash(1.25),
    ]
}

/// A pick with no key and nothing tried.
fn fresh(random: u64) -> Pick<'static> {
    Pick {
        hash: None,
        tried: &[],
        random,
    }
}

/// `count` picks over fixed candidates with pseudo-random inputs: how often each was picked.
fn tally(balancer: &Balancer, candidates: &[Candidate], count: usize, seed: u64) -> Vec<usize> {
    let mut random = XorShift::new(seed);
    let mut picks = vec![0; candidates.len()];
    for _ in 0..count {
        let index = balancer
            .pick(candidates, fresh(random.next()))
            .expect("an eligible backend");
        picks[index] += 1;
    }
    picks
}

#[test]
fn an_empty_backend_set_picks_none() {
    for policy in all_policies() {
        let balancer = Balancer::new(&policy, &[]);
        for random in 0..10 {
            assert_eq!(balancer.pick(&[], fresh(random)), None, "{policy:?}");
        }
    }
}

#[test]
fn no_available_backend_picks_none() {
    let mut candidates = idle(&[1, 2, 3]);
    for candidate in &mut candidates {
        candidate.available = false;
    }
    for policy in all_policies() {
        let balancer = Balancer::new(&policy, &backends(&[1, 2, 3]));
        for random in 0..10 {
            let pick = Pick {
                hash: Some(random),
                tried: &[],
                random,
            };
            assert_eq!(balancer.pick(&candidates, pick), None, "{policy:?}");
        }
    }
}

#[test]
fn a_single_backend_takes_every_pick_and_none_once_tried() {
    for policy in all_policies() {
        let balancer = Balancer::new(&policy, &backends(&[4]));
        let candidates = loaded(&[1000]);
        assert_eq!(tally(&balancer, &candidates, 50, 7), vec![50], "{policy:?}");
        let retry = Pick {
            hash: Some(1),
            tried: &[0],
            random: 1,
        };
        assert_eq!(balancer.pick(&candidates, retry), None, "{policy:?}");
    }
}

#[test]
fn weight_zero_is_never_picked() {
    for policy in all_policies() {
        let balancer = Balancer::new(&policy, &backends(&[1, 1, 1]));
        let picks = tally(&balancer, &idle(&[1, 0, 1]), 300, 11);
        assert_eq!(picks[1], 0, "{policy:?}: {picks:?}");
        assert!(picks[0] > 0 && picks[2] > 0, "{policy:?}: {picks:?}");
        assert_eq!(
            balancer.pick(&idle(&[0, 0, 0]), fresh(3)),
            None,
            "{policy:?}"
        );
    }
}

#[test]
fn unavailable_backends_are_never_picked_and_the_rest_all_are() {
    for policy in all_policies() {
        let balancer = Balancer::new(&policy, &backends(&[1, 1, 1, 1, 1]));
        let mut candidates = idle(&[1, 1, 1, 1, 1]);
        candidates[1].available = false;
        candidates[3].available = false;
        let picks = tally(&balancer, &candidates, 600, 13);
        assert_eq!((picks[1], picks[3]), (0, 0), "{policy:?}: {picks:?}");
        assert!(
            picks[0] > 0 && picks[2] > 0 && picks[4] > 0,
            "{policy:?}: {picks:?}"
        );
    }
}

#[test]
fn tried_backends_are_excluded_until_none_is_left() {
    for policy in all_policies() {
        let balancer = Balancer::new(&policy, &backends(&[1, 1, 1]));
        let candidates = idle(&[1, 1, 1]);
        for random in 0..50 {
            let pick = |tried: &[usize]| {
                balancer.pick(
                    &candidates,
                    Pick {
                        hash: Some(random * 0x1234_5678_9abc),
                        tried,
                        random,
                    },
                )
            };
            let first = pick(&[]).expect("three to choose from");
            let second = pick(&[first]).expect("two left");
            assert_ne!(second, first, "{policy:?}");
            let third = pick(&[first, second]).expect("one left");
            assert!(third != first && third != second, "{policy:?}");
            assert_eq!(pick(&[first, second, third]), None, "{policy:?}");
            // Tried and unavailable together.
            let mut partly_down = candidates.clone();
            partly_down[third].available = false;
            let retry = Pick {
                hash: None,
                tried: &[first, second],
                random,
            };
            assert_eq!(balancer.pick(&partly_down, retry), None, "{policy:?}");
        }
    }
}

#[test]
fn more_candidates_than_backends_still_keep_the_contract() {
    // A misuse (candidates must match the backends given to `new`), but the contract holds:
    // an eligible candidate is found even where the ring has no points for it.
    for policy in all_policies() {
        let balancer = Balancer::new(&policy, &backends(&[1]));
        let mut candidates = idle(&[1, 1, 1]);
        candidates[0].available = false;
        let chosen = balancer.pick(&candidates, fresh(5));
        assert!(matches!(chosen, Some(1 | 2)), "{policy:?}: {chosen:?}");
    }
}

#[test]
fn the_balancer_can_be_shared_across_threads_and_debug_printed() {
    fn shareable<T: Send + Sync + std::fmt::Debug>() {}
    shareable::<Balancer>();
    // Debug names the ring's size instead of printing 40 000 points.
    let balancer = Balancer::new(&consistent_hash(1.25), &backends(&[1000; 40]));
    let printed = format!("{balancer:?}");
    assert!(printed.contains("ConsistentHash"), "{printed}");
    assert!(printed.len() < 300, "{printed}");
}

#[test]
fn the_key_hash_is_pinned() {
    // FNV-1a's published vectors, then murmur3's finaliser: if these change, every
    // consistent-hash key in every deployment moves.
    assert_eq!(hash_key(b""), mix64(0xcbf2_9ce4_8422_2325));
    assert_eq!(hash_key(b"a"), mix64(0xaf63_dc4c_8601_ec8c));
    assert_eq!(hash_key(b"foobar"), mix64(0x8594_4171_f739_67e8));
    assert_eq!(mix64(0), 0);
    assert_eq!(mix64(1), 0xb456_bcfc_34c2_cb2c);
    assert_eq!(hash_key(b"user-42"), 0xa395_32c7_ab05_1e8d);
}

#[test]
fn similar_keys_spread_over_the_whole_hash_range() {
    // Sixteen buckets by the top four bits, which a ring lookup compares first.
    let mut buckets = [0u32; 16];
    for index in 0..16_000 {
        buckets[(hash_key(format!("user-{index}").as_bytes()) >> 60) as usize] += 1;
    }
    for (bucket, &count) in buckets.iter().enumerate() {
        assert!(
            (850..=1150).contains(&count),
            "bucket {bucket}: {buckets:?}"
        );
    }
}

/// The consistent-hash bound, computed independently of the ring: `in_flight + 1` may be at
/// most `ceil(c * (total_in_flight + 1) * weight / total_weight)` over serving backends.
fn within_bound(candidates: &[Candidate], index: usize, load_factor_milli: u64) -> bool {
    let serving = candidates.iter().filter(|c| c.available && c.weight > 0);
    let total_in_flight: u64 = serving.clone().map(|c| u64::from(c.in_flight)).sum();
    let total_weight: u64 = serving.map(|c| u64::from(c.weight)).sum();
    let candidate = candidates[index];
    let share = load_factor_milli * (total_in_flight + 1) * u64::from(candidate.weight);
    // `in_flight + 1 <= bound`, as clippy prefers it.
    u64::from(candidate.in_flight) < share.div_ceil(1000 * total_weight)
}

#[test]
fn every_policy_keeps_its_invariants_over_random_inputs() {
    let mut random = XorShift::new(0x5eed);
    for round in 0..400 {
        let count = random.below(8) as usize;
        let weights: Vec<u32> = (0..count).map(|_| 1 + random.below(5) as u32).collect();
        let config = backends(&weights);
        let load_factor_milli = 1000 + random.below(1000);
        let policies = [
            Policy::RoundRobin,
            Policy::WeightedRoundRobin,
            Policy::LeastRequest,
            consistent_hash(load_factor_milli as f64 / 1000.0),
        ];
        for policy in policies {
            let balancer = Balancer::new(&policy, &config);
            for _ in 0..25 {
                let candidates: Vec<Candidate> = (0..count)
                    .map(|_| Candidate {
                        // Sometimes zero, sometimes not the configured weight.
                        weight: random.below(6) as u32,
                        in_flight: random.below(20) as u32,
                        available: random.below(4) != 0,
                    })
                    .collect();
                let tried: Vec<usize> = (0..count).filter(|_| random.below(3) == 0).collect();
                let pick = Pick {
                    hash: (random.below(2) == 0).then(|| random.next()),
                    tried: &tried,
                    random: random.next(),
                };
                let eligible: Vec<usize> = (0..count)
                    .filter(|&i| {
                        candidates[i].available && candidates[i].weight > 0 && !tried.contains(&i)
                    })
                    .collect();
                let context = format!("round {round}, {policy:?}, {candidates:?}, {tried:?}");
                let Some(chosen) = balancer.pick(&candidates, pick) else {
                    assert!(
                        eligible.is_empty(),
                        "None with {eligible:?} eligible: {context}"
                    );
                    continue;
                };
                assert!(
                    eligible.contains(&chosen),
                    "{chosen} not eligible: {context}"
                );
                match policy {
                    Policy::LeastRequest if eligible.len() >= 2 => {
                        // It won a comparison, so it cannot be the one strictly most loaded.
                        let load = |i: usize| {
                            f64::from(candidates[i].in_flight + 1) / f64::from(candidates[i].weight)
                        };
                        let others_max = eligible
                            .iter()
                            .filter(|&&i| i != chosen)
                            .map(|&i| load(i))
                            .fold(f64::MIN, f64::max);
                        assert!(load(chosen) <= others_max, "most loaded: {context}");
                    }
                    // Over its bound only when every eligible backend is.
                    Policy::ConsistentHash { .. }
                        if !within_bound(&candidates, chosen, load_factor_milli) =>
                    {
                        assert!(
                            eligible.iter().all(|&i| !within_bound(
                                &candidates,
                                i,
                                load_factor_milli
                            )),
                            "{chosen} over its bound while another is not: {context}"
                        );
                    }
                    _ => {}
                }
            }
        }
    }
}
