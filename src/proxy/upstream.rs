//! One attempt on an upstream connection: a pooled keep-alive connection or a new one, the
//! request sent, and the response relayed to the client with its connection returned to
//! the pool when its body ends (or a tunnel opened after 101).

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Either;
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Request, Response, StatusCode, Version};
use hyper_util::rt::TokioIo;

use super::backend::InFlight;
use super::body::{ClientBody, ProxiedBody, UpstreamBody};
use super::headers;
use super::metrics::ConnectionMetrics;
use super::pages;
use super::pool::{self, Pool, Sender};
use super::spillover::PeerState;
use crate::region::proxy::Timeouts;

/// Where an attempt goes: an address and its pool of idle connections.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Upstream<'a> {
    pub(crate) address: SocketAddr,
    pub(crate) pool: &'a Pool,
    /// Who it is, for logs.
    pub(crate) name: &'a str,
    pub(crate) connections: &'a ConnectionMetrics,
}

/// What a response holds until its body ends (or its tunnel closes).
#[derive(Debug)]
pub(crate) enum Lease {
    /// A backend's: the request counts as in flight on it until then.
    Backend(InFlight),
    /// Another region's proxy's, for a spilled request: its pool outlives a new view.
    Peer(Arc<PeerState>),
}

impl Lease {
    /// The pool the response's connection returns to.
    pub(crate) fn pool(&self) -> &Pool {
        match self {
            Self::Backend(in_flight) => &in_flight.backend().pool,
            Self::Peer(peer) => &peer.pool,
        }
    }
}

/// What became of one attempt.
pub(crate) enum Delivery {
    /// A response head arrived; the connection goes back to the pool when its body ends
    /// (`None`: a tunnel, never pooled).
    Response(Response<Incoming>, Option<Sender>),
    /// Never written upstream: the request comes back, body and all.
    NotSent(Request<UpstreamBody>),
    /// Written (perhaps partly), then the connection ended without a response.
    NoResponse,
    /// No response head within the response timeout.
    Timeout,
    /// Reading the client's streamed body failed: it broke off (400) or outgrew the body
    /// limit (413).
    ClientBodyFailed(StatusCode),
}

/// Sends `request` to `upstream` on a pooled connection, or a new one. A pooled connection
/// found closed before the request was written is not the upstream's failure: the next
/// pooled one, or a new one, is tried.
pub(crate) async fn send(
    upstream: Upstream<'_>,
    mut request: Request<UpstreamBody>,
    timeouts: &Timeouts,
    upgrade: bool,
) -> Delivery {
    loop {
        let pooled = if upgrade {
            None
        } else {
            upstream.pool.take(timeouts.upstream_idle)
        };
        let reused = pooled.is_some();
        let mut sender = match pooled {
            Some(sender) => {
                upstream.connections.reused.increment(1);
                sender
            }
            None => match pool::connect(upstream.address, timeouts.connect, upgrade).await {
                Ok(sender) => {
                    upstream.connections.opened.increment(1);
                    sender
                }
                Err(error) => {
                    tracing::debug!(upstream = %upstream.name, %error, "connect failed");
                    return Delivery::NotSent(request);
                }
            },
        };
        if sender.ready().await.is_err() {
            if reused {
                continue;
            }
            return Delivery::NotSent(request);
        }
        match tokio::time::timeout(timeouts.response_head, sender.try_send_request(request)).await {
            Err(_) => return Delivery::Timeout,
            Ok(Ok(response)) => return Delivery::Response(response, (!upgrade).then_some(sender)),
            Ok(Err(mut error)) => match error.take_message() {
                Some(unsent) if reused => request = unsent,
                Some(unsent) => return Delivery::NotSent(unsent),
                None if error.error().is_user() => {
                    return Delivery::ClientBodyFailed(client_body_status(error.error()));
                }
                None => {
                    tracing::debug!(upstream = %upstream.name, error = %error.error(), "no response");
                    return Delivery::NoResponse;
                }
            },
        }
    }
}

/// The page for a client whose streamed body failed: 413 past the body limit, else 400.
fn client_body_status(error: &hyper::Error) -> StatusCode {
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        if cause.is::<http_body_util::LengthLimitError>() {
            return StatusCode::PAYLOAD_TOO_LARGE;
        }
        source = cause.source();
    }
    StatusCode::BAD_REQUEST
}

/// The upstream's response as the client gets it: hop-by-hop headers stripped, then
/// `set_cookie` added, and a tunnel opened after 101.
pub(crate) fn relay(
    response: Response<Incoming>,
    sender: Option<Sender>,
    lease: Lease,
    set_cookie: Option<HeaderValue>,
    client_upgrade: Option<hyper::upgrade::OnUpgrade>,
) -> Response<ClientBody> {
    let (mut head, body) = response.into_parts();
    let switching = head.status == StatusCode::SWITCHING_PROTOCOLS;
    headers::strip_hop_by_hop(&mut head.headers, switching);
    if let Some(cookie) = set_cookie {
        head.headers.append(header::SET_COOKIE, cookie);
    }
    if switching {
        let mut upstream = Response::from_parts(head, body);
        let Some(client_upgrade) = client_upgrade else {
            // A 101 the client did not ask for cannot be honoured.
            return pages::page(StatusCode::BAD_GATEWAY);
        };
        let upstream_upgrade = hyper::upgrade::on(&mut upstream);
        tokio::spawn(tunnel(client_upgrade, upstream_upgrade, lease));
        let (head, _) = upstream.into_parts();
        return Response::from_parts(head, super::body::full(Bytes::new()));
    }
    head.version = Version::default();
    Response::from_parts(head, Either::Left(ProxiedBody::new(body, sender, lease)))
}

/// Copies bytes both ways between an upgraded client and upstream until either closes. The
/// lease is held for as long (a backend counts the tunnel as a request in flight).
async fn tunnel(
    client: hyper::upgrade::OnUpgrade,
    upstream: hyper::upgrade::OnUpgrade,
    _lease: Lease,
) {
    let (client, upstream) = tokio::join!(client, upstream);
    if let (Ok(client), Ok(upstream)) = (client, upstream) {
        let _ =
            tokio::io::copy_bidirectional(&mut TokioIo::new(client), &mut TokioIo::new(upstream))
                .await;
    }
}
