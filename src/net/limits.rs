//! How many connections a listener serves and for how long: the limits and their pure rules.

use std::time::Duration;

/// The limits of one listener. Every field has a default close to what Knot, nginx and
/// HAProxy ship with; build with `Limits { max_connections: 8, ..Limits::default() }`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Connections served at once; the next one is closed at accept. A task and a descriptor
    /// each, so this is what bounds memory and descriptors per listener.
    pub max_connections: usize,
    /// Connections served at once per source: an IPv4 address, or an IPv6 /64 (a host may
    /// use any address of its /64, so counting single IPv6 addresses would cap nothing).
    /// Keeps one peer from taking every slot of [`Self::max_connections`].
    pub max_per_source: usize,
    /// A connection waiting this long for the start of its next request is closed.
    pub idle_timeout: Duration,
    /// The idle timeout once the listener is under pressure (see [`Self::under_pressure`]):
    /// idle peers make room for new ones instead of holding slots.
    pub idle_timeout_under_pressure: Duration,
    /// The first pause after a failed accept (out of descriptors, say); it doubles on each
    /// further failure up to [`Self::accept_backoff_max`] and resets on the next success.
    pub accept_backoff: Duration,
    /// The longest pause after a failed accept.
    pub accept_backoff_max: Duration,
    /// At shutdown, how long open connections get to finish their current exchange before
    /// they are cut. Keep it below the node's own grace, so the listener returns in time.
    pub drain_grace: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            // Knot's tcp-max-clients and nginx's worker_connections are of this order.
            max_connections: 512,
            // An eighth of the slots: generous for a resolver farm behind one address,
            // small enough that it takes eight sources to fill the listener.
            max_per_source: 64,
            // Knot's tcp-idle-timeout.
            idle_timeout: Duration::from_secs(10),
            idle_timeout_under_pressure: Duration::from_secs(1),
            accept_backoff: Duration::from_millis(100),
            accept_backoff_max: Duration::from_secs(1),
            drain_grace: Duration::from_secs(2),
        }
    }
}

impl Limits {
    /// Pressure starts once the live connections pass three quarters of
    /// [`Self::max_connections`], early enough that idle peers are shed before new ones are
    /// refused.
    pub fn under_pressure(&self, live: usize) -> bool {
        live.saturating_mul(4) > self.max_connections.saturating_mul(3)
    }

    /// The idle timeout for a wait that starts while `live` connections are open.
    pub fn idle_timeout_at(&self, live: usize) -> Duration {
        if self.under_pressure(live) {
            self.idle_timeout_under_pressure.min(self.idle_timeout)
        } else {
            self.idle_timeout
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pressure_starts_past_three_quarters_of_the_cap() {
        let limits = Limits::default();
        assert!(!limits.under_pressure(0));
        assert!(
            !limits.under_pressure(384),
            "exactly 75% is not yet pressure"
        );
        assert!(limits.under_pressure(385));
        assert!(limits.under_pressure(512));
        assert!(limits.under_pressure(usize::MAX), "no overflow");

        let small = Limits {
            max_connections: 8,
            ..Limits::default()
        };
        assert!(!small.under_pressure(6));
        assert!(small.under_pressure(7));
    }

    #[test]
    fn the_idle_timeout_shrinks_under_pressure() {
        let limits = Limits {
            max_connections: 4,
            idle_timeout: Duration::from_secs(10),
            idle_timeout_under_pressure: Duration::from_secs(1),
            ..Limits::default()
        };
        assert_eq!(limits.idle_timeout_at(0), Duration::from_secs(10));
        assert_eq!(limits.idle_timeout_at(3), Duration::from_secs(10));
        assert_eq!(limits.idle_timeout_at(4), Duration::from_secs(1));
    }

    #[test]
    fn pressure_never_lengthens_the_idle_timeout() {
        let limits = Limits {
            max_connections: 4,
            idle_timeout: Duration::from_secs(1),
            idle_timeout_under_pressure: Duration::from_secs(30),
            ..Limits::default()
        };
        assert_eq!(limits.idle_timeout_at(4), Duration::from_secs(1));
    }
}
