//! Authoritative semantics over real UDP and TCP.

use hickory_proto::op::{Edns, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::TXT;
use hickory_proto::rr::{DNSClass, RData, RecordType};
use meridian::config::StaticRecord;

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn steered_answer_is_authoritative_with_ecs_echo() {
    let server = Server::start(CITY).await;
    let reply = server
        .udp(&query_ecs("www.gtm.test", RecordType::A, "81.2.69.142", 32))
        .await;
    assert!(reply.metadata.authoritative);
    assert!(!reply.metadata.truncation);
    assert_eq!(region_of(&reply), "eu-west");
    // max_addresses = 2 of the region's three.
    assert_eq!(addresses(&reply), ["198.18.3.1", "198.18.3.2"]);
    assert_eq!(reply.answers[0].ttl, 30);
    let echo = ecs_echo(&reply).unwrap_or_else(|| panic!("no ECS echo"));
    assert_eq!((echo.addr(), echo.source_prefix()), (ip("81.2.69.142"), 32));
    // London is 81.2.69.142/31 in the database.
    assert_eq!(echo.scope_prefix(), 31);
    let edns = reply.edns.as_ref().unwrap_or_else(|| panic!("no OPT"));
    assert_eq!((edns.max_payload(), edns.version()), (1232, 0));

    let aaaa = server
        .udp(&query_ecs(
            "www.gtm.test",
            RecordType::AAAA,
            "81.2.69.142",
            32,
        ))
        .await;
    assert_eq!(addresses(&aaaa), ["2001:db8:3::1"]);
    let api = server
        .udp(&query_ecs("api.gtm.test", RecordType::A, "81.2.69.142", 32))
        .await;
    assert_eq!(api.answers[0].ttl, 10, "per-service TTL");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn negative_answers_carry_the_soa() {
    let server = Server::start(CITY).await;
    let nx = server.udp(&query("nope.gtm.test", RecordType::A)).await;
    assert_eq!(nx.metadata.response_code, ResponseCode::NXDomain);
    assert!(nx.metadata.authoritative && nx.answers.is_empty());
    assert_eq!(nx.authorities.len(), 1);
    assert_eq!(nx.authorities[0].record_type(), RecordType::SOA);
    // Negative TTL = min(SOA TTL 3600, minimum 60).
    assert_eq!(nx.authorities[0].ttl, 60);

    let nodata = server.udp(&query("www.gtm.test", RecordType::MX)).await;
    assert_eq!(nodata.metadata.response_code, ResponseCode::NoError);
    assert!(nodata.metadata.authoritative && nodata.answers.is_empty());
    assert_eq!(nodata.authorities[0].record_type(), RecordType::SOA);

    // An empty non-terminal exists: NODATA, not NXDOMAIN (RFC 8020).
    let ent = server.udp(&query("sub.gtm.test", RecordType::A)).await;
    assert_eq!(ent.metadata.response_code, ResponseCode::NoError);
    let deep = server
        .udp(&query("deep.sub.gtm.test", RecordType::TXT))
        .await;
    assert_eq!(deep.answers.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outside_the_zone_is_refused() {
    let server = Server::start(CITY).await;
    for qname in ["example.com", "test", ".", "gtm.test.example.com"] {
        let reply = server.udp(&query(qname, RecordType::A)).await;
        assert_eq!(
            reply.metadata.response_code,
            ResponseCode::Refused,
            "{qname}"
        );
        assert!(!reply.metadata.authoritative && reply.answers.is_empty());
        assert!(!reply.metadata.recursion_available);
    }
    let mut chaos = query("version.bind", RecordType::TXT);
    chaos.queries[0].set_query_class(DNSClass::CH);
    assert_eq!(
        server.udp(&chaos).await.metadata.response_code,
        ResponseCode::Refused
    );
    let axfr = server.tcp(&query("gtm.test", RecordType::AXFR)).await;
    assert_eq!(axfr.metadata.response_code, ResponseCode::Refused);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apex_soa_ns_and_glue() {
    let server = Server::start(CITY).await;
    let soa = server.udp(&query("gtm.test", RecordType::SOA)).await;
    assert_eq!(soa.answers.len(), 1);
    match &soa.answers[0].data {
        RData::SOA(soa) => {
            assert_eq!(soa.serial, 7);
            assert_eq!(soa.mname.to_string(), "ns1.gtm.test.");
        }
        other => panic!("not a SOA: {other:?}"),
    }
    let ns = server.udp(&query("gtm.test", RecordType::NS)).await;
    let mut targets: Vec<String> = ns.answers.iter().map(|r| r.data.to_string()).collect();
    targets.sort();
    assert_eq!(
        targets,
        ["ns.example.net.", "ns1.gtm.test.", "ns2.gtm.test."]
    );
    // Glue for the in-zone servers only: ns1 A + AAAA, ns2 A.
    let mut glue: Vec<String> = ns
        .additionals
        .iter()
        .map(|r| format!("{} {}", r.name, r.data))
        .collect();
    glue.sort();
    assert_eq!(
        glue,
        [
            "ns1.gtm.test. 192.0.2.53",
            "ns1.gtm.test. 2001:db8::53",
            "ns2.gtm.test. 198.51.100.53"
        ]
    );
    // Name server addresses are answerable records of the zone.
    let ns1 = server.udp(&query("ns1.gtm.test", RecordType::AAAA)).await;
    assert_eq!(addresses(&ns1), ["2001:db8::53"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cname_chains_inside_the_zone() {
    let server = Server::start(CITY).await;
    let reply = server
        .udp(&query_ecs(
            "alias.gtm.test",
            RecordType::A,
            "81.2.69.142",
            32,
        ))
        .await;
    let types: Vec<RecordType> = reply.answers.iter().map(|r| r.record_type()).collect();
    // The chain leads to a steered name: the CNAMEs alone, for every client (RFC 7871
    // section 7.2.1); the resolver asks www.gtm.test itself.
    assert_eq!(types, [RecordType::CNAME, RecordType::CNAME]);
    assert_eq!(reply.answers[1].name.to_string(), "app.gtm.test.");
    assert_eq!(ecs_echo(&reply).map(|e| e.scope_prefix()), Some(0));

    let away = server.udp(&query("away.gtm.test", RecordType::A)).await;
    assert_eq!(
        away.answers.len(),
        1,
        "only the CNAME: the target is not ours"
    );
    assert_eq!(away.metadata.response_code, ResponseCode::NoError);

    let cname = server.udp(&query("app.gtm.test", RecordType::CNAME)).await;
    assert_eq!(cname.answers.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn any_is_answered_minimally() {
    let server = Server::start(CITY).await;
    let reply = server.udp(&query("gtm.test", RecordType::ANY)).await;
    assert_eq!(reply.metadata.response_code, ResponseCode::NoError);
    let first = reply.answers.first().map(|r| r.record_type());
    assert!(
        reply.answers.iter().all(|r| Some(r.record_type()) == first),
        "one RRset: {reply}"
    );
    let steered = server
        .udp(&query_ecs(
            "www.gtm.test",
            RecordType::ANY,
            "81.2.69.142",
            32,
        ))
        .await;
    assert_eq!(region_of(&steered), "eu-west");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn letter_case_is_preserved() {
    let server = Server::start(CITY).await;
    let reply = server.udp(&query("WwW.gTm.TeSt", RecordType::A)).await;
    assert_eq!(reply.queries[0].name().to_string(), "WwW.gTm.TeSt.");
    assert_eq!(reply.answers[0].name.to_string(), "WwW.gTm.TeSt.");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edns_versions_and_absence() {
    let server = Server::start(CITY).await;
    let mut v1 = query("www.gtm.test", RecordType::A);
    if let Some(edns) = v1.edns.as_mut() {
        edns.set_version(1);
    }
    let reply = server.udp(&v1).await;
    // BADVERS and BADSIG share code 16; hickory decodes it under the latter name.
    assert_eq!(u16::from(reply.metadata.response_code), 16);
    assert_eq!(reply.edns.as_ref().map(Edns::version), Some(0));
    assert!(reply.answers.is_empty());

    // The DO bit is copied into the reply (RFC 3225 section 3), cached or not.
    for _ in 0..2 {
        let mut dnssec = query("www.gtm.test", RecordType::A);
        if let Some(edns) = dnssec.edns.as_mut() {
            edns.set_dnssec_ok(true);
        }
        let reply = server.udp(&dnssec).await;
        assert_eq!(reply.edns.as_ref().map(|e| e.flags().dnssec_ok), Some(true));
    }

    let plain = server
        .udp(&query_plain("www.gtm.test", RecordType::A))
        .await;
    assert!(
        plain.edns.is_none(),
        "no OPT in a reply to a query without one"
    );
    assert_eq!(plain.answers.len(), 2);
}

/// A zone with an RRset too large for UDP.
async fn server_with_big_rrset() -> Server {
    Server::start_with(&geo_db(CITY), |config| {
        let name = name("big.gtm.test.");
        for i in 0..20 {
            config.zone.records.push(StaticRecord {
                name: name.clone(),
                record_type: RecordType::TXT,
                ttl: 60,
                rdata: RData::TXT(TXT::new(vec![format!("{i:02}{}", "x".repeat(150))])),
            });
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_answers_truncate_and_tcp_gives_all() {
    let server = server_with_big_rrset().await;
    let udp = server
        .udp(&query_ecs(
            "big.gtm.test",
            RecordType::TXT,
            "81.2.69.142",
            32,
        ))
        .await;
    assert!(udp.metadata.truncation);
    assert!(udp.answers.is_empty(), "no partial RRset");
    assert_eq!(udp.queries.len(), 1);
    // The OPT record and the ECS echo survive truncation.
    assert_eq!(udp.edns.as_ref().map(Edns::max_payload), Some(1232));
    assert_eq!(ecs_echo(&udp).map(|e| e.scope_prefix()), Some(0));

    let plain = server
        .udp(&query_plain("big.gtm.test", RecordType::TXT))
        .await;
    assert!(plain.metadata.truncation && plain.edns.is_none());

    let tcp = server
        .tcp(&query_ecs(
            "big.gtm.test",
            RecordType::TXT,
            "81.2.69.142",
            32,
        ))
        .await;
    assert!(!tcp.metadata.truncation);
    assert_eq!(tcp.answers.len(), 20);
    assert!(ecs_echo(&tcp).is_some());

    // A client announcing a larger buffer gets the whole answer over UDP only up to 1232.
    let mut big_buffer = query("big.gtm.test", RecordType::TXT);
    if let Some(edns) = big_buffer.edns.as_mut() {
        edns.set_max_payload(4096);
    }
    assert!(server.udp(&big_buffer).await.metadata.truncation);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_gives_the_same_answers() {
    let server = Server::start(CITY).await;
    for (qname, qtype) in [
        ("www.gtm.test", RecordType::A),
        ("nope.gtm.test", RecordType::A),
        ("gtm.test", RecordType::NS),
        ("example.com", RecordType::A),
        ("alias.gtm.test", RecordType::AAAA),
    ] {
        let message = query_ecs(qname, qtype, "175.16.199.0", 24);
        let (udp, tcp) = (server.udp(&message).await, server.tcp(&message).await);
        assert_eq!(
            udp.metadata.response_code, tcp.metadata.response_code,
            "{qname}"
        );
        assert_eq!(udp.answers, tcp.answers, "{qname}");
        assert_eq!(udp.authorities, tcp.authorities, "{qname}");
        assert_eq!(ecs_echo(&udp), ecs_echo(&tcp), "{qname}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_get_formerr_or_notimp() {
    let server = Server::start(CITY).await;
    let mut two = query("www.gtm.test", RecordType::A);
    two.add_query(Query::query(name("gtm.test"), RecordType::SOA));
    assert_eq!(
        server.udp(&two).await.metadata.response_code,
        ResponseCode::FormErr
    );

    let mut none = query("www.gtm.test", RecordType::A);
    none.queries.clear();
    assert_eq!(
        server.udp(&none).await.metadata.response_code,
        ResponseCode::FormErr
    );

    // ECS with address bits beyond the source prefix (RFC 7871 section 6): 69 = 0100_0101
    // has bits set past /20.
    let bad_ecs = query_ecs("www.gtm.test", RecordType::A, "81.2.69.0", 20);
    assert_eq!(
        server.udp(&bad_ecs).await.metadata.response_code,
        ResponseCode::FormErr
    );

    let mut notify = query("gtm.test", RecordType::SOA);
    notify.metadata.op_code = OpCode::Notify;
    assert_eq!(
        server.udp(&notify).await.metadata.response_code,
        ResponseCode::NotImp
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hickory_client_sees_the_same() {
    use hickory_net::client::{Client, ClientHandle};
    use hickory_net::runtime::TokioRuntimeProvider;
    use hickory_net::udp::UdpClientStream;

    let server = Server::start(CITY).await;
    let stream = UdpClientStream::builder(server.addr, TokioRuntimeProvider::default()).build();
    let (mut client, background) = Client::<TokioRuntimeProvider>::from_sender(stream);
    let background = tokio::spawn(background);
    let reply = client
        .query(name("gtm.test."), DNSClass::IN, RecordType::SOA)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(reply.metadata.authoritative);
    assert_eq!(reply.answers.len(), 1);
    // Packet source 127.0.0.1 has no location: the default order's first region.
    let www = client
        .query(name("www.gtm.test."), DNSClass::IN, RecordType::A)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(www.answers.len(), 2);
    assert!(
        www.answers
            .iter()
            .all(|r| r.data.to_string().starts_with("198.18.1."))
    );
    background.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_finishes_within_the_grace_period() {
    let server = Server::start(CITY).await;
    let addr = server.addr;
    assert_eq!(
        server
            .udp(&query("gtm.test", RecordType::SOA))
            .await
            .answers
            .len(),
        1
    );
    // An idle TCP connection must not hold shutdown up.
    let idle = tokio::net::TcpStream::connect(addr)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let started = std::time::Instant::now();
    assert!(
        server.stop(meridian::node::SHUTDOWN_GRACE).await,
        "tasks still running after the grace period"
    );
    assert!(started.elapsed() < meridian::node::SHUTDOWN_GRACE);
    drop(idle);
    // Nobody answers any more.
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let packet = query("gtm.test", RecordType::SOA)
        .to_vec()
        .unwrap_or_else(|e| panic!("{e}"));
    let _ = socket.send_to(&packet, addr).await;
    let mut buf = [0u8; 512];
    let reply = tokio::time::timeout(
        std::time::Duration::from_millis(300),
        socket.recv_from(&mut buf),
    )
    .await;
    assert!(!matches!(reply, Ok(Ok(_))), "a stopped server answered");
}
