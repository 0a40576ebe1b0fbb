//! Active health checks: each backend is asked for the check path on a fresh connection
//! (a pooled one could stay healthy while new ones fail), every interval with jitter, and
//! faster while it is failing. The same loop expires ejections, prunes idle upstream
//! connections (to backends and to the regions spilled to) and publishes the region's
//! health, so `/healthz` follows a backend's state within one tick.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{Either, Full};
use hyper::header::{self, HeaderValue};
use hyper::{Request, StatusCode};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::backend::BackendState;
use super::backend_health::Observation;
use super::pool;
use super::state::{Proxy, Snapshot};

/// How often the loop looks for due checks and refreshes the region's health.
const TICK: Duration = Duration::from_millis(100);

/// How often the rate limiter forgets idle clients.
const LIMITER_SWEEP: Duration = Duration::from_secs(10);

/// Runs the checks of `proxy`'s backends until `shutdown`. Checks in progress are
/// abandoned at shutdown.
pub async fn run(proxy: Arc<Proxy>, shutdown: CancellationToken) {
    let mut due: HashMap<usize, Instant> = HashMap::new();
    let mut checks: JoinSet<()> = JoinSet::new();
    let mut last_sweep = Instant::now();
    let mut ticker = tokio::time::interval(TICK);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = ticker.tick() => {}
        }
        while checks.try_join_next().is_some() {}
        let snapshot = proxy.snapshot();
        let now = Instant::now();
        // Keyed by the state's address in memory: a backend that is replaced gets a new
        // schedule, one that stays keeps its own.
        let live: Vec<usize> = snapshot.backends.iter().map(key).collect();
        due.retain(|k, _| live.contains(k));
        for backend in &snapshot.backends {
            let k = key(backend);
            let when = *due.entry(k).or_insert(now);
            if when > now || backend.checking.swap(true, Ordering::Relaxed) {
                continue;
            }
            due.insert(k, now + backend.next_check_in(&snapshot.settings.health));
            checks.spawn(check(backend.clone(), snapshot.clone()));
        }
        for backend in &snapshot.backends {
            backend.pool.prune(snapshot.settings.timeouts.upstream_idle);
        }
        for peer in &snapshot.spill {
            peer.pool.prune(snapshot.settings.timeouts.upstream_idle);
        }
        proxy.publish_local_health();
        if now.duration_since(last_sweep) >= LIMITER_SWEEP {
            last_sweep = now;
            if let Some(limiter) = &snapshot.limiter {
                limiter.retain_recent();
                limiter.shrink_to_fit();
            }
        }
    }
}

fn key(backend: &Arc<BackendState>) -> usize {
    Arc::as_ptr(backend) as usize
}

/// One check of one backend, fed to its state machine.
async fn check(backend: Arc<BackendState>, snapshot: Arc<Snapshot>) {
    let settings = &snapshot.settings;
    let started = Instant::now();
    // A slow check never overlaps the next one of the same backend.
    let _checking = Checking(&backend.checking);
    let ok = tokio::time::timeout(settings.health.timeout, probe(&backend, &snapshot))
        .await
        .unwrap_or(false);
    backend.observe(
        Observation::Active { ok, started },
        &settings.health,
        &settings.outlier,
        snapshot.may_eject(),
    );
}

struct Checking<'a>(&'a AtomicBool);

impl Drop for Checking<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Relaxed);
    }
}

async fn probe(backend: &BackendState, snapshot: &Snapshot) -> bool {
    let health = &snapshot.settings.health;
    let Ok(mut sender) = pool::connect(backend.address, health.timeout, false).await else {
        return false;
    };
    let mut request = Request::new(Either::Left(Full::new(Bytes::new())));
    *request.uri_mut() = match health.path.parse() {
        Ok(uri) => uri,
        Err(_) => return false,
    };
    let headers = request.headers_mut();
    if let Ok(host) = HeaderValue::from_str(&backend.address.to_string()) {
        headers.insert(header::HOST, host);
    }
    headers.insert(
        header::USER_AGENT,
        HeaderValue::from_static("meridian-health-check"),
    );
    headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
    match sender.send_request(request).await {
        Ok(response) => {
            let status: StatusCode = response.status();
            health.expect.contains(&status.as_u16())
        }
        Err(_) => false,
    }
}
