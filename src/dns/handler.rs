//! The request handler: the one entry point for UDP datagrams (our own loop), TCP streams
//! (our own accept loop) and hickory-server's `Server`. All of them load the view once per
//! message and call `answer::answer` on it.

use std::net::SocketAddr;

use hickory_proto::op::{Header, HeaderCounts, MessageType, Metadata, ResponseCode};
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder};
use hickory_server::net::runtime::Time;
use hickory_server::net::xfer::Protocol;
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::MessageResponseBuilder;

use super::answer::{self, Asked, Dependence, Reply};
use super::cookie::{self, Judged};
use super::encode::{Fit, encode_fit};
use super::negative;
use super::replay::{self, PlainQuery};
use super::wire;
use crate::telemetry::dns::{self as metrics, AnswerPath, Answered, Transport};
use crate::view::{SharedView, View};

/// Cheap to clone: every socket loop and connection reads the node's one [`SharedView`],
/// once per message.
#[derive(Debug, Clone)]
pub struct DnsHandler {
    view: SharedView,
    /// The cookie clock's reading for every message, when fixed (`None`: the system clock).
    cookie_clock: Option<u32>,
}

impl DnsHandler {
    pub fn new(view: SharedView) -> Self {
        Self {
            view,
            cookie_clock: None,
        }
    }

    /// This handler with the cookie clock stopped at `now` (seconds, as `cookie::now`):
    /// for comparing the replies of two paths to the same query byte for byte, when a new
    /// server cookie is stamped with the time.
    pub fn with_cookie_clock(self, now: u32) -> Self {
        Self {
            cookie_clock: Some(now),
            ..self
        }
    }

    /// Answers one UDP datagram into `out`, and counts it. `None` when nothing must be sent:
    /// too short to carry a header, or a response (never answer those: reflection loops).
    pub fn respond_datagram(
        &self,
        packet: &[u8],
        src: SocketAddr,
        out: &mut Vec<u8>,
    ) -> Option<Answered> {
        respond(
            &self.view.load(),
            packet,
            src,
            Transport::Udp,
            self.cookie_clock,
            out,
        )
    }

    /// The node's current view, for [`Self::respond_datagram_in`].
    pub fn view(&self) -> arc_swap::Guard<std::sync::Arc<View>> {
        self.view.load()
    }

    /// [`Self::respond_datagram`] from a view the caller loaded with [`Self::view`] (once
    /// per batch of datagrams: the UDP loop reads the view as often as it reads the socket).
    pub fn respond_datagram_in(
        view: &View,
        packet: &[u8],
        src: SocketAddr,
        out: &mut Vec<u8>,
    ) -> Option<Answered> {
        respond(view, packet, src, Transport::Udp, None, out)
    }

    /// [`Self::respond_datagram`] without the reply cache and the negative templates, and
    /// with hickory's parse of the whole message even for a plain query: the reference the
    /// tests hold the fast paths (and the full path from the cache's own reading) to.
    pub fn respond_datagram_uncached(
        &self,
        packet: &[u8],
        src: SocketAddr,
        out: &mut Vec<u8>,
    ) -> Option<Answered> {
        let clock = Clock(self.cookie_clock);
        let (answered, _) = full(
            &self.view.load(),
            packet,
            None,
            src,
            Transport::Udp,
            clock,
            out,
        )?;
        metrics::count(&answered);
        Some(answered)
    }

    /// Answers one message read from a TCP stream into `out` (no size limit but the 64 KiB of
    /// the length prefix), and counts it. `None` when nothing must be sent.
    pub fn respond_stream(
        &self,
        packet: &[u8],
        src: SocketAddr,
        out: &mut Vec<u8>,
    ) -> Option<Answered> {
        respond(
            &self.view.load(),
            packet,
            src,
            Transport::Tcp,
            self.cookie_clock,
            out,
        )
    }
}

/// The cookie clock of one message: fixed, or the system's, read only when a cookie needs it.
#[derive(Debug, Clone, Copy)]
struct Clock(Option<u32>);

impl Clock {
    fn now(self) -> u32 {
        self.0.unwrap_or_else(cookie::now)
    }
}

/// One message, counted: a plain query from the reply cache or a negative template when
/// they have its answer, else the full path (whose reply the cache may keep). The same
/// bytes either way; UDP and TCP differ only in the size limit.
fn respond(
    view: &View,
    packet: &[u8],
    src: SocketAddr,
    transport: Transport,
    clock: Option<u32>,
    out: &mut Vec<u8>,
) -> Option<Answered> {
    let clock = Clock(clock);
    let plain = replay::parse(packet);
    let Some(query) = &plain else {
        let (answered, _) = full(view, packet, None, src, transport, clock, out)?;
        metrics::count(&answered);
        return Some(answered);
    };
    // `parse` takes only cookies of a well-formed length: judging cannot fail here.
    let cookie = match (query.cookie(), &view.config.zone.cookies) {
        (Some(option), Some(secret)) => cookie::judge(option, secret, src.ip(), clock.now()).ok(),
        _ => None,
    };
    let proven = cookie.is_some_and(|cookie| cookie.proven);
    let key = query.key();
    let limit = match transport {
        Transport::Udp => query.udp_limit(),
        Transport::Tcp => usize::from(u16::MAX),
    };
    let fast = |rcode, steered, path| Answered {
        transport,
        qtype: Some(query.type_and_class().0),
        rcode,
        steered,
        path,
        proven,
    };
    let cookie = cookie.as_ref();
    let answered = if let Some(steered) = replay::replay(query, &key, src, view, limit, cookie, out)
    {
        // Cached replies carry no extended code (BADVERS is never cached).
        fast(u16::from(out[3] & 0x0F), steered, AnswerPath::Cached)
    } else if let Some(rcode) =
        negative::answer(query, key.lower_name(), view, limit, &learning, cookie, out)
    {
        fast(rcode, None, AnswerPath::Template)
    } else {
        let (answered, dependence) = full(
            view,
            packet,
            Some((query, cookie)),
            src,
            transport,
            clock,
            out,
        )?;
        if let Some(dependence) = dependence {
            replay::remember(query, &key, view, dependence, cookie, out);
        }
        answered
    };
    metrics::count(&answered);
    Some(answered)
}

/// The full path for a synthetic question the negative templates are learned from.
fn learning(view: &View, packet: &[u8], out: &mut Vec<u8>) -> Option<u16> {
    full(
        view,
        packet,
        None,
        negative::LEARNING_SOURCE,
        Transport::Udp,
        Clock(None),
        out,
    )
    .map(|(answered, _)| answered.rcode)
}

/// The full path for one message, uncounted. `plain`: the message read as a plain query
/// already, with its cookie judged, which is answered from that reading (no second parse,
/// no copy of the packet). `None`: send nothing. A dependence of `None`: a reply not to be
/// cached.
fn full(
    view: &View,
    packet: &[u8],
    plain: Option<(&PlainQuery<'_>, Option<&Judged>)>,
    src: SocketAddr,
    transport: Transport,
    clock: Clock,
    out: &mut Vec<u8>,
) -> Option<(Answered, Option<Dependence>)> {
    if let Some((query, cookie)) = plain
        && let Some(asked) = query.asked(src, cookie.copied())
    {
        return Some(answer_into(
            view,
            &asked,
            Some(query.question()),
            packet,
            transport,
            out,
        ));
    }
    let header = Header::read(&mut BinDecoder::new(packet)).ok()?;
    if header.metadata.message_type == MessageType::Response {
        return None;
    }
    let protocol = match transport {
        Transport::Udp => Protocol::Udp,
        Transport::Tcp => Protocol::Tcp,
    };
    let scan = wire::scan(packet);
    let mut answered = Answered {
        transport,
        qtype: scan
            .first_question
            .as_ref()
            .and_then(|range| packet.get(range.end - 4..range.end - 2))
            .map(|qtype| u16::from_be_bytes([qtype[0], qtype[1]])),
        rcode: u16::from(ResponseCode::FormErr),
        steered: None,
        path: AnswerPath::Full,
        proven: false,
    };
    let stream = transport == Transport::Tcp;
    // RFC 7873 section 5.2: a FORMERR carries our cookie too, unless the cookie is what is
    // wrong (then there is none to give).
    let mut formerr = |out: &mut Vec<u8>| {
        let cookie = (scan.cookie(packet))
            .zip(view.config.zone.cookies.as_ref())
            .and_then(|(option, secrets)| {
                cookie::judge(option, secrets, src.ip(), clock.now()).ok()
            });
        answered.proven = cookie.is_some_and(|cookie| cookie.proven);
        let cookie = cookie.map(|cookie| cookie.reply);
        wire::write_error(packet, &scan, 1, scan.limit(stream), cookie.as_ref(), out);
        Some((answered, None))
    };
    // A compressed question name can only point back into the header (it is the first name
    // of the message), which is never a name a client meant; echoed as it came it would point
    // at the reply's header instead. Knot refuses it too. More than one question: RFC 9619.
    if scan.compressed_question || scan.questions > 1 {
        return formerr(out);
    }
    let Ok(request) = Request::from_bytes(packet.to_vec(), src, protocol) else {
        // The header is readable, so the client can be told its message is malformed, with
        // its question and an OPT record where those could be read (RFC 6891 section
        // 6.1.1: a query with OPT gets OPT in every response).
        return formerr(out);
    };
    let question = (request.queries.len() == 1).then(|| request.queries.as_bytes());
    let asked = Asked::from_request(&request, view.config.zone.cookies.as_ref(), || clock.now());
    Some(answer_into(view, &asked, question, packet, transport, out))
}

/// Answers `asked` and encodes the reply into `out` after the question bytes `question`
/// (echoed as they came), within the transport's size.
fn answer_into(
    view: &View,
    asked: &Asked,
    question: Option<&[u8]>,
    packet: &[u8],
    transport: Transport,
    out: &mut Vec<u8>,
) -> (Answered, Option<Dependence>) {
    let reply = answer::answer(view, asked);
    let limit = match transport {
        Transport::Udp => Reply::udp_limit(asked.edns.as_ref()),
        Transport::Tcp => u16::MAX,
    };
    let mut answered = Answered {
        transport,
        qtype: asked.question.as_ref().map(|query| u16::from(query.qtype)),
        rcode: u16::from(reply.metadata.response_code),
        steered: reply.steered,
        path: AnswerPath::Full,
        proven: matches!(asked.cookie, Ok(Some(cookie)) if cookie.proven),
    };
    // A reply that left its glue out fits this client's buffer only: never replayed.
    let dependence = match encode_fit(&reply, question, limit, out) {
        Ok(Fit::Whole) => Some(reply.dependence),
        Ok(Fit::WithoutAdditional | Fit::Truncated) => None,
        Err(error) => {
            // Any client can send what makes this fail: not a warning per packet.
            tracing::debug!(%error, src = %asked.src, "cannot encode a reply");
            let scan = wire::scan(packet);
            let cookie = asked.cookie.ok().flatten().map(|cookie| cookie.reply);
            wire::write_error(
                packet,
                &scan,
                2,
                scan.limit(transport == Transport::Tcp),
                cookie.as_ref(),
                out,
            );
            answered.rcode = u16::from(ResponseCode::ServFail);
            answered.steered = None;
            None
        }
    };
    (answered, dependence)
}

#[async_trait::async_trait]
impl RequestHandler for DnsHandler {
    async fn handle_request<R: ResponseHandler, T: Time>(
        &self,
        request: &Request,
        mut response_handle: R,
    ) -> ResponseInfo {
        let view = self.view.load();
        let clock = Clock(self.cookie_clock);
        let asked = Asked::from_request(request, view.config.zone.cookies.as_ref(), || clock.now());
        let mut reply = answer::answer(&view, &asked);
        if request.protocol() == Protocol::Udp {
            // hickory's own truncation would drop the OPT record: decide it here instead.
            let mut scratch = Vec::with_capacity(512);
            let limit = Reply::udp_limit(asked.edns.as_ref());
            let question = (request.queries.len() == 1).then(|| request.queries.as_bytes());
            match encode_fit(&reply, question, limit, &mut scratch) {
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
