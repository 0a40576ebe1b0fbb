//! Who holds how many connections, and whether one more is admitted: no locks, no sockets.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};

use super::limits::Limits;

/// What a per-source cap counts: an IPv4 address, or the /64 of an IPv6 address. An
/// IPv4-mapped IPv6 address (a dual-stack listener) counts as its IPv4 address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Source(IpAddr);

impl Source {
    pub(crate) fn of(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(_) => Self(ip),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Self(IpAddr::V4(v4)),
                None => {
                    let prefix = v6.to_bits() & !(u128::from(u64::MAX));
                    Self(IpAddr::V6(Ipv6Addr::from_bits(prefix)))
                }
            },
        }
    }
}

/// Why a connection was closed at accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The listener serves [`Limits::max_connections`] already.
    Full,
    /// This source holds [`Limits::max_per_source`] already.
    SourceFull,
}

/// The live connections of one listener, in total and per source. Touched only at accept
/// and close, never per message. The std `HashMap` (SipHash) is deliberate: peers choose
/// the keys, so a fast unkeyed hash would let them make every lookup a collision.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    live: usize,
    by_source: HashMap<Source, usize>,
}

impl Tally {
    /// Counts one more connection from `source`, or says why it must be closed.
    pub(crate) fn admit(&mut self, source: Source, limits: &Limits) -> Result<(), Refusal> {
        if self.live >= limits.max_connections {
            return Err(Refusal::Full);
        }
        let held = self.by_source.entry(source).or_insert(0);
        if *held >= limits.max_per_source {
            // A refused first connection must not leave an empty entry behind.
            if *held == 0 {
                self.by_source.remove(&source);
            }
            return Err(Refusal::SourceFull);
        }
        *held += 1;
        self.live += 1;
        Ok(())
    }

    /// Forgets one connection of `source`; entries that reach zero are removed, so the map
    /// holds only sources with live connections.
    pub(crate) fn release(&mut self, source: Source) {
        if let Some(held) = self.by_source.get_mut(&source) {
            *held -= 1;
            if *held == 0 {
                self.by_source.remove(&source);
            }
            self.live -= 1;
        }
    }

    pub(crate) fn live(&self) -> usize {
        self.live
    }

    #[cfg(test)]
    fn held_by(&self, source: Source) -> usize {
        self.by_source.get(&source).copied().unwrap_or(0)
    }

    #[cfg(test)]
    fn sources(&self) -> usize {
        self.by_source.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(text: &str) -> Source {
        Source::of(text.parse().unwrap_or_else(|e| panic!("{text}: {e}")))
    }

    fn limits(max_connections: usize, max_per_source: usize) -> Limits {
        Limits {
            max_connections,
            max_per_source,
            ..Limits::default()
        }
    }

    #[test]
    fn a_source_is_capped_and_others_still_get_in() {
        let limits = limits(8, 4);
        let mut tally = Tally::default();
        let (a, b) = (source("192.0.2.1"), source("192.0.2.2"));
        for _ in 0..4 {
            assert_eq!(tally.admit(a, &limits), Ok(()));
        }
        assert_eq!(tally.admit(a, &limits), Err(Refusal::SourceFull));
        assert_eq!(tally.admit(b, &limits), Ok(()));
        assert_eq!(
            (tally.held_by(a), tally.held_by(b), tally.live()),
            (4, 1, 5)
        );
    }

    #[test]
    fn the_global_cap_comes_first() {
        let limits = limits(3, 2);
        let mut tally = Tally::default();
        let (a, b, c) = (
            source("192.0.2.1"),
            source("192.0.2.2"),
            source("192.0.2.3"),
        );
        assert_eq!(tally.admit(a, &limits), Ok(()));
        assert_eq!(tally.admit(a, &limits), Ok(()));
        assert_eq!(tally.admit(b, &limits), Ok(()));
        assert_eq!(tally.admit(c, &limits), Err(Refusal::Full));
        assert_eq!(tally.admit(a, &limits), Err(Refusal::Full));
        assert_eq!(tally.sources(), 2, "a refused source leaves no entry");
    }

    #[test]
    fn release_gives_the_slot_back_and_forgets_empty_sources() {
        let limits = limits(2, 1);
        let mut tally = Tally::default();
        let a = source("192.0.2.1");
        assert_eq!(tally.admit(a, &limits), Ok(()));
        assert_eq!(tally.admit(a, &limits), Err(Refusal::SourceFull));
        tally.release(a);
        assert_eq!((tally.live(), tally.sources()), (0, 0));
        assert_eq!(tally.admit(a, &limits), Ok(()));
    }

    #[test]
    fn releasing_an_unknown_source_changes_nothing() {
        let limits = limits(2, 2);
        let mut tally = Tally::default();
        assert_eq!(tally.admit(source("192.0.2.1"), &limits), Ok(()));
        tally.release(source("192.0.2.9"));
        assert_eq!(tally.live(), 1);
    }

    #[test]
    fn a_zero_source_cap_refuses_without_leaving_an_entry() {
        let limits = limits(2, 0);
        let mut tally = Tally::default();
        assert_eq!(
            tally.admit(source("192.0.2.1"), &limits),
            Err(Refusal::SourceFull)
        );
        assert_eq!((tally.live(), tally.sources()), (0, 0));
    }

    #[test]
    fn ipv6_sources_are_counted_per_64() {
        assert_eq!(source("2001:db8:1:2::1"), source("2001:db8:1:2:ffff::9"));
        assert_ne!(source("2001:db8:1:2::1"), source("2001:db8:1:3::1"));
        assert_eq!(source("2001:db8:1:2::1"), source("2001:db8:1:2::"));
        let limits = limits(8, 2);
        let mut tally = Tally::default();
        assert_eq!(tally.admit(source("2001:db8::1"), &limits), Ok(()));
        assert_eq!(tally.admit(source("2001:db8::2"), &limits), Ok(()));
        assert_eq!(
            tally.admit(source("2001:db8::3"), &limits),
            Err(Refusal::SourceFull)
        );
    }

    #[test]
    fn ipv4_addresses_are_counted_one_by_one() {
        assert_ne!(source("192.0.2.1"), source("192.0.2.2"));
    }

    #[test]
    fn ipv4_mapped_sources_count_as_ipv4() {
        assert_eq!(source("::ffff:192.0.2.1"), source("192.0.2.1"));
        assert_ne!(source("::ffff:192.0.2.1"), source("::ffff:192.0.2.2"));
    }
}
