//! The proxy's metrics, registered once per region and backend and updated through the
//! handles (never looked up per request). Exposition comes with the dashboard.

use metrics::{Counter, Gauge, Histogram, counter, gauge, histogram};

/// Why a request was tried again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RetryReason {
    /// Connect failed, or the connection closed before the request was written.
    NotSent,
    /// Sent, and the connection ended without a response byte.
    NoResponse,
    Timeout,
    Status502,
    Status503,
}

/// Per-region handles.
#[derive(Debug)]
pub(crate) struct RegionMetrics {
    pub(crate) latency: Histogram,
    retries: [Counter; 5],
    pub(crate) rate_limited: Counter,
    pub(crate) no_backend: Counter,
    /// Requests another region's proxy spilled here.
    pub(crate) spilled_in: Counter,
    /// Access log lines dropped: the writer's queue was full, or the file could not be
    /// written.
    pub(crate) access_log_dropped: Counter,
}

impl RegionMetrics {
    pub(crate) fn new(region: &str) -> Self {
        let region = region.to_string();
        let retry = |reason: &'static str| counter!("meridian_proxy_retries_total", "region" => region.clone(), "reason" => reason);
        Self {
            latency: histogram!("meridian_proxy_request_duration_seconds", "region" => region.clone()),
            retries: [
                retry("not_sent"),
                retry("no_response"),
                retry("timeout"),
                retry("status_502"),
                retry("status_503"),
            ],
            rate_limited: counter!("meridian_proxy_rate_limited_total", "region" => region.clone()),
            no_backend: counter!("meridian_proxy_no_backend_total", "region" => region.clone()),
            spilled_in: counter!("meridian_proxy_spilled_in_total", "region" => region.clone()),
            access_log_dropped: counter!("meridian_proxy_access_log_dropped_total", "region" => region),
        }
    }

    pub(crate) fn retry(&self, reason: RetryReason) -> &Counter {
        &self.retries[reason as usize]
    }
}

/// Per-backend handles.
#[derive(Debug)]
pub(crate) struct BackendMetrics {
    /// By status class: 1xx to 5xx.
    responses: [Counter; 5],
    /// Attempts that got no response (connect failures, resets, timeouts).
    pub(crate) failures: Counter,
    pub(crate) ejections: Counter,
    /// 1 while available, 0 while ejected or down.
    pub(crate) healthy: Gauge,
    pub(crate) connections: ConnectionMetrics,
}

/// Per-peer handles: what this region's proxy spilled to another region's proxy.
#[derive(Debug)]
pub(crate) struct PeerMetrics {
    /// Requests sent to the peer.
    pub(crate) spilled: Counter,
    /// Spill attempts that got no response: not sent (connect failed), or sent and then
    /// the connection ended or timed out.
    pub(crate) failures: Counter,
    pub(crate) connections: ConnectionMetrics,
}

impl PeerMetrics {
    pub(crate) fn new(region: &str, peer: &str) -> Self {
        let labels = [("region", region.to_string()), ("to", peer.to_string())];
        Self {
            spilled: counter!("meridian_proxy_spilled_total", &labels),
            failures: counter!("meridian_proxy_spill_failures_total", &labels),
            connections: ConnectionMetrics {
                opened: counter!("meridian_proxy_spill_connections_opened_total", &labels),
                reused: counter!("meridian_proxy_spill_connections_reused_total", &labels),
            },
        }
    }
}

/// Upstream connections opened and reused from the pool, for one upstream.
#[derive(Debug)]
pub(crate) struct ConnectionMetrics {
    pub(crate) opened: Counter,
    pub(crate) reused: Counter,
}

impl BackendMetrics {
    pub(crate) fn new(region: &str, backend: &str) -> Self {
        let labels = [
            ("region", region.to_string()),
            ("backend", backend.to_string()),
        ];
        let class = |class: &'static str| {
            let mut labels = labels.to_vec();
            labels.push(("class", class.to_string()));
            counter!("meridian_proxy_requests_total", &labels)
        };
        Self {
            responses: [
                class("1xx"),
                class("2xx"),
                class("3xx"),
                class("4xx"),
                class("5xx"),
            ],
            failures: counter!("meridian_proxy_backend_failures_total", &labels),
            ejections: counter!("meridian_proxy_ejections_total", &labels),
            healthy: gauge!("meridian_proxy_backend_healthy", &labels),
            connections: ConnectionMetrics {
                opened: counter!("meridian_proxy_upstream_connections_opened_total", &labels),
                reused: counter!("meridian_proxy_upstream_connections_reused_total", &labels),
            },
        }
    }

    pub(crate) fn response(&self, status: u16) -> &Counter {
        let class = usize::from(status / 100).clamp(1, 5) - 1;
        &self.responses[class]
    }
}
