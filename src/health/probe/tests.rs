//! Probes against real listeners on 127.0.0.1: healthy, unhealthy with a reason, wrong
//! answers, nobody listening, a listener that never answers, and connection reuse.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::*;

/// A status endpoint answering every request with `status` and `body`, counting the
/// connections it accepts.
async fn endpoint(status: u16, body: &'static str) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/healthz", listener.local_addr().unwrap());
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = accepted.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut buffer = vec![0u8; 4096];
                // One request per read is enough for these probes (no bodies, small heads).
                while let Ok(read) = stream.read(&mut buffer).await {
                    if read == 0 {
                        return;
                    }
                    let response = format!(
                        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    if stream.write_all(response.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (url, accepted)
}

fn prober() -> Prober {
    Prober::new(Duration::from_millis(500), None).unwrap()
}

#[tokio::test]
async fn a_healthy_region_is_reachable_and_healthy() {
    let (url, _) = endpoint(200, r#"{"status":"ok"}"#).await;
    let result = prober().probe(&url, false).await;
    assert!(result.ok, "{result:?}");
    assert_eq!(result.report, SelfReport::Healthy);
    assert_eq!(result.error, None);
}

#[tokio::test]
async fn a_503_with_its_reason_is_reachable_and_unhealthy() {
    let (url, _) = endpoint(
        503,
        r#"{"status":"unhealthy","reason":"0 of 3 backends healthy"}"#,
    )
    .await;
    let result = prober().probe(&url, false).await;
    assert!(result.ok, "{result:?}");
    assert_eq!(
        result.report,
        SelfReport::Unhealthy("0 of 3 backends healthy".to_string())
    );
}

#[tokio::test]
async fn other_answers_fail_the_probe() {
    for (status, body) in [(500, r#"{"error":"x"}"#), (200, "not json"), (404, "")] {
        let (url, _) = endpoint(status, body).await;
        let result = prober().probe(&url, false).await;
        assert!(!result.ok, "{status} {body}: {result:?}");
        assert_eq!(result.report, SelfReport::Unknown);
        assert!(result.error.unwrap().contains(&status.to_string()));
    }
}

#[tokio::test]
async fn nobody_listening_fails_fast_and_says_so() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/healthz", listener.local_addr().unwrap());
    drop(listener);
    let result = prober().probe(&url, false).await;
    assert!(!result.ok);
    assert!(
        result
            .error
            .as_deref()
            .unwrap()
            .starts_with("cannot connect"),
        "{result:?}"
    );
    assert!(result.latency < Duration::from_millis(500), "{result:?}");
}

#[tokio::test]
async fn a_listener_that_never_answers_times_out() {
    // Accepted by the kernel (backlog), never read: a black hole.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/healthz", listener.local_addr().unwrap());
    let result = prober().probe(&url, false).await;
    assert!(!result.ok);
    assert_eq!(result.error.as_deref(), Some("timed out"), "{result:?}");
    assert!(result.latency >= Duration::from_millis(450), "{result:?}");
    drop(listener);
}

#[tokio::test]
async fn pooled_probes_reuse_a_connection_and_fresh_ones_do_not() {
    let (url, accepted) = endpoint(200, r#"{"status":"ok"}"#).await;
    let prober = prober();
    for _ in 0..3 {
        assert!(prober.probe(&url, false).await.ok);
    }
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        1,
        "pooled probes opened more connections"
    );
    for _ in 0..3 {
        assert!(prober.probe(&url, true).await.ok);
    }
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        4,
        "fresh probes reused a connection"
    );
}

#[tokio::test]
async fn probes_leave_from_the_given_local_address() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/healthz", listener.local_addr().unwrap());
    let prober = Prober::new(
        Duration::from_millis(500),
        Some("127.0.0.7".parse().unwrap()),
    )
    .unwrap();
    let probing = tokio::spawn(async move { prober.probe(&url, true).await });
    let (_, from) = listener.accept().await.unwrap();
    assert_eq!(from.ip().to_string(), "127.0.0.7");
    probing.abort();
}
