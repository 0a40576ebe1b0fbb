//! Every region down: each service's `all_down` policy answers as configured over UDP (asked
//! twice, the second time from the reply cache) and TCP, the other services keep theirs, and
//! answers come back when the regions do.

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::RecordType;
use meridian::config::{AllDown, FallbackAddresses};
use meridian::health::{HealthSnapshot, RegionHealth};

use crate::support::*;

const LONDON: &str = "81.2.69.142";

/// Every region of the server's config with the same verdict.
pub(crate) fn every_region(server: &Server, health: &RegionHealth) -> HealthSnapshot {
    server
        .view()
        .config
        .regions
        .iter()
        .fold(HealthSnapshot::empty(), |snapshot, region| {
            snapshot.with(&region.name, health.clone())
        })
}

pub(crate) fn down() -> RegionHealth {
    RegionHealth {
        up: false,
        reason: "test: down".to_string(),
        transition: false,
    }
}

/// A node whose `www` service (the first) has the policy `all_down`.
pub(crate) async fn start_with_policy(all_down: AllDown) -> Server {
    Server::start_with(&geo_db(CITY), move |config| {
        config.services[0].all_down = all_down;
    })
    .await
}

pub(crate) fn fallback(addresses: &[&str]) -> AllDown {
    let addresses: Vec<std::net::IpAddr> = addresses.iter().map(|text| ip(text)).collect();
    AllDown::Fallback(FallbackAddresses::new(&addresses))
}

/// What one reply must say.
#[derive(Debug)]
struct Expected {
    code: ResponseCode,
    authoritative: bool,
    /// The address records, in order, all with `ttl`.
    addresses: Vec<&'static str>,
    ttl: u32,
    /// The TTL of the SOA in authority, when there must be one.
    soa_ttl: Option<u32>,
    /// Whether the CNAME of `app` leads the answer.
    cname: bool,
}

fn addresses_with(addresses: &[&'static str], cname: bool) -> Expected {
    Expected {
        code: ResponseCode::NoError,
        authoritative: true,
        addresses: addresses.to_vec(),
        ttl: 5,
        soa_ttl: None,
        cname,
    }
}

fn nodata(cname: bool) -> Expected {
    Expected {
        soa_ttl: Some(5),
        ..addresses_with(&[], cname)
    }
}

/// A CNAME into a steered name: the CNAME alone, the same for every client (RFC 7871
/// section 7.2.1).
fn cname_only() -> Expected {
    addresses_with(&[], true)
}

fn servfail() -> Expected {
    Expected {
        code: ResponseCode::ServFail,
        authoritative: false,
        addresses: Vec::new(),
        ttl: 0,
        soa_ttl: None,
        cname: false,
    }
}

fn check(reply: &Message, expected: &Expected, what: &str) {
    assert_eq!(reply.metadata.response_code, expected.code, "{what}");
    assert_eq!(
        reply.metadata.authoritative, expected.authoritative,
        "{what}"
    );
    assert_eq!(addresses(reply), expected.addresses, "{what}");
    let cnames = reply
        .answers
        .iter()
        .filter(|record| record.record_type() == RecordType::CNAME)
        .count();
    assert_eq!(cnames, usize::from(expected.cname), "{what}: {reply}");
    for record in &reply.answers {
        if record.record_type() != RecordType::CNAME {
            assert_eq!(record.ttl, expected.ttl, "{what}: {record}");
        }
    }
    let soa: Vec<u32> = reply
        .authorities
        .iter()
        .filter(|record| record.record_type() == RecordType::SOA)
        .map(|record| record.ttl)
        .collect();
    assert_eq!(
        soa,
        expected.soa_ttl.into_iter().collect::<Vec<_>>(),
        "{what}"
    );
    assert_eq!(reply.authorities.len(), soa.len(), "{what}");
    // The ECS echo is there whatever the answer, with the scope of the decision (0 for the
    // CNAME alone: no decision was made).
    let echo = ecs_echo(reply).unwrap_or_else(|| panic!("{what}: no ECS echo"));
    let scope = if expected.cname { 0 } else { 31 };
    assert_eq!(echo.scope_prefix(), scope, "{what}");
}

/// Asks over UDP twice from one socket, over TCP, and through the handler's reply cache, and
/// checks that every way gives `expected` (and the same message).
async fn ask(server: &Server, qname: &str, qtype: RecordType, expected: &Expected, what: &str) {
    let query = query_ecs(qname, qtype, LONDON, 32);
    let [first, second] = server.udp_twice(&query).await;
    let tcp = server.tcp(&query).await;
    for (how, reply) in [("UDP", &first), ("UDP again", &second), ("TCP", &tcp)] {
        check(reply, expected, &format!("{what}, {how}"));
        assert_eq!(
            (&reply.answers, &reply.authorities),
            (&first.answers, &first.authorities),
            "{what}, {how}"
        );
    }
    // In this thread: the first call fills the reply cache, the second replays from it.
    let [full, filled, replayed] = server.full_filled_replayed(&query);
    assert_eq!(full, filled, "{what}: the full path");
    assert_eq!(full, replayed, "{what}: replayed from the cache");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_all_down_policy_answers_as_configured() {
    let eu_west = ["198.18.3.1", "198.18.3.2"];
    // (policy, www A, www AAAA, app A: a CNAME to www, answered alone whatever the policy).
    let table = [
        (
            AllDown::FailOpen,
            addresses_with(&eu_west, false),
            addresses_with(&["2001:db8:3::1"], false),
            cname_only(),
        ),
        (
            // IPv4 only: AAAA questions get NODATA. At most max_addresses (2) of the three.
            fallback(&["192.0.2.10", "192.0.2.11", "192.0.2.12"]),
            addresses_with(&["192.0.2.10", "192.0.2.11"], false),
            nodata(false),
            cname_only(),
        ),
        (
            fallback(&["2001:db8::10", "192.0.2.10"]),
            addresses_with(&["192.0.2.10"], false),
            addresses_with(&["2001:db8::10"], false),
            cname_only(),
        ),
        (AllDown::NoData, nodata(false), nodata(false), cname_only()),
        (AllDown::ServFail, servfail(), servfail(), cname_only()),
    ];
    for (policy, a, aaaa, app) in table {
        let name = policy.name();
        let server = start_with_policy(policy).await;
        server.publish_health(every_region(&server, &down()));
        ask(
            &server,
            "www.gtm.test",
            RecordType::A,
            &a,
            &format!("{name} A"),
        )
        .await;
        ask(
            &server,
            "www.gtm.test",
            RecordType::AAAA,
            &aaaa,
            &format!("{name} AAAA"),
        )
        .await;
        ask(
            &server,
            "app.gtm.test",
            RecordType::A,
            &app,
            &format!("{name} app A"),
        )
        .await;
        // api keeps its own policy (fail open) and its own TTL (10, above the transition's 5).
        let api = server
            .udp(&query_ecs("api.gtm.test", RecordType::A, LONDON, 32))
            .await;
        assert_eq!(region_of(&api), "eu-west", "{name}: api");
        assert_eq!(api.answers[0].ttl, 5, "{name}: api");

        // The regions come back: so do the region's addresses and the name's TTL.
        server.publish_health(HealthSnapshot::empty());
        let [first, second] = server
            .udp_twice(&query_ecs("www.gtm.test", RecordType::A, LONDON, 32))
            .await;
        for reply in [first, second] {
            assert_eq!(region_of(&reply), "eu-west", "{name}: recovered");
            assert_eq!(reply.answers[0].ttl, 30, "{name}: recovered");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_region_up_is_enough_whatever_the_policy() {
    let server = start_with_policy(AllDown::ServFail).await;
    let only_sydney = every_region(&server, &down()).with(
        "ap-southeast-2",
        RegionHealth {
            up: true,
            reason: "test: up".to_string(),
            transition: false,
        },
    );
    server.publish_health(only_sydney);
    let [first, second] = server
        .udp_twice(&query_ecs("www.gtm.test", RecordType::A, LONDON, 32))
        .await;
    for reply in [first, second] {
        assert_eq!(region_of(&reply), "ap-southeast-2");
        assert_eq!(reply.answers[0].ttl, 30);
    }
}
