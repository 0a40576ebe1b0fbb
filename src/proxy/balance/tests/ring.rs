//! Consistent hashing: sticky keys, fair shares, minimal disruption, bounded load.

use super::*;
use crate::proxy::balance::Strategy;

const KEYS: u64 = 20_000;

fn ring_of(config: &[Backend], load_factor: f64) -> Balancer {
    Balancer::new(&consistent_hash(load_factor), config)
}

fn keyed(hash: u64) -> Pick<'static> {
    Pick {
        hash: Some(hash),
        tried: &[],
        random: 0,
    }
}

fn key(index: u64) -> u64 {
    hash_key(format!("client-{index}").as_bytes())
}

/// The backend id each of the test keys lands on with idle candidates.
fn owners(balancer: &Balancer, config: &[Backend]) -> Vec<String> {
    let candidates = idle(&vec![1; config.len()]);
    (0..KEYS)
        .map(|index| {
            let chosen = balancer
                .pick(&candidates, keyed(key(index)))
                .expect("eligible");
            config[chosen].id.clone()
        })
        .collect()
}

fn points(balancer: &Balancer) -> usize {
    match &balancer.strategy {
        Strategy::ConsistentHash(ring) => ring.len(),
        other => panic!("not a ring: {other:?}"),
    }
}

#[test]
fn a_key_always_lands_on_the_same_backend() {
    let config = backends(&[1; 5]);
    let balancer = ring_of(&config, 1.25);
    let candidates = idle(&[1; 5]);
    for index in 0..200 {
        let first = balancer.pick(&candidates, keyed(key(index)));
        for random in 0..5 {
            let again = Pick {
                hash: Some(key(index)),
                tried: &[],
                random,
            };
            assert_eq!(balancer.pick(&candidates, again), first);
        }
    }
    // Another node building the ring from the same backends agrees.
    assert_eq!(
        owners(&balancer, &config),
        owners(&ring_of(&config, 1.25), &config)
    );
}

#[test]
fn keys_spread_evenly_over_equal_backends() {
    let config = backends(&[1; 10]);
    let owners = owners(&ring_of(&config, 1.25), &config);
    for backend in &config {
        let share = owners.iter().filter(|&id| *id == backend.id).count();
        assert!((1_400..=2_600).contains(&share), "{}: {share}", backend.id);
    }
}

#[test]
fn keys_spread_by_weight() {
    let config = backends(&[1, 3]);
    let owners = owners(&ring_of(&config, 1.25), &config);
    let heavy = owners.iter().filter(|&id| id == "b1").count() as f64 / KEYS as f64;
    assert!((0.70..=0.80).contains(&heavy), "{heavy}");
}

#[test]
fn the_ring_has_160_points_per_weight_up_to_a_cap() {
    assert_eq!(points(&ring_of(&backends(&[1, 2, 3]), 1.25)), 960);
    // 10 x 1000 x 160 points would be 1.6 million: scaled down to the cap, in proportion.
    assert_eq!(points(&ring_of(&backends(&[1000; 10]), 1.25)), 40_000);
    // Every backend keeps at least one point, however light.
    let mut weights = vec![1000; 60];
    weights.push(1);
    let config = backends(&weights);
    let balancer = ring_of(&config, 1.25);
    assert!(points(&balancer) <= 40_000 + config.len());
    let mut candidates = idle(&weights);
    for candidate in &mut candidates[..60] {
        candidate.available = false;
    }
    assert_eq!(balancer.pick(&candidates, keyed(1)), Some(60));
}

#[test]
fn the_ring_follows_ids_not_positions_or_addresses() {
    let config = backends(&[1; 6]);
    let mut reordered = config.clone();
    reordered.reverse();
    for (index, backend) in reordered.iter_mut().enumerate() {
        backend.address.set_port(9000 + index as u16);
    }
    assert_eq!(
        owners(&ring_of(&config, 1.25), &config),
        owners(&ring_of(&reordered, 1.25), &reordered)
    );
}

#[test]
fn adding_a_backend_moves_only_the_keys_it_takes() {
    let before = backends(&[1; 10]);
    let mut after = before.clone();
    after.insert(4, backend("b-new", 1));
    let old = owners(&ring_of(&before, 1.25), &before);
    let new = owners(&ring_of(&after, 1.25), &after);
    let mut moved = 0;
    for (old, new) in old.iter().zip(&new) {
        if old != new {
            assert_eq!(new, "b-new", "a key moved from {old} to {new}");
            moved += 1;
        }
    }
    // About 1/11 of the keys.
    assert!((1_200..=2_500).contains(&moved), "{moved}");
}

#[test]
fn removing_a_backend_moves_only_its_keys_and_spreads_them() {
    let before = backends(&[1; 10]);
    let mut after = before.clone();
    after.remove(3);
    let old = owners(&ring_of(&before, 1.25), &before);
    let new = owners(&ring_of(&after, 1.25), &after);
    let mut inheritors = std::collections::BTreeSet::new();
    for (old, new) in old.iter().zip(&new) {
        if old == "b3" {
            inheritors.insert(new.clone());
        } else {
            assert_eq!(old, new, "a key of a remaining backend moved");
        }
    }
    // Its keys go to its many ring neighbours, not all to one successor.
    assert!(inheritors.len() >= 8, "{inheritors:?}");
}

#[test]
fn an_unavailable_backend_hands_its_keys_over_and_gets_them_back() {
    let config = backends(&[1; 5]);
    let balancer = ring_of(&config, 1.25);
    let mut candidates = idle(&[1; 5]);
    let usual: Vec<Option<usize>> = (0..2_000)
        .map(|index| balancer.pick(&candidates, keyed(key(index))))
        .collect();
    candidates[2].available = false;
    for (index, &usual) in (0..).zip(&usual) {
        let now = balancer.pick(&candidates, keyed(key(index)));
        if usual == Some(2) {
            assert!(now.is_some_and(|chosen| chosen != 2));
        } else {
            assert_eq!(now, usual, "a key of an available backend moved");
        }
    }
    candidates[2].available = true;
    for (index, &usual) in (0..).zip(&usual) {
        assert_eq!(balancer.pick(&candidates, keyed(key(index))), usual);
    }
}

#[test]
fn a_retry_walks_on_to_the_next_backend_on_the_ring() {
    let config = backends(&[1; 5]);
    let balancer = ring_of(&config, 1.25);
    let mut candidates = idle(&[1; 5]);
    for index in 0..200 {
        let first = balancer
            .pick(&candidates, keyed(key(index)))
            .expect("eligible");
        let tried = [first];
        let retry = Pick {
            hash: Some(key(index)),
            tried: &tried,
            random: 0,
        };
        let second = balancer.pick(&candidates, retry).expect("four left");
        // The retry goes where the key goes when its backend is down.
        candidates[first].available = false;
        assert_eq!(balancer.pick(&candidates, keyed(key(index))), Some(second));
        candidates[first].available = true;
    }
}

#[test]
fn without_a_key_picks_are_spread_by_the_random_number() {
    let config = backends(&[1; 4]);
    let counts = tally(&ring_of(&config, 1.25), &idle(&[1; 4]), 8_000, 10);
    for &count in &counts {
        assert!((1_400..=2_600).contains(&count), "{counts:?}");
    }
    // Even from a counter (the ring mixes it).
    let balancer = ring_of(&config, 1.25);
    let sequential: std::collections::BTreeSet<_> = (0..64)
        .filter_map(|random| balancer.pick(&idle(&[1; 4]), fresh(random)))
        .collect();
    assert_eq!(sequential.len(), 4);
}

#[test]
fn a_hot_key_spills_over_but_never_past_the_bound() {
    // Every request has the same key and none finishes: the key's backend fills up to its
    // bound, then the overflow walks on, and no backend ever goes over
    // ceil(1.25 * total / 4).
    let config = backends(&[1; 4]);
    let balancer = ring_of(&config, 1.25);
    let mut candidates = idle(&[1; 4]);
    let hot = key(7);
    let home = balancer.pick(&candidates, keyed(hot)).expect("eligible");
    for total in 1..=1_000u32 {
        let chosen = balancer.pick(&candidates, keyed(hot)).expect("eligible");
        assert!(within_bound(&candidates, chosen, 1250), "{candidates:?}");
        candidates[chosen].in_flight += 1;
        let ceiling = (1250 * total).div_ceil(4 * 1000);
        assert!(
            candidates.iter().all(|c| c.in_flight <= ceiling),
            "{candidates:?}"
        );
    }
    // The home backend took the most: it is first in line whenever under the bound.
    let most = candidates.iter().map(|c| c.in_flight).max();
    assert_eq!(Some(candidates[home].in_flight), most);
}

#[test]
fn the_bound_holds_under_random_keys_arrivals_and_completions() {
    let config = backends(&[1, 2, 3, 1, 1]);
    let balancer = ring_of(&config, 1.1);
    let mut candidates = idle(&[1, 2, 3, 1, 1]);
    let mut random = XorShift::new(11);
    // A skewed key set: a few hot keys take half the requests.
    for _ in 0..20_000 {
        let hash = if random.below(2) == 0 {
            key(random.below(3))
        } else {
            key(random.below(10_000))
        };
        let chosen = balancer.pick(&candidates, keyed(hash)).expect("eligible");
        assert!(within_bound(&candidates, chosen, 1100), "{candidates:?}");
        candidates[chosen].in_flight += 1;
        let busy: Vec<usize> = (0..5).filter(|&i| candidates[i].in_flight > 0).collect();
        if random.below(2) == 0 && !busy.is_empty() {
            candidates[busy[random.below(busy.len() as u64) as usize]].in_flight -= 1;
        }
    }
}

#[test]
fn with_every_untried_backend_over_the_bound_the_walk_still_picks_one() {
    let config = backends(&[1; 3]);
    let balancer = ring_of(&config, 1.0);
    // Bound: ceil(1.0 * (30 + 1) / 3) = 11. Backend 0 is under it, 1 and 2 are not.
    let candidates = loaded(&[0, 15, 15]);
    for index in 0..100 {
        assert_eq!(balancer.pick(&candidates, keyed(key(index))), Some(0));
        let retry = Pick {
            hash: Some(key(index)),
            tried: &[0],
            random: 0,
        };
        // Both over the bound: the first on the key's walk, the same one every time.
        let spill = balancer.pick(&candidates, retry);
        assert!(matches!(spill, Some(1 | 2)), "{spill:?}");
        assert_eq!(balancer.pick(&candidates, retry), spill);
    }
}

#[test]
fn the_bound_is_a_share_of_weight() {
    // Weights 3 and 1 with 7 in flight: backend 0 may hold ceil(1.0 * 8 * 3 / 4) = 6.
    let balancer = ring_of(&backends(&[3, 1]), 1.0);
    let mut candidates = idle(&[3, 1]);
    candidates[0].in_flight = 5;
    candidates[1].in_flight = 2;
    for index in 0..50 {
        assert_eq!(balancer.pick(&candidates, keyed(key(index))), Some(0));
    }
    candidates[0].in_flight = 6;
    candidates[1].in_flight = 1;
    for index in 0..50 {
        assert_eq!(balancer.pick(&candidates, keyed(key(index))), Some(1));
    }
}

#[test]
fn odd_load_factors_are_clamped() {
    let config = backends(&[1; 2]);
    let hot = key(3);
    let home = ring_of(&config, 1.25)
        .pick(&idle(&[1; 2]), keyed(hot))
        .expect("eligible");
    let mut candidates = idle(&[1; 2]);
    candidates[home].in_flight = 1_000;
    // Infinite: no bound, the key stays home.
    assert_eq!(
        ring_of(&config, f64::INFINITY).pick(&candidates, keyed(hot)),
        Some(home)
    );
    // Below 1 or NaN: treated as 1, the tightest bound that can always be met.
    for load_factor in [0.5, -3.0, f64::NAN] {
        assert_eq!(
            ring_of(&config, load_factor).pick(&candidates, keyed(hot)),
            Some(1 - home),
            "{load_factor}"
        );
    }
}
