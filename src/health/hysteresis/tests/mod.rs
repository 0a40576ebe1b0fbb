//! The per-target hysteresis, transition by transition, with made-up instants.

use std::time::{Duration, Instant};

use super::*;

mod pacing;
mod properties;
mod transitions;

/// One target fed at instants given in milliseconds after `t0`, with the default settings:
/// `fall` 3, `rise` 5 and a 10 s hold-down (they differ, so a test counting one cannot pass
/// by counting another).
struct Target {
    t0: Instant,
    state: TargetState,
    settings: ProbeSettings,
}

impl Target {
    fn new() -> Self {
        Self::with(ProbeSettings::default())
    }

    fn with(settings: ProbeSettings) -> Self {
        Self {
            t0: Instant::now(),
            state: TargetState::new(),
            settings,
        }
    }

    fn at(&self, ms: u64) -> Instant {
        self.t0 + Duration::from_millis(ms)
    }

    /// A probe sent at `ms`.
    fn probe(&mut self, ms: u64, ok: bool) -> Option<Transition> {
        let at = self.at(ms);
        self.state.observe(ok, at, &self.settings)
    }

    /// Probes sent every 100 ms from `first_ms`, all with the same result; returns the last
    /// one's transition.
    fn probes(&mut self, first_ms: u64, count: u64, ok: bool) -> Option<Transition> {
        let mut transition = None;
        for i in 0..count {
            transition = self.probe(first_ms + 100 * i, ok);
        }
        transition
    }

    fn settle(&mut self, ms: u64) -> Option<Transition> {
        let now = self.at(ms);
        self.state.settle(now)
    }

    /// Down at 200 ms (failures at 0, 100, 200).
    fn down(&mut self) {
        assert!(self.probes(0, 3, false).is_some());
        assert_eq!(self.state.status(), Status::Down);
    }

    /// Down at 200 ms, then Recovering from 700 ms (good probes at 300..=700), so the
    /// hold-down ends at 10_700 ms.
    fn recovering(&mut self) {
        self.down();
        assert!(self.probes(300, 5, true).is_some());
        assert_eq!(self.state.status(), Status::Recovering);
    }

    fn since_ms(&self) -> Option<u64> {
        self.state
            .since()
            .map(|since| since.duration_since(self.t0).as_millis() as u64)
    }
}

fn transition(from: Status, to: Status, reason: &str) -> Option<Transition> {
    Some(Transition {
        from,
        to,
        reason: reason.to_string(),
    })
}

// --- Settings and display ---

#[test]
fn default_settings_are_the_documented_ones() {
    let settings = ProbeSettings::default();
    assert_eq!(settings.interval, Duration::from_secs(1));
    assert_eq!(settings.fast_interval, Duration::from_millis(250));
    assert_eq!(settings.jitter, 0.2);
    assert_eq!(settings.timeout, Duration::from_secs(1));
    assert_eq!(settings.fall, 3);
    assert_eq!(settings.rise, 5);
    assert_eq!(settings.hold_down, Duration::from_secs(10));
}

#[test]
fn status_displays_as_one_word_and_casts_its_vote() {
    let cases = [
        (Status::Up, "up", Vote::Up),
        (Status::Failing, "failing", Vote::Up),
        (Status::Down, "down", Vote::Down),
        (Status::Recovering, "recovering", Vote::Down),
    ];
    for (status, word, vote) in cases {
        assert_eq!(status.to_string(), word);
        assert_eq!(status.vote(), vote, "{status}");
    }
}

#[test]
fn durations_read_as_seconds_or_milliseconds() {
    assert_eq!(human(Duration::from_secs(10)), "10 s");
    assert_eq!(human(Duration::ZERO), "0 s");
    assert_eq!(human(Duration::from_millis(1500)), "1500 ms");
}
