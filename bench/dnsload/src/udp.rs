//! The UDP sender: one connected socket per thread, queries out in sendmmsg batches while
//! the window has room (and the pacer says they are due), answers in recvmmsg batches.

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;

use crate::query::Query;
use crate::run::{Clock, Pacer, RunConfig, record_reply};
use crate::stats::{Inflight, Stats};
use crate::sys::{self, BATCH, RecvBatch};

/// How long to wait for the answers still in flight once the run's time is up.
const DRAIN_NS: u64 = 500_000_000;
/// Longest sleep while waiting, so timeouts are checked often enough.
const IDLE_NS: u64 = 1_000_000;

pub(crate) fn run(config: &RunConfig, queries: &[Query]) -> io::Result<Stats> {
    let local: SocketAddr = match config.server {
        SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let socket = UdpSocket::bind(local)?;
    socket.connect(config.server)?;
    socket.set_nonblocking(true)?;
    let fd = socket.as_raw_fd();
    sys::set_buffers(fd, 4 << 20);

    let clock = Clock::start();
    let pacer = Pacer::new(config.rate);
    let mut inflight = Inflight::new(config.timeout_ns, config.id_offset);
    let mut stats = Stats::new();
    let mut batch = RecvBatch::new();
    let mut out: Vec<Vec<u8>> = vec![Vec::new(); BATCH];
    let mut ids = [0u16; BATCH];
    let mut next = config.first_query % queries.len();
    let mut drain_until = None;

    loop {
        let now = clock.now_ns();
        inflight.expire(now, |_| stats.lost += 1);
        if drain_until.is_none() && now >= config.duration_ns {
            drain_until = Some(now + DRAIN_NS.min(config.timeout_ns));
        }
        if let Some(until) = drain_until
            && (inflight.len() == 0 || now >= until)
        {
            // What still waits at the end is lost, as dnsperf counts it.
            stats.lost += inflight.len() as u64;
            // The run lasted its duration, or until the last answer after it.
            stats.elapsed_ns = stats.last_answer_ns.clamp(config.duration_ns, now);
            return Ok(stats);
        }

        let mut sent_now = 0;
        if drain_until.is_none() {
            let room = config.window.saturating_sub(inflight.len()) as u64;
            let count = room.min(pacer.due(now, stats.sent)).min(BATCH as u64) as usize;
            for (i, id_slot) in ids.iter_mut().enumerate().take(count) {
                let stamp = pacer.stamp(stats.sent + i as u64, now);
                let Some(id) = inflight.start(next, 0, stamp) else {
                    break;
                };
                *id_slot = id;
                out[i].clear();
                out[i].extend_from_slice(&queries[next].wire);
                out[i][..2].copy_from_slice(&id.to_be_bytes());
                next = (next + 1) % queries.len();
                sent_now += 1;
            }
            let messages: Vec<&[u8]> = out[..sent_now].iter().map(Vec::as_slice).collect();
            let went = sys::send_batch(fd, &messages)?;
            // Whatever the kernel did not take was never sent: give its IDs back and send
            // the same queries again next time.
            for &id in &ids[went..sent_now] {
                inflight.finish(id);
            }
            if went < sent_now {
                next = (next + queries.len() - (sent_now - went) % queries.len()) % queries.len();
            }
            stats.sent += went as u64;
            sent_now = went;
        }

        let mut received = 0;
        for _ in 0..4 {
            let got = batch.receive(fd)?;
            let now = clock.now_ns();
            for i in 0..got {
                record_reply(
                    batch.message(i),
                    queries,
                    now,
                    |id| inflight.finish(id),
                    &mut stats,
                );
            }
            received += got;
            if got < BATCH {
                break;
            }
        }

        if sent_now == 0 && received == 0 {
            let now = clock.now_ns();
            let window_full = inflight.len() >= config.window;
            let wait = if drain_until.is_some() || window_full {
                IDLE_NS
            } else {
                pacer.wait_ns(now, stats.sent, IDLE_NS)
            };
            if wait > 0 {
                sys::wait(&[(fd, libc::POLLIN)], wait)?;
            }
        }
    }
}
