//! The monitor core in a simulated world: three nodes probing each other with made-up
//! instants, over links the test cuts, with nodes the test kills.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::core::{Core, PeerInfo};
use crate::config::RegionHealthSettings;
use crate::health::events::{EventKind, Timeline};
use crate::health::hysteresis::ProbeSettings;
use crate::health::operator::OperatorState;
use crate::health::probe::ProbeResult;
use crate::health::quorum::{Operator, SelfReport};
use crate::health::snapshot::{HealthSnapshot, RegionHealth};

const REGIONS: [&str; 3] = ["a", "b", "c"];
const STEP: Duration = Duration::from_millis(50);

fn settings() -> RegionHealthSettings {
    RegionHealthSettings {
        // No jitter, so the schedule is the same on every run.
        probes: ProbeSettings {
            jitter: 0.0,
            ..ProbeSettings::default()
        },
        fresh_every: 5,
        state_dir: PathBuf::from("unused"),
    }
}

/// Three nodes, each probing all three regions.
struct World {
    nodes: Vec<Core>,
    timelines: Vec<Timeline>,
    dead: BTreeSet<usize>,
    /// (from, to) pairs whose probes fail.
    cut: BTreeSet<(usize, usize)>,
    /// Regions whose `/healthz` says 503.
    unhealthy: BTreeSet<usize>,
    now: Instant,
    /// The last snapshot each node published.
    published: Vec<Option<HealthSnapshot>>,
}

impl World {
    fn new(count: usize) -> Self {
        let now = Instant::now();
        let regions: Vec<String> = REGIONS[..count].iter().map(|r| r.to_string()).collect();
        let nodes = regions
            .iter()
            .map(|local| {
                let mut core = Core::new(local, settings(), OperatorState::empty());
                core.sync(&regions, &settings(), now);
                core
            })
            .collect();
        Self {
            nodes,
            timelines: (0..count).map(|_| Timeline::new()).collect(),
            dead: BTreeSet::new(),
            cut: BTreeSet::new(),
            unhealthy: BTreeSet::new(),
            now,
            published: vec![None; count],
        }
    }

    /// Advances time by one step: due probes are sent and answered at once.
    fn step(&mut self) {
        self.now += STEP;
        let now = self.now;
        for from in 0..self.nodes.len() {
            if self.dead.contains(&from) {
                continue;
            }
            let due = self.nodes[from].due(now, || 0.5);
            for probe in due {
                let to = REGIONS.iter().position(|r| *r == probe.region).unwrap();
                let reachable = !self.dead.contains(&to) && !self.cut.contains(&(from, to));
                let result = if reachable {
                    ProbeResult {
                        ok: true,
                        latency: Duration::from_millis(1),
                        report: if self.unhealthy.contains(&to) {
                            SelfReport::Unhealthy("no backends".to_string())
                        } else {
                            SelfReport::Healthy
                        },
                        error: None,
                        gossip: Some(self.nodes[to].gossip(
                            &PeerInfo {
                                node: format!("n-{}", REGIONS[to]),
                                version: "test".to_string(),
                                config_hash: "hash".to_string(),
                                heard: now,
                                votes: Default::default(),
                            },
                            now,
                        )),
                        backends: None,
                    }
                } else {
                    ProbeResult {
                        ok: false,
                        latency: Duration::from_millis(1),
                        report: SelfReport::Unknown,
                        error: Some("refused".to_string()),
                        gossip: None,
                        backends: None,
                    }
                };
                self.nodes[from].observe(&probe.region, now, &result, now, &self.timelines[from]);
            }
        }
        for (index, node) in self.nodes.iter_mut().enumerate() {
            if self.dead.contains(&index) {
                continue;
            }
            node.settle(now, &self.timelines[index]);
            if let Some(snapshot) = node.decide(now, &self.timelines[index]) {
                self.published[index] = Some(snapshot);
            }
        }
    }

    fn run_for(&mut self, duration: Duration) {
        let end = self.now + duration;
        while self.now < end {
            self.step();
        }
    }

    /// What node `at` last published about `region`.
    fn health(&self, at: usize, region: &str) -> RegionHealth {
        self.published[at]
            .as_ref()
            .and_then(|snapshot| snapshot.get(region))
            .cloned()
            .unwrap_or_else(|| panic!("node {at} published nothing about {region}"))
    }

    /// Whether node `at` answers `region` as up (no snapshot yet: up).
    fn up(&self, at: usize, region: &str) -> bool {
        self.published[at]
            .as_ref()
            .and_then(|s| s.get(region))
            .is_none_or(|h| h.up)
    }

    /// Steps until node `at` says `region` is `up`; the time it took, or `None` within `limit`.
    fn until(&mut self, at: usize, region: &str, up: bool, limit: Duration) -> Option<Duration> {
        let start = self.now;
        while self.now - start < limit {
            if self.up(at, region) == up {
                return Some(self.now - start);
            }
            self.step();
        }
        None
    }
}

#[test]
fn until_the_first_results_every_region_is_up() {
    let mut world = World::new(3);
    world.dead.insert(2);
    // The very first decision, before any probe result was applied.
    let mut lonely = Core::new("a", settings(), OperatorState::empty());
    lonely.sync(&["a".to_string(), "c".to_string()], &settings(), world.now);
    let snapshot = lonely.decide(world.now, &Timeline::new()).unwrap();
    assert!(snapshot.get("c").unwrap().up);
    world.step();
    assert!(world.up(0, "c"), "one failed probe is not a verdict");
}

#[test]
fn a_dead_region_goes_down_on_every_surviving_node_within_a_few_seconds() {
    let mut world = World::new(3);
    world.run_for(Duration::from_secs(5));
    assert!(REGIONS.iter().all(|r| world.up(0, r) && world.up(1, r)));
    world.dead.insert(2);
    let took_a = world.until(0, "c", false, Duration::from_secs(10)).unwrap();
    let took_b = world.until(1, "c", false, Duration::from_secs(10)).unwrap();
    // fall (3) probes, the first within an interval (1 s) and the others fast (250 ms), plus
    // one fast round for the other node's vote to arrive.
    assert!(took_a <= Duration::from_millis(2_300), "{took_a:?}");
    assert!(
        took_a + took_b <= Duration::from_millis(2_600),
        "{took_b:?}"
    );
    let verdict = world.health(0, "c");
    assert!(
        verdict.reason.contains("2 of 3 vantage points"),
        "{}",
        verdict.reason
    );
    assert!(verdict.transition);
    // Both nodes give the same answer, for the same reason.
    assert_eq!(world.health(0, "c"), world.health(1, "c"));
    let verdict_events = world.timelines[0]
        .recent()
        .into_iter()
        .filter(|e| e.kind == EventKind::Verdict)
        .collect::<Vec<_>>();
    assert_eq!(verdict_events.len(), 1, "{verdict_events:?}");
    // Down votes first, then up: c's last ballot (before it died) still counts until it
    // ages out, and is outvoted.
    assert_eq!(verdict_events[0].voters, ["a", "b", "c"]);
}

#[test]
fn one_cut_link_never_fails_a_region_over() {
    let mut world = World::new(3);
    world.run_for(Duration::from_secs(3));
    world.cut.insert((0, 2));
    world.cut.insert((2, 0));
    world.run_for(Duration::from_secs(30));
    for node in 0..3 {
        for region in REGIONS {
            assert!(world.up(node, region), "node {node} says {region} is down");
        }
    }
    assert!(
        world
            .timelines
            .iter()
            .all(|t| t.recent().iter().all(|e| e.kind != EventKind::Verdict))
    );
    // The split vote shows: region c is in transition on node a.
    assert!(world.health(0, "c").transition);
}

#[test]
fn a_node_cut_off_from_everything_keeps_its_answers() {
    let mut world = World::new(3);
    world.run_for(Duration::from_secs(3));
    for other in [1, 2] {
        world.cut.insert((0, other));
        world.cut.insert((other, 0));
    }
    world.run_for(Duration::from_secs(20));
    // Node a (isolated) still answers b and c as up.
    assert!(world.up(0, "b") && world.up(0, "c"));
    assert!(
        world.timelines[0]
            .recent()
            .iter()
            .any(|e| e.kind == EventKind::Isolation && e.to == "isolated")
    );
    // The others agree that a is unreachable.
    assert!(!world.up(1, "a") && !world.up(2, "a"));
    // Healed: a follows the votes again and a recovers after rise + hold-down.
    world.cut.clear();
    let back = world.until(1, "a", true, Duration::from_secs(30)).unwrap();
    assert!(
        back >= Duration::from_secs(10),
        "recovered after {back:?}, inside the hold-down"
    );
    assert!(
        world.timelines[0]
            .recent()
            .iter()
            .any(|e| e.kind == EventKind::Isolation && e.to == "connected")
    );
}

#[test]
fn a_flapping_region_does_not_make_answers_flap() {
    let mut world = World::new(3);
    world.run_for(Duration::from_secs(3));
    // Dead 2 s, alive 2 s, for a minute.
    let mut changes = 0;
    let mut last = world.up(0, "c");
    for cycle in 0..30 {
        if cycle % 2 == 0 {
            world.dead.insert(2);
        } else {
            world.dead.remove(&2);
        }
        for _ in 0..40 {
            world.step();
            let now_up = world.up(0, "c");
            if now_up != last {
                changes += 1;
                last = now_up;
            }
        }
    }
    // Down once, and never back while it keeps flapping.
    assert_eq!(changes, 1);
    assert!(!world.up(0, "c"));
}

#[test]
fn a_region_reporting_itself_unhealthy_is_down_while_reachable() {
    let mut world = World::new(3);
    world.run_for(Duration::from_secs(2));
    world.unhealthy.insert(1);
    world.run_for(Duration::from_secs(2));
    let health = world.health(0, "b");
    assert!(!health.up);
    assert!(health.reason.contains("no backends"), "{}", health.reason);
    // Healthy again: held down like a vote, so flapping backends cannot flap the answers.
    world.unhealthy.remove(&1);
    world.run_for(Duration::from_secs(2));
    let health = world.health(0, "b");
    assert!(!health.up);
    assert!(health.reason.contains("holding 10 s"), "{}", health.reason);
    let back = world.until(0, "b", true, Duration::from_secs(15)).unwrap();
    assert!(back >= Duration::from_secs(7), "{back:?}");
    // A report that turns unhealthy during the hold-down starts it over.
    world.unhealthy.insert(1);
    world.run_for(Duration::from_secs(1));
    world.unhealthy.remove(&1);
    world.run_for(Duration::from_secs(9));
    assert!(!world.up(0, "b"));
    world.run_for(Duration::from_secs(2));
    assert!(world.up(0, "b"));
}

#[test]
fn a_single_node_decides_with_its_own_votes() {
    let mut world = World::new(1);
    world.run_for(Duration::from_secs(2));
    world.unhealthy.insert(0);
    world.run_for(Duration::from_secs(2));
    assert!(!world.up(0, "a"));
}

#[test]
fn a_drain_travels_in_the_gossip_and_a_later_undrain_wins() {
    let mut world = World::new(3);
    world.run_for(Duration::from_secs(2));
    let mut state = world.nodes[0].operator().clone();
    state.set("b", Operator::Drained, "a/n1", 1);
    world.nodes[0].set_operator_state(state);
    world.run_for(Duration::from_secs(3));
    for node in 0..3 {
        assert!(
            !world.up(node, "b"),
            "node {node} did not hear of the drain"
        );
        assert_eq!(
            world.nodes[node].operator().operator_for("b"),
            Operator::Drained
        );
    }
    // Undrained on another node: everyone follows.
    let mut state = world.nodes[2].operator().clone();
    state.clear("b", "c/n1", 2);
    world.nodes[2].set_operator_state(state);
    world.run_for(Duration::from_secs(3));
    for node in 0..3 {
        assert!(world.up(node, "b"), "node {node} kept the old drain");
    }
}

#[test]
fn results_that_come_back_out_of_order_are_ignored() {
    let timeline = Timeline::new();
    let start = Instant::now();
    let mut core = Core::new("a", settings(), OperatorState::empty());
    core.sync(&["a".to_string()], &settings(), start);
    let failed = ProbeResult {
        ok: false,
        latency: Duration::ZERO,
        report: SelfReport::Unknown,
        error: Some("timed out".to_string()),
        gossip: None,
        backends: None,
    };
    let good = ProbeResult {
        ok: true,
        error: None,
        report: SelfReport::Healthy,
        ..failed.clone()
    };
    core.observe(
        "a",
        start + Duration::from_secs(2),
        &good,
        start + Duration::from_secs(2),
        &timeline,
    );
    // Sent earlier, answered later: ignored, the last result stays the good one.
    core.observe(
        "a",
        start + Duration::from_secs(1),
        &failed,
        start + Duration::from_secs(3),
        &timeline,
    );
    let target = &core.targets()["a"];
    assert_eq!(target.error, None);
    assert_eq!(target.report, SelfReport::Healthy);
}
