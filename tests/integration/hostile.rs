//! Whatever arrives, the server answers sensibly or stays silent, and never stops serving.

use std::net::SocketAddr;
use std::time::Duration;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpStream, UdpSocket};

use crate::support::*;

/// A small deterministic generator (xorshift64*), so failures replay exactly.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % u64::try_from(n.max(1)).unwrap_or(1)).unwrap_or(0)
    }
}

fn header(id: u16, flags: u16, counts: [u16; 4]) -> Vec<u8> {
    let mut packet = Vec::with_capacity(64);
    packet.extend_from_slice(&id.to_be_bytes());
    packet.extend_from_slice(&flags.to_be_bytes());
    for count in counts {
        packet.extend_from_slice(&count.to_be_bytes());
    }
    packet
}

const WWW: &[u8] = b"\x03www\x03gtm\x04test\x00";

/// Hand-made malformed messages, each a known way to break a parser.
fn crafted() -> Vec<Vec<u8>> {
    let mut packets = Vec::new();
    // Short headers.
    for len in 0..12 {
        packets.push(vec![0xab; len]);
    }
    // Truncated question: counts say one, the name stops half way.
    let mut truncated = header(1, 0, [1, 0, 0, 0]);
    truncated.extend_from_slice(&WWW[..6]);
    packets.push(truncated);
    // Question without type and class.
    let mut no_type = header(2, 0, [1, 0, 0, 0]);
    no_type.extend_from_slice(WWW);
    packets.push(no_type);
    // Compression pointer to itself, and a pointer loop of two.
    let mut self_loop = header(3, 0, [1, 0, 0, 0]);
    self_loop.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1]);
    packets.push(self_loop);
    let mut two_loop = header(4, 0, [1, 0, 0, 0]);
    two_loop.extend_from_slice(&[0x01, b'a', 0xc0, 0x0e, 0xc0, 0x0c, 0, 1, 0, 1]);
    packets.push(two_loop);
    // Pointer forward past the end.
    let mut past_end = header(5, 0, [1, 0, 0, 0]);
    past_end.extend_from_slice(&[0xc3, 0xff, 0, 1, 0, 1]);
    packets.push(past_end);
    // A label longer than the packet, and the reserved label types 0x40 / 0x80.
    let mut long_label = header(6, 0, [1, 0, 0, 0]);
    long_label.extend_from_slice(&[63, b'a', b'b', b'c']);
    packets.push(long_label);
    for kind in [0x40u8, 0x80] {
        let mut reserved = header(7, 0, [1, 0, 0, 0]);
        reserved.extend_from_slice(&[kind | 3, b'w', b'w', b'w', 0, 0, 1, 0, 1]);
        packets.push(reserved);
    }
    // A name longer than 255 bytes.
    let mut huge = header(8, 0, [1, 0, 0, 0]);
    for _ in 0..6 {
        huge.push(63);
        huge.extend_from_slice(&[b'x'; 63]);
    }
    huge.extend_from_slice(&[0, 0, 1, 0, 1]);
    packets.push(huge);
    // Lying counts.
    for counts in [
        [65535, 0, 0, 0],
        [1, 65535, 0, 0],
        [1, 0, 65535, 0],
        [1, 0, 0, 65535],
        [0, 0, 0, 0],
    ] {
        let mut lying = header(9, 0, counts);
        lying.extend_from_slice(WWW);
        lying.extend_from_slice(&[0, 1, 0, 1]);
        packets.push(lying);
    }
    // Responses instead of queries (QR=1), including one that looks like a whole answer.
    let mut response = header(10, 0x8400, [1, 0, 0, 0]);
    response.extend_from_slice(WWW);
    response.extend_from_slice(&[0, 1, 0, 1]);
    packets.push(response);
    // Broken OPT records: rdlength past the end, an option past its OPT, two OPTs, OPT in
    // the answer section, and ECS with a bad family, a too long prefix and too many bytes.
    let opt = |rdata: &[u8], rdlen: u16| {
        let mut rr = vec![0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0];
        rr.extend_from_slice(&rdlen.to_be_bytes());
        rr.extend_from_slice(rdata);
        rr
    };
    let with_additional = |id: u16, additional: &[u8], count: u16| {
        let mut packet = header(id, 0, [1, 0, 0, count]);
        packet.extend_from_slice(WWW);
        packet.extend_from_slice(&[0, 1, 0, 1]);
        packet.extend_from_slice(additional);
        packet
    };
    packets.push(with_additional(11, &opt(&[], 40), 1));
    packets.push(with_additional(12, &opt(&[0, 8, 0, 60, 0, 1], 6), 1));
    packets.push(with_additional(13, &[opt(&[], 0), opt(&[], 0)].concat(), 2));
    let ecs = |family: u16, source: u8, address: &[u8]| {
        let mut option = vec![0, 8];
        let len = u16::try_from(4 + address.len()).unwrap_or(0);
        option.extend_from_slice(&len.to_be_bytes());
        option.extend_from_slice(&family.to_be_bytes());
        option.extend_from_slice(&[source, 0]);
        option.extend_from_slice(address);
        let rdlen = u16::try_from(option.len()).unwrap_or(0);
        opt(&option, rdlen)
    };
    packets.push(with_additional(14, &ecs(3, 24, &[1, 2, 3]), 1));
    packets.push(with_additional(15, &ecs(1, 200, &[1, 2, 3]), 1));
    packets.push(with_additional(16, &ecs(1, 33, &[1, 2, 3, 4, 5]), 1));
    packets.push(with_additional(17, &ecs(1, 24, &[81, 2, 69, 142, 9, 9]), 1));
    packets.push(with_additional(18, &ecs(2, 129, &[0; 17]), 1));
    packets.push(with_additional(19, &ecs(1, 24, &[81]), 1));
    let mut opt_in_answer = header(20, 0, [1, 1, 0, 0]);
    opt_in_answer.extend_from_slice(WWW);
    opt_in_answer.extend_from_slice(&[0, 1, 0, 1]);
    opt_in_answer.extend_from_slice(&opt(&[], 0));
    packets.push(opt_in_answer);
    packets
}

/// A valid query with random damage: flipped bytes, cut tails, garbage appended.
fn mutated(rng: &mut Rng, valid: &[u8]) -> Vec<u8> {
    let mut packet = valid.to_vec();
    match rng.below(4) {
        0 => {
            for _ in 0..=rng.below(4) {
                let at = rng.below(packet.len());
                packet[at] = (rng.next() & 0xff) as u8;
            }
        }
        1 => packet.truncate(rng.below(packet.len())),
        2 => packet.extend((0..rng.below(40)).map(|_| (rng.next() & 0xff) as u8)),
        _ => {
            packet = (0..rng.below(600))
                .map(|_| (rng.next() & 0xff) as u8)
                .collect();
        }
    }
    packet
}

fn valid_packets() -> Vec<Vec<u8>> {
    [
        query_ecs("www.gtm.test", RecordType::A, "81.2.69.142", 32),
        query("gtm.test", RecordType::NS),
        query("alias.gtm.test", RecordType::AAAA),
        query_plain("nope.gtm.test", RecordType::MX),
    ]
    .iter()
    .map(|message| message.to_vec().unwrap_or_else(|e| panic!("{e}")))
    .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousands_of_malformed_datagrams_then_valid_queries() {
    let server = Server::start(CITY).await;
    let mut rng = Rng(0x5eed_1234_abcd_ef01);
    let valid = valid_packets();
    let mut hostile = crafted();
    for i in 0..3000 {
        hostile.push(mutated(&mut rng, &valid[i % valid.len()]));
    }

    // Every reply to hostile input must itself be a well-formed response. Checked directly on
    // the handler (the same function the UDP loop calls) for every packet ...
    let mut replies = 0;
    let source: SocketAddr = "192.0.2.10:5353".parse().unwrap_or_else(|e| panic!("{e}"));
    let mut out = Vec::new();
    for packet in &hostile {
        if server
            .handler
            .respond_datagram(packet, source, &mut out)
            .is_some()
        {
            let reply = hickory_proto::op::Message::from_vec(&out)
                .unwrap_or_else(|e| panic!("reply to {packet:02x?} is malformed: {e}"));
            assert_eq!(
                reply.metadata.message_type,
                hickory_proto::op::MessageType::Response
            );
            replies += 1;
        }
    }
    assert!(
        replies > 100,
        "only {replies} replies: the mutations barely reach the parser"
    );

    // ... and over the wire, in bursts, to the running server.
    let socket = UdpSocket::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    for chunk in hostile.chunks(200) {
        for packet in chunk {
            let _ = socket.send_to(packet, server.addr).await;
        }
        // Drain what came back so the socket buffer never fills.
        let mut buf = vec![0u8; 65535];
        while let Ok(Ok(_)) =
            tokio::time::timeout(Duration::from_millis(20), socket.recv_from(&mut buf)).await
        {
        }
    }
    // Responses must never be answered: a reflection loop between two servers.
    let response_packet = &hostile
        .iter()
        .find(|p| p.len() > 3 && p[2] & 0x80 != 0 && p[..2] == [0, 10])
        .cloned()
        .unwrap_or_default();
    assert!(
        server
            .udp_raw(response_packet, Duration::from_millis(300))
            .await
            .is_none()
    );
    assert!(
        server
            .udp_raw(&[0xab; 5], Duration::from_millis(300))
            .await
            .is_none()
    );

    // Malformed but with a readable header: FORMERR, echoing the ID.
    let truncated = &crafted()[12];
    let reply = server
        .udp_raw(truncated, EXCHANGE_TIMEOUT)
        .await
        .unwrap_or_else(|| panic!("no FORMERR"));
    let reply = hickory_proto::op::Message::from_vec(&reply).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        (reply.metadata.id, reply.metadata.response_code),
        (1, ResponseCode::FormErr)
    );

    // ECS with more address bytes than its prefix needs: FORMERR (hickory alone accepts it).
    let surplus = crafted()
        .into_iter()
        .find(|p| p.len() > 2 && p[..2] == [0, 17])
        .unwrap_or_default();
    let reply = server
        .udp_raw(&surplus, EXCHANGE_TIMEOUT)
        .await
        .unwrap_or_else(|| panic!("no reply"));
    let reply = hickory_proto::op::Message::from_vec(&reply).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(reply.metadata.response_code, ResponseCode::FormErr);

    // Everything valid is still answered, by every socket.
    for round in 0..50 {
        let message = query_ecs("www.gtm.test", RecordType::A, "81.2.69.142", 32);
        let reply = server.udp(&message).await;
        assert_eq!(region_of(&reply), "eu-west", "round {round}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_over_tcp_does_not_stop_the_server() {
    let server = Server::start(CITY).await;
    let mut rng = Rng(42);
    for _ in 0..50 {
        let mut stream = TcpStream::connect(server.addr)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let garbage: Vec<u8> = (0..rng.below(300))
            .map(|_| (rng.next() & 0xff) as u8)
            .collect();
        let _ = stream.write_all(&garbage).await;
        drop(stream);
    }
    // A length prefix promising more than ever comes, then a close.
    let mut stream = TcpStream::connect(server.addr)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let _ = stream.write_all(&[0xff, 0xff, 1, 2, 3]).await;
    drop(stream);
    let reply = server.tcp(&query("gtm.test", RecordType::SOA)).await;
    assert_eq!(reply.answers.len(), 1);
}
