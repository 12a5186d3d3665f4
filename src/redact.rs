//! Secret redaction: the one place that decides what a secret looks like. Everything a
//! collector returns, every error message and every address passes through here before
//! it is stored, rendered, logged or printed.
//!
//! Two detectors:
//! - **by name**: a setting whose name says it holds a secret (`requirepass`,
//!   `ssl_passphrase_command`, `*password*`, `*secret*`, `*token*`, …) loses its whole
//!   value, except names known to hold policy knobs, not secrets
//!   (`password_encryption`, `*_password_*_file`, …);
//! - **by value**: inside any value or message, `password=…` pairs (libpq conninfo,
//!   query strings) and the password part of `scheme://user:password@host` URLs.

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::Regex;

use crate::snapshot::{Entry, Snapshot, State};

/// What a redacted secret is replaced with.
pub const MARKER: &str = "[REDACTED]";

static SECRET_NAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?ix)
        password | passwd | passphrase | secret | token | credential
        | requirepass | masterauth | masteruser
        | private[_-]?key | api[_-]?key | access[_-]?key | auth[_-]?key | encryption[_-]?key
        | (^|[_.-])pass($|[_.-])
        ",
    )
    .expect("valid regex")
});

/// Names that match [`SECRET_NAME`] but hold no secret: file paths, lengths, policies.
/// Keeping them visible lets baselines check them (`password_encryption = scram-sha-256`).
static NOT_SECRET_NAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?ix)
        ^(password_encryption | default_password_lifetime | disconnect_on_expired_password
          | password_history | password_reuse_interval | password_require_current
          | strict_password_validation | generated_random_password_length
          | authentication_policy)$
        | ^(validate_password | simple_password_check | caching_sha2_password | sha256_password)
        | [_-](file|path|dir|directory|length|rounds|cache_size|lifetime|interval|supports_reload)$
        ",
    )
    .expect("valid regex")
});

static CONNINFO_PASSWORD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?i)\b(password|passwd|pwd)(\s*[=:]\s*)('(?:[^'\\]|\\.|'')*'|"(?:[^"\\]|\\.|"")*"|[^\s&;,'"]+)"#)
        .expect("valid regex")
});

static URL_PASSWORD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b([a-z][a-z0-9+.-]*://[^:/@\s]*:)([^@\s/]+)@").expect("valid regex")
});

/// The bare setting name of a namespaced key (`setting.primary_conninfo` →
/// `primary_conninfo`).
fn bare_name(key: &str) -> &str {
    key.split_once('.').map_or(key, |(_, rest)| rest)
}

/// True when a setting of this name holds a secret as a whole.
pub fn is_secret_name(key: &str) -> bool {
    let name = bare_name(key);
    SECRET_NAME.is_match(name) && !NOT_SECRET_NAME.is_match(name)
}

/// Removes secrets embedded in free text: conninfo passwords and URL passwords.
pub fn text(input: &str) -> Cow<'_, str> {
    let once = CONNINFO_PASSWORD
        .replace_all(input, |c: &regex::Captures<'_>| format!("{}{}{MARKER}", &c[1], &c[2]));
    match URL_PASSWORD.replace_all(&once, |c: &regex::Captures<'_>| format!("{}{MARKER}@", &c[1])) {
        Cow::Borrowed(_) => once,
        Cow::Owned(s) => Cow::Owned(s),
    }
}

/// A connection URL fit to show: the password part replaced.
pub fn url(input: &str) -> String {
    text(input).into_owned()
}

/// Redacts one entry in place, given its key. Returns true when anything was replaced.
pub fn entry(key: &str, entry: &mut Entry) -> bool {
    if entry.value.is_empty() {
        return false;
    }
    if is_secret_name(key) {
        if entry.value != MARKER {
            entry.value = MARKER.to_owned();
            entry.redacted = true;
        }
        return true;
    }
    if let Cow::Owned(clean) = text(&entry.value) {
        entry.value = clean;
        entry.redacted = true;
        return true;
    }
    false
}

/// Redacts every entry of a snapshot's configuration.
pub fn snapshot(snapshot: &mut Snapshot) {
    for (key, e) in snapshot.config.iter_mut() {
        entry(key, e);
    }
}

/// Redacts every reading of a state map.
pub fn state(state: &mut State) {
    for (key, e) in state.iter_mut() {
        entry(key, e);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check_text(input: &str, expect: &str) {
        assert_eq!(text(input), expect);
    }

    #[track_caller]
    fn check_entry(key: &str, value: &str, expect: &str) {
        let mut e = Entry::new(value);
        entry(key, &mut e);
        assert_eq!(e.value, expect);
        assert_eq!(e.redacted, value != expect, "redacted flag for {key}");
    }

    #[test]
    fn conninfo_password_is_replaced_rest_kept() {
        check_text(
            "user=replicator password=s3cr3t host=10.0.0.1 port=5432",
            "user=replicator password=[REDACTED] host=10.0.0.1 port=5432",
        );
        check_text("password = 'it''s a secret' host=x", "password = [REDACTED] host=x");
        check_text(
            "host=a password='p w\\'d' sslmode=require",
            "host=a password=[REDACTED] sslmode=require",
        );
        check_text("PASSWORD=abc", "PASSWORD=[REDACTED]");
    }

    #[test]
    fn url_password_is_replaced() {
        check_text("postgres://app:hunter2@db:5432/x", "postgres://app:[REDACTED]@db:5432/x");
        check_text("redis://:hunter2@127.0.0.1:6379", "redis://:[REDACTED]@127.0.0.1:6379");
        check_text(
            "postgres://app@db/x?password=hunter2&sslmode=require",
            "postgres://app@db/x?password=[REDACTED]&sslmode=require",
        );
        check_text("postgres://app@db:5432/x", "postgres://app@db:5432/x");
    }

    #[test]
    fn error_messages_lose_passwords() {
        check_text(
            "error connecting to postgres://u:pw@h/db: password authentication failed",
            "error connecting to postgres://u:[REDACTED]@h/db: password authentication failed",
        );
    }

    #[test]
    fn secret_names_lose_whole_value() {
        check_entry("setting.requirepass", "foobared", MARKER);
        check_entry("setting.masterauth", "foobared", MARKER);
        check_entry("setting.ssl_passphrase_command", "echo hunter2", MARKER);
        check_entry("setting.tls-key-file-pass", "x", MARKER);
        check_entry("setting.some_api_token", "x", MARKER);
        check_entry("setting.aws_secret_access_key", "x", MARKER);
    }

    #[test]
    fn every_redis_secret_is_caught() {
        // The settings `CONFIG GET *` returns in clear on Redis 7.
        for name in [
            "requirepass",
            "masterauth",
            "masteruser",
            "tls-key-file-pass",
            "tls-client-key-file-pass",
        ] {
            check_entry(&format!("setting.{name}"), "driftwatch-test-secret", MARKER);
        }
        // Paths and knobs with secret-looking names stay visible for baselines.
        for (name, value) in [
            ("tls-key-file", "/etc/redis/tls/redis.key"),
            ("tls-client-key-file", "/etc/redis/tls/client.key"),
            ("tls-auth-clients", "yes"),
            ("aclfile", "/etc/redis/users.acl"),
            ("tracking-table-max-keys", "1000000"),
            ("lazyfree-lazy-user-del", "no"),
            ("protected-mode", "yes"),
        ] {
            check_entry(&format!("setting.{name}"), value, value);
        }
    }

    #[test]
    fn policy_knobs_stay_visible() {
        check_entry("setting.password_encryption", "scram-sha-256", "scram-sha-256");
        check_entry("setting.ssl_passphrase_command_supports_reload", "off", "off");
        check_entry(
            "setting.caching_sha2_password_private_key_path",
            "private_key.pem",
            "private_key.pem",
        );
        check_entry("setting.ssl_key_file", "/etc/ssl/private/x.key", "/etc/ssl/private/x.key");
        check_entry("setting.validate_password.length", "8", "8");
        check_entry("setting.wal_level", "replica", "replica");
    }

    #[test]
    fn conninfo_settings_keep_their_shape() {
        check_entry(
            "setting.primary_conninfo",
            "host=127.0.0.1 port=5432 user=postgres password=s3cr3t application_name=r1",
            "host=127.0.0.1 port=5432 user=postgres password=[REDACTED] application_name=r1",
        );
    }

    #[test]
    fn empty_values_are_not_marked() {
        check_entry("setting.requirepass", "", "");
    }
}
