//! Binding TCP listeners: one, or several sharing a port (`SO_REUSEPORT`) so that each worker
//! thread accepts on its own and the kernel spreads connections between them.

use std::io;
use std::net::{SocketAddr, TcpListener};

use socket2::{Domain, Protocol, Socket, Type};

/// `count` listeners on `addr` (at least one), non-blocking, sharing the port. With port 0
/// the first picks the port and the others follow it.
pub fn bind_shared(addr: SocketAddr, count: usize) -> io::Result<Vec<TcpListener>> {
    let first = listener(addr, count > 1)?;
    let bound = first.local_addr()?;
    let mut listeners = vec![first];
    for _ in 1..count {
        listeners.push(listener(bound, true)?);
    }
    Ok(listeners)
}

fn listener(addr: SocketAddr, shared: bool) -> io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.set_reuse_address(true)?;
    if shared {
        socket.set_reuse_port(true)?;
    }
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    socket.set_nonblocking(true)?;
    Ok(socket.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listeners_share_one_port_and_a_single_one_does_not_reuse_it() {
        let shared = bind_shared("127.0.0.1:0".parse().unwrap(), 3).unwrap();
        let port = shared[0].local_addr().unwrap().port();
        assert!(
            shared
                .iter()
                .all(|l| l.local_addr().unwrap().port() == port)
        );
        let single = bind_shared("127.0.0.1:0".parse().unwrap(), 1).unwrap();
        let taken = single[0].local_addr().unwrap();
        assert!(
            bind_shared(taken, 1).is_err(),
            "a lone listener's port was taken twice"
        );
    }
}
