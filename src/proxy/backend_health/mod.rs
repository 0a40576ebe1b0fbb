//! One backend's health: active checks and passive outlier detection in one state machine.
//!
//! Pure: the proxy feeds [`BackendHealth`] observations together with the instant they were
//! made. It reads no clock and does no I/O, so every rule below is tested with made-up
//! instants.
//!
//! # States
//!
//! - **Healthy**: receives traffic. A new backend starts here: it is assumed up until checks
//!   or traffic say otherwise.
//! - **Ejected `{ until }`**: taken out by passive outlier detection for a while.
//! - **Down**: taken out by active checks until they pass again.
//!
//! # Active checks: rise and fall
//!
//! `fall` consecutive failed checks take a backend Down, from Healthy and also from Ejected
//! (Down supersedes the ejection, which is forgotten: coming back from Down needs `rise` good
//! checks, whatever was left of the ejection). `rise` consecutive good checks bring a Down
//! backend back to Healthy. A good check ends the run of failed checks and a failed check ends
//! the run of good ones. Check results count in the order they arrive, whatever their
//! `started`: rise and fall are the active layer's own hysteresis, and the
//! precedence rule below guards only the passive verdict. So a good check sent before an
//! ejection and answered after the backend went Down counts toward `rise`. `rise`, `fall` and
//! `consecutive_failures` of zero act as one.
//!
//! # Passive outlier detection
//!
//! `consecutive_failures` failed requests in a row (connect failure, 5xx, timeout) eject a
//! Healthy backend for `base_ejection * 2^(n-1)`, capped at `max_ejection`, where `n` counts
//! this backend's ejections, this one included. A successful request ends the run. When
//! `may_eject` is false (the set's ejection cap is reached, see [`may_eject`]) the backend
//! stays in, and the run goes on: the next failure ejects it once the cap allows.
//!
//! Passive observations never move a Down backend and never bring an Ejected one back: while
//! the backend is Down or Ejected they are ignored entirely. It gets no traffic then, so they
//! are answers to requests sent before, and they say nothing new. In particular a run that
//! would reach the threshold while Down does nothing, and a run starts afresh whenever the
//! backend comes back.
//!
//! **Decay.** The count `n` goes down by one for each full `base_ejection` period the backend
//! spends Healthy after coming back (from an ejection or from Down), like Envoy's ejection
//! multiplier. Time Ejected or Down does not count. The count stops growing once the
//! ejection time has reached `max_ejection`, so a backend that flapped for an hour needs no
//! longer to earn shorter ejections back than one that reached the cap once. Decay is
//! applied when the state is brought up to date (every [`BackendHealth::observe`] and
//! [`BackendHealth::settle`]).
//!
//! # Ending an ejection
//!
//! An ejection ends when its time is over: [`BackendHealth::status`] reads Healthy at and after
//! `until`, and the stored state catches up on the next `observe` or `settle`, which reports
//! the change ("ejection over"). It ends early with a good active check, under the
//! **precedence rule**: a good check un-ejects only if it was started strictly after the
//! ejection. A check sent before the ejection and answered after it says nothing about the
//! state that caused the ejection, so it is ignored for un-ejection (it still ends the run of
//! failed checks, like any good check).
//!
//! # Check pacing
//!
//! [`BackendHealth::next_check_in`] is `fast_interval` while the last check failed, while
//! Down and while Ejected (a fast check is what can end an ejection early); otherwise
//! `interval`, jittered uniformly by +-`jitter` of itself so that checks of many backends
//! and nodes do not fall into step. `fast_interval` is used as it is, as its setting
//! documents. Never below 1 ms, whatever the settings.
//!
//! # Reported changes
//!
//! `observe` and `settle` return at most one [`Change`]: from the status the caller was last
//! told (the stored state before the call) to the new one. Changes therefore chain, each
//! `from` being the previous `to`, even when an expired ejection and the observation's own
//! effect fall into one call; the reason then names both, joined by "; ".

use std::fmt;
use std::time::{Duration, Instant};

use crate::pacing::jittered;

use crate::region::proxy::{HealthCheck, Outlier};

#[cfg(test)]
mod tests;

/// The shortest wait [`BackendHealth::next_check_in`] returns, so that a zero interval in a
/// setting can never turn the checker into a busy loop.
const MIN_CHECK_WAIT: Duration = Duration::from_millis(1);

/// How one proxied attempt ended, as passive detection sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A response below 500 (or a 5xx that is not the backend's fault: 501, 505).
    Success,
    /// TCP connect refused, reset or timed out; or the connection died before a response.
    ConnectFailed,
    /// 500, 502, 503 or 504 from the backend.
    Status5xx,
    /// No response head within the response timeout.
    Timeout,
}

/// One thing learnt about a backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Observation {
    /// An active check's result; `started` is when the check was sent (the precedence rule
    /// compares it with the ejection time).
    Active { ok: bool, started: Instant },
    /// A proxied attempt's outcome.
    Passive(Outcome),
}

/// Where a backend stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Healthy,
    /// Taken out by passive detection until `until` (or an active success sent after the
    /// ejection).
    Ejected {
        until: Instant,
    },
    /// Failed `fall` active checks in a row; back after `rise` successes.
    Down,
}

impl fmt::Display for Status {
    /// One lower-case word for logs and the dashboard; an ejection's end is an `Instant`,
    /// which means nothing to a reader, so it is left out.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Status::Healthy => "healthy",
            Status::Ejected { .. } => "ejected",
            Status::Down => "down",
        })
    }
}

/// A change of status worth logging and counting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub from: Status,
    pub to: Status,
    pub reason: String,
}

/// The stored state. Unlike [`Status`] an ejection remembers when it began, for the
/// precedence rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Healthy,
    Ejected { at: Instant, until: Instant },
    Down,
}

/// The current run of failed requests, and whether they all failed the same way (so the
/// reason can say "3 consecutive timeouts" rather than "3 consecutive failed requests").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct FailureRun {
    length: u32,
    kind: RunKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum RunKind {
    #[default]
    Empty,
    Only(Outcome),
    Mixed,
}

impl FailureRun {
    fn push(&mut self, outcome: Outcome) {
        self.length = self.length.saturating_add(1);
        self.kind = match self.kind {
            RunKind::Empty => RunKind::Only(outcome),
            RunKind::Only(kind) if kind == outcome => RunKind::Only(outcome),
            _ => RunKind::Mixed,
        };
    }

    fn describe(&self) -> String {
        let one = self.length == 1;
        let what = match self.kind {
            RunKind::Only(Outcome::ConnectFailed) if one => "connection failure",
            RunKind::Only(Outcome::ConnectFailed) => "connection failures",
            RunKind::Only(Outcome::Status5xx) if one => "5xx response",
            RunKind::Only(Outcome::Status5xx) => "5xx responses",
            RunKind::Only(Outcome::Timeout) if one => "timeout",
            RunKind::Only(Outcome::Timeout) => "timeouts",
            _ if one => "failed request",
            _ => "failed requests",
        };
        format!("{} consecutive {what}", self.length)
    }
}

/// The state machine of one backend.
#[derive(Debug, Clone)]
pub struct BackendHealth {
    state: State,
    /// Consecutive good checks; zero after a failed one.
    check_successes: u32,
    /// Consecutive failed checks; zero after a good one.
    check_failures: u32,
    /// Consecutive failed requests while Healthy.
    request_failures: FailureRun,
    /// The `n` of the ejection-time formula, already decayed up to the last update.
    ejections: u32,
    /// Healthy time from here on has not yet been credited to decay; `None` while there is
    /// nothing to decay or the backend is not Healthy.
    decay_from: Option<Instant>,
}

impl Default for BackendHealth {
    fn default() -> Self {
        Self::new()
    }
}

impl BackendHealth {
    /// A new backend counts as healthy until checks or traffic say otherwise.
    pub fn new() -> Self {
        Self {
            state: State::Healthy,
            check_successes: 0,
            check_failures: 0,
            request_failures: FailureRun::default(),
            ejections: 0,
            decay_from: None,
        }
    }

    /// Feeds one observation made at `now`. `may_eject` is [`may_eject`] for the backend's
    /// set at this moment. Returns the change of status, if any, from the status the last
    /// change reported.
    pub fn observe(
        &mut self,
        observation: Observation,
        now: Instant,
        check: &HealthCheck,
        outlier: &Outlier,
        may_eject: bool,
    ) -> Option<Change> {
        let from = self.stored_status();
        let mut reasons: Vec<String> = self.normalise(now, outlier).into_iter().collect();
        let reason = match observation {
            Observation::Active { ok: true, started } => self.check_passed(started, now, check),
            Observation::Active { ok: false, .. } => self.check_failed(check),
            Observation::Passive(Outcome::Success) => {
                self.request_succeeded();
                None
            }
            Observation::Passive(failure) => self.request_failed(failure, now, outlier, may_eject),
        };
        reasons.extend(reason);
        self.change_from(from, reasons)
    }

    /// Brings the state up to `now` without an observation: ends an ejection whose time is
    /// over and applies decay. The checker may call it on its own timer so that "ejection
    /// over" is logged when it happens rather than at the next observation.
    pub fn settle(&mut self, now: Instant, outlier: &Outlier) -> Option<Change> {
        let from = self.stored_status();
        let reasons = self.normalise(now, outlier).into_iter().collect();
        self.change_from(from, reasons)
    }

    /// The status at `now` (an ejection whose time is over reads as healthy).
    pub fn status(&self, now: Instant) -> Status {
        match self.state {
            State::Ejected { until, .. } if now >= until => Status::Healthy,
            _ => self.stored_status(),
        }
    }

    /// Whether traffic may go to this backend at `now`.
    pub fn available(&self, now: Instant) -> bool {
        self.status(now) == Status::Healthy
    }

    /// The ejection count that sets the next ejection's length (the next one lasts
    /// `base_ejection * 2^ejections`, capped), decayed up to the last `observe` or `settle`.
    pub fn ejections(&self) -> u32 {
        self.ejections
    }

    /// How long until the next active check, given `random` uniform in [0, 1).
    ///
    /// An ejection whose time is over still counts as an ejection here until the next
    /// `observe` or `settle`; that costs at most one early check.
    pub fn next_check_in(&self, check: &HealthCheck, random: f64) -> Duration {
        let fast = self.check_failures > 0 || self.state != State::Healthy;
        let wait = if fast {
            check.fast_interval
        } else {
            jittered(check.interval, check.jitter, random)
        };
        wait.max(MIN_CHECK_WAIT)
    }

    fn stored_status(&self) -> Status {
        match self.state {
            State::Healthy => Status::Healthy,
            State::Ejected { until, .. } => Status::Ejected { until },
            State::Down => Status::Down,
        }
    }

    fn change_from(&self, from: Status, reasons: Vec<String>) -> Option<Change> {
        let to = self.stored_status();
        (from != to).then(|| Change {
            from,
            to,
            reason: reasons.join("; "),
        })
    }

    /// Ends an ejection whose time is over and credits healthy time to decay, so that the
    /// stored state agrees with [`Self::status`] at `now` before anything else happens.
    fn normalise(&mut self, now: Instant, outlier: &Outlier) -> Option<String> {
        let mut reason = None;
        if let State::Ejected { until, .. } = self.state
            && now >= until
        {
            // The backend has been healthy since `until`, not since whoever noticed.
            self.come_back(until);
            reason = Some("ejection over".to_string());
        }
        if self.state == State::Healthy {
            self.decay(now, outlier.base_ejection);
        }
        reason
    }

    fn come_back(&mut self, at: Instant) {
        self.state = State::Healthy;
        // Failures seen before the backend went out belong to the episode that is over.
        self.request_failures = FailureRun::default();
        self.decay_from = (self.ejections > 0).then_some(at);
    }

    fn decay(&mut self, now: Instant, base_ejection: Duration) {
        let Some(from) = self.decay_from else {
            return;
        };
        if base_ejection.is_zero() {
            // Zero-length ejections: no period to count, nothing worth remembering.
            self.ejections = 0;
            self.decay_from = None;
            return;
        }
        let periods = now.saturating_duration_since(from).as_nanos() / base_ejection.as_nanos();
        let periods = u32::try_from(periods).unwrap_or(u32::MAX);
        self.ejections = self.ejections.saturating_sub(periods);
        // Keep the part of a period already spent, so decay does not depend on how often
        // the backend is observed.
        self.decay_from = if self.ejections == 0 {
            None
        } else {
            from.checked_add(base_ejection.saturating_mul(periods))
        };
    }

    fn check_passed(
        &mut self,
        started: Instant,
        now: Instant,
        check: &HealthCheck,
    ) -> Option<String> {
        self.check_failures = 0;
        self.check_successes = self.check_successes.saturating_add(1);
        match self.state {
            State::Healthy => None,
            // The precedence rule: only a check sent after the ejection speaks to it.
            State::Ejected { at, .. } if started > at => {
                self.come_back(now);
                Some("good check after ejection".to_string())
            }
            State::Ejected { .. } => None,
            State::Down if self.check_successes >= check.rise.max(1) => {
                self.come_back(now);
                Some(plural(self.check_successes, "good check", "good checks"))
            }
            State::Down => None,
        }
    }

    fn check_failed(&mut self, check: &HealthCheck) -> Option<String> {
        self.check_successes = 0;
        self.check_failures = self.check_failures.saturating_add(1);
        if self.state == State::Down || self.check_failures < check.fall.max(1) {
            return None;
        }
        // Decay was credited up to now by `normalise`; time Down does not count.
        self.state = State::Down;
        self.decay_from = None;
        self.request_failures = FailureRun::default();
        Some(plural(self.check_failures, "failed check", "failed checks"))
    }

    fn request_succeeded(&mut self) {
        if self.state == State::Healthy {
            self.request_failures = FailureRun::default();
        }
    }

    fn request_failed(
        &mut self,
        outcome: Outcome,
        now: Instant,
        outlier: &Outlier,
        may_eject: bool,
    ) -> Option<String> {
        if self.state != State::Healthy {
            return None;
        }
        self.request_failures.push(outcome);
        if self.request_failures.length < outlier.consecutive_failures.max(1) || !may_eject {
            return None;
        }
        let n = self.ejections.saturating_add(1);
        let ejection = ejection_time(n, outlier);
        self.ejections = n.min(cap_level(outlier));
        self.decay_from = None;
        // An `until` beyond what `Instant` can hold is not a validated config; ending such an
        // ejection at once is the harmless way out.
        let until = now.checked_add(ejection).unwrap_or(now);
        self.state = State::Ejected { at: now, until };
        let reason = format!(
            "{}, ejected for {ejection:?}",
            self.request_failures.describe()
        );
        self.request_failures = FailureRun::default();
        Some(reason)
    }
}

/// The `n`-th ejection's length: `base_ejection * 2^(n-1)`, capped at `max_ejection`.
fn ejection_time(n: u32, outlier: &Outlier) -> Duration {
    uncapped_ejection_time(n, outlier)
        .map_or(outlier.max_ejection, |time| time.min(outlier.max_ejection))
}

/// `None` when the doubling overflows, which is past any cap.
fn uncapped_ejection_time(n: u32, outlier: &Outlier) -> Option<Duration> {
    let factor = 1u32.checked_shl(n.saturating_sub(1))?;
    outlier.base_ejection.checked_mul(factor)
}

/// The smallest count whose ejection time reaches the cap; counting further would only make
/// decay slower without making any ejection longer.
fn cap_level(outlier: &Outlier) -> u32 {
    (1..=u32::BITS)
        .find(|&n| uncapped_ejection_time(n, outlier).is_none_or(|t| t >= outlier.max_ejection))
        .unwrap_or(u32::BITS)
}

fn plural(count: u32, one: &str, many: &str) -> String {
    format!("{count} {}", if count == 1 { one } else { many })
}

/// Whether one more backend of a set may be ejected when `ejected` of its `total` backends
/// already are (count backends whose status is Ejected; Down ones are not ejected).
///
/// One backend may always be ejected when none is, so a set of one or two backends can still
/// shed a bad one; beyond that, `ejected + 1` may not exceed `floor(max_share * total)`. This
/// keeps passive detection from emptying a set on its own: when a shared cause (a bad deploy,
/// an overloaded database) makes every backend fail, ejecting them all would leave nothing to
/// serve the requests that could still succeed, and would pile the load onto whatever
/// backends return first.
pub fn may_eject(ejected: usize, total: usize, max_share: f64) -> bool {
    ejected == 0 || ((ejected + 1) as f64) <= (max_share * total as f64).floor()
}
