//! Secret redaction: the one place that decides what a secret looks like. Everything a
//! collector returns, every error message and every address passes through here before
//! it is stored, rendered, logged or printed (snapshot, state, diff, reports, JSON,
//! webhooks and metric labels all read what was redacted here).
//!
//! Two detectors:
//! - **by name**: a setting whose name says it holds a secret (`requirepass`,
//!   `masterauth`, `wsrep_sst_auth`, `ssl_passphrase_command`, `*password*`,
//!   `*secret*`, `*token*`, …) loses its whole value, except names known to hold policy
//!   knobs, not secrets (`password_encryption`, `old_passwords`, `*_password_*_file`,
//!   `*_key_id`, …);
//! - **by value**: inside any value or message, `password=…` pairs (libpq conninfo,
//!   query strings, `PGPASSWORD=…`, `aws_secret_access_key=…`) and the password part of
//!   `scheme://user:password@host` URLs.
//!
//! # Keyed fingerprints
//!
//! A [`Redactor`] without a key replaces a secret with [`MARKER`]: a changed secret is
//! then invisible across runs (nothing about it is stored). With a key
//! (`DRIFTWATCH_SECRET_KEY` or `[redaction] key_file`) it writes
//! `[REDACTED hmac:<12 hex>]`, the start of HMAC-SHA256(key, secret): the same secret
//! gives the same fingerprint, a changed one a different fingerprint, so `diff` shows
//! `[REDACTED hmac:aaa…] → [REDACTED hmac:bbb…]` without revealing either value. Equal
//! secrets have equal fingerprints (a replica's `masterauth` can be compared with its
//! primary's `requirepass`). Without the key nobody can test guesses against a
//! fingerprint; keep it as secret as the passwords.

use std::borrow::Cow;
use std::sync::LazyLock;

use hmac::{Hmac, Mac as _};
use regex::Regex;
use sha2::Sha256;

use crate::snapshot::{Entry, Snapshot, State};

/// What a redacted secret is replaced with when no key is configured.
pub const MARKER: &str = "[REDACTED]";

/// The shortest fingerprint key accepted, in bytes.
pub const MIN_KEY_BYTES: usize = 16;

/// Hex digits of the HMAC kept in a fingerprint (48 bits).
const FINGERPRINT_HEX: usize = 12;

static SECRET_NAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?ix)
        password | passwd | passphrase | secret | token | credential
        | requirepass | masterauth | masteruser | (^|[_.-])sst[_-]auth$ | filekey
        | private[_-]?key | api[_-]?key | access[_-]?key | auth[_-]?key | encryption[_-]?key
        | (^|[_.-])pass($|[_.-])
        ",
    )
    .expect("valid regex")
});

/// Names that match [`SECRET_NAME`] but hold no secret: file paths, lengths, policies,
/// key identifiers. Keeping them visible lets baselines check them
/// (`password_encryption = scram-sha-256`).
static NOT_SECRET_NAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?ix)
        ^(password_encryption | default_password_lifetime | disconnect_on_expired_password
          | password_history | password_reuse_interval | password_require_current
          | strict_password_validation | generated_random_password_length
          | authentication_policy | old_passwords | max_password_errors
          | innodb_ft_max_token_size | innodb_ft_min_token_size)$
        | ^(validate_password | simple_password_check | caching_sha2_password | sha256_password)
        | [_-](file|path|dir|directory|length|rounds|cache_size|lifetime|interval|supports_reload|id)$
        ",
    )
    .expect("valid regex")
});

/// `password=…` and friends inside free text: `(name)(separator)(value)`. A value that
/// is already a marker is matched whole so it is left alone (redaction is idempotent).
static CONNINFO_PASSWORD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"(?i)\b([a-z0-9_.]*(?:password|passwd|pwd|secret|passphrase)[a-z0-9_]*)(\s*[=:]\s*)(\[REDACTED[^\]]*\]|'(?:[^'\\]|\\.|'')*'|"(?:[^"\\]|\\.|"")*"|[^\s&;,'"]+)"#,
    )
    .expect("valid regex")
});

static URL_PASSWORD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b([a-z][a-z0-9+.-]*://[^:/@\s]*:)([^@\s/]+)@").expect("valid regex")
});

/// The bare setting name of a namespaced key (`setting.primary_conninfo` →
/// `primary_conninfo`; `role.app.password_encryption` → `password_encryption`: a role
/// or database name says nothing about the value).
fn bare_name(key: &str) -> std::borrow::Cow<'_, str> {
    if let Some(setting) = crate::scoped::parse(key).and_then(|k| k.setting) {
        return setting.into();
    }
    key.split_once('.').map_or(key, |(_, rest)| rest).into()
}

/// True when a setting of this name holds a secret as a whole.
pub fn is_secret_name(key: &str) -> bool {
    let name = bare_name(key);
    SECRET_NAME.is_match(&name) && !NOT_SECRET_NAME.is_match(&name)
}

/// True when `value` is what redaction put in place of a secret.
pub fn is_marker(value: &str) -> bool {
    value == MARKER || (value.starts_with("[REDACTED hmac:") && value.ends_with(']'))
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RedactError {
    #[error("the secret fingerprint key is {0} bytes: it needs at least {MIN_KEY_BYTES}")]
    ShortKey(usize),
}

/// Replaces secrets, with or without a fingerprint key. Cheap to clone.
#[derive(Clone, Default)]
pub struct Redactor {
    key: Option<Vec<u8>>,
}

/// The key is a secret: never printed.
impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redactor").field("keyed", &self.key.is_some()).finish()
    }
}

impl Redactor {
    /// Secrets become [`MARKER`]: a change of a secret cannot be seen across runs.
    pub fn unkeyed() -> Redactor {
        Redactor { key: None }
    }

    /// Secrets become `[REDACTED hmac:<12 hex>]` under `key` (at least
    /// [`MIN_KEY_BYTES`] bytes).
    pub fn keyed(key: &[u8]) -> Result<Redactor, RedactError> {
        if key.len() < MIN_KEY_BYTES {
            return Err(RedactError::ShortKey(key.len()));
        }
        Ok(Redactor { key: Some(key.to_vec()) })
    }

    pub fn is_keyed(&self) -> bool {
        self.key.is_some()
    }

    /// What `secret` is replaced with.
    pub fn marker(&self, secret: &str) -> String {
        let Some(key) = &self.key else { return MARKER.to_owned() };
        let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
        mac.update(secret.as_bytes());
        let digest = hex::encode(mac.finalize().into_bytes());
        format!("[REDACTED hmac:{}]", &digest[..FINGERPRINT_HEX])
    }

    /// Removes secrets embedded in free text: conninfo passwords and URL passwords.
    pub fn text<'a>(&self, input: &'a str) -> Cow<'a, str> {
        let keep_or_mark = |secret: &str| {
            if is_marker(secret) { secret.to_owned() } else { self.marker(secret) }
        };
        // Both patterns need a `=` or `:` (`password=…`, `scheme://user:…@`); most
        // values have neither.
        if !input.bytes().any(|b| b == b'=' || b == b':') {
            return Cow::Borrowed(input);
        }
        let once = CONNINFO_PASSWORD.replace_all(input, |c: &regex::Captures<'_>| {
            // MySQL's `Access denied … (using password: YES)` says whether a password
            // was sent, not which: keep it.
            let whole = c.get(0).expect("the match");
            let said = c[3].trim_end_matches(')');
            if input[..whole.start()].ends_with("using ") && (said == "YES" || said == "NO") {
                return whole.as_str().to_owned();
            }
            format!("{}{}{}", &c[1], &c[2], keep_or_mark(&c[3]))
        });
        let twice = match URL_PASSWORD.replace_all(&once, |c: &regex::Captures<'_>| {
            format!("{}{}@", &c[1], keep_or_mark(&c[2]))
        }) {
            Cow::Owned(out) => Some(out),
            Cow::Borrowed(_) => None,
        };
        let out = match (twice, once) {
            (Some(out), _) | (None, Cow::Owned(out)) => out,
            (None, Cow::Borrowed(_)) => return Cow::Borrowed(input),
        };
        if out == input { Cow::Borrowed(input) } else { Cow::Owned(out) }
    }

    /// Redacts one entry in place, given its key. Returns true when the entry holds
    /// (or held) a secret.
    pub fn entry(&self, key: &str, entry: &mut Entry) -> bool {
        if entry.value.is_empty() {
            return false;
        }
        if is_secret_name(key) {
            if !is_marker(&entry.value) {
                entry.value = self.marker(&entry.value);
                entry.redacted = true;
            }
            return true;
        }
        if let Cow::Owned(clean) = self.text(&entry.value) {
            entry.value = clean;
            entry.redacted = true;
            return true;
        }
        false
    }

    /// Redacts every entry of a snapshot's configuration.
    pub fn snapshot(&self, snapshot: &mut Snapshot) {
        for (key, e) in snapshot.config.iter_mut() {
            self.entry(key, e);
        }
    }

    /// Redacts every reading of a state map.
    pub fn state(&self, state: &mut State) {
        for (key, e) in state.iter_mut() {
            self.entry(key, e);
        }
    }
}

/// [`Redactor::text`] without a key: for messages and addresses.
pub fn text(input: &str) -> Cow<'_, str> {
    Redactor::unkeyed().text(input)
}

/// A connection URL fit to show: the password part replaced.
pub fn url(input: &str) -> String {
    text(input).into_owned()
}

/// [`Redactor::entry`] without a key.
pub fn entry(key: &str, entry: &mut Entry) -> bool {
    Redactor::unkeyed().entry(key, entry)
}

/// [`Redactor::snapshot`] without a key.
pub fn snapshot(snapshot: &mut Snapshot) {
    Redactor::unkeyed().snapshot(snapshot)
}

/// [`Redactor::state`] without a key.
pub fn state(state: &mut State) {
    Redactor::unkeyed().state(state)
}

#[cfg(test)]
mod tests;
