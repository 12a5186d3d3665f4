//! PgBouncer 1.18 against `check` (see the module doc of `differential`). Each case's
//! file gets the harness's lines appended — in the `[pgbouncer]` section the case ends
//! in: a free port on 127.0.0.1, no Unix socket, `auth_type = trust` and a stats user —
//! and both sides read that same file: the real pgbouncer (as the postgres user), whose
//! `SHOW CONFIG` is compared with what `check` reads. (A file without `[pgbouncer]` is
//! a unit test of the reader: the harness's lines need that section.) Rules are from libusual's
//! `cfparser.c` (the format) and PgBouncer's `main.c` (the settings and their types).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};

use driftwatch::snapshot::Kind;

use super::{Case, Child, Engine, Rules};

const BIN: &str = "/usr/sbin/pgbouncer";
const USER: &str = "driftwatch_differential";

#[rustfmt::skip]
const CASES: &[Case] = &[
    Case::new("minimal", "a [pgbouncer] section is all it needs (cfparser.c: main section)", &[("p.ini", "[pgbouncer]\n")]),
    Case::new("main section after the others", "[pgbouncer] may come last; [databases] before it is read in order (cfparser.c)", &[("p.ini", "[databases]\napp = host=127.0.0.1\n[users]\n[pgbouncer]\nmax_client_conn = 3\n")]),
    Case::new("pool settings", "integers and times as written (main.c bouncer_params)", &[("p.ini", "[databases]\napp = host=127.0.0.1 dbname=app\n[pgbouncer]\ndefault_pool_size = 5\nreserve_pool_size = 2\nreserve_pool_timeout = 3\nmax_client_conn = 500\n")]),
    Case::new("hex and octal", "integers through strtol(…, 0): 0x10 is 16, 010 is 8 (cfparser.c cf_set_int)", &[("p.ini", "[pgbouncer]\ndefault_pool_size = 0x10\nmin_pool_size = 010\n")]),
    Case::new("fractional seconds", "times are seconds as a float, shown with %g (cf_set_time_usec, cf_get_time_double)", &[("p.ini", "[pgbouncer]\nquery_wait_timeout = 0.5\nserver_check_delay = 1e1\nserver_lifetime = 1234567\n")]),
    Case::new("negative time", "a time below 0 is an invalid value (cfparser.c parse_time)", &[("p.ini", "[pgbouncer]\nquery_wait_timeout = -1\n")]).refused_at("p.ini", 2),
    Case::new("time with a unit", "no units: 5s is not a number (parse_time)", &[("p.ini", "[pgbouncer]\nserver_connect_timeout = 5s\n")]).refused_at("p.ini", 2),
    Case::new("integer with junk", "the whole value must be a number (cf_set_int)", &[("p.ini", "[pgbouncer]\ndefault_pool_size = 20x\n")]).refused_at("p.ini", 2),
    Case::new("refusal line after blank lines", "the line named is where the parser stopped, past blank lines (cfparser.c count_lines)", &[("p.ini", "[pgbouncer]\ndefault_pool_size = 20x\n\n\nmax_client_conn = 5\n")]).refused_at("p.ini", 4),
    Case::new("lookup any case", "names are matched case-insensitively and shown as PgBouncer spells them (cf_set_lookup)", &[("p.ini", "[pgbouncer]\npool_mode = Transaction\nserver_tls_sslmode = PREFER\n")]),
    Case::new("unknown lookup", "a name not in the list is an invalid value (cf_set_lookup)", &[("p.ini", "[pgbouncer]\npool_mode = tx\n")]).refused_at("p.ini", 2),
    Case::new("unknown parameter", "an unknown key in [pgbouncer] stops loading (cfparser.c cf_set)", &[("p.ini", "[pgbouncer]\nno_such_setting = 1\n")]).refused_at("p.ini", 2),
    Case::new("inline comment is value", "only whole lines are comments: `; x` after a value is part of it (cfparser.c)", &[("p.ini", "[pgbouncer]\nserver_check_query = select 1 ; ping\n")]),
    Case::new("inline comment on a number", "…so a number followed by a comment is an invalid value", &[("p.ini", "[pgbouncer]\nmax_client_conn = 100 ; clients\n")]).refused_at("p.ini", 2),
    Case::new("comments", "lines starting with # or ; (after blanks) are comments (cfparser.c)", &[("p.ini", "# pooler\n  ; more\n[pgbouncer]\n# max_client_conn = 1\nmax_client_conn = 7\n")]),
    Case::new("empty string", "a string may be empty: server_check_query = disables the check (pgbouncer(5))", &[("p.ini", "[pgbouncer]\nserver_check_query =\nserver_reset_query = \n")]),
    Case::new("empty number", "an empty integer is an invalid value (cf_set_int)", &[("p.ini", "[pgbouncer]\nmax_client_conn =\n")]).refused_at("p.ini", 2),
    Case::new("no equals", "a key without = is a syntax error (cfparser.c)", &[("p.ini", "[pgbouncer]\npool_mode session\n")]).refused_at("p.ini", 2),
    Case::new("unterminated section", "a [ without ] on its line is a syntax error (cfparser.c)", &[("p.ini", "[pgbouncer\n")]).refused_at("p.ini", 1),
    Case::new("unknown section", "sections are pgbouncer, databases, users (main.c config_sects)", &[("p.ini", "[pgbouncer]\n[peers]\n")]).refused_at("p.ini", 2),
    Case::new("value before any section", "a key before the first section is refused (cfparser.c load_handler)", &[("p.ini", "max_client_conn = 5\n[pgbouncer]\n")]).refused_at("p.ini", 1),
    Case::new("later value wins", "a key set twice takes the last value (cf_set)", &[("p.ini", "[pgbouncer]\nmax_client_conn = 5\nmax_client_conn = 6\n")]),
    Case::new("second main section resets", "each [pgbouncer] sets every setting back to its default first (cfparser.c fill_defaults)", &[("p.ini", "[pgbouncer]\nmax_client_conn = 5\ndefault_pool_size = 3\n[databases]\n[pgbouncer]\ndefault_pool_size = 4\n")]),
    Case::new("include", "%include reads a file in place (cfparser.c), here from the working directory, the case folder", &[("p.ini", "[pgbouncer]\nmax_client_conn = 5\n%include more.ini\n"), ("more.ini", "max_client_conn = 9\ndefault_pool_size = 2\n")]),
    Case::new("include missing", "a file %include cannot read stops loading, at the %include line (cfparser.c)", &[("p.ini", "[pgbouncer]\n%include missing.ini\n")]).refused_at("p.ini", 2),
    Case::new("bad value in an include", "a refusal in an included file names that file (cfparser.c)", &[("p.ini", "[pgbouncer]\n%include more.ini\n"), ("more.ini", "max_client_conn = lots\n")]).refused_at("more.ini", 1),
    Case::new("quoted key", "1.18's parser has no quoted keys: a quote where a key starts is a syntax error (cfparser.c)", &[("p.ini", "[pgbouncer]\n'max_client_conn' = 11\n")]).refused_at("p.ini", 2),
    Case::new("blanks around", "blanks around = and at the end are dropped (cfparser.c)", &[("p.ini", "[pgbouncer]\n\t max_client_conn\t=\t12  \r\n")]),
    Case::new("databases and users", "[databases] and [users] entries are read by their own parsers; settings are untouched", &[("p.ini", "[databases]\n* = host=127.0.0.1\napp = host=127.0.0.1 port=5432 dbname=app pool_size=3\n[users]\napp = pool_mode=session\n[pgbouncer]\n")]),
    Case::new("unsigned packet size", "max_packet_size is unsigned: -1 wraps (main.c CF_UINT, strtoul)", &[("p.ini", "[pgbouncer]\nmax_packet_size = -1\n")]),
];

pub fn rules() -> Rules {
    Rules {
        kind: Kind::Pgbouncer,
        harness: &[
            "listen_addr",
            "listen_port",
            "unix_socket_dir",
            "auth_type",
            "auth_file",
            "stats_users",
            "logfile",
            "pidfile",
        ],
    }
}

#[test]
fn pgbouncer_reads_files_as_check_does() {
    super::require_binary(BIN, "install pgbouncer: bash tests/setup/tools.sh");
    super::require_binary("/usr/bin/psql", "install postgresql-client: bash tests/setup/tools.sh");
    super::run(&rules(), CASES, engine, Some("postgres"));
}

/// Appends the harness's lines to `main` and starts pgbouncer on it (as postgres, in the
/// case folder): the process, its port and its log.
pub fn start(main: &Path) -> (Child, u16, std::path::PathBuf) {
    let dir = main.parent().unwrap_or(Path::new("/")).to_owned();
    let port = super::free_port();
    let users = dir.join("harness-users.txt");
    std::fs::write(&users, format!("\"{USER}\" \"\"\n")).expect("auth file");
    super::chown_tree(&users, "postgres");
    let mut text = std::fs::read_to_string(main).expect("case file");
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(&format!(
        "listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\nauth_type = trust\n\
         auth_file = {}\nstats_users = {USER}\n",
        users.display()
    ));
    std::fs::write(main, text).expect("case file");
    let log = dir.join("pgbouncer.log");
    let out = std::fs::File::create(&log).expect("log");
    let err = out.try_clone().expect("log");
    use std::os::unix::process::CommandExt as _;
    let child = Child(
        Command::new("/usr/sbin/runuser")
            .args(["-u", "postgres", "--", BIN])
            .arg(main)
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0)
            .spawn()
            .expect("start pgbouncer"),
    );
    (child, port, log)
}

/// The harness's stats account, for the collector (trust: no password).
pub fn url(port: u16) -> String {
    format!("postgres://{USER}@127.0.0.1:{port}/pgbouncer")
}

/// What pgbouncer does with `main` (the harness's lines appended first).
pub fn engine(_case: &Case, main: &Path) -> Engine {
    let dir = main.parent().unwrap_or(Path::new("/")).to_owned();
    let (mut child, port, log) = start(main);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut answer = None;
    while std::time::Instant::now() < deadline {
        if let Some(config) = show_config(port) {
            answer = Some(config);
            break;
        }
        if child.exited() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.stop(libc::SIGTERM);
    match answer {
        Some(values) => Engine::Runs(values),
        None => {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            let errors: Vec<&str> = text.lines().filter(|l| l.contains(" ERROR ")).collect();
            let message = errors.first().copied().unwrap_or("exited").to_owned();
            let at = errors.iter().find_map(|l| located(l, &dir));
            Engine::Refuses { message, at }
        }
    }
}

/// `in configuration (FILE:LINE)`, the file as pgbouncer opened it (relative to `dir`).
fn located(message: &str, dir: &Path) -> Option<(Option<std::path::PathBuf>, usize)> {
    let caps =
        regex::Regex::new(r"in configuration \(([^():]+):(\d+)\)").ok()?.captures(message)?;
    Some((Some(dir.join(&caps[1])), caps[2].parse().ok()?))
}

fn show_config(port: u16) -> Option<BTreeMap<String, String>> {
    let out = Command::new("/usr/bin/psql")
        .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-U", USER, "-d", "pgbouncer"])
        .args(["-XAtq", "-F", "\t", "-c", "SHOW CONFIG"])
        .stderr(Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    Some(
        text.lines()
            .filter_map(|l| {
                let mut f = l.split('\t');
                Some((f.next()?.to_owned(), f.next()?.to_owned()))
            })
            .collect(),
    )
}
