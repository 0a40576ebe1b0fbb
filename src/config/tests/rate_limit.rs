//! `[response_rate_limit]`: defaults when the table is absent, the shipped values, and bad
//! values refused naming file, key and value.

use super::*;
use crate::config::{
    DEFAULT_IPV4_PREFIX, DEFAULT_IPV6_PREFIX, DEFAULT_RESPONSES_PER_SECOND, DEFAULT_SLIP,
    ResponseRateLimit, default_exempt,
};

fn with_table(lines: &str) -> impl FnOnce(String) -> String {
    let lines = lines.to_string();
    move |text: String| {
        text.replacen(
            "[response_rate_limit]\n",
            &format!("[response_rate_limit]\n{lines}\n"),
            1,
        )
    }
}

fn without_keys(text: String) -> String {
    let keys = [
        "enabled = true\n",
        "responses_per_second = 200\n",
        "slip = 2\n",
        "ipv4_prefix = 24\n",
        "ipv6_prefix = 56\n",
        "exempt = [\"127.0.0.0/8\", \"::1\"]\n",
    ];
    keys.iter()
        .fold(text, |text, key| text.replacen(key, "", 1))
}

fn load_edited(change: impl FnOnce(String) -> String) -> Config {
    let dir = copy_config(&repo("meridian.toml"));
    edit(&dir.path().join("meridian.toml"), change);
    load(&dir.path().join("meridian.toml")).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn on_by_default_with_the_documented_values() {
    let expected = ResponseRateLimit {
        enabled: true,
        responses_per_second: 200,
        errors_per_second: 200,
        slip: 2,
        ipv4_prefix: 24,
        ipv6_prefix: 56,
        exempt: vec!["127.0.0.0/8".parse().unwrap(), "::1/128".parse().unwrap()],
    };
    assert_eq!(ResponseRateLimit::default(), expected);
    assert_eq!(default_exempt(), expected.exempt);
    assert_eq!(
        (
            DEFAULT_RESPONSES_PER_SECOND,
            DEFAULT_SLIP,
            DEFAULT_IPV4_PREFIX,
            DEFAULT_IPV6_PREFIX
        ),
        (200, 2, 24, 56)
    );
    // The shipped file states the defaults; a table without keys and a file without the
    // table (every config written before it existed) get them too.
    assert_eq!(
        load(&repo("meridian.toml")).unwrap().response_rate_limit,
        expected
    );
    assert_eq!(load_edited(without_keys).response_rate_limit, expected);
    let without_table =
        load_edited(|text| without_keys(text).replacen("[response_rate_limit]\n", "", 1));
    assert_eq!(without_table.response_rate_limit, expected);
    let tests = load(&repo("tests/data/config/meridian.toml")).unwrap();
    assert_eq!(tests.response_rate_limit, expected);
}

#[test]
fn values_are_read() {
    let config = load_edited(|text| {
        with_table("errors_per_second = 20")(without_keys(text))
            .replacen(
                "[response_rate_limit]\n",
                "[response_rate_limit]\nenabled = false\nresponses_per_second = 1000000\nslip = 0\nipv4_prefix = 32\nipv6_prefix = 64\nexempt = [\"192.0.2.0/24\", \"2001:db8::53\", \"::ffff:198.51.100.0/120\"]\n",
                1,
            )
    });
    let limits = config.response_rate_limit;
    assert!(!limits.enabled);
    assert_eq!(limits.responses_per_second, 1_000_000);
    assert_eq!(limits.errors_per_second, 20);
    assert_eq!(
        (limits.slip, limits.ipv4_prefix, limits.ipv6_prefix),
        (0, 32, 64)
    );
    let exempt: Vec<String> = limits.exempt.iter().map(ToString::to_string).collect();
    assert_eq!(
        exempt,
        ["192.0.2.0/24", "2001:db8::53/128", "198.51.100.0/24"]
    );
}

#[test]
fn an_empty_exempt_list_limits_loopback_too() {
    let config = load_edited(|text| {
        text.replacen("exempt = [\"127.0.0.0/8\", \"::1\"]\n", "exempt = []\n", 1)
    });
    assert!(config.response_rate_limit.exempt.is_empty());
}

#[test]
fn bad_values_name_the_key_and_value() {
    let cases: [(&str, &str, &[&str]); 10] = [
        (
            "responses_per_second = 200\n",
            "responses_per_second = 0\n",
            &[
                "response_rate_limit.responses_per_second = 0",
                "must be 1 to 1000000",
                "enabled = false",
            ],
        ),
        (
            "responses_per_second = 200\n",
            "responses_per_second = 1000001\n",
            &["response_rate_limit.responses_per_second = 1000001"],
        ),
        (
            "# errors_per_second = 200\n",
            "errors_per_second = 0\n",
            &["response_rate_limit.errors_per_second = 0", "must be 1 to"],
        ),
        (
            "slip = 2\n",
            "slip = 11\n",
            &["response_rate_limit.slip = 11", "must be 0 to 10"],
        ),
        (
            "ipv4_prefix = 24\n",
            "ipv4_prefix = 0\n",
            &["response_rate_limit.ipv4_prefix = 0", "must be 1 to 32"],
        ),
        (
            "ipv4_prefix = 24\n",
            "ipv4_prefix = 33\n",
            &["response_rate_limit.ipv4_prefix = 33"],
        ),
        (
            "ipv6_prefix = 56\n",
            "ipv6_prefix = 129\n",
            &["response_rate_limit.ipv6_prefix = 129", "must be 1 to 128"],
        ),
        (
            "exempt = [\"127.0.0.0/8\", \"::1\"]\n",
            "exempt = [\"192.0.2.0/24\", \"resolver.example\"]\n",
            &[
                "response_rate_limit.exempt[1] = resolver.example",
                "not a network or address",
            ],
        ),
        (
            "exempt = [\"127.0.0.0/8\", \"::1\"]\n",
            "exempt = [\"10.1.2.3/8\"]\n",
            &[
                "response_rate_limit.exempt[0] = 10.1.2.3/8",
                "did you mean 10.0.0.0/8?",
            ],
        ),
        (
            "exempt = [\"127.0.0.0/8\", \"::1\"]\n",
            "exempt = [\"192.0.2.0/24\", \"::ffff:192.0.2.0/120\"]\n",
            &["response_rate_limit.exempt[1]", "listed twice"],
        ),
    ];
    for (from, to, expect) in cases {
        let (from, to) = (from.to_string(), to.to_string());
        refused(
            "meridian.toml",
            move |text| text.replacen(&from, &to, 1),
            expect,
        );
    }
    // A wrong type or a stray key: toml's message names the key.
    refused(
        "meridian.toml",
        |text| text.replacen("slip = 2\n", "slip = \"often\"\n", 1),
        &["slip"],
    );
    refused(
        "meridian.toml",
        |text| text.replacen("slip = 2\n", "slip = 2\nrate = 5\n", 1),
        &["rate"],
    );
}
