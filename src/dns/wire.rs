//! A light walk over a message hickory may refuse or we must not echo (where the first
//! question is, whether a question name is compressed, the OPT record and its COOKIE), and
//! the error reply (FORMERR, SERVFAIL) written from it by hand: header, the question if it
//! fits, the OPT with our cookie.

use std::ops::Range;

use super::answer::SERVER_PAYLOAD;
use super::cookie;

/// Longest name on the wire (RFC 1035 section 3.1).
const MAX_NAME: usize = 255;

/// The OPT record of a query, as far as an error reply needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Opt {
    /// The UDP payload the client advertised.
    pub(crate) payload: u16,
    pub(crate) dnssec_ok: bool,
    /// Where the data of the first COOKIE option is (start, end), when the options could be
    /// walked that far.
    pub(crate) cookie: Option<(usize, usize)>,
}

/// What could be read of a message's sections.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Scan {
    /// Question count from the header.
    pub(crate) questions: u16,
    /// The first question's bytes (name, type, class), when it could be read and its name is
    /// not compressed: the only form that may be echoed as it came.
    pub(crate) first_question: Option<Range<usize>>,
    /// A question name uses a compression pointer.
    pub(crate) compressed_question: bool,
    /// The OPT record, when the walk got as far as the additional section and found one.
    pub(crate) opt: Option<Opt>,
}

/// Walks one name from `at`: its end, and whether it ends in a compression pointer. `None`
/// for a name that runs off the packet, is too long or uses a reserved label type.
fn walk_name(packet: &[u8], mut at: usize) -> Option<(usize, bool)> {
    let start = at;
    loop {
        let len = *packet.get(at)?;
        match len & 0xc0 {
            0xc0 => {
                packet.get(at + 1)?;
                return Some((at + 2, true));
            }
            0x00 => {
                at += 1 + usize::from(len);
                if at - start > MAX_NAME {
                    return None;
                }
                if len == 0 {
                    return Some((at, false));
                }
            }
            _ => return None,
        }
    }
}

/// Reads what it can of `packet`'s sections; the header must be there (12 bytes).
pub(crate) fn scan(packet: &[u8]) -> Scan {
    let count = |at: usize| {
        packet
            .get(at..at + 2)
            .map_or(0, |b| u16::from_be_bytes([b[0], b[1]]))
    };
    let mut scan = Scan {
        questions: count(4),
        first_question: None,
        compressed_question: false,
        opt: None,
    };
    let mut at = 12;
    for index in 0..scan.questions {
        let Some((name_end, compressed)) = walk_name(packet, at) else {
            return scan;
        };
        if packet.len() < name_end + 4 {
            return scan;
        }
        scan.compressed_question |= compressed;
        if index == 0 && !compressed {
            scan.first_question = Some(at..name_end + 4);
        }
        at = name_end + 4;
    }
    let before_additional = u32::from(count(6)) + u32::from(count(8));
    let additional = count(10);
    for index in 0..before_additional + u32::from(additional) {
        let Some((name_end, _)) = walk_name(packet, at) else {
            return scan;
        };
        let Some(fixed) = packet.get(name_end..name_end + 10) else {
            return scan;
        };
        let rdata_len = usize::from(u16::from_be_bytes([fixed[8], fixed[9]]));
        let record_type = u16::from_be_bytes([fixed[0], fixed[1]]);
        if index >= before_additional && record_type == 41 && name_end == at + 1 {
            let rdata = name_end + 10;
            scan.opt = Some(Opt {
                payload: u16::from_be_bytes([fixed[2], fixed[3]]),
                dnssec_ok: fixed[6] & 0x80 != 0,
                cookie: find_option(packet, rdata..rdata + rdata_len, cookie::OPTION),
            });
            return scan;
        }
        at = name_end + 10 + rdata_len;
    }
    scan
}

/// The data (start, end) of the first option `code` in the OPT data at `options`, unless the
/// options run off it first.
fn find_option(packet: &[u8], options: Range<usize>, code: u16) -> Option<(usize, usize)> {
    let mut at = options.start;
    while at + 4 <= options.end {
        let head = packet.get(at..at + 4)?;
        let start = at + 4;
        let end = start + usize::from(u16::from_be_bytes([head[2], head[3]]));
        if end > options.end {
            return None;
        }
        if u16::from_be_bytes([head[0], head[1]]) == code {
            return Some((start, end));
        }
        at = end;
    }
    None
}

impl Scan {
    /// The data of the query's first COOKIE option.
    pub(crate) fn cookie<'a>(&self, packet: &'a [u8]) -> Option<&'a [u8]> {
        let (start, end) = self.opt?.cookie?;
        packet.get(start..end)
    }

    /// The largest reply this query may get: its advertised payload (at most ours, at least
    /// 512) over UDP, 64 KiB over TCP.
    pub(crate) fn limit(&self, stream: bool) -> usize {
        if stream {
            usize::from(u16::MAX)
        } else {
            usize::from(
                self.opt
                    .map_or(512, |opt| opt.payload.clamp(512, SERVER_PAYLOAD)),
            )
        }
    }
}

/// Writes an error reply to `packet` into `out` (cleared first): the ID, opcode and RD of the
/// query, QR, `rcode` (4 bits), the first question if it was readable and fits within
/// `limit`, and an OPT record (version 0, our payload, DO copied) if the query had one, with
/// `cookie` as its COOKIE option (RFC 7873 section 5.2: in every reply to a query that has
/// one, errors included).
/// Neither AA nor CD: this is not an answer (RFC 4035 section 3.1.6 for CD).
pub(crate) fn write_error(
    packet: &[u8],
    scan: &Scan,
    rcode: u8,
    limit: usize,
    cookie: Option<&[u8; cookie::REPLY_LEN]>,
    out: &mut Vec<u8>,
) {
    out.clear();
    let (id, flags) = match packet {
        [id_high, id_low, flags, ..] => ([*id_high, *id_low], *flags),
        _ => ([0, 0], 0),
    };
    let cookie = cookie.filter(|_| scan.opt.is_some());
    let options_len = cookie.map_or(0, |_| cookie::REPLY_OPTION_LEN);
    let opt_len = if scan.opt.is_some() {
        11 + options_len
    } else {
        0
    };
    let question = scan
        .first_question
        .clone()
        .filter(|range| 12 + range.len() + opt_len <= limit)
        .and_then(|range| packet.get(range));
    out.extend_from_slice(&id);
    // QR, the opcode, RD; then the response code.
    out.push(0x80 | (flags & 0x78) | (flags & 0x01));
    out.push(rcode & 0x0f);
    out.extend_from_slice(&[0, u8::from(question.is_some()), 0, 0, 0, 0, 0]);
    out.push(u8::from(scan.opt.is_some()));
    if let Some(question) = question {
        out.extend_from_slice(question);
    }
    if let Some(opt) = scan.opt {
        out.extend_from_slice(&[0, 0, 41]);
        out.extend_from_slice(&SERVER_PAYLOAD.to_be_bytes());
        // Extended RCODE 0, version 0, DO copied (RFC 3225 section 3).
        out.extend_from_slice(&[0, 0, if opt.dnssec_ok { 0x80 } else { 0 }, 0]);
        out.extend_from_slice(&(options_len as u16).to_be_bytes());
        if let Some(cookie) = cookie {
            cookie::write_option(cookie, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn question(name: &[u8]) -> Vec<u8> {
        [name, &[0, 1, 0, 1]].concat()
    }

    fn message(questions: u16, additional: u16, body: &[u8]) -> Vec<u8> {
        let mut packet = vec![0xab, 0xcd, 0x01, 0x00];
        packet.extend_from_slice(&questions.to_be_bytes());
        packet.extend_from_slice(&[0, 0, 0, 0]);
        packet.extend_from_slice(&additional.to_be_bytes());
        packet.extend_from_slice(body);
        packet
    }

    const WWW: &[u8] = b"\x03www\x03gtm\x04test\x00";
    const OPT: &[u8] = &[0, 0, 41, 0x10, 0, 0, 0, 0x80, 0, 0, 0];

    #[test]
    fn a_plain_question_and_its_opt_are_found() {
        let packet = message(1, 1, &[question(WWW), OPT.to_vec()].concat());
        let scan = scan(&packet);
        assert_eq!(scan.first_question, Some(12..12 + WWW.len() + 4));
        assert!(!scan.compressed_question);
        assert_eq!(
            scan.opt,
            Some(Opt {
                payload: 4096,
                dnssec_ok: true,
                cookie: None,
            })
        );
        assert_eq!(scan.limit(false), 1232);
    }

    #[test]
    fn a_compressed_question_is_flagged_and_not_echoed() {
        let packet = message(1, 0, &question(b"\xc0\x02"));
        let scan = scan(&packet);
        assert!(scan.compressed_question);
        assert_eq!(scan.first_question, None);
        let mut out = Vec::new();
        write_error(&packet, &scan, 1, 512, None, &mut out);
        assert_eq!(out, [0xab, 0xcd, 0x81, 0x01, 0, 0, 0, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn an_error_reply_keeps_the_question_only_if_it_fits() {
        let packet = message(1, 1, &[question(WWW), OPT.to_vec()].concat());
        let scan = scan(&packet);
        let mut out = Vec::new();
        write_error(&packet, &scan, 1, 512, None, &mut out);
        assert_eq!(out[4..12], [0, 1, 0, 0, 0, 0, 0, 1]);
        assert_eq!(&out[12..12 + WWW.len()], WWW);
        assert_eq!(out.len(), 12 + WWW.len() + 4 + 11);
        write_error(&packet, &scan, 1, 30, None, &mut out);
        assert_eq!(out[4..12], [0, 0, 0, 0, 0, 0, 0, 1]);
        assert_eq!(out.len(), 12 + 11);
    }

    #[test]
    fn the_cookie_option_is_found_and_an_error_reply_carries_ours() {
        // OPT with two options: NSID (empty), then COOKIE with a client cookie.
        let opt = [
            &[0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 16][..],
            &[0, 3, 0, 0],
            &[0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8],
        ]
        .concat();
        let packet = message(2, 1, &[question(WWW), question(WWW), opt].concat());
        let scan = scan(&packet);
        assert_eq!(scan.cookie(&packet), Some(&[1, 2, 3, 4, 5, 6, 7, 8][..]));
        let ours = [9u8; cookie::REPLY_LEN];
        let mut out = Vec::new();
        write_error(&packet, &scan, 1, 512, Some(&ours), &mut out);
        let opt_at = 12 + WWW.len() + 4;
        assert_eq!(out[opt_at..opt_at + 3], [0, 0, 41]);
        assert_eq!(out[opt_at + 9..opt_at + 11], [0, 28], "RDLEN");
        assert_eq!(out[opt_at + 11..opt_at + 15], [0, 10, 0, 24]);
        assert_eq!(out[opt_at + 15..], ours);
        // Options that run past the OPT data: no cookie is trusted.
        let mut cut = packet.clone();
        let rdlen_at = 12 + 2 * (WWW.len() + 4) + 9;
        cut[rdlen_at + 1] = 10;
        assert_eq!(scan_cookie(&cut), None);
        // Without OPT there is no cookie to send back.
        let plain = message(1, 0, &question(WWW));
        write_error(&plain, &super::scan(&plain), 1, 512, Some(&ours), &mut out);
        assert_eq!(out.len(), 12 + WWW.len() + 4);
    }

    fn scan_cookie(packet: &[u8]) -> Option<Vec<u8>> {
        scan(packet).cookie(packet).map(<[u8]>::to_vec)
    }

    #[test]
    fn broken_names_stop_the_walk_without_panicking() {
        for body in [
            &b"\x05ab"[..],
            b"\x40abc",
            b"\xc0",
            b"\x03www\x00\x00",
            &[0x3f; 300],
        ] {
            let scan = scan(&message(1, 1, body));
            assert_eq!(scan.first_question, None, "{body:?}");
            assert_eq!(scan.opt, None, "{body:?}");
        }
    }
}
