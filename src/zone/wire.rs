//! The zone's names in wire form (lower case), for the answer paths that never build a
//! hickory `Name`: which names exist, what they own, and where a name's apex starts.
//!
//! It says what [`ZoneData::resolve`](super::ZoneData::resolve) would end in without
//! walking it, for the questions whose answer is negative: a test walks both over every
//! name and type and holds them equal.

use hickory_proto::rr::{LowerName, Name, RecordType};
use rustc_hash::FxHashMap;

use super::Node;

/// What a name owns, as far as a negative answer depends on it.
#[derive(Debug)]
struct Owned {
    /// The types of its static RRsets.
    types: Box<[u16]>,
    /// It owns a CNAME: every other type follows it.
    cname: bool,
    /// A steered name: A, AAAA and ANY are answered per client.
    steered: bool,
}

/// A negative answer the zone gives to a question, with its SOA in authority.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Negative {
    /// No such name.
    NxDomain,
    /// The name exists, without data of the type asked (and no CNAME to follow).
    NoData,
}

/// Where a name lies relative to the zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// Not in the zone.
    Outside,
    /// In the zone; the apex starts at this offset of the name, and the label right above
    /// it (if any) starts at `above`.
    Inside {
        apex_at: usize,
        above: Option<usize>,
    },
}

/// Every name of the zone (empty non-terminals too) in lower-case wire form.
#[derive(Debug)]
pub struct WireIndex {
    apex: Box<[u8]>,
    names: FxHashMap<Box<[u8]>, Owned>,
}

/// `name` in wire form, lower case, uncompressed.
pub fn lower_wire(name: &Name) -> Vec<u8> {
    let mut wire = Vec::with_capacity(name.len() + 1);
    for label in name.iter() {
        // Labels are at most 63 bytes: the length fits.
        wire.push(label.len() as u8);
        wire.extend(label.iter().map(u8::to_ascii_lowercase));
    }
    wire.push(0);
    wire
}

impl WireIndex {
    pub(super) fn build<'a>(
        apex: &LowerName,
        nodes: impl Iterator<Item = (&'a LowerName, &'a Node)>,
    ) -> Self {
        let names = nodes
            .map(|(name, node)| {
                let owned = Owned {
                    types: node
                        .rrsets
                        .iter()
                        .map(|(rtype, _)| u16::from(*rtype))
                        .collect(),
                    cname: node.rrset(RecordType::CNAME).is_some(),
                    steered: node.service.is_some(),
                };
                (lower_wire(&Name::from(name.clone())).into(), owned)
            })
            .collect();
        Self {
            apex: lower_wire(&Name::from(apex.clone())).into(),
            names,
        }
    }

    /// The apex in lower-case wire form.
    pub fn apex(&self) -> &[u8] {
        &self.apex
    }

    /// Where the lower-case wire name `name` lies (`None`: not a well-formed name).
    pub fn place(&self, name: &[u8]) -> Option<Place> {
        let mut at = 0;
        let mut previous = None;
        loop {
            if name.get(at..) == Some(&self.apex[..]) {
                return Some(Place::Inside {
                    apex_at: at,
                    above: previous,
                });
            }
            let len = usize::from(*name.get(at)?);
            if len == 0 {
                return Some(Place::Outside);
            }
            previous = Some(at);
            at += 1 + len;
        }
    }

    /// The negative answer the zone gives to `qtype` at the in-zone lower-case wire name
    /// `name`, class IN; `None` when the answer has records (or is steered).
    pub fn negative(&self, name: &[u8], qtype: u16) -> Option<Negative> {
        let Some(owned) = self.names.get(name) else {
            return Some(Negative::NxDomain);
        };
        let any = u16::from(RecordType::ANY);
        let addresses = [u16::from(RecordType::A), u16::from(RecordType::AAAA), any];
        if owned.steered && addresses.contains(&qtype) {
            return None;
        }
        let cname = u16::from(RecordType::CNAME);
        if owned.cname && qtype != cname && qtype != any {
            return None;
        }
        let empty = if qtype == any {
            owned.types.is_empty()
        } else {
            !owned.types.contains(&qtype)
        };
        empty.then_some(Negative::NoData)
    }
}
