//! Config text through the loader and validation: accepted or refused, never a panic.
#![no_main]

#[path = "../common/checks.rs"]
mod checks;

use std::path::Path;
use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;

static SCRATCH: LazyLock<tempfile::TempDir> =
    LazyLock::new(|| tempfile::tempdir().unwrap_or_else(|e| panic!("{e}")));

fuzz_target!(|text: &[u8]| {
    let repo = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."));
    checks::check_config(repo, SCRATCH.path(), text);
});
