//! The regional proxy, in-process on loopback: test backends that can answer, fail, hang or
//! vanish, a proxy in front of them, and clients that count what they get.

mod backends;
mod harness;

mod balancing;
mod chaos;
mod hygiene;
mod reload;
mod retries;
mod sticky;
mod upgrade;
