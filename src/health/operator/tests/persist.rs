//! The state file: round trips, atomic saves, and what a bad file reports.

use std::fs;
use std::path::Path;

use super::*;

fn sample() -> OperatorState {
    let mut state = OperatorState::empty();
    state.set("ap", Operator::ForcedUp, "us", 1_000);
    state.set("eu", Operator::Drained, "ap", 2_000);
    state.set("us", Operator::Drained, "eu", 3_000);
    state.clear("us", "eu", 4_000);
    state
}

/// The names of the files in `directory`, sorted.
fn files_in(directory: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(directory)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn a_missing_file_is_an_empty_state() {
    let directory = tempfile::tempdir().unwrap();
    let state = load(&directory.path().join("operator.json")).unwrap();
    assert_eq!(state, OperatorState::empty());
}

#[test]
fn a_saved_state_loads_back_equal_with_tombstones() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("operator.json");
    let state = sample();
    save(&path, &state).unwrap();
    let loaded = load(&path).unwrap();
    assert_eq!(loaded, state);
    assert_eq!(
        loaded.get("us").map(|entry| entry.state),
        Some(Operator::None)
    );
}

#[test]
fn the_file_is_pretty_json_with_a_format_version() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("operator.json");
    save(&path, &sample()).unwrap();
    let text = fs::read_to_string(&path).unwrap();
    assert!(text.starts_with("{\n  \"version\": 1,\n"), "{text}");
    assert!(text.ends_with("}\n"), "{text}");
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(json["version"], FORMAT_VERSION);
    assert_eq!(json["regions"]["eu"]["state"], "drained");
    assert_eq!(json["regions"]["us"]["version"], 2);
}

#[test]
fn saving_over_a_file_replaces_it_whole_and_leaves_no_temporary_file() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("operator.json");
    let mut state = sample();
    // A long state first, then a short one: a write in place would leave a tail behind.
    for index in 0..50 {
        state.set(
            &format!("region-{index:02}"),
            Operator::Drained,
            "us",
            index,
        );
    }
    save(&path, &state).unwrap();
    let short = state_of(&[("eu", Operator::ForcedUp, 9, "ap", 1)]);
    save(&path, &short).unwrap();
    assert_eq!(load(&path).unwrap(), short);
    assert_eq!(files_in(directory.path()), ["operator.json"]);
}

#[test]
fn a_failed_save_leaves_the_target_and_no_temporary_file() {
    let directory = tempfile::tempdir().unwrap();
    // A directory where the file should be: the rename fails after the write.
    let path = directory.path().join("operator.json");
    fs::create_dir(&path).unwrap();
    assert!(save(&path, &sample()).is_err());
    assert!(path.is_dir());
    assert_eq!(files_in(directory.path()), ["operator.json"]);

    // A directory that does not exist: nothing is created anywhere.
    let missing = directory.path().join("missing").join("operator.json");
    assert!(save(&missing, &sample()).is_err());
    assert_eq!(files_in(directory.path()), ["operator.json"]);
}

#[test]
fn a_leftover_temporary_file_from_a_crash_does_not_matter() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("operator.json");
    save(&path, &sample()).unwrap();
    let leftover = directory.path().join(".operator.json.tmp.1.0");
    fs::write(&leftover, "{\"version\": 1, \"regi").unwrap();
    assert_eq!(load(&path).unwrap(), sample());
    save(&path, &OperatorState::empty()).unwrap();
    assert_eq!(load(&path).unwrap(), OperatorState::empty());
}

#[test]
fn a_corrupted_file_is_an_error_naming_the_path() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("operator.json");
    save(&path, &sample()).unwrap();
    let text = fs::read_to_string(&path).unwrap();
    fs::write(&path, &text[..text.len() / 2]).unwrap();
    let error = load(&path).unwrap_err();
    assert!(
        matches!(error, OperatorFileError::Parse { .. }),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(message.contains(&path.display().to_string()), "{message}");
    assert!(message.contains("invalid operator state file"), "{message}");
}

#[test]
fn a_file_of_the_wrong_shape_is_an_error_not_an_empty_state() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("operator.json");
    for (text, wanted) in [
        ("", "EOF"),
        ("[]", "invalid length"),
        ("\"drained\"", "invalid type"),
        ("{\"regions\": {}}", "missing field `version`"),
        ("{\"version\": 1}", "missing field `regions`"),
        (
            "{\"version\": 1, \"regions\": {}, \"extra\": 1}",
            "unknown field `extra`",
        ),
        (
            "{\"version\": 1, \"regions\": {\"eu\": {\"state\": \"paused\", \"version\": 1, \"by\": \"us\", \"at_unix_ms\": 1}}}",
            "unknown variant `paused`",
        ),
    ] {
        fs::write(&path, text).unwrap();
        let message = load(&path).unwrap_err().to_string();
        assert!(message.contains(&path.display().to_string()), "{message}");
        assert!(message.contains(wanted), "{text}: {message}");
    }
}

#[test]
fn another_format_version_is_reported_as_such() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("operator.json");
    fs::write(&path, "{\"version\": 2, \"regions\": [\"a new shape\"]}").unwrap();
    let error = load(&path).unwrap_err();
    assert!(
        matches!(
            error,
            OperatorFileError::UnsupportedVersion { found: 2, .. }
        ),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(message.contains(&path.display().to_string()), "{message}");
    assert!(message.contains("format version 2"), "{message}");
}

#[test]
fn an_unreadable_file_is_an_error_naming_the_path() {
    let directory = tempfile::tempdir().unwrap();
    // Reading a directory fails with an error other than "not found".
    let error = load(directory.path()).unwrap_err();
    assert!(matches!(error, OperatorFileError::Read { .. }), "{error:?}");
    let message = error.to_string();
    assert!(
        message.contains(&directory.path().display().to_string()),
        "{message}"
    );
    assert!(message.contains("cannot read"), "{message}");
}

#[test]
fn a_restarted_node_keeps_its_undrain_against_an_older_gossiped_drain() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("operator.json");

    let mut before_restart = OperatorState::empty();
    before_restart.set("eu", Operator::Drained, "us", 1_000);
    let gossiped_drain = before_restart.clone();
    before_restart.clear("eu", "us", 2_000);
    save(&path, &before_restart).unwrap();

    let mut after_restart = load(&path).unwrap();
    assert!(after_restart.merge(&gossiped_drain).is_empty());
    assert_eq!(after_restart.operator_for("eu"), Operator::None);
    assert!(after_restart.to_inputs_map().is_empty());

    // And its next change still outranks everything said before the restart.
    assert_eq!(
        after_restart
            .set("eu", Operator::ForcedUp, "us", 3_000)
            .version,
        3
    );
}
