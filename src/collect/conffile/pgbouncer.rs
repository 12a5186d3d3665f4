//! `pgbouncer.ini`: not read yet.

use std::path::PathBuf;

use super::Settings;

/// Reads `paths` into `out`.
pub fn read(paths: &[PathBuf], _files: &dyn super::Files, out: &mut Settings) {
    if let Some(path) = paths.first() {
        out.problem(path, 1, "reading pgbouncer.ini is not supported yet");
    }
}
