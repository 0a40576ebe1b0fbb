//! The one validation step: reads the files, turns raw structs into a typed [`Config`] or
//! returns the first error.
//!
//! This file holds the pipeline (main file, region files) and the helpers every rule uses;
//! the rules themselves live beside it, one concept per file.

mod answer;
mod codes;
mod health;
mod proxy;
mod rate_limit;
mod regions;
mod steering;
mod warnings;
mod zone;

use std::collections::HashSet;
use std::fs;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ipnet::IpNet;
use serde::de::DeserializeOwned;

use super::hash::ContentHasher;
use super::raw::{RawMain, RawRegion};
use super::{
    ADMIN_TOKEN_ENV, COOKIE_KEY_ENV, Config, ConfigError, DNS_COOKIE_SECRET_ENV, EnvSecrets,
    GeoSettings,
};
use super::{admin, cookie_key, dns_cookie};
use crate::region::{Region, RegionId};

/// DNS TTLs are 31-bit (RFC 2181 section 8).
const MAX_TTL: u32 = 0x7fff_ffff;

/// Loads the config at `path`; `env` holds the values of the secrets' environment
/// variables, passed in so that tests do not depend on (or change) the process environment.
pub(super) fn load(path: &Path, env: EnvSecrets) -> Result<Config, ConfigError> {
    let mut hasher = ContentHasher::new();
    let bytes = read_file(path, Some("use --config PATH to point at it"))?;
    hasher.add(
        Path::new(path.file_name().unwrap_or(path.as_os_str())),
        &bytes,
    );
    let raw: RawMain = parse_file(path, &bytes)?;
    let base = path.parent().unwrap_or(Path::new("."));
    let regions_dir = base.join(&raw.regions);
    let regions = load_regions(path, base, &raw.regions, &mut hasher)?;
    regions::require_distinct_listen(&regions_dir, &regions)?;
    let check = Checker { file: path };

    let mut zone = check.zone(&raw.zone)?;
    let services = check.services(&raw, &zone)?;
    let answer = check.answer(&raw.answer, &services)?;
    if raw.geo.reload_check_seconds == 0 {
        return Err(check.invalid("geo.reload_check_seconds", 0, "must be at least 1"));
    }
    let geo = GeoSettings {
        database: base.join(&raw.geo.database),
        reload_check: Duration::from_secs(raw.geo.reload_check_seconds),
    };
    let steering = check.steering(&raw.steering, &regions)?;
    let health = check.region_health(&raw.health, base)?;
    let response_rate_limit = check.response_rate_limit(&raw.response_rate_limit)?;
    let mut warnings = warnings::glue_outside_regions(path, &zone, &regions);
    // A secret in the file that the environment overrides is dead text on disk: say so.
    for (key, in_file, variable, from_env) in [
        (
            "admin.token",
            raw.admin.token.is_some(),
            ADMIN_TOKEN_ENV,
            &env.admin_token,
        ),
        (
            "admin.cookie_key",
            raw.admin.cookie_key.is_some(),
            COOKIE_KEY_ENV,
            &env.cookie_key,
        ),
        (
            "zone.cookie_secret",
            raw.zone.cookie_secret.is_some(),
            DNS_COOKIE_SECRET_ENV,
            &env.dns_cookie_secret,
        ),
    ] {
        warnings.extend(warnings::secret_overridden(
            path,
            key,
            in_file,
            variable,
            from_env.as_deref(),
        ));
    }
    zone.cookies = dns_cookie::resolve(
        path,
        raw.zone.cookies,
        raw.zone.cookie_secret,
        env.dns_cookie_secret,
    )?;
    let admin_token = admin::resolve(path, raw.admin.token, env.admin_token)?;
    if admin_token.is_none() {
        regions::require_loopback_status(&regions_dir, &regions)?;
    }
    let cookie_key = cookie_key::resolve(path, raw.admin.cookie_key, env.cookie_key)?;
    if cookie_key.is_none() {
        warnings.extend(warnings::sticky_without_cookie_key(&regions_dir, &regions));
    }
    warnings.extend(warnings::weights_ignored(&regions_dir, &regions));
    Ok(Config {
        file: path.to_path_buf(),
        regions_dir,
        zone,
        services,
        answer,
        geo,
        steering,
        health,
        response_rate_limit,
        regions,
        content_hash: hasher.finish(),
        admin_token,
        cookie_key,
        warnings,
    })
}

/// Reads a whole file once: the bytes that are hashed are the bytes that are parsed.
/// `hint_if_missing` is added to the error when the file does not exist.
fn read_file(path: &Path, hint_if_missing: Option<&'static str>) -> Result<Vec<u8>, ConfigError> {
    fs::read(path).map_err(|error| ConfigError::Read {
        file: path.to_path_buf(),
        hint: hint_if_missing.filter(|_| error.kind() == std::io::ErrorKind::NotFound),
        error,
    })
}

fn parse_file<T: DeserializeOwned>(path: &Path, bytes: &[u8]) -> Result<T, ConfigError> {
    let text = std::str::from_utf8(bytes).map_err(|error| ConfigError::Parse {
        file: path.to_path_buf(),
        message: format!("not UTF-8 text: {error}"),
    })?;
    toml::from_str(text).map_err(|error| ConfigError::Parse {
        file: path.to_path_buf(),
        message: error.to_string().trim_end().to_string(),
    })
}

/// Loads every `*.toml` in the regions folder, sorted by name so ids are stable, and adds
/// each file to the content hash under its name relative to the config folder.
fn load_regions(
    main_file: &Path,
    base: &Path,
    regions_dir: &Path,
    hasher: &mut ContentHasher,
) -> Result<Vec<Region>, ConfigError> {
    let dir = base.join(regions_dir);
    let dir = dir.as_path();
    let entries = fs::read_dir(dir).map_err(|error| ConfigError::Read {
        file: dir.to_path_buf(),
        error,
        hint: None,
    })?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "toml"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(Checker { file: main_file }.invalid(
            "regions",
            dir.display(),
            "the folder holds no region files (<name>.toml)",
        ));
    }
    if files.len() > usize::from(u16::MAX) {
        return Err(Checker { file: main_file }.invalid("regions", dir.display(), "too many"));
    }
    // Every file is parsed before any is checked, so a copied file is reported as the
    // duplicate it is, not as a name that does not match its file name.
    let mut parsed: Vec<(&Path, RawRegion)> = Vec::with_capacity(files.len());
    for file in &files {
        let bytes = read_file(file, None)?;
        hasher.add(
            &regions_dir.join(file.file_name().unwrap_or_default()),
            &bytes,
        );
        let raw: RawRegion = parse_file(file, &bytes)?;
        if let Some((other_file, _)) = parsed.iter().find(|(_, other)| other.name == raw.name) {
            // Blame the file whose name does not match the region: that one is the copy.
            let named_after = |path: &Path| path.file_stem().is_some_and(|stem| *stem == *raw.name);
            let (blamed, other) = if named_after(file) {
                (*other_file, file.as_path())
            } else {
                (file.as_path(), *other_file)
            };
            return Err(Checker { file: blamed }.invalid(
                "name",
                &raw.name,
                format!(
                    "duplicate region name: {} names the same region",
                    other.display()
                ),
            ));
        }
        parsed.push((file, raw));
    }
    let mut regions: Vec<Region> = Vec::with_capacity(parsed.len());
    for (file, raw) in parsed {
        regions.push(Checker { file }.region(raw, base)?);
    }
    regions.sort_by(|a, b| a.name.cmp(&b.name));
    for (index, region) in regions.iter_mut().enumerate() {
        // Bounded above by the u16::MAX check.
        region.id = RegionId(u16::try_from(index).unwrap_or(u16::MAX));
    }
    Ok(regions)
}

/// Validation helpers bound to the file being checked, so every error names it.
struct Checker<'a> {
    file: &'a Path,
}

impl Checker<'_> {
    fn invalid(
        &self,
        key: impl Into<String>,
        value: impl std::fmt::Display,
        reason: impl Into<String>,
    ) -> ConfigError {
        ConfigError::Invalid {
            file: self.file.to_path_buf(),
            key: key.into(),
            value: value.to_string(),
            reason: reason.into(),
        }
    }

    fn ttl(&self, key: &str, ttl: u32) -> Result<u32, ConfigError> {
        if ttl > MAX_TTL {
            return Err(self.invalid(key, ttl, format!("must be at most {MAX_TTL}")));
        }
        Ok(ttl)
    }
}

fn first_duplicate<T: Eq + std::hash::Hash + Copy + std::fmt::Debug>(
    items: &[T],
) -> Option<String> {
    let mut seen = HashSet::with_capacity(items.len());
    items
        .iter()
        .find(|item| !seen.insert(**item))
        .map(|item| format!("{item:?}"))
}

/// IPv4-mapped IPv6 networks become IPv4 networks, the form client addresses are matched in.
impl Checker<'_> {
    /// A list of networks (a bare address is its own /32 or /128): canonical, no host bits,
    /// none twice. `key` names entry `index` in errors; `example` shows what is expected.
    pub(super) fn networks(
        &self,
        key: impl Fn(usize) -> String,
        raw: &[String],
        example: &str,
    ) -> Result<Vec<IpNet>, ConfigError> {
        let mut networks: Vec<IpNet> = Vec::with_capacity(raw.len());
        for (index, text) in raw.iter().enumerate() {
            let key = key(index);
            let network = match (text.parse::<IpNet>(), text.parse::<IpAddr>()) {
                (Ok(network), _) => network,
                (_, Ok(address)) => IpNet::from(address),
                _ => {
                    return Err(self.invalid(
                        key,
                        text,
                        format!("not a network or address (e.g. {example})"),
                    ));
                }
            };
            if network.trunc() != network {
                return Err(self.invalid(
                    key,
                    text,
                    format!("host bits are set; did you mean {}?", network.trunc()),
                ));
            }
            let network = canonical_net(network);
            if networks.contains(&network) {
                return Err(self.invalid(key, text, "listed twice"));
            }
            networks.push(network);
        }
        Ok(networks)
    }
}

pub(super) fn canonical_net(network: IpNet) -> IpNet {
    if let IpNet::V6(v6) = network
        && let Some(v4) = v6.addr().to_ipv4_mapped()
        && v6.prefix_len() >= 96
    {
        return IpNet::new(IpAddr::V4(v4), v6.prefix_len() - 96).unwrap_or(network);
    }
    network
}
