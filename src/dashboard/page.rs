//! The dashboard page: HTML, script, styles and the world map, embedded in the binary so a
//! node needs no files and no build step to serve it.
//!
//! The script builds every element with `textContent`, never markup from data, and the
//! Content-Security-Policy allows only this origin's script and styles: a name from config
//! or input is shown as text however hostile it is.

use axum::extract::Path;
use axum::extract::rejection::PathRejection;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::router::ApiError;

const INDEX: &str = include_str!("assets/index.html");

/// The page's assets: name, content type, content.
const ASSETS: &[(&str, &str, &str)] = &[
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_str!("assets/app.js"),
    ),
    (
        "style.css",
        "text/css; charset=utf-8",
        include_str!("assets/style.css"),
    ),
    (
        "world.svg",
        "image/svg+xml",
        include_str!("assets/world.svg"),
    ),
];

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
                   connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// `GET /`: the page.
pub(super) async fn index() -> Response {
    asset_response("text/html; charset=utf-8", INDEX)
}

/// `GET /assets/{file}`.
pub(super) async fn asset(file: Result<Path<String>, PathRejection>) -> Response {
    let file = match file {
        Ok(Path(file)) => file,
        Err(rejection) => return ApiError::from(rejection).into_response(),
    };
    match ASSETS.iter().find(|(name, _, _)| *name == file) {
        Some((_, content_type, content)) => asset_response(content_type, content),
        None => ApiError::new(StatusCode::NOT_FOUND, format!("no asset {file:?}")).into_response(),
    }
}

fn asset_response(content_type: &'static str, content: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            // Small, and a new binary may bring new ones: revalidate rather than go stale.
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(CSP),
            ),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
            (
                header::REFERRER_POLICY,
                HeaderValue::from_static("no-referrer"),
            ),
        ],
        content,
    )
        .into_response()
}
