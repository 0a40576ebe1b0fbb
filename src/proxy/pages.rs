//! The proxy's own answers: short plain-text pages that name the status and nothing about
//! the inside (no backend names, addresses or errors).

use std::time::Duration;

use hyper::header::{self, HeaderValue};
use hyper::{Response, StatusCode};

use super::body::{ClientBody, full};

pub(crate) fn page(status: StatusCode) -> Response<ClientBody> {
    let text = format!(
        "{} {}\n",
        status.as_u16(),
        status.canonical_reason().unwrap_or("Error")
    );
    let mut response = Response::new(full(text));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// 429 with `Retry-After` in whole seconds, rounded up (at least 1).
pub(crate) fn too_many_requests(wait: Duration) -> Response<ClientBody> {
    let mut response = page(StatusCode::TOO_MANY_REQUESTS);
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(seconds.max(1)));
    response
}
