//! `[answer] transition_ttl`, `spill` and `spill_regions`, and each `[[service]]`'s
//! `all_down` and `fallback`: defaults, good values, and bad ones refused naming file, key
//! and value.

use super::*;
use crate::config::{AllDown, DEFAULT_TRANSITION_TTL, FallbackAddresses, Spill};

/// The shipped config with its `[[service]]` (www) given `lines`.
fn with_service_lines(lines: &str) -> impl FnOnce(String) -> String {
    let lines = lines.to_string();
    move |text: String| text.replacen("name = \"www\"\n", &format!("name = \"www\"\n{lines}\n"), 1)
}

fn load_edited(change: impl FnOnce(String) -> String) -> Config {
    let dir = copy_config(&repo("meridian.toml"));
    edit(&dir.path().join("meridian.toml"), change);
    load(&dir.path().join("meridian.toml")).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn defaults_fail_open_with_a_five_second_transition() {
    let shipped = load(&repo("meridian.toml")).unwrap();
    assert_eq!(shipped.answer.transition_ttl, DEFAULT_TRANSITION_TTL);
    assert_eq!(DEFAULT_TRANSITION_TTL, 5);
    assert!(
        shipped
            .services
            .iter()
            .all(|service| service.all_down == AllDown::FailOpen)
    );
    // Without the key at all.
    let config = load_edited(|t| t.replace("transition_ttl = 5\n", ""));
    assert_eq!(config.answer.transition_ttl, 5);
}

#[test]
fn every_all_down_policy_is_read() {
    for (lines, expected) in [
        ("all_down = \"fail-open\"", AllDown::FailOpen),
        ("all_down = \"nodata\"", AllDown::NoData),
        ("all_down = \"servfail\"", AllDown::ServFail),
        (
            "all_down = \"fallback\"\nfallback = [\"192.0.2.10\", \"2001:db8::10\", \"::ffff:192.0.2.11\"]",
            AllDown::Fallback(FallbackAddresses {
                ipv4: vec!["192.0.2.10".parse().unwrap(), "192.0.2.11".parse().unwrap()],
                ipv6: vec!["2001:db8::10".parse().unwrap()],
            }),
        ),
        (
            "all_down = \"fallback\"\nfallback = [\"192.0.2.10\"]",
            AllDown::Fallback(FallbackAddresses {
                ipv4: vec!["192.0.2.10".parse().unwrap()],
                ipv6: Vec::new(),
            }),
        ),
    ] {
        let config = load_edited(with_service_lines(lines));
        assert_eq!(config.services[0].all_down, expected, "{lines}");
    }
}

#[test]
fn the_transition_ttl_is_bounded_by_the_steered_ttls() {
    let config = load_edited(|t| t.replace("transition_ttl = 5", "transition_ttl = 30"));
    assert_eq!(config.answer.transition_ttl, 30);
    let config = load_edited(|t| t.replace("transition_ttl = 5", "transition_ttl = 1"));
    assert_eq!(config.answer.transition_ttl, 1);
    // A service with a longer TTL of its own makes room for a longer transition TTL.
    let config = load_edited(|t| {
        with_service_lines("ttl = 300")(t).replace("transition_ttl = 5", "transition_ttl = 60")
    });
    assert_eq!(config.answer.transition_ttl, 60);

    refused(
        "meridian.toml",
        |t| t.replace("transition_ttl = 5", "transition_ttl = 0"),
        &["answer.transition_ttl = 0", "at least 1"],
    );
    refused(
        "meridian.toml",
        |t| t.replace("transition_ttl = 5", "transition_ttl = 31"),
        &[
            "answer.transition_ttl = 31",
            "at most the longest TTL of a steered answer (30",
        ],
    );
    refused(
        "meridian.toml",
        |t| t.replace("transition_ttl = 5", "transition_ttl = -1"),
        &["transition_ttl", "-1"],
    );
}

#[test]
fn bad_all_down_settings_are_refused() {
    refused(
        "meridian.toml",
        with_service_lines("all_down = \"failopen\""),
        &[
            "service[0].all_down = failopen",
            "expected fail-open, fallback, nodata or servfail",
        ],
    );
    refused(
        "meridian.toml",
        with_service_lines("all_down = \"fallback\""),
        &[
            "service[0].fallback = (missing)",
            "all_down = \"fallback\" needs at least one address",
        ],
    );
    refused(
        "meridian.toml",
        with_service_lines("all_down = \"fallback\"\nfallback = []"),
        &["service[0].fallback = []", "needs at least one address"],
    );
    refused(
        "meridian.toml",
        with_service_lines("all_down = \"nodata\"\nfallback = [\"192.0.2.10\"]"),
        &[
            "service[0].fallback = [192.0.2.10]",
            "only all_down = \"fallback\" uses it (all_down = \"nodata\")",
        ],
    );
    // Without all_down, the policy is fail-open: a fallback list would be silently unused.
    refused(
        "meridian.toml",
        with_service_lines("fallback = [\"192.0.2.10\"]"),
        &[
            "service[0].fallback",
            "only all_down = \"fallback\" uses it (all_down = \"fail-open\")",
        ],
    );
    refused(
        "meridian.toml",
        with_service_lines(
            "all_down = \"fallback\"\nfallback = [\"192.0.2.10\", \"::ffff:192.0.2.10\"]",
        ),
        &["service[0].fallback = 192.0.2.10", "listed twice"],
    );
    refused(
        "meridian.toml",
        with_service_lines("all_down = \"fallback\"\nfallback = [\"192.0.2.300\"]"),
        &["fallback", "192.0.2.300", "invalid IP address"],
    );
}

#[test]
fn spill_defaults_to_capacity_over_two_regions() {
    let shipped = load(&repo("meridian.toml")).unwrap();
    assert_eq!(shipped.answer.spill, Spill::Capacity { regions: 2 });
    let config = load_edited(|t| {
        t.replace("spill = \"capacity\"\n", "")
            .replace("spill_regions = 2\n", "")
    });
    assert_eq!(config.answer.spill, Spill::Capacity { regions: 2 });
    for (regions, expected) in [(1, 1), (3, 3), (16, 16)] {
        let config =
            load_edited(|t| t.replace("spill_regions = 2", &format!("spill_regions = {regions}")));
        assert_eq!(config.answer.spill, Spill::Capacity { regions: expected });
    }
    let config = load_edited(|t| {
        t.replace("spill = \"capacity\"", "spill = \"nearest\"")
            .replace("spill_regions = 2\n", "")
    });
    assert_eq!(config.answer.spill, Spill::Nearest);
}

#[test]
fn bad_spill_settings_are_refused() {
    refused(
        "meridian.toml",
        |t| t.replace("spill = \"capacity\"", "spill = \"weighted\""),
        &["answer.spill = weighted", "expected capacity", "or nearest"],
    );
    for bad in ["0", "17", "300", "4294967295"] {
        refused(
            "meridian.toml",
            |t| t.replace("spill_regions = 2", &format!("spill_regions = {bad}")),
            &[&format!("answer.spill_regions = {bad}"), "must be 1 to 16"],
        );
    }
    refused(
        "meridian.toml",
        |t| t.replace("spill_regions = 2", "spill_regions = -1"),
        &["spill_regions", "-1"],
    );
    // Nearest spreads over nothing: a spill_regions beside it would be silently unused.
    refused(
        "meridian.toml",
        |t| t.replace("spill = \"capacity\"", "spill = \"nearest\""),
        &[
            "answer.spill_regions = 2",
            "only spill = \"capacity\" spreads over several regions (spill = \"nearest\")",
        ],
    );
}
