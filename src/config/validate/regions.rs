//! Rules for region files: one file's name, location, addresses, listen sockets and status
//! URL (its `[proxy]` has `proxy.rs`), and the rules that look at all regions together.

use std::net::SocketAddr;
use std::path::Path;

use super::{Checker, first_duplicate};
use crate::config::raw::RawRegion;
use crate::config::{ADMIN_TOKEN_ENV, ConfigError};
use crate::region::{Listen, Location, Region, RegionId};

impl Checker<'_> {
    /// `base` is the folder of `meridian.toml`, which paths in a region file are relative to.
    pub(super) fn region(&self, raw: RawRegion, base: &Path) -> Result<Region, ConfigError> {
        let stem = self.file.file_stem().and_then(|s| s.to_str()).unwrap_or("");
        if !is_region_name(&raw.name) {
            return Err(self.invalid(
                "name",
                &raw.name,
                "use lower-case letters, digits and '-' (1-63 characters)",
            ));
        }
        if raw.name != stem {
            return Err(self.invalid(
                "name",
                &raw.name,
                format!("must match the file name ({stem}.toml)"),
            ));
        }
        let (latitude, longitude) = (raw.location.latitude, raw.location.longitude);
        if !(-90.0..=90.0).contains(&latitude) {
            return Err(self.invalid("location.latitude", latitude, "must be between -90 and 90"));
        }
        if !(-180.0..=180.0).contains(&longitude) {
            return Err(self.invalid(
                "location.longitude",
                longitude,
                "must be between -180 and 180",
            ));
        }
        if raw.ipv4.is_empty() && raw.ipv6.is_empty() {
            return Err(self.invalid(
                "ipv4",
                "[]",
                "a region needs at least one ipv4 or ipv6 address",
            ));
        }
        if let Some(dup) = first_duplicate(&raw.ipv4) {
            return Err(self.invalid("ipv4", dup, "listed twice"));
        }
        if let Some(dup) = first_duplicate(&raw.ipv6) {
            return Err(self.invalid("ipv6", dup, "listed twice"));
        }
        if raw.listen.dns.is_empty() {
            return Err(self.invalid("listen.dns", "[]", "a node needs at least one DNS address"));
        }
        if let Some(dup) = first_duplicate(&raw.listen.dns) {
            return Err(self.invalid("listen.dns", dup, "listed twice"));
        }
        if let Some(wildcard) = raw
            .listen
            .dns
            .iter()
            .find(|addr| addr.ip().is_unspecified())
        {
            // A wildcard UDP socket may answer from another address than the one queried,
            // which resolvers drop: bind each service address explicitly.
            return Err(self.invalid(
                "listen.dns",
                wildcard,
                "list each address explicitly: a wildcard UDP socket can reply from the wrong address",
            ));
        }
        let status_url = match (raw.status_url, raw.listen.status) {
            (Some(url), _) => {
                if !(url.starts_with("http://") || url.starts_with("https://")) {
                    return Err(self.invalid(
                        "status_url",
                        &url,
                        "must be an http:// or https:// URL",
                    ));
                }
                url
            }
            (None, Some(status)) => format!("http://{status}/healthz"),
            (None, None) => {
                return Err(self.invalid(
                    "status_url",
                    "(missing)",
                    "set status_url or listen.status so peers can probe this region",
                ));
            }
        };
        if let Some(address) = raw.proxy_address
            && (address.ip().is_unspecified() || address.port() == 0)
        {
            return Err(self.invalid(
                "proxy_address",
                address,
                "must name a host and port the other regions can connect to (not a wildcard or port 0)",
            ));
        }
        if raw.capacity == 0 {
            return Err(self.invalid("capacity", 0, "must be at least 1"));
        }
        let listen = Listen {
            dns: raw.listen.dns,
            http: raw.listen.http,
            status: raw.listen.status,
        };
        let proxy = self.proxy(raw.proxy, &listen, base)?;
        let proxy_address = raw.proxy_address.or(listen.http);
        Ok(Region {
            id: RegionId(0),
            name: raw.name,
            location: Location {
                latitude,
                longitude,
            },
            ipv4: raw.ipv4,
            ipv6: raw.ipv6,
            listen,
            status_url,
            proxy_address,
            capacity: raw.capacity,
            proxy,
        })
    }
}

/// Without an admin token, the status endpoint (dashboard and admin API) must stay on
/// loopback: anything wider would hand control of the node to whoever can reach it.
pub(super) fn require_loopback_status(
    regions_dir: &Path,
    regions: &[Region],
) -> Result<(), ConfigError> {
    for region in regions {
        if let Some(status) = region.listen.status
            && !status.ip().to_canonical().is_loopback()
        {
            // The file name equals the region name (checked when the file was loaded).
            let file = regions_dir.join(format!("{}.toml", region.name));
            return Err(Checker { file: &file }.invalid(
                "listen.status",
                status,
                format!(
                    "the status endpoint serves the dashboard and admin API beyond loopback, so it needs an admin token: set the {ADMIN_TOKEN_ENV} environment variable (preferred) or [admin] token in meridian.toml"
                ),
            ));
        }
    }
    Ok(())
}

/// No two sockets of the config may share an address, within a region or across regions:
/// the demo runs every region in one process, and a node's DNS, HTTP and status sockets
/// would clash on TCP. Port 0 asks the OS for a free port, so it never clashes. A wildcard
/// address (`0.0.0.0:80`) may repeat across regions: their nodes run on different hosts,
/// and a wildcard names no host; within one region it still clashes.
pub(super) fn require_distinct_listen(
    regions_dir: &Path,
    regions: &[Region],
) -> Result<(), ConfigError> {
    let mut seen: Vec<(SocketAddr, &str, &str)> = Vec::new();
    for region in regions {
        let listen = &region.listen;
        let sockets = listen
            .dns
            .iter()
            .map(|addr| ("listen.dns", *addr))
            .chain(listen.http.map(|addr| ("listen.http", addr)))
            .chain(listen.status.map(|addr| ("listen.status", addr)));
        for (key, addr) in sockets {
            if addr.port() == 0 {
                continue;
            }
            let canonical = SocketAddr::new(addr.ip().to_canonical(), addr.port());
            if let Some((_, other_region, other_key)) =
                seen.iter().find(|(seen_addr, other_region, _)| {
                    *seen_addr == canonical
                        && (*other_region == region.name || !canonical.ip().is_unspecified())
                })
            {
                let owner = if *other_region == region.name {
                    format!("this region's {other_key}")
                } else {
                    format!(
                        "{other_key} of region {other_region} ({})",
                        regions_dir.join(format!("{other_region}.toml")).display()
                    )
                };
                let file = regions_dir.join(format!("{}.toml", region.name));
                return Err(Checker { file: &file }.invalid(
                    key,
                    addr,
                    format!(
                        "region {} uses the same address as {owner}: two sockets cannot share one address",
                        region.name
                    ),
                ));
            }
            seen.push((canonical, &region.name, key));
        }
    }
    Ok(())
}

fn is_region_name(name: &str) -> bool {
    (1..=63).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
}
