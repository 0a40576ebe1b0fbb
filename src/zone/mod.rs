//! The zone as the answer path reads it: records indexed by lower-case owner name.

use std::collections::HashMap;
use std::net::IpAddr;

use hickory_proto::rr::rdata::{A, AAAA, CNAME, NS, SOA};
use hickory_proto::rr::{DNSClass, LowerName, Name, RData, Record, RecordType};

use crate::config::Config;

mod wire;

pub use wire::{Negative, Place as WirePlace, WireIndex, lower_wire};

/// What lives at one name.
#[derive(Debug, Default)]
pub struct Node {
    /// Static RRsets, in configuration order.
    pub rrsets: Vec<(RecordType, Vec<Record>)>,
    /// Steered name: A and AAAA are answered for this service (an index into
    /// `Config::services`), whose settings say how.
    pub service: Option<usize>,
}

impl Node {
    pub fn rrset(&self, record_type: RecordType) -> Option<&[Record]> {
        self.rrsets
            .iter()
            .find(|(rtype, _)| *rtype == record_type)
            .map(|(_, records)| records.as_slice())
    }

    fn push(&mut self, record: Record) {
        let record_type = record.record_type();
        match self
            .rrsets
            .iter_mut()
            .find(|(rtype, _)| *rtype == record_type)
        {
            // An RRset is a set (RFC 2181 section 5): a record listed twice is kept once.
            Some((_, records)) => {
                if !records.iter().any(|kept| kept.data == record.data) {
                    records.push(record);
                }
            }
            None => self.rrsets.push((record_type, vec![record])),
        }
    }
}

/// The whole zone, built once per config.
#[derive(Debug)]
pub struct ZoneData {
    pub apex: LowerName,
    /// For negative answers: TTL = min(SOA TTL, SOA minimum) (RFC 2308 section 5).
    pub negative_soa: Record,
    pub nodes: HashMap<LowerName, Node>,
    /// The same names in wire form, for the paths that answer without building names.
    pub wire: WireIndex,
}

impl ZoneData {
    pub fn build(config: &Config) -> Self {
        let zone = &config.zone;
        let apex = zone.apex.clone();
        let soa = SOA::new(
            zone.soa.mname.clone(),
            zone.soa.rname.clone(),
            zone.soa.serial,
            saturating_i32(zone.soa.refresh),
            saturating_i32(zone.soa.retry),
            saturating_i32(zone.soa.expire),
            zone.soa.minimum,
        );
        let soa_record = Record::from_rdata(apex.clone(), zone.soa.ttl, RData::SOA(soa));
        let mut negative_soa = soa_record.clone();
        negative_soa.ttl = zone.soa.ttl.min(zone.soa.minimum);

        let mut nodes: HashMap<LowerName, Node> = HashMap::new();
        fn node<'a>(nodes: &'a mut HashMap<LowerName, Node>, name: &Name) -> &'a mut Node {
            nodes.entry(LowerName::new(name)).or_default()
        }
        node(&mut nodes, &apex).push(soa_record);
        for ns in &zone.name_servers {
            node(&mut nodes, &apex).push(Record::from_rdata(
                apex.clone(),
                zone.ns_ttl,
                RData::NS(NS(ns.name.clone())),
            ));
            for addr in &ns.addresses {
                let rdata = match addr {
                    IpAddr::V4(v4) => RData::A(A(*v4)),
                    IpAddr::V6(v6) => RData::AAAA(AAAA(*v6)),
                };
                node(&mut nodes, &ns.name).push(Record::from_rdata(
                    ns.name.clone(),
                    zone.ns_ttl,
                    rdata,
                ));
            }
        }
        for record in &config.zone.records {
            node(&mut nodes, &record.name).push(Record::from_rdata(
                record.name.clone(),
                record.ttl,
                record.rdata.clone(),
            ));
        }
        for (index, service) in config.services.iter().enumerate() {
            node(&mut nodes, &service.name).service = Some(index);
        }
        // Empty non-terminals exist (RFC 8020): `b.example` of `a.b.example` is NODATA,
        // not NXDOMAIN.
        let owners: Vec<Name> = nodes.keys().map(|name| Name::from(name.clone())).collect();
        for owner in owners {
            let mut parent = owner.base_name();
            while parent.num_labels() > apex.num_labels() {
                nodes.entry(LowerName::new(&parent)).or_default();
                parent = parent.base_name();
            }
        }
        let apex = LowerName::new(&apex);
        let wire = WireIndex::build(&apex, nodes.iter());
        Self {
            apex,
            negative_soa,
            nodes,
            wire,
        }
    }

    /// In-zone glue (A and AAAA) for the apex NS records.
    pub fn glue(&self) -> impl Iterator<Item = &Record> {
        let ns = self
            .nodes
            .get(&self.apex)
            .and_then(|node| node.rrset(RecordType::NS));
        ns.into_iter()
            .flatten()
            .filter_map(|record| match &record.data {
                RData::NS(NS(target)) => self.nodes.get(&LowerName::new(target)),
                _ => None,
            })
            .flat_map(|node| {
                node.rrset(RecordType::A)
                    .into_iter()
                    .flatten()
                    .chain(node.rrset(RecordType::AAAA).into_iter().flatten())
            })
    }
}

fn saturating_i32(value: u32) -> i32 {
    i32::try_from(value).unwrap_or(i32::MAX)
}

/// Longest CNAME chain followed inside the zone; a loop ends here too.
pub const MAX_CNAME_CHAIN: usize = 8;

/// Where a question leads in the zone, in-zone CNAMEs followed: the one walk that both the
/// answer path and `explain` take, so they cannot disagree about what a name is.
#[derive(Debug)]
pub struct Resolution<'a> {
    /// The CNAMEs passed through, in order.
    pub chain: Vec<&'a Record>,
    /// The name the walk ended at (lower case).
    pub name: LowerName,
    pub end: End<'a>,
}

impl Resolution<'_> {
    /// The chain's CNAMEs as answered: the first under the question's own name (its letter
    /// case kept, for DNS 0x20), each next one under the previous target. Also returns the
    /// owner of what follows the chain.
    pub fn answered_chain(&self, question: &Name) -> (Vec<Record>, Name) {
        let mut owner = question.clone();
        let mut records = Vec::with_capacity(self.chain.len());
        for cname in &self.chain {
            let mut record = (*cname).clone();
            record.name = owner.clone();
            records.push(record);
            if let RData::CNAME(CNAME(target)) = &cname.data {
                owner = target.clone();
            }
        }
        (records, owner)
    }
}

/// How a walk through the zone ended.
#[derive(Debug, Clone, Copy)]
pub enum End<'a> {
    /// No such name (RFC 6604: the code describes the last name of the chain).
    NxDomain,
    /// A steered name asked for addresses: answered for this service (an index into
    /// `Config::services` of the config the zone was built from), whose settings (TTL, what
    /// to answer when every region is down) the answer needs.
    Steered { service: usize },
    /// A static RRset.
    Records(&'a [Record]),
    /// The name exists, without data of this type.
    NoData,
    /// The last CNAME points outside the zone: the resolver follows it itself.
    LeavesZone,
    /// A chain longer than [`MAX_CNAME_CHAIN`]: what was found is answered.
    TooLong,
    /// A CNAME led to a steered name asked for addresses: the chain is answered alone, and
    /// the resolver asks the steered name itself (RFC 7871 section 7.2.1). The CNAMEs are
    /// the same for every client, so resolvers cache them for all (scope 0); only the
    /// steered answer is cached per subnet.
    SteeredTarget,
}

impl ZoneData {
    /// Questions answered REFUSED: outside the zone (never an open resolver), another
    /// class, or a zone transfer (not offered: every node builds the zone from config).
    pub fn refuses(&self, class: DNSClass, qname: &LowerName, qtype: RecordType) -> bool {
        class != DNSClass::IN
            || !self.apex.zone_of(qname)
            || matches!(qtype, RecordType::AXFR | RecordType::IXFR)
    }

    /// A zone transfer for a name that is not our apex: we are authoritative for no such
    /// zone, so the answer is NOTAUTH (RFC 5936 section 2.2.1). Our own zone's transfer is
    /// refused by policy instead (see [`Self::refuses`]).
    pub fn not_authoritative_for_transfer(&self, qname: &LowerName, qtype: RecordType) -> bool {
        matches!(qtype, RecordType::AXFR | RecordType::IXFR) && *qname != self.apex
    }

    /// Follows `qname` through the zone for `qtype`. `qname` must be inside the zone.
    pub fn resolve(&self, qname: &LowerName, qtype: RecordType) -> Resolution<'_> {
        let mut chain = Vec::new();
        let mut current = qname.clone();
        for _ in 0..MAX_CNAME_CHAIN {
            let Some(node) = self.nodes.get(&current) else {
                return Resolution {
                    chain,
                    name: current,
                    end: End::NxDomain,
                };
            };
            if let Some(service) = node.service
                && matches!(qtype, RecordType::A | RecordType::AAAA | RecordType::ANY)
            {
                let end = if chain.is_empty() {
                    End::Steered { service }
                } else {
                    End::SteeredTarget
                };
                return Resolution {
                    chain,
                    name: current,
                    end,
                };
            }
            // RFC 1034 section 4.3.2 step 3a: a CNAME is followed unless it is what was
            // asked for; ANY is answered with the CNAME itself (one RRset, RFC 8482).
            if !matches!(qtype, RecordType::CNAME | RecordType::ANY)
                && let Some([cname]) = node.rrset(RecordType::CNAME)
                && let RData::CNAME(CNAME(target)) = &cname.data
            {
                chain.push(cname);
                let target = LowerName::new(target);
                if !self.apex.zone_of(&target) {
                    return Resolution {
                        chain,
                        name: target,
                        end: End::LeavesZone,
                    };
                }
                current = target;
                continue;
            }
            let rrset = match qtype {
                // RFC 8482: answer ANY with one RRset, not everything.
                RecordType::ANY => node.rrsets.first().map(|(_, records)| records.as_slice()),
                _ => node.rrset(qtype),
            };
            return Resolution {
                chain,
                name: current,
                end: rrset.map_or(End::NoData, End::Records),
            };
        }
        Resolution {
            chain,
            name: current,
            end: End::TooLong,
        }
    }
}
