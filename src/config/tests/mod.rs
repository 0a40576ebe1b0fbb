//! Config tests, one file per concern; the helpers every one of them uses.

mod access_log;
mod answer;
mod cookie_key;
mod health;
mod listen;
mod proxy;
mod proxy_refused;
mod rate_limit;
mod shipped;
mod steering;
mod values;

use std::fs;
use std::path::{Path, PathBuf};

use super::{Config, ConfigError};

pub(super) fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// Copies a config (main file + regions) into a temp dir so a test can break one file.
pub(super) fn copy_config(main: &Path) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let source_dir = main.parent().unwrap();
    fs::copy(main, dir.path().join("meridian.toml")).unwrap();
    fs::create_dir(dir.path().join("regions")).unwrap();
    for entry in fs::read_dir(source_dir.join("regions")).unwrap() {
        let path = entry.unwrap().path();
        fs::copy(
            &path,
            dir.path().join("regions").join(path.file_name().unwrap()),
        )
        .unwrap();
    }
    dir
}

/// Rewrites a file; panics when the change leaves it as it was, so a test never checks
/// an edit that silently did not happen (a `replace` whose pattern drifted).
pub(super) fn edit(path: &Path, change: impl FnOnce(String) -> String) {
    let text = fs::read_to_string(path).unwrap();
    let changed = change(text.clone());
    assert_ne!(
        changed,
        text,
        "the edit of {} changed nothing",
        path.display()
    );
    fs::write(path, changed).unwrap();
}

/// Loads as `Config::load` does, but with `MERIDIAN_ADMIN_TOKEN` unset whatever the
/// environment of the test run says.
pub(super) fn load(main: &Path) -> Result<Config, ConfigError> {
    Config::load_with_env_token(main, None)
}

pub(super) fn load_err(main: &Path) -> ConfigError {
    match load(main) {
        Ok(_) => panic!("{} was accepted", main.display()),
        Err(error) => error,
    }
}

pub(super) fn refused(file: &str, change: impl FnOnce(String) -> String, expect: &[&str]) {
    let dir = copy_config(&repo("meridian.toml"));
    edit(&dir.path().join(file), change);
    let error = load_err(&dir.path().join("meridian.toml")).to_string();
    assert!(error.contains(file), "{error} should name {file}");
    for part in expect {
        assert!(error.contains(part), "{error} should mention {part}");
    }
}
