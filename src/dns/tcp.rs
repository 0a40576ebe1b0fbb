//! DNS over TCP (RFC 7766): length-prefixed messages, pipelined, served through the shared
//! accept loop ([`crate::net::serve`]: caps, idle timeouts, back-off, drain).
//!
//! Reads are buffered so one `read` brings the length, the message and often the next
//! pipelined queries; replies are framed in one buffer and written with one `write`, and
//! the replies to queries already in the buffer go out together.

use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

use super::handler::DnsHandler;
use crate::net::{self, Conn, Limits};
use crate::telemetry::dns::{self as metrics, Transport};

/// Reading the rest of a message once its first byte arrived, and writing replies (Knot:
/// 0.5 s). Past this a peer is stalling on purpose.
const IO_TIMEOUT: Duration = Duration::from_secs(2);

/// Per-connection read buffer: a few typical queries, so pipelined ones arrive in one read,
/// without holding 64 KiB for each of hundreds of connections.
const READ_BUFFER: usize = 4096;

/// Replies held back for a batch are written once they reach this much.
const WRITE_BATCH: usize = 16 * 1024;

/// Serves DNS over TCP on `listener` with the default [`Limits`] until `shutdown`.
pub async fn serve_tcp(
    listener: std::net::TcpListener,
    handler: DnsHandler,
    shutdown: CancellationToken,
) -> io::Result<()> {
    serve_tcp_limited(listener, handler, shutdown, Limits::default()).await
}

/// [`serve_tcp`] with other limits.
pub async fn serve_tcp_limited(
    listener: std::net::TcpListener,
    handler: DnsHandler,
    shutdown: CancellationToken,
    limits: Limits,
) -> io::Result<()> {
    let listener = TcpListener::from_std(listener)?;
    net::serve(listener, limits, shutdown, move |stream, peer, conn| {
        let handler = handler.clone();
        async move { serve_connection(stream, peer, &handler, &conn).await }
    })
    .await
}

/// One connection: answer queries in order until the peer goes quiet or leaves, or
/// shutdown reaches an idle point.
async fn serve_connection(
    mut stream: TcpStream,
    peer: SocketAddr,
    handler: &DnsHandler,
    conn: &Conn,
) {
    let _ = stream.set_nodelay(true);
    let (reader, mut writer) = stream.split();
    let mut reader = BufReader::with_capacity(READ_BUFFER, reader);
    let mut query = Vec::with_capacity(512);
    let mut reply = Vec::with_capacity(512);
    // Framed replies not yet written. Empty whenever the loop may wait for the peer, so a
    // peer never waits for a reply we hold.
    let mut framed = Vec::with_capacity(514);
    // How many replies `framed` holds, and when the first of their queries was read.
    let mut held = 0;
    let mut first_read_at = Instant::now();
    loop {
        if reader.buffer().is_empty() {
            // The idle point: nothing received and nothing owed.
            match conn.idle(reader.fill_buf()).await {
                Some(Ok(received)) if !received.is_empty() => {}
                _ => return,
            }
        }
        if !matches!(
            tokio::time::timeout(IO_TIMEOUT, read_message(&mut reader, &mut query)).await,
            Ok(Ok(()))
        ) {
            return;
        }
        if framed.is_empty() {
            first_read_at = Instant::now();
        }
        if handler.respond_stream(&query, peer, &mut reply).is_some() {
            held += 1;
            let Ok(length) = u16::try_from(reply.len()) else {
                return;
            };
            framed.extend_from_slice(&length.to_be_bytes());
            framed.extend_from_slice(&reply);
        }
        // Answer the next query first if it is already here whole: its reply joins this
        // write.
        if holds_message(reader.buffer()) && framed.len() < WRITE_BATCH {
            continue;
        }
        if !framed.is_empty() {
            if !matches!(
                tokio::time::timeout(IO_TIMEOUT, writer.write_all(&framed)).await,
                Ok(Ok(()))
            ) {
                return;
            }
            metrics::time(Transport::Tcp, held, first_read_at.elapsed());
            framed.clear();
            held = 0;
        }
    }
}

/// Reads one length-prefixed message into `message`.
async fn read_message<R: AsyncRead + Unpin>(
    reader: &mut R,
    message: &mut Vec<u8>,
) -> io::Result<()> {
    let length = reader.read_u16().await?;
    message.resize(usize::from(length), 0);
    reader.read_exact(message).await?;
    Ok(())
}

/// Whether `buffered` starts with a whole length-prefixed message.
fn holds_message(buffered: &[u8]) -> bool {
    match buffered {
        [high, low, rest @ ..] => rest.len() >= usize::from(u16::from_be_bytes([*high, *low])),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_whole_message_is_recognised_only_when_all_of_it_is_buffered() {
        assert!(!holds_message(&[]));
        assert!(!holds_message(&[0]));
        assert!(holds_message(&[0, 0]), "an empty message is whole");
        assert!(!holds_message(&[0, 3, 1, 2]));
        assert!(holds_message(&[0, 3, 1, 2, 3]));
        assert!(
            holds_message(&[0, 1, 9, 0, 5]),
            "followed by the next one's start"
        );
    }
}
