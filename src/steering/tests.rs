//! Steering policy, exhaustively over small inputs: no database, no sockets.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::*;
use crate::config::{CidrRule, CidrRules, Spill};
use crate::geo::{Place, PlaceLocation, Precision};
use crate::health::{HealthTable, RegionHealth};
use crate::region::{Family, Location, Region, RegionId};

mod all_down;
mod spill;
mod transition;

/// A region with two addresses of each family: 10.0.<id>.1-2 and 2001:db8:<id>::1-2.
fn region(id: u16, name: &str, latitude: f64, longitude: f64) -> Region {
    let mut region = Region::bare(
        RegionId(id),
        name,
        Location {
            latitude,
            longitude,
        },
    );
    let [high, low] = id.to_be_bytes();
    region.ipv4 = (1..=2)
        .map(|host| Ipv4Addr::new(10, high, low, host))
        .collect();
    region.ipv6 = (1..=2)
        .map(|host| Ipv6Addr::new(0x2001, 0xdb8, id, 0, 0, 0, 0, host))
        .collect();
    region
}

/// Sorted by name, as the config loader sorts them.
fn regions() -> Vec<Region> {
    vec![
        region(0, "ap-southeast", 1.29, 103.85),
        region(1, "eu-west", 53.35, -6.26),
        region(2, "us-east", 39.04, -77.49),
    ]
}

const AP: RegionId = RegionId(0);
const EU: RegionId = RegionId(1);
const US: RegionId = RegionId(2);

fn place_at(latitude: f64, longitude: f64) -> Place {
    Place {
        location: Some(PlaceLocation {
            location: Location {
                latitude,
                longitude,
            },
            precision: Precision::Coordinates,
        }),
        ..Place::default()
    }
}

fn ids(order: &RegionOrder) -> Vec<RegionId> {
    order.candidates.iter().map(|c| c.region).collect()
}

fn rules() -> SteeringRules {
    SteeringRules {
        default_order: vec![US, EU, AP],
        ..SteeringRules::default()
    }
}

fn net(text: &str) -> IpNet {
    text.parse()
        .unwrap_or_else(|_| panic!("bad network {text}"))
}

fn ip(text: &str) -> IpAddr {
    text.parse()
        .unwrap_or_else(|_| panic!("bad address {text}"))
}

#[test]
fn nearest_first_by_distance() {
    let london = place_at(51.51, -0.09);
    let order = order_regions(&london, None, &rules(), &regions());
    assert_eq!(ids(&order), [EU, US, AP]);
    assert_eq!(order.rule, Rule::Distance);
    let distances: Vec<f64> = order
        .candidates
        .iter()
        .filter_map(|c| c.distance_km)
        .collect();
    assert!(distances.windows(2).all(|w| w[0] <= w[1]), "{distances:?}");
    let sydney = place_at(-33.87, 151.21);
    assert_eq!(
        ids(&order_regions(&sydney, None, &rules(), &regions())),
        [AP, US, EU]
    );
    let seattle = place_at(47.6, -122.3);
    assert_eq!(
        ids(&order_regions(&seattle, None, &rules(), &regions())),
        [US, EU, AP]
    );
}

#[test]
fn unlocated_clients_use_the_default_order() {
    let order = order_regions(&Place::default(), None, &rules(), &regions());
    assert_eq!((ids(&order), order.rule), (vec![US, EU, AP], Rule::Default));
    assert!(order.candidates.iter().all(|c| c.distance_km.is_none()));
    // A default order that names some regions is completed with the rest.
    let partial = SteeringRules {
        default_order: vec![AP],
        ..SteeringRules::default()
    };
    assert_eq!(
        ids(&order_regions(
            &Place::default(),
            None,
            &partial,
            &regions()
        )),
        [AP, EU, US]
    );
}

#[test]
fn overrides_take_precedence_in_order() {
    let mut rules = rules();
    rules.continent = HashMap::from([("EU".to_string(), vec![AP])]);
    rules.country = HashMap::from([("GB".to_string(), vec![US])]);
    rules.subdivision = HashMap::from([("GB-ENG".to_string(), vec![AP, US])]);
    let cidr = CidrRule {
        network: net("81.2.69.0/24"),
        order: vec![EU],
    };
    let mut london = place_at(51.51, -0.09);
    london.continent = Some("EU".into());
    london.country = Some("GB".into());
    london.subdivision = Some("GB-ENG".into());

    let order = order_regions(&london, Some(&cidr), &rules, &regions());
    assert_eq!(
        (ids(&order), order.rule.clone()),
        (vec![EU, US, AP], Rule::Cidr(cidr.network))
    );
    let order = order_regions(&london, None, &rules, &regions());
    assert_eq!(
        (ids(&order), order.rule.clone()),
        (vec![AP, US, EU], Rule::Subdivision("GB-ENG".into()))
    );
    london.subdivision = None;
    let order = order_regions(&london, None, &rules, &regions());
    // Listed first, then the rest by distance from London.
    assert_eq!(
        (ids(&order), order.rule.clone()),
        (vec![US, EU, AP], Rule::Country("GB".into()))
    );
    london.country = Some("FR".into());
    let order = order_regions(&london, None, &rules, &regions());
    assert_eq!(
        (ids(&order), order.rule.clone()),
        (vec![AP, EU, US], Rule::Continent("EU".into()))
    );
}

fn health(up: [bool; 3]) -> HealthTable {
    HealthTable::from_regions(
        up.iter()
            .map(|&up| RegionHealth {
                up,
                reason: String::new(),
                transition: false,
            })
            .collect(),
    )
}

/// A client for choices that do not depend on who asks.
const CLIENT: ClientNet = ClientNet {
    addr: IpAddr::V4(Ipv4Addr::new(81, 2, 69, 142)),
    prefix: 32,
};

/// [`choose`] with `spill = "nearest"`: the next healthy candidate, whoever asks.
fn choose_nearest(
    order: &RegionOrder,
    health: &HealthTable,
    regions: &[Region],
    family: Family,
) -> Option<Choice> {
    choose(order, health, regions, family, Spill::Nearest, CLIENT)
}

fn london() -> RegionOrder {
    order_regions(&place_at(51.51, -0.09), None, &rules(), &regions())
}

/// Both families: every test region has addresses of both.
const FAMILIES: [Family; 2] = [Family::V4, Family::V6];

#[test]
fn choose_skips_down_regions_and_reports_all_down() {
    let order = london();
    // Every combination of up and down regions, for both families.
    for family in FAMILIES {
        for mask in 0..8u8 {
            let up = [mask & 1 != 0, mask & 2 != 0, mask & 4 != 0];
            let choice = choose_nearest(&order, &health(up), &regions(), family)
                .unwrap_or_else(|| panic!("no choice"));
            let healthy = [EU, US, AP].into_iter().position(|id| up[id.index()]);
            let (region, route) = match healthy {
                Some(0) => (EU, Route::First),
                Some(rank) => ([EU, US, AP][rank], Route::Next),
                None => (EU, Route::AllDown),
            };
            let expected = Choice {
                region,
                route,
                transition: false,
            };
            assert_eq!(choice, expected, "{up:?} {family:?}");
            assert_eq!(choice.all_down(), healthy.is_none());
        }
    }
    let empty = RegionOrder {
        rule: Rule::Default,
        candidates: Vec::new(),
    };
    assert_eq!(
        choose_nearest(&empty, &health([true; 3]), &regions(), Family::V4),
        None
    );
    // A snapshot that does not know a region treats it as down.
    let short = HealthTable::from_regions(Vec::new());
    assert!(choose_nearest(&order, &short, &regions(), Family::V4).is_some_and(|c| c.all_down()));
}

#[test]
fn choose_only_regions_that_can_answer() {
    let order = london();
    // eu-west has no IPv6 addresses: AAAA goes to the next region, A does not.
    let mut regions = regions();
    regions[EU.index()].ipv6.clear();
    let choose_v6 = |up| choose_nearest(&order, &health(up), &regions, Family::V6);
    let choice = |region, route| {
        Some(Choice {
            region,
            route,
            transition: false,
        })
    };
    assert_eq!(choose_v6([true; 3]), choice(US, Route::First));
    assert_eq!(
        choose_nearest(&order, &health([true; 3]), &regions, Family::V4),
        choice(EU, Route::First)
    );
    // All down stays among regions that can answer: the nearest of them.
    assert_eq!(choose_v6([false; 3]), choice(US, Route::AllDown));
    // eu-west being up does not help an AAAA question.
    assert_eq!(choose_v6([false, true, false]), choice(US, Route::AllDown));
    for region in &mut regions {
        region.ipv6.clear();
    }
    assert_eq!(
        choose_nearest(&order, &health([true; 3]), &regions, Family::V6),
        None
    );
}

#[test]
fn skipped_regions_are_the_down_ones_ranked_before_the_choice() {
    let order = london();
    let skipped_for = |up| {
        let health = health(up);
        let choice = choose_nearest(&order, &health, &regions(), Family::V4)
            .unwrap_or_else(|| panic!("no choice"));
        skipped(&order, &health, &regions(), Family::V4, &choice).collect::<Vec<_>>()
    };
    // Order EU, US, AP; up flags are by id (AP, EU, US).
    assert_eq!(skipped_for([true, true, true]), []);
    assert_eq!(skipped_for([true, false, true]), [EU]);
    assert_eq!(skipped_for([true, false, false]), [EU, US]);
    // AP, after the chosen US, is down but not skipped.
    assert_eq!(skipped_for([false, false, true]), [EU]);
    // All down: every candidate but the nearest, which the policy may still use.
    assert_eq!(skipped_for([false, false, false]), [US, AP]);
}

/// The scope for `client` under `rules`, as the answer path computes it.
fn scope(client: IpAddr, source_prefix: u8, db_prefix: Option<u8>, rules: &CidrRules) -> u8 {
    scope_prefix(source_prefix, db_prefix, rules.lookup(client))
}

#[test]
fn scope_is_the_database_network_capped_at_the_source() {
    assert_eq!(
        scope(ip("81.2.69.0"), 24, Some(20), &CidrRules::default()),
        20
    );
    assert_eq!(
        scope(ip("81.2.69.0"), 24, Some(31), &CidrRules::default()),
        24
    );
    assert_eq!(scope(ip("81.2.69.0"), 24, None, &CidrRules::default()), 0);
    assert_eq!(
        scope(ip("2001:db8::"), 56, Some(32), &CidrRules::default()),
        32
    );
}

#[test]
fn scope_never_spans_a_rule_boundary() {
    let rules = [
        CidrRule {
            network: net("10.1.2.0/24"),
            order: vec![EU],
        },
        CidrRule {
            network: net("10.0.0.0/8"),
            order: vec![US],
        },
    ];
    // Inside the /8 but not the /24: the block must exclude the /24 (10.1.2.x shares 22 bits
    // with 10.1.0.0), whatever the database says.
    assert_eq!(
        scope(ip("10.1.0.0"), 32, Some(4), &rules.to_vec().into()),
        23
    );
    // Far from the /24 inside the /8: the /8 itself is the block.
    assert_eq!(
        scope(ip("10.200.0.0"), 32, Some(4), &rules.to_vec().into()),
        9
    );
    // In the /24: at least /24.
    assert_eq!(
        scope(ip("10.1.2.7"), 32, Some(4), &rules.to_vec().into()),
        24
    );
    // Matching nothing next to a rule: the block stops short of it.
    assert_eq!(
        scope(ip("11.0.0.0"), 32, Some(4), &rules.to_vec().into()),
        8
    );
    // Other family rules do not matter.
    assert_eq!(
        scope(ip("2001:db8::"), 48, Some(32), &rules.to_vec().into()),
        32
    );
}

#[test]
fn scope_is_exact_against_brute_force() {
    // For every /16 prefix-length choice, an address in the scope block must match the same
    // rule as the client: checked by enumerating a small IPv4 space.
    let rules = [
        CidrRule {
            network: net("192.0.2.128/25"),
            order: vec![EU],
        },
        CidrRule {
            network: net("192.0.2.0/24"),
            order: vec![US],
        },
        CidrRule {
            network: net("192.0.0.0/22"),
            order: vec![AP],
        },
    ];
    let steering = SteeringRules {
        cidr: rules.to_vec().into(),
        ..SteeringRules::default()
    };
    for last in (0..=255u32).step_by(5) {
        for third in 0..8u32 {
            let client = IpAddr::from(std::net::Ipv4Addr::from(0xc000_0000 | (third << 8) | last));
            let matched = match_cidr(&steering, client);
            let scope = scope(client, 32, Some(16), &steering.cidr);
            let IpAddr::V4(v4) = client else { continue };
            let mask = if scope == 0 {
                0
            } else {
                u32::MAX << (32 - scope)
            };
            let base = u32::from(v4) & mask;
            // Every address in the block matches the same rule.
            for offset in (0..(!mask).min(4096)).step_by(7) {
                let other = IpAddr::from(std::net::Ipv4Addr::from(base | offset));
                assert_eq!(
                    match_cidr(&steering, other),
                    matched,
                    "{client}/{scope} vs {other}"
                );
            }
        }
    }
}

/// The rules' scope and match by scanning every rule: what the trie must agree with.
fn scan(client: IpAddr, rules: &[CidrRule]) -> (Option<usize>, u8) {
    let matched = rules.iter().position(|rule| rule.network.contains(&client));
    let mut scope = 0;
    for (index, rule) in rules.iter().enumerate() {
        let network = rule.network;
        if Some(index) == matched {
            scope = scope.max(network.prefix_len());
        } else if !network.contains(&client) {
            let common = match (client, network.network()) {
                (IpAddr::V4(a), IpAddr::V4(b)) => (u32::from(a) ^ u32::from(b)).leading_zeros(),
                (IpAddr::V6(a), IpAddr::V6(b)) => (u128::from(a) ^ u128::from(b)).leading_zeros(),
                _ => continue,
            };
            scope = scope.max(common.min(u32::from(network.prefix_len())) as u8 + 1);
        }
    }
    (matched, scope)
}

#[test]
fn the_cidr_trie_agrees_with_a_scan_of_every_rule() {
    // Deterministic pseudo-random rule sets and clients (xorshift), both families, nested
    // and duplicate networks included.
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for _ in 0..40 {
        let mut rules: Vec<CidrRule> = (0..(next() % 60))
            .map(|_| {
                let network = if next() % 4 == 0 {
                    let prefix = (next() % 129) as u8;
                    let bits = u128::from(next()) << 64 | u128::from(next() & 0xff);
                    IpNet::new(
                        IpAddr::V6((bits & 0xffff_0000_0000_0000_0000_0000_0000_00ff).into()),
                        prefix,
                    )
                } else {
                    let prefix = (next() % 33) as u8;
                    // Few distinct high bits, so the rules nest and collide.
                    let bits = ((next() % 8) as u32) << 29 | (next() as u32 & 0x00ff_ff00);
                    IpNet::new(IpAddr::V4(bits.into()), prefix)
                };
                CidrRule {
                    network: network.map(|n| n.trunc()).unwrap_or_else(|e| panic!("{e}")),
                    order: vec![US],
                }
            })
            .collect();
        rules.sort_by_key(|rule| std::cmp::Reverse(rule.network.prefix_len()));
        let indexed = CidrRules::from(rules.clone());
        for _ in 0..200 {
            let client = if next() % 4 == 0 {
                IpAddr::V6((u128::from(next()) << 64 | u128::from(next())).into())
            } else {
                IpAddr::V4((((next() % 8) as u32) << 29 | (next() as u32 & 0x1fff_ffff)).into())
            };
            let found = indexed.lookup(client);
            assert_eq!(
                (found.rule, found.scope),
                scan(client, &rules),
                "{client} in {rules:?}"
            );
        }
    }
}
