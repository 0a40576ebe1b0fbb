//! The right region for clients around the world and for the awkward cases.

use hickory_proto::rr::RecordType;

use crate::support::*;

/// (what, ECS subnet, source prefix, expected region, expected scope)
const CITY_CLIENTS: &[(&str, &str, u8, &str, u8)] = &[
    ("London", "81.2.69.142", 32, "eu-west", 31),
    ("Milton WA", "216.160.83.56", 32, "us-west", 29),
    ("Changchun", "175.16.199.0", 24, "ap-southeast", 24),
    ("Melbourne", "214.0.1.1", 32, "ap-southeast-2", 24),
    ("Singapore", "214.0.0.1", 32, "ap-southeast", 24),
    ("Linkoping", "89.160.20.129", 32, "eu-west", 25),
    ("San Diego", "214.78.120.5", 32, "us-west", 22),
    // Continent only, no country and no coordinates: the continent's centroid.
    ("no country", "2.3.3.1", 32, "eu-west", 24),
    // Anycast: served from everywhere, so not located: the default order.
    ("anycast only", "214.1.1.1", 32, "us-east", 24),
    // Not in the database at all: the default order, for the widest block without data
    // (0.0.0.0/7 in the test database's merged tree: 0.0.0.0/8 and 1.0.0.0/8 are both empty).
    ("not in the database", "1.2.3.0", 24, "us-east", 7),
    // IPv6 networks: no country but coordinates in Germany; Great Britain; Spain.
    ("IPv6 no country", "2a02:d500::", 48, "eu-west", 29),
    ("IPv6 GB", "2a02:d540::", 48, "eu-west", 29),
    ("IPv6 ES", "2a02:d5c0::", 48, "eu-west", 29),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_client_gets_its_region_and_scope() {
    let server = Server::start(CITY).await;
    for (what, subnet, prefix, region, scope) in CITY_CLIENTS {
        let reply = server
            .udp(&query_ecs("www.gtm.test", RecordType::A, subnet, *prefix))
            .await;
        assert_eq!(region_of(&reply), *region, "{what} ({subnet}/{prefix})");
        let echo = ecs_echo(&reply).unwrap_or_else(|| panic!("{what}: no ECS echo"));
        assert_eq!(echo.scope_prefix(), *scope, "{what}: scope");
        assert!(echo.scope_prefix() <= echo.source_prefix());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ipv4_mapped_subnets_are_canonicalised() {
    let server = Server::start(CITY).await;
    let reply = server
        .udp(&query_ecs(
            "www.gtm.test",
            RecordType::A,
            "::ffff:81.2.69.142",
            128,
        ))
        .await;
    assert_eq!(region_of(&reply), "eu-west");
    let echo = ecs_echo(&reply).unwrap_or_else(|| panic!("no ECS echo"));
    // The /31 IPv4 network, expressed in the query's IPv6 family.
    assert_eq!((echo.source_prefix(), echo.scope_prefix()), (128, 127));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unusable_subnets_fall_back_to_the_packet_source() {
    let server = Server::start(CITY).await;
    // Source prefix 0 and private subnets say nothing about the client: 127.0.0.1 is used,
    // which has no location. Prefix 0 asks for an answer for everyone (scope 0); a private
    // subnet gets an answer for its special-purpose block only (RFC 7871 section 10), so a
    // resolver does not hand it to clients whose global subnets would be steered elsewhere.
    for (subnet, prefix, scope) in [
        ("0.0.0.0", 0, 0),
        ("10.0.0.0", 8, 8),
        ("192.168.1.0", 24, 16),
        ("fd00::", 8, 7),
    ] {
        let reply = server
            .udp(&query_ecs("www.gtm.test", RecordType::A, subnet, prefix))
            .await;
        assert_eq!(region_of(&reply), "us-east", "{subnet}/{prefix}");
        assert_eq!(
            ecs_echo(&reply).map(|e| e.scope_prefix()),
            Some(scope),
            "{subnet}/{prefix}"
        );
    }
    // Answers that do not depend on location have scope 0 too.
    let soa = server
        .udp(&query_ecs("gtm.test", RecordType::SOA, "81.2.69.142", 32))
        .await;
    assert_eq!(ecs_echo(&soa).map(|e| e.scope_prefix()), Some(0));
    let refused = server
        .udp(&query_ecs("example.com", RecordType::A, "81.2.69.142", 32))
        .await;
    assert_eq!(ecs_echo(&refused).map(|e| e.scope_prefix()), Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn country_databases_use_country_centroids() {
    let server = Server::start(COUNTRY).await;
    for (subnet, region) in [("81.2.69.142", "eu-west"), ("89.160.20.129", "eu-west")] {
        let reply = server
            .udp(&query_ecs("www.gtm.test", RecordType::A, subnet, 32))
            .await;
        assert_eq!(region_of(&reply), region, "{subnet}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overrides_win_over_distance() {
    let db = geo_db(CITY);
    let server = Server::start_with(&db, |config| {
        let id = |name: &str| {
            config
                .region_by_name(name)
                .map(|r| r.id)
                .unwrap_or_else(|| panic!("{name}"))
        };
        let (us_east, ap) = (id("us-east"), id("ap-southeast-2"));
        let mut cidr = config.steering.cidr.to_vec();
        cidr.push(meridian::config::CidrRule {
            network: "81.2.69.160/27".parse().unwrap_or_else(|e| panic!("{e}")),
            order: vec![ap],
        });
        config.steering.cidr = cidr.into();
        config.steering.country.insert("SE".into(), vec![us_east]);
        config.steering.subdivision.insert("US-WA".into(), vec![ap]);
        config.steering.continent.insert("AS".into(), vec![us_east]);
    })
    .await;
    let cases = [
        ("81.2.69.170", "ap-southeast-2"),   // CIDR
        ("81.2.69.142", "eu-west"),          // same city, outside the CIDR rule
        ("89.160.20.129", "us-east"),        // country SE
        ("216.160.83.56", "ap-southeast-2"), // subdivision US-WA
        ("175.16.199.1", "us-east"),         // continent AS
    ];
    for (client, region) in cases {
        let reply = server
            .udp(&query_ecs("www.gtm.test", RecordType::A, client, 32))
            .await;
        assert_eq!(region_of(&reply), region, "{client}");
    }
    // The CIDR rule bounds the scope of its neighbours: 81.2.69.142/31 must not be widened
    // over 81.2.69.160/27 (both in London, different answers).
    let reply = server
        .udp(&query_ecs("www.gtm.test", RecordType::A, "81.2.69.128", 25))
        .await;
    assert!(ecs_echo(&reply).is_some_and(|e| e.scope_prefix() >= 25));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_region_without_a_family_is_skipped_for_that_family() {
    let db = geo_db(CITY);
    let server = Server::start_with(&db, |config| {
        for region in &mut config.regions {
            if region.name == "eu-west" {
                region.ipv6.clear();
            }
        }
    })
    .await;
    let a = server
        .udp(&query_ecs("www.gtm.test", RecordType::A, "81.2.69.142", 32))
        .await;
    assert_eq!(region_of(&a), "eu-west");
    // No IPv6 in eu-west: the nearest region that has some answers AAAA, rather than NODATA.
    let aaaa = server
        .udp(&query_ecs(
            "www.gtm.test",
            RecordType::AAAA,
            "81.2.69.142",
            32,
        ))
        .await;
    assert_eq!(region_of(&aaaa), "us-east");
}
