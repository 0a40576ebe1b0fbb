//! The fuzz targets' corpora (`fuzz/corpus/<target>/`), replayed on stable with the same
//! checks (`fuzz/common/checks.rs`): every reply parses, echoes the ID, sets QR, fits, keeps
//! the question; the cache sends the full path's bytes; any TCP split gets the same replies;
//! config text and MMDB bytes never panic or hang.

#[path = "../../fuzz/common/checks.rs"]
mod checks;

use std::path::{Path, PathBuf};

use meridian::dns::DnsHandler;
use tokio_util::sync::CancellationToken;

use crate::support::repo;

/// The inputs of one target's corpus, sorted; at least one (the seeds are committed).
fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let directory = repo("fuzz/corpus").join(target);
    let mut entries: Vec<PathBuf> = std::fs::read_dir(&directory)
        .unwrap_or_else(|e| panic!("{}: {e}", directory.display()))
        .map(|entry| entry.unwrap_or_else(|e| panic!("{e}")).path())
        .filter(|path| path.is_file())
        .collect();
    entries.sort();
    assert!(!entries.is_empty(), "{}: empty corpus", directory.display());
    entries
        .into_iter()
        .map(|path| {
            let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{e}"));
            (path, bytes)
        })
        .collect()
}

fn handler() -> DnsHandler {
    checks::handler(Path::new(env!("CARGO_MANIFEST_DIR")))
}

#[test]
fn udp_datagram_corpus_keeps_every_invariant() {
    let handler = handler();
    // Twice over: the second round meets a cache the whole corpus filled.
    for _ in 0..2 {
        for (path, packet) in corpus("udp_datagram") {
            eprintln!("{}", path.display());
            checks::check_datagram(&handler, &packet);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_stream_corpus_gets_the_full_paths_replies_in_order() {
    let handler = handler();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
    listener
        .set_nonblocking(true)
        .unwrap_or_else(|e| panic!("{e}"));
    let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(meridian::dns::serve_tcp(
        listener,
        handler.clone(),
        shutdown.clone(),
    ));
    for (path, input) in corpus("tcp_stream") {
        eprintln!("{}", path.display());
        checks::check_stream(&handler, addr, &input).await;
    }
    shutdown.cancel();
    let _ = server.await;
}

#[test]
fn config_text_corpus_is_accepted_or_refused() {
    let scratch = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let mut accepted = 0;
    for (path, text) in corpus("config_text") {
        eprintln!("{}", path.display());
        checks::check_config(&repo(""), scratch.path(), &text);
        let config = scratch.path().join("fuzz.toml");
        accepted +=
            usize::from(meridian::config::Config::load_with_env_token(&config, None).is_ok());
    }
    // The test config itself is among the seeds: the loader is really reached.
    assert!(accepted >= 1);
}

#[test]
fn mmdb_bytes_corpus_is_refused_or_looked_up() {
    for (path, bytes) in corpus("mmdb_bytes") {
        eprintln!("{}", path.display());
        checks::check_mmdb(&bytes);
    }
}
