//! Fuzzes the Memcached configuration-file parser: any bytes (read lossily, as a file
//! would be) as the main file, which may include itself; `parse` must return settings
//! or diagnostics, never panic or run away.
#![no_main]

use std::path::Path;

use driftwatch::collect::conffile::{self, MemoryFiles};
use driftwatch::snapshot::Kind;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let files = MemoryFiles::new([("/etc/memcached.conf", text.as_ref())]);
    let _ = conffile::parse(Kind::Memcached, Path::new("/etc/memcached.conf"), &files);
});
