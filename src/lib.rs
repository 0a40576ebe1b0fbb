//! Meridian: a multi-region global traffic manager with an authoritative GeoDNS front.
//!
//! The map (see README.md for the invariants):
//! - [`config`]: TOML -> validated [`config::Config`]; the only module that knows TOML.
//! - [`region`]: shared vocabulary (regions, locations).
//! - [`geo`]: MaxMind DB in memory, client address choice, IP -> place, distance.
//! - [`steering`]: pure policy, place -> region order -> choice, ECS scope.
//! - [`decision`]: one client's decision from the current snapshots (DNS and explain).
//! - [`health`]: the published health snapshot.
//! - [`dns`]: authoritative answers and the DNS sockets.
//! - [`net`]: the one accept loop (caps, idle timeouts, back-off, drain) of every TCP listener.
//! - [`proxy`]: the regional HTTP front (a placeholder page for now).
//! - [`node`]: wires a node together and owns its tasks and shutdown.
//! - [`demo`], [`explain`]: the commands built on the above.

pub mod cli;
pub mod commands;
pub mod config;
pub mod dashboard;
pub mod decision;
pub mod demo;
pub mod dns;
pub mod explain;
pub mod geo;
pub mod health;
pub mod net;
pub mod node;
pub mod proxy;
pub mod region;
pub mod reload;
pub mod steering;
pub mod view;
pub mod zone;
