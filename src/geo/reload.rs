//! Reloads the database when its file is replaced, without dropping a query.
//!
//! Updaters (geoipupdate, our own script) write a new file and rename it over the old one, so
//! a change of inode, size or modification time means a new database. The file is read in
//! full and validated before the swap; a bad file is logged and the old database stays.

use std::fs;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio_util::sync::CancellationToken;

use super::{GeoDb, SharedGeoDb};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Fingerprint {
    inode: u64,
    len: u64,
    modified: Option<SystemTime>,
}

fn fingerprint(path: &PathBuf) -> Option<Fingerprint> {
    let metadata = fs::metadata(path).ok()?;
    Some(Fingerprint {
        inode: std::os::unix::fs::MetadataExt::ino(&metadata),
        len: metadata.len(),
        modified: metadata.modified().ok(),
    })
}

/// Polls the database file every `interval` until `shutdown`, swapping in new versions.
pub async fn watch(shared: SharedGeoDb, interval: Duration, shutdown: CancellationToken) {
    let path = shared.load().path().to_path_buf();
    // `loaded`: the file now in use; `refused`: the last version that failed, reported once.
    // A failure is retried every interval (it may be transient, like running out of file
    // descriptors), but logged once per version of the file.
    let mut loaded = fingerprint(&path);
    let mut refused = None;
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(interval) => {}
        }
        let current = fingerprint(&path);
        if current.is_none() || current == loaded {
            continue;
        }
        let open_path = path.clone();
        match tokio::task::spawn_blocking(move || GeoDb::open(&open_path)).await {
            Ok(Ok(db)) => {
                tracing::info!(
                    path = %path.display(),
                    database_type = db.database_type(),
                    build_epoch = db.build_epoch(),
                    "geo database reloaded"
                );
                shared.store(Arc::new(db));
                loaded = current;
                refused = None;
            }
            Ok(Err(error)) => {
                if refused != current {
                    tracing::error!(%error, "geo database not reloaded; still answering from the previous one");
                    refused = current;
                }
            }
            Err(error) => tracing::error!(%error, "geo database reload task failed"),
        }
    }
}
