//! The bucket arithmetic with an injected clock, the keys, the slip sequence and the slip
//! reply's bytes.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::rdata::opt::{ClientSubnet, EdnsOption};
use hickory_proto::rr::{Name, RData, Record, RecordType};

use super::*;

const SECOND: u64 = 1_000_000;

fn settings(rate: u32, slip: u32) -> ResponseRateLimit {
    ResponseRateLimit {
        responses_per_second: rate,
        errors_per_second: rate,
        slip,
        exempt: Vec::new(),
        ..ResponseRateLimit::default()
    }
}

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

/// A reply to `qname`/A with `answers` A records and `rcode`, with an OPT (and ECS) when
/// `edns`.
fn reply(qname: &str, answers: usize, rcode: ResponseCode, edns: bool) -> Vec<u8> {
    let name = Name::from_ascii(qname).unwrap();
    let mut message = Message::new(0x1234, MessageType::Response, OpCode::Query);
    message.metadata.authoritative = true;
    message.metadata.recursion_desired = true;
    message.metadata.response_code = rcode;
    message.add_query(Query::query(name.clone(), RecordType::A));
    for index in 0..answers {
        let address = Ipv4Addr::new(198, 18, 1, u8::try_from(index).unwrap());
        message.add_answer(Record::from_rdata(name.clone(), 30, RData::A(A(address))));
    }
    message.add_additional(Record::from_rdata(
        Name::from_ascii("ns1.gtm.test").unwrap(),
        30,
        RData::A(A(Ipv4Addr::new(192, 0, 2, 53))),
    ));
    if edns {
        let mut opt = Edns::new();
        opt.set_max_payload(1232);
        opt.options_mut()
            .insert(EdnsOption::Subnet(ClientSubnet::new(
                ip("81.2.69.0"),
                24,
                24,
            )));
        message.set_edns(opt);
    }
    message.to_vec().unwrap()
}

fn positive(qname: &str) -> Vec<u8> {
    reply(qname, 2, ResponseCode::NoError, true)
}

/// How many of `count` answers at `now` the table lets through.
fn admitted(
    table: &RateTable,
    limits: &ResponseRateLimit,
    source: &str,
    packet: &[u8],
    now: u64,
    count: usize,
) -> usize {
    let mut limited = 0;
    (0..count)
        .filter(|_| table.judge(limits, ip(source), packet, now, &mut limited) == Verdict::Send)
        .count()
}

#[test]
fn a_bucket_allows_one_second_of_answers_at_once_then_the_rate() {
    let table = RateTable::new();
    let key = 0xdead_beef_u64;
    let rate = 10;
    let now = 5 * SECOND;
    assert!((0..10).all(|_| table.admit(key, now, rate)), "the burst");
    assert!(!table.admit(key, now, rate), "over the burst");
    assert!(
        !table.admit(key, now + SECOND / 10 - 1, rate),
        "not yet refilled"
    );
    assert!(
        table.admit(key, now + SECOND / 10, rate),
        "one interval later"
    );
    assert!(!table.admit(key, now + SECOND / 10, rate));
    // Idle long enough, the bucket is full again, never fuller.
    let later = now + 60 * SECOND;
    assert_eq!(
        (0..30).filter(|_| table.admit(key, later, rate)).count(),
        10
    );
}

#[test]
fn a_flood_gets_the_burst_plus_the_rate_times_the_time() {
    let table = RateTable::new();
    let (key, rate) = (7u64, 50u32);
    let start = SECOND;
    let mut sent = 0u64;
    // 2,000 answers asked for, 20 per millisecond for 100 ms.
    for step in 0..100u64 {
        let now = start + step * 1_000;
        sent += (0..20).filter(|_| table.admit(key, now, rate)).count() as u64;
        let allowance = u64::from(rate) + u64::from(rate) * (now - start) / SECOND + 1;
        assert!(sent <= allowance, "{sent} answers by {} us", now - start);
    }
    // 50 at once, then one per 20 ms: 4 more in the 99 ms.
    assert_eq!(sent, 50 + 4);
}

#[test]
fn a_limited_flood_does_not_lengthen_its_own_penalty() {
    // Refused answers change nothing: once the flood stops, the bucket refills on time.
    let table = RateTable::new();
    let (key, rate) = (9u64, 10u32);
    assert_eq!((0..10).filter(|_| table.admit(key, 0, rate)).count(), 10);
    for micros in 0..1_000u64 {
        assert!(!table.admit(key, micros * 50, rate));
    }
    assert!(table.admit(key, SECOND / 10, rate));
}

#[test]
fn keys_have_their_own_buckets() {
    let table = RateTable::new();
    assert_eq!((0..20).filter(|_| table.admit(1, 0, 5)).count(), 5);
    assert_eq!((0..20).filter(|_| table.admit(2, 0, 5)).count(), 5);
}

#[test]
fn a_crowd_of_new_sources_does_not_free_a_limited_one() {
    // A spoofed crowd fills slots with buckets that are nearly full; the victim's bucket,
    // deep in debt, is never the one taken over.
    let table = RateTable::new();
    let limits = settings(10, 0);
    let packet = positive("www.gtm.test");
    assert_eq!(
        admitted(&table, &limits, "192.0.2.1", &packet, SECOND, 50),
        10
    );
    for index in 0..200_000u32 {
        let source = IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + (index << 8)));
        let mut limited = 0;
        let _ = table.judge(&limits, source, &packet, SECOND, &mut limited);
    }
    assert_eq!(
        admitted(&table, &limits, "192.0.2.1", &packet, SECOND, 50),
        0
    );
    assert_eq!(table.slots.len(), TABLE_SLOTS);
}

#[test]
fn sources_count_by_network() {
    let table = RateTable::new();
    let limits = settings(5, 0);
    let packet = positive("www.gtm.test");
    assert_eq!(admitted(&table, &limits, "192.0.2.1", &packet, 0, 10), 5);
    // The same /24: the same bucket.
    assert_eq!(admitted(&table, &limits, "192.0.2.200", &packet, 0, 10), 0);
    assert_eq!(admitted(&table, &limits, "192.0.3.1", &packet, 0, 10), 5);
    assert_eq!(
        admitted(&table, &limits, "2001:db8:0:ff::1", &packet, 0, 10),
        5
    );
    // The same /56.
    assert_eq!(
        admitted(&table, &limits, "2001:db8:0:1::2", &packet, 0, 10),
        0
    );
    assert_eq!(
        admitted(&table, &limits, "2001:db8:0:100::1", &packet, 0, 10),
        5
    );
    // A mapped address is its IPv4 address.
    assert_eq!(
        admitted(&table, &limits, "::ffff:192.0.3.9", &packet, 0, 10),
        0
    );
    // Prefixes are configurable: /32 makes every address its own.
    let narrow = ResponseRateLimit {
        ipv4_prefix: 32,
        ..limits
    };
    assert_eq!(admitted(&table, &narrow, "198.51.100.1", &packet, 0, 10), 5);
    assert_eq!(admitted(&table, &narrow, "198.51.100.2", &packet, 0, 10), 5);
}

#[test]
fn positive_answers_count_by_name_and_negative_ones_by_zone() {
    let table = RateTable::new();
    let limits = settings(3, 0);
    let source = "192.0.2.1";
    assert_eq!(
        admitted(&table, &limits, source, &positive("www.gtm.test"), 0, 5),
        3
    );
    // Case does not make another name.
    assert_eq!(
        admitted(&table, &limits, source, &positive("WwW.GTM.test"), 0, 5),
        0
    );
    assert_eq!(
        admitted(&table, &limits, source, &positive("api.gtm.test"), 0, 5),
        3
    );
    // Random names share one NXDOMAIN bucket, and one NODATA bucket.
    let nxdomain = |name: &str| reply(name, 0, ResponseCode::NXDomain, true);
    let nodata = |name: &str| reply(name, 0, ResponseCode::NoError, false);
    let refused = |name: &str| reply(name, 0, ResponseCode::Refused, false);
    for (make, what) in [
        (&nxdomain as &dyn Fn(&str) -> Vec<u8>, "nxdomain"),
        (&nodata, "nodata"),
        (&refused, "error"),
    ] {
        let sent = (0..10)
            .filter(|index| {
                let packet = make(&format!("r{index}.gtm.test"));
                admitted(&table, &limits, source, &packet, 0, 1) == 1
            })
            .count();
        assert_eq!(sent, 3, "{what}");
    }
}

#[test]
fn errors_have_their_own_rate() {
    let table = RateTable::new();
    let limits = ResponseRateLimit {
        errors_per_second: 2,
        ..settings(20, 0)
    };
    let refused = reply("other.example", 0, ResponseCode::Refused, false);
    assert_eq!(admitted(&table, &limits, "192.0.2.1", &refused, 0, 30), 2);
    assert_eq!(
        admitted(
            &table,
            &limits,
            "192.0.2.1",
            &positive("www.gtm.test"),
            0,
            30
        ),
        20
    );
}

#[test]
fn exempt_and_disabled_send_everything() {
    let table = RateTable::new();
    let packet = positive("www.gtm.test");
    let exempt = ResponseRateLimit {
        exempt: vec![
            "192.0.2.0/25".parse().unwrap(),
            "2001:db8::53/128".parse().unwrap(),
        ],
        ..settings(1, 2)
    };
    assert_eq!(admitted(&table, &exempt, "192.0.2.7", &packet, 0, 100), 100);
    assert_eq!(
        admitted(&table, &exempt, "2001:db8::53", &packet, 0, 100),
        100
    );
    // Exempt is by address, not by the counted network.
    assert_eq!(admitted(&table, &exempt, "192.0.2.200", &packet, 0, 100), 1);
    // Loopback is exempt unless the list is set.
    let defaults = ResponseRateLimit {
        responses_per_second: 1,
        ..ResponseRateLimit::default()
    };
    assert_eq!(
        admitted(&table, &defaults, "127.0.0.1", &packet, 0, 100),
        100
    );
    assert_eq!(admitted(&table, &defaults, "::1", &packet, 0, 100), 100);
    let disabled = ResponseRateLimit {
        enabled: false,
        ..settings(1, 2)
    };
    assert_eq!(
        admitted(&table, &disabled, "198.51.100.1", &packet, 0, 100),
        100
    );
}

#[test]
fn every_slip_th_limited_answer_is_slipped() {
    let packet = positive("www.gtm.test");
    let verdicts = |slip: u32| {
        let table = RateTable::new();
        let limits = settings(1, slip);
        let mut limited = 0;
        (0..7)
            .map(|_| table.judge(&limits, ip("192.0.2.1"), &packet, 0, &mut limited))
            .collect::<Vec<_>>()
    };
    use Verdict::{Drop as D, Send as S, Slip as T};
    assert_eq!(verdicts(2), [S, D, T, D, T, D, T]);
    assert_eq!(verdicts(3), [S, D, D, T, D, D, T]);
    assert_eq!(verdicts(1), [S, T, T, T, T, T, T]);
    assert_eq!(verdicts(0), [S, D, D, D, D, D, D]);
}

#[test]
fn a_slip_is_header_question_and_opt() {
    for edns in [true, false] {
        let mut packet = reply("www.gtm.test", 3, ResponseCode::NoError, edns);
        let full = packet.len();
        assert!(write_slip(&mut packet));
        assert!(packet.len() < full);
        let slip = Message::from_vec(&packet).unwrap();
        assert_eq!(slip.metadata.id, 0x1234);
        assert!(slip.metadata.truncation);
        assert!(slip.metadata.authoritative && slip.metadata.recursion_desired);
        assert_eq!(slip.metadata.message_type, MessageType::Response);
        assert_eq!(slip.queries.len(), 1);
        assert_eq!(slip.queries[0].name().to_ascii(), "www.gtm.test.");
        assert!(slip.answers.is_empty() && slip.authorities.is_empty());
        assert!(slip.additionals.is_empty());
        assert_eq!(slip.edns.is_some(), edns);
        if edns {
            assert_eq!(slip.max_payload(), 1232);
        }
    }
    // Not a reply: nothing to slip.
    let mut short = vec![0u8; 11];
    assert!(!write_slip(&mut short));
    let mut cut = reply("www.gtm.test", 3, ResponseCode::NoError, true);
    cut.truncate(40);
    assert!(!write_slip(&mut cut));
}

#[test]
fn replies_are_classified_from_their_header() {
    assert_eq!(
        classify(&positive("a.gtm.test")),
        Some(AnswerClass::Positive)
    );
    let nodata = reply("a.gtm.test", 0, ResponseCode::NoError, true);
    assert_eq!(classify(&nodata), Some(AnswerClass::NoData));
    let mut truncated = nodata.clone();
    truncated[2] |= 0x02;
    assert_eq!(classify(&truncated), Some(AnswerClass::Positive));
    let nxdomain = reply("a.gtm.test", 0, ResponseCode::NXDomain, true);
    assert_eq!(classify(&nxdomain), Some(AnswerClass::NxDomain));
    let servfail = reply("a.gtm.test", 0, ResponseCode::ServFail, true);
    assert_eq!(classify(&servfail), Some(AnswerClass::Error));
    assert_eq!(classify(&[0u8; 5]), None);
}

#[test]
fn the_clock_counts_microseconds_from_the_table() {
    let view = crate::view::View::new(
        std::sync::Arc::new(test_config()),
        std::sync::Arc::new(test_geo()),
        std::sync::Arc::new(crate::health::HealthSnapshot::empty()),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let limiter = ResponseLimiter::new(view.shared());
    let epoch = limiter.epoch;
    assert_eq!(limiter.micros(epoch), 0);
    assert_eq!(
        limiter.micros(epoch + Duration::from_millis(1500)),
        1_500_000
    );
    // A time before the table (an instant read by a thread before it was made): zero.
    if let Some(before) = epoch.checked_sub(Duration::from_secs(1)) {
        assert_eq!(limiter.micros(before), 0);
    }
}

fn test_config() -> crate::config::Config {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/config/meridian.toml");
    crate::config::Config::load_with_env_token(&path, None).unwrap()
}

fn test_geo() -> crate::geo::GeoDb {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/geo/GeoIP2-City-Test.mmdb");
    crate::geo::GeoDb::open(&path).unwrap()
}
