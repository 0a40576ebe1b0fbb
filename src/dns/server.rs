//! DNS sockets: binding (SO_REUSEPORT UDP sockets plus TCP on one address) and our lean UDP
//! loop; TCP is served by `tcp.rs`.
//!
//! hickory's `Server` funnels each UDP socket through one task and a channel; a blocking
//! `recvmmsg` -> answer each -> `sendmmsg` loop per socket on its own thread does the same
//! work with far less overhead, and the kernel spreads datagrams across the reuseport sockets.

use std::io::{self, IoSlice, IoSliceMut};
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::socket::{
    ControlMessage, MsgFlags, MultiHeaders, SockaddrIn, SockaddrIn6, SockaddrLike, recvmmsg,
    sendmmsg,
};

use socket2::{Domain, Protocol, Socket, Type};
use tokio_util::sync::CancellationToken;

use super::handler::DnsHandler;
use super::rrl::{self, ResponseLimiter, Verdict};
use crate::telemetry::dns::{self as metrics, Transport};

/// How often a blocked UDP loop wakes up to notice shutdown.
const UDP_WAKE: Duration = Duration::from_millis(200);

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
    omit_path_mtu(&socket, addr)?;
    socket.bind(&addr.into())?;
    Ok(socket.into())
}

/// No DF bit, and ICMP "fragmentation needed" ignored (Linux's `IP_PMTUDISC_OMIT`), as
/// gdnsd, Knot and BIND set their UDP sockets: path MTU discovery does nothing for a
/// one-datagram answer but keep state per client, and a forged ICMP message could lower
/// the MTU towards a resolver so our answers leave in fragments, which off-path attackers
/// splice records into. Answers stay at 1232 bytes at most (`SERVER_PAYLOAD`), which every
/// real path carries whole.
fn omit_path_mtu(socket: &Socket, addr: SocketAddr) -> io::Result<()> {
    use rustix::net::sockopt;
    if addr.is_ipv6() {
        sockopt::set_ipv6_mtu_discover(socket, sockopt::Ipv6PathMtuDiscovery::OMIT)?;
    } else {
        sockopt::set_ip_mtu_discover(socket, sockopt::Ipv4PathMtuDiscovery::OMIT)?;
    }
    Ok(())
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

/// Datagrams moved per system call: recvmmsg/sendmmsg amortise the kernel crossing, which
/// costs more than answering a query.
const BATCH: usize = 32;

/// Receive buffer per datagram. Queries are small; a larger one arrives cut and is refused
/// as malformed.
const MAX_QUERY: usize = 4096;

/// Serves one UDP socket on the calling thread until `shutdown`. Blocking by design: run it
/// on a dedicated thread. `limiter` is the node's one response-rate limiter, shared by all
/// its UDP sockets (`dns/rrl.rs`).
pub fn serve_udp(
    socket: UdpSocket,
    handler: DnsHandler,
    limiter: Arc<ResponseLimiter>,
    shutdown: CancellationToken,
) -> io::Result<()> {
    socket.set_nonblocking(false)?;
    socket.set_read_timeout(Some(UDP_WAKE))?;
    // A socket hears only its own family: addresses are kept at their own size (16 or 28
    // bytes, not a 128-byte sockaddr_storage), since each is copied a few times per query.
    match socket.local_addr()? {
        SocketAddr::V4(_) => serve::<SockaddrIn>(&socket, &handler, &limiter, &shutdown),
        SocketAddr::V6(_) => serve::<SockaddrIn6>(&socket, &handler, &limiter, &shutdown),
    }
}

/// A peer address of one family, as recvmmsg gives it and sendmmsg takes it.
trait Peer: SockaddrLike + Copy {
    fn socket_addr(&self) -> SocketAddr;
}

impl Peer for SockaddrIn {
    fn socket_addr(&self) -> SocketAddr {
        SocketAddr::V4((*self).into())
    }
}

impl Peer for SockaddrIn6 {
    fn socket_addr(&self) -> SocketAddr {
        SocketAddr::V6((*self).into())
    }
}

fn serve<S: Peer>(
    socket: &UdpSocket,
    handler: &DnsHandler,
    limiter: &ResponseLimiter,
    shutdown: &CancellationToken,
) -> io::Result<()> {
    let fd = socket.as_raw_fd();
    let mut packets = vec![[0u8; MAX_QUERY]; BATCH];
    let mut replies: Vec<Vec<u8>> = (0..BATCH)
        .map(|_| Vec::with_capacity(usize::from(super::answer::SERVER_PAYLOAD)))
        .collect();
    let mut destinations: Vec<Option<S>> = Vec::with_capacity(BATCH);
    let mut receive = MultiHeaders::<S>::preallocate(BATCH, None);
    let mut send = MultiHeaders::<S>::preallocate(BATCH, None);
    // This thread's count of limited answers: every `slip`th of them is slipped.
    let mut limited: u64 = 0;
    while !shutdown.is_cancelled() {
        let read_at;
        let (mut dropped, mut slipped) = (0u64, 0u64);
        destinations.clear();
        {
            let mut slices: Vec<[IoSliceMut<'_>; 1]> = packets
                .iter_mut()
                .map(|packet| [IoSliceMut::new(packet)])
                .collect();
            // Blocks for the first datagram (up to UDP_WAKE), then takes what is queued.
            let received = match recvmmsg(
                fd,
                &mut receive,
                slices.iter_mut(),
                MsgFlags::MSG_WAITFORONE,
                None,
            ) {
                Ok(received) => {
                    read_at = Instant::now();
                    received
                }
                Err(Errno::EAGAIN | Errno::EINTR) => continue,
                Err(error) => {
                    // ICMP errors from earlier sends surface here (e.g. ECONNREFUSED): not fatal.
                    tracing::debug!(%error, "udp receive error");
                    continue;
                }
            };
            // View, settings and clock once per batch: a reload applies from the next batch on.
            let view = handler.view();
            let limits = &view.config.response_rate_limit;
            let now = limiter.micros(read_at);
            for message in received {
                let (Some(address), Some(packet)) = (message.address, message.iovs().next()) else {
                    continue;
                };
                let source = address.socket_addr();
                // Port 0 cannot be answered; a reply to it is only ever spoofed-source reflection.
                if source.port() == 0 {
                    continue;
                }
                let reply = &mut replies[destinations.len()];
                let Some(answered) = DnsHandler::respond_datagram_in(&view, packet, source, reply)
                else {
                    continue;
                };
                // A valid server cookie proves the source address is real: such a client
                // is never limited (as Knot and BIND do), however busy it is.
                let verdict = if answered.proven {
                    Verdict::Send
                } else {
                    limiter.judge(limits, source, reply, now, &mut limited)
                };
                match verdict {
                    Verdict::Send => {}
                    Verdict::Slip if rrl::write_slip(reply) => slipped += 1,
                    Verdict::Slip | Verdict::Drop => {
                        dropped += 1;
                        continue;
                    }
                }
                destinations.push(Some(address));
            }
        }
        send_all(fd, &mut send, &replies[..destinations.len()], &destinations);
        metrics::time(Transport::Udp, destinations.len() as u64, read_at.elapsed());
        crate::telemetry::rate_limit::count(dropped, slipped);
    }
    Ok(())
}

/// Sends every reply, in as few sendmmsg calls as the kernel allows.
fn send_all<S: Peer>(
    fd: std::os::fd::RawFd,
    headers: &mut MultiHeaders<S>,
    replies: &[Vec<u8>],
    destinations: &[Option<S>],
) {
    let mut sent = 0;
    while sent < replies.len() {
        let slices: Vec<[IoSlice<'_>; 1]> = replies[sent..]
            .iter()
            .map(|reply| [IoSlice::new(reply)])
            .collect();
        let none: [ControlMessage<'_>; 0] = [];
        match sendmmsg(
            fd,
            headers,
            slices.iter(),
            &destinations[sent..],
            none,
            MsgFlags::empty(),
        ) {
            Ok(results) => {
                let count = results.count();
                if count == 0 {
                    return;
                }
                sent += count;
            }
            Err(Errno::EINTR) => {}
            Err(error) => {
                // One bad destination must not cost the rest of the batch their answers.
                tracing::debug!(%error, "udp send error");
                sent += 1;
            }
        }
    }
}
