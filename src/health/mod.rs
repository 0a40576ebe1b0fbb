//! Region health as the answer path sees it.
//!
//! The node's [`monitor`] probes every region, feeds [`hysteresis`] (one prober's view of
//! each region) and [`quorum`] (the verdict from every vantage point's votes), and publishes
//! the verdicts as [`HealthSnapshot`]s, keyed by region name, into the node's view; until
//! its first results every region counts as up. [`local`] is the
//! region's own backend capacity, published by its proxy and reported on `/healthz`;
//! [`backend_drain`] the operator's drains of single backends and the proxy's control handle.

mod atomic_file;
pub mod backend_drain;
pub mod events;
pub mod gossip;
pub mod hysteresis;
pub mod local;
pub mod monitor;
pub mod operator;
pub mod probe;
pub mod quorum;
mod snapshot;

pub use backend_drain::{BackendControl, BackendDrains, SharedBackendControl};
pub use local::{BackendReport, LocalHealth, SharedLocalHealth};
pub use snapshot::{HealthSnapshot, HealthTable, RegionHealth};
