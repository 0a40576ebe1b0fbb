//! Backend drains through the proxy's control handle: a drained backend gets no new
//! requests, finishes those in flight, keeps its sticky sessions and its health checks,
//! counts as no healthy capacity, and stays drained across reloads; a failed save changes
//! nothing.

use std::collections::BTreeSet;

use meridian::health::BackendControl;
use meridian::health::backend_drain::DrainError;
use meridian::region::proxy::{Sticky, StickyDown};

use super::backends::Backend;
use super::harness::{Harness, backend_of, settings};

/// The backends that answered `count` plain GETs.
async fn answered(harness: &Harness, count: usize) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    for _ in 0..count {
        let (status, body) = harness.get("/").await;
        assert_eq!(status, 200, "{body}");
        seen.insert(backend_of(&body).to_string());
    }
    seen
}

fn state_of(harness: &Harness, id: &str) -> &'static str {
    let health = harness.local_health.load();
    health.backends.iter().find(|b| b.id == id).unwrap().state
}

#[tokio::test]
async fn a_drained_backend_gets_no_new_requests_and_finishes_those_in_flight() {
    let backends = vec![Backend::start("a").await, Backend::start("b").await];
    let harness = Harness::start(settings(&backends)).await;
    harness
        .wait_health("both healthy", |h| h.healthy_backends == 2)
        .await;
    // One slow request in flight on each backend (round robin).
    for backend in &backends {
        backend.set_delay(700);
    }
    let mut in_flight = Vec::new();
    for _ in 0..2 {
        let client = harness.client.clone();
        let url = harness.url("/");
        in_flight.push(tokio::spawn(async move {
            let response = client.get(url).send().await.unwrap();
            (response.status().as_u16(), response.text().await.unwrap())
        }));
    }
    harness
        .wait_health("a request in flight on each", |h| {
            h.backends.iter().all(|b| b.in_flight == 1)
        })
        .await;
    for backend in &backends {
        backend.set_delay(0);
    }

    let change = harness.proxy.set_drained("a", true, "test").unwrap();
    assert!(change.drained && change.changed, "{change:?}");
    let report = change.report.unwrap();
    assert_eq!((report.state, report.drained), ("draining", true));
    let before = backends[0].received();
    assert_eq!(
        answered(&harness, 12).await,
        BTreeSet::from(["b".to_string()])
    );
    assert_eq!(
        backends[0].received(),
        before,
        "a drained backend got a request"
    );

    // Requests that were in flight finish, the one on the drained backend too.
    let mut finished = BTreeSet::new();
    for request in in_flight {
        let (status, body) = request.await.unwrap();
        assert_eq!(status, 200);
        finished.insert(backend_of(&body).to_string());
    }
    assert_eq!(finished, BTreeSet::from(["a".to_string(), "b".to_string()]));

    // It is no healthy capacity; /healthz says draining.
    let health = harness.local_health.load_full();
    assert_eq!((health.healthy_backends, health.total_backends), (1, 2));
    assert!((health.healthy_capacity_share - 0.5).abs() < 1e-9);
    assert_eq!(state_of(&harness, "a"), "draining");

    // Draining again changes nothing; undraining brings it back.
    assert!(
        !harness
            .proxy
            .set_drained("a", true, "test")
            .unwrap()
            .changed
    );
    let change = harness.proxy.set_drained("a", false, "test").unwrap();
    assert!(change.changed && !change.drained);
    assert_eq!(change.report.unwrap().state, "healthy");
    assert_eq!(
        answered(&harness, 4).await,
        BTreeSet::from(["a".to_string(), "b".to_string()])
    );
}

#[tokio::test]
async fn health_checks_go_on_while_drained_and_down_wins_over_draining() {
    let backends = vec![Backend::start("c").await, Backend::start("d").await];
    let harness = Harness::start(settings(&backends)).await;
    harness.proxy.set_drained("c", true, "test").unwrap();
    assert_eq!(state_of(&harness, "c"), "draining");
    backends[0].stop();
    harness
        .wait_health("drained backend seen down by its checks", |h| {
            h.backends
                .iter()
                .any(|b| b.id == "c" && b.state == "down" && b.drained)
        })
        .await;
    backends[0].restart().await;
    harness
        .wait_health("back up, still draining", |h| {
            h.backends
                .iter()
                .any(|b| b.id == "c" && b.state == "draining")
        })
        .await;
    assert_eq!(
        answered(&harness, 6).await,
        BTreeSet::from(["d".to_string()])
    );
}

#[tokio::test]
async fn sticky_sessions_keep_their_drained_backend_and_new_ones_never_get_it() {
    let backends = vec![Backend::start("s0").await, Backend::start("s1").await];
    let mut settings = settings(&backends);
    settings.sticky = Some(Sticky {
        cookie: "mb".to_string(),
        lifetime: None,
        on_down: StickyDown::Repick,
    });
    let harness = Harness::start(settings).await;
    let response = harness.client.get(harness.url("/")).send().await.unwrap();
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_string();
    let cookie = cookie.split(';').next().unwrap().to_string();
    let owner = backend_of(&response.text().await.unwrap()).to_string();
    let other = if owner == "s0" { "s1" } else { "s0" };

    harness.proxy.set_drained(&owner, true, "test").unwrap();
    // As HAProxy's drain: a persistent session goes on to its server ...
    for _ in 0..5 {
        let response = harness
            .client
            .get(harness.url("/"))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert!(response.headers().get("set-cookie").is_none());
        assert_eq!(backend_of(&response.text().await.unwrap()), owner);
    }
    // ... and a new one never lands on it.
    assert_eq!(
        answered(&harness, 6).await,
        BTreeSet::from([other.to_string()])
    );
}

#[tokio::test]
async fn every_backend_drained_leaves_nothing_to_pick_and_the_region_unhealthy() {
    let backends = vec![Backend::start("e0").await, Backend::start("e1").await];
    let harness = Harness::start(settings(&backends)).await;
    harness
        .wait_health("both healthy", |h| h.healthy_backends == 2)
        .await;
    for backend in &backends {
        harness
            .proxy
            .set_drained(&backend.id, true, "test")
            .unwrap();
    }
    let health = harness.local_health.load_full();
    assert_eq!(health.healthy_backends, 0);
    assert!(!health.is_healthy());
    // No other region to spill to here: 503.
    assert_eq!(harness.get("/").await.0, 503);
    assert_eq!(backends.iter().map(|b| b.received()).sum::<u64>(), 0);
}

#[tokio::test]
async fn a_drain_survives_reloads_that_keep_the_id() {
    let backends = vec![Backend::start("r0").await, Backend::start("r1").await];
    let mut harness = Harness::start(settings(&backends)).await;
    harness.proxy.set_drained("r0", true, "test").unwrap();

    // A reload that changes weights keeps the backend state, and the drain.
    let mut reweighted = settings(&backends);
    reweighted.backends[0].weight = 5;
    harness.reload(reweighted);
    assert_eq!(
        answered(&harness, 6).await,
        BTreeSet::from(["r1".to_string()])
    );
    assert_eq!(state_of(&harness, "r0"), "draining");

    // A reload that moves the id to a new address makes a new backend state: still drained.
    let moved = Backend::start("r0").await;
    let mut readdressed = settings(&[moved.clone(), backends[1].clone()]);
    readdressed.backends[0].weight = 5;
    harness.reload(readdressed.clone());
    assert_eq!(
        answered(&harness, 6).await,
        BTreeSet::from(["r1".to_string()])
    );
    assert_eq!(moved.received(), 0);

    // A reload that drops the id: the drain stays in the file, and comes back with the id.
    harness.reload(settings(std::slice::from_ref(&backends[1])));
    assert_eq!(
        answered(&harness, 2).await,
        BTreeSet::from(["r1".to_string()])
    );
    harness.reload(readdressed);
    assert_eq!(
        answered(&harness, 6).await,
        BTreeSet::from(["r1".to_string()])
    );
    assert_eq!(moved.received(), 0);
    harness.proxy.set_drained("r0", false, "test").unwrap();
    assert!(answered(&harness, 4).await.contains("r0"));
}

#[tokio::test]
async fn an_unknown_backend_is_refused_and_a_removed_one_may_be_undrained() {
    let backends = vec![Backend::start("u0").await, Backend::start("u1").await];
    let mut harness = Harness::start(settings(&backends)).await;
    let error = harness.proxy.set_drained("nope", true, "test").unwrap_err();
    assert!(
        matches!(&error, DrainError::UnknownBackend { id, known, .. } if id == "nope" && known == "u0, u1"),
        "{error}"
    );
    assert!(error.to_string().contains("us-east"), "{error}");
    harness.proxy.set_drained("u0", true, "test").unwrap();
    harness.reload(settings(std::slice::from_ref(&backends[1])));
    // Gone from the config, still in the file: undrain cleans it up; drain is refused.
    assert!(harness.proxy.set_drained("u0", true, "test").is_err());
    let change = harness.proxy.set_drained("u0", false, "test").unwrap();
    assert!(change.changed && change.report.is_none());
    assert!(harness.proxy.set_drained("u0", false, "test").is_err());
}

#[tokio::test]
async fn a_failed_save_drains_nothing() {
    let backends = vec![Backend::start("f0").await, Backend::start("f1").await];
    let harness = Harness::start(settings(&backends)).await;
    // The state folder becomes a file: every save fails, even for root.
    let state = harness.state_dir.path();
    std::fs::remove_dir_all(state).unwrap();
    std::fs::write(state, "a file").unwrap();
    let error = harness.proxy.set_drained("f0", true, "test").unwrap_err();
    assert!(matches!(error, DrainError::Save { .. }), "{error}");
    assert!(error.to_string().starts_with("not applied"), "{error}");
    assert_eq!(state_of(&harness, "f0"), "healthy");
    assert_eq!(
        answered(&harness, 4).await,
        BTreeSet::from(["f0".to_string(), "f1".to_string()])
    );
    // Back to a folder, for the temporary directory's own clean-up.
    std::fs::remove_file(state).unwrap();
    std::fs::create_dir(state).unwrap();
}
