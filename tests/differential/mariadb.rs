//! MariaDB 10.11 against `check` (see the module doc of `differential`). One data
//! directory is made (`mariadb-install-db`) and `mariadbd --defaults-file=<the case's
//! file>` is started on it per case, on a Unix socket in the case's folder and no TCP
//! at all; `SHOW GLOBAL VARIABLES` is what it runs with. Rules are from the MariaDB
//! Knowledge Base ("Configuring MariaDB with Option Files", "mariadbd Options",
//! "Server System Variables") and mysys/my_default.c, mysys/my_getopt.c, sql/mysqld.cc.

use std::collections::BTreeMap;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use driftwatch::snapshot::Kind;

use super::{Case, Child, Engine, Rules};

const BIN: &str = "/usr/sbin/mariadbd";
const ENV: [(&str, &str); 4] =
    [("PATH", "/usr/sbin:/usr/bin:/bin"), ("LANG", "C"), ("LC_ALL", "C"), ("TZ", "UTC")];

#[rustfmt::skip]
const CASES: &[Case] = &[
    Case::new("empty group", "everything left out takes its compiled-in default (mariadbd Options)", &[("my.cnf", "[mysqld]\n")]),
    Case::new("yes is not a boolean", "booleans are 1/0, ON/OFF, TRUE/FALSE; anything else is OFF with a warning (my_getopt.c get_bool_argument)", &[("my.cnf", "[mysqld]\nread_only = yes\nlocal_infile = TRUE\n")]),
    Case::new("a boolean alone", "an option without a value turns a boolean on; skip- turns it off (Option Files: Option Prefixes)", &[("my.cnf", "[mysqld]\nread_only\nskip-local-infile\n")]),
    Case::new("comments after values", "# starts a comment anywhere outside quotes (my_default.c remove_end_comment)", &[("my.cnf", "[mysqld]\ninit_connect = SELECT 1#x\ninit_slave = \"SELECT '#'\" # y\n")]),
    Case::new("escapes", "\\n \\t \\r \\b \\s \\\" \\' \\\\ are read; other backslashes are kept (my_default.c)", &[("my.cnf", "[mysqld]\ninit_slave = \"C:\\data\\x\\sy\"\n")]),
    Case::new("one quote", "quotes are removed only in a matching pair (my_default.c)", &[("my.cnf", "[mysqld]\ninit_connect = 'SET x=1\n")]),
    Case::new("size suffixes", "numbers take K, M, G, T, P, E (my_getopt.c eval_num_suffix)", &[("my.cnf", "[mysqld]\nmax_binlog_size = 512M\nmax_heap_table_size = 1T\ntmp_disk_table_size = 1E\n")]),
    Case::new("unknown suffix", "any other letter after a number is refused (my_getopt.c: Unknown suffix)", &[("my.cnf", "[mysqld]\nmax_allowed_packet = 16X\n")]).refused_at("my.cnf", 2),
    Case::new("negative unsigned", "an unsigned variable refuses a negative value (my_getopt.c: Incorrect unsigned value)", &[("my.cnf", "[mysqld]\nmax_connections = -1\n")]).refused_at("my.cnf", 2),
    Case::new("includedir", "!includedir reads every file ending in .cnf, hidden ones too, not .conf (my_default.c)", &[("my.cnf", "[mysqld]\n!includedir {dir}/conf.d\n"), ("conf.d/a.cnf", "[mysqld]\nwait_timeout = 100\n"), ("conf.d/.b.cnf", "[mysqld]\nwait_timeout = 200\n"), ("conf.d/c.conf", "[mysqld]\nwait_timeout = 300\n")]),
    Case::new("includedir missing", "a missing !includedir folder is fatal (my_default.c: my_dir with MY_WME)", &[("my.cnf", "[mysqld]\n!includedir {dir}/nope\n")]).refused_at("my.cnf", 2),
    Case::new("relative include, missing", "a relative !include is opened from the server's working directory and skipped when missing (my_default.c)", &[("my.cnf", "[mysqld]\n!include missing-relative.cnf\nwait_timeout = 5\n")]),
    Case::new("included file starts without a group", "an included file needs its own [group] (my_default.c found_group)", &[("my.cnf", "[mysqld]\n!include {dir}/inc.cnf\n"), ("inc.cnf", "wait_timeout = 7\n")]).refused_at("inc.cnf", 1),
    Case::new("group names", "[ mysqld] is not the mysqld group; group names ignore case (my_default.c, typelib find_type)", &[("my.cnf", "[ mysqld]\nwait_timeout = 9\n[MYSQLD]\nmax_connections = 200\n")]),
    Case::new("versioned groups", "[mariadb-10.11] and [mysqld-10.11] apply to 10.11 only (Option Files: Option Groups)", &[("my.cnf", "[mariadb-10.11]\nwait_timeout = 11\n[mariadb-10.6]\nwait_timeout = 12\n[client]\nport = 1\n")]),
    Case::new("unique prefix", "a unique prefix of an option name is that option (my_getopt.c findopt)", &[("my.cnf", "[mysqld]\nmax_connect_e = 50\n")]),
    Case::new("ambiguous prefix", "a prefix of several options is refused (my_getopt.c: ambiguous option)", &[("my.cnf", "[mysqld]\nmax_conn = 5\n")]).refused_at("my.cnf", 2),
    Case::new("expire_logs_days", "expire_logs_days also sets binlog_expire_logs_seconds (Server System Variables)", &[("my.cnf", "[mysqld]\nexpire_logs_days = 2\n")]),
    Case::new("alias", "slow_query_log is an alias of log_slow_query (Server System Variables)", &[("my.cnf", "[mysqld]\nslow_query_log = 1\n")]),
    Case::new("server character set", "character-set-server also sets the server and database collations (mysqld.cc)", &[("my.cnf", "[mysqld]\ncharacter-set-server = utf8mb4\n")]),
    Case::new("log-bin", "log-bin turns binary logging on (Binary Log)", &[("my.cnf", "[mysqld]\nlog-bin = mariadb-bin\nserver-id = 7\n")]),
    Case::new("sized from max_connections", "back_log, host_cache_size and thread_cache_size are sized from max_connections (mysqld.cc)", &[("my.cnf", "[mysqld]\nmax_connections = 500\n")]),
    Case::new("block size", "values are rounded down to the block size, then raised to the minimum, with a warning (my_getopt.c getopt_ull_limit_value)", &[("my.cnf", "[mysqld]\nmax_allowed_packet = 1000\nnet_buffer_length = 1500\n")]),
    Case::new("unknown variable", "an unknown variable stops the server (my_getopt.c: unknown variable)", &[("my.cnf", "[mysqld]\nwait_timeout = 5\nlog_error_verbosity = 3\n")]).refused_at("my.cnf", 3),
    Case::new("loose", "loose- makes an unknown option a warning (Option Files: Option Prefixes)", &[("my.cnf", "[mysqld]\nloose-no-such-option = 1\nwait_timeout = 13\n")]),
    Case::new("option before a group", "options must follow a [group] (my_default.c)", &[("my.cnf", "wait_timeout = 5\n[mysqld]\n")]),
    Case::new("bad group line", "a [ without ] is refused (my_default.c: Wrong group definition)", &[("my.cnf", "[mysqld\nwait_timeout = 5\n")]),
    Case::new("enums", "enum values ignore case and may be shortened (typelib find_type)", &[("my.cnf", "[mysqld]\nbinlog_format = row\nbinlog_row_image = min\n")]),
    Case::new("combination modes", "TRADITIONAL and ANSI expand to several sql_mode flags (sql_mode)", &[("my.cnf", "[mysqld]\nsql_mode = ansi_quotes,traditional\n")]),
    Case::new("enable and disable", "enable- and disable- prefixes (Option Files: Option Prefixes)", &[("my.cnf", "[mysqld]\ndisable-read-only\nenable-local-infile\n")]),
    Case::new("deprecated option", "table-cache is table_open_cache (mariadbd Options)", &[("my.cnf", "[mysqld]\ntable-cache = 777\n")]),
    Case::new("doubles", "doubles are shown with six decimals (Server System Variables)", &[("my.cnf", "[mysqld]\nlong_query_time = 2.5\n")]),
    Case::new("dashes and underscores", "dashes and underscores are the same in names (Option Files)", &[("my.cnf", "[mysqld]\nmax-connections = 200\nwait-timeout = 60\n")]),
    Case::new("names are case-sensitive", "option names are matched with their case (my_getopt.c getopt_compare_strings)", &[("my.cnf", "[mysqld]\nMax_Connections = 200\n")]).refused_at("my.cnf", 2),
    Case::new("value required", "an option that needs a value refuses none (my_getopt.c: requires an argument)", &[("my.cnf", "[mysqld]\nmax_connections\n")]).refused_at("my.cnf", 2),
    Case::new("flag with a value", "an option that takes no value refuses one (my_getopt.c: cannot take an argument)", &[("my.cnf", "[mysqld]\nansi = 1\n")]).refused_at("my.cnf", 2),
    Case::new("flag options", "ansi sets sql_mode and the isolation level (mariadbd Options)", &[("my.cnf", "[mysqld]\nansi\n")]),
    Case::new("a group in an included file", "an included file's [group] is its own; the including file keeps its group (my_default.c curr_gr per file)", &[("my.cnf", "[mysqld]\n!include {dir}/inc.cnf\nwait_timeout = 21\n"), ("inc.cnf", "[client]\nport = 1\n[mysqld]\nmax_connections = 300\n")]),
    Case::new("collation of another character set", "collation-server must belong to the server character set (mysqld.cc: COLLATION is not valid for CHARACTER SET)", &[("my.cnf", "[mysqld]\ncollation-server = utf8mb4_bin\n")]).refused_at("my.cnf", 2),
    Case::new("character set and collation", "collation-server is kept when it belongs to character-set-server (mysqld.cc)", &[("my.cnf", "[mysqld]\ncollation-server = utf8mb4_bin\ncharacter-set-server = utf8mb4\n")]),
    Case::new("transaction isolation", "transaction-isolation is mysqld's option for tx_isolation (mariadbd Options)", &[("my.cnf", "[mysqld]\ntransaction-isolation = READ-COMMITTED\ntransaction-read-only\n")]),
    Case::new("prefixes ignore case", "option names and their prefixes are matched ignoring case (my_getopt.c)", &[("my.cnf", "[mysqld]\nLOOSE-no-such = 1\nSKIP-local-infile\n")]),
    Case::new("check's own fixture", "tests/fixtures/check/mysql/replica: a relative !includedir from the working directory", &[("my.cnf", include_str!("../fixtures/check/mysql/replica/my.cnf"))]),
    Case::new("range clamps", "numbers above the maximum are lowered to it, with a warning (my_getopt.c)", &[("my.cnf", "[mysqld]\nmax_connect_errors = 99999999999\nwait_timeout = 999999999\n")]),
];

/// Set on the command line by the harness, or following from it (the data directory).
const HARNESS: &[&str] = &[
    "datadir",
    "socket",
    "skip_networking",
    "pid_file",
    "port",
    "report_port",
    "log_bin_basename",
    "log_bin_index",
    "relay_log_basename",
    "relay_log_index",
    "aria_log_dir_path",
    "wsrep_data_home_dir",
    "general_log_file",
    "slow_query_log_file",
    "log_slow_query_file",
];

#[test]
fn mariadb_reads_files_as_check_does() {
    super::require_binary(BIN, "install mariadb-server");
    let data = DataDir::new();
    super::run(
        &Rules { kind: Kind::Mysql, harness: HARNESS },
        CASES,
        |case, main| data.engine(case, main),
        Some("mysql"),
    );
}

struct DataDir {
    _dir: tempfile::TempDir,
    data: PathBuf,
}

impl DataDir {
    fn new() -> DataDir {
        let dir = tempfile::Builder::new()
            .prefix("driftwatch-differential-my-")
            .tempdir()
            .expect("temp dir");
        super::set_mode(dir.path(), 0o755);
        super::chown_tree(dir.path(), "mysql");
        let data = dir.path().join("data");
        let out = Command::new("/usr/bin/mariadb-install-db")
            .env_clear()
            .envs(ENV)
            .arg("--no-defaults")
            .arg(format!("--datadir={}", data.display()))
            .args(["--user=mysql", "--auth-root-authentication-method=normal", "--skip-test-db"])
            .output()
            .expect("run mariadb-install-db");
        assert!(
            out.status.success(),
            "mariadb-install-db failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        DataDir { _dir: dir, data }
    }

    fn engine(&self, _case: &Case, main: &Path) -> Engine {
        let dir = main.parent().unwrap_or(Path::new("/")).to_owned();
        let log_path = dir.join("mariadbd.log");
        let log = std::fs::File::create(&log_path).expect("log");
        let sock = dir.join("mysqld.sock");
        let cwd = std::env::current_dir().expect("cwd");
        let child = Command::new(BIN)
            .env_clear()
            .envs(ENV)
            .current_dir(&cwd)
            .arg(format!("--defaults-file={}", main.display()))
            .arg(format!("--datadir={}", self.data.display()))
            .arg(format!("--socket={}", sock.display()))
            .arg(format!("--pid-file={}", dir.join("mysqld.pid").display()))
            .args(["--skip-networking", "--user=mysql"])
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .process_group(0)
            .spawn()
            .expect("start mariadbd");
        let mut child = Child(child);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        let vars = loop {
            if child.exited() {
                break None;
            }
            if let Some(v) = show_variables(&sock) {
                break Some(v);
            }
            assert!(
                std::time::Instant::now() < deadline,
                "mariadbd neither answered nor exited in 60 s"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        };
        child.stop(libc::SIGTERM);
        match vars {
            Some(v) => Engine::Runs(v),
            None => {
                let text = std::fs::read_to_string(&log_path).unwrap_or_default();
                let errors: Vec<&str> = text
                    .lines()
                    .filter(|l| {
                        l.contains("[ERROR]")
                            || l.starts_with("error:")
                            || l.contains("Fatal error")
                    })
                    .collect();
                let message = errors.first().copied().unwrap_or("exited").to_owned();
                let at = errors.iter().find_map(|m| super::located(m));
                Engine::Refuses { message, at }
            }
        }
    }
}

/// `SHOW GLOBAL VARIABLES` through `sock`, batch output unescaped.
fn show_variables(sock: &Path) -> Option<BTreeMap<String, String>> {
    if !sock.exists() {
        return None;
    }
    let out = Command::new("/usr/bin/mariadb")
        .env_clear()
        .envs(ENV)
        .arg("--no-defaults")
        .arg(format!("--socket={}", sock.display()))
        .args(["-uroot", "-N", "-B", "-e", "SHOW GLOBAL VARIABLES"])
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    Some(
        text.lines()
            .filter_map(|l| l.split_once('\t'))
            .map(|(k, v)| (k.to_owned(), unescape(v)))
            .collect(),
    )
}

fn unescape(text: &str) -> String {
    let mut out = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('0') => out.push('\0'),
            Some('\\') => out.push('\\'),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}
