//! The status listener: `/healthz` and the token-guarded reload, through the router without a
//! socket (`oneshot`) and through a node's real listener.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use http_body_util::BodyExt;
use meridian::dashboard::{NodeIdentity, StatusState, router};
use meridian::health::monitor::Monitor;
use serde_json::Value;
use tower::ServiceExt;

use crate::live::ConfigDir;
use crate::support::*;

pub(crate) fn state(server: &Server, token: Option<&str>) -> Arc<StatusState> {
    let state_dir = std::env::temp_dir().join(format!("meridian-status-{}", std::process::id()));
    state_in(server, token, &state_dir)
}

/// The status state of a node whose operator state file goes to `state_dir`, kept out of the
/// repository (and, for tests that change it, out of the other tests' way).
pub(crate) fn state_in(server: &Server, token: Option<&str>, state_dir: &Path) -> Arc<StatusState> {
    let mut health = server.reloader.view().load().config.health.clone();
    health.state_dir = state_dir.to_path_buf();
    Arc::new(StatusState {
        identity: NodeIdentity {
            region: "us-east".to_string(),
            node: "n1".to_string(),
            version: "9.9.9",
            started: Instant::now(),
        },
        reloader: server.reloader.clone(),
        fallback_token: token.map(|t| meridian::config::AdminToken::generated(t.to_string())),
        local_health: Default::default(),
        shutdown: tokio_util::sync::CancellationToken::new(),
        backends: None,
        monitor: Arc::new(Monitor::new("us-east", &health).unwrap_or_else(|e| panic!("{e}"))),
    })
}

/// One request through the router: status, headers and the body (not read for event
/// streams, which never end).
pub(crate) async fn exchange(
    state: Arc<StatusState>,
    method: &str,
    uri: &str,
    token: Option<&str>,
) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    let mut request = Request::builder().method(method).uri(uri);
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let response = router(state)
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    if headers.get(header::CONTENT_TYPE).map(|v| v.as_bytes()) == Some(b"text/event-stream") {
        return (status, headers, Vec::new());
    }
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, headers, body.to_vec())
}

/// [`exchange`], the body read as JSON (`Null` when it is not: axum's 405 has none).
pub(crate) async fn call(
    state: Arc<StatusState>,
    method: &str,
    uri: &str,
    token: Option<&str>,
) -> (StatusCode, Value) {
    let (status, _, body) = exchange(state, method, uri, token).await;
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_names_the_node_and_its_config() {
    let server = Server::start(CITY).await;
    let (status, body) = call(state(&server, None), "GET", "/healthz", None).await;
    assert_eq!(status, StatusCode::OK);
    let view = server.view();
    assert_eq!(body["region"], "us-east");
    assert_eq!(body["node"], "n1");
    assert_eq!(body["version"], "9.9.9");
    assert_eq!(body["config_hash"], view.config.content_hash.as_str());
    assert_eq!(body["config_hash"].as_str().unwrap().len(), 64);
    assert_eq!(body["view_generation"], view.generation);
    assert!(body["uptime_seconds"].is_u64());
    assert_eq!(body["reloads"]["failed"], 0);

    let (status, body) = call(state(&server, None), "GET", "/nope", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body["error"].is_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bearer_scheme_is_read_in_any_letter_case() {
    let server = Server::start(CITY).await;
    let token = "a-token-of-some-length";
    let status = |authorization: &'static str| {
        let state = state(&server, Some(token));
        async move {
            let request = Request::builder()
                .method("POST")
                .uri("/-/reload")
                .header(header::AUTHORIZATION, authorization)
                .body(Body::empty())
                .unwrap();
            router(state).oneshot(request).await.unwrap().status()
        }
    };
    for accepted in [
        "Bearer a-token-of-some-length",
        "bearer a-token-of-some-length",
        "BEARER a-token-of-some-length",
        "Bearer  a-token-of-some-length ",
    ] {
        // The reload ran (nothing changed on disk: 200 "unchanged").
        assert_eq!(status(accepted).await, StatusCode::OK, "{accepted}");
    }
    for (refused, expected) in [
        ("Basic a-token-of-some-length", StatusCode::UNAUTHORIZED),
        ("Bearera-token-of-some-length", StatusCode::UNAUTHORIZED),
        ("a-token-of-some-length", StatusCode::UNAUTHORIZED),
        ("bearer not-the-token", StatusCode::FORBIDDEN),
    ] {
        assert_eq!(status(refused).await, expected, "{refused}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_needs_the_token() {
    let config = ConfigDir::new();
    let server = Server::start_from(config.source()).await;
    let token = "a-token-of-some-length";
    let guarded = || state(&server, Some(token));

    let (status, _) = call(state(&server, None), "POST", "/-/reload", Some(token)).await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "no token configured: admin is off"
    );
    let (status, _) = call(guarded(), "POST", "/-/reload", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = call(
        guarded(),
        "POST",
        "/-/reload",
        Some("a-token-of-some-lengtX"),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = call(guarded(), "GET", "/-/reload", Some(token)).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    // None of those reloaded anything.
    assert_eq!(
        server
            .reloader
            .stats
            .unchanged
            .load(std::sync::atomic::Ordering::Relaxed),
        0
    );

    let (status, body) = call(guarded(), "POST", "/-/reload", Some(token)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["outcome"], "unchanged");

    config.set_answer_ttl(61);
    let (status, body) = call(guarded(), "POST", "/-/reload", Some(token)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["outcome"], "applied");
    assert_eq!(
        body["config_hash"],
        server.view().config.content_hash.as_str()
    );

    config.write_main("this is not toml [");
    let (status, body) = call(guarded(), "POST", "/-/reload", Some(token)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        body["error"].as_str().unwrap().contains("meridian.toml"),
        "{body}"
    );
    assert_eq!(server.view().config.answer.ttl, 61);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_node_serves_its_status_listener() {
    let server = Server::start(CITY).await;
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let url = format!("http://{}/healthz", server.status);
    let body: Value = serde_json::from_str(
        &client
            .get(&url)
            .timeout(EXCHANGE_TIMEOUT)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        body["config_hash"],
        server.view().config.content_hash.as_str()
    );
    let reload = format!("http://{}/-/reload", server.status);
    let response = client
        .post(&reload)
        .bearer_auth(ADMIN_TOKEN)
        .timeout(EXCHANGE_TIMEOUT)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), reqwest::StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_s_probe_reads_a_node_s_healthz_as_reachable_and_healthy() {
    let server = Server::start(CITY).await;
    let prober = meridian::health::probe::Prober::new(EXCHANGE_TIMEOUT, None).unwrap();
    let url = format!("http://{}/healthz", server.status);
    for fresh in [false, true] {
        let result = prober.probe(&url, fresh).await;
        assert!(result.ok, "{result:?}");
        assert_eq!(result.report, meridian::health::quorum::SelfReport::Healthy);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_served_in_the_prometheus_text_format() {
    let server = Server::start(CITY).await;
    // One reload, so a counter of the status listener's own making has a value to show.
    let reload = reqwest::Client::new()
        .post(format!("http://{}/-/reload", server.status))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(reload.status(), 200);
    let response = reqwest::get(format!("http://{}/metrics", server.status))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let content_type = response.headers()[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    let text = response.text().await.unwrap();
    assert!(text.contains("meridian_build_info{version=\""), "{text}");
    assert!(
        text.contains("meridian_config_reloads_total{outcome=\"unchanged\"}"),
        "{text}"
    );
    // Every sample line is `name{labels} value` or `name value`, with a number.
    for line in text
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let (series, value) = line.rsplit_once(' ').unwrap();
        assert!(value.parse::<f64>().is_ok(), "{line}");
        let name = series.split('{').next().unwrap();
        assert!(
            name.starts_with("meridian_")
                && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'),
            "{line}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_explains_an_answer_and_shows_one_region() {
    let server = Server::start(CITY).await;
    let state = state(&server, Some(ADMIN_TOKEN));
    let (status, report) = call(
        state.clone(),
        "GET",
        "/api/v1/explain?name=www.gtm.test&client=81.2.69.142",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["response_code"], "NOERROR", "{report}");
    let answers = report["answers"].as_array().unwrap();
    assert!(
        answers
            .iter()
            .any(|a| a.as_str().unwrap().contains("198.18.3.")),
        "London is answered from eu-west: {report}"
    );
    for (uri, says) in [
        ("/api/v1/explain?name=www.gtm.test", "give name= "),
        (
            "/api/v1/explain?name=www.gtm.test&client=nowhere",
            "client \"nowhere\"",
        ),
        (
            "/api/v1/explain?name=www.gtm.test&client=81.2.69.1&type=BOGUS",
            "not a record type",
        ),
    ] {
        let (status, body) = call(state.clone(), "GET", uri, None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}");
        assert!(
            body["error"].as_str().unwrap().contains(says),
            "{uri}: {body}"
        );
    }
    let (status, region) = call(state.clone(), "GET", "/api/v1/regions/eu-west", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(region["name"], "eu-west");
    assert_eq!(region["up"], true);
    let (status, body) = call(state.clone(), "GET", "/api/v1/regions/mars", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(
        body["error"].as_str().unwrap().contains("known: "),
        "{body}"
    );
    // Operator actions need the token: 401 without, 403 with a wrong one.
    let drain = "/api/v1/regions/eu-west/drain";
    assert_eq!(
        call(state.clone(), "POST", drain, None).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        call(state.clone(), "POST", drain, Some("not-the-token-at-all"))
            .await
            .0,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_event_stream_delivers_a_change_and_ends_with_the_node() {
    let server = Server::start(CITY).await;
    let state = state(&server, None);
    let response = router(state.clone())
        .oneshot(
            Request::builder()
                .uri("/api/v1/events/stream")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()[header::CONTENT_TYPE],
        "text/event-stream"
    );
    let mut body = response.into_body();
    state.monitor.timeline.record(
        meridian::health::events::EventKind::Verdict,
        "eu-west",
        "up",
        "down",
        "2 of 3 vantage points vote down",
        vec!["us-east".to_string(), "ap-southeast".to_string()],
    );
    let frame = tokio::time::timeout(std::time::Duration::from_secs(2), body.frame())
        .await
        .expect("no event within 2 s")
        .unwrap()
        .unwrap();
    let text = String::from_utf8(frame.into_data().unwrap().to_vec()).unwrap();
    assert!(text.contains("event: health\n"), "{text}");
    assert!(text.contains("id: 1\n"), "{text}");
    assert!(text.contains("\"region\":\"eu-west\""), "{text}");
    assert!(text.contains("\"to\":\"down\""), "{text}");
    // The node stops: the stream ends rather than holding the listener's drain.
    state.shutdown.cancel();
    let end = tokio::time::timeout(std::time::Duration::from_secs(2), body.frame())
        .await
        .expect("the stream outlived its node");
    assert!(end.is_none(), "{end:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_string_that_cannot_be_read_is_a_json_400() {
    // Found by schemathesis: axum's own rejection was plain text.
    let server = Server::start(CITY).await;
    let (status, body) = call(
        state(&server, None),
        "GET",
        "/api/v1/explain?name=www.gtm.test&client=81.2.69.1&client=81.2.69.2",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let error = body["error"]
        .as_str()
        .unwrap_or_else(|| panic!("not JSON: {body}"));
    assert!(error.contains("duplicate field `client`"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_path_that_cannot_be_read_is_a_json_400_after_the_token() {
    // A region name that is not UTF-8 once decoded: axum's own rejection was plain text.
    let server = Server::start(CITY).await;
    let state = state(&server, Some(ADMIN_TOKEN));
    for (method, uri, token) in [
        ("GET", "/api/v1/regions/%FF", None),
        ("POST", "/api/v1/regions/%FF/drain", Some(ADMIN_TOKEN)),
    ] {
        let (status, body) = call(state.clone(), method, uri, token).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}");
        let error = body["error"]
            .as_str()
            .unwrap_or_else(|| panic!("not JSON: {body}"));
        assert!(error.contains("Invalid UTF-8"), "{uri}: {error}");
    }
    // An admin action checks the token before it reads the path.
    let (status, _) = call(state, "POST", "/api/v1/regions/%FF/drain", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

/// The value of one sample line of an exposition, 0 when the series is absent.
fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .map_or(0.0, |value| value.parse().unwrap_or_else(|e| panic!("{e}")))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dns_queries_are_counted_on_the_cache_path_and_the_full_path_alike() {
    let server = Server::start(CITY).await;
    let london = || query_ecs("www.gtm.test", RecordType::A, "81.2.69.142", 32);
    // The first answer takes the full path, the next two come from the reply cache.
    for _ in 0..3 {
        assert_eq!(region_of(&server.udp(&london()).await), "eu-west");
    }
    let missing = server
        .udp(&query("nosuch.gtm.test", RecordType::AAAA))
        .await;
    assert_eq!(missing.metadata.response_code, ResponseCode::NXDomain);
    for _ in 0..2 {
        assert_eq!(region_of(&server.tcp(&london()).await), "eu-west");
    }
    // A TCP answer's time is recorded once its write returns, which may be after the client
    // has read it: wait (bounded) for the second one.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let text = loop {
        let text = reqwest::get(format!("http://{}/metrics", server.status))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let tcp_timed = sample(
            &text,
            r#"meridian_dns_answer_duration_seconds_count{protocol="tcp"}"#,
        );
        if tcp_timed >= 2.0 || std::time::Instant::now() > deadline {
            break text;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    };
    let queries = |labels: &str| sample(&text, &format!("meridian_dns_queries_total{{{labels}}}"));
    assert_eq!(
        queries(r#"protocol="udp",qtype="A",rcode="NOERROR",region="eu-west""#),
        3.0,
        "{text}"
    );
    assert_eq!(
        queries(r#"protocol="udp",qtype="AAAA",rcode="NXDOMAIN",region="none""#),
        1.0,
        "{text}"
    );
    assert_eq!(
        queries(r#"protocol="tcp",qtype="A",rcode="NOERROR",region="eu-west""#),
        2.0,
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            r#"meridian_dns_steered_answers_total{continent="EU",region="eu-west"}"#
        ),
        5.0,
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            r#"meridian_dns_answer_duration_seconds_count{protocol="udp"}"#
        ),
        4.0,
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            r#"meridian_dns_answer_duration_seconds_count{protocol="tcp"}"#
        ),
        2.0,
        "{text}"
    );
}
