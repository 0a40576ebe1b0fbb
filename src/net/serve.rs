//! The accept loop: admit or close each connection, run admitted ones as tracked tasks,
//! pause when accept fails, and drain at shutdown.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::backoff::{AcceptFailure, Backoff};
use super::limits::Limits;
use super::tally::{Source, Tally};

/// State shared by a listener and its connections.
#[derive(Debug)]
struct Shared {
    limits: Limits,
    tally: Mutex<Tally>,
    /// A copy of the tally's live count, written under its lock and read without it, so
    /// the per-message idle timeout never takes the lock.
    live: AtomicUsize,
}

impl Shared {
    /// The tally even if a panicking holder poisoned the lock: it is updated in single
    /// steps, so it is never left half-changed.
    fn tally(&self) -> MutexGuard<'_, Tally> {
        self.tally
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// One admitted connection's place in the tally, given back when the connection task ends
/// however it ends (returned, panicked, or cut at the end of the drain).
#[derive(Debug)]
struct Admission {
    shared: Arc<Shared>,
    source: Source,
}

impl Drop for Admission {
    fn drop(&mut self) {
        let mut tally = self.shared.tally();
        tally.release(self.source);
        self.shared.live.store(tally.live(), Ordering::Relaxed);
    }
}

/// What a connection handler gets besides its stream: the idle timeout to use now, and
/// the listener's shutdown token. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Conn {
    shared: Arc<Shared>,
    shutdown: CancellationToken,
}

impl Conn {
    /// The idle timeout for a wait that starts now. Ask again before every wait: it is
    /// shorter while the listener is under pressure ([`Limits::under_pressure`]).
    pub fn idle_timeout(&self) -> Duration {
        self.shared
            .limits
            .idle_timeout_at(self.shared.live.load(Ordering::Relaxed))
    }

    /// Cancelled when the listener shuts down: stop at the next idle point.
    pub fn shutdown(&self) -> &CancellationToken {
        &self.shutdown
    }

    /// Waits for `next` (the start of the next request) at an idle point. `None` when the
    /// idle timeout passed first or shutdown began: the handler should close.
    pub async fn idle<F: Future>(&self, next: F) -> Option<F::Output> {
        tokio::select! {
            // At an idle point shutdown wins even over a request that has just arrived.
            biased;
            () = self.shutdown.cancelled() => None,
            output = tokio::time::timeout(self.idle_timeout(), next) => output.ok(),
        }
    }
}

/// Accepts connections on `listener` until `shutdown`, each served by `handle` in its own
/// task; returns once they are all gone.
///
/// A connection past [`Limits::max_connections`] or [`Limits::max_per_source`] is closed
/// at accept. `handle` must own its stream for the connection's whole life: the slot is
/// given back when its future ends. At shutdown the listener closes at once, connections
/// get [`Limits::drain_grace`] to reach an idle point and return, and those still running
/// then are dropped. Errors only when the listener itself is unusable.
pub async fn serve<F, Fut>(
    listener: TcpListener,
    limits: Limits,
    shutdown: CancellationToken,
    handle: F,
) -> io::Result<()>
where
    F: Fn(TcpStream, SocketAddr, Conn) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let shared = Arc::new(Shared {
        limits,
        tally: Mutex::new(Tally::default()),
        live: AtomicUsize::new(0),
    });
    let connections = TaskTracker::new();
    // Fired when the drain grace is over: whatever still runs is dropped.
    let cut = CancellationToken::new();
    let mut backoff = Backoff::new(limits.accept_backoff, limits.accept_backoff_max);
    let result = loop {
        let accepted = tokio::select! {
            () = shutdown.cancelled() => break Ok(()),
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => {
                backoff.succeeded();
                accepted
            }
            Err(error) => match AcceptFailure::of(&error) {
                AcceptFailure::Connection => continue,
                AcceptFailure::Listener => break Err(error),
                AcceptFailure::Resources => {
                    let pause = backoff.failed();
                    tracing::warn!(%error, ?pause, "accept failed; pausing");
                    tokio::select! {
                        () = shutdown.cancelled() => break Ok(()),
                        () = tokio::time::sleep(pause) => continue,
                    }
                }
            },
        };
        let Some(admission) = admit(&shared, peer) else {
            // Closing now costs the peer one round trip and us nothing.
            drop(stream);
            continue;
        };
        let conn = Conn {
            shared: shared.clone(),
            shutdown: shutdown.clone(),
        };
        let connection = handle(stream, peer, conn);
        let cut = cut.clone();
        connections.spawn(async move {
            tokio::select! {
                () = connection => {}
                () = cut.cancelled() => {}
            }
            drop(admission);
        });
    };
    // No new connections from here: the kernel refuses them rather than queueing them.
    drop(listener);
    connections.close();
    if tokio::time::timeout(limits.drain_grace, connections.wait())
        .await
        .is_err()
    {
        tracing::debug!(
            left = connections.len(),
            "connections still busy after the drain grace; cutting them"
        );
        cut.cancel();
        connections.wait().await;
    }
    result
}

/// Counts the connection from `peer`, or says (at debug level) why it is closed.
fn admit(shared: &Arc<Shared>, peer: SocketAddr) -> Option<Admission> {
    let source = Source::of(peer.ip());
    let mut tally = shared.tally();
    match tally.admit(source, &shared.limits) {
        Ok(()) => {
            shared.live.store(tally.live(), Ordering::Relaxed);
            Some(Admission {
                shared: shared.clone(),
                source,
            })
        }
        Err(refusal) => {
            drop(tally);
            tracing::debug!(%peer, ?refusal, "connection closed at accept");
            None
        }
    }
}
