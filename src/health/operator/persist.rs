//! The state file: [`load`] at start-up and an atomic [`save`] after every change.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::OperatorState;
use crate::health::atomic_file::write_atomically;

/// The format version written to, and the only one read from, the state file.
pub const FORMAT_VERSION: u64 = 1;

/// What is wrong with a state file that exists, naming it.
#[derive(Debug, thiserror::Error)]
pub enum OperatorFileError {
    /// The OS error is part of the message and deliberately not a `source()`, so a chain
    /// printed with anyhow's `{:#}` shows it exactly once (as in the config errors).
    #[error("{}: cannot read the operator state file: {error}", path.display())]
    Read { path: PathBuf, error: io::Error },
    /// Not JSON, or not the shape of a state file; serde_json's message has line and column.
    #[error("{}: invalid operator state file: {message}", path.display())]
    Parse { path: PathBuf, message: String },
    #[error(
        "{}: operator state file format version {found}, this build reads version {FORMAT_VERSION}",
        path.display()
    )]
    UnsupportedVersion { path: PathBuf, found: u64 },
}

/// The file as written.
#[derive(Serialize)]
struct StateFileOut<'a> {
    version: u64,
    regions: &'a OperatorState,
}

/// The file as read, once its format version is known to be [`FORMAT_VERSION`]. Only the top
/// level refuses unknown keys: the entries are also what the gossip carries, and a build that
/// changes them bumps the format version.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StateFileIn {
    #[serde(rename = "version")]
    _version: u64,
    regions: OperatorState,
}

/// Read on its own first, so a file of another format version is reported as such rather than
/// as a shape it does not have.
#[derive(Deserialize)]
struct FormatVersion {
    version: u64,
}

/// Reads the state file at `path`. A missing file is an empty state; anything else that goes
/// wrong is an error naming the path, never an empty state.
pub fn load(path: &Path) -> Result<OperatorState, OperatorFileError> {
    let bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == io::ErrorKind::NotFound => {
            return Ok(OperatorState::empty());
        }
        Err(error) => {
            return Err(OperatorFileError::Read {
                path: path.to_path_buf(),
                error,
            });
        }
    };
    let parse_error = |error: serde_json::Error| OperatorFileError::Parse {
        path: path.to_path_buf(),
        message: error.to_string(),
    };
    let format: FormatVersion = serde_json::from_slice(&bytes).map_err(parse_error)?;
    if format.version != FORMAT_VERSION {
        return Err(OperatorFileError::UnsupportedVersion {
            path: path.to_path_buf(),
            found: format.version,
        });
    }
    let file: StateFileIn = serde_json::from_slice(&bytes).map_err(parse_error)?;
    Ok(file.regions)
}

/// Writes `state` to `path` atomically (`health::atomic_file`): after a crash the file is
/// the old state or the new one, never half of either.
pub fn save(path: &Path, state: &OperatorState) -> io::Result<()> {
    let mut json = serde_json::to_vec_pretty(&StateFileOut {
        version: FORMAT_VERSION,
        regions: state,
    })
    .map_err(io::Error::other)?;
    json.push(b'\n');
    write_atomically(path, &json)
}
