//! Every region down in three real nodes (drained through the admin API: with three regions,
//! probes alone cannot take every region down, since a node that reaches none of the others
//! holds still) -> each service's all-down policy answers as configured, on every node.

use std::time::Duration;

use super::cluster::*;

/// The answer every node gives London once all three regions are drained, for `policy`.
async fn all_drained(policy: &str) -> Vec<String> {
    let cluster = Cluster::start(|text| {
        text.replace("name = \"www\"\n", &format!("name = \"www\"\n{policy}\n"))
    })
    .await;
    cluster.wait_all_well().await;
    for region in REGIONS {
        let path = format!("/api/v1/regions/{region}/drain");
        assert_eq!(cluster.admin("us-east", &path).await, 200);
    }
    // Every region reaches every node's view through the gossip: wait until each node says
    // all three are down, then read the answers.
    let start = std::time::Instant::now();
    for node in REGIONS {
        loop {
            let view = cluster.node(node).view().load_full();
            if view.config.regions.iter().all(|r| !view.health.is_up(r.id)) {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(5),
                "{node} did not hear every drain"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let mut answers = Vec::new();
    for node in REGIONS {
        answers.push(cluster.answer(node, LONDON).await);
    }
    cluster.stop().await;
    answers
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fail_open_answers_the_nearest_region_anyway() {
    assert_eq!(all_drained("").await, ["eu-west"; 3]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fallback_answers_the_fixed_addresses() {
    let answers = all_drained("all_down = \"fallback\"\nfallback = [\"192.0.2.10\"]").await;
    assert_eq!(answers, ["192.0.2.10"; 3]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodata_answers_nothing() {
    assert_eq!(all_drained("all_down = \"nodata\"").await, ["NODATA"; 3]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servfail_answers_servfail() {
    assert_eq!(
        all_drained("all_down = \"servfail\"").await,
        ["Server Failure"; 3]
    );
}
