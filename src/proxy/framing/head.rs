//! One request head: where it ends, whether its framing headers are acceptable, how its body
//! is delimited, and (after an upgrade request) whether the next bytes start a request at all.

use std::mem::MaybeUninit;

/// hyper's default limit on header fields. A head with more is refused like an oversized
/// one, so that it never reaches hyper intact.
pub(super) const MAX_HEADERS: usize = 100;

/// Why the guard refuses a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Refusal {
    /// The head does not parse: obs-fold, an empty or invalid header name, a bad request line.
    Malformed,
    /// Both Content-Length and Transfer-Encoding.
    LengthAndTransferEncoding,
    /// More than one Content-Length field, or a list in one.
    RepeatedLength,
    /// A Content-Length that is not a plain decimal `u64`.
    InvalidLength,
    /// A Transfer-Encoding whose final coding is not `chunked`, that names `chunked` twice or
    /// has an empty element, or that comes with HTTP/1.0.
    InvalidTransferEncoding,
    /// Longer than the head limit, or more than [`MAX_HEADERS`] header fields.
    Oversized,
}

/// How the body after an accepted head is delimited (RFC 9112 section 6.3, as hyper reads it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum BodyFraming {
    Empty,
    Length(u64),
    Chunked,
}

/// An accepted head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Head {
    pub(super) body: BodyFraming,
    /// CONNECT, or an HTTP/1.1 `Upgrade` field: hyper may turn the connection into a tunnel
    /// after this request (exactly hyper's `wants_upgrade`).
    pub(super) upgrade: bool,
}

/// The end of a head: the byte after a line end followed by an empty line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum HeadEnd {
    /// The head is `bytes[..end]`.
    At(usize),
    /// Not in the bytes yet; search again from this offset when more arrive.
    NotYet(usize),
}

/// Finds the first `\n` followed by `\r\n` or `\n`, searching from `from`. httparse accepts
/// CRLF and bare LF line ends, and a head always ends with such a pair, so the first one
/// after the request line's first byte is the end of the head (see `check`).
pub(super) fn find_end(bytes: &[u8], from: usize) -> HeadEnd {
    let mut at = from;
    while let Some(offset) = bytes
        .get(at..)
        .and_then(|rest| rest.iter().position(|&b| b == b'\n'))
    {
        let lf = at + offset;
        match (bytes.get(lf + 1), bytes.get(lf + 2)) {
            (Some(b'\n'), _) => return HeadEnd::At(lf + 2),
            (Some(b'\r'), Some(b'\n')) => return HeadEnd::At(lf + 3),
            (None, _) | (Some(b'\r'), None) => return HeadEnd::NotYet(lf),
            _ => at = lf + 1,
        }
    }
    HeadEnd::NotYet(bytes.len().max(from))
}

/// How many bytes of empty lines (`\r\n` or `\n`) `bytes` starts with. httparse and hyper skip
/// them before a request line.
pub(super) fn blank_lines(bytes: &[u8]) -> usize {
    let mut at = 0;
    loop {
        match (bytes.get(at), bytes.get(at + 1)) {
            (Some(b'\n'), _) => at += 1,
            (Some(b'\r'), Some(b'\n')) => at += 2,
            _ => return at,
        }
    }
}

/// Checks a complete head, `bytes`, which starts with the request line and ends at its
/// [`find_end`].
pub(super) fn check(bytes: &[u8]) -> Result<Head, Refusal> {
    let mut fields = [const { MaybeUninit::uninit() }; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut []);
    match request.parse_with_uninit_headers(bytes, &mut fields) {
        Ok(httparse::Status::Complete(_)) => {}
        Err(httparse::Error::TooManyHeaders) => return Err(Refusal::Oversized),
        // Partial cannot happen: `bytes` holds a whole head (see `find_end`); refuse anyway.
        Ok(httparse::Status::Partial) | Err(_) => return Err(Refusal::Malformed),
    }
    let http_11 = request.version == Some(1);
    let mut upgrade = request.method == Some("CONNECT");
    let mut length = None;
    let mut transfer_encoding = false;
    let mut chunked = false;
    for field in request.headers.iter() {
        if field.name.eq_ignore_ascii_case("content-length") {
            if length.is_some() {
                return Err(Refusal::RepeatedLength);
            }
            length = Some(parse_length(field.value)?);
        } else if field.name.eq_ignore_ascii_case("transfer-encoding") {
            transfer_encoding = true;
            for coding in field.value.split(|&b| b == b',') {
                let coding = coding.trim_ascii();
                // Nothing may follow `chunked`, not even a second `chunked`.
                if coding.is_empty() || chunked {
                    return Err(Refusal::InvalidTransferEncoding);
                }
                chunked = coding.eq_ignore_ascii_case(b"chunked");
            }
        } else if field.name.eq_ignore_ascii_case("upgrade") && http_11 {
            upgrade = true;
        }
    }
    let body = match (length, transfer_encoding) {
        (Some(_), true) => return Err(Refusal::LengthAndTransferEncoding),
        (None, true) if chunked && http_11 => BodyFraming::Chunked,
        (None, true) => return Err(Refusal::InvalidTransferEncoding),
        (Some(0) | None, false) => BodyFraming::Empty,
        (Some(length), false) => BodyFraming::Length(length),
    };
    Ok(Head { body, upgrade })
}

/// One Content-Length value: ASCII digits only, like hyper's `from_digits`; a comma means a
/// list, which is a repetition.
fn parse_length(value: &[u8]) -> Result<u64, Refusal> {
    if value.contains(&b',') {
        return Err(Refusal::RepeatedLength);
    }
    if value.is_empty() {
        return Err(Refusal::InvalidLength);
    }
    value.iter().try_fold(0u64, |length, &byte| {
        if !byte.is_ascii_digit() {
            return Err(Refusal::InvalidLength);
        }
        length
            .checked_mul(10)
            .and_then(|length| length.checked_add(u64::from(byte - b'0')))
            .ok_or(Refusal::InvalidLength)
    })
}

/// After an upgrade request hyper either tunnels the connection (101, or 2xx to CONNECT) or
/// reads the next request; the guard cannot see which. It holds the next bytes until this
/// probe decides whether they start an HTTP/1 request line. They are checked as a request if
/// they do; if they cannot, they pass unchecked, because hyper would refuse them as a request
/// too. The probe accepts a superset of what httparse accepts in any of hyper's parser
/// configurations (repeated spaces, any version digit, any non-ASCII target bytes), so "not a
/// request line" here implies a parse error in hyper.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct RequestLineProbe {
    state: ProbeState,
    /// How many bytes from the start of the head have been examined.
    examined: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ProbeState {
    Blank,
    Method,
    MethodSpace,
    Target,
    TargetSpace,
    /// This many bytes of `HTTP/1.` matched.
    Version(usize),
    VersionDigit,
    LineEnd,
}

/// The probe's answer so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Probe {
    Undecided,
    RequestLine,
    NotHttp,
}

const VERSION_PREFIX: &[u8] = b"HTTP/1.";

impl RequestLineProbe {
    pub(super) fn new() -> Self {
        Self {
            state: ProbeState::Blank,
            examined: 0,
        }
    }

    /// Examines `bytes` (from the start of the head) past what earlier calls examined.
    pub(super) fn advance(&mut self, bytes: &[u8]) -> Probe {
        for &byte in bytes.get(self.examined..).unwrap_or_default() {
            self.examined += 1;
            self.state = match (self.state, byte) {
                (ProbeState::Blank, b'\r' | b'\n') => ProbeState::Blank,
                (ProbeState::Blank | ProbeState::Method, _) if is_token(byte) => ProbeState::Method,
                (ProbeState::Method | ProbeState::MethodSpace, b' ') => ProbeState::MethodSpace,
                (ProbeState::MethodSpace | ProbeState::Target, _) if is_target(byte) => {
                    ProbeState::Target
                }
                (ProbeState::Target | ProbeState::TargetSpace, b' ') => ProbeState::TargetSpace,
                (ProbeState::TargetSpace, b'H') => ProbeState::Version(1),
                (ProbeState::Version(matched), _) if VERSION_PREFIX.get(matched) == Some(&byte) => {
                    if matched + 1 == VERSION_PREFIX.len() {
                        ProbeState::VersionDigit
                    } else {
                        ProbeState::Version(matched + 1)
                    }
                }
                (ProbeState::VersionDigit, b'0'..=b'9') => ProbeState::LineEnd,
                (ProbeState::LineEnd, b'\r') => ProbeState::LineEnd,
                (ProbeState::LineEnd, b'\n') => return Probe::RequestLine,
                _ => return Probe::NotHttp,
            };
        }
        Probe::Undecided
    }
}

/// tchar of RFC 9110, as httparse's method and header name tokens.
fn is_token(byte: u8) -> bool {
    matches!(byte,
        b'!' | b'#'..=b'\'' | b'*' | b'+' | b'-' | b'.' | b'0'..=b'9' | b'A'..=b'Z'
        | b'^' | b'_' | b'`' | b'a'..=b'z' | b'|' | b'~')
}

/// A byte httparse may accept in a request target.
fn is_target(byte: u8) -> bool {
    matches!(byte, b'!'..=b'~' | 0x80..=0xff)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(bytes: &[u8]) -> Result<Head, Refusal> {
        let HeadEnd::At(end) = find_end(bytes, 0) else {
            panic!("incomplete head {:?}", String::from_utf8_lossy(bytes));
        };
        check(&bytes[..end])
    }

    fn body(bytes: &[u8]) -> BodyFraming {
        head(bytes).unwrap_or_else(|e| panic!("{e:?}")).body
    }

    #[test]
    fn the_end_is_the_first_empty_line_with_crlf_or_bare_lf() {
        assert_eq!(
            find_end(b"GET / HTTP/1.1\r\nA: b\r\n\r\nrest", 0),
            HeadEnd::At(24)
        );
        assert_eq!(
            find_end(b"GET / HTTP/1.1\nA: b\n\nrest", 0),
            HeadEnd::At(21)
        );
        assert_eq!(find_end(b"GET / HTTP/1.1\nA: b\r\n\n", 0), HeadEnd::At(22));
        assert_eq!(
            find_end(b"GET / HTTP/1.1\r\nA: b\r\n\r", 0),
            HeadEnd::NotYet(21)
        );
        assert_eq!(find_end(b"GET / HTTP/1.1\r\nA: b", 0), HeadEnd::NotYet(20));
        assert_eq!(find_end(b"GET", 7), HeadEnd::NotYet(7));
    }

    #[test]
    fn blank_lines_are_whole_crlf_or_lf_lines() {
        assert_eq!(blank_lines(b"\r\n\n\r\nGET"), 5);
        assert_eq!(blank_lines(b"\r\n\r"), 2);
        assert_eq!(blank_lines(b"\rGET"), 0);
        assert_eq!(blank_lines(b""), 0);
    }

    #[test]
    fn bodies_are_framed_as_hyper_frames_them() {
        assert_eq!(
            body(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"),
            BodyFraming::Empty
        );
        assert_eq!(
            body(b"POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n"),
            BodyFraming::Empty
        );
        assert_eq!(
            body(b"POST / HTTP/1.1\r\ncontent-length: 012\r\n\r\n"),
            BodyFraming::Length(12)
        );
        assert_eq!(
            body(b"POST / HTTP/1.0\r\nContent-Length: 3\r\n\r\n"),
            BodyFraming::Length(3)
        );
        assert_eq!(
            body(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"),
            BodyFraming::Chunked
        );
        assert_eq!(
            body(b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: CHUNKED \r\n\r\n"),
            BodyFraming::Chunked
        );
        assert_eq!(
            body(b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip,\tchunked\r\n\r\n"),
            BodyFraming::Chunked
        );
    }

    #[test]
    fn upgrades_are_connect_and_http_11_upgrade_fields() {
        let upgrade = |bytes: &[u8]| head(bytes).map(|head| head.upgrade);
        assert_eq!(
            upgrade(b"CONNECT a:443 HTTP/1.1\r\nHost: a\r\n\r\n"),
            Ok(true)
        );
        assert_eq!(
            upgrade(b"GET / HTTP/1.1\r\nUpgrade: websocket\r\n\r\n"),
            Ok(true)
        );
        assert_eq!(
            upgrade(b"GET / HTTP/1.0\r\nUpgrade: websocket\r\n\r\n"),
            Ok(false)
        );
        assert_eq!(
            upgrade(b"GET / HTTP/1.1\r\nConnection: upgrade\r\n\r\n"),
            Ok(false)
        );
    }

    #[test]
    fn framing_smuggling_shapes_are_refused() {
        let cases: [(&[u8], Refusal); 19] = [
            (b"POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", Refusal::LengthAndTransferEncoding),
            (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n", Refusal::LengthAndTransferEncoding),
            (b"POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n", Refusal::RepeatedLength),
            (b"POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n", Refusal::RepeatedLength),
            (b"POST / HTTP/1.1\r\nContent-Length: 3, 3\r\n\r\n", Refusal::RepeatedLength),
            (b"POST / HTTP/1.1\r\nContent-Length: +3\r\n\r\n", Refusal::InvalidLength),
            (b"POST / HTTP/1.1\r\nContent-Length: 3a\r\n\r\n", Refusal::InvalidLength),
            (b"POST / HTTP/1.1\r\nContent-Length: 0x3\r\n\r\n", Refusal::InvalidLength),
            (b"POST / HTTP/1.1\r\nContent-Length:\r\n\r\n", Refusal::InvalidLength),
            (b"POST / HTTP/1.1\r\nContent-Length: 18446744073709551616\r\n\r\n", Refusal::InvalidLength),
            (b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", Refusal::InvalidTransferEncoding),
            (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", Refusal::InvalidTransferEncoding),
            (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", Refusal::InvalidTransferEncoding),
            (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", Refusal::InvalidTransferEncoding),
            (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked,\r\n\r\n", Refusal::InvalidTransferEncoding),
            (b"POST / HTTP/1.1\r\nTransfer-Encoding: \r\n\r\n", Refusal::InvalidTransferEncoding),
            (b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", Refusal::InvalidTransferEncoding),
            (b"GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n", Refusal::Malformed),
            (b"GET / HTTP/1.1\r\nHost: a\r\n: empty\r\n\r\n", Refusal::Malformed),
        ];
        for (bytes, refusal) in cases {
            assert_eq!(
                head(bytes),
                Err(refusal),
                "{:?}",
                String::from_utf8_lossy(bytes)
            );
        }
    }

    #[test]
    fn other_malformed_heads_are_refused() {
        let cases: [&[u8]; 6] = [
            b"GET / HTTP/1.1\r\n\tfolded: x\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost : a\r\n\r\n",
            b"GET / HTTP/1.1\r\nHo(st: a\r\n\r\n",
            b"GET / HTTP/2.0\r\n\r\n",
            b"GET\r\n\r\n",
            b"G(T / HTTP/1.1\r\n\r\n",
        ];
        for bytes in cases {
            assert_eq!(
                head(bytes),
                Err(Refusal::Malformed),
                "{:?}",
                String::from_utf8_lossy(bytes)
            );
        }
    }

    #[test]
    fn more_fields_than_hyper_takes_is_oversized() {
        let mut bytes = b"GET / HTTP/1.1\r\n".to_vec();
        for _ in 0..MAX_HEADERS {
            bytes.extend_from_slice(b"A: b\r\n");
        }
        let mut one_more = bytes.clone();
        bytes.extend_from_slice(b"\r\n");
        assert_eq!(body(&bytes), BodyFraming::Empty);
        one_more.extend_from_slice(b"A: b\r\n\r\n");
        assert_eq!(head(&one_more), Err(Refusal::Oversized));
    }

    fn probe(bytes: &[u8]) -> Probe {
        RequestLineProbe::new().advance(bytes)
    }

    #[test]
    fn the_probe_recognises_request_lines_byte_by_byte() {
        let line = b"\r\nGET  /path?q=\xc3\xa9  HTTP/1.1\r\nHost: a\r\n\r\n";
        assert_eq!(probe(line), Probe::RequestLine);
        let mut split = RequestLineProbe::new();
        for end in 0..line.len() {
            let answer = split.advance(&line[..=end]);
            if answer == Probe::RequestLine {
                assert_eq!(line[end], b'\n');
                return;
            }
            assert_eq!(answer, Probe::Undecided, "at {end}");
        }
        panic!("never decided");
    }

    #[test]
    fn the_probe_lets_tunnel_data_through_at_once() {
        assert_eq!(probe(b"\x16\x03\x01\x02\x00"), Probe::NotHttp); // TLS ClientHello
        assert_eq!(probe(b"\x81\x85\x37\xfa"), Probe::NotHttp); // WebSocket frame
        assert_eq!(probe(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), Probe::NotHttp);
        assert_eq!(probe(b"EHLO mail.example\r\n"), Probe::NotHttp);
        assert_eq!(probe(b"SSH-2.0-OpenSSH_9.6\r\n"), Probe::NotHttp);
        assert_eq!(probe(b"GET / HTTP/1.1"), Probe::Undecided);
    }
}
