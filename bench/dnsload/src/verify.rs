//! `--verify N`: each of the first N queries alone, with its answer printed the way
//! `dig +short` would list it, so the script can hold dnsload's queries against dig's.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::time::Duration;

use crate::query::Query;

#[allow(clippy::print_stdout)]
pub(crate) fn print_answers(
    server: SocketAddr,
    queries: &[Query],
    timeout_ns: u64,
) -> Result<(), String> {
    let local: SocketAddr = if server.is_ipv4() {
        (Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let fail = |e: io::Error| format!("{server}: {e}");
    let socket = UdpSocket::bind(local).map_err(fail)?;
    socket.connect(server).map_err(fail)?;
    socket
        .set_read_timeout(Some(Duration::from_nanos(timeout_ns)))
        .map_err(fail)?;
    let mut buffer = [0u8; 4096];
    for (index, query) in queries.iter().enumerate() {
        let mut wire = query.wire.clone();
        wire[..2].copy_from_slice(&(index as u16).to_be_bytes());
        socket.send(&wire).map_err(fail)?;
        let line = match socket.recv(&mut buffer) {
            Ok(len) => describe(&buffer[..len], query).unwrap_or_else(|| "unparsable".to_string()),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                "timeout".into()
            }
            Err(e) => return Err(fail(e)),
        };
        println!("{index} {line}");
    }
    Ok(())
}

/// `rcode=N addresses...` from the answer section (A and AAAA only).
fn describe(reply: &[u8], query: &Query) -> Option<String> {
    let answers = u16::from_be_bytes([*reply.get(6)?, *reply.get(7)?]);
    let mut at = query.question_end; // the reply echoes the question as sent
    let mut out = vec![format!("rcode={}", reply[3] & 0x0f)];
    for _ in 0..answers {
        at = skip_name(reply, at)?;
        let rtype = u16::from_be_bytes([*reply.get(at)?, *reply.get(at + 1)?]);
        let rdlen = usize::from(u16::from_be_bytes([
            *reply.get(at + 8)?,
            *reply.get(at + 9)?,
        ]));
        let rdata = reply.get(at + 10..at + 10 + rdlen)?;
        match (rtype, rdlen) {
            (1, 4) => out.push(IpAddr::from(<[u8; 4]>::try_from(rdata).ok()?).to_string()),
            (28, 16) => out.push(IpAddr::from(<[u8; 16]>::try_from(rdata).ok()?).to_string()),
            _ => out.push(format!("type{rtype}")),
        }
        at += 10 + rdlen;
    }
    Some(out.join(" "))
}

fn skip_name(reply: &[u8], mut at: usize) -> Option<usize> {
    loop {
        let len = *reply.get(at)?;
        match len {
            0 => return Some(at + 1),
            l if l & 0xc0 == 0xc0 => return Some(at + 2),
            l => at += 1 + usize::from(l),
        }
    }
}
