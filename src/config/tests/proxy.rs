//! Region proxies (`[proxy]` in region files): the shipped ones, defaults, every key read,
//! and the warnings about them; the helpers the refusal tests share.

use std::num::NonZeroU32;
use std::time::Duration;

use super::cookie_key::{ENV_KEY, load_with_cookie_key};
use super::*;
use crate::region::proxy::{
    AccessLog, AccessLogFormat, AccessLogTarget, Backend, HashKey, HealthCheck, Limits, Outlier,
    Policy, ProxySettings, RateLimit, Retries, RetryOn, Sticky, StickyDown, Timeouts,
};

/// The three backends of us-east, as the shipped file lists them.
pub(super) const BACKENDS: &str = r#"
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
pub(super) fn proxy_toml(top: &str, tables: &str) -> String {
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
pub(super) fn load_with_proxy(proxy: &str) -> Result<Config, ConfigError> {
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
pub(super) fn proxy_refused(proxy: &str, expect: &[&str]) {
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
    assert!(
        us_east(&proxy_toml("", "")).spillover,
        "spillover is on unless turned off"
    );
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
trusted_proxies = ["10.0.0.0/8", "192.0.2.7", "::ffff:172.16.0.0/108"]
spillover = false
access_log = "combined"
access_log_path = "/dev/stdout""#,
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
            spillover: false,
            access_log: AccessLog {
                format: AccessLogFormat::Combined,
                target: AccessLogTarget::File("/dev/stdout".into()),
            },
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
