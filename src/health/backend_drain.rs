//! Backend drains: an operator takes one of the region's backends out of the balancing
//! (HAProxy's `set server state drain`) through the admin API, and the node keeps it out
//! across reloads and restarts.
//!
//! Two parts, both neutral ground between the proxy and the status listener (which may not
//! import each other):
//!
//! - [`BackendDrains`]: the drained backend ids of one node's region and their state file,
//!   `backends-<region>.json` in `[health] state_dir`. A change is saved (atomically) before
//!   it applies; a failed save changes nothing. A missing file is no drain; a file that exists
//!   but cannot be read is an error naming it, never silently "no drain".
//! - [`BackendControl`]: what the status listener asks of the proxy. The proxy implements it
//!   (it knows the backends and applies the drain to their live state); the node hands it to
//!   the status listener.
//!
//! A drain belongs to a backend id, not to an address: it stays when a reload changes the
//! backend's address or weight, and it stays in the file while a reload removes the id (so a
//! backend removed and added back is still drained; undrain it by id at any time).

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use serde::{Deserialize, Serialize};

use super::atomic_file::write_atomically;
use super::local::BackendReport;

/// The format version written to, and the only one read from, the drain file.
pub const DRAIN_FORMAT_VERSION: u64 = 1;

/// Who drained a backend and when (wall clock, for people: it decides nothing).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DrainEntry {
    pub by: String,
    pub at_unix_ms: u64,
}

/// What is wrong with a drain file that exists, naming it.
#[derive(Debug, thiserror::Error)]
pub enum DrainFileError {
    #[error("{}: cannot read the backend drain file: {error}", path.display())]
    Read { path: PathBuf, error: io::Error },
    #[error("{}: invalid backend drain file: {message}", path.display())]
    Parse { path: PathBuf, message: String },
    #[error(
        "{}: backend drain file format version {found}, this build reads version {DRAIN_FORMAT_VERSION}",
        path.display()
    )]
    UnsupportedVersion { path: PathBuf, found: u64 },
}

#[derive(Serialize)]
struct DrainFileOut<'a> {
    version: u64,
    drained: &'a BTreeMap<String, DrainEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DrainFileIn {
    #[serde(rename = "version")]
    _version: u64,
    drained: BTreeMap<String, DrainEntry>,
}

#[derive(Deserialize)]
struct FormatVersion {
    version: u64,
}

/// The drained backends of one node's region, and where they are kept.
#[derive(Debug)]
pub struct BackendDrains {
    file: PathBuf,
    /// Read without waiting (the proxy reads it when it rebuilds its snapshot, on a request's
    /// path); replaced whole after a save.
    drained: ArcSwap<BTreeMap<String, DrainEntry>>,
    /// Held across a save, so that changes are saved and applied in one order.
    saving: Mutex<()>,
}

impl BackendDrains {
    /// The drains kept in `file`, read back now; its folder is created if missing.
    pub fn open(file: PathBuf) -> Result<Self, DrainFileError> {
        let drained = load(&file)?;
        if let Some(dir) = file.parent().filter(|dir| !dir.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|error| DrainFileError::Read {
                path: dir.to_path_buf(),
                error,
            })?;
        }
        Ok(Self {
            file,
            drained: ArcSwap::from_pointee(drained),
            saving: Mutex::new(()),
        })
    }

    pub fn file(&self) -> &Path {
        &self.file
    }

    pub fn is_drained(&self, id: &str) -> bool {
        self.drained.load().contains_key(id)
    }

    /// The drained ids, sorted.
    pub fn drained_ids(&self) -> Vec<String> {
        self.drained.load().keys().cloned().collect()
    }

    /// Drains (`drained`) or undrains backend `id`, as asked by `by`. The new set is saved
    /// before it replaces the old one: when the save fails, nothing changes. Returns whether
    /// anything changed (draining a drained backend saves nothing and keeps its entry).
    pub fn set(&self, id: &str, drained: bool, by: &str, at_unix_ms: u64) -> io::Result<bool> {
        let _one_at_a_time = self.saving.lock().unwrap_or_else(|e| e.into_inner());
        let current = self.drained.load_full();
        if current.contains_key(id) == drained {
            return Ok(false);
        }
        let mut candidate = BTreeMap::clone(&current);
        if drained {
            candidate.insert(
                id.to_string(),
                DrainEntry {
                    by: by.to_string(),
                    at_unix_ms,
                },
            );
        } else {
            candidate.remove(id);
        }
        save(&self.file, &candidate)?;
        self.drained.store(Arc::new(candidate));
        Ok(true)
    }
}

/// Reads the drain file at `path`: a missing file is no drain; anything else that goes
/// wrong is an error naming the path.
pub fn load(path: &Path) -> Result<BTreeMap<String, DrainEntry>, DrainFileError> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(error) => {
            return Err(DrainFileError::Read {
                path: path.to_path_buf(),
                error,
            });
        }
    };
    let parse_error = |error: serde_json::Error| DrainFileError::Parse {
        path: path.to_path_buf(),
        message: error.to_string(),
    };
    let format: FormatVersion = serde_json::from_slice(&bytes).map_err(parse_error)?;
    if format.version != DRAIN_FORMAT_VERSION {
        return Err(DrainFileError::UnsupportedVersion {
            path: path.to_path_buf(),
            found: format.version,
        });
    }
    let file: DrainFileIn = serde_json::from_slice(&bytes).map_err(parse_error)?;
    Ok(file.drained)
}

/// Writes the drained set to `path` atomically.
pub fn save(path: &Path, drained: &BTreeMap<String, DrainEntry>) -> io::Result<()> {
    let mut json = serde_json::to_vec_pretty(&DrainFileOut {
        version: DRAIN_FORMAT_VERSION,
        drained,
    })
    .map_err(io::Error::other)?;
    json.push(b'\n');
    write_atomically(path, &json)
}

/// Why a drain or undrain was not applied.
#[derive(Debug, thiserror::Error)]
pub enum DrainError {
    /// The region has no backend of that id (and none of that id is drained).
    #[error("region {region} has no backend {id:?} (its backends: {known})")]
    UnknownBackend {
        region: String,
        id: String,
        known: String,
    },
    /// The state file could not be written: nothing changed.
    #[error("not applied: cannot save the backend drains to {}: {error}", file.display())]
    Save { file: PathBuf, error: io::Error },
}

/// What a drain or undrain did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DrainChange {
    pub region: String,
    pub backend: String,
    pub drained: bool,
    /// False when the backend already was in the state asked for.
    pub changed: bool,
    /// The backend as `/healthz` reports it now; `None` for an id the config no longer has
    /// (an undrain that cleans up the file).
    pub report: Option<BackendReport>,
}

/// What the status listener may ask of the region's proxy.
pub trait BackendControl: Send + Sync + std::fmt::Debug {
    /// Drains (`drained`) or undrains backend `id`, as asked by `by` (for logs and the
    /// file). Saved before applied: on [`DrainError::Save`] nothing changed.
    fn set_drained(&self, id: &str, drained: bool, by: &str) -> Result<DrainChange, DrainError>;
}

/// The control handle the node gives its status listener.
pub type SharedBackendControl = Arc<dyn BackendControl>;

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn a_missing_file_is_no_drain_and_a_saved_drain_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("state/backends-us-east.json");
        let drains = BackendDrains::open(file.clone()).unwrap();
        assert!(drains.drained_ids().is_empty());
        assert!(dir.path().join("state").is_dir(), "folder not created");
        assert!(drains.set("b1", true, "us-east/n1", 42).unwrap());
        assert!(
            !drains.set("b1", true, "us-east/n2", 43).unwrap(),
            "no change"
        );
        assert!(drains.is_drained("b1") && !drains.is_drained("b2"));
        let again = BackendDrains::open(file.clone()).unwrap();
        assert_eq!(again.drained_ids(), vec!["b1".to_string()]);
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(
            text.contains("\"version\": 1") && text.contains("us-east/n1"),
            "{text}"
        );
        assert!(drains.set("b1", false, "us-east/n1", 44).unwrap());
        assert!(BackendDrains::open(file).unwrap().drained_ids().is_empty());
    }

    #[test]
    fn a_failed_save_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        let drains = BackendDrains::open(state.join("backends-us-east.json")).unwrap();
        drains.set("b1", true, "t", 1).unwrap();
        // The folder becomes a file: every save fails (even as root, unlike permissions).
        std::fs::remove_dir_all(&state).unwrap();
        std::fs::write(&state, "not a folder").unwrap();
        assert!(drains.set("b2", true, "t", 2).is_err());
        assert!(drains.set("b1", false, "t", 3).is_err());
        assert_eq!(drains.drained_ids(), vec!["b1".to_string()]);
    }

    #[test]
    fn a_broken_or_foreign_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("backends-us-east.json");
        for (text, expected) in [
            ("{", "invalid backend drain file"),
            (
                "{\"version\": 1, \"drained\": [1]}",
                "invalid backend drain file",
            ),
            (
                "{\"version\": 1, \"drained\": {}, \"x\": 1}",
                "unknown field",
            ),
            ("{\"version\": 2, \"drained\": {}}", "format version 2"),
        ] {
            std::fs::write(&file, text).unwrap();
            let error = BackendDrains::open(file.clone()).unwrap_err().to_string();
            assert!(
                error.contains(expected) && error.contains("backends-us-east.json"),
                "{text}: {error}"
            );
        }
    }
}
