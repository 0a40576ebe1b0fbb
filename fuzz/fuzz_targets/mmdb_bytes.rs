//! Bytes as a MaxMind DB: refused or accepted and looked up, never a panic or a hang.
#![no_main]

#[path = "../common/checks.rs"]
mod checks;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    checks::check_mmdb(bytes);
});
