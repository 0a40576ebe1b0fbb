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
//! starts with the HTTP/2 preface passes untouched. After an upgrade request (which hyper may
//! decline, then read the next request) the next bytes are checked if they start a request
//! line and pass untouched, as a tunnel, if they cannot (see `head::RequestLineProbe`).
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
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use scanner::{Scan, Scanner};

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
}

impl<T> FramingGuard<T> {
    /// Guards `io`, a client connection. A head longer than `max_head_bytes` never reaches
    /// hyper whole.
    pub fn new(io: T, max_head_bytes: usize) -> Self {
        Self {
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

impl<T: AsyncRead + Unpin> AsyncRead for FramingGuard<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        dst: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
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
        Pin::new(&mut self.get_mut().io).poll_write(cx, bytes)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        slices: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, slices)
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
