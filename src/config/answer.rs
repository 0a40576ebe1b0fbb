//! The typed values of `[answer]` and `[[service]]` that say what an answer does while
//! regions are down: the transition TTL, where a client spills, and the all-down policy.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::region::Family;

/// `[answer] transition_ttl` when the key is absent, in seconds.
pub const DEFAULT_TRANSITION_TTL: u32 = 5;

/// `[answer] spill_regions` when the key is absent.
pub const DEFAULT_SPILL_REGIONS: u8 = 2;

/// The most regions one client's spill is spread over: past a handful, the regions at the end
/// are too far away to be worth sending anyone to.
pub const MAX_SPILL_REGIONS: u8 = 16;

/// `[answer] spill`: where the clients of a region that is down go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spill {
    /// All of them to the next healthy region of their order.
    Nearest,
    /// Spread over the next `regions` healthy regions of their order by capacity, each client
    /// subnet always to the same one, so that one region's clients do not all land on its
    /// nearest neighbour.
    Capacity { regions: u8 },
}

/// `[[service]] all_down`: what a steered name answers when every region that has addresses
/// of the family asked for is down.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllDown {
    /// The nearest region's addresses anyway, with the transition TTL: answering somewhere
    /// beats answering nothing.
    FailOpen,
    /// Fixed addresses (a static "we are down" page, another provider), with the transition
    /// TTL.
    Fallback(FallbackAddresses),
    /// NOERROR with no addresses, the SOA's TTL cut to the transition TTL.
    NoData,
    /// SERVFAIL, so that resolvers try elsewhere or report the failure.
    ServFail,
}

impl AllDown {
    /// The name used in the config, for messages and reports.
    pub fn name(&self) -> &'static str {
        match self {
            Self::FailOpen => "fail-open",
            Self::Fallback(_) => "fallback",
            Self::NoData => "nodata",
            Self::ServFail => "servfail",
        }
    }
}

/// `[[service]] fallback`, split by family in the configured order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FallbackAddresses {
    pub ipv4: Vec<Ipv4Addr>,
    pub ipv6: Vec<Ipv6Addr>,
}

impl FallbackAddresses {
    pub fn new(addresses: &[IpAddr]) -> Self {
        let mut split = Self::default();
        for address in addresses {
            match address.to_canonical() {
                IpAddr::V4(v4) => split.ipv4.push(v4),
                IpAddr::V6(v6) => split.ipv6.push(v6),
            }
        }
        split
    }

    /// How many addresses of `family` there are to hand out.
    pub fn count(&self, family: Family) -> usize {
        match family {
            Family::V4 => self.ipv4.len(),
            Family::V6 => self.ipv6.len(),
        }
    }
}
