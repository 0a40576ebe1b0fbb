//! Region orders cached per thread, by client address and by (database record, CIDR rule).
//!
//! A walk of a full City database's tree from a random subnet misses the CPU caches at most
//! of its levels, and costs more than the rest of an answer: so the thread first looks the
//! client address (an ECS subnet's, or a resolver's) up in a table of the addresses it saw
//! last, which holds what the walk found and the order. Only a miss walks the tree, and
//! then looks the order up by record.
//!
//! A full City database maps busy traffic to tens of thousands of records, each a walk, a
//! decode and a sort on a miss. An order does not depend on health, so entries live as long
//! as the config and database they came from (a health change keeps them). Each entry is
//! small: an index into this thread's few distinct orders, and the client's continent.
//! Distances are left out of the cached orders, which makes most records share one (they
//! are for `explain`, which computes its own); so a whole City database's worth of records
//! costs a few MB per thread. When full, S3-FIFO eviction (quick_cache) keeps the records
//! that are asked again: the table is never thrown out whole, so no query waits for a
//! refill. No lock and no shared cache line: every Arc handed out is this thread's own.

use std::cell::{Cell, RefCell};
use std::net::IpAddr;
use std::sync::Arc;

use quick_cache::UnitWeighter;
use quick_cache::unsync::Cache;
use rustc_hash::FxBuildHasher;

use crate::config::CidrMatch;
use crate::geo::masked;
use crate::steering::RegionOrder;

/// The database record and the CIDR rule of a client: all an order depends on.
pub(super) type OrderKey = (Option<usize>, Option<usize>);

/// Records per busy thread: more than a City database's busy records, a few MB at most.
const ENTRIES: u64 = 1 << 17;

/// Client addresses per busy thread: 32 bytes each and the table's own, about 12 MB at most.
const CLIENTS: u64 = 1 << 18;

/// Either, on the other threads (TCP connections, explain): they see a small share of the
/// queries, and each thread's tables are its own, so full-size ones would only multiply
/// the memory.
const SMALL: u64 = 1 << 12;

/// Distinct orders per thread before the thread starts over (only pathological configs,
/// with thousands of override lists, come near).
const ORDERS: usize = 4096;

/// What is kept per record: the order's index in `Local::orders`, and the continent code.
type Entry = (u32, Option<[u8; 2]>);

/// Where the database and the CIDR rules put a client address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Located {
    /// The database network that holds the address, if the database has one.
    pub(super) network: Option<(IpAddr, u8)>,
    /// The database record (its offset), if the network has data.
    pub(super) record: Option<usize>,
    /// The CIDR rule holding the address, and the scope the rules allow.
    pub(super) cidr: CidrMatch,
}

/// `Located` and its `Entry`, packed: a client table entry is its size times 2^17.
#[derive(Debug, Clone, Copy)]
struct Packed {
    record: u32,
    rule: u32,
    order: u32,
    /// The network's prefix length; its address is the client's, masked.
    prefix: u8,
    scope: u8,
    continent: [u8; 2],
}

/// Stands for `None` in a packed field.
const NO_INDEX: u32 = u32::MAX;
const NO_PREFIX: u8 = u8::MAX;
const NO_CONTINENT: [u8; 2] = [0; 2];

impl Packed {
    /// `None` for what does not fit (an index past 2^32: no database or config has one).
    fn new(located: &Located, (order, continent): Entry) -> Option<Self> {
        let index = |value: Option<usize>| match value {
            None => Some(NO_INDEX),
            Some(value) => u32::try_from(value).ok().filter(|value| *value != NO_INDEX),
        };
        Some(Self {
            record: index(located.record)?,
            rule: index(located.cidr.rule)?,
            order,
            prefix: located.network.map_or(NO_PREFIX, |(_, prefix)| prefix),
            scope: located.cidr.scope,
            continent: continent.unwrap_or(NO_CONTINENT),
        })
    }

    fn unpack(&self, addr: IpAddr) -> (Located, Entry) {
        let index = |value: u32| (value != NO_INDEX).then_some(value as usize);
        let located = Located {
            network: (self.prefix != NO_PREFIX).then(|| (masked(addr, self.prefix), self.prefix)),
            record: index(self.record),
            cidr: CidrMatch {
                rule: index(self.rule),
                scope: self.scope,
            },
        };
        let continent = (self.continent != NO_CONTINENT).then_some(self.continent);
        (located, (self.order, continent))
    }
}

/// A client address as one number: IPv4 as IPv4-mapped IPv6, which a canonical IPv6 client
/// address never is.
fn client_key(addr: IpAddr) -> u128 {
    match addr {
        IpAddr::V4(v4) => u128::from(v4.to_ipv6_mapped()),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

struct Local {
    /// The view epoch the entries were computed for.
    epoch: u64,
    clients: Cache<u128, Packed, UnitWeighter, FxBuildHasher>,
    entries: Cache<OrderKey, Entry, UnitWeighter, FxBuildHasher>,
    orders: Vec<Arc<RegionOrder>>,
}

impl Local {
    fn new(epoch: u64) -> Self {
        let busy = BUSY.with(Cell::get);
        let size = |full| if busy { full } else { SMALL };
        Self {
            epoch,
            // Grows with use: an idle thread holds next to nothing.
            clients: Cache::with(
                1024,
                size(CLIENTS),
                UnitWeighter,
                FxBuildHasher,
                Default::default(),
            ),
            entries: Cache::with(
                1024,
                size(ENTRIES),
                UnitWeighter,
                FxBuildHasher,
                Default::default(),
            ),
            orders: Vec::new(),
        }
    }

    /// The index of `order` (distances left out) among this thread's orders.
    fn intern(&mut self, mut order: RegionOrder) -> u32 {
        for candidate in &mut order.candidates {
            candidate.distance_km = None;
        }
        if let Some(at) = self.orders.iter().position(|known| **known == order) {
            return at as u32;
        }
        if self.orders.len() >= ORDERS {
            self.clients.clear();
            self.entries.clear();
            self.orders.clear();
        }
        self.orders.push(Arc::new(order));
        (self.orders.len() - 1) as u32
    }
}

thread_local! {
    static LOCAL: RefCell<Option<Local>> = const { RefCell::new(None) };
    static BUSY: Cell<bool> = const { Cell::new(false) };
}

/// Gives the calling thread full-size tables: for the threads that answer most queries (the
/// UDP loops).
pub fn full_size_for_this_thread() {
    BUSY.with(|busy| busy.set(true));
    LOCAL.with(|cell| cell.borrow_mut().take());
}

/// Where `addr` is, and its order (without distances) and continent, under the view epoch
/// `epoch`: `locate` walks the database on a miss, `compute` orders the regions on a miss
/// of the record too.
pub(super) fn cached(
    epoch: u64,
    addr: IpAddr,
    locate: impl FnOnce() -> Located,
    compute: impl FnOnce(&Located) -> (RegionOrder, Option<[u8; 2]>),
) -> (Located, Arc<RegionOrder>, Option<[u8; 2]>) {
    LOCAL.with(|cell| {
        let mut cell = cell.borrow_mut();
        let local = match &mut *cell {
            Some(local) if local.epoch == epoch => local,
            other => other.insert(Local::new(epoch)),
        };
        let client = client_key(addr);
        if let Some(packed) = local.clients.get(&client) {
            let (located, (at, continent)) = packed.unpack(addr);
            return (located, local.orders[at as usize].clone(), continent);
        }
        let located = locate();
        let key = (located.record, located.cidr.rule);
        let entry = match local.entries.get(&key) {
            Some(&entry) => entry,
            None => {
                let (order, continent) = compute(&located);
                let entry = (local.intern(order), continent);
                local.entries.insert(key, entry);
                entry
            }
        };
        if let Some(packed) = Packed::new(&located, entry) {
            local.clients.insert(client, packed);
        }
        (located, local.orders[entry.0 as usize].clone(), entry.1)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packing_keeps_everything_but_what_the_address_gives_back() {
        let cases = [
            (
                "81.2.69.142",
                Some(("81.2.69.128", 26)),
                Some(77),
                Some(3),
                27,
                Some(*b"EU"),
            ),
            ("81.2.69.142", None, None, None, 0, None),
            (
                "2a02:d540::1",
                Some(("2a02:d540::", 29)),
                Some(0),
                None,
                0,
                Some(*b"AS"),
            ),
            ("10.0.0.1", Some(("0.0.0.0", 0)), None, Some(0), 8, None),
            ("::1", Some(("::1", 128)), Some(1 << 31), None, 128, None),
        ];
        for (client, network, record, rule, scope, continent) in cases {
            let addr: IpAddr = client.parse().unwrap_or_else(|e| panic!("{e}"));
            let located = Located {
                network: network.map(|(net, prefix): (&str, u8)| {
                    (net.parse().unwrap_or_else(|e| panic!("{e}")), prefix)
                }),
                record,
                cidr: CidrMatch { rule, scope },
            };
            let packed =
                Packed::new(&located, (5, continent)).unwrap_or_else(|| panic!("{client}"));
            assert_eq!(packed.unpack(addr), (located, (5, continent)), "{client}");
        }
        let huge = Located {
            network: None,
            record: Some(usize::MAX),
            cidr: CidrMatch {
                rule: None,
                scope: 0,
            },
        };
        assert!(
            Packed::new(&huge, (0, None)).is_none(),
            "too large to pack: not cached"
        );
    }

    #[test]
    fn ipv4_and_ipv6_clients_never_share_a_key() {
        let v4: IpAddr = "1.2.3.4".parse().unwrap_or_else(|e| panic!("{e}"));
        let v6: IpAddr = "::1.2.3.4".parse().unwrap_or_else(|e| panic!("{e}"));
        assert_ne!(client_key(v4), client_key(v6));
    }
}
