//! A proxy for a region of the test config (`us-east` unless said otherwise), in front of
//! test backends, with its settings given in code and republished as a new view for
//! reloads.

use std::sync::Arc;
use std::time::{Duration, Instant};

use meridian::config::Config;
use meridian::geo::GeoDb;
use meridian::health::{BackendDrains, HealthSnapshot, LocalHealth, SharedLocalHealth};
use meridian::proxy::{self, Proxy};
use meridian::region::PeerAddresses;
use meridian::region::proxy::{Backend as BackendConfig, ProxySettings};
use meridian::view::{SharedView, View};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::backends::Backend;
use crate::support::test_config;

pub(crate) const REGION: &str = "us-east";

/// Settings for `backends` (weight 1 each), checks fast enough for tests.
pub(crate) fn settings(backends: &[Arc<Backend>]) -> ProxySettings {
    let mut settings = ProxySettings {
        backends: backends
            .iter()
            .map(|b| BackendConfig {
                id: b.id.clone(),
                address: b.addr,
                weight: 1,
            })
            .collect(),
        ..ProxySettings::default()
    };
    settings.health.interval = Duration::from_millis(200);
    settings.health.fast_interval = Duration::from_millis(100);
    settings.health.timeout = Duration::from_millis(300);
    settings.timeouts.connect = Duration::from_millis(300);
    settings
}

pub(crate) struct Harness {
    pub(crate) addr: std::net::SocketAddr,
    pub(crate) view: SharedView,
    pub(crate) local_health: SharedLocalHealth,
    pub(crate) client: reqwest::Client,
    /// The proxy itself, for its control handle (backend drains).
    pub(crate) proxy: Arc<Proxy>,
    /// Holds the backend drain file.
    pub(crate) state_dir: tempfile::TempDir,
    shutdown: CancellationToken,
    config: Config,
    region: String,
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

impl Harness {
    pub(crate) async fn start(settings: ProxySettings) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        Self::start_region(REGION, settings, listener, PeerAddresses::default())
    }

    /// The proxy of `region` on `listener`, reaching the other regions' proxies at `peers`
    /// (the test config gives them no HTTP address).
    pub(crate) fn start_region(
        region: &str,
        settings: ProxySettings,
        listener: TcpListener,
        peers: PeerAddresses,
    ) -> Self {
        let mut config = test_config();
        let geo = Arc::new(GeoDb::open(&config.geo.database).unwrap());
        set_region(&mut config, region, settings);
        let view = View::new(
            Arc::new(config.clone()),
            geo,
            Arc::new(HealthSnapshot::empty()),
        )
        .unwrap_or_else(|e| panic!("{e}"))
        .shared();
        let local_health: SharedLocalHealth =
            Arc::new(arc_swap::ArcSwap::from_pointee(LocalHealth::unknown()));
        let state_dir = tempfile::tempdir().unwrap();
        let drains =
            BackendDrains::open(state_dir.path().join(format!("backends-{region}.json"))).unwrap();
        let proxy = Proxy::new(region, view.clone(), local_health.clone(), peers, drains);
        let addr = listener.local_addr().unwrap();
        let shutdown = CancellationToken::new();
        tokio::spawn(proxy::serve(listener, proxy.clone(), shutdown.clone()));
        tokio::spawn(proxy::run_checks(proxy.clone(), shutdown.clone()));
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        Self {
            addr,
            view,
            local_health,
            client,
            proxy,
            state_dir,
            shutdown,
            config,
            region: region.to_string(),
        }
    }

    /// Publishes a view whose region has `settings`, as a reload would.
    pub(crate) fn reload(&mut self, settings: ProxySettings) {
        set_region(&mut self.config, &self.region, settings);
        let config = Arc::new(self.config.clone());
        self.view.rcu(|current| {
            View::new(
                config.clone(),
                current.geo.clone(),
                current.health_snapshot.clone(),
            )
            .unwrap_or_else(|e| panic!("{e}"))
        });
    }

    /// Publishes `health` as the regions' verdicts, as the health monitor would.
    pub(crate) fn publish_health(&self, health: HealthSnapshot) {
        View::publish_health(&self.view, Arc::new(health));
    }

    /// Begins the proxy's shutdown, as the node does on SIGTERM.
    pub(crate) fn begin_shutdown(&self) {
        self.shutdown.cancel();
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// GET `path`: (status, body).
    pub(crate) async fn get(&self, path: &str) -> (u16, String) {
        let response = self.client.get(self.url(path)).send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.text().await.unwrap())
    }

    /// Waits (bounded) until the published region health satisfies `ready`.
    pub(crate) async fn wait_health(&self, what: &str, ready: impl Fn(&LocalHealth) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while !ready(&self.local_health.load()) {
            assert!(
                Instant::now() < deadline,
                "{what}: health still {:?}",
                self.local_health.load()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn set_region(config: &mut Config, name: &str, settings: ProxySettings) {
    let region = config.regions.iter_mut().find(|r| r.name == name).unwrap();
    region.proxy = settings;
}

/// Which backend answered: the `backend=<id>` body.
pub(crate) fn backend_of(body: &str) -> &str {
    body.trim().strip_prefix("backend=").unwrap_or(body.trim())
}
