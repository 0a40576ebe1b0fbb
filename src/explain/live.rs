//! A running node's health, as its `GET /api/v1/regions` reports it: the verdicts to explain
//! an answer with, and every vantage point's votes to show beside the report. Pure: the
//! command fetches the JSON, this reads it.

use std::fmt;

use serde::Deserialize;

use crate::health::{HealthSnapshot, RegionHealth};

/// What one node says about every region.
#[derive(Debug, Clone, Deserialize)]
pub struct LiveHealth {
    pub node: String,
    pub region: String,
    pub isolated: bool,
    pub regions: Vec<LiveRegion>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct LiveRegion {
    pub name: String,
    pub up: bool,
    pub reason: Option<String>,
    pub in_transition: bool,
    pub votes: Vec<LiveVote>,
    pub operator: Option<LiveOperator>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct LiveVote {
    pub from: String,
    pub vote: String,
    pub age_ms: Option<u64>,
    pub fresh: bool,
    pub isolated: bool,
}

#[derive(Debug, Clone, Deserialize)]
pub struct LiveOperator {
    pub state: String,
    pub version: u64,
    pub by: String,
}

impl LiveHealth {
    /// Reads the body of `GET /api/v1/regions`.
    pub fn from_json(body: &[u8]) -> Result<Self, String> {
        serde_json::from_slice(body).map_err(|error| format!("not a regions report: {error}"))
    }

    /// The verdicts as the node's view holds them.
    pub fn snapshot(&self) -> HealthSnapshot {
        self.regions
            .iter()
            .fold(HealthSnapshot::empty(), |snapshot, region| {
                snapshot.with(
                    &region.name,
                    RegionHealth {
                        up: region.up,
                        reason: region.reason.clone().unwrap_or_default(),
                        transition: region.in_transition,
                    },
                )
            })
    }
}

impl fmt::Display for LiveHealth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "health     as node {} ({}) sees it{}",
            self.node,
            self.region,
            if self.isolated {
                ": ISOLATED, keeping the last agreed view"
            } else {
                ""
            }
        )?;
        for region in &self.regions {
            writeln!(
                f,
                "  {:<14} {}{}  {}",
                region.name,
                if region.up { "up" } else { "DOWN" },
                if region.in_transition {
                    " (in transition)"
                } else {
                    ""
                },
                region.reason.as_deref().unwrap_or("")
            )?;
            if let Some(operator) = region.operator.as_ref().filter(|o| o.state != "none") {
                writeln!(
                    f,
                    "  {:<14}   operator: {} (version {}, by {})",
                    "", operator.state, operator.version, operator.by
                )?;
            }
            let votes: Vec<String> = region
                .votes
                .iter()
                .map(|vote| {
                    let mut text = format!("{} {}", vote.from, vote.vote);
                    if let Some(age) = vote.age_ms {
                        text.push_str(&format!(" {:.1} s ago", age as f64 / 1000.0));
                    }
                    if !vote.fresh {
                        text.push_str(" (stale)");
                    }
                    if vote.isolated {
                        text.push_str(" (isolated)");
                    }
                    text
                })
                .collect();
            writeln!(f, "  {:<14}   votes: {}", "", votes.join(", "))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_regions_report_becomes_verdicts_and_a_votes_table() {
        let body = br#"{"node":"n1","region":"us-east","isolated":false,"isolated_probers":[],
            "view_generation":3,"regions":[
            {"name":"eu-west","up":false,"reason":"2 of 3 vantage points vote down","in_transition":true,
             "down_votes":["ap-southeast","us-east"],"up_votes":["eu-west"],
             "votes":[{"from":"ap-southeast","vote":"down","age_ms":300,"fresh":true,"isolated":false},
                      {"from":"eu-west","vote":"up","age_ms":5000,"fresh":false,"isolated":false}],
             "probe":null,"operator":{"state":"drained","version":2,"by":"us-east/n1","at_unix_ms":1},
             "config_hash":"x"}]}"#;
        let live = LiveHealth::from_json(body).unwrap();
        let snapshot = live.snapshot();
        let health = snapshot.get("eu-west").unwrap();
        assert!(!health.up && health.transition);
        let text = live.to_string();
        assert!(
            text.contains("eu-west        DOWN (in transition)  2 of 3"),
            "{text}"
        );
        assert!(
            text.contains("operator: drained (version 2, by us-east/n1)"),
            "{text}"
        );
        assert!(
            text.contains("ap-southeast down 0.3 s ago, eu-west up 5.0 s ago (stale)"),
            "{text}"
        );
        assert!(LiveHealth::from_json(b"{}").is_err());
    }
}
