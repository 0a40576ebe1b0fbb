//! Drain, undrain and force-up through the admin API: every node follows, and the state
//! survives restarts without coming back after it was lifted.

use std::time::Duration;

use super::cluster::*;

const FOLLOW: Duration = Duration::from_secs(5);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drain_reaches_every_node_and_survives_a_restart_of_all_of_them() {
    let mut cluster = Cluster::start(|t| t).await;
    cluster.wait_all_well().await;
    assert_eq!(
        cluster
            .admin("us-east", "/api/v1/regions/eu-west/drain")
            .await,
        200
    );
    cluster
        .wait_answer(&REGIONS, LONDON, "eu-west", false, FOLLOW)
        .await;
    // Every node saved it.
    for region in REGIONS {
        let file = cluster
            .dir
            .path()
            .join(format!("state/operator-{region}.json"));
        let saved = std::fs::read_to_string(&file).unwrap_or_default();
        if !saved.contains("drained") {
            // Heard through gossip a moment later than the answers moved: give it a round.
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        let saved = std::fs::read_to_string(&file).unwrap();
        assert!(saved.contains("\"drained\""), "{region}: {saved}");
    }
    for region in REGIONS {
        cluster.kill(region).await;
    }
    for region in REGIONS {
        cluster.restart(region);
    }
    // Drained from the first answer on: the state file is read at start-up.
    for region in REGIONS {
        assert_ne!(
            cluster.answer(region, LONDON).await,
            "eu-west",
            "{region} forgot"
        );
    }
    assert_eq!(
        cluster
            .admin("eu-west", "/api/v1/regions/eu-west/undrain")
            .await,
        200
    );
    cluster
        .wait_answer(&REGIONS, LONDON, "eu-west", true, FOLLOW)
        .await;
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_restarted_after_an_undrain_does_not_bring_the_drain_back() {
    let mut cluster = Cluster::start(|t| t).await;
    cluster.wait_all_well().await;
    assert_eq!(
        cluster
            .admin("eu-west", "/api/v1/regions/eu-west/drain")
            .await,
        200
    );
    cluster
        .wait_answer(&REGIONS, LONDON, "eu-west", false, FOLLOW)
        .await;
    // ap-southeast goes away holding the drain in its state file; the drain is lifted while
    // it is gone.
    tokio::time::sleep(Duration::from_millis(300)).await;
    cluster.kill("ap-southeast").await;
    assert_eq!(
        cluster
            .admin("us-east", "/api/v1/regions/eu-west/undrain")
            .await,
        200
    );
    cluster
        .wait_answer(&["us-east", "eu-west"], LONDON, "eu-west", true, FOLLOW)
        .await;
    cluster.restart("ap-southeast");
    // It starts with its old drain (version 1) and hears the undrain (version 2).
    cluster
        .wait_answer(&["ap-southeast"], LONDON, "eu-west", true, FOLLOW)
        .await;
    // And it stays that way: the old drain never wins back.
    for _ in 0..20 {
        for region in REGIONS {
            assert_eq!(cluster.answer(region, LONDON).await, "eu-west");
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn force_up_wins_over_the_votes_and_bad_requests_are_refused() {
    let mut cluster = Cluster::start(|t| t).await;
    cluster.wait_all_well().await;
    cluster.kill("eu-west").await;
    cluster
        .wait_answer(
            &["us-east", "ap-southeast"],
            LONDON,
            "eu-west",
            false,
            FOLLOW,
        )
        .await;
    assert_eq!(
        cluster
            .admin("us-east", "/api/v1/regions/eu-west/force-up")
            .await,
        200
    );
    cluster
        .wait_answer(
            &["us-east", "ap-southeast"],
            LONDON,
            "eu-west",
            true,
            FOLLOW,
        )
        .await;
    assert_eq!(
        cluster.admin("us-east", "/api/v1/regions/mars/drain").await,
        404
    );
    assert_eq!(
        cluster
            .admin("us-east", "/api/v1/regions/eu-west/explode")
            .await,
        404
    );
    let unauthorized = reqwest::Client::new()
        .post(format!(
            "http://{}/api/v1/regions/eu-west/drain",
            cluster.members["us-east"].status
        ))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(unauthorized.as_u16(), 401);
    cluster.stop().await;
}
