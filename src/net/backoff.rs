//! The pause after a failed accept: doubling, capped, reset by the next success.

use std::io;
use std::time::Duration;

/// The shortest pause, whatever the limits say: a zero pause would be a busy loop.
const FLOOR: Duration = Duration::from_millis(1);

/// What the accept loop does after `accept` failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AcceptFailure {
    /// The error belonged to one pending connection (reset before we took it): try again.
    Connection,
    /// The process or the system is short of something (descriptors, buffers, memory):
    /// accepting again at once would fail again, so pause.
    Resources,
    /// The listener itself is unusable (closed, not listening): no pause will mend it.
    Listener,
}

impl AcceptFailure {
    pub(crate) fn of(error: &io::Error) -> Self {
        match error.kind() {
            io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionRefused
            | io::ErrorKind::Interrupted
            | io::ErrorKind::WouldBlock => Self::Connection,
            _ => match error.raw_os_error().map(nix::errno::Errno::from_raw) {
                Some(
                    nix::errno::Errno::EBADF
                    | nix::errno::Errno::EINVAL
                    | nix::errno::Errno::ENOTSOCK
                    | nix::errno::Errno::EFAULT,
                ) => Self::Listener,
                // EMFILE, ENFILE, ENOBUFS, ENOMEM and anything unknown: pausing is safe,
                // retrying at once might spin.
                _ => Self::Resources,
            },
        }
    }
}

/// Consecutive accept failures and the pause the next one gets.
#[derive(Debug, Clone)]
pub(crate) struct Backoff {
    first: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    pub(crate) fn new(first: Duration, max: Duration) -> Self {
        let first = first.max(FLOOR);
        let max = max.max(first);
        Self {
            first,
            max,
            next: first,
        }
    }

    /// The pause after one more failure in a row.
    pub(crate) fn failed(&mut self) -> Duration {
        let pause = self.next;
        self.next = self.next.saturating_mul(2).min(self.max);
        pause
    }

    /// An accept succeeded: the next failure starts from the first pause again.
    pub(crate) fn succeeded(&mut self) {
        self.next = self.first;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn pauses_double_up_to_the_max_and_reset_on_success() {
        let mut backoff = Backoff::new(100 * MS, 1000 * MS);
        let pauses: Vec<_> = (0..6).map(|_| backoff.failed()).collect();
        assert_eq!(
            pauses,
            [100 * MS, 200 * MS, 400 * MS, 800 * MS, 1000 * MS, 1000 * MS]
        );
        backoff.succeeded();
        assert_eq!(backoff.failed(), 100 * MS);
    }

    #[test]
    fn a_zero_pause_is_raised_so_the_loop_cannot_spin() {
        let mut backoff = Backoff::new(Duration::ZERO, Duration::ZERO);
        assert_eq!(backoff.failed(), FLOOR);
        assert_eq!(backoff.failed(), FLOOR);
    }

    #[test]
    fn accept_errors_are_sorted_by_what_mends_them() {
        let os = |errno: nix::errno::Errno| io::Error::from_raw_os_error(errno as i32);
        assert_eq!(
            AcceptFailure::of(&os(nix::errno::Errno::EMFILE)),
            AcceptFailure::Resources
        );
        assert_eq!(
            AcceptFailure::of(&os(nix::errno::Errno::ENFILE)),
            AcceptFailure::Resources
        );
        assert_eq!(
            AcceptFailure::of(&os(nix::errno::Errno::ENOBUFS)),
            AcceptFailure::Resources
        );
        assert_eq!(
            AcceptFailure::of(&os(nix::errno::Errno::ECONNABORTED)),
            AcceptFailure::Connection
        );
        assert_eq!(
            AcceptFailure::of(&os(nix::errno::Errno::EINVAL)),
            AcceptFailure::Listener
        );
        assert_eq!(
            AcceptFailure::of(&io::Error::other("unknown")),
            AcceptFailure::Resources
        );
    }
}
