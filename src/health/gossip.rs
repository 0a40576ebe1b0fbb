//! What a node's `/healthz` carries besides its self-report: its own votes about every
//! region, how fresh they are, its config hash and the operator state it knows.
//!
//! Every node probes every region's `/healthz` anyway, so the probe's response is the gossip:
//! one exchange both measures reachability and tells the prober what the responder sees. No
//! extra protocol and no extra port. A response whose gossip cannot be read still counts as a
//! reachable region; only the gossip is dropped.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::operator::OperatorState;
use super::quorum::{Ballot, Vote};

/// The gossip part of a `/healthz` body (its `gossip` key).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Gossip {
    /// The responder's region: the prober the votes below belong to.
    pub region: String,
    /// The responder's node name and version (for the nodes view; absent from older nodes).
    #[serde(default)]
    pub node: String,
    #[serde(default)]
    pub version: String,
    /// The responder's config content hash; differing hashes are config drift.
    pub config_hash: String,
    /// How long ago the stalest of `votes` was last backed by a probe result, in ms.
    pub ballot_age_ms: u64,
    /// The responder's vote about each region it has probe results for.
    pub votes: BTreeMap<String, GossipVote>,
    /// Every operator entry the responder knows, tombstones included.
    pub operator: OperatorState,
}

/// One vote as gossiped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GossipVote {
    pub vote: WireVote,
    /// `up`, `failing`, `down` or `recovering`: for people, never counted.
    pub status: String,
    /// How long the vote has held, in ms.
    pub for_ms: u64,
    /// The latency of the responder's last probe of the region, in microseconds (for
    /// people, never counted; absent from older nodes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_us: Option<u64>,
}

/// [`Vote`] on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WireVote {
    Up,
    Down,
}

impl From<Vote> for WireVote {
    fn from(vote: Vote) -> Self {
        match vote {
            Vote::Up => Self::Up,
            Vote::Down => Self::Down,
        }
    }
}

impl From<WireVote> for Vote {
    fn from(vote: WireVote) -> Self {
        match vote {
            WireVote::Up => Self::Up,
            WireVote::Down => Self::Down,
        }
    }
}

impl Gossip {
    /// Reads the gossip of a `/healthz` body; `None` when it has none or it is malformed.
    pub fn from_status_body(body: &serde_json::Value) -> Option<Self> {
        serde_json::from_value(body.get("gossip")?.clone()).ok()
    }

    /// The responder's ballot, dated as conservatively as the prober can: `sent` is when the
    /// probe that brought it was sent, and the ballot is `ballot_age_ms` older than that.
    pub fn ballot(&self, sent: Instant) -> Ballot {
        let age = Duration::from_millis(self.ballot_age_ms);
        Ballot {
            at: sent.checked_sub(age).unwrap_or(sent),
            votes: self
                .votes
                .iter()
                .map(|(region, vote)| (region.clone(), vote.vote.into()))
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_status_body_round_trips_and_dates_the_ballot_by_its_age() {
        let gossip = Gossip {
            region: "eu-west".to_string(),
            node: "n1".to_string(),
            version: "1.0.0".to_string(),
            config_hash: "abc".to_string(),
            ballot_age_ms: 300,
            votes: BTreeMap::from([
                (
                    "us-east".to_string(),
                    GossipVote {
                        vote: WireVote::Down,
                        status: "down".to_string(),
                        for_ms: 1200,
                        latency_us: None,
                    },
                ),
                (
                    "eu-west".to_string(),
                    GossipVote {
                        vote: WireVote::Up,
                        status: "up".to_string(),
                        for_ms: 50_000,
                        latency_us: Some(830),
                    },
                ),
            ]),
            operator: OperatorState::empty(),
        };
        let body = serde_json::json!({ "status": "ok", "gossip": gossip });
        let read = Gossip::from_status_body(&body).unwrap();
        assert_eq!(read, gossip);
        let sent = Instant::now();
        let ballot = read.ballot(sent);
        assert_eq!(sent - ballot.at, Duration::from_millis(300));
        assert_eq!(ballot.votes["us-east"], Vote::Down);
        assert_eq!(ballot.votes["eu-west"], Vote::Up);
    }

    #[test]
    fn missing_or_malformed_gossip_is_none() {
        assert_eq!(
            Gossip::from_status_body(&serde_json::json!({"status": "ok"})),
            None
        );
        let bad =
            serde_json::json!({"gossip": {"region": "x", "votes": {"a": {"vote": "sideways"}}}});
        assert_eq!(Gossip::from_status_body(&bad), None);
    }
}
