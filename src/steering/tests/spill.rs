//! Capacity-aware spill: the clients of a region that is down are spread over the next
//! healthy regions in proportion to their capacity, each subnet always to the same one, never
//! to a region that is down or cannot answer; and the ECS scope of a spread answer.

use std::net::Ipv6Addr;

use super::*;
use crate::config::Spill;

/// Five regions r0..r4 with addresses of both families, in this order for the client.
fn five(capacities: [u32; 5]) -> (Vec<Region>, RegionOrder) {
    let regions: Vec<Region> = (0..5u16)
        .map(|id| {
            let mut region = region(id, &format!("r{id}"), 0.0, 0.0);
            region.capacity = capacities[usize::from(id)];
            region
        })
        .collect();
    let order = RegionOrder {
        rule: Rule::Default,
        candidates: regions
            .iter()
            .map(|region| Candidate {
                region: region.id,
                distance_km: None,
            })
            .collect(),
    };
    (regions, order)
}

fn up(states: [bool; 5]) -> HealthTable {
    HealthTable::from_regions(
        states
            .iter()
            .map(|&up| RegionHealth {
                up,
                reason: String::new(),
                transition: false,
            })
            .collect(),
    )
}

const R: [RegionId; 5] = [
    RegionId(0),
    RegionId(1),
    RegionId(2),
    RegionId(3),
    RegionId(4),
];

/// `count` IPv4 clients in consecutive /24s (the hardest case for a weak hash), each at
/// host .7, as packet sources (/32).
fn v4_clients(count: u32) -> impl Iterator<Item = ClientNet> {
    (0..count).map(|index| ClientNet {
        addr: IpAddr::V4(Ipv4Addr::from(0x0100_0007 + (index << 8))),
        prefix: 32,
    })
}

/// `count` IPv6 clients in consecutive /48s, sent as /56 ECS subnets.
fn v6_clients(count: u32) -> impl Iterator<Item = ClientNet> {
    (0..count).map(|index| ClientNet {
        addr: IpAddr::V6(Ipv6Addr::from(
            (0x2a00u128 << 112) | (u128::from(index) << 80) | (0x12u128 << 72),
        )),
        prefix: 56,
    })
}

fn capacity(regions: u8) -> Spill {
    Spill::Capacity { regions }
}

/// How many of `clients` each region gets.
fn shares(
    regions: &[Region],
    order: &RegionOrder,
    health: &HealthTable,
    family: Family,
    spill: Spill,
    clients: impl Iterator<Item = ClientNet>,
) -> [u32; 5] {
    let mut counts = [0u32; 5];
    for client in clients {
        let choice = choose(order, health, regions, family, spill, client)
            .unwrap_or_else(|| panic!("no choice for {client:?}"));
        counts[choice.region.index()] += 1;
    }
    counts
}

#[test]
fn shares_follow_the_capacity_ratio() {
    // (capacities, spill_regions, expected shares of r1..r4); r0, the first, is down.
    let table: [([u32; 5], u8, [f64; 4]); 5] = [
        (
            [100, 100, 50, 100, 100],
            2,
            [2.0 / 3.0, 1.0 / 3.0, 0.0, 0.0],
        ),
        ([100, 100, 100, 100, 100], 2, [0.5, 0.5, 0.0, 0.0]),
        ([100, 300, 100, 100, 100], 2, [0.75, 0.25, 0.0, 0.0]),
        (
            [100, 100, 100, 100, 100],
            3,
            [1.0 / 3.0, 1.0 / 3.0, 1.0 / 3.0, 0.0],
        ),
        ([100, 10, 20, 30, 40], 4, [0.1, 0.2, 0.3, 0.4]),
    ];
    let health = up([false, true, true, true, true]);
    const CLIENTS: u32 = 20_000;
    for (capacities, spill_regions, expected) in table {
        let (regions, order) = five(capacities);
        for (family, clients) in [
            (
                Family::V4,
                Box::new(v4_clients(CLIENTS)) as Box<dyn Iterator<Item = ClientNet>>,
            ),
            (Family::V6, Box::new(v6_clients(CLIENTS))),
        ] {
            let counts = shares(
                &regions,
                &order,
                &health,
                family,
                capacity(spill_regions),
                clients,
            );
            assert_eq!(counts[0], 0, "the down region got clients");
            for (index, want) in expected.iter().enumerate() {
                let got = f64::from(counts[index + 1]) / f64::from(CLIENTS);
                assert!(
                    (got - want).abs() < 0.02,
                    "{capacities:?} over {spill_regions} {family:?}: r{} has {got:.3}, not {want:.3} ({counts:?})",
                    index + 1
                );
            }
        }
    }
}

#[test]
fn one_spill_region_is_the_nearest_rule() {
    let (regions, order) = five([100, 50, 200, 10, 100]);
    for mask in 0..32u8 {
        let health = up(std::array::from_fn(|index| mask & (1 << index) != 0));
        for family in FAMILIES {
            for client in v4_clients(300).chain(v6_clients(300)) {
                assert_eq!(
                    choose(&order, &health, &regions, family, capacity(1), client),
                    choose(&order, &health, &regions, family, Spill::Nearest, client),
                    "mask {mask:05b} {client:?}"
                );
            }
        }
    }
}

#[test]
fn a_client_subnet_always_gets_the_same_region() {
    let (regions, order) = five([100; 5]);
    let health = up([false, true, true, true, true]);
    let spill = capacity(4);
    let pick = |addr: &str, prefix: u8| {
        choose(
            &order,
            &health,
            &regions,
            Family::V4,
            spill,
            ClientNet {
                addr: ip(addr),
                prefix,
            },
        )
        .unwrap_or_else(|| panic!("no choice"))
    };
    for base in ["81.2.69", "1.2.3", "203.0.113", "100.64.7"] {
        let first = pick(&format!("{base}.0"), 24);
        assert!(matches!(first.route, Route::Spread(_)), "{first:?}");
        // Any host of the /24, as an ECS /24, /28 or /32, or asked again: the same choice.
        for (host, prefix) in [(0, 24), (1, 32), (77, 32), (128, 28), (255, 32), (0, 24)] {
            assert_eq!(
                pick(&format!("{base}.{host}"), prefix),
                first,
                "{base}.{host}"
            );
        }
    }
    // IPv6: anything inside the /48.
    let v6 = |addr: &str, prefix: u8| {
        choose(
            &order,
            &health,
            &regions,
            Family::V6,
            spill,
            ClientNet {
                addr: ip(addr),
                prefix,
            },
        )
    };
    let first = v6("2a02:d540:1::", 48);
    for (addr, prefix) in [
        ("2a02:d540:1:ff00::", 56),
        ("2a02:d540:1:1234:5678::", 64),
        ("2a02:d540:1:ffff:ffff:ffff:ffff:ffff", 128),
    ] {
        assert_eq!(v6(addr, prefix), first, "{addr}/{prefix}");
    }
    // Over many subnets the spread really varies: not everyone lands in one region.
    let counts = shares(
        &regions,
        &order,
        &health,
        Family::V4,
        spill,
        v4_clients(400),
    );
    assert!(counts[1..].iter().all(|&count| count > 50), "{counts:?}");
}

#[test]
fn a_source_prefix_shorter_than_the_spread_block_is_hashed_whole() {
    let (regions, order) = five([100; 5]);
    let health = up([false, true, true, true, true]);
    let choice = |addr: &str, prefix| {
        choose(
            &order,
            &health,
            &regions,
            Family::V4,
            capacity(4),
            ClientNet {
                addr: ip(addr),
                prefix,
            },
        )
        .unwrap_or_else(|| panic!("no choice"))
    };
    // A /16 says nothing about the /24 inside it: every one of them is the /16.
    let whole = choice("81.2.0.0", 16);
    let Route::Spread(spread) = whole.route else {
        panic!("not spread: {whole:?}")
    };
    assert_eq!(spread.prefix, 16);
    assert_eq!(choice("81.2.0.0", 16), whole);
}

#[test]
fn down_regions_and_regions_without_the_family_never_receive_spill() {
    let (mut regions, order) = five([100; 5]);
    // r2 is down, r3 has no IPv6 addresses.
    regions[3].ipv6.clear();
    let health = up([false, true, false, true, true]);
    let spill = capacity(3);
    let v6 = shares(
        &regions,
        &order,
        &health,
        Family::V6,
        spill,
        v6_clients(3000),
    );
    // The IPv6 pool is r1 and r4 only (three asked, two there).
    assert_eq!((v6[0], v6[2], v6[3]), (0, 0, 0), "{v6:?}");
    assert!(v6[1] > 1200 && v6[4] > 1200, "{v6:?}");
    let v4 = shares(
        &regions,
        &order,
        &health,
        Family::V4,
        spill,
        v4_clients(3000),
    );
    assert_eq!((v4[0], v4[2]), (0, 0), "{v4:?}");
    assert!(v4[1] > 800 && v4[3] > 800 && v4[4] > 800, "{v4:?}");

    // Only the next `spill_regions` healthy candidates, however many more are up.
    let all_up_after = up([false, true, true, true, true]);
    let two = shares(
        &regions,
        &order,
        &all_up_after,
        Family::V4,
        capacity(2),
        v4_clients(3000),
    );
    assert_eq!((two[0], two[3], two[4]), (0, 0, 0), "{two:?}");
}

#[test]
fn a_spread_needs_two_healthy_regions_and_says_how_it_was_made() {
    let (regions, order) = five([100, 100, 50, 100, 100]);
    let client = ClientNet {
        addr: ip("81.2.69.142"),
        prefix: 32,
    };
    let choice = |states| {
        choose(
            &order,
            &up(states),
            &regions,
            Family::V4,
            capacity(2),
            client,
        )
    };
    let spread = choice([false, true, true, true, true]).unwrap_or_else(|| panic!("no choice"));
    let Route::Spread(details) = spread.route else {
        panic!("not spread: {spread:?}")
    };
    assert_eq!(
        (details.regions, details.prefix, details.total),
        (2, 24, 150)
    );
    assert!(details.point < details.total);
    assert_eq!(spread.region, if details.point < 100 { R[1] } else { R[2] });
    // The first candidate up: no spill at all.
    let first = choice([true, true, true, true, true]);
    assert_eq!(
        first.map(|c| (c.region, c.route)),
        Some((R[0], Route::First))
    );
    // One healthy region left: it takes everyone, as with nearest.
    let one = choice([false, false, false, false, true]);
    assert_eq!(one.map(|c| (c.region, c.route)), Some((R[4], Route::Next)));
    let none = choice([false; 5]);
    assert_eq!(
        none.map(|c| (c.region, c.route)),
        Some((R[0], Route::AllDown))
    );
}

#[test]
fn a_spread_answer_depends_on_the_regions_skipped_to_reach_it() {
    let (regions, order) = five([100; 5]);
    // r0 down, r1 up, r2 down and moving, r3 up: the pool is r1 and r3.
    let health = HealthTable::from_regions(
        [
            (false, false),
            (true, false),
            (false, true),
            (true, false),
            (true, false),
        ]
        .iter()
        .map(|&(up, transition)| RegionHealth {
            up,
            reason: String::new(),
            transition,
        })
        .collect(),
    );
    let mut seen = [0u32; 5];
    for client in v4_clients(1000) {
        let choice = choose(&order, &health, &regions, Family::V4, capacity(2), client)
            .unwrap_or_else(|| panic!("no choice"));
        seen[choice.region.index()] += 1;
        // Only clients spread past r2 skipped it: only they get the transition TTL.
        assert_eq!(choice.transition, choice.region == R[3], "{choice:?}");
    }
    assert!(seen[1] > 300 && seen[3] > 300, "{seen:?}");
}

#[test]
fn the_subnet_hash_is_fixed_forever() {
    // Every name server, whatever its version, must put a subnet in the same place: these
    // values may never change. (They were checked against a separate implementation of
    // FNV-1a 64 and splitmix64's finaliser, in Python.)
    let table = [
        ("81.2.69.0", 24, 0xe6c4_4fce_603c_2150_u64),
        ("81.2.70.0", 24, 0xfc23_7547_a2b8_1e1e),
        ("0.0.0.0", 0, 0xaca6_d6b5_4be3_ed05),
        ("2a02:d540:1::", 48, 0xd684_6ae0_c09b_fcc1),
        ("::", 0, 0x6875_2350_ae1d_483f),
    ];
    for (addr, prefix, expected) in table {
        assert_eq!(
            subnet_hash(ip(addr), prefix),
            expected,
            "{addr}/{prefix}: {:#x}",
            subnet_hash(ip(addr), prefix)
        );
    }
    // Host bits beyond the prefix do not count.
    assert_eq!(
        subnet_hash(ip("81.2.69.142"), 24),
        subnet_hash(ip("81.2.69.0"), 24)
    );
}

#[test]
fn the_scope_of_a_spread_answer_covers_no_more_than_the_hashed_block() {
    // (client, source prefix, the scope without the spread (database network and rules,
    // already capped at the source prefix), the spread answer's scope).
    let table = [
        // A database network wider than /24: the answer holds for the /24 only.
        ("81.2.69.0", 32, 16, 24),
        ("81.2.69.0", 24, 16, 24),
        // Narrower than /24: the database network still decides.
        ("81.2.69.128", 32, 28, 28),
        ("81.2.69.128", 25, 25, 25),
        // A source prefix shorter than /24: hashed on it, and the scope stays within it.
        ("81.2.64.0", 20, 16, 20),
        ("81.2.64.0", 20, 0, 20),
        ("81.2.64.0", 20, 20, 20),
        ("81.0.0.0", 8, 8, 8),
        // IPv6: the /48.
        ("2a02:d540:1::", 56, 32, 48),
        ("2a02:d540:1::", 64, 52, 52),
        ("2a02:d540:1::", 128, 64, 64),
        ("2a02:d540::", 40, 32, 40),
        ("2a02:d540::", 40, 0, 40),
    ];
    for (addr, source_prefix, scope, expected) in table {
        let client = ClientNet {
            addr: ip(addr),
            prefix: source_prefix,
        };
        let spread = Spread {
            regions: 2,
            prefix: spread_prefix(client),
            point: 0,
            total: 200,
        };
        assert_eq!(
            spilled_scope(scope, &spread, source_prefix),
            expected,
            "{addr}/{source_prefix} with scope {scope}"
        );
    }
    assert_eq!(SPREAD_PREFIX_V4, 24);
    assert_eq!(SPREAD_PREFIX_V6, 48);
}
