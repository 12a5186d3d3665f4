//! The secrets catalogue, engine by engine, with real setting names; keyed
//! fingerprints.

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
    // MySQL says whether a password was sent: kept; a password after it is not.
    for said in ["YES", "NO"] {
        check_text(
            &format!("Access denied for user 'app'@'localhost' (using password: {said})"),
            &format!("Access denied for user 'app'@'localhost' (using password: {said})"),
        );
    }
    check_text("using password: hunter2", "using password: [REDACTED]");
    check_text("(using password: YESPLEASE)", "(using password: [REDACTED]");
}

#[test]
fn secret_names_lose_whole_value() {
    check_entry("setting.requirepass", "foobared", MARKER);
    check_entry("setting.masterauth", "foobared", MARKER);
    check_entry("setting.ssl_passphrase_command", "echo hunter2", MARKER);
    check_entry("setting.tls-key-file-pass", "x", MARKER);
    check_entry("setting.some_api_token", "x", MARKER);
    check_entry("setting.aws_secret_access_key", "x", MARKER);
    // Per-role settings: judged by the setting's name, not the role's.
    check_entry("role.app.myext.api_token", "x", MARKER);
    check_entry("role.\"my.app\"@shop.myext.secret", "x", MARKER);
    check_entry("role.passwordless_app.work_mem", "64MB", "64MB");
    check_entry("role.app.password_encryption", "scram-sha-256", "scram-sha-256");
}

#[test]
fn every_redis_secret_is_caught() {
    // The settings `CONFIG GET *` returns in clear on Redis 7.
    for name in
        ["requirepass", "masterauth", "masteruser", "tls-key-file-pass", "tls-client-key-file-pass"]
    {
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

const KEY: &[u8] = b"driftwatch-unit-test-key-32-bytes";

#[track_caller]
fn check_secret(name: &str) {
    let secret = "hunter2-secret-value";
    let mut e = Entry::new(secret);
    assert!(entry(&format!("setting.{name}"), &mut e), "{name} is not treated as a secret");
    assert_eq!(e.value, MARKER, "{name}");
    assert!(e.redacted);
}

#[test]
fn postgres_catalogue() {
    check_secret("ssl_passphrase_command");
    for (name, value) in [
        ("primary_conninfo", "host=10.0.0.1 user=replicator password=hunter2 sslmode=require"),
        ("restore_command", "PGPASSWORD=hunter2 pg_receivewal -h x"),
        ("archive_command", "aws s3 cp %p s3://b/%f --aws_secret_access_key=hunter2"),
        ("archive_command", "curl -T %p https://u:hunter2@backup.example.com/%f"),
        ("recovery_end_command", "notify --passphrase 'x' passphrase=\"hunter2\""),
    ] {
        let mut e = Entry::new(value);
        assert!(entry(&format!("setting.{name}"), &mut e), "{name}: {value}");
        assert!(!e.value.contains("hunter2"), "{name} kept the secret: {}", e.value);
    }
    for (name, value) in [
        ("password_encryption", "scram-sha-256"),
        ("ssl_key_file", "/etc/ssl/private/ssl-cert-snakeoil.key"),
        ("krb_server_keyfile", "FILE:/etc/postgresql-common/krb5.keytab"),
        ("authentication_timeout", "60"),
        ("ssl_passphrase_command_supports_reload", "off"),
    ] {
        check_entry(&format!("setting.{name}"), value, value);
    }
}

/// Names as `SHOW GLOBAL VARIABLES` on MariaDB 10.11 and MySQL 8 print them.
#[test]
fn mysql_catalogue() {
    for name in [
        "wsrep_sst_auth",
        "report_password",
        "file_key_management_filekey",
        "hashicorp_key_management_token",
        "aws_key_management_secret_access_key",
        "group_replication_recovery_password",
    ] {
        check_secret(name);
    }
    let mut e = Entry::new("gmcast.listen_addr=tcp://0.0.0.0:4567; socket.ssl_password=hunter2");
    assert!(entry("setting.wsrep_provider_options", &mut e));
    assert!(!e.value.contains("hunter2") && e.value.contains("gmcast.listen_addr"), "{}", e.value);
    for (name, value) in [
        ("old_passwords", "OFF"),
        ("max_password_errors", "4294967295"),
        ("default_password_lifetime", "0"),
        ("strict_password_validation", "ON"),
        ("innodb_default_encryption_key_id", "1"),
        ("innodb_encryption_rotate_key_age", "1"),
        ("innodb_ft_max_token_size", "84"),
        ("key_buffer_size", "134217728"),
        ("ssl_key", "/etc/mysql/server-key.pem"),
        ("secure_auth", "ON"),
        ("report_user", "replicator"),
        ("wsrep_sst_method", "rsync"),
        ("caching_sha2_password_private_key_path", "private_key.pem"),
    ] {
        check_entry(&format!("setting.{name}"), value, value);
    }
}

#[test]
fn redis_and_memcached_catalogue() {
    for name in
        ["requirepass", "masterauth", "masteruser", "tls-key-file-pass", "tls-client-key-file-pass"]
    {
        check_secret(name);
    }
    // memcached has no credentials among `stats settings`; its SASL is off here.
    for (name, value) in [("sasl", "no"), ("maxconns", "1024"), ("tls-key-file", "/k.pem")] {
        check_entry(&format!("setting.{name}"), value, value);
    }
}

#[test]
fn keyed_fingerprints_differ_by_secret_and_reveal_nothing() {
    let r = Redactor::keyed(KEY).unwrap();
    let a = r.marker("first-secret");
    let b = r.marker("second-secret");
    assert_ne!(a, b);
    assert_eq!(a, r.marker("first-secret"), "stable for the same secret");
    let re = regex::Regex::new(r"^\[REDACTED hmac:[0-9a-f]{12}\]$").unwrap();
    assert!(re.is_match(&a), "{a}");
    assert!(is_marker(&a) && is_marker(MARKER) && !is_marker("[REDACTED"));
    let other = Redactor::keyed(b"another-key-of-enough-bytes").unwrap();
    assert_ne!(a, other.marker("first-secret"), "depends on the key");
    assert_eq!(Redactor::keyed(b"short").unwrap_err(), RedactError::ShortKey(5));
}

#[test]
fn keyed_redaction_is_idempotent_in_names_and_text() {
    let r = Redactor::keyed(KEY).unwrap();
    let mut e = Entry::new("hunter2");
    r.entry("setting.masterauth", &mut e);
    let once = e.value.clone();
    r.entry("setting.masterauth", &mut e);
    assert_eq!(e.value, once);
    let text = "host=a password=hunter2 user=b postgres://u:hunter2@h/db";
    let once = r.text(text).into_owned();
    assert!(!once.contains("hunter2"), "{once}");
    assert_eq!(r.text(&once), once, "a second pass changes nothing");
    assert_eq!(text.matches("hunter2").count(), once.matches("hmac:").count());
}

#[test]
fn the_key_never_prints() {
    let r = Redactor::keyed(KEY).unwrap();
    assert_eq!(format!("{r:?}"), "Redactor { keyed: true }");
}
