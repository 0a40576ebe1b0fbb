//! The steering map: the database's networks merged by what each makes of the region order
//! under one config, built when the config or the database changes.
//!
//! Each distinct record is decoded and ordered once, at build; a query walks a tree of a
//! few hundred thousand nodes at most (gdnsd builds the same kind of tree from its
//! database), and neither the database file nor its records stay in memory.

use std::net::IpAddr;

use rustc_hash::FxHashMap;

use crate::config::Config;
use crate::geo::{GeoDb, GeoError, MAX_CLASS, MergedLookup, MergedTree, Place};
use crate::steering::{self, Basis};

/// What every network of one merged leaf shares.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Leaf {
    pub basis: Basis,
    /// The continent code, upper case, for the metrics.
    pub continent: Option<[u8; 2]>,
}

/// The database's tree merged by [`Leaf`], and the leaves.
#[derive(Debug)]
pub struct SteeringMap {
    tree: MergedTree,
    leaves: Vec<Leaf>,
    /// The leaf of a client the database has no data for.
    unknown: Leaf,
}

impl SteeringMap {
    /// Reads `geo` again and merges its networks under `config`'s steering rules.
    pub fn build(geo: &GeoDb, config: &Config) -> Result<Self, GeoError> {
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
