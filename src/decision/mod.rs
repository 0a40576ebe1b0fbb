//! The decision for one client: geo lookup -> steering order -> health -> region and scope;
//! and the rendering of a steered answer's shape into records.
//!
//! The DNS answer path and the explain report both call [`decide`] and [`render`] on one
//! [`View`], so what explain prints is what the server does. A client is placed by the
//! view's steering map (`map.rs`, the database merged by what each record makes of the
//! order); orders are cached per thread (`orders.rs`), keyed by the map leaf and the CIDR
//! rule for as long as the config and database last: most queries then cost one walk of
//! the merged tree and no lock.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::rdata::{A, AAAA};
use hickory_proto::rr::{Name, RData, Record};

use crate::config::AllDown;
use crate::geo::{ClientAddress, ClientSource, Place, special_block, usable_subnet};
use crate::region::Family;
use crate::steering::{self, AnswerContext, AnswerSource, Choice, ClientNet, RegionOrder, Route};
use crate::view::View;

pub use crate::steering::SteeredAnswer;

mod map;
mod orders;

pub use map::{Leaf, SteeringMap};

pub(crate) use orders::Located;

/// Where a client is, and every region in order for it (with distances): what `explain`
/// shows. The answer path keeps only the order, without distances.
#[derive(Debug, Clone, PartialEq)]
pub struct Placement {
    pub place: Place,
    pub order: RegionOrder,
}

/// Everything that went into choosing a region for one client.
#[derive(Debug, Clone)]
pub struct Decision {
    pub client: ClientAddress,
    /// The database network that holds the client, if the database has one.
    pub network: Option<(IpAddr, u8)>,
    /// Every region, best first (distances left out: see [`placement`]).
    pub order: Arc<RegionOrder>,
    /// The client's continent code, upper case.
    pub continent: Option<[u8; 2]>,
    pub choice: Option<Choice>,
    /// ECS scope prefix, in the client address's family: the database network's and the
    /// CIDR rules', and for a spread answer at least the block the client was hashed on.
    pub scope_prefix: u8,
}

/// A steered answer as the reply carries it: the one rendering the DNS path and explain share.
#[derive(Debug)]
pub struct SteeredReply {
    pub response_code: ResponseCode,
    /// False for SERVFAIL: a server failure states nothing about the zone's data, so the
    /// reply is not authoritative and carries no records, not even the CNAMEs leading here.
    pub authoritative: bool,
    pub answers: Vec<Record>,
    /// The SOA of a NODATA answer, with the answer's TTL.
    pub authority: Option<Record>,
}

/// Renders `answer` for the name `owner`, from the shape and nothing else (beside the view).
pub fn render(answer: &SteeredAnswer, view: &View, owner: &Name) -> SteeredReply {
    let record = |rdata| Record::from_rdata(owner.clone(), answer.ttl, rdata);
    let addresses = |ipv4: &[Ipv4Addr], ipv6: &[Ipv6Addr]| -> Vec<Record> {
        match answer.family {
            Family::V4 => ipv4
                .iter()
                .take(answer.count)
                .map(|addr| record(RData::A(A(*addr))))
                .collect(),
            Family::V6 => ipv6
                .iter()
                .take(answer.count)
                .map(|addr| record(RData::AAAA(AAAA(*addr))))
                .collect(),
        }
    };
    let reply = |answers| SteeredReply {
        response_code: ResponseCode::NoError,
        authoritative: true,
        answers,
        authority: None,
    };
    match answer.source {
        AnswerSource::Region(id) => {
            let region = view.config.region(id);
            reply(addresses(&region.ipv4, &region.ipv6))
        }
        AnswerSource::Fallback { service } => match &view.config.service(service).all_down {
            AllDown::Fallback(fallback) => reply(addresses(&fallback.ipv4, &fallback.ipv6)),
            // The shape was computed from this very config: a fallback source has a list.
            _ => reply(Vec::new()),
        },
        AnswerSource::NoData => {
            let mut soa = view.zone.negative_soa.clone();
            soa.ttl = answer.ttl;
            SteeredReply {
                authority: Some(soa),
                ..reply(Vec::new())
            }
        }
        AnswerSource::ServFail => SteeredReply {
            response_code: ResponseCode::ServFail,
            authoritative: false,
            answers: Vec::new(),
            authority: None,
        },
    }
}

impl Decision {
    /// What the answer of the steered name `service` (an index into `Config::services`) is.
    pub fn steered_answer(&self, view: &View, family: Family, service: usize) -> SteeredAnswer {
        steering::steered_answer(
            self.choice.as_ref(),
            family,
            &AnswerContext {
                service_index: service,
                service: view.config.service(service),
                policy: &view.config.answer,
                regions: &view.config.regions,
                negative_ttl: view.zone.negative_soa.ttl,
            },
        )
    }

    /// The ECS scope a steered answer carries. When an unusable subnet (private, say) made
    /// us answer for the packet source, the answer holds for that subnet only: a global
    /// subnet would have been steered. Scope 0 there would let a resolver hand it to all its
    /// clients. (The echo widens it to the subnet's special-purpose block.)
    /// No region serves the family (the answer is NODATA for everyone): scope 0, since the
    /// location did not shape the answer (RFC 7871 section 7.4).
    pub fn steered_scope(&self) -> u8 {
        answer_scope(&self.client, self.choice.is_some(), self.scope_prefix)
    }
}

/// [`Decision::steered_scope`] for a client whose answer its place alone decided (a choice
/// that is not a spread): `chosen` says whether a region was chosen at all.
pub(crate) fn placed_scope(client: &ClientAddress, located: &Located, chosen: bool) -> u8 {
    answer_scope(client, chosen, place_scope(client, located))
}

fn answer_scope(client: &ClientAddress, chosen: bool, scope_prefix: u8) -> u8 {
    if !chosen {
        return 0;
    }
    match client.source {
        ClientSource::Ecs => scope_prefix,
        ClientSource::Packet => client.ecs_source_prefix.unwrap_or(0),
    }
}

/// The scope the database network and the CIDR rules give a client's answer.
fn place_scope(client: &ClientAddress, located: &Located) -> u8 {
    steering::scope_prefix(
        client.prefix,
        // No network (an IPv6 client of an IPv4-only database): nothing says how far the
        // answer reaches, so it is for the client's own subnet only.
        Some(located.network.map_or(client.prefix, |(_, prefix)| prefix)),
        located.cidr,
    )
}

/// The scope to echo for a query's subnet `addr`/`source_prefix`, given the `scope` of the
/// family geolocation used (0: location did not shape the answer).
///
/// A subnet that cannot be geolocated (private, documentation, ...) was answered for the
/// packet source: the answer holds for the whole special-purpose block the subnet lies in,
/// since any subnet of that block gets the same one (RFC 7871 section 10), and a resolver
/// may reuse it there, but not for the public clients beside it.
pub fn echo_scope(addr: IpAddr, source_prefix: u8, scope: u8) -> u8 {
    if scope == 0 {
        // The location did not shape the answer: no need to look at the subnet.
        return 0;
    }
    echo_scope_of(
        addr,
        source_prefix,
        scope,
        usable_subnet(addr, source_prefix).is_some(),
    )
}

/// [`echo_scope`] when the caller knows already whether the subnet was usable (the client
/// it placed came from it): the answer path selects the client once per query.
pub(crate) fn echo_scope_of(addr: IpAddr, source_prefix: u8, scope: u8, usable: bool) -> u8 {
    if scope == 0 {
        return 0;
    }
    let mapped = matches!(addr, IpAddr::V6(v6) if v6.to_ipv4_mapped().is_some());
    let scope = if !usable {
        special_block(addr).unwrap_or(source_prefix)
    } else if mapped {
        scope.saturating_add(96)
    } else {
        scope
    };
    scope.min(source_prefix)
}

/// Where `client` is and its order of regions, distances included: uncached, for `explain`.
/// The order is the answer path's; the place is read from the database file again.
pub fn placement(view: &View, client: ClientAddress) -> Placement {
    let rules = &view.config.steering;
    let lookup = view.steering.lookup(client.addr);
    let cidr = steering::match_cidr(rules, client.addr);
    let place = match lookup.class {
        Some(_) => view.geo.place(client.addr),
        None => Place::default(),
    };
    let leaf = view.steering.leaf(lookup.class.map(|class| class as usize));
    let mut order = steering::order_from(&leaf.basis, cidr.map(|index| &rules.cidr[index]));
    steering::add_distances(&mut order, &place, &view.config.regions);
    Placement { place, order }
}

/// Where the view's steering map and CIDR rules put `addr`: all a decision depends on
/// besides health and the client's own block.
pub(crate) fn locate(view: &View, addr: IpAddr) -> Located {
    let lookup = view.steering.lookup(addr);
    Located {
        network: lookup.network,
        leaf: lookup.class.map(|class| class as usize),
        cidr: view.config.steering.cidr.lookup(addr),
    }
}

/// The decision for `client` asking for addresses of `family`, from one view.
pub fn decide(view: &View, client: ClientAddress, family: Family) -> Decision {
    decide_at(view, client, locate(view, client.addr), family)
}

/// [`decide`] for a client already located (`located` is `locate(view, client.addr)`).
pub(crate) fn decide_at(
    view: &View,
    client: ClientAddress,
    located: Located,
    family: Family,
) -> Decision {
    let rules = &view.config.steering;
    let (order, continent) = orders::cached(view.placement_epoch, &located, |located| {
        let leaf = view.steering.leaf(located.leaf);
        let cidr = located.cidr.rule.map(|index| &rules.cidr[index]);
        (steering::order_from(&leaf.basis, cidr), leaf.continent)
    });
    let choice = steering::choose(
        &order,
        &view.health,
        &view.config.regions,
        family,
        view.config.answer.spill,
        ClientNet {
            addr: client.addr,
            prefix: client.prefix,
        },
    );
    let scope_prefix = place_scope(&client, &located);
    // A spread answer also depends on the block the client was hashed on.
    let scope_prefix = match choice.map(|choice| choice.route) {
        Some(Route::Spread(spread)) => {
            steering::spilled_scope(scope_prefix, &spread, client.prefix)
        }
        _ => scope_prefix,
    };
    Decision {
        client,
        network: located.network,
        order,
        continent,
        choice,
        scope_prefix,
    }
}
