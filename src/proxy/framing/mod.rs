//! Strict HTTP/1.1 request framing in front of hyper: [`FramingGuard`] refuses, with a 400,
//! the requests that a front and a back end could frame differently (request smuggling), as
//! HAProxy does.
//!
//! By itself hyper 1.12 refuses differing or invalid Content-Length values and lists, a
//! Transfer-Encoding whose last coding is not `chunked` or that comes with HTTP/1.0, obs-fold
//! and empty header names. It accepts Content-Length with Transfer-Encoding (dropping the
//! length, and closing after), repeated equal Content-Length fields and `chunked` named twice.
//! The guard refuses all of these itself, whatever hyper's version or parser settings.
//!
//! How: the proxy serves `TokioIo::new(FramingGuard::new(stream, max_head_bytes))`. The guard
//! follows the request stream's framing with the pure `scanner` and hands hyper only bytes it
//! has checked: whole heads, then their bodies as they come. A refused head is spoiled before
//! hyper sees it, so hyper's own parser fails on it and answers 400 (431 for an oversized
//! head, see `scanner`) in order, after the responses to the requests before it, then closes.
//! A broken chunked body ends the stream with an error at the bad byte. A connection that
//! starts with the HTTP/2 preface passes untouched. After an upgrade request the guard watches
//! the response head hyper writes: 101 makes the rest of the stream a tunnel, any other final
//! status means the next bytes are the next request, checked as such. Bytes that arrive
//! before the response is known pass as a tunnel only if they cannot start a request line
//! (see `head::RequestLineProbe`), and are held otherwise.
//!
//! The first request head must also be complete within the head timeout
//! ([`FramingGuard::with_head_timeout`]): a client that is too slow gets 408, then the close.
//!
//! The guard parses with httparse's strict defaults: configure hyper no more leniently than
//! that. Set hyper's `max_buf_size` to at most `max_head_bytes` so that oversized heads get
//! 431 rather than 400.

mod chunked;
mod head;
mod scanner;

#[cfg(test)]
mod scanner_tests;
#[cfg(test)]
mod tests;

use std::fmt;
use std::future::Future;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;

use scanner::{Scan, Scanner};

/// What a client that is too slow with its first request head gets, before the close.
const REQUEST_TIMEOUT: &[u8] =
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: 20\r\nconnection: close\r\n\r\n408 Request Timeout\n";

/// How hyper starts every HTTP/1.1 response head.
const STATUS_LINE_START: &[u8] = b"HTTP/1.1 ";

/// Free space offered to the socket for one read into the guard's own buffer.
const READ_CHUNK: usize = 8 * 1024;

/// An IO adapter that releases a client's request bytes to hyper only once their framing is
/// checked. Writes pass straight through.
pub struct FramingGuard<T> {
    io: T,
    scanner: Scanner,
    /// Bytes read but not yet handed to hyper are `held[start..filled]`, of which
    /// `held[start..checked]` are checked. The rest of `held` is initialized spare room.
    /// Usually empty: reads go straight into hyper's buffer and only an incomplete head (or
    /// what follows a head within the same read, beyond hyper's buffer) waits here.
    held: Vec<u8>,
    start: usize,
    checked: usize,
    filled: usize,
    /// The client ended its stream; unchecked held bytes (a partial head) are dropped.
    client_done: bool,
    /// The chunked framing broke after the checked bytes; reads fail from there on.
    broken: bool,
    /// When the first request head must be complete: past it, a client that has sent part
    /// of a head gets 408 and the connection ends. Cleared once the first head is done.
    first_head_deadline: Option<Pin<Box<Sleep>>>,
    /// Some bytes of the connection arrived.
    received: bool,
    /// The scanner's state changed outside a read (an upgrade was answered): held bytes
    /// must be scanned again.
    rescan: bool,
}

impl<T> FramingGuard<T> {
    /// Guards `io`, a client connection. A head longer than `max_head_bytes` never reaches
    /// hyper whole.
    pub fn new(io: T, max_head_bytes: usize) -> Self {
        Self::with_head_timeout(io, max_head_bytes, None)
    }

    /// [`Self::new`], and the connection's first request head must be complete within
    /// `head_timeout` of now, or the client gets `408 Request Timeout` and the connection
    /// ends. Only the first head: a later one may be pipelined behind a response hyper is
    /// still writing, where a 408 cannot be put in order; hyper's own header timeout closes
    /// those connections (without a response, as nginx does).
    pub fn with_head_timeout(io: T, max_head_bytes: usize, head_timeout: Option<Duration>) -> Self {
        Self {
            first_head_deadline: head_timeout.map(|timeout| Box::pin(tokio::time::sleep(timeout))),
            received: false,
            rescan: false,
            io,
            scanner: Scanner::new(max_head_bytes),
            held: Vec::new(),
            start: 0,
            checked: 0,
            filled: 0,
            client_done: false,
            broken: false,
        }
    }

    /// Copies checked held bytes into `dst`.
    fn hand_out(&mut self, dst: &mut ReadBuf<'_>) {
        let count = (self.checked - self.start).min(dst.remaining());
        dst.put_slice(&self.held[self.start..self.start + count]);
        self.start += count;
        if self.start == self.filled {
            self.start = 0;
            self.checked = 0;
            self.filled = 0;
        }
    }

    /// Holds unchecked `bytes`; only called when nothing is held.
    fn hold(&mut self, bytes: &[u8]) {
        if self.held.len() < bytes.len() {
            self.held.resize(bytes.len().max(READ_CHUNK), 0);
        }
        self.held[..bytes.len()].copy_from_slice(bytes);
        self.start = 0;
        self.checked = 0;
        self.filled = bytes.len();
    }

    /// Makes at least `READ_CHUNK` bytes of room after the held bytes.
    fn make_room(&mut self) {
        if self.held.len() - self.filled >= READ_CHUNK {
            return;
        }
        if self.start > 0 {
            self.held.copy_within(self.start..self.filled, 0);
            self.checked -= self.start;
            self.filled -= self.start;
            self.start = 0;
        }
        if self.held.len() - self.filled < READ_CHUNK {
            self.held.resize(self.filled + READ_CHUNK, 0);
        }
    }

    /// Learns from a response head being written whether a pending upgrade was accepted.
    fn watch_response(&mut self, written: &[u8]) {
        if !self.scanner.awaiting_upgrade() || written.len() < STATUS_LINE_START.len() + 3 {
            return;
        }
        if !written.starts_with(STATUS_LINE_START) {
            return;
        }
        let status = &written[STATUS_LINE_START.len()..STATUS_LINE_START.len() + 3];
        match status {
            b"101" => self.scanner.upgrade_answered(true),
            // Other interim responses (100 Continue) come before the real one.
            [b'1', _, _] => return,
            _ => self.scanner.upgrade_answered(false),
        }
        self.rescan = true;
    }

    fn note(&mut self, scan: &Scan) {
        if let Some(refusal) = scan.refusal {
            tracing::debug!(?refusal, "request refused for its framing");
        }
        if scan.broken {
            tracing::debug!("malformed chunked request body");
            self.broken = true;
        }
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin> AsyncRead for FramingGuard<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        dst: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            if let Some(deadline) = this.first_head_deadline.as_mut() {
                if this.scanner.first_head_done() {
                    this.first_head_deadline = None;
                } else if deadline.as_mut().poll(cx).is_ready() {
                    this.first_head_deadline = None;
                    if this.received {
                        // Best effort: a fresh connection's send buffer takes this at once;
                        // if not, the client gets the close without it.
                        let _ = Pin::new(&mut this.io).poll_write(cx, REQUEST_TIMEOUT);
                        tracing::debug!("request head not complete in time: 408");
                    }
                    // What hyper holds of the head is dropped with the connection.
                    this.client_done = true;
                    this.start = 0;
                    this.checked = 0;
                    this.filled = 0;
                    return Poll::Ready(Ok(()));
                }
            }
            if this.rescan {
                this.rescan = false;
                if this.filled > this.checked {
                    let scan = this.scanner.scan(&mut this.held[this.checked..this.filled]);
                    this.note(&scan);
                    this.checked += scan.checked;
                    if scan.broken {
                        this.filled = this.checked;
                    }
                }
            }
            if this.checked > this.start {
                this.hand_out(dst);
                return Poll::Ready(Ok(()));
            }
            if this.broken {
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "malformed chunked request body",
                )));
            }
            if this.client_done || dst.remaining() == 0 {
                return Poll::Ready(Ok(()));
            }
            if this.start == this.filled {
                // Nothing held: read straight into hyper's buffer, check the new bytes there
                // and take back the ones that cannot be checked yet.
                let before = dst.filled().len();
                ready!(Pin::new(&mut this.io).poll_read(cx, dst))?;
                let fresh = &mut dst.filled_mut()[before..];
                if fresh.is_empty() {
                    this.client_done = true;
                    continue;
                }
                this.received = true;
                let scan = this.scanner.scan(fresh);
                this.note(&scan);
                if !scan.broken {
                    this.hold(&fresh[scan.checked..]);
                }
                dst.set_filled(before + scan.checked);
                if scan.checked > 0 {
                    return Poll::Ready(Ok(()));
                }
            } else {
                this.make_room();
                let mut room = ReadBuf::new(&mut this.held[this.filled..]);
                ready!(Pin::new(&mut this.io).poll_read(cx, &mut room))?;
                let count = room.filled().len();
                if count == 0 {
                    this.client_done = true;
                    continue;
                }
                this.received = true;
                this.filled += count;
                let scan = this.scanner.scan(&mut this.held[this.checked..this.filled]);
                this.note(&scan);
                this.checked += scan.checked;
                if scan.broken {
                    this.filled = this.checked;
                }
            }
        }
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for FramingGuard<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bytes: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.watch_response(bytes);
        Pin::new(&mut this.io).poll_write(cx, bytes)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        slices: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if let Some(first) = slices.iter().find(|slice| !slice.is_empty()) {
            this.watch_response(first);
        }
        Pin::new(&mut this.io).poll_write_vectored(cx, slices)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

impl<T: fmt::Debug> fmt::Debug for FramingGuard<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FramingGuard")
            .field("io", &self.io)
            .field("scanner", &self.scanner)
            .field("held_bytes", &(self.filled - self.start))
            .field("checked_bytes", &(self.checked - self.start))
            .field("client_done", &self.client_done)
            .field("broken", &self.broken)
            .finish()
    }
}
