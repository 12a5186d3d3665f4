//! PostgreSQL 15 against `check` (see the module doc of `differential`). One cluster
//! is created (`initdb`, as user postgres) and started once per case with
//! `-c config_file=<the case's file>`, on a free port, listening only on a Unix socket
//! in the case's folder; `pg_settings` is what it runs with. Rules are from the
//! PostgreSQL 15 documentation (runtime-config: "Setting Parameters", "Parameter
//! Interaction via the Configuration File") and src/backend/utils/misc (guc-file.l,
//! guc.c), src/backend/utils/adt/bool.c, src/backend/postmaster/postmaster.c.

use std::collections::BTreeMap;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use driftwatch::snapshot::Kind;

use super::{Case, Child, Engine, Rules};

const BIN: &str = "/usr/lib/postgresql/15/bin";
const ENV: [(&str, &str); 4] =
    [("PATH", "/usr/bin:/bin"), ("LANG", "C"), ("LC_ALL", "C"), ("TZ", "UTC")];

#[rustfmt::skip]
const CASES: &[Case] = &[
    Case::new("empty file", "settings left out take their built-in defaults (runtime-config: Setting Parameters)", &[("postgresql.conf", "")]),
    Case::new("boolean prefixes", "booleans take on/off, true/false, yes/no, 1/0 or any unambiguous prefix (runtime-config: Parameter Names and Values; bool.c parse_bool)", &[("postgresql.conf", "fsync = t\nlog_connections = of\nhot_standby = YES\n")]),
    Case::new("o is ambiguous", "`o` is not a unique prefix of on/off (bool.c)", &[("postgresql.conf", "fsync = o\n")]).refused_at("postgresql.conf", 1),
    Case::new("exponent notation", "numbers may be written in exponent notation, quoted, read by strtod (guc.c parse_int)", &[("postgresql.conf", "checkpoint_timeout = '1e2'\nmax_connections = '1.5e2'\n")]),
    Case::new("octal and hex", "integers may be written in octal or hex: strtol base 0 (guc.c parse_int)", &[("postgresql.conf", "work_mem = 0144\nmaintenance_work_mem = 0x10000\n")]),
    Case::new("rounding to the next smaller unit", "a fractional value is rounded to the next smaller unit, then to the setting's unit (runtime-config: Numeric with Unit; guc.c convert_to_base_unit)", &[("postgresql.conf", "work_mem = '1.00001GB'\nlog_rotation_age = 150s\nstatement_timeout = '2.5ms'\n")]),
    Case::new("enum aliases", "hidden enum values: hot_standby is replica, on is pglz, debug is debug2 (guc_tables.c)", &[("postgresql.conf", "wal_level = hot_standby\nwal_compression = on\nlog_min_messages = debug\n")]),
    Case::new("enum case", "enum values are case-insensitive (runtime-config: Parameter Names and Values)", &[("postgresql.conf", "wal_level = LOGICAL\n")]),
    Case::new("unknown enum value", "an enum takes only its values (guc.c)", &[("postgresql.conf", "wal_level = bogus\n")]).refused_at("postgresql.conf", 1),
    Case::new("out of range", "numbers must lie within the setting's range (guc.c)", &[("postgresql.conf", "max_connections = 0\n")]).refused_at("postgresql.conf", 1),
    Case::new("unquoted path", "a value that is not a simple identifier or number must be single-quoted (runtime-config: Parameter Names and Values)", &[("postgresql.conf", "port = 5440\nexternal_pid_file = /tmp/pg.pid\n")]),
    Case::new("overflow", "integers are 32-bit after unit conversion (guc.c parse_int: Value exceeds integer range)", &[("postgresql.conf", "work_mem = 2TB\n")]).refused_at("postgresql.conf", 1),
    Case::new("fixed at initdb", "block_size cannot be changed (runtime-config-preset)", &[("postgresql.conf", "block_size = 8192\n")]).refused_at("postgresql.conf", 1),
    Case::new("unknown time zone", "TimeZone must name a zone of the time zone database or a POSIX specification (datatype-datetime: Time Zones)", &[("postgresql.conf", "TimeZone = 'Mars/Olympus'\n")]).refused_at("postgresql.conf", 1),
    Case::new("time zone names", "zone names are case-insensitive; numbers are hours (variable.c check_timezone)", &[("postgresql.conf", "TimeZone = 'europe/paris'\nlog_timezone = 'EST5EDT'\n")]),
    Case::new("minimal WAL with senders", "wal_level minimal needs max_wal_senders = 0 (runtime-config-replication; postmaster.c)", &[("postgresql.conf", "wal_level = minimal\n")]).refused_at("postgresql.conf", 1),
    Case::new("minimal WAL without senders", "wal_level minimal with no WAL senders starts (runtime-config-wal)", &[("postgresql.conf", "wal_level = minimal\nmax_wal_senders = 0\n")]),
    Case::new("minimal WAL with archiving", "archiving needs wal_level replica or logical (postmaster.c)", &[("postgresql.conf", "max_wal_senders = 0\nwal_level = minimal\narchive_mode = on\n")]).refused_at("postgresql.conf", 2),
    Case::new("unknown parameter", "an unknown name refuses the file, at its line (guc-file.l)", &[("postgresql.conf", "port = 5441\nbogus_parameter = 1\n")]),
    Case::new("only the last occurrence", "when a parameter is set twice the last one wins; earlier ones are not even checked (guc-file.l: duplicate entries ignorable)", &[("postgresql.conf", "work_mem = bogus\nwork_mem = 8MB\n")]),
    Case::new("includes", "include and include_dir read files relative to the including file's folder; include_dir takes *.conf not starting with a dot, in order (runtime-config: Managing Configuration File Contents)", &[("postgresql.conf", "work_mem = 1MB\ninclude 'extra.conf'\ninclude_dir 'conf.d'\ninclude_if_exists 'missing.conf'\n"), ("extra.conf", "work_mem = 2MB\nfsync = off\n"), ("conf.d/20-b.conf", "work_mem = 4MB\n"), ("conf.d/10-a.conf", "work_mem = 3MB\nfsync = on\n"), ("conf.d/.hidden.conf", "work_mem = 8MB\n"), ("conf.d/notes.txt", "work_mem = 9MB\n")]),
    Case::new("include missing", "include of a missing file is an error, include_if_exists of one is not (runtime-config)", &[("postgresql.conf", "include 'missing.conf'\n")]).refused_at("postgresql.conf", 1),
    Case::new("quotes and escapes", "single quotes, '' for a quote, backslash escapes (guc-file.l GUC_scanstr)", &[("postgresql.conf", "cluster_name = 'a''b\\101\\tc'\n")]),
    Case::new("names ignore case", "parameter names are case-insensitive (runtime-config: Parameter Names and Values)", &[("postgresql.conf", "FSync = off\ndatestyle = 'sql, dmy'\n")]),
    Case::new("units are case-sensitive", "unit names are case-sensitive (runtime-config: Numeric with Unit)", &[("postgresql.conf", "shared_buffers = 128mb\n")]).refused_at("postgresql.conf", 1),
    Case::new("dotted unquoted value", "an unquoted a.b is a qualified name, not a value (guc-file.l QUALIFIED_ID)", &[("postgresql.conf", "ssl_cert_file = server.crt\n")]),
    Case::new("no equals sign", "the equal sign is optional (runtime-config: Parameter Names and Values)", &[("postgresql.conf", "work_mem 16MB\nport 5442\n")]),
    Case::new("unquoted fraction with unit", "1.5GB unquoted is two tokens (guc-file.l REAL then ID)", &[("postgresql.conf", "work_mem = 1.5GB\n")]),
    Case::new("reals", "reals are shown with %g; units convert (guc.c)", &[("postgresql.conf", "checkpoint_completion_target = 0.123456789\nvacuum_cost_delay = '1500us'\n")]),
    Case::new("wal_buffers sized", "wal_buffers -1 is 1/32 of shared_buffers, at most one segment (runtime-config-wal; xlog.c XLOGChooseNumBuffers)", &[("postgresql.conf", "shared_buffers = 1GB\n")]),
    Case::new("archive_command shown", "archive_command shows (disabled) while archive_mode is off (guc_tables.c show_archive_command)", &[("postgresql.conf", "archive_command = 'cp %p /tmp/x'\n")]),
    Case::new("archive_command active", "archive_command is shown as written once archiving is on", &[("postgresql.conf", "archive_mode = on\narchive_command = 'cp %p /tmp/x'\n")]),
    Case::new("reserved connections", "superuser_reserved_connections must be less than max_connections (postmaster.c)", &[("postgresql.conf", "max_connections = 3\n")]).refused_at("postgresql.conf", 1),
    Case::new("WAL too small", "min_wal_size must be at least twice wal_segment_size (xlog.c)", &[("postgresql.conf", "min_wal_size = 16MB\n")]).refused_at("postgresql.conf", 1),
    Case::new("list syntax", "search_path is a list of identifiers (namespace.c check_search_path)", &[("postgresql.conf", "search_path = '\"$user, public'\n")]).refused_at("postgresql.conf", 1),
    Case::new("synchronous standbys", "synchronous_standby_names: FIRST n (…), ANY n (…) or a list (runtime-config-replication)", &[("postgresql.conf", "synchronous_standby_names = 'FIRST 2 (a, b, \"c d\")'\n")]),
    Case::new("zero synchronous standbys", "the number of synchronous standbys must be greater than zero (syncrep.c)", &[("postgresql.conf", "synchronous_standby_names = '0 (a)'\n")]).refused_at("postgresql.conf", 1),
    Case::new("log destinations", "log_destination takes stderr, csvlog, jsonlog, syslog (elog.c check_log_destination)", &[("postgresql.conf", "log_destination = 'stderr,bogus'\n")]).refused_at("postgresql.conf", 1),
    Case::new("no newline at the end", "the last line needs no newline (guc-file.l: EOF like \\n)", &[("postgresql.conf", "port = 5443\nwork_mem = 64MB")]),
    Case::new("extension settings", "names with a dot are placeholders for extensions, accepted as written (runtime-config-custom)", &[("postgresql.conf", "myext.level = 3\nwork_mem = 4MB\n")]),
    Case::new("duplicates spelt differently", "only an occurrence spelt exactly the same is ignored: work_mem and WORK_MEM are both checked (guc-file.l: strcmp)", &[("postgresql.conf", "work_mem = bogus\nWORK_MEM = 8MB\n")]).refused_at("postgresql.conf", 1),
    Case::new("syntax error at the end", "a missing value at the end of a file without a newline (guc-file.l: EOF counts as a newline)", &[("postgresql.conf", "port = 5444\nwal_level =")]),
    Case::new("time zone as hours", "TimeZone may be a number of hours, shown as a POSIX zone (variable.c check_timezone)", &[("postgresql.conf", "TimeZone = '-8'\nlog_timezone = 'UTC'\n")]),
    Case::new("check's own fixture", "tests/fixtures/check/postgres/bad: includes, include_dir order, minimal WAL without senders", &[
        ("postgresql.conf", include_str!("../fixtures/check/postgres/bad/postgresql.conf")),
        ("durability.conf", include_str!("../fixtures/check/postgres/bad/durability.conf")),
        ("conf.d/10-wal.conf", include_str!("../fixtures/check/postgres/bad/conf.d/10-wal.conf")),
        ("conf.d/20-override.conf", include_str!("../fixtures/check/postgres/bad/conf.d/20-override.conf")),
    ]),
    Case::new("octal permissions", "unix_socket_permissions is shown in octal (guc_tables.c show_unix_socket_permissions)", &[("postgresql.conf", "unix_socket_permissions = 0770\nlog_file_mode = 416\n")]),
];

/// Set on the command line by the harness, or by the connection that reads them.
const HARNESS: &[&str] = &[
    "port",
    "listen_addresses",
    "unix_socket_directories",
    "config_file",
    "data_directory",
    "hba_file",
    "ident_file",
    "application_name",
    "client_encoding",
];

#[test]
fn postgres_reads_files_as_check_does() {
    super::require_binary(&format!("{BIN}/postgres"), "install postgresql-15");
    let cluster = Cluster::new();
    super::run(
        &Rules { kind: Kind::Postgres, harness: HARNESS },
        CASES,
        |case, main| cluster.engine(case, main),
        Some("postgres"),
    );
}

/// One initdb'd data directory, reused by every case.
struct Cluster {
    _dir: tempfile::TempDir,
    data: PathBuf,
}

impl Cluster {
    fn new() -> Cluster {
        let dir = tempfile::Builder::new()
            .prefix("driftwatch-differential-pg-")
            .tempdir()
            .expect("temp dir");
        super::set_mode(dir.path(), 0o755);
        super::chown_tree(dir.path(), "postgres");
        let data = dir.path().join("data");
        let out = as_postgres(Command::new(format!("{BIN}/initdb")))
            .args(["-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8", "--locale=C", "-D"])
            .arg(&data)
            .output()
            .expect("run initdb");
        assert!(out.status.success(), "initdb failed: {}", String::from_utf8_lossy(&out.stderr));
        Cluster { _dir: dir, data }
    }

    fn engine(&self, _case: &Case, main: &Path) -> Engine {
        let dir = main.parent().unwrap_or(Path::new("/")).to_owned();
        let log_path = dir.join("postgres.log");
        let log = std::fs::File::create(&log_path).expect("log");
        let port = super::free_port();
        let child = as_postgres(Command::new(format!("{BIN}/postgres")))
            .arg("-D")
            .arg(&self.data)
            .arg("-c")
            .arg(format!("config_file={}", main.display()))
            .args(["-p", &port.to_string(), "-c", "listen_addresses=", "-k"])
            .arg(&dir)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .process_group(0)
            .spawn()
            .expect("start postgres");
        let mut child = Child(child);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        let settings = loop {
            if child.exited() {
                break None;
            }
            if let Some(s) = pg_settings(&dir, port) {
                break Some(s);
            }
            assert!(
                std::time::Instant::now() < deadline,
                "postgres neither answered nor exited in 60 s"
            );
            std::thread::sleep(std::time::Duration::from_millis(30));
        };
        child.stop(libc::SIGINT);
        match settings {
            Some(s) => Engine::Runs(s),
            None => {
                let text = std::fs::read_to_string(&log_path).unwrap_or_default();
                let errors: Vec<&str> = text
                    .lines()
                    .filter(|l| l.contains("LOG:") || l.contains("FATAL:"))
                    .map(|l| l.split_once(":  ").map_or(l, |(_, m)| m))
                    .filter(|m| {
                        !m.starts_with("configuration file") && !m.starts_with("database system")
                    })
                    .collect();
                let last = text.lines().rfind(|l| !l.trim().is_empty()).unwrap_or("exited");
                let message = errors.first().copied().unwrap_or(last).to_owned();
                let at = errors.iter().find_map(|m| super::located(m));
                Engine::Refuses { message, at }
            }
        }
    }
}

fn as_postgres(mut command: Command) -> Command {
    let (uid, gid) = super::user_ids("postgres");
    command.env_clear().envs(ENV).uid(uid).gid(gid);
    command
}

/// `pg_settings` through the Unix socket in `dir`.
fn pg_settings(dir: &Path, port: u16) -> Option<BTreeMap<String, String>> {
    let out = Command::new("/usr/bin/psql")
        .env_clear()
        .envs(ENV)
        .args(["-X", "-h"])
        .arg(dir)
        .args([
            "-p",
            &port.to_string(),
            "-U",
            "postgres",
            "-d",
            "postgres",
            "-At",
            "-F",
            "\x1f",
            "-R",
            "\x1e",
        ])
        .args(["-c", "select name, coalesce(setting, '') from pg_settings"])
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    Some(
        text.trim_end_matches('\n')
            .split('\x1e')
            .filter_map(|row| row.split_once('\x1f'))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
    )
}
