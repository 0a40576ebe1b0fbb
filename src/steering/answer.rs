//! What a steered answer holds, from the choice and the service's settings: which addresses,
//! how many, for how long, or no addresses at all.
//!
//! The [`SteeredAnswer`] is the whole input of a steered reply's bytes (beside the question
//! and the view): the UDP reply cache keys steered replies by it. So everything that changes
//! a reply (the response code, region or fallback, TTL, count) is a field of it.

use super::{Choice, Route};
use crate::config::{AllDown, AnswerPolicy, Service};
use crate::region::{Family, Region, RegionId};

/// Where a steered answer's records come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AnswerSource {
    /// The addresses of this region.
    Region(RegionId),
    /// The fixed `fallback` addresses of the service at this index of `Config::services`
    /// (every region down, `all_down = "fallback"`).
    Fallback { service: usize },
    /// NOERROR without addresses, the SOA in authority: no region has addresses of the
    /// family, or every region is down and the policy (or a fallback list without the
    /// family) says so.
    NoData,
    /// SERVFAIL without records (every region down, `all_down = "servfail"`).
    ServFail,
}

/// Everything a steered answer's records are rendered from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SteeredAnswer {
    pub source: AnswerSource,
    pub family: Family,
    /// Of the address records; for [`AnswerSource::NoData`], of the SOA in authority (the
    /// time resolvers may cache the absence); 0 for [`AnswerSource::ServFail`].
    pub ttl: u32,
    /// How many addresses are handed out (0 without addresses).
    pub count: usize,
}

/// What an answer is computed from besides the choice: the steered name and the settings.
#[derive(Debug, Clone, Copy)]
pub struct AnswerContext<'a> {
    /// The service's index in `Config::services`, and the service.
    pub service_index: usize,
    pub service: &'a Service,
    pub policy: &'a AnswerPolicy,
    pub regions: &'a [Region],
    /// TTL of the SOA in negative answers: min(SOA TTL, SOA minimum) (RFC 2308 section 5).
    pub negative_ttl: u32,
}

/// The answer of `context.service` for `family`, given the choice (`None`: no region has
/// addresses of `family`).
///
/// TTLs: the service's TTL; at most the transition TTL when the choice depends on a region in
/// transition, and whenever every region is down (whatever is answered then should be asked
/// again soon). A NODATA given because every region is down has its SOA's TTL cut the same
/// way, since resolvers cache the absence of addresses for that long (RFC 2308).
pub fn steered_answer(
    choice: Option<&Choice>,
    family: Family,
    context: &AnswerContext<'_>,
) -> SteeredAnswer {
    let max_addresses = context.policy.max_addresses;
    let short = |ttl: u32| ttl.min(context.policy.transition_ttl);
    let nodata = |ttl| SteeredAnswer {
        source: AnswerSource::NoData,
        family,
        ttl,
        count: 0,
    };
    let Some(choice) = choice else {
        return nodata(context.negative_ttl);
    };
    let name_ttl = context.service.ttl;
    let from_region = |ttl| {
        let available =
            context
                .regions
                .get(choice.region.index())
                .map_or(0, |region| match family {
                    Family::V4 => region.ipv4.len(),
                    Family::V6 => region.ipv6.len(),
                });
        SteeredAnswer {
            source: AnswerSource::Region(choice.region),
            family,
            ttl,
            count: available.min(max_addresses),
        }
    };
    if choice.route != Route::AllDown {
        return from_region(if choice.transition {
            short(name_ttl)
        } else {
            name_ttl
        });
    }
    match &context.service.all_down {
        AllDown::FailOpen => from_region(short(name_ttl)),
        AllDown::Fallback(addresses) => match addresses.count(family) {
            // An IPv4-only list has nothing to say to AAAA questions: the name has no such
            // addresses for now.
            0 => nodata(short(context.negative_ttl)),
            available => SteeredAnswer {
                source: AnswerSource::Fallback {
                    service: context.service_index,
                },
                family,
                ttl: short(name_ttl),
                count: available.min(max_addresses),
            },
        },
        AllDown::NoData => nodata(short(context.negative_ttl)),
        AllDown::ServFail => SteeredAnswer {
            source: AnswerSource::ServFail,
            family,
            ttl: 0,
            count: 0,
        },
    }
}
