//! The per-region operator entries and how they are set and merged (pure).

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::collections::btree_map::Entry;

use serde::{Deserialize, Serialize};

use super::Operator;

/// One region's operator state, as the last change to win left it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperatorEntry {
    #[serde(with = "operator_name")]
    pub state: Operator,
    /// Bumped by every change; the higher version wins a merge.
    pub version: u64,
    /// The node that made the change.
    pub by: String,
    /// Wall-clock time of the change, in milliseconds since the Unix epoch; for display only.
    pub at_unix_ms: u64,
}

impl OperatorEntry {
    /// The merge order of the module doc: version, then state, then `by`, then `at_unix_ms`.
    fn merge_order(&self, other: &Self) -> Ordering {
        self.version
            .cmp(&other.version)
            .then_with(|| state_rank(self.state).cmp(&state_rank(other.state)))
            .then_with(|| self.by.cmp(&other.by))
            .then_with(|| self.at_unix_ms.cmp(&other.at_unix_ms))
    }
}

/// Which state wins between equal versions: a drain over a force-up over nothing.
fn state_rank(state: Operator) -> u8 {
    match state {
        Operator::None => 0,
        Operator::ForcedUp => 1,
        Operator::Drained => 2,
    }
}

/// Every region's operator entry, keyed by region name. Serialized as that map, which is also
/// what the gossip carries.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct OperatorState {
    regions: BTreeMap<String, OperatorEntry>,
}

impl OperatorState {
    /// No entries: every region is [`Operator::None`].
    pub fn empty() -> Self {
        Self::default()
    }

    /// Sets `region` to `state`, as changed by node `by` at `at_unix_ms`, with a version one
    /// above the highest this node has seen for the region (1 for a region never seen).
    pub fn set(
        &mut self,
        region: &str,
        state: Operator,
        by: &str,
        at_unix_ms: u64,
    ) -> &OperatorEntry {
        let version = self
            .regions
            .get(region)
            .map_or(0, |entry| entry.version)
            // A peer could gossip u64::MAX; saturating keeps the node running, and the merge
            // order still makes every node agree.
            .saturating_add(1);
        let entry = OperatorEntry {
            state,
            version,
            by: by.to_string(),
            at_unix_ms,
        };
        match self.regions.entry(region.to_string()) {
            Entry::Occupied(mut occupied) => {
                occupied.insert(entry);
                occupied.into_mut()
            }
            Entry::Vacant(vacant) => vacant.insert(entry),
        }
    }

    /// Undrains or un-forces `region`: a [`set`](Self::set) to [`Operator::None`], which keeps
    /// the entry as a tombstone so an older drain heard later does not come back.
    pub fn clear(&mut self, region: &str, by: &str, at_unix_ms: u64) -> &OperatorEntry {
        self.set(region, Operator::None, by, at_unix_ms)
    }

    /// Takes, per region, the greater of this node's entry and `other`'s (the module doc's
    /// order). Returns the regions whose entry was replaced, sorted; when it is not empty the
    /// state should be saved and the verdicts decided again. A replaced entry may hold the same
    /// [`Operator`] as before (a newer version of the same drain).
    pub fn merge(&mut self, other: &OperatorState) -> Vec<String> {
        let mut changed = Vec::new();
        for (region, theirs) in &other.regions {
            let replace = self
                .regions
                .get(region)
                .is_none_or(|ours| theirs.merge_order(ours) == Ordering::Greater);
            if replace {
                self.regions.insert(region.clone(), theirs.clone());
                changed.push(region.clone());
            }
        }
        changed
    }

    /// The operator state of `region`; [`Operator::None`] when it has no entry.
    pub fn operator_for(&self, region: &str) -> Operator {
        self.regions
            .get(region)
            .map_or(Operator::None, |entry| entry.state)
    }

    pub fn get(&self, region: &str) -> Option<&OperatorEntry> {
        self.regions.get(region)
    }

    /// Every entry, tombstones included, sorted by region name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &OperatorEntry)> {
        self.regions
            .iter()
            .map(|(region, entry)| (region.as_str(), entry))
    }

    /// The drains and force-ups, as [`Inputs::operator`](super::super::quorum::Inputs::operator)
    /// takes them; tombstones are left out, since a missing region is [`Operator::None`].
    pub fn to_inputs_map(&self) -> BTreeMap<String, Operator> {
        self.regions
            .iter()
            .filter(|(_, entry)| entry.state != Operator::None)
            .map(|(region, entry)| (region.clone(), entry.state))
            .collect()
    }
}

/// [`Operator`] on the wire and in the state file: `"none"`, `"drained"` or `"forced_up"`. The
/// quorum module stays free of serde; this is the one place the names are written down.
mod operator_name {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use super::Operator;

    #[derive(Serialize, Deserialize)]
    #[serde(rename_all = "snake_case")]
    enum Name {
        None,
        Drained,
        ForcedUp,
    }

    pub(super) fn serialize<S: Serializer>(
        state: &Operator,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        let name = match state {
            Operator::None => Name::None,
            Operator::Drained => Name::Drained,
            Operator::ForcedUp => Name::ForcedUp,
        };
        name.serialize(serializer)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Operator, D::Error> {
        Ok(match Name::deserialize(deserializer)? {
            Name::None => Operator::None,
            Name::Drained => Operator::Drained,
            Name::ForcedUp => Operator::ForcedUp,
        })
    }
}
