//! The region's own health as its proxy sees it: how much of its backend capacity is
//! healthy. The proxy publishes it; the status listener's `/healthz` reports it, and peers
//! probing that URL learn whether this region can take traffic.

use std::sync::Arc;

use arc_swap::ArcSwap;
use serde::Serialize;

/// One backend as the region reports it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BackendReport {
    pub id: String,
    pub address: String,
    pub weight: u32,
    /// `healthy`, `draining` (healthy, drained by the operator: no new requests, sticky
    /// sessions and requests in flight go on), `ejected` or `down`. Only `healthy` counts
    /// toward the region's healthy capacity.
    pub state: &'static str,
    /// Drained by the operator, whatever its health (a drained backend that is down is
    /// `down`, and still drained when it comes back).
    pub drained: bool,
    pub in_flight: u32,
}

/// The region's backend capacity at one moment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LocalHealth {
    pub healthy_backends: usize,
    pub total_backends: usize,
    /// Healthy weight over total weight; 1.0 for a region without backends.
    pub healthy_capacity_share: f64,
    /// `/healthz` says 503 below this share.
    pub threshold: f64,
    pub backends: Vec<BackendReport>,
}

impl Default for LocalHealth {
    fn default() -> Self {
        Self::unknown()
    }
}

impl LocalHealth {
    /// Before the proxy has published anything: no backends, healthy.
    pub fn unknown() -> Self {
        Self {
            healthy_backends: 0,
            total_backends: 0,
            healthy_capacity_share: 1.0,
            threshold: 0.0,
            backends: Vec::new(),
        }
    }

    /// From the backends' reports and the threshold share.
    pub fn from_backends(backends: Vec<BackendReport>, threshold: f64) -> Self {
        let total_weight: u64 = backends.iter().map(|b| u64::from(b.weight)).sum();
        let healthy = || backends.iter().filter(|b| b.state == "healthy");
        let healthy_weight: u64 = healthy().map(|b| u64::from(b.weight)).sum();
        let share = if total_weight == 0 {
            1.0
        } else {
            healthy_weight as f64 / total_weight as f64
        };
        Self {
            healthy_backends: healthy().count(),
            total_backends: backends.len(),
            healthy_capacity_share: share,
            threshold,
            backends,
        }
    }

    /// Whether the region can take its traffic. A region without backends (DNS only) is
    /// healthy; one whose every backend is down is not, whatever the threshold.
    pub fn is_healthy(&self) -> bool {
        if self.total_backends == 0 {
            return true;
        }
        self.healthy_backends > 0 && self.healthy_capacity_share >= self.threshold
    }
}

/// Written by the proxy, read by the status listener.
pub type SharedLocalHealth = Arc<ArcSwap<LocalHealth>>;

#[cfg(test)]
mod tests {
    use super::*;

    fn backend(state: &'static str, weight: u32) -> BackendReport {
        BackendReport {
            id: "b".to_string(),
            address: "127.0.0.1:1".to_string(),
            weight,
            state,
            drained: state == "draining",
            in_flight: 0,
        }
    }

    #[test]
    fn share_is_by_weight_and_the_threshold_decides() {
        let health =
            LocalHealth::from_backends(vec![backend("healthy", 1), backend("down", 3)], 0.5);
        assert_eq!(health.healthy_backends, 1);
        assert_eq!(health.total_backends, 2);
        assert!((health.healthy_capacity_share - 0.25).abs() < 1e-9);
        assert!(!health.is_healthy());
        let health =
            LocalHealth::from_backends(vec![backend("healthy", 3), backend("ejected", 1)], 0.5);
        assert!(health.is_healthy());
    }

    #[test]
    fn a_draining_backend_is_not_healthy_capacity() {
        let health =
            LocalHealth::from_backends(vec![backend("healthy", 1), backend("draining", 1)], 0.5);
        assert_eq!((health.healthy_backends, health.total_backends), (1, 2));
        assert!((health.healthy_capacity_share - 0.5).abs() < 1e-9);
        assert!(health.is_healthy());
        let health =
            LocalHealth::from_backends(vec![backend("healthy", 1), backend("draining", 3)], 0.5);
        assert!(!health.is_healthy(), "draining weight counted as healthy");
        // Every backend drained: the region takes no new traffic, so it says so.
        let health = LocalHealth::from_backends(vec![backend("draining", 1)], 0.0);
        assert_eq!(health.healthy_backends, 0);
        assert!(!health.is_healthy());
    }

    #[test]
    fn no_backends_is_healthy_and_all_down_is_not_even_at_threshold_zero() {
        assert!(LocalHealth::from_backends(Vec::new(), 0.5).is_healthy());
        assert!(!LocalHealth::from_backends(vec![backend("down", 1)], 0.0).is_healthy());
    }
}
