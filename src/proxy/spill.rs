//! Where a request goes when its region has no backend to pick: the other regions'
//! proxies, nearest first, and the addresses spilled requests come from. Pure: no I/O, no
//! clock.

use std::net::{IpAddr, SocketAddr};

use ipnet::IpNet;

use crate::geo::distance_km;
use crate::health::HealthTable;
use crate::region::{PeerAddresses, Region};

/// Most regions one spilled request tries: the second only when the first could not be
/// reached before the request was sent. More would hold the client for a connect timeout
/// per dead region, while DNS is moving it away anyway.
pub(crate) const MAX_SPILL_REGIONS: usize = 2;

/// A region a request may spill to, and where its proxy listens.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct SpillTarget<'a> {
    pub(crate) region: &'a Region,
    pub(crate) address: SocketAddr,
}

/// The regions `local` may spill to, nearest first by great-circle distance between the
/// regions' locations (ties by name): every other region that the published health does
/// not call down and whose proxy can be reached (at its `peers` address, else its
/// `listen.http`; a wildcard or port 0 names no host to connect to).
pub(crate) fn spill_order<'a>(
    local: &Region,
    regions: &'a [Region],
    health: &HealthTable,
    peers: &PeerAddresses,
) -> Vec<SpillTarget<'a>> {
    let mut targets: Vec<(f64, SpillTarget<'a>)> = regions
        .iter()
        .filter(|region| region.name != local.name && health.is_up(region.id))
        .filter_map(|region| {
            let address = peers.http(region).filter(is_reachable)?;
            let distance = distance_km(local.location, region.location);
            Some((distance, SpillTarget { region, address }))
        })
        .collect();
    targets.sort_by(|(a, left), (b, right)| {
        a.total_cmp(b)
            .then_with(|| left.region.name.cmp(&right.region.name))
    });
    targets.into_iter().map(|(_, target)| target).collect()
}

/// The addresses a region's proxy may spill from, trusted for `X-Forwarded-For` on the
/// requests that say they were spilled: every region's proxy address (`peers`, else
/// `listen.http`) and the addresses DNS hands out for it (a node with one public address
/// connects out from it). All are the deployment's own, so a client cannot borrow them.
pub(crate) fn spill_sources(regions: &[Region], peers: &PeerAddresses) -> Vec<IpNet> {
    let proxies = regions
        .iter()
        .flat_map(|region| [peers.http(region), region.listen.http, region.proxy_address])
        .flatten()
        .map(|address| address.ip());
    let answers = regions.iter().flat_map(|region| {
        let v4 = region.ipv4.iter().copied().map(IpAddr::V4);
        let v6 = region.ipv6.iter().copied().map(IpAddr::V6);
        v4.chain(v6)
    });
    let mut sources: Vec<IpNet> = Vec::new();
    for ip in proxies.chain(answers) {
        let network = IpNet::from(ip.to_canonical());
        if !ip.is_unspecified() && !sources.contains(&network) {
            sources.push(network);
        }
    }
    sources
}

fn is_reachable(address: &SocketAddr) -> bool {
    !address.ip().is_unspecified() && address.port() != 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::health::RegionHealth;
    use crate::region::{Location, RegionId};

    fn at(latitude: f64, longitude: f64) -> Location {
        Location {
            latitude,
            longitude,
        }
    }

    /// Regions with a proxy on 127.0.0.<id + 1>:8080, in id order.
    fn regions(places: &[(&str, Location)]) -> Vec<Region> {
        places
            .iter()
            .enumerate()
            .map(|(index, (name, location))| {
                let host = u8::try_from(index + 1).unwrap();
                let mut region = Region::bare(RegionId(u16::from(host - 1)), name, *location);
                region.listen.http = Some(SocketAddr::from(([127, 0, 0, host], 8080)));
                region
            })
            .collect()
    }

    fn all_up(regions: &[Region]) -> HealthTable {
        HealthTable::from_regions(vec![RegionHealth::assumed_up(); regions.len()])
    }

    fn names<'a>(targets: &[SpillTarget<'a>]) -> Vec<&'a str> {
        targets.iter().map(|t| t.region.name.as_str()).collect()
    }

    fn world() -> Vec<Region> {
        regions(&[
            ("ap-southeast", at(1.29, 103.85)),
            ("eu-west", at(53.35, -6.26)),
            ("us-east", at(39.04, -77.49)),
            ("us-west", at(45.52, -122.68)),
        ])
    }

    #[test]
    fn the_other_regions_come_nearest_first_and_the_local_one_never() {
        let regions = world();
        let health = all_up(&regions);
        let none = PeerAddresses::default();
        let from = |index: usize| spill_order(&regions[index], &regions, &health, &none);
        assert_eq!(names(&from(2)), ["us-west", "eu-west", "ap-southeast"]);
        assert_eq!(names(&from(1)), ["us-east", "us-west", "ap-southeast"]);
        assert_eq!(names(&from(0)), ["eu-west", "us-west", "us-east"]);
        assert_eq!(from(2)[0].address, "127.0.0.4:8080".parse().unwrap());
    }

    #[test]
    fn equal_distances_are_ordered_by_name() {
        // b-east and a-west are both 10 degrees of longitude away on the equator.
        let regions = regions(&[
            ("b-east", at(0.0, 10.0)),
            ("here", at(0.0, 0.0)),
            ("a-west", at(0.0, -10.0)),
            ("far", at(0.0, 40.0)),
        ]);
        let health = all_up(&regions);
        let order = spill_order(&regions[1], &regions, &health, &PeerAddresses::default());
        assert_eq!(names(&order), ["a-west", "b-east", "far"]);
    }

    #[test]
    fn regions_the_published_health_calls_down_are_skipped() {
        let regions = world();
        let down = RegionHealth {
            up: false,
            reason: "down".to_string(),
            transition: false,
        };
        let mut table = vec![RegionHealth::assumed_up(); regions.len()];
        table[3] = down.clone();
        let health = HealthTable::from_regions(table);
        let order = spill_order(&regions[2], &regions, &health, &PeerAddresses::default());
        assert_eq!(names(&order), ["eu-west", "ap-southeast"]);
        // A table that does not know a region never sends traffic there.
        let short = HealthTable::from_regions(vec![RegionHealth::assumed_up(); 2]);
        let order = spill_order(&regions[2], &regions, &short, &PeerAddresses::default());
        assert_eq!(names(&order), ["eu-west", "ap-southeast"]);
    }

    #[test]
    fn a_region_is_reached_at_its_peer_address_and_never_without_one() {
        let mut regions = world();
        regions[0].listen.http = None;
        regions[1].listen.http = Some("0.0.0.0:80".parse().unwrap());
        regions[3].listen.http = Some("127.0.0.4:0".parse().unwrap());
        let health = all_up(&regions);
        let order = spill_order(&regions[2], &regions, &health, &PeerAddresses::default());
        assert!(order.is_empty(), "{:?}", names(&order));
        // Where the region really listens wins over its config.
        let mut peers = PeerAddresses::default();
        peers
            .http
            .insert("eu-west".to_string(), "127.0.9.9:4000".parse().unwrap());
        let order = spill_order(&regions[2], &regions, &health, &peers);
        assert_eq!(names(&order), ["eu-west"]);
        assert_eq!(order[0].address, "127.0.9.9:4000".parse().unwrap());
    }

    #[test]
    fn a_region_behind_nat_is_reached_at_its_proxy_address() {
        let mut regions = world();
        // A cloud node: listening on a wildcard, reached at its public address.
        regions[1].listen.http = Some("0.0.0.0:80".parse().unwrap());
        regions[1].proxy_address = Some("203.0.113.7:80".parse().unwrap());
        let health = all_up(&regions);
        let order = spill_order(&regions[2], &regions, &health, &PeerAddresses::default());
        let eu_west = order.iter().find(|t| t.region.name == "eu-west").unwrap();
        assert_eq!(eu_west.address, "203.0.113.7:80".parse().unwrap());
        // Requests it spills come from there too, so their X-Forwarded-For is kept.
        let sources = spill_sources(&regions, &PeerAddresses::default());
        assert!(
            sources
                .iter()
                .any(|net| net.contains(&"203.0.113.7".parse::<std::net::IpAddr>().unwrap()))
        );
    }

    #[test]
    fn a_lone_region_has_nowhere_to_spill() {
        let regions = regions(&[("only", at(0.0, 0.0))]);
        let health = all_up(&regions);
        assert!(spill_order(&regions[0], &regions, &health, &PeerAddresses::default()).is_empty());
    }

    #[test]
    fn spills_are_trusted_from_the_regions_own_addresses_only() {
        let mut regions = world();
        regions[0].listen.http = Some("0.0.0.0:80".parse().unwrap());
        regions[1].ipv4 = vec!["192.0.2.10".parse().unwrap()];
        regions[1].ipv6 = vec!["2001:db8::10".parse().unwrap()];
        let mut peers = PeerAddresses::default();
        peers.http.insert(
            "us-west".to_string(),
            "[::ffff:10.0.0.4]:4000".parse().unwrap(),
        );
        let sources: Vec<String> = spill_sources(&regions, &peers)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            sources,
            [
                "127.0.0.2/32",
                "127.0.0.3/32",
                "10.0.0.4/32",
                "127.0.0.4/32",
                "192.0.2.10/32",
                "2001:db8::10/128",
            ]
        );
    }
}
