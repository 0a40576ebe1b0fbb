//! The regional HTTP proxy: each region's node spreads its HTTP traffic across the region's
//! backends, checks their health, retries what can be retried, keeps sessions on their
//! backend, and shields the backends; when none can serve, it passes requests to the
//! nearest healthy region's proxy.
//!
//! - [`serve`]: the listener (shared accept loop, hyper HTTP/1.1 and HTTP/2).
//! - `forward`: one request: admission, the head the backend sees, backend choice,
//!   attempts and retries.
//! - `spillover`: a request with no backend to pick goes to the nearest healthy other
//!   region's proxy, in the order the pure `spill` gives.
//! - [`run_checks`]: active health checks, ejection expiry, the region's health report.
//! - `drain`: the operator's drain of one backend (the status listener's control handle).
//! - [`Proxy`]: state kept across reloads, and the snapshot each request reads.
//! - `balance` and `backend_health`: the pure policies (selection; one backend's health).
//! - `upstream`: one attempt on a pooled connection, and the response relayed back.
//! - `access_log`: one line per request, written by a thread of its own off the request
//!   path ([`AccessLogWriter`]).
//! - `pool`, `body`, `headers`, `sticky`, `pages`: the parts.
//!
//! Settings come from the published view (`[proxy]` of the region's file), so a reload
//! changes backends, weights and policy for the next request without dropping one.

mod access_log;
mod backend;
pub mod backend_health;
pub mod balance;
mod body;
mod checker;
mod drain;
mod forward;
pub mod framing;
mod headers;
mod metrics;
mod pages;
mod pool;
mod random;
mod retry_budget;
mod server;
mod spill;
mod spillover;
mod state;
mod sticky;
mod upstream;

pub use access_log::AccessLogWriter;
pub use checker::run as run_checks;
pub use server::{run_worker, serve};
pub use state::Proxy;
