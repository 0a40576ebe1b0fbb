//! Which region answers one client: the first healthy candidate of its order, or, when every
//! candidate is down, the nearest one for the all-down policy to use or not.

use super::RegionOrder;
use crate::health::HealthTable;
use crate::region::{Family, Region, RegionId};

/// How the region of a choice was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// The client's first candidate is up.
    First,
    /// The client's first candidate is down; the next healthy one answers.
    Next,
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

/// The first healthy candidate that can answer `family`. When every candidate that can is
/// down, the first of them, marked [`Route::AllDown`]. `None` when no region can answer at all.
pub fn choose(
    order: &RegionOrder,
    health: &HealthTable,
    regions: &[Region],
    family: Family,
) -> Option<Choice> {
    let mut candidates = eligible(order, regions, family);
    let first = candidates.next()?;
    let (region, route) = if health.is_up(first) {
        (first, Route::First)
    } else {
        match candidates.find(|id| health.is_up(*id)) {
            Some(next) => (next, Route::Next),
            None => (first, Route::AllDown),
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

/// The down candidates a choice passed over: those ranked before the chosen region, or,
/// when every candidate is down, all of them but the nearest (the chosen one).
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
