//! Replacing the database file swaps it in without dropping a query; a bad file is ignored.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use hickory_proto::rr::RecordType;

use crate::support::*;

/// Writes `bytes` beside `target` and renames it over, as updaters do.
fn replace(target: &Path, bytes: &[u8]) {
    let temporary = target.with_extension("tmp");
    std::fs::write(&temporary, bytes).unwrap_or_else(|e| panic!("{e}"));
    std::fs::rename(&temporary, target).unwrap_or_else(|e| panic!("{e}"));
}

async fn region_for(server: &Server, client: &str) -> &'static str {
    region_of(
        &server
            .udp(&query_ecs("www.gtm.test", RecordType::A, client, 32))
            .await,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replaced_database_is_swapped_in_without_dropping_queries() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let db = dir.path().join("geo.mmdb");
    std::fs::copy(geo_db(CITY), &db).unwrap_or_else(|e| panic!("{e}"));
    let server = Arc::new(
        Server::start_with(&db, |config| {
            config.geo.reload_check = Duration::from_millis(100)
        })
        .await,
    );
    // 214.0.0.1 is Singapore in the City database and absent from the Country one.
    assert_eq!(region_for(&server, "214.0.0.1").await, "ap-southeast");

    // Queries keep flowing during the swap; every one must be answered.
    let stop = Arc::new(AtomicBool::new(false));
    let answered = Arc::new(AtomicUsize::new(0));
    let load = {
        let (server, stop, answered) = (server.clone(), stop.clone(), answered.clone());
        tokio::spawn(async move {
            for _ in 0..5000 {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let region = region_for(&server, "81.2.69.142").await;
                assert_eq!(region, "eu-west");
                answered.fetch_add(1, Ordering::Relaxed);
            }
        })
    };

    let country = std::fs::read(geo_db(COUNTRY)).unwrap_or_else(|e| panic!("{e}"));
    replace(&db, &country);
    let deadline = Instant::now() + Duration::from_secs(10);
    while region_for(&server, "214.0.0.1").await != "us-east" {
        assert!(
            Instant::now() < deadline,
            "the new database was never loaded"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // A broken file is refused and the current database stays: first wait until the watcher
    // has looked at it (the refusal is counted), then check nothing changed.
    let failed = || server.reloader.stats.failed.load(Ordering::Relaxed);
    assert_eq!(failed(), 0);
    replace(&db, b"definitely not a MaxMind DB");
    let deadline = Instant::now() + Duration::from_secs(10);
    while failed() == 0 {
        assert!(
            Instant::now() < deadline,
            "the watcher never looked at the broken file"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(region_for(&server, "214.0.0.1").await, "us-east");
    assert!(server.view().geo.database_type().contains("Country"));

    stop.store(true, Ordering::Relaxed);
    load.await
        .unwrap_or_else(|e| panic!("query loop failed: {e}"));
    assert!(answered.load(Ordering::Relaxed) > 10);
}
