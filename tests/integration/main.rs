//! Integration tests: real servers in-process on 127.0.0.1:0, real UDP and TCP, the MaxMind
//! test databases. One binary, one module per concern.

// Tests may panic on anything: a panic is a failed test, with its message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod all_down;
mod answers;
mod conformance;
mod cookies;
mod dashboard;
mod explain;
mod fuzz_corpus;
mod geo_corrupt;
mod geo_edges;
mod health;
mod hostile;
mod live;
mod malformed;
mod mmdb;
mod negative;
mod openapi;
mod proxy;
mod reload;
mod replay;
mod replay_case;
mod rrl;
mod sockets;
mod spill;
mod status;
mod support;
mod tcp;
