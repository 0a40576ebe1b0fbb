//! Distribution per policy, through the proxy.

use std::collections::BTreeMap;

use meridian::region::proxy::{HashKey, Policy};

use super::backends::Backend;
use super::harness::{Harness, backend_of, settings};

async fn three() -> Vec<std::sync::Arc<Backend>> {
    vec![
        Backend::start("b0").await,
        Backend::start("b1").await,
        Backend::start("b2").await,
    ]
}

async fn tally(harness: &Harness, requests: usize) -> BTreeMap<String, usize> {
    let mut seen = BTreeMap::new();
    for _ in 0..requests {
        let (status, body) = harness.get("/").await;
        assert_eq!(status, 200, "{body}");
        *seen.entry(backend_of(&body).to_string()).or_default() += 1;
    }
    seen
}

#[tokio::test]
async fn round_robin_spreads_evenly() {
    let backends = three().await;
    let harness = Harness::start(settings(&backends)).await;
    let seen = tally(&harness, 30).await;
    assert_eq!(
        seen.values().copied().collect::<Vec<_>>(),
        vec![10, 10, 10],
        "{seen:?}"
    );
}

#[tokio::test]
async fn weighted_round_robin_follows_the_weights() {
    let backends = three().await;
    let mut settings = settings(&backends);
    settings.policy = Policy::WeightedRoundRobin;
    settings.backends[0].weight = 3;
    settings.backends[1].weight = 1;
    settings.backends[2].weight = 1;
    let harness = Harness::start(settings).await;
    let seen = tally(&harness, 50).await;
    assert_eq!(seen["b0"], 30, "{seen:?}");
    assert_eq!(seen["b1"], 10, "{seen:?}");
    assert_eq!(seen["b2"], 10, "{seen:?}");
}

#[tokio::test]
async fn least_request_uses_every_backend() {
    let backends = three().await;
    let mut settings = settings(&backends);
    settings.policy = Policy::LeastRequest;
    let harness = Harness::start(settings).await;
    let seen = tally(&harness, 60).await;
    assert_eq!(seen.len(), 3, "{seen:?}");
}

#[tokio::test]
async fn consistent_hash_on_a_header_keeps_a_key_on_one_backend() {
    let backends = three().await;
    let mut settings = settings(&backends);
    settings.policy = Policy::ConsistentHash {
        key: HashKey::Header("x-user".to_string()),
        load_factor: 1.25,
    };
    let harness = Harness::start(settings).await;
    let mut owners = BTreeMap::new();
    for user in 0..30 {
        let mut seen = Vec::new();
        for _ in 0..3 {
            let response = harness
                .client
                .get(harness.url("/"))
                .header("x-user", format!("user-{user}"))
                .send()
                .await
                .unwrap();
            seen.push(backend_of(&response.text().await.unwrap()).to_string());
        }
        assert!(
            seen.iter().all(|b| *b == seen[0]),
            "user-{user} moved: {seen:?}"
        );
        *owners.entry(seen[0].clone()).or_insert(0) += 1;
    }
    assert!(owners.len() >= 2, "30 keys all on one backend: {owners:?}");
}

#[tokio::test]
async fn a_region_without_backends_answers_503() {
    let harness = Harness::start(settings(&[])).await;
    let (status, body) = harness.get("/").await;
    assert_eq!(status, 503);
    assert_eq!(body, "503 Service Unavailable\n");
}

#[tokio::test]
async fn a_new_view_that_keeps_the_backends_keeps_the_rotation() {
    let backends = three().await;
    let mut harness = Harness::start(settings(&backends)).await;
    let mut seen = Vec::new();
    for _ in 0..6 {
        seen.push(backend_of(&harness.get("/").await.1).to_string());
        // What a health verdict or another region's change does: a new view, same backends.
        harness.reload(settings(&backends));
    }
    assert_eq!(seen, ["b0", "b1", "b2", "b0", "b1", "b2"], "{seen:?}");
}
