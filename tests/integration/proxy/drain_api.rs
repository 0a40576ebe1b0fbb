//! Backend drains through the admin API: the router's answers (`oneshot`, no socket), and a
//! real node with an HTTP proxy in front of test backends, drained over its status listener,
//! reloaded and restarted.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use meridian::cli::{BackendAction, BackendArgs, ReloadArgs};
use meridian::dashboard::{NodeIdentity, StatusState};
use meridian::health::SharedBackendControl;
use meridian::health::monitor::Monitor;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::backends::Backend;
use super::harness::{Harness, backend_of, settings};
use super::node::{ProxyNode, TOKEN, client, write_proxy};
use crate::live::ConfigDir;
use crate::support::*;

fn state(
    server: &Server,
    state_dir: &std::path::Path,
    backends: Option<SharedBackendControl>,
) -> Arc<StatusState> {
    let mut health = server.reloader.view().load().config.health.clone();
    health.state_dir = state_dir.to_path_buf();
    Arc::new(StatusState {
        identity: NodeIdentity {
            region: "us-east".to_string(),
            node: "n1".to_string(),
            version: "test",
            started: Instant::now(),
        },
        reloader: server.reloader.clone(),
        fallback_token: Some(meridian::config::AdminToken::generated(TOKEN.to_string())),
        local_health: Default::default(),
        monitor: Arc::new(Monitor::new("us-east", &health).unwrap()),
        shutdown: CancellationToken::new(),
        backends,
    })
}

async fn post(state: Arc<StatusState>, uri: &str, token: Option<&str>) -> (StatusCode, Value) {
    crate::status::call(state, "POST", uri, token).await
}

fn error_of(body: &Value) -> &str {
    body["error"].as_str().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_router_guards_names_and_applies_backend_drains() {
    let server = Server::start(CITY).await;
    let backends = vec![Backend::start("k0").await, Backend::start("k1").await];
    let harness = Harness::start(settings(&backends)).await;
    let dir = tempfile::tempdir().unwrap();
    let control: SharedBackendControl = harness.proxy.clone();
    let guarded = || state(&server, dir.path(), Some(control.clone()));
    let drain = "/api/v1/regions/us-east/backends/k0/drain";

    let (status, _) = post(guarded(), drain, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = post(guarded(), drain, Some("backend-drain-test-tokeX")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(harness.get("/").await.0, 200);
    assert!(
        harness
            .local_health
            .load()
            .backends
            .iter()
            .all(|b| !b.drained),
        "a refused request drained something"
    );

    let (status, body) = post(
        guarded(),
        "/api/v1/regions/us-east/backends/k0/explode",
        Some(TOKEN),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(error_of(&body).contains("\"explode\""), "{body}");
    let (status, body) = post(
        guarded(),
        "/api/v1/regions/mars/backends/k0/drain",
        Some(TOKEN),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(error_of(&body).contains("no region \"mars\""), "{body}");
    let (status, body) = post(
        guarded(),
        "/api/v1/regions/us-east/backends/k9/drain",
        Some(TOKEN),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(
        error_of(&body).contains("no backend \"k9\"") && error_of(&body).contains("k0, k1"),
        "{body}"
    );
    // Another region's backends are its own node's business.
    let (status, body) = post(
        guarded(),
        "/api/v1/regions/eu-west/backends/k0/drain",
        Some(TOKEN),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(
        error_of(&body).contains("through a node of eu-west"),
        "{body}"
    );
    // A node without a proxy has no backends.
    let (status, body) = post(state(&server, dir.path(), None), drain, Some(TOKEN)).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(error_of(&body).contains("no HTTP proxy"), "{body}");

    let (status, body) = post(guarded(), drain, Some(TOKEN)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["region"], "us-east");
    assert_eq!(body["backend"], "k0");
    assert_eq!(body["drained"], true);
    assert_eq!(body["changed"], true);
    assert_eq!(body["report"]["state"], "draining");
    for _ in 0..4 {
        assert_eq!(backend_of(&harness.get("/").await.1), "k1");
    }
    let (status, body) = post(
        guarded(),
        "/api/v1/regions/us-east/backends/k0/undrain",
        Some(TOKEN),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["report"]["state"], "healthy");

    // A failed save: 500, and nothing drained.
    let file_dir = harness.state_dir.path();
    std::fs::remove_dir_all(file_dir).unwrap();
    std::fs::write(file_dir, "a file").unwrap();
    let (status, body) = post(guarded(), drain, Some(TOKEN)).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(error_of(&body).starts_with("not applied"), "{body}");
    assert!(
        harness
            .local_health
            .load()
            .backends
            .iter()
            .all(|b| !b.drained)
    );
    std::fs::remove_file(file_dir).unwrap();
    std::fs::create_dir(file_dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drain_over_the_api_holds_through_a_reload_and_a_restart() {
    let backends = vec![Backend::start("n0").await, Backend::start("n1").await];
    let config = ConfigDir::new();
    write_proxy(&config, &backends, &[1, 1], "");
    let state_dir = config.dir.path().join("node-state");
    let node = ProxyNode::start(&config, state_dir.clone());
    let both = BTreeSet::from(["n0".to_string(), "n1".to_string()]);
    assert_eq!(node.answered(4).await, both);

    // A slow request in flight on n0 while it is drained.
    backends[0].set_delay(600);
    let http = node.http;
    let in_flight = tokio::spawn(async move {
        let mut bodies = Vec::new();
        for _ in 0..2 {
            let response = client()
                .get(format!("http://{http}/"))
                .send()
                .await
                .unwrap();
            bodies.push((
                response.status().as_u16(),
                backend_of(&response.text().await.unwrap()).to_string(),
            ));
        }
        bodies
    });
    let deadline = Instant::now() + Duration::from_secs(5);
    while backends[0].received() < 3 {
        assert!(Instant::now() < deadline, "no request reached n0");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let (status, body) = node
        .admin("/api/v1/regions/us-east/backends/n0/drain")
        .await;
    assert_eq!(status, 200, "{body}");
    backends[0].set_delay(0);
    let received = backends[0].received();
    assert_eq!(node.answered(10).await, BTreeSet::from(["n1".to_string()]));
    assert_eq!(
        backends[0].received(),
        received,
        "a drained backend got a request"
    );
    let finished = in_flight.await.unwrap();
    assert!(
        finished.iter().all(|(status, _)| *status == 200)
            && finished.iter().any(|(_, b)| b == "n0"),
        "{finished:?}"
    );
    assert!(
        node.backend_states()
            .await
            .contains(&("n0".to_string(), "draining".to_string()))
    );
    let saved = std::fs::read_to_string(state_dir.join("backends-us-east.json")).unwrap();
    assert!(
        saved.contains("\"n0\"") && saved.contains("us-east/drain-test"),
        "{saved}"
    );

    // A reload that keeps the id (a new weight) keeps the drain.
    write_proxy(&config, &backends, &[3, 1], "");
    assert!(matches!(
        node.reloader.reload().unwrap(),
        meridian::reload::Outcome::Applied { .. }
    ));
    assert_eq!(node.answered(8).await, BTreeSet::from(["n1".to_string()]));

    // A restart reads it back: drained from the first request on.
    node.stop().await;
    let node = ProxyNode::start(&config, state_dir.clone());
    assert!(
        node.backend_states()
            .await
            .contains(&("n0".to_string(), "draining".to_string()))
    );
    assert_eq!(node.answered(8).await, BTreeSet::from(["n1".to_string()]));
    assert_eq!(backends[0].received(), received);

    // Undrained with the command line's `meridian backend undrain n0 --region us-east`.
    let cli = |action, region: &str| BackendArgs {
        action,
        id: "n0".to_string(),
        region: region.to_string(),
        admin: ReloadArgs {
            node: format!("http://{}/", node.status),
            token: Some(TOKEN.to_string()),
        },
    };
    let error = meridian::commands::backend(&cli(BackendAction::Undrain, "eu-west"))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("409") && error.contains("eu-west"),
        "{error}"
    );
    meridian::commands::backend(&cli(BackendAction::Undrain, "us-east"))
        .await
        .unwrap();
    assert_eq!(node.answered(8).await, both);
    node.stop().await;
    // And the undrain was saved too.
    let node = ProxyNode::start(&config, state_dir);
    assert_eq!(node.answered(8).await, both);
    node.stop().await;
}
