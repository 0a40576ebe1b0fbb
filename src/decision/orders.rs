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

use std::cell::RefCell;
use std::net::IpAddr;
use std::sync::Arc;

use quick_cache::UnitWeighter;
use quick_cache::unsync::Cache;
use rustc_hash::FxBuildHasher;

use super::Placement;
use crate::config::CidrMatch;
use crate::steering::RegionOrder;

/// The database record and the CIDR rule of a client: all an order depends on.
pub(super) type OrderKey = (Option<usize>, Option<usize>);

/// Records per thread: more than a City database's busy records, a few MB at most.
const ENTRIES: u64 = 1 << 17;

/// Client addresses per thread: about 50 bytes each, so 6 MB at most.
const CLIENTS: u64 = 1 << 17;

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

struct Local {
    /// The view epoch the entries were computed for.
    epoch: u64,
    clients: Cache<IpAddr, (Located, Entry), UnitWeighter, FxBuildHasher>,
    entries: Cache<OrderKey, Entry, UnitWeighter, FxBuildHasher>,
    orders: Vec<Arc<RegionOrder>>,
}

impl Local {
    fn new(epoch: u64) -> Self {
        Self {
            epoch,
            // Grows with use: an idle thread holds next to nothing.
            clients: Cache::with(
                1024,
                CLIENTS,
                UnitWeighter,
                FxBuildHasher,
                Default::default(),
            ),
            entries: Cache::with(
                1024,
                ENTRIES,
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
}

/// Where `addr` is, and its order (without distances) and continent, under the view epoch
/// `epoch`: `locate` walks the database on a miss, `compute` orders the regions on a miss
/// of the record too.
pub(super) fn cached(
    epoch: u64,
    addr: IpAddr,
    locate: impl FnOnce() -> Located,
    compute: impl FnOnce(&Located) -> Placement,
) -> (Located, Arc<RegionOrder>, Option<[u8; 2]>) {
    LOCAL.with(|cell| {
        let mut cell = cell.borrow_mut();
        let local = match &mut *cell {
            Some(local) if local.epoch == epoch => local,
            other => other.insert(Local::new(epoch)),
        };
        if let Some(&(located, (at, continent))) = local.clients.get(&addr) {
            return (located, local.orders[at as usize].clone(), continent);
        }
        let located = locate();
        let key = (located.record, located.cidr.rule);
        let entry = match local.entries.get(&key) {
            Some(&entry) => entry,
            None => {
                let placement = compute(&located);
                let continent = placement
                    .place
                    .continent
                    .as_deref()
                    .and_then(|code| <[u8; 2]>::try_from(code.as_bytes()).ok());
                let entry = (local.intern(placement.order), continent);
                local.entries.insert(key, entry);
                entry
            }
        };
        local.clients.insert(addr, (located, entry));
        (located, local.orders[entry.0 as usize].clone(), entry.1)
    })
}
