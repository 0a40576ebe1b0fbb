//! DNS query counts and answer times, kept per thread and summed when `/metrics` is scraped.
//!
//! The UDP loop answers a query in about a microsecond. A shared atomic counter would move a
//! cache line between cores on every query, and a `metrics` handle looked up by labels
//! would cost more than the answer; gdnsd and Knot keep per-thread statistics for the same
//! reason. Each thread owns one block of cells: only that thread writes them (a relaxed
//! load and store, no locked instruction), and a scrape reads every block. Blocks outlive
//! their threads, so the counters never go backwards.
//!
//! Labels are small indices fixed at compile time (query type, response code, protocol,
//! continent) or given out once per region name ([`region_slots`]), so a query costs an
//! array index, never a string.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

/// The query types counted by name; everything else is `other`.
const QTYPES: [(u16, &str); 14] = [
    (1, "A"),
    (2, "NS"),
    (5, "CNAME"),
    (6, "SOA"),
    (12, "PTR"),
    (15, "MX"),
    (16, "TXT"),
    (28, "AAAA"),
    (33, "SRV"),
    (43, "DS"),
    (64, "SVCB"),
    (65, "HTTPS"),
    (255, "ANY"),
    (257, "CAA"),
];
/// Slot of a query type not in [`QTYPES`].
const QTYPE_OTHER: usize = QTYPES.len();
/// Slot of a message whose question could not be read.
const QTYPE_NONE: usize = QTYPES.len() + 1;
const QTYPE_SLOTS: usize = QTYPES.len() + 2;

/// The response codes an authoritative server sends; anything else is `other`.
const RCODES: [(u16, &str); 7] = [
    (0, "NOERROR"),
    (1, "FORMERR"),
    (2, "SERVFAIL"),
    (3, "NXDOMAIN"),
    (4, "NOTIMP"),
    (5, "REFUSED"),
    (16, "BADVERS"),
];
const RCODE_SLOTS: usize = RCODES.len() + 1;

/// Region label slots: `none` (not a steered answer, or one without addresses),
/// `fallback` (a service's fixed all-down addresses), one per region name seen since the
/// process started, and `other` once those run out.
pub const REGION_NONE: u8 = 0;
pub const REGION_FALLBACK: u8 = 1;
const REGION_FIRST_NAMED: usize = 2;
const REGION_SLOTS: usize = 32;
const REGION_OTHER: u8 = (REGION_SLOTS - 1) as u8;

/// Continent codes as the geo databases give them; `unknown` for a client without one.
const CONTINENTS: [&str; 7] = ["AF", "AN", "AS", "EU", "NA", "OC", "SA"];
const CONTINENT_SLOTS: usize = CONTINENTS.len() + 1;

/// Upper bounds of the answer-time buckets, in seconds; the last bucket is +Inf.
const DURATION_BOUNDS: [f64; 13] = [
    0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
    0.1,
];
const DURATION_SLOTS: usize = DURATION_BOUNDS.len() + 1;

/// The transport a query came over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Udp = 0,
    Tcp = 1,
}

const TRANSPORTS: [&str; 2] = ["udp", "tcp"];

/// What one answered query is counted as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Answered {
    pub transport: Transport,
    /// The question's type, `None` when the question could not be read.
    pub qtype: Option<u16>,
    pub rcode: u16,
    /// For a steered name: the answer's region slot and the client's continent.
    pub steered: Option<Steered>,
    /// Which path wrote the reply (not a metrics label: tests and benchmarks ask).
    pub path: AnswerPath,
    /// The query carried a valid server cookie of ours: its source address is real, so
    /// response-rate limiting leaves it alone (not a metrics label).
    pub proven: bool,
}

/// Which path wrote a reply: all of them write the same bytes for the same query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnswerPath {
    /// Parsed, answered and encoded.
    Full,
    /// Replayed from the reply cache.
    Cached,
    /// A negative answer written from its template.
    Template,
}

impl Answered {
    /// What the metrics count: everything but the path.
    pub fn labels(&self) -> (Transport, Option<u16>, u16, Option<Steered>) {
        (self.transport, self.qtype, self.rcode, self.steered)
    }
}

/// The labels of a steered answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Steered {
    /// A slot from [`region_slots`], or [`REGION_NONE`] / [`REGION_FALLBACK`].
    pub region: u8,
    pub continent: u8,
}

/// The continent slot of a continent code (`None` or an unknown code: `unknown`).
pub fn continent_slot(code: Option<&str>) -> u8 {
    code.and_then(|code| CONTINENTS.iter().position(|known| *known == code))
        .unwrap_or(CONTINENTS.len()) as u8
}

/// The label slot of each region name, in order: stable for the life of the process, so a
/// reload that reorders or renames regions never moves one region's counts to another.
pub fn region_slots<'a>(names: impl IntoIterator<Item = &'a str>) -> Box<[u8]> {
    let mut known = REGION_NAMES.lock().unwrap_or_else(PoisonError::into_inner);
    names
        .into_iter()
        .map(|name| {
            if let Some(at) = known.iter().position(|known| known == name) {
                return (REGION_FIRST_NAMED + at) as u8;
            }
            if REGION_FIRST_NAMED + known.len() < usize::from(REGION_OTHER) {
                known.push(name.to_string());
                return (REGION_FIRST_NAMED + known.len() - 1) as u8;
            }
            REGION_OTHER
        })
        .collect()
}

/// Counts one answered query on this thread.
pub fn count(answered: &Answered) {
    let qtype = match answered.qtype {
        None => QTYPE_NONE,
        Some(qtype) => QTYPES
            .iter()
            .position(|(code, _)| *code == qtype)
            .unwrap_or(QTYPE_OTHER),
    };
    let rcode = RCODES
        .iter()
        .position(|(code, _)| *code == answered.rcode)
        .unwrap_or(RCODES.len());
    let region = answered
        .steered
        .map_or(REGION_NONE, |steered| steered.region);
    let query = query_cell(
        answered.transport as usize,
        qtype,
        rcode,
        usize::from(region),
    );
    LOCAL.with(|cells| {
        bump(&cells.queries[query], 1);
        if let Some(steered) = answered.steered {
            let cell = usize::from(steered.continent).min(CONTINENT_SLOTS - 1) * REGION_SLOTS
                + usize::from(steered.region).min(REGION_SLOTS - 1);
            bump(&cells.steered[cell], 1);
        }
    });
}

/// Records `answers` answers over `transport` that each took `elapsed`, from the query
/// read off the socket to its reply handed to the kernel. A batch read and written together
/// shares one figure, so the clock is read twice per batch, not per query.
pub fn time(transport: Transport, answers: u64, elapsed: Duration) {
    if answers == 0 {
        return;
    }
    let seconds = elapsed.as_secs_f64();
    let bucket = DURATION_BOUNDS
        .iter()
        .position(|bound| seconds <= *bound)
        .unwrap_or(DURATION_BOUNDS.len());
    let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
    LOCAL.with(|cells| {
        let transport = transport as usize;
        bump(
            &cells.durations[transport * DURATION_SLOTS + bucket],
            answers,
        );
        bump(
            &cells.duration_nanos[transport],
            nanos.saturating_mul(answers),
        );
    });
}

fn query_cell(transport: usize, qtype: usize, rcode: usize, region: usize) -> usize {
    ((transport * QTYPE_SLOTS + qtype) * RCODE_SLOTS + rcode) * REGION_SLOTS
        + region.min(REGION_SLOTS - 1)
}

/// Adds to a cell only this thread writes: no locked read-modify-write needed.
fn bump(cell: &AtomicU64, by: u64) {
    cell.store(
        cell.load(Ordering::Relaxed).wrapping_add(by),
        Ordering::Relaxed,
    );
}

/// One thread's cells.
#[derive(Debug)]
struct Cells {
    queries: Box<[AtomicU64]>,
    steered: Box<[AtomicU64]>,
    durations: Box<[AtomicU64]>,
    duration_nanos: [AtomicU64; 2],
}

impl Cells {
    fn new() -> Self {
        let zeroes = |len: usize| (0..len).map(|_| AtomicU64::new(0)).collect();
        Self {
            queries: zeroes(TRANSPORTS.len() * QTYPE_SLOTS * RCODE_SLOTS * REGION_SLOTS),
            steered: zeroes(CONTINENT_SLOTS * REGION_SLOTS),
            durations: zeroes(TRANSPORTS.len() * DURATION_SLOTS),
            duration_nanos: [AtomicU64::new(0), AtomicU64::new(0)],
        }
    }
}

/// Every thread's cells, for the scrape.
static THREADS: OnceLock<Mutex<Vec<Arc<Cells>>>> = OnceLock::new();

/// Region names by slot, from [`REGION_FIRST_NAMED`] on.
static REGION_NAMES: Mutex<Vec<String>> = Mutex::new(Vec::new());

thread_local! {
    static LOCAL: Arc<Cells> = {
        let cells = Arc::new(Cells::new());
        THREADS
            .get_or_init(Mutex::default)
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(cells.clone());
        cells
    };
}

/// Sums of every thread's cells.
struct Totals {
    queries: Vec<u64>,
    steered: Vec<u64>,
    durations: Vec<u64>,
    duration_nanos: [u64; 2],
}

fn totals() -> Totals {
    let mut totals = Totals {
        queries: vec![0; TRANSPORTS.len() * QTYPE_SLOTS * RCODE_SLOTS * REGION_SLOTS],
        steered: vec![0; CONTINENT_SLOTS * REGION_SLOTS],
        durations: vec![0; TRANSPORTS.len() * DURATION_SLOTS],
        duration_nanos: [0; 2],
    };
    let add = |sums: &mut [u64], cells: &[AtomicU64]| {
        for (sum, cell) in sums.iter_mut().zip(cells) {
            *sum = sum.wrapping_add(cell.load(Ordering::Relaxed));
        }
    };
    if let Some(threads) = THREADS.get() {
        for cells in threads
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
        {
            add(&mut totals.queries, &cells.queries);
            add(&mut totals.steered, &cells.steered);
            add(&mut totals.durations, &cells.durations);
            add(&mut totals.duration_nanos, &cells.duration_nanos);
        }
    }
    totals
}

fn region_label(slot: usize, names: &[String]) -> &str {
    match slot {
        0 => "none",
        1 => "fallback",
        slot if slot == usize::from(REGION_OTHER) => "other",
        slot => names
            .get(slot - REGION_FIRST_NAMED)
            .map_or("other", String::as_str),
    }
}

/// Appends the DNS metrics to a Prometheus text exposition. Series that never counted are
/// left out; the histograms are always there, so a node that answered nothing says so.
pub fn render_into(out: &mut String) {
    let totals = totals();
    let names = REGION_NAMES
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    out.push_str("# HELP meridian_dns_queries_total DNS queries answered, by transport, question type, response code and the region a steered answer sent the client to.\n");
    out.push_str("# TYPE meridian_dns_queries_total counter\n");
    for (cell, value) in totals.queries.iter().enumerate() {
        if *value == 0 {
            continue;
        }
        let (transport, qtype, rcode, region) = query_labels(cell);
        let _ = writeln!(
            out,
            "meridian_dns_queries_total{{protocol=\"{}\",qtype=\"{}\",rcode=\"{}\",region=\"{}\"}} {value}",
            TRANSPORTS[transport],
            qtype_label(qtype),
            rcode_label(rcode),
            escape(region_label(region, &names)),
        );
    }

    out.push_str("# HELP meridian_dns_steered_answers_total Answers for steered names, by the client's continent and the region answered.\n");
    out.push_str("# TYPE meridian_dns_steered_answers_total counter\n");
    for (cell, value) in totals.steered.iter().enumerate() {
        if *value == 0 {
            continue;
        }
        let continent = continent_label(cell / REGION_SLOTS);
        let _ = writeln!(
            out,
            "meridian_dns_steered_answers_total{{continent=\"{continent}\",region=\"{}\"}} {value}",
            escape(region_label(cell % REGION_SLOTS, &names)),
        );
    }

    out.push_str("# HELP meridian_dns_answer_duration_seconds From a query read off the socket to its reply handed to the kernel; queries read and answered in one batch share one figure.\n");
    out.push_str("# TYPE meridian_dns_answer_duration_seconds histogram\n");
    for (transport, protocol) in TRANSPORTS.iter().enumerate() {
        let buckets = &totals.durations[transport * DURATION_SLOTS..][..DURATION_SLOTS];
        let mut cumulative = 0;
        for (bucket, count) in buckets.iter().enumerate() {
            cumulative += count;
            let bound = DURATION_BOUNDS
                .get(bucket)
                .map_or_else(|| "+Inf".to_string(), f64::to_string);
            let _ = writeln!(
                out,
                "meridian_dns_answer_duration_seconds_bucket{{protocol=\"{protocol}\",le=\"{bound}\"}} {cumulative}"
            );
        }
        let _ = writeln!(
            out,
            "meridian_dns_answer_duration_seconds_sum{{protocol=\"{protocol}\"}} {}",
            totals.duration_nanos[transport] as f64 / 1e9
        );
        let _ = writeln!(
            out,
            "meridian_dns_answer_duration_seconds_count{{protocol=\"{protocol}\"}} {cumulative}"
        );
    }
}

/// Totals since the process started, for the dashboard (which computes rates from two).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Summary {
    pub queries: u64,
    pub by_protocol: BTreeMap<&'static str, u64>,
    pub by_rcode: BTreeMap<&'static str, u64>,
    pub by_qtype: BTreeMap<&'static str, u64>,
    /// Queries by the region answered (`none`: not steered, or no addresses).
    pub by_region: BTreeMap<String, u64>,
    /// Steered answers by the client's continent.
    pub by_continent: BTreeMap<&'static str, u64>,
}

/// Every query counted so far, summed a few ways.
pub fn summary() -> Summary {
    let totals = totals();
    let names = REGION_NAMES
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    let mut summary = Summary::default();
    for (cell, value) in totals.queries.iter().enumerate() {
        if *value == 0 {
            continue;
        }
        let (transport, qtype, rcode, region) = query_labels(cell);
        summary.queries += value;
        *summary
            .by_protocol
            .entry(TRANSPORTS[transport])
            .or_default() += value;
        *summary.by_qtype.entry(qtype_label(qtype)).or_default() += value;
        *summary.by_rcode.entry(rcode_label(rcode)).or_default() += value;
        *summary
            .by_region
            .entry(region_label(region, &names).to_string())
            .or_default() += value;
    }
    for (cell, value) in totals.steered.iter().enumerate() {
        if *value > 0 {
            *summary
                .by_continent
                .entry(continent_label(cell / REGION_SLOTS))
                .or_default() += value;
        }
    }
    summary
}

/// (transport, qtype, rcode, region) slots of a query cell: [`query_cell`] undone.
fn query_labels(cell: usize) -> (usize, usize, usize, usize) {
    let region = cell % REGION_SLOTS;
    let rest = cell / REGION_SLOTS;
    let rcode = rest % RCODE_SLOTS;
    let rest = rest / RCODE_SLOTS;
    (rest / QTYPE_SLOTS, rest % QTYPE_SLOTS, rcode, region)
}

fn qtype_label(slot: usize) -> &'static str {
    match slot {
        QTYPE_OTHER => "other",
        QTYPE_NONE => "none",
        slot => QTYPES[slot].1,
    }
}

fn rcode_label(slot: usize) -> &'static str {
    RCODES.get(slot).map_or("other", |(_, name)| name)
}

fn continent_label(slot: usize) -> &'static str {
    CONTINENTS.get(slot).copied().unwrap_or("unknown")
}

/// A label value in the text format: backslash, double quote and newline escaped.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_slots_are_stable_across_calls_and_orders() {
        let first = region_slots(["slot-test-a", "slot-test-b"]);
        let again = region_slots(["slot-test-b", "slot-test-c", "slot-test-a"]);
        assert_eq!(again[0], first[1]);
        assert_eq!(again[2], first[0]);
        assert_ne!(again[1], first[0]);
        assert_ne!(again[1], first[1]);
        assert!(
            first
                .iter()
                .all(|slot| usize::from(*slot) >= REGION_FIRST_NAMED)
        );
    }

    #[test]
    fn continents_map_to_their_slot_and_anything_else_to_unknown() {
        assert_eq!(CONTINENTS[usize::from(continent_slot(Some("EU")))], "EU");
        assert_eq!(usize::from(continent_slot(Some("XX"))), CONTINENTS.len());
        assert_eq!(usize::from(continent_slot(None)), CONTINENTS.len());
    }

    #[test]
    fn counts_from_several_threads_are_summed_with_their_labels() {
        let [region] = *region_slots(["render-test"]) else {
            unreachable!()
        };
        let answered = Answered {
            path: AnswerPath::Full,
            proven: false,
            transport: Transport::Tcp,
            qtype: Some(257),
            rcode: 3,
            steered: Some(Steered {
                region,
                continent: continent_slot(Some("OC")),
            }),
        };
        let workers: Vec<_> = (0..3)
            .map(|_| {
                std::thread::spawn(move || {
                    for _ in 0..5 {
                        count(&answered);
                    }
                    time(Transport::Tcp, 5, Duration::from_micros(30));
                })
            })
            .collect();
        for worker in workers {
            worker.join().expect("worker");
        }
        let mut text = String::new();
        render_into(&mut text);
        assert!(
            text.contains("meridian_dns_queries_total{protocol=\"tcp\",qtype=\"CAA\",rcode=\"NXDOMAIN\",region=\"render-test\"} 15\n"),
            "{text}"
        );
        assert!(
            text.contains(
                "meridian_dns_steered_answers_total{continent=\"OC\",region=\"render-test\"} 15\n"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "meridian_dns_answer_duration_seconds_bucket{protocol=\"tcp\",le=\"0.000025\"} 0\n"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "meridian_dns_answer_duration_seconds_bucket{protocol=\"tcp\",le=\"0.00005\"} 15\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("meridian_dns_answer_duration_seconds_count{protocol=\"tcp\"} 15\n"),
            "{text}"
        );
    }

    #[test]
    fn the_summary_adds_up_by_each_label() {
        let [region] = *region_slots(["summary-test"]) else {
            unreachable!()
        };
        let steered = Answered {
            path: AnswerPath::Full,
            proven: false,
            transport: Transport::Udp,
            qtype: Some(28),
            rcode: 0,
            steered: Some(Steered {
                region,
                continent: continent_slot(Some("SA")),
            }),
        };
        let before = summary();
        count(&steered);
        count(&steered);
        count(&Answered {
            path: AnswerPath::Full,
            proven: false,
            transport: Transport::Udp,
            qtype: None,
            rcode: 1,
            steered: None,
        });
        let after = summary();
        assert_eq!(after.queries - before.queries, 3);
        assert_eq!(after.by_region["summary-test"], 2);
        assert_eq!(
            after.by_continent["SA"] - before.by_continent.get("SA").copied().unwrap_or(0),
            2
        );
        assert!(after.by_rcode["FORMERR"] >= 1);
        assert!(after.by_qtype["none"] >= 1);
    }

    #[test]
    fn hostile_region_names_are_escaped() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
