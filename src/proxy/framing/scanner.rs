//! The request stream's framing, followed without I/O: which bytes are checked and may go to
//! hyper, and which heads to spoil so that hyper refuses them.
//!
//! Invariants:
//! - Every request head hyper can parse was checked here first, whole; the scanner reports a
//!   byte as checked only once everything up to it is known good, or in a pass-through state.
//! - A refused head is spoiled in place, before any of it is released: the first byte of its
//!   request line becomes `(`, which httparse rejects as a method, so hyper answers 400 and
//!   closes, after the responses to the requests before it.
//! - A head longer than the limit (or with too many fields) is released as it comes, except
//!   the last byte of its last line, which becomes DEL. hyper answers 431 if its own buffer
//!   fills first, and 400 otherwise: its fast end-of-head check still sees the intact final
//!   empty line, re-parses, and fails on the DEL. It never sees such a head whole.
//! - The result does not depend on how the stream is cut into reads.
//! - No input panics, loops or allocates; the only state is a few counters.

use super::chunked::{ChunkedBody, ChunkedProgress};
use super::head::{self, BodyFraming, Head, HeadEnd, Probe, Refusal, RequestLineProbe};

/// The HTTP/2 prior-knowledge preface; a connection starting with it is hyper's h2 business.
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Replaces a refused head's first byte: httparse rejects it as the start of a method.
const METHOD_SPOILER: u8 = b'(';

/// Replaces the last byte of an oversized head's last line: httparse rejects DEL in a header
/// value, a version or a line end, which is all that byte can be.
const LINE_SPOILER: u8 = 0x7f;

/// Follows one connection's request stream.
#[derive(Debug)]
pub(super) struct Scanner {
    state: State,
    max_head_bytes: usize,
    /// A first head was complete (accepted or refused), or the connection left HTTP/1 heads.
    first_head_done: bool,
}

#[derive(Debug)]
enum State {
    /// The connection's first bytes: the HTTP/2 preface, or the first request.
    Start,
    /// A request head, searched for its end up to `searched`. After an upgrade request the
    /// `probe` first decides whether the bytes are a request at all.
    Head {
        searched: usize,
        probe: Option<RequestLineProbe>,
    },
    /// A head past the limit: released as it comes, keeping back what may become the last
    /// byte of its last line.
    Oversized { searched: usize },
    /// A Content-Length body.
    Length { remaining: u64, upgrade: bool },
    /// A chunked body.
    Chunked { body: ChunkedBody, upgrade: bool },
    /// Everything passes: HTTP/2, a tunnel, or a refused head (hyper is closing).
    PassThrough,
    /// The chunked framing broke: nothing more may reach hyper.
    Broken,
}

/// What one [`Scanner::scan`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Scan {
    /// How many leading bytes are checked and may go to hyper.
    pub(super) checked: usize,
    /// A head was refused (and spoiled) in these bytes.
    pub(super) refusal: Option<Refusal>,
    /// A chunked body broke right after the checked bytes; the connection must fail there.
    pub(super) broken: bool,
}

/// One state's progress over the unchecked bytes.
enum Step {
    /// These bytes are checked (possibly none, after a change of state).
    Checked(usize),
    /// Nothing more can be decided until more bytes arrive.
    Wait,
    /// A head was refused; everything from here on passes.
    Refused(Refusal),
    /// The chunked framing broke after these bytes.
    Broken(usize),
}

impl Scanner {
    pub(super) fn new(max_head_bytes: usize) -> Self {
        Self {
            state: State::Start,
            max_head_bytes,
            first_head_done: false,
        }
    }

    /// Whether an upgrade request was read and its response is not yet known: the bytes
    /// after it are a tunnel if the response is 101, the next request otherwise.
    pub(super) fn awaiting_upgrade(&self) -> bool {
        matches!(
            self.state,
            State::Head { probe: Some(_), .. }
                | State::Length { upgrade: true, .. }
                | State::Chunked { upgrade: true, .. }
        )
    }

    /// The response to the upgrade request: `switched` (101) makes the rest of the stream a
    /// tunnel; anything else means the next bytes are the next request, checked as such.
    pub(super) fn upgrade_answered(&mut self, switched: bool) {
        if switched {
            self.state = State::PassThrough;
            return;
        }
        match &mut self.state {
            State::Head { probe, .. } => *probe = None,
            State::Length { upgrade, .. } | State::Chunked { upgrade, .. } => *upgrade = false,
            _ => {}
        }
    }

    /// Whether the connection's first request head is behind it (or never comes: HTTP/2,
    /// a tunnel, a refused head, an oversized one).
    pub(super) fn first_head_done(&self) -> bool {
        self.first_head_done
    }

    /// Examines `bytes`, the stream's bytes after the last checked one (those held from
    /// earlier calls first, unchanged, then new ones). May spoil a refused head in place.
    pub(super) fn scan(&mut self, bytes: &mut [u8]) -> Scan {
        let mut at = 0;
        while at < bytes.len() {
            let step = self.step(&mut bytes[at..]);
            if !matches!(self.state, State::Start | State::Head { .. }) {
                self.first_head_done = true;
            }
            match step {
                Step::Checked(count) => at += count,
                Step::Wait => break,
                Step::Refused(refusal) => {
                    return Scan {
                        checked: bytes.len(),
                        refusal: Some(refusal),
                        broken: false,
                    };
                }
                Step::Broken(count) => {
                    return Scan {
                        checked: at + count,
                        refusal: None,
                        broken: true,
                    };
                }
            }
        }
        Scan {
            checked: at,
            refusal: None,
            broken: false,
        }
    }

    /// Progress over `rest`, which is not empty.
    fn step(&mut self, rest: &mut [u8]) -> Step {
        match &mut self.state {
            State::Start => {
                let prefix = rest.len().min(H2_PREFACE.len());
                if rest[..prefix] != H2_PREFACE[..prefix] {
                    self.state = next_head(false);
                } else if prefix == H2_PREFACE.len() {
                    self.state = State::PassThrough;
                } else {
                    return Step::Wait;
                }
                Step::Checked(0)
            }
            State::Head { searched, probe } => {
                // Empty lines before a request line are skipped by hyper too; releasing them
                // moves the head's start, so its search and probe start over.
                let blank = head::blank_lines(rest);
                if blank > 0 {
                    *searched = 0;
                    if probe.is_some() {
                        *probe = Some(RequestLineProbe::new());
                    }
                    return Step::Checked(blank);
                }
                if let Some(line) = probe {
                    // Decided on the first `max_head_bytes + 1` bytes only, as everything else,
                    // so that the outcome does not depend on how much has arrived.
                    let window = rest.len().min(self.max_head_bytes.saturating_add(1));
                    match line.advance(&rest[..window]) {
                        Probe::NotHttp => {
                            self.state = State::PassThrough;
                            return Step::Checked(0);
                        }
                        Probe::Undecided if window > self.max_head_bytes => {
                            self.state = State::Oversized { searched: 0 };
                            return Step::Checked(0);
                        }
                        Probe::Undecided => return Step::Wait,
                        Probe::RequestLine => *probe = None,
                    }
                }
                match head::find_end(rest, *searched) {
                    HeadEnd::At(end) if end > self.max_head_bytes => spoil_end(rest, end, self),
                    HeadEnd::At(end) => match head::check(&rest[..end]) {
                        Ok(head) => {
                            self.first_head_done = true;
                            self.state = after_head(head);
                            Step::Checked(end)
                        }
                        Err(Refusal::Oversized) => spoil_end(rest, end, self),
                        Err(refusal) => {
                            rest[0] = METHOD_SPOILER;
                            self.state = State::PassThrough;
                            Step::Refused(refusal)
                        }
                    },
                    HeadEnd::NotYet(resume) if rest.len() > self.max_head_bytes => {
                        self.state = State::Oversized { searched: resume };
                        Step::Checked(0)
                    }
                    HeadEnd::NotYet(resume) => {
                        *searched = resume;
                        Step::Wait
                    }
                }
            }
            State::Oversized { searched } => match head::find_end(rest, *searched) {
                HeadEnd::At(end) => spoil_end(rest, end, self),
                // Keep back the byte before a line end that may close the last line (or
                // before the next byte, which may be one).
                HeadEnd::NotYet(0 | 1) => Step::Wait,
                HeadEnd::NotYet(resume) => {
                    *searched = 1;
                    Step::Checked(resume - 1)
                }
            },
            State::Length { remaining, upgrade } => {
                let available = rest.len();
                let taken = usize::try_from(*remaining).map_or(available, |r| r.min(available));
                // `taken <= remaining`, so this cannot underflow.
                *remaining -= taken as u64;
                if *remaining == 0 {
                    self.state = next_head(*upgrade);
                }
                Step::Checked(taken)
            }
            State::Chunked { body, upgrade } => match body.advance(rest) {
                ChunkedProgress::More => Step::Checked(rest.len()),
                ChunkedProgress::Done(count) => {
                    self.state = next_head(*upgrade);
                    Step::Checked(count)
                }
                ChunkedProgress::Broken(count) => {
                    self.state = State::Broken;
                    Step::Broken(count)
                }
            },
            State::PassThrough => Step::Checked(rest.len()),
            State::Broken => Step::Broken(0),
        }
    }
}

/// Refuses an oversized head, `rest[..end]`, by spoiling the last byte of its last line.
fn spoil_end(rest: &mut [u8], end: usize, scanner: &mut Scanner) -> Step {
    // The head ends with `\n\n` or `\n\r\n`; the last line ends at that first `\n`.
    let line_end = if rest.get(end.wrapping_sub(2)) == Some(&b'\n') {
        end - 2
    } else {
        end.saturating_sub(3)
    };
    // `Oversized` holds that byte back, and the line is not empty (its end would have been
    // the head's end), so it is `line_end - 1`.
    if let Some(last) = rest.get_mut(line_end.saturating_sub(1)) {
        *last = LINE_SPOILER;
    }
    scanner.state = State::PassThrough;
    Step::Refused(Refusal::Oversized)
}

fn after_head(head: Head) -> State {
    match head.body {
        BodyFraming::Empty => next_head(head.upgrade),
        BodyFraming::Length(remaining) => State::Length {
            remaining,
            upgrade: head.upgrade,
        },
        BodyFraming::Chunked => State::Chunked {
            body: ChunkedBody::new(),
            upgrade: head.upgrade,
        },
    }
}

fn next_head(after_upgrade: bool) -> State {
    State::Head {
        searched: 0,
        probe: after_upgrade.then(RequestLineProbe::new),
    }
}
