//! The quorum verdict, rule by rule, with made-up regions, ballots and instants.

use std::time::{Duration, Instant};

use super::*;

mod inputs;
mod isolation;
mod majority;
mod precedence;

const MAX_AGE: Duration = Duration::from_secs(3);

/// One decision's inputs, built up call by call; ballots are dated relative to `now`.
struct Election {
    now: Instant,
    inputs: Inputs,
}

impl Election {
    fn new(regions: &[&str]) -> Self {
        Self {
            now: Instant::now() + Duration::from_secs(60),
            inputs: Inputs {
                regions: regions.iter().map(|name| name.to_string()).collect(),
                ..Inputs::default()
            },
        }
    }

    /// A fresh ballot from `prober` (cast at `now`).
    fn vote(self, prober: &str, votes: &[(&str, Vote)]) -> Self {
        self.vote_aged(prober, Duration::ZERO, votes)
    }

    /// A ballot from `prober` cast `age` before `now`.
    fn vote_aged(mut self, prober: &str, age: Duration, votes: &[(&str, Vote)]) -> Self {
        let ballot = Ballot {
            at: self.now - age,
            votes: votes
                .iter()
                .map(|(target, vote)| (target.to_string(), *vote))
                .collect(),
        };
        self.inputs.ballots.insert(prober.to_string(), ballot);
        self
    }

    fn report(mut self, region: &str, report: SelfReport) -> Self {
        self.inputs.reports.insert(region.to_string(), report);
        self
    }

    fn operator(mut self, region: &str, operator: Operator) -> Self {
        self.inputs.operator.insert(region.to_string(), operator);
        self
    }

    fn decide(&self, local: &str) -> Outcome {
        self.decide_after(local, &Verdicts::empty())
    }

    fn decide_after(&self, local: &str, previous: &Verdicts) -> Outcome {
        decide(&self.inputs, local, previous, self.now, MAX_AGE)
    }

    /// The verdict about `region` as seen from `local`.
    fn verdict(&self, local: &str, region: &str) -> Verdict {
        let outcome = self.decide(local);
        assert!(!outcome.local_isolated, "{local} is isolated");
        outcome
            .verdicts
            .get(region)
            .cloned()
            .unwrap_or_else(|| panic!("no verdict about {region}"))
    }
}

fn names(names: &[&str]) -> Vec<String> {
    names.iter().map(|name| name.to_string()).collect()
}

fn verdict(up: bool, reason: &str, down_votes: &[&str], up_votes: &[&str]) -> Verdict {
    Verdict {
        up,
        reason: reason.to_string(),
        down_votes: names(down_votes),
        up_votes: names(up_votes),
    }
}
