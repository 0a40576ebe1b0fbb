//! Configuration: TOML files -> raw serde structs -> one validated [`Config`].
//!
//! The pipeline is read (`validate/mod.rs`, the only I/O) -> `raw` (serde shapes,
//! `deny_unknown_fields`, defaults) -> validate (`validate/{zone,regions,proxy,steering}.rs`:
//! cross-field rules, typed values). Only this module knows TOML. Every error names the
//! file, the key and the bad value, and a config is either entirely valid or refused:
//! callers never see half of one.

mod admin;
mod answer;
mod cidr;
mod cookie_key;
mod dns_cookie;
mod hash;
mod rate_limit;
mod raw;
mod secret;
mod validate;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use hickory_proto::rr::{Name, RData, RecordType};
use ipnet::IpNet;

use crate::dns::CookieSecrets;
use crate::health::hysteresis::ProbeSettings;
use crate::region::proxy::CookieKey;
use crate::region::{Region, RegionId};
pub use cidr::{CidrMatch, CidrRules};

pub use admin::{ADMIN_TOKEN_ENV, AdminToken, MIN_ADMIN_TOKEN_CHARS};
pub use answer::{
    AllDown, DEFAULT_SPILL_REGIONS, DEFAULT_TRANSITION_TTL, FallbackAddresses, MAX_SPILL_REGIONS,
    Spill,
};
pub use cookie_key::{COOKIE_KEY_ENV, MIN_COOKIE_KEY_CHARS};
pub use dns_cookie::DNS_COOKIE_SECRET_ENV;
pub use rate_limit::{
    DEFAULT_IPV4_PREFIX, DEFAULT_IPV6_PREFIX, DEFAULT_RESPONSES_PER_SECOND, DEFAULT_SLIP,
    MAX_RESPONSES_PER_SECOND, MAX_SLIP, ResponseRateLimit, default_exempt,
};
pub use secret::EnvSecrets;

/// The first 12 hex characters of a content hash: enough to tell configs apart in logs.
pub fn short_hash(hash: &str) -> &str {
    hash.get(..12).unwrap_or(hash)
}

/// A configuration problem, naming where it is and what is wrong.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The OS error is part of the message and deliberately not a `source()`, so a chain
    /// printed with anyhow's `{:#}` shows it exactly once.
    #[error(
        "{}: cannot read: {error}{}",
        file.display(),
        hint.map(|hint| format!(" ({hint})")).unwrap_or_default()
    )]
    Read {
        file: PathBuf,
        error: std::io::Error,
        /// What to do about it, when there is something obvious.
        hint: Option<&'static str>,
    },
    /// Syntax, a wrong type or an unknown key; toml's message carries line, key and value.
    #[error("{}: {message}", file.display())]
    Parse { file: PathBuf, message: String },
    #[error("{}: {key} = {value}: {reason}", file.display())]
    Invalid {
        file: PathBuf,
        key: String,
        value: String,
        reason: String,
    },
    /// A setting from the environment rather than a file; secrets are shown redacted.
    #[error("environment variable {variable} = {value}: {reason}")]
    Environment {
        variable: String,
        value: String,
        reason: String,
    },
}

/// The whole validated configuration of a Meridian deployment.
#[derive(Debug, Clone)]
pub struct Config {
    /// The `meridian.toml` this was loaded from.
    pub file: PathBuf,
    /// The folder the region files were read from (`regions` resolved against the folder of
    /// `meridian.toml`): what a reload watches besides `file`.
    pub regions_dir: PathBuf,
    pub zone: Zone,
    pub services: Vec<Service>,
    pub answer: AnswerPolicy,
    pub geo: GeoSettings,
    pub steering: SteeringRules,
    /// How every node probes every region, and where operator state is kept.
    pub health: RegionHealthSettings,
    /// `[response_rate_limit]`: how many UDP answers one client network gets (read per
    /// batch of datagrams, so a reload changes it at once; the buckets outlive reloads).
    pub response_rate_limit: ResponseRateLimit,
    /// Sorted by name; `regions[i].id == RegionId(i)`.
    pub regions: Vec<Region>,
    /// Lower-case hex SHA-256 over `meridian.toml` and every region file (names relative to
    /// the config folder, so a copy elsewhere hashes the same). Equal hashes mean equal
    /// configs: nodes compare it to spot drift, logs print [`Config::short_hash`].
    pub content_hash: String,
    /// Guards the dashboard and admin API; from `MERIDIAN_ADMIN_TOKEN` or `[admin] token`.
    /// `None` is only allowed while every region's `listen.status` is a loopback address.
    pub admin_token: Option<AdminToken>,
    /// Signs sticky cookies; from `MERIDIAN_COOKIE_KEY` or `[admin] cookie_key`. `None`
    /// means each process makes up its own key, so sticky cookies do not survive a restart
    /// and are not shared between nodes (a config warning says so when a region is sticky).
    pub cookie_key: Option<CookieKey>,
    /// Advice that does not refuse the config (each names file, key and value): print them
    /// in `check-config` and log them at WARN when a node starts or reloads.
    pub warnings: Vec<String>,
}

impl Config {
    /// Reads and validates `meridian.toml` and the region files it points at, and takes
    /// the secrets from `MERIDIAN_ADMIN_TOKEN` and `MERIDIAN_COOKIE_KEY` when those are set
    /// and non-empty.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        Self::load_with_env(path, EnvSecrets::from_process_env()?)
    }

    /// As [`Config::load`], with the values of the environment variables given instead of
    /// read from the process environment: for tests, which must not depend on the
    /// environment they run in (and cannot safely change it), and for tools that take them
    /// elsewhere.
    pub fn load_with_env(path: &Path, env: EnvSecrets) -> Result<Self, ConfigError> {
        validate::load(path, env)
    }

    /// As [`Config::load_with_env`] with only `MERIDIAN_ADMIN_TOKEN` given, and the other
    /// secrets' variables unset.
    pub fn load_with_env_token(
        path: &Path,
        env_token: Option<String>,
    ) -> Result<Self, ConfigError> {
        Self::load_with_env(
            path,
            EnvSecrets {
                admin_token: env_token,
                ..EnvSecrets::default()
            },
        )
    }

    /// The first 12 hex characters of [`Config::content_hash`], for logs and status pages.
    pub fn short_hash(&self) -> &str {
        short_hash(&self.content_hash)
    }

    /// Checks the config against the geo database it will run with (the file in `[geo]` or
    /// a `--geo-db` override): `steering.subdivision` rules need a database whose records
    /// carry subdivisions, or they could never match. Call it after opening the database,
    /// at start-up, in `check-config` and before swapping in a reloaded file.
    pub fn check_geo(
        &self,
        database_type: &str,
        has_subdivisions: bool,
    ) -> Result<(), ConfigError> {
        if has_subdivisions || self.steering.subdivision.is_empty() {
            return Ok(());
        }
        let mut codes: Vec<&str> = self
            .steering
            .subdivision
            .keys()
            .map(String::as_str)
            .collect();
        codes.sort_unstable();
        Err(ConfigError::Invalid {
            file: self.file.clone(),
            key: format!("steering.subdivision.{}", codes[0]),
            value: codes.join(", "),
            reason: format!(
                "the geo database ({database_type}) has no subdivision data, so subdivision rules could never match: use GeoLite2-City, GeoIP2-City or the full DB-IP City Lite file, or steer by country"
            ),
        })
    }

    pub fn region(&self, id: RegionId) -> &Region {
        &self.regions[id.index()]
    }

    /// The steered name at `index` of [`Config::services`] (what the zone's steered names
    /// point at).
    pub fn service(&self, index: usize) -> &Service {
        &self.services[index]
    }

    pub fn region_by_name(&self, name: &str) -> Option<&Region> {
        self.regions.iter().find(|region| region.name == name)
    }

    /// Every region's name, in id order.
    pub fn region_names(&self) -> Vec<String> {
        self.regions
            .iter()
            .map(|region| region.name.clone())
            .collect()
    }

    /// "a, b, c": the region names, for errors that say which names would have been known.
    pub fn known_regions(&self) -> String {
        self.region_names().join(", ")
    }
}

/// The authoritative zone: apex, SOA, name servers and static records.
#[derive(Debug, Clone)]
pub struct Zone {
    /// Lower-case, fully qualified.
    pub apex: Name,
    pub soa: Soa,
    pub name_servers: Vec<NameServer>,
    pub ns_ttl: u32,
    pub records: Vec<StaticRecord>,
    /// What this name server answers to NSID (RFC 5001) and to CH TXT `id.server` and
    /// `hostname.bind`: printable ASCII, 1 to 255 bytes. `None`: those get no identity.
    pub identity: Option<String>,
    /// The secrets of DNS cookies (RFC 7873, server cookies as RFC 9018 makes them): the
    /// configured ones (the first makes cookies, the rest are accepted during a rollover),
    /// else this process's own. `None`: cookies are off.
    pub cookies: Option<CookieSecrets>,
}

#[derive(Debug, Clone)]
pub struct Soa {
    pub mname: Name,
    pub rname: Name,
    pub serial: u32,
    pub refresh: u32,
    pub retry: u32,
    pub expire: u32,
    pub minimum: u32,
    pub ttl: u32,
}

#[derive(Debug, Clone)]
pub struct NameServer {
    pub name: Name,
    /// Glue addresses; empty for name servers outside the zone.
    pub addresses: Vec<IpAddr>,
}

#[derive(Debug, Clone)]
pub struct StaticRecord {
    pub name: Name,
    pub record_type: RecordType,
    pub ttl: u32,
    pub rdata: RData,
}

/// A name answered by steering: A and AAAA come from the chosen region.
#[derive(Debug, Clone)]
pub struct Service {
    pub name: Name,
    pub ttl: u32,
    /// What the name answers when every region that could answer is down.
    pub all_down: AllDown,
}

#[derive(Debug, Clone, Copy)]
pub struct AnswerPolicy {
    pub ttl: u32,
    pub max_addresses: usize,
    /// The most a steered answer's TTL may be while a region it uses or skips is in
    /// transition, and while every region is down: clients come back soon for a better one.
    pub transition_ttl: u32,
    /// Where the clients of a region that is down go.
    pub spill: Spill,
}

#[derive(Debug, Clone)]
pub struct GeoSettings {
    /// Resolved against the directory of `meridian.toml`.
    pub database: PathBuf,
    pub reload_check: Duration,
}

/// `[health]`: the cross-region probes every node makes.
#[derive(Debug, Clone, PartialEq)]
pub struct RegionHealthSettings {
    pub probes: ProbeSettings,
    /// Every this many probes of a region, one opens a fresh connection: a kept-alive
    /// connection can stay green while new ones fail (a full accept queue, a firewall).
    pub fresh_every: u32,
    /// Where each node keeps its operator state file (`operator-<region>.json`) and its
    /// backend drains (`backends-<region>.json`).
    pub state_dir: PathBuf,
}

impl RegionHealthSettings {
    /// How old another node's gossiped votes may be and still count: three missed probe
    /// rounds and a timeout. A node that stopped (or cannot be reached) drops out of the
    /// count after that.
    pub fn ballot_max_age(&self) -> Duration {
        self.probes.interval * 3 + self.probes.timeout
    }

    /// The operator state file of `region`'s node.
    pub fn state_file(&self, region: &str) -> PathBuf {
        self.state_dir.join(format!("operator-{region}.json"))
    }

    /// The backend drain file of `region`'s node.
    pub fn backend_drain_file(&self, region: &str) -> PathBuf {
        self.state_dir.join(format!("backends-{region}.json"))
    }
}

/// Explicit region orders that win over distance.
#[derive(Debug, Clone, Default)]
pub struct SteeringRules {
    /// For clients with no location at all.
    pub default_order: Vec<RegionId>,
    /// Longest prefix first, with a trie for lookups.
    pub cidr: CidrRules,
    /// Keyed by ISO 3166-2 code (`US-CA`), upper case.
    pub subdivision: HashMap<String, Vec<RegionId>>,
    /// Keyed by ISO 3166-1 alpha-2 code (`GB`), upper case.
    pub country: HashMap<String, Vec<RegionId>>,
    /// Keyed by continent code (`EU`), upper case.
    pub continent: HashMap<String, Vec<RegionId>>,
}

#[derive(Debug, Clone)]
pub struct CidrRule {
    pub network: IpNet,
    pub order: Vec<RegionId>,
}
