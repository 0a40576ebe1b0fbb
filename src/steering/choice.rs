//! Which region answers one client: the first healthy candidate of its order; when that one
//! is down, the next healthy one or a spread over the next few by capacity; when every
//! candidate is down, the nearest one for the all-down policy to use or not.

use super::RegionOrder;
use super::spread::{self, ClientNet, Spread};
use crate::config::{MAX_SPILL_REGIONS, Spill};
use crate::health::HealthTable;
use crate::region::{Family, Region, RegionId};

/// How the region of a choice was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// The client's first candidate is up.
    First,
    /// The client's first candidate is down; the next healthy one answers (`spill =
    /// "nearest"`, or only one healthy region to spread over).
    Next,
    /// The client's first candidate is down; one of the next healthy ones answers, picked
    /// by capacity from the hash of the client's subnet.
    Spread(Spread),
    /// Every candidate is down: [`Choice::region`] is the nearest of them, and the service's
    /// all-down policy decides what to answer.
    AllDown,
}

/// The region an answer uses, and what it depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Choice {
    pub region: RegionId,
    pub route: Route,
    /// The chosen region, or a down region ranked before it, is in transition: its verdict
    /// is fresh or disputed, so the answer may soon change and gets the transition TTL.
    pub transition: bool,
}

impl Choice {
    pub fn all_down(&self) -> bool {
        self.route == Route::AllDown
    }
}

/// The candidates of `order` that can answer `family` (that have addresses of it), in order.
pub fn eligible<'a>(
    order: &'a RegionOrder,
    regions: &'a [Region],
    family: Family,
) -> impl Iterator<Item = RegionId> + 'a {
    order
        .candidates
        .iter()
        .map(|candidate| candidate.region)
        .filter(move |id| regions.get(id.index()).is_some_and(|r| r.serves(family)))
}

/// The healthy candidates a client whose first candidate is down may spill to, nearest
/// first: the eligible candidates after the first that are up.
pub fn spill_candidates<'a>(
    order: &'a RegionOrder,
    health: &'a HealthTable,
    regions: &'a [Region],
    family: Family,
) -> impl Iterator<Item = RegionId> + 'a {
    eligible(order, regions, family)
        .skip(1)
        .filter(|id| health.is_up(*id))
}

/// The first healthy candidate that can answer `family`. When that is down, `spill` says
/// where `client` goes instead: the next healthy candidate, or one of the next
/// `spill_regions` by capacity. When every candidate that can answer is down, the first of
/// them, marked [`Route::AllDown`]. `None` when no region can answer at all.
pub fn choose(
    order: &RegionOrder,
    health: &HealthTable,
    regions: &[Region],
    family: Family,
    spill: Spill,
    client: ClientNet,
) -> Option<Choice> {
    let first = eligible(order, regions, family).next()?;
    let (region, route) = if health.is_up(first) {
        (first, Route::First)
    } else {
        let limit = match spill {
            Spill::Nearest => 1,
            Spill::Capacity { regions } => regions.clamp(1, MAX_SPILL_REGIONS),
        };
        // A fixed array: the answer path allocates nothing for a spill.
        let mut pool = [RegionId(0); MAX_SPILL_REGIONS as usize];
        let mut len = 0;
        for id in spill_candidates(order, health, regions, family).take(usize::from(limit)) {
            pool[len] = id;
            len += 1;
        }
        match &pool[..len] {
            [] => (first, Route::AllDown),
            [next] => (*next, Route::Next),
            pool => match spread::pick(pool, regions, client) {
                Some((region, spread)) => (region, Route::Spread(spread)),
                None => (first, Route::AllDown),
            },
        }
    };
    let mut choice = Choice {
        region,
        route,
        transition: false,
    };
    choice.transition = in_transition(order, health, regions, family, &choice);
    Some(choice)
}

/// The down candidates a choice passed over: those ranked before the chosen region (for a
/// spread, before the region the client was spread to), or, when every candidate is down,
/// all of them but the nearest (the chosen one).
pub fn skipped<'a>(
    order: &'a RegionOrder,
    health: &'a HealthTable,
    regions: &'a [Region],
    family: Family,
    choice: &Choice,
) -> impl Iterator<Item = RegionId> + 'a {
    let (chosen, all_down) = (choice.region, choice.all_down());
    eligible(order, regions, family)
        .take_while(move |id| all_down || *id != chosen)
        .filter(move |id| *id != chosen && !health.is_up(*id))
}

/// Whether the answer depends on a region in transition: the chosen one, or one it skipped,
/// which may be about to come back.
fn in_transition(
    order: &RegionOrder,
    health: &HealthTable,
    regions: &[Region],
    family: Family,
    choice: &Choice,
) -> bool {
    let transition = |id: RegionId| health.get(id).is_some_and(|h| h.transition);
    transition(choice.region) || skipped(order, health, regions, family, choice).any(transition)
}
