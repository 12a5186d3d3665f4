//! `postgresql.conf` as the server reads it: tokens, includes, duplicates, values.

use crate::snapshot::Kind;

#[track_caller]
fn check(files: &[(&str, &str)], expect: &str) {
    assert_eq!(crate::collect::conffile::tests::parsed(Kind::Postgres, files), expect.trim());
}

/// Only the setting `name` (and its derived ones left out).
#[track_caller]
fn value(text: &str, name: &str, expect: &str) {
    let got = crate::collect::conffile::tests::parsed(Kind::Postgres, &[("/p.conf", text)]);
    let line = got
        .lines()
        .find(|l| l.starts_with(&format!("{name}=")))
        .map(|l| l[name.len() + 1..].rsplit_once('@').map_or(l, |(v, _)| v).to_owned())
        .unwrap_or(got.clone());
    assert_eq!(line, expect, "{text:?}");
}

#[test]
fn forms_and_comments() {
    check(
        &[(
            "/p.conf",
            "# c\n\nwal_level = replica  # why\nport 5433\nFSync=off\n  cluster_name = 'a b'\n",
        )],
        "cluster_name=a b@/p.conf:6\nfsync=off@/p.conf:5\nport=5433@/p.conf:4\nwal_level=replica@/p.conf:3",
    );
}

#[test]
fn quoting_and_escapes() {
    value(
        "archive_command = 'cp ''%p'' /a\\t\\101 # not a comment'\n",
        "archive_command",
        "(disabled)",
    );
    value(
        "archive_mode = on\narchive_command = 'cp ''%p'' /a\\t\\101 # x'\n",
        "archive_command",
        "cp '%p' /a\tA # x",
    );
}

#[test]
fn the_server_rules_for_values() {
    value("fsync = t\n", "fsync", "on");
    value("log_connections = of\n", "log_connections", "off");
    value("work_mem = 0144\n", "work_mem", "100");
    value("work_mem = '1.00001GB'\n", "work_mem", "1048576");
    value("wal_level = hot_standby\n", "wal_level", "replica");
    value("wal_compression = on\n", "wal_compression", "pglz");
    value("log_min_messages = debug\n", "log_min_messages", "debug2");
    value("datestyle = 'sql, dmy'\n", "DateStyle", "SQL, DMY");
}

#[test]
fn only_the_last_occurrence_is_checked() {
    check(&[("/p.conf", "port = bogus\nport = 5433\n")], "port=5433@/p.conf:2");
    check(
        &[("/p.conf", "port = bogus\nPORT = 5433\n")],
        "/p.conf:1:1: invalid value for parameter \"port\": \"bogus\"",
    );
}

#[test]
fn includes() {
    check(
        &[
            (
                "/etc/pg/postgresql.conf",
                "port = 1\ninclude 'extra.conf'\ninclude_dir = 'conf.d'\ninclude_if_exists '/nope.conf'\n",
            ),
            ("/etc/pg/extra.conf", "port = 2\nfsync = off\n"),
            ("/etc/pg/conf.d/20-b.conf", "port = 4\n"),
            ("/etc/pg/conf.d/10-a.conf", "port = 3\nfsync = on\n"),
            ("/etc/pg/conf.d/.hidden.conf", "port = 8\n"),
            ("/etc/pg/conf.d/ignored.txt", "port = 9\n"),
        ],
        "fsync=on@/etc/pg/conf.d/10-a.conf:2\nport=4@/etc/pg/conf.d/20-b.conf:1",
    );
}

#[test]
fn refusals_as_the_server_words_them() {
    for (text, expect) in [
        ("wal_level =\n", "/p.conf:1:1: syntax error in file \"/p.conf\" line 1, near end of line"),
        (
            "data_directory = /var/lib/pg\n",
            "/p.conf:1:1: syntax error in file \"/p.conf\" line 1, near token \"/\"",
        ),
        (
            "work_mem = 1 2\n",
            "/p.conf:1:1: syntax error in file \"/p.conf\" line 1, near token \"2\"",
        ),
        (
            "ssl_cert_file = server.crt\n",
            "/p.conf:1:1: syntax error in file \"/p.conf\" line 1, near token \"server.crt\"",
        ),
        ("port = 'x\n", "/p.conf:1:1: syntax error in file \"/p.conf\" line 1, near token \"'\""),
        (
            "bogus_setting = 1\n",
            "/p.conf:1:1: unrecognized configuration parameter \"bogus_setting\" in file \"/p.conf\" line 1",
        ),
        (
            "wal_level = bogus\n",
            "/p.conf:1:1: invalid value for parameter \"wal_level\": \"bogus\" (Available values: minimal, replica, logical.)",
        ),
        ("block_size = 8192\n", "/p.conf:1:1: parameter \"block_size\" cannot be changed"),
        (
            "include 'missing.conf'\n",
            "/p.conf:1:1: could not open configuration file \"/missing.conf\": No such file or directory",
        ),
        (
            "wal_level = minimal\n",
            "/p.conf:1:1: WAL streaming (max_wal_senders > 0) requires wal_level \"replica\" or \"logical\"",
        ),
    ] {
        check(&[("/p.conf", text)], expect);
    }
}

#[test]
fn extension_settings_are_accepted_and_not_listed() {
    check(&[("/p.conf", "pg_stat_statements.max = 10000\nport = 5433\n")], "port=5433@/p.conf:2");
}
