//! `[health]`: defaults, the shipped values and what is refused.

use std::time::Duration;

use super::*;

#[test]
fn the_shipped_health_settings_are_the_defaults() {
    let config = load(&repo("meridian.toml")).unwrap();
    let defaults = crate::health::hysteresis::ProbeSettings::default();
    assert_eq!(config.health.probes, defaults);
    assert_eq!(config.health.fresh_every, 5);
    assert_eq!(config.health.state_dir, repo("state"));
    assert_eq!(
        config.health.state_file("eu-west"),
        repo("state").join("operator-eu-west.json")
    );
    // Three missed rounds and a timeout.
    assert_eq!(config.health.ballot_max_age(), Duration::from_secs(4));
}

#[test]
fn a_config_without_a_health_table_gets_the_defaults() {
    let dir = copy_config(&repo("meridian.toml"));
    let main = dir.path().join("meridian.toml");
    edit(&main, |t| {
        let start = t.find("[health]").unwrap();
        let end = t.find("[steering]").unwrap();
        format!("{}{}", &t[..start], &t[end..])
    });
    let config = load(&main).unwrap();
    assert_eq!(
        config.health.probes,
        crate::health::hysteresis::ProbeSettings::default()
    );
    assert_eq!(config.health.state_dir, dir.path().join("state"));
}

#[test]
fn bad_health_values_are_refused_naming_key_and_value() {
    let cases: [(&str, &str, &[&str]); 7] = [
        (
            "interval_ms = 1000",
            "interval_ms = 0",
            &["health.interval_ms", "0", "between 1 and 60000"],
        ),
        (
            "interval_ms = 1000",
            "interval_ms = 60001",
            &["health.interval_ms", "60001"],
        ),
        (
            "fast_interval_ms = 250\n",
            "fast_interval_ms = 2000\n",
            &[
                "health.fast_interval_ms",
                "2000",
                "must not exceed health.interval_ms",
            ],
        ),
        (
            "jitter = 0.2\n# Between probes of a region that failed",
            "jitter = 0.9\n# Between probes of a region that failed",
            &["health.jitter", "0.9"],
        ),
        ("fall = 3", "fall = 0", &["health.fall", "0", "at least 1"]),
        (
            "hold_down_ms = 10000",
            "hold_down_ms = 7200000",
            &["health.hold_down_ms", "7200000"],
        ),
        (
            "state_dir = \"state\"",
            "state_dir = \"\"",
            &["health.state_dir", "must name a folder"],
        ),
    ];
    for (from, to, expect) in cases {
        refused("meridian.toml", |t| t.replacen(from, to, 1), expect);
    }
    refused(
        "meridian.toml",
        |t| t.replace("fresh_every = 5", "fresh_every = 5\nfal = 3"),
        &["unknown field `fal`"],
    );
}
