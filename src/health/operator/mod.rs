//! The operator's drains and force-ups: one versioned entry per region, merged from gossip and
//! persisted across restarts.
//!
//! An operator drains a region (no traffic, whatever the votes say), forces it up (traffic,
//! whatever the votes say) or clears either, through the admin API of any node. Every node must
//! answer the same, so the state travels in the gossip, and a node that restarts must not bring
//! back a state the operator has since changed, so it is written to a state file. This module is
//! the data part only: [`OperatorState`] (pure, no clock, no I/O) and [`load`] / [`save`] (the
//! only file-system code). The admin API, the gossip transport and the monitor call them.
//!
//! # Versions
//!
//! Each region has one [`OperatorEntry`]: its [`Operator`] state, a version, the node that set
//! it and the wall-clock time it was set (for display only; it never decides anything).
//!
//! - **Set.** [`OperatorState::set`] gives the region's entry the highest version this node has
//!   seen for that region plus one, so a change made after hearing the others' gossip replaces
//!   everything they said.
//! - **Clear is a tombstone.** [`OperatorState::clear`] is a set to [`Operator::None`]: the entry
//!   stays, with its new version, so a drain gossiped late by a node that has not heard of the
//!   undrain yet carries a lower version and loses. An entry is never removed.
//! - **Merge.** [`OperatorState::merge`] keeps, per region, the greater entry of the two, in
//!   this order: the higher version; then the state, [`Operator::Drained`] over
//!   [`Operator::ForcedUp`] over [`Operator::None`] (the precedence of the quorum module: a
//!   drain wins, because sending traffic to a region being worked on is the worse mistake); then
//!   the greater `by`; then the greater `at_unix_ms`. That order is total, so merging is taking a
//!   maximum: every node that has heard the same entries holds the same state, whatever order
//!   it heard them in, and hearing one twice changes nothing.
//!
//! Two nodes that each set a region before hearing of the other's change can give their entries
//! the same version; the order above then picks one on every node alike, which may not be the
//! later of the two. The admin API should merge the gossip it has before it sets.
//!
//! # The state file
//!
//! [`save`] writes pretty JSON, `{"version": 1, "regions": {...}}`, to a temporary file in the
//! target's directory, syncs it, renames it over the target and syncs the directory: after a
//! crash the file is the old state or the new one, never half of either. [`load`] reads it back;
//! a missing file is an empty state (a node that has never been told anything), while a file
//! that cannot be read or parsed, or has another format version, is an [`OperatorFileError`]
//! naming the path: silently starting empty could resurrect a drain's opposite.

mod persist;
mod state;

#[cfg(test)]
mod tests;

use super::quorum::Operator;
pub use persist::{FORMAT_VERSION, OperatorFileError, load, save};
pub use state::{OperatorEntry, OperatorState};
