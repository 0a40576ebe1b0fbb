//! Setting and clearing on one node, and what the quorum and the gossip get out of it.

use std::collections::BTreeMap;

use super::*;

#[test]
fn a_region_never_set_is_none_and_has_no_entry() {
    let state = OperatorState::empty();
    assert_eq!(state.operator_for("eu"), Operator::None);
    assert_eq!(state.get("eu"), None);
    assert!(state.to_inputs_map().is_empty());
}

#[test]
fn set_starts_at_version_one_and_bumps_each_change() {
    let mut state = OperatorState::empty();
    let first = state.set("eu", Operator::Drained, "us", 1_000).clone();
    assert_eq!(first, entry(Operator::Drained, 1, "us", 1_000));
    assert_eq!(state.set("eu", Operator::ForcedUp, "ap", 2_000).version, 2);
    assert_eq!(state.set("eu", Operator::ForcedUp, "ap", 3_000).version, 3);
    assert_eq!(state.operator_for("eu"), Operator::ForcedUp);
    // Versions are per region.
    assert_eq!(state.set("us", Operator::Drained, "us", 4_000).version, 1);
}

#[test]
fn set_bumps_past_the_highest_version_heard_in_gossip() {
    let mut state = OperatorState::empty();
    state.set("eu", Operator::Drained, "us", 1_000);
    state.merge(&state_of(&[("eu", Operator::ForcedUp, 41, "ap", 2_000)]));
    let set = state.set("eu", Operator::Drained, "us", 3_000);
    assert_eq!(set.version, 42);
    assert_eq!(set.by, "us");
}

#[test]
fn set_at_the_highest_version_saturates_instead_of_overflowing() {
    let mut state = state_of(&[("eu", Operator::ForcedUp, u64::MAX, "ap", 1)]);
    assert_eq!(
        state.set("eu", Operator::Drained, "us", 2).version,
        u64::MAX
    );
}

#[test]
fn clear_keeps_the_entry_as_a_tombstone_with_a_new_version() {
    let mut state = OperatorState::empty();
    state.set("eu", Operator::Drained, "us", 1_000);
    let cleared = state.clear("eu", "ap", 2_000).clone();
    assert_eq!(cleared, entry(Operator::None, 2, "ap", 2_000));
    assert_eq!(state.get("eu"), Some(&cleared));
    assert_eq!(state.operator_for("eu"), Operator::None);
    assert_eq!(state.iter().count(), 1);
}

#[test]
fn the_inputs_map_holds_drains_and_force_ups_but_not_tombstones() {
    let mut state = OperatorState::empty();
    state.set("ap", Operator::ForcedUp, "us", 1);
    state.set("eu", Operator::Drained, "us", 2);
    state.set("us", Operator::Drained, "us", 3);
    state.clear("us", "us", 4);
    let expected = BTreeMap::from([
        ("ap".to_string(), Operator::ForcedUp),
        ("eu".to_string(), Operator::Drained),
    ]);
    assert_eq!(state.to_inputs_map(), expected);
    let regions: Vec<&str> = state.iter().map(|(region, _)| region).collect();
    assert_eq!(regions, ["ap", "eu", "us"]);
}

#[test]
fn the_wire_format_names_every_state_and_round_trips() {
    let mut state = OperatorState::empty();
    state.set("ap", Operator::ForcedUp, "us", 1);
    state.set("eu", Operator::Drained, "ap", 2);
    state.set("us", Operator::Drained, "eu", 3);
    state.clear("us", "eu", 4);
    let json = serde_json::to_value(&state).unwrap();
    assert_eq!(
        json,
        serde_json::json!({
            "ap": { "state": "forced_up", "version": 1, "by": "us", "at_unix_ms": 1 },
            "eu": { "state": "drained", "version": 1, "by": "ap", "at_unix_ms": 2 },
            "us": { "state": "none", "version": 2, "by": "eu", "at_unix_ms": 4 },
        })
    );
    let back: OperatorState = serde_json::from_value(json).unwrap();
    assert_eq!(back, state);
}

#[test]
fn an_unknown_state_name_is_refused() {
    let json = serde_json::json!({
        "eu": { "state": "paused", "version": 1, "by": "us", "at_unix_ms": 1 },
    });
    assert!(serde_json::from_value::<OperatorState>(json).is_err());
}
