//! One prober's view of one target region: rise/fall hysteresis, a hold-down, probe pacing.
//!
//! Pure: the monitor feeds [`TargetState`] probe results together with the instant each probe
//! was sent. It reads no clock and does no I/O, so every rule below is tested with made-up
//! instants. The quorum across probers is a separate step; this type only says how one
//! prober votes.
//!
//! # States
//!
//! - **Up** (votes [`Vote::Up`]): the target gets traffic as far as this prober is concerned.
//!   A new state starts here before any probe result: probing starts at startup, and until
//!   the first result arrives the region counts as up ([`TargetState::has_result`] is false
//!   and [`TargetState::since`] is `None` until then).
//! - **Failing** (votes Up): Up with at least one failed probe in the current run. It is a
//!   status, not a state of its own: it shows in [`TargetState::status`] and sets the pace,
//!   and a [`Transition`] never names it (the failing run is reported when it ends in Down).
//! - **Down** (votes [`Vote::Down`]): `fall` consecutive failed probes.
//! - **Recovering** (still votes Down): `rise` consecutive good probes after Down; the vote
//!   stays Down for a further `hold_down`.
//!
//! # Rules
//!
//! - Up: `fall` consecutive failures take it Down ("3 failed probes"). A good probe ends the
//!   run of failures, so a failing run that does not reach `fall` leaves the vote Up.
//! - Down: `rise` consecutive good probes make it Recovering ("5 good probes, holding 10 s");
//!   a failed probe ends the run of good ones, and the count starts over.
//! - Recovering: once `hold_down` has passed since the probe that completed the rise (at
//!   that instant exactly, not only after it), the state is Up ("hold-down over"). This is
//!   noticed by the next [`TargetState::observe`] or [`TargetState::settle`], and the vote's
//!   [`since`](TargetState::since) is the instant the hold-down ended, not when it was
//!   noticed. A failed probe sent before the hold-down ended takes it back to Down ("failed
//!   while recovering"), and the rise count starts over.
//! - `fall` and `rise` of zero act as one. A zero `hold_down` goes from Down to Up on the
//!   probe that completes the rise.
//!
//! So a flapping target cannot pull traffic back and forth: once Down, the vote returns to Up
//! only after `rise` good probes in a row and then `hold_down` without a failure, and so two
//! returns to Up are always at least `hold_down` apart. Input that alternates good and failed
//! probes never brings a Down target back (with `rise` above one).
//!
//! # Out-of-order results
//!
//! Probes overlap when a target is slow, so their results can arrive out of order. Each
//! result carries the instant its probe was sent; a result sent strictly before the last one
//! applied is ignored entirely (it changes no count, no state and no pace). A result sent at
//! the same instant as the last one applied counts. [`TargetState::settle`] does not move
//! this mark: a probe sent before a settle and answered after it still counts, in whatever
//! state it finds.
//!
//! # Probe pacing
//!
//! [`TargetState::next_probe_in`] is `interval` jittered uniformly by +-`jitter` of itself
//! while Up with no failure in the current run (and before the first result), so that many
//! nodes probing many regions do not fall into step. It is `fast_interval`, as it is, while
//! Failing, Down or Recovering, so that a failure is confirmed (and a recovery counted)
//! without waiting for full intervals, like HAProxy's `fastinter`. It is never below 1 ms,
//! whatever the settings.
//!
//! # Reported transitions
//!
//! `observe` and `settle` return at most one [`Transition`]: from the state before the call
//! to the state after it, so transitions chain, each `from` being the previous `to`. When
//! one call passes through two changes (a hold-down that ended before a failed probe with a
//! `fall` of one, or a zero hold-down), the reason names both, joined by "; ".

use std::fmt;
use std::time::{Duration, Instant};

use crate::pacing::jittered;

#[cfg(test)]
mod tests;

/// The shortest wait [`TargetState::next_probe_in`] returns, so that a zero interval can never
/// turn the prober into a busy loop.
const MIN_PROBE_WAIT: Duration = Duration::from_millis(1);

/// How one node probes the other regions.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeSettings {
    /// The wait between probes of a target that is up and not failing, before jitter.
    pub interval: Duration,
    /// The wait between probes of a target that is failing, down or recovering.
    pub fast_interval: Duration,
    /// `interval` moves uniformly by up to this share of itself either way (0.0 to 0.5).
    pub jitter: f64,
    /// How long the prober waits for an answer before counting a failure; used by the
    /// prober, not by [`TargetState`].
    pub timeout: Duration,
    /// Consecutive failed probes that take an up target down.
    pub fall: u32,
    /// Consecutive good probes that start a down target's recovery.
    pub rise: u32,
    /// How long a recovering target keeps voting down after its `rise` good probes.
    pub hold_down: Duration,
}

impl Default for ProbeSettings {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(1),
            fast_interval: Duration::from_millis(250),
            jitter: 0.2,
            timeout: Duration::from_secs(1),
            fall: 3,
            rise: 5,
            hold_down: Duration::from_secs(10),
        }
    }
}

/// What one prober says about one target, as gossiped and counted by the quorum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Vote {
    Up,
    Down,
}

/// Where a target stands, for logs and `explain`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Votes up; no failure in the current run (or no result yet).
    Up,
    /// Votes up, with at least one failed probe in the current run.
    Failing,
    /// Votes down after `fall` failed probes.
    Down,
    /// Votes down: `rise` good probes are in, the hold-down is not over.
    Recovering,
}

impl Status {
    /// The vote this status casts.
    pub fn vote(self) -> Vote {
        match self {
            Status::Up | Status::Failing => Vote::Up,
            Status::Down | Status::Recovering => Vote::Down,
        }
    }
}

impl fmt::Display for Status {
    /// One lower-case word for logs and the dashboard.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Status::Up => "up",
            Status::Failing => "failing",
            Status::Down => "down",
            Status::Recovering => "recovering",
        })
    }
}

/// A change of state worth logging and counting. `from` and `to` are Up, Down or Recovering,
/// never Failing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub from: Status,
    pub to: Status,
    pub reason: String,
}

/// The stored state; Failing is Up with a failure count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Up,
    Down,
    /// The vote turns Up at `until` (the hold-down's end).
    Recovering {
        until: Instant,
    },
}

impl Phase {
    fn status(self) -> Status {
        match self {
            Phase::Up => Status::Up,
            Phase::Down => Status::Down,
            Phase::Recovering { .. } => Status::Recovering,
        }
    }
}

/// One prober's state machine for one target.
#[derive(Debug, Clone)]
pub struct TargetState {
    phase: Phase,
    /// Consecutive good probes; zero after a failed one.
    successes: u32,
    /// Consecutive failed probes; zero after a good one.
    failures: u32,
    /// When the last applied result's probe was sent; older results are ignored.
    last_applied: Option<Instant>,
    /// When the current vote began; `None` before the first result.
    since: Option<Instant>,
}

impl Default for TargetState {
    fn default() -> Self {
        Self::new()
    }
}

impl TargetState {
    /// A target not probed yet: it counts as up.
    pub fn new() -> Self {
        Self {
            phase: Phase::Up,
            successes: 0,
            failures: 0,
            last_applied: None,
            since: None,
        }
    }

    /// Feeds one probe result; `at` is when the probe was sent. Returns the transition, if
    /// any, from the state before the call. A result sent before the last one applied is
    /// ignored and returns `None`.
    pub fn observe(
        &mut self,
        ok: bool,
        at: Instant,
        settings: &ProbeSettings,
    ) -> Option<Transition> {
        if self.last_applied.is_some_and(|last| at < last) {
            return None;
        }
        self.last_applied = Some(at);
        if self.since.is_none() {
            // The first result: the Up vote assumed so far is now backed by a probe.
            self.since = Some(at);
        }
        let from = self.phase.status();
        let mut reasons: Vec<String> = self.end_hold_down(at).into_iter().collect();
        let reason = if ok {
            self.probe_passed(at, settings)
        } else {
            self.probe_failed(at, settings)
        };
        reasons.extend(reason);
        // A zero hold-down ends on the probe that completed the rise.
        reasons.extend(self.end_hold_down(at));
        self.transition_from(from, reasons)
    }

    /// Brings the state up to `now` without a probe result: ends a hold-down that is over.
    /// The monitor may call it on its own timer so that the vote returns when the hold-down
    /// ends rather than at the next result.
    pub fn settle(&mut self, now: Instant) -> Option<Transition> {
        let from = self.phase.status();
        let reasons = self.end_hold_down(now).into_iter().collect();
        self.transition_from(from, reasons)
    }

    /// This prober's vote; Up before the first result.
    pub fn vote(&self) -> Vote {
        self.status().vote()
    }

    /// Whether any probe result has been applied yet.
    pub fn has_result(&self) -> bool {
        self.last_applied.is_some()
    }

    /// When the current vote began (for the vote's age in gossip); `None` before the first
    /// result.
    pub fn since(&self) -> Option<Instant> {
        self.since
    }

    /// Where the target stands as of the last `observe` or `settle`.
    pub fn status(&self) -> Status {
        match self.phase {
            Phase::Up if self.failures > 0 => Status::Failing,
            phase => phase.status(),
        }
    }

    /// How long until the next probe, given `random` uniform in [0, 1).
    pub fn next_probe_in(&self, settings: &ProbeSettings, random: f64) -> Duration {
        let wait = if self.status() == Status::Up {
            jittered(settings.interval, settings.jitter, random)
        } else {
            settings.fast_interval
        };
        wait.max(MIN_PROBE_WAIT)
    }

    fn transition_from(&self, from: Status, reasons: Vec<String>) -> Option<Transition> {
        let to = self.phase.status();
        (from != to).then(|| Transition {
            from,
            to,
            reason: reasons.join("; "),
        })
    }

    /// Recovering becomes Up at (and after) the hold-down's end.
    fn end_hold_down(&mut self, now: Instant) -> Option<String> {
        match self.phase {
            Phase::Recovering { until } if now >= until => {
                self.phase = Phase::Up;
                // The vote has been Up since the hold-down ended, not since whoever noticed.
                self.since = Some(until);
                Some("hold-down over".to_string())
            }
            _ => None,
        }
    }

    fn probe_passed(&mut self, at: Instant, settings: &ProbeSettings) -> Option<String> {
        self.failures = 0;
        self.successes = self.successes.saturating_add(1);
        if self.phase != Phase::Down || self.successes < settings.rise.max(1) {
            return None;
        }
        // An `until` beyond what `Instant` can hold is no sane setting; ending the hold-down
        // at once is the harmless way out.
        let until = at.checked_add(settings.hold_down).unwrap_or(at);
        self.phase = Phase::Recovering { until };
        Some(format!(
            "{}, holding {}",
            plural(self.successes, "good probe", "good probes"),
            human(settings.hold_down)
        ))
    }

    fn probe_failed(&mut self, at: Instant, settings: &ProbeSettings) -> Option<String> {
        self.successes = 0;
        self.failures = self.failures.saturating_add(1);
        match self.phase {
            Phase::Up if self.failures >= settings.fall.max(1) => {
                self.phase = Phase::Down;
                self.since = Some(at);
                Some(plural(self.failures, "failed probe", "failed probes"))
            }
            Phase::Up | Phase::Down => None,
            // The vote was Down all along, so `since` stays.
            Phase::Recovering { .. } => {
                self.phase = Phase::Down;
                Some("failed while recovering".to_string())
            }
        }
    }
}

fn plural(count: u32, one: &str, many: &str) -> String {
    format!("{count} {}", if count == 1 { one } else { many })
}

/// "10 s" for whole seconds, "1500 ms" otherwise.
fn human(duration: Duration) -> String {
    if duration.subsec_nanos() == 0 {
        format!("{} s", duration.as_secs())
    } else {
        format!("{} ms", duration.as_millis())
    }
}
