//! The status listener: the dashboard page (`/`), `/healthz`, the JSON API under `/api/v1/`,
//! `/metrics`, and admin actions.
//!
//! Built by [`router`] and testable without a socket (`tower::ServiceExt::oneshot`). It reads
//! the node's published view and never imports `dns` or `proxy`: backend drains go through
//! the `health::BackendControl` handle the node gives it.

mod backend_api;
mod explain_api;
mod health_api;
mod live_api;
mod page;
mod router;
mod stream_api;

pub use router::{NodeIdentity, StatusState, router};
