//! DNS over TCP (RFC 7766): length-prefixed messages, pipelined, with a cap on connections
//! and timeouts on every phase, so no peer can hold descriptors or tasks without end.
//!
//! hickory-server's TCP listener accepts without limit, and on EMFILE it retries at once in
//! a busy loop; this one refuses connections past the cap and backs off when accept fails.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::handler::DnsHandler;

/// Connections served at once per listener; more are closed on accept (Knot's default
/// `tcp-max-clients` is of this order per worker).
pub const MAX_TCP_CONNECTIONS: usize = 512;

/// A connection that sends no new query for this long is closed (Knot: 10 s).
const IDLE_TIMEOUT: Duration = Duration::from_secs(10);

/// Reading one message once its length arrived, and writing one reply (Knot: 0.5 s).
const IO_TIMEOUT: Duration = Duration::from_secs(2);

/// How long accept waits after failing (out of descriptors, say) before trying again.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// How long open connections get to finish their current exchange at shutdown.
const DRAIN: Duration = Duration::from_secs(1);

/// Serves DNS over TCP on `listener` until `shutdown`.
pub async fn serve_tcp(
    listener: std::net::TcpListener,
    handler: DnsHandler,
    shutdown: CancellationToken,
) -> io::Result<()> {
    serve_tcp_limited(listener, handler, shutdown, MAX_TCP_CONNECTIONS).await
}

/// [`serve_tcp`] with another connection cap.
pub async fn serve_tcp_limited(
    listener: std::net::TcpListener,
    handler: DnsHandler,
    shutdown: CancellationToken,
    max_connections: usize,
) -> io::Result<()> {
    let listener = TcpListener::from_std(listener)?;
    let slots = Arc::new(Semaphore::new(max_connections));
    let connections = TaskTracker::new();
    loop {
        let (stream, peer) = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::warn!(%error, "tcp accept failed; backing off");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            // Full: closing now costs the peer one round trip and us nothing.
            tracing::debug!(%peer, "tcp connection refused: at the connection limit");
            continue;
        };
        let (handler, shutdown) = (handler.clone(), shutdown.clone());
        connections.spawn(async move {
            serve_connection(stream, peer, &handler, &shutdown).await;
            drop(slot);
        });
    }
    connections.close();
    let _ = tokio::time::timeout(DRAIN, connections.wait()).await;
    Ok(())
}

/// One connection: read a query, answer it, until the peer goes quiet or leaves.
async fn serve_connection(
    mut stream: TcpStream,
    peer: SocketAddr,
    handler: &DnsHandler,
    shutdown: &CancellationToken,
) {
    let _ = stream.set_nodelay(true);
    let mut query = Vec::with_capacity(512);
    let mut reply = Vec::with_capacity(512);
    loop {
        let mut length = [0u8; 2];
        let read_length = tokio::select! {
            () = shutdown.cancelled() => return,
            read = tokio::time::timeout(IDLE_TIMEOUT, stream.read_exact(&mut length)) => read,
        };
        if !matches!(read_length, Ok(Ok(_))) {
            return;
        }
        query.resize(usize::from(u16::from_be_bytes(length)), 0);
        if !matches!(
            tokio::time::timeout(IO_TIMEOUT, stream.read_exact(&mut query)).await,
            Ok(Ok(_))
        ) {
            return;
        }
        if !handler.respond_stream(&query, peer, &mut reply) {
            continue;
        }
        let Ok(reply_length) = u16::try_from(reply.len()) else {
            return;
        };
        let write = async {
            stream.write_all(&reply_length.to_be_bytes()).await?;
            stream.write_all(&reply).await
        };
        if !matches!(tokio::time::timeout(IO_TIMEOUT, write).await, Ok(Ok(()))) {
            return;
        }
    }
}
