//! Which address stands for the client: the EDNS Client Subnet when it is usable, else the
//! packet's source (pure).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Where the client address came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientSource {
    /// The EDNS Client Subnet option (RFC 7871).
    Ecs,
    /// The query's source address (a resolver, or the client itself).
    Packet,
}

/// The address that geolocation is done for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddress {
    /// Canonical: IPv4-mapped IPv6 is turned into IPv4.
    pub addr: IpAddr,
    pub source: ClientSource,
    /// Significant bits of `addr` (the ECS source prefix, in `addr`'s family); the full
    /// length for a packet source.
    pub prefix: u8,
    /// The source prefix of the query's ECS option, as sent, even when it was not usable.
    pub ecs_source_prefix: Option<u8>,
}

impl ClientAddress {
    /// Picks the client address: an ECS subnet with a non-zero source prefix and a globally
    /// routable address wins, anything else falls back to the packet source.
    pub fn select(ecs: Option<(IpAddr, u8)>, packet_source: IpAddr) -> Self {
        if let Some((addr, source_prefix)) = ecs
            && let Some((addr, prefix)) = usable_subnet(addr, source_prefix)
        {
            return Self {
                addr,
                source: ClientSource::Ecs,
                prefix,
                ecs_source_prefix: Some(source_prefix),
            };
        }
        let addr = canonical(packet_source);
        Self {
            addr,
            source: ClientSource::Packet,
            prefix: full_prefix(addr),
            ecs_source_prefix: ecs.map(|(_, source_prefix)| source_prefix),
        }
    }
}

/// An ECS subnet that can place a client: a non-zero source prefix and a globally routable
/// address, canonicalised (see [`canonical_with_prefix`]).
pub fn usable_subnet(addr: IpAddr, source_prefix: u8) -> Option<(IpAddr, u8)> {
    if source_prefix == 0 {
        return None;
    }
    let (addr, prefix) = canonical_with_prefix(addr, source_prefix);
    is_global(addr).then_some((addr, prefix))
}

/// IPv4-mapped IPv6 (`::ffff:a.b.c.d`) becomes plain IPv4; everything else is unchanged.
pub(crate) fn canonical(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => addr,
        },
        IpAddr::V4(_) => addr,
    }
}

/// Canonicalises an address with its prefix: a mapped `/120` becomes an IPv4 `/24`.
pub(crate) fn canonical_with_prefix(addr: IpAddr, prefix: u8) -> (IpAddr, u8) {
    match (addr, canonical(addr)) {
        (IpAddr::V6(_), v4 @ IpAddr::V4(_)) if prefix >= 96 => (v4, prefix - 96),
        // A mapped prefix shorter than /96 does not name any IPv4 network.
        (IpAddr::V6(_), IpAddr::V4(_)) => (IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0),
        _ => (addr, prefix),
    }
}

pub(crate) fn full_prefix(addr: IpAddr) -> u8 {
    match addr {
        IpAddr::V4(_) => 32,
        IpAddr::V6(_) => 128,
    }
}

/// Whether an address is globally routable, i.e. worth geolocating: it lies in none of the
/// special-purpose blocks of [`special_block`]. `std`'s `is_global` is still unstable.
pub fn is_global(addr: IpAddr) -> bool {
    special_block(addr).is_none()
}

/// The prefix length of the special-purpose block that holds `addr`, in `addr`'s own family
/// (an IPv4-mapped address is judged as IPv4, its block 96 bits longer): private, shared,
/// loopback, link-local, documentation, benchmarking, multicast and reserved ranges (IANA
/// special-purpose registries). `None` for a global address.
pub(crate) fn special_block(addr: IpAddr) -> Option<u8> {
    match addr {
        IpAddr::V4(v4) => special_block_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => special_block_v4(v4).map(|prefix| prefix + 96),
            None => special_block_v6(v6),
        },
    }
}

fn special_block_v4(addr: Ipv4Addr) -> Option<u8> {
    let [a, b, c, _] = addr.octets();
    Some(match (a, b, c) {
        // "This network", private, loopback.
        (0 | 10 | 127, _, _) => 8,
        // Shared address space (CGNAT).
        (100, 64..128, _) => 10,
        // Link-local; private.
        (169, 254, _) | (192, 168, _) => 16,
        // Private.
        (172, 16..32, _) => 12,
        // IETF protocol assignments, TEST-NET-1, -2 and -3.
        (192, 0, 0 | 2) | (198, 51, 100) | (203, 0, 113) => 24,
        // Benchmarking.
        (198, 18 | 19, _) => 15,
        // Multicast, reserved and broadcast: 224.0.0.0/3.
        (224.., _, _) => 3,
        _ => return None,
    })
}

fn special_block_v6(addr: Ipv6Addr) -> Option<u8> {
    let segments = addr.segments();
    Some(match segments {
        // Unspecified, loopback and the deprecated IPv4-compatible block.
        [0, 0, 0, 0, 0, 0, _, _] => 96,
        // Discard-only.
        [0x0100, 0, 0, 0, ..] => 64,
        // Documentation.
        [0x2001, 0x0db8, ..] => 32,
        // Unique local.
        [first, ..] if first & 0xfe00 == 0xfc00 => 7,
        // Link-local.
        [first, ..] if first & 0xffc0 == 0xfe80 => 10,
        // Multicast.
        [first, ..] if first & 0xff00 == 0xff00 => 8,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse()
            .unwrap_or_else(|_| panic!("bad test address {text}"))
    }

    #[test]
    fn global_ranges() {
        for global in [
            "81.2.69.142",
            "8.8.8.8",
            "2001:4860::1",
            "2a02:c7f::1",
            "::ffff:81.2.69.142",
        ] {
            assert!(is_global(ip(global)), "{global}");
        }
        for local in [
            "10.1.2.3",
            "127.0.0.1",
            "172.20.0.1",
            "192.168.1.1",
            "100.64.0.1",
            "169.254.1.1",
            "192.0.2.1",
            "198.51.100.7",
            "203.0.113.9",
            "198.18.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "0.0.0.0",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "ff02::1",
            "2001:db8::1",
            "::ffff:10.0.0.1",
        ] {
            assert!(!is_global(ip(local)), "{local}");
        }
    }

    #[test]
    fn ecs_wins_when_usable() {
        let packet = ip("127.0.0.1");
        let chosen = ClientAddress::select(Some((ip("81.2.69.0"), 24)), packet);
        assert_eq!(chosen.addr, ip("81.2.69.0"));
        assert_eq!(chosen.source, ClientSource::Ecs);
        assert_eq!(chosen.prefix, 24);
    }

    #[test]
    fn ecs_falls_back_to_packet() {
        let packet = ip("81.2.69.142");
        // Source prefix 0: the resolver asks for an answer independent of the client.
        let chosen = ClientAddress::select(Some((ip("1.2.3.0"), 0)), packet);
        assert_eq!((chosen.addr, chosen.source), (packet, ClientSource::Packet));
        // A private subnet says nothing about where the client is.
        let chosen = ClientAddress::select(Some((ip("10.0.0.0"), 8)), packet);
        assert_eq!(
            (chosen.addr, chosen.source, chosen.prefix),
            (packet, ClientSource::Packet, 32)
        );
        let chosen = ClientAddress::select(None, packet);
        assert_eq!(chosen.source, ClientSource::Packet);
    }

    #[test]
    fn mapped_addresses_are_canonical() {
        let chosen = ClientAddress::select(Some((ip("::ffff:81.2.69.0"), 120)), ip("::1"));
        assert_eq!((chosen.addr, chosen.prefix), (ip("81.2.69.0"), 24));
        let chosen = ClientAddress::select(None, ip("::ffff:175.16.199.7"));
        assert_eq!((chosen.addr, chosen.prefix), (ip("175.16.199.7"), 32));
        // A mapped prefix too short to name an IPv4 network is not used.
        let chosen = ClientAddress::select(Some((ip("::ffff:0:0"), 80)), ip("::1"));
        assert_eq!(chosen.source, ClientSource::Packet);
    }
}
