//! The status listener's OpenAPI document (`src/dashboard/openapi.json`): served as JSON at
//! `/api/v1/openapi.json`, describing exactly the routes the router serves, and real
//! responses validating against the schemas it gives for their status. `tests/api.sh` runs
//! schemathesis against a real node with the same document.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use meridian::dashboard::router;
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::dashboard::next_event;
use crate::status::{exchange, state_in};
use crate::support::*;

/// The committed document, as the binary embeds it.
const DOCUMENT: &str = include_str!("../../src/dashboard/openapi.json");

/// Every operation the document must describe: a route added to the router without its
/// documentation, or documentation without its route, fails the tests below.
const OPERATIONS: &[(&str, &str)] = &[
    ("get", "/healthz"),
    ("post", "/-/reload"),
    ("get", "/metrics"),
    ("get", "/api/v1/openapi.json"),
    ("get", "/api/v1/regions"),
    ("get", "/api/v1/regions/{name}"),
    ("post", "/api/v1/regions/{name}/{action}"),
    ("post", "/api/v1/regions/{name}/backends/{id}/{action}"),
    ("get", "/api/v1/events"),
    ("get", "/api/v1/events/stream"),
    ("get", "/api/v1/nodes"),
    ("get", "/api/v1/dns"),
    ("get", "/api/v1/dashboard/stream"),
    ("get", "/api/v1/explain"),
];

fn document() -> Value {
    serde_json::from_str(DOCUMENT).unwrap()
}

/// The `(method, path)` of every operation in `document`.
fn documented_operations(document: &Value) -> BTreeSet<(String, String)> {
    let mut operations = BTreeSet::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            operations.insert((method.clone(), path.clone()));
        }
    }
    operations
}

/// The paths given to `.route(...)` anywhere in `src/dashboard/`, read from the source: the
/// router cannot list its routes, and a new file of routes is caught as well.
fn routes_in_source() -> BTreeSet<String> {
    let mut routes = BTreeSet::new();
    let folder = repo("src/dashboard");
    for entry in std::fs::read_dir(&folder).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|ext| ext != "rs") {
            continue;
        }
        let source = std::fs::read_to_string(&path).unwrap();
        for (at, _) in source.match_indices(".route(") {
            let rest = source[at + ".route(".len()..].trim_start();
            if let Some(literal) = rest.strip_prefix('"') {
                routes.insert(literal[..literal.find('"').unwrap()].to_string());
            }
        }
    }
    routes
}

/// `path` with its parameters filled in from the document's examples, and `query` appended.
fn example_uri(document: &Value, method: &str, path: &str) -> String {
    let operation = &document["paths"][path][method];
    let mut uri = path.to_string();
    let mut query = Vec::new();
    for parameter in operation["parameters"].as_array().into_iter().flatten() {
        let parameter = resolve(document, parameter);
        let name = parameter["name"].as_str().unwrap();
        let example = parameter["example"]
            .as_str()
            .or_else(|| parameter["schema"]["enum"][0].as_str())
            .unwrap_or_else(|| panic!("{method} {path}: parameter {name} has no example"));
        match parameter["in"].as_str().unwrap() {
            "path" => uri = uri.replace(&format!("{{{name}}}"), example),
            "query" if parameter["required"] == true => query.push(format!("{name}={example}")),
            _ => {}
        }
    }
    if !query.is_empty() {
        uri = format!("{uri}?{}", query.join("&"));
    }
    uri
}

/// `value`, or what its `$ref` (a local `#/...` pointer) points to.
fn resolve<'a>(document: &'a Value, value: &'a Value) -> &'a Value {
    match value["$ref"].as_str() {
        Some(reference) => document
            .pointer(reference.strip_prefix('#').unwrap())
            .unwrap_or_else(|| panic!("dangling {reference}")),
        None => value,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_is_served_and_names_every_route_the_router_serves() {
    let server = Server::start(CITY).await;
    let state_dir = tempfile::tempdir().unwrap();
    let state = state_in(&server, Some(ADMIN_TOKEN), state_dir.path());

    let (status, headers, body) =
        exchange(state.clone(), "GET", "/api/v1/openapi.json", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "application/json");
    let served: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        served,
        document(),
        "the binary serves the committed document"
    );
    assert_eq!(served["openapi"], "3.1.0");
    assert_eq!(served["info"]["version"], env!("CARGO_PKG_VERSION"));

    let documented = documented_operations(&served);
    let expected: BTreeSet<(String, String)> = OPERATIONS
        .iter()
        .map(|(method, path)| (method.to_string(), path.to_string()))
        .collect();
    assert_eq!(documented, expected);

    // Every route of the router under /api/v1 is documented, and every documented path is a
    // route (the second half shows that the source was read at all).
    let routes = routes_in_source();
    let documented_paths: BTreeSet<String> = documented.iter().map(|(_, p)| p.clone()).collect();
    let undocumented: Vec<&String> = routes
        .iter()
        .filter(|route| route.starts_with("/api/") && !documented_paths.contains(*route))
        .collect();
    assert!(
        undocumented.is_empty(),
        "routes missing from src/dashboard/openapi.json: {undocumented:?}"
    );
    let unrouted: Vec<&String> = documented_paths.difference(&routes).collect();
    assert!(
        unrouted.is_empty(),
        "documented, but no .route() in src/dashboard: {unrouted:?}"
    );

    // Each documented operation reaches a handler: not the router's fallback, and not a 405
    // for the documented method. Without a token, admin actions stop at 401 and change
    // nothing.
    for (method, path) in &documented {
        let uri = example_uri(&served, method, path);
        let (status, _, body) = exchange(state.clone(), &method.to_uppercase(), &uri, None).await;
        assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {uri}");
        if status == StatusCode::NOT_FOUND {
            let body: Value = serde_json::from_slice(&body).unwrap();
            assert_ne!(body["error"], "no such endpoint", "{method} {uri}");
        }
    }
    // The fallback this looks for is what an unknown path gets.
    let (status, _, body) = exchange(state.clone(), "GET", "/api/v1/undocumented", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        serde_json::from_slice::<Value>(&body).unwrap()["error"],
        "no such endpoint"
    );
}

/// Validates a response against the schema the document gives for its method, path and
/// status (a status the document does not list fails), and checks its content type and
/// documented headers.
fn assert_documented(
    document: &Value,
    method: &str,
    path: &str,
    (status, headers, body): &(StatusCode, HeaderMap, Vec<u8>),
) {
    let what = format!("{method} {path} -> {status}");
    let responses = &document["paths"][path][method]["responses"];
    let response = resolve(document, &responses[status.as_str()]);
    assert!(response.is_object(), "{what}: status not documented");
    for (name, header_spec) in response["headers"].as_object().into_iter().flatten() {
        let value = headers.get(name.as_str()).map(|v| v.to_str().unwrap());
        assert!(
            value.is_some() || header_spec["required"] != true,
            "{what}: no {name}"
        );
        if let (Some(value), Some(expected)) = (value, header_spec["schema"]["const"].as_str()) {
            assert_eq!(value, expected, "{what}: {name}");
        }
    }
    let (media_type, content) = response["content"]
        .as_object()
        .and_then(|content| content.iter().next())
        .unwrap_or_else(|| panic!("{what}: no content documented"));
    assert_eq!(headers[header::CONTENT_TYPE], media_type.as_str(), "{what}");
    if media_type != "application/json" {
        return;
    }
    let body: Value = serde_json::from_slice(body).unwrap();
    let errors = schema_errors(document, &content["schema"], &body);
    assert!(errors.is_empty(), "{what}: {errors:#?}\n{body:#}");
}

/// Why `body` does not validate against `schema`, a schema of `document`.
fn schema_errors(document: &Value, schema: &Value, body: &Value) -> Vec<String> {
    // The schema's `$ref`s point into the document's components: validate from a root that
    // carries them.
    let root = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "components": document["components"],
        "allOf": [schema],
    });
    let validator = jsonschema::validator_for(&root).unwrap_or_else(|e| panic!("{e}"));
    validator
        .iter_errors(body)
        .map(|error| format!("{error} at {}", error.instance_path()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_responses_match_the_document() {
    let server = Server::start(CITY).await;
    let state_dir = tempfile::tempdir().unwrap();
    let state = state_in(&server, Some(ADMIN_TOKEN), state_dir.path());
    let document = document();
    let get = |uri: &'static str| exchange(state.clone(), "GET", uri, None);

    assert_documented(&document, "get", "/healthz", &get("/healthz").await);
    assert_documented(
        &document,
        "get",
        "/api/v1/regions",
        &get("/api/v1/regions").await,
    );
    for uri in ["/api/v1/regions/eu-west", "/api/v1/regions/mars"] {
        assert_documented(&document, "get", "/api/v1/regions/{name}", &get(uri).await);
    }
    assert_documented(
        &document,
        "get",
        "/api/v1/nodes",
        &get("/api/v1/nodes").await,
    );
    for uri in [
        "/api/v1/explain?name=www.gtm.test&client=81.2.69.0/24",
        "/api/v1/explain?name=www.gtm.test&client=2001:db8::1&type=aaaa",
        "/api/v1/explain?name=nope.example&client=81.2.69.142&type=TXT",
        "/api/v1/explain?name=www.gtm.test",
        "/api/v1/explain?name=www.gtm.test&client=81.2.69.1&type=BOGUS",
    ] {
        assert_documented(&document, "get", "/api/v1/explain", &get(uri).await);
    }

    let action = "/api/v1/regions/{name}/{action}";
    let post = |uri: &'static str, token: Option<&'static str>| {
        exchange(state.clone(), "POST", uri, token)
    };
    let unauthorized = post("/api/v1/regions/eu-west/drain", None).await;
    assert_eq!(unauthorized.0, StatusCode::UNAUTHORIZED);
    assert_documented(&document, "post", action, &unauthorized);
    let forbidden = post(
        "/api/v1/regions/eu-west/drain",
        Some("not-the-token-at-all"),
    )
    .await;
    assert_eq!(forbidden.0, StatusCode::FORBIDDEN);
    assert_documented(&document, "post", action, &forbidden);
    for uri in [
        "/api/v1/regions/eu-west/drain",
        "/api/v1/regions/mars/drain",
        "/api/v1/regions/eu-west/sideways",
    ] {
        assert_documented(
            &document,
            "post",
            action,
            &post(uri, Some(ADMIN_TOKEN)).await,
        );
    }
    // The drain is on the timeline and in the gossip, both documented shapes.
    let events = get("/api/v1/events").await;
    assert!(String::from_utf8_lossy(&events.2).contains("\"kind\":\"operator\""));
    assert_documented(&document, "get", "/api/v1/events", &events);
    assert_documented(&document, "get", "/healthz", &get("/healthz").await);
    assert_documented(
        &document,
        "get",
        "/api/v1/regions",
        &get("/api/v1/regions").await,
    );
    let undrain = post("/api/v1/regions/eu-west/undrain", Some(ADMIN_TOKEN)).await;
    assert_eq!(undrain.0, StatusCode::OK);
    assert_documented(&document, "post", action, &undrain);

    // Backend drains: refused without the token, and by this node for another region's
    // backends or when it runs no proxy (this test's has none). tests/api.sh drains real ones.
    let backend_action = "/api/v1/regions/{name}/backends/{id}/{action}";
    let refusals = [
        (
            "/api/v1/regions/us-east/backends/b0/drain",
            None,
            StatusCode::UNAUTHORIZED,
        ),
        (
            "/api/v1/regions/eu-west/backends/b0/drain",
            Some(ADMIN_TOKEN),
            StatusCode::CONFLICT,
        ),
        (
            "/api/v1/regions/us-east/backends/b0/drain",
            Some(ADMIN_TOKEN),
            StatusCode::CONFLICT,
        ),
        (
            "/api/v1/regions/mars/backends/b0/drain",
            Some(ADMIN_TOKEN),
            StatusCode::NOT_FOUND,
        ),
    ];
    for (uri, token, expected) in refusals {
        let refused = post(uri, token).await;
        assert_eq!(refused.0, expected, "{uri}");
        assert_documented(&document, "post", backend_action, &refused);
    }

    // The region's backends fail: /healthz says 503, with the same documented shape.
    let backend = |id: &str, state: &'static str| meridian::health::BackendReport {
        id: id.to_string(),
        address: "127.0.0.1:9".to_string(),
        weight: 1,
        state,
        drained: state == "draining",
        in_flight: 0,
        requests_per_second: 2.4,
        error_rate: (state == "down").then_some(0.5),
        p99_ms: (state == "healthy").then_some(20.0),
    };
    state
        .local_health
        .store(Arc::new(meridian::health::LocalHealth::from_backends(
            vec![
                backend("b0", "down"),
                backend("b1", "ejected"),
                backend("b2", "draining"),
                backend("b3", "healthy"),
            ],
            0.5,
        )));
    let unhealthy = get("/healthz").await;
    assert_eq!(unhealthy.0, StatusCode::SERVICE_UNAVAILABLE);
    assert_documented(&document, "get", "/healthz", &unhealthy);

    let reload = exchange(state.clone(), "POST", "/-/reload", Some(ADMIN_TOKEN)).await;
    assert_eq!(reload.0, StatusCode::OK);
    assert_documented(&document, "post", "/-/reload", &reload);
    let openapi = get("/api/v1/openapi.json").await;
    assert_documented(&document, "get", "/api/v1/openapi.json", &openapi);
    assert_documented(&document, "get", "/api/v1/dns", &get("/api/v1/dns").await);
    for stream in ["/api/v1/events/stream", "/api/v1/dashboard/stream"] {
        assert_documented(&document, "get", stream, &get(stream).await);
    }
    // The dashboard stream's first event is a snapshot, of the documented shape.
    let response = router(state.clone())
        .oneshot(
            Request::builder()
                .uri("/api/v1/dashboard/stream")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let (event, data) = next_event(&mut response.into_body()).await;
    assert_eq!(event, "snapshot");
    let snapshot: Value = serde_json::from_str(&data).unwrap();
    let schema = json!({ "$ref": "#/components/schemas/DashboardSnapshot" });
    let errors = schema_errors(&document, &schema, &snapshot);
    assert!(errors.is_empty(), "{errors:#?}\n{snapshot:#}");
}

#[test]
fn a_response_the_document_does_not_allow_is_caught() {
    // The validation above can fail: an extra key, a missing one and a value outside an enum
    // are each refused.
    let document = document();
    let schema = &document["paths"]["/api/v1/events"]["get"]["responses"]["200"]["content"]["application/json"]
        ["schema"];
    let good = json!({ "events": [{
        "seq": 1, "at_unix_ms": 2, "kind": "verdict", "region": "eu-west", "from": "up",
        "to": "down", "reason": "2 of 3 vantage points vote down", "voters": ["us-east"],
    }] });
    assert_eq!(
        schema_errors(&document, schema, &good),
        Vec::<String>::new()
    );
    let mut extra = good.clone();
    extra["events"][0]["surprise"] = json!(1);
    let mut missing = good.clone();
    missing["events"][0]
        .as_object_mut()
        .unwrap()
        .remove("voters");
    let mut outside = good.clone();
    outside["events"][0]["kind"] = json!("weather");
    for bad in [extra, missing, outside] {
        assert!(!schema_errors(&document, schema, &bad).is_empty(), "{bad}");
    }
}
