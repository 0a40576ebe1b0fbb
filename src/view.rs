//! The one immutable [`View`] a request reads: config, zone tables, geo database and health,
//! built together and published through one [`ArcSwap`].
//!
//! A config reload, a geo database swap and a new health verdict all do the same thing:
//! build a new view off the hot path and publish it with one store. A request loads the
//! view once and reads everything from it, so config, geo and health can never come from
//! two generations. Per-thread caches key their entries by [`View::generation`].

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arc_swap::ArcSwap;
use hickory_proto::rr::RecordType;

use crate::config::Config;
use crate::decision::SteeringMap;
use crate::geo::{GeoDb, GeoError};
use crate::health::{HealthSnapshot, HealthTable};
use crate::region::Family;
use crate::zone::ZoneData;

/// Everything a query is answered from.
#[derive(Debug)]
pub struct View {
    /// Unique within the process, increasing: a cache key and a "which view" for logs.
    pub generation: u64,
    /// The generation of the config and database this view was first built with: kept by a
    /// view that only changes health, so the caches of what health does not affect (region
    /// orders) outlive a health change.
    pub placement_epoch: u64,
    pub config: Arc<Config>,
    pub zone: Arc<ZoneData>,
    pub geo: Arc<GeoDb>,
    /// The database's networks merged by what they make of the order under `config`.
    pub steering: Arc<SteeringMap>,
    /// The health as published, by region name.
    pub health_snapshot: Arc<HealthSnapshot>,
    /// The same, resolved against `config.regions`.
    pub health: HealthTable,
    /// Each region's label slot in the DNS metrics, by region id.
    pub metric_slots: Arc<[u8]>,
}

/// The view a node's servers read, swapped whole.
pub type SharedView = Arc<ArcSwap<View>>;

static GENERATIONS: AtomicU64 = AtomicU64::new(1);

impl View {
    /// A view of an already validated config and database: builds the zone tables and the
    /// steering map, which reads the database file again (an error if it was rewritten in
    /// place since it was validated).
    pub fn new(
        config: Arc<Config>,
        geo: Arc<GeoDb>,
        health: Arc<HealthSnapshot>,
    ) -> Result<Self, GeoError> {
        let zone = Arc::new(ZoneData::build(&config));
        let steering = SteeringMap::shared(&geo, &config)?;
        Ok(Self::assemble(config, zone, geo, steering, health))
    }

    /// A view of parts already built (the zone tables and the steering map from `config`
    /// and `geo`).
    pub fn assemble(
        config: Arc<Config>,
        zone: Arc<ZoneData>,
        geo: Arc<GeoDb>,
        steering: Arc<SteeringMap>,
        health_snapshot: Arc<HealthSnapshot>,
    ) -> Self {
        let health = HealthTable::resolve(&health_snapshot, &config.regions);
        let metric_slots =
            crate::telemetry::dns::region_slots(config.regions.iter().map(|r| r.name.as_str()))
                .into();
        let generation = GENERATIONS.fetch_add(1, Ordering::Relaxed);
        Self {
            generation,
            placement_epoch: generation,
            config,
            zone,
            geo,
            steering,
            health_snapshot,
            health,
            metric_slots,
        }
    }

    /// This view with other health verdicts.
    pub fn with_health(&self, health: Arc<HealthSnapshot>) -> Self {
        Self {
            placement_epoch: self.placement_epoch,
            ..Self::assemble(
                self.config.clone(),
                self.zone.clone(),
                self.geo.clone(),
                self.steering.clone(),
                health,
            )
        }
    }

    /// Publishes new health verdicts into `shared`, keeping whatever config and database are
    /// current at that moment (rcu: a concurrent reload is never undone).
    pub fn publish_health(shared: &SharedView, health: Arc<HealthSnapshot>) {
        shared.rcu(|latest| latest.with_health(health.clone()));
    }

    /// Publishes `self` as the first view of a node.
    pub fn shared(self) -> SharedView {
        Arc::new(ArcSwap::from_pointee(self))
    }

    /// The family a steered name answers `qtype` with: A for A, AAAA for AAAA, and for ANY
    /// (one RRset, RFC 8482) A unless no region has IPv4 addresses.
    pub fn family_for(&self, qtype: RecordType) -> Family {
        match qtype {
            RecordType::AAAA => Family::V6,
            RecordType::ANY
                if !self
                    .config
                    .regions
                    .iter()
                    .any(|region| region.serves(Family::V4)) =>
            {
                Family::V6
            }
            _ => Family::V4,
        }
    }
}
