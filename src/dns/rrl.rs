//! Response-rate limiting (RRL) of UDP answers, as in BIND's `rate-limit` and Knot's
//! `mod-rrl`: a spoofed source cannot turn Meridian into an amplifier.
//!
//! Each answer is classified (a positive answer by its query name; NXDOMAIN and NODATA by the
//! zone; errors together) and counted against a token bucket keyed by the client's network
//! (/24 and /56 by default) and that class. Within the rate it is sent; over it, every
//! `slip`th is sent as a TC=1 reply of header, question and OPT only (a real resolver retries
//! over TCP, where a spoofed source cannot follow), and the rest are dropped. TCP is never
//! limited: a TCP client has proven its address. Nor is a UDP query with a valid server
//! cookie of ours (`cookie.rs`): only a client that received an earlier reply at that
//! address holds one, so a busy resolver that speaks cookies is never limited.
//!
//! The buckets live in one fixed-size table of atomic words shared by every UDP thread of a
//! node, created once with the node, so it outlives config reloads and cannot grow however
//! many sources are spoofed. Why not `governor`'s keyed limiter: it keeps every key in a
//! `DashMap` that only shrinks when `retain_recent` is called, so a flood of spoofed sources
//! grows it without bound between calls, and every check takes a shard lock and a clock
//! read. Here a check is one keyed hash, two relaxed loads and (only when the answer is
//! sent) one compare-and-swap; the clock is read once per batch of datagrams. Each word
//! holds a GCRA bucket (the "theoretical arrival time" of the next answer, which is a token
//! bucket in one number, as governor uses) and a tag of the key's hash. A key may sit in
//! either of two slots (two-choice hashing); when both hold other keys, the one whose
//! bucket is fullest (least recently or least heavily used) is taken over. A bucket taken
//! over forgets its debt, so under a table overflow a flood can get a fresh burst; with
//! 2^17 slots and a bucket busy for at most a second after its last answer, that takes over
//! a hundred thousand limited floods at once. The hash is keyed per process (SipHash with a
//! random key), so nobody can aim collisions at a victim's bucket.

use std::hash::{BuildHasher, Hasher, RandomState};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use crate::config::ResponseRateLimit;
use crate::view::SharedView;

/// Slots in the table: 2^17 words, 1 MiB per node.
const TABLE_BITS: u32 = 17;
const TABLE_SLOTS: usize = 1 << TABLE_BITS;

/// A slot: the tag (the top 16 bits of the key's hash) over the bucket's theoretical
/// arrival time, in microseconds since the table was made (48 bits: 8.9 years).
const TAT_BITS: u32 = 48;
const TAT_MASK: u64 = (1 << TAT_BITS) - 1;

/// Attempts at a contended compare-and-swap before the answer is let through: two threads
/// answering the same key at the same instant is rare, and a spin here would cost every query.
const CAS_ATTEMPTS: usize = 4;

/// What the UDP loop does with an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Send,
    Drop,
    /// Send a TC=1 reply without records instead ([`write_slip`]).
    Slip,
}

/// How an answer is counted: the part of the bucket key besides the client network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnswerClass {
    /// NOERROR with records (or truncated): keyed by the query name.
    Positive,
    /// NOERROR without records.
    NoData,
    NxDomain,
    /// Any other response code.
    Error,
}

/// The buckets of one node: made once, shared by its UDP threads, read with the settings of
/// whichever view is current.
#[derive(Debug)]
pub struct ResponseLimiter {
    view: SharedView,
    table: RateTable,
    epoch: Instant,
}

impl ResponseLimiter {
    pub fn new(view: SharedView) -> Self {
        Self {
            view,
            table: RateTable::new(),
            epoch: Instant::now(),
        }
    }

    /// The node's current view (read once per batch: its config's `response_rate_limit`).
    pub fn view(&self) -> arc_swap::Guard<std::sync::Arc<crate::view::View>> {
        self.view.load()
    }

    /// Microseconds from the table's creation to `at`: the clock of the buckets.
    pub fn micros(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.epoch).as_micros())
            .unwrap_or(u64::MAX)
            .min(TAT_MASK)
    }

    /// Judges one answer `reply` to `source` at `now` (from [`Self::micros`]). `limited`
    /// counts this thread's limited answers, for the slip.
    pub fn judge(
        &self,
        settings: &ResponseRateLimit,
        source: SocketAddr,
        reply: &[u8],
        now: u64,
        limited: &mut u64,
    ) -> Verdict {
        self.table.judge(settings, source.ip(), reply, now, limited)
    }
}

/// The fixed table of buckets, and the per-process key of its hash.
#[derive(Debug)]
pub(super) struct RateTable {
    slots: Box<[AtomicU64]>,
    hasher: RandomState,
}

impl RateTable {
    pub(super) fn new() -> Self {
        Self {
            slots: (0..TABLE_SLOTS).map(|_| AtomicU64::new(0)).collect(),
            hasher: RandomState::new(),
        }
    }

    pub(super) fn judge(
        &self,
        settings: &ResponseRateLimit,
        source: IpAddr,
        reply: &[u8],
        now: u64,
        limited: &mut u64,
    ) -> Verdict {
        if !settings.enabled {
            return Verdict::Send;
        }
        let source = source.to_canonical();
        if settings
            .exempt
            .iter()
            .any(|network| network.contains(&source))
        {
            return Verdict::Send;
        }
        let Some(class) = classify(reply) else {
            return Verdict::Send;
        };
        let rate = match class {
            AnswerClass::Error => settings.errors_per_second,
            _ => settings.responses_per_second,
        };
        let key = self.key(settings, source, class, reply);
        if self.admit(key, now, rate) {
            return Verdict::Send;
        }
        *limited = limited.wrapping_add(1);
        if settings.slip != 0 && (*limited).is_multiple_of(u64::from(settings.slip)) {
            Verdict::Slip
        } else {
            Verdict::Drop
        }
    }

    /// The keyed hash of (client network, class, and for a positive answer the query name
    /// in lower case).
    fn key(
        &self,
        settings: &ResponseRateLimit,
        source: IpAddr,
        class: AnswerClass,
        reply: &[u8],
    ) -> u64 {
        let mut hasher = self.hasher.build_hasher();
        match source {
            IpAddr::V4(v4) => {
                let bits = u32::from(v4) & prefix_mask_32(settings.ipv4_prefix);
                hasher.write_u8(4);
                hasher.write_u32(bits);
            }
            IpAddr::V6(v6) => {
                let bits = u128::from(v6) & prefix_mask_128(settings.ipv6_prefix);
                hasher.write_u8(6);
                hasher.write_u128(bits);
            }
        }
        hasher.write_u8(class as u8);
        if class == AnswerClass::Positive {
            let mut name = [0u8; 255];
            let length = lower_question_name(reply, &mut name);
            hasher.write(&name[..length]);
        }
        hasher.finish()
    }

    /// One answer for the bucket of `key` at `now` (microseconds), `rate` per second with
    /// bursts of one second's worth: true when it is within the rate (and counted).
    ///
    /// GCRA: the slot holds the time at which the bucket would be full again (`tat`). An
    /// answer costs `interval` = 1 s / rate; it is allowed while `tat` stays within one
    /// second (`rate` answers) of now. A refused answer changes nothing, so a flood that is
    /// over its limit only reads the slot.
    pub(super) fn admit(&self, key: u64, now: u64, rate: u32) -> bool {
        let interval = 1_000_000 / u64::from(rate.max(1));
        let tolerance = interval * u64::from(rate.max(1));
        let tag = key >> TAT_BITS;
        let mask = (TABLE_SLOTS - 1) as u64;
        let first = (key & mask) as usize;
        let second = ((key >> TABLE_BITS) & mask) as usize;
        for _ in 0..CAS_ATTEMPTS {
            let (index, old, tat) = self.pick(first, second, tag);
            let tat = tat.max(now);
            let next = tat + interval;
            if next - now > tolerance {
                return false;
            }
            let new = (tag << TAT_BITS) | (next & TAT_MASK);
            if self.slots[index]
                .compare_exchange(old, new, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
            {
                return true;
            }
        }
        true
    }

    /// The slot for `tag` (its index, its word, and its bucket's time: 0 for a slot taken
    /// over): the one already holding the tag, or else the one whose bucket is fullest.
    fn pick(&self, first: usize, second: usize, tag: u64) -> (usize, u64, u64) {
        let a = self.slots[first].load(Ordering::Relaxed);
        if a >> TAT_BITS == tag {
            return (first, a, a & TAT_MASK);
        }
        let b = self.slots[second].load(Ordering::Relaxed);
        if b >> TAT_BITS == tag {
            return (second, b, b & TAT_MASK);
        }
        if a & TAT_MASK <= b & TAT_MASK {
            (first, a, 0)
        } else {
            (second, b, 0)
        }
    }
}

fn prefix_mask_32(prefix: u8) -> u32 {
    u32::MAX
        .checked_shl(32 - u32::from(prefix.min(32)))
        .unwrap_or(0)
}

fn prefix_mask_128(prefix: u8) -> u128 {
    u128::MAX
        .checked_shl(128 - u32::from(prefix.min(128)))
        .unwrap_or(0)
}

/// The class of a reply, from its header. `None`: too short to be a reply, sent as it is.
pub fn classify(reply: &[u8]) -> Option<AnswerClass> {
    let header = reply.get(..12)?;
    let truncated = header[2] & 0x02 != 0;
    let answers = u16::from_be_bytes([header[6], header[7]]);
    Some(match header[3] & 0x0F {
        0 if answers > 0 || truncated => AnswerClass::Positive,
        0 => AnswerClass::NoData,
        3 => AnswerClass::NxDomain,
        _ => AnswerClass::Error,
    })
}

/// Copies the reply's question name, in lower case and wire form, into `out`; its length.
/// Stops at a compression pointer or the end of the packet (the key then covers less).
fn lower_question_name(reply: &[u8], out: &mut [u8; 255]) -> usize {
    if reply.get(4..6).is_none_or(|count| count == [0, 0]) {
        return 0;
    }
    let mut at = 12;
    let mut length = 0;
    while let Some(&label) = reply.get(at) {
        if label == 0 || label & 0xC0 != 0 {
            break;
        }
        let end = at + 1 + usize::from(label);
        let Some(bytes) = reply.get(at..end) else {
            break;
        };
        if length + bytes.len() > out.len() {
            break;
        }
        for (slot, byte) in out[length..].iter_mut().zip(bytes) {
            *slot = byte.to_ascii_lowercase();
        }
        length += bytes.len();
        at = end;
    }
    length
}

/// Rewrites `reply` into the slip for it: the same header with TC=1 and no records, the
/// question, and the OPT record when the reply has one (the query had one). False when the
/// reply cannot be read (it is then dropped instead).
pub fn write_slip(reply: &mut Vec<u8>) -> bool {
    let Some(layout) = SlipLayout::read(reply) else {
        return false;
    };
    let mut end = layout.question_end;
    let has_opt = layout.opt.is_some();
    if let Some(opt) = layout.opt {
        // The OPT record always lies after the question: move it up behind it.
        reply.copy_within(opt.clone(), end);
        end += opt.len();
    }
    reply.truncate(end);
    reply[2] |= 0x02;
    reply[6..10].fill(0);
    reply[10..12].copy_from_slice(&u16::from(has_opt).to_be_bytes());
    true
}

/// Where a reply's question ends and its OPT record lies.
struct SlipLayout {
    question_end: usize,
    opt: Option<std::ops::Range<usize>>,
}

impl SlipLayout {
    fn read(reply: &[u8]) -> Option<Self> {
        let count = |at: usize| {
            reply
                .get(at..at + 2)
                .map(|b| u16::from_be_bytes([b[0], b[1]]))
        };
        let questions = count(4)?;
        let records = u32::from(count(6)?) + u32::from(count(8)?);
        let additional = count(10)?;
        let mut at = 12;
        for _ in 0..questions {
            at = skip_name(reply, at)? + 4;
        }
        if at > reply.len() {
            return None;
        }
        let question_end = at;
        for _ in 0..records {
            at = skip_record(reply, at)?.1;
        }
        let mut opt = None;
        for _ in 0..additional {
            let (record_type, end) = skip_record(reply, at)?;
            if record_type == 41 {
                opt = Some(at..end);
                break;
            }
            at = end;
        }
        Some(Self { question_end, opt })
    }
}

/// The offset after the name at `at`.
fn skip_name(packet: &[u8], mut at: usize) -> Option<usize> {
    loop {
        let label = *packet.get(at)?;
        match label {
            0 => return Some(at + 1),
            label if label & 0xC0 == 0xC0 => return Some(at + 2),
            label if label & 0xC0 != 0 => return None,
            label => at += 1 + usize::from(label),
        }
    }
}

/// The type of the record at `at`, and the offset after it.
fn skip_record(packet: &[u8], at: usize) -> Option<(u16, usize)> {
    let at = skip_name(packet, at)?;
    let fixed = packet.get(at..at + 10)?;
    let record_type = u16::from_be_bytes([fixed[0], fixed[1]]);
    let end = at + 10 + usize::from(u16::from_be_bytes([fixed[8], fixed[9]]));
    (end <= packet.len()).then_some((record_type, end))
}

#[cfg(test)]
mod tests;
