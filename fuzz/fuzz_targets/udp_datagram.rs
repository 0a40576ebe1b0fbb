//! A UDP datagram through the handler: full path, cache fill and replay, every invariant.
#![no_main]

#[path = "../common/checks.rs"]
mod checks;

use std::path::Path;
use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use meridian::dns::DnsHandler;

static HANDLER: LazyLock<DnsHandler> =
    LazyLock::new(|| checks::handler(Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))));

fuzz_target!(|packet: &[u8]| {
    checks::check_datagram(&HANDLER, packet);
});
