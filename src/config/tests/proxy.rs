//! Region proxies (`[proxy]` in region files) and the key that signs sticky cookies.

use std::num::NonZeroU32;
use std::time::Duration;

use super::*;
use crate::config::EnvSecrets;
use crate::region::proxy::{
    Backend, CookieKey, HashKey, HealthCheck, Limits, Outlier, Policy, ProxySettings, RateLimit,
    Retries, RetryOn, Sticky, StickyDown, Timeouts,
};

const FILE_KEY: &str = "cookie-key-from-the-file-0123456789";
const ENV_KEY: &str = "cookie-key-from-the-environment-0123456789";

fn load_with_cookie_key(main: &Path, cookie_key: Option<&str>) -> Result<Config, ConfigError> {
    Config::load_with_env(
        main,
        EnvSecrets {
            admin_token: None,
            cookie_key: cookie_key.map(str::to_string),
        },
    )
}

#[test]
fn the_cookie_key_from_the_environment_wins_over_the_file() {
    let dir = copy_config(&repo("meridian.toml"));
    let main = dir.path().join("meridian.toml");
    assert_eq!(load_with_cookie_key(&main, None).unwrap().cookie_key, None);
    let from_env = load_with_cookie_key(&main, Some(ENV_KEY)).unwrap();
    assert_eq!(
        from_env.cookie_key,
        Some(CookieKey(ENV_KEY.as_bytes().to_vec()))
    );

    edit(&main, |t| {
        format!("{t}\n[admin]\ncookie_key = \"{FILE_KEY}\"\n")
    });
    let from_file = load(&main).unwrap();
    assert_eq!(
        from_file.cookie_key,
        Some(CookieKey(FILE_KEY.as_bytes().to_vec()))
    );
    let both = load_with_cookie_key(&main, Some(ENV_KEY)).unwrap();
    assert_eq!(
        both.cookie_key,
        Some(CookieKey(ENV_KEY.as_bytes().to_vec()))
    );
    let shown = format!("{both:?}");
    assert!(
        !shown.contains(ENV_KEY) && !shown.contains(FILE_KEY),
        "Debug shows the key: {shown}"
    );
    // The key in the file is dead text and a secret on disk: say so, without showing it.
    let overridden: Vec<&String> = both
        .warnings
        .iter()
        .filter(|warning| warning.contains("admin.cookie_key"))
        .collect();
    assert_eq!(overridden.len(), 1, "{:?}", both.warnings);
    assert!(
        overridden[0].contains("MERIDIAN_COOKIE_KEY")
            && overridden[0].contains("meridian.toml")
            && !overridden[0].contains(FILE_KEY),
        "{}",
        overridden[0]
    );
    // An empty variable overrides nothing.
    let empty = load_with_cookie_key(&main, Some("")).unwrap();
    assert_eq!(
        empty.cookie_key,
        Some(CookieKey(FILE_KEY.as_bytes().to_vec()))
    );
    assert!(
        !empty
            .warnings
            .iter()
            .any(|warning| warning.contains("admin.cookie_key")),
        "{:?}",
        empty.warnings
    );
}

#[test]
fn a_short_cookie_key_is_refused_without_printing_it() {
    let short = "too-short-cookie-key-0123456789"; // 31 characters
    let dir = copy_config(&repo("meridian.toml"));
    let main = dir.path().join("meridian.toml");
    let from_env = load_with_cookie_key(&main, Some(short))
        .expect_err("accepted")
        .to_string();
    assert!(
        from_env.contains("MERIDIAN_COOKIE_KEY")
            && from_env.contains("<redacted, 31 characters>")
            && from_env.contains("at least 32 characters")
            && !from_env.contains(short),
        "{from_env}"
    );
    edit(&main, |t| {
        format!("{t}\n[admin]\ncookie_key = \"{short}\"\n")
    });
    let from_file = load_err(&main).to_string();
    assert!(
        from_file.contains("meridian.toml")
            && from_file.contains("admin.cookie_key")
            && from_file.contains("<redacted, 31 characters>")
            && !from_file.contains(short),
        "{from_file}"
    );
    // A good key in the environment replaces the short one in the file.
    assert!(load_with_cookie_key(&main, Some(ENV_KEY)).is_ok());
}

/// The three backends of us-east, as the shipped file lists them.
const BACKENDS: &str = r#"
[[proxy.backend]]
id = "us-east-0"
address = "127.0.1.1:9000"

[[proxy.backend]]
id = "us-east-1"
address = "127.0.1.1:9001"

[[proxy.backend]]
id = "us-east-2"
address = "127.0.1.1:9002"
"#;

/// A `[proxy]` section: `top` holds keys of `[proxy]` itself, `tables` follow the backends.
fn proxy_toml(top: &str, tables: &str) -> String {
    format!("[proxy]\n{top}\n{BACKENDS}\n{tables}\n")
}

/// Replaces the `[proxy]` section of us-east (the end of the file) with `proxy`.
fn replace_proxy(text: String, proxy: &str) -> String {
    let start = text
        .find("\n# The region's HTTP proxy")
        .expect("no [proxy] section");
    format!("{}\n{proxy}", &text[..start])
}

/// The demo config with us-east's `[proxy]` replaced.
fn load_with_proxy(proxy: &str) -> Result<Config, ConfigError> {
    let dir = copy_config(&repo("meridian.toml"));
    edit(&dir.path().join("regions/us-east.toml"), |t| {
        replace_proxy(t, proxy)
    });
    load(&dir.path().join("meridian.toml"))
}

fn us_east(proxy: &str) -> ProxySettings {
    let config = load_with_proxy(proxy).unwrap_or_else(|error| panic!("{error}"));
    config
        .region_by_name("us-east")
        .expect("us-east")
        .proxy
        .clone()
}

/// us-east with `proxy` as its `[proxy]` is refused, naming the file and every `expect`.
fn proxy_refused(proxy: &str, expect: &[&str]) {
    refused("regions/us-east.toml", |t| replace_proxy(t, proxy), expect);
}

fn backend(id: &str, address: &str) -> Backend {
    Backend {
        id: id.to_string(),
        address: address.parse().unwrap(),
        weight: 1,
    }
}

fn three_backends(region: &str, octet: u8) -> Vec<Backend> {
    (0..3)
        .map(|index| {
            backend(
                &format!("{region}-{index}"),
                &format!("127.0.{octet}.1:900{index}"),
            )
        })
        .collect()
}

#[test]
fn the_shipped_proxies_parse() {
    let demo = load(&repo("meridian.toml")).unwrap();
    let proxy = |name: &str| &demo.region_by_name(name).expect(name).proxy;
    // eu-west is the annotated example: every key is written out at its default, so the
    // comments and the defaults cannot drift apart.
    assert_eq!(
        *proxy("eu-west"),
        ProxySettings {
            backends: three_backends("eu-west", 2),
            policy: Policy::LeastRequest,
            ..ProxySettings::default()
        }
    );
    assert_eq!(
        *proxy("us-east"),
        ProxySettings {
            backends: three_backends("us-east", 1),
            policy: Policy::LeastRequest,
            ..ProxySettings::default()
        }
    );
    assert_eq!(
        *proxy("ap-southeast"),
        ProxySettings {
            backends: three_backends("ap-southeast", 3),
            policy: Policy::RoundRobin,
            sticky: Some(Sticky {
                cookie: "meridian_backend".to_string(),
                lifetime: None,
                on_down: StickyDown::Repick,
            }),
            ..ProxySettings::default()
        }
    );
    // The test topology has no [proxy] at all.
    let test = load(&repo("tests/data/config/meridian.toml")).unwrap();
    for region in &test.regions {
        assert_eq!(region.proxy, ProxySettings::default(), "{}", region.name);
    }
}

#[test]
fn omitted_keys_take_the_documented_defaults() {
    assert_eq!(
        us_east(&proxy_toml("", "")),
        ProxySettings {
            backends: three_backends("us-east", 1),
            ..ProxySettings::default()
        }
    );
    let hashed = us_east(&proxy_toml("policy = \"consistent-hash\"", ""));
    assert_eq!(
        hashed.policy,
        Policy::ConsistentHash {
            key: HashKey::ClientIp,
            load_factor: 1.25
        }
    );
    let tables = us_east(&proxy_toml("", "[proxy.sticky]\n[proxy.rate_limit]\n"));
    assert_eq!(
        tables.sticky,
        Some(Sticky {
            cookie: "meridian_backend".to_string(),
            lifetime: None,
            on_down: StickyDown::Repick,
        })
    );
    let rate_limit = tables.rate_limit.expect("no rate limit");
    assert_eq!(
        (rate_limit.per_second.get(), rate_limit.burst.get()),
        (100, 200)
    );
    let burst = us_east(&proxy_toml("", "[proxy.rate_limit]\nper_second = 7\n"));
    assert_eq!(burst.rate_limit.map(|limit| limit.burst.get()), Some(14));
}

#[test]
fn every_key_is_read() {
    let proxy = us_east(&proxy_toml(
        r#"policy = "consistent-hash"
hash = { header = "X-User" }
load_factor = 1.5
healthy_share = 0.75
trusted_proxies = ["10.0.0.0/8", "192.0.2.7", "::ffff:172.16.0.0/108"]"#,
        r#"[proxy.health]
path = "/healthz?deep=1"
interval_ms = 2000
fast_interval_ms = 100
jitter = 0.1
timeout_ms = 500
expect = [200, 204]
rise = 3
fall = 4

[proxy.outlier]
consecutive_failures = 5
base_ejection_ms = 1000
max_ejection_ms = 1000
max_ejected_share = 1.0

[proxy.sticky]
cookie = "app_backend"
lifetime_seconds = 3600
on_down = "strict"

[proxy.timeouts]
connect_ms = 11
request_head_ms = 12
response_head_ms = 13
client_idle_ms = 14
upstream_idle_ms = 15

[proxy.limits]
max_header_count = 1000
max_header_bytes = 8192
max_body_bytes = 0

[proxy.retries]
attempts = 0
idempotent_on = ["503", "timeout", "502"]
budget_share = 0.0
budget_min = 0

[proxy.rate_limit]
per_second = 1
burst = 1"#,
    ));
    let ms = Duration::from_millis;
    assert_eq!(
        proxy,
        ProxySettings {
            backends: three_backends("us-east", 1),
            policy: Policy::ConsistentHash {
                key: HashKey::Header("x-user".to_string()),
                load_factor: 1.5,
            },
            health: HealthCheck {
                path: "/healthz?deep=1".to_string(),
                interval: ms(2000),
                fast_interval: ms(100),
                jitter: 0.1,
                timeout: ms(500),
                expect: 200..=204,
                rise: 3,
                fall: 4,
            },
            outlier: Outlier {
                consecutive_failures: 5,
                base_ejection: ms(1000),
                max_ejection: ms(1000),
                max_ejected_share: 1.0,
            },
            sticky: Some(Sticky {
                cookie: "app_backend".to_string(),
                lifetime: Some(Duration::from_secs(3600)),
                on_down: StickyDown::Strict,
            }),
            timeouts: Timeouts {
                connect: ms(11),
                request_head: ms(12),
                response_head: ms(13),
                client_idle: ms(14),
                upstream_idle: ms(15),
            },
            limits: Limits {
                max_header_count: 1000,
                max_header_bytes: 8192,
                max_body_bytes: 0,
            },
            retries: Retries {
                attempts: 0,
                idempotent_on: vec![RetryOn::Status503, RetryOn::Timeout, RetryOn::Status502],
                budget_share: 0.0,
                budget_min: 0,
            },
            rate_limit: Some(RateLimit {
                per_second: NonZeroU32::MIN,
                burst: NonZeroU32::MIN,
            }),
            trusted_proxies: ["10.0.0.0/8", "192.0.2.7/32", "172.16.0.0/12"]
                .iter()
                .map(|net| net.parse().unwrap())
                .collect(),
            healthy_share: 0.75,
        }
    );
    let cookie = us_east(&proxy_toml(
        "policy = \"consistent-hash\"\nhash = { cookie = \"Session\" }",
        "",
    ));
    assert_eq!(
        cookie.policy,
        Policy::ConsistentHash {
            key: HashKey::Cookie("Session".to_string()),
            load_factor: 1.25
        },
        "cookie names are case-sensitive and kept as written"
    );
    let weighted = us_east(
        "[proxy]\npolicy = \"weighted-round-robin\"\n[[proxy.backend]]\nid = \"a\"\naddress = \"[::ffff:192.0.2.1]:80\"\nweight = 1000\n",
    );
    assert_eq!(weighted.policy, Policy::WeightedRoundRobin);
    assert_eq!(
        weighted.backends,
        [Backend {
            id: "a".to_string(),
            address: "192.0.2.1:80".parse().unwrap(),
            weight: 1000,
        }],
        "an IPv4-mapped address is stored as IPv4"
    );
}

#[test]
fn bad_backends_are_refused() {
    let one = |id: &str, address: &str, weight: u32| {
        format!(
            "[proxy]\n[[proxy.backend]]\nid = \"{id}\"\naddress = \"{address}\"\nweight = {weight}\n"
        )
    };
    proxy_refused(
        &one("us east", "127.0.1.1:9000", 1),
        &["proxy.backend[0].id = us east", "1-64 characters"],
    );
    let long = "x".repeat(65);
    proxy_refused(
        &one(&long, "127.0.1.1:9000", 1),
        &["proxy.backend[0].id", &long, "1-64 characters"],
    );
    proxy_refused(
        &one("", "127.0.1.1:9000", 1),
        &["proxy.backend[0].id = :", "1-64 characters"],
    );
    proxy_refused(
        &one("a", "127.0.1.1:9000", 0),
        &["proxy.backend[0].weight = 0", "between 1 and 1000"],
    );
    proxy_refused(
        &one("a", "127.0.1.1:9000", 1001),
        &["proxy.backend[0].weight = 1001", "between 1 and 1000"],
    );
    proxy_refused(
        &one("a", "127.0.1.1:8080", 1),
        &[
            "proxy.backend[0].address = 127.0.1.1:8080",
            "own listen.http",
            "back to itself",
        ],
    );
    proxy_refused(
        &one("a", "[::ffff:127.0.1.1]:8053", 1),
        &[
            "proxy.backend[0].address = [::ffff:127.0.1.1]:8053",
            "own listen.status",
        ],
    );
    proxy_refused(
        &one("a", "127.0.1.1:0", 1),
        &["proxy.backend[0].address = 127.0.1.1:0", "needs a port"],
    );
    proxy_refused(
        &one("a", "0.0.0.0:9000", 1),
        &["proxy.backend[0].address = 0.0.0.0:9000", "wildcard"],
    );
    proxy_refused(
        &BACKENDS
            .replace("id = \"us-east-2\"", "id = \"us-east-0\"")
            .replacen("\n[[", "[proxy]\n[[", 1),
        &[
            "proxy.backend[2].id = us-east-0",
            "proxy.backend[0] has the same id",
        ],
    );
    proxy_refused(
        &proxy_toml("", "").replace("127.0.1.1:9002", "[::ffff:127.0.1.1]:9001"),
        &[
            "proxy.backend[2].address = [::ffff:127.0.1.1]:9001",
            "proxy.backend[1] has the same address",
        ],
    );
    proxy_refused(
        "[proxy]\npolicy = \"least-request\"\n",
        &["proxy.backend = []", "at least one [[proxy.backend]]"],
    );
    proxy_refused(
        "[proxy]\n[[proxy.backend]]\nid = \"a\"\n",
        &["missing field `address`"],
    );
    proxy_refused(
        "[proxy]\n[[proxy.backend]]\nid = \"a\"\naddress = \"127.0.1.1\"\n",
        &["address", "invalid socket address"],
    );
}

#[test]
fn bad_policies_are_refused() {
    let top = |keys: &str| proxy_toml(keys, "");
    proxy_refused(
        &top("policy = \"least-requests\""),
        &[
            "proxy.policy = least-requests",
            "round-robin, weighted-round-robin, least-request or consistent-hash",
        ],
    );
    proxy_refused(
        &top("policy = \"least-request\"\nhash = { header = \"x-user\" }"),
        &[
            "proxy.hash = { header = \"x-user\" }",
            "only a consistent-hash policy uses it (policy = \"least-request\")",
        ],
    );
    proxy_refused(
        &top("hash = \"client-ip\""),
        &["proxy.hash = client-ip", "(policy = \"round-robin\")"],
    );
    proxy_refused(
        &top("load_factor = 1.5"),
        &["proxy.load_factor = 1.5", "only a consistent-hash policy"],
    );
    for (value, shown) in [
        ("1.0", "= 1:"),
        ("0.5", "= 0.5:"),
        ("inf", "= inf:"),
        ("nan", "= NaN:"),
    ] {
        proxy_refused(
            &top(&format!(
                "policy = \"consistent-hash\"\nload_factor = {value}"
            )),
            &["proxy.load_factor", shown, "above 1.0"],
        );
    }
    proxy_refused(
        &top("policy = \"consistent-hash\"\nhash = { header = \"x user\" }"),
        &["proxy.hash.header = x user", "not a header name"],
    );
    proxy_refused(
        &top("policy = \"consistent-hash\"\nhash = { cookie = \"a;b\" }"),
        &["proxy.hash.cookie = a;b", "RFC 6265"],
    );
    proxy_refused(
        &top("policy = \"consistent-hash\"\nhash = \"client_ip\""),
        &["hash", "client_ip", "unknown variant"],
    );
    proxy_refused(
        &top("healthy_share = 1.5"),
        &["proxy.healthy_share = 1.5", "between 0.0 and 1.0"],
    );
    proxy_refused(
        &top("trusted_proxies = [\"10.0.0.1/8\"]"),
        &[
            "proxy.trusted_proxies = 10.0.0.1/8",
            "did you mean 10.0.0.0/8?",
        ],
    );
    proxy_refused(
        &top("trusted_proxies = [\"proxy.example\"]"),
        &[
            "proxy.trusted_proxies = proxy.example",
            "not a network or address",
        ],
    );
    proxy_refused(
        &top("trusted_proxies = [\"10.0.0.0/8\", \"::ffff:10.0.0.0/104\"]"),
        &[
            "proxy.trusted_proxies = ::ffff:10.0.0.0/104",
            "listed twice",
        ],
    );
}

#[test]
fn bad_health_checks_are_refused() {
    let health = |keys: &str| proxy_toml("", &format!("[proxy.health]\n{keys}"));
    let cases: &[(&str, &[&str])] = &[
        (
            "path = \"healthz\"",
            &["proxy.health.path = healthz", "starting with '/'"],
        ),
        (
            "path = \"/a b\"",
            &["proxy.health.path = /a b", "without spaces"],
        ),
        (
            "interval_ms = 0",
            &["proxy.health.interval_ms = 0", "between 1 and 3600000"],
        ),
        (
            "interval_ms = 3600001",
            &[
                "proxy.health.interval_ms = 3600001",
                "between 1 and 3600000",
            ],
        ),
        (
            "fast_interval_ms = 0",
            &["proxy.health.fast_interval_ms = 0", "between 1"],
        ),
        (
            "timeout_ms = 0",
            &["proxy.health.timeout_ms = 0", "between 1"],
        ),
        (
            "jitter = 0.6",
            &["proxy.health.jitter = 0.6", "between 0.0 and 0.5"],
        ),
        (
            "jitter = -0.1",
            &["proxy.health.jitter = -0.1", "between 0.0 and 0.5"],
        ),
        (
            "expect = [399, 200]",
            &["proxy.health.expect = [399, 200]", "lowest first"],
        ),
        (
            "expect = [99, 200]",
            &["proxy.health.expect = [99, 200]", "100..=599"],
        ),
        (
            "expect = [200, 600]",
            &["proxy.health.expect = [200, 600]", "100..=599"],
        ),
        ("expect = [200]", &["expect", "invalid length 1"]),
        ("rise = 0", &["proxy.health.rise = 0", "at least 1"]),
        ("fall = 0", &["proxy.health.fall = 0", "at least 1"]),
    ];
    for (keys, expect) in cases {
        proxy_refused(&health(keys), expect);
    }
}

#[test]
fn bad_outlier_sticky_and_limit_settings_are_refused() {
    let table = |name: &str, keys: &str| proxy_toml("", &format!("[proxy.{name}]\n{keys}"));
    let cases: &[(&str, &str, &[&str])] = &[
        (
            "outlier",
            "consecutive_failures = 0",
            &["proxy.outlier.consecutive_failures = 0", "at least 1"],
        ),
        (
            "outlier",
            "base_ejection_ms = 0",
            &["proxy.outlier.base_ejection_ms = 0", "between 1"],
        ),
        (
            "outlier",
            "max_ejection_ms = 1000",
            &[
                "proxy.outlier.max_ejection_ms = 1000",
                "at least base_ejection_ms (5000)",
            ],
        ),
        (
            "outlier",
            "max_ejection_ms = 86400001",
            &[
                "proxy.outlier.max_ejection_ms = 86400001",
                "between 1 and 86400000",
            ],
        ),
        (
            "outlier",
            "max_ejected_share = 1.01",
            &[
                "proxy.outlier.max_ejected_share = 1.01",
                "between 0.0 and 1.0",
            ],
        ),
        (
            "sticky",
            "cookie = \"a b\"",
            &["proxy.sticky.cookie = a b", "RFC 6265"],
        ),
        (
            "sticky",
            "cookie = \"\"",
            &["proxy.sticky.cookie = :", "RFC 6265"],
        ),
        (
            "sticky",
            "cookie = \"a=b\"",
            &["proxy.sticky.cookie = a=b", "RFC 6265"],
        ),
        (
            "sticky",
            "on_down = \"sometimes\"",
            &["proxy.sticky.on_down = sometimes", "repick", "strict"],
        ),
        (
            "sticky",
            "lifetime_seconds = 0",
            &["proxy.sticky.lifetime_seconds = 0", "session cookie"],
        ),
        (
            "sticky",
            "lifetime_seconds = 34560001",
            &["proxy.sticky.lifetime_seconds = 34560001", "400 days"],
        ),
        (
            "timeouts",
            "connect_ms = 0",
            &["proxy.timeouts.connect_ms = 0", "between 1"],
        ),
        (
            "timeouts",
            "request_head_ms = 0",
            &["proxy.timeouts.request_head_ms = 0", "between 1"],
        ),
        (
            "timeouts",
            "response_head_ms = 0",
            &["proxy.timeouts.response_head_ms = 0", "between 1"],
        ),
        (
            "timeouts",
            "client_idle_ms = 0",
            &["proxy.timeouts.client_idle_ms = 0", "between 1"],
        ),
        (
            "timeouts",
            "upstream_idle_ms = 86400001",
            &[
                "proxy.timeouts.upstream_idle_ms = 86400001",
                "between 1 and 86400000",
            ],
        ),
        (
            "limits",
            "max_header_count = 0",
            &["proxy.limits.max_header_count = 0", "between 1 and 1000"],
        ),
        (
            "limits",
            "max_header_count = 1001",
            &["proxy.limits.max_header_count = 1001", "between 1 and 1000"],
        ),
        (
            "limits",
            "max_header_bytes = 8191",
            &[
                "proxy.limits.max_header_bytes = 8191",
                "between 8192",
                "hyper",
            ],
        ),
        (
            "limits",
            "max_header_bytes = 1048577",
            &["proxy.limits.max_header_bytes = 1048577", "1 MiB"],
        ),
        (
            "retries",
            "idempotent_on = [\"504\"]",
            &[
                "proxy.retries.idempotent_on = 504",
                "\"timeout\", \"502\" or \"503\"",
            ],
        ),
        (
            "retries",
            "idempotent_on = [\"502\", \"502\"]",
            &["proxy.retries.idempotent_on = 502", "listed twice"],
        ),
        (
            "retries",
            "budget_share = -0.1",
            &["proxy.retries.budget_share = -0.1", "between 0.0 and 1.0"],
        ),
        (
            "rate_limit",
            "per_second = 0",
            &["proxy.rate_limit.per_second = 0", "at least 1"],
        ),
        (
            "rate_limit",
            "burst = 0",
            &["proxy.rate_limit.burst = 0", "at least 1"],
        ),
    ];
    for (name, keys, expect) in cases {
        proxy_refused(&table(name, keys), expect);
    }
}

#[test]
fn a_stray_key_in_any_proxy_table_is_refused() {
    // The shipped files leave [proxy.rate_limit] and (in most) [proxy.sticky] commented out,
    // so the shipped-file test cannot reach them.
    for table in [
        "proxy.health",
        "proxy.outlier",
        "proxy.sticky",
        "proxy.timeouts",
        "proxy.limits",
        "proxy.retries",
        "proxy.rate_limit",
    ] {
        proxy_refused(
            &proxy_toml("", &format!("[{table}]\nstray_key = 1")),
            &["unknown field `stray_key`"],
        );
    }
    proxy_refused(
        &proxy_toml(
            "policy = \"consistent-hash\"\nhash = { header = \"a\", cookie = \"b\" }",
            "",
        ),
        &["hash"],
    );
}

#[test]
fn sticky_regions_without_a_cookie_key_get_a_warning() {
    let shipped = load(&repo("meridian.toml")).unwrap();
    assert_eq!(
        shipped.warnings,
        [format!(
            "{}: proxy.sticky.cookie = meridian_backend: sticky cookies are signed with a per-process key: they do not survive a restart and are not shared between nodes; set MERIDIAN_COOKIE_KEY",
            repo("regions/ap-southeast.toml").display()
        )]
    );
    let with_key = load_with_cookie_key(&repo("meridian.toml"), Some(ENV_KEY)).unwrap();
    assert_eq!(with_key.warnings, Vec::<String>::new());
}

#[test]
fn weights_under_plain_round_robin_get_a_warning() {
    let proxy = proxy_toml("", "").replacen(
        "address = \"127.0.1.1:9001\"",
        "address = \"127.0.1.1:9001\"\nweight = 5",
        1,
    );
    let config = load_with_proxy(&proxy).unwrap();
    assert_eq!(config.warnings.len(), 2, "{:?}", config.warnings);
    assert!(
        config.warnings[1].contains("regions/us-east.toml: proxy.backend[1].weight = 5:")
            && config.warnings[1].contains("ignores weights"),
        "{}",
        config.warnings[1]
    );
    let weighted = load_with_proxy(
        &proxy.replace("[proxy]\n", "[proxy]\npolicy = \"weighted-round-robin\"\n"),
    )
    .unwrap();
    assert_eq!(weighted.warnings.len(), 1, "{:?}", weighted.warnings);
}
