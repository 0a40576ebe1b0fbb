//! Isolated probers: their votes do not count, and an isolated local node keeps its last view.

use super::*;
use Vote::{Down, Up};

/// d can reach none of a, b and c; they see each other up and d down.
fn d_cut_off() -> Election {
    Election::new(&["a", "b", "c", "d"])
        .vote("a", &[("a", Up), ("b", Up), ("c", Up), ("d", Down)])
        .vote("b", &[("a", Up), ("b", Up), ("c", Up), ("d", Down)])
        .vote("c", &[("a", Up), ("b", Up), ("c", Up), ("d", Down)])
        .vote("d", &[("a", Down), ("b", Down), ("c", Down), ("d", Up)])
}

fn previous() -> Verdicts {
    Verdicts::empty()
        .with(
            "a",
            verdict(
                true,
                "0 of 3 vantage points vote down",
                &[],
                &["a", "b", "c"],
            ),
        )
        .with("b", verdict(false, "drained", &[], &["a", "c"]))
}

#[test]
fn a_prober_that_sees_every_other_region_down_is_ignored() {
    let outcome = d_cut_off().decide("a");
    assert!(!outcome.local_isolated);
    assert_eq!(outcome.reason(), None);
    assert_eq!(outcome.isolated, names(&["d"]));
    for region in ["a", "b", "c"] {
        assert_eq!(
            outcome.verdicts.get(region),
            Some(&verdict(
                true,
                "0 of 3 vantage points vote down",
                &[],
                &["a", "b", "c"]
            )),
            "{region}"
        );
    }
    // d's vote about itself does not count either.
    assert_eq!(
        outcome.verdicts.get("d"),
        Some(&verdict(
            false,
            "3 of 3 vantage points vote down",
            &["a", "b", "c"],
            &[]
        ))
    );
}

#[test]
fn an_isolated_probers_votes_would_have_tipped_the_verdict() {
    // c can reach neither a nor b; a also sees b down. Counting c, b would be down 2 of 3.
    let election = Election::new(&["a", "b", "c"])
        .vote("a", &[("a", Up), ("b", Down), ("c", Up)])
        .vote("b", &[("a", Up), ("b", Up), ("c", Up)])
        .vote("c", &[("a", Down), ("b", Down), ("c", Up)]);
    let outcome = election.decide("a");
    assert_eq!(outcome.isolated, names(&["c"]));
    assert_eq!(
        outcome.verdicts.get("b"),
        Some(&verdict(
            true,
            "1 of 2 vantage points vote down",
            &["a"],
            &["b"]
        ))
    );
}

#[test]
fn a_prober_with_one_other_region_reachable_is_not_isolated() {
    let election = Election::new(&["a", "b", "c"])
        .vote("a", &[("a", Up), ("b", Up), ("c", Down)])
        .vote("b", &[("a", Up), ("b", Up), ("c", Down)])
        .vote("c", &[("a", Down), ("b", Up), ("c", Up)]);
    let outcome = election.decide("a");
    assert!(outcome.isolated.is_empty());
    assert_eq!(
        outcome.verdicts.get("a"),
        Some(&verdict(
            true,
            "1 of 3 vantage points vote down",
            &["c"],
            &["a", "b"]
        ))
    );
}

#[test]
fn a_missing_vote_about_another_region_is_not_a_down_vote() {
    // c voted a down and said nothing about b: not isolated, its vote counts.
    let election = Election::new(&["a", "b", "c"])
        .vote("b", &[("a", Down), ("b", Up), ("c", Up)])
        .vote("c", &[("a", Down), ("c", Up)]);
    let outcome = election.decide("b");
    assert!(outcome.isolated.is_empty());
    assert!(!outcome.verdicts.get("a").unwrap().up);
}

#[test]
fn a_prober_voting_everything_down_including_itself_is_isolated() {
    let outcome = d_cut_off()
        .vote("d", &[("a", Down), ("b", Down), ("c", Down), ("d", Down)])
        .decide("a");
    assert_eq!(outcome.isolated, names(&["d"]));
    assert!(outcome.verdicts.get("a").unwrap().up);
}

#[test]
fn the_local_node_isolated_keeps_the_previous_verdicts_unchanged() {
    // Even a new drain or a self-report waits until d can reach a region again.
    let election = d_cut_off()
        .operator("a", Operator::Drained)
        .report("c", SelfReport::Unhealthy("no capacity".to_string()));
    let outcome = election.decide_after("d", &previous());
    assert!(outcome.local_isolated);
    assert_eq!(outcome.reason(), Some(ISOLATED));
    assert_eq!(ISOLATED, "isolated: keeping the last agreed view");
    assert_eq!(outcome.isolated, names(&["d"]));
    assert_eq!(outcome.verdicts, previous());
    // With nothing agreed before, nothing is claimed: every region stays assumed up.
    let outcome = election.decide_after("d", &Verdicts::empty());
    assert!(outcome.local_isolated);
    assert_eq!(outcome.verdicts, Verdicts::empty());
}

#[test]
fn the_others_decide_without_the_isolated_node() {
    let election = d_cut_off();
    let from_a = election.decide_after("a", &previous());
    assert!(!from_a.local_isolated);
    for local in ["b", "c"] {
        assert_eq!(election.decide_after(local, &previous()), from_a, "{local}");
    }
}

#[test]
fn with_two_regions_nobody_is_isolated_and_a_cut_link_fails_each_over_for_the_other() {
    // Each sees the other down. With one other region, that is as likely the other's fault:
    // the votes count. The price of two regions: a cut link looks like a dead region.
    let election = Election::new(&["a", "b"])
        .vote("a", &[("a", Up), ("b", Down)])
        .vote("b", &[("a", Down), ("b", Up)]);
    for local in ["a", "b"] {
        let outcome = election.decide_after(local, &previous());
        assert!(!outcome.local_isolated, "{local}");
        assert!(outcome.isolated.is_empty());
    }
    // Each holds the other's ballot only while it is fresh: b, dead or cut off, stops
    // gossiping, and a alone decides that b is down.
    let alone = Election::new(&["a", "b"])
        .vote("a", &[("a", Up), ("b", Down)])
        .vote_aged(
            "b",
            MAX_AGE + Duration::from_millis(1),
            &[("a", Up), ("b", Up)],
        );
    let outcome = alone.decide_after("a", &previous());
    assert!(!outcome.local_isolated);
    assert_eq!(
        outcome.verdicts.get("b"),
        Some(&verdict(
            false,
            "1 of 1 vantage points vote down",
            &["a"],
            &[]
        ))
    );
}

#[test]
fn a_stale_ballot_does_not_make_its_prober_isolated() {
    let election = d_cut_off().vote_aged(
        "d",
        MAX_AGE + Duration::from_millis(1),
        &[("a", Down), ("b", Down), ("c", Down), ("d", Up)],
    );
    let outcome = election.decide("d");
    assert!(!outcome.local_isolated);
    assert!(outcome.isolated.is_empty());
    assert_eq!(
        outcome.verdicts.get("a"),
        Some(&verdict(
            true,
            "0 of 3 vantage points vote down",
            &[],
            &["a", "b", "c"]
        ))
    );
}
