//! HTTP/1.1 over the accept loop: a tower service (an axum `Router`, say) cloned per
//! connection and driven by hyper, with the listener's idle timeouts and graceful drain.

use std::error::Error;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::time::Instant;

use hyper::body::{Body, Incoming};
use hyper::rt::{Sleep, Timer};
use hyper::server::conn::{http1, http2};
use hyper::{Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::limits::Limits;
use super::serve::{Conn, serve};

type BoxError = Box<dyn Error + Send + Sync>;

/// Serves `service` over HTTP/1.1 on `listener` until `shutdown`, through [`serve`] (so
/// with its caps, back-off and drain).
///
/// hyper's header read timeout is the idle timeout: it runs from the moment a connection
/// waits for a request head, so it covers both idle keep-alive and slow headers. Each of
/// those waits gets [`Conn::idle_timeout`] as of its start, so keep-alive connections are
/// shed quickly under pressure too. At shutdown, a connection finishes the request in
/// flight, then closes.
pub async fn serve_http<S, B>(
    listener: TcpListener,
    limits: Limits,
    shutdown: CancellationToken,
    service: S,
) -> io::Result<()>
where
    S: Clone + Send + 'static,
    TowerToHyperService<S>:
        hyper::service::Service<Request<Incoming>, Response = Response<B>> + Send + 'static,
    <TowerToHyperService<S> as hyper::service::Service<Request<Incoming>>>::Future: Send + 'static,
    <TowerToHyperService<S> as hyper::service::Service<Request<Incoming>>>::Error: Into<BoxError>,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    serve(listener, limits, shutdown, move |stream, peer, conn| {
        let service = TowerToHyperService::new(service.clone());
        async move {
            let _ = stream.set_nodelay(true);
            let connection = http1::Builder::new()
                .timer(IdleTimer::new(conn.clone()))
                .header_read_timeout(limits.idle_timeout)
                .serve_connection(TokioIo::new(stream), service);
            drive(connection, &conn, peer).await;
        }
    })
    .await
}

/// A hyper server connection that can be asked to finish its exchange in flight and close.
pub trait GracefulConnection: Future<Output = Result<(), Self::Error>> {
    type Error: std::fmt::Display;

    fn begin_graceful_shutdown(self: Pin<&mut Self>);
}

impl<I, S, B> GracefulConnection for http1::Connection<I, S>
where
    S: hyper::service::HttpService<Incoming, ResBody = B>,
    S::Error: Into<BoxError>,
    I: hyper::rt::Read + hyper::rt::Write + Unpin + 'static,
    B: Body + 'static,
    B::Error: Into<BoxError>,
{
    type Error = hyper::Error;

    fn begin_graceful_shutdown(self: Pin<&mut Self>) {
        self.graceful_shutdown();
    }
}

impl<I, S, B> GracefulConnection for http1::UpgradeableConnection<I, S>
where
    S: hyper::service::HttpService<Incoming, ResBody = B>,
    S::Error: Into<BoxError>,
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    B: Body + 'static,
    B::Error: Into<BoxError>,
{
    type Error = hyper::Error;

    fn begin_graceful_shutdown(self: Pin<&mut Self>) {
        self.graceful_shutdown();
    }
}

impl<I, S, B, E> GracefulConnection for http2::Connection<I, S, E>
where
    S: hyper::service::HttpService<Incoming, ResBody = B>,
    S::Error: Into<BoxError>,
    I: hyper::rt::Read + hyper::rt::Write + Unpin,
    B: Body + 'static,
    B::Error: Into<BoxError>,
    E: hyper::rt::bounds::Http2ServerConnExec<S::Future, B>,
{
    type Error = hyper::Error;

    fn begin_graceful_shutdown(self: Pin<&mut Self>) {
        self.graceful_shutdown();
    }
}

/// Drives one served connection to its end; when the listener shuts down, lets it finish
/// the exchange in flight and close (bounded: the accept loop cuts it when the drain grace
/// is over).
pub async fn drive<C: GracefulConnection>(connection: C, conn: &Conn, peer: SocketAddr) {
    tokio::pin!(connection);
    let result = tokio::select! {
        // The connection first, and no random branch order: it is polled at every wake.
        biased;
        result = connection.as_mut() => result,
        () = conn.shutdown().cancelled() => {
            connection.as_mut().begin_graceful_shutdown();
            connection.await
        }
    };
    if let Err(error) = result {
        tracing::debug!(%peer, %error, "http connection ended with an error");
    }
}

/// hyper's timer, which it uses only for the header read timeout: every deadline it asks
/// for is brought forward to the connection's idle timeout at that moment, so the timeout
/// is chosen afresh at each wait rather than once per connection.
#[derive(Debug, Clone)]
pub struct IdleTimer {
    conn: Conn,
}

impl IdleTimer {
    /// The timer for one connection of the accept loop.
    pub fn new(conn: Conn) -> Self {
        Self { conn }
    }

    fn clamp(&self, deadline: Instant) -> Instant {
        deadline.min(Instant::now() + self.conn.idle_timeout())
    }
}

impl Timer for IdleTimer {
    fn sleep(&self, duration: std::time::Duration) -> Pin<Box<dyn Sleep>> {
        TokioTimer::new().sleep(duration.min(self.conn.idle_timeout()))
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn Sleep>> {
        TokioTimer::new().sleep_until(self.clamp(deadline))
    }

    fn reset(&self, sleep: &mut Pin<Box<dyn Sleep>>, new_deadline: Instant) {
        TokioTimer::new().reset(sleep, self.clamp(new_deadline));
    }
}
