//! Sticky sessions: the signed cookie keeps a client on its backend, a tampered one is
//! ignored, and the configured policy applies when the backend dies.

use std::time::Duration;

use meridian::region::proxy::{Sticky, StickyDown};

use super::backends::Backend;
use super::harness::{Harness, backend_of, settings};

fn sticky(on_down: StickyDown) -> Sticky {
    Sticky {
        cookie: "mb".to_string(),
        lifetime: Some(Duration::from_secs(600)),
        on_down,
    }
}

/// GET / with `cookie`: (status, backend, Set-Cookie value if any).
async fn get(harness: &Harness, cookie: Option<&str>) -> (u16, String, Option<String>) {
    let mut request = harness.client.get(harness.url("/"));
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let set = response
        .headers()
        .get("set-cookie")
        .map(|v| v.to_str().unwrap().to_string());
    let body = response.text().await.unwrap();
    (status, backend_of(&body).to_string(), set)
}

fn pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().to_string()
}

#[tokio::test]
async fn the_cookie_keeps_a_client_on_its_backend() {
    let backends = vec![
        Backend::start("s0").await,
        Backend::start("s1").await,
        Backend::start("s2").await,
    ];
    let mut settings = settings(&backends);
    settings.sticky = Some(sticky(StickyDown::Repick));
    let harness = Harness::start(settings).await;
    let (status, first, set) = get(&harness, None).await;
    assert_eq!(status, 200);
    let set = set.expect("no Set-Cookie on the first request");
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Lax") && set.contains("Max-Age=600"),
        "{set}"
    );
    let cookie = pair(&set);
    for _ in 0..10 {
        let (status, backend, set) = get(&harness, Some(&cookie)).await;
        assert_eq!((status, backend.as_str()), (200, first.as_str()));
        assert_eq!(set, None, "cookie rewritten while the backend is up");
    }
}

#[tokio::test]
async fn a_tampered_cookie_is_ignored_and_replaced() {
    let backends = vec![Backend::start("t0").await, Backend::start("t1").await];
    let mut settings = settings(&backends);
    settings.sticky = Some(sticky(StickyDown::Repick));
    let harness = Harness::start(settings).await;
    let (_, _, set) = get(&harness, None).await;
    let cookie = pair(&set.unwrap());
    // Point the cookie at the other backend, keeping the tag: the tag no longer verifies.
    let forged = if cookie.contains("t0.") {
        cookie.replace("t0.", "t1.")
    } else {
        cookie.replace("t1.", "t0.")
    };
    for junk in [forged.as_str(), "mb=t0", "mb=t1.00", "mb="] {
        let (status, _, set) = get(&harness, Some(junk)).await;
        assert_eq!(status, 200, "{junk}");
        let set = set.unwrap_or_else(|| panic!("{junk}: not re-picked"));
        assert_ne!(pair(&set), junk);
    }
}

#[tokio::test]
async fn when_the_backend_dies_repick_moves_the_client_and_strict_answers_503() {
    let backends = vec![Backend::start("d0").await, Backend::start("d1").await];
    let mut settings = settings(&backends);
    settings.sticky = Some(sticky(StickyDown::Repick));
    let harness = Harness::start(settings.clone()).await;
    let (_, first, set) = get(&harness, None).await;
    let cookie = pair(&set.unwrap());
    let dead = backends.iter().find(|b| b.id == first).unwrap();
    dead.stop();
    harness
        .wait_health("sticky backend down", |h| h.healthy_backends == 1)
        .await;
    let (status, moved, set) = get(&harness, Some(&cookie)).await;
    assert_eq!(status, 200);
    assert_ne!(moved, first);
    let set = set.expect("cookie not rewritten after a re-pick");
    assert!(set.contains(&format!("{moved}.")), "{set}");

    dead.restart().await;
    let mut strict = settings;
    strict.sticky = Some(sticky(StickyDown::Strict));
    let harness = Harness::start(strict).await;
    let (_, owner, set) = get(&harness, None).await;
    let cookie = pair(&set.unwrap());
    backends.iter().find(|b| b.id == owner).unwrap().stop();
    // Before the proxy knows: a failed attempt is not retried on another backend. The
    // third failure ejects the backend.
    for _ in 0..3 {
        let (status, _, _) = get(&harness, Some(&cookie)).await;
        assert_eq!(
            status, 503,
            "strict stickiness moved the session on a retry"
        );
    }
    harness
        .wait_health("strict backend ejected", |h| h.healthy_backends == 1)
        .await;
    let (status, _, _) = get(&harness, Some(&cookie)).await;
    assert_eq!(status, 503, "strict stickiness moved the session");
}
