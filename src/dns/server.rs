//! DNS sockets: binding (SO_REUSEPORT UDP sockets plus TCP on one address), our lean UDP
//! loop, and hickory-server for TCP.
//!
//! hickory's `Server` funnels each UDP socket through one task and a channel; a blocking
//! `recv_from` -> answer -> `send_to` loop per socket on its own thread does the same work
//! with far less overhead, and the kernel spreads datagrams across the reuseport sockets.

use std::io;
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};
use tokio_util::sync::CancellationToken;

use super::handler::DnsHandler;

/// How often a blocked UDP loop wakes up to notice shutdown.
const UDP_WAKE: Duration = Duration::from_millis(200);

/// A TCP connection that sends no query for this long is closed (as Knot's default).
const TCP_IDLE_TIMEOUT: Duration = Duration::from_secs(10);

/// Largest UDP datagram we read; anything longer is not a DNS query.
const MAX_DATAGRAM: usize = 65_535;

/// Sockets for one DNS service address, bound and ready to serve.
#[derive(Debug)]
pub struct DnsSockets {
    pub udp: Vec<UdpSocket>,
    pub tcp: TcpListener,
}

impl DnsSockets {
    /// The address actually bound (port 0 resolved).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.tcp.local_addr()
    }
}

/// Binds `udp_count` reuseport UDP sockets and a TCP listener on one address. With port 0
/// the first UDP socket picks the port and the rest follow it.
pub fn bind(addr: SocketAddr, udp_count: usize) -> io::Result<DnsSockets> {
    // Port 0: the kernel's UDP port may be taken for TCP; retry a few fresh ports.
    let attempts = if addr.port() == 0 { 8 } else { 1 };
    let mut last_error = None;
    for _ in 0..attempts {
        match bind_once(addr, udp_count.max(1)) {
            Ok(sockets) => return Ok(sockets),
            Err(error) => last_error = Some(error),
        }
    }
    Err(last_error.unwrap_or_else(|| io::Error::other("no attempt made")))
}

fn bind_once(addr: SocketAddr, udp_count: usize) -> io::Result<DnsSockets> {
    let first = udp_socket(addr)?;
    let bound = first.local_addr()?;
    let mut udp = vec![first];
    for _ in 1..udp_count {
        udp.push(udp_socket(bound)?);
    }
    let tcp = tcp_listener(bound)?;
    Ok(DnsSockets { udp, tcp })
}

fn udp_socket(addr: SocketAddr) -> io::Result<UdpSocket> {
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.set_reuse_port(true)?;
    // Bursts queue in the kernel rather than being dropped.
    let _ = socket.set_recv_buffer_size(4 << 20);
    socket.bind(&addr.into())?;
    Ok(socket.into())
}

fn tcp_listener(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    socket.set_nonblocking(true)?;
    Ok(socket.into())
}

/// Serves one UDP socket on the calling thread until `shutdown`. Blocking by design: run it
/// on a dedicated thread.
pub fn serve_udp(
    socket: UdpSocket,
    handler: DnsHandler,
    shutdown: CancellationToken,
) -> io::Result<()> {
    socket.set_nonblocking(false)?;
    socket.set_read_timeout(Some(UDP_WAKE))?;
    let mut packet = vec![0u8; MAX_DATAGRAM];
    let mut reply = Vec::with_capacity(usize::from(super::answer::SERVER_PAYLOAD));
    while !shutdown.is_cancelled() {
        let (len, src) = match socket.recv_from(&mut packet) {
            Ok(received) => received,
            Err(error)
                if matches!(
                    error.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) =>
            {
                continue;
            }
            Err(error) => {
                // ICMP errors from earlier sends surface here (e.g. ECONNREFUSED): not fatal.
                tracing::debug!(%error, "udp receive error");
                continue;
            }
        };
        // Port 0 cannot be answered; a reply to it is only ever spoofed-source reflection.
        if src.port() == 0 {
            continue;
        }
        if handler.respond_datagram(&packet[..len], src, &mut reply)
            && let Err(error) = socket.send_to(&reply, src)
        {
            tracing::debug!(%error, %src, "udp send error");
        }
    }
    Ok(())
}

/// Serves DNS over TCP with hickory-server until `shutdown`, then lets open connections end.
pub async fn serve_tcp(
    listener: TcpListener,
    handler: DnsHandler,
    shutdown: CancellationToken,
) -> io::Result<()> {
    let listener = tokio::net::TcpListener::from_std(listener)?;
    let mut server = hickory_server::Server::new(handler);
    server.register_listener(listener, TCP_IDLE_TIMEOUT, 32);
    let server_token = server.shutdown_token().clone();
    let done = server.block_until_done();
    tokio::pin!(done);
    tokio::select! {
        result = &mut done => return result.map_err(io::Error::other),
        () = shutdown.cancelled() => server_token.cancel(),
    }
    done.await.map_err(io::Error::other)
}
