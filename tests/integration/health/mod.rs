//! Cross-region health with three real nodes in-process: failover, partitions, isolation,
//! flapping and the operator's drains.

mod cluster;
mod failover;
mod operator;
