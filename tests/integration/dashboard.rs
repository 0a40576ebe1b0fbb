//! The dashboard page, its assets and its live stream, through the router without a socket.

use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use meridian::dashboard::router;
use tower::ServiceExt;

use crate::status::{call, state};
use crate::support::*;

/// GET `uri`: status, content type, body.
async fn get(server: &Server, uri: &str) -> (StatusCode, String, String, axum::http::HeaderMap) {
    let response = router(state(server, None))
        .oneshot(Request::builder().uri(uri).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        content_type,
        String::from_utf8_lossy(&body).into_owned(),
        headers,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_and_its_assets_are_served_under_a_strict_policy() {
    let server = Server::start(CITY).await;
    let (status, content_type, body, headers) = get(&server, "/").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type, "text/html; charset=utf-8");
    assert!(body.contains("<script src=\"/assets/app.js\""), "{body}");
    let policy = headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(policy.contains("script-src 'self'"), "{policy}");
    assert!(!policy.contains("unsafe"), "{policy}");
    assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    for (asset, expected_type, marker) in [
        ("app.js", "text/javascript; charset=utf-8", "EventSource"),
        (
            "style.css",
            "text/css; charset=utf-8",
            "prefers-color-scheme: dark",
        ),
        ("world.svg", "image/svg+xml", "<path"),
    ] {
        let (status, content_type, body, _) = get(&server, &format!("/assets/{asset}")).await;
        assert_eq!(status, StatusCode::OK, "{asset}");
        assert_eq!(content_type, expected_type, "{asset}");
        assert!(body.contains(marker), "{asset} lacks {marker}");
    }
    let (status, content_type, body, _) = get(&server, "/assets/..%2Fmeridian.toml").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert!(content_type.starts_with("application/json"));
}

#[test]
fn the_page_never_builds_markup_from_data() {
    // The CSP forbids inline code; the script must show every name as text.
    let script = include_str!("../../src/dashboard/assets/app.js");
    for banned in [
        "innerHTML",
        "outerHTML",
        "insertAdjacentHTML",
        "document.write",
        "eval(",
        "new Function",
    ] {
        assert!(!script.contains(banned), "app.js uses {banned}");
    }
    let html = include_str!("../../src/dashboard/assets/index.html");
    assert!(!html.contains("<script>"), "inline script in index.html");
    assert!(!html.contains(" style="), "inline style in index.html");
    let handler = html.split(" on").skip(1).find(|rest| {
        let name_len = rest.bytes().take_while(u8::is_ascii_lowercase).count();
        name_len > 0 && rest[name_len..].starts_with('=')
    });
    assert!(
        handler.is_none(),
        "inline handler in index.html: on{handler:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_names_come_back_as_json_that_decodes_to_exactly_what_was_sent() {
    let server = Server::start(CITY).await;
    let hostile = "<script>alert(\"x\")</script>\\\n";
    let encoded: String = hostile.bytes().map(|b| format!("%{b:02X}")).collect();
    let (status, content_type, body, headers) =
        get(&server, &format!("/api/v1/regions/{encoded}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(content_type, "application/json");
    assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    let error: serde_json::Value = serde_json::from_str(&body).unwrap();
    let message = error["error"].as_str().unwrap();
    assert!(
        message.contains(&format!("{hostile:?}")),
        "the name is quoted as sent: {message}"
    );
    let (status, body) = call(
        state(&server, None),
        "GET",
        &format!("/api/v1/explain?name={encoded}&client=81.2.69.142"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("<script>"),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_regions_api_places_each_region_and_lists_its_backends() {
    let server = Server::start(CITY).await;
    let (status, body) = call(state(&server, None), "GET", "/api/v1/regions", None).await;
    assert_eq!(status, StatusCode::OK);
    let regions = body["regions"].as_array().unwrap();
    assert_eq!(regions.len(), server.view().config.regions.len(), "{body}");
    for region in regions {
        assert!(region["latitude"].is_f64(), "{region}");
        assert!(region["longitude"].is_f64(), "{region}");
        assert!(region["capacity"].is_u64(), "{region}");
        assert!(region["backends"].is_array(), "{region}");
        assert!(region["backends_fresh"].is_boolean(), "{region}");
    }
    let (status, body) = call(
        state(&server, None),
        "GET",
        "/api/v1/explain?name=www.gtm.test&client=81.2.69.0/24",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let text = body["text"].as_str().unwrap();
    assert!(text.starts_with("query      www.gtm.test. A\n"), "{text}");
    assert!(text.contains("eu-west"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dns_totals_follow_the_queries_answered() {
    let server = Server::start(CITY).await;
    for _ in 0..2 {
        server
            .udp(&query_ecs(
                "www.gtm.test",
                hickory_proto::rr::RecordType::A,
                "81.2.69.142",
                32,
            ))
            .await;
    }
    let (status, body) = call(state(&server, None), "GET", "/api/v1/dns", None).await;
    assert_eq!(status, StatusCode::OK);
    let totals = &body["totals"];
    assert_eq!(totals["queries"], 2, "{body}");
    assert_eq!(totals["by_region"]["eu-west"], 2, "{body}");
    assert_eq!(totals["by_continent"]["EU"], 2, "{body}");
    assert_eq!(totals["by_rcode"]["NOERROR"], 2, "{body}");
    assert_eq!(totals["by_protocol"]["udp"], 2, "{body}");
    assert!(body["at_unix_ms"].as_u64().unwrap() > 0);
}

/// The next server-sent event of `body`: (event name, data).
pub(crate) async fn next_event(body: &mut Body) -> (String, String) {
    let mut text = String::new();
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(3), body.frame())
            .await
            .expect("no event within 3 s")
            .expect("the stream ended")
            .unwrap();
        if let Ok(data) = frame.into_data() {
            text.push_str(&String::from_utf8_lossy(&data));
        }
        if let Some((event, _rest)) = text.split_once("\n\n") {
            let name = event
                .lines()
                .find_map(|l| l.strip_prefix("event: "))
                .unwrap_or("")
                .to_string();
            let data = event
                .lines()
                .filter_map(|l| l.strip_prefix("data: "))
                .collect::<Vec<_>>()
                .join("\n");
            if name.is_empty() {
                // A keep-alive comment.
                text.clear();
                continue;
            }
            return (name, data);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_stream_sends_a_snapshot_at_once_and_the_change_after_an_event() {
    let server = Server::start(CITY).await;
    let state = state(&server, None);
    let response = router(state.clone())
        .oneshot(
            Request::builder()
                .uri("/api/v1/dashboard/stream")
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
    let (name, data) = next_event(&mut body).await;
    assert_eq!(name, "snapshot");
    let snapshot: serde_json::Value = serde_json::from_str(&data).unwrap();
    assert_eq!(snapshot["region"], "us-east");
    assert_eq!(
        snapshot["regions"]["regions"].as_array().unwrap().len(),
        server.view().config.regions.len()
    );
    assert!(snapshot["nodes"]["nodes"].is_array(), "{snapshot}");
    assert!(snapshot["dns"]["totals"]["queries"].is_u64(), "{snapshot}");

    state.monitor.timeline.record(
        meridian::health::events::EventKind::Verdict,
        "eu-west",
        "up",
        "down",
        "2 of 3 vantage points vote down",
        vec!["us-east".to_string()],
    );
    // The event, then a snapshot right behind it (before the next tick is due).
    let (name, data) = next_event(&mut body).await;
    assert_eq!(name, "health", "{data}");
    assert!(data.contains("\"to\":\"down\""), "{data}");
    let (name, _) = next_event(&mut body).await;
    assert_eq!(name, "snapshot");
    state.shutdown.cancel();
    let end = tokio::time::timeout(Duration::from_secs(2), async {
        loop {
            match body.frame().await {
                None => return,
                Some(_) => continue,
            }
        }
    })
    .await;
    assert!(end.is_ok(), "the stream outlived its node");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_path_that_is_not_utf8_gets_a_json_error_and_the_token_is_asked_first() {
    let server = Server::start(CITY).await;
    let (status, content_type, body, _) = get(&server, "/assets/%FF").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    let (status, body) = call(
        state(&server, Some("a-token-of-16-chars")),
        "POST",
        "/api/v1/regions/us-east/backends/%FF/drain",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    let (status, body) = call(
        state(&server, Some("a-token-of-16-chars")),
        "POST",
        "/api/v1/regions/us-east/backends/%FF/drain",
        Some("a-token-of-16-chars"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body["error"].is_string(), "{body}");
}
