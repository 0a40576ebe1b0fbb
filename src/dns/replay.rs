//! The reply cache of the UDP path: replies that the full path (`answer::answer`) built are
//! replayed for later queries that differ only in what can be patched in.
//!
//! Without its OPT record, a reply depends on the view, the question (letter case aside),
//! whether the query had EDNS, and for steered names on the [`SteeredAnswer`] the reply is
//! rendered from (source: region, fallback addresses, NODATA or SERVFAIL; family, TTL,
//! count: the whole shape, so no answer rule can make the cache replay stale bytes). The rest is patched per
//! query: the ID, the RD bit (CD is never set in responses), the question's letter case (owners point at the
//! question, so they follow it) and the OPT record (DO bit, ECS echo), rebuilt at the end.
//! Truncated replies are never kept, and a kept reply is replayed only when it fits the
//! query's buffer: the full path would have sent the very same records.
//! Only plain queries take this path; anything unusual goes the full way, so the cache can
//! only ever repeat what the full path said. Entries never go stale: each thread's cache
//! belongs to one view generation and starts over when a new view is published. Every
//! query is placed (steering map, CIDR rules); within a view a place's answer is decided
//! once (`Placed`), a spread's for every query, and the ECS scope for every client.

use std::cell::RefCell;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::rc::Rc;

use hickory_proto::op::{Header, Query};
use hickory_proto::rr::rdata::opt::ClientSubnet;
use hickory_proto::rr::{LowerName, RecordType};
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder};
use rustc_hash::FxHashMap;
use smallvec::SmallVec;

use super::answer::{Asked, AskedEdns, AskedQuestion, Dependence, SERVER_PAYLOAD, steered_labels};
use super::cookie::{self, Judged};
use crate::decision::{self, Located, SteeredAnswer};
use crate::geo::{ClientAddress, ClientSource};
use crate::steering::Route;
use crate::telemetry::dns::Steered;
use crate::view::View;

/// Questions kept per thread; past this a cache admits nothing new until the next view.
const CACHE_LIMIT: usize = 8192;

/// Longest question kept: a 255-byte name plus type and class.
const MAX_QUESTION: usize = 259;

/// The ECS option of a query, checked as strictly as the full path checks it.
#[derive(Debug, Clone, Copy)]
struct Subnet {
    family: u16,
    source_prefix: u8,
    addr: IpAddr,
    /// Address bytes on the wire: ceil(source_prefix / 8).
    addr_len: u8,
}

/// The OPT record of a plain query.
#[derive(Debug, Clone, Copy)]
struct QueryEdns {
    /// The UDP size the reply is held to.
    limit: u16,
    dnssec_ok: bool,
    subnet: Option<Subnet>,
    cookie: Option<Span>,
}

/// Where the COOKIE option's data is in the packet, and how long it is.
type Span = (usize, usize);

/// A query in the one shape the cache serves: one question, at most an OPT with at most ECS
/// and a DNS cookie of a well-formed length.
#[derive(Debug)]
pub(crate) struct PlainQuery<'a> {
    packet: &'a [u8],
    question_len: usize,
    edns: Option<QueryEdns>,
}

/// Reads `packet` if it is a plain query; `None` sends it the full way.
pub(crate) fn parse(packet: &[u8]) -> Option<PlainQuery<'_>> {
    let header = packet.get(..12)?;
    // QR=0, opcode QUERY, TC=0; RCODE 0; QD=1, AN=0, NS=0, AR<=1.
    if header[2] & 0xfa != 0 || header[3] & 0x0f != 0 || header[4..10] != [0, 1, 0, 0, 0, 0] {
        return None;
    }
    let additional = u16::from_be_bytes([header[10], header[11]]);
    let mut at = 12;
    loop {
        let len = usize::from(*packet.get(at)?);
        at += 1;
        match len {
            0 => break,
            // Compression pointers and reserved label types take the full way.
            64.. => return None,
            _ => at += len,
        }
    }
    let question_len = at + 4 - 12;
    if question_len > MAX_QUESTION || packet.len() < at + 4 {
        return None;
    }
    at += 4;
    let edns = match additional {
        0 => None,
        1 => Some(parse_opt(packet, at)?),
        _ => return None,
    };
    if edns.is_none() && packet.len() != at {
        return None;
    }
    Some(PlainQuery {
        packet,
        question_len,
        edns,
    })
}

/// An OPT record ending the packet: version 0, no extended RCODE, at most an ECS option and
/// a DNS cookie.
fn parse_opt(packet: &[u8], at: usize) -> Option<QueryEdns> {
    let opt = packet.get(at..at + 11)?;
    if opt[..3] != [0, 0, 41] || opt[5] != 0 || opt[6] != 0 {
        return None;
    }
    let payload = u16::from_be_bytes([opt[3], opt[4]]);
    let rdata_len = usize::from(u16::from_be_bytes([opt[9], opt[10]]));
    let rdata = packet.get(at + 11..)?;
    if rdata.len() != rdata_len {
        return None;
    }
    let (subnet, cookie) = options(rdata, at + 11)?;
    Some(QueryEdns {
        limit: payload.clamp(512, SERVER_PAYLOAD),
        dnssec_ok: opt[7] & 0x80 != 0,
        subnet,
        cookie,
    })
}

/// The options of a plain query's OPT, which starts at `base` in the packet: at most one
/// ECS option and one DNS cookie (RFC 7873: a client cookie of 8 bytes, with or without a
/// server cookie of 8 to 32), found where it is. `None`: anything else, or either twice
/// (two ECS options or a cookie of another length are a FORMERR, the full path's business).
fn options(mut rdata: &[u8], base: usize) -> Option<(Option<Subnet>, Option<Span>)> {
    let (mut subnet, mut cookie) = (None, None);
    let mut at = base;
    while !rdata.is_empty() {
        let [code_high, code_low, len_high, len_low, rest @ ..] = rdata else {
            return None;
        };
        let len = usize::from(u16::from_be_bytes([*len_high, *len_low]));
        let body = rest.get(..len)?;
        match u16::from_be_bytes([*code_high, *code_low]) {
            8 if subnet.is_none() => subnet = Some(parse_subnet(body)?),
            10 if cookie.is_none() && cookie::well_formed(len) => {
                cookie = Some((at + 4, len));
            }
            _ => return None,
        }
        rdata = &rest[len..];
        at += 4 + len;
    }
    Some((subnet, cookie))
}

fn parse_subnet(option: &[u8]) -> Option<Subnet> {
    let [family_high, family_low, source_prefix, _scope, address @ ..] = option else {
        return None;
    };
    let family = u16::from_be_bytes([*family_high, *family_low]);
    let width = match family {
        1 => 32,
        2 => 128,
        _ => return None,
    };
    let addr_len = source_prefix.div_ceil(8);
    if *source_prefix > width || address.len() != usize::from(addr_len) {
        return None;
    }
    // Bits beyond the source prefix must be zero (else FORMERR, the full path's business).
    if let Some(last) = address.last()
        && source_prefix % 8 != 0
        && last & (0xff >> (source_prefix % 8)) != 0
    {
        return None;
    }
    let addr = if family == 1 {
        let mut octets = [0u8; 4];
        octets[..address.len()].copy_from_slice(address);
        IpAddr::V4(Ipv4Addr::from(octets))
    } else {
        let mut octets = [0u8; 16];
        octets[..address.len()].copy_from_slice(address);
        IpAddr::V6(Ipv6Addr::from(octets))
    };
    Some(Subnet {
        family,
        source_prefix: *source_prefix,
        addr,
        addr_len,
    })
}

/// A query's question with its name in lower case, and whether it had EDNS: what a kept
/// reply is for. Built per query on the stack, never zeroed first (a `[u8; 260]` was: the
/// largest single userspace cost of a cached answer).
pub(crate) struct Key {
    bytes: SmallVec<[u8; MAX_QUESTION + 1]>,
    name_len: usize,
}

impl Key {
    fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The question's name in lower case, wire form.
    pub(crate) fn lower_name(&self) -> &[u8] {
        &self.bytes[..self.name_len]
    }
}

impl PlainQuery<'_> {
    /// The data of the query's COOKIE option.
    pub(crate) fn cookie(&self) -> Option<&[u8]> {
        let (at, len) = self.edns?.cookie?;
        self.packet.get(at..at + len)
    }

    /// The question as it came: name, type, class.
    pub(crate) fn question(&self) -> &[u8] {
        &self.packet[12..12 + self.question_len]
    }

    /// The cache key: the question with its name in lower case, and whether there was EDNS.
    pub(crate) fn key(&self) -> Key {
        let question = self.question();
        let name_len = question.len() - 4;
        // `parse` bounds the question by MAX_QUESTION: the bytes stay inline.
        let mut bytes = SmallVec::new();
        bytes.extend_from_slice(question);
        bytes[..name_len].make_ascii_lowercase();
        // Type and class as they are: 0x41 (HTTPS) is not 0x61.
        bytes.push(u8::from(self.edns.is_some()));
        Key { bytes, name_len }
    }

    /// What the full path needs of this query, from this reading: the header and the one
    /// question decoded as hickory decodes them, the OPT record and ECS option as read here.
    /// No copy of the packet and no parse of the rest of it.
    pub(crate) fn asked(&self, src: SocketAddr, cookie: Option<Judged>) -> Option<Asked> {
        let header = Header::read(&mut BinDecoder::new(&self.packet[..12])).ok()?;
        let query = Query::read(&mut BinDecoder::new(self.question())).ok()?;
        let subnet = self.edns.and_then(|edns| edns.subnet);
        Some(Asked {
            metadata: header.metadata,
            edns: self.edns.map(|edns| AskedEdns {
                version: 0,
                dnssec_ok: edns.dnssec_ok,
                max_payload: edns.limit,
                nsid: false,
            }),
            subnet: Ok(subnet.map(|subnet| ClientSubnet::new(subnet.addr, subnet.source_prefix, 0))),
            cookie: Ok(cookie),
            question: Some(AskedQuestion {
                name: LowerName::new(query.name()),
                original: query.name().clone(),
                qtype: query.query_type(),
                class: query.query_class(),
            }),
            src,
        })
    }

    /// The question's type and class.
    pub(crate) fn type_and_class(&self) -> (u16, u16) {
        let question = self.question();
        let at = question.len() - 4;
        (
            u16::from_be_bytes([question[at], question[at + 1]]),
            u16::from_be_bytes([question[at + 2], question[at + 3]]),
        )
    }

    /// The question's type.
    pub(crate) fn record_type(&self) -> RecordType {
        let question = self.question();
        let at = question.len() - 4;
        RecordType::from(u16::from_be_bytes([question[at], question[at + 1]]))
    }

    fn client(&self, source: SocketAddr) -> ClientAddress {
        let subnet = self.edns.and_then(|edns| edns.subnet);
        ClientAddress::select(subnet.map(|s| (s.addr, s.source_prefix)), source.ip())
    }

    /// Length of the OPT record the reply to this query ends with, `cookie`: whether it
    /// carries a COOKIE option.
    pub(crate) fn opt_len(&self, cookie: Option<&Judged>) -> usize {
        let Some(edns) = self.edns else {
            return 0;
        };
        let subnet = edns
            .subnet
            .map_or(0, |subnet| 8 + usize::from(subnet.addr_len));
        11 + subnet + cookie.map_or(0, |_| cookie::REPLY_OPTION_LEN)
    }

    /// The largest reply this query may get over UDP.
    pub(crate) fn udp_limit(&self) -> usize {
        usize::from(self.edns.map_or(512, |edns| edns.limit))
    }
}

#[derive(Debug)]
enum Entry {
    Fixed(Box<[u8]>),
    /// Keyed by the whole shape the records were rendered from; `service` (an index into
    /// `Config::services`) is the steered name whose settings the shape is computed from.
    Steered {
        service: usize,
        by_shape: FxHashMap<SteeredAnswer, Rc<[u8]>>,
        /// What the clients of one place get, by [`place_key`]: within one view, a
        /// place's order, the health and the name's settings decide the answer, so it is
        /// decided once per place (a spread aside, which each client's block decides).
        by_place: FxHashMap<u64, Placed>,
    },
}

/// The decided answer for every client of one place (map leaf and CIDR rule).
#[derive(Debug)]
enum Placed {
    Reply {
        bytes: Rc<[u8]>,
        /// Whether a region was chosen (else the answer has no scope).
        chosen: bool,
        labels: Steered,
    },
    /// A spread: decided per client.
    PerClient,
}

/// Places remembered per steered question: maps have a few dozen leaves, configs a few
/// hundred rules at most; past this, further places are decided per query.
const PLACES: usize = 4096;

/// A place as one number: map leaf and CIDR rule, each plus one (zero for none).
fn place_key(located: &Located) -> u64 {
    let index = |index: Option<usize>| index.map_or(0, |index| index as u64 + 1);
    index(located.leaf) | index(located.cidr.rule) << 32
}

/// The view generation the entries belong to, and the entries.
type Cache = (u64, FxHashMap<Box<[u8]>, Entry>);

thread_local! {
    static CACHE: RefCell<Cache> = RefCell::new((0, FxHashMap::default()));
}

/// Writes the reply to `query` into `out` from the cache: `None` on a miss, else the
/// metrics labels of a steered answer (`Some(None)` for a fixed one).
/// `limit`: the largest reply the transport takes (the query's UDP size, or 65535 on TCP).
pub(crate) fn replay(
    query: &PlainQuery<'_>,
    key: &Key,
    source: SocketAddr,
    view: &View,
    limit: usize,
    cookie: Option<&Judged>,
    out: &mut Vec<u8>,
) -> Option<Option<Steered>> {
    CACHE.with(|cache| {
        let (generation, entries) = &mut *cache.borrow_mut();
        if *generation != view.generation {
            return None;
        }
        let (bytes, scope, steered, client) = match entries.get_mut(key.bytes())? {
            Entry::Fixed(bytes) => (&**bytes, 0, None, None),
            Entry::Steered {
                service,
                by_shape,
                by_place,
            } => {
                let client = query.client(source);
                let located = decision::locate(view, client.addr);
                let place = place_key(&located);
                if let Some(Placed::Reply {
                    bytes,
                    chosen,
                    labels,
                }) = by_place.get(&place)
                {
                    let scope = decision::placed_scope(&client, &located, *chosen);
                    (&**bytes, scope, Some(*labels), Some(client))
                } else {
                    let family = view.family_for(query.record_type());
                    let decision = decision::decide_at(view, client, located, family);
                    let shape = decision.steered_answer(view, family, *service);
                    let bytes = by_shape.get(&shape)?;
                    let labels = steered_labels(view, &shape, &decision);
                    if by_place.len() < PLACES {
                        let spread = matches!(
                            decision.choice.map(|choice| choice.route),
                            Some(Route::Spread(_))
                        );
                        by_place.insert(
                            place,
                            if spread {
                                Placed::PerClient
                            } else {
                                Placed::Reply {
                                    bytes: bytes.clone(),
                                    chosen: decision.choice.is_some(),
                                    labels,
                                }
                            },
                        );
                    }
                    (
                        &**bytes,
                        decision.steered_scope(),
                        Some(labels),
                        Some(decision.client),
                    )
                }
            }
        };
        if bytes.len() + query.opt_len(cookie) > limit {
            // Would not fit this client's buffer: the full path truncates.
            return None;
        }
        out.clear();
        out.extend_from_slice(bytes);
        patch(query, scope, client.as_ref(), cookie, out);
        Some(steered)
    })
}

/// Makes cached bytes this query's reply: ID, RD/CD, question case, OPT with the ECS echo
/// and the COOKIE option (in the full path's order). `scope`: the answer's scope, and the
/// client the query placed (`None` when the location did not shape the answer, `scope` 0).
pub(crate) fn patch(
    query: &PlainQuery<'_>,
    scope: u8,
    client: Option<&ClientAddress>,
    cookie: Option<&Judged>,
    out: &mut Vec<u8>,
) {
    let packet = query.packet;
    out[..2].copy_from_slice(&packet[..2]);
    out[2] = (out[2] & !0x01) | (packet[2] & 0x01);
    out[12..12 + query.question_len].copy_from_slice(query.question());
    let Some(edns) = query.edns else {
        return;
    };
    let additional = u16::from_be_bytes([out[10], out[11]]).saturating_add(1);
    out[10..12].copy_from_slice(&additional.to_be_bytes());
    out.extend_from_slice(&[0, 0, 41]);
    out.extend_from_slice(&SERVER_PAYLOAD.to_be_bytes());
    // Extended RCODE and version 0; DO copied from the query (RFC 3225 section 3).
    out.extend_from_slice(&[0, 0, if edns.dnssec_ok { 0x80 } else { 0 }, 0]);
    let options_len = query.opt_len(cookie) - 11;
    out.extend_from_slice(&u16::try_from(options_len).unwrap_or(0).to_be_bytes());
    match edns.subnet {
        None => {}
        Some(subnet) => {
            let option_len = 4 + u16::from(subnet.addr_len);
            out.extend_from_slice(&[0, 8]);
            out.extend_from_slice(&option_len.to_be_bytes());
            out.extend_from_slice(&subnet.family.to_be_bytes());
            out.push(subnet.source_prefix);
            // The client was placed by this subnet if it was usable: no second check.
            out.push(match client {
                Some(client) => decision::echo_scope_of(
                    subnet.addr,
                    subnet.source_prefix,
                    scope,
                    client.source == ClientSource::Ecs,
                ),
                None => super::ecs::echo_scope(subnet.addr, subnet.source_prefix, scope),
            });
            let len = usize::from(subnet.addr_len);
            match subnet.addr {
                IpAddr::V4(v4) => out.extend_from_slice(&v4.octets()[..len]),
                IpAddr::V6(v6) => out.extend_from_slice(&v6.octets()[..len]),
            }
        }
    }
    if let Some(cookie) = cookie {
        cookie::write_option(&cookie.reply, out);
    }
}

/// Keeps the reply the full path wrote into `out` for `query`, without its OPT record.
///
/// Only what is asked again is kept: steered answers (by shape, so a bounded few per name)
/// and fixed answers with records. Negative answers and refusals are written from a
/// template (`negative.rs`), or would only push out what is asked. A full cache admits
/// nothing new and keeps what it holds; it starts over with the next view.
pub(crate) fn remember(
    query: &PlainQuery<'_>,
    key: &Key,
    view: &View,
    dependence: Dependence,
    cookie: Option<&Judged>,
    reply: &[u8],
) {
    let positive = reply.len() >= 12 && reply[3] & 0x0f == 0 && reply[6..8] != [0, 0];
    if dependence == Dependence::Fixed && !positive {
        return;
    }
    let opt_len = query.opt_len(cookie);
    let Some(body_len) = reply.len().checked_sub(opt_len) else {
        return;
    };
    // The OPT must be where we expect it, or the reply is not one we can rebuild. A truncated
    // reply is not kept: whether records fit depends on the letter case of the question
    // (names compress against it only when the case matches) and on the buffer size.
    if body_len < 12
        || reply[2] & 0x02 != 0
        || (opt_len > 0 && reply[body_len..body_len + 3] != [0, 0, 41])
    {
        return;
    }
    let mut body = reply[..body_len].to_vec();
    if opt_len > 0 {
        let additional = u16::from_be_bytes([body[10], body[11]]).saturating_sub(1);
        body[10..12].copy_from_slice(&additional.to_be_bytes());
    }
    CACHE.with(|cache| {
        let (generation, entries) = &mut *cache.borrow_mut();
        if *generation != view.generation {
            entries.clear();
            *generation = view.generation;
        }
        if entries.len() >= CACHE_LIMIT && !entries.contains_key(key.bytes()) {
            return;
        }
        let key: Box<[u8]> = key.bytes().into();
        match dependence {
            Dependence::Fixed => {
                entries.insert(key, Entry::Fixed(body.into()));
            }
            Dependence::Steered { service, shape } => {
                let entry = entries.entry(key).or_insert_with(|| Entry::Steered {
                    service,
                    by_shape: FxHashMap::default(),
                    by_place: FxHashMap::default(),
                });
                if let Entry::Steered { by_shape, .. } = entry {
                    by_shape.insert(shape, body.into());
                }
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `www.gtm.test A IN` with the given header counts, then `tail`.
    fn packet(additional: u8, tail: &[u8]) -> Vec<u8> {
        let mut packet = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, additional];
        packet.extend_from_slice(b"\x03www\x03gtm\x04test\x00\x00\x01\x00\x01");
        packet.extend_from_slice(tail);
        packet
    }

    fn opt(payload: u16, options: &[u8]) -> Vec<u8> {
        let mut rr = vec![0, 0, 41];
        rr.extend_from_slice(&payload.to_be_bytes());
        rr.extend_from_slice(&[0, 0, 0, 0]);
        rr.extend_from_slice(&u16::try_from(options.len()).unwrap_or(0).to_be_bytes());
        rr.extend_from_slice(options);
        rr
    }

    #[test]
    fn plain_shapes_are_taken() {
        let plain = packet(0, &[]);
        let query = parse(&plain).unwrap_or_else(|| panic!("no EDNS"));
        assert_eq!((query.udp_limit(), query.opt_len(None)), (512, 0));
        let edns = packet(1, &opt(4096, &[]));
        let query = parse(&edns).unwrap_or_else(|| panic!("EDNS"));
        assert_eq!((query.udp_limit(), query.opt_len(None)), (1232, 11));
        let with_ecs = packet(1, &opt(1232, &[0, 8, 0, 7, 0, 1, 24, 0, 81, 2, 69]));
        let query = parse(&with_ecs).unwrap_or_else(|| panic!("ECS"));
        assert_eq!(query.opt_len(None), 11 + 8 + 3);
        assert_eq!(query.record_type(), RecordType::A);
        // A DNS cookie beside ECS, either order: found where it is, and the reply's OPT
        // carries one when cookies are on.
        let cookie = [0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8];
        let ecs = [0, 8, 0, 7, 0, 1, 24, 0, 81, 2, 69];
        for options in [
            [&cookie[..], &ecs[..]].concat(),
            [&ecs[..], &cookie[..]].concat(),
        ] {
            let with_cookie = packet(1, &opt(1232, &options));
            let query = parse(&with_cookie).unwrap_or_else(|| panic!("cookie"));
            assert_eq!(query.opt_len(None), 11 + 8 + 3);
            assert_eq!(query.cookie(), Some(&[1, 2, 3, 4, 5, 6, 7, 8][..]));
            let judged = Judged {
                reply: [0; cookie::REPLY_LEN],
                proven: false,
            };
            assert_eq!(query.opt_len(Some(&judged)), 11 + 8 + 3 + 28);
        }
        let server_cookie = packet(1, &opt(1232, &[&[0, 10, 0, 24][..], &[7; 24]].concat()));
        let query = parse(&server_cookie).unwrap_or_else(|| panic!("client and server cookie"));
        assert_eq!(query.cookie(), Some(&[7; 24][..]));
    }

    #[test]
    fn everything_else_takes_the_full_path() {
        let mut response = packet(0, &[]);
        response[2] |= 0x80;
        let mut notify = packet(0, &[]);
        notify[2] |= 4 << 3;
        let mut two_questions = packet(0, &[]);
        two_questions[5] = 2;
        let mut pointer = packet(0, &[]);
        pointer.splice(12..13, [0xc0, 0x0c]);
        let shapes: Vec<(&str, Vec<u8>)> = vec![
            ("response", response),
            ("opcode", notify),
            ("two questions", two_questions),
            ("compressed name", pointer),
            ("trailing bytes", packet(0, &[0])),
            (
                "two additionals",
                packet(2, &[opt(1232, &[]), opt(1232, &[])].concat()),
            ),
            ("EDNS version 1", {
                let mut rr = opt(1232, &[]);
                rr[6] = 1;
                packet(1, &rr)
            }),
            (
                "short cookie",
                packet(1, &opt(1232, &[0, 10, 0, 3, 1, 2, 3])),
            ),
            (
                "two cookies",
                packet(
                    1,
                    &opt(1232, &[[0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8]; 2].concat()),
                ),
            ),
            (
                "two ECS options",
                packet(
                    1,
                    &opt(1232, &[[0, 8, 0, 7, 0, 1, 24, 0, 81, 2, 69]; 2].concat()),
                ),
            ),
            ("NSID", packet(1, &opt(1232, &[0, 3, 0, 0]))),
            (
                "ECS host bits",
                packet(1, &opt(1232, &[0, 8, 0, 7, 0, 1, 20, 0, 81, 2, 69])),
            ),
            (
                "ECS surplus byte",
                packet(1, &opt(1232, &[0, 8, 0, 8, 0, 1, 24, 0, 81, 2, 69, 1])),
            ),
            (
                "ECS family 3",
                packet(1, &opt(1232, &[0, 8, 0, 7, 0, 3, 24, 0, 81, 2, 69])),
            ),
            ("short OPT", packet(1, &opt(1232, &[])[..8])),
            ("short", vec![0; 11]),
        ];
        for (what, packet) in shapes {
            assert!(parse(&packet).is_none(), "{what} was taken");
        }
    }
}
