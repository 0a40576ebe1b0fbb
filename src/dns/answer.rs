//! Authoritative answers: from what a query asks ([`Asked`]) to a [`Reply`], for UDP and
//! TCP alike.

use std::net::SocketAddr;

use hickory_proto::op::{Edns, Metadata, OpCode, ResponseCode};
use hickory_proto::rr::rdata::opt::{ClientSubnet, EdnsCode, EdnsOption, NSIDPayload};
use hickory_proto::rr::rdata::{CNAME, NS, PTR, TXT};
use hickory_proto::rr::{DNSClass, LowerName, Name, RData, Record, RecordType};
use hickory_server::server::Request;

use super::cookie::{self, Judged, Malformed, Secrets};
use super::ecs;
use crate::decision::{self, Decision, SteeredAnswer};
use crate::geo::ClientAddress;
use crate::steering::AnswerSource;
use crate::telemetry::dns::{self as metrics, Steered};
use crate::view::View;
use crate::zone::End;

/// The EDNS payload size we advertise and the largest UDP reply we send (DNS Flag Day 2020).
pub(crate) const SERVER_PAYLOAD: u16 = 1232;

/// What a reply depends on besides the query itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dependence {
    /// The same for every client.
    Fixed,
    /// Steered: the records are rendered from `shape` alone, which was computed from the
    /// decision and the settings of the service at this index of `Config::services`.
    Steered {
        service: usize,
        shape: SteeredAnswer,
    },
}

/// What answering needs of a query, read once: from a plain datagram (the reply cache's
/// parse, without copying the packet or parsing it again) or from a hickory `Request`.
#[derive(Debug)]
pub(crate) struct Asked {
    pub(crate) metadata: Metadata,
    pub(crate) edns: Option<AskedEdns>,
    /// The ECS option; `Err` for one that is malformed or repeated (FORMERR).
    pub(crate) subnet: Result<Option<ClientSubnet>, ()>,
    /// The COOKIE option, judged (`None`: the query had none, or cookies are off); `Err` for
    /// one of a length RFC 7873 does not allow (FORMERR).
    pub(crate) cookie: Result<Option<Judged>, Malformed>,
    /// The question, when there is exactly one.
    pub(crate) question: Option<AskedQuestion>,
    pub(crate) src: SocketAddr,
}

/// The query's OPT record, as far as the answer depends on it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AskedEdns {
    pub(crate) version: u8,
    pub(crate) dnssec_ok: bool,
    pub(crate) max_payload: u16,
    /// The query asks for the server's identity (RFC 5001).
    pub(crate) nsid: bool,
}

#[derive(Debug)]
pub(crate) struct AskedQuestion {
    pub(crate) name: LowerName,
    /// As it came, letter case included.
    pub(crate) original: Name,
    pub(crate) qtype: RecordType,
    pub(crate) class: DNSClass,
}

impl Asked {
    /// What a parsed hickory request asks; its cookie judged with `cookies` (the secrets,
    /// `None` when cookies are off) at `now` when it has one.
    pub(crate) fn from_request(
        request: &Request,
        cookies: Option<&Secrets>,
        now: impl FnOnce() -> u32,
    ) -> Self {
        let edns = request.edns.as_ref();
        // The first COOKIE option counts, as RFC 7873 has no rule for a second.
        let cookie = match (edns.and_then(|edns| edns.option(EdnsCode::Cookie)), cookies) {
            (Some(EdnsOption::Unknown(_, option)), Some(secret)) => {
                cookie::judge(option, secret, request.src().ip(), now()).map(Some)
            }
            _ => Ok(None),
        };
        Self {
            metadata: request.metadata,
            edns: edns.map(|edns| AskedEdns {
                version: edns.version(),
                dnssec_ok: edns.flags().dnssec_ok,
                max_payload: edns.max_payload(),
                nsid: edns.option(EdnsCode::NSID).is_some(),
            }),
            subnet: ecs::from_query(edns, request.as_slice()).map_err(|_| ()),
            cookie,
            question: match request.queries.queries() {
                [query] => Some(AskedQuestion {
                    name: query.name().clone(),
                    original: query.original().name().clone(),
                    qtype: query.query_type(),
                    class: query.query_class(),
                }),
                _ => None,
            },
            src: request.src(),
        }
    }
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
    /// For a steered name: what the metrics count the answer as.
    pub(crate) steered: Option<Steered>,
}

impl Reply {
    /// An empty reply to `request` with `code`, carrying an OPT record if the query had one.
    pub(crate) fn empty(
        request: &Metadata,
        request_edns: Option<&AskedEdns>,
        code: ResponseCode,
    ) -> Self {
        let mut metadata = Metadata::response_from_request(request);
        metadata.response_code = code;
        // RFC 4035 section 3.1.6: CD is for resolvers; an authoritative server clears it.
        metadata.checking_disabled = false;
        Self {
            metadata,
            answers: Vec::new(),
            authorities: Vec::new(),
            additionals: Vec::new(),
            edns: request_edns.map(|edns| server_edns(edns.dnssec_ok)),
            dependence: Dependence::Fixed,
            steered: None,
        }
    }

    /// The largest encoding the client accepts over UDP: its advertised payload, at most ours,
    /// and never under the 512 bytes every client takes (RFC 6891 section 6.2.5).
    pub(crate) fn udp_limit(request_edns: Option<&AskedEdns>) -> u16 {
        request_edns.map_or(512, |edns| edns.max_payload.clamp(512, SERVER_PAYLOAD))
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

/// Answers one query from one view.
pub(crate) fn answer(view: &View, asked: &Asked) -> Reply {
    let mut reply = build(view, asked);
    // RFC 5001: the identity goes into every reply to a query that asks for it.
    if let (Some(identity), Some(edns)) = (&view.config.zone.identity, reply.edns.as_mut())
        && asked.edns.is_some_and(|edns| edns.nsid)
        && let Ok(payload) = NSIDPayload::new(identity.as_bytes())
    {
        edns.options_mut().insert(EdnsOption::NSID(payload));
    }
    // RFC 7873 section 5.2: a query with a client cookie gets ours in every reply, last
    // (after ECS), where the reply cache writes it too.
    if let (Ok(Some(cookie)), Some(edns)) = (&asked.cookie, reply.edns.as_mut()) {
        edns.options_mut()
            .insert(EdnsOption::Unknown(cookie::OPTION, cookie.reply.to_vec()));
    }
    reply
}

/// The CH TXT names that ask a server who it is.
fn asks_identity(class: DNSClass, qname: &LowerName, qtype: RecordType) -> bool {
    class == DNSClass::CH
        && matches!(qtype, RecordType::TXT | RecordType::ANY)
        && ["id.server.", "hostname.bind."]
            .iter()
            .any(|name| Name::from_ascii(name).is_ok_and(|name| LowerName::new(&name) == *qname))
}

fn build(view: &View, asked: &Asked) -> Reply {
    let request_edns = asked.edns.as_ref();
    let fail = |code| Reply::empty(&asked.metadata, request_edns, code);
    if request_edns.is_some_and(|edns| edns.version != 0) {
        // RFC 6891 section 6.1.3: BADVERS, with our (version 0) OPT.
        return fail(ResponseCode::BADVERS);
    }
    if asked.metadata.op_code != OpCode::Query {
        return fail(ResponseCode::NotImp);
    }
    let Ok(subnet) = asked.subnet else {
        return fail(ResponseCode::FormErr);
    };
    if asked.cookie.is_err() {
        // RFC 7873 section 5.2.2.
        return fail(ResponseCode::FormErr);
    }
    let Some(query) = &asked.question else {
        return fail(ResponseCode::FormErr);
    };
    let mut reply = fail(ResponseCode::NoError);
    // Location-independent unless steering says otherwise (RFC 7871 section 7.2.1).
    let mut scope = 0;
    let qname = &query.name;
    let qtype = query.qtype;
    let identity = view.config.zone.identity.as_ref();
    if let Some(identity) = identity
        && asks_identity(query.class, qname, qtype)
    {
        reply.metadata.authoritative = true;
        let mut record = Record::from_rdata(
            query.original.clone(),
            0,
            RData::TXT(TXT::new(vec![identity.clone()])),
        );
        record.dns_class = DNSClass::CH;
        reply.answers.push(record);
    } else if view.zone.not_authoritative_for_transfer(qname, qtype) {
        // RFC 5936 section 2.2.1: not a zone we serve.
        reply.metadata.response_code = ResponseCode::NotAuth;
    } else if view.zone.refuses(query.class, qname, qtype) {
        reply.metadata.response_code = ResponseCode::Refused;
    } else {
        reply.metadata.authoritative = true;
        let client = ClientAddress::select(
            subnet.map(|subnet| (subnet.addr(), subnet.source_prefix())),
            asked.src.ip(),
        );
        scope = resolve(view, qname, &query.original, qtype, client, &mut reply);
    }
    if let (Some(edns), Some(subnet)) = (reply.edns.as_mut(), subnet) {
        echo_subnet(edns, &subnet, scope);
    }
    follow_question_case(&mut reply, &query.original);
    reply
}

/// Gives every compressible name in the records (owners; CNAME, NS, PTR, MX and SOA data)
/// the question's letter case for the labels it shares with the end of the question; other
/// labels keep the zone's case. The encoder then points those labels at the question, so
/// the bytes are the same whether this path built the reply or the reply cache patched a
/// question of another case into an earlier one (its pointers follow the question).
fn follow_question_case(reply: &mut Reply, question: &Name) {
    let sections = [
        &mut reply.answers,
        &mut reply.authorities,
        &mut reply.additionals,
    ];
    for record in sections.into_iter().flat_map(|section| section.iter_mut()) {
        in_question_case(&mut record.name, question);
        match &mut record.data {
            RData::CNAME(CNAME(name)) | RData::NS(NS(name)) | RData::PTR(PTR(name)) => {
                in_question_case(name, question);
            }
            RData::MX(mx) => in_question_case(&mut mx.exchange, question),
            RData::SOA(soa) => {
                in_question_case(&mut soa.mname, question);
                in_question_case(&mut soa.rname, question);
            }
            _ => {}
        }
    }
}

/// Rewrites the labels `name` shares (ignoring case) with the end of `question` in the
/// question's case; allocates only when the case differs.
fn in_question_case(name: &mut Name, question: &Name) {
    let shared = name
        .iter()
        .rev()
        .zip(question.iter().rev())
        .take_while(|(ours, theirs)| ours.eq_ignore_ascii_case(theirs))
        .count();
    let same_bytes = name
        .iter()
        .rev()
        .zip(question.iter().rev())
        .take(shared)
        .all(|(ours, theirs)| ours == theirs);
    if same_bytes {
        return;
    }
    let keep = usize::from(name.num_labels()) - shared;
    let skip = usize::from(question.num_labels()) - shared;
    let labels: Vec<&[u8]> = name
        .iter()
        .take(keep)
        .chain(question.iter().skip(skip))
        .collect();
    if let Ok(mut recased) = Name::from_labels(labels) {
        recased.set_fqdn(name.is_fqdn());
        *name = recased;
    }
}

/// Fills answers (following in-zone CNAMEs), or NXDOMAIN/NODATA with the SOA. Returns the
/// ECS scope of what was answered.
fn resolve(
    view: &View,
    qname: &LowerName,
    original: &Name,
    qtype: RecordType,
    client: ClientAddress,
    reply: &mut Reply,
) -> u8 {
    let zone = &view.zone;
    let resolution = zone.resolve(qname, qtype);
    let (chain, owner) = resolution.answered_chain(original);
    reply.answers.extend(chain);
    match resolution.end {
        End::NxDomain => {
            reply.metadata.response_code = ResponseCode::NXDomain;
            reply.authorities.push(zone.negative_soa.clone());
        }
        End::Steered { service } => {
            let family = view.family_for(qtype);
            let decision = decision::decide(view, client, family);
            let shape = decision.steered_answer(view, family, service);
            reply.dependence = Dependence::Steered { service, shape };
            reply.steered = Some(steered_labels(view, &shape, &decision));
            let steered = decision::render(&shape, view, &owner);
            reply.metadata.response_code = steered.response_code;
            if !steered.authoritative {
                reply.metadata.authoritative = false;
                reply.answers.clear();
            }
            reply.answers.extend(steered.answers);
            // NODATA, possibly at the end of a CNAME chain: the SOA says for how long.
            reply.authorities.extend(steered.authority);
            return decision.steered_scope();
        }
        End::Records(records) => {
            reply
                .answers
                .extend(records.iter().map(|record| with_owner(record, &owner)));
            if qtype == RecordType::NS && resolution.name == zone.apex {
                reply.additionals.extend(zone.glue().cloned());
            }
        }
        End::NoData => reply.authorities.push(zone.negative_soa.clone()),
        // The resolver follows names outside the zone, chains longer than we follow, and
        // CNAMEs into steered names (RFC 7871 section 7.2.1).
        End::LeavesZone | End::TooLong | End::SteeredTarget => {}
    }
    0
}

/// The metrics labels of a steered answer: the region it names and the client's continent.
pub(crate) fn steered_labels(view: &View, shape: &SteeredAnswer, decision: &Decision) -> Steered {
    let region = match shape.source {
        AnswerSource::Region(id) => view
            .metric_slots
            .get(usize::from(id.0))
            .copied()
            .unwrap_or(metrics::REGION_NONE),
        AnswerSource::Fallback { .. } => metrics::REGION_FALLBACK,
        AnswerSource::NoData | AnswerSource::ServFail => metrics::REGION_NONE,
    };
    Steered {
        region,
        continent: metrics::continent_slot(
            decision
                .continent
                .as_ref()
                .and_then(|code| std::str::from_utf8(code).ok()),
        ),
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
