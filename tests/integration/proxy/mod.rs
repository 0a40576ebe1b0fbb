//! The regional proxy, in-process on loopback: test backends that can answer, fail, hang or
//! vanish, a proxy (or several regions' proxies) in front of them, and clients that count
//! what they get.

mod backends;
mod harness;
mod node;
mod regions;
mod tap;

mod access_log;
mod balancing;
mod chaos;
mod drain;
mod drain_api;
mod hygiene;
mod reload;
mod retries;
mod spillover;
mod sticky;
mod upgrade;
