//! Backends stopped and restarted under a steady stream of GETs, one black-holed: no
//! client request fails.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use meridian::region::proxy::RetryOn;

use super::backends::Backend;
use super::harness::{Harness, settings};

const CLIENTS: usize = 6;
const RUN: Duration = Duration::from_secs(4);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_idempotent_request_fails_while_backends_come_and_go() {
    let backends = vec![
        Backend::start("k0").await,
        Backend::start("k1").await,
        Backend::start("k2").await,
        Backend::start("k3").await,
    ];
    let mut settings = settings(&backends);
    settings.timeouts.response_head = Duration::from_millis(400);
    settings.retries.attempts = 3;
    settings.retries.idempotent_on = vec![RetryOn::Timeout];
    // Every client may be retrying at once; the default budget would cap them at 3.
    settings.retries.budget_min = CLIENTS as u32;
    let harness = Arc::new(Harness::start(settings).await);
    backends[3].hang();

    let (ok, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let end = Instant::now() + RUN;
    let mut clients = Vec::new();
    for _ in 0..CLIENTS {
        let (harness, ok, failed) = (harness.clone(), ok.clone(), failed.clone());
        clients.push(tokio::spawn(async move {
            for _ in 0..100_000 {
                if Instant::now() >= end {
                    break;
                }
                let response = harness.client.get(harness.url("/")).send().await;
                match response.map(|r| r.status().as_u16()) {
                    Ok(200) => ok.fetch_add(1, Ordering::Relaxed),
                    other => {
                        eprintln!("failed: {other:?}");
                        failed.fetch_add(1, Ordering::Relaxed)
                    }
                };
            }
        }));
    }
    // Chaos: stop one backend at a time, restart it, next one; k3 stays black-holed.
    let mut round = 0;
    while Instant::now() + Duration::from_millis(400) < end {
        let victim = &backends[round % 3];
        victim.stop();
        tokio::time::sleep(Duration::from_millis(250)).await;
        victim.restart().await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        round += 1;
    }
    for client in clients {
        client.await.unwrap();
    }
    let (ok, failed) = (ok.load(Ordering::Relaxed), failed.load(Ordering::Relaxed));
    eprintln!("chaos: {ok} ok, {failed} failed, {round} stop/start rounds");
    assert!(round >= 5, "only {round} chaos rounds");
    assert!(ok > 500, "only {ok} requests went through");
    assert_eq!(failed, 0, "{failed} of {} requests failed", ok + failed);
}
