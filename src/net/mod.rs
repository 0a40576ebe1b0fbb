//! The one accept loop every TCP listener uses (DNS over TCP, the HTTP front, the status
//! listener): connection caps, idle timeouts that shrink under pressure, back-off when
//! accept fails, and a bounded drain at shutdown.
//!
//! - [`Limits`]: the caps and timeouts, with the pure pressure rule.
//! - [`serve`]: the loop; each admitted connection is a tracked task given a [`Conn`].
//! - [`serve_http`]: a tower service (an axum `Router`) served by hyper over [`serve`].
//!
//! Like nginx and Knot, a connection past a cap is accepted and closed at once, rather than
//! left in the kernel's backlog where it would wait without an answer. The per-source
//! tally is locked only at accept and close; the per-message path reads one atomic.

mod backoff;
mod bind;
mod http;
mod limits;
mod serve;
mod tally;

pub use bind::bind_shared;
pub use http::{GracefulConnection, IdleTimer, drive, serve_http};
pub use limits::Limits;
pub use serve::{Conn, serve};

#[cfg(test)]
mod tests;
