//! Raw serde mirror of the TOML files: shapes and defaults only, no cross-field rules.
//!
//! Every table refuses unknown keys, so a typo is an error and never a silent default.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;

use serde::Deserialize;

/// `meridian.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMain {
    /// Folder of `regions/<name>.toml`, relative to `meridian.toml`.
    #[serde(default = "default_regions_dir")]
    pub(super) regions: PathBuf,
    pub(super) zone: RawZone,
    #[serde(default)]
    pub(super) answer: RawAnswer,
    #[serde(default, rename = "service")]
    pub(super) services: Vec<RawService>,
    pub(super) geo: RawGeo,
    #[serde(default)]
    pub(super) steering: RawSteering,
    #[serde(default)]
    pub(super) admin: RawAdmin,
    #[serde(default)]
    pub(super) health: RawRegionHealth,
    #[serde(default)]
    pub(super) response_rate_limit: RawResponseRateLimit,
}

fn default_regions_dir() -> PathBuf {
    PathBuf::from("regions")
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawZone {
    pub(super) apex: String,
    /// Default TTL of static records and NS records, in seconds.
    #[serde(default = "default_record_ttl")]
    pub(super) ttl: u32,
    pub(super) soa: RawSoa,
    #[serde(rename = "ns")]
    pub(super) name_servers: Vec<RawNameServer>,
    #[serde(default, rename = "record")]
    pub(super) records: Vec<RawRecord>,
    /// This name server's identity for operators: NSID (RFC 5001) and the CH TXT names
    /// `id.server` and `hostname.bind`. Off when absent.
    #[serde(default)]
    pub(super) identity: Option<String>,
    /// DNS cookies (RFC 7873): on unless `false`.
    #[serde(default = "default_cookies")]
    pub(super) cookies: bool,
    /// 32 hexadecimal digits, the same on every node that answers for one server address
    /// (anycast); absent: each process draws its own.
    #[serde(default)]
    pub(super) cookie_secret: Option<String>,
}

fn default_cookies() -> bool {
    true
}

fn default_record_ttl() -> u32 {
    3600
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSoa {
    /// Primary name server; defaults to the first `[[zone.ns]]`.
    pub(super) mname: Option<String>,
    /// Responsible mailbox in DNS form (`hostmaster.example.com`).
    pub(super) rname: String,
    pub(super) serial: u32,
    #[serde(default = "default_refresh")]
    pub(super) refresh: u32,
    #[serde(default = "default_retry")]
    pub(super) retry: u32,
    #[serde(default = "default_expire")]
    pub(super) expire: u32,
    /// Negative-caching TTL (RFC 2308), in seconds.
    #[serde(default = "default_minimum")]
    pub(super) minimum: u32,
    #[serde(default = "default_record_ttl")]
    pub(super) ttl: u32,
}

fn default_refresh() -> u32 {
    3600
}
fn default_retry() -> u32 {
    600
}
fn default_expire() -> u32 {
    1_209_600
}
fn default_minimum() -> u32 {
    30
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawNameServer {
    pub(super) name: String,
    /// Glue: required for name servers inside the zone, refused for others.
    #[serde(default)]
    pub(super) addresses: Vec<std::net::IpAddr>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRecord {
    /// Relative to the apex (`@` is the apex itself), or absolute with a trailing dot.
    pub(super) name: String,
    #[serde(rename = "type")]
    pub(super) record_type: String,
    pub(super) value: String,
    pub(super) ttl: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAnswer {
    /// TTL of steered answers, in seconds: short, so failover reaches clients quickly.
    #[serde(default = "default_answer_ttl")]
    pub(super) ttl: u32,
    /// At most this many addresses of the chosen region per answer.
    #[serde(default = "default_max_addresses")]
    pub(super) max_addresses: usize,
    /// TTL ceiling while a region an answer depends on is in transition, and while every
    /// region is down (default `DEFAULT_TRANSITION_TTL`).
    pub(super) transition_ttl: Option<u32>,
    /// `capacity` (the default) or `nearest`.
    pub(super) spill: Option<String>,
    /// How many healthy regions a `capacity` spill spreads over (default
    /// `DEFAULT_SPILL_REGIONS`); refused with `nearest`.
    pub(super) spill_regions: Option<u32>,
}

impl Default for RawAnswer {
    fn default() -> Self {
        Self {
            ttl: default_answer_ttl(),
            max_addresses: default_max_addresses(),
            transition_ttl: None,
            spill: None,
            spill_regions: None,
        }
    }
}

fn default_answer_ttl() -> u32 {
    30
}
fn default_max_addresses() -> usize {
    4
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawService {
    /// Relative to the apex, like record names.
    pub(super) name: String,
    /// Overrides `[answer] ttl` for this name.
    pub(super) ttl: Option<u32>,
    /// `fail-open` (the default), `fallback`, `nodata` or `servfail`.
    pub(super) all_down: Option<String>,
    /// The addresses of `all_down = "fallback"`; refused with the other policies.
    pub(super) fallback: Option<Vec<IpAddr>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawGeo {
    /// MaxMind DB file, relative to `meridian.toml`.
    pub(super) database: PathBuf,
    /// How often the file is checked for replacement, in seconds.
    #[serde(default = "default_reload_check")]
    pub(super) reload_check_seconds: u64,
}

fn default_reload_check() -> u64 {
    2
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSteering {
    /// Order for clients the database cannot place; defaults to all regions by name.
    pub(super) default: Option<Vec<String>>,
    #[serde(default)]
    pub(super) cidr: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    pub(super) subdivision: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    pub(super) country: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    pub(super) continent: BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAdmin {
    /// Overridden by `MERIDIAN_ADMIN_TOKEN`, the preferred place for a secret.
    pub(super) token: Option<String>,
    /// Signs sticky cookies; overridden by `MERIDIAN_COOKIE_KEY`, the preferred place.
    pub(super) cookie_key: Option<String>,
}

/// `regions/<name>.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRegion {
    pub(super) name: String,
    pub(super) location: RawLocation,
    #[serde(default)]
    pub(super) ipv4: Vec<Ipv4Addr>,
    #[serde(default)]
    pub(super) ipv6: Vec<Ipv6Addr>,
    pub(super) listen: RawListen,
    /// Defaults to `http://<listen.status>/healthz`.
    pub(super) status_url: Option<String>,
    /// Where the other regions' proxies reach this one's; defaults to `listen.http`.
    pub(super) proxy_address: Option<SocketAddr>,
    #[serde(default = "default_capacity")]
    pub(super) capacity: u32,
    /// The region's HTTP proxy; without it the region has no backends.
    pub(super) proxy: Option<RawProxy>,
}

fn default_capacity() -> u32 {
    100
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLocation {
    pub(super) latitude: f64,
    pub(super) longitude: f64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawListen {
    pub(super) dns: Vec<SocketAddr>,
    pub(super) http: Option<SocketAddr>,
    pub(super) status: Option<SocketAddr>,
}

/// `[proxy]` of a region file. Defaults equal `ProxySettings::default()`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawProxy {
    /// `round-robin`, `weighted-round-robin`, `least-request` or `consistent-hash`.
    #[serde(default = "default_policy")]
    pub(super) policy: String,
    /// What `consistent-hash` hashes (default `client-ip`); refused with other policies.
    pub(super) hash: Option<RawHashKey>,
    /// Bounded load of `consistent-hash` (default [`DEFAULT_LOAD_FACTOR`]); refused with
    /// other policies.
    pub(super) load_factor: Option<f64>,
    /// `/healthz` says 503 below this share of healthy capacity.
    #[serde(default = "default_healthy_share")]
    pub(super) healthy_share: f64,
    /// Networks (or single addresses) whose `X-Forwarded-For` is kept.
    #[serde(default)]
    pub(super) trusted_proxies: Vec<String>,
    /// Requests that find no backend go to the nearest healthy other region's proxy.
    #[serde(default = "default_spillover")]
    pub(super) spillover: bool,
    /// `off` (default), `common`, `combined` or `json`.
    #[serde(default = "default_access_log")]
    pub(super) access_log: String,
    /// A file (relative to `meridian.toml`), or `-` for stdout (the default).
    pub(super) access_log_path: Option<PathBuf>,
    #[serde(default, rename = "backend")]
    pub(super) backends: Vec<RawBackend>,
    #[serde(default)]
    pub(super) health: RawHealth,
    #[serde(default)]
    pub(super) outlier: RawOutlier,
    /// Session persistence; off without the table.
    pub(super) sticky: Option<RawSticky>,
    #[serde(default)]
    pub(super) timeouts: RawTimeouts,
    #[serde(default)]
    pub(super) limits: RawLimits,
    #[serde(default)]
    pub(super) retries: RawRetries,
    /// Per-client-IP rate limit; off without the table.
    pub(super) rate_limit: Option<RawRateLimit>,
}

fn default_policy() -> String {
    "round-robin".to_string()
}
fn default_healthy_share() -> f64 {
    0.5
}
fn default_spillover() -> bool {
    true
}
fn default_access_log() -> String {
    "off".to_string()
}

/// `load_factor` of a `consistent-hash` policy that does not set it.
pub(super) const DEFAULT_LOAD_FACTOR: f64 = 1.25;

/// `hash = "client-ip"`, `hash = { header = "x-user" }` or `hash = { cookie = "session" }`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(super) enum RawHashKey {
    Header(String),
    Cookie(String),
    ClientIp,
}

/// `[[proxy.backend]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawBackend {
    pub(super) id: String,
    pub(super) address: SocketAddr,
    #[serde(default = "default_weight")]
    pub(super) weight: u32,
}

fn default_weight() -> u32 {
    1
}

/// `[proxy.health]`: active health checks.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawHealth {
    #[serde(default = "default_health_path")]
    pub(super) path: String,
    #[serde(default = "default_health_interval")]
    pub(super) interval_ms: u64,
    #[serde(default = "default_health_fast_interval")]
    pub(super) fast_interval_ms: u64,
    /// Share of the interval.
    #[serde(default = "default_health_jitter")]
    pub(super) jitter: f64,
    #[serde(default = "default_health_timeout")]
    pub(super) timeout_ms: u64,
    /// `[lowest, highest]` status that counts as success.
    #[serde(default = "default_health_expect")]
    pub(super) expect: [u16; 2],
    #[serde(default = "default_health_rise_fall")]
    pub(super) rise: u32,
    #[serde(default = "default_health_rise_fall")]
    pub(super) fall: u32,
}

impl Default for RawHealth {
    fn default() -> Self {
        Self {
            path: default_health_path(),
            interval_ms: default_health_interval(),
            fast_interval_ms: default_health_fast_interval(),
            jitter: default_health_jitter(),
            timeout_ms: default_health_timeout(),
            expect: default_health_expect(),
            rise: default_health_rise_fall(),
            fall: default_health_rise_fall(),
        }
    }
}

fn default_health_path() -> String {
    "/".to_string()
}
fn default_health_interval() -> u64 {
    1000
}
fn default_health_fast_interval() -> u64 {
    250
}
fn default_health_jitter() -> f64 {
    0.2
}
fn default_health_timeout() -> u64 {
    1000
}
fn default_health_expect() -> [u16; 2] {
    [200, 399]
}
fn default_health_rise_fall() -> u32 {
    2
}

/// `[proxy.outlier]`: passive outlier detection.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawOutlier {
    #[serde(default = "default_consecutive_failures")]
    pub(super) consecutive_failures: u32,
    #[serde(default = "default_base_ejection")]
    pub(super) base_ejection_ms: u64,
    #[serde(default = "default_max_ejection")]
    pub(super) max_ejection_ms: u64,
    #[serde(default = "default_max_ejected_share")]
    pub(super) max_ejected_share: f64,
}

impl Default for RawOutlier {
    fn default() -> Self {
        Self {
            consecutive_failures: default_consecutive_failures(),
            base_ejection_ms: default_base_ejection(),
            max_ejection_ms: default_max_ejection(),
            max_ejected_share: default_max_ejected_share(),
        }
    }
}

fn default_consecutive_failures() -> u32 {
    3
}
fn default_base_ejection() -> u64 {
    5000
}
fn default_max_ejection() -> u64 {
    300_000
}
fn default_max_ejected_share() -> f64 {
    0.5
}

/// `[proxy.sticky]`: session persistence through a signed cookie.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSticky {
    #[serde(default = "default_sticky_cookie")]
    pub(super) cookie: String,
    /// `Max-Age`; unset makes a session cookie.
    pub(super) lifetime_seconds: Option<u64>,
    /// `repick` or `strict`.
    #[serde(default = "default_sticky_on_down")]
    pub(super) on_down: String,
}

fn default_sticky_cookie() -> String {
    "meridian_backend".to_string()
}
fn default_sticky_on_down() -> String {
    "repick".to_string()
}

/// `[proxy.timeouts]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTimeouts {
    #[serde(default = "default_connect")]
    pub(super) connect_ms: u64,
    #[serde(default = "default_request_head")]
    pub(super) request_head_ms: u64,
    #[serde(default = "default_response_head")]
    pub(super) response_head_ms: u64,
    #[serde(default = "default_client_idle")]
    pub(super) client_idle_ms: u64,
    #[serde(default = "default_upstream_idle")]
    pub(super) upstream_idle_ms: u64,
}

impl Default for RawTimeouts {
    fn default() -> Self {
        Self {
            connect_ms: default_connect(),
            request_head_ms: default_request_head(),
            response_head_ms: default_response_head(),
            client_idle_ms: default_client_idle(),
            upstream_idle_ms: default_upstream_idle(),
        }
    }
}

fn default_connect() -> u64 {
    1000
}
fn default_request_head() -> u64 {
    10_000
}
fn default_response_head() -> u64 {
    30_000
}
fn default_client_idle() -> u64 {
    60_000
}
fn default_upstream_idle() -> u64 {
    4000
}

/// `[proxy.limits]`: what clients may send.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLimits {
    #[serde(default = "default_max_header_count")]
    pub(super) max_header_count: usize,
    #[serde(default = "default_max_header_bytes")]
    pub(super) max_header_bytes: usize,
    #[serde(default = "default_max_body_bytes")]
    pub(super) max_body_bytes: u64,
}

impl Default for RawLimits {
    fn default() -> Self {
        Self {
            max_header_count: default_max_header_count(),
            max_header_bytes: default_max_header_bytes(),
            max_body_bytes: default_max_body_bytes(),
        }
    }
}

fn default_max_header_count() -> usize {
    100
}
fn default_max_header_bytes() -> usize {
    16 * 1024
}
fn default_max_body_bytes() -> u64 {
    10 * 1024 * 1024
}

/// `[proxy.retries]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRetries {
    #[serde(default = "default_attempts")]
    pub(super) attempts: u32,
    /// `timeout`, `502`, `503`.
    #[serde(default)]
    pub(super) idempotent_on: Vec<String>,
    #[serde(default = "default_budget_share")]
    pub(super) budget_share: f64,
    #[serde(default = "default_budget_min")]
    pub(super) budget_min: u32,
}

impl Default for RawRetries {
    fn default() -> Self {
        Self {
            attempts: default_attempts(),
            idempotent_on: Vec::new(),
            budget_share: default_budget_share(),
            budget_min: default_budget_min(),
        }
    }
}

fn default_attempts() -> u32 {
    2
}
fn default_budget_share() -> f64 {
    0.2
}
fn default_budget_min() -> u32 {
    3
}

/// `[proxy.rate_limit]`: a token bucket per client IP.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRateLimit {
    #[serde(default = "default_per_second")]
    pub(super) per_second: u32,
    /// Bucket size; defaults to twice `per_second`.
    pub(super) burst: Option<u32>,
}

fn default_per_second() -> u32 {
    100
}

/// `[health]` in `meridian.toml`: how every node probes every region, and where the
/// operator's drains are kept.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRegionHealth {
    #[serde(default = "default_probe_interval")]
    pub(super) interval_ms: u64,
    #[serde(default = "default_probe_fast_interval")]
    pub(super) fast_interval_ms: u64,
    #[serde(default = "default_health_jitter")]
    pub(super) jitter: f64,
    #[serde(default = "default_probe_timeout")]
    pub(super) timeout_ms: u64,
    #[serde(default = "default_probe_fall")]
    pub(super) fall: u32,
    #[serde(default = "default_probe_rise")]
    pub(super) rise: u32,
    #[serde(default = "default_probe_hold_down")]
    pub(super) hold_down_ms: u64,
    #[serde(default = "default_probe_fresh_every")]
    pub(super) fresh_every: u32,
    /// Relative to `meridian.toml`.
    #[serde(default = "default_state_dir")]
    pub(super) state_dir: PathBuf,
}

impl Default for RawRegionHealth {
    fn default() -> Self {
        Self {
            interval_ms: default_probe_interval(),
            fast_interval_ms: default_probe_fast_interval(),
            jitter: default_health_jitter(),
            timeout_ms: default_probe_timeout(),
            fall: default_probe_fall(),
            rise: default_probe_rise(),
            hold_down_ms: default_probe_hold_down(),
            fresh_every: default_probe_fresh_every(),
            state_dir: default_state_dir(),
        }
    }
}

fn default_probe_interval() -> u64 {
    1000
}
fn default_probe_fast_interval() -> u64 {
    250
}
fn default_probe_timeout() -> u64 {
    1000
}
fn default_probe_fall() -> u32 {
    3
}
fn default_probe_rise() -> u32 {
    5
}
fn default_probe_hold_down() -> u64 {
    10_000
}
fn default_probe_fresh_every() -> u32 {
    5
}
fn default_state_dir() -> PathBuf {
    PathBuf::from("state")
}

/// `[response_rate_limit]`: response-rate limiting of UDP answers (see
/// `config/rate_limit.rs` for what each default is and why).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawResponseRateLimit {
    #[serde(default = "default_rrl_enabled")]
    pub(super) enabled: bool,
    #[serde(default = "default_rrl_responses_per_second")]
    pub(super) responses_per_second: u32,
    /// Defaults to `responses_per_second`.
    pub(super) errors_per_second: Option<u32>,
    #[serde(default = "default_rrl_slip")]
    pub(super) slip: u32,
    #[serde(default = "default_rrl_ipv4_prefix")]
    pub(super) ipv4_prefix: u8,
    #[serde(default = "default_rrl_ipv6_prefix")]
    pub(super) ipv6_prefix: u8,
    /// Networks or addresses never limited (known resolvers, monitoring); `None`: loopback.
    pub(super) exempt: Option<Vec<String>>,
}

impl Default for RawResponseRateLimit {
    fn default() -> Self {
        Self {
            enabled: default_rrl_enabled(),
            responses_per_second: default_rrl_responses_per_second(),
            errors_per_second: None,
            slip: default_rrl_slip(),
            ipv4_prefix: default_rrl_ipv4_prefix(),
            ipv6_prefix: default_rrl_ipv6_prefix(),
            exempt: None,
        }
    }
}

fn default_rrl_enabled() -> bool {
    true
}
fn default_rrl_responses_per_second() -> u32 {
    super::rate_limit::DEFAULT_RESPONSES_PER_SECOND
}
fn default_rrl_slip() -> u32 {
    super::rate_limit::DEFAULT_SLIP
}
fn default_rrl_ipv4_prefix() -> u8 {
    super::rate_limit::DEFAULT_IPV4_PREFIX
}
fn default_rrl_ipv6_prefix() -> u8 {
    super::rate_limit::DEFAULT_IPV6_PREFIX
}
