//! Which ballots count (fresh, known), no vantage point, order independence, the snapshot.

use super::*;
use crate::health::{HealthSnapshot, RegionHealth};
use Vote::{Down, Up};

/// b and c vote a down, a votes itself up; c's ballot is `age` old.
fn c_aged(age: Duration) -> Election {
    Election::new(&["a", "b", "c"])
        .vote("a", &[("a", Up), ("b", Up), ("c", Up)])
        .vote("b", &[("a", Down), ("b", Up), ("c", Up)])
        .vote_aged("c", age, &[("a", Down), ("b", Up), ("c", Up)])
}

// --- Fresh ballots ---

#[test]
fn a_ballot_of_exactly_max_age_still_counts() {
    for age in [Duration::ZERO, MAX_AGE - Duration::from_millis(1), MAX_AGE] {
        assert_eq!(
            c_aged(age).verdict("a", "a"),
            verdict(
                false,
                "2 of 3 vantage points vote down",
                &["b", "c"],
                &["a"]
            ),
            "{age:?}"
        );
    }
}

#[test]
fn a_ballot_older_than_max_age_counts_as_absent() {
    for age in [MAX_AGE + Duration::from_nanos(1), MAX_AGE * 100] {
        assert_eq!(
            c_aged(age).verdict("a", "a"),
            verdict(true, "1 of 2 vantage points vote down", &["b"], &["a"]),
            "{age:?}"
        );
    }
}

#[test]
fn a_ballot_dated_after_now_is_fresh() {
    let mut election = c_aged(Duration::ZERO);
    let later = election.now + Duration::from_secs(10);
    election.inputs.ballots.get_mut("c").unwrap().at = later;
    assert!(!election.verdict("a", "a").up);
}

// --- Known probers and regions ---

#[test]
fn ballots_and_votes_from_another_region_list_are_ignored() {
    // "old" is not a region of this config: its ballot and the votes about it count for nothing.
    let election = Election::new(&["a", "b", "c"])
        .vote("a", &[("a", Up), ("b", Up), ("c", Up), ("old", Down)])
        .vote("b", &[("a", Up), ("b", Up), ("c", Down), ("old", Down)])
        .vote("old", &[("a", Down), ("b", Down), ("c", Down)]);
    let outcome = election.decide("a");
    assert!(outcome.isolated.is_empty());
    assert_eq!(outcome.verdicts.get("old"), None);
    assert_eq!(
        outcome.verdicts.get("c"),
        Some(&verdict(
            true,
            "1 of 2 vantage points vote down",
            &["b"],
            &["a"]
        ))
    );
    let regions: Vec<&str> = outcome.verdicts.iter().map(|(name, _)| name).collect();
    assert_eq!(regions, ["a", "b", "c"]);
}

#[test]
fn previous_verdicts_of_regions_no_longer_configured_are_dropped() {
    let previous = Verdicts::empty().with("old", verdict(false, "drained", &[], &[]));
    let outcome = Election::new(&["a"])
        .vote("a", &[("a", Up)])
        .decide_after("a", &previous);
    assert_eq!(outcome.verdicts.get("old"), None);
    assert!(outcome.verdicts.get("a").unwrap().up);
}

// --- No vantage point ---

#[test]
fn with_no_vantage_point_a_region_keeps_its_last_verdict_or_is_up() {
    // Nobody voted about c: every ballot is stale, or missing, or silent about c.
    let silent = Election::new(&["a", "b", "c"])
        .vote("a", &[("a", Up), ("b", Up)])
        .vote_aged("c", MAX_AGE * 2, &[("a", Up), ("b", Up), ("c", Down)]);
    let none = Election::new(&["a", "b", "c"]);
    for election in [silent, none] {
        assert_eq!(
            election.decide("a").verdicts.get("c"),
            Some(&verdict(
                true,
                "no vantage point voted: assumed up",
                &[],
                &[]
            ))
        );
        let was_down = Verdicts::empty().with(
            "c",
            verdict(false, "2 of 3 vantage points vote down", &["a", "b"], &[]),
        );
        assert_eq!(
            election.decide_after("a", &was_down).verdicts.get("c"),
            Some(&verdict(
                false,
                "no vantage point voted: keeping the last verdict (down)",
                &[],
                &[]
            ))
        );
        let was_up = Verdicts::empty().with("c", verdict(true, "forced up", &[], &[]));
        assert_eq!(
            election.decide_after("a", &was_up).verdicts.get("c"),
            Some(&verdict(
                true,
                "no vantage point voted: keeping the last verdict (up)",
                &[],
                &[]
            ))
        );
    }
}

#[test]
fn with_the_others_isolated_or_stale_the_local_node_decides_alone() {
    // b is isolated, c is stale: a alone (N = 1) decides.
    let election = Election::new(&["a", "b", "c"])
        .vote("a", &[("a", Up), ("b", Up), ("c", Down)])
        .vote("b", &[("a", Down), ("b", Up), ("c", Down)])
        .vote_aged("c", MAX_AGE * 2, &[("a", Up), ("b", Up), ("c", Up)]);
    let outcome = election.decide("a");
    assert_eq!(outcome.isolated, names(&["b"]));
    assert_eq!(
        outcome.verdicts.get("c"),
        Some(&verdict(
            false,
            "1 of 1 vantage points vote down",
            &["a"],
            &[]
        ))
    );
}

// --- Order independence ---

/// Every permutation of `items` (Heap's algorithm).
fn permutations<T: Clone>(items: &[T]) -> Vec<Vec<T>> {
    fn heap<T: Clone>(k: usize, items: &mut Vec<T>, out: &mut Vec<Vec<T>>) {
        if k <= 1 {
            out.push(items.clone());
            return;
        }
        for i in 0..k {
            heap(k - 1, items, out);
            let j = if k.is_multiple_of(2) { i } else { 0 };
            items.swap(j, k - 1);
        }
    }
    let mut items = items.to_vec();
    let mut out = Vec::new();
    heap(items.len(), &mut items, &mut out);
    out
}

#[test]
fn the_same_inputs_in_any_order_give_the_same_outcome() {
    let regions = ["a", "b", "c", "d", "e"];
    // e is isolated, a sees c down, b, c and d see d down, c reports itself unhealthy, b is drained.
    let ballots: Vec<(&str, Vec<(&str, Vote)>)> = vec![
        (
            "a",
            vec![("a", Up), ("b", Up), ("c", Down), ("d", Up), ("e", Down)],
        ),
        (
            "b",
            vec![("a", Up), ("b", Up), ("c", Up), ("d", Down), ("e", Down)],
        ),
        (
            "c",
            vec![("a", Up), ("b", Up), ("c", Up), ("d", Down), ("e", Down)],
        ),
        (
            "d",
            vec![("a", Up), ("b", Up), ("c", Up), ("d", Down), ("e", Down)],
        ),
        (
            "e",
            vec![
                ("a", Down),
                ("b", Down),
                ("c", Down),
                ("d", Down),
                ("e", Up),
            ],
        ),
    ];
    let build = |order: &[usize], reverse_votes: bool, reverse_regions: bool| {
        let mut region_list = regions.to_vec();
        if reverse_regions {
            region_list.reverse();
        }
        let mut election = Election::new(&region_list)
            .operator("b", Operator::Drained)
            .report("c", SelfReport::Unhealthy("overloaded".to_string()))
            .report("a", SelfReport::Healthy);
        for &index in order {
            let (prober, votes) = &ballots[index];
            let mut votes = votes.clone();
            if reverse_votes {
                votes.reverse();
            }
            election = election.vote(prober, &votes);
        }
        election
    };
    let expected = build(&[0, 1, 2, 3, 4], false, false).decide("a");
    // The outcome is the one the rules give, not merely the same one every time.
    assert_eq!(expected.isolated, names(&["e"]));
    assert_eq!(
        expected.verdicts.get("d"),
        Some(&verdict(
            false,
            "3 of 4 vantage points vote down",
            &["b", "c", "d"],
            &["a"]
        ))
    );
    let orders = permutations(&[0, 1, 2, 3, 4]);
    assert_eq!(orders.len(), 120);
    for order in &orders {
        for reverse_votes in [false, true] {
            for reverse_regions in [false, true] {
                assert_eq!(
                    build(order, reverse_votes, reverse_regions).decide("a"),
                    expected,
                    "{order:?} {reverse_votes} {reverse_regions}"
                );
            }
        }
    }
}

#[test]
fn every_node_that_is_not_isolated_reaches_the_same_verdicts() {
    let election = Election::new(&["a", "b", "c", "d"])
        .vote("a", &[("a", Up), ("b", Down), ("c", Up), ("d", Down)])
        .vote("b", &[("a", Up), ("b", Up), ("c", Up), ("d", Down)])
        .vote("c", &[("a", Up), ("b", Down), ("c", Up), ("d", Down)])
        .vote("d", &[("a", Down), ("b", Down), ("c", Down), ("d", Up)])
        .report("c", SelfReport::Unhealthy("draining backends".to_string()));
    let from_a = election.decide("a");
    assert_eq!(from_a.isolated, names(&["d"]));
    assert_eq!(
        from_a
            .verdicts
            .iter()
            .map(|(name, verdict)| (name, verdict.up))
            .collect::<Vec<_>>(),
        [("a", true), ("b", false), ("c", false), ("d", false)]
    );
    for local in ["b", "c"] {
        assert_eq!(election.decide(local), from_a, "{local}");
    }
}

// --- The snapshot ---

#[test]
fn verdicts_become_a_snapshot_of_up_and_reason_by_region_name() {
    let verdicts = Verdicts::empty()
        .with("b", verdict(false, "drained", &["a"], &["b"]))
        .with(
            "a",
            verdict(true, "0 of 2 vantage points vote down", &[], &["a", "b"]),
        );
    let expected = HealthSnapshot::empty()
        .with(
            "a",
            RegionHealth {
                up: true,
                reason: "0 of 2 vantage points vote down".to_string(),
                transition: false,
            },
        )
        .with(
            "b",
            RegionHealth {
                up: false,
                reason: "drained".to_string(),
                transition: false,
            },
        );
    assert_eq!(verdicts.to_snapshot(|_| false), expected);
    assert_eq!(
        Verdicts::empty().to_snapshot(|_| true),
        HealthSnapshot::empty()
    );
}
