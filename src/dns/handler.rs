//! The request handler: the one entry point for UDP datagrams (our own loop), TCP streams
//! (our own accept loop) and hickory-server's `Server`. All of them load the view once per
//! message and call `answer::answer` on it.

use std::net::SocketAddr;

use hickory_proto::op::{Header, HeaderCounts, MessageType, Metadata, OpCode, ResponseCode};
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder};
use hickory_server::net::runtime::Time;
use hickory_server::net::xfer::Protocol;
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::MessageResponseBuilder;

use super::answer::{self, Dependence, Reply};
use super::encode::{Fit, encode, encode_fit};
use super::replay;
use crate::telemetry::dns::{self as metrics, Answered, Transport};
use crate::view::{SharedView, View};

/// Cheap to clone: every socket loop and connection reads the node's one [`SharedView`],
/// once per message.
#[derive(Debug, Clone)]
pub struct DnsHandler {
    view: SharedView,
}

impl DnsHandler {
    pub fn new(view: SharedView) -> Self {
        Self { view }
    }

    /// Answers one UDP datagram into `out`, and counts it. `None` when nothing must be sent:
    /// too short to carry a header, or a response (never answer those: reflection loops).
    pub fn respond_datagram(
        &self,
        packet: &[u8],
        src: SocketAddr,
        out: &mut Vec<u8>,
    ) -> Option<Answered> {
        let view = self.view.load();
        let plain = replay::parse(packet);
        if let Some(query) = &plain
            && let Some(steered) = replay::replay(query, src, &view, out)
        {
            let answered = Answered {
                transport: Transport::Udp,
                qtype: Some(u16::from(query.record_type())),
                // Cached replies carry no extended code (BADVERS is never cached).
                rcode: u16::from(out[3] & 0x0F),
                steered,
            };
            metrics::count(&answered);
            return Some(answered);
        }
        let (answered, dependence) = respond(&view, packet, src, Transport::Udp, out)?;
        if let (Some(query), Some(dependence)) = (&plain, dependence) {
            replay::remember(query, &view, dependence, out);
        }
        Some(answered)
    }

    /// [`Self::respond_datagram`] without the reply cache: the full path, every time.
    pub fn respond_datagram_uncached(
        &self,
        packet: &[u8],
        src: SocketAddr,
        out: &mut Vec<u8>,
    ) -> Option<Answered> {
        respond(&self.view.load(), packet, src, Transport::Udp, out).map(|(answered, _)| answered)
    }

    /// Answers one message read from a TCP stream into `out` (no size limit but the 64 KiB of
    /// the length prefix), and counts it. `None` when nothing must be sent.
    pub fn respond_stream(
        &self,
        packet: &[u8],
        src: SocketAddr,
        out: &mut Vec<u8>,
    ) -> Option<Answered> {
        respond(&self.view.load(), packet, src, Transport::Tcp, out).map(|(answered, _)| answered)
    }
}

/// The full path for one message, counted. `None`: send nothing. A dependence of `None`: a
/// reply not to be cached.
fn respond(
    view: &View,
    packet: &[u8],
    src: SocketAddr,
    transport: Transport,
    out: &mut Vec<u8>,
) -> Option<(Answered, Option<Dependence>)> {
    let header = Header::read(&mut BinDecoder::new(packet)).ok()?;
    if header.metadata.message_type == MessageType::Response {
        return None;
    }
    let protocol = match transport {
        Transport::Udp => Protocol::Udp,
        Transport::Tcp => Protocol::Tcp,
    };
    let mut answered = Answered {
        transport,
        qtype: None,
        rcode: u16::from(ResponseCode::FormErr),
        steered: None,
    };
    let (encoded, dependence) = match Request::from_bytes(packet.to_vec(), src, protocol) {
        Ok(request) => {
            let reply = answer::answer(view, &request);
            let limit = match protocol {
                Protocol::Udp => Reply::udp_limit(request.edns.as_ref()),
                _ => u16::MAX,
            };
            answered.qtype = request
                .queries
                .queries()
                .first()
                .map(|query| u16::from(query.query_type()));
            answered.rcode = u16::from(reply.metadata.response_code);
            answered.steered = reply.steered;
            // A reply that left its glue out fits this client's buffer only: never replayed.
            match encode_fit(&reply, Some(&request.queries), limit, out) {
                Ok(Fit::Whole) => (Ok(()), Some(reply.dependence)),
                Ok(_) => (Ok(()), None),
                Err(error) => (Err(error), None),
            }
        }
        Err(_) => {
            // The header is readable, so the client can be told its message is malformed.
            let reply = Reply::empty(&header.metadata, None, ResponseCode::FormErr);
            (encode(&reply, None, 512, out), None)
        }
    };
    let dependence = match encoded {
        Ok(()) => dependence,
        Err(error) => {
            tracing::warn!(%error, %src, "cannot encode a reply");
            if !server_failure(header.metadata.id, out) {
                return None;
            }
            answered.rcode = u16::from(ResponseCode::ServFail);
            None
        }
    };
    metrics::count(&answered);
    Some((answered, dependence))
}

/// A bare SERVFAIL, for when a reply cannot be encoded.
fn server_failure(id: u16, out: &mut Vec<u8>) -> bool {
    let mut metadata = Metadata::new(id, MessageType::Response, OpCode::Query);
    metadata.response_code = ResponseCode::ServFail;
    let reply = Reply::empty(&metadata, None, ResponseCode::ServFail);
    encode(&reply, None, 512, out).is_ok()
}

#[async_trait::async_trait]
impl RequestHandler for DnsHandler {
    async fn handle_request<R: ResponseHandler, T: Time>(
        &self,
        request: &Request,
        mut response_handle: R,
    ) -> ResponseInfo {
        let mut reply = answer::answer(&self.view.load(), request);
        if request.protocol() == Protocol::Udp {
            // hickory's own truncation would drop the OPT record: decide it here instead.
            let mut scratch = Vec::with_capacity(512);
            let limit = Reply::udp_limit(request.edns.as_ref());
            match encode_fit(&reply, Some(&request.queries), limit, &mut scratch) {
                // Glue that does not fit is left out without TC (RFC 2181 section 9).
                Ok(Fit::WithoutAdditional) => reply.additionals.clear(),
                Ok(Fit::Truncated) => {
                    reply.metadata.truncation = true;
                    reply.answers.clear();
                    reply.authorities.clear();
                    reply.additionals.clear();
                }
                Ok(Fit::Whole) | Err(_) => {}
            }
        }
        let mut builder = MessageResponseBuilder::new(&request.queries, None);
        if let Some(edns) = reply.edns.as_ref() {
            builder.edns(edns);
        }
        let response = builder.build(
            reply.metadata,
            reply.answers.iter(),
            reply.authorities.iter(),
            std::iter::empty(),
            reply.additionals.iter(),
        );
        match response_handle.send_response(response).await {
            Ok(info) => info,
            Err(error) => {
                tracing::debug!(%error, src = %request.src(), "cannot send a reply");
                let mut metadata = Metadata::response_from_request(&request.metadata);
                metadata.response_code = ResponseCode::ServFail;
                ResponseInfo::from(Header {
                    metadata,
                    counts: HeaderCounts::default(),
                })
            }
        }
    }
}
