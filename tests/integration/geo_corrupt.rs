//! A corrupt database whose search tree has a cycle is refused promptly, at start and on
//! reload (the running view stays).

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use meridian::geo::{GeoDb, GeoError};

use crate::support::*;

/// How long the refusal may take before the test calls it a hang (the load's own time box is
/// longer: the walk must stop by itself).
const PROMPT: Duration = Duration::from_secs(10);

/// A copy of a test database whose root node points at itself on both sides: every path
/// through the tree is endless.
fn cyclic_copy(dir: &Path) -> PathBuf {
    let source = geo_db(CITY);
    let reader = maxminddb::Reader::open_readfile(&source).unwrap_or_else(|e| panic!("{e}"));
    let node_bytes = usize::from(reader.metadata().record_size) * 2 / 8;
    assert!(reader.metadata().node_count > 1);
    let mut bytes = std::fs::read(&source).unwrap_or_else(|e| panic!("{e}"));
    // Both records of node 0 become 0, a pointer back to node 0 (whatever the record size).
    bytes[..node_bytes].fill(0);
    let path = dir.join("cyclic.mmdb");
    std::fs::write(&path, bytes).unwrap_or_else(|e| panic!("{e}"));
    path
}

/// Opens `path` on a thread, failing the test if that does not finish within [`PROMPT`].
fn open_promptly(path: &Path) -> Result<GeoDb, GeoError> {
    let (sender, receiver) = mpsc::channel();
    let owned = path.to_path_buf();
    std::thread::spawn(move || {
        let _ = sender.send(GeoDb::open(&owned));
    });
    receiver
        .recv_timeout(PROMPT)
        .unwrap_or_else(|_| panic!("GeoDb::open hung on {}", path.display()))
}

#[test]
fn a_search_tree_with_a_cycle_is_refused_promptly() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = cyclic_copy(dir.path());
    let error = open_promptly(&path).expect_err("a cyclic tree was accepted");
    // Refused by the bounded layout check itself, not by the load's time box.
    assert!(matches!(error, GeoError::NoCountries { .. }), "{error}");
    assert!(error.to_string().contains("cyclic.mmdb"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_meeting_a_cyclic_tree_keeps_the_running_view() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let db = dir.path().join("geo.mmdb");
    std::fs::copy(geo_db(CITY), &db).unwrap_or_else(|e| panic!("{e}"));
    let server = Server::start_with(&db, |_| {}).await;
    let before = server.view().generation;
    let cyclic = cyclic_copy(dir.path());
    std::fs::rename(&cyclic, &db).unwrap_or_else(|e| panic!("{e}"));
    // On a plain thread, not the runtime's blocking pool: a hung reload must fail the test,
    // not keep the runtime from shutting down.
    let reloader = server.reloader.clone();
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = sender.send(reloader.reload());
    });
    let result = receiver
        .recv_timeout(PROMPT)
        .unwrap_or_else(|_| panic!("the reload hung"));
    let error = result.expect_err("the cyclic database was swapped in");
    assert!(error.to_string().contains("geo.mmdb"), "{error}");
    let after = server.view();
    assert_eq!(after.generation, before);
    assert!(after.geo.database_type().contains("City"));
}
