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
            .insert(EdnsOption::Subnet(ClientSubnet::new(ip("89.160.20.0"), 24, 0)));
    }
    let reply = server.udp(&ask).await;
    assert_eq!(reply.metadata.response_code, ResponseCode::FormErr, "{reply}");
    assert!(reply.edns.is_some(), "no OPT in {reply}");
    assert_eq!(reply.queries.len(), 1);
    assert!(reply.answers.is_empty());
}
