//! A region's node: binds outside ([`RegionSockets`]), serves inside ([`RegionNode`]), owns
//! its tasks and their shutdown.
//!
//! Only this module spawns long-lived tasks, all tracked by one [`TaskTracker`] per node and
//! stopped by one [`CancellationToken`] per node. Every socket is bound before anything is
//! spawned, so a bind error leaves nothing half-started. If any server task of a node fails,
//! the node stops and says why: the process then exits non-zero for its supervisor to
//! restart it, rather than limping on with a dead listener.

use std::future::Future;
use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use anyhow::Context;
use arc_swap::ArcSwap;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::cli::RunArgs;
use crate::dashboard::{self, NodeIdentity, StatusState};
use crate::dns::{self, DnsHandler, DnsSockets, ResponseLimiter};
use crate::health::monitor::Monitor;
use crate::health::{self, BackendDrains, LocalHealth, SharedBackendControl, SharedLocalHealth};
use crate::proxy::{self, Proxy};
use crate::region::PeerAddresses;
use crate::reload::{ListenFromConfig, Reloader, Source};
use crate::view::SharedView;

/// How long tasks get to finish after shutdown is requested.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Where one node listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenPlan {
    pub dns: Vec<SocketAddr>,
    pub http: Option<SocketAddr>,
    pub status: Option<SocketAddr>,
    /// UDP sockets (and threads) per DNS address.
    pub udp_sockets: usize,
    /// HTTP proxy workers: each a thread with its own runtime and `SO_REUSEPORT` listener.
    pub http_workers: usize,
}

/// Sockets of one region's node, bound and not yet served.
#[derive(Debug)]
pub struct RegionSockets {
    pub dns: Vec<DnsSockets>,
    /// One listener per proxy worker, all on the same address.
    pub http: Vec<TcpListener>,
    pub status: Option<TcpListener>,
}

impl RegionSockets {
    /// Binds everything in `plan`; nothing is served yet.
    pub fn bind(region: &str, plan: &ListenPlan) -> anyhow::Result<Self> {
        if let Some(wildcard) = plan.dns.iter().find(|addr| addr.ip().is_unspecified()) {
            anyhow::bail!(
                "region {region}: DNS on {wildcard}: list each address explicitly: a wildcard UDP socket can reply from the wrong address"
            );
        }
        let mut dns = Vec::with_capacity(plan.dns.len());
        for addr in &plan.dns {
            dns.push(
                dns::bind(*addr, plan.udp_sockets)
                    .with_context(|| format!("region {region}: cannot bind DNS on {addr}"))?,
            );
        }
        let tcp = |what: &str, addr: Option<SocketAddr>| -> anyhow::Result<Option<TcpListener>> {
            addr.map(|addr| {
                let listener = TcpListener::bind(addr)
                    .with_context(|| format!("region {region}: cannot bind {what} on {addr}"))?;
                listener.set_nonblocking(true)?;
                Ok(listener)
            })
            .transpose()
        };
        let http = match plan.http {
            Some(addr) => crate::net::bind_shared(addr, plan.http_workers.max(1))
                .with_context(|| format!("region {region}: cannot bind HTTP on {addr}"))?,
            None => Vec::new(),
        };
        Ok(Self {
            http,
            status: tcp("the status listener", plan.status)?,
            dns,
        })
    }

    pub fn dns_addrs(&self) -> Vec<SocketAddr> {
        self.dns
            .iter()
            .filter_map(|sockets| sockets.local_addr().ok())
            .collect()
    }

    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.http.first().and_then(|l| l.local_addr().ok())
    }

    pub fn status_addr(&self) -> Option<SocketAddr> {
        self.status.as_ref().and_then(|l| l.local_addr().ok())
    }
}

/// What a node may be given besides its sockets; [`Default`] is what `meridian run` uses.
#[derive(Debug, Default)]
pub struct NodeOptions {
    /// A token for admin actions when the config has none (the demo makes one up).
    pub fallback_token: Option<crate::config::AdminToken>,
    /// Routes merged into the status router (the demo's chaos controls).
    pub status_routes: Option<axum::Router>,
    /// Where the other regions' nodes really listen, when not where the config says.
    pub peers: PeerAddresses,
    /// Whether the node probes the regions and publishes verdicts.
    pub probing: Probing,
    /// Where the operator state file goes, instead of `[health] state_dir` (`--state-dir`).
    pub state_dir: Option<std::path::PathBuf>,
}

/// Whether a node's health monitor probes. Always on in a real node; tests of the answer path
/// that publish verdicts themselves turn it off, so no probe of an address the test never
/// bound overrides them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Probing {
    #[default]
    On,
    Off,
}

/// One region's running node: its DNS, HTTP and status servers and its config watcher.
#[derive(Debug)]
pub struct RegionNode {
    region: String,
    reloader: Arc<Reloader>,
    shutdown: CancellationToken,
    tracker: TaskTracker,
    failure: Arc<OnceLock<String>>,
    monitor: Arc<Monitor>,
}

impl RegionNode {
    /// Serves `sockets` from the view that `reloader` publishes, until `shutdown` is
    /// cancelled or a server fails. Fails, with nothing started, when the operator state file
    /// cannot be read.
    pub fn start(
        identity: NodeIdentity,
        reloader: Arc<Reloader>,
        sockets: RegionSockets,
        shutdown: CancellationToken,
        options: NodeOptions,
    ) -> anyhow::Result<Self> {
        let NodeOptions {
            fallback_token,
            status_routes,
            peers,
            probing,
            state_dir,
        } = options;
        // Before any handle is registered (the proxy's, the monitor's): see `telemetry`.
        crate::telemetry::install();
        let mut health = reloader.view().load().config.health.clone();
        if let Some(dir) = state_dir {
            health.state_dir = dir;
        }
        let monitor = Arc::new(
            Monitor::new(&identity.region, &health)
                .with_context(|| format!("region {}: cannot start", identity.region))?,
        );
        // Read now, before anything is spawned: a drain is in force from the first request.
        let drains = (!sockets.http.is_empty())
            .then(|| BackendDrains::open(health.backend_drain_file(&identity.region)))
            .transpose()
            .with_context(|| format!("region {}: cannot start", identity.region))?;
        let node = Self {
            region: identity.region.clone(),
            reloader,
            shutdown,
            tracker: TaskTracker::new(),
            failure: Arc::new(OnceLock::new()),
            monitor: monitor.clone(),
        };
        // Before the first query: a drain read back from the state file applies from the
        // first answer on.
        monitor.publish_initial(node.view());
        // Probes leave from the node's own address, so network rules can tell nodes apart.
        let source = sockets
            .status_addr()
            .map(|addr| addr.ip())
            .filter(|ip| !ip.is_unspecified());
        let handler = DnsHandler::new(node.view().clone());
        // One table of rate buckets for all the node's UDP sockets, kept across reloads.
        let limiter = Arc::new(ResponseLimiter::new(node.view().clone()));
        for sockets in sockets.dns {
            let addr = sockets
                .local_addr()
                .map_or("?".to_string(), |a| a.to_string());
            for socket in sockets.udp {
                let (handler, limiter, shutdown) =
                    (handler.clone(), limiter.clone(), node.shutdown.clone());
                node.supervise_blocking(format!("DNS over UDP on {addr}"), move || {
                    dns::serve_udp(socket, handler, limiter, shutdown)
                });
            }
            node.supervise(
                format!("DNS over TCP on {addr}"),
                dns::serve_tcp(sockets.tcp, handler.clone(), node.shutdown.clone()),
            );
        }
        let local_health: SharedLocalHealth =
            Arc::new(ArcSwap::from_pointee(LocalHealth::unknown()));
        let mut backend_control: Option<SharedBackendControl> = None;
        if let Some(drains) = drains {
            let proxy = Proxy::new(
                &node.region,
                node.view().clone(),
                local_health.clone(),
                peers.clone(),
                drains,
            );
            backend_control = Some(proxy.clone());
            if let Some(writer) = proxy.take_access_log_writer() {
                let (reloader, shutdown) = (node.reloader.clone(), node.shutdown.clone());
                // Every reload, applied or not, reopens the access log file (log rotation).
                let reloads = move || {
                    let stats = &reloader.stats;
                    [&stats.applied, &stats.unchanged, &stats.failed]
                        .iter()
                        .map(|count| count.load(std::sync::atomic::Ordering::Relaxed))
                        .sum::<u64>()
                };
                node.supervise_blocking("the access log writer".to_string(), move || {
                    writer.run(reloads, shutdown)
                });
            }
            let (checked, stop_checks) = (proxy.clone(), node.shutdown.clone());
            node.supervise("the backend health checks".to_string(), async move {
                proxy::run_checks(checked, stop_checks).await;
                Ok(())
            });
            for (index, listener) in sockets.http.into_iter().enumerate() {
                let (proxy, shutdown) = (proxy.clone(), node.shutdown.clone());
                node.supervise_blocking(format!("HTTP proxy worker {index}"), move || {
                    proxy::run_worker(index, listener, proxy, shutdown)
                });
            }
        }
        node.supervise(
            "the metrics upkeep".to_string(),
            crate::telemetry::upkeep(node.shutdown.clone()),
        );
        if probing == Probing::On {
            node.supervise(
                "the health monitor".to_string(),
                health::monitor::run(
                    monitor.clone(),
                    node.view().clone(),
                    peers,
                    source,
                    node.shutdown.clone(),
                ),
            );
        }
        if let Some(listener) = sockets.status {
            let state = Arc::new(StatusState {
                identity,
                reloader: node.reloader.clone(),
                fallback_token,
                local_health,
                monitor,
                shutdown: node.shutdown.clone(),
                backends: backend_control,
            });
            let shutdown = node.shutdown.clone();
            node.supervise("the status listener".to_string(), async move {
                let listener = tokio::net::TcpListener::from_std(listener)?;
                // The same accept loop as every TCP listener: caps, back-off, drain.
                crate::net::serve_http(
                    listener,
                    crate::net::Limits::default(),
                    shutdown,
                    match status_routes {
                        Some(routes) => dashboard::router(state).merge(routes),
                        None => dashboard::router(state),
                    },
                )
                .await
            });
        }
        node.tracker
            .spawn(node.reloader.clone().watch(node.shutdown.clone()));
        Ok(node)
    }

    pub fn region(&self) -> &str {
        &self.region
    }

    pub fn view(&self) -> &SharedView {
        self.reloader.view()
    }

    pub fn reloader(&self) -> &Arc<Reloader> {
        &self.reloader
    }

    /// Runs `server` as one of this node's tasks: if it ends with an error, or at all before
    /// shutdown, the node records why and stops.
    pub fn supervise<F>(&self, what: String, server: F)
    where
        F: Future<Output = std::io::Result<()>> + Send + 'static,
    {
        let (shutdown, failure) = (self.shutdown.clone(), self.failure.clone());
        self.tracker.spawn(async move {
            let result = server.await;
            fail_unless_stopping(&what, result, &shutdown, &failure);
        });
    }

    /// [`Self::supervise`] for a blocking server on a thread of its own.
    fn supervise_blocking<F>(&self, what: String, server: F)
    where
        F: FnOnce() -> std::io::Result<()> + Send + 'static,
    {
        let (shutdown, failure) = (self.shutdown.clone(), self.failure.clone());
        self.tracker.spawn_blocking(move || {
            let result = server();
            fail_unless_stopping(&what, result, &shutdown, &failure);
        });
    }

    /// Resolves when the node stops: `Some(reason)` when a server failed, `None` when it was
    /// asked to stop.
    pub async fn stopped(&self) -> Option<String> {
        self.shutdown.cancelled().await;
        self.failure.get().cloned()
    }

    /// [`Self::stopped`] as a future that does not borrow the node.
    pub fn watch(&self) -> impl Future<Output = Option<String>> + Send + 'static {
        let (shutdown, failure) = (self.shutdown.clone(), self.failure.clone());
        async move {
            shutdown.cancelled().await;
            failure.get().cloned()
        }
    }

    /// The node's health monitor: votes, verdicts, operator state.
    pub fn monitor(&self) -> &Arc<Monitor> {
        &self.monitor
    }

    /// Stops every task; false if some did not finish within `grace`.
    pub async fn stop(self, grace: Duration) -> bool {
        self.shutdown.cancel();
        self.tracker.close();
        tokio::time::timeout(grace, self.tracker.wait())
            .await
            .is_ok()
    }
}

impl Drop for RegionNode {
    /// A node dropped without [`RegionNode::stop`] (a panic on the way) still tells its tasks
    /// to stop: its UDP loops run on blocking threads, which a runtime waits for forever.
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

fn fail_unless_stopping(
    what: &str,
    result: std::io::Result<()>,
    shutdown: &CancellationToken,
    failure: &OnceLock<String>,
) {
    if shutdown.is_cancelled() {
        return;
    }
    let reason = match result {
        Ok(()) => format!("{what} stopped unexpectedly"),
        Err(error) => format!("{what} failed: {error}"),
    };
    tracing::error!(reason, "a server failed; stopping the node");
    let _ = failure.set(reason);
    shutdown.cancel();
}

/// Serves `nodes` until SIGINT/SIGTERM (Ok) or until one of them fails (Err with the
/// reason); SIGHUP reloads every node's config.
pub async fn serve_until_stopped(nodes: Vec<RegionNode>) -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hangup = signal(SignalKind::hangup()).context("cannot listen for SIGHUP")?;
    let mut terminate = signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?;
    let failure = {
        let stopped: Vec<_> = nodes.iter().map(|node| Box::pin(node.stopped())).collect();
        let first_stop = first_of(stopped);
        tokio::pin!(first_stop);
        loop {
            tokio::select! {
                _ = hangup.recv() => {
                    for node in &nodes {
                        let _ = node.reloader().reload_logged("SIGHUP").await;
                    }
                }
                _ = tokio::signal::ctrl_c() => break None,
                _ = terminate.recv() => break None,
                reason = &mut first_stop => {
                    break Some(reason.unwrap_or_else(|| "a node stopped".to_string()))
                }
            }
        }
    };
    tracing::info!("shutting down");
    for node in nodes {
        if !node.stop(SHUTDOWN_GRACE).await {
            tracing::warn!("some tasks did not stop within {SHUTDOWN_GRACE:?}");
        }
    }
    match failure {
        Some(reason) => Err(anyhow::anyhow!(reason)),
        None => Ok(()),
    }
}

/// The first of several futures to finish.
async fn first_of<F: Future + Unpin>(futures: Vec<F>) -> F::Output {
    let mut futures = futures;
    std::future::poll_fn(move |cx| {
        for future in &mut futures {
            if let std::task::Poll::Ready(output) = std::pin::Pin::new(future).poll(cx) {
                return std::task::Poll::Ready(output);
            }
        }
        std::task::Poll::Pending
    })
    .await
}

/// UDP sockets per address when not configured: one per CPU.
pub fn default_udp_sockets() -> usize {
    std::thread::available_parallelism().map_or(2, usize::from)
}

/// This host's name, for node identities.
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|name| name.trim().to_string())
        .ok()
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "node".to_string())
}

/// `meridian run`: one region's node until SIGINT/SIGTERM, reloading on SIGHUP.
pub async fn run(config_path: &std::path::Path, args: &RunArgs) -> anyhow::Result<()> {
    let source = Source {
        config: config_path.to_path_buf(),
        geo_override: args.geo_db.clone(),
    };
    let view = source.load_view()?;
    let region = view.config.region_by_name(&args.region).with_context(|| {
        format!(
            "--region {}: no such region (known: {})",
            args.region,
            view.config.known_regions()
        )
    })?;
    let plan = ListenPlan {
        dns: if args.dns_listen.is_empty() {
            region.listen.dns.clone()
        } else {
            args.dns_listen.clone()
        },
        http: args.http_listen.or(region.listen.http),
        status: args.status_listen.or(region.listen.status),
        udp_sockets: args.udp_sockets.unwrap_or_else(default_udp_sockets),
        http_workers: args.http_workers.unwrap_or_else(default_udp_sockets),
    };
    let pinned = ListenFromConfig {
        dns: args.dns_listen.is_empty(),
        http: args.http_listen.is_none(),
        status: args.status_listen.is_none(),
    };
    if let Some(status) = args.status_listen
        && !status.ip().is_loopback()
        && view.config.admin_token.is_none()
    {
        anyhow::bail!(
            "--status-listen {status}: a status listener off loopback needs an admin token ([admin] token in meridian.toml or {})",
            crate::config::ADMIN_TOKEN_ENV
        );
    }
    let sockets = RegionSockets::bind(&region.name, &plan)?;
    let identity = NodeIdentity {
        region: region.name.clone(),
        node: args.node_name.clone().unwrap_or_else(host_name),
        version: env!("CARGO_PKG_VERSION"),
        started: Instant::now(),
    };
    log_start(&identity, &view, &sockets);
    let reloader = Arc::new(Reloader::new(
        source,
        view.shared(),
        Some(identity.region.clone()),
        pinned,
    ));
    let node = RegionNode::start(
        identity,
        reloader,
        sockets,
        CancellationToken::new(),
        NodeOptions {
            state_dir: args.state_dir.clone(),
            ..NodeOptions::default()
        },
    )?;
    serve_until_stopped(vec![node]).await
}

/// The one line that says what a node is and where it listens.
pub fn log_start(identity: &NodeIdentity, view: &crate::view::View, sockets: &RegionSockets) {
    tracing::info!(
        version = identity.version,
        region = %identity.region,
        node = %identity.node,
        config = %view.config.file.display(),
        config_hash = %view.config.short_hash(),
        geo_database = %view.geo.path().display(),
        geo_type = view.geo.database_type(),
        steering_map_nodes = view.steering.size().0,
        dns = ?sockets.dns_addrs(),
        http = ?sockets.http_addr(),
        status = ?sockets.status_addr(),
        "node starting"
    );
    for warning in &view.config.warnings {
        tracing::warn!(region = %identity.region, "config: {warning}");
    }
}
