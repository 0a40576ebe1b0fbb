//! The system calls std has no wrapper for: sendmmsg, recvmmsg, ppoll and socket buffer
//! sizes. The only module with unsafe code; each call gets pointers into live buffers.
#![allow(unsafe_code)]

use std::io;
use std::os::fd::RawFd;

/// Most messages one sendmmsg or recvmmsg call moves.
pub(crate) const BATCH: usize = 64;
/// Receive buffer per message: more than any EDNS answer here (the queries offer 1232).
pub(crate) const RECV_SIZE: usize = 4096;

/// Sends `messages` on a connected UDP socket in one call; returns how many went out.
/// A full send buffer (EAGAIN, ENOBUFS) is "0 sent", not an error.
pub(crate) fn send_batch(fd: RawFd, messages: &[&[u8]]) -> io::Result<usize> {
    let count = messages.len().min(BATCH);
    if count == 0 {
        return Ok(0);
    }
    // SAFETY: iovec and mmsghdr are plain C structs for which all-zero is valid.
    let mut iovecs: [libc::iovec; BATCH] = unsafe { std::mem::zeroed() };
    let mut headers: [libc::mmsghdr; BATCH] = unsafe { std::mem::zeroed() };
    for i in 0..count {
        iovecs[i] = libc::iovec {
            iov_base: messages[i].as_ptr() as *mut libc::c_void,
            iov_len: messages[i].len(),
        };
        headers[i].msg_hdr.msg_iov = &mut iovecs[i];
        headers[i].msg_hdr.msg_iovlen = 1;
    }
    // SAFETY: the headers point at `count` iovecs, which point at the borrowed messages;
    // all outlive the call, and the kernel only reads them.
    let sent = unsafe {
        libc::sendmmsg(
            fd,
            headers.as_mut_ptr(),
            count as libc::c_uint,
            libc::MSG_DONTWAIT,
        )
    };
    if sent < 0 {
        let err = io::Error::last_os_error();
        return match err.raw_os_error() {
            Some(libc::EAGAIN | libc::ENOBUFS | libc::EINTR) => Ok(0),
            _ => Err(err),
        };
    }
    Ok(sent as usize)
}

/// Receive buffers for one recvmmsg call.
#[derive(Debug)]
pub(crate) struct RecvBatch {
    data: Vec<u8>,
    lens: [usize; BATCH],
    count: usize,
}

impl RecvBatch {
    pub(crate) fn new() -> Self {
        Self {
            data: vec![0; BATCH * RECV_SIZE],
            lens: [0; BATCH],
            count: 0,
        }
    }

    /// Receives whatever is waiting (never blocks); returns how many messages arrived.
    pub(crate) fn receive(&mut self, fd: RawFd) -> io::Result<usize> {
        // SAFETY: as in send_batch, all-zero is valid for these C structs.
        let mut iovecs: [libc::iovec; BATCH] = unsafe { std::mem::zeroed() };
        let mut headers: [libc::mmsghdr; BATCH] = unsafe { std::mem::zeroed() };
        for i in 0..BATCH {
            iovecs[i] = libc::iovec {
                iov_base: self.data[i * RECV_SIZE..].as_mut_ptr() as *mut libc::c_void,
                iov_len: RECV_SIZE,
            };
            headers[i].msg_hdr.msg_iov = &mut iovecs[i];
            headers[i].msg_hdr.msg_iovlen = 1;
        }
        // SAFETY: each iovec covers its own RECV_SIZE bytes of `data`, which outlives the
        // call; no address or control buffers are asked for.
        let got = unsafe {
            libc::recvmmsg(
                fd,
                headers.as_mut_ptr(),
                BATCH as libc::c_uint,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        if got < 0 {
            self.count = 0;
            let err = io::Error::last_os_error();
            return match err.raw_os_error() {
                Some(libc::EAGAIN | libc::EINTR) => Ok(0),
                // An ICMP port unreachable from an earlier send: the server is gone or
                // restarting; the queries it concerns time out.
                Some(libc::ECONNREFUSED) => Ok(0),
                _ => Err(err),
            };
        }
        self.count = got as usize;
        for (len, header) in self.lens.iter_mut().zip(&headers).take(self.count) {
            *len = (header.msg_len as usize).min(RECV_SIZE);
        }
        Ok(self.count)
    }

    pub(crate) fn message(&self, i: usize) -> &[u8] {
        &self.data[i * RECV_SIZE..i * RECV_SIZE + self.lens[i]]
    }
}

/// Waits until one of `fds` is ready for `events` (POLLIN, POLLOUT) or `timeout_ns` passes,
/// with the nanosecond timeout of ppoll (poll rounds up to whole milliseconds, too coarse
/// for pacing). Readiness is read back by trying the socket, so nothing is returned.
pub(crate) fn wait(fds: &[(RawFd, i16)], timeout_ns: u64) -> io::Result<()> {
    let mut pollfds: Vec<libc::pollfd> = fds
        .iter()
        .map(|&(fd, events)| libc::pollfd {
            fd,
            events,
            revents: 0,
        })
        .collect();
    let timeout = libc::timespec {
        tv_sec: (timeout_ns / 1_000_000_000) as libc::time_t,
        tv_nsec: (timeout_ns % 1_000_000_000) as libc::c_long,
    };
    // SAFETY: pollfds and timeout live across the call; no signal mask is passed.
    let rc = unsafe {
        libc::ppoll(
            pollfds.as_mut_ptr(),
            pollfds.len() as libc::nfds_t,
            &timeout,
            std::ptr::null(),
        )
    };
    if rc < 0 {
        let err = io::Error::last_os_error();
        if err.raw_os_error() != Some(libc::EINTR) {
            return Err(err);
        }
    }
    Ok(())
}

/// Asks for larger socket buffers (the kernel caps them at net.core.{r,w}mem_max), so a
/// burst of answers to a full window is not dropped by the client's own socket.
pub(crate) fn set_buffers(fd: RawFd, bytes: usize) {
    let size = bytes as libc::c_int;
    for option in [libc::SO_RCVBUF, libc::SO_SNDBUF] {
        // SAFETY: passes a pointer to an int that lives across the call, with its size.
        // A refusal only leaves the default size, so the result is not checked.
        unsafe {
            libc::setsockopt(
                fd,
                libc::SOL_SOCKET,
                option,
                &size as *const libc::c_int as *const libc::c_void,
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            );
        }
    }
}
