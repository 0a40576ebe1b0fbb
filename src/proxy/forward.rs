//! One proxied request: admission (rate limit, body limit), the request head as the
//! backend sees it, the choice of backend (sticky cookie or policy), and the attempts. A
//! request that finds no backend to pick at the start, or whose every try was refused before
//! it was sent, goes to another region (`spillover`).
//!
//! Retries follow what happened to the failed attempt:
//! - not sent (connect failed, or the connection closed before the request was written):
//!   retried on another backend whatever the method, with the body it still holds;
//! - sent, then the connection ended without a response byte: retried if the method is
//!   idempotent and the body is held in memory;
//! - sent, then a timeout, 502 or 503: retried like the above, only where configured;
//! - a response that has started is never retried.
//!
//! No backend is tried twice by one request (and none more than eight), and retries of
//! requests that reached a backend draw on the region's retry budget, so that retries
//! cannot multiply load on a failing region.

use std::sync::Arc;
use std::time::Instant;

use http_body_util::Either;
use hyper::body::{Body, Incoming};
use hyper::header::{self, HeaderValue};
use hyper::http::uri::{Authority, PathAndQuery};
use hyper::{Method, Request, Response, StatusCode, Uri, Version};

use super::access_log::{Pending, ServedBody, ServedBy};
use super::backend::{BackendState, InFlight};
use super::backend_health::{Observation, Outcome};
use super::balance::hash_key;
use super::body::{ClientBody, RequestBody};
use super::headers::{self, Peer};
use super::metrics::RetryReason;
use super::pool::Sender;
use super::spillover::{self, PeerState, SPILLOVER};
use super::state::{Proxy, Snapshot};
use super::upstream::{self, Delivery, Lease};
use super::{pages, sticky};
use crate::region::proxy::{HashKey, Policy, RetryOn, StickyDown};

/// Serves one request; never fails (errors become pages). With the access log on, the
/// response's body sends the request's line when it ends.
pub(crate) async fn handle(
    proxy: Arc<Proxy>,
    peer: Arc<Peer>,
    request: Request<Incoming>,
) -> Response<ServedBody> {
    let started = Instant::now();
    proxy.retry_budget.request(started);
    let snapshot = proxy.snapshot();
    let logged = snapshot
        .settings
        .access_log
        .is_on()
        .then(|| Pending::start(&proxy.access_log, peer.ip, &request, started));
    let mut served = Served::default();
    let response = forward(&proxy, &snapshot, &peer, request, &mut served).await;
    proxy
        .metrics
        .latency
        .record(started.elapsed().as_secs_f64());
    let Some(logged) = logged else {
        return response.map(Either::Left);
    };
    let served_by = match (&served.spilled_to, served.backend) {
        (Some(peer), _) => ServedBy::Spill(peer.region.clone()),
        (None, Some(index)) => snapshot
            .backends
            .get(index)
            .map_or(ServedBy::Proxy, |backend| {
                ServedBy::Backend(backend.id.clone())
            }),
        (None, None) => ServedBy::Proxy,
    };
    let retries = u32::try_from(served.tries.saturating_sub(1)).unwrap_or(u32::MAX);
    logged
        .finish(
            response,
            served.client.unwrap_or(peer.ip),
            served_by,
            retries,
        )
        .map(Either::Right)
}

/// What became of a request, for its access log line.
#[derive(Debug, Default)]
pub(crate) struct Served {
    /// The client as the forwarding headers (from trusted peers) name it.
    client: Option<std::net::IpAddr>,
    /// The last backend tried, by index in the snapshot.
    backend: Option<usize>,
    /// Local backends tried.
    tries: usize,
    /// The region whose proxy the request was spilled to (and reached).
    pub(crate) spilled_to: Option<Arc<PeerState>>,
}

async fn forward(
    proxy: &Proxy,
    snapshot: &Snapshot,
    peer: &Peer,
    mut request: Request<Incoming>,
    served: &mut Served,
) -> Response<ClientBody> {
    let settings = &snapshot.settings;
    // A request another region's proxy spilled here is never spilled again: two regions
    // without backends would pass it back and forth. The header goes no further (backends
    // never see it). A client that sends it itself only gives up spillover for its own
    // request, which is harmless.
    let spilled_in = request.headers_mut().remove(&SPILLOVER).is_some();
    if spilled_in {
        proxy.metrics.spilled_in.increment(1);
    }
    // The spilling proxy is this proxy's client: its forwarding chain names the real client
    // when it comes from one of the regions' own addresses.
    let trusted = if spilled_in {
        &snapshot.spill_trusted
    } else {
        &settings.trusted_proxies
    };
    let client = headers::client_ip(peer.ip, request.headers(), trusted);
    served.client = Some(client);
    if let Some(limiter) = &snapshot.limiter
        && let Err(not_until) = limiter.check_key(&client)
    {
        proxy.metrics.rate_limited.increment(1);
        let wait = not_until.wait_time_from(governor::clock::Clock::now(
            &governor::clock::DefaultClock::default(),
        ));
        return pages::too_many_requests(wait);
    }
    let may_spill = !spilled_in && !snapshot.spill.is_empty();
    if snapshot.backends.is_empty() && !may_spill {
        proxy.metrics.no_backend.increment(1);
        return pages::page(StatusCode::SERVICE_UNAVAILABLE);
    }
    if request
        .body()
        .size_hint()
        .exact()
        .is_some_and(|length| length > settings.limits.max_body_bytes)
    {
        return pages::page(StatusCode::PAYLOAD_TOO_LARGE);
    }
    if request.method() == Method::CONNECT {
        // A reverse proxy for the region's site, not a tunnel to anywhere.
        return pages::page(StatusCode::METHOD_NOT_ALLOWED);
    }
    let upgrade = wants_upgrade(&request);
    let client_upgrade = upgrade.then(|| hyper::upgrade::on(&mut request));
    let (mut head, body) = request.into_parts();
    prepare_head(&mut head, peer, trusted, upgrade);
    let body = match RequestBody::read(
        body,
        settings.limits.max_body_bytes,
        settings.timeouts.request_head,
    )
    .await
    {
        Ok(body) => body,
        Err(status) => return pages::page(status),
    };

    // The sticky cookie's backend, when it verifies and still exists.
    let sticky = settings.sticky.as_ref().map(|sticky| {
        let named = sticky::cookie(&head.headers, &sticky.cookie)
            .and_then(|value| sticky::verify(&snapshot.cookie_key, value))
            .and_then(|id| snapshot.index_of(id));
        (sticky, named)
    });
    let mut first = None;
    // A strict session may not move, not even to retry elsewhere.
    let mut pinned = false;
    if let Some((sticky, Some(index))) = sticky {
        pinned = sticky.on_down == StickyDown::Strict;
        if snapshot.backends[index].is_available() {
            first = Some(index);
        } else if pinned {
            return pages::page(StatusCode::SERVICE_UNAVAILABLE);
        }
    }
    let hash = key_hash(&settings.policy, &head, client);
    // Nothing to pick at the start: the region cannot serve the request, so it goes to the
    // nearest healthy region if it may. Retries after a local failure stay local, and a
    // strict session never gets here: it may not move, not even to another region.
    let Some(index) = first.or_else(|| snapshot.pick(hash, &[])) else {
        if may_spill {
            return spillover::spill(proxy, snapshot, head, body, upgrade, client_upgrade, served)
                .await;
        }
        proxy.metrics.no_backend.increment(1);
        return pages::page(StatusCode::SERVICE_UNAVAILABLE);
    };
    first = Some(index);

    let idempotent = is_idempotent(&head.method);
    let mut attempt = Attempts {
        proxy,
        snapshot,
        tried: Tried::default(),
    };
    // A copy of a held body, for replays after a sent attempt failed.
    let held = body.held();
    let resend = idempotent && held.is_some();
    let replay = || held.clone().map(RequestBody::Held);
    let mut body = Some(body);
    let mut failure = Failure::NoBackend;
    for round in 0..=settings.retries.attempts {
        if round > 0 && pinned {
            return pages::page(StatusCode::SERVICE_UNAVAILABLE);
        }
        if round > 0 && !attempt.may_retry(failure) {
            break;
        }
        let index = match first.take() {
            Some(index) => index,
            None => match snapshot.pick(hash, attempt.tried.as_slice()) {
                Some(index) => index,
                None => break,
            },
        };
        if !attempt.tried.push(index) {
            break;
        }
        served.backend = Some(index);
        served.tries = attempt.tried.as_slice().len();
        let backend = &snapshot.backends[index];
        let Some(current) = body.take() else { break };
        let upload = current.upload();
        let outgoing = current.request(&head);
        let in_flight = InFlight::start(backend);
        let outcome =
            upstream::send(backend.upstream(), outgoing, &settings.timeouts, upgrade).await;
        match outcome {
            Delivery::Response(response, sender) => {
                let status = response.status();
                let passive = if matches!(status.as_u16(), 500 | 502..=504) {
                    Outcome::Status5xx
                } else {
                    Outcome::Success
                };
                attempt.observe(backend, passive);
                let retry_on = match status {
                    StatusCode::BAD_GATEWAY => Some((RetryOn::Status502, RetryReason::Status502)),
                    StatusCode::SERVICE_UNAVAILABLE => {
                        Some((RetryOn::Status503, RetryReason::Status503))
                    }
                    _ => None,
                };
                if let Some((on, reason)) = retry_on
                    && resend
                    && settings.retries.idempotent_on.contains(&on)
                    && round < settings.retries.attempts
                {
                    body = replay();
                    failure = Failure::Retry(reason, status);
                    continue;
                }
                backend.metrics.response(status.as_u16()).increment(1);
                return respond(
                    response,
                    sender,
                    in_flight,
                    sticky.and_then(|(sticky, named)| {
                        (named != Some(index)).then_some((sticky, backend))
                    }),
                    snapshot,
                    client_upgrade,
                );
            }
            Delivery::NotSent(request) => {
                attempt.observe(backend, Outcome::ConnectFailed);
                backend.metrics.failures.increment(1);
                body = Some(RequestBody::from_unsent(request));
                failure = Failure::Retry(RetryReason::NotSent, StatusCode::BAD_GATEWAY);
            }
            Delivery::ClientBodyFailed(status) => {
                // The client's upload broke (or outgrew the limit): not the backend's doing.
                return pages::page(status);
            }
            Delivery::Timeout if upload.pending() => {
                // Still waiting for the client's body: the client is slow, not the backend.
                return pages::page(StatusCode::REQUEST_TIMEOUT);
            }
            Delivery::NoResponse => {
                attempt.observe(backend, Outcome::ConnectFailed);
                backend.metrics.failures.increment(1);
                if !resend {
                    return pages::page(StatusCode::BAD_GATEWAY);
                }
                body = replay();
                failure = Failure::Retry(RetryReason::NoResponse, StatusCode::BAD_GATEWAY);
            }
            Delivery::Timeout => {
                attempt.observe(backend, Outcome::Timeout);
                backend.metrics.failures.increment(1);
                if !(resend && settings.retries.idempotent_on.contains(&RetryOn::Timeout)) {
                    return pages::page(StatusCode::GATEWAY_TIMEOUT);
                }
                body = replay();
                failure = Failure::Retry(RetryReason::Timeout, StatusCode::GATEWAY_TIMEOUT);
            }
        }
    }
    // Every local backend tried refused the connection before the request was written (they
    // died a moment ago, before their health caught up): nothing was sent, so the request
    // goes to another region, as one that found no backend to pick does.
    if let (Failure::Retry(RetryReason::NotSent, _), Some(unsent)) = (failure, body.take())
        && may_spill
        && !pinned
    {
        return spillover::spill(
            proxy,
            snapshot,
            head,
            unsent,
            upgrade,
            client_upgrade,
            served,
        )
        .await;
    }
    match failure {
        Failure::NoBackend => {
            proxy.metrics.no_backend.increment(1);
            pages::page(StatusCode::SERVICE_UNAVAILABLE)
        }
        Failure::Retry(_, status) => pages::page(status),
    }
}

/// Why the last attempt failed, and the page the client gets if nothing else works.
#[derive(Debug, Clone, Copy)]
enum Failure {
    NoBackend,
    Retry(RetryReason, StatusCode),
}

/// One request's attempts: the backends tried so far.
struct Attempts<'a> {
    proxy: &'a Proxy,
    snapshot: &'a Snapshot,
    tried: Tried,
}

/// Most backends one request tries, whatever `retries.attempts` says.
const MAX_TRIES: usize = 8;

/// The backends one request has tried, without a heap allocation.
#[derive(Default)]
struct Tried {
    indices: [usize; MAX_TRIES],
    len: usize,
}

impl Tried {
    /// Records `index`; false when the request has had all its tries.
    fn push(&mut self, index: usize) -> bool {
        let Some(slot) = self.indices.get_mut(self.len) else {
            return false;
        };
        *slot = index;
        self.len += 1;
        true
    }

    fn as_slice(&self) -> &[usize] {
        &self.indices[..self.len]
    }
}

impl Attempts<'_> {
    /// Whether the request may go to another backend after `failure`. A request that never
    /// reached a backend costs no backend anything to retry, so it is not budgeted; every
    /// other retry draws on the region's retry budget.
    fn may_retry(&mut self, failure: Failure) -> bool {
        let Failure::Retry(reason, _) = failure else {
            return false;
        };
        let retries = &self.snapshot.settings.retries;
        if reason != RetryReason::NotSent
            && !self.proxy.retry_budget.try_retry(
                Instant::now(),
                retries.budget_share,
                retries.budget_min,
            )
        {
            return false;
        }
        self.proxy.metrics.retry(reason).increment(1);
        true
    }

    fn observe(&self, backend: &BackendState, outcome: Outcome) {
        let settings = &self.snapshot.settings;
        let may_eject = outcome != Outcome::Success && self.snapshot.may_eject();
        backend.observe(
            Observation::Passive(outcome),
            &settings.health,
            &settings.outlier,
            may_eject,
        );
    }
}

/// The request head as the backend (or the region spilled to) sees it: origin-form target,
/// a `Host`, no hop-by-hop headers, forwarding headers added (an incoming chain kept from
/// `trusted` peers).
fn prepare_head(
    head: &mut hyper::http::request::Parts,
    peer: &Peer,
    trusted: &[ipnet::IpNet],
    upgrade: bool,
) {
    // HTTP/2 clients name the host in the target (`:authority`); HTTP/1.1 backends want
    // `Host`.
    if !head.headers.contains_key(header::HOST)
        && let Some(authority) = head.uri.authority().map(Authority::as_str)
        && let Ok(value) = HeaderValue::from_str(authority)
    {
        head.headers.insert(header::HOST, value);
    }
    if head.uri.scheme().is_some() || head.uri.authority().is_some() {
        let path = head
            .uri
            .path_and_query()
            .cloned()
            .unwrap_or_else(|| PathAndQuery::from_static("/"));
        head.uri = Uri::from(path);
    }
    headers::strip_hop_by_hop(&mut head.headers, upgrade);
    // `100-continue` is answered here (hyper sends it when the body is first read); the
    // backend gets the body without being asked.
    head.headers.remove(header::EXPECT);
    headers::add_forwarding(&mut head.headers, peer, trusted);
}

/// An HTTP/1.1 request to switch protocols (a WebSocket handshake, say).
fn wants_upgrade(request: &Request<Incoming>) -> bool {
    request.version() == Version::HTTP_11
        && request.headers().contains_key(header::UPGRADE)
        && request
            .headers()
            .get_all(header::CONNECTION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|token| token.trim().eq_ignore_ascii_case("upgrade"))
}

/// RFC 9110 section 9.2.2.
fn is_idempotent(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE | Method::PUT | Method::DELETE
    )
}

/// The consistent-hash key's hash, when the policy hashes; a missing header or cookie falls
/// back to the client address.
fn key_hash(
    policy: &Policy,
    head: &hyper::http::request::Parts,
    client: std::net::IpAddr,
) -> Option<u64> {
    let Policy::ConsistentHash { key, .. } = policy else {
        return None;
    };
    let value = match key {
        HashKey::Header(name) => head.headers.get(name.as_str()).map(HeaderValue::as_bytes),
        HashKey::Cookie(name) => sticky::cookie(&head.headers, name).map(str::as_bytes),
        HashKey::ClientIp => None,
    };
    Some(match value {
        Some(value) => hash_key(value),
        None => hash_key(client.to_string().as_bytes()),
    })
}

/// The backend's response as the client gets it, with the sticky cookie set when the
/// request was not already on this backend.
fn respond(
    response: Response<Incoming>,
    sender: Option<Sender>,
    in_flight: InFlight,
    set_sticky: Option<(&crate::region::proxy::Sticky, &Arc<BackendState>)>,
    snapshot: &Snapshot,
    client_upgrade: Option<hyper::upgrade::OnUpgrade>,
) -> Response<ClientBody> {
    let cookie = set_sticky.and_then(|(sticky, backend)| {
        sticky::set_cookie(
            &sticky.cookie,
            &snapshot.cookie_key,
            &backend.id,
            sticky.lifetime,
        )
    });
    upstream::relay(
        response,
        sender,
        Lease::Backend(in_flight),
        cookie,
        client_upgrade,
    )
}
