//! Keep-alive connections to one backend, in one shard per proxy worker.
//!
//! A connection's driver runs on the runtime of the worker that opened it, so each worker
//! takes and returns connections in its own shard: its requests never wait on another
//! core's event loop. Threads that are not workers (tests on a shared runtime) share shard 0.
//!
//! Connections are taken most-recently-used first, so a quiet pool's older connections
//! age out instead of all staying barely warm. A connection idle for longer than the
//! upstream idle timeout is dropped when met: the timeout is set below the backends' own, so
//! the proxy closes an idle connection before the backend can close it under a request.

use std::cell::Cell;
use std::io;
use std::net::SocketAddr;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use super::body::UpstreamBody;

pub(crate) type Sender = http1::SendRequest<UpstreamBody>;

/// Idle connections kept per backend; more are closed when returned.
const MAX_IDLE: usize = 256;

#[derive(Debug)]
struct Idle {
    sender: Sender,
    since: Instant,
}

/// Shards per pool; workers beyond this share shards.
const SHARDS: usize = 16;

thread_local! {
    static WORKER: Cell<usize> = const { Cell::new(0) };
}

/// Marks the calling thread as proxy worker `index`.
pub(crate) fn set_worker(index: usize) {
    WORKER.with(|worker| worker.set(index % SHARDS));
}

#[derive(Debug, Default)]
pub(crate) struct Pool {
    shards: [Mutex<Vec<Idle>>; SHARDS],
}

impl Pool {
    /// The calling worker's shard.
    fn idle(&self) -> MutexGuard<'_, Vec<Idle>> {
        self.shard(WORKER.with(Cell::get))
    }

    fn shard(&self, index: usize) -> MutexGuard<'_, Vec<Idle>> {
        self.shards[index]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// A pooled connection that is open and was idle for less than `max_idle`.
    pub(crate) fn take(&self, max_idle: Duration) -> Option<Sender> {
        let now = Instant::now();
        let mut idle = self.idle();
        while let Some(entry) = idle.pop() {
            if !entry.sender.is_closed() && now.duration_since(entry.since) < max_idle {
                return Some(entry.sender);
            }
        }
        None
    }

    /// Returns a connection whose last response body was read to the end.
    pub(crate) fn put(&self, sender: Sender) {
        if sender.is_closed() {
            return;
        }
        let mut idle = self.idle();
        if idle.len() < MAX_IDLE {
            idle.push(Idle {
                sender,
                since: Instant::now(),
            });
        }
    }

    /// Drops connections idle for `max_idle` or more, and closed ones.
    pub(crate) fn prune(&self, max_idle: Duration) {
        let now = Instant::now();
        self.idle().retain(|entry| {
            !entry.sender.is_closed() && now.duration_since(entry.since) < max_idle
        });
    }
}

/// A new HTTP/1.1 connection to `address`, its driver spawned. `upgrades` keeps the
/// connection usable as a tunnel after a 101 (never pooled then).
pub(crate) async fn connect(
    address: SocketAddr,
    timeout: Duration,
    upgrades: bool,
) -> io::Result<Sender> {
    let stream = tokio::time::timeout(timeout, TcpStream::connect(address))
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "connect timed out"))??;
    let _ = stream.set_nodelay(true);
    let (sender, connection) = http1::Builder::new()
        .handshake(TokioIo::new(stream))
        .await
        .map_err(io::Error::other)?;
    // The driver ends when the backend closes or the sender is dropped.
    if upgrades {
        tokio::spawn(async move {
            let _ = connection.with_upgrades().await;
        });
    } else {
        tokio::spawn(async move {
            let _ = connection.await;
        });
    }
    Ok(sender)
}
