//! Health as it is published (keyed by region name) and as one view reads it (by region id).
//!
//! The monitor publishes a [`HealthSnapshot`] keyed by region *name*. A [`View`] resolves it
//! against its own region list into a [`HealthTable`] indexed by [`RegionId`]. A snapshot
//! built for another region list (an older config, another deployment) can therefore never
//! move traffic: names it does not know are ignored, and regions it does not mention keep
//! the state of a region with no verdict yet (up).
//!
//! [`View`]: crate::view::View

use std::collections::BTreeMap;

use crate::region::{Region, RegionId};

/// Whether one region may receive traffic, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegionHealth {
    pub up: bool,
    /// A short human reason, shown by `explain` and the dashboard.
    pub reason: String,
    /// The verdict changed recently, or the vantage points disagree about it: answers that
    /// use or skip this region get the short transition TTL, so clients follow the next
    /// change quickly.
    pub transition: bool,
}

impl RegionHealth {
    /// A region no verdict has been reached about: it keeps its traffic.
    pub fn assumed_up() -> Self {
        Self {
            up: true,
            reason: "no verdict yet: assumed up".to_string(),
            transition: false,
        }
    }
}

/// Published verdicts, keyed by region name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HealthSnapshot {
    regions: BTreeMap<String, RegionHealth>,
}

impl HealthSnapshot {
    /// No verdicts: every region counts as up.
    pub fn empty() -> Self {
        Self::default()
    }

    pub fn with(mut self, region: &str, health: RegionHealth) -> Self {
        self.regions.insert(region.to_string(), health);
        self
    }

    pub fn get(&self, region: &str) -> Option<&RegionHealth> {
        self.regions.get(region)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &RegionHealth)> {
        self.regions
            .iter()
            .map(|(name, health)| (name.as_str(), health))
    }
}

/// The health of one config's regions, indexed by [`RegionId`]; only built by resolving a
/// snapshot against that config's region list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthTable {
    regions: Vec<RegionHealth>,
}

impl HealthTable {
    /// Reads `snapshot` by name for every region of `regions`.
    pub fn resolve(snapshot: &HealthSnapshot, regions: &[Region]) -> Self {
        Self {
            regions: regions
                .iter()
                .map(|region| {
                    snapshot
                        .get(&region.name)
                        .cloned()
                        .unwrap_or_else(RegionHealth::assumed_up)
                })
                .collect(),
        }
    }

    /// A table given region by region, in id order (tests of the pure policy).
    pub fn from_regions(regions: Vec<RegionHealth>) -> Self {
        Self { regions }
    }

    /// Ids outside the table are down: a table never sends traffic somewhere it does not know.
    pub fn is_up(&self, region: RegionId) -> bool {
        self.regions
            .get(region.index())
            .is_some_and(|health| health.up)
    }

    pub fn get(&self, region: RegionId) -> Option<&RegionHealth> {
        self.regions.get(region.index())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::region::Location;

    fn region(id: u16, name: &str) -> Region {
        let nowhere = Location {
            latitude: 0.0,
            longitude: 0.0,
        };
        Region::bare(RegionId(id), name, nowhere)
    }

    fn down() -> RegionHealth {
        RegionHealth {
            up: false,
            reason: "down".to_string(),
            transition: false,
        }
    }

    #[test]
    fn a_table_reads_the_snapshot_by_name_not_by_position() {
        let regions = [region(0, "a"), region(1, "b"), region(2, "c")];
        // Built for a list where "c" came first: by position it would say "a" is down.
        let snapshot = HealthSnapshot::empty().with("c", down()).with("zz", down());
        let table = HealthTable::resolve(&snapshot, &regions);
        assert!(table.is_up(RegionId(0)));
        assert!(table.is_up(RegionId(1)));
        assert!(!table.is_up(RegionId(2)));
        // Ids outside the table are never up.
        assert!(!table.is_up(RegionId(3)));
        // Regions the snapshot does not mention keep their traffic.
        assert_eq!(table.get(RegionId(1)), Some(&RegionHealth::assumed_up()));
    }
}
