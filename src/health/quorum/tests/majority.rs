//! Rule 4: a strict majority of the counted probers, and at least two when there are two.

use super::*;
use Vote::{Down, Up};

/// For N counted probers, the fewest Down votes that take a region down.
const FEWEST_DOWN_VOTES: [(usize, usize); 5] = [(1, 1), (2, 2), (3, 2), (4, 3), (5, 3)];

/// `n` probers `p0..`, of which the first `downs` vote the target `t` down. Every prober votes
/// the bystander region `z` up, so none of them is isolated, even alone.
fn election(n: usize, downs: usize) -> Election {
    let probers: Vec<String> = (0..n).map(|index| format!("p{index}")).collect();
    let mut regions: Vec<&str> = probers.iter().map(String::as_str).collect();
    regions.extend(["t", "z"]);
    let mut election = Election::new(&regions);
    for (index, prober) in probers.iter().enumerate() {
        let vote = if index < downs { Down } else { Up };
        election = election.vote(prober, &[("t", vote), ("z", Up)]);
    }
    election
}

#[test]
fn every_count_of_down_votes_for_one_to_five_probers() {
    for (n, fewest) in FEWEST_DOWN_VOTES {
        for downs in 0..=n {
            let outcome = election(n, downs).decide("p0");
            assert!(!outcome.local_isolated);
            assert!(outcome.isolated.is_empty());
            let verdict = outcome.verdicts.get("t").cloned().unwrap();
            let down_votes: Vec<String> = (0..downs).map(|index| format!("p{index}")).collect();
            let up_votes: Vec<String> = (downs..n).map(|index| format!("p{index}")).collect();
            assert_eq!(
                verdict,
                Verdict {
                    up: downs < fewest,
                    reason: format!("{downs} of {n} vantage points vote down"),
                    down_votes,
                    up_votes,
                },
                "{downs} of {n}"
            );
            assert_eq!(majority_down(downs, n), downs >= fewest, "{downs} of {n}");
        }
    }
}

#[test]
fn one_of_two_is_not_enough() {
    let election = Election::new(&["a", "b", "c"])
        .vote("a", &[("b", Up), ("c", Down)])
        .vote("b", &[("a", Up), ("c", Up)]);
    assert_eq!(
        election.verdict("a", "c"),
        verdict(true, "1 of 2 vantage points vote down", &["a"], &["b"])
    );
}

#[test]
fn a_tie_is_up() {
    assert!(!majority_down(2, 4));
    assert!(election(4, 2).verdict("p0", "t").up);
}

#[test]
fn a_single_node_decides_with_its_own_votes() {
    let down = Election::new(&["a"]).vote("a", &[("a", Down)]);
    let outcome = down.decide("a");
    assert!(
        !outcome.local_isolated,
        "one region alone is never isolated"
    );
    assert_eq!(
        outcome.verdicts.get("a"),
        Some(&verdict(
            false,
            "1 of 1 vantage points vote down",
            &["a"],
            &[]
        ))
    );
    let up = Election::new(&["a"]).vote("a", &[("a", Up)]);
    assert!(up.verdict("a", "a").up);
}

#[test]
fn one_cut_link_moves_no_traffic() {
    // The link between a and c is cut: each sees the other down, everyone else sees both up.
    let election = Election::new(&["a", "b", "c", "d", "e"])
        .vote(
            "a",
            &[("a", Up), ("b", Up), ("c", Down), ("d", Up), ("e", Up)],
        )
        .vote(
            "b",
            &[("a", Up), ("b", Up), ("c", Up), ("d", Up), ("e", Up)],
        )
        .vote(
            "c",
            &[("a", Down), ("b", Up), ("c", Up), ("d", Up), ("e", Up)],
        )
        .vote(
            "d",
            &[("a", Up), ("b", Up), ("c", Up), ("d", Up), ("e", Up)],
        )
        .vote(
            "e",
            &[("a", Up), ("b", Up), ("c", Up), ("d", Up), ("e", Up)],
        );
    for local in ["a", "b", "c", "d", "e"] {
        let outcome = election.decide(local);
        assert!(outcome.isolated.is_empty());
        for (region, verdict) in outcome.verdicts.iter() {
            assert!(verdict.up, "{region} from {local}: {verdict:?}");
        }
        assert_eq!(
            outcome.verdicts.get("c").unwrap().reason,
            "1 of 5 vantage points vote down"
        );
    }
}

#[test]
fn a_region_every_other_region_sees_down_is_down() {
    let election = Election::new(&["a", "b", "c"])
        .vote("a", &[("a", Up), ("b", Up), ("c", Down)])
        .vote("b", &[("a", Up), ("b", Up), ("c", Down)]);
    assert_eq!(
        election.verdict("a", "c"),
        verdict(false, "2 of 2 vantage points vote down", &["a", "b"], &[])
    );
}

#[test]
fn a_probers_vote_about_its_own_region_counts() {
    // a sees its own region fail from the inside; with b that makes two of three.
    let election = Election::new(&["a", "b", "c"])
        .vote("a", &[("a", Down), ("b", Up), ("c", Up)])
        .vote("b", &[("a", Down), ("b", Up), ("c", Up)])
        .vote("c", &[("a", Up), ("b", Up), ("c", Up)]);
    assert_eq!(
        election.verdict("c", "a"),
        verdict(
            false,
            "2 of 3 vantage points vote down",
            &["a", "b"],
            &["c"]
        )
    );
}

#[test]
fn a_missing_vote_is_not_counted() {
    // c did not vote about b: b has two voters, not three, and one Down vote is not enough.
    let election = Election::new(&["a", "b", "c"])
        .vote("a", &[("a", Up), ("b", Down), ("c", Up)])
        .vote("b", &[("a", Up), ("b", Up), ("c", Up)])
        .vote("c", &[("a", Up), ("c", Up)]);
    assert_eq!(
        election.verdict("a", "b"),
        verdict(true, "1 of 2 vantage points vote down", &["a"], &["b"])
    );
}
