//! Encoding a [`Reply`] to wire format, truncating for UDP the way RFC 6891 wants.

use hickory_proto::ProtoError;
use hickory_proto::op::{EmitAndCount, Metadata, emit_message_parts};
use hickory_proto::rr::Record;
use hickory_proto::serialize::binary::{BinEncoder, NameEncoding};

use super::answer::Reply;

/// Echoes the one question exactly as received (its bytes: letter case included); `None`
/// for replies to messages whose question could not be read.
struct Question<'q>(Option<&'q [u8]>);

impl EmitAndCount for Question<'_> {
    fn emit(&mut self, encoder: &mut BinEncoder<'_>) -> Result<usize, ProtoError> {
        let Some(bytes) = self.0.filter(|bytes| !bytes.is_empty()) else {
            return Ok(0);
        };
        let start = encoder.offset();
        encoder.emit_vec(bytes)?;
        if bytes.len() > 4 && matches!(encoder.name_encoding(), NameEncoding::Compressed) {
            // Later names point at the question's name and its suffixes: replies are smaller
            // and owners keep the question's letter case. hickory matches labels up to, not
            // including, the root byte.
            let name_end = start + bytes.len() - 5;
            let mut label = start;
            while label < name_end {
                encoder.store_label_pointer(label, name_end);
                label += 1 + usize::from(bytes[label - start]);
            }
        }
        Ok(1)
    }
}

/// How much of a reply went into its encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fit {
    /// Every record.
    Whole,
    /// The additional section (glue) did not fit and was left out, without TC: it is not
    /// needed to answer the question (RFC 2181 section 9). Such a reply depends on the
    /// client's buffer size, so a cache must not replay it to another client.
    WithoutAdditional,
    /// The answer or authority section did not fit: header + question + OPT with TC=1.
    Truncated,
}

/// Encodes `reply` into `out` (cleared first), at most `max_size` bytes.
///
/// Glue that does not fit is dropped without TC (RFC 2181 section 9). When the answer or
/// authority records do not fit, the reply becomes header + question + OPT with TC=1: no
/// partial RRsets, and the OPT (with the ECS echo) survives, which hickory 0.26.3's own
/// truncation drops (upstream issue 3633).
pub(crate) fn encode_fit(
    reply: &Reply,
    question: Option<&[u8]>,
    max_size: u16,
    out: &mut Vec<u8>,
) -> Result<Fit, ProtoError> {
    for (sections, fit) in [
        (Sections::All, Fit::Whole),
        (Sections::WithoutAdditional, Fit::WithoutAdditional),
    ] {
        if fit == Fit::WithoutAdditional && reply.additionals.is_empty() {
            break;
        }
        out.clear();
        if !emit(&reply.metadata, reply, question, max_size, out, sections)? {
            return Ok(fit);
        }
    }
    out.clear();
    let mut metadata = reply.metadata;
    metadata.truncation = true;
    emit(&metadata, reply, question, max_size, out, Sections::None)?;
    Ok(Fit::Truncated)
}

/// Which record sections an encoding attempt carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sections {
    All,
    WithoutAdditional,
    None,
}

/// Returns whether records had to be left out.
fn emit(
    metadata: &Metadata,
    reply: &Reply,
    question: Option<&[u8]>,
    max_size: u16,
    out: &mut Vec<u8>,
    sections: Sections,
) -> Result<bool, ProtoError> {
    let mut encoder = BinEncoder::new(out);
    encoder.set_max_size(max_size);
    fn pick(section: &[Record], keep: bool) -> &[Record] {
        if keep { section } else { &[] }
    }
    let records = sections != Sections::None;
    let header = emit_message_parts(
        metadata,
        &mut Question(question),
        &mut pick(&reply.answers, records).iter(),
        &mut pick(&reply.authorities, records).iter(),
        &mut pick(&reply.additionals, sections == Sections::All).iter(),
        reply.edns.as_ref(),
        None,
        &mut encoder,
    )?;
    Ok(header.metadata.truncation && !metadata.truncation)
}
