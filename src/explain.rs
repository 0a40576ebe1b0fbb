//! Why a client gets the answer it gets: the decision report, built from one [`View`].
//!
//! Pure: it imports neither `dns` nor `node`, so the CLI and (later) the dashboard API serve
//! the same report. It takes the same steps as the answer path: the zone walk
//! ([`ZoneData::resolve`](crate::zone::ZoneData::resolve)), the decision
//! ([`decision::decide`]) and the steered answer's shape
//! ([`Decision::steered_answer`](crate::decision::Decision::steered_answer)); a test holds
//! the report against the server's real replies.

use std::fmt;
use std::net::IpAddr;

use hickory_proto::rr::{DNSClass, LowerName, Name, Record, RecordType};
use ipnet::IpNet;
use serde::Serialize;

use crate::decision;
use crate::geo::{ClientAddress, ClientSource};
use crate::view::View;
use crate::zone::End;

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
    pub up: bool,
    pub reason: String,
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
    /// The region chosen for a steered answer.
    pub chosen: Option<String>,
    pub fail_open: bool,
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
        place: describe_place(&decision.placement.place),
        rule: decision.placement.order.rule.to_string(),
        candidates: decision
            .placement
            .order
            .candidates
            .iter()
            .map(|candidate| {
                let health = view.health.get(candidate.region);
                CandidateReport {
                    region: config.region(candidate.region).name.clone(),
                    distance_km: candidate.distance_km,
                    up: health.is_some_and(|h| h.up),
                    reason: health.map_or("unknown".to_string(), |h| h.reason.clone()),
                }
            })
            .collect(),
        chosen: None,
        fail_open: false,
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
            report.chosen = shape.region.map(|id| config.region(id).name.clone());
            report.fail_open = decision.choice.is_some_and(|choice| choice.fail_open);
            report.ecs_scope = ecs.map(|_| decision.steered_scope());
            let records = shape.records(view, &owner);
            report
                .answers
                .extend(records.iter().map(ToString::to_string));
            if shape.count == 0 {
                report.authority.push(negative());
            }
        }
        End::Records(records) => report
            .answers
            .extend(records.iter().map(|record| with_owner(record, &owner))),
        End::NoData => report.authority.push(negative()),
        End::LeavesZone | End::TooLong => {}
    }
    report.ttl = first_ttl(&report.answers);
    Ok(report)
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

impl fmt::Display for Report {
    fn fmt(&self, w: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(w, "query      {} {}", self.name, self.record_type)?;
        match &self.ecs_sent {
            Some(subnet) if self.client_source == "ecs" => {
                writeln!(w, "client     {} (ECS subnet {subnet})", self.client)?
            }
            Some(subnet) => writeln!(
                w,
                "client     {} (ECS subnet {subnet} is not globally routable: the packet source is used)",
                self.client
            )?,
            None => writeln!(w, "client     {} (packet source, no ECS)", self.client)?,
        }
        match &self.network {
            Some(network) => writeln!(w, "network    {network} in {}", self.database)?,
            None => writeln!(w, "network    none in {}", self.database)?,
        }
        writeln!(w, "place      {}", self.place)?;
        writeln!(w, "rule       {}", self.rule)?;
        writeln!(w, "candidates")?;
        for (rank, candidate) in self.candidates.iter().enumerate() {
            let distance = candidate
                .distance_km
                .map_or("-".to_string(), |km| format!("{km:.0} km"));
            let state = if candidate.up { "up" } else { "DOWN" };
            writeln!(
                w,
                "  {}. {:<14} {:>9}  {state} ({})",
                rank + 1,
                candidate.region,
                distance,
                candidate.reason
            )?;
        }
        match (&self.chosen, self.steered) {
            (Some(region), _) if self.fail_open => writeln!(
                w,
                "chosen     {region} (FAIL OPEN: every candidate is down)"
            )?,
            (Some(region), _) => writeln!(w, "chosen     {region}")?,
            (None, true) => writeln!(
                w,
                "chosen     none (no region has addresses of this family)"
            )?,
            (None, false) => writeln!(
                w,
                "chosen     - (this answer does not depend on the client's location)"
            )?,
        }
        let flags = if self.authoritative { " aa" } else { "" };
        writeln!(w, "answer     {}{flags}", self.response_code)?;
        for line in self.answers.iter().chain(&self.authority) {
            writeln!(w, "  {line}")?;
        }
        if let Some(ttl) = self.ttl {
            writeln!(w, "ttl        {ttl}")?;
        }
        match self.ecs_scope {
            Some(scope) => writeln!(w, "ecs scope  /{scope} (sent back in the ECS option)")?,
            None => writeln!(
                w,
                "ecs scope  - (the query carries no ECS; pass --client as a subnet to see it)"
            )?,
        }
        writeln!(
            w,
            "view       generation {}, config {}",
            self.view_generation,
            crate::config::short_hash(&self.config_hash)
        )
    }
}
