//! Meridian: a multi-region global traffic manager with an authoritative GeoDNS front.
//!
//! The map (see README.md for the invariants):
//! - [`config`]: TOML -> validated [`config::Config`]; the only module that knows TOML.
//! - [`region`]: shared vocabulary (regions, locations, listen addresses).
//! - [`view`]: the one immutable [`view::View`] a request reads, swapped whole.
//! - [`reload`]: loading and reloading the config and database into new views.
//! - [`zone`]: the zone's records and the walk through them.
//! - [`geo`]: MaxMind DB in memory, client address choice, IP -> place, distance.
//! - [`steering`]: pure policy, place -> region order -> choice, ECS scope.
//! - [`decision`]: one client's decision from a view (DNS and explain).
//! - [`explain`]: the decision report, pure.
//! - [`health`]: health snapshots (by region name) and one view's table (by id).
//! - [`dns`]: authoritative answers and the DNS sockets.
//! - [`net`]: the one accept loop (caps, idle timeouts, back-off, drain) of every TCP listener.
//! - [`proxy`]: the regional HTTP front (a placeholder page for now).
//! - [`dashboard`]: the status router (`/healthz`, admin actions).
//! - [`node`]: binds a region's sockets, serves and supervises them, owns shutdown.
//! - [`demo`], [`commands`], [`cli`]: the commands built on the above.

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
pub mod pacing;
pub mod proxy;
pub mod region;
pub mod reload;
pub mod steering;
pub mod telemetry;
pub mod view;
pub mod zone;
