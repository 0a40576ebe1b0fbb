//! The verdict per region, from every vantage point's votes, a region's self-report and the
//! operator's state.
//!
//! Pure: the monitor gathers the [`Inputs`] (its own ballot, the ballots gossiped by the other
//! nodes, each region's `/healthz` self-report, the operator's drains and force-ups) and calls
//! [`decide`] with the instant it reads as now. No clock, no I/O: every node that holds the same
//! inputs computes the same verdicts, so every name server gives the same answer. Everything
//! is keyed by region name in [`BTreeMap`]s and every list comes out sorted, so the order the
//! inputs were gathered in changes nothing.
//!
//! # Probers and ballots
//!
//! A prober is a node, named by its region. Its [`Ballot`] holds one [`Vote`] per target region
//! and the instant it was cast. Only ballots that count are used anywhere below:
//!
//! - **Fresh.** A ballot older than `max_age` at `now` counts as absent (its node has stopped
//!   gossiping, or stopped probing). A ballot of exactly `max_age` is fresh; one dated after
//!   `now` is fresh (age zero).
//! - **Known.** A ballot from a prober that is not one of [`Inputs::regions`] is ignored, and so
//!   are votes about regions that are not in that list: like a [`HealthSnapshot`], a ballot
//!   built for another region list never moves traffic.
//! - **Not isolated.** A prober is *isolated* when its fresh ballot votes [`Vote::Down`] about
//!   every region other than its own, and at least two other regions exist: it can reach none
//!   of them, so the likely fault is its own link, not every other region at once. A missing
//!   vote is not a Down vote, so a prober that did not vote about some other region is not
//!   isolated. An isolated prober's votes do not count for any region, its own included. With
//!   one other region, a Down vote is as likely the other region's fault as one's own, so no
//!   prober is isolated: a region that dies is failed over, and the price is that a cut link
//!   between the two regions fails each over in the other's view. Partition tolerance takes
//!   three regions. With a single region its own votes decide.
//!
//! A prober's vote about its own region counts like any other vote: a node that sees its own
//! region's `/healthz` fail from the inside is one more vantage point. (A region whose node is
//! dead casts no fresh ballot at all, so it is not counted in its own verdict.)
//!
//! # The verdict of one region, first rule that applies
//!
//! 1. **Drained** by the operator: down, "drained".
//! 2. **Forced up** by the operator: up, "forced up", whatever the votes and the self-report
//!    say. A region has one [`Operator`] state, so it is never both drained and forced up; the
//!    order above is the precedence to keep wherever operator states are merged: a drain wins,
//!    because sending traffic to a region being worked on is the worse mistake.
//! 3. **Reports itself unhealthy** (its `/healthz` said 503 with a reason): down, with that
//!    reason. A healthy or unknown self-report decides nothing; the votes do.
//! 4. **Votes.** Let `N` be the number of counted probers (fresh, known, not isolated) that voted
//!    about the region, and `D` how many of them voted Down. The region is down when `D > N/2`
//!    (a strict majority) and, when `N >= 2`, also `D >= 2`. So one prober decides alone, two
//!    must agree, and one cut link (one prober voting Down, the others Up) never moves
//!    traffic. A tie is up. The reason reads "`D` of `N` vantage points vote down".
//! 5. **No vantage point** (`N == 0`): the region keeps its previous verdict's `up`, or is up
//!    when it had none, with a reason saying that no vantage point voted.
//!
//! Every verdict lists the counted probers' votes about the region (`down_votes`,
//! `up_votes`, sorted), also when rule 1, 2 or 3 decided, so the dashboard can show what the
//! votes would have said.
//!
//! # The local node isolated
//!
//! When the local node (the one calling [`decide`]) is itself isolated, it cannot tell its own
//! fault from everyone else's, so it does not flip its answers: the [`Outcome`] carries the
//! previous [`Verdicts`] unchanged, every one of them (operator changes and self-reports included
//! wait until it can reach a region again), and says so ([`Outcome::local_isolated`],
//! [`Outcome::reason`]) for the logs and metrics. A local node whose own ballot is stale or
//! missing is not isolated: its ballot is absent, and the others' votes decide.
//!
//! Because of rule 5 and the isolated case, the outcome also depends on the previous verdicts,
//! which are the node's own; nodes that agree on the inputs and on the last agreed view agree
//! on the outcome.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use super::snapshot::{HealthSnapshot, RegionHealth};

#[cfg(test)]
mod tests;

/// The reason given, in [`Outcome::reason`], when the local node is isolated.
pub const ISOLATED: &str = "isolated: keeping the last agreed view";

/// One prober's opinion of one target region, after its own probe hysteresis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Vote {
    Up,
    Down,
}

/// One prober's votes about the target regions, keyed by target region name, and when they
/// were cast.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ballot {
    pub at: Instant,
    pub votes: BTreeMap<String, Vote>,
}

/// Every prober's latest ballot, keyed by the prober's region name.
pub type Ballots = BTreeMap<String, Ballot>;

/// What a region says about itself on its `/healthz`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SelfReport {
    /// 200: decides nothing, the votes do.
    Healthy,
    /// 503, with the reason from its body: the region is down.
    Unhealthy(String),
    /// Not known (never read, or unreadable): decides nothing.
    Unknown,
}

/// The operator's state for one region.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Operator {
    #[default]
    None,
    Drained,
    ForcedUp,
}

/// Everything one decision is made from. A region missing from `reports` is
/// [`SelfReport::Unknown`]; one missing from `operator` is [`Operator::None`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Inputs {
    /// The regions to decide about (the config's region list); the only probers counted.
    pub regions: BTreeSet<String>,
    pub ballots: Ballots,
    pub reports: BTreeMap<String, SelfReport>,
    pub operator: BTreeMap<String, Operator>,
}

/// Whether one region may receive traffic, why, and which counted probers voted which way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub up: bool,
    pub reason: String,
    /// Counted probers that voted Down about this region, sorted.
    pub down_votes: Vec<String>,
    /// Counted probers that voted Up about this region, sorted.
    pub up_votes: Vec<String>,
}

/// The verdicts of every region, keyed by region name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verdicts {
    regions: BTreeMap<String, Verdict>,
}

impl Verdicts {
    /// No verdicts yet: every region counts as up.
    pub fn empty() -> Self {
        Self::default()
    }

    pub fn with(mut self, region: &str, verdict: Verdict) -> Self {
        self.regions.insert(region.to_string(), verdict);
        self
    }

    pub fn get(&self, region: &str) -> Option<&Verdict> {
        self.regions.get(region)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &Verdict)> {
        self.regions
            .iter()
            .map(|(name, verdict)| (name.as_str(), verdict))
    }

    /// The verdicts as the answer path reads them: `up` and `reason` of every region, and
    /// whether it is in transition (the monitor knows when verdicts last changed; this module
    /// has no clock).
    pub fn to_snapshot(&self, in_transition: impl Fn(&str) -> bool) -> HealthSnapshot {
        self.iter()
            .fold(HealthSnapshot::empty(), |snapshot, (name, verdict)| {
                snapshot.with(
                    name,
                    RegionHealth {
                        up: verdict.up,
                        reason: verdict.reason.clone(),
                        transition: in_transition(name),
                    },
                )
            })
    }
}

/// The result of one [`decide`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub verdicts: Verdicts,
    /// The probers whose fresh ballots were set aside as isolated, sorted.
    pub isolated: Vec<String>,
    /// The local node is isolated: `verdicts` are the previous ones, unchanged.
    pub local_isolated: bool,
}

impl Outcome {
    /// [`ISOLATED`] when the local node is isolated, for the logs and metrics.
    pub fn reason(&self) -> Option<&'static str> {
        self.local_isolated.then_some(ISOLATED)
    }
}

/// The verdict of every region of `inputs.regions`, as the module doc states it. `local` is
/// the deciding node's region name, `previous` the verdicts it last published, and a ballot
/// counts only if it is at most `max_age` old at `now`.
pub fn decide(
    inputs: &Inputs,
    local: &str,
    previous: &Verdicts,
    now: Instant,
    max_age: Duration,
) -> Outcome {
    let fresh: BTreeMap<&str, &Ballot> = inputs
        .ballots
        .iter()
        .filter(|(prober, ballot)| {
            inputs.regions.contains(prober.as_str())
                && now.saturating_duration_since(ballot.at) <= max_age
        })
        .map(|(prober, ballot)| (prober.as_str(), ballot))
        .collect();
    let isolated: BTreeSet<&str> = fresh
        .iter()
        .filter(|(prober, ballot)| is_isolated(prober, ballot, &inputs.regions))
        .map(|(prober, _)| *prober)
        .collect();
    let isolated_names = isolated.iter().map(|name| name.to_string()).collect();

    if isolated.contains(local) {
        return Outcome {
            verdicts: previous.clone(),
            isolated: isolated_names,
            local_isolated: true,
        };
    }

    let counted: Vec<(&str, &Ballot)> = fresh
        .into_iter()
        .filter(|(prober, _)| !isolated.contains(prober))
        .collect();
    let regions = inputs
        .regions
        .iter()
        .map(|region| {
            let verdict = decide_region(region, inputs, &counted, previous.get(region));
            (region.clone(), verdict)
        })
        .collect();
    Outcome {
        verdicts: Verdicts { regions },
        isolated: isolated_names,
        local_isolated: false,
    }
}

/// Whether `prober` votes Down about every region other than its own, of which there are
/// two at least.
fn is_isolated(prober: &str, ballot: &Ballot, regions: &BTreeSet<String>) -> bool {
    let others: Vec<&String> = regions
        .iter()
        .filter(|region| region.as_str() != prober)
        .collect();
    others.len() >= 2
        && others
            .iter()
            .all(|region| ballot.votes.get(*region) == Some(&Vote::Down))
}

fn decide_region(
    region: &str,
    inputs: &Inputs,
    counted: &[(&str, &Ballot)],
    previous: Option<&Verdict>,
) -> Verdict {
    let mut down_votes = Vec::new();
    let mut up_votes = Vec::new();
    // `counted` is in prober order, so both lists come out sorted.
    for (prober, ballot) in counted {
        match ballot.votes.get(region) {
            Some(Vote::Down) => down_votes.push(prober.to_string()),
            Some(Vote::Up) => up_votes.push(prober.to_string()),
            None => {}
        }
    }
    let operator = inputs.operator.get(region).copied().unwrap_or_default();
    let report = inputs.reports.get(region).unwrap_or(&SelfReport::Unknown);
    let voters = down_votes.len() + up_votes.len();
    let downs = down_votes.len();

    let (up, reason) = match (operator, report) {
        (Operator::Drained, _) => (false, "drained".to_string()),
        (Operator::ForcedUp, _) => (true, "forced up".to_string()),
        (Operator::None, SelfReport::Unhealthy(reason)) => {
            (false, format!("reports itself unhealthy: {reason}"))
        }
        (Operator::None, SelfReport::Healthy | SelfReport::Unknown) if voters == 0 => {
            match previous {
                Some(verdict) => (
                    verdict.up,
                    format!(
                        "no vantage point voted: keeping the last verdict ({})",
                        if verdict.up { "up" } else { "down" }
                    ),
                ),
                None => (true, "no vantage point voted: assumed up".to_string()),
            }
        }
        (Operator::None, SelfReport::Healthy | SelfReport::Unknown) => {
            let up = !majority_down(downs, voters);
            (up, format!("{downs} of {voters} vantage points vote down"))
        }
    };
    Verdict {
        up,
        reason,
        down_votes,
        up_votes,
    }
}

/// Down when a strict majority of the `voters` vote down and, with two voters or more, at
/// least two do.
pub fn majority_down(downs: usize, voters: usize) -> bool {
    downs * 2 > voters && (voters < 2 || downs >= 2)
}
