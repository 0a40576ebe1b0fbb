//! The CIDR overrides, and a binary trie over them: the longest rule holding an address and
//! the ECS scope the rules impose, in one walk of at most 32 or 128 steps however many
//! rules there are (a scan of every rule per query would make thousands of rules cost
//! thousands of times one).

use std::net::IpAddr;
use std::ops::Deref;

use super::CidrRule;

/// No child, no rule.
const NONE: u32 = u32::MAX;

#[derive(Debug, Clone, Copy)]
struct Node {
    child: [u32; 2],
    /// The first rule whose network ends at this node.
    rule: u32,
}

impl Default for Node {
    fn default() -> Self {
        Self {
            child: [NONE; 2],
            rule: NONE,
        }
    }
}

/// One family's trie; node 0 is the root.
#[derive(Debug, Clone)]
struct Trie {
    nodes: Vec<Node>,
    /// Address width in bits.
    width: u8,
}

impl Trie {
    fn new(width: u8) -> Self {
        Self {
            nodes: vec![Node::default()],
            width,
        }
    }

    /// Bit `depth` (0 = most significant) of `bits`, an address of this trie's width.
    fn bit(&self, bits: u128, depth: u8) -> usize {
        ((bits >> (self.width - 1 - depth)) & 1) as usize
    }

    fn insert(&mut self, bits: u128, prefix: u8, rule: u32) {
        let mut node = 0;
        for depth in 0..prefix {
            let bit = self.bit(bits, depth);
            let next = self.nodes[node].child[bit];
            node = if next == NONE {
                self.nodes.push(Node::default());
                let at = (self.nodes.len() - 1) as u32;
                self.nodes[node].child[bit] = at;
                at as usize
            } else {
                next as usize
            };
        }
        if self.nodes[node].rule == NONE {
            self.nodes[node].rule = rule;
        }
    }

    /// The longest rule holding `bits` with its prefix length, and the deepest bit at which
    /// a rule's network leaves the address's path.
    fn walk(&self, bits: u128) -> (Option<(usize, u8)>, Option<u8>) {
        let (mut matched, mut leaves) = (None, None);
        let mut node = &self.nodes[0];
        for depth in 0..=self.width {
            if node.rule != NONE {
                matched = Some((node.rule as usize, depth));
            }
            if depth == self.width {
                break;
            }
            let bit = self.bit(bits, depth);
            if node.child[1 - bit] != NONE {
                leaves = Some(depth);
            }
            match node.child[bit] {
                NONE => break,
                next => node = &self.nodes[next as usize],
            }
        }
        (matched, leaves)
    }
}

/// The CIDR overrides, longest prefix first, with their trie.
#[derive(Debug, Clone)]
pub struct CidrRules {
    rules: Vec<CidrRule>,
    v4: Trie,
    v6: Trie,
}

impl Default for CidrRules {
    fn default() -> Self {
        Vec::new().into()
    }
}

impl From<Vec<CidrRule>> for CidrRules {
    fn from(rules: Vec<CidrRule>) -> Self {
        let (mut v4, mut v6) = (Trie::new(32), Trie::new(128));
        for (index, rule) in rules.iter().enumerate() {
            let prefix = rule.network.prefix_len();
            match rule.network.network() {
                IpAddr::V4(addr) => v4.insert(u128::from(u32::from(addr)), prefix, index as u32),
                IpAddr::V6(addr) => v6.insert(u128::from(addr), prefix, index as u32),
            }
        }
        Self { rules, v4, v6 }
    }
}

impl Deref for CidrRules {
    type Target = [CidrRule];

    fn deref(&self) -> &[CidrRule] {
        &self.rules
    }
}

/// Where the CIDR rules put one address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CidrMatch {
    /// The longest rule holding the address, by index.
    pub rule: Option<usize>,
    /// The least ECS scope the rules allow an answer for the address: the matched rule's
    /// prefix, and one bit more than the address shares with any rule that does not hold
    /// it (so the answer's block keeps every such rule out).
    pub scope: u8,
}

impl CidrRules {
    /// The rules' verdict on `addr`: one walk down one trie.
    pub fn lookup(&self, addr: IpAddr) -> CidrMatch {
        let (matched, leaves) = match addr {
            IpAddr::V4(addr) => self.v4.walk(u128::from(u32::from(addr))),
            IpAddr::V6(addr) => self.v6.walk(u128::from(addr)),
        };
        let scope = matched
            .map_or(0, |(_, prefix)| prefix)
            .max(leaves.map_or(0, |depth| depth + 1));
        CidrMatch {
            rule: matched.map(|(rule, _)| rule),
            scope,
        }
    }
}
