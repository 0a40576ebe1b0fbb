//! Round robin: exact turns, weights ignored, holes stepped over without doubling anyone.

use std::sync::Arc;

use super::*;

fn rotation(count: usize) -> Balancer {
    Balancer::new(&Policy::RoundRobin, &backends(&vec![1; count]))
}

fn sequence(balancer: &Balancer, candidates: &[Candidate], picks: usize) -> Vec<usize> {
    (0..picks)
        .map(|random| {
            balancer
                .pick(candidates, fresh(random as u64))
                .expect("eligible")
        })
        .collect()
}

#[test]
fn each_backend_takes_its_turn_and_weights_are_ignored() {
    let balancer = rotation(5);
    let candidates = idle(&[1, 9, 3, 1, 7]);
    assert_eq!(
        sequence(&balancer, &candidates, 7),
        vec![0, 1, 2, 3, 4, 0, 1]
    );
    assert_eq!(tally(&balancer, &candidates, 500, 1), vec![100; 5]);
}

#[test]
fn a_backend_that_is_down_does_not_give_its_turn_to_its_successor() {
    let balancer = rotation(5);
    let mut candidates = idle(&[1; 5]);
    candidates[2].available = false;
    assert_eq!(
        sequence(&balancer, &candidates, 8),
        vec![0, 1, 3, 4, 0, 1, 3, 4]
    );
    assert_eq!(
        tally(&balancer, &candidates, 400, 2),
        vec![100, 100, 0, 100, 100]
    );
}

#[test]
fn a_backend_leaving_and_returning_mid_rotation_keeps_the_others_in_turn() {
    let balancer = rotation(4);
    let mut candidates = idle(&[1; 4]);
    assert_eq!(sequence(&balancer, &candidates, 2), vec![0, 1]);
    candidates[2].available = false;
    assert_eq!(sequence(&balancer, &candidates, 4), vec![3, 0, 1, 3]);
    candidates[2].available = true;
    // Back in its place: the rotation neither restarts nor repeats anyone.
    assert_eq!(sequence(&balancer, &candidates, 6), vec![0, 1, 2, 3, 0, 1]);
}

#[test]
fn a_retry_takes_the_next_untried_backend() {
    let balancer = rotation(3);
    let candidates = idle(&[1; 3]);
    assert_eq!(balancer.pick(&candidates, fresh(0)), Some(0));
    let retry = Pick {
        hash: None,
        tried: &[1],
        random: 0,
    };
    assert_eq!(balancer.pick(&candidates, retry), Some(2));
    assert_eq!(balancer.pick(&candidates, fresh(0)), Some(0));
}

#[test]
fn no_eligible_backend_leaves_the_rotation_where_it_was() {
    let balancer = rotation(3);
    let candidates = idle(&[1; 3]);
    assert_eq!(balancer.pick(&candidates, fresh(0)), Some(0));
    let mut all_down = candidates.clone();
    for candidate in &mut all_down {
        candidate.available = false;
    }
    assert_eq!(balancer.pick(&all_down, fresh(0)), None);
    assert_eq!(balancer.pick(&candidates, fresh(0)), Some(1));
}

#[test]
fn concurrent_picks_share_one_rotation_exactly() {
    let balancer = Arc::new(rotation(4));
    let candidates = idle(&[1; 4]);
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let balancer = Arc::clone(&balancer);
            let candidates = candidates.clone();
            std::thread::spawn(move || sequence(&balancer, &candidates, 1000))
        })
        .collect();
    let mut counts = [0; 4];
    for worker in workers {
        for index in worker.join().expect("worker finished") {
            counts[index] += 1;
        }
    }
    // Every pick moved the cursor one turn, whichever thread made it.
    assert_eq!(counts, [1000; 4]);
}
