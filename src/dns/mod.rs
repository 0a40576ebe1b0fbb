//! Authoritative DNS: zone data, answers (steering, ECS, EDNS, truncation), sockets and
//! response-rate limiting of UDP answers.
//!
//! `dns` reads the node's published [`View`](crate::view::View), once per message, and never
//! imports `proxy` or `dashboard`.

mod answer;
mod cookie;
mod ecs;
mod encode;
mod handler;
mod negative;
mod replay;
mod rrl;
mod server;
mod tcp;
mod wire;

pub use cookie::{Secret as CookieSecret, Secrets as CookieSecrets, now as cookie_now};
pub use handler::DnsHandler;
pub use rrl::{AnswerClass, ResponseLimiter, Verdict, classify, write_slip};
pub use server::{DnsSockets, bind, serve_udp};
pub use tcp::{serve_tcp, serve_tcp_limited};
