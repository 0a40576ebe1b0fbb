//! What a steered name answers when every region is down: each all-down policy for each
//! family, and that the policy changes nothing while any region is up.

use std::net::IpAddr;

use hickory_proto::rr::Name;

use super::*;
use crate::config::{AllDown, AnswerPolicy, FallbackAddresses, Service, Spill};

/// The index the tests give the service in `Config::services`.
pub(super) const SERVICE: usize = 3;
pub(super) const NEGATIVE_TTL: u32 = 60;

pub(super) fn policy() -> AnswerPolicy {
    AnswerPolicy {
        ttl: 30,
        max_addresses: 4,
        transition_ttl: 5,
        spill: Spill::Nearest,
    }
}

pub(super) fn service(ttl: u32, all_down: AllDown) -> Service {
    Service {
        name: Name::from_ascii("www.gtm.test.").unwrap_or_else(|e| panic!("{e}")),
        ttl,
        all_down,
    }
}

/// The answer for `choice` from the test regions, with [`policy`].
pub(super) fn answer(
    choice: Option<&Choice>,
    family: Family,
    service: &Service,
    policy: &AnswerPolicy,
) -> SteeredAnswer {
    steered_answer(
        choice,
        family,
        &AnswerContext {
            service_index: SERVICE,
            service,
            policy,
            regions: &regions(),
            negative_ttl: NEGATIVE_TTL,
        },
    )
}

fn fallback(addresses: &[&str]) -> AllDown {
    let addresses: Vec<IpAddr> = addresses.iter().map(|text| ip(text)).collect();
    AllDown::Fallback(FallbackAddresses::new(&addresses))
}

fn shape(source: AnswerSource, family: Family, ttl: u32, count: usize) -> SteeredAnswer {
    SteeredAnswer {
        source,
        family,
        ttl,
        count,
    }
}

#[test]
fn every_policy_for_every_family_when_every_region_is_down() {
    use AnswerSource::{Fallback, NoData, Region, ServFail};
    let both = fallback(&["192.0.2.10", "192.0.2.11", "2001:db8::10"]);
    let v4_only = fallback(&["192.0.2.10"]);
    let v6_only = fallback(&["2001:db8::10", "2001:db8::11"]);
    let fallback_source = Fallback { service: SERVICE };
    // (policy, family, source, TTL, count); the name's TTL is 30, the transition TTL 5 and
    // the SOA's negative TTL 60.
    let table = [
        // The nearest region, EU, with the transition TTL.
        (AllDown::FailOpen, Family::V4, Region(EU), 5, 2),
        (AllDown::FailOpen, Family::V6, Region(EU), 5, 2),
        (both.clone(), Family::V4, fallback_source, 5, 2),
        (both, Family::V6, fallback_source, 5, 1),
        (v4_only.clone(), Family::V4, fallback_source, 5, 1),
        // An IPv4-only fallback list answers AAAA with NODATA, cached for the transition TTL.
        (v4_only, Family::V6, NoData, 5, 0),
        (v6_only.clone(), Family::V4, NoData, 5, 0),
        (v6_only, Family::V6, fallback_source, 5, 2),
        (AllDown::NoData, Family::V4, NoData, 5, 0),
        (AllDown::NoData, Family::V6, NoData, 5, 0),
        (AllDown::ServFail, Family::V4, ServFail, 0, 0),
        (AllDown::ServFail, Family::V6, ServFail, 0, 0),
    ];
    let order = london();
    for (all_down, family, source, ttl, count) in table {
        let name = all_down.name();
        let service = service(30, all_down);
        let choice = choose_nearest(&order, &health([false; 3]), &regions(), family);
        assert!(choice.is_some_and(|c| c.all_down()), "{name} {family:?}");
        assert_eq!(
            answer(choice.as_ref(), family, &service, &policy()),
            shape(source, family, ttl, count),
            "{name} {family:?}"
        );
    }
}

#[test]
fn the_policy_changes_nothing_while_a_region_is_up() {
    let policies = [
        AllDown::FailOpen,
        fallback(&["192.0.2.10", "2001:db8::10"]),
        AllDown::NoData,
        AllDown::ServFail,
    ];
    let order = london();
    for all_down in policies {
        let service = service(30, all_down);
        for family in FAMILIES {
            // Only ap-southeast is up: the last candidate from London.
            for (up, region) in [([true; 3], EU), ([true, false, false], AP)] {
                let choice = choose_nearest(&order, &health(up), &regions(), family);
                assert_eq!(
                    answer(choice.as_ref(), family, &service, &policy()),
                    shape(AnswerSource::Region(region), family, 30, 2),
                    "{} {family:?} {up:?}",
                    service.all_down.name()
                );
            }
        }
    }
}

#[test]
fn no_region_with_the_family_is_nodata_whatever_the_policy() {
    let policies = [
        AllDown::FailOpen,
        fallback(&["192.0.2.10", "2001:db8::10"]),
        AllDown::NoData,
        AllDown::ServFail,
    ];
    for all_down in policies {
        let service = service(30, all_down);
        for family in FAMILIES {
            // The steady state of the name, not an outage: the SOA's own negative TTL.
            assert_eq!(
                answer(None, family, &service, &policy()),
                shape(AnswerSource::NoData, family, NEGATIVE_TTL, 0),
                "{}",
                service.all_down.name()
            );
        }
    }
}

#[test]
fn all_down_ttls_never_exceed_the_names_and_counts_respect_max_addresses() {
    let order = london();
    let down = health([false; 3]);
    let choice = choose_nearest(&order, &down, &regions(), Family::V4);
    // A name TTL below the transition TTL is kept.
    let short = service(3, AllDown::FailOpen);
    assert_eq!(
        answer(choice.as_ref(), Family::V4, &short, &policy()).ttl,
        3
    );
    // Fallback lists are held to max_addresses like a region's addresses.
    let six = fallback(&[
        "192.0.2.1",
        "192.0.2.2",
        "192.0.2.3",
        "192.0.2.4",
        "192.0.2.5",
        "192.0.2.6",
    ]);
    let capped = AnswerPolicy {
        max_addresses: 4,
        ..policy()
    };
    assert_eq!(
        answer(choice.as_ref(), Family::V4, &service(30, six), &capped).count,
        4
    );
    let one = AnswerPolicy {
        max_addresses: 1,
        ..policy()
    };
    assert_eq!(
        answer(
            choice.as_ref(),
            Family::V4,
            &service(30, AllDown::FailOpen),
            &one
        )
        .count,
        1
    );
    // A transition TTL above the negative TTL leaves the SOA's TTL alone.
    let long = AnswerPolicy {
        transition_ttl: 120,
        ..policy()
    };
    assert_eq!(
        answer(
            choice.as_ref(),
            Family::V4,
            &service(300, AllDown::NoData),
            &long
        )
        .ttl,
        NEGATIVE_TTL
    );
}
