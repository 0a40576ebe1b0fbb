//! The reply cache sends exactly the full path's bytes whatever the letter case of the
//! question, also when records compress against the question (NS, CNAME targets, SOA).

use std::net::SocketAddr;

use hickory_proto::rr::RecordType;

use crate::support::*;

/// Every spelling of `name` from a few case patterns.
fn spellings(name: &str) -> Vec<String> {
    let flip = |pattern: &dyn Fn(usize) -> bool| -> String {
        name.chars()
            .enumerate()
            .map(|(at, c)| {
                if pattern(at) {
                    c.to_ascii_uppercase()
                } else {
                    c
                }
            })
            .collect()
    };
    vec![
        name.to_string(),
        name.to_ascii_uppercase(),
        flip(&|at| at % 2 == 0),
        flip(&|at| at % 2 == 1),
        flip(&|at| at < 4),
        flip(&|at| at >= 4),
    ]
}

#[tokio::test]
async fn cached_bytes_equal_full_bytes_for_every_letter_case() {
    let server = Server::start(CITY).await;
    let handler = &server.handler;
    let source: SocketAddr = "81.2.69.142:5353".parse().unwrap_or_else(|e| panic!("{e}"));
    let mut compared = 0;
    for qname in [
        "gtm.test",
        "www.gtm.test",
        "alias.gtm.test",
        "nope.gtm.test",
    ] {
        for qtype in [
            RecordType::NS,
            RecordType::A,
            RecordType::SOA,
            RecordType::MX,
        ] {
            for plain in [true, false] {
                // Two rounds: the first fills the cache in each spelling, the second replays.
                for round in 0..2 {
                    for spelling in spellings(qname) {
                        let mut query = if plain {
                            query_plain(&spelling, qtype)
                        } else {
                            query(&spelling, qtype)
                        };
                        query.metadata.id = 0x1000 + round;
                        let packet = query.to_vec().unwrap_or_else(|e| panic!("{e}"));
                        let (mut full, mut cached) = (Vec::new(), Vec::new());
                        let sent = handler.respond_datagram(&packet, source, &mut cached);
                        let sent_full =
                            handler.respond_datagram_uncached(&packet, source, &mut full);
                        assert_eq!(sent.is_some(), sent_full.is_some());
                        assert_eq!(
                            cached, full,
                            "{spelling} {qtype} (EDNS: {}, round {round})",
                            !plain
                        );
                        compared += 1;
                    }
                }
            }
        }
    }
    assert!(compared >= 300, "{compared}");
}
