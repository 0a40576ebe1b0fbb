//! Least request by the power of two choices: draw two distinct eligible backends at random
//! and take the less loaded.
//!
//! Comparing two random backends rather than scanning for the global minimum avoids the
//! herd: every worker thread would otherwise send to the same idle backend until its
//! in-flight count catches up. Two choices already bring the maximum load down
//! exponentially compared with one (Mitzenmacher).
//!
//! Load is `(in_flight + 1) / weight`, the backend's load per unit of weight if this request
//! went there. The `+ 1` matters when backends are idle: with plain `in_flight / weight`
//! every idle backend scores 0 and weights would be ignored at low traffic, whereas here an
//! idle backend of weight 3 beats an idle one of weight 1.

use std::cmp::Ordering;

use super::{Candidate, Pick, below, mix64};

/// Added to `random` before mixing it into the second draw, so the two draws differ even
/// for `random == 0`.
const SECOND_DRAW: u64 = 0x9e37_79b9_7f4a_7c15;

pub(super) fn pick(candidates: &[Candidate], pick: &Pick<'_>) -> Option<usize> {
    let eligible = (0..candidates.len())
        .filter(|&index| pick.is_eligible(candidates, index))
        .count();
    match eligible {
        0 => return None,
        1 => return pick.first_eligible(candidates),
        _ => {}
    }
    let second_random = mix64(pick.random.wrapping_add(SECOND_DRAW));
    let first_rank = below(pick.random, eligible);
    // Draw from the other `eligible - 1` and step over the first: distinct, still uniform.
    let mut second_rank = below(second_random, eligible - 1);
    if second_rank >= first_rank {
        second_rank += 1;
    }
    let first = nth_eligible(candidates, pick, first_rank)?;
    let second = nth_eligible(candidates, pick, second_rank)?;
    let chosen = match compare_load(&candidates[first], &candidates[second]) {
        Ordering::Less => first,
        Ordering::Greater => second,
        // The multiply-shift draw used the high bits; the low bit is left for the tie, so
        // equally loaded pairs split evenly instead of favouring one position.
        Ordering::Equal if second_random & 1 == 0 => first,
        Ordering::Equal => second,
    };
    Some(chosen)
}

fn nth_eligible(candidates: &[Candidate], pick: &Pick<'_>, rank: usize) -> Option<usize> {
    (0..candidates.len())
        .filter(|&index| pick.is_eligible(candidates, index))
        .nth(rank)
}

/// `(a.in_flight + 1) / a.weight` against the same for `b`, by cross-multiplication: exact,
/// no floats. Both products fit in `u64` (at most `2^32 * (2^32 - 1)`).
fn compare_load(a: &Candidate, b: &Candidate) -> Ordering {
    let a_load = (u64::from(a.in_flight) + 1) * u64::from(b.weight);
    let b_load = (u64::from(b.in_flight) + 1) * u64::from(a.weight);
    a_load.cmp(&b_load)
}
