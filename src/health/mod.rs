//! Region health as the answer path sees it.
//!
//! For now every region is published healthy; the probing monitor (its own issue) will
//! publish real verdicts into the same [`SharedHealth`] without the readers changing.

mod snapshot;

pub use snapshot::{HealthSnapshot, RegionHealth, SharedHealth};
