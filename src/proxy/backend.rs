//! One backend's live state, kept across reloads while its id and address stay: the
//! in-flight count, the health state machine, the connection pool and metrics handles.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use super::backend_health::{BackendHealth, Change, Observation, Outcome, Status};
use super::metrics::BackendMetrics;
use super::pool::Pool;
use super::upstream::Upstream;
use crate::health::BackendReport;
use crate::region::proxy::{Backend, HealthCheck, Outlier};

#[derive(Debug)]
pub(crate) struct BackendState {
    pub(crate) id: String,
    pub(crate) address: SocketAddr,
    pub(crate) in_flight: AtomicU32,
    /// A copy of `health.available(now)`, refreshed at every observation and checker tick,
    /// so that a pick reads one atomic.
    available: AtomicBool,
    /// Drained by the operator: the balancer does not pick it; sticky sessions that name it
    /// and requests in flight go on, and its health checks keep running.
    draining: AtomicBool,
    /// Set by a failure, cleared by the success that follows: while clear, a success does
    /// not need the health lock.
    suspect: AtomicBool,
    health: Mutex<BackendHealth>,
    /// An active check is in progress.
    pub(crate) checking: AtomicBool,
    pub(crate) pool: Pool,
    pub(crate) metrics: BackendMetrics,
    region: String,
}

impl BackendState {
    pub(crate) fn new(region: &str, backend: &Backend) -> Self {
        let metrics = BackendMetrics::new(region, &backend.id);
        metrics.healthy.set(1.0);
        Self {
            id: backend.id.clone(),
            address: backend.address,
            in_flight: AtomicU32::new(0),
            available: AtomicBool::new(true),
            draining: AtomicBool::new(false),
            suspect: AtomicBool::new(false),
            health: Mutex::new(BackendHealth::new()),
            checking: AtomicBool::new(false),
            pool: Pool::default(),
            metrics,
            region: region.to_string(),
        }
    }

    fn health(&self) -> MutexGuard<'_, BackendHealth> {
        self.health.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Where attempts on this backend go.
    pub(crate) fn upstream(&self) -> Upstream<'_> {
        Upstream {
            address: self.address,
            pool: &self.pool,
            name: &self.id,
            connections: &self.metrics.connections,
        }
    }

    /// Healthy and not ejected: it may serve (a drained backend too, for its sticky
    /// sessions).
    pub(crate) fn is_available(&self) -> bool {
        self.available.load(Ordering::Relaxed)
    }

    /// Drained by the operator: the balancer never picks it.
    pub(crate) fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Relaxed)
    }

    /// Drains or undrains it; true when that changed something.
    pub(crate) fn set_draining(&self, draining: bool) -> bool {
        self.draining.swap(draining, Ordering::Relaxed) != draining
    }

    /// Feeds a passive outcome or an active check result. `may_eject` is the set's
    /// ejection cap at this moment.
    pub(crate) fn observe(
        &self,
        observation: Observation,
        check: &HealthCheck,
        outlier: &Outlier,
        may_eject: bool,
    ) {
        let success = matches!(
            observation,
            Observation::Passive(Outcome::Success) | Observation::Active { ok: true, .. }
        );
        if success && matches!(observation, Observation::Passive(_)) {
            if !self.suspect.load(Ordering::Relaxed) {
                return;
            }
        } else if !success {
            self.suspect.store(true, Ordering::Relaxed);
        }
        let now = Instant::now();
        let mut health = self.health();
        let change = health.observe(observation, now, check, outlier, may_eject);
        if success && health.status(now) == Status::Healthy {
            self.suspect.store(false, Ordering::Relaxed);
        }
        self.publish(&health, now);
        drop(health);
        if let Some(change) = change {
            self.log_change(&change);
        }
    }

    /// Re-reads the state at `now`: an ejection's time may be over.
    pub(crate) fn refresh(&self, now: Instant, outlier: &Outlier) {
        let mut health = self.health();
        let change = health.settle(now, outlier);
        self.publish(&health, now);
        drop(health);
        if let Some(change) = change {
            self.log_change(&change);
        }
    }

    pub(crate) fn is_ejected(&self, now: Instant) -> bool {
        matches!(self.status(now), Status::Ejected { .. })
    }

    fn publish(&self, health: &BackendHealth, now: Instant) {
        let available = health.available(now);
        if self.available.swap(available, Ordering::Relaxed) != available {
            self.metrics.healthy.set(if available { 1.0 } else { 0.0 });
        }
    }

    fn log_change(&self, change: &Change) {
        if matches!(change.to, Status::Ejected { .. }) {
            self.metrics.ejections.increment(1);
        }
        tracing::warn!(
            region = %self.region,
            backend = %self.id,
            address = %self.address,
            from = state_name(change.from),
            to = state_name(change.to),
            reason = %change.reason,
            "backend state changed"
        );
    }

    /// The status at `now`, for the region's report.
    pub(crate) fn status(&self, now: Instant) -> Status {
        self.health().status(now)
    }

    pub(crate) fn report(&self, weight: u32, now: Instant) -> BackendReport {
        let drained = self.is_draining();
        let state = match self.status(now) {
            // Down and ejected take nothing, sticky sessions included: they say more.
            Status::Healthy if drained => "draining",
            status => state_name(status),
        };
        BackendReport {
            id: self.id.clone(),
            address: self.address.to_string(),
            weight,
            state,
            drained,
            in_flight: self.in_flight.load(Ordering::Relaxed),
        }
    }

    /// When the next active check is due, given the check settings.
    pub(crate) fn next_check_in(&self, check: &HealthCheck) -> std::time::Duration {
        self.health().next_check_in(check, super::random::unit())
    }
}

pub(crate) fn state_name(status: Status) -> &'static str {
    match status {
        Status::Healthy => "healthy",
        Status::Ejected { .. } => "ejected",
        Status::Down => "down",
    }
}

/// Counts a request in flight on a backend until dropped (which may be when its response
/// body ends, long after the handler returned).
#[derive(Debug)]
pub(crate) struct InFlight(Arc<BackendState>);

impl InFlight {
    pub(crate) fn start(backend: &Arc<BackendState>) -> Self {
        backend.in_flight.fetch_add(1, Ordering::Relaxed);
        Self(backend.clone())
    }

    pub(crate) fn backend(&self) -> &Arc<BackendState> {
        &self.0
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}
