//! Options as `mariadbd` reads them, against the generated MariaDB metadata. The
//! differential suite holds the same rules to the real server.

use super::*;

/// `name[=value]` → `var=shown` for each variable it sets (`var=(ignored)`), with
/// `!note` appended when the engine warns, or the refusal.
#[track_caller]
fn check(name: &str, value: Option<&str>, expect: &str) {
    let meta = metadata();
    let got = match meta.find(name, value) {
        Err(Refusal(e)) => e,
        Ok(None) => "(ignored)".to_owned(),
        Ok(Some(found)) => match assign(meta, &found, value) {
            Err(Refusal(e)) => e,
            Ok(list) => list
                .iter()
                .map(|a| {
                    let shown = a.shown.clone().unwrap_or_else(|| "(ignored)".into());
                    match &a.note {
                        Some(n) => format!("{}={shown}!{n}", a.variable),
                        None => format!("{}={shown}", a.variable),
                    }
                })
                .collect::<Vec<_>>()
                .join(" "),
        },
    };
    assert_eq!(got, expect, "{name} {value:?}");
}

#[test]
fn booleans_as_getopt_reads_them() {
    check("read_only", None, "read_only=ON");
    check("read-only", Some("TRUE"), "read_only=ON");
    check("read_only", Some("0"), "read_only=OFF");
    check(
        "read_only",
        Some("yes"),
        "read_only=OFF!option 'read_only': boolean value 'yes' wasn't recognized. Set to OFF.",
    );
    check("skip-name-resolve", None, "skip_name_resolve=ON");
    check("skip-read-only", None, "read_only=OFF");
    check("enable-read-only", None, "read_only=ON");
    check("loose-no-such-thing", Some("1"), "(ignored)");
    check("no_such_thing", Some("1"), "unknown variable 'no_such_thing=1'");
    check("no-such-flag", None, "unknown option '--no-such-flag'");
}

#[test]
fn numbers_suffixes_and_limits() {
    check("max_allowed_packet", Some("16M"), "max_allowed_packet=16777216");
    check("max_allowed_packet", Some("1Gb"), "max_allowed_packet=1073741824");
    check(
        "max_allowed_packet",
        Some("1000"),
        "max_allowed_packet=1024!option 'max_allowed_packet': unsigned value 1000 adjusted to 1024",
    );
    check("max_allowed_packet", Some("1500"), "max_allowed_packet=1024");
    check(
        "max_allowed_packet",
        Some("1x"),
        "Unknown suffix 'x' used for variable 'max_allowed_packet' (value '1x')",
    );
    check(
        "max_allowed_packet",
        Some("-1"),
        "Incorrect unsigned value: '-1' for max_allowed_packet",
    );
    check("max_connect_e", Some("50"), "max_connect_errors=50");
    // max-connections is read in the server's early pass: a prefix it shares with other
    // options still means it.
    check("max_conn", Some("50"), "max_connections=50");
    check("sql", Some("ansi"), "ambiguous option '--sql' (sql-mode, sql-safe-updates)");
}

#[test]
fn enums_sets_and_aliases() {
    check("binlog_format", Some("row"), "binlog_format=ROW");
    check("binlog_format", Some("mix"), "binlog_format=MIXED");
    check("slow_query_log", None, "slow_query_log=ON log_slow_query=ON");
    check(
        "sql_mode",
        Some("ansi_quotes,traditional"),
        "sql_mode=ANSI_QUOTES,STRICT_TRANS_TABLES,STRICT_ALL_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,ERROR_FOR_DIVISION_BY_ZERO,TRADITIONAL,NO_AUTO_CREATE_USER,NO_ENGINE_SUBSTITUTION",
    );
    check("table_cache", Some("77"), "table_open_cache=77");
    check(
        "character-set-server",
        Some("utf8mb4"),
        "character_set_server=utf8mb4", // the collation follows once every option is read
    );
    check("ansi", Some("1"), "option '--ansi' cannot take an argument");
    check("expire_logs_days", Some("2"), "expire_logs_days=2.000000");
}
