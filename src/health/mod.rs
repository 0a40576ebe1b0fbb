//! Region health as the answer path sees it.
//!
//! For now no monitor runs and every region counts as up; the probing monitor (its own issue)
//! will publish [`HealthSnapshot`]s, keyed by region name, into the node's view.

pub mod hysteresis;
pub mod local;
pub mod quorum;
mod snapshot;

pub use local::{BackendReport, LocalHealth, SharedLocalHealth};
pub use snapshot::{HealthSnapshot, HealthTable, RegionHealth};
