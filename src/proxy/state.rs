//! A region's proxy state: what lives across reloads (backend states, counters, the
//! published region health) and the snapshot requests read, rebuilt when a new view is
//! published (a new health verdict too: the regions a request may spill to follow it).

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::net::IpAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use arc_swap::ArcSwap;
use governor::{DefaultKeyedRateLimiter, Quota};
use hyper::header::HeaderValue;
use ipnet::IpNet;

use super::access_log::{self, AccessLogSender, AccessLogWriter};
use super::backend::BackendState;
use super::balance::{Balancer, Candidate, Pick};
use super::metrics::RegionMetrics;
use super::retry_budget::RetryBudget;
use super::spill::{spill_order, spill_sources};
use super::spillover::{self, PeerState};
use crate::health::{BackendDrains, LocalHealth, SharedLocalHealth};
use crate::region::PeerAddresses;
use crate::region::proxy::{ProxySettings, RateLimit};
use crate::view::SharedView;

pub(crate) type Limiter = DefaultKeyedRateLimiter<IpAddr>;

/// Backend sets up to this size are balanced without a heap allocation per request.
const STACK_BACKENDS: usize = 32;

const UNAVAILABLE: Candidate = Candidate {
    weight: 0,
    in_flight: 0,
    available: false,
};

/// What one request reads: the region's proxy settings from one view, the backend states
/// for exactly those backends, and the selection state built for them.
#[derive(Debug)]
pub(crate) struct Snapshot {
    generation: u64,
    pub(crate) settings: ProxySettings,
    /// `backends[i]` is `settings.backends[i]`.
    pub(crate) backends: Vec<Arc<BackendState>>,
    /// Shared with the next snapshot while the policy and backends stay the same, so a
    /// view that changes something else (health, another region) keeps the rotation.
    pub(crate) balancer: Arc<Balancer>,
    pub(crate) limiter: Option<Arc<Limiter>>,
    pub(crate) cookie_key: Arc<[u8]>,
    /// The other regions' proxies a request with no backend to pick goes to, nearest
    /// first, as the view's health allows; empty when spillover is off.
    pub(crate) spill: Vec<Arc<PeerState>>,
    /// Whose `X-Forwarded-For` a spilled request keeps: `trusted_proxies` and the regions'
    /// own addresses, where the spilling proxy connects from.
    pub(crate) spill_trusted: Vec<IpNet>,
}

impl Snapshot {
    /// The backend the policy picks now, among those not in `tried`. The balancer's view of
    /// the backends is built on the stack for sets of up to [`STACK_BACKENDS`].
    pub(crate) fn pick(&self, hash: Option<u64>, tried: &[usize]) -> Option<usize> {
        let candidate =
            |(state, backend): (&Arc<BackendState>, &crate::region::proxy::Backend)| Candidate {
                weight: backend.weight,
                in_flight: state.in_flight.load(Ordering::Relaxed),
                // A drained backend takes no new requests (sticky ones are not picked here).
                available: state.is_available() && !state.is_draining(),
            };
        let pick = Pick {
            hash,
            tried,
            random: super::random::next_u64(),
        };
        let backends = self.backends.iter().zip(&self.settings.backends);
        if self.backends.len() <= STACK_BACKENDS {
            let mut buffer = [UNAVAILABLE; STACK_BACKENDS];
            for (slot, backend) in buffer.iter_mut().zip(backends) {
                *slot = candidate(backend);
            }
            self.balancer.pick(&buffer[..self.backends.len()], pick)
        } else {
            let candidates: Vec<Candidate> = backends.map(candidate).collect();
            self.balancer.pick(&candidates, pick)
        }
    }

    /// Whether one more backend of this set may be ejected now (backends down by active
    /// checks do not count: the cap limits what passive detection alone can take out).
    pub(crate) fn may_eject(&self) -> bool {
        let now = Instant::now();
        let ejected = self.backends.iter().filter(|b| b.is_ejected(now)).count();
        super::backend_health::may_eject(
            ejected,
            self.backends.len(),
            self.settings.outlier.max_ejected_share,
        )
    }

    pub(crate) fn index_of(&self, id: &str) -> Option<usize> {
        self.backends.iter().position(|b| b.id == id)
    }
}

/// One region's proxy. Created once per node; survives reloads.
#[derive(Debug)]
pub struct Proxy {
    pub(crate) region: String,
    /// The region's name as the value of the spillover hop header.
    pub(crate) spill_header: HeaderValue,
    view: SharedView,
    /// Where the other regions' proxies listen, when not where the config says.
    peers: PeerAddresses,
    pub(super) snapshot: ArcSwap<Snapshot>,
    /// Held while a snapshot is built and while a drain is applied to the live backend
    /// states, so that a drain is never lost to a rebuild in between.
    pub(super) rebuilding: Mutex<()>,
    /// The operator's drained backends, kept in the node's state dir.
    pub(super) drains: BackendDrains,
    /// Signs sticky cookies when the config has no key: per process, so sessions do not
    /// survive a restart (config check warns about it).
    fallback_cookie_key: Arc<[u8]>,
    pub(crate) local_health: SharedLocalHealth,
    pub(crate) metrics: RegionMetrics,
    pub(crate) retry_budget: RetryBudget,
    /// Where requests send their access log lines (only while the log is on).
    pub(crate) access_log: AccessLogSender,
    /// The thread that writes them, until the node takes it to run it.
    access_log_writer: Mutex<Option<AccessLogWriter>>,
}

impl Proxy {
    /// The proxy of `region`, reading `view`; `peers` says where other regions' proxies
    /// listen when not where the config says; `drains` are the backends the operator
    /// drained (read back from the node's state dir).
    pub fn new(
        region: &str,
        view: SharedView,
        local_health: SharedLocalHealth,
        peers: PeerAddresses,
        drains: BackendDrains,
    ) -> Arc<Self> {
        let fallback_cookie_key: Arc<[u8]> = (0..4u64)
            .flat_map(|i| RandomState::new().hash_one(i).to_le_bytes())
            .collect();
        let snapshot = build(region, &view, &peers, None, &fallback_cookie_key, &drains);
        let metrics = RegionMetrics::new(region);
        let (access_log, access_log_writer) =
            access_log::channel(region, view.clone(), metrics.access_log_dropped.clone());
        let proxy = Arc::new(Self {
            region: region.to_string(),
            // Region names are lower-case letters, digits and '-': always a header value.
            spill_header: HeaderValue::from_str(region)
                .unwrap_or_else(|_| HeaderValue::from_static("meridian")),
            view,
            peers,
            snapshot: ArcSwap::from_pointee(snapshot),
            rebuilding: Mutex::new(()),
            drains,
            fallback_cookie_key,
            local_health,
            metrics,
            retry_budget: RetryBudget::new(Instant::now()),
            access_log,
            access_log_writer: Mutex::new(Some(access_log_writer)),
        });
        proxy.publish_local_health();
        proxy
    }

    /// The access log's writer, for the node to run on a thread of its own (once: later
    /// calls get `None`). Until it runs, lines queue up and then are dropped and counted.
    pub fn take_access_log_writer(&self) -> Option<AccessLogWriter> {
        self.access_log_writer
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }

    /// The snapshot for the view published now, rebuilt first if the view changed.
    pub(crate) fn snapshot(&self) -> Arc<Snapshot> {
        let generation = self.view.load().generation;
        let current = self.snapshot.load_full();
        if current.generation == generation {
            return current;
        }
        let _one_at_a_time = self
            .rebuilding
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let current = self.snapshot.load_full();
        if current.generation == self.view.load().generation {
            return current;
        }
        let next = Arc::new(build(
            &self.region,
            &self.view,
            &self.peers,
            Some(&current),
            &self.fallback_cookie_key,
            &self.drains,
        ));
        self.snapshot.store(next.clone());
        next
    }

    /// Recomputes the region's health report from the backends' states now.
    pub(crate) fn publish_local_health(&self) {
        let snapshot = self.snapshot.load();
        let now = Instant::now();
        let reports = snapshot
            .backends
            .iter()
            .zip(&snapshot.settings.backends)
            .map(|(state, backend)| {
                state.refresh(now, &snapshot.settings.outlier);
                state.report(backend.weight, now)
            })
            .collect();
        let health = LocalHealth::from_backends(reports, snapshot.settings.healthy_share);
        if **self.local_health.load() != health {
            self.local_health.store(Arc::new(health));
        }
    }
}

/// The snapshot for the view published now, keeping the states of backends whose id and
/// address are unchanged (their in-flight counts, health and pooled connections). A drain
/// follows the id: a backend whose address changed is still drained.
fn build(
    region: &str,
    view: &SharedView,
    peers: &PeerAddresses,
    previous: Option<&Snapshot>,
    fallback_cookie_key: &Arc<[u8]>,
    drains: &BackendDrains,
) -> Snapshot {
    let view = view.load_full();
    let local = view.config.regions.iter().find(|r| r.name == region);
    let settings = local.map(|r| r.proxy.clone()).unwrap_or_default();
    let backends: Vec<Arc<BackendState>> = settings
        .backends
        .iter()
        .map(|backend| {
            previous
                .and_then(|p| {
                    p.backends
                        .iter()
                        .find(|s| s.id == backend.id && s.address == backend.address)
                })
                .cloned()
                .unwrap_or_else(|| Arc::new(BackendState::new(region, backend)))
        })
        .collect();
    for state in &backends {
        state.set_draining(drains.is_drained(&state.id));
    }
    if let Some(previous) = previous {
        log_changes(region, previous, &backends);
    }
    let limiter = match (previous, &settings.rate_limit) {
        (Some(p), Some(limit)) if p.settings.rate_limit.as_ref() == Some(limit) => {
            p.limiter.clone()
        }
        (_, Some(limit)) => Some(Arc::new(limiter(limit))),
        (_, None) => None,
    };
    let balancer = match previous {
        Some(p)
            if p.settings.policy == settings.policy && p.settings.backends == settings.backends =>
        {
            p.balancer.clone()
        }
        // Built here, under the rebuild lock, once per change (a hash ring is thousands of
        // points), not per request.
        _ => Arc::new(Balancer::new(&settings.policy, &settings.backends)),
    };
    let spill = match local {
        Some(local) if settings.spillover => spillover::peers(
            region,
            &spill_order(local, &view.config.regions, &view.health, peers),
            previous.map_or(&[], |p| p.spill.as_slice()),
        ),
        _ => Vec::new(),
    };
    let mut spill_trusted = settings.trusted_proxies.clone();
    spill_trusted.extend(spill_sources(&view.config.regions, peers));
    Snapshot {
        generation: view.generation,
        balancer,
        backends,
        spill,
        spill_trusted,
        settings,
        limiter,
        cookie_key: view.config.cookie_key.as_ref().map_or_else(
            || fallback_cookie_key.clone(),
            |key| Arc::from(key.0.as_slice()),
        ),
    }
}

fn limiter(limit: &RateLimit) -> Limiter {
    Limiter::keyed(Quota::per_second(limit.per_second).allow_burst(limit.burst))
}

fn log_changes(region: &str, previous: &Snapshot, next: &[Arc<BackendState>]) {
    for state in next {
        if !previous.backends.iter().any(|p| Arc::ptr_eq(p, state)) {
            tracing::info!(region, backend = %state.id, address = %state.address, "backend added");
        }
    }
    for state in &previous.backends {
        if !next.iter().any(|n| Arc::ptr_eq(n, state)) {
            tracing::info!(
                region,
                backend = %state.id,
                address = %state.address,
                in_flight = state.in_flight.load(Ordering::Relaxed),
                "backend removed; its requests in flight finish"
            );
        }
    }
}
