//! Negative answers without the full path: NXDOMAIN and NODATA for names in the zone, and
//! REFUSED for names outside it, written from a template learned from the full path.
//!
//! A flood of random names (the "random subdomain" attack) asks what is never asked again:
//! on the full path each costs a parse, an answer and an encoding, and kept in the reply
//! cache each would push out an answer that is asked. A negative answer is the same for
//! every name but for the question it echoes and the SOA's compression pointers, which
//! point at the apex inside that question. So the full path answers one synthetic name per
//! view and thread, the pointers in its SOA are noted, and every later negative answer is
//! the header, the query's own question and that SOA with its pointers moved.
//!
//! The bytes are exactly the full path's, which a test checks over many names, cases and
//! types. Three conditions keep them so: the SOA's names must not share the label above the
//! apex with the question (the encoder would then point further into the question: those
//! few names take the full path), the question must not have so many labels that the
//! encoder stops remembering names to point at (hickory keeps 64; a name may have 127), and
//! the SOA must fit the query's buffer whole.

use std::cell::RefCell;
use std::net::{Ipv4Addr, SocketAddr};
use std::rc::Rc;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{LowerName, RData, RecordType};

use super::cookie::Judged;
use super::replay::{self, PlainQuery};
use crate::view::View;
use crate::zone::{Negative, WirePlace, lower_wire};

/// Where a compression pointer in the template's SOA points.
#[derive(Debug, Clone, Copy)]
enum Target {
    /// This many bytes into the question's apex.
    Apex(u16),
    /// This many bytes into the authority section itself.
    Authority(u16),
}

/// Compression pointers in a record: (offset, target).
type Pointers = Box<[(usize, Target)]>;

/// The negative answers of one view, as the full path writes them.
#[derive(Debug)]
struct Template {
    /// Header bytes 2 and 3 (flags, RCODE) of NXDOMAIN, NODATA and REFUSED, RD clear.
    nxdomain: [u8; 2],
    nodata: [u8; 2],
    refused: Option<[u8; 2]>,
    /// The SOA record after a question, and its compression pointers (offset, target).
    authority: Box<[u8]>,
    pointers: Pointers,
    /// Lower-case labels (length byte first) right above the apex in the SOA's in-zone
    /// names: a question with one of them there takes the full path.
    guarded: Box<[Box<[u8]>]>,
    /// The most labels a question may have for the encoder to remember, after all of them,
    /// every name in the SOA that the template's pointers rely on.
    max_labels: usize,
}

/// How many names (a name and its suffixes, one per label) hickory's encoder remembers for
/// compression per message: `COMPRESSION_CANDIDATE_LIMIT` in hickory-proto 0.26's
/// `BinEncoder`. The question stores one per label first.
const REMEMBERED_NAMES: usize = 64;

/// The template of the view generation a thread last saw (`None`: this view's negative
/// answers could not be learned, so they take the full path).
type Learned = (u64, Option<Rc<Template>>);

thread_local! {
    static TEMPLATE: RefCell<Learned> = const { RefCell::new((0, None)) };
}

/// The full path, uncounted: what `respond` writes for a packet, and its RCODE.
pub(crate) type FullPath<'a> = &'a dyn Fn(&View, &[u8], &mut Vec<u8>) -> Option<u16>;

/// Writes the negative answer to `query` into `out` when it is one: the RCODE. `None`: the
/// answer has records, or is steered, or is not one a template may write.
pub(crate) fn answer(
    query: &PlainQuery<'_>,
    lower_name: &[u8],
    view: &View,
    limit: usize,
    full: FullPath<'_>,
    cookie: Option<&Judged>,
    out: &mut Vec<u8>,
) -> Option<u16> {
    let (qtype, class) = query.type_and_class();
    // Zone transfers are refused or NOTAUTH, and other classes have their own answers.
    if class != u16::from(hickory_proto::rr::DNSClass::IN)
        || matches!(RecordType::from(qtype), RecordType::AXFR | RecordType::IXFR)
    {
        return None;
    }
    let template = learned(view, full)?;
    let index = &view.zone.wire;
    let (flags, apex_at) = match index.place(lower_name)? {
        WirePlace::Outside => (template.refused?, None),
        WirePlace::Inside { apex_at, above } => {
            if let Some(above) = above {
                let label = &lower_name[above..apex_at];
                if template.guarded.iter().any(|guarded| &guarded[..] == label) {
                    return None;
                }
            }
            let flags = match index.negative(lower_name, qtype)? {
                Negative::NxDomain => template.nxdomain,
                Negative::NoData => template.nodata,
            };
            (flags, Some(apex_at))
        }
    };
    if too_many_labels(lower_name, template.max_labels) {
        return None;
    }
    let question = query.question();
    let authority = apex_at.map_or(0, |_| template.authority.len());
    if 12 + question.len() + authority + query.opt_len(cookie) > limit {
        return None;
    }
    out.clear();
    out.extend_from_slice(&[0, 0, flags[0], flags[1], 0, 1, 0, 0, 0, 0, 0, 0]);
    out.extend_from_slice(question);
    if let Some(apex_at) = apex_at {
        out[9] = 1;
        let apex = 12 + apex_at;
        let start = out.len();
        out.extend_from_slice(&template.authority);
        for &(offset, target) in &template.pointers {
            let points_at = match target {
                Target::Apex(into) => apex + usize::from(into),
                Target::Authority(into) => start + usize::from(into),
            };
            // A question is at most 259 bytes: every target is far below 2^14.
            let pointer = 0xc000 | points_at as u16;
            out[start + offset..start + offset + 2].copy_from_slice(&pointer.to_be_bytes());
        }
    }
    replay::patch(query, 0, None, cookie, out);
    Some(u16::from(flags[1] & 0x0f))
}

/// This thread's template for `view`, learned on first use.
fn learned(view: &View, full: FullPath<'_>) -> Option<Rc<Template>> {
    TEMPLATE.with(|cell| {
        if let Some(template) = {
            let (generation, template) = &*cell.borrow();
            (*generation == view.generation).then(|| template.clone())
        } {
            return template;
        }
        let template = learn(view, full).map(Rc::new);
        *cell.borrow_mut() = (view.generation, template.clone());
        template
    })
}

/// Asks the full path for one name that does not exist and one outside the zone, and reads
/// the template off its replies.
fn learn(view: &View, full: FullPath<'_>) -> Option<Template> {
    let index = &view.zone.wire;
    let guarded = guarded_labels(view);
    // A label of our own that names nothing and is guarded by nothing.
    let label = (0..64u32)
        .map(|n| format!("\x01x{n}").into_bytes())
        .map(|mut label| {
            label[0] = (label.len() - 1) as u8;
            label
        })
        .find(|label| {
            let name = [&label[..], index.apex()].concat();
            index.negative(&name, 1) == Some(Negative::NxDomain)
                && !guarded.iter().any(|guarded| guarded[..] == label[..])
        })?;
    let name = [&label[..], index.apex()].concat();
    let reply = ask(view, full, &name)?;
    let question_end = 12 + name.len() + 4;
    // One SOA in authority, nothing else, not truncated, NXDOMAIN.
    if reply.get(4..12)? != [0, 1, 0, 0, 0, 1, 0, 0]
        || reply[2] & 0x02 != 0
        || u16::from(reply[3] & 0x0f) != u16::from(ResponseCode::NXDomain)
    {
        return None;
    }
    let authority = reply.get(question_end..)?;
    let apex_at = 12 + label.len();
    let (pointers, written) = pointers(authority, apex_at, question_end)?;
    // The SOA stores one name per label it writes out; the learning question must leave
    // room for them, as must every question the template answers.
    let max_labels = REMEMBERED_NAMES.checked_sub(written)?;
    if labels(&name) > max_labels {
        return None;
    }
    let nxdomain = [reply[2], reply[3]];
    let nodata = [reply[2], reply[3] & 0xf0];
    // The root is outside every zone but the root's own.
    let refused = match ask(view, full, &[0]) {
        Some(reply)
            if index.apex() != [0]
                && reply.get(4..12) == Some(&[0, 1, 0, 0, 0, 0, 0, 0])
                && u16::from(reply[3] & 0x0f) == u16::from(ResponseCode::Refused) =>
        {
            Some([reply[2], reply[3]])
        }
        _ => None,
    };
    Some(Template {
        nxdomain,
        nodata,
        refused,
        authority: authority.into(),
        pointers,
        guarded,
        max_labels,
    })
}

/// The labels of a whole uncompressed wire name, the root not counted.
fn labels(wire: &[u8]) -> usize {
    let mut count = 0;
    let mut at = 0;
    while let Some(&len) = wire.get(at).filter(|&&len| len != 0) {
        count += 1;
        at += 1 + usize::from(len);
    }
    count
}

/// Whether `wire` has more than `max` labels. Counted only for names long enough to have
/// that many (each label takes at least two bytes): never for a realistic name.
fn too_many_labels(wire: &[u8], max: usize) -> bool {
    wire.len() / 2 > max && labels(wire) > max
}

/// The full path's reply to `name A IN`, without EDNS, ID 0, RD clear.
fn ask(view: &View, full: FullPath<'_>, name: &[u8]) -> Option<Vec<u8>> {
    let mut packet = vec![0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0];
    packet.extend_from_slice(name);
    packet.extend_from_slice(&[0, 1, 0, 1]);
    let mut reply = Vec::with_capacity(512);
    full(view, &packet, &mut reply)?;
    Some(reply)
}

/// The labels right above the apex of the SOA's in-zone names (MNAME, RNAME).
fn guarded_labels(view: &View) -> Box<[Box<[u8]>]> {
    let apex = &view.zone.apex;
    let RData::SOA(soa) = &view.zone.negative_soa.data else {
        return Box::default();
    };
    [&soa.mname, &soa.rname]
        .into_iter()
        .filter(|name| apex.zone_of(&LowerName::new(name)))
        .filter_map(|name| {
            let wire = lower_wire(name);
            match view.zone.wire.place(&wire)? {
                WirePlace::Inside {
                    apex_at,
                    above: Some(above),
                } => Some(wire[above..apex_at].into()),
                _ => None,
            }
        })
        .collect()
}

/// The compression pointers of the one SOA record in `authority`, which followed a question
/// whose apex starts at `apex_at` and which ends at `question_end`, and how many labels its
/// names write out. `None` for a record of another shape, or a pointer to anything but the
/// apex or the record itself.
fn pointers(authority: &[u8], apex_at: usize, question_end: usize) -> Option<(Pointers, usize)> {
    let mut found = Vec::new();
    let mut written = 0;
    let mut name = |at: usize, found: &mut Vec<(usize, Target)>| -> Option<usize> {
        let mut at = at;
        loop {
            let len = *authority.get(at)?;
            match len & 0xc0 {
                0xc0 => {
                    let low = *authority.get(at + 1)?;
                    let target = usize::from(u16::from_be_bytes([len & 0x3f, low]));
                    let target = if (apex_at..question_end - 4).contains(&target) {
                        Target::Apex((target - apex_at) as u16)
                    } else if target >= question_end {
                        Target::Authority((target - question_end) as u16)
                    } else {
                        return None;
                    };
                    found.push((at, target));
                    return Some(at + 2);
                }
                0 if len == 0 => return Some(at + 1),
                0 => {
                    written += 1;
                    at += 1 + usize::from(len);
                }
                _ => return None,
            }
        }
    };
    let owner_end = name(0, &mut found)?;
    let fixed = authority.get(owner_end..owner_end + 10)?;
    if u16::from_be_bytes([fixed[0], fixed[1]]) != u16::from(RecordType::SOA) {
        return None;
    }
    let rdata_len = usize::from(u16::from_be_bytes([fixed[8], fixed[9]]));
    let rdata_at = owner_end + 10;
    if authority.len() != rdata_at + rdata_len {
        return None;
    }
    let mname_end = name(rdata_at, &mut found)?;
    let rname_end = name(mname_end, &mut found)?;
    (rname_end + 20 == authority.len()).then(|| (found.into(), written))
}

/// A source for the synthetic questions: never used to steer (negative answers are not).
pub(crate) const LEARNING_SOURCE: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), 53);
