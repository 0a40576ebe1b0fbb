//! Bodies on both sides of the proxy.
//!
//! Upstream, a request body is either held in memory (small enough to replay on another
//! backend) or streamed from the client (sent once). Downstream, a proxied response body
//! streams from the upstream and, at its end, hands the connection back to the pool and
//! ends the request's lease (a backend's in-flight count).

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Either, Full, Limited};
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::{Request, StatusCode, Version};

use super::pool::Sender;
use super::upstream::Lease;

/// Bodies up to this size are held in memory, so the request can be replayed.
const REPLAY_LIMIT: u64 = 64 * 1024;

/// What goes to a backend: a replayable copy, or the client's stream capped at the body
/// limit.
pub(crate) type UpstreamBody = Either<Full<Bytes>, ClientStream>;

/// A client's request body streamed to a backend, capped at the body limit, telling when
/// the client has sent all of it: until then a slow or stalled upload is the client's doing,
/// not the backend's.
#[derive(Debug)]
pub(crate) struct ClientStream {
    inner: Limited<Incoming>,
    done: Arc<AtomicBool>,
}

impl ClientStream {
    pub(crate) fn new(body: Incoming, limit: usize) -> Self {
        Self {
            inner: Limited::new(body, limit),
            done: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Becomes true once the client's body has been read to its end.
    pub(crate) fn done(&self) -> Arc<AtomicBool> {
        self.done.clone()
    }
}

impl Body for ClientStream {
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if matches!(polled, Poll::Ready(None)) || self.inner.is_end_stream() {
            self.done.store(true, Ordering::Relaxed);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Tells whether the client is still sending a streamed body: until it has sent all of it,
/// a request that times out is the client's slowness, not the upstream's.
#[derive(Debug)]
pub(crate) struct Upload(Option<Arc<AtomicBool>>);

impl Upload {
    /// True while a streamed body has not been read to its end (never for a held one).
    pub(crate) fn pending(&self) -> bool {
        self.0
            .as_ref()
            .is_some_and(|done| !done.load(Ordering::Relaxed))
    }
}

/// A request body as the attempts see it.
pub(crate) enum RequestBody {
    /// Read whole (small, or empty): sent again as often as needed.
    Held(Bytes),
    /// Still streaming from the client: sent once.
    Streaming(ClientStream),
    /// A request hyper gave back unsent (with its streaming body inside).
    Unsent(Box<Request<UpstreamBody>>),
}

impl RequestBody {
    /// Holds bodies of known length up to [`REPLAY_LIMIT`]; streams the rest. A held body
    /// must arrive within `timeout` (408 otherwise: a client that trickles its body holds no
    /// backend connection); a client that breaks off mid-body gets 400.
    pub(crate) async fn read(
        body: Incoming,
        max: u64,
        timeout: Duration,
    ) -> Result<Self, StatusCode> {
        if body.is_end_stream() {
            return Ok(Self::Held(Bytes::new()));
        }
        match body.size_hint().exact() {
            Some(length) if length <= REPLAY_LIMIT => {
                match tokio::time::timeout(timeout, body.collect()).await {
                    Ok(Ok(collected)) => Ok(Self::Held(collected.to_bytes())),
                    Ok(Err(_)) => Err(StatusCode::BAD_REQUEST),
                    Err(_) => Err(StatusCode::REQUEST_TIMEOUT),
                }
            }
            _ => Ok(Self::Streaming(ClientStream::new(
                body,
                usize::try_from(max).unwrap_or(usize::MAX),
            ))),
        }
    }

    pub(crate) fn from_unsent(request: Request<UpstreamBody>) -> Self {
        Self::Unsent(Box::new(request))
    }

    /// Whether the client is still sending this body, for as long as it is sent.
    pub(crate) fn upload(&self) -> Upload {
        Upload(match self {
            Self::Streaming(stream) => Some(stream.done()),
            Self::Unsent(request) => match request.body() {
                Either::Right(stream) => Some(stream.done()),
                Either::Left(_) => None,
            },
            Self::Held(_) => None,
        })
    }

    /// A copy to replay, for a body held in memory.
    pub(crate) fn held(&self) -> Option<Bytes> {
        match self {
            Self::Held(bytes) => Some(bytes.clone()),
            Self::Streaming(_) | Self::Unsent(_) => None,
        }
    }

    /// The request for one attempt.
    pub(crate) fn request(self, head: &hyper::http::request::Parts) -> Request<UpstreamBody> {
        match self {
            Self::Held(bytes) => build(head, Either::Left(Full::new(bytes))),
            Self::Streaming(body) => build(head, Either::Right(body)),
            Self::Unsent(request) => *request,
        }
    }
}

fn build(head: &hyper::http::request::Parts, body: UpstreamBody) -> Request<UpstreamBody> {
    let mut request = Request::new(body);
    *request.method_mut() = head.method.clone();
    *request.uri_mut() = head.uri.clone();
    *request.version_mut() = Version::HTTP_11;
    *request.headers_mut() = head.headers.clone();
    request
}

/// What goes to a client: a backend's response, or a page of our own.
pub(crate) type ClientBody = Either<ProxiedBody, Full<Bytes>>;

/// An upstream's response body. At its end the connection returns to the pool and the lease
/// ends; if the client goes away first, the connection is dropped (it would still carry the
/// rest).
#[derive(Debug)]
pub(crate) struct ProxiedBody {
    inner: Incoming,
    finish: Option<Finish>,
}

#[derive(Debug)]
struct Finish {
    sender: Option<Sender>,
    lease: Lease,
}

impl ProxiedBody {
    /// `sender` is `None` for a connection that must not be reused.
    pub(crate) fn new(inner: Incoming, sender: Option<Sender>, lease: Lease) -> Self {
        let mut body = Self {
            inner,
            finish: Some(Finish { sender, lease }),
        };
        // A body that is empty from the start may never be polled.
        if body.inner.is_end_stream() {
            body.finish();
        }
        body
    }

    fn finish(&mut self) {
        if let Some(finish) = self.finish.take()
            && let Some(sender) = finish.sender
        {
            finish.lease.pool().put(sender);
        }
    }
}

impl Body for ProxiedBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(None) => self.finish(),
            Poll::Ready(Some(Ok(_))) if self.inner.is_end_stream() => self.finish(),
            Poll::Ready(Some(Err(_))) => {
                // The connection is broken: never pool it.
                if let Some(finish) = self.finish.as_mut() {
                    finish.sender = None;
                }
            }
            _ => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A page of our own.
pub(crate) fn full(bytes: impl Into<Bytes>) -> ClientBody {
    Either::Right(Full::new(bytes.into()))
}
