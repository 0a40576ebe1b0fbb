//! What a run counts: queries in flight (matched by ID, expired after a timeout), answers
//! by rcode, and a latency histogram.

use std::collections::VecDeque;

/// Every ID of the 16-bit space, so a window can never run out while a slot waits.
const IDS: usize = 1 << 16;

#[derive(Debug, Clone, Copy, Default)]
struct Slot {
    busy: bool,
    seq: u32,
    query: u32,
    conn: u32,
    stamp_ns: u64,
}

/// A query that was answered or given up: which query, on which connection, sent when.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Done {
    pub(crate) query: usize,
    pub(crate) conn: usize,
    pub(crate) stamp_ns: u64,
}

/// The queries in flight on one socket (or one thread's TCP connections, which share the
/// ID space so that an ID names one query wherever its answer arrives).
#[derive(Debug)]
pub(crate) struct Inflight {
    slots: Vec<Slot>,
    /// Free IDs in first-freed, first-reused order: an ID comes back as late as possible,
    /// so a late answer to an expired query is unlikely to match a new one.
    free: VecDeque<u16>,
    /// (id, seq) in send order; the front is the oldest, the next to expire.
    order: VecDeque<(u16, u32)>,
    next_seq: u32,
    timeout_ns: u64,
}

impl Inflight {
    pub(crate) fn new(timeout_ns: u64, id_offset: u16) -> Self {
        // Threads start at different IDs so that their first queries differ on the wire.
        let free = (0..IDS)
            .map(|i| (i as u16).wrapping_add(id_offset))
            .collect();
        Self {
            slots: vec![Slot::default(); IDS],
            free,
            order: VecDeque::new(),
            next_seq: 0,
            timeout_ns,
        }
    }

    pub(crate) fn len(&self) -> usize {
        IDS - self.free.len()
    }

    /// Takes an ID for a query sent (or intended) at `stamp_ns`.
    pub(crate) fn start(&mut self, query: usize, conn: usize, stamp_ns: u64) -> Option<u16> {
        let id = self.free.pop_front()?;
        self.next_seq = self.next_seq.wrapping_add(1);
        let seq = self.next_seq;
        self.slots[usize::from(id)] = Slot {
            busy: true,
            seq,
            query: query as u32,
            conn: conn as u32,
            stamp_ns,
        };
        self.order.push_back((id, seq));
        Some(id)
    }

    /// The answer (or a failed send) for `id`; None when no query with that ID is waiting.
    pub(crate) fn finish(&mut self, id: u16) -> Option<Done> {
        let slot = &mut self.slots[usize::from(id)];
        if !slot.busy {
            return None;
        }
        slot.busy = false;
        self.free.push_back(id);
        Some(Done {
            query: slot.query as usize,
            conn: slot.conn as usize,
            stamp_ns: slot.stamp_ns,
        })
    }

    /// Gives up the queries older than the timeout at `now_ns`, oldest first, calling
    /// `lost` for each.
    pub(crate) fn expire(&mut self, now_ns: u64, mut lost: impl FnMut(Done)) {
        while let Some(&(id, seq)) = self.order.front() {
            let slot = self.slots[usize::from(id)];
            if slot.busy && slot.seq == seq {
                if slot.stamp_ns.saturating_add(self.timeout_ns) > now_ns {
                    break;
                }
                if let Some(done) = self.finish(id) {
                    lost(done);
                }
            }
            self.order.pop_front();
        }
    }

    /// Gives up every query waiting on connection `conn` (it was closed).
    pub(crate) fn fail_conn(&mut self, conn: usize) -> u64 {
        let ids: Vec<u16> = (0..IDS)
            .filter(|&i| self.slots[i].busy && self.slots[i].conn as usize == conn)
            .map(|i| i as u16)
            .collect();
        ids.iter().filter(|&&id| self.finish(id).is_some()).count() as u64
    }
}

/// Latency in microseconds: exact below 1024 us, then 64 steps per power of two (at most
/// 1.6% off), so a histogram is a few KiB whatever the run's length.
#[derive(Debug, Clone)]
pub(crate) struct Histogram {
    counts: Vec<u64>,
}

const EXACT: u64 = 1024;
const SUB_BITS: u32 = 6;

impl Histogram {
    pub(crate) fn new() -> Self {
        Self {
            counts: vec![0; Self::bucket(u64::MAX) + 1],
        }
    }

    fn bucket(us: u64) -> usize {
        if us < EXACT {
            return us as usize;
        }
        let exp = 63 - us.leading_zeros(); // >= 10
        let sub = (us >> (exp - SUB_BITS)) & ((1 << SUB_BITS) - 1);
        (EXACT + u64::from(exp - 10) * (1 << SUB_BITS) + sub) as usize
    }

    /// The smallest value of a bucket.
    fn value(bucket: usize) -> u64 {
        let bucket = bucket as u64;
        if bucket < EXACT {
            return bucket;
        }
        let exp = (bucket - EXACT) / (1 << SUB_BITS) + 10;
        let sub = (bucket - EXACT) % (1 << SUB_BITS);
        (1 << exp) + (sub << (exp - u64::from(SUB_BITS)))
    }

    pub(crate) fn record(&mut self, us: u64) {
        self.counts[Self::bucket(us)] += 1;
    }

    pub(crate) fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
    }

    /// The value at quantile `q` (0.0..=1.0); 0 when empty.
    pub(crate) fn quantile(&self, q: f64) -> u64 {
        let total: u64 = self.counts.iter().sum();
        if total == 0 {
            return 0;
        }
        let rank = ((q * total as f64).ceil() as u64).clamp(1, total);
        let mut seen = 0;
        for (bucket, count) in self.counts.iter().enumerate() {
            seen += count;
            if seen >= rank {
                return Self::value(bucket);
            }
        }
        0
    }
}

/// Everything one thread counted; summed over threads at the end.
#[derive(Debug, Clone)]
pub(crate) struct Stats {
    pub(crate) sent: u64,
    pub(crate) answered: u64,
    pub(crate) lost: u64,
    /// Replies with an ID nothing waits for (late after a timeout) or a different question.
    pub(crate) unmatched: u64,
    pub(crate) truncated: u64,
    pub(crate) reconnects: u64,
    pub(crate) rcodes: [u64; 16],
    pub(crate) latency: Histogram,
    pub(crate) elapsed_ns: u64,
    /// When the last good answer arrived, so a lost query's wait at the end of a run does
    /// not stretch the time the QPS is counted over.
    pub(crate) last_answer_ns: u64,
}

impl Stats {
    pub(crate) fn new() -> Self {
        Self {
            sent: 0,
            answered: 0,
            lost: 0,
            unmatched: 0,
            truncated: 0,
            reconnects: 0,
            rcodes: [0; 16],
            latency: Histogram::new(),
            elapsed_ns: 0,
            last_answer_ns: 0,
        }
    }

    pub(crate) fn merge(&mut self, other: &Stats) {
        self.sent += other.sent;
        self.answered += other.answered;
        self.lost += other.lost;
        self.unmatched += other.unmatched;
        self.truncated += other.truncated;
        self.reconnects += other.reconnects;
        for (a, b) in self.rcodes.iter_mut().zip(&other.rcodes) {
            *a += b;
        }
        self.latency.merge(&other.latency);
        self.elapsed_ns = self.elapsed_ns.max(other.elapsed_ns);
        self.last_answer_ns = self.last_answer_ns.max(other.last_answer_ns);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_round_down_within_two_percent() {
        for us in [0, 1, 500, 1023, 1024, 1500, 20_000, 999_999, 12_345_678] {
            let value = Histogram::value(Histogram::bucket(us));
            assert!(value <= us && us - value <= us / 60, "{us} -> {value}");
        }
        let mut h = Histogram::new();
        (1..=1000).for_each(|us| h.record(us));
        assert_eq!(h.quantile(0.5), 500);
        assert_eq!(h.quantile(0.99), 990);
        assert_eq!(h.quantile(1.0), 1000);
    }

    #[test]
    fn inflight_matches_ids_and_expires_in_order() {
        let mut inflight = Inflight::new(1000, 0);
        let a = inflight.start(7, 0, 0).unwrap();
        let b = inflight.start(8, 1, 500).unwrap();
        assert_eq!(inflight.len(), 2);
        assert_eq!(inflight.finish(b).unwrap().query, 8);
        assert!(inflight.finish(b).is_none());
        let mut lost = Vec::new();
        inflight.expire(999, |d| lost.push(d.query));
        assert!(lost.is_empty());
        inflight.expire(1000, |d| lost.push(d.query));
        assert_eq!(lost, vec![7]);
        assert!(inflight.finish(a).is_none());
        assert_eq!(inflight.len(), 0);
        inflight.start(9, 3, 0).unwrap();
        assert_eq!(inflight.fail_conn(3), 1);
    }
}
