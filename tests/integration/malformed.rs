//! Messages that are not plain questions: compressed question names, too many questions, an
//! OPT hickory cannot decode. Every reply parses, echoes the ID and says what was wrong.

use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use hickory_proto::op::{Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::RecordType;

use crate::support::*;

fn hex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(&text[at..at + 2], 16).unwrap_or_else(|e| panic!("{e}")))
        .collect()
}

fn source() -> SocketAddr {
    "127.0.0.1:5000".parse().unwrap_or_else(|e| panic!("{e}"))
}

/// The reply of every path (cached UDP twice, so a replay too; full UDP; TCP), which must be
/// the same bytes, parsed.
fn every_path(server: &Server, packet: &[u8]) -> (Vec<u8>, Message) {
    let handler = &server.handler;
    let mut replies = Vec::new();
    for path in 0..4 {
        let mut out = Vec::new();
        let sent = match path {
            0 | 1 => handler.respond_datagram(packet, source(), &mut out),
            2 => handler.respond_datagram_uncached(packet, source(), &mut out),
            _ => handler.respond_stream(packet, source(), &mut out),
        };
        assert!(sent.is_some(), "path {path}: nothing sent");
        replies.push(out);
    }
    for (path, reply) in replies.iter().enumerate() {
        assert_eq!(reply, &replies[0], "path {path}");
    }
    let bytes = replies.swap_remove(0);
    let message = Message::from_vec(&bytes).unwrap_or_else(|e| panic!("unparsable reply: {e}"));
    (bytes, message)
}

#[tokio::test]
async fn a_compressed_question_name_gets_formerr_without_an_echo() {
    let server = Server::start(CITY).await;
    // A pointer to offset 2 (the flags: a root name in the query, a label length in the
    // reply) and to offset 3.
    for query in [
        "000200000001000000000000c00200010001",
        "000200000001000000000000c00300010001",
        "0003010000010000000000000377777703677463c01000010001",
    ] {
        let (bytes, reply) = every_path(&server, &hex(query));
        assert_eq!(bytes[..2], hex(query)[..2], "{query}: ID");
        assert_eq!(reply.metadata.message_type, MessageType::Response);
        assert_eq!(
            reply.metadata.response_code,
            ResponseCode::FormErr,
            "{query}"
        );
        assert!(reply.queries.is_empty(), "{query}: {:?}", reply.queries);
        assert!(reply.answers.is_empty());
    }
    // With an OPT record, the FORMERR carries one.
    let mut with_opt = hex("000400000001000000000001c00200010001");
    with_opt.extend_from_slice(&[0, 0, 41, 4, 0xd0, 0, 0, 0, 0, 0, 0]);
    let (_, reply) = every_path(&server, &with_opt);
    assert_eq!(reply.metadata.response_code, ResponseCode::FormErr);
    assert!(reply.edns.is_some(), "no OPT in {reply:?}");
}

/// Captures what the log says, at every level, while `run` runs on this thread.
fn logged(run: impl FnOnce()) -> String {
    #[derive(Clone)]
    struct Captured(Arc<Mutex<Vec<u8>>>);
    impl Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let captured = Captured(Arc::new(Mutex::new(Vec::new())));
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    tracing::subscriber::with_default(subscriber, run);
    let bytes = captured.0.lock().unwrap_or_else(|p| p.into_inner()).clone();
    String::from_utf8_lossy(&bytes).into_owned()
}

#[tokio::test]
async fn many_questions_get_formerr_with_the_first_question_and_no_warning() {
    let server = Server::start(CITY).await;
    // 50 x www.gtm.test A, no EDNS, RD set: the echo alone would pass 512 bytes.
    let mut packet = hex("abcd01000032000000000000");
    for _ in 0..50 {
        packet.extend_from_slice(b"\x03www\x03gtm\x04test\x00\x00\x01\x00\x01");
    }
    let log = logged(|| {
        let (bytes, reply) = every_path(&server, &packet);
        assert!(bytes.len() <= 512, "{} bytes", bytes.len());
        assert_eq!(reply.metadata.id, 0xabcd);
        assert_eq!(reply.metadata.message_type, MessageType::Response);
        assert_eq!(reply.metadata.op_code, OpCode::Query);
        assert!(reply.metadata.recursion_desired, "RD not copied");
        assert_eq!(reply.metadata.response_code, ResponseCode::FormErr);
        let questions: Vec<_> = reply
            .queries
            .iter()
            .map(|q| (q.name().to_string(), q.query_type()))
            .collect();
        assert_eq!(questions, [("www.gtm.test.".to_string(), RecordType::A)]);
    });
    assert!(!log.contains("WARN"), "warned per packet: {log}");
    assert!(!log.contains("ERROR"), "{log}");
}

#[tokio::test]
async fn two_short_questions_get_formerr_too() {
    let server = Server::start(CITY).await;
    let mut packet = hex("abce00000002000000000000");
    packet.extend_from_slice(b"\x03www\x03gtm\x04test\x00\x00\x01\x00\x01");
    packet.extend_from_slice(b"\x03app\x03gtm\x04test\x00\x00\x01\x00\x01");
    let (_, reply) = every_path(&server, &packet);
    assert_eq!(reply.metadata.response_code, ResponseCode::FormErr);
    assert_eq!(reply.queries.len(), 1);
}

#[tokio::test]
async fn an_undecodable_opt_gets_formerr_with_opt_and_question() {
    let server = Server::start(CITY).await;
    let mut packet = hex("abcf01000001000000000001");
    packet.extend_from_slice(b"\x03www\x03gtm\x04test\x00\x00\x01\x00\x01");
    // OPT, payload 1232, DO, one ECS option two bytes long (family only): hickory cannot
    // read it.
    packet.extend_from_slice(&[0, 0, 41, 4, 0xd0, 0, 0, 0x80, 0, 0, 6, 0, 8, 0, 2, 0, 1]);
    let (_, reply) = every_path(&server, &packet);
    assert_eq!(reply.metadata.id, 0xabcf);
    assert_eq!(reply.metadata.response_code, ResponseCode::FormErr);
    let edns = reply
        .edns
        .as_ref()
        .unwrap_or_else(|| panic!("no OPT in the FORMERR"));
    assert!(edns.flags().dnssec_ok, "DO not copied");
    assert_eq!(edns.version(), 0);
    let questions: Vec<_> = reply.queries.iter().map(|q| q.name().to_string()).collect();
    assert_eq!(questions, ["www.gtm.test."]);
}
