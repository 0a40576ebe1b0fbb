//! Failures and what the client sees: retries on another backend where safe, never a
//! replay of a body already sent, ejection of the failing backend.

use std::time::{Duration, Instant};

use meridian::region::proxy::RetryOn;

use super::backends::Backend;
use super::harness::{Harness, backend_of, settings};

#[tokio::test]
async fn a_backend_whose_listener_closes_under_load_costs_no_request_and_is_ejected() {
    let backends = vec![
        Backend::start("c0").await,
        Backend::start("c1").await,
        Backend::start("c2").await,
    ];
    let mut settings = settings(&backends);
    // Passive detection alone: no active check gets there first.
    settings.health.interval = Duration::from_secs(3600);
    settings.health.fast_interval = Duration::from_secs(3600);
    let harness = Harness::start(settings).await;
    for _ in 0..30 {
        assert_eq!(harness.get("/").await.0, 200);
    }
    backends[1].stop();
    let stopped = Instant::now();
    let mut failed = 0;
    for _ in 0..60 {
        let (status, body) = harness.get("/").await;
        if status != 200 {
            failed += 1;
        }
        assert_ne!(backend_of(&body), "c1");
    }
    assert_eq!(failed, 0, "client requests failed while a backend died");
    // The region's report follows within a checker tick.
    harness
        .wait_health("c1 ejected", |h| {
            h.backends
                .iter()
                .any(|b| b.id == "c1" && b.state == "ejected")
        })
        .await;
    let ejected_after = stopped.elapsed();
    assert!(
        ejected_after <= Duration::from_secs(1),
        "ejected after {ejected_after:?}"
    );
}

#[tokio::test]
async fn a_hanging_backend_times_out_then_is_ejected() {
    let backends = vec![Backend::start("h0").await, Backend::start("h1").await];
    let mut settings = settings(&backends);
    settings.timeouts.response_head = Duration::from_millis(300);
    settings.health.interval = Duration::from_secs(3600);
    settings.health.fast_interval = Duration::from_secs(3600);
    let harness = Harness::start(settings.clone()).await;
    backends[0].hang();
    // Not configured to retry on timeout: the client sees 504 from the hanging backend.
    let mut statuses = Vec::new();
    for _ in 0..8 {
        statuses.push(harness.get("/").await.0);
    }
    assert!(statuses.contains(&504), "{statuses:?}");
    assert_eq!(
        statuses.iter().filter(|s| **s == 504).count(),
        3,
        "{statuses:?}"
    );
    harness
        .wait_health("h0 ejected", |h| {
            h.backends
                .iter()
                .any(|b| b.id == "h0" && b.state == "ejected")
        })
        .await;
    assert!(
        statuses[statuses.len() - 3..].iter().all(|s| *s == 200),
        "{statuses:?}"
    );

    // Configured: GETs are retried on the other backend after the timeout.
    settings.retries.idempotent_on = vec![RetryOn::Timeout];
    let backends = vec![Backend::start("h2").await, Backend::start("h3").await];
    let mut settings2 = super::harness::settings(&backends);
    settings2.timeouts = settings.timeouts.clone();
    settings2.retries = settings.retries.clone();
    let harness = Harness::start(settings2).await;
    backends[0].hang();
    for _ in 0..6 {
        let (status, body) = harness.get("/").await;
        assert_eq!((status, backend_of(&body)), (200, "h3"));
    }
}

#[tokio::test]
async fn a_post_already_sent_to_a_dying_backend_is_not_replayed_but_a_get_is() {
    let backends = vec![Backend::start("p0").await, Backend::start("p1").await];
    let harness = Harness::start(settings(&backends)).await;
    backends[0].drop_requests();
    let mut posts = Vec::new();
    for i in 0..4 {
        let response = harness
            .client
            .post(harness.url("/"))
            .body(format!("order {i}"))
            .send()
            .await
            .unwrap();
        posts.push(response.status().as_u16());
    }
    // Round robin: two of the four went to p0, which read them and died without a word.
    assert_eq!(posts.iter().filter(|s| **s == 502).count(), 2, "{posts:?}");
    assert_eq!(
        backends[1].received(),
        2,
        "a POST was replayed on the other backend"
    );

    let harness = Harness::start(settings(&backends)).await;
    for _ in 0..4 {
        let (status, body) = harness.get("/").await;
        assert_eq!((status, backend_of(&body)), (200, "p1"));
    }
}

#[tokio::test]
async fn a_503_is_retried_for_get_only_when_configured() {
    let backends = vec![Backend::start("u0").await, Backend::start("u1").await];
    backends[0].set_status(503);
    let mut settings = settings(&backends);
    // Keep u0 in rotation: this test is about retries, not ejection.
    settings.outlier.consecutive_failures = 1000;
    let harness = Harness::start(settings.clone()).await;
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(harness.get("/").await.0);
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 503).count(),
        2,
        "{statuses:?}"
    );

    settings.retries.idempotent_on = vec![RetryOn::Status503];
    let harness = Harness::start(settings).await;
    for _ in 0..4 {
        let (status, body) = harness.get("/").await;
        assert_eq!((status, backend_of(&body)), (200, "u1"));
    }
    let mut posts = Vec::new();
    for _ in 0..4 {
        posts.push(
            harness
                .client
                .post(harness.url("/"))
                .body("x")
                .send()
                .await
                .unwrap()
                .status()
                .as_u16(),
        );
    }
    assert_eq!(
        posts.iter().filter(|s| **s == 503).count(),
        2,
        "POST retried: {posts:?}"
    );
}

#[tokio::test]
async fn every_backend_down_is_reported_and_answered_503() {
    let backends = vec![Backend::start("x0").await, Backend::start("x1").await];
    let harness = Harness::start(settings(&backends)).await;
    harness
        .wait_health("both up", |h| h.healthy_backends == 2)
        .await;
    for backend in &backends {
        backend.stop();
    }
    harness
        .wait_health("both down", |h| h.healthy_backends == 0 && !h.is_healthy())
        .await;
    let (status, body) = harness.get("/").await;
    assert!(status == 503 || status == 502, "{status} {body}");
    assert!(
        !body.contains("127.0.0.1"),
        "internal detail leaked: {body}"
    );
}
