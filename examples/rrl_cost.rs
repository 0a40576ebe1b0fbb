//! What one response-rate-limit judgement costs, the limiter alone (no sockets):
//! `cargo run --release --example rrl_cost`.
//!
//! Three cases, each a few million judgements on one thread, with the clock stepped by the
//! caller as the UDP loop does once per batch: answers within the rate from many client
//! networks (the common case: one keyed hash, two loads, one compare-and-swap), one flooded
//! key over its limit (a hash and a load; nothing written), and a spoofed flood from a new
//! /24 every query (every slot taken over). It prints one `key=value` line per case.

use std::io::{self, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query};
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{Name, RData, Record, RecordType};
use meridian::config::{Config, ResponseRateLimit};
use meridian::dns::{ResponseLimiter, Verdict};
use meridian::geo::GeoDb;
use meridian::health::HealthSnapshot;
use meridian::view::View;

const ROUNDS: u32 = 4_000_000;

/// The client address of judgement `index`.
type Source = fn(u32) -> IpAddr;

fn main() -> anyhow::Result<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = Config::load_with_env_token(&root.join("tests/data/config/meridian.toml"), None)?;
    let geo = GeoDb::open(&root.join("tests/data/geo/GeoIP2-City-Test.mmdb"))?;
    let view = View::new(
        Arc::new(config),
        Arc::new(geo),
        Arc::new(HealthSnapshot::empty()),
    )?;
    let limiter = ResponseLimiter::new(view.shared());
    let reply = reply()?;
    let limits = ResponseRateLimit::default();
    let started = Instant::now();
    let mut out = io::stdout().lock();
    let cases: [(&str, Source); 3] = [
        ("within_rate_4096_networks", |index| {
            IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + ((index % 4096) << 8)))
        }),
        ("one_flooded_network", |_| {
            IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1))
        }),
        ("spoofed_new_network_each", |index| {
            IpAddr::V4(Ipv4Addr::from(index << 8))
        }),
    ];
    for (case, source) in cases {
        let mut limited = 0;
        let mut sent = 0u32;
        let begin = Instant::now();
        for index in 0..ROUNDS {
            // A batch of 32 datagrams shares one clock reading; 100 us apart, each of the
            // 4096 networks asks about 80 times a second, within the default rate.
            let now = limiter.micros(started) + u64::from(index / 32) * 100;
            let source = SocketAddr::new(source(index), 53);
            if limiter.judge(&limits, source, &reply, now, &mut limited) == Verdict::Send {
                sent += 1;
            }
        }
        let nanos = begin.elapsed().as_nanos() / u128::from(ROUNDS);
        writeln!(
            out,
            "case={case} judgements={ROUNDS} sent={sent} ns_each={nanos}"
        )?;
    }
    Ok(())
}

/// A positive answer with an OPT record, as the UDP loop judges it.
fn reply() -> anyhow::Result<Vec<u8>> {
    let name = Name::from_ascii("www.gtm.test").context("name")?;
    let mut message = Message::new(7, MessageType::Response, OpCode::Query);
    message.add_query(Query::query(name.clone(), RecordType::A));
    message.add_answer(Record::from_rdata(
        name,
        30,
        RData::A(A(Ipv4Addr::new(198, 18, 1, 1))),
    ));
    let mut edns = Edns::new();
    edns.set_max_payload(1232);
    message.set_edns(edns);
    Ok(message.to_vec()?)
}
