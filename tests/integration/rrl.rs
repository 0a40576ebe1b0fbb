//! Response-rate limiting over real sockets: a spoofed flood gets no more than its allowance
//! (the rest dropped or slipped as small TC replies), while a busy resolver, TCP, exempt
//! sources and a node with limiting off get every answer. No timing is asserted: every bound
//! is computed from the time the exchange measurably took.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::RecordType;
use meridian::config::ResponseRateLimit;
use meridian::view::View;
use tokio::net::{TcpStream, UdpSocket};

use crate::support::*;

/// How long a flood's receiver waits, once everything is sent, for one more reply.
const QUIET: Duration = Duration::from_millis(300);

/// What came back from a flood.
struct Flood {
    replies: Vec<Vec<u8>>,
    /// From before the first query was sent to after the last reply could have come.
    elapsed: Duration,
}

impl Flood {
    fn slips(&self) -> Vec<Message> {
        self.decoded()
            .into_iter()
            .filter(|reply| reply.metadata.truncation)
            .collect()
    }

    fn answers(&self) -> Vec<Message> {
        self.decoded()
            .into_iter()
            .filter(|reply| !reply.metadata.truncation)
            .collect()
    }

    fn decoded(&self) -> Vec<Message> {
        self.replies
            .iter()
            .map(|reply| Message::from_vec(reply).unwrap_or_else(|e| panic!("{e}")))
            .collect()
    }

    /// The most answers a bucket of `rate` per second (bursts of one second) can have let
    /// through in this flood's time.
    fn allowance(&self, rate: u32) -> usize {
        let rate = f64::from(rate);
        (rate + rate * self.elapsed.as_secs_f64()).floor() as usize + 1
    }
}

/// Sends `count` copies of `packet` to `server` from `source` (a loopback address) as fast
/// as the socket takes them, while collecting the replies; then waits until none has come
/// for [`QUIET`].
async fn flood(server: SocketAddr, source: &str, packet: &[u8], count: usize) -> Flood {
    let socket = Arc::new(
        UdpSocket::bind(format!("{source}:0"))
            .await
            .unwrap_or_else(|e| panic!("{e}")),
    );
    let sent = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let receiver = {
        let (socket, sent) = (socket.clone(), sent.clone());
        tokio::spawn(async move {
            let mut replies = Vec::new();
            let mut buf = vec![0u8; 65535];
            // Bounded: at most one reply per query, and a few quiet waits while sending.
            for _ in 0..count + 100 {
                match tokio::time::timeout(QUIET, socket.recv_from(&mut buf)).await {
                    Ok(Ok((len, _))) => replies.push(buf[..len].to_vec()),
                    Ok(Err(error)) => panic!("{error}"),
                    Err(_) if sent.load(Ordering::Acquire) => break,
                    Err(_) => {}
                }
            }
            replies
        })
    };
    for index in 0..count {
        socket
            .send_to(packet, server)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        // Let the receiver drain its socket now and then, so its buffer does not overflow.
        if index % 64 == 63 {
            tokio::task::yield_now().await;
        }
    }
    sent.store(true, Ordering::Release);
    let replies = receiver.await.unwrap_or_else(|e| panic!("{e}"));
    Flood {
        replies,
        elapsed: started.elapsed(),
    }
}

fn limits(rate: u32, slip: u32) -> ResponseRateLimit {
    ResponseRateLimit {
        responses_per_second: rate,
        errors_per_second: rate,
        slip,
        // The tests run on loopback, which is exempt by default.
        exempt: Vec::new(),
        ..ResponseRateLimit::default()
    }
}

async fn start(settings: ResponseRateLimit) -> Server {
    Server::start_with(&geo_db(CITY), move |config| {
        config.response_rate_limit = settings;
    })
    .await
}

fn packet(query: &Message) -> Vec<u8> {
    query.to_vec().unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spoofed_source_cannot_use_the_server_as_an_amplifier() {
    let rate = 10;
    let server = start(limits(rate, 2)).await;
    // The apex NS answer with its glue: the largest the test zone gives, several times the
    // size of the query.
    let query = packet(&query("gtm.test", RecordType::NS));
    let full_size = query_reply_size(&server, &query);
    assert!(full_size > 2 * query.len(), "{full_size} bytes");
    let count = 2_000;
    let flood = flood(server.addr, "127.0.0.1", &query, count).await;
    let (answers, slips) = (flood.answers(), flood.slips());
    let allowance = flood.allowance(rate);
    assert!(
        answers.len() <= allowance,
        "{} answers in {:?}: the allowance is {allowance}",
        answers.len(),
        flood.elapsed
    );
    assert!(!answers.is_empty(), "the burst is answered");
    assert!(!slips.is_empty(), "every second limited answer slips");
    for slip in &slips {
        assert!(
            slip.answers.is_empty() && slip.authorities.is_empty(),
            "{slip}"
        );
        assert!(slip.additionals.is_empty(), "{slip}");
        assert!(slip.edns.is_some(), "the query had OPT: {slip}");
        assert_eq!(slip.queries.len(), 1, "{slip}");
        assert_eq!(slip.metadata.response_code, ResponseCode::NoError);
    }
    // A slip is no larger than the query it answers.
    for reply in flood.replies.iter().filter(|reply| reply[2] & 0x02 != 0) {
        assert!(reply.len() <= query.len(), "{} bytes", reply.len());
    }
    // Bytes back: the allowance in full answers, the rest no larger than the queries.
    let bytes_back: usize = flood.replies.iter().map(Vec::len).sum();
    let bound = allowance * full_size + slips.len() * query.len();
    assert!(
        bytes_back <= bound,
        "{bytes_back} bytes back for {} bytes of queries (bound {bound})",
        count * query.len()
    );
    assert!(
        bytes_back < count * query.len(),
        "{bytes_back} bytes back: more than the flood sent"
    );
}

/// The size of the full answer to `packet`, from the handler (no socket, no bucket).
fn query_reply_size(server: &Server, packet: &[u8]) -> usize {
    let source: SocketAddr = "192.0.2.1:5353".parse().unwrap_or_else(|e| panic!("{e}"));
    let mut out = Vec::new();
    server
        .handler
        .respond_datagram_uncached(packet, source, &mut out)
        .unwrap_or_else(|| panic!("no reply"));
    out.len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_resolver_is_never_limited() {
    // The default rates, without the default exemption of loopback.
    let server = start(ResponseRateLimit {
        exempt: Vec::new(),
        ..ResponseRateLimit::default()
    })
    .await;
    assert!(server.view().config.response_rate_limit.enabled);
    assert_eq!(
        server
            .view()
            .config
            .response_rate_limit
            .responses_per_second,
        200
    );
    let socket = UdpSocket::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let mut buf = vec![0u8; 65535];
    let mut answered = 0;
    // A resolver answering many clients: each round asks every steered name for another
    // client subnet, the static names, a NODATA and a random name, about ten queries; then
    // pauses 10 ms, so no name is asked more than 100 times a second (half the default
    // rate), and the resolver as a whole sends up to a thousand queries a second.
    for round in 0..100u16 {
        let subnet = format!("81.{}.{}.0", 2 + round / 256, round % 256);
        let subnet6 = format!("2a02:{round:x}::");
        let queries = [
            query_ecs("www.gtm.test", RecordType::A, &subnet, 24),
            query_ecs("www.gtm.test", RecordType::AAAA, &subnet6, 48),
            query_ecs("api.gtm.test", RecordType::A, &subnet, 24),
            query_ecs("app.gtm.test", RecordType::A, &subnet, 24),
            query("mail.gtm.test", RecordType::A),
            query("mail.gtm.test", RecordType::AAAA),
            query("gtm.test", RecordType::MX),
            query("gtm.test", RecordType::NS),
            query("gtm.test", RecordType::SOA),
            query(&format!("r{round}-x.gtm.test"), RecordType::A),
        ];
        for (index, query) in queries.iter().enumerate() {
            let mut query = query.clone();
            query.metadata.id = round * 16 + u16::try_from(index).unwrap_or(0);
            socket
                .send_to(&packet(&query), server.addr)
                .await
                .unwrap_or_else(|e| panic!("{e}"));
        }
        for _ in 0..queries.len() {
            let (len, _) = tokio::time::timeout(EXCHANGE_TIMEOUT, socket.recv_from(&mut buf))
                .await
                .unwrap_or_else(|_| panic!("round {round}: an answer was held back"))
                .unwrap_or_else(|e| panic!("{e}"));
            let reply = Message::from_vec(&buf[..len]).unwrap_or_else(|e| panic!("{e}"));
            assert!(!reply.metadata.truncation, "round {round}: {reply}");
            assert_eq!(reply.metadata.id / 16, round);
            answered += 1;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(answered, 1_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_is_never_limited() {
    let server = start(limits(1, 0)).await;
    let query = query("gtm.test", RecordType::NS);
    let mut stream = TcpStream::connect(server.addr)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    for _ in 0..50 {
        let reply = tcp_exchange(&mut stream, &query)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(!reply.answers.is_empty() && !reply.metadata.truncation);
    }
    // The same source over UDP is limited.
    let flood = flood(server.addr, "127.0.0.1", &packet(&query), 50).await;
    assert!(
        flood.replies.len() <= flood.allowance(1),
        "{}",
        flood.replies.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exempt_sources_are_never_limited() {
    let server = start(ResponseRateLimit {
        exempt: vec!["127.0.0.1/32".parse().unwrap_or_else(|e| panic!("{e}"))],
        ..limits(1, 0)
    })
    .await;
    let query = packet(&query("gtm.test", RecordType::NS));
    let exempt = flood(server.addr, "127.0.0.1", &query, 50).await;
    assert_eq!(exempt.answers().len(), 50);
    // Another /24 of loopback is not exempt.
    let other = flood(server.addr, "127.0.1.1", &query, 50).await;
    assert!(
        other.replies.len() <= other.allowance(1),
        "{}",
        other.replies.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disabled_limits_nothing() {
    let server = start(ResponseRateLimit {
        enabled: false,
        ..limits(1, 2)
    })
    .await;
    let query = packet(&query("gtm.test", RecordType::NS));
    let flood = flood(server.addr, "127.0.0.1", &query, 50).await;
    assert_eq!(flood.answers().len(), 50);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limited_answers_are_counted_in_metrics() {
    let server = start(limits(1, 2)).await;
    // Present from the start, whatever other tests in this process have counted.
    let (dropped_before, slipped_before) = rate_limited_metrics(&server).await;
    let query = packet(&query("nope.gtm.test", RecordType::A));
    let count = 100;
    let flood = flood(server.addr, "127.0.0.1", &query, count).await;
    let slips = flood.slips().len() as u64;
    let answers = flood.answers().len() as u64;
    assert!(slips > 0);
    assert!(
        flood
            .answers()
            .iter()
            .all(|reply| reply.metadata.response_code == ResponseCode::NXDomain)
    );
    let (dropped, slipped) = rate_limited_metrics(&server).await;
    assert!(
        slipped - slipped_before >= slips,
        "{slipped} - {slipped_before} < {slips}"
    );
    // Every query not answered or slipped was dropped (or lost by the kernel, which the
    // counters cannot see): at least one was dropped for each slip but the last.
    assert!(
        dropped - dropped_before >= slips - 1,
        "{dropped} - {dropped_before}"
    );
    assert!(answers + slips <= count as u64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_buckets_survive_a_reload_and_the_new_settings_apply_at_once() {
    let rate = 20;
    let server = start(limits(rate, 0)).await;
    let query = packet(&query("gtm.test", RecordType::NS));
    let started = Instant::now();
    let first = flood(server.addr, "127.0.0.1", &query, 100).await;
    assert!(first.slips().is_empty(), "slip = 0");
    // A new view with another slip, as a reload publishes it.
    let current = server.view();
    let mut config = (*current.config).clone();
    config.response_rate_limit.slip = 1;
    server.reloader.view().store(Arc::new(
        View::new(
            Arc::new(config),
            current.geo.clone(),
            current.health_snapshot.clone(),
        )
        .unwrap_or_else(|e| panic!("{e}")),
    ));
    let second = flood(server.addr, "127.0.0.1", &query, 100).await;
    let elapsed = started.elapsed();
    assert!(
        !second.slips().is_empty(),
        "slip = 1 applies from the next batch"
    );
    // One bucket across both floods: a table rebuilt by the reload would have granted a
    // second burst.
    let answers = first.answers().len() + second.answers().len();
    let allowance = Flood {
        replies: Vec::new(),
        elapsed,
    }
    .allowance(rate);
    assert!(
        answers <= allowance,
        "{answers} answers in {elapsed:?}: allowance {allowance}"
    );
}
