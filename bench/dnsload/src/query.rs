//! The query file (`name type [subnet]` per line) and its queries in wire format.

use std::net::IpAddr;

/// One query ready to send: the whole message with ID 0 (the sender patches bytes 0..2)
/// and where its question section ends, to check that an answer echoes it.
#[derive(Debug, Clone)]
pub(crate) struct Query {
    pub(crate) wire: Vec<u8>,
    pub(crate) question_end: usize,
}

impl Query {
    /// The question section (name, type, class) as sent.
    pub(crate) fn question(&self) -> &[u8] {
        &self.wire[12..self.question_end]
    }
}

/// How every query of a file is wrapped.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Encoding {
    /// The EDNS UDP payload size advertised in the OPT record; None sends no OPT record
    /// (then a subnet in the file is an error, since ECS lives in OPT).
    pub(crate) edns_size: Option<u16>,
}

/// Parses a whole query file; blank lines and lines starting with `#` are skipped.
pub(crate) fn parse_file(text: &str, encoding: Encoding) -> Result<Vec<Query>, String> {
    let mut queries = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let query =
            parse_line(line, encoding).map_err(|e| format!("line {}: {e}: {line:?}", index + 1))?;
        queries.push(query);
    }
    if queries.is_empty() {
        return Err("no queries in the file".into());
    }
    Ok(queries)
}

/// `name type [subnet]`, e.g. `www.gtm.test A 81.2.69.0/24`.
pub(crate) fn parse_line(line: &str, encoding: Encoding) -> Result<Query, String> {
    let mut fields = line.split_whitespace();
    let name = fields.next().ok_or("empty line")?;
    let qtype = parse_type(fields.next().ok_or("no type")?)?;
    let subnet = fields.next().map(parse_subnet).transpose()?;
    if fields.next().is_some() {
        return Err("more than three fields".into());
    }
    if subnet.is_some() && encoding.edns_size.is_none() {
        return Err("a client subnet needs EDNS (drop --no-edns)".into());
    }
    encode(name, qtype, subnet, encoding)
}

fn parse_type(text: &str) -> Result<u16, String> {
    let known = [
        ("A", 1),
        ("NS", 2),
        ("CNAME", 5),
        ("SOA", 6),
        ("PTR", 12),
        ("MX", 15),
        ("TXT", 16),
        ("AAAA", 28),
        ("SRV", 33),
        ("ANY", 255),
        ("CAA", 257),
    ];
    let upper = text.to_ascii_uppercase();
    if let Some((_, code)) = known.iter().find(|(name, _)| *name == upper) {
        return Ok(*code);
    }
    upper
        .strip_prefix("TYPE")
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| format!("unknown type {text:?}"))
}

/// A client subnet: the address with every bit past the prefix cleared (RFC 7871 section 6
/// asks for zero bits there) and the prefix length.
fn parse_subnet(text: &str) -> Result<(IpAddr, u8), String> {
    let (addr, len) = text.split_once('/').ok_or("subnet without /prefix")?;
    let addr: IpAddr = addr
        .parse()
        .map_err(|_| format!("bad subnet address {addr:?}"))?;
    let len: u8 = len
        .parse()
        .map_err(|_| format!("bad prefix length {len:?}"))?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    if len > max {
        return Err(format!("prefix /{len} longer than {max}"));
    }
    Ok((addr, len))
}

fn encode(
    name: &str,
    qtype: u16,
    subnet: Option<(IpAddr, u8)>,
    encoding: Encoding,
) -> Result<Query, String> {
    let mut wire = Vec::with_capacity(64);
    // ID 0, no flags (RD off: these are questions for an authoritative server), one
    // question, an additional record when EDNS is on.
    let arcount = u16::from(encoding.edns_size.is_some());
    wire.extend_from_slice(&[0, 0, 0, 0, 0, 1, 0, 0, 0, 0]);
    wire.extend_from_slice(&arcount.to_be_bytes());
    encode_name(name, &mut wire)?;
    wire.extend_from_slice(&qtype.to_be_bytes());
    wire.extend_from_slice(&1u16.to_be_bytes()); // class IN
    let question_end = wire.len();
    if let Some(size) = encoding.edns_size {
        let option = subnet.map(ecs_option).unwrap_or_default();
        wire.push(0); // root owner name
        wire.extend_from_slice(&41u16.to_be_bytes()); // OPT
        wire.extend_from_slice(&size.to_be_bytes());
        wire.extend_from_slice(&[0, 0, 0, 0]); // extended rcode, version 0, no DO
        wire.extend_from_slice(&(option.len() as u16).to_be_bytes());
        wire.extend_from_slice(&option);
    }
    Ok(Query { wire, question_end })
}

fn encode_name(name: &str, wire: &mut Vec<u8>) -> Result<(), String> {
    let start = wire.len();
    for label in name
        .trim_end_matches('.')
        .split('.')
        .filter(|l| !l.is_empty())
    {
        if label.len() > 63 {
            return Err(format!("label longer than 63 bytes in {name:?}"));
        }
        wire.push(label.len() as u8);
        wire.extend_from_slice(label.as_bytes());
    }
    wire.push(0);
    if wire.len() - start > 255 {
        return Err(format!("name longer than 255 bytes: {name:?}"));
    }
    Ok(())
}

/// The EDNS Client Subnet option (RFC 7871 section 6): code 8, FAMILY, SOURCE PREFIX,
/// SCOPE PREFIX 0 and ADDRESS cut to ceil(prefix / 8) bytes, since servers may answer
/// FORMERR to more or fewer address bytes.
fn ecs_option((addr, len): (IpAddr, u8)) -> Vec<u8> {
    let (family, bytes): (u16, Vec<u8>) = match addr {
        IpAddr::V4(v4) => (1, v4.octets().to_vec()),
        IpAddr::V6(v6) => (2, v6.octets().to_vec()),
    };
    let keep = usize::from(len).div_ceil(8);
    let mut address = bytes[..keep].to_vec();
    if len % 8 != 0
        && let Some(last) = address.last_mut()
    {
        *last &= 0xffu8 << (8 - len % 8);
    }
    let mut option = Vec::with_capacity(8 + keep);
    option.extend_from_slice(&8u16.to_be_bytes());
    option.extend_from_slice(&((4 + keep) as u16).to_be_bytes());
    option.extend_from_slice(&family.to_be_bytes());
    option.push(len);
    option.push(0);
    option.extend_from_slice(&address);
    option
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const EDNS: Encoding = Encoding {
        edns_size: Some(1232),
    };

    #[test]
    fn ipv4_subnet_is_cut_to_three_bytes() {
        let query = parse_line("www.gtm.test A 81.2.69.0/24", EDNS).unwrap();
        // the same bytes as bench/dns.sh's "-E 8:00011800510245"
        assert!(
            query
                .wire
                .ends_with(&[0, 8, 0, 7, 0, 1, 24, 0, 0x51, 0x02, 0x45])
        );
        assert_eq!(
            query.question(),
            b"\x03www\x03gtm\x04test\x00\x00\x01\x00\x01"
        );
        assert_eq!(&query.wire[10..12], &[0, 1]);
    }

    #[test]
    fn bits_past_the_prefix_are_cleared() {
        let query = parse_line("x.gtm.test AAAA 2001:db8:ffff:ffff::/50", EDNS).unwrap();
        assert!(query.wire.ends_with(&[
            0, 8, 0, 11, 0, 2, 50, 0, 0x20, 0x01, 0x0d, 0xb8, 0xff, 0xff, 0xc0
        ]));
    }

    #[test]
    fn no_subnet_means_an_empty_opt() {
        let query = parse_line("gtm.test NS", EDNS).unwrap();
        assert!(
            query
                .wire
                .ends_with(&[0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0])
        );
        let plain = parse_line("gtm.test NS", Encoding { edns_size: None }).unwrap();
        assert_eq!(plain.wire.len(), plain.question_end);
    }

    #[test]
    fn bad_lines_are_refused() {
        assert!(parse_line("www.gtm.test BOGUS", EDNS).is_err());
        assert!(parse_line("www.gtm.test A 1.2.3.0/33", EDNS).is_err());
        assert!(parse_line("www.gtm.test A 1.2.3.0/24", Encoding { edns_size: None }).is_err());
        assert_eq!(parse_type("TYPE65").unwrap(), 65);
    }
}
