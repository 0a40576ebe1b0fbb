//! The UDP reply cache replays exactly what the full path says, byte for byte.

use std::net::SocketAddr;
use std::sync::Arc;

use hickory_proto::op::{Edns, Message};
use hickory_proto::rr::RecordType;
use hickory_proto::rr::rdata::opt::{ClientSubnet, EdnsOption};
use meridian::telemetry::dns::AnswerPath;

use crate::support::*;

/// Queries of every shape the cache takes, and some it must refuse.
fn variants() -> Vec<Message> {
    let mut queries = Vec::new();
    for qname in [
        "www.gtm.test",
        "WWW.Gtm.TEST",
        "app.gtm.test",
        "alias.gtm.test",
        "nope.gtm.test",
        "gtm.test",
        "example.com",
        "sub.gtm.test",
    ] {
        for qtype in [
            RecordType::A,
            RecordType::AAAA,
            RecordType::NS,
            RecordType::MX,
            RecordType::ANY,
        ] {
            queries.push(query_plain(qname, qtype));
            queries.push(query(qname, qtype));
            for (subnet, prefix) in [
                ("81.2.69.142", 32),
                ("175.16.199.0", 24),
                ("10.0.0.0", 8),
                ("0.0.0.0", 0),
                ("2a02:d540::", 48),
                ("::ffff:81.2.69.142", 128),
            ] {
                queries.push(query_ecs(qname, qtype, subnet, prefix));
            }
            // A DNS cookie beside ECS, as BIND sends: the reply carries ours, on every path.
            let mut cookie = query_ecs(qname, qtype, "175.16.199.0", 24);
            if let Some(edns) = cookie.edns.as_mut() {
                edns.options_mut()
                    .insert(EdnsOption::Unknown(10, vec![9, 8, 7, 6, 5, 4, 3, 2]));
            }
            queries.push(cookie);
        }
    }
    // EDNS buffer sizes, flags, DO, a version the cache must leave to the full path.
    let mut small = query("www.gtm.test", RecordType::A);
    if let Some(edns) = small.edns.as_mut() {
        edns.set_max_payload(100);
    }
    queries.push(small);
    let mut flags = query("www.gtm.test", RecordType::A);
    flags.metadata.recursion_desired = false;
    flags.metadata.checking_disabled = true;
    if let Some(edns) = flags.edns.as_mut() {
        edns.set_dnssec_ok(true);
    }
    queries.push(flags);
    let mut v1 = query("www.gtm.test", RecordType::A);
    if let Some(edns) = v1.edns.as_mut() {
        edns.set_version(1);
    }
    queries.push(v1);
    let mut cookie = query("www.gtm.test", RecordType::A);
    if let Some(edns) = cookie.edns.as_mut() {
        edns.options_mut()
            .insert(EdnsOption::Unknown(10, vec![1, 2, 3, 4, 5, 6, 7, 8]));
    }
    queries.push(cookie);
    let mut bad = Message::query();
    bad.add_query(hickory_proto::op::Query::query(
        name("www.gtm.test"),
        RecordType::A,
    ));
    let mut edns = Edns::new();
    edns.options_mut()
        .insert(EdnsOption::Subnet(ClientSubnet::new(
            ip("81.2.69.0"),
            20,
            0,
        )));
    bad.set_edns(edns);
    queries.push(bad);
    queries
}

/// Equal replies: the same header, the same question (letter case included), the same first
/// owner, and the same message. Names are compared as DNS compares them, case-insensitively:
/// a cached reply's pointers into the question follow the new question's case where the full
/// path may spell a name out in lower case (so the lengths may differ by such a name; a
/// replayed reply is never longer than the one the full path built for its cache key).
fn same_reply(full: &[u8], cached: &[u8], query: &[u8], what: &str) {
    if full.is_empty() && cached.is_empty() {
        return;
    }
    let question_end = query.len().min(full.len());
    assert_eq!(
        full[..question_end.min(12)],
        cached[..question_end.min(12)],
        "{what}"
    );
    let (full_message, cached_message) = (Message::from_vec(full), Message::from_vec(cached));
    match (full_message, cached_message) {
        (Ok(full_message), Ok(cached_message)) => {
            assert_eq!(full_message, cached_message, "{what}");
            assert_eq!(
                full_message.queries.first().map(|q| q.name().to_string()),
                cached_message.queries.first().map(|q| q.name().to_string()),
                "{what}: question case"
            );
            let owners = |m: &Message| m.answers.first().map(|r| r.name.to_string());
            assert_eq!(
                owners(&full_message),
                owners(&cached_message),
                "{what}: first owner case"
            );
        }
        (full_message, cached_message) => panic!("{what}: {full_message:?} vs {cached_message:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cached_replies_equal_full_replies() {
    let server = Server::start(CITY).await;
    let handler = &server.handler;
    let sources: [SocketAddr; 2] =
        ["127.0.0.1:5000", "81.2.69.142:5353"].map(|s| s.parse().unwrap_or_else(|e| panic!("{e}")));
    let (mut full, mut cached) = (Vec::new(), Vec::new());
    let mut compared = 0;
    for round in 0..3 {
        for (index, query) in variants().iter_mut().enumerate() {
            // A fresh ID each round: the cache must patch it in.
            query.metadata.id = u16::try_from(index * 7 + round).unwrap_or(0);
            let packet = query.to_vec().unwrap_or_else(|e| panic!("{e}"));
            for source in sources {
                let sent_full = handler.respond_datagram_uncached(&packet, source, &mut full);
                let sent_cached = handler.respond_datagram(&packet, source, &mut cached);
                assert_eq!(
                    sent_full.map(|a| a.labels()),
                    sent_cached.map(|a| a.labels())
                );
                same_reply(
                    &full,
                    &cached,
                    &packet,
                    &format!("round {round}, {query} from {source}"),
                );
                compared += 1;
            }
        }
    }
    assert!(compared > 1000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn case_and_flags_are_patched_into_a_warm_cache() {
    let server = Server::start(CITY).await;
    let handler = &server.handler;
    let source: SocketAddr = "127.0.0.1:5000".parse().unwrap_or_else(|e| panic!("{e}"));
    let mut warm = query_ecs("www.gtm.test", RecordType::A, "81.2.69.142", 32);
    warm.metadata.id = 1;
    let (mut full, mut cached) = (Vec::new(), Vec::new());
    let packet = warm.to_vec().unwrap_or_else(|e| panic!("{e}"));
    assert!(
        handler
            .respond_datagram(&packet, source, &mut cached)
            .is_some()
    );
    // Same key, other ID, case, RD and client subnet (same database network, other region).
    for (qname, subnet, rd) in [
        ("WwW.gTm.TeSt", "81.2.69.142", false),
        ("www.GTM.test", "175.16.199.0", true),
    ] {
        let mut other = query_ecs(
            qname,
            RecordType::A,
            subnet,
            if subnet.ends_with(".0") { 24 } else { 32 },
        );
        other.metadata.id = 4242;
        other.metadata.recursion_desired = rd;
        let packet = other.to_vec().unwrap_or_else(|e| panic!("{e}"));
        assert!(
            handler
                .respond_datagram(&packet, source, &mut cached)
                .is_some()
        );
        assert!(
            handler
                .respond_datagram_uncached(&packet, source, &mut full)
                .is_some()
        );
        assert_eq!(full, cached, "{qname} {subnet}: byte for byte");
        let reply = Message::from_vec(&cached).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(reply.answers[0].name.to_string(), format!("{qname}."));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_flips_with_a_warm_cache_change_every_answer_they_should() {
    use meridian::health::{HealthSnapshot, RegionHealth};
    let server = Server::start(CITY).await;
    let handler = &server.handler;
    let source: SocketAddr = "127.0.0.1:5000".parse().unwrap();
    let down = || RegionHealth {
        up: false,
        reason: "test".to_string(),
        transition: false,
    };
    let all_down = server
        .view()
        .config
        .regions
        .iter()
        .fold(HealthSnapshot::empty(), |snapshot, region| {
            snapshot.with(&region.name, down())
        });
    let snapshots = [
        HealthSnapshot::empty(),
        HealthSnapshot::empty().with("eu-west", down()),
        all_down,
        HealthSnapshot::empty(),
    ];
    let (mut full, mut cached) = (Vec::new(), Vec::new());
    let london = query_ecs("www.gtm.test", RecordType::A, "81.2.69.142", 32)
        .to_vec()
        .unwrap();
    let mut london_answers = Vec::new();
    for snapshot in snapshots {
        meridian::view::View::publish_health(server.reloader.view(), Arc::new(snapshot));
        // Twice: the first pass fills the cache, the second replays from it.
        for _ in 0..2 {
            for query in variants() {
                let packet = query.to_vec().unwrap();
                let sent_full = handler.respond_datagram_uncached(&packet, source, &mut full);
                let sent_cached = handler.respond_datagram(&packet, source, &mut cached);
                assert_eq!(
                    sent_full.map(|a| a.labels()),
                    sent_cached.map(|a| a.labels())
                );
                same_reply(&full, &cached, &packet, &format!("{query}"));
            }
        }
        assert!(
            handler
                .respond_datagram(&london, source, &mut cached)
                .is_some()
        );
        let reply = Message::from_vec(&cached).unwrap();
        london_answers.push((region_of(&reply), reply.answers[0].ttl));
    }
    assert_eq!(
        london_answers,
        [
            ("eu-west", 30),
            // eu-west down: London's /24 is spread over us-east and us-west (equal
            // capacities) and its hash falls in us-west's half.
            ("us-west", 30),
            // Every region down: fail open to the nearest, with a short TTL.
            ("eu-west", 5),
            ("eu-west", 30)
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_all_down_policy_and_spread_is_replayed_exactly() {
    use crate::all_down::{down, every_region, fallback, start_with_policy};
    use meridian::config::AllDown;
    use meridian::health::{HealthSnapshot, RegionHealth};

    let source: SocketAddr = "127.0.0.1:5000".parse().unwrap();
    let moving = RegionHealth {
        up: true,
        reason: "test: moving".to_string(),
        transition: true,
    };
    let mut compared = 0;
    for policy in [
        AllDown::FailOpen,
        fallback(&["192.0.2.10", "192.0.2.11", "192.0.2.12"]),
        fallback(&["2001:db8::10"]),
        AllDown::NoData,
        AllDown::ServFail,
    ] {
        let name = policy.name();
        let server = start_with_policy(policy).await;
        let handler = &server.handler;
        let snapshots = [
            // Spread: London's and others' first regions down, one region moving.
            HealthSnapshot::empty()
                .with("eu-west", down())
                .with("ap-southeast", down())
                .with("us-west", moving.clone()),
            every_region(&server, &down()),
            every_region(&server, &down()).with("us-east", moving.clone()),
            HealthSnapshot::empty(),
        ];
        let (mut full, mut cached) = (Vec::new(), Vec::new());
        for snapshot in snapshots {
            server.publish_health(snapshot);
            // Twice: the first pass fills the cache, the second replays from it.
            for _ in 0..2 {
                for query in variants() {
                    let packet = query.to_vec().unwrap();
                    let sent_full = handler.respond_datagram_uncached(&packet, source, &mut full);
                    let sent_cached = handler.respond_datagram(&packet, source, &mut cached);
                    assert_eq!(
                        sent_full.map(|a| a.labels()),
                        sent_cached.map(|a| a.labels())
                    );
                    same_reply(&full, &cached, &packet, &format!("{name}: {query}"));
                    compared += 1;
                }
            }
        }
    }
    assert!(compared > 5000, "{compared}");
}

#[tokio::test]
async fn queries_with_a_dns_cookie_take_the_reply_cache() {
    let server = Server::start(CITY).await;
    let source: SocketAddr = "81.2.69.142:5353".parse().unwrap_or_else(|e| panic!("{e}"));
    for cookie in [vec![1; 8], vec![2; 24]] {
        let mut query = query_ecs("www.gtm.test", RecordType::A, "175.16.199.0", 24);
        if let Some(edns) = query.edns.as_mut() {
            edns.options_mut().insert(EdnsOption::Unknown(10, cookie));
        }
        let packet = query.to_vec().unwrap_or_else(|e| panic!("{e}"));
        let (mut first, mut second, mut full) = (Vec::new(), Vec::new(), Vec::new());
        let paths = [&mut first, &mut second].map(|out| {
            server
                .handler
                .respond_datagram(&packet, source, out)
                .map(|answered| answered.path)
        });
        server
            .handler
            .respond_datagram_uncached(&packet, source, &mut full);
        assert_eq!(paths[1], Some(AnswerPath::Cached), "{query}");
        assert_eq!((&first, &second), (&full, &full), "{query}");
    }
}
