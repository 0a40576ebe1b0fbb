//! One backend's health: active checks and passive outlier detection in one state machine.
//! Pure: fed observations with the time they were made; reads no clock.
//!
//! STUB: the backend-health work replaces it.

use std::time::{Duration, Instant};

use crate::region::proxy::{HealthCheck, Outlier};

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

/// A change of status worth logging and counting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub from: Status,
    pub to: Status,
    pub reason: String,
}

/// The state machine of one backend.
#[derive(Debug, Clone)]
pub struct BackendHealth {
    status: Status,
    failures: u32,
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
            status: Status::Healthy,
            failures: 0,
        }
    }

    /// Feeds one observation made at `now`. `may_eject` is [`may_eject`] for the backend's
    /// set at this moment. Returns the change of status, if any.
    pub fn observe(
        &mut self,
        observation: Observation,
        now: Instant,
        _check: &HealthCheck,
        outlier: &Outlier,
        may_eject: bool,
    ) -> Option<Change> {
        let from = self.status(now);
        match observation {
            Observation::Passive(Outcome::Success) | Observation::Active { ok: true, .. } => {
                self.failures = 0;
                self.status = Status::Healthy;
            }
            _ => {
                self.failures += 1;
                if self.failures >= outlier.consecutive_failures && may_eject {
                    self.status = Status::Ejected {
                        until: now + outlier.base_ejection,
                    };
                }
            }
        }
        let to = self.status(now);
        (from != to).then(|| Change {
            from,
            to,
            reason: format!("{observation:?}"),
        })
    }

    /// The status at `now` (an ejection whose time is over reads as healthy).
    pub fn status(&self, now: Instant) -> Status {
        match self.status {
            Status::Ejected { until } if now >= until => Status::Healthy,
            other => other,
        }
    }

    /// Whether traffic may go to this backend at `now`.
    pub fn available(&self, now: Instant) -> bool {
        self.status(now) == Status::Healthy
    }

    /// How long until the next active check, given `random` uniform in [0, 1).
    pub fn next_check_in(&self, check: &HealthCheck, _random: f64) -> Duration {
        check.interval
    }
}

/// Whether one more backend may be ejected when `ejected` of `total` already are.
pub fn may_eject(ejected: usize, total: usize, max_share: f64) -> bool {
    ejected == 0 || ((ejected + 1) as f64) <= max_share * total as f64
}
