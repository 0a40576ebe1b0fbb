//! Negative answers (NXDOMAIN, NODATA, REFUSED) written from a template are exactly the full
//! path's bytes, for any name, letter case, type, EDNS and ECS; a flood of random names
//! is written from the template and leaves the reply cache's answers in place; TCP too.

use std::net::SocketAddr;

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::RecordType;
use meridian::telemetry::dns::AnswerPath;

use crate::support::*;

/// A small deterministic generator (xorshift): names differ run to run only if the seed does.
struct Names(u64);

impl Names {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A label of 1 to 20 letters, digits and underscores in mixed case.
    fn label(&mut self) -> String {
        let len = 1 + (self.next() % 20) as usize;
        (0..len)
            .map(|_| {
                let pick = (self.next() % 64) as u8;
                match pick {
                    0..26 => (b'a' + pick) as char,
                    26..52 => (b'A' + pick - 26) as char,
                    52..62 => (b'0' + pick - 52) as char,
                    _ => '_',
                }
            })
            .collect()
    }
}

/// The fast path's reply (and which path it took) and the full path's, for one query.
fn both(server: &Server, query: &Message, source: SocketAddr) -> (Vec<u8>, Vec<u8>, AnswerPath) {
    let packet = query.to_vec().unwrap_or_else(|e| panic!("{e}"));
    let (mut fast, mut full) = (Vec::new(), Vec::new());
    let sent = server
        .handler
        .respond_datagram(&packet, source, &mut fast)
        .unwrap_or_else(|| panic!("no reply to {query}"));
    let sent_full = server
        .handler
        .respond_datagram_uncached(&packet, source, &mut full)
        .unwrap_or_else(|| panic!("no full reply to {query}"));
    assert_eq!(sent.labels(), sent_full.labels(), "{query}");
    (fast, full, sent.path)
}

fn variants(name: &str, qtype: RecordType) -> Vec<Message> {
    vec![
        query_plain(name, qtype),
        query(name, qtype),
        query_ecs(name, qtype, "81.2.69.0", 24),
        query_ecs(name, qtype, "10.0.0.0", 8),
        query_ecs(name, qtype, "2a02:d540::", 48),
    ]
}

#[tokio::test]
async fn negative_answers_are_the_full_paths_bytes_for_any_name() {
    let server = Server::start(CITY).await;
    let source: SocketAddr = "81.2.69.142:5353".parse().unwrap_or_else(|e| panic!("{e}"));
    let mut names = Names(0x9e37_79b9_7f4a_7c15);
    let mut questions: Vec<(String, RecordType)> = Vec::new();
    for _ in 0..200 {
        let depth = 1 + names.next() % 4;
        let labels: Vec<String> = (0..depth).map(|_| names.label()).collect();
        let apex = if names.next().is_multiple_of(3) {
            "GTM.Test"
        } else {
            "gtm.test"
        };
        questions.push((format!("{}.{apex}", labels.join(".")), RecordType::A));
    }
    // Labels the SOA's names share (the encoder points into the question there), names
    // under and beside existing ones, empty non-terminals, the apex, outside the zone.
    for name in [
        "ns1.x.gtm.test",
        "x.NS1.gtm.test",
        "x.ns1.gtm.test",
        "hostmaster.gtm.test",
        "a.HostMaster.gtm.test",
        "x.www.gtm.test",
        "www.x.gtm.test",
        "gtm.test",
        "test",
        "example.com",
        "gtm.test.example.com",
        "xgtm.test",
    ] {
        for qtype in [RecordType::A, RecordType::TXT, RecordType::CAA] {
            questions.push((name.to_string(), qtype));
        }
    }
    // Existing names with a type they lack: NODATA.
    for name in ["gtm.test", "www.gtm.test", "mail.gtm.test", "ns1.gtm.test"] {
        for qtype in [
            RecordType::TXT,
            RecordType::SRV,
            RecordType::HTTPS,
            RecordType::CNAME,
        ] {
            questions.push((name.to_string(), qtype));
        }
    }
    // Names close to the longest a name may be (255 bytes on the wire).
    // 3 x 62 + 56 + 10 = 252 bytes.
    let long = format!(
        "{}.{}.gtm.test",
        vec!["a".repeat(61); 3].join("."),
        "B".repeat(55)
    );
    questions.push((long, RecordType::A));
    // Names of many labels: hickory's encoder remembers only the first 64 names for
    // compression, so past that the SOA's names are written out in full (a fuzzer found a
    // template that pointed at an apex the encoder had not remembered).
    for count in [50, 56, 57, 58, 59, 60, 61, 62, 63, 64, 65, 100, 122] {
        let name = format!("{}gtm.test", "x.".repeat(count));
        for qtype in [RecordType::A, RecordType::TXT] {
            questions.push((name.clone(), qtype));
        }
    }
    // Templated answers by RCODE, and answers that went another way.
    let mut templated = std::collections::BTreeMap::new();
    let mut other = 0;
    for (name, qtype) in &questions {
        for query in variants(name, *qtype) {
            // Twice: the second may be a replay of the first.
            for _ in 0..2 {
                let (fast, full, path) = both(&server, &query, source);
                assert_eq!(fast, full, "{name} {qtype}");
                let code = Message::from_vec(&full)
                    .map(|m| m.metadata.response_code)
                    .unwrap_or_else(|e| panic!("{name}: {e}"));
                if path == AnswerPath::Template {
                    *templated.entry(code.to_string()).or_insert(0) += 1;
                } else {
                    other += 1;
                }
            }
        }
    }
    // The templates wrote every kind of negative answer, most of what was asked; the
    // guarded labels (ns1, hostmaster) and positive answers went another way.
    for code in [
        ResponseCode::NXDomain,
        ResponseCode::NoError,
        ResponseCode::Refused,
    ] {
        assert!(
            templated.get(&code.to_string()) > Some(&10),
            "{templated:?}"
        );
    }
    let all = templated.values().sum::<usize>() + other;
    assert!(
        other > 20 && other * 5 < all,
        "{templated:?}, {other} other"
    );
}

#[tokio::test]
async fn negative_answers_are_the_full_paths_bytes_for_every_type() {
    let server = Server::start(CITY).await;
    let source: SocketAddr = "81.2.69.142:5353".parse().unwrap_or_else(|e| panic!("{e}"));
    // The low types, a sample of the rest, and the private-use range.
    let types: Vec<u16> = (0..65280u16)
        .filter(|t| *t <= 1024 || t.is_multiple_of(97))
        .chain(65280..=65535)
        .collect();
    for name in ["nope.gtm.test", "www.gtm.test", "gtm.test", "example.com"] {
        let mut templated = 0;
        for qtype in &types {
            let query = query(name, RecordType::from(*qtype));
            let (fast, full, path) = both(&server, &query, source);
            assert_eq!(fast, full, "{name} type {qtype}");
            templated += usize::from(path == AnswerPath::Template);
        }
        // All but the types the name has (and zone transfers) are negative.
        assert!(
            templated + 10 > types.len(),
            "{name}: {templated} of {}",
            types.len()
        );
    }
}

#[tokio::test]
async fn a_flood_of_random_names_leaves_the_cached_answers_in_place() {
    let server = Server::start(CITY).await;
    let source: SocketAddr = "81.2.69.142:5353".parse().unwrap_or_else(|e| panic!("{e}"));
    let ask = |query: &Message| {
        let packet = query.to_vec().unwrap_or_else(|e| panic!("{e}"));
        let mut out = Vec::new();
        server
            .handler
            .respond_datagram(&packet, source, &mut out)
            .unwrap_or_else(|| panic!("no reply to {query}"))
            .path
    };
    let hot = [
        query("gtm.test", RecordType::NS),
        query("www.gtm.test", RecordType::A),
    ];
    for query in &hot {
        ask(query);
        assert_eq!(ask(query), AnswerPath::Cached, "{query} is kept");
    }
    // More random names than the reply cache holds (8,192): each one written from the
    // template, none of them kept, none pushing the hot answers out.
    let mut names = Names(0x1234_5678_9abc_def1);
    for _ in 0..10_000 {
        let name = format!("{}.gtm.test", names.label());
        assert_eq!(
            ask(&query(&name, RecordType::A)),
            AnswerPath::Template,
            "{name}"
        );
    }
    for query in &hot {
        assert_eq!(ask(query), AnswerPath::Cached, "{query} survived the flood");
    }
}

#[tokio::test]
async fn over_tcp_negative_answers_come_from_the_template_with_the_same_bytes() {
    let server = Server::start(CITY).await;
    let source: SocketAddr = "81.2.69.142:5353".parse().unwrap_or_else(|e| panic!("{e}"));
    for (name, qtype) in [
        ("nope.gtm.test", RecordType::A),
        ("www.gtm.test", RecordType::TXT),
        ("example.com", RecordType::A),
    ] {
        for query in variants(name, qtype) {
            let packet = query.to_vec().unwrap_or_else(|e| panic!("{e}"));
            let (mut stream, mut full) = (Vec::new(), Vec::new());
            let sent = server
                .handler
                .respond_stream(&packet, source, &mut stream)
                .unwrap_or_else(|| panic!("no reply to {query}"));
            // Small enough for any UDP buffer: the full path writes the same bytes.
            server
                .handler
                .respond_datagram_uncached(&packet, source, &mut full)
                .unwrap_or_else(|| panic!("no full reply to {query}"));
            assert_eq!(sent.path, AnswerPath::Template, "{query}");
            assert_eq!(stream, full, "{query}");
        }
    }
}
