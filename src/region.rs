//! Shared vocabulary: regions, their identities and locations.
//!
//! Every other module speaks in these types; none of them knows TOML or sockets.

use std::collections::BTreeMap;
use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

pub mod proxy;

pub use proxy::ProxySettings;

/// Index of a region in `Config::regions` (which is sorted by name).
///
/// Indices are cheap to copy and compare on the answer path; names are for people.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RegionId(pub u16);

impl RegionId {
    /// The position of this region in `Config::regions`.
    pub fn index(self) -> usize {
        usize::from(self.0)
    }
}

/// The address family a steered answer is for: A records or AAAA records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    V4,
    V6,
}

/// A point on the globe, in degrees (WGS 84).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Location {
    pub latitude: f64,
    pub longitude: f64,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.2},{:.2}", self.latitude, self.longitude)
    }
}

/// Where a region's node listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listen {
    /// Authoritative DNS, UDP and TCP, one socket set per address.
    pub dns: Vec<SocketAddr>,
    /// The regional HTTP proxy.
    pub http: Option<SocketAddr>,
    /// Status endpoint (`/healthz`), dashboard and API.
    pub status: Option<SocketAddr>,
}

/// One region: a place where Meridian runs a node and serves traffic.
#[derive(Debug, Clone, PartialEq)]
pub struct Region {
    pub id: RegionId,
    pub name: String,
    pub location: Location,
    /// IPv4 addresses handed out in A answers, in order.
    pub ipv4: Vec<Ipv4Addr>,
    /// IPv6 addresses handed out in AAAA answers, in order.
    pub ipv6: Vec<Ipv6Addr>,
    pub listen: Listen,
    /// URL that peers probe for this region's health.
    pub status_url: String,
    /// Where the other regions' proxies reach this region's proxy (requests spilled here):
    /// `proxy_address`, else `listen.http`. Differs from `listen.http` behind NAT (a cloud
    /// host's public address) or with a wildcard listener.
    pub proxy_address: Option<SocketAddr>,
    /// Relative capacity (weight) of the region: the clients of a region that is down spill
    /// over the next healthy regions in proportion to it.
    pub capacity: u32,
    /// The region's HTTP proxy: backends, balancing, health checks, limits.
    pub proxy: ProxySettings,
}

impl Region {
    /// A region with a name and a place and nothing else: no addresses, no listeners
    /// (the pure policies' tests).
    #[cfg(test)]
    pub(crate) fn bare(id: RegionId, name: &str, location: Location) -> Self {
        Self {
            id,
            name: name.to_string(),
            location,
            ipv4: Vec::new(),
            ipv6: Vec::new(),
            listen: Listen {
                dns: Vec::new(),
                http: None,
                status: None,
            },
            status_url: String::new(),
            proxy_address: None,
            capacity: 100,
            proxy: ProxySettings::default(),
        }
    }

    /// Whether the region has addresses to hand out for `family`.
    pub fn serves(&self, family: Family) -> bool {
        match family {
            Family::V4 => !self.ipv4.is_empty(),
            Family::V6 => !self.ipv6.is_empty(),
        }
    }
}

/// Where other regions' nodes really listen, by region name, when that is not where the
/// config says: the demo and the tests bind other ports than the configured ones. A region
/// without an entry is reached where its config says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PeerAddresses {
    /// The status listener (`/healthz`) of each region's node.
    pub status: BTreeMap<String, SocketAddr>,
    /// The HTTP proxy of each region's node.
    pub http: BTreeMap<String, SocketAddr>,
}

impl PeerAddresses {
    /// The URL peers probe for `region`'s health.
    pub fn status_url(&self, region: &Region) -> String {
        match self.status.get(&region.name) {
            Some(addr) => format!("http://{addr}/healthz"),
            None => region.status_url.clone(),
        }
    }

    /// Where `region`'s HTTP proxy is reached, if it has one.
    pub fn http(&self, region: &Region) -> Option<SocketAddr> {
        self.http
            .get(&region.name)
            .copied()
            .or(region.proxy_address)
            .or(region.listen.http)
    }
}
