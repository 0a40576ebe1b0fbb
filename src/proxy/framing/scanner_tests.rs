//! The scanner over whole request streams: what is released, spoiled or refused, and that
//! none of it depends on how the stream is cut into reads.

use super::head::Refusal;
use super::scanner::Scanner;

const MAX_HEAD: usize = 1024;

/// What a guard would hand hyper for a stream fed in `pieces`.
#[derive(Debug, Default, PartialEq, Eq)]
struct Transcript {
    released: Vec<u8>,
    refusals: Vec<Refusal>,
    broken: bool,
    /// Unchecked bytes left when the stream ended.
    held: usize,
}

fn feed<'a>(max_head: usize, pieces: impl IntoIterator<Item = &'a [u8]>) -> Transcript {
    let mut scanner = Scanner::new(max_head);
    let mut held = Vec::new();
    let mut transcript = Transcript::default();
    for piece in pieces {
        if transcript.broken {
            break;
        }
        held.extend_from_slice(piece);
        let scan = scanner.scan(&mut held);
        assert!(scan.checked <= held.len(), "{scan:?} of {}", held.len());
        transcript.released.extend_from_slice(&held[..scan.checked]);
        held.drain(..scan.checked);
        transcript.refusals.extend(scan.refusal);
        if scan.broken {
            transcript.broken = true;
            held.clear();
        }
    }
    transcript.held = held.len();
    transcript
}

fn whole(stream: &[u8]) -> Transcript {
    feed(MAX_HEAD, [stream])
}

/// The transcript of `stream` fed whole, after checking that every two-way split and a
/// byte-at-a-time feed give the same.
fn split_everywhere(max_head: usize, stream: &[u8]) -> Transcript {
    let expected = feed(max_head, [stream]);
    for split in 0..=stream.len() {
        let (first, second) = stream.split_at(split);
        assert_eq!(
            feed(max_head, [first, second]),
            expected,
            "split at {split}"
        );
    }
    assert_eq!(feed(max_head, stream.chunks(1)), expected, "byte at a time");
    expected
}

fn accepted(stream: &[u8]) {
    let transcript = split_everywhere(MAX_HEAD, stream);
    assert!(
        transcript.refusals.is_empty(),
        "{:?}",
        String::from_utf8_lossy(stream)
    );
    assert_eq!(transcript.released, stream);
    assert!(!transcript.broken);
}

/// Checks that the request after `good` is refused for `refusal`, spoiled at its first byte.
fn refused_after(good: &[u8], bad: &[u8], refusal: Refusal) {
    let stream = [good, bad].concat();
    let transcript = split_everywhere(MAX_HEAD, &stream);
    assert_eq!(
        transcript.refusals,
        [refusal],
        "{:?}",
        String::from_utf8_lossy(bad)
    );
    let mut spoiled = stream.clone();
    spoiled[good.len()] = b'(';
    assert_eq!(transcript.released, spoiled);
}

const GET: &[u8] = b"GET /a HTTP/1.1\r\nHost: example\r\n\r\n";
const CHUNKED_POST: &[u8] = b"POST /upload HTTP/1.1\r\nHost: example\r\nTransfer-Encoding: gzip, chunked\r\n\r\n\
    4;name=value\r\nWiki\r\n5 ;x\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0;last\r\nExpires: never\r\nX-Sum: 9\r\n\r\n";

#[test]
fn a_get_passes_unchanged() {
    accepted(GET);
    accepted(b"GET / HTTP/1.0\n\n");
}

#[test]
fn a_post_with_content_length_and_the_next_request_pass() {
    accepted(
        &[
            b"POST /f HTTP/1.1\r\nContent-Length: 11\r\n\r\nhello world".as_slice(),
            GET,
        ]
        .concat(),
    );
}

#[test]
fn a_chunked_post_with_extensions_and_trailers_passes() {
    accepted(&[CHUNKED_POST, GET].concat());
}

#[test]
fn pipelined_requests_pass_however_they_are_cut() {
    let stream = [
        GET,
        b"\r\n",
        b"POST /b HTTP/1.1\r\nContent-Length: 5\r\n\r\nab\r\nc",
        CHUNKED_POST,
        b"\r\n\r\nDELETE /c HTTP/1.1\nHost: x\n\n",
    ]
    .concat();
    accepted(&stream);
}

#[test]
fn a_partial_head_is_held_until_complete() {
    let transcript = feed(MAX_HEAD, [GET, &GET[..GET.len() - 1]]);
    assert_eq!(transcript.released, GET);
    assert_eq!(transcript.held, GET.len() - 1);
}

#[test]
fn each_smuggling_shape_is_refused_in_place_and_in_order() {
    let cases: [(&[u8], Refusal); 10] = [
        (b"POST / HTTP/1.1\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", Refusal::LengthAndTransferEncoding),
        (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n", Refusal::LengthAndTransferEncoding),
        (b"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx", Refusal::RepeatedLength),
        (b"POST / HTTP/1.1\r\nContent-Length: 1,1\r\n\r\nx", Refusal::RepeatedLength),
        (b"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", Refusal::InvalidLength),
        (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n", Refusal::InvalidTransferEncoding),
        (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", Refusal::InvalidTransferEncoding),
        (b"GET / HTTP/1.1\r\nX-A: 1\r\n  folded\r\n\r\n", Refusal::Malformed),
        (b"GET / HTTP/1.1\r\n: no name\r\n\r\n", Refusal::Malformed),
        (b"GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n", Refusal::Malformed),
    ];
    for (bad, refusal) in cases {
        refused_after(b"", bad, refusal);
        refused_after(GET, bad, refusal);
        refused_after(CHUNKED_POST, bad, refusal);
    }
}

#[test]
fn bytes_after_a_refusal_pass_because_hyper_closes() {
    let bad = b"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx";
    let stream = [bad.as_slice(), b"GARBAGE\x00\r\n\r\n", GET].concat();
    let transcript = whole(&stream);
    assert_eq!(transcript.refusals, [Refusal::RepeatedLength]);
    assert_eq!(transcript.released[1..], stream[1..]);
}

/// A head of exactly `len` bytes (at least 27).
fn padded_head(len: usize) -> Vec<u8> {
    let mut head = b"GET / HTTP/1.1\r\nX-Pad: ".to_vec();
    head.resize(len - 4, b'a');
    head.extend_from_slice(b"\r\n\r\n");
    head
}

#[test]
fn an_oversized_head_reaches_hyper_without_its_final_byte() {
    let max_head = 64;
    let head = padded_head(max_head + 1);
    let stream = [head.as_slice(), GET].concat();
    let transcript = split_everywhere(max_head, &stream);
    assert_eq!(transcript.refusals, [Refusal::Oversized]);
    let mut spoiled = stream.clone();
    spoiled[head.len() - 4] = 0x7f;
    assert_eq!(transcript.released, spoiled);
}

#[test]
fn an_unfinished_oversized_head_is_released_up_to_a_possible_end() {
    let max_head = 64;
    let head = padded_head(max_head + 10);
    for (cut, held) in [(3, 1), (2, 2), (1, 3)] {
        let transcript = feed(max_head, [&head[..head.len() - cut]]);
        assert!(transcript.refusals.is_empty());
        assert_eq!(transcript.released, head[..head.len() - cut - held]);
        assert_eq!(transcript.held, held);
    }
}

#[test]
fn a_head_at_the_limit_passes() {
    let max_head = 64;
    let head = padded_head(max_head);
    let transcript = split_everywhere(max_head, &head);
    assert!(transcript.refusals.is_empty());
    assert_eq!(transcript.released, head);
}

#[test]
fn too_many_fields_are_refused_like_an_oversized_head() {
    let mut head = b"GET / HTTP/1.1\r\n".to_vec();
    for _ in 0..=super::head::MAX_HEADERS {
        head.extend_from_slice(b"A:1\r\n");
    }
    head.extend_from_slice(b"\r\n");
    let transcript = whole(&head);
    assert_eq!(transcript.refusals, [Refusal::Oversized]);
    assert_eq!(transcript.released[head.len() - 5..], *b"1\x7f\n\r\n");
}

#[test]
fn an_http2_connection_passes_untouched() {
    let stream = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x12\x04\x00\x00\x00\x00\x00\r\n\r\n";
    let transcript = split_everywhere(MAX_HEAD, stream);
    assert!(transcript.refusals.is_empty());
    assert_eq!(transcript.released, stream);
}

#[test]
fn the_http2_preface_later_in_the_stream_is_a_bad_request() {
    let stream = [GET, b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"].concat();
    assert_eq!(whole(&stream).refusals, [Refusal::Malformed]);
}

const UPGRADE: &[u8] =
    b"GET /chat HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n";

#[test]
fn a_websocket_after_its_upgrade_passes() {
    let frames = b"\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58\r\n\r\nPOST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n";
    let stream = [UPGRADE, frames.as_slice()].concat();
    let transcript = split_everywhere(MAX_HEAD, &stream);
    assert!(transcript.refusals.is_empty());
    assert_eq!(transcript.released, stream);
}

#[test]
fn a_tunnel_after_connect_passes() {
    let stream = b"CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03";
    let transcript = split_everywhere(MAX_HEAD, stream);
    assert!(transcript.refusals.is_empty());
    assert_eq!(transcript.released, stream);
}

#[test]
fn requests_after_an_upgrade_hyper_may_refuse_are_still_checked() {
    accepted(&[UPGRADE, GET, GET].concat());
    let smuggled =
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n";
    refused_after(UPGRADE, smuggled, Refusal::LengthAndTransferEncoding);
    refused_after(
        &[UPGRADE, b"\r\n"].concat(),
        smuggled,
        Refusal::LengthAndTransferEncoding,
    );
    let connect = b"CONNECT a:443 HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi";
    refused_after(connect, smuggled, Refusal::LengthAndTransferEncoding);
}

#[test]
fn a_request_line_held_after_an_upgrade_is_bounded() {
    let max_head = UPGRADE.len();
    let mut stream = UPGRADE.to_vec();
    stream.extend_from_slice(b"GET /");
    stream.resize(UPGRADE.len() + max_head + 1, b'a');
    let transcript = split_everywhere(max_head, &stream);
    // Released as an oversized head, but for the byte that may end its last line.
    assert_eq!(transcript.held, 1);
    assert_eq!(transcript.released, stream[..stream.len() - 1]);
}

#[test]
fn a_broken_chunked_body_stops_the_stream_at_the_bad_byte() {
    let head = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
    let stream = [head.as_slice(), b"3\r\nabc\r\nzz\r\n", GET].concat();
    let transcript = split_everywhere(MAX_HEAD, &stream);
    assert!(transcript.broken);
    assert_eq!(transcript.released, stream[..head.len() + 8]);
}

/// xorshift64*, enough to make varied inputs reproducibly.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, bound: usize) -> usize {
        usize::try_from(self.next() % bound as u64).unwrap_or(0)
    }
}

/// Pieces random streams are made of: framing syntax, valid requests and noise.
const PIECES: [&[u8]; 22] = [
    b"\r\n",
    b"\n",
    b"\r",
    b" ",
    b"\t",
    b":",
    b",",
    b";",
    b"0",
    b"5",
    b"a",
    b"\x00",
    b"\xff",
    b"GET / HTTP/1.1\r\n",
    b"POST /x HTTP/1.0\r\n",
    b"CONNECT a:1 HTTP/1.1\r\n",
    b"Content-Length: 3\r\n",
    b"Transfer-Encoding: chunked\r\n",
    b"Upgrade: x\r\n",
    b"3\r\nabc\r\n",
    b"0\r\n\r\n",
    b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
];

#[test]
fn random_streams_never_panic_and_do_not_depend_on_cuts() {
    let mut random = Random(0x9e37_79b9_7f4a_7c15);
    for round in 0..3000 {
        let mut stream = Vec::new();
        for _ in 0..random.below(40) {
            if random.below(4) == 0 {
                stream.push(random.next() as u8);
            } else {
                stream.extend_from_slice(PIECES[random.below(PIECES.len())]);
            }
        }
        let max_head = 8 + random.below(120);
        let expected = feed(max_head, [stream.as_slice()]);
        assert!(expected.released.len() + expected.held <= stream.len());
        let mut pieces = Vec::new();
        let mut rest = stream.as_slice();
        while !rest.is_empty() {
            let (piece, tail) = rest.split_at(1 + random.below(rest.len()));
            pieces.push(piece);
            rest = tail;
        }
        assert_eq!(
            feed(max_head, pieces),
            expected,
            "round {round}: {stream:?}"
        );
    }
}
