//! Values as PostgreSQL reads them, against the generated PostgreSQL metadata. The
//! differential suite holds the same rules to the real server.

use super::*;

/// `name = raw` → the shown value, or the refusal as `check` prints it.
#[track_caller]
fn check(name: &str, raw: &str, expect: &str) {
    let meta = metadata();
    let (canonical, setting) = meta.setting(name).unwrap_or_else(|| panic!("no {name}"));
    let got = match parse_value(meta, canonical, setting, raw) {
        Ok(p) => p.shown,
        Err(r) => r.to_string(),
    };
    assert_eq!(got, expect, "{name} = {raw:?}");
}

#[test]
fn booleans_take_unique_prefixes() {
    for on in ["on", "t", "TR", "true", "y", "Yes", "1"] {
        check("fsync", on, "on");
    }
    for off in ["off", "of", "f", "FALSE", "n", "no", "0"] {
        check("fsync", off, "off");
    }
    for bad in ["o", "truex", "2", "", " on", "offf"] {
        check("fsync", bad, "parameter \"fsync\" requires a Boolean value");
    }
}

#[test]
fn integers_octal_hex_exponents_and_units() {
    check("work_mem", "0144", "100");
    check("work_mem", "0x100", "256");
    check("work_mem", "1e3", "1000");
    check("work_mem", "1.00001GB", "1048576");
    check("work_mem", "64 MB", "65536");
    check("shared_buffers", "128MB", "16384");
    check("log_rotation_age", "150s", "2");
    check("statement_timeout", "2.5ms", "2");
    check("statement_timeout", "5min", "300000");
    check(
        "work_mem",
        "1e1",
        "10 kB is outside the valid range for parameter \"work_mem\" (64 .. 2147483647)",
    );
    check(
        "work_mem",
        "2TB",
        "invalid value for parameter \"work_mem\": \"2TB\" (Value exceeds integer range.)",
    );
    check(
        "shared_buffers",
        "64mb",
        "invalid value for parameter \"shared_buffers\": \"64mb\" (Valid units for this parameter are \"B\", \"kB\", \"MB\", \"GB\", and \"TB\".)",
    );
    check("max_connections", "08", "invalid value for parameter \"max_connections\": \"08\"");
    check(
        "max_connections",
        "0",
        "0 is outside the valid range for parameter \"max_connections\" (1 .. 262143)",
    );
    check("unix_socket_permissions", "0770", "0770");
    check("unix_socket_permissions", "511", "0777");
}

#[test]
fn reals_enums_and_strings() {
    check("checkpoint_completion_target", "0.123456789", "0.123457");
    check("vacuum_cost_delay", "1500us", "1.5");
    check(
        "checkpoint_completion_target",
        "2",
        "2 is outside the valid range for parameter \"checkpoint_completion_target\" (0 .. 1)",
    );
    check("wal_level", "hot_standby", "replica");
    check("wal_level", "REPLICA", "replica");
    check("wal_compression", "on", "pglz");
    check("log_min_messages", "debug", "debug2");
    check(
        "wal_level",
        "bogus",
        "invalid value for parameter \"wal_level\": \"bogus\" (Available values: minimal, replica, logical.)",
    );
    check("TimeZone", "europe/paris", "Europe/Paris");
    check("TimeZone", "-8", "<-08>+08");
    check("TimeZone", "Mars/Olympus", "invalid value for parameter \"TimeZone\": \"Mars/Olympus\"");
    check("DateStyle", "sql, dmy", "SQL, DMY");
    check("cluster_name", "any text", "any text");
}
