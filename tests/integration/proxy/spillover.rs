//! Spillover: a region whose backends are all down passes its requests to the nearest
//! healthy region's proxy, once, and never back.

use std::time::Duration;

use meridian::health::HealthSnapshot;
use meridian::region::proxy::ProxySettings;
use tokio::net::TcpListener;

use super::backends::Backend;
use super::harness::{Harness, settings};
use super::regions::{Region, bind, down, served_by, start, three};
use super::tap::Tap;
use super::upgrade::assert_upgrade_echoes;

/// The echoed request's value of header `name`, if the backend saw it.
fn echoed<'a>(echo: &'a str, name: &str) -> Option<&'a str> {
    let head = echo.split("\n\n").next().unwrap_or_default();
    head.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(": "))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_every_local_backend_down_the_nearest_region_serves_every_request() {
    let [east, west, europe] = three().await;
    east.stop_backends().await;
    let answers = served_by(&east, 200).await;
    let failures: Vec<&String> = answers.iter().filter(|a| *a != "w").collect();
    assert!(failures.is_empty(), "not served by us-west: {failures:?}");
    assert_eq!(west.received(), 200);
    assert_eq!(europe.received(), 0);

    // A body too large to hold streams through both proxies, and the answer streams back.
    let upload = "x".repeat(200 * 1024);
    let response = east
        .proxy
        .client
        .post(east.proxy.url("/echo"))
        .header("x-forwarded-for", "203.0.113.9")
        .body(upload.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let echo = response.text().await.unwrap();
    assert!(echo.ends_with(&upload), "the body did not arrive whole");
    assert_eq!(echoed(&echo, "meridian-spillover"), None);
    assert_eq!(echoed(&echo, "via"), Some("1.1 meridian, 1.1 meridian"));
    // us-east replaced the client's forged chain; us-west kept us-east's, its peer's.
    assert_eq!(
        echoed(&echo, "x-forwarded-for"),
        Some("127.0.0.1, 127.0.0.1")
    );
}

#[tokio::test]
async fn a_spilled_request_is_never_spilled_again() {
    let (listeners, _) = bind(&["us-east", "us-west"]).await;
    let [east_listener, west_listener] = <[TcpListener; 2]>::try_from(listeners).ok().unwrap();
    // us-east reaches us-west through a tap that counts what arrives there; us-west would
    // "spill back" to a trap rather than to us-east.
    let tap = Tap::start(west_listener.local_addr().unwrap()).await;
    let trap = Backend::start("trap").await;
    let mut east_peers = meridian::region::PeerAddresses::default();
    east_peers.http.insert("us-west".to_string(), tap.addr);
    let mut west_peers = meridian::region::PeerAddresses::default();
    west_peers.http.insert("us-east".to_string(), trap.addr);
    let east = start("us-east", east_listener, &east_peers, "e", 2, |_| {}).await;
    let west = start("us-west", west_listener, &west_peers, "w", 2, |_| {}).await;
    east.stop_backends().await;
    west.stop_backends().await;

    let (status, body) = tokio::time::timeout(Duration::from_secs(5), east.proxy.get("/"))
        .await
        .expect("the request went round in circles");
    assert_eq!(status, 503);
    assert!(!body.contains("us-west"), "the page names the peer: {body}");
    let seen = tap.seen();
    assert_eq!(seen.len(), 1, "us-west saw {} spilled requests", seen.len());
    assert_eq!(seen[0]["meridian-spillover"], "us-east");
    assert_eq!(trap.received(), 0, "us-west spilled a spilled request");
    // us-west does spill a request of its own clients (to the trap, here).
    assert_eq!(
        west.proxy.get("/").await,
        (200, "backend=trap\n".to_string())
    );
    assert_eq!(trap.received(), 1);
}

#[tokio::test]
async fn an_upgrade_spills_too() {
    let [east, west, _europe] = three().await;
    east.stop_backends().await;
    assert_upgrade_echoes(east.proxy.addr).await;
    assert_eq!(west.received(), 1);
}

#[tokio::test]
async fn spillover_off_answers_503() {
    let (listeners, peers) = bind(&["us-east", "us-west"]).await;
    let [east_listener, west_listener] = <[TcpListener; 2]>::try_from(listeners).ok().unwrap();
    let mut east = start("us-east", east_listener, &peers, "e", 2, |settings| {
        settings.spillover = false;
    })
    .await;
    let west = start("us-west", west_listener, &peers, "w", 2, |_| {}).await;
    east.stop_backends().await;
    assert_eq!(served_by(&east, 5).await, ["503"; 5]);
    assert_eq!(west.received(), 0);
    // The same region with spillover on (a reload) is served by us-west.
    east.proxy.reload(settings(&east.backends));
    assert_eq!(served_by(&east, 1).await, ["w"]);
}

#[tokio::test]
async fn a_region_without_backends_spills_too() {
    let (listeners, peers) = bind(&["us-east", "us-west"]).await;
    let [east_listener, west_listener] = <[TcpListener; 2]>::try_from(listeners).ok().unwrap();
    let east = Harness::start_region(
        "us-east",
        ProxySettings::default(),
        east_listener,
        peers.clone(),
    );
    let west = start("us-west", west_listener, &peers, "w", 1, |_| {}).await;
    let (status, body) = east.get("/").await;
    assert_eq!((status, body.trim()), (200, "backend=w0"));
    assert_eq!(west.received(), 1);
}

#[tokio::test]
async fn the_spillover_header_never_reaches_a_backend_and_a_client_s_own_only_stops_its_spill() {
    let [east, west, _europe] = three().await;
    let forged = |path: &str| {
        east.proxy
            .client
            .get(east.proxy.url(path))
            .header("meridian-spillover", "elsewhere")
    };
    let echo = forged("/echo").send().await.unwrap().text().await.unwrap();
    assert!(echo.starts_with("GET /echo"), "{echo}");
    assert_eq!(echoed(&echo, "meridian-spillover"), None);

    east.stop_backends().await;
    // A request that says it was spilled already is answered here, not spilled again.
    let response = forged("/").send().await.unwrap();
    assert_eq!(response.status(), 503);
    assert_eq!(west.received(), 0);
    assert_eq!(served_by(&east, 1).await, ["w"]);
}

#[tokio::test]
async fn a_region_the_published_health_calls_down_is_skipped_for_the_next_nearest() {
    let [east, west, europe] = three().await;
    east.stop_backends().await;
    assert_eq!(served_by(&east, 3).await, ["w"; 3]);
    east.proxy.publish_health(down("us-west"));
    assert_eq!(served_by(&east, 3).await, ["u"; 3]);
    east.proxy.publish_health(HealthSnapshot::empty());
    assert_eq!(served_by(&east, 3).await, ["w"; 3]);
    assert_eq!((west.received(), europe.received()), (6, 3));
}

/// us-east with its backends down; the nearest `closed` of its peers (us-west, eu-west,
/// ap-southeast) refuse connections, the others serve (backends `u*` and `a*`).
async fn behind_closed_regions(closed: usize) -> (Region, Vec<Region>) {
    let peers_in_order = [("us-west", "w"), ("eu-west", "u"), ("ap-southeast", "a")];
    let names = peers_in_order.map(|(name, _)| name);
    let (listeners, mut peers) = bind(&names[closed..]).await;
    for name in &names[..closed] {
        // Nothing listens there any more.
        let gone = TcpListener::bind("127.0.0.1:0").await.unwrap();
        peers
            .http
            .insert(name.to_string(), gone.local_addr().unwrap());
    }
    let mut open = Vec::new();
    for ((name, prefix), listener) in peers_in_order[closed..].iter().zip(listeners) {
        open.push(start(name, listener, &peers, prefix, 1, |_| {}).await);
    }
    let east_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let east = start("us-east", east_listener, &peers, "e", 1, |_| {}).await;
    east.stop_backends().await;
    (east, open)
}

#[tokio::test]
async fn an_unreachable_region_makes_way_for_the_next_nearest() {
    let (east, open) = behind_closed_regions(1).await;
    assert_eq!(served_by(&east, 3).await, ["u"; 3]);
    assert_eq!(open[0].received(), 3);
}

#[tokio::test]
async fn two_regions_are_the_most_one_request_tries() {
    let (east, open) = behind_closed_regions(2).await;
    assert_eq!(served_by(&east, 3).await, ["503"; 3]);
    assert_eq!(open[0].received(), 0, "ap-southeast was tried third");
    // With us-west called down, ap-southeast is second: it serves.
    east.proxy.publish_health(down("us-west"));
    assert_eq!(served_by(&east, 3).await, ["a"; 3]);
}

#[tokio::test]
async fn a_spilled_request_keeps_its_forwarding_chain_only_from_a_region_s_address() {
    let [_east, west, _europe] = three().await;
    let echo = |spilled: bool| {
        let mut request = west
            .proxy
            .client
            .get(west.proxy.url("/echo"))
            .header("x-forwarded-for", "203.0.113.9");
        if spilled {
            request = request.header("meridian-spillover", "us-east");
        }
        async move { request.send().await.unwrap().text().await.unwrap() }
    };
    // 127.0.0.1 is where every region's proxy listens here: a spill from it is trusted.
    let spilled = echo(true).await;
    assert_eq!(
        echoed(&spilled, "x-forwarded-for"),
        Some("203.0.113.9, 127.0.0.1")
    );
    // The same client without the header is any client: its chain is replaced.
    let plain = echo(false).await;
    assert_eq!(echoed(&plain, "x-forwarded-for"), Some("127.0.0.1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backends_that_died_before_their_health_caught_up_are_spilled_past() {
    let (listeners, peers) = bind(&["us-east", "us-west"]).await;
    let [east, west] = <[TcpListener; 2]>::try_from(listeners).ok().unwrap();
    // Checks an hour apart: only the requests themselves can notice the dead backends.
    let slow_checks = |settings: &mut ProxySettings| {
        settings.health.interval = Duration::from_secs(3600);
        settings.health.fast_interval = Duration::from_secs(3600);
    };
    let east = start("us-east", east, &peers, "e", 2, slow_checks).await;
    let west = start("us-west", west, &peers, "w", 2, |_| {}).await;
    east.proxy
        .wait_health("both backends healthy", |health| {
            health.healthy_backends == 2
        })
        .await;
    for backend in &east.backends {
        backend.stop();
    }
    // The first requests still pick a local backend, are refused before anything is sent,
    // try the other one, are refused again: nothing was sent, so they spill rather than fail.
    let answers = served_by(&east, 50).await;
    let failures: Vec<&String> = answers.iter().filter(|a| *a != "w").collect();
    assert!(failures.is_empty(), "not served by us-west: {failures:?}");
    assert_eq!(west.received(), 50);
}
