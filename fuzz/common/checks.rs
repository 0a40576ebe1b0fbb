//! The invariants the fuzz targets check, shared with the stable corpus replay
//! (`tests/integration/fuzz_corpus.rs`), which includes this file by path: a reply parses,
//! echoes the ID, sets QR, fits the size the query allows, keeps the question, and the reply
//! cache sends the full path's bytes; over TCP, any split of the stream gets the same
//! replies; config text and MMDB bytes are refused or accepted, never a panic or a hang.

// Each includer uses its own part of this file.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::op::Message;
use meridian::config::Config;
use meridian::dns::DnsHandler;
use meridian::geo::GeoDb;
use meridian::health::HealthSnapshot;
use meridian::view::View;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The handler the integration tests build: their config, the GeoIP2 City test database,
/// no health verdicts.
pub(crate) fn handler(repo: &Path) -> DnsHandler {
    let mut config =
        Config::load_with_env_token(&repo.join("tests/data/config/meridian.toml"), None)
            .unwrap_or_else(|e| panic!("{e}"));
    config.geo.database = repo.join("tests/data/geo/GeoIP2-City-Test.mmdb");
    let geo = GeoDb::open(&config.geo.database).unwrap_or_else(|e| panic!("{e}"));
    let view = View::new(
        Arc::new(config),
        Arc::new(geo),
        Arc::new(HealthSnapshot::empty()),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    // A stopped cookie clock, so the full and the cached path stamp a new server cookie
    // with the same second.
    DnsHandler::new(view.shared()).with_cookie_clock(1_700_000_000)
}

/// Packet sources: loopback (no geo data) and an address the database places.
fn sources() -> [SocketAddr; 2] {
    ["127.0.0.1:5000", "81.2.69.142:5353"].map(|s| s.parse().unwrap_or_else(|e| panic!("{e}")))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The first question's bytes, when its name is whole and uncompressed: what a reply must
/// echo.
fn first_question(packet: &[u8]) -> Option<&[u8]> {
    if packet.get(4..6)? == [0, 0] {
        return None;
    }
    let mut at = 12;
    loop {
        let len = usize::from(*packet.get(at)?);
        if len >= 64 {
            return None;
        }
        at += 1 + len;
        if at - 12 > 255 {
            return None;
        }
        if len == 0 {
            break;
        }
    }
    packet.get(12..at + 4)
}

/// The largest UDP reply `packet` allows: 512, or its EDNS payload within 512..=1232. A
/// query hickory cannot read is held to our own payload.
fn udp_limit(packet: &[u8]) -> usize {
    match Message::from_vec(packet) {
        Ok(message) => message
            .edns
            .map_or(512, |edns| usize::from(edns.max_payload().clamp(512, 1232))),
        Err(_) => 1232,
    }
}

/// One reply to one query, whatever the path.
pub(crate) fn check_reply(query: &[u8], reply: &[u8], limit: usize) {
    let what = || format!("query {} reply {}", hex(query), hex(reply));
    if let Err(error) = Message::from_vec(reply) {
        panic!("the reply does not parse ({error}): {}", what());
    }
    assert!(
        reply.len() <= limit,
        "{} > {limit} bytes: {}",
        reply.len(),
        what()
    );
    assert_eq!(reply[..2], query[..2], "ID: {}", what());
    assert!(reply[2] & 0x80 != 0, "QR: {}", what());
    if let Some(question) = first_question(query) {
        assert_eq!(reply[4..6], [0, 1], "question count: {}", what());
        assert_eq!(
            reply.get(12..12 + question.len()),
            Some(question),
            "question: {}",
            what()
        );
    }
}

/// One UDP datagram: the full path, then the cached path twice (fill, replay), from each
/// source. The cached path must send the full path's bytes.
pub(crate) fn check_datagram(handler: &DnsHandler, packet: &[u8]) {
    for source in sources() {
        let (mut full, mut filled, mut replayed) = (Vec::new(), Vec::new(), Vec::new());
        let sent = handler
            .respond_datagram_uncached(packet, source, &mut full)
            .is_some();
        let sent_filled = handler
            .respond_datagram(packet, source, &mut filled)
            .is_some();
        let sent_replayed = handler
            .respond_datagram(packet, source, &mut replayed)
            .is_some();
        assert_eq!(
            (sent, sent),
            (sent_filled, sent_replayed),
            "{}",
            hex(packet)
        );
        if !sent {
            // Only what is not a query goes unanswered: too short, or a response.
            assert!(
                packet.len() < 12 || packet[2] & 0x80 != 0,
                "no reply to {}",
                hex(packet)
            );
            continue;
        }
        assert_eq!(hex(&filled), hex(&full), "filled cache vs full path");
        assert_eq!(hex(&replayed), hex(&full), "replay vs full path");
        check_reply(packet, &full, udp_limit(packet));
    }
}

/// Cuts `stream` into chunks whose sizes follow from `seed` (1 to seed + 1 bytes).
fn chunks(seed: u8, stream: &[u8]) -> Vec<&[u8]> {
    let mut state = u32::from(seed).wrapping_mul(2_654_435_761) | 1;
    let mut parts = Vec::new();
    let mut rest = stream;
    while !rest.is_empty() {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        let size = 1 + usize::try_from(state).unwrap_or(0) % (usize::from(seed) + 1);
        let (part, tail) = rest.split_at(size.min(rest.len()));
        parts.push(part);
        rest = tail;
    }
    parts
}

/// A TCP stream: byte 0 chooses how the rest is split into writes. The server at `addr`
/// must send, for every whole length-prefixed message in it, what the full path answers
/// for that message alone, in order, and close when the stream ends.
pub(crate) async fn check_stream(handler: &DnsHandler, addr: SocketAddr, input: &[u8]) {
    let Some((&seed, stream)) = input.split_first() else {
        return;
    };
    let source = sources()[0];
    let mut expected = Vec::new();
    let mut rest = stream;
    while let [high, low, tail @ ..] = rest {
        let length = usize::from(u16::from_be_bytes([*high, *low]));
        let Some(message) = tail.get(..length) else {
            break;
        };
        let mut reply = Vec::new();
        if handler
            .respond_stream(message, source, &mut reply)
            .is_some()
        {
            check_reply(message, &reply, usize::from(u16::MAX));
            let length = u16::try_from(reply.len()).unwrap_or_else(|e| panic!("{e}"));
            expected.extend_from_slice(&length.to_be_bytes());
            expected.extend_from_slice(&reply);
        }
        rest = &tail[length..];
    }
    let exchange = async {
        let mut connection = tokio::net::TcpStream::connect(addr).await?;
        connection.set_nodelay(true)?;
        for part in chunks(seed, stream) {
            connection.write_all(part).await?;
            tokio::task::yield_now().await;
        }
        connection.shutdown().await?;
        let mut received = Vec::new();
        connection.read_to_end(&mut received).await?;
        // No TIME_WAIT left behind: fuzzing opens many thousands of connections.
        socket2::SockRef::from(&connection).set_linger(Some(Duration::ZERO))?;
        std::io::Result::Ok(received)
    };
    let received = tokio::time::timeout(Duration::from_secs(10), exchange)
        .await
        .unwrap_or_else(|_| panic!("TCP exchange hung: {}", hex(input)))
        .unwrap_or_else(|e| panic!("TCP: {e}: {}", hex(input)));
    assert_eq!(hex(&received), hex(&expected), "stream {}", hex(input));
}

/// Config text: loaded beside the test config's region files, accepted or refused with an
/// error that names the file. `dir` is a scratch directory.
pub(crate) fn check_config(repo: &Path, dir: &Path, text: &[u8]) {
    let regions = dir.join("regions");
    if !regions.exists() {
        let target = repo.join("tests/data/config/regions");
        #[cfg(unix)]
        std::os::unix::fs::symlink(target, &regions).unwrap_or_else(|e| panic!("{e}"));
    }
    let path: PathBuf = dir.join("fuzz.toml");
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("{e}"));
    if let Err(error) = Config::load_with_env_token(&path, None) {
        let message = error.to_string();
        assert!(!message.is_empty());
    }
}

/// MMDB bytes: refused, or accepted, merged (or refused as corrupt) and then looked up
/// without a panic.
pub(crate) fn check_mmdb(bytes: &[u8]) {
    let Ok(db) = GeoDb::from_bytes(bytes.to_vec(), Path::new("fuzz.mmdb")) else {
        return;
    };
    let mut countries: Vec<Option<String>> = Vec::new();
    let tree = db.merged(|place| {
        let at = countries.iter().position(|known| *known == place.country);
        at.unwrap_or_else(|| {
            countries.push(place.country.clone());
            countries.len() - 1
        }) as u32
    });
    for addr in [
        "81.2.69.142",
        "2.125.160.216",
        "::1",
        "2001:218::1",
        "0.0.0.0",
    ] {
        let addr = addr.parse().unwrap_or_else(|e| panic!("{e}"));
        if let Ok(tree) = &tree {
            let found = tree.lookup(addr);
            if let Some(class) = found.class {
                assert!((class as usize) < countries.len(), "{class}");
            }
        }
        let _ = db.place(addr);
    }
}
