//! The `driftwatch` binary itself: what it is built with, beyond what the commands do.

use std::process::Command;

/// The binary runs on jemalloc with `src/allocator.rs`'s options (BENCHMARKS.md, fourth
/// round: a third less CPU and memory at 1,000 targets than glibc's malloc). Asked to
/// print its statistics at exit, jemalloc names the options in force; neither glibc
/// nor a jemalloc that missed the compiled-in `malloc_conf` would print these lines.
#[test]
fn the_binary_runs_on_jemalloc_with_its_tuned_options() {
    let out = Command::new(env!("CARGO_BIN_EXE_driftwatch"))
        .arg("--version")
        .env("_RJEM_MALLOC_CONF", "stats_print:true")
        .output()
        .expect("run driftwatch");
    assert!(out.status.success(), "{out:?}");
    let stats = String::from_utf8_lossy(&out.stderr);
    for line in ["opt.narenas: 1", "opt.dirty_decay_ms: 1000 ", "opt.muzzy_decay_ms: 0 "] {
        assert!(stats.contains(line), "no `{line}` in jemalloc's statistics:\n{stats}");
    }
}
