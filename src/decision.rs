//! The decision for one client: geo lookup -> steering order -> health -> region and scope.
//!
//! The DNS answer path and `meridian explain` both call [`Decider::decide`], so what explain
//! prints is what the server does. Orders are cached per thread, keyed by the database
//! record and CIDR rule: most queries then cost one tree walk and no lock.

use std::cell::RefCell;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use rustc_hash::FxHashMap;

use crate::config::Config;
use crate::geo::{ClientAddress, GeoDb, Place, SharedGeoDb};
use crate::health::{HealthSnapshot, SharedHealth};
use crate::region::Family;
use crate::steering::{self, Choice, RegionOrder};

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

/// Reads the current config, database and health; owns nothing mutable.
#[derive(Debug)]
pub struct Decider {
    config: Arc<Config>,
    geo: SharedGeoDb,
    health: SharedHealth,
    /// Distinguishes deciders (and so configs) in the per-thread cache.
    id: u64,
}

static DECIDER_IDS: AtomicU64 = AtomicU64::new(1);

/// Entries per thread before the cache starts over; a few times the number of distinct
/// records a City database holds for the traffic one node sees.
const CACHE_LIMIT: usize = 1 << 16;

type CacheKey = (u64, u64, Option<usize>, Option<usize>);

thread_local! {
    static ORDERS: RefCell<FxHashMap<CacheKey, Arc<Placement>>> = RefCell::new(FxHashMap::default());
}

impl Decider {
    pub fn new(config: Arc<Config>, geo: SharedGeoDb, health: SharedHealth) -> Self {
        Self {
            config,
            geo,
            health,
            id: DECIDER_IDS.fetch_add(1, Ordering::Relaxed),
        }
    }

    pub fn config(&self) -> &Arc<Config> {
        &self.config
    }

    pub fn health(&self) -> Arc<HealthSnapshot> {
        self.health.load_full()
    }

    pub fn geo(&self) -> Arc<GeoDb> {
        self.geo.load_full()
    }

    /// The decision for `client` asking for addresses of `family`.
    pub fn decide(&self, client: ClientAddress, family: Family) -> Decision {
        let geo = self.geo.load();
        let lookup = geo.lookup(client.addr);
        let rules = &self.config.steering;
        let cidr = steering::match_cidr(rules, client.addr);
        let key = (self.id, geo.generation(), lookup.record, cidr);
        let cached = ORDERS.with(|cache| cache.borrow().get(&key).cloned());
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
                    &self.config.regions,
                );
                let placement = Arc::new(Placement { place, order });
                ORDERS.with(|cache| {
                    let mut cache = cache.borrow_mut();
                    if cache.len() >= CACHE_LIMIT {
                        cache.clear();
                    }
                    cache.insert(key, placement.clone());
                });
                placement
            }
        };
        let regions = &self.config.regions;
        let choice = steering::choose(&placement.order, &self.health.load(), |id| {
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
}
