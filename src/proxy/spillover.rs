//! Spillover: a request that finds no backend to pick in its region goes to the nearest
//! healthy other region's proxy (the order comes from `spill`), so clients still holding a
//! cached DNS answer are served while DNS moves them away.
//!
//! The spilled request is the one a backend would have got (hop-by-hop headers stripped,
//! forwarding headers and `Via` added), plus the hop header [`SPILLOVER`] naming this
//! region. A proxy never spills a request that carries it, so a spilled request makes at
//! most one hop, even when the peer has no backend either. The body streams to the peer and
//! the response streams back, on keep-alive connections pooled per peer. A peer that cannot
//! be reached before the request is sent makes way for the next nearest, up to
//! [`MAX_SPILL_REGIONS`]; any later failure is answered with this proxy's own page, which
//! names no region.

use std::net::SocketAddr;
use std::sync::Arc;

use hyper::header::HeaderName;
use hyper::{Response, StatusCode};

use super::body::{ClientBody, RequestBody};
use super::forward::Served;
use super::metrics::PeerMetrics;
use super::pages;
use super::pool::Pool;
use super::spill::MAX_SPILL_REGIONS;
use super::state::{Proxy, Snapshot};
use super::upstream::{self, Delivery, Lease, Upstream};

/// The hop header of a spilled request; its value names the region that spilled it.
pub(crate) static SPILLOVER: HeaderName = HeaderName::from_static("meridian-spillover");

/// Another region's proxy as a spill target: where it listens, its pooled connections and
/// its metrics handles. Kept from one snapshot to the next while its address stays.
#[derive(Debug)]
pub(crate) struct PeerState {
    /// The peer's region name.
    pub(crate) region: String,
    pub(crate) address: SocketAddr,
    pub(crate) pool: Pool,
    metrics: PeerMetrics,
}

impl PeerState {
    /// `local` is the region that spills to it.
    pub(crate) fn new(local: &str, region: &str, address: SocketAddr) -> Self {
        Self {
            region: region.to_string(),
            address,
            pool: Pool::default(),
            metrics: PeerMetrics::new(local, region),
        }
    }

    fn upstream(&self) -> Upstream<'_> {
        Upstream {
            address: self.address,
            pool: &self.pool,
            name: &self.region,
            connections: &self.metrics.connections,
        }
    }
}

/// Sends a request that found no backend to the nearest reachable peer of
/// `snapshot.spill`; `head` is as a backend would get it.
pub(crate) async fn spill(
    proxy: &Proxy,
    snapshot: &Snapshot,
    mut head: hyper::http::request::Parts,
    mut body: RequestBody,
    upgrade: bool,
    client_upgrade: Option<hyper::upgrade::OnUpgrade>,
    served: &mut Served,
) -> Response<ClientBody> {
    head.headers
        .insert(SPILLOVER.clone(), proxy.spill_header.clone());
    let timeouts = &snapshot.settings.timeouts;
    for peer in snapshot.spill.iter().take(MAX_SPILL_REGIONS) {
        tracing::debug!(
            region = %proxy.region,
            to = %peer.region,
            "no backend to pick: spilling to the nearest healthy region"
        );
        let upload = body.upload();
        let outgoing = body.request(&head);
        let delivery = upstream::send(peer.upstream(), outgoing, timeouts, upgrade).await;
        if !matches!(delivery, Delivery::NotSent(_)) {
            peer.metrics.spilled.increment(1);
            served.spilled_to = Some(peer.clone());
        }
        let failed = |status: StatusCode| {
            peer.metrics.failures.increment(1);
            pages::page(status)
        };
        match delivery {
            Delivery::Response(response, sender) => {
                return upstream::relay(
                    response,
                    sender,
                    Lease::Peer(peer.clone()),
                    None,
                    client_upgrade,
                );
            }
            Delivery::NotSent(request) => {
                peer.metrics.failures.increment(1);
                body = RequestBody::from_unsent(request);
            }
            Delivery::ClientBodyFailed(status) => return pages::page(status),
            // Still waiting for the client's body: the client is slow, not the peer.
            Delivery::Timeout if upload.pending() => {
                return pages::page(StatusCode::REQUEST_TIMEOUT);
            }
            Delivery::Timeout => return failed(StatusCode::GATEWAY_TIMEOUT),
            Delivery::NoResponse => return failed(StatusCode::BAD_GATEWAY),
        }
    }
    // No peer could be reached: the region cannot serve, as without spillover.
    proxy.metrics.no_backend.increment(1);
    pages::page(StatusCode::SERVICE_UNAVAILABLE)
}

/// The peers a snapshot spills to, in `order`, keeping the state (pooled connections) of
/// those `previous` already had at the same address.
pub(crate) fn peers(
    local: &str,
    order: &[super::spill::SpillTarget<'_>],
    previous: &[Arc<PeerState>],
) -> Vec<Arc<PeerState>> {
    order
        .iter()
        .map(|target| {
            previous
                .iter()
                .find(|p| p.region == target.region.name && p.address == target.address)
                .cloned()
                .unwrap_or_else(|| {
                    Arc::new(PeerState::new(local, &target.region.name, target.address))
                })
        })
        .collect()
}
