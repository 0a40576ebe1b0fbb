//! A tap in front of a proxy: relays every request to it on a fresh connection, and keeps
//! the heads it relayed, so a test can count what reached that proxy.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use hyper::body::Incoming;
use hyper::header::HeaderMap;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};

pub(crate) struct Tap {
    pub(crate) addr: SocketAddr,
    /// The headers of every request relayed, in order.
    seen: Arc<Mutex<Vec<HeaderMap>>>,
}

impl Tap {
    /// A tap on 127.0.0.1 that relays to `target`.
    pub(crate) async fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let tap = Self {
            addr: listener.local_addr().unwrap(),
            seen: seen.clone(),
        };
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let seen = seen.clone();
                let service = service_fn(move |request: Request<Incoming>| {
                    seen.lock().unwrap().push(request.headers().clone());
                    relay(target, request)
                });
                tokio::spawn(http1::Builder::new().serve_connection(TokioIo::new(stream), service));
            }
        });
        tap
    }

    /// The headers of the requests relayed so far.
    pub(crate) fn seen(&self) -> Vec<HeaderMap> {
        self.seen.lock().unwrap().clone()
    }
}

async fn relay(
    target: SocketAddr,
    request: Request<Incoming>,
) -> Result<Response<Incoming>, hyper::Error> {
    let stream = TcpStream::connect(target).await.unwrap();
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(connection);
    sender.send_request(request).await
}
