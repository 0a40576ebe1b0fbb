//! Bodies on both sides of the proxy.
//!
//! Upstream, a request body is either held in memory (small enough to replay on another
//! backend) or streamed from the client (sent once). Downstream, a proxied response body
//! streams from the backend and, at its end, hands the connection back to the pool and
//! ends the request's in-flight count.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::{Either, Full, Limited};
use hyper::body::{Body, Frame, Incoming, SizeHint};

use super::backend::InFlight;
use super::pool::Sender;

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

/// What goes to a client: a backend's response, or a page of our own.
pub(crate) type ClientBody = Either<ProxiedBody, Full<Bytes>>;

/// A backend's response body. At its end the connection returns to the pool; if the client
/// goes away first, the connection is dropped (it would still carry the rest).
#[derive(Debug)]
pub(crate) struct ProxiedBody {
    inner: Incoming,
    finish: Option<Finish>,
}

#[derive(Debug)]
struct Finish {
    sender: Option<Sender>,
    in_flight: InFlight,
}

impl ProxiedBody {
    /// `sender` is `None` for a connection that must not be reused.
    pub(crate) fn new(inner: Incoming, sender: Option<Sender>, in_flight: InFlight) -> Self {
        let mut body = Self {
            inner,
            finish: Some(Finish { sender, in_flight }),
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
            finish.in_flight.backend().pool.put(sender);
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
