//! The demo's regions as nodes that can be failed and recovered whole, and the chaos controls
//! that do it: `POST /demo/regions/{region}/fail|recover` stops a region's node entirely (DNS,
//! proxy and status listeners) or brings it back on the same addresses, and
//! `POST /demo/probes/{from}/{to}/cut|heal` makes one node's probes of one region fail as a
//! network partition would. Every status listener serves them, so a failed region can be
//! recovered through another.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Instant;

use anyhow::Context;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::AdminToken;
use crate::dashboard::NodeIdentity;
use crate::node::{ListenPlan, NodeOptions, RegionNode, RegionSockets, SHUTDOWN_GRACE};
use crate::region::PeerAddresses;
use crate::reload::{ListenFromConfig, Reloader, Source};

/// One region's node, and what it takes to start it again.
#[derive(Debug)]
struct Slot {
    plan: ListenPlan,
    identity: NodeIdentity,
    node: Option<RegionNode>,
}

/// Every region of the demo.
#[derive(Debug)]
pub struct DemoRegions {
    source: Source,
    peers: PeerAddresses,
    fallback_token: Option<AdminToken>,
    /// The backends' chaos routes, merged into every status router.
    backend_routes: Router,
    slots: tokio::sync::Mutex<BTreeMap<String, Slot>>,
    /// (from, to): probes from `from`'s node to `to` fail. Kept here so that a recovered
    /// node is cut as its predecessor was.
    cuts: Mutex<BTreeSet<(String, String)>>,
    /// A node that fails on its own (not through the chaos control) ends the demo.
    failures: mpsc::UnboundedSender<String>,
    watchers: TaskTracker,
    me: Weak<DemoRegions>,
}

impl DemoRegions {
    /// Starts a node per region on the sockets bound for it (`bound`, in region order).
    /// Returns the regions and the channel on which a node's own failure arrives.
    pub fn start(
        source: Source,
        peers: PeerAddresses,
        fallback_token: Option<AdminToken>,
        backend_routes: Router,
        bound: Vec<(ListenPlan, NodeIdentity, RegionSockets)>,
    ) -> anyhow::Result<(Arc<Self>, mpsc::UnboundedReceiver<String>)> {
        let (failures, failed) = mpsc::unbounded_channel();
        let regions = Arc::new_cyclic(|me| Self {
            source,
            peers,
            fallback_token,
            backend_routes,
            slots: tokio::sync::Mutex::new(BTreeMap::new()),
            cuts: Mutex::new(BTreeSet::new()),
            failures,
            watchers: TaskTracker::new(),
            me: me.clone(),
        });
        let mut slots = BTreeMap::new();
        for (plan, identity, sockets) in bound {
            let node = regions.start_node(&identity, sockets)?;
            slots.insert(
                identity.region.clone(),
                Slot {
                    plan,
                    identity,
                    node: Some(node),
                },
            );
        }
        // Nobody else holds the lock yet.
        *regions
            .slots
            .try_lock()
            .context("the demo's regions are busy")? = slots;
        Ok((regions, failed))
    }

    fn start_node(
        &self,
        identity: &NodeIdentity,
        sockets: RegionSockets,
    ) -> anyhow::Result<RegionNode> {
        let view = self.source.load_view()?;
        let reloader = Arc::new(Reloader::new(
            self.source.clone(),
            view.shared(),
            Some(identity.region.clone()),
            // Ports come from the command line, addresses from the config: moving either
            // needs a restart.
            ListenFromConfig {
                dns: true,
                http: true,
                status: true,
            },
        ));
        let node = RegionNode::start(
            identity.clone(),
            reloader,
            sockets,
            CancellationToken::new(),
            NodeOptions {
                fallback_token: self.fallback_token.clone(),
                status_routes: Some(self.routes()),
                peers: self.peers.clone(),
                ..NodeOptions::default()
            },
        )?;
        for (from, to) in self
            .cuts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
        {
            if *from == identity.region {
                node.monitor().cut(to, true);
            }
        }
        let (watch, failures) = (node.watch(), self.failures.clone());
        self.watchers.spawn(async move {
            if let Some(reason) = watch.await {
                let _ = failures.send(reason);
            }
        });
        Ok(node)
    }

    /// The chaos routes (regions, probes and backends) every status listener serves.
    fn routes(&self) -> Router {
        Router::new()
            .route("/demo/regions", get(list))
            .route("/demo/regions/{region}/{action}", post(region_chaos))
            .route("/demo/probes/{from}/{to}/{action}", post(probe_chaos))
            .with_state(self.me.clone())
            .merge(self.backend_routes.clone())
    }

    /// Stops `region`'s node entirely. False when it was not running.
    pub async fn fail(&self, region: &str) -> anyhow::Result<bool> {
        let node = {
            let mut slots = self.slots.lock().await;
            let slot = slots
                .get_mut(region)
                .with_context(|| format!("no region {region:?}"))?;
            slot.node.take()
        };
        let Some(node) = node else {
            return Ok(false);
        };
        tracing::warn!(region, "demo: failing the region's node");
        if !node.stop(SHUTDOWN_GRACE).await {
            tracing::warn!(region, "some tasks did not stop within {SHUTDOWN_GRACE:?}");
        }
        Ok(true)
    }

    /// Starts `region`'s node again on its addresses. False when it was running.
    pub async fn recover(&self, region: &str) -> anyhow::Result<bool> {
        let mut slots = self.slots.lock().await;
        let slot = slots
            .get_mut(region)
            .with_context(|| format!("no region {region:?}"))?;
        if slot.node.is_some() {
            return Ok(false);
        }
        let sockets = RegionSockets::bind(region, &slot.plan)?;
        slot.identity.started = Instant::now();
        let node = self.start_node(&slot.identity, sockets)?;
        slot.node = Some(node);
        tracing::warn!(region, "demo: the region's node is back");
        Ok(true)
    }

    /// Makes `from`'s probes of `to` fail (`cut`) or work again.
    pub async fn cut(&self, from: &str, to: &str, cut: bool) -> anyhow::Result<()> {
        let slots = self.slots.lock().await;
        if !slots.contains_key(to) {
            anyhow::bail!("no region {to:?}");
        }
        let slot = slots
            .get(from)
            .with_context(|| format!("no region {from:?}"))?;
        {
            let mut cuts = self.cuts.lock().unwrap_or_else(PoisonError::into_inner);
            let pair = (from.to_string(), to.to_string());
            if cut {
                cuts.insert(pair);
            } else {
                cuts.remove(&pair);
            }
        }
        if let Some(node) = &slot.node {
            node.monitor().cut(to, cut);
        }
        tracing::warn!(from, to, cut, "demo: probe path");
        Ok(())
    }

    /// Reloads every running node's config (SIGHUP).
    pub async fn reload_all(&self, why: &'static str) {
        let slots = self.slots.lock().await;
        for node in slots.values().filter_map(|slot| slot.node.as_ref()) {
            let _ = node.reloader().reload_logged(why).await;
        }
    }

    /// Stops every node.
    pub async fn stop_all(&self) {
        let nodes: Vec<RegionNode> = {
            let mut slots = self.slots.lock().await;
            slots
                .values_mut()
                .filter_map(|slot| slot.node.take())
                .collect()
        };
        for node in nodes {
            if !node.stop(SHUTDOWN_GRACE).await {
                tracing::warn!("some tasks did not stop within {SHUTDOWN_GRACE:?}");
            }
        }
        self.watchers.close();
        self.watchers.wait().await;
    }
}

fn refused(status: StatusCode, message: String) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

/// `GET /demo/regions`: every demo region, whether its node runs, and the cut probe paths,
/// for the dashboard's chaos controls (which it shows only where this answers).
async fn list(State(regions): State<Weak<DemoRegions>>) -> Response {
    let Some(regions) = regions.upgrade() else {
        return refused(
            StatusCode::SERVICE_UNAVAILABLE,
            "the demo is stopping".to_string(),
        );
    };
    let list: Vec<_> = regions
        .slots
        .lock()
        .await
        .iter()
        .map(|(name, slot)| json!({ "name": name, "running": slot.node.is_some() }))
        .collect();
    let cuts: Vec<_> = regions
        .cuts
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .iter()
        .map(|(from, to)| json!({ "from": from, "to": to }))
        .collect();
    Json(json!({ "regions": list, "cuts": cuts })).into_response()
}

async fn region_chaos(
    State(regions): State<Weak<DemoRegions>>,
    Path((region, action)): Path<(String, String)>,
) -> Response {
    let Some(regions) = regions.upgrade() else {
        return refused(
            StatusCode::SERVICE_UNAVAILABLE,
            "the demo is stopping".to_string(),
        );
    };
    if !regions.slots.lock().await.contains_key(&region) {
        return refused(StatusCode::NOT_FOUND, format!("no region {region:?}"));
    }
    match action.as_str() {
        "fail" => {
            // Stopped in the background: the request may have come in through the very
            // listener being stopped, which waits for its requests to finish.
            let (name, watchers) = (region.clone(), regions.watchers.clone());
            watchers.spawn(async move {
                if let Err(error) = regions.fail(&name).await {
                    tracing::error!(region = name, "demo: cannot fail the region: {error:#}");
                }
            });
            (
                StatusCode::ACCEPTED,
                Json(json!({ "region": region, "state": "failing" })),
            )
                .into_response()
        }
        "recover" => match regions.recover(&region).await {
            Ok(started) => Json(json!({
                "region": region,
                "state": if started { "recovered" } else { "already running" },
            }))
            .into_response(),
            Err(error) => refused(
                StatusCode::CONFLICT,
                format!("cannot recover {region}: {error:#}"),
            ),
        },
        _ => refused(
            StatusCode::NOT_FOUND,
            format!("unknown action {action:?}: fail or recover"),
        ),
    }
}

async fn probe_chaos(
    State(regions): State<Weak<DemoRegions>>,
    Path((from, to, action)): Path<(String, String, String)>,
) -> Response {
    let Some(regions) = regions.upgrade() else {
        return refused(
            StatusCode::SERVICE_UNAVAILABLE,
            "the demo is stopping".to_string(),
        );
    };
    let cut = match action.as_str() {
        "cut" => true,
        "heal" => false,
        _ => {
            return refused(
                StatusCode::NOT_FOUND,
                format!("unknown action {action:?}: cut or heal"),
            );
        }
    };
    match regions.cut(&from, &to, cut).await {
        Ok(()) => Json(json!({ "from": from, "to": to, "cut": cut })).into_response(),
        Err(error) => refused(StatusCode::NOT_FOUND, format!("{error:#}")),
    }
}
