//! Spreading the clients of a region that is down over the next healthy regions, in
//! proportion to their capacity, each client subnet always to the same region.
//!
//! Every name server must give a client the same answer, whatever its build: the subnet is
//! hashed with a function written out here (FNV-1a, then splitmix64's finaliser), never
//! with std's `DefaultHasher`, whose output may change between Rust versions. The tests pin
//! its output.

use std::net::IpAddr;

use crate::region::{Region, RegionId};

/// The prefix an IPv4 client is hashed on: the usual size of one network behind one resolver.
pub const SPREAD_PREFIX_V4: u8 = 24;
/// The prefix an IPv6 client is hashed on: one site (RFC 6177).
pub const SPREAD_PREFIX_V6: u8 = 48;

/// A client as the spread sees it: its address, and how many leading bits of it are known
/// (the ECS source prefix, or the full length for a packet source).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientNet {
    pub addr: IpAddr,
    pub prefix: u8,
}

/// How a spilled client was placed among the regions it could go to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spread {
    /// How many regions the spill was spread over (the next healthy candidates, at most
    /// `spill_regions`).
    pub regions: u8,
    /// The client address was masked to this prefix before hashing: every address in that
    /// block gets the same region, so the answer's ECS scope is at least this long.
    pub prefix: u8,
    /// Where the subnet's hash fell in `[0, total)`; a region's share of that range is its
    /// capacity.
    pub point: u64,
    /// The capacities of the regions spread over, added up.
    pub total: u64,
}

/// The prefix `client` is hashed on: /24 for IPv4, /48 for IPv6, or the client's own
/// prefix when that is shorter (nothing finer is known about it).
pub fn spread_prefix(client: ClientNet) -> u8 {
    let usual = match client.addr {
        IpAddr::V4(_) => SPREAD_PREFIX_V4,
        IpAddr::V6(_) => SPREAD_PREFIX_V6,
    };
    usual.min(client.prefix)
}

/// The client's address masked to `prefix` bits, as bytes in network order.
fn masked(addr: IpAddr, prefix: u8) -> ([u8; 16], usize) {
    let mut bytes = [0u8; 16];
    match addr {
        IpAddr::V4(v4) => {
            let mask = u32::MAX
                .checked_shl(32 - u32::from(prefix.min(32)))
                .unwrap_or(0);
            bytes[..4].copy_from_slice(&(u32::from(v4) & mask).to_be_bytes());
            (bytes, 4)
        }
        IpAddr::V6(v6) => {
            let mask = u128::MAX
                .checked_shl(128 - u32::from(prefix.min(128)))
                .unwrap_or(0);
            bytes.copy_from_slice(&(u128::from(v6) & mask).to_be_bytes());
            (bytes, 16)
        }
    }
}

/// The hash of a client subnet: FNV-1a (64 bits) over the masked address bytes (4 for IPv4,
/// 16 for IPv6), then splitmix64's finaliser, so that neighbouring subnets, which differ in
/// one low byte, land far apart in the high bits the point is read from. Fixed forever:
/// changing it moves clients between regions on a mixed-version fleet.
pub fn subnet_hash(addr: IpAddr, prefix: u8) -> u64 {
    const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;
    let (bytes, len) = masked(addr, prefix);
    let mut hash = FNV_OFFSET;
    for byte in &bytes[..len] {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(FNV_PRIME);
    }
    hash = (hash ^ (hash >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    hash = (hash ^ (hash >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    hash ^ (hash >> 31)
}

/// `hash` scaled to `[0, total)` by its high bits (multiply and shift: no modulo bias worth
/// speaking of, and no division).
fn point(hash: u64, total: u64) -> u64 {
    // The product of two u64s shifted right by 64 is below `total`, so it fits a u64.
    ((u128::from(hash) * u128::from(total)) >> 64) as u64
}

/// The region of `pool` (healthy candidates, nearest first) that `client` goes to: each
/// region takes a share of the hash range equal to its capacity, in pool order. `None` for
/// an empty pool.
pub(super) fn pick(
    pool: &[RegionId],
    regions: &[Region],
    client: ClientNet,
) -> Option<(RegionId, Spread)> {
    let nearest = *pool.first()?;
    let capacity = |id: &RegionId| regions.get(id.index()).map_or(0, |r| u64::from(r.capacity));
    let total: u64 = pool.iter().map(capacity).sum();
    let prefix = spread_prefix(client);
    let point = point(subnet_hash(client.addr, prefix), total);
    let spread = Spread {
        regions: u8::try_from(pool.len()).unwrap_or(u8::MAX),
        prefix,
        point,
        total,
    };
    let mut end = 0;
    for id in pool {
        end += capacity(id);
        if point < end {
            return Some((*id, spread));
        }
    }
    // Only when no region has capacity (the config refuses 0): the nearest of them.
    Some((nearest, spread))
}

/// The ECS scope of a spilled answer: it depends on the database network and rules as any
/// answer does (`scope`), and on the block the client was hashed on, so it holds for no
/// more than the smaller of the two; never longer than the client's source prefix.
pub fn spilled_scope(scope: u8, spread: &Spread, source_prefix: u8) -> u8 {
    scope.max(spread.prefix).min(source_prefix)
}
