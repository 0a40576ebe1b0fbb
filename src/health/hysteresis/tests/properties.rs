//! Flapping input, a table-driven story, and random sequences checked against invariants.

use super::*;

/// One thing done to a target, at milliseconds after `t0`.
#[derive(Debug, Clone, Copy)]
enum Step {
    Probe(u64, bool),
    Settle(u64),
}

/// Feeds steps to a target and checks, after every one, invariants that hold whatever the
/// input: see [`Checker::step`].
struct Checker {
    target: Target,
    /// Applied results in order, as (sent at, ok).
    applied: Vec<(u64, bool)>,
    /// When the last rise completed (the Down -> Recovering transition's probe).
    rise_completed: Option<u64>,
    /// When each Up vote after a Down one began.
    returns_to_up: Vec<u64>,
    /// The latest instant the target was told about, by a probe or a settle.
    latest: u64,
    /// How many transitions of each kind were seen, so a random run can show it was not
    /// vacuous.
    seen: Vec<(Status, Status)>,
}

impl Checker {
    fn new(settings: ProbeSettings) -> Self {
        Self {
            target: Target::with(settings),
            applied: Vec::new(),
            rise_completed: None,
            returns_to_up: Vec::new(),
            latest: 0,
            seen: Vec::new(),
        }
    }

    fn step(&mut self, step: Step) -> Option<Transition> {
        let before_status = self.target.state.status();
        let before_since = self.target.state.since();
        let before_vote = self.target.state.vote();
        let last = self.applied.last().map(|&(ms, _)| ms);
        let (now, transition) = match step {
            Step::Probe(ms, ok) => (ms, self.target.probe(ms, ok)),
            Step::Settle(ms) => (ms, self.target.settle(ms)),
        };
        self.latest = self.latest.max(now);
        let state = &self.target.state;
        let settings = &self.target.settings;

        // A result older than the last applied one changes nothing at all.
        if let Step::Probe(ms, ok) = step {
            if last.is_some_and(|last| ms < last) {
                assert_eq!(transition, None, "{step:?}");
                assert_eq!(state.status(), before_status, "{step:?}");
                assert_eq!(state.since(), before_since, "{step:?}");
                return None;
            }
            self.applied.push((ms, ok));
            assert!(state.has_result());
        }

        // The vote is the status's vote; since moves exactly when the vote changes (or with
        // the first result), and never past the latest
        // instant the target was told about. A call that ends a hold-down and then
        // fails the target again did change the vote twice, so it moves `since` too.
        assert_eq!(state.vote(), state.status().vote());
        let up_in_between = transition
            .as_ref()
            .is_some_and(|t| t.reason.starts_with("hold-down over") && t.to != Status::Up);
        if state.vote() != before_vote || up_in_between {
            assert_ne!(state.since(), before_since, "{step:?}");
        } else if before_since.is_some() {
            assert_eq!(state.since(), before_since, "{step:?}");
        }
        let since = self.target.since_ms();
        assert!(
            since.is_none_or(|since| since <= self.latest),
            "{step:?}: since {since:?}, last {last:?}"
        );

        // Transitions chain and never name Failing.
        let phase = |status: Status| match status {
            Status::Failing => Status::Up,
            other => other,
        };
        match &transition {
            Some(t) => {
                assert_eq!(t.from, phase(before_status), "{step:?}");
                assert_eq!(t.to, phase(state.status()), "{step:?}");
                assert_ne!(t.from, t.to);
                assert!(!t.reason.is_empty());
                self.seen.push((t.from, t.to));
            }
            None => assert_eq!(phase(state.status()), phase(before_status), "{step:?}"),
        }

        if let Some(t) = &transition {
            let fall = settings.fall.max(1) as usize;
            let rise = settings.rise.max(1) as usize;
            let tail = |n: usize| &self.applied[self.applied.len().saturating_sub(n)..];
            // Down from Up only after `fall` failed probes in a row.
            if t.to == Status::Down && t.reason.contains("failed probe") {
                assert!(self.applied.len() >= fall);
                assert!(tail(fall).iter().all(|&(_, ok)| !ok), "{step:?}");
            }
            // Recovering (or straight Up with no hold-down) only after `rise` good ones.
            if t.from == Status::Down && t.to != Status::Down {
                assert!(self.applied.len() >= rise);
                assert!(tail(rise).iter().all(|&(_, ok)| ok), "{step:?}");
                self.rise_completed = Some(now);
            }
            // Up only a whole hold-down after the rise, and never twice within one.
            if t.to == Status::Up || t.reason.starts_with("hold-down over") {
                let hold_down = settings.hold_down.as_millis() as u64;
                let up_at = self.rise_completed.map(|rise| rise + hold_down);
                let up_at = up_at.unwrap_or_else(|| panic!("up without a rise: {step:?}"));
                assert!(now >= up_at, "{step:?}");
                if t.to == Status::Up {
                    assert_eq!(since, Some(up_at), "{step:?}");
                }
                if let Some(&previous) = self.returns_to_up.last() {
                    assert!(up_at >= previous + hold_down, "{step:?}");
                }
                self.returns_to_up.push(up_at);
            }
        }

        // Pacing follows the status.
        let fast = settings.fast_interval.max(MIN_PROBE_WAIT);
        for random in [0.0, 0.5, 0.999] {
            let wait = state.next_probe_in(settings, random);
            assert!(wait >= MIN_PROBE_WAIT);
            if state.status() == Status::Up {
                let interval = settings.interval.as_secs_f64();
                let (low, high) = (interval * 0.8, interval * 1.2);
                let secs = wait.as_secs_f64();
                assert!(secs >= low - 1e-9 && secs <= high + 1e-9, "{wait:?}");
            } else {
                assert_eq!(wait, fast);
            }
        }
        transition
    }
}

// --- Flapping ---

#[test]
fn alternating_results_never_bring_a_down_target_back() {
    let mut checker = Checker::new(ProbeSettings::default());
    for ms in [0, 100, 200] {
        checker.step(Step::Probe(ms, false));
    }
    // Ten minutes of flapping at the fast pace, settled as often as probed.
    for i in 0..2400 {
        let ms = 300 + 250 * i;
        assert_eq!(checker.step(Step::Probe(ms, i % 2 == 0)), None);
        assert_eq!(checker.step(Step::Settle(ms + 125)), None);
        assert_eq!(checker.target.state.vote(), Vote::Down);
    }
    assert_eq!(checker.target.since_ms(), Some(200));
}

#[test]
fn flapping_just_slower_than_the_rise_never_reaches_up() {
    // Five good probes then one failure, forever: Recovering and back Down, the vote Down
    // all along.
    let mut checker = Checker::new(ProbeSettings::default());
    checker.step(Step::Probe(0, false));
    checker.step(Step::Probe(1, false));
    checker.step(Step::Probe(2, false));
    let mut ms = 100;
    for _ in 0..200 {
        for _ in 0..5 {
            checker.step(Step::Probe(ms, true));
            ms += 250;
        }
        assert_eq!(checker.target.state.status(), Status::Recovering);
        checker.step(Step::Probe(ms, false));
        ms += 250;
        assert_eq!(checker.target.state.vote(), Vote::Down);
    }
    assert_eq!(checker.target.since_ms(), Some(2));
    assert!(checker.returns_to_up.is_empty());
}

#[test]
fn slow_flapping_returns_at_most_once_per_hold_down() {
    // Three failures, then good probes for 12 s, over and over: each cycle comes back Up
    // once, a hold-down after its rise.
    let mut checker = Checker::new(ProbeSettings::default());
    let mut ms = 0;
    for _ in 0..30 {
        for _ in 0..3 {
            checker.step(Step::Probe(ms, false));
            ms += 250;
        }
        assert_eq!(checker.target.state.status(), Status::Down);
        for _ in 0..48 {
            checker.step(Step::Probe(ms, true));
            ms += 250;
        }
        assert_eq!(checker.target.state.status(), Status::Up);
    }
    assert_eq!(checker.returns_to_up.len(), 30);
}

// --- A story, step by step ---

#[test]
fn a_story_step_by_step() {
    use Status::{Down, Failing, Recovering, Up};
    use Step::{Probe, Settle};
    let rows: &[(Step, Status, Option<&str>)] = &[
        (Probe(0, true), Up, None),
        (Probe(1000, false), Failing, None),
        (Probe(1250, true), Up, None),
        (Probe(2000, false), Failing, None),
        (Probe(2250, false), Failing, None),
        (Probe(2100, true), Failing, None), // late: ignored
        (Probe(2500, false), Down, Some("3 failed probes")),
        (Probe(2750, true), Down, None),
        (Probe(3000, false), Down, None),
        (Probe(3250, true), Down, None),
        (Probe(3500, true), Down, None),
        (Probe(3750, true), Down, None),
        (Probe(4000, true), Down, None),
        (
            Probe(4250, true),
            Recovering,
            Some("5 good probes, holding 10 s"),
        ),
        (Settle(14_249), Recovering, None),
        (Probe(14_000, false), Down, Some("failed while recovering")),
        (Settle(30_000), Down, None),
        (Probe(30_000, true), Down, None),
        (Probe(30_250, true), Down, None),
        (Probe(30_500, true), Down, None),
        (Probe(30_750, true), Down, None),
        (
            Probe(31_000, true),
            Recovering,
            Some("5 good probes, holding 10 s"),
        ),
        (Probe(35_000, true), Recovering, None),
        (Settle(41_000), Up, Some("hold-down over")),
        (Settle(42_000), Up, None),
        (Probe(42_000, false), Failing, None),
    ];
    let mut checker = Checker::new(ProbeSettings::default());
    for (row, &(step, status, reason)) in rows.iter().enumerate() {
        let transition = checker.step(step);
        assert_eq!(
            transition.as_ref().map(|t| t.reason.as_str()),
            reason,
            "row {row}"
        );
        assert_eq!(checker.target.state.status(), status, "row {row}");
    }
    assert_eq!(checker.target.since_ms(), Some(41_000));
}

// --- Random sequences ---

/// A small deterministic generator, so a failure replays exactly.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
    }
}

#[test]
fn random_sequences_keep_the_invariants() {
    let mut random = XorShift(0x9E37_79B9_7F4A_7C15);
    let mut seen = Vec::new();
    for run in 0..200 {
        let settings = ProbeSettings {
            fall: random.below(5) as u32,
            rise: random.below(7) as u32,
            hold_down: Duration::from_millis(random.below(4) * 1000 + random.below(2) * 250),
            ..ProbeSettings::default()
        };
        // Runs differ in how often probes fail, so every state gets visited.
        let failure_percent = [20, 50, 80][run % 3];
        let mut checker = Checker::new(settings);
        let mut ms = 0;
        for _ in 0..500 {
            ms += random.below(400);
            let step = match random.below(10) {
                0 => Step::Settle(ms),
                1 => Step::Probe(ms.saturating_sub(random.below(600)), random.below(2) == 0),
                _ => Step::Probe(ms, random.below(100) >= failure_percent),
            };
            checker.step(step);
        }
        seen.extend(checker.seen);
    }
    for kind in [
        (Status::Up, Status::Down),
        (Status::Down, Status::Recovering),
        (Status::Recovering, Status::Up),
        (Status::Recovering, Status::Down),
        (Status::Down, Status::Up),
    ] {
        assert!(seen.contains(&kind), "never saw {kind:?}");
    }
}
