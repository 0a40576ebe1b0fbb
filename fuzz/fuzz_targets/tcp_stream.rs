//! A TCP stream, split into writes as its first byte says, against a real listener on
//! loopback: the replies must be the full path's, in order, whatever the split.
#![no_main]

#[path = "../common/checks.rs"]
mod checks;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use meridian::dns::DnsHandler;
use tokio_util::sync::CancellationToken;

struct Served {
    runtime: tokio::runtime::Runtime,
    handler: DnsHandler,
    addr: SocketAddr,
}

static SERVED: LazyLock<Served> = LazyLock::new(|| {
    let handler = checks::handler(Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/..")));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
    listener
        .set_nonblocking(true)
        .unwrap_or_else(|e| panic!("{e}"));
    let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
    let served = handler.clone();
    runtime.spawn(async move {
        let _ = meridian::dns::serve_tcp(listener, served, CancellationToken::new()).await;
    });
    Served {
        runtime,
        handler,
        addr,
    }
});

fuzz_target!(|input: &[u8]| {
    let served = &*SERVED;
    served
        .runtime
        .block_on(checks::check_stream(&served.handler, served.addr, input));
});
