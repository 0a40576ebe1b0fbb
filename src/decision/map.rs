//! The steering map: the database's networks merged by what each makes of the region order
//! under one config, built when the config or the database changes.
//!
//! Each distinct record is decoded and ordered once, at build; a query walks a tree of a
//! few hundred thousand nodes at most (gdnsd builds the same kind of tree from its
//! database), and neither the database file nor its records stay in memory.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError, Weak};

use rustc_hash::FxHashMap;

use crate::config::Config;
use crate::geo::{GeoDb, GeoError, GeoIdentity, MAX_CLASS, MergedLookup, MergedTree, Place};
use crate::region::{Location, RegionId};
use crate::steering::{self, Basis};

/// What every network of one merged leaf shares.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Leaf {
    pub basis: Basis,
    /// The continent code, upper case, for the metrics.
    pub continent: Option<[u8; 2]>,
}

/// Everything a map is built from: the database file, the rules by place and the regions'
/// locations (not the CIDR rules, which are matched apart).
#[derive(Debug, PartialEq)]
struct Inputs {
    geo: GeoIdentity,
    default_order: Vec<RegionId>,
    subdivision: HashMap<String, Vec<RegionId>>,
    country: HashMap<String, Vec<RegionId>>,
    continent: HashMap<String, Vec<RegionId>>,
    regions: Vec<(RegionId, Location)>,
}

impl Inputs {
    fn of(geo: &GeoDb, config: &Config) -> Option<Self> {
        let rules = &config.steering;
        Some(Self {
            geo: geo.identity()?,
            default_order: rules.default_order.clone(),
            subdivision: rules.subdivision.clone(),
            country: rules.country.clone(),
            continent: rules.continent.clone(),
            regions: config.regions.iter().map(|r| (r.id, r.location)).collect(),
        })
    }
}

/// The maps in use in this process, by what they were built from: the regions of a demo
/// (or of a test cluster) share one, and a reload that changes neither the database nor
/// the steering keeps the one it has instead of merging a full database again (a second
/// or two).
static BUILT: Mutex<Vec<(Inputs, Weak<SteeringMap>)>> = Mutex::new(Vec::new());

/// The database's tree merged by [`Leaf`], and the leaves.
#[derive(Debug)]
pub struct SteeringMap {
    tree: MergedTree,
    leaves: Vec<Leaf>,
    /// The leaf of a client the database has no data for.
    unknown: Leaf,
}

impl SteeringMap {
    /// The map for `geo` under `config`: one in use already if it was built from the same
    /// file and rules, else a new one ([`Self::build`]).
    pub fn shared(geo: &GeoDb, config: &Config) -> Result<Arc<Self>, GeoError> {
        let Some(inputs) = Inputs::of(geo, config) else {
            return Ok(Arc::new(Self::build(geo, config)?));
        };
        // Held while building: regions starting together wait for one build, not three.
        let mut built = BUILT.lock().unwrap_or_else(PoisonError::into_inner);
        built.retain(|(_, map)| map.strong_count() > 0);
        if let Some(map) = built
            .iter()
            .find(|(known, _)| *known == inputs)
            .and_then(|(_, map)| map.upgrade())
        {
            return Ok(map);
        }
        let map = Arc::new(Self::build(geo, config)?);
        built.push((inputs, Arc::downgrade(&map)));
        Ok(map)
    }

    /// Reads `geo` again and merges its networks under `config`'s steering rules.
    fn build(geo: &GeoDb, config: &Config) -> Result<Self, GeoError> {
        let leaf_of = |place: &Place| Leaf {
            basis: steering::basis(place, &config.steering, &config.regions),
            continent: place
                .continent
                .as_deref()
                .and_then(|code| <[u8; 2]>::try_from(code.as_bytes()).ok()),
        };
        let mut index: FxHashMap<Leaf, u32> = FxHashMap::default();
        let mut leaves = Vec::new();
        let tree = geo.merged(|place| {
            let leaf = leaf_of(place);
            if let Some(&class) = index.get(&leaf) {
                return class;
            }
            // Past MAX_CLASS the merge stops with an error; no config comes near.
            let class = u32::try_from(leaves.len()).unwrap_or(MAX_CLASS + 1);
            leaves.push(leaf.clone());
            index.insert(leaf, class);
            class
        })?;
        Ok(Self {
            tree,
            leaves,
            unknown: leaf_of(&Place::default()),
        })
    }

    /// Where `addr` is: its merged network and leaf index.
    pub fn lookup(&self, addr: IpAddr) -> MergedLookup {
        self.tree.lookup(addr)
    }

    /// The leaf with index `class`, or the leaf of a client without data.
    pub fn leaf(&self, class: Option<usize>) -> &Leaf {
        class
            .and_then(|class| self.leaves.get(class))
            .unwrap_or(&self.unknown)
    }

    /// Nodes and leaves, for the load log.
    pub fn size(&self) -> (usize, usize) {
        (self.tree.node_count(), self.leaves.len())
    }
}
