//! A killed region, a cut link, an isolated node, a flapping region.

use std::time::{Duration, Instant};

use meridian::health::events::EventKind;

use super::cluster::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_region_stops_being_answered_within_fall_intervals_plus_one_and_comes_back() {
    let mut cluster = Cluster::start(|t| t).await;
    cluster.wait_all_well().await;
    cluster.kill("eu-west").await;
    // fall (3) probes: the first within an interval, the others fast; then one more
    // interval for the other node's vote to arrive. 100 ms intervals: about 0.5 s. The bound
    // is generous (a loaded CI machine); the figure is printed.
    let took = cluster
        .wait_answer(
            &["us-east", "ap-southeast"],
            LONDON,
            "eu-west",
            false,
            Duration::from_secs(5),
        )
        .await;
    eprintln!("failover took {took:?}");
    // London spills to another region (by capacity, per subnet), and both name servers
    // give the same answer.
    let a = cluster.answer("us-east", LONDON).await;
    let b = cluster.answer("ap-southeast", LONDON).await;
    assert_eq!(a, b);
    assert!(a == "us-east" || a == "ap-southeast", "{a}");
    let verdict = cluster
        .node("us-east")
        .monitor()
        .timeline
        .recent()
        .into_iter()
        .find(|e| e.kind == EventKind::Verdict && e.region == "eu-west")
        .unwrap();
    assert_eq!(verdict.to, "down");
    assert!(
        verdict.reason.contains("vantage points vote down"),
        "{verdict:?}"
    );

    // Back: rise (3) good probes and the hold-down (1 s) before traffic returns.
    let back = Instant::now();
    cluster.restart("eu-west");
    cluster
        .wait_answer(&REGIONS, LONDON, "eu-west", true, Duration::from_secs(10))
        .await;
    assert!(
        back.elapsed() >= Duration::from_secs(1),
        "traffic came back inside the hold-down"
    );
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_cut_link_causes_no_failover() {
    let cluster = Cluster::start(|t| t).await;
    cluster.wait_all_well().await;
    cluster.cut("us-east", "eu-west", true);
    cluster.cut("eu-west", "us-east", true);
    let until = Instant::now() + Duration::from_secs(3);
    let mut samples = 0;
    while Instant::now() < until {
        for node in REGIONS {
            assert_eq!(
                cluster.answer(node, LONDON).await,
                "eu-west",
                "{node} failed over"
            );
            assert_eq!(cluster.answer(node, SYDNEY).await, "ap-southeast");
        }
        samples += 1;
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    assert!(samples > 20);
    // The cut was real: us-east's own probe of eu-west says down, and it was outvoted.
    {
        let core = cluster.node("us-east").monitor().core();
        assert_eq!(core.targets()["eu-west"].state.status().to_string(), "down");
        let verdict = core.verdicts().get("eu-west").unwrap();
        assert!(verdict.up);
        assert_eq!(verdict.down_votes, ["us-east"]);
    }
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_cut_off_from_everything_is_isolated_and_its_answers_do_not_flip() {
    let cluster = Cluster::start(|t| t).await;
    cluster.wait_all_well().await;
    for other in ["us-east", "eu-west"] {
        cluster.cut("ap-southeast", other, true);
        cluster.cut(other, "ap-southeast", true);
    }
    // The others agree ap-southeast is gone: Sydney moves.
    cluster
        .wait_answer(
            &["us-east", "eu-west"],
            SYDNEY,
            "ap-southeast",
            false,
            Duration::from_secs(5),
        )
        .await;
    // ap-southeast, isolated, keeps answering from its last agreed view.
    let until = Instant::now() + Duration::from_secs(2);
    while Instant::now() < until {
        assert_eq!(cluster.answer("ap-southeast", LONDON).await, "eu-west");
        assert_eq!(cluster.answer("ap-southeast", SYDNEY).await, "ap-southeast");
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    assert!(cluster.node("ap-southeast").monitor().core().isolated().1);
    assert!(
        cluster
            .node("ap-southeast")
            .monitor()
            .timeline
            .recent()
            .iter()
            .any(|e| e.kind == EventKind::Isolation && e.to == "isolated")
    );
    // Healed: everyone agrees again.
    for other in ["us-east", "eu-west"] {
        cluster.cut("ap-southeast", other, false);
        cluster.cut(other, "ap-southeast", false);
    }
    cluster.wait_all_well().await;
    // Its own votes about the others come back up after rise and the hold-down; until then
    // it still counts as isolated (and keeps its view, which is already the right one).
    let healed = Instant::now();
    while cluster.node("ap-southeast").monitor().core().isolated().1 {
        assert!(healed.elapsed() < Duration::from_secs(10), "still isolated");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flapping_region_does_not_make_answers_flap() {
    let cluster = Cluster::start(|t| t).await;
    cluster.wait_all_well().await;
    // eu-west unreachable from both other nodes for 400 ms, reachable for 400 ms, for 6 s:
    // more often than the hold-down (1 s) lets it back.
    let mut answers = Vec::new();
    let until = Instant::now() + Duration::from_secs(6);
    let mut cut = false;
    let mut flipped = Instant::now();
    while Instant::now() < until {
        if flipped.elapsed() >= Duration::from_millis(400) {
            cut = !cut;
            flipped = Instant::now();
            cluster.cut("us-east", "eu-west", cut);
            cluster.cut("ap-southeast", "eu-west", cut);
        }
        answers.push(cluster.answer("us-east", LONDON).await);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    answers.dedup();
    // At most one move away, and never back while it flaps.
    assert!(answers.len() <= 2, "answers flapped: {answers:?}");
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_node_knows_the_others_versions_and_config_hashes() {
    let cluster = Cluster::start(|t| t).await;
    cluster.wait_all_well().await;
    let body = reqwest::get(format!(
        "http://{}/api/v1/nodes",
        cluster.members["us-east"].status
    ))
    .await
    .unwrap()
    .bytes()
    .await
    .unwrap();
    let nodes: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let list = nodes["nodes"].as_array().unwrap();
    let regions: Vec<&str> = list.iter().map(|n| n["region"].as_str().unwrap()).collect();
    assert_eq!(regions, ["us-east", "ap-southeast", "eu-west"], "{nodes}");
    assert_eq!(list[1]["node"], "test-ap-southeast");
    assert_eq!(list[1]["version"], "test");
    // One config for all: the same hash everywhere, no drift.
    assert!(
        list.iter()
            .all(|n| n["config_hash"] == list[0]["config_hash"]),
        "{nodes}"
    );
    assert_eq!(nodes["drift"], false);
    cluster.stop().await;
}
