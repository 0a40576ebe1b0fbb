//! RFC conformance: each test pins one difference found by sending crafted queries to
//! Meridian and to Knot and judging it against the RFC named in the test.

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

use crate::support::*;

/// RFC 4035 section 3.1.6: an authoritative server clears CD in its responses.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cd_is_not_copied_into_responses() {
    let server = Server::start(CITY).await;
    for (qname, qtype) in [
        ("mail.gtm.test", RecordType::A),
        ("nope.gtm.test", RecordType::A),
        ("example.com", RecordType::A),
    ] {
        let mut ask = query(qname, qtype);
        ask.metadata.checking_disabled = true;
        // The full path; the reply cache (replay.rs) still patches CD in from the query.
        let first = server.udp(&ask).await;
        assert!(!first.metadata.checking_disabled, "{qname}: {first}");
        let tcp = server.tcp(&ask).await;
        assert!(!tcp.metadata.checking_disabled, "{qname} over TCP");
    }
}

/// our own zone's transfer is refused by policy (every node builds the zone from config).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transfers_of_other_zones_are_notauth() {
    let server = Server::start(CITY).await;
    for qtype in [RecordType::AXFR, RecordType::IXFR] {
        for qname in ["example.com", "www.gtm.test"] {
            let reply = server.tcp(&query(qname, qtype)).await;
            assert_eq!(
                reply.metadata.response_code,
                ResponseCode::NotAuth,
                "{qname} {qtype}"
            );
            assert!(!reply.metadata.authoritative);
        }
        let own = server.tcp(&query("gtm.test", qtype)).await;
        assert_eq!(own.metadata.response_code, ResponseCode::Refused, "{qtype}");
    }
}

/// which is not followed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn any_at_a_cname_is_the_cname() {
    let server = Server::start(CITY).await;
    let reply = server.udp(&query("alias.gtm.test", RecordType::ANY)).await;
    assert_eq!(reply.metadata.response_code, ResponseCode::NoError);
    assert_eq!(reply.answers.len(), 1, "{reply}");
    assert_eq!(reply.answers[0].record_type(), RecordType::CNAME);
    assert_eq!(reply.answers[0].name.to_string(), "alias.gtm.test.");
}

/// the question kept (RFC 6891 section 6.1.1).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_ecs_options_are_formerr() {
    use hickory_proto::rr::rdata::opt::{ClientSubnet, EdnsOption};
    let server = Server::start(CITY).await;
    let mut ask = query_ecs("www.gtm.test", RecordType::A, "81.2.69.0", 24);
    if let Some(edns) = ask.edns.as_mut() {
        edns.options_mut()
            .insert(EdnsOption::Subnet(ClientSubnet::new(
                ip("89.160.20.0"),
                24,
                0,
            )));
    }
    let reply = server.udp(&ask).await;
    assert_eq!(
        reply.metadata.response_code,
        ResponseCode::FormErr,
        "{reply}"
    );
    assert!(reply.edns.is_some(), "no OPT in {reply}");
    assert_eq!(reply.queries.len(), 1);
    assert!(reply.answers.is_empty());
}

/// RFC 7871 sections 7.4 and 12.1: when location did not shape the answer, the scope is 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scope_is_zero_when_no_region_serves_the_family() {
    let server = Server::start_with(&geo_db(CITY), |config| {
        for region in &mut config.regions {
            region.ipv6.clear();
        }
    })
    .await;
    let ask = query_ecs("www.gtm.test", RecordType::AAAA, "81.2.69.0", 24);
    let [first, second] = server.udp_twice(&ask).await;
    for reply in [&first, &second] {
        assert_eq!(reply.metadata.response_code, ResponseCode::NoError);
        assert!(reply.answers.is_empty(), "{reply}");
        assert_eq!(
            ecs_echo(reply).map(|e| e.scope_prefix()),
            Some(0),
            "{reply}"
        );
    }
    let nx = server
        .udp(&query_ecs("nope.gtm.test", RecordType::A, "81.2.69.0", 24))
        .await;
    assert_eq!(ecs_echo(&nx).map(|e| e.scope_prefix()), Some(0));
}

/// the packet source, for the whole special-purpose block it lies in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unusable_subnets_are_scoped_to_their_block() {
    let server = Server::start(CITY).await;
    for (subnet, prefix, scope) in [
        ("10.1.2.0", 24, 8),
        ("192.168.7.0", 24, 16),
        ("172.20.0.0", 16, 12),
        ("fd00:1:2::", 48, 7),
        ("10.0.0.0", 7, 7),
    ] {
        let ask = query_ecs("www.gtm.test", RecordType::A, subnet, prefix);
        let [first, second] = server.udp_twice(&ask).await;
        for reply in [&first, &second] {
            let echo = ecs_echo(reply).unwrap_or_else(|| panic!("no echo for {subnet}"));
            assert_eq!(echo.scope_prefix(), scope, "{subnet}/{prefix}");
        }
        // Static data does not depend on location at all.
        let mail = server
            .udp(&query_ecs("mail.gtm.test", RecordType::A, subnet, prefix))
            .await;
        assert_eq!(ecs_echo(&mail).map(|e| e.scope_prefix()), Some(0));
    }
}

/// the answer itself did not fit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn glue_that_does_not_fit_is_dropped_without_tc() {
    use meridian::config::NameServer;
    use std::net::{IpAddr, Ipv6Addr};
    let server = Server::start_with(&geo_db(CITY), |config| {
        for index in 0..4u16 {
            config.zone.name_servers.push(NameServer {
                name: name(&format!("ns-extra-{index}.gtm.test")),
                addresses: (1..=8u16)
                    .map(|host| {
                        IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0x53, index, 0, 0, 0, host))
                    })
                    .collect(),
            });
        }
    })
    .await;
    let reply = server.udp(&query_plain("gtm.test", RecordType::NS)).await;
    assert!(!reply.metadata.truncation, "{reply}");
    assert_eq!(reply.answers.len(), 7, "{reply}");
    let reply = server.tcp(&query_plain("gtm.test", RecordType::NS)).await;
    assert!(reply.additionals.len() >= 32, "all glue over TCP");
}

/// RFC 2181 section 5: no RRset holds the same record twice, however the config lists it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_answer_holds_a_duplicate() {
    use hickory_proto::rr::RData;
    let server = Server::start_with(&geo_db(CITY), |config| {
        let mail = config
            .zone
            .records
            .iter()
            .find(|record| record.name == name("mail.gtm.test."))
            .cloned()
            .unwrap_or_else(|| panic!("mail"));
        config.zone.records.push(mail);
        let ns1 = config.zone.name_servers[0].clone();
        config.zone.name_servers.push(ns1);
    })
    .await;
    let mail = server.udp(&query("mail.gtm.test", RecordType::A)).await;
    assert_eq!(mail.answers.len(), 1, "{mail}");
    let ns = server.udp(&query("gtm.test", RecordType::NS)).await;
    let mut seen: Vec<String> = Vec::new();
    for record in ns.answers.iter().chain(&ns.additionals) {
        let text = record.to_string();
        assert!(!seen.contains(&text), "duplicate {text} in {ns}");
        seen.push(text);
    }
    assert!(matches!(ns.answers[0].data, RData::NS(_)));
}

/// built them, letter case of names inside records included.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_in_records_have_one_case_on_every_path() {
    let server = Server::start(CITY).await;
    for qname in ["GTM.TEST", "nope.GTM.TEST", "Gtm.Test"] {
        for qtype in [
            RecordType::NS,
            RecordType::SOA,
            RecordType::MX,
            RecordType::A,
        ] {
            // The lower-case question fills the reply cache; the other case is replayed.
            let lower = query_plain(&qname.to_lowercase(), qtype);
            let _ = server.full_filled_replayed(&lower);
            let [full, _, replayed] = server.full_filled_replayed(&query_plain(qname, qtype));
            assert_eq!(full, replayed, "{qname} {qtype}");
        }
    }
}

/// answered; without one, neither is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_identity_is_answered_only_when_configured() {
    use hickory_proto::op::Query;
    use hickory_proto::rr::rdata::opt::{EdnsCode, EdnsOption, NSIDPayload};
    use hickory_proto::rr::{DNSClass, RData};

    fn chaos(qname: &str) -> hickory_proto::op::Message {
        let mut message = query(qname, RecordType::TXT);
        message.queries.clear();
        let mut question = Query::query(name(qname), RecordType::TXT);
        question.set_query_class(DNSClass::CH);
        message.add_query(question);
        message
    }
    let mut nsid = query("mail.gtm.test", RecordType::A);
    if let Some(edns) = nsid.edns.as_mut() {
        let empty = NSIDPayload::new(Vec::<u8>::new()).unwrap_or_else(|e| panic!("{e}"));
        edns.options_mut().insert(EdnsOption::NSID(empty));
    }
    let nsid_of = |reply: &hickory_proto::op::Message| match reply
        .edns
        .as_ref()
        .and_then(|edns| edns.option(EdnsCode::NSID))
    {
        Some(EdnsOption::NSID(payload)) => Some(payload.as_ref().to_vec()),
        _ => None,
    };

    let server = Server::start_with(&geo_db(CITY), |config| {
        config.zone.identity = Some("ns-fra-1".to_string());
    })
    .await;
    for qname in ["id.server", "hostname.bind", "ID.Server"] {
        let reply = server.udp(&chaos(qname)).await;
        assert_eq!(
            reply.metadata.response_code,
            ResponseCode::NoError,
            "{qname}"
        );
        assert_eq!(reply.answers.len(), 1, "{reply}");
        assert_eq!(reply.answers[0].dns_class, DNSClass::CH);
        match &reply.answers[0].data {
            RData::TXT(txt) => assert_eq!(txt.to_string(), "ns-fra-1"),
            other => panic!("not TXT: {other}"),
        }
    }
    let reply = server.udp(&nsid).await;
    assert_eq!(nsid_of(&reply), Some(b"ns-fra-1".to_vec()));
    assert_eq!(reply.answers.len(), 1);
    let plain = server.udp(&query("mail.gtm.test", RecordType::A)).await;
    assert_eq!(nsid_of(&plain), None, "NSID only when asked for");

    let unset = Server::start(CITY).await;
    let reply = unset.udp(&chaos("id.server")).await;
    assert_eq!(reply.metadata.response_code, ResponseCode::Refused);
    assert!(reply.answers.is_empty());
    assert_eq!(nsid_of(&unset.udp(&nsid).await), None);
}

/// for separately and its answer is scoped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cname_into_a_steered_name_is_answered_alone() {
    let server = Server::start(CITY).await;
    for qtype in [RecordType::A, RecordType::AAAA] {
        let ask = query_ecs("app.gtm.test", qtype, "81.2.69.142", 32);
        let [first, second] = server.udp_twice(&ask).await;
        for reply in [&first, &second, &server.tcp(&ask).await] {
            assert_eq!(reply.metadata.response_code, ResponseCode::NoError);
            assert!(reply.metadata.authoritative);
            assert_eq!(reply.answers.len(), 1, "{reply}");
            assert_eq!(reply.answers[0].record_type(), RecordType::CNAME);
            assert!(reply.authorities.is_empty(), "{reply}");
            assert_eq!(ecs_echo(reply).map(|e| e.scope_prefix()), Some(0));
        }
        let target = server
            .udp(&query_ecs("www.gtm.test", qtype, "81.2.69.142", 32))
            .await;
        assert_eq!(region_of(&target), "eu-west");
        assert_eq!(ecs_echo(&target).map(|e| e.scope_prefix()), Some(31));
    }
}
