//! Which region answers one client: the first healthy candidate of its order.

use super::RegionOrder;
use crate::health::HealthTable;
use crate::region::RegionId;

/// The region an answer uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Choice {
    pub region: RegionId,
    /// Every candidate was down and the nearest was used anyway.
    pub fail_open: bool,
}

/// The first healthy candidate that can answer (has addresses of the family asked for); when
/// all of those are down, fail open to the first of them: answering somewhere beats answering
/// nothing, and it is reported loudly. `None` when no region can answer at all.
pub fn choose(
    order: &RegionOrder,
    health: &HealthTable,
    can_answer: impl Fn(RegionId) -> bool,
) -> Option<Choice> {
    let mut eligible = order
        .candidates
        .iter()
        .filter(|candidate| can_answer(candidate.region));
    let first = eligible.next()?;
    if health.is_up(first.region) {
        return Some(Choice {
            region: first.region,
            fail_open: false,
        });
    }
    Some(
        eligible
            .find(|candidate| health.is_up(candidate.region))
            .map(|candidate| Choice {
                region: candidate.region,
                fail_open: false,
            })
            .unwrap_or(Choice {
                region: first.region,
                fail_open: true,
            }),
    )
}
