//! The backend health state machine, transition by transition, with made-up instants.

use std::time::{Duration, Instant};

use super::*;

mod active;
mod ejection;
mod passive;
mod story;

/// `rise` and `fall` differ so that a test counting one cannot pass by counting the other.
fn check() -> HealthCheck {
    HealthCheck {
        rise: 2,
        fall: 3,
        ..HealthCheck::default()
    }
}

/// Small numbers so doubling, the cap and decay are easy to follow: 1 s, 2 s, 4 s, 8 s, 10 s.
fn outlier() -> Outlier {
    Outlier {
        consecutive_failures: 3,
        base_ejection: Duration::from_secs(1),
        max_ejection: Duration::from_secs(10),
        max_ejected_share: 0.5,
    }
}

/// One backend fed at instants given in milliseconds after `t0`.
struct Backend {
    t0: Instant,
    health: BackendHealth,
    check: HealthCheck,
    outlier: Outlier,
}

impl Backend {
    fn new() -> Self {
        Self::with(check(), outlier())
    }

    fn with(check: HealthCheck, outlier: Outlier) -> Self {
        Self {
            t0: Instant::now(),
            health: BackendHealth::new(),
            check,
            outlier,
        }
    }

    fn at(&self, ms: u64) -> Instant {
        self.t0 + Duration::from_millis(ms)
    }

    fn observe(&mut self, ms: u64, observation: Observation, may_eject: bool) -> Option<Change> {
        let now = self.at(ms);
        self.health
            .observe(observation, now, &self.check, &self.outlier, may_eject)
    }

    /// A check sent and answered at `ms`.
    fn check(&mut self, ms: u64, ok: bool) -> Option<Change> {
        self.check_sent(ms, ms, ok)
    }

    fn check_sent(&mut self, started_ms: u64, ms: u64, ok: bool) -> Option<Change> {
        let started = self.at(started_ms);
        self.observe(ms, Observation::Active { ok, started }, true)
    }

    fn request(&mut self, ms: u64, outcome: Outcome) -> Option<Change> {
        self.observe(ms, Observation::Passive(outcome), true)
    }

    fn request_capped(&mut self, ms: u64, outcome: Outcome) -> Option<Change> {
        self.observe(ms, Observation::Passive(outcome), false)
    }

    /// `consecutive_failures` connection failures at `ms`; returns the last one's change.
    fn eject(&mut self, ms: u64) -> Option<Change> {
        let mut change = None;
        for _ in 0..self.outlier.consecutive_failures {
            change = self.request(ms, Outcome::ConnectFailed);
        }
        change
    }

    fn status(&self, ms: u64) -> Status {
        self.health.status(self.at(ms))
    }

    fn ejected_until(&self, ms: u64) -> Status {
        Status::Ejected { until: self.at(ms) }
    }

    fn next_check(&self, random: f64) -> Duration {
        self.health.next_check_in(&self.check, random)
    }
}

fn change(from: Status, to: Status, reason: &str) -> Option<Change> {
    Some(Change {
        from,
        to,
        reason: reason.to_string(),
    })
}

// --- A new backend ---

#[test]
fn a_new_backend_is_healthy_and_available() {
    let backend = Backend::new();
    assert_eq!(backend.status(0), Status::Healthy);
    assert!(backend.health.available(backend.at(0)));
    assert_eq!(backend.health.ejections(), 0);
    assert_eq!(
        BackendHealth::default().status(backend.at(0)),
        Status::Healthy
    );
}

// --- Display ---

#[test]
fn status_displays_as_one_word() {
    let t0 = Instant::now();
    assert_eq!(Status::Healthy.to_string(), "healthy");
    assert_eq!(Status::Ejected { until: t0 }.to_string(), "ejected");
    assert_eq!(Status::Down.to_string(), "down");
}
