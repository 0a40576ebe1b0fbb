//! The typed `[response_rate_limit]`: how many UDP answers of one kind one client network
//! gets per second, and what happens to the rest (see `dns/rrl.rs`).
//!
//! The defaults follow the name servers that have run RRL on the internet for a decade:
//! 200 responses per second is NSD's default (`rrl-ratelimit`, on in Debian) and the rate
//! Knot's documentation shows for `mod-rrl`; `slip` 2 and the /24 and /56 client networks
//! are BIND's defaults. 200 per second for one name, from one /24, is far above what a
//! resolver asks of an authoritative server (it caches each answer for its TTL; even a
//! resolver sending ECS for many client subnets asks a few times a second per name), and far
//! below what makes a useful reflector: a spoofed victim gets at most 200 answers per name
//! per second, and half of what is over the limit as TC replies no larger than its query.
//!
//! Loopback sources are exempt unless `exempt` is set: a datagram from the network with a
//! loopback source is a martian the kernel drops, so a loopback source is a local tool
//! (monitoring, a resolver on the same host, a benchmark), never a spoofed victim.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;

/// `responses_per_second` when the key is absent.
pub const DEFAULT_RESPONSES_PER_SECOND: u32 = 200;
/// `slip` when the key is absent: every second limited answer goes out as a TC reply.
pub const DEFAULT_SLIP: u32 = 2;
/// `ipv4_prefix` when the key is absent: one bucket per /24, as BIND, Knot and NSD.
pub const DEFAULT_IPV4_PREFIX: u8 = 24;
/// `ipv6_prefix` when the key is absent: one bucket per /56, as BIND (a site gets a /56 or
/// a /48; a /64 bucket would let one site spread a flood over 256 buckets).
pub const DEFAULT_IPV6_PREFIX: u8 = 56;
/// The highest rate accepted: the buckets count in microseconds.
pub const MAX_RESPONSES_PER_SECOND: u32 = 1_000_000;
/// The largest `slip` accepted (BIND's limit too): past it, a real resolver behind a
/// spoofed flood waits too long for its TC reply.
pub const MAX_SLIP: u32 = 10;

/// `[response_rate_limit]`, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct ResponseRateLimit {
    /// `false`: every UDP answer is sent.
    pub enabled: bool,
    /// Answers per second per client network and answer kind (a positive answer per name;
    /// NXDOMAIN, NODATA: per zone), with bursts of one second's worth.
    pub responses_per_second: u32,
    /// The same for errors (FORMERR, SERVFAIL, REFUSED, NOTIMP).
    pub errors_per_second: u32,
    /// Of the answers over the limit, every `slip`th is sent as a TC=1 reply without
    /// records (the client retries over TCP), the rest are dropped. 0: all dropped; 1: none.
    pub slip: u32,
    /// The client networks counted together: /`ipv4_prefix` and /`ipv6_prefix`.
    pub ipv4_prefix: u8,
    pub ipv6_prefix: u8,
    /// Sources never limited ([`default_exempt`] when the key is absent); IPv4-mapped
    /// networks are given as IPv4.
    pub exempt: Vec<IpNet>,
}

impl Default for ResponseRateLimit {
    fn default() -> Self {
        Self {
            enabled: true,
            responses_per_second: DEFAULT_RESPONSES_PER_SECOND,
            errors_per_second: DEFAULT_RESPONSES_PER_SECOND,
            slip: DEFAULT_SLIP,
            ipv4_prefix: DEFAULT_IPV4_PREFIX,
            ipv6_prefix: DEFAULT_IPV6_PREFIX,
            exempt: default_exempt(),
        }
    }
}

/// `exempt` when the key is absent: loopback, 127.0.0.0/8 and ::1.
pub fn default_exempt() -> Vec<IpNet> {
    vec![
        IpNet::new_assert(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 0)), 8),
        IpNet::new_assert(IpAddr::V6(Ipv6Addr::LOCALHOST), 128),
    ]
}
