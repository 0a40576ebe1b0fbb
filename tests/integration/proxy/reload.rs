//! Backends follow a reload: a new one gets traffic, a removed one finishes what it has.
//! At shutdown the proxy stops accepting and finishes the requests in flight.

use std::time::Duration;

use super::backends::Backend;
use super::harness::{Harness, backend_of, settings};

#[tokio::test]
async fn a_backend_added_by_reload_gets_traffic_and_a_removed_one_drains() {
    let old = Backend::start("old").await;
    let new = Backend::start("new").await;
    let mut harness = Harness::start(settings(std::slice::from_ref(&old))).await;
    assert_eq!(backend_of(&harness.get("/").await.1), "old");

    // A slow request in flight on `old` while it is removed.
    old.set_delay(500);
    let client = harness.client.clone();
    let url = harness.url("/");
    let in_flight = tokio::spawn(async move { client.get(url).send().await.unwrap() });
    tokio::time::sleep(Duration::from_millis(100)).await;
    harness.reload(settings(std::slice::from_ref(&new)));
    for _ in 0..5 {
        let (status, body) = harness.get("/").await;
        assert_eq!((status, backend_of(&body)), (200, "new"));
    }
    let response = in_flight.await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(backend_of(&response.text().await.unwrap()), "old");
    harness
        .wait_health("new backend set", |h| {
            h.backends.len() == 1 && h.backends[0].id == "new"
        })
        .await;
}

#[tokio::test]
async fn shutdown_finishes_requests_in_flight_and_accepts_no_more() {
    let slow = Backend::start("slow").await;
    slow.set_delay(400);
    let harness = Harness::start(settings(std::slice::from_ref(&slow))).await;
    let client = harness.client.clone();
    let url = harness.url("/");
    let in_flight = tokio::spawn(async move { client.get(url).send().await.unwrap() });
    tokio::time::sleep(Duration::from_millis(100)).await;
    harness.begin_shutdown();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let refused = tokio::net::TcpStream::connect(harness.addr).await;
    assert!(refused.is_err(), "still accepting after shutdown began");
    let response = in_flight.await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(backend_of(&response.text().await.unwrap()), "slow");
}

#[tokio::test]
async fn a_backend_kept_by_a_reload_keeps_its_requests_in_flight() {
    let kept = Backend::start("kept").await;
    let added = Backend::start("added").await;
    kept.set_delay(600);
    let mut harness = Harness::start(settings(std::slice::from_ref(&kept))).await;
    let client = harness.client.clone();
    let url = harness.url("/");
    let in_flight = tokio::spawn(async move { client.get(url).send().await.unwrap() });
    harness
        .wait_health("request in flight", |h| {
            h.backends
                .iter()
                .any(|b| b.id == "kept" && b.in_flight == 1)
        })
        .await;
    let mut both = settings(&[kept.clone(), added.clone()]);
    both.backends[0].weight = 3;
    harness.reload(both);
    // The new view's report still counts the request that started under the old one.
    harness
        .wait_health("two backends", |h| h.backends.len() == 2)
        .await;
    let report = harness.local_health.load();
    let kept_report = report.backends.iter().find(|b| b.id == "kept").unwrap();
    assert_eq!((kept_report.in_flight, kept_report.weight), (1, 3));
    assert_eq!(in_flight.await.unwrap().status().as_u16(), 200);
    harness
        .wait_health("request done", |h| {
            h.backends.iter().all(|b| b.in_flight == 0)
        })
        .await;
}
