//! The published, immutable view of every region's health.

use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::region::RegionId;

/// Whether one region may receive traffic, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegionHealth {
    pub up: bool,
    /// A short human reason, shown by `explain` and the dashboard.
    pub reason: String,
}

/// Health of every region, indexed by [`RegionId`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthSnapshot {
    regions: Vec<RegionHealth>,
}

/// The snapshot shared between the monitor (writer) and the answer path (readers).
pub type SharedHealth = Arc<ArcSwap<HealthSnapshot>>;

impl HealthSnapshot {
    /// Every region up: the state before any probe has run.
    pub fn all_up(region_count: usize) -> Self {
        Self {
            regions: vec![
                RegionHealth {
                    up: true,
                    reason: "assumed up (no health monitor yet)".to_string(),
                };
                region_count
            ],
        }
    }

    pub fn from_regions(regions: Vec<RegionHealth>) -> Self {
        Self { regions }
    }

    /// Unknown regions are down: a snapshot never sends traffic somewhere it does not know.
    pub fn is_up(&self, region: RegionId) -> bool {
        self.regions
            .get(region.index())
            .is_some_and(|health| health.up)
    }

    pub fn get(&self, region: RegionId) -> Option<&RegionHealth> {
        self.regions.get(region.index())
    }
}
