//! Least request by two random choices: the less loaded of two distinct backends, load
//! scaled by weight.

use super::*;

fn least_request(count: usize) -> Balancer {
    Balancer::new(&Policy::LeastRequest, &backends(&vec![1; count]))
}

#[test]
fn of_two_backends_the_less_loaded_always_wins() {
    // With two eligible backends both are always drawn (the draws are distinct), so the
    // idle one takes every pick.
    let balancer = least_request(2);
    assert_eq!(tally(&balancer, &loaded(&[0, 5]), 500, 1), vec![500, 0]);
    assert_eq!(tally(&balancer, &loaded(&[8, 7]), 500, 2), vec![0, 500]);
}

#[test]
fn an_idle_backend_wins_whenever_it_is_drawn() {
    // Backend 0 is drawn in 1 - (3/4)(2/3) = 1/2 of the pairs.
    let balancer = least_request(4);
    let counts = tally(&balancer, &loaded(&[0, 10, 10, 10]), 20_000, 3);
    assert!((9_300..=10_700).contains(&counts[0]), "{counts:?}");
}

#[test]
fn the_most_loaded_backend_is_never_picked() {
    let balancer = least_request(4);
    let counts = tally(&balancer, &loaded(&[5, 1, 2, 9]), 5_000, 4);
    assert_eq!(counts[3], 0, "{counts:?}");
    assert!(counts[1] > counts[2] && counts[2] > counts[0], "{counts:?}");
}

#[test]
fn equal_loads_split_evenly() {
    let balancer = least_request(4);
    let counts = tally(&balancer, &loaded(&[3, 3, 3, 3]), 20_000, 5);
    for &count in &counts {
        assert!((4_500..=5_500).contains(&count), "{counts:?}");
    }
}

#[test]
fn load_is_compared_per_unit_of_weight() {
    // Two backends, weights 1 and 3, no request ever finishing: each pick goes to the one
    // whose `(in_flight + 1) / weight` is lower, which keeps the counts at 1 : 3.
    let balancer = least_request(2);
    let mut candidates = idle(&[1, 3]);
    let mut random = XorShift::new(6);
    for _ in 0..400 {
        let index = balancer
            .pick(&candidates, fresh(random.next()))
            .expect("eligible");
        candidates[index].in_flight += 1;
    }
    let in_flight: Vec<u32> = candidates.iter().map(|c| c.in_flight).collect();
    assert!(in_flight[0].abs_diff(100) <= 1, "{in_flight:?}");
    // Idle, the heavier backend wins: the `+ 1` keeps weights meaningful at low traffic.
    assert_eq!(tally(&balancer, &idle(&[1, 3]), 100, 7), vec![0, 100]);
}

#[test]
fn weights_steer_traffic_roughly_in_proportion_under_load() {
    // Four backends of weights 1, 1, 2, 4, equally fast: 64 requests in flight, and each
    // step one request, chosen uniformly among those in flight, finishes.
    let balancer = Balancer::new(&Policy::LeastRequest, &backends(&[1, 1, 2, 4]));
    let mut candidates = idle(&[1, 1, 2, 4]);
    let mut random = XorShift::new(8);
    let mut picks = [0u32; 4];
    for step in 0..40_000 {
        let index = balancer
            .pick(&candidates, fresh(random.next()))
            .expect("eligible");
        candidates[index].in_flight += 1;
        if step >= 1_000 {
            picks[index] += 1;
        }
        let in_flight: u32 = candidates.iter().map(|c| c.in_flight).sum();
        if in_flight > 64 {
            let mut finished = random.below(u64::from(in_flight)) as u32;
            for candidate in &mut candidates {
                if finished < candidate.in_flight {
                    candidate.in_flight -= 1;
                    break;
                }
                finished -= candidate.in_flight;
            }
        }
    }
    let total = f64::from(picks.iter().sum::<u32>());
    let shares: Vec<f64> = picks.iter().map(|&p| f64::from(p) / total).collect();
    for (share, expected) in shares.iter().zip([0.125, 0.125, 0.25, 0.5]) {
        assert!((share - expected).abs() < 0.05, "{shares:?}");
    }
}

#[test]
fn unavailable_and_tried_backends_are_not_drawn() {
    let balancer = least_request(4);
    let mut candidates = loaded(&[0, 9, 9, 0]);
    candidates[0].available = false;
    let mut random = XorShift::new(9);
    for _ in 0..1_000 {
        let retry = Pick {
            hash: None,
            tried: &[3],
            random: random.next(),
        };
        // Only 1 and 2 are left, however loaded.
        let chosen = balancer.pick(&candidates, retry);
        assert!(matches!(chosen, Some(1 | 2)), "{chosen:?}");
    }
}
