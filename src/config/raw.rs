//! Raw serde mirror of the TOML files: shapes and defaults only, no cross-field rules.
//!
//! Every table refuses unknown keys, so a typo is an error and never a silent default.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
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
}

impl Default for RawAnswer {
    fn default() -> Self {
        Self {
            ttl: default_answer_ttl(),
            max_addresses: default_max_addresses(),
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
    #[serde(default = "default_capacity")]
    pub(super) capacity: u32,
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
