//! The monitor's state and every rule of what it does with a probe result, without I/O:
//! the task feeds it results and instants, and publishes what it returns.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use metrics::{Counter, Gauge, Histogram, counter, gauge, histogram};

use super::super::events::{EventKind, Timeline};
use super::super::gossip::{Gossip, GossipVote};
use super::super::hysteresis::{self, TargetState, Transition};
use super::super::operator::OperatorState;
use super::super::probe::ProbeResult;
use super::super::quorum::{self, Ballot, Ballots, SelfReport, Verdicts, Vote};
use super::super::snapshot::HealthSnapshot;
use crate::config::RegionHealthSettings;

/// Probes of one target that may be waiting for an answer at once: overlapping probes let a
/// target that stopped answering fail `fall` times in about one timeout, not `fall` timeouts.
pub(super) const MAX_IN_FLIGHT: u32 = 4;

/// One target region as this node probes it.
#[derive(Debug)]
pub struct Target {
    pub state: TargetState,
    /// What the region said of itself in its last answer; unknown while it does not answer.
    pub report: SelfReport,
    /// Since when the region has said it is healthy again after saying it was not; `None`
    /// when it has not been unhealthy since its last hold-down ended. A region that reports
    /// itself unhealthy is down at once, and back only after `hold_down` of healthy reports,
    /// like a vote: a region whose backends flap cannot pull traffic back and forth.
    healthy_again_since: Option<Instant>,
    was_unhealthy: bool,
    /// When the last applied result arrived.
    pub last_result_at: Option<Instant>,
    pub latency: Option<Duration>,
    /// The backends the region listed in its last answer (its `/healthz` `backends`).
    pub backends: Option<serde_json::Value>,
    /// Why the last probe failed; `None` after a good one.
    pub error: Option<String>,
    /// When the probe of the last applied result was sent; older results are ignored.
    last_applied_sent: Option<Instant>,
    probes_sent: u64,
    in_flight: u32,
    next_due: Instant,
    metrics: TargetMetrics,
}

#[derive(Debug)]
struct TargetMetrics {
    ok: Counter,
    failed: Counter,
    latency: Histogram,
    verdict_up: Gauge,
}

impl TargetMetrics {
    /// Labelled by the probing node's region too: the demo runs every node in one process.
    fn new(prober: &str, region: &str) -> Self {
        let (prober, target) = (prober.to_string(), region.to_string());
        Self {
            ok: counter!("meridian_health_probes_total", "prober" => prober.clone(), "target" => target.clone(), "outcome" => "ok"),
            failed: counter!("meridian_health_probes_total", "prober" => prober.clone(), "target" => target.clone(), "outcome" => "failed"),
            latency: histogram!("meridian_health_probe_duration_seconds", "prober" => prober.clone(), "target" => target.clone()),
            verdict_up: gauge!("meridian_health_region_up", "prober" => prober, "region" => target),
        }
    }
}

/// A node as it describes itself in its gossip.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerInfo {
    pub node: String,
    pub version: String,
    pub config_hash: String,
    /// When this was heard (for a local node: when asked).
    pub heard: Instant,
    /// Its votes as it last gossiped them, with status and probe latency (for people).
    pub votes: BTreeMap<String, GossipVote>,
}

/// A probe to send now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueProbe {
    pub region: String,
    /// On a new connection rather than a kept-alive one.
    pub fresh: bool,
}

/// What applying one probe result changed that the task must act on.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Observed {
    /// Gossip brought operator entries this node did not have: save the state file.
    pub operator_changed: bool,
}

/// Everything the monitor knows and decides.
#[derive(Debug)]
pub struct Core {
    local: String,
    settings: RegionHealthSettings,
    targets: BTreeMap<String, Target>,
    /// The other nodes' gossiped ballots, by their region.
    ballots: Ballots,
    /// What the other nodes said of themselves in their last gossip, by their region.
    peers: BTreeMap<String, PeerInfo>,
    operator: OperatorState,
    verdicts: Verdicts,
    isolated: Vec<String>,
    local_isolated: bool,
    /// When each region's verdict last changed.
    changed_at: BTreeMap<String, Instant>,
    published: Option<HealthSnapshot>,
    isolated_gauge: Gauge,
}

impl Core {
    pub fn new(local: &str, settings: RegionHealthSettings, operator: OperatorState) -> Self {
        Self {
            local: local.to_string(),
            settings,
            targets: BTreeMap::new(),
            ballots: Ballots::new(),
            peers: BTreeMap::new(),
            operator,
            verdicts: Verdicts::empty(),
            isolated: Vec::new(),
            local_isolated: false,
            changed_at: BTreeMap::new(),
            published: None,
            isolated_gauge: gauge!("meridian_health_isolated", "prober" => local.to_string()),
        }
    }

    /// Follows the config: new regions are probed at once, removed ones forgotten, and new
    /// probe settings apply from the next probe.
    pub fn sync(&mut self, regions: &[String], settings: &RegionHealthSettings, now: Instant) {
        if *settings != self.settings {
            self.settings = settings.clone();
        }
        self.targets
            .retain(|region, _| regions.iter().any(|known| known == region));
        self.ballots
            .retain(|region, _| regions.iter().any(|known| known == region));
        self.peers
            .retain(|region, _| regions.iter().any(|known| known == region));
        for region in regions {
            self.targets
                .entry(region.clone())
                .or_insert_with(|| Target {
                    state: TargetState::new(),
                    report: SelfReport::Unknown,
                    healthy_again_since: None,
                    was_unhealthy: false,
                    last_result_at: None,
                    latency: None,
                    backends: None,
                    error: None,
                    last_applied_sent: None,
                    probes_sent: 0,
                    in_flight: 0,
                    // Probing starts at start-up.
                    next_due: now,
                    metrics: TargetMetrics::new(&self.local, region),
                });
        }
    }

    /// The probes to send at `now`, each target's next one scheduled; `random` gives a
    /// uniform number in [0, 1) for the jitter.
    pub fn due(&mut self, now: Instant, mut random: impl FnMut() -> f64) -> Vec<DueProbe> {
        let hurry = self.hurry();
        let settings = &self.settings;
        let mut due = Vec::new();
        for (region, target) in &mut self.targets {
            if hurry {
                // Probes scheduled at the full interval before the hurry began come sooner
                // too: the other nodes' votes arrive in their answers.
                target.next_due = target.next_due.min(now + settings.probes.fast_interval);
            }
            if target.next_due > now || target.in_flight >= MAX_IN_FLIGHT {
                continue;
            }
            target.probes_sent += 1;
            target.in_flight += 1;
            let mut wait = target.state.next_probe_in(&settings.probes, random());
            if hurry {
                wait = wait.min(settings.probes.fast_interval);
            }
            target.next_due = now + wait;
            due.push(DueProbe {
                region: region.clone(),
                fresh: target.probes_sent % u64::from(settings.fresh_every.max(1)) == 0,
            });
        }
        due
    }

    /// While some target is failing or some region is in transition, every region is probed
    /// at the fast pace: the probes are also how the other nodes' votes arrive, so a failure
    /// seen elsewhere reaches this node's verdict in a fast interval, not a full one.
    fn hurry(&self) -> bool {
        self.targets
            .values()
            .any(|target| target.state.status() == hysteresis::Status::Failing)
            || self
                .published
                .as_ref()
                .is_some_and(|snapshot| snapshot.iter().any(|(_, health)| health.transition))
    }

    /// When the next probe is due (of a target that may take another probe).
    pub fn next_due(&self) -> Option<Instant> {
        self.targets
            .values()
            .filter(|target| target.in_flight < MAX_IN_FLIGHT)
            .map(|target| target.next_due)
            .min()
    }

    /// Applies one probe result: `sent` is when the probe left, `now` when it came back.
    pub fn observe(
        &mut self,
        region: &str,
        sent: Instant,
        result: &ProbeResult,
        now: Instant,
        timeline: &Timeline,
    ) -> Observed {
        let mut observed = Observed::default();
        let Some(target) = self.targets.get_mut(region) else {
            return observed;
        };
        target.in_flight = target.in_flight.saturating_sub(1);
        target.metrics.latency.record(result.latency.as_secs_f64());
        if result.ok {
            target.metrics.ok.increment(1);
        } else {
            target.metrics.failed.increment(1);
        }
        // Probes overlap, so results can come back out of order: one older than a result
        // already applied changes nothing (the hysteresis ignores it too).
        let stale = target.last_applied_sent.is_some_and(|last| sent < last);
        let transition = target.state.observe(result.ok, sent, &self.settings.probes);
        if !stale {
            target.last_applied_sent = Some(sent);
            target.last_result_at = Some(now);
            target.latency = Some(result.latency);
            target.error = result.error.clone();
            if result.ok {
                target.backends = result.backends.clone();
            }
            target.report = if result.ok {
                result.report.clone()
            } else {
                SelfReport::Unknown
            };
            match &target.report {
                SelfReport::Unhealthy(_) => {
                    target.was_unhealthy = true;
                    target.healthy_again_since = None;
                }
                SelfReport::Healthy if target.was_unhealthy => {
                    target.healthy_again_since.get_or_insert(now);
                }
                SelfReport::Healthy | SelfReport::Unknown => {}
            }
        }
        if let Some(transition) = transition {
            record_vote(timeline, region, &transition, &self.local);
        }
        if let Some(gossip) = result.gossip.as_ref().filter(|g| g.region == region) {
            let ballot = gossip.ballot(sent);
            let newer = self
                .ballots
                .get(region)
                .is_none_or(|held| ballot.at >= held.at);
            if newer && region != self.local {
                self.ballots.insert(region.to_string(), ballot);
            }
            self.peers.insert(
                region.to_string(),
                PeerInfo {
                    node: gossip.node.clone(),
                    version: gossip.version.clone(),
                    config_hash: gossip.config_hash.clone(),
                    heard: now,
                    votes: gossip.votes.clone(),
                },
            );
            for changed in self.operator.merge(&gossip.operator) {
                observed.operator_changed = true;
                if let Some(entry) = self.operator.get(&changed) {
                    timeline.record(
                        EventKind::Operator,
                        &changed,
                        "",
                        operator_word(entry.state),
                        &format!("heard from {region} (version {})", entry.version),
                        vec![entry.by.clone()],
                    );
                }
            }
        }
        observed
    }

    /// Ends hold-downs that are over at `now`.
    pub fn settle(&mut self, now: Instant, timeline: &Timeline) {
        for (region, target) in &mut self.targets {
            if let Some(transition) = target.state.settle(now) {
                record_vote(timeline, region, &transition, &self.local);
            }
        }
    }

    /// This node's ballot: its vote about every region it has a result for, dated by the
    /// stalest of those results.
    pub fn own_ballot(&self) -> Option<Ballot> {
        let with_results = || {
            self.targets
                .iter()
                .filter(|(_, target)| target.state.has_result())
        };
        let at = with_results()
            .filter_map(|(_, target)| target.last_result_at)
            .min()?;
        Some(Ballot {
            at,
            votes: with_results()
                .map(|(region, target)| (region.clone(), vote_of(&target.state)))
                .collect(),
        })
    }

    /// What this node's `/healthz` gossips at `now`.
    pub fn gossip(&self, myself: &PeerInfo, now: Instant) -> Gossip {
        let ballot = self.own_ballot();
        Gossip {
            region: self.local.clone(),
            node: myself.node.clone(),
            version: myself.version.clone(),
            config_hash: myself.config_hash.clone(),
            ballot_age_ms: ballot
                .as_ref()
                .map_or(0, |ballot| millis(now.saturating_duration_since(ballot.at))),
            votes: self
                .targets
                .iter()
                .filter(|(_, target)| target.state.has_result())
                .map(|(region, target)| {
                    let since = target.state.since().unwrap_or(now);
                    (
                        region.clone(),
                        GossipVote {
                            vote: vote_of(&target.state).into(),
                            status: target.state.status().to_string(),
                            for_ms: millis(now.saturating_duration_since(since)),
                            latency_us: target.latency.map(|latency| {
                                u64::try_from(latency.as_micros()).unwrap_or(u64::MAX)
                            }),
                        },
                    )
                })
                .collect(),
            operator: self.operator.clone(),
        }
    }

    /// Decides every region's verdict at `now`. Returns the snapshot to publish when it
    /// differs from the last one published.
    pub fn decide(&mut self, now: Instant, timeline: &Timeline) -> Option<HealthSnapshot> {
        let hold_down = self.settings.probes.hold_down;
        for target in self.targets.values_mut() {
            target.end_report_hold_down(now, hold_down);
        }
        let regions: BTreeSet<String> = self.targets.keys().cloned().collect();
        let mut ballots = self.ballots.clone();
        if let Some(own) = self.own_ballot() {
            ballots.insert(self.local.clone(), own);
        }
        let inputs = quorum::Inputs {
            reports: self
                .targets
                .iter()
                .map(|(region, target)| (region.clone(), target.counted_report(now, hold_down)))
                .collect(),
            regions,
            ballots,
            operator: self.operator.to_inputs_map(),
        };
        let outcome = if self.cut_off() {
            // As isolated as the quorum's own rule says, only sooner: see `cut_off`.
            quorum::Outcome {
                verdicts: self.verdicts.clone(),
                isolated: self.isolated.clone(),
                local_isolated: true,
            }
        } else {
            quorum::decide(
                &inputs,
                &self.local,
                &self.verdicts,
                now,
                self.settings.ballot_max_age(),
            )
        };
        if outcome.local_isolated != self.local_isolated {
            let (from, to) = if outcome.local_isolated {
                ("connected", "isolated")
            } else {
                ("isolated", "connected")
            };
            let reason = outcome
                .reason()
                .unwrap_or("reaches another region again: verdicts follow the votes");
            timeline.record(
                EventKind::Isolation,
                &self.local,
                from,
                to,
                reason,
                Vec::new(),
            );
            self.isolated_gauge
                .set(if outcome.local_isolated { 1.0 } else { 0.0 });
        }
        for (region, verdict) in outcome.verdicts.iter() {
            let before = self.verdicts.get(region).map(|previous| previous.up);
            // A region with no verdict yet counted as up.
            if before.unwrap_or(true) != verdict.up {
                self.changed_at.insert(region.to_string(), now);
                let mut voters = verdict.down_votes.clone();
                voters.extend(verdict.up_votes.iter().cloned());
                timeline.record(
                    EventKind::Verdict,
                    region,
                    up_word(!verdict.up),
                    up_word(verdict.up),
                    &verdict.reason,
                    voters,
                );
            }
            if let Some(target) = self.targets.get(region) {
                target
                    .metrics
                    .verdict_up
                    .set(if verdict.up { 1.0 } else { 0.0 });
            }
        }
        self.verdicts = outcome.verdicts;
        self.isolated = outcome.isolated;
        self.local_isolated = outcome.local_isolated;
        let window = self.transition_window();
        let snapshot = self.verdicts.to_snapshot(|region| {
            let recent = self
                .changed_at
                .get(region)
                .is_some_and(|at| now.saturating_duration_since(*at) < window);
            let split = self
                .verdicts
                .get(region)
                .is_some_and(|v| !v.down_votes.is_empty() && !v.up_votes.is_empty());
            recent || split
        });
        if self.published.as_ref() == Some(&snapshot) {
            return None;
        }
        self.published = Some(snapshot.clone());
        Some(snapshot)
    }

    /// Whether the last probe of every other region failed, with two other regions at least:
    /// this node can reach no other region right now. The quorum calls a node isolated once
    /// its votes about every other region are Down, which takes `fall` failures; meanwhile
    /// the other nodes' ballots, which only arrive in the answers to its probes, age out, and
    /// its own votes would decide alone. Holding still from the first round of failures on
    /// closes that gap. (With one other region, nobody is isolated: see the quorum module.)
    fn cut_off(&self) -> bool {
        let others: Vec<&Target> = self
            .targets
            .iter()
            .filter(|(region, _)| **region != self.local)
            .map(|(_, target)| target)
            .collect();
        others.len() >= 2
            && others
                .iter()
                .all(|target| target.state.has_result() && target.error.is_some())
    }

    /// How long after a verdict changes its region counts as in transition: long enough for a
    /// recovery's hold-down and another failure to be confirmed.
    fn transition_window(&self) -> Duration {
        let probes = &self.settings.probes;
        probes.hold_down + probes.interval * probes.fall.max(1)
    }

    pub fn local(&self) -> &str {
        &self.local
    }

    pub fn verdicts(&self) -> &Verdicts {
        &self.verdicts
    }

    pub fn targets(&self) -> &BTreeMap<String, Target> {
        &self.targets
    }

    pub fn ballots(&self) -> &Ballots {
        &self.ballots
    }

    /// The other nodes as their last gossip described them.
    pub fn peers(&self) -> &BTreeMap<String, PeerInfo> {
        &self.peers
    }

    pub fn operator(&self) -> &OperatorState {
        &self.operator
    }

    /// Replaces the operator state (after it was saved).
    pub fn set_operator_state(&mut self, operator: OperatorState) {
        self.operator = operator;
    }

    pub fn isolated(&self) -> (&[String], bool) {
        (&self.isolated, self.local_isolated)
    }

    pub fn settings(&self) -> &RegionHealthSettings {
        &self.settings
    }
}

impl Target {
    /// The self-report the verdict counts: a region healthy again after an unhealthy report
    /// still counts as unhealthy until it has been healthy for `hold_down`.
    fn counted_report(&self, now: Instant, hold_down: Duration) -> SelfReport {
        match (&self.report, self.healthy_again_since) {
            // The reason names no running count: a reason that changed every round would
            // publish a new view every round.
            (SelfReport::Healthy, Some(since))
                if self.was_unhealthy && now.saturating_duration_since(since) < hold_down =>
            {
                SelfReport::Unhealthy(format!(
                    "healthy again, holding {:.0} s",
                    hold_down.as_secs_f64()
                ))
            }
            (report, _) => report.clone(),
        }
    }

    /// Forgets an unhealthy report once the region has been healthy for `hold_down`.
    fn end_report_hold_down(&mut self, now: Instant, hold_down: Duration) {
        if let (SelfReport::Healthy, Some(since)) = (&self.report, self.healthy_again_since)
            && now.saturating_duration_since(since) >= hold_down
        {
            self.was_unhealthy = false;
            self.healthy_again_since = None;
        }
    }
}

fn vote_of(state: &TargetState) -> Vote {
    match state.vote() {
        hysteresis::Vote::Up => Vote::Up,
        hysteresis::Vote::Down => Vote::Down,
    }
}

fn record_vote(timeline: &Timeline, region: &str, transition: &Transition, local: &str) {
    timeline.record(
        EventKind::Vote,
        region,
        &transition.from.to_string(),
        &transition.to.to_string(),
        &transition.reason,
        vec![local.to_string()],
    );
}

pub(super) fn operator_word(state: quorum::Operator) -> &'static str {
    match state {
        quorum::Operator::None => "none",
        quorum::Operator::Drained => "drained",
        quorum::Operator::ForcedUp => "forced_up",
    }
}

fn up_word(up: bool) -> &'static str {
    if up { "up" } else { "down" }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}
