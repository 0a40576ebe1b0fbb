//! Integration tests: real servers in-process on 127.0.0.1:0, real UDP and TCP, the MaxMind
//! test databases. One binary, one module per concern.

mod answers;
mod geo_edges;
mod hostile;
mod mmdb;
mod reload;
mod replay;
mod support;
mod tcp;
