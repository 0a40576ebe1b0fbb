//! A node: loads the snapshots, binds its sockets, spawns its tasks and owns shutdown.
//!
//! Only this module spawns long-lived tasks, all tracked by one [`TaskTracker`] and stopped
//! by one [`CancellationToken`]. Every socket is bound before anything is spawned, so a bind
//! error leaves nothing half-started.

use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use arc_swap::ArcSwap;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::cli::RunArgs;
use crate::config::Config;
use crate::dns::{self, DnsHandler, DnsSockets};
use crate::geo::{self, GeoDb, SharedGeoDb};
use crate::health::{HealthSnapshot, SharedHealth};
use crate::region::Region;

/// How long tasks get to finish after shutdown is requested.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// The snapshots every component of a process reads.
#[derive(Debug, Clone)]
pub struct Snapshots {
    pub config: Arc<Config>,
    pub geo: SharedGeoDb,
    pub health: SharedHealth,
}

impl Snapshots {
    /// Loads and validates the config and the geo database: nothing is bound yet.
    pub fn load(config_path: &Path, geo_override: Option<&Path>) -> anyhow::Result<Self> {
        let mut config = Config::load(config_path)?;
        if let Some(path) = geo_override {
            config.geo.database = path.to_path_buf();
        }
        let db = GeoDb::open(&config.geo.database)?;
        Ok(Self::new(Arc::new(config), db))
    }

    /// Snapshots from an already validated config and database; all regions healthy.
    pub fn new(config: Arc<Config>, db: GeoDb) -> Self {
        let health = HealthSnapshot::all_up(config.regions.len());
        Self {
            config,
            geo: Arc::new(ArcSwap::from_pointee(db)),
            health: Arc::new(ArcSwap::from_pointee(health)),
        }
    }
}

/// Sockets of one region's node, bound and not yet served.
#[derive(Debug)]
pub struct RegionSockets {
    pub region: String,
    pub dns: Vec<DnsSockets>,
    pub http: Option<tokio::net::TcpListener>,
}

impl RegionSockets {
    /// Binds DNS on `dns` (UDP reuseport sockets + TCP each) and HTTP on `http`.
    pub async fn bind(
        region: &Region,
        dns: &[SocketAddr],
        http: Option<SocketAddr>,
        udp_sockets: usize,
    ) -> anyhow::Result<Self> {
        let mut bound = Vec::with_capacity(dns.len());
        for addr in dns {
            bound.push(
                dns::bind(*addr, udp_sockets).with_context(|| {
                    format!("region {}: cannot bind DNS on {addr}", region.name)
                })?,
            );
        }
        let http = match http {
            Some(addr) => {
                Some(tokio::net::TcpListener::bind(addr).await.with_context(|| {
                    format!("region {}: cannot bind HTTP on {addr}", region.name)
                })?)
            }
            None => None,
        };
        Ok(Self {
            region: region.name.clone(),
            dns: bound,
            http,
        })
    }

    pub fn dns_addrs(&self) -> Vec<SocketAddr> {
        self.dns
            .iter()
            .filter_map(|sockets| sockets.local_addr().ok())
            .collect()
    }
}

/// The tasks of a process and their shutdown.
#[derive(Debug, Default)]
pub struct Node {
    shutdown: CancellationToken,
    tracker: TaskTracker,
}

impl Node {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Serves bound sockets with `handler`: a thread per UDP socket, a task per TCP listener.
    pub fn serve_dns(&self, sockets: Vec<DnsSockets>, handler: &DnsHandler) {
        for DnsSockets { udp, tcp } in sockets {
            for socket in udp {
                let (handler, shutdown) = (handler.clone(), self.shutdown.clone());
                self.tracker.spawn_blocking(move || {
                    if let Err(error) = dns::serve_udp(socket, handler, shutdown) {
                        tracing::error!(%error, "udp server stopped");
                    }
                });
            }
            let (handler, shutdown) = (handler.clone(), self.shutdown.clone());
            self.tracker.spawn(async move {
                if let Err(error) = dns::serve_tcp(tcp, handler, shutdown).await {
                    tracing::error!(%error, "tcp server stopped");
                }
            });
        }
    }

    /// Serves one region: DNS with a handler over `snapshots`, and its HTTP front.
    pub fn serve_region(&self, sockets: RegionSockets, snapshots: &Snapshots) {
        let handler = DnsHandler::new(
            snapshots.config.clone(),
            snapshots.geo.clone(),
            snapshots.health.clone(),
        );
        self.serve_dns(sockets.dns, &handler);
        if let Some(listener) = sockets.http {
            self.tracker.spawn(crate::proxy::serve_placeholder(
                listener,
                sockets.region,
                self.shutdown.clone(),
            ));
        }
    }

    /// Reloads the geo database when its file is replaced.
    pub fn watch_geo(&self, snapshots: &Snapshots) {
        self.tracker.spawn(geo::watch(
            snapshots.geo.clone(),
            snapshots.config.geo.reload_check,
            self.shutdown.clone(),
        ));
    }

    /// Stops every task; returns false if some did not finish within `grace`.
    pub async fn shutdown(self, grace: Duration) -> bool {
        self.shutdown.cancel();
        self.tracker.close();
        tokio::time::timeout(grace, self.tracker.wait())
            .await
            .is_ok()
    }
}

/// UDP sockets per address when not configured: one per CPU.
pub fn default_udp_sockets() -> usize {
    std::thread::available_parallelism().map_or(2, usize::from)
}

/// `meridian run`: one region's node until SIGINT/SIGTERM.
pub async fn run(config_path: &Path, args: &RunArgs) -> anyhow::Result<()> {
    let snapshots = Snapshots::load(config_path, args.geo_db.as_deref())?;
    let region = snapshots
        .config
        .region_by_name(&args.region)
        .with_context(|| {
            let known: Vec<&str> = snapshots
                .config
                .regions
                .iter()
                .map(|r| r.name.as_str())
                .collect();
            format!(
                "--region {}: no such region (known: {})",
                args.region,
                known.join(", ")
            )
        })?;
    let dns = if args.dns_listen.is_empty() {
        region.listen.dns.clone()
    } else {
        args.dns_listen.clone()
    };
    if let Some(wildcard) = dns.iter().find(|addr| addr.ip().is_unspecified()) {
        anyhow::bail!(
            "--dns-listen {wildcard}: list each address explicitly: a wildcard UDP socket can reply from the wrong address"
        );
    }
    let http = args.http_listen.or(region.listen.http);
    let udp = args.udp_sockets.unwrap_or_else(default_udp_sockets);
    let sockets = RegionSockets::bind(region, &dns, http, udp).await?;
    tracing::info!(region = %region.name, dns = ?sockets.dns_addrs(), ?http, "serving");
    let node = Node::new();
    node.serve_region(sockets, &snapshots);
    node.watch_geo(&snapshots);
    wait_for_signal().await;
    tracing::info!("shutting down");
    if !node.shutdown(SHUTDOWN_GRACE).await {
        tracing::warn!("some tasks did not stop within {SHUTDOWN_GRACE:?}");
    }
    Ok(())
}

/// Waits for Ctrl-C or SIGTERM.
pub async fn wait_for_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate => {}
    }
}

/// `meridian check-config`: validates everything a node would load, serves nothing.
pub fn check_config(path: &Path) -> anyhow::Result<()> {
    let config = Config::load(path)?;
    let db = GeoDb::open(&config.geo.database)?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}: OK", path.display())?;
    writeln!(
        out,
        "  zone {} ({} name servers, {} static records)",
        config.zone.apex,
        config.zone.name_servers.len(),
        config.zone.records.len()
    )?;
    let services: Vec<String> = config.services.iter().map(|s| s.name.to_string()).collect();
    writeln!(out, "  steered names: {}", services.join(", "))?;
    let regions: Vec<&str> = config.regions.iter().map(|r| r.name.as_str()).collect();
    writeln!(out, "  regions: {}", regions.join(", "))?;
    writeln!(
        out,
        "  geo database: {} ({})",
        db.path().display(),
        db.database_type()
    )?;
    Ok(())
}
