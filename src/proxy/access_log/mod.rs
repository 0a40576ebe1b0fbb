//! The proxy's access log (`[proxy] access_log`, off by default): one line per request,
//! written when its response has ended (or the client left), with what was sent and how
//! long it took.
//!
//! A request never waits for the log. Its line goes, as a [`Record`], into a bounded queue
//! that one writer thread (`writer`, run by the node) empties into a buffered file or
//! standard output; when the queue is full the line is dropped and counted in
//! `meridian_proxy_access_log_dropped_total`, rather than stalling the request path. The
//! line's format is `format`'s business (pure).

mod format;
mod writer;

use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::mpsc::{SyncSender, TrySendError};
use std::task::{Context, Poll};
use std::time::{Instant, SystemTime};

use bytes::Bytes;
use http_body_util::Either;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::header::{self, HeaderName, HeaderValue};
use hyper::{Request, Response};
use metrics::Counter;

pub(crate) use format::{Record, ServedBy};
pub use writer::AccessLogWriter;

use super::body::ClientBody;
use crate::view::SharedView;

/// Lines waiting for the writer; beyond this they are dropped, never waited for. A few
/// seconds of a busy proxy's lines, at some hundred bytes each.
const QUEUE_LINES: usize = 8192;

static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// What a response's body is as the client gets it: as it was, or counted for the log.
pub(crate) type ServedBody = Either<ClientBody, LoggedBody>;

/// The request path's end of the queue.
#[derive(Debug, Clone)]
pub(crate) struct AccessLogSender {
    /// Boxed: the queue holds its capacity from the start, 8 bytes a line rather than a
    /// whole record (which would be megabytes for a log that may never be turned on).
    queue: SyncSender<Box<Record>>,
    dropped: Counter,
    region: Arc<str>,
}

/// The queue of `region`'s proxy: its sending end, and the writer that empties it into
/// what the view's `[proxy] access_log` says. `dropped` counts lines that never made it.
pub(crate) fn channel(
    region: &str,
    view: SharedView,
    dropped: Counter,
) -> (AccessLogSender, AccessLogWriter) {
    let (queue, lines) = std::sync::mpsc::sync_channel(QUEUE_LINES);
    let writer = AccessLogWriter::new(region, view, lines, dropped.clone());
    let sender = AccessLogSender {
        queue,
        dropped,
        region: Arc::from(region),
    };
    (sender, writer)
}

impl AccessLogSender {
    /// Queues `record`, or drops and counts it when the queue is full (or the writer gone):
    /// never waits. False when dropped.
    fn send(&self, record: Record) -> bool {
        match self.queue.try_send(Box::new(record)) {
            Ok(()) => true,
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.dropped.increment(1);
                false
            }
        }
    }
}

/// A request being logged: what its head said, until its response is known.
#[derive(Debug)]
pub(crate) struct Pending {
    record: Record,
    started: Instant,
    sender: AccessLogSender,
}

impl Pending {
    /// Takes what the log needs from the request's head before the request is forwarded.
    pub(crate) fn start(
        sender: &AccessLogSender,
        peer: IpAddr,
        request: &Request<Incoming>,
        started: Instant,
    ) -> Self {
        let headers = request.headers();
        let uri = request.uri();
        let host = headers.get(header::HOST).cloned().or_else(|| {
            uri.authority()
                .and_then(|authority| HeaderValue::from_str(authority.as_str()).ok())
        });
        let target = match uri.path_and_query() {
            Some(path) => Bytes::copy_from_slice(path.as_str().as_bytes()),
            None => Bytes::from(uri.to_string()),
        };
        let peer = peer.to_canonical();
        Self {
            record: Record {
                time: SystemTime::now(),
                client: peer,
                peer,
                method: request.method().clone(),
                host,
                target,
                version: request.version(),
                status: 0,
                bytes_sent: 0,
                duration: std::time::Duration::ZERO,
                served_by: ServedBy::Proxy,
                retries: 0,
                region: sender.region.clone(),
                user_agent: headers.get(header::USER_AGENT).cloned(),
                referer: headers.get(header::REFERER).cloned(),
                request_id: headers.get(&X_REQUEST_ID).cloned(),
            },
            started,
            sender: sender.clone(),
        }
    }

    /// The response as the client gets it, whose body sends the line when it ends.
    pub(crate) fn finish(
        mut self,
        response: Response<ClientBody>,
        client: IpAddr,
        served_by: ServedBy,
        retries: u32,
    ) -> Response<LoggedBody> {
        self.record.client = client.to_canonical();
        self.record.status = response.status().as_u16();
        self.record.served_by = served_by;
        self.record.retries = retries;
        response.map(|inner| LoggedBody {
            inner,
            bytes_sent: 0,
            pending: Some(self),
        })
    }
}

/// A response body that counts the bytes it hands to the connection and sends the request's
/// line when it is dropped: at its end, or when the client goes away first.
#[derive(Debug)]
pub(crate) struct LoggedBody {
    inner: ClientBody,
    bytes_sent: u64,
    pending: Option<Pending>,
}

impl Body for LoggedBody {
    type Data = Bytes;
    type Error = <ClientBody as Body>::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled
            && let Some(data) = frame.data_ref()
        {
            self.bytes_sent += data.len() as u64;
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

impl Drop for LoggedBody {
    fn drop(&mut self) {
        if let Some(pending) = self.pending.take() {
            let Pending {
                mut record,
                started,
                sender,
            } = pending;
            record.bytes_sent = self.bytes_sent;
            record.duration = started.elapsed();
            let _ = sender.send(record);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_queue_drops_lines_instead_of_waiting() {
        let (queue, lines) = std::sync::mpsc::sync_channel(3);
        let sender = AccessLogSender {
            queue,
            dropped: Counter::noop(),
            region: Arc::from("us-east"),
        };
        let record = format::tests::record();
        let sent: Vec<bool> = (0..5).map(|_| sender.send(record.clone())).collect();
        assert_eq!(sent, [true, true, true, false, false]);
        assert_eq!(lines.try_iter().count(), 3);
        // Room again once the writer has taken some.
        assert!(sender.send(record.clone()));
        drop(lines);
        assert!(!sender.send(record), "a gone writer must not block either");
    }
}
