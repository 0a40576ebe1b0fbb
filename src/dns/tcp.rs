//! DNS over TCP (RFC 7766): length-prefixed messages, pipelined, served through the shared
//! accept loop ([`crate::net::serve`]: caps, idle timeouts, back-off, drain).

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

use super::handler::DnsHandler;
use crate::net::{self, Conn, Limits};

/// Reading the rest of a message once its first byte arrived, and writing replies (Knot:
/// 0.5 s). Past this a peer is stalling on purpose.
const IO_TIMEOUT: Duration = Duration::from_secs(2);

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
    let mut query = Vec::with_capacity(512);
    let mut reply = Vec::with_capacity(512);
    loop {
        let mut length = [0u8; 2];
        if !matches!(conn.idle(stream.read_exact(&mut length)).await, Some(Ok(_))) {
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
