//! The last seconds' requests, errors and p99 per backend, as the region reports them for
//! the dashboard.

use std::time::{Duration, Instant};

use super::backends::Backend;
use super::harness::{Harness, settings};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_backend_reports_its_recent_rate_errors_and_p99() {
    let good = Backend::start("good").await;
    let bad = Backend::start("bad").await;
    let mut proxy_settings = settings(&[good.clone(), bad.clone()]);
    // No retries: each request goes to the one backend picked, so both get some.
    proxy_settings.retries.attempts = 0;
    bad.set_status(500);
    good.set_delay(30);
    let proxy = Harness::start(proxy_settings).await;
    let started = Instant::now();
    let mut sent = 0;
    while sent < 40 {
        let _ = proxy.get("/").await;
        sent += 1;
    }
    // Readings cover complete seconds: wait until the sending second is over.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let elapsed = started.elapsed().as_secs_f64();
    proxy
        .wait_health("every request counted", |health| {
            let total: f64 = health.backends.iter().map(|b| b.requests_per_second).sum();
            // The span is 5 s: 40 requests read as 8 per second.
            (total - 40.0 / 5.0).abs() < 1e-9
        })
        .await;
    let health = proxy.local_health.load();
    let report = |id: &str| health.backends.iter().find(|b| b.id == id).unwrap();
    let good = report("good");
    let bad = report("bad");
    assert!(good.requests_per_second > 0.0, "{good:?}");
    assert_eq!(good.error_rate, Some(0.0), "{good:?}");
    // The 30 ms delay lands in the (20, 50] ms bucket.
    assert_eq!(good.p99_ms, Some(50.0), "{good:?} after {elapsed:.1} s");
    assert_eq!(bad.error_rate, Some(1.0), "{bad:?}");
}
