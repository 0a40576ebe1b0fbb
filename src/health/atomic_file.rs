//! Replacing a small state file atomically: the node's operator state and its backend drains
//! are both written this way, so that after a crash a file is the old version or the new one,
//! never half of either.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Writes `bytes` to `path` atomically: a temporary file in the same directory, synced,
/// renamed over `path`, then the directory synced so the rename itself survives a crash. On
/// failure the temporary file is removed and `path` is left as it was.
pub(super) fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let directory = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let temporary = temporary_path(path, directory)?;
    // `create_new`: never truncate a file this save did not create.
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&temporary)?;
    let written = file
        .write_all(bytes)
        .and_then(|()| file.sync_all())
        .and_then(|()| fs::rename(&temporary, path));
    drop(file);
    if let Err(error) = written {
        // Best effort: the error worth reporting is the one that stopped the save.
        let _ = fs::remove_file(&temporary);
        return Err(error);
    }
    File::open(directory)?.sync_all()
}

/// `.<name>.tmp.<pid>.<n>` beside the target: same directory, so the rename is atomic, and
/// unique within and across processes, so two saves never write one temporary file.
fn temporary_path(path: &Path, directory: &Path) -> io::Result<PathBuf> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let name = path.file_name().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{}: not a file name", path.display()),
        )
    })?;
    let mut temporary = std::ffi::OsString::from(".");
    temporary.push(name);
    temporary.push(format!(
        ".tmp.{}.{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    Ok(directory.join(temporary))
}
