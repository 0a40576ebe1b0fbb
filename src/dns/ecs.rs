//! EDNS Client Subnet (RFC 7871): validating the query's option and echoing it with a scope.

use std::net::IpAddr;

use hickory_proto::op::{Edns, Header};
use hickory_proto::rr::Name;
use hickory_proto::rr::rdata::opt::{ClientSubnet, EdnsCode, EdnsOption};
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder};

use crate::decision;

/// Why an ECS option is malformed; the query gets FORMERR (RFC 7871 section 7.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EcsError {
    /// SOURCE PREFIX-LENGTH longer than the family's address.
    PrefixTooLong,
    /// Address bits set beyond SOURCE PREFIX-LENGTH.
    HostBitsSet,
    /// More or fewer address bytes than SOURCE PREFIX-LENGTH needs.
    WrongLength,
    /// More than one ECS option in the query (RFC 7871 section 6).
    Repeated,
}

/// The query's ECS option, if any, after the checks hickory's decoder does not make.
/// `raw` is the query as received: hickory ignores surplus address bytes, so the option's
/// declared length is read from the wire.
pub(crate) fn from_query(
    edns: Option<&Edns>,
    raw: &[u8],
) -> Result<Option<ClientSubnet>, EcsError> {
    let subnet = from_edns(edns)?;
    if let Some(subnet) = &subnet {
        let address_bytes = u16::from(subnet.source_prefix().div_ceil(8));
        if declared_len(raw) != Some(4 + address_bytes) {
            return Err(EcsError::WrongLength);
        }
    }
    Ok(subnet)
}

/// The declared length of the first ECS option in a raw message, found by walking it.
fn declared_len(raw: &[u8]) -> Option<u16> {
    let mut decoder = BinDecoder::new(raw);
    let header = Header::read(&mut decoder).ok()?;
    for _ in 0..header.counts.queries {
        Name::read(&mut decoder).ok()?;
        decoder.read_slice(4).ok()?;
    }
    let records = u32::from(header.counts.answers)
        + u32::from(header.counts.authorities)
        + u32::from(header.counts.additionals);
    for _ in 0..records {
        Name::read(&mut decoder).ok()?;
        let record_type = decoder.read_u16().ok()?.unverified(/* compared only */);
        decoder.read_slice(6).ok()?;
        let rdata_len = decoder.read_u16().ok()?.unverified(/* bounded by read_slice */);
        let rdata =
            decoder.read_slice(usize::from(rdata_len)).ok()?.unverified(/* length-checked */);
        if record_type != 41 {
            continue;
        }
        let mut options = BinDecoder::new(rdata);
        while !options.is_empty() {
            let code = options.read_u16().ok()?.unverified(/* compared only */);
            let len = options.read_u16().ok()?.unverified(/* bounded by read_slice */);
            options.read_slice(usize::from(len)).ok()?;
            if code == 8 {
                return Some(len);
            }
        }
    }
    None
}

fn from_edns(edns: Option<&Edns>) -> Result<Option<ClientSubnet>, EcsError> {
    let subnets = edns.map_or(0, |edns| {
        edns.options()
            .options
            .iter()
            .filter(|(code, _)| *code == EdnsCode::Subnet)
            .count()
    });
    if subnets > 1 {
        return Err(EcsError::Repeated);
    }
    let Some(EdnsOption::Subnet(subnet)) = edns.and_then(|edns| edns.option(EdnsCode::Subnet))
    else {
        return Ok(None);
    };
    let prefix = subnet.source_prefix();
    let addr = subnet.addr();
    let bits = match addr {
        IpAddr::V4(v4) => (u128::from(u32::from(v4)), 32u8),
        IpAddr::V6(v6) => (u128::from(v6), 128u8),
    };
    let (value, width) = bits;
    if prefix > width {
        return Err(EcsError::PrefixTooLong);
    }
    let host_mask = if prefix == 0 {
        if width == 32 {
            u128::from(u32::MAX)
        } else {
            u128::MAX
        }
    } else {
        (1u128 << (width - prefix)) - 1
    };
    if value & host_mask != 0 {
        return Err(EcsError::HostBitsSet);
    }
    Ok(Some(*subnet))
}

/// The option to send back: the query's family, address and source prefix, with our scope.
///
/// `scope` is in the family geolocation used; an IPv4-mapped query address was looked up as
/// IPv4, so its scope is shifted back into IPv6 terms. Never longer than the source prefix.
pub(crate) fn echo(query: &ClientSubnet, scope: u8) -> ClientSubnet {
    let scope = echo_scope(query.addr(), query.source_prefix(), scope);
    ClientSubnet::new(query.addr(), query.source_prefix(), scope)
}

/// The scope to echo for a query's subnet `addr`/`source_prefix`, given the `scope` of the
/// family geolocation used: [`decision::echo_scope`], which explain reports too.
pub(crate) fn echo_scope(addr: IpAddr, source_prefix: u8, scope: u8) -> u8 {
    decision::echo_scope(addr, source_prefix, scope)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geo::is_global;

    fn edns_with(subnet: ClientSubnet) -> Edns {
        let mut edns = Edns::new();
        edns.options_mut().insert(EdnsOption::Subnet(subnet));
        edns
    }

    fn ip(text: &str) -> IpAddr {
        text.parse()
            .unwrap_or_else(|_| panic!("bad test address {text}"))
    }

    #[test]
    fn accepts_well_formed() {
        let edns = edns_with(ClientSubnet::new(ip("81.2.69.0"), 24, 0));
        assert_eq!(
            from_edns(Some(&edns)).map(|s| s.map(|s| s.source_prefix())),
            Ok(Some(24))
        );
        assert_eq!(from_edns(None), Ok(None));
        assert_eq!(from_edns(Some(&Edns::new())), Ok(None));
        let edns = edns_with(ClientSubnet::new(ip("0.0.0.0"), 0, 0));
        assert!(matches!(from_edns(Some(&edns)), Ok(Some(_))));
    }

    #[test]
    fn refuses_host_bits_and_long_prefixes() {
        let edns = edns_with(ClientSubnet::new(ip("81.2.69.142"), 24, 0));
        assert_eq!(from_edns(Some(&edns)).err(), Some(EcsError::HostBitsSet));
        let edns = edns_with(ClientSubnet::new(ip("1.2.3.4"), 0, 0));
        assert_eq!(from_edns(Some(&edns)).err(), Some(EcsError::HostBitsSet));
        let edns = edns_with(ClientSubnet::new(ip("2001:db8::"), 129, 0));
        assert_eq!(from_edns(Some(&edns)).err(), Some(EcsError::PrefixTooLong));
    }

    #[test]
    fn refuses_two_options() {
        let mut edns = edns_with(ClientSubnet::new(ip("81.2.69.0"), 24, 0));
        edns.options_mut()
            .insert(EdnsOption::Subnet(ClientSubnet::new(
                ip("81.2.70.0"),
                24,
                0,
            )));
        assert_eq!(from_edns(Some(&edns)).err(), Some(EcsError::Repeated));
    }

    #[test]
    fn echo_caps_scope_and_maps_families() {
        let query = ClientSubnet::new(ip("81.2.69.0"), 24, 0);
        assert_eq!(echo(&query, 16).scope_prefix(), 16);
        assert_eq!(echo(&query, 28).scope_prefix(), 24);
        let mapped = ClientSubnet::new(ip("::ffff:81.2.69.0"), 120, 0);
        assert_eq!(echo(&mapped, 16).scope_prefix(), 112);
        assert_eq!(echo(&mapped, 0).scope_prefix(), 0);
    }

    #[test]
    fn unusable_subnets_get_their_block() {
        for (subnet, prefix, scope) in [
            ("10.1.2.0", 24, 8),
            ("100.100.0.0", 16, 10),
            ("198.19.0.0", 24, 15),
            ("203.0.113.0", 25, 24),
            ("240.0.0.0", 8, 3),
            ("::ffff:192.168.1.0", 120, 112),
            ("fe80::", 64, 10),
            ("2001:db8:1::", 48, 32),
            ("::", 56, 56),
            ("10.0.0.0", 6, 6),
        ] {
            assert_eq!(
                echo_scope(ip(subnet), prefix, 24),
                scope,
                "{subnet}/{prefix}"
            );
            assert!(!is_global(ip(subnet)), "{subnet}");
        }
        // Location-independent answers stay at scope 0.
        assert_eq!(echo_scope(ip("10.1.2.0"), 24, 0), 0);
    }
}
