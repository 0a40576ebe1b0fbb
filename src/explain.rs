//! Why a client gets the answer it gets: the decision report, built from one [`View`].
//!
//! Pure: it imports neither `dns` nor `node`, so the CLI and (later) the dashboard API serve
//! the same report. It takes the same steps as the answer path: the zone walk
//! ([`ZoneData::resolve`](crate::zone::ZoneData::resolve)), the decision
//! ([`decision::decide`]) and the steered answer's shape
//! ([`Decision::steered_answer`](crate::decision::Decision::steered_answer)); a test holds
//! the report against the server's real replies.

use std::net::IpAddr;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{DNSClass, LowerName, Name, Record, RecordType};
use ipnet::IpNet;
use serde::Serialize;

use crate::decision::{self, Decision};
use crate::geo::{ClientAddress, ClientSource};
use crate::region::{Family, RegionId};
use crate::steering::{self, AnswerSource, Choice, Route, Spread, SteeredAnswer};
use crate::view::View;
use crate::zone::End;

mod live;
mod text;

pub use live::LiveHealth;

/// Who asks: a client address (the packet source, no ECS) or a resolver's subnet (ECS).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Client {
    Address(IpAddr),
    Subnet(IpNet),
}

impl std::str::FromStr for Client {
    type Err = ExplainError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if let Ok(addr) = text.parse::<IpAddr>() {
            return Ok(Self::Address(addr));
        }
        text.parse::<IpNet>()
            .map(|net| Self::Subnet(net.trunc()))
            .map_err(|_| ExplainError::Client(text.to_string()))
    }
}

/// Why a report cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum ExplainError {
    #[error("client {0:?}: not an address (81.2.69.142) or a subnet (81.2.69.0/24, used as ECS)")]
    Client(String),
    #[error("{0:?} is not a domain name")]
    Name(String),
    #[error("{0:?} is not a record type")]
    RecordType(String),
}

/// One candidate region, in order.
#[derive(Debug, Clone, Serialize)]
pub struct CandidateReport {
    pub region: String,
    pub distance_km: Option<f64>,
    /// Whether the region has addresses of the family asked for: only those can answer.
    pub serves_family: bool,
    pub up: bool,
    pub reason: String,
    /// The verdict is fresh or disputed: answers that use or skip the region get the
    /// transition TTL.
    pub transition: bool,
}

/// How a steered answer came to be what it is.
#[derive(Debug, Clone, Serialize)]
pub struct SteeringReport {
    /// `first` (the client's first candidate is up), `next` (it is down: the next healthy
    /// one), `all-down` (every candidate is down), or `none` (no region has addresses of
    /// the family).
    pub route: &'static str,
    /// The region the choice settled on; when every candidate is down, the nearest, whose
    /// addresses are answered only with `all_down = "fail-open"`.
    pub region: Option<String>,
    /// Down candidates passed over to get there.
    pub skipped: Vec<String>,
    /// The service's all-down policy, when it applied.
    pub all_down: Option<&'static str>,
    /// What the answer holds: `region` (its addresses), `fallback` (the service's fixed
    /// addresses), `nodata` or `servfail`.
    pub answer: &'static str,
    /// The regions in transition the answer depends on (chosen or skipped).
    pub transition: Vec<String>,
    /// How the client was spread over the regions after its first, when it was.
    pub spread: Option<SpreadReport>,
    /// The TTL of the steered records (of the SOA for NODATA; 0 for SERVFAIL), and what it
    /// is when no region is in transition and some are up: the service's TTL (the SOA's
    /// negative TTL for NODATA). Lower means the transition TTL cut it.
    pub ttl: u32,
    pub usual_ttl: u32,
    pub transition_ttl: u32,
}

/// How a client whose first region is down was spread over the next healthy ones
/// (`spill = "capacity"`).
#[derive(Debug, Clone, Serialize)]
pub struct SpreadReport {
    /// The regions spread over, nearest first, each with its share of `[0, total)`.
    pub regions: Vec<SpreadShare>,
    /// The block the client address was masked to before hashing (`81.2.69.0/24`): every
    /// address in it goes to the same region, and the ECS scope is at least its prefix.
    pub subnet: String,
    pub prefix: u8,
    /// The subnet's hash, and where it fell in `[0, total)`, `total` being the capacities of
    /// the regions added up.
    pub hash: u64,
    pub point: u64,
    pub total: u64,
}

/// One region's part of a spread: its capacity, as the range `[start, end)` of hash points.
#[derive(Debug, Clone, Serialize)]
pub struct SpreadShare {
    pub region: String,
    pub capacity: u32,
    pub start: u64,
    pub end: u64,
}

/// The whole story of one answer.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub name: String,
    pub record_type: String,
    /// The address geolocated, and where it came from (`ecs` or `packet`).
    pub client: String,
    pub client_source: &'static str,
    pub ecs_sent: Option<String>,
    pub network: Option<String>,
    pub database: String,
    pub place: String,
    pub rule: String,
    pub candidates: Vec<CandidateReport>,
    /// The region whose addresses a steered answer holds.
    pub chosen: Option<String>,
    /// Every candidate is down and the nearest answers anyway (`all_down = "fail-open"`).
    pub fail_open: bool,
    /// For a steered answer: route, skipped regions, all-down policy, transition.
    pub steering: Option<SteeringReport>,
    /// Whether the answer depends on where the client is.
    pub steered: bool,
    pub response_code: &'static str,
    pub authoritative: bool,
    pub answers: Vec<String>,
    pub authority: Vec<String>,
    pub ttl: Option<u32>,
    /// The ECS scope the server sends; `None` when the query carries no ECS.
    pub ecs_scope: Option<u8>,
    pub view_generation: u64,
    pub config_hash: String,
}

/// The report for a query of `name`/`record_type` from `client`.
pub fn explain(
    view: &View,
    client: Client,
    name: &str,
    record_type: &str,
) -> Result<Report, ExplainError> {
    let mut qname = Name::from_ascii(name).map_err(|_| ExplainError::Name(name.to_string()))?;
    qname.set_fqdn(true);
    let qtype: RecordType = record_type
        .to_ascii_uppercase()
        .parse()
        .map_err(|_| ExplainError::RecordType(record_type.to_string()))?;
    let (client_address, ecs) = match client {
        Client::Address(addr) => (ClientAddress::select(None, addr), None),
        // As a resolver sends it: the subnet in ECS; the packet source is taken to be the
        // subnet's own address, used only when the subnet cannot be (a private one, say).
        Client::Subnet(net) => (
            ClientAddress::select(Some((net.addr(), net.prefix_len())), net.addr()),
            Some(net),
        ),
    };
    let family = view.family_for(qtype);
    let decision = decision::decide(view, client_address, family);
    let placement = decision::placement(view, client_address);
    let config = &view.config;

    let mut report = Report {
        name: qname.to_string(),
        record_type: qtype.to_string(),
        client: client_address.addr.to_string(),
        client_source: match client_address.source {
            ClientSource::Ecs => "ecs",
            ClientSource::Packet => "packet",
        },
        ecs_sent: ecs.map(|net| net.to_string()),
        network: decision
            .network
            .map(|(network, prefix)| format!("{network}/{prefix}")),
        database: format!(
            "{} ({})",
            view.geo.database_type(),
            view.geo.path().display()
        ),
        place: describe_place(&placement.place),
        rule: placement.order.rule.to_string(),
        candidates: placement
            .order
            .candidates
            .iter()
            .map(|candidate| {
                let health = view.health.get(candidate.region);
                let region = config.region(candidate.region);
                CandidateReport {
                    region: region.name.clone(),
                    distance_km: candidate.distance_km,
                    serves_family: region.serves(family),
                    up: health.is_some_and(|h| h.up),
                    reason: health.map_or("unknown".to_string(), |h| h.reason.clone()),
                    transition: health.is_some_and(|h| h.transition),
                }
            })
            .collect(),
        chosen: None,
        fail_open: false,
        steering: None,
        steered: false,
        response_code: "NOERROR",
        authoritative: true,
        answers: Vec::new(),
        authority: Vec::new(),
        ttl: None,
        ecs_scope: ecs.map(|_| 0),
        view_generation: view.generation,
        config_hash: config.content_hash.clone(),
    };

    let lower = LowerName::new(&qname);
    if view.zone.refuses(DNSClass::IN, &lower, qtype) {
        report.response_code = "REFUSED";
        report.authoritative = false;
        return Ok(report);
    }
    let resolution = view.zone.resolve(&lower, qtype);
    let (chain, owner) = resolution.answered_chain(&qname);
    report.answers.extend(chain.iter().map(ToString::to_string));
    let negative = || view.zone.negative_soa.to_string();
    match resolution.end {
        End::NxDomain => {
            report.response_code = "NXDOMAIN";
            report.authority.push(negative());
        }
        End::Steered { service } => {
            let shape = decision.steered_answer(view, family, service);
            report.steered = true;
            report.ecs_scope = ecs.map(|net| {
                decision::echo_scope(net.addr(), net.prefix_len(), decision.steered_scope())
            });
            report.chosen = match shape.source {
                AnswerSource::Region(id) => Some(config.region(id).name.clone()),
                _ => None,
            };
            let all_down = decision.choice.as_ref().is_some_and(Choice::all_down);
            report.fail_open = all_down && report.chosen.is_some();
            report.steering = Some(steering_report(view, &decision, family, service, &shape));
            let steered = decision::render(&shape, view, &owner);
            report.response_code = code_name(steered.response_code);
            if !steered.authoritative {
                report.authoritative = false;
                report.answers.clear();
            }
            report
                .answers
                .extend(steered.answers.iter().map(ToString::to_string));
            report
                .authority
                .extend(steered.authority.iter().map(ToString::to_string));
        }
        End::Records(records) => report
            .answers
            .extend(records.iter().map(|record| with_owner(record, &owner))),
        End::NoData => report.authority.push(negative()),
        End::LeavesZone | End::TooLong | End::SteeredTarget => {}
    }
    report.ttl = first_ttl(&report.answers);
    Ok(report)
}

/// Route, skipped regions, all-down policy and transition of a steered answer.
fn steering_report(
    view: &View,
    decision: &Decision,
    family: Family,
    service: usize,
    answer: &SteeredAnswer,
) -> SteeringReport {
    let config = &view.config;
    let name = |id: RegionId| config.region(id).name.clone();
    let service = config.service(service);
    let mut report = SteeringReport {
        route: "none",
        region: None,
        skipped: Vec::new(),
        all_down: None,
        answer: match answer.source {
            AnswerSource::Region(_) => "region",
            AnswerSource::Fallback { .. } => "fallback",
            AnswerSource::NoData => "nodata",
            AnswerSource::ServFail => "servfail",
        },
        transition: Vec::new(),
        spread: None,
        ttl: answer.ttl,
        usual_ttl: match answer.source {
            AnswerSource::NoData => view.zone.negative_soa.ttl,
            AnswerSource::ServFail => 0,
            AnswerSource::Region(_) | AnswerSource::Fallback { .. } => service.ttl,
        },
        transition_ttl: config.answer.transition_ttl,
    };
    let Some(choice) = &decision.choice else {
        return report;
    };
    let order = &decision.order;
    let skipped: Vec<RegionId> =
        steering::skipped(order, &view.health, &config.regions, family, choice).collect();
    let in_transition = |id: &RegionId| view.health.get(*id).is_some_and(|h| h.transition);
    report.route = match choice.route {
        Route::First => "first",
        Route::Next => "next",
        Route::Spread(_) => "spread",
        Route::AllDown => "all-down",
    };
    if let Route::Spread(spread) = choice.route {
        report.spread = Some(spread_report(view, decision, family, &spread));
    }
    report.region = Some(name(choice.region));
    report.all_down = choice.all_down().then(|| service.all_down.name());
    report.transition = std::iter::once(&choice.region)
        .chain(&skipped)
        .filter(|id| in_transition(id))
        .map(|id| name(*id))
        .collect();
    report.skipped = skipped.into_iter().map(name).collect();
    report
}

/// The regions a spread answer was spread over, their ranges, and where the client fell.
fn spread_report(
    view: &View,
    decision: &Decision,
    family: Family,
    spread: &Spread,
) -> SpreadReport {
    let config = &view.config;
    let pool = steering::spill_candidates(&decision.order, &view.health, &config.regions, family)
        .take(usize::from(spread.regions));
    let mut start = 0;
    let regions = pool
        .map(|id| {
            let region = config.region(id);
            let share = SpreadShare {
                region: region.name.clone(),
                capacity: region.capacity,
                start,
                end: start + u64::from(region.capacity),
            };
            start = share.end;
            share
        })
        .collect();
    let addr = decision.client.addr;
    let subnet =
        IpNet::new(addr, spread.prefix).map_or(addr.to_string(), |net| net.trunc().to_string());
    SpreadReport {
        regions,
        subnet,
        prefix: spread.prefix,
        hash: steering::subnet_hash(addr, spread.prefix),
        point: spread.point,
        total: spread.total,
    }
}

fn code_name(code: ResponseCode) -> &'static str {
    match code {
        ResponseCode::NoError => "NOERROR",
        ResponseCode::ServFail => "SERVFAIL",
        ResponseCode::NXDomain => "NXDOMAIN",
        ResponseCode::Refused => "REFUSED",
        _ => "other",
    }
}

fn with_owner(record: &Record, owner: &Name) -> String {
    let mut record = record.clone();
    record.name = owner.clone();
    record.to_string()
}

/// The TTL of the first answer line (`owner TTL class type data`).
fn first_ttl(answers: &[String]) -> Option<u32> {
    answers
        .first()
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|ttl| ttl.parse().ok())
}

fn describe_place(place: &crate::geo::Place) -> String {
    let codes: Vec<&str> = [
        &place.continent,
        &place.country,
        &place.subdivision,
        &place.city,
    ]
    .into_iter()
    .filter_map(|field| field.as_deref())
    .collect();
    let codes = if codes.is_empty() {
        "unknown".to_string()
    } else {
        codes.join(" / ")
    };
    match &place.location {
        Some(located) => format!(
            "{codes}; location {} ({:?})",
            located.location, located.precision
        ),
        None if place.anycast => format!("{codes}; anycast network, not located"),
        None => format!("{codes}; no location"),
    }
}
