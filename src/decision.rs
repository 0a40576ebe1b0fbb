//! The decision for one client: geo lookup -> steering order -> health -> region and scope.
//!
//! The DNS answer path and the explain report both call [`decide`] on one [`View`], so what
//! explain prints is what the server does. Orders are cached per thread, keyed by the view
//! generation, the database record and the CIDR rule: most queries then cost one tree walk
//! and no lock, and a new view invalidates the cache without one.

use std::cell::RefCell;
use std::net::IpAddr;
use std::sync::Arc;

use hickory_proto::rr::rdata::{A, AAAA};
use hickory_proto::rr::{Name, RData, Record};
use rustc_hash::FxHashMap;

use crate::geo::{ClientAddress, ClientSource, Place};
use crate::region::{Family, RegionId};
use crate::steering::{self, Choice, RegionOrder};
use crate::view::View;

/// What the region order was computed from, and the order itself.
#[derive(Debug, Clone, PartialEq)]
pub struct Placement {
    pub place: Place,
    pub order: RegionOrder,
}

/// Everything that went into choosing a region for one client.
#[derive(Debug, Clone)]
pub struct Decision {
    pub client: ClientAddress,
    /// The database network that holds the client, if the database has one.
    pub network: Option<(IpAddr, u8)>,
    pub placement: Arc<Placement>,
    pub choice: Option<Choice>,
    /// ECS scope prefix, in the client address's family.
    pub scope_prefix: u8,
}

/// Entries per thread before the cache starts over; a few times the number of distinct
/// records a City database holds for the traffic one node sees.
const CACHE_LIMIT: usize = 1 << 16;

/// The view generation the entries were computed for, and the entries by (record, CIDR rule).
type OrderCache = (
    u64,
    FxHashMap<(Option<usize>, Option<usize>), Arc<Placement>>,
);

thread_local! {
    static ORDERS: RefCell<OrderCache> = RefCell::new((0, FxHashMap::default()));
}

/// TTL of an answer given while every candidate region is down, so that clients come back
/// for a better one as soon as a region recovers.
pub const FAIL_OPEN_TTL: u32 = 5;

/// Everything a steered answer's records are built from. The UDP reply cache keys steered
/// replies by this whole value, so an answer rule that changes the records must change it:
/// no rule can make the cache replay stale bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SteeredAnswer {
    /// `None`: no region has addresses of the family (NODATA).
    pub region: Option<RegionId>,
    pub family: Family,
    pub ttl: u32,
    /// How many of the region's addresses are handed out.
    pub count: usize,
}

impl SteeredAnswer {
    /// The answer's records, rendered from the shape and nothing else.
    pub fn records(&self, view: &View, owner: &Name) -> Vec<Record> {
        let Some(region) = self.region.map(|id| view.config.region(id)) else {
            return Vec::new();
        };
        let record = |rdata| Record::from_rdata(owner.clone(), self.ttl, rdata);
        match self.family {
            Family::V4 => region
                .ipv4
                .iter()
                .take(self.count)
                .map(|addr| record(RData::A(A(*addr))))
                .collect(),
            Family::V6 => region
                .ipv6
                .iter()
                .take(self.count)
                .map(|addr| record(RData::AAAA(AAAA(*addr))))
                .collect(),
        }
    }
}

impl Decision {
    /// What the answer of the steered name `service` (an index into `Config::services`) is.
    pub fn steered_answer(&self, view: &View, family: Family, service: usize) -> SteeredAnswer {
        let ttl = view.config.service(service).ttl;
        let Some(choice) = self.choice else {
            return SteeredAnswer {
                region: None,
                family,
                ttl,
                count: 0,
            };
        };
        let region = view.config.region(choice.region);
        let available = match family {
            Family::V4 => region.ipv4.len(),
            Family::V6 => region.ipv6.len(),
        };
        SteeredAnswer {
            region: Some(choice.region),
            family,
            ttl: if choice.fail_open {
                ttl.min(FAIL_OPEN_TTL)
            } else {
                ttl
            },
            count: available.min(view.config.answer.max_addresses),
        }
    }

    /// The ECS scope a steered answer carries. When an unusable subnet (private, say) made
    /// us answer for the packet source, the answer holds for that subnet only: a global
    /// subnet would have been steered. Scope 0 there would let a resolver hand it to all its
    /// clients.
    pub fn steered_scope(&self) -> u8 {
        match self.client.source {
            ClientSource::Ecs => self.scope_prefix,
            ClientSource::Packet => self.client.ecs_source_prefix.unwrap_or(0),
        }
    }
}

/// The decision for `client` asking for addresses of `family`, from one view.
pub fn decide(view: &View, client: ClientAddress, family: Family) -> Decision {
    let geo = &view.geo;
    let lookup = geo.lookup(client.addr);
    let rules = &view.config.steering;
    let cidr = steering::match_cidr(rules, client.addr);
    let key = (lookup.record, cidr);
    let cached = ORDERS.with(|cache| {
        let (generation, entries) = &*cache.borrow();
        if *generation == view.generation {
            entries.get(&key).cloned()
        } else {
            None
        }
    });
    let placement = match cached {
        Some(placement) => placement,
        None => {
            let place = match lookup.record {
                Some(_) => geo.place(client.addr),
                None => Place::default(),
            };
            let order = steering::order_regions(
                &place,
                cidr.map(|index| &rules.cidr[index]),
                rules,
                &view.config.regions,
            );
            let placement = Arc::new(Placement { place, order });
            ORDERS.with(|cache| {
                let (generation, entries) = &mut *cache.borrow_mut();
                // A new view starts the cache over: entries of older views are never read again.
                if *generation != view.generation || entries.len() >= CACHE_LIMIT {
                    entries.clear();
                    *generation = view.generation;
                }
                entries.insert(key, placement.clone());
            });
            placement
        }
    };
    let regions = &view.config.regions;
    let choice = steering::choose(&placement.order, &view.health, |id| {
        regions[id.index()].serves(family)
    });
    let scope_prefix = steering::scope_prefix(
        client.addr,
        client.prefix,
        // No network (an IPv6 client of an IPv4-only database): nothing says how far the
        // answer reaches, so it is for the client's own subnet only.
        Some(lookup.network.map_or(client.prefix, |(_, prefix)| prefix)),
        &rules.cidr,
        cidr,
    );
    Decision {
        client,
        network: lookup.network,
        placement,
        choice,
        scope_prefix,
    }
}
