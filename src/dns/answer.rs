//! Authoritative answers: from a parsed request to a [`Reply`], for UDP and TCP alike.

use hickory_proto::op::{Edns, Metadata, OpCode, ResponseCode};
use hickory_proto::rr::rdata::opt::{ClientSubnet, EdnsOption};
use hickory_proto::rr::rdata::{A, AAAA, CNAME};
use hickory_proto::rr::{DNSClass, LowerName, Name, RData, Record, RecordType};
use hickory_server::server::Request;

use super::ecs;
use super::zone::ZoneData;
use crate::decision::{Decider, Decision};
use crate::geo::{ClientAddress, ClientSource};
use crate::region::Family;
use crate::steering::Choice;

/// The EDNS payload size we advertise and the largest UDP reply we send (DNS Flag Day 2020).
pub(crate) const SERVER_PAYLOAD: u16 = 1232;

/// Longest CNAME chain followed inside the zone; a loop ends here too.
const MAX_CNAME_CHAIN: usize = 8;

/// TTL of an answer given while every candidate region is down, so that clients come back
/// for a better one as soon as a region recovers.
const FAIL_OPEN_TTL: u32 = 5;

/// What a reply depends on besides the query itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dependence {
    /// The same for every client.
    Fixed,
    /// Steered: the records are the chosen region's.
    Steered(Option<Choice>),
}

/// A response before encoding.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) metadata: Metadata,
    pub(crate) answers: Vec<Record>,
    pub(crate) authorities: Vec<Record>,
    pub(crate) additionals: Vec<Record>,
    pub(crate) edns: Option<Edns>,
    pub(crate) dependence: Dependence,
}

impl Reply {
    /// An empty reply to `request` with `code`, carrying an OPT record if the query had one.
    pub(crate) fn empty(
        request: &Metadata,
        request_edns: Option<&Edns>,
        code: ResponseCode,
    ) -> Self {
        let mut metadata = Metadata::response_from_request(request);
        metadata.response_code = code;
        Self {
            metadata,
            answers: Vec::new(),
            authorities: Vec::new(),
            additionals: Vec::new(),
            edns: request_edns.map(|edns| server_edns(edns.flags().dnssec_ok)),
            dependence: Dependence::Fixed,
        }
    }

    /// The largest encoding the client accepts over UDP: its advertised payload, at most ours,
    /// and never under the 512 bytes every client takes (RFC 6891 section 6.2.5).
    pub(crate) fn udp_limit(request_edns: Option<&Edns>) -> u16 {
        request_edns.map_or(512, |edns| edns.max_payload().clamp(512, SERVER_PAYLOAD))
    }
}

fn server_edns(dnssec_ok: bool) -> Edns {
    let mut edns = Edns::new();
    edns.set_max_payload(SERVER_PAYLOAD);
    edns.set_version(0);
    // RFC 3225 section 3: the DO bit is copied from the query.
    edns.set_dnssec_ok(dnssec_ok);
    edns
}

/// The zone and the steering decision: everything needed to answer.
#[derive(Debug)]
pub(crate) struct Answerer {
    pub(crate) zone: ZoneData,
    pub(crate) decider: Decider,
    /// Distinguishes answerers in the per-thread reply cache.
    pub(crate) id: u64,
}

static ANSWERER_IDS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

impl Answerer {
    pub(crate) fn new(zone: ZoneData, decider: Decider) -> Self {
        Self {
            zone,
            decider,
            id: ANSWERER_IDS.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        }
    }
}

impl Answerer {
    pub(crate) fn answer(&self, request: &Request) -> Reply {
        let request_edns = request.edns.as_ref();
        let fail = |code| Reply::empty(&request.metadata, request_edns, code);
        if request_edns.is_some_and(|edns| edns.version() != 0) {
            // RFC 6891 section 6.1.3: BADVERS, with our (version 0) OPT.
            return fail(ResponseCode::BADVERS);
        }
        if request.metadata.op_code != OpCode::Query {
            return fail(ResponseCode::NotImp);
        }
        let subnet = match ecs::from_query(request_edns, request.as_slice()) {
            Ok(subnet) => subnet,
            Err(_) => return fail(ResponseCode::FormErr),
        };
        let [query] = request.queries.queries() else {
            return fail(ResponseCode::FormErr);
        };
        let mut reply = fail(ResponseCode::NoError);
        // Location-independent unless steering says otherwise (RFC 7871 section 7.2.1).
        let mut scope = 0;
        let qname = query.name();
        let qtype = query.query_type();
        if query.query_class() != DNSClass::IN || !self.zone.apex.zone_of(qname) {
            // Never an open resolver, and no other class is served.
            reply.metadata.response_code = ResponseCode::Refused;
        } else if matches!(qtype, RecordType::AXFR | RecordType::IXFR) {
            // Zone transfers are not offered: every node builds the zone from config.
            reply.metadata.response_code = ResponseCode::Refused;
        } else {
            reply.metadata.authoritative = true;
            let client = ClientAddress::select(
                subnet.map(|subnet| (subnet.addr(), subnet.source_prefix())),
                request.src().ip(),
            );
            scope = self.resolve(qname, query.original().name(), qtype, client, &mut reply);
        }
        if let (Some(edns), Some(subnet)) = (reply.edns.as_mut(), subnet) {
            echo_subnet(edns, &subnet, scope);
        }
        reply
    }

    /// Fills answers (following in-zone CNAMEs), or NXDOMAIN/NODATA with the SOA. Returns the
    /// ECS scope of what was answered.
    fn resolve(
        &self,
        qname: &LowerName,
        original: &Name,
        qtype: RecordType,
        client: ClientAddress,
        reply: &mut Reply,
    ) -> u8 {
        let mut current = qname.clone();
        // The first owner keeps the query's letter case (DNS 0x20 randomisation).
        let mut owner = original.clone();
        for _ in 0..MAX_CNAME_CHAIN {
            let Some(node) = self.zone.nodes.get(&current) else {
                // RFC 6604: the code describes the last name of the chain.
                reply.metadata.response_code = ResponseCode::NXDomain;
                reply.authorities.push(self.zone.negative_soa.clone());
                return 0;
            };
            if let Some(ttl) = node.steered_ttl
                && matches!(qtype, RecordType::A | RecordType::AAAA | RecordType::ANY)
            {
                let before = reply.answers.len();
                let scope = self.steer(qtype, &owner, ttl, client, reply);
                if reply.answers.len() == before {
                    // NODATA, possibly at the end of a CNAME chain: the SOA says for how long.
                    reply.authorities.push(self.zone.negative_soa.clone());
                }
                return scope;
            }
            if qtype != RecordType::CNAME
                && let Some([cname]) = node.rrset(RecordType::CNAME)
                && let RData::CNAME(CNAME(target)) = &cname.data
            {
                reply.answers.push(with_owner(cname, &owner));
                if !self.zone.apex.zone_of(&LowerName::new(target)) {
                    // The resolver follows names outside the zone itself.
                    return 0;
                }
                current = LowerName::new(target);
                owner = target.clone();
                continue;
            }
            let rrset = match qtype {
                // RFC 8482: answer ANY with one RRset, not everything.
                RecordType::ANY => node.rrsets.first().map(|(_, records)| records.as_slice()),
                _ => node.rrset(qtype),
            };
            match rrset {
                Some(records) => {
                    reply
                        .answers
                        .extend(records.iter().map(|record| with_owner(record, &owner)));
                    if qtype == RecordType::NS && current == self.zone.apex {
                        reply.additionals.extend(self.zone.glue().cloned());
                    }
                }
                None => reply.authorities.push(self.zone.negative_soa.clone()),
            }
            return 0;
        }
        // A chain longer than we follow: answer what we have, the resolver continues.
        0
    }

    /// A or AAAA of a steered name from the chosen region. Returns the ECS scope.
    fn steer(
        &self,
        qtype: RecordType,
        owner: &Name,
        ttl: u32,
        client: ClientAddress,
        reply: &mut Reply,
    ) -> u8 {
        let family = self.family_for(qtype);
        let decision = self.decider.decide(client, family);
        let scope = steered_scope(&decision);
        reply.dependence = Dependence::Steered(decision.choice);
        let Some(choice) = decision.choice else {
            return scope;
        };
        let config = self.decider.config();
        let region = config.region(choice.region);
        let ttl = if choice.fail_open {
            ttl.min(FAIL_OPEN_TTL)
        } else {
            ttl
        };
        let max = config.answer.max_addresses;
        match family {
            Family::V4 => reply.answers.extend(
                region
                    .ipv4
                    .iter()
                    .take(max)
                    .map(|addr| Record::from_rdata(owner.clone(), ttl, RData::A(A(*addr)))),
            ),
            Family::V6 => {
                reply.answers.extend(
                    region.ipv6.iter().take(max).map(|addr| {
                        Record::from_rdata(owner.clone(), ttl, RData::AAAA(AAAA(*addr)))
                    }),
                )
            }
        }
        scope
    }

    /// The family a steered name answers `qtype` with: A for A, AAAA for AAAA, and for ANY
    /// (one RRset, RFC 8482) A unless no region has IPv4 addresses.
    pub(crate) fn family_for(&self, qtype: RecordType) -> Family {
        let regions = &self.decider.config().regions;
        match qtype {
            RecordType::AAAA => Family::V6,
            RecordType::ANY if !regions.iter().any(|region| region.serves(Family::V4)) => {
                Family::V6
            }
            _ => Family::V4,
        }
    }
}

/// The ECS scope of a steered answer. When an unusable subnet (private, say) made us answer
/// for the packet source, the answer holds for that subnet only: a global subnet would have
/// been steered. Scope 0 there would let a resolver hand it to all its clients.
pub(crate) fn steered_scope(decision: &Decision) -> u8 {
    match decision.client.source {
        ClientSource::Ecs => decision.scope_prefix,
        ClientSource::Packet => decision.client.ecs_source_prefix.unwrap_or(0),
    }
}

fn with_owner(record: &Record, owner: &Name) -> Record {
    let mut record = record.clone();
    record.name = owner.clone();
    record
}

fn echo_subnet(edns: &mut Edns, subnet: &ClientSubnet, scope: u8) {
    edns.options_mut()
        .insert(EdnsOption::Subnet(ecs::echo(subnet, scope)));
}
