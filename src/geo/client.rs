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

/// Whether an address is globally routable, i.e. worth geolocating. Private, shared,
/// loopback, link-local, documentation, benchmarking, multicast and reserved ranges are not
/// (IANA special-purpose registries). `std`'s `is_global` is still unstable.
pub fn is_global(addr: IpAddr) -> bool {
    match canonical(addr) {
        IpAddr::V4(v4) => is_global_v4(v4),
        IpAddr::V6(v6) => is_global_v6(v6),
    }
}

fn is_global_v4(addr: Ipv4Addr) -> bool {
    let [a, b, c, _] = addr.octets();
    !(a == 0                                   // "this network"
        || a == 10                             // private
        || a == 127                            // loopback
        || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
        || (a == 169 && b == 254)              // link-local
        || (a == 172 && (16..32).contains(&b)) // private
        || (a == 192 && b == 0 && c == 0)      // IETF protocol assignments
        || (a == 192 && b == 0 && c == 2)      // TEST-NET-1
        || (a == 192 && b == 168)              // private
        || (a == 198 && (b == 18 || b == 19))  // benchmarking
        || (a == 198 && b == 51 && c == 100)   // TEST-NET-2
        || (a == 203 && b == 0 && c == 113)    // TEST-NET-3
        || a >= 224) // multicast, reserved, broadcast
}

fn is_global_v6(addr: Ipv6Addr) -> bool {
    let segments = addr.segments();
    !(addr.is_unspecified()
        || addr.is_loopback()
        || (segments[0] & 0xfe00) == 0xfc00          // unique local
        || (segments[0] & 0xffc0) == 0xfe80          // link-local
        || (segments[0] & 0xff00) == 0xff00          // multicast
        || (segments[0] == 0x2001 && segments[1] == 0x0db8) // documentation
        || (segments[0] == 0x0100 && segments[1..4] == [0, 0, 0]) // discard-only
        || segments[..6] == [0, 0, 0, 0, 0, 0]) // IPv4-compatible, deprecated
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
