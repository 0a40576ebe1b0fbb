//! A real `us-east` node (DNS, its HTTP proxy, a status listener) over a copy of the test
//! config whose `us-east` fronts test backends: for what needs the whole node (the admin
//! API, the node's state dir, restarts, the access log writer).

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use meridian::dashboard::NodeIdentity;
use meridian::node::{ListenPlan, NodeOptions, Probing, RegionNode, RegionSockets};
use meridian::reload::{ListenFromConfig, Reloader};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::backends::Backend;
use super::harness::backend_of;
use crate::live::ConfigDir;

pub(crate) const TOKEN: &str = "backend-drain-test-token";

/// A `us-east` node with DNS, its HTTP proxy in front of `backends` and a status listener,
/// keeping its state in `state_dir`.
pub(crate) struct ProxyNode {
    node: RegionNode,
    pub(crate) http: SocketAddr,
    pub(crate) status: SocketAddr,
    pub(crate) reloader: Arc<Reloader>,
}

impl ProxyNode {
    pub(crate) fn start(config: &ConfigDir, state_dir: PathBuf) -> Self {
        let localhost: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let plan = ListenPlan {
            dns: vec![localhost],
            http: Some(localhost),
            status: Some(localhost),
            udp_sockets: 1,
            http_workers: 2,
        };
        let sockets = RegionSockets::bind("us-east", &plan).unwrap();
        let (http, status) = (sockets.http_addr().unwrap(), sockets.status_addr().unwrap());
        let source = config.source();
        let view = source.load_view().unwrap_or_else(|e| panic!("{e:#}"));
        let reloader = Arc::new(Reloader::new(
            source,
            view.shared(),
            Some("us-east".to_string()),
            ListenFromConfig::default(),
        ));
        let identity = NodeIdentity {
            region: "us-east".to_string(),
            node: "drain-test".to_string(),
            version: "test",
            started: Instant::now(),
        };
        let node = RegionNode::start(
            identity,
            reloader.clone(),
            sockets,
            CancellationToken::new(),
            NodeOptions {
                fallback_token: Some(meridian::config::AdminToken::generated(TOKEN.to_string())),
                probing: Probing::Off,
                state_dir: Some(state_dir),
                ..NodeOptions::default()
            },
        )
        .unwrap_or_else(|e| panic!("{e:#}"));
        Self {
            node,
            http,
            status,
            reloader,
        }
    }

    pub(crate) async fn admin(&self, path: &str) -> (u16, Value) {
        let response = client()
            .post(format!("http://{}{path}", self.status))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let body = response.bytes().await.unwrap();
        (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
    }

    pub(crate) async fn backend_states(&self) -> Vec<(String, String)> {
        let body = client()
            .get(format!("http://{}/healthz", self.status))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        let body: Value = serde_json::from_slice(&body).unwrap();
        body["backends"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| {
                (
                    b["id"].as_str().unwrap().to_string(),
                    b["state"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    }

    /// The backends that answered `count` GETs through the proxy.
    pub(crate) async fn answered(&self, count: usize) -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        for _ in 0..count {
            let response = client()
                .get(format!("http://{}/", self.http))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status().as_u16(), 200);
            seen.insert(backend_of(&response.text().await.unwrap()).to_string());
        }
        seen
    }

    pub(crate) async fn stop(self) {
        assert!(self.node.stop(Duration::from_secs(5)).await);
    }
}

pub(crate) fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// Gives the test config's `us-east` a `[proxy]` in front of `backends`, weights `weights`,
/// with `keys` added to `[proxy]` itself.
pub(crate) fn write_proxy(
    config: &ConfigDir,
    backends: &[Arc<Backend>],
    weights: &[u32],
    keys: &str,
) {
    let file = config.dir.path().join("regions/us-east.toml");
    let text = std::fs::read_to_string(&file).unwrap();
    let text = text.split("\n[proxy]").next().unwrap().to_string();
    let mut text = format!("{text}\n[proxy]\npolicy = \"round-robin\"\n{keys}\n");
    for (backend, weight) in backends.iter().zip(weights) {
        text.push_str(&format!(
            "\n[[proxy.backend]]\nid = \"{}\"\naddress = \"{}\"\nweight = {weight}\n",
            backend.id, backend.addr
        ));
    }
    text.push_str("\n[proxy.health]\ninterval_ms = 200\nfast_interval_ms = 100\n");
    std::fs::write(&file, text).unwrap();
}
