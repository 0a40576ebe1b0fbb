//! A chunked request body, followed byte by byte with hyper 1.12's own grammar, so that the
//! guard and hyper agree on the byte where the body ends and the next request head begins.
//!
//! The grammar mirrors `hyper::proto::h1::decode::ChunkedState`: hex size digits (at least
//! one, no overflow of `u64`), optional SP/HTAB, an optional `;extension` without a bare LF,
//! CRLF, the data, CRLF; after the zero-size chunk either CRLF or trailer lines ending in CRLF
//! and a final CRLF. hyper's limits on extension and trailer sizes are not repeated here: past
//! them hyper stops reading the connection itself, so no byte after them is parsed by anyone.

/// Where in the chunked grammar the next byte falls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// The first hex digit of a chunk size.
    Start,
    /// More hex digits, or what may follow them.
    Size,
    /// Whitespace after the size.
    SizeSpace,
    /// A chunk extension, ignored up to its CR.
    Extension,
    /// The LF closing the size line.
    SizeLf,
    /// Chunk data, `remaining` bytes of it.
    Data,
    /// The CR after chunk data.
    DataCr,
    /// The LF after chunk data.
    DataLf,
    /// After the last chunk: CR of the final empty line, or a trailer's first byte.
    EndCr,
    /// Inside a trailer line.
    Trailer,
    /// The LF closing a trailer line.
    TrailerLf,
    /// The LF of the final empty line.
    EndLf,
}

/// Progress through one chunked body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ChunkedBody {
    step: Step,
    /// The chunk size being read, then the data bytes left in the chunk.
    remaining: u64,
}

/// What one call to [`ChunkedBody::advance`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ChunkedProgress {
    /// Every byte given belongs to the body, which goes on.
    More,
    /// The body ends after this many of the bytes given.
    Done(usize),
    /// The byte at this offset breaks the chunked framing.
    Broken(usize),
}

impl ChunkedBody {
    pub(super) fn new() -> Self {
        Self {
            step: Step::Start,
            remaining: 0,
        }
    }

    /// Follows the body through `bytes`, which continue where the previous call stopped.
    pub(super) fn advance(&mut self, bytes: &[u8]) -> ChunkedProgress {
        let mut at = 0;
        while at < bytes.len() {
            if self.step == Step::Data {
                let available = bytes.len() - at;
                let taken = usize::try_from(self.remaining).map_or(available, |r| r.min(available));
                at += taken;
                // `taken <= remaining`, so this cannot underflow.
                self.remaining -= taken as u64;
                if self.remaining == 0 {
                    self.step = Step::DataCr;
                }
                continue;
            }
            let Some(next) = self.next_step(bytes[at]) else {
                return ChunkedProgress::Broken(at);
            };
            at += 1;
            match next {
                Some(step) => self.step = step,
                None => return ChunkedProgress::Done(at),
            }
        }
        ChunkedProgress::More
    }

    /// The step after `byte` (`Some(None)` when the body is complete), or `None` when the
    /// byte breaks the framing.
    fn next_step(&mut self, byte: u8) -> Option<Option<Step>> {
        let next = match (self.step, byte) {
            (Step::Start | Step::Size, _) if byte.is_ascii_hexdigit() => {
                let digit = u64::from(char::from(byte).to_digit(16)?);
                self.remaining = self.remaining.checked_mul(16)?.checked_add(digit)?;
                Step::Size
            }
            (Step::Size | Step::SizeSpace, b' ' | b'\t') => Step::SizeSpace,
            (Step::Size | Step::SizeSpace, b';') => Step::Extension,
            (Step::Size | Step::SizeSpace | Step::Extension, b'\r') => Step::SizeLf,
            (Step::Extension, b'\n') => return None,
            (Step::Extension, _) => Step::Extension,
            (Step::SizeLf, b'\n') if self.remaining == 0 => Step::EndCr,
            (Step::SizeLf, b'\n') => Step::Data,
            (Step::DataCr, b'\r') => Step::DataLf,
            (Step::DataLf, b'\n') => Step::Start,
            (Step::EndCr, b'\r') => Step::EndLf,
            (Step::Trailer, b'\r') => Step::TrailerLf,
            (Step::EndCr | Step::Trailer, _) => Step::Trailer,
            (Step::TrailerLf, b'\n') => Step::EndCr,
            (Step::EndLf, b'\n') => return Some(None),
            _ => return None,
        };
        Some(Some(next))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn whole(bytes: &[u8]) -> ChunkedProgress {
        ChunkedBody::new().advance(bytes)
    }

    #[test]
    fn a_body_ends_after_its_last_chunk_and_final_crlf() {
        let body = b"5\r\nhello\r\n0\r\n\r\nGET";
        assert_eq!(whole(body), ChunkedProgress::Done(body.len() - 3));
    }

    #[test]
    fn sizes_take_hex_digits_whitespace_and_extensions() {
        let body = b"A ;name=value;x\r\n0123456789\r\n00 \t\r\n\r\n";
        assert_eq!(whole(body), ChunkedProgress::Done(body.len()));
    }

    #[test]
    fn trailers_end_at_the_empty_line() {
        let body = b"1\r\nx\r\n0\r\nExpires: never\r\nX-Sum: 1\r\n\r\nnext";
        assert_eq!(whole(body), ChunkedProgress::Done(body.len() - 4));
    }

    #[test]
    fn a_body_split_anywhere_ends_at_the_same_byte() {
        let body = b"3;a\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\nT: v\r\n\r\n";
        for split in 0..=body.len() {
            let mut chunked = ChunkedBody::new();
            let first = chunked.advance(&body[..split]);
            let second = chunked.advance(&body[split..]);
            if split == body.len() {
                assert_eq!(first, ChunkedProgress::Done(body.len()));
            } else {
                assert_eq!(first, ChunkedProgress::More, "split at {split}");
                assert_eq!(second, ChunkedProgress::Done(body.len() - split));
            }
        }
    }

    #[test]
    fn broken_framing_is_reported_at_the_offending_byte() {
        let cases: [(&[u8], usize); 10] = [
            (b"\r\n", 0),                   // no size digit
            (b"g\r\n", 0),                  // not hex
            (b"5 5\r\n", 2),                // digits after whitespace
            (b"5\n", 1),                    // bare LF after the size
            (b"5;ext\nhello", 5),           // bare LF in an extension
            (b"5\r\nhelloX", 8),            // data longer than its size
            (b"5\r\nhello\rX", 9),          // CR without LF after data
            (b"0\r\nTrailer: x\rX", 14),    // CR without LF in a trailer
            (b"0\r\n\rX", 4),               // CR without LF at the end
            (b"10000000000000000\r\n", 16), // size overflows u64
        ];
        for (body, offset) in cases {
            assert_eq!(
                whole(body),
                ChunkedProgress::Broken(offset),
                "{:?}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn the_largest_size_is_data_not_an_overflow() {
        let mut chunked = ChunkedBody::new();
        assert_eq!(
            chunked.advance(b"ffffffffffffffff\r\n"),
            ChunkedProgress::More
        );
        assert_eq!(chunked.advance(&[0; 4096]), ChunkedProgress::More);
        assert_eq!(chunked.remaining, u64::MAX - 4096);
    }
}
