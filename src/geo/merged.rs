//! A database's search tree merged by what its records mean to the caller: the compact tree
//! a query walks, built once per database and config.
//!
//! A full City database's tree has millions of nodes (11.6 million in DB-IP City Lite, 81 MB
//! of its 104 MB), because it tells apart every network with its own record. Steering tells
//! apart far fewer: the caller maps each record to a class (for Meridian, what the record
//! makes of the region order), and subtrees whose leaves all have one class become one leaf,
//! as gdnsd does with its own network tree. Equal subtrees are stored once. What is left is
//! small enough to stay in the CPU caches, and the file itself need not stay in memory.
//!
//! The merged network holding an address is the widest block around it with one class: the
//! ECS scope that says so is wider than the database's own network, and as true.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use rustc_hash::FxHashMap;

/// A child value: a node index below [`LEAF`], else a leaf whose class is the value less
/// [`LEAF`]; [`EMPTY`] is the leaf of networks without data.
const LEAF: u32 = 1 << 31;
const EMPTY: u32 = u32::MAX;
/// The mark of a shared node being merged, never stored in the tree.
const PENDING: u32 = u32::MAX - 2;

/// Bits a jump table resolves at once: 2^16 entries, 320 KiB, the classic first stride of
/// a longest-prefix-match table (DIR-16).
const JUMP_BITS: u32 = 16;

/// The largest class a caller may return.
pub const MAX_CLASS: u32 = PENDING - LEAF - 1;

/// Why a tree could not be merged: the file's tree is corrupt.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TreeError {
    #[error("the search tree is cut short: node {0} lies past the end of the file")]
    Truncated(usize),
    #[error("the search tree loops back to node {0}")]
    Cycle(usize),
    #[error("the search tree is deeper than an address has bits, at node {0}")]
    TooDeep(usize),
    #[error("the search tree has a record size of {0} bits (24, 28 or 32 expected)")]
    RecordSize(u16),
    #[error("more than {MAX_CLASS} classes")]
    TooManyClasses,
}

/// The layout of a database's search tree, from its metadata.
#[derive(Debug, Clone, Copy)]
pub struct TreeLayout {
    pub node_count: usize,
    pub record_size: u16,
    pub ip_version: u16,
}

/// Where a lookup ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MergedLookup {
    /// The merged network holding the address, in the address's family.
    pub network: Option<(IpAddr, u8)>,
    /// The class of its records, if it has data.
    pub class: Option<u32>,
}

/// The merged tree: two child values per node.
#[derive(Debug, Clone)]
pub struct MergedTree {
    nodes: Vec<[u32; 2]>,
    root: u32,
    /// Where IPv4 lookups start (in an IPv6 tree the node at `::/96`), and at what depth of
    /// a 128-bit path: less than 96 when a leaf covers all of `::/96`.
    v4_start: u32,
    v4_depth: u8,
    /// The first [`JUMP_BITS`] bits of IPv4 and IPv6 walks, precomputed: every lookup
    /// would walk them one dependent load at a time.
    v4_jump: Jump,
    v6_jump: Jump,
    ip_version: u16,
}

impl MergedTree {
    /// Merges the tree in `bytes` (a whole MMDB file). `classify` is called once per
    /// distinct record, with an address of a network that holds it and the record's
    /// pointer, and returns its class. Every node is visited once, whatever shape a corrupt
    /// file has: a cycle or a path longer than an address is an error, not a hang.
    pub fn build(
        bytes: &[u8],
        layout: TreeLayout,
        mut classify: impl FnMut(IpAddr, usize) -> u32,
    ) -> Result<Self, TreeError> {
        let TreeLayout {
            node_count,
            record_size,
            ip_version,
        } = layout;
        if ![24, 28, 32].contains(&record_size) {
            return Err(TreeError::RecordSize(record_size));
        }
        // The tree must lie inside the bytes before bit sets are sized by its node count.
        let tree_len = node_count.checked_mul(usize::from(record_size) / 4);
        if tree_len.is_none_or(|len| len > bytes.len()) {
            return Err(TreeError::Truncated(node_count.saturating_sub(1)));
        }
        let bits: u32 = if ip_version == 6 { 128 } else { 32 };
        let mut merger = Merger {
            bytes,
            node_count,
            record_size,
            done: FxHashMap::default(),
            classes: FxHashMap::default(),
            interned: FxHashMap::default(),
            nodes: Vec::new(),
        };
        let root = if node_count == 0 {
            EMPTY
        } else {
            merger.merge_from_root(bits, &mut |path: u128, pointer| {
                let addr = if ip_version == 6 {
                    IpAddr::V6(Ipv6Addr::from(path))
                } else {
                    IpAddr::V4(Ipv4Addr::from(path as u32))
                };
                classify(addr, pointer)
            })?
        };
        let mut tree = Self {
            nodes: merger.nodes,
            root,
            v4_start: root,
            v4_depth: 96,
            v4_jump: Jump::default(),
            v6_jump: Jump::default(),
            ip_version,
        };
        if ip_version == 6 {
            let (value, depth) = tree.descend(root, 0, 96, |_| 0);
            (tree.v4_start, tree.v4_depth) = (value, depth as u8);
        }
        if tree.v4_depth >= 96 {
            tree.v4_jump = Jump::build(&tree, tree.v4_start);
        }
        if ip_version == 6 {
            tree.v6_jump = Jump::build(&tree, root);
        }
        Ok(tree)
    }

    /// How many nodes the merged tree has.
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// Walks the tree for a canonical address. An IPv6 address in an IPv4-only database is
    /// not found, as the database's own reader does.
    pub fn lookup(&self, addr: IpAddr) -> MergedLookup {
        let found = match addr {
            // A leaf above ::/96 covers all of IPv4: an IPv4 network of prefix 0.
            IpAddr::V4(_) if self.v4_depth < 96 => Some((self.v4_start, 0)),
            IpAddr::V4(v4) => {
                // 32-bit shifts: cheaper than the 128-bit path an IPv6 walk takes.
                let bits = u32::from(v4);
                let prefix = (bits >> (32 - JUMP_BITS)) as usize;
                self.walk(&self.v4_jump, self.v4_start, 32, prefix, |depth| {
                    (bits >> (31 - depth)) as usize & 1
                })
            }
            IpAddr::V6(_) if self.ip_version != 6 => None,
            IpAddr::V6(v6) => {
                let bits = u128::from(v6);
                let prefix = (bits >> (128 - JUMP_BITS)) as usize;
                self.walk(&self.v6_jump, self.root, 128, prefix, |depth| {
                    (bits >> (127 - depth)) as usize & 1
                })
            }
        };
        match found {
            Some((value, prefix)) => MergedLookup {
                network: Some((masked(addr, prefix), prefix)),
                class: (value != EMPTY).then_some(value - LEAF),
            },
            None => MergedLookup {
                network: None,
                class: None,
            },
        }
    }

    /// The leaf and prefix of an address of `width` bits (`prefix`: its first
    /// [`JUMP_BITS`]; `bit(depth)` reads any), from `start`: the jump table takes the first
    /// bits in one step, the tree the rest. `None` when the path runs out of bits first.
    fn walk(
        &self,
        jump: &Jump,
        start: u32,
        width: u32,
        prefix: usize,
        bit: impl Fn(u32) -> usize,
    ) -> Option<(u32, u8)> {
        let (value, depth) = jump.get(prefix).unwrap_or((start, 0));
        let (value, depth) = self.descend(value, depth, width, bit);
        (value >= LEAF).then_some((value, depth as u8))
    }

    /// Follows `bit(depth)` from `value` at `depth` until a leaf or `width` bits.
    fn descend(
        &self,
        mut value: u32,
        mut depth: u32,
        width: u32,
        bit: impl Fn(u32) -> usize,
    ) -> (u32, u32) {
        while value < LEAF && depth < width {
            value = self.nodes[value as usize][bit(depth)];
            depth += 1;
        }
        (value, depth)
    }
}

/// Where each [`JUMP_BITS`]-bit prefix leads from one node: a node at that depth, or the
/// leaf met above it. Empty when the walk starts at a leaf.
#[derive(Debug, Clone, Default)]
struct Jump {
    values: Vec<u32>,
    /// The depth of each leaf among `values`; a node's is always [`JUMP_BITS`]. Apart, so
    /// that the table a lookup touches first is 4 bytes an entry, and a walk that goes on
    /// below never reads this one.
    depths: Vec<u8>,
}

impl Jump {
    fn build(tree: &MergedTree, start: u32) -> Self {
        if start >= LEAF {
            return Self::default();
        }
        let (values, depths) = (0..1u32 << JUMP_BITS)
            .map(|prefix| {
                let (value, depth) = tree.descend(start, 0, JUMP_BITS, |depth| {
                    (prefix >> (JUMP_BITS - 1 - depth)) as usize & 1
                });
                (value, depth as u8)
            })
            .unzip();
        Self { values, depths }
    }

    /// The value and depth the walk reaches for `prefix` (its first [`JUMP_BITS`] bits).
    fn get(&self, prefix: usize) -> Option<(u32, u32)> {
        let value = *self.values.get(prefix)?;
        let depth = if value < LEAF {
            JUMP_BITS
        } else {
            u32::from(self.depths[prefix])
        };
        Some((value, depth))
    }
}

/// `addr` with the bits past `prefix` cleared: the network of that prefix holding it.
fn masked(addr: IpAddr, prefix: u8) -> IpAddr {
    match addr {
        IpAddr::V4(v4) => {
            let mask = u32::MAX
                .checked_shl(32 - u32::from(prefix.min(32)))
                .unwrap_or(0);
            IpAddr::V4((u32::from(v4) & mask).into())
        }
        IpAddr::V6(v6) => {
            let mask = u128::MAX
                .checked_shl(128 - u32::from(prefix.min(128)))
                .unwrap_or(0);
            IpAddr::V6((u128::from(v6) & mask).into())
        }
    }
}

struct Merger<'a> {
    bytes: &'a [u8],
    node_count: usize,
    record_size: u16,
    /// The merged value of each shared file node (see [`Merger::shared_nodes`]) once done;
    /// [`PENDING`] while its subtree is walked.
    done: FxHashMap<u32, u32>,
    /// Each record pointer's class, as a leaf value.
    classes: FxHashMap<u32, u32>,
    /// Merged nodes by their children: equal subtrees are stored once.
    interned: FxHashMap<[u32; 2], u32>,
    nodes: Vec<[u32; 2]>,
}

/// One step of the walk: a node to enter, or one whose children are done.
enum Step {
    Enter {
        node: u32,
        depth: u32,
        path: u128,
    },
    Leave {
        node: u32,
        depth: u32,
        path: u128,
        children: [u32; 2],
    },
}

impl Merger<'_> {
    /// The two records of file node `node`. A record is at most 32 bits wide.
    fn read(&self, node: usize) -> Result<[u32; 2], TreeError> {
        let size = usize::from(self.record_size) / 4;
        let at = node.checked_mul(size).ok_or(TreeError::Truncated(node))?;
        let b = self
            .bytes
            .get(at..at + size)
            .ok_or(TreeError::Truncated(node))?;
        let be = |bytes: &[u8]| bytes.iter().fold(0u32, |n, b| (n << 8) | u32::from(*b));
        Ok(match self.record_size {
            24 => [be(&b[0..3]), be(&b[3..6])],
            28 => [
                (u32::from(b[3] >> 4) << 24) | be(&b[0..3]),
                (u32::from(b[3] & 0x0f) << 24) | be(&b[4..7]),
            ],
            _ => [be(&b[0..4]), be(&b[4..8])],
        })
    }

    /// The file nodes that more than one record points at (the root counts as pointed at
    /// once from outside), as a bit set. In an MMDB file that is the IPv4 subtree, which
    /// its IPv6 aliases reach again, and in a corrupt file whatever a cycle or a shared
    /// subtree passes through. Only these need their merged value kept; every other node
    /// lies on one path and is merged once. So the build needs two bits a node here rather
    /// than a value a node (46 MB for DB-IP City Lite's 11.6 million nodes).
    fn shared_nodes(&self) -> Result<Vec<u64>, TreeError> {
        let words = self.node_count.div_ceil(64);
        let (mut seen, mut shared) = (vec![0u64; words], vec![0u64; words]);
        set_bit(&mut seen, 0);
        for node in 0..self.node_count {
            for child in self.read(node)? {
                let child = child as usize;
                if child < self.node_count {
                    if has_bit(&seen, child) {
                        set_bit(&mut shared, child);
                    } else {
                        set_bit(&mut seen, child);
                    }
                }
            }
        }
        Ok(shared)
    }

    /// The merged value of file node 0, walking depth-first without recursion. Every
    /// cycle passes through a shared node (the one where its path from the root joins it),
    /// so meeting a shared node again while its subtree is walked finds them all.
    fn merge_from_root(
        &mut self,
        bits: u32,
        classify: &mut dyn FnMut(u128, usize) -> u32,
    ) -> Result<u32, TreeError> {
        let shared = self.shared_nodes()?;
        // Paths are kept left-aligned in 128 bits whatever the family.
        let mut stack = vec![Step::Enter {
            node: 0,
            depth: 0,
            path: 0,
        }];
        // The merged values of the nodes entered, each pushed once its subtree is done and
        // popped by its parent.
        let mut values: Vec<u32> = Vec::new();
        while let Some(step) = stack.pop() {
            match step {
                Step::Enter { node, depth, path } => {
                    if has_bit(&shared, node as usize) {
                        match self.done.get(&node) {
                            Some(&PENDING) => return Err(TreeError::Cycle(node as usize)),
                            Some(&value) => {
                                values.push(value);
                                continue;
                            }
                            None => {
                                self.done.insert(node, PENDING);
                            }
                        }
                    }
                    if depth >= bits {
                        return Err(TreeError::TooDeep(node as usize));
                    }
                    let children = self.read(node as usize)?;
                    stack.push(Step::Leave {
                        node,
                        depth,
                        path,
                        children,
                    });
                    for (side, child) in children.into_iter().enumerate().rev() {
                        if (child as usize) < self.node_count {
                            stack.push(Step::Enter {
                                node: child,
                                depth: depth + 1,
                                path: path | child_bit(side, depth),
                            });
                        }
                    }
                }
                Step::Leave {
                    node,
                    depth,
                    path,
                    children,
                } => {
                    // The right subtree was finished last.
                    let mut done = [None; 2];
                    for side in [1, 0] {
                        if (children[side] as usize) < self.node_count {
                            done[side] = Some(values.pop().ok_or(TreeError::Cycle(node as usize))?);
                        }
                    }
                    let mut merged = [0; 2];
                    for side in 0..2 {
                        merged[side] = match done[side] {
                            Some(value) => value,
                            None => self.leaf(
                                children[side],
                                path | child_bit(side, depth),
                                bits,
                                classify,
                            )?,
                        };
                    }
                    let value = self.intern(merged)?;
                    if has_bit(&shared, node as usize) {
                        self.done.insert(node, value);
                    }
                    values.push(value);
                }
            }
        }
        values.pop().ok_or(TreeError::Cycle(0))
    }

    /// The leaf of a record that is not a node: empty, or its class.
    fn leaf(
        &mut self,
        record: u32,
        path: u128,
        bits: u32,
        classify: &mut dyn FnMut(u128, usize) -> u32,
    ) -> Result<u32, TreeError> {
        if record as usize == self.node_count {
            return Ok(EMPTY);
        }
        if let Some(&value) = self.classes.get(&record) {
            return Ok(value);
        }
        let path = if bits == 32 { path >> 96 } else { path };
        let class = classify(path, record as usize);
        if class > MAX_CLASS {
            return Err(TreeError::TooManyClasses);
        }
        let value = LEAF + class;
        self.classes.insert(record, value);
        Ok(value)
    }

    /// One leaf for two equal leaves, else the one stored node with these children.
    fn intern(&mut self, children: [u32; 2]) -> Result<u32, TreeError> {
        if children[0] == children[1] && children[0] >= LEAF {
            return Ok(children[0]);
        }
        if let Some(&index) = self.interned.get(&children) {
            return Ok(index);
        }
        let index = u32::try_from(self.nodes.len())
            .ok()
            .filter(|index| *index < LEAF)
            .ok_or(TreeError::TooManyClasses)?;
        self.nodes.push(children);
        self.interned.insert(children, index);
        Ok(index)
    }
}

fn has_bit(bits: &[u64], index: usize) -> bool {
    bits[index / 64] & (1 << (index % 64)) != 0
}

fn set_bit(bits: &mut [u64], index: usize) {
    bits[index / 64] |= 1 << (index % 64);
}

/// The path bit of the `side` child of a node at `depth`.
fn child_bit(side: usize, depth: u32) -> u128 {
    if side == 1 { 1u128 << (127 - depth) } else { 0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 24-bit tree from (left, right) records.
    fn tree_bytes(nodes: &[[u32; 2]]) -> Vec<u8> {
        nodes
            .iter()
            .flat_map(|pair| {
                pair.iter()
                    .flat_map(|record| record.to_be_bytes()[1..].to_vec())
            })
            .collect()
    }

    fn layout(node_count: usize, ip_version: u16) -> TreeLayout {
        TreeLayout {
            node_count,
            record_size: 24,
            ip_version,
        }
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn records_become_classes_and_networks_the_widest_block_of_one_class() {
        // Two nodes: 0.0.0.0/1 -> node 1, 128.0.0.0/1 -> record A (pointer 18);
        // node 1: 0.0.0.0/2 empty, 64.0.0.0/2 -> record B (pointer 23).
        let bytes = tree_bytes(&[[1, 18], [2, 23]]);
        let mut asked = Vec::new();
        let tree = MergedTree::build(&bytes, layout(2, 4), |addr, pointer| {
            asked.push((addr, pointer));
            u32::from(pointer == 23)
        })
        .unwrap_or_else(|e| panic!("{e}"));
        asked.sort_by_key(|(_, pointer)| *pointer);
        assert_eq!(asked, [(ip("128.0.0.0"), 18), (ip("64.0.0.0"), 23)]);
        let found = |addr: &str| {
            let found = tree.lookup(ip(addr));
            (found.network, found.class)
        };
        assert_eq!(found("200.1.2.3"), (Some((ip("128.0.0.0"), 1)), Some(0)));
        assert_eq!(found("100.1.2.3"), (Some((ip("64.0.0.0"), 2)), Some(1)));
        assert_eq!(found("1.2.3.4"), (Some((ip("0.0.0.0"), 2)), None));
        // IPv6 in an IPv4 tree: not found at all.
        assert_eq!(found("2001:db8::1"), (None, None));

        // One class for both records: the whole tree is one leaf, and every address is in
        // its /0, except the empty quarter.
        let tree = MergedTree::build(&tree_bytes(&[[1, 18], [18, 23]]), layout(2, 4), |_, _| 7)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(tree.node_count(), 0);
        let found = tree.lookup(ip("1.2.3.4"));
        assert_eq!(
            (found.network, found.class),
            (Some((ip("0.0.0.0"), 0)), Some(7))
        );
    }

    #[test]
    fn a_subtree_many_records_point_at_is_merged_once() {
        // Both records of each of 31 nodes point at the next node, and the last holds two
        // records: 2^31 paths, each to be walked if a shared node were merged once per
        // path. In a well-formed file only the IPv4 subtree is shared (by its aliases).
        let mut nodes: Vec<[u32; 2]> = (1..32u32).map(|next| [next, next]).collect();
        let data = 32 + 16;
        nodes.push([data, data + 5]);
        let mut classified = 0;
        let tree = MergedTree::build(&tree_bytes(&nodes), layout(32, 4), |_, pointer| {
            classified += 1;
            u32::from(pointer == data as usize + 5)
        })
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(classified, 2, "each record is classified once");
        let class = |addr: &str| tree.lookup(ip(addr)).class;
        assert_eq!(class("10.0.0.2"), Some(0));
        assert_eq!(class("10.0.0.3"), Some(1));
        assert_eq!(class("255.255.255.255"), Some(1));
        // One node per depth: equal subtrees are stored once.
        assert_eq!(tree.node_count(), 32);
    }

    #[test]
    fn a_cycle_or_a_path_longer_than_an_address_is_an_error_not_a_hang() {
        let cycle = tree_bytes(&[[1, 2], [0, 2]]);
        assert_eq!(
            MergedTree::build(&cycle, layout(2, 6), |_, _| 0).err(),
            Some(TreeError::Cycle(0))
        );
        // A loop below the root: node 3 leads back to node 1.
        let lower = tree_bytes(&[[1, 4], [2, 4], [3, 4], [1, 4]]);
        assert_eq!(
            MergedTree::build(&lower, layout(4, 6), |_, _| 0).err(),
            Some(TreeError::Cycle(1))
        );
        // A chain 40 nodes deep in an IPv4 tree.
        let chain: Vec<[u32; 2]> = (0..40u32).map(|node| [node + 1, 40]).collect();
        assert_eq!(
            MergedTree::build(&tree_bytes(&chain), layout(40, 4), |_, _| 0).err(),
            Some(TreeError::TooDeep(32))
        );
        let cut = tree_bytes(&[[1, 2]]);
        assert_eq!(
            MergedTree::build(&cut, layout(2, 6), |_, _| 0).err(),
            Some(TreeError::Truncated(1))
        );
        // A node count no file could hold is refused before anything is sized by it.
        assert_eq!(
            MergedTree::build(&cut, layout(usize::MAX / 2, 6), |_, _| 0).err(),
            Some(TreeError::Truncated(usize::MAX / 2 - 1))
        );
    }

    #[test]
    fn ipv4_lookups_in_an_ipv6_tree_start_at_the_ipv4_subtree() {
        // 96 nodes of zeros down to ::/96, whose node splits 0.0.0.0/1 (record A, pointer
        // 115) from 128.0.0.0/1 (record B, pointer 120); the rest of IPv6 is empty.
        let mut nodes: Vec<[u32; 2]> = (0..96u32).map(|node| [node + 1, 97]).collect();
        nodes.push([115, 120]);
        let tree = MergedTree::build(&tree_bytes(&nodes), layout(97, 6), |addr, pointer| {
            assert!(matches!(addr, IpAddr::V6(_)), "{addr}");
            u32::from(pointer == 120)
        })
        .unwrap_or_else(|e| panic!("{e}"));
        let v4 = tree.lookup(ip("200.1.2.3"));
        assert_eq!(
            (v4.network, v4.class),
            (Some((ip("128.0.0.0"), 1)), Some(1))
        );
        let mapped = tree.lookup(ip("::10.1.2.3"));
        assert_eq!(
            (mapped.network, mapped.class),
            (Some((ip("::"), 97)), Some(0))
        );
        let v6 = tree.lookup(ip("2001:db8::1"));
        // 2001:: begins 001: empty from the third bit on.
        assert_eq!((v6.network, v6.class), (Some((ip("2000::"), 3)), None));
    }
}
