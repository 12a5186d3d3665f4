//! The process's memory allocator: jemalloc, tuned for a service that works in bursts
//! (an audit every few minutes) and idles in between.
//!
//! Measured on a 1,000-target re-audit (BENCHMARKS.md, fourth round): with glibc's
//! malloc a third of the CPU went to `malloc`/`free` bookkeeping (`unlink_chunk`,
//! `malloc_consolidate`) and freed memory stayed resident in per-thread arenas; with
//! this configuration the same audit takes about a third less CPU and peak RSS drops
//! by about a third.
//!
//! - `narenas:1`: one arena. The work is mostly waiting on servers and one rendering
//!   pass, and thread caches serve the hot paths; more arenas only keep more freed
//!   memory resident.
//! - `dirty_decay_ms:1000`: pages freed after a phase (collection, then publishing) go
//!   back to the OS within a second instead of ten, so the idle service between
//!   scheduled runs holds little.
//! - `muzzy_decay_ms:0`: released pages are unmapped at once (`MADV_DONTNEED`) rather
//!   than lazily, so they stop counting towards RSS.
//!
//! Operators can override any of it with `_RJEM_MALLOC_CONF` (jemalloc's
//! `MALLOC_CONF`, under the prefix this build uses), e.g. `narenas:4` on a large host.

#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// The options above, as the NUL-terminated string jemalloc reads at startup.
const CONF: &[u8] = b"narenas:1,dirty_decay_ms:1000,muzzy_decay_ms:0\0";

/// jemalloc's `const char *malloc_conf` (prefixed, like every symbol of this build):
/// a thin pointer to the first byte of [`CONF`].
#[unsafe(export_name = "_rjem_malloc_conf")]
static MALLOC_CONF: &u8 = &CONF[0];
