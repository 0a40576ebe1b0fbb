//! The operator state: setting, merging in every order, and the state file.

use super::*;

mod merge;
mod persist;
mod set;

/// A state holding exactly `entries`: (region, state, version, by, at_unix_ms).
fn state_of(entries: &[(&str, Operator, u64, &str, u64)]) -> OperatorState {
    let mut state = OperatorState::empty();
    for (region, operator, version, by, at_unix_ms) in entries {
        state.merge(&single(region, entry(*operator, *version, by, *at_unix_ms)));
    }
    state
}

fn entry(state: Operator, version: u64, by: &str, at_unix_ms: u64) -> OperatorEntry {
    OperatorEntry {
        state,
        version,
        by: by.to_string(),
        at_unix_ms,
    }
}

/// A state with one entry, built through the wire format, as a peer's gossip arrives.
fn single(region: &str, entry: OperatorEntry) -> OperatorState {
    let json = serde_json::json!({ region: entry });
    serde_json::from_value(json).unwrap()
}
