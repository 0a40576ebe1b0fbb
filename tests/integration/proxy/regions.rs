//! Several regions' proxies in one process, each in front of its own test backends and
//! reaching the others where they are bound (the test config gives no HTTP addresses).

use std::sync::Arc;

use meridian::health::{HealthSnapshot, LocalHealth, RegionHealth};
use meridian::region::PeerAddresses;
use meridian::region::proxy::ProxySettings;
use tokio::net::TcpListener;

use super::backends::Backend;
use super::harness::{Harness, backend_of, settings};

/// One region's proxy and its backends.
pub(crate) struct Region {
    pub(crate) proxy: Harness,
    pub(crate) backends: Vec<Arc<Backend>>,
}

impl Region {
    /// Stops every backend and waits until the proxy has them all down: from then on it
    /// has nothing to pick.
    pub(crate) async fn stop_backends(&self) {
        for backend in &self.backends {
            backend.stop();
        }
        let total = self.backends.len();
        self.proxy
            .wait_health("every backend down", |health: &LocalHealth| {
                health.total_backends == total && health.healthy_backends == 0
            })
            .await;
    }

    /// Requests its backends received.
    pub(crate) fn received(&self) -> u64 {
        self.backends.iter().map(|b| b.received()).sum()
    }
}

/// Listeners on 127.0.0.1 for the regions `names`, and the peer addresses naming them.
pub(crate) async fn bind(names: &[&str]) -> (Vec<TcpListener>, PeerAddresses) {
    let mut peers = PeerAddresses::default();
    let mut listeners = Vec::new();
    for name in names {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        peers
            .http
            .insert(name.to_string(), listener.local_addr().unwrap());
        listeners.push(listener);
    }
    (listeners, peers)
}

/// Region `name` with backends `<prefix>0..<count>`, its settings changed by `change`.
pub(crate) async fn start(
    name: &str,
    listener: TcpListener,
    peers: &PeerAddresses,
    prefix: &str,
    count: usize,
    change: impl FnOnce(&mut ProxySettings),
) -> Region {
    let mut backends = Vec::new();
    for index in 0..count {
        backends.push(Backend::start(&format!("{prefix}{index}")).await);
    }
    let mut settings = settings(&backends);
    change(&mut settings);
    Region {
        proxy: Harness::start_region(name, settings, listener, peers.clone()),
        backends,
    }
}

/// The regions us-east (backends `e*`), us-west (`w*`, the nearest to us-east) and eu-west
/// (`u*`, the next), two backends each, all reaching each other.
pub(crate) async fn three() -> [Region; 3] {
    let (listeners, peers) = bind(&["us-east", "us-west", "eu-west"]).await;
    let [east, west, europe] = <[TcpListener; 3]>::try_from(listeners).ok().unwrap();
    [
        start("us-east", east, &peers, "e", 2, |_| {}).await,
        start("us-west", west, &peers, "w", 2, |_| {}).await,
        start("eu-west", europe, &peers, "u", 2, |_| {}).await,
    ]
}

/// A published health in which `region` is down.
pub(crate) fn down(region: &str) -> HealthSnapshot {
    HealthSnapshot::empty().with(
        region,
        RegionHealth {
            up: false,
            reason: "test: marked down".to_string(),
            transition: false,
        },
    )
}

/// GETs `/` from `region` `count` times: the first letter of each answering backend's id,
/// or the status when it was not 200.
pub(crate) async fn served_by(region: &Region, count: usize) -> Vec<String> {
    let mut answers = Vec::with_capacity(count);
    for _ in 0..count {
        let (status, body) = region.proxy.get("/").await;
        answers.push(if status == 200 {
            backend_of(&body).chars().take(1).collect()
        } else {
            status.to_string()
        });
    }
    answers
}
