//! Cross-region health with three real nodes in-process: failover, partitions, isolation,
//! flapping and the operator's drains.

mod all_down;
mod cluster;
mod failover;
mod operator;
