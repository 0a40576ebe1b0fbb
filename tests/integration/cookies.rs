//! DNS cookies (RFC 7873, server cookies as RFC 9018 makes them): a client cookie gets a
//! server cookie back on every path and transport, a valid one is kept, a malformed one is
//! FORMERR, cookies can be turned off, and a resolver that proves its address with a server
//! cookie is never rate-limited while a spoofed flood from the same address still is.

use hickory_proto::op::{Message, Query, ResponseCode};
use hickory_proto::rr::rdata::opt::{EdnsCode, EdnsOption};
use hickory_proto::rr::{Name, RecordType};
use meridian::config::ResponseRateLimit;
use meridian::dns::CookieSecrets;
use meridian::telemetry::dns::AnswerPath;
use tokio::net::UdpSocket;

use crate::support::*;

const CLIENT: [u8; 8] = [0x24, 0x64, 0xc4, 0xab, 0xcf, 0x10, 0xc9, 0x57];

fn with_cookie(mut message: Message, cookie: &[u8]) -> Message {
    if let Some(edns) = message.edns.as_mut() {
        edns.options_mut()
            .insert(EdnsOption::Unknown(10, cookie.to_vec()));
    }
    message
}

/// The COOKIE option of a reply.
fn cookie_of(reply: &Message) -> Option<Vec<u8>> {
    match reply.edns.as_ref()?.option(EdnsCode::Cookie)? {
        EdnsOption::Unknown(_, data) => Some(data.clone()),
        _ => None,
    }
}

fn decode(bytes: &[u8]) -> Message {
    Message::from_vec(bytes).unwrap_or_else(|e| panic!("{e}"))
}

/// Every path writes the same bytes, and they carry the client cookie followed by a server
/// cookie of RFC 9018's form (version 1, reserved zero, a timestamp, an 8-byte hash).
#[tokio::test]
async fn a_client_cookie_gets_a_server_cookie_on_every_path() {
    let server = Server::start(CITY).await;
    for (qname, qtype, path) in [
        ("www.gtm.test", RecordType::A, AnswerPath::Cached),
        ("gtm.test", RecordType::NS, AnswerPath::Cached),
        ("nope.gtm.test", RecordType::A, AnswerPath::Template),
        ("www.gtm.test", RecordType::TXT, AnswerPath::Template),
    ] {
        let query = with_cookie(query_ecs(qname, qtype, "175.16.199.0", 24), &CLIENT);
        let [full, filled, replayed] = server.full_filled_replayed(&query);
        assert_eq!(filled, full, "{qname} {qtype}: filled vs full");
        assert_eq!(replayed, full, "{qname} {qtype}: {path:?} vs full");
        let cookie = cookie_of(&decode(&full)).unwrap_or_else(|| panic!("{qname}: no cookie"));
        assert_eq!(cookie.len(), 24, "{qname}");
        assert_eq!(cookie[..8], CLIENT, "{qname}");
        assert_eq!(
            cookie[8..12],
            [1, 0, 0, 0],
            "{qname}: version 1, reserved 0"
        );
        // ECS still echoed beside it.
        assert!(ecs_echo(&decode(&full)).is_some(), "{qname}");
    }
    // The replayed path really is the cache or template (not the full path again).
    let mut out = Vec::new();
    let packet = with_cookie(query("www.gtm.test", RecordType::A), &CLIENT)
        .to_vec()
        .unwrap_or_else(|e| panic!("{e}"));
    let source = "192.0.2.1:5353".parse().unwrap_or_else(|e| panic!("{e}"));
    server.handler.respond_datagram(&packet, source, &mut out);
    let answered = server
        .handler
        .respond_datagram(&packet, source, &mut out)
        .unwrap_or_else(|| panic!("no reply"));
    assert_eq!(answered.path, AnswerPath::Cached);
    assert!(!answered.proven, "a client cookie alone proves nothing");
}

/// Over the network, UDP and TCP: the server cookie comes back, and sent again from the same
/// address it is kept as it is (fresh, RFC 9018 section 4.3) and proves the address; from
/// another address it does not and a new one is made.
#[tokio::test]
async fn a_server_cookie_is_kept_by_its_client_and_refused_from_elsewhere() {
    let server = Server::start(CITY).await;
    let first = server
        .udp(&with_cookie(query("www.gtm.test", RecordType::A), &CLIENT))
        .await;
    let held = cookie_of(&first).unwrap_or_else(|| panic!("no cookie: {first}"));
    let again = server
        .udp(&with_cookie(query("www.gtm.test", RecordType::A), &held))
        .await;
    assert_eq!(cookie_of(&again), Some(held.clone()), "kept over UDP");
    let over_tcp = server
        .tcp(&with_cookie(query("www.gtm.test", RecordType::A), &held))
        .await;
    assert_eq!(cookie_of(&over_tcp), Some(held.clone()), "kept over TCP");
    assert_eq!(over_tcp.metadata.response_code, ResponseCode::NoError);

    // The in-process handler sees the same cookie from 127.0.0.1 (where the server saw it
    // come from) as proof, and from anywhere else not.
    let packet = with_cookie(query("www.gtm.test", RecordType::A), &held)
        .to_vec()
        .unwrap_or_else(|e| panic!("{e}"));
    let mut out = Vec::new();
    for (source, proven) in [("127.0.0.1:5353", true), ("127.0.0.2:5353", false)] {
        let answered = server
            .handler
            .respond_datagram(
                &packet,
                source.parse().unwrap_or_else(|e| panic!("{e}")),
                &mut out,
            )
            .unwrap_or_else(|| panic!("no reply"));
        assert_eq!(answered.proven, proven, "from {source}");
        let cookie = cookie_of(&decode(&out)).unwrap_or_else(|| panic!("no cookie"));
        assert_eq!(
            cookie == held,
            proven,
            "from {source}: kept only where it was made"
        );
        assert_eq!(cookie[..8], CLIENT);
    }
}

/// A secret rollover across nodes (RFC 7873 section 7.1): a node that holds the old secret
/// only as an accepted one still takes a resolver's cookie as proof and hands it one made
/// with its current secret, which a node that holds only the new secret takes in turn.
#[tokio::test]
async fn a_rolled_over_secret_still_proves_and_is_replaced() {
    const OLD: &str = "e5e973e5a6b2a43f48e7dc849e37bfcf";
    const NEW: &str = "445536bcd2513298075a5d379663c962";
    let db = geo_db(CITY);
    let node = |secrets: String| {
        Server::start_with(&db, move |config| {
            config.zone.cookies = CookieSecrets::from_hex_list(&secrets);
            assert!(config.zone.cookies.is_some(), "{secrets}");
        })
    };
    let old = node(OLD.to_string()).await;
    let rolling = node(format!("{NEW}, {OLD}")).await;
    let new = node(NEW.to_string()).await;
    let ask = |server: &Server, cookie: &[u8]| {
        let packet = with_cookie(query("www.gtm.test", RecordType::A), cookie)
            .to_vec()
            .unwrap_or_else(|e| panic!("{e}"));
        let mut out = Vec::new();
        let answered = server
            .handler
            .respond_datagram(&packet, "127.0.0.1:5353".parse().unwrap(), &mut out)
            .unwrap_or_else(|| panic!("no reply"));
        let cookie = cookie_of(&decode(&out)).unwrap_or_else(|| panic!("no cookie"));
        (answered.proven, cookie)
    };
    let (_, from_old) = ask(&old, &CLIENT);
    assert_eq!(from_old.len(), 24);
    // The new-only node has never heard of the old secret: no proof, a new cookie.
    let (proven, _) = ask(&new, &from_old);
    assert!(
        !proven,
        "a secret the node does not hold proved the address"
    );
    // The rolling node accepts it, and replaces it with one of its current secret even
    // though it is fresh.
    let (proven, from_rolling) = ask(&rolling, &from_old);
    assert!(proven, "the accepted secret did not prove the address");
    assert_ne!(
        from_rolling, from_old,
        "a cookie of an accepted secret was kept"
    );
    assert_eq!(from_rolling[..8], CLIENT);
    // That one is made with the new secret: the new-only node keeps it as proof.
    let (proven, kept) = ask(&new, &from_rolling);
    assert!(
        proven,
        "the rolling node's cookie was not made with its first secret"
    );
    assert_eq!(kept, from_rolling);
}

/// RFC 7873 section 5.2.2: a COOKIE option of any other length is FORMERR, with OPT and
/// the question, and no answer.
#[tokio::test]
async fn a_cookie_of_a_wrong_length_is_formerr() {
    let server = Server::start(CITY).await;
    for len in [0, 7, 9, 15, 41] {
        let reply = server
            .udp(&with_cookie(
                query("www.gtm.test", RecordType::A),
                &vec![7; len],
            ))
            .await;
        assert_eq!(
            reply.metadata.response_code,
            ResponseCode::FormErr,
            "{len} bytes"
        );
        assert!(reply.answers.is_empty(), "{len} bytes");
        assert!(
            reply.edns.is_some(),
            "{len} bytes: OPT in every reply to OPT"
        );
        assert_eq!(reply.queries.len(), 1, "{len} bytes: the question is kept");
    }
}

/// RFC 7873 section 5.2: errors carry our cookie too. Two questions (RFC 9619) and a
/// question hickory cannot read are FORMERR, a held cookie still proves the address there,
/// over UDP and TCP.
#[tokio::test]
async fn a_formerr_carries_the_server_cookie() {
    let server = Server::start(CITY).await;
    let held = cookie_of(
        &server
            .udp(&with_cookie(query("www.gtm.test", RecordType::A), &CLIENT))
            .await,
    )
    .unwrap_or_else(|| panic!("no cookie"));
    let mut two = with_cookie(query("www.gtm.test", RecordType::A), &held);
    two.add_query(Query::query(
        Name::from_ascii("gtm.test.").unwrap_or_else(|e| panic!("{e}")),
        RecordType::NS,
    ));
    for (transport, reply) in [
        ("udp", server.udp(&two).await),
        ("tcp", server.tcp(&two).await),
    ] {
        assert_eq!(
            reply.metadata.response_code,
            ResponseCode::FormErr,
            "{transport}"
        );
        assert_eq!(cookie_of(&reply), Some(held.clone()), "{transport}");
    }
    let packet = two.to_vec().unwrap_or_else(|e| panic!("{e}"));
    let mut out = Vec::new();
    for (source, proven) in [("127.0.0.1:5353", true), ("127.0.0.2:5353", false)] {
        let answered = server
            .handler
            .respond_datagram(&packet, source.parse().unwrap(), &mut out)
            .unwrap_or_else(|| panic!("no reply"));
        assert_eq!(answered.proven, proven, "from {source}");
        let cookie = cookie_of(&decode(&out)).unwrap_or_else(|| panic!("from {source}: none"));
        assert_eq!(cookie[..8], CLIENT, "from {source}");
    }
}

/// With `[zone] cookies = false` the option is ignored, as by a server without cookies.
#[tokio::test]
async fn cookies_off_means_no_cookie_and_no_formerr() {
    let server = Server::start_with(&geo_db(CITY), |config| config.zone.cookies = None).await;
    let reply = server
        .udp(&with_cookie(query("www.gtm.test", RecordType::A), &CLIENT))
        .await;
    assert_eq!(reply.metadata.response_code, ResponseCode::NoError);
    assert_eq!(cookie_of(&reply), None);
    let reply = server
        .udp(&with_cookie(query("www.gtm.test", RecordType::A), &[7; 9]))
        .await;
    assert_eq!(
        reply.metadata.response_code,
        ResponseCode::NoError,
        "ignored, not FORMERR"
    );
}

/// A busy resolver that holds a server cookie is answered every time at a rate far over the
/// limit; the same queries without the cookie, from the same address, are limited. Counts,
/// no timing: the limit is 5 a second and the proven queries are 400.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proven_source_is_never_rate_limited() {
    let settings = ResponseRateLimit {
        responses_per_second: 5,
        errors_per_second: 5,
        slip: 0,
        // The tests run on loopback, which is exempt by default.
        exempt: Vec::new(),
        ..ResponseRateLimit::default()
    };
    let server = Server::start_with(&geo_db(CITY), move |config| {
        config.response_rate_limit = settings;
    })
    .await;
    let socket = UdpSocket::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let exchange = |packet: Vec<u8>| {
        let socket = &socket;
        let server = server.addr;
        async move {
            socket
                .send_to(&packet, server)
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            let mut buf = vec![0u8; 4096];
            tokio::time::timeout(EXCHANGE_TIMEOUT, socket.recv_from(&mut buf))
                .await
                .ok()
                .and_then(Result::ok)
                .map(|(len, _)| buf[..len].to_vec())
        }
    };
    let first = with_cookie(query("www.gtm.test", RecordType::A), &CLIENT);
    let reply = exchange(first.to_vec().unwrap_or_else(|e| panic!("{e}")))
        .await
        .unwrap_or_else(|| panic!("the first query is within the burst"));
    let held = cookie_of(&decode(&reply)).unwrap_or_else(|| panic!("no cookie"));
    let proven = with_cookie(query("www.gtm.test", RecordType::A), &held)
        .to_vec()
        .unwrap_or_else(|e| panic!("{e}"));
    let count = 400;
    for index in 0..count {
        let reply = exchange(proven.clone())
            .await
            .unwrap_or_else(|| panic!("query {index} with a server cookie went unanswered"));
        let reply = decode(&reply);
        assert!(
            !reply.answers.is_empty() && !reply.metadata.truncation,
            "query {index}: {reply}"
        );
    }
    // The same address without its cookie is limited: the burst of 5 is answered, then
    // replies stop (each wait for one is bounded), and the node counts the drops.
    let (dropped_before, _) = rate_limited_metrics(&server).await;
    let bare = query("www.gtm.test", RecordType::A)
        .to_vec()
        .unwrap_or_else(|e| panic!("{e}"));
    let mut lost = 0;
    for _ in 0..20 {
        if exchange(bare.clone()).await.is_none() {
            lost += 1;
            break;
        }
    }
    assert_eq!(lost, 1, "20 queries without the cookie were all answered");
    let (dropped, _) = rate_limited_metrics(&server).await;
    assert!(dropped > dropped_before, "{dropped} <= {dropped_before}");
}
