//! The TCP sender: a few connections per thread, kept open for the whole run, each with
//! queries pipelined (2-byte length framing, RFC 7766) up to its share of the window.

use std::io::{self, ErrorKind, Read, Write};
use std::net::TcpStream;
use std::os::fd::AsRawFd;

use crate::query::Query;
use crate::run::{Clock, Pacer, RunConfig, record_reply};
use crate::stats::{Inflight, Stats};
use crate::sys;

const DRAIN_NS: u64 = 500_000_000;
const IDLE_NS: u64 = 1_000_000;
/// A server that keeps closing connections is a broken run, not something to retry forever.
const MAX_RECONNECTS: u64 = 1000;

#[derive(Debug)]
struct Conn {
    stream: TcpStream,
    /// Framed queries not yet written, from `written` on.
    out: Vec<u8>,
    written: usize,
    /// Bytes read and not yet parsed into whole messages.
    input: Vec<u8>,
    waiting: usize,
    window: usize,
}

impl Conn {
    fn open(config: &RunConfig, window: usize) -> io::Result<Self> {
        let stream = TcpStream::connect(config.server)?;
        stream.set_nodelay(true)?;
        stream.set_nonblocking(true)?;
        Ok(Self {
            stream,
            out: Vec::new(),
            written: 0,
            input: Vec::new(),
            waiting: 0,
            window,
        })
    }

    /// Writes what the socket takes; false when the server closed the connection.
    fn flush(&mut self) -> io::Result<bool> {
        while self.written < self.out.len() {
            match self.stream.write(&self.out[self.written..]) {
                Ok(0) => return Ok(false),
                Ok(n) => self.written += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if is_closed(&e) => return Ok(false),
                Err(e) => return Err(e),
            }
        }
        if self.written == self.out.len() {
            self.out.clear();
            self.written = 0;
        }
        Ok(true)
    }

    /// Reads what is there; false when the server closed the connection.
    fn fill(&mut self) -> io::Result<bool> {
        let mut chunk = [0u8; 16384];
        for _ in 0..8 {
            match self.stream.read(&mut chunk) {
                Ok(0) => return Ok(false),
                Ok(n) => self.input.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if is_closed(&e) => return Ok(false),
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }
}

fn is_closed(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        ErrorKind::ConnectionReset | ErrorKind::BrokenPipe | ErrorKind::ConnectionAborted
    )
}

pub(crate) fn run(config: &RunConfig, queries: &[Query]) -> io::Result<Stats> {
    let count = config.connections.max(1);
    // The window is split over the connections, each getting at least one query.
    let windows: Vec<usize> = (0..count)
        .map(|i| (config.window / count + usize::from(i < config.window % count)).max(1))
        .collect();
    let mut conns = windows
        .iter()
        .map(|&w| Conn::open(config, w))
        .collect::<io::Result<Vec<_>>>()?;

    let clock = Clock::start();
    let pacer = Pacer::new(config.rate);
    let mut inflight = Inflight::new(config.timeout_ns, config.id_offset);
    let mut stats = Stats::new();
    let mut next = config.first_query % queries.len();
    let mut drain_until = None;

    loop {
        let now = clock.now_ns();
        inflight.expire(now, |done| {
            stats.lost += 1;
            conns[done.conn].waiting = conns[done.conn].waiting.saturating_sub(1);
        });
        if drain_until.is_none() && now >= config.duration_ns {
            drain_until = Some(now + DRAIN_NS.min(config.timeout_ns));
        }
        if let Some(until) = drain_until
            && (inflight.len() == 0 || now >= until)
        {
            stats.lost += inflight.len() as u64;
            // The run lasted its duration, or until the last answer after it.
            stats.elapsed_ns = stats.last_answer_ns.clamp(config.duration_ns, now);
            return Ok(stats);
        }

        let mut progress = false;
        let mut due = if drain_until.is_none() {
            pacer.due(now, stats.sent)
        } else {
            0
        };
        for (index, conn) in conns.iter_mut().enumerate() {
            while due > 0 && conn.waiting < conn.window {
                let stamp = pacer.stamp(stats.sent, now);
                let Some(id) = inflight.start(next, index, stamp) else {
                    break;
                };
                let wire = &queries[next].wire;
                conn.out
                    .extend_from_slice(&(wire.len() as u16).to_be_bytes());
                let at = conn.out.len();
                conn.out.extend_from_slice(wire);
                conn.out[at..at + 2].copy_from_slice(&id.to_be_bytes());
                next = (next + 1) % queries.len();
                conn.waiting += 1;
                stats.sent += 1;
                due -= 1;
                progress = true;
            }
        }

        for index in 0..conns.len() {
            let conn = &mut conns[index];
            let open = conn.flush()? && conn.fill()?;
            let now = clock.now_ns();
            let mut used = 0;
            let mut answered_on = Vec::new();
            while let Some(len_bytes) = conn.input.get(used..used + 2) {
                let len = usize::from(u16::from_be_bytes([len_bytes[0], len_bytes[1]]));
                let Some(reply) = conn.input.get(used + 2..used + 2 + len) else {
                    break;
                };
                if let Some(on) =
                    record_reply(reply, queries, now, |id| inflight.finish(id), &mut stats)
                {
                    answered_on.push(on);
                }
                used += 2 + len;
                progress = true;
            }
            conn.input.drain(..used);
            // A reply frees the window of the connection its query went out on (always
            // this one, unless the server mixes up connections).
            for on in answered_on {
                conns[on].waiting = conns[on].waiting.saturating_sub(1);
            }
            if !open {
                // The server closed it (an idle or per-connection limit): what waited on it
                // is lost, and a new connection takes its place.
                stats.lost += inflight.fail_conn(index);
                stats.reconnects += 1;
                if stats.reconnects > MAX_RECONNECTS {
                    return Err(io::Error::other(
                        "the server closed connections more than 1000 times",
                    ));
                }
                let window = conns[index].window;
                conns[index] = Conn::open(config, window)?;
                progress = true;
            }
        }

        if !progress {
            let now = clock.now_ns();
            let wait = if drain_until.is_some() {
                IDLE_NS
            } else {
                pacer.wait_ns(now, stats.sent, IDLE_NS)
            };
            let fds: Vec<(i32, i16)> = conns
                .iter()
                .map(|c| {
                    let events = if c.written < c.out.len() {
                        libc::POLLIN | libc::POLLOUT
                    } else {
                        libc::POLLIN
                    };
                    (c.stream.as_raw_fd(), events)
                })
                .collect();
            if wait > 0 {
                sys::wait(&fds, wait)?;
            }
        }
    }
}
