//! Merging gossip: the higher version wins, ties resolve alike on every node, and every order
//! of hearing the same states converges.

use super::*;

const STATES: [Operator; 3] = [Operator::None, Operator::ForcedUp, Operator::Drained];

/// `ours` after merging `theirs` into it, and the regions the merge reported.
fn merged(ours: &OperatorState, theirs: &OperatorState) -> (OperatorState, Vec<String>) {
    let mut result = ours.clone();
    let changed = result.merge(theirs);
    (result, changed)
}

#[test]
fn a_higher_version_wins_from_either_side() {
    let older = state_of(&[("eu", Operator::Drained, 1, "us", 1_000)]);
    let newer = state_of(&[("eu", Operator::None, 2, "ap", 2_000)]);

    let (result, changed) = merged(&older, &newer);
    assert_eq!(result, newer);
    assert_eq!(changed, ["eu"]);

    let (result, changed) = merged(&newer, &older);
    assert_eq!(result, newer);
    assert!(changed.is_empty());
}

#[test]
fn a_region_heard_of_for_the_first_time_is_taken() {
    let ours = state_of(&[("eu", Operator::Drained, 3, "us", 1)]);
    let theirs = state_of(&[("ap", Operator::ForcedUp, 1, "ap", 2)]);
    let (result, changed) = merged(&ours, &theirs);
    assert_eq!(changed, ["ap"]);
    assert_eq!(result.operator_for("ap"), Operator::ForcedUp);
    assert_eq!(result.operator_for("eu"), Operator::Drained);
}

#[test]
fn merging_what_is_already_held_changes_nothing() {
    let state = state_of(&[
        ("ap", Operator::ForcedUp, 1, "ap", 2),
        ("eu", Operator::Drained, 3, "us", 1),
    ]);
    let (result, changed) = merged(&state, &state);
    assert_eq!(result, state);
    assert!(changed.is_empty());
    let (result, changed) = merged(&state, &OperatorState::empty());
    assert_eq!(result, state);
    assert!(changed.is_empty());
}

#[test]
fn the_changed_regions_are_sorted_and_include_a_newer_version_of_the_same_state() {
    let ours = state_of(&[
        ("ap", Operator::Drained, 1, "us", 1),
        ("eu", Operator::Drained, 5, "us", 1),
        ("us", Operator::Drained, 1, "us", 1),
    ]);
    let theirs = state_of(&[
        ("us", Operator::ForcedUp, 2, "eu", 2),
        ("eu", Operator::Drained, 4, "eu", 2),
        ("ap", Operator::Drained, 2, "eu", 2),
    ]);
    let (result, changed) = merged(&ours, &theirs);
    assert_eq!(changed, ["ap", "us"]);
    assert_eq!(
        result.get("ap"),
        Some(&entry(Operator::Drained, 2, "eu", 2))
    );
    assert_eq!(
        result.get("eu"),
        Some(&entry(Operator::Drained, 5, "us", 1))
    );
}

#[test]
fn equal_versions_prefer_drained_then_forced_up_then_none() {
    for (weaker, stronger) in [
        (Operator::None, Operator::ForcedUp),
        (Operator::ForcedUp, Operator::Drained),
        (Operator::None, Operator::Drained),
    ] {
        // The stronger state wins even when it was set by the "smaller" node, earlier.
        let weak = state_of(&[("eu", weaker, 7, "zz", 9_000)]);
        let strong = state_of(&[("eu", stronger, 7, "aa", 1_000)]);
        assert_eq!(
            merged(&weak, &strong).0,
            strong,
            "{weaker:?} into {stronger:?}"
        );
        assert_eq!(
            merged(&strong, &weak).0,
            strong,
            "{stronger:?} into {weaker:?}"
        );
    }
}

#[test]
fn equal_versions_and_states_prefer_the_greater_node_name_then_the_later_time() {
    let by_ap = state_of(&[("eu", Operator::Drained, 7, "ap", 9_000)]);
    let by_us = state_of(&[("eu", Operator::Drained, 7, "us", 1_000)]);
    assert_eq!(merged(&by_ap, &by_us).0, by_us);
    assert_eq!(merged(&by_us, &by_ap).0, by_us);

    let earlier = state_of(&[("eu", Operator::Drained, 7, "us", 1_000)]);
    let later = state_of(&[("eu", Operator::Drained, 7, "us", 2_000)]);
    assert_eq!(merged(&earlier, &later).0, later);
    assert_eq!(merged(&later, &earlier).0, later);
}

/// Every entry from two versions, three states, two nodes and two times.
fn every_entry() -> Vec<OperatorEntry> {
    let mut entries = Vec::new();
    for version in [1, 2] {
        for state in STATES {
            for by in ["ap", "us"] {
                for at_unix_ms in [1_000, 2_000] {
                    entries.push(entry(state, version, by, at_unix_ms));
                }
            }
        }
    }
    entries
}

#[test]
fn merging_any_two_entries_either_way_gives_the_same_one_of_them() {
    let entries = every_entry();
    for a in &entries {
        for b in &entries {
            let a_state = single("eu", a.clone());
            let b_state = single("eu", b.clone());
            let (a_then_b, _) = merged(&a_state, &b_state);
            let (b_then_a, _) = merged(&b_state, &a_state);
            assert_eq!(a_then_b, b_then_a, "{a:?} and {b:?}");
            let winner = a_then_b.get("eu").unwrap();
            assert!(
                winner == a || winner == b,
                "{a:?} and {b:?} gave {winner:?}"
            );
            if a.version != b.version {
                assert_eq!(winner.version, a.version.max(b.version));
            }
        }
    }
}

/// Three nodes that each changed some regions, with conflicts of every kind between them.
fn three_nodes() -> [OperatorState; 3] {
    [
        state_of(&[
            ("ap", Operator::Drained, 2, "us", 1_000),
            ("eu", Operator::ForcedUp, 3, "us", 1_100),
            ("us", Operator::None, 1, "us", 1_200),
        ]),
        state_of(&[
            ("ap", Operator::None, 3, "eu", 2_000),
            ("eu", Operator::Drained, 3, "eu", 2_100),
            ("sa", Operator::ForcedUp, 1, "eu", 2_200),
        ]),
        state_of(&[
            ("ap", Operator::ForcedUp, 3, "ap", 3_000),
            ("eu", Operator::Drained, 3, "ap", 3_100),
            ("us", Operator::Drained, 1, "ap", 3_200),
        ]),
    ]
}

#[test]
fn two_nodes_merging_each_other_agree() {
    let [a, b, c] = three_nodes();
    for (x, y) in [(&a, &b), (&b, &c), (&a, &c)] {
        assert_eq!(merged(x, y).0, merged(y, x).0);
    }
}

#[test]
fn every_order_of_merging_three_states_converges() {
    let nodes = three_nodes();
    let orders = [
        [0, 1, 2],
        [0, 2, 1],
        [1, 0, 2],
        [1, 2, 0],
        [2, 0, 1],
        [2, 1, 0],
    ];
    let expected = state_of(&[
        ("ap", Operator::ForcedUp, 3, "ap", 3_000),
        ("eu", Operator::Drained, 3, "eu", 2_100),
        ("sa", Operator::ForcedUp, 1, "eu", 2_200),
        ("us", Operator::Drained, 1, "ap", 3_200),
    ]);
    for order in orders {
        // Folded into an empty node, and also pairwise as gossip would pass it along:
        // (first into second) into third.
        let mut folded = OperatorState::empty();
        for index in order {
            folded.merge(&nodes[index]);
        }
        assert_eq!(folded, expected, "order {order:?}");

        let (pair, _) = merged(&nodes[order[1]], &nodes[order[0]]);
        let (chained, _) = merged(&nodes[order[2]], &pair);
        assert_eq!(chained, expected, "order {order:?}, chained");

        // Hearing it all again changes nothing.
        for index in order {
            assert!(folded.merge(&nodes[index]).is_empty());
        }
    }
}

#[test]
fn an_older_drain_heard_after_the_undrain_does_not_come_back() {
    let mut node = OperatorState::empty();
    node.set("eu", Operator::Drained, "us", 1_000);
    let stale_gossip = node.clone();
    node.clear("eu", "us", 2_000);
    assert!(node.merge(&stale_gossip).is_empty());
    assert_eq!(node.operator_for("eu"), Operator::None);
    assert_eq!(node.get("eu").map(|entry| entry.version), Some(2));
}
