//! The `[redaction]` section: where the key of secret fingerprints comes from. The key
//! is read when a run needs it (like passwords), from `DRIFTWATCH_SECRET_KEY` or else
//! `key_file`; without one, secrets read `[REDACTED]` and a changed secret cannot be
//! seen across runs (see [`crate::redact`]).

use std::path::{Path, PathBuf};

use crate::redact::Redactor;

/// The environment variable holding the fingerprint key itself.
pub const KEY_ENV: &str = "DRIFTWATCH_SECRET_KEY";

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RedactionSettings {
    /// `[redaction] key_file`, resolved against the config's folder.
    pub key_file: Option<PathBuf>,
}

impl RedactionSettings {
    pub(super) fn from_raw(base: &Path, raw: super::raw::Redaction) -> RedactionSettings {
        RedactionSettings { key_file: raw.key_file.map(|f| base.join(f.into_inner())) }
    }

    /// The redactor for a run: keyed when `DRIFTWATCH_SECRET_KEY` is set (and not empty)
    /// or `key_file` is configured. Errors name the variable or file, never the key.
    pub fn redactor(&self) -> Result<Redactor, String> {
        let (source, key) = match (std::env::var(KEY_ENV), &self.key_file) {
            (Ok(key), _) if !key.is_empty() => (KEY_ENV.to_owned(), key.into_bytes()),
            (_, Some(path)) => {
                let source = format!("[redaction] key_file {}", path.display());
                let mut bytes =
                    std::fs::read(path).map_err(|e| format!("cannot read {source}: {e}"))?;
                while bytes.last().is_some_and(|b| matches!(b, b'\n' | b'\r')) {
                    bytes.pop();
                }
                (source, bytes)
            }
            _ => return Ok(Redactor::unkeyed()),
        };
        Redactor::keyed(&key).map_err(|e| format!("{source}: {e}"))
    }
}
