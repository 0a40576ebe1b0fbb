//! Pure steering policy: (place, rules, regions, health) -> region order, choice and what
//! the answer holds.
//!
//! No I/O, no clock, no tokio. The ECS scope rule lives here too, because what an answer
//! depends on is decided here. `choice.rs` picks the region from health, `spread.rs` spreads
//! the clients of a region that is down by capacity, `answer.rs` turns the choice and the
//! service's all-down policy into the answer's shape.

use std::net::IpAddr;

use ipnet::IpNet;

use crate::config::{CidrMatch, CidrRule, SteeringRules};
use crate::geo::{Place, distance_km};
use crate::region::{Region, RegionId};

mod answer;
mod choice;
mod spread;

pub use answer::{AnswerContext, AnswerSource, SteeredAnswer, steered_answer};
pub use choice::{Choice, Route, choose, eligible, skipped, spill_candidates};
pub use spread::{
    ClientNet, SPREAD_PREFIX_V4, SPREAD_PREFIX_V6, Spread, spilled_scope, spread_prefix,
    subnet_hash,
};

/// What put the first regions of an order where they are.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Rule {
    Cidr(IpNet),
    Subdivision(String),
    Country(String),
    Continent(String),
    /// Nearest first, by great-circle distance.
    Distance,
    /// The configured order for clients with no location.
    Default,
}

impl std::fmt::Display for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Cidr(network) => write!(f, "override steering.cidr.\"{network}\""),
            Self::Subdivision(code) => write!(f, "override steering.subdivision.{code}"),
            Self::Country(code) => write!(f, "override steering.country.{code}"),
            Self::Continent(code) => write!(f, "override steering.continent.{code}"),
            Self::Distance => f.write_str("distance"),
            Self::Default => f.write_str("steering.default (client has no location)"),
        }
    }
}

/// One region in an order.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Candidate {
    pub region: RegionId,
    /// From the client's location; `None` when the client has none.
    pub distance_km: Option<f64>,
}

/// Every region, best first. Independent of health, so it can be cached per record.
#[derive(Debug, Clone, PartialEq)]
pub struct RegionOrder {
    pub rule: Rule,
    pub candidates: Vec<Candidate>,
}

/// The longest-prefix CIDR rule containing `addr`, by index into `rules.cidr`.
pub fn match_cidr(rules: &SteeringRules, addr: IpAddr) -> Option<usize> {
    rules.cidr.lookup(addr).rule
}

/// What a place makes of the order, before any CIDR rule: the overriding list its
/// subdivision, country or continent has, and every region in the order that fills up
/// the rest (nearest first, or the default order when the place has no location).
///
/// Many places share one: a database's networks are merged by it at load
/// ([`crate::decision::SteeringMap`]), so it must be all an order depends on but the CIDR
/// rule.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Basis {
    /// The rule of the place's overriding list, and the list.
    pub listed: Option<(Rule, Vec<RegionId>)>,
    /// Every region, nearest first when `located`, else in the default order.
    pub base: Vec<RegionId>,
    pub located: bool,
}

/// The [`Basis`] of a place under `rules`.
pub fn basis(place: &Place, rules: &SteeringRules, regions: &[Region]) -> Basis {
    fn lookup<'a>(
        map: &'a std::collections::HashMap<String, Vec<RegionId>>,
        key: &Option<String>,
    ) -> Option<(String, &'a Vec<RegionId>)> {
        key.as_ref()
            .and_then(|k| map.get(k).map(|order| (k.clone(), order)))
    }
    let listed = lookup(&rules.subdivision, &place.subdivision)
        .map(|(k, o)| (Rule::Subdivision(k), o.clone()))
        .or_else(|| {
            lookup(&rules.country, &place.country).map(|(k, o)| (Rule::Country(k), o.clone()))
        })
        .or_else(|| {
            lookup(&rules.continent, &place.continent).map(|(k, o)| (Rule::Continent(k), o.clone()))
        });
    let location = place.location.map(|l| l.location);
    let base = match location {
        Some(here) => {
            let mut ids: Vec<RegionId> = regions.iter().map(|region| region.id).collect();
            // Stable on ties: equal distances keep the regions' name order.
            ids.sort_by(|a, b| {
                distance_km(here, regions[a.index()].location)
                    .partial_cmp(&distance_km(here, regions[b.index()].location))
                    .unwrap_or(std::cmp::Ordering::Equal)
            });
            ids
        }
        None => {
            let mut ids = rules.default_order.clone();
            ids.extend(
                regions
                    .iter()
                    .map(|r| r.id)
                    .filter(|id| !rules.default_order.contains(id)),
            );
            ids
        }
    };
    Basis {
        listed,
        base,
        located: location.is_some(),
    }
}

/// The order for a place's `basis` and the client's CIDR rule, if any, without distances:
/// the overriding list first (CIDR before the place's own), then the rest of the regions
/// as the basis has them. Overrides never remove a region, so failover always has
/// somewhere to go.
pub fn order_from(basis: &Basis, cidr: Option<&CidrRule>) -> RegionOrder {
    let listed = cidr
        .map(|rule| (Rule::Cidr(rule.network), rule.order.as_slice()))
        .or_else(|| {
            basis
                .listed
                .as_ref()
                .map(|(rule, list)| (rule.clone(), list.as_slice()))
        });
    let mut order: Vec<RegionId> = listed
        .as_ref()
        .map(|(_, list)| list.to_vec())
        .unwrap_or_default();
    let rest: Vec<RegionId> = basis
        .base
        .iter()
        .copied()
        .filter(|id| !order.contains(id))
        .collect();
    order.extend(rest);
    let rule = match listed {
        Some((rule, _)) => rule,
        None if basis.located => Rule::Distance,
        None => Rule::Default,
    };
    RegionOrder {
        rule,
        candidates: order
            .into_iter()
            .map(|region| Candidate {
                region,
                distance_km: None,
            })
            .collect(),
    }
}

/// Orders every region for a client, distances included: [`order_from`] the place's
/// [`basis`].
pub fn order_regions(
    place: &Place,
    cidr: Option<&CidrRule>,
    rules: &SteeringRules,
    regions: &[Region],
) -> RegionOrder {
    let mut order = order_from(&basis(place, rules, regions), cidr);
    add_distances(&mut order, place, regions);
    order
}

/// Fills in each candidate's distance from `place`, when it has a location (for `explain`:
/// the answer path keeps orders without distances).
pub fn add_distances(order: &mut RegionOrder, place: &Place, regions: &[Region]) {
    if let Some(here) = place.location.map(|l| l.location) {
        for candidate in &mut order.candidates {
            let there = regions[candidate.region.index()].location;
            candidate.distance_km = Some(distance_km(here, there));
        }
    }
}

/// The ECS scope prefix (RFC 7871 section 7.2.1): the widest prefix around the client whose
/// every address gets the same answer, capped at the source prefix.
///
/// The answer depends on the database network holding the client (`db_prefix`) and on which
/// CIDR rule contains it. So the scope covers no more than the database network, no more
/// than the matched rule, and no part of any rule that does not contain the client.
pub fn scope_prefix(source_prefix: u8, db_prefix: Option<u8>, cidr: CidrMatch) -> u8 {
    db_prefix.unwrap_or(0).max(cidr.scope).min(source_prefix)
}

#[cfg(test)]
mod tests;
