//! Smooth weighted round robin: exact shares per cycle, interleaved picks.

use super::*;

fn smooth(count: usize) -> Balancer {
    Balancer::new(&Policy::WeightedRoundRobin, &backends(&vec![1; count]))
}

fn sequence(balancer: &Balancer, candidates: &[Candidate], picks: usize) -> Vec<usize> {
    (0..picks)
        .map(|_| balancer.pick(candidates, fresh(0)).expect("eligible"))
        .collect()
}

#[test]
fn weights_five_one_one_interleave_as_in_nginx() {
    let balancer = smooth(3);
    let candidates = idle(&[5, 1, 1]);
    let cycle = vec![0, 0, 1, 0, 2, 0, 0];
    for _ in 0..3 {
        assert_eq!(sequence(&balancer, &candidates, 7), cycle);
    }
}

#[test]
fn every_cycle_gives_exact_shares() {
    let weights = [3, 2, 1, 4, 7];
    let balancer = smooth(weights.len());
    let candidates = idle(&weights);
    let total: u32 = weights.iter().sum();
    for _ in 0..5 {
        let mut counts = vec![0u32; weights.len()];
        for index in sequence(&balancer, &candidates, total as usize) {
            counts[index] += 1;
        }
        assert_eq!(counts, weights);
    }
}

#[test]
fn no_prefix_strays_far_from_the_weights() {
    // Smoothness: after any number of picks each backend is within one pick of its exact
    // share, so the heavy backends never take a burst.
    for weights in [
        vec![5, 1, 1],
        vec![3, 2, 1, 4, 7],
        vec![10, 1],
        vec![1, 1, 1, 1],
    ] {
        let balancer = smooth(weights.len());
        let candidates = idle(&weights);
        let total = f64::from(weights.iter().sum::<u32>());
        let mut counts = vec![0u32; weights.len()];
        for (picks, index) in sequence(&balancer, &candidates, 200)
            .into_iter()
            .enumerate()
        {
            counts[index] += 1;
            for (backend, &weight) in weights.iter().enumerate() {
                let exact = (picks + 1) as f64 * f64::from(weight) / total;
                let drift = (f64::from(counts[backend]) - exact).abs();
                assert!(drift < 1.0, "{weights:?} after {picks}: {counts:?}");
            }
        }
    }
}

#[test]
fn the_candidates_weights_count_not_the_configured_ones() {
    let balancer = Balancer::new(&Policy::WeightedRoundRobin, &backends(&[1, 1]));
    let counts = tally(&balancer, &idle(&[3, 1]), 400, 3);
    assert_eq!(counts, vec![300, 100]);
}

#[test]
fn a_backend_that_leaves_and_returns_gets_its_share_again() {
    let balancer = smooth(3);
    let mut candidates = idle(&[2, 1, 1]);
    assert_eq!(tally(&balancer, &candidates, 400, 4), vec![200, 100, 100]);
    candidates[0].available = false;
    // The others split the traffic evenly and strictly alternate.
    let while_down = sequence(&balancer, &candidates, 10);
    assert!(
        while_down.windows(2).all(|pair| pair[0] != pair[1]),
        "{while_down:?}"
    );
    candidates[0].available = true;
    // Back: one cycle may be off by the state it kept, every full cycle after is exact.
    sequence(&balancer, &candidates, 4);
    assert_eq!(tally(&balancer, &candidates, 400, 5), vec![200, 100, 100]);
}

#[test]
fn a_retry_skips_the_tried_backend_without_disturbing_the_others() {
    let balancer = smooth(3);
    let candidates = idle(&[5, 1, 1]);
    let retry = Pick {
        hash: None,
        tried: &[0],
        random: 0,
    };
    for _ in 0..20 {
        let chosen = balancer.pick(&candidates, retry);
        assert!(matches!(chosen, Some(1 | 2)), "{chosen:?}");
    }
}
