//! Connection health end to end, with the real binary: servers filled with connections
//! past 80% of their usable limit and past the limit itself — the audit's findings, the
//! `/metrics` page built from the run, and both clearing once the connections close —
//! and slow or timed-out connects through a delaying proxy.
//!
//! PostgreSQL and memcached are instances of their own, started by the test with a small
//! limit (pid owned, process group killed on drop); Redis is the replica the setup
//! starts (`maxclients` lowered and restored under its exclusive lock).

use std::io::{BufRead as _, BufReader, Write as _};
use std::net::TcpStream;
use std::os::unix::process::CommandExt as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::harness::*;
use super::{finding, state_value, target};
use crate::differential::{Child, chown_tree, free_port, require_binary, set_mode};
use crate::support::pg::TestPg;
use crate::support::slow_proxy::SlowProxy;

/// The `/metrics` page of a service whose latest run is `run` (the JSON manifest).
fn metrics(run: &Value) -> String {
    let run: driftwatch::run::Run = serde_json::from_value(run.clone()).expect("a Run");
    driftwatch::server::metrics::render(&driftwatch::status::Status::from_history(&[run]))
}

/// The value of `name{target="<target>",…}` on a metrics page.
#[track_caller]
fn sample(page: &str, name: &str, target: &str) -> f64 {
    let prefix = format!("{name}{{target=\"{target}\"");
    let line = page
        .lines()
        .find(|l| l.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no {prefix}… in\n{page}"));
    line.rsplit(' ').next().unwrap().parse().expect("a number")
}

fn status_of(run: &Value, name: &str, rule: &str) -> String {
    finding(target(run, name), rule)["status"].as_str().unwrap().to_owned()
}

/// A workspace auditing `targets` (`[[targets]]` bodies) with `connect_timeout`.
fn workspace(connect_timeout: &str, targets: &str) -> Workspace {
    Workspace::with_config(&format!(
        "[store]\nurl = \"store\"\n\n[policies]\ndir = \"{}\"\n\n[audit]\nconnect_timeout = \
         \"{connect_timeout}\"\ntarget_timeout = \"20s\"\n\n{targets}",
        policies_dir().display()
    ))
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(Instant::now() < deadline, "{what} did not happen within 30 s");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// What these tests do with a PostgreSQL of their own.
impl TestPg {
    /// An idle session of `user`, connected when this returns (it has answered a
    /// query), open until dropped: psql reading a stdin that sends nothing more; killing
    /// it closes the connection, and the backend ends at once.
    fn hold(&self, user: &str) -> Child {
        let mut command = Command::new("psql");
        command.args(["-X", "-At", "-h", "127.0.0.1", "-p", &self.port.to_string(), "-U", user]);
        command.args(["-d", "postgres", "-f", "-"]);
        command.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::null());
        let mut child = Child(command.process_group(0).spawn().expect("start psql"));
        let stdin = child.0.stdin.as_mut().unwrap();
        stdin.write_all(b"SELECT 'ready';\n").unwrap();
        stdin.flush().unwrap();
        let mut line = String::new();
        BufReader::new(child.0.stdout.as_mut().unwrap()).read_line(&mut line).unwrap();
        assert_eq!(line.trim(), "ready", "the session of {user} did not connect");
        child
    }

    fn sessions_of(&self, user: &str) -> usize {
        self.psql(&format!("SELECT count(*) FROM pg_stat_activity WHERE usename = '{user}'"))
            .parse()
            .unwrap()
    }

    fn target(&self, name: &str, user: &str) -> String {
        format!(
            "[[targets]]\nname = \"{name}\"\nkind = \"postgres\"\nurl = \
             \"postgres://{user}@127.0.0.1:{}/postgres\"\nrole = \"primary\"\n\n",
            self.port
        )
    }
}

/// max_connections 10, 3 reserved for superusers: ordinary clients get 7. The auditor
/// is the superuser here (its own session counts), so it still reads a full server;
/// the least-privilege auditor is refused by a full server, with the reason.
#[test]
fn postgres_saturation_and_refusals_show_and_clear() {
    let pg = TestPg::start(&["max_connections=10", "superuser_reserved_connections=3"]);
    pg.psql("CREATE ROLE app LOGIN");
    pg.psql("CREATE ROLE auditor LOGIN IN ROLE pg_monitor");
    let ws = workspace("3s", &pg.target("pg-small", "postgres"));
    let monitor = workspace("3s", &pg.target("pg-small", "auditor"));

    let idle = ws.audit_json();
    let t = target(&idle, "pg-small");
    assert_eq!(state_value(t, "state.connections.limit"), "7");
    assert_eq!(state_value(t, "state.connections.in_use"), "1", "the audit's own session");
    assert_eq!(status_of(&idle, "pg-small", "PG-CONN-001"), "pass");
    let page = metrics(&idle);
    assert_eq!(sample(&page, "driftwatch_connections_limit", "pg-small"), 7.0);
    assert_eq!(sample(&page, "driftwatch_connections_in_use", "pg-small"), 1.0);

    // 5 sessions + the audit's own: 6 of 7, 85.7%.
    // Each connected before the next: nothing else takes an ordinary slot meanwhile.
    let mut held: Vec<Child> = (0..5).map(|_| pg.hold("app")).collect();
    assert_eq!(pg.sessions_of("app"), 5);
    let busy = ws.audit_json();
    let t = target(&busy, "pg-small");
    assert_eq!(state_value(t, "state.connections.usage_pct"), "85.7");
    assert_eq!(state_value(t, "state.connections.user.app"), "5");
    assert_eq!(state_value(t, "state.connections.idle"), "5");
    assert_eq!(state_value(t, "state.connections.active"), "1", "the audit's own query");
    assert_eq!(status_of(&busy, "pg-small", "PG-CONN-001"), "fail");
    assert_eq!(status_of(&busy, "pg-small", "PG-CONN-002"), "pass");
    // The least-privilege auditor (pg_monitor) sees every session.
    let seen = monitor.audit_json();
    let t = target(&seen, "pg-small");
    assert_eq!(t["status"], "ok", "{t:#}");
    assert_eq!(state_value(t, "state.connections.user.app"), "5");
    assert_eq!(state_value(t, "state.connections.in_use"), "6");

    // Every ordinary slot taken: the next ordinary client is refused.
    held.extend((0..2).map(|_| pg.hold("app")));
    assert_eq!(pg.sessions_of("app"), 7);
    let refused = pg.try_psql("app", "SELECT 1").expect_err("an 8th ordinary client is refused");
    assert!(refused.contains("connection slots are reserved"), "{refused}");
    let full = ws.audit_json();
    let t = target(&full, "pg-small");
    assert_eq!(state_value(t, "state.connections.usage_pct"), "114.3", "7 + the superuser audit");
    assert_eq!(status_of(&full, "pg-small", "PG-CONN-002"), "fail");
    let page = metrics(&full);
    assert_eq!(sample(&page, "driftwatch_connections_in_use", "pg-small"), 8.0);
    assert_eq!(sample(&page, "driftwatch_target_up", "pg-small"), 1.0);
    // The least-privilege auditor is refused too, and says why.
    let shut_out = monitor.audit_json();
    let t = target(&shut_out, "pg-small");
    assert_eq!(t["status"], "error", "{t:#}");
    let error = t["error"].as_str().unwrap();
    assert!(error.contains("connection limit (max_connections)"), "{error}");
    assert!(error.contains("pg_use_reserved_connections"), "{error}");
    assert_eq!(sample(&metrics(&shut_out), "driftwatch_target_up", "pg-small"), 0.0);
    let group_page = std::fs::read_to_string(ws.store().join("reports/targets/pg-small.html"))
        .expect("target page");
    assert!(group_page.contains("Connection headroom"), "the target page charts it");

    drop(held);
    wait_until("the app sessions closing", || pg.sessions_of("app") == 0);
    let clear = ws.audit_json();
    assert_eq!(status_of(&clear, "pg-small", "PG-CONN-001"), "pass");
    assert_eq!(status_of(&clear, "pg-small", "PG-CONN-002"), "pass");
    assert_eq!(sample(&metrics(&clear), "driftwatch_connections_in_use", "pg-small"), 1.0);
}

/// Sessions idle in a transaction and waiting on a lock, as the least-privilege auditor
/// sees them on its own server.
#[test]
fn postgres_idle_transactions_and_lock_waits_are_measured() {
    let pg = TestPg::start(&["max_connections=20", "superuser_reserved_connections=3"]);
    pg.psql("CREATE ROLE auditor LOGIN IN ROLE pg_monitor");
    // One session takes an advisory lock and stays idle in its transaction; another
    // waits for the same lock.
    let mut idle = Command::new("psql");
    idle.args(["-X", "-h", "127.0.0.1", "-p", &pg.port.to_string(), "-U", "postgres"]);
    idle.args(["-d", "postgres", "-f", "-"]);
    idle.stdin(Stdio::piped()).stdout(Stdio::null()).process_group(0);
    let mut idle = Child(idle.spawn().expect("psql"));
    let mut stdin = idle.0.stdin.take().unwrap();
    writeln!(stdin, "BEGIN; SELECT pg_advisory_xact_lock(42);").unwrap();
    wait_until("a session idle in transaction", || {
        pg.psql("SELECT count(*) FROM pg_stat_activity WHERE state = 'idle in transaction'") == "1"
    });
    let _waiter = pg.hold_sql("SELECT pg_advisory_lock(42)");
    wait_until("a session waiting on the lock", || {
        pg.psql("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'") == "1"
    });
    std::thread::sleep(Duration::from_millis(1100));
    let ws = workspace("3s", &pg.target("pg-locks", "auditor"));
    let run = ws.audit_json();
    let t = target(&run, "pg-locks");
    assert_eq!(state_value(t, "state.connections.idle_in_transaction"), "1");
    assert_eq!(state_value(t, "state.connections.waiting_lock"), "1");
    let age: f64 =
        state_value(t, "state.connections.oldest_idle_in_transaction_s").parse().unwrap();
    let wait: f64 = state_value(t, "state.connections.longest_lock_wait_s").parse().unwrap();
    assert!((1.0..60.0).contains(&age), "{age}");
    assert!((1.0..60.0).contains(&wait), "{wait}");
    assert_eq!(state_value(t, "state.connections.user.postgres"), "2");
    assert_eq!(state_value(t, "state.connections.database.postgres"), "3", "with the audit");
    assert_eq!(status_of(&run, "pg-locks", "PG-CONN-004"), "pass", "under 5 minutes");
    drop(stdin);
}

impl TestPg {
    fn hold_sql(&self, sql: &str) -> Child {
        let mut command = self.psql_command("postgres", sql);
        command.stdout(Stdio::null()).stderr(Stdio::null()).process_group(0);
        Child(command.spawn().expect("start psql"))
    }
}

/// A connect held back 1.2 s by a proxy: measured and slow; with a connect_timeout
/// shorter than the delay: unreachable, naming connect_timeout.
#[test]
fn slow_connects_are_measured_and_timeouts_named() {
    require_port(PRIMARY_PORT, "PostgreSQL (primary)");
    let proxy = SlowProxy::start(PRIMARY_PORT, Duration::from_millis(1200));
    let body = format!(
        "[[targets]]\nname = \"pg-slow\"\nkind = \"postgres\"\nurl = \
         \"postgres://postgres@127.0.0.1:{}/postgres\"\nrole = \"primary\"\n",
        proxy.port
    );
    let run = workspace("5s", &body).audit_json();
    let t = target(&run, "pg-slow");
    assert_eq!(t["status"], "ok", "{t:#}");
    let ms: f64 = state_value(t, "state.connect_ms").parse().unwrap();
    assert!((1200.0..5000.0).contains(&ms), "{ms}");
    let slow = finding(t, "PG-CONN-003");
    assert_eq!(slow["status"], "fail", "{slow:#}");
    let seconds = sample(&metrics(&run), "driftwatch_connect_duration_seconds", "pg-slow");
    assert!(seconds >= 1.2, "{seconds}");

    let run = workspace("500ms", &body).audit_json();
    let t = target(&run, "pg-slow");
    assert_eq!(t["status"], "unreachable", "{t:#}");
    let error = t["error"].as_str().unwrap();
    let expect =
        format!("timed out after 500ms (connect_timeout) connecting to 127.0.0.1:{}", proxy.port);
    assert!(error.ends_with(&expect), "{error}");
    assert_eq!(sample(&metrics(&run), "driftwatch_connect_timeout", "pg-slow"), 1.0);
}

/// Raw TCP clients of a line protocol: each sends `probe` and is kept when the answer
/// starts with `ok`, else counted as refused; stops at the first refusal.
fn fill(port: u16, probe: &str, ok: &str, max: usize) -> (Vec<TcpStream>, usize) {
    let mut held = Vec::new();
    for _ in 0..max {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        stream.write_all(probe.as_bytes()).unwrap();
        let mut line = String::new();
        let _ = BufReader::new(stream.try_clone().unwrap()).read_line(&mut line);
        if line.starts_with(ok) {
            held.push(stream);
        } else {
            return (held, 1);
        }
    }
    (held, 0)
}

/// memcached -c 256 (one worker thread) of the test's own: filled until it refuses,
/// then one slot freed so the audit can read it. memcached keeps a few descriptors of
/// its `-c` for itself and refuses clients a little below it, so
/// usage is above 80% but not necessarily 95% when refusals start.
#[test]
fn memcached_saturation_and_refusals_show_and_clear() {
    require_binary("/usr/bin/memcached", "bash tests/setup/tools.sh");
    let port = free_port();
    let server = Command::new("/usr/bin/memcached")
        .args(["-l", "127.0.0.1", "-p", &port.to_string(), "-U", "0", "-c", "256", "-t", "1"])
        .args(["-u", "memcache"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .expect("start memcached");
    let _server = Child(server);
    wait_until("memcached listening", || TcpStream::connect(("127.0.0.1", port)).is_ok());
    let body = format!(
        "[[targets]]\nname = \"mc-small\"\nkind = \"memcached\"\nurl = \
         \"memcached://127.0.0.1:{port}\"\nrole = \"standalone\"\n"
    );
    let ws = workspace("3s", &body);
    let idle = ws.audit_json();
    let t = target(&idle, "mc-small");
    assert_eq!(state_value(t, "state.connections.limit"), "256");
    assert_eq!(status_of(&idle, "mc-small", "MC-CONN-001"), "pass");

    let (mut held, refused) = fill(port, "version\r\n", "VERSION", 300);
    assert_eq!(refused, 1, "memcached refuses near -c 256 (held {})", held.len());
    assert!(held.len() > 220, "{} held", held.len());
    held.pop();
    std::thread::sleep(Duration::from_millis(200));
    let full = ws.audit_json();
    let t = target(&full, "mc-small");
    assert_eq!(t["status"], "ok", "{t:#}");
    assert_eq!(status_of(&full, "mc-small", "MC-CONN-001"), "fail", "{:#}", t["state"]);
    let page = metrics(&full);
    assert!(sample(&page, "driftwatch_connections_refused_total", "mc-small") >= 1.0);
    assert_eq!(sample(&page, "driftwatch_connections_limit", "mc-small"), 256.0);

    drop(held);
    std::thread::sleep(Duration::from_millis(200));
    let clear = ws.audit_json();
    assert_eq!(status_of(&clear, "mc-small", "MC-CONN-001"), "pass");
}

/// The Redis replica with `maxclients` lowered (restored when dropped).
struct MaxClients(String);

impl MaxClients {
    fn set(value: usize) -> MaxClients {
        let before = redis_cli(&["CONFIG", "GET", "maxclients"]);
        let before = before.lines().nth(1).expect("maxclients value").to_owned();
        redis_cli(&["CONFIG", "SET", "maxclients", &value.to_string()]);
        MaxClients(before)
    }
}

impl Drop for MaxClients {
    fn drop(&mut self) {
        redis_cli(&["CONFIG", "SET", "maxclients", &self.0]);
    }
}

fn redis_cli(args: &[&str]) -> String {
    let port = crate::support::REDIS_REPLICA.to_string();
    let out = Command::new("redis-cli").args(["-p", &port]).args(args).output().expect("redis-cli");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn redis_saturation_and_refusals_show_and_clear() {
    let port = crate::support::REDIS_REPLICA;
    require_port(port, "Redis replica");
    let _lock = ServerLock::exclusive("redis-replica");
    let body = format!(
        "[[targets]]\nname = \"rd-small\"\nkind = \"redis\"\nurl = \"redis://127.0.0.1:{port}\"\n\
         role = \"replica\"\n"
    );
    let ws = workspace("3s", &body);
    let connected: usize = redis_cli(&["INFO", "clients"])
        .lines()
        .find_map(|l| l.strip_prefix("connected_clients:"))
        .and_then(|n| n.trim().parse().ok())
        .expect("connected_clients");
    ws.audit_json();
    let (held, refused, full) = {
        // Room for 4 more clients than are connected now (redis-cli's own included).
        let _max = MaxClients::set(connected + 4);
        let (mut held, refused) = fill(port, "PING\r\n", "+PONG", 20);
        held.pop();
        std::thread::sleep(Duration::from_millis(200));
        (held, refused, ws.audit_json())
    };
    assert_eq!(refused, 1, "Redis refuses past maxclients");
    let t = target(&full, "rd-small");
    assert_eq!(t["status"], "ok", "{t:#}");
    assert_eq!(status_of(&full, "rd-small", "RD-CONN-002"), "fail");
    assert_eq!(status_of(&full, "rd-small", "RD-CONN-003"), "fail", "refused since the last audit");
    assert!(sample(&metrics(&full), "driftwatch_connections_refused_total", "rd-small") >= 1.0);

    drop(held);
    let clear = ws.audit_json();
    assert_eq!(status_of(&clear, "rd-small", "RD-CONN-001"), "pass");
    assert_eq!(status_of(&clear, "rd-small", "RD-CONN-003"), "pass", "no new refusal");
}

/// A MariaDB of this test's own (`mariadb-install-db` in a temporary folder), on
/// 127.0.0.1 with `max_connections = 10`.
struct TestMariaDb {
    port: u16,
    sock: std::path::PathBuf,
    _server: Child,
    _dir: tempfile::TempDir,
}

impl TestMariaDb {
    fn start(max_connections: u32) -> TestMariaDb {
        require_binary("/usr/sbin/mariadbd", "apt-get install mariadb-server");
        let dir = tempfile::Builder::new().prefix("driftwatch-conn-my-").tempdir().unwrap();
        set_mode(dir.path(), 0o755);
        let data = dir.path().join("data");
        // Its own temporary folder: not the /tmp other tests share.
        let tmp = dir.path().join("tmp");
        std::fs::create_dir(&tmp).unwrap();
        chown_tree(dir.path(), "mysql");
        let out = Command::new("/usr/bin/mariadb-install-db")
            .env_clear()
            .env("PATH", "/usr/bin:/bin:/usr/sbin")
            .env("TMPDIR", &tmp)
            .arg("--no-defaults")
            .arg(format!("--datadir={}", data.display()))
            .args(["--user=mysql", "--auth-root-authentication-method=normal", "--skip-test-db"])
            .output()
            .expect("run mariadb-install-db");
        assert!(out.status.success(), "install-db: {}", String::from_utf8_lossy(&out.stderr));
        chown_tree(dir.path(), "mysql");
        let port = free_port();
        let sock = dir.path().join("mysqld.sock");
        let log = std::fs::File::create(dir.path().join("mariadbd.log")).unwrap();
        let server = Command::new("/usr/sbin/mariadbd")
            .env_clear()
            .env("PATH", "/usr/bin:/bin:/usr/sbin")
            .env("TMPDIR", &tmp)
            .arg("--no-defaults")
            .arg(format!("--datadir={}", data.display()))
            .arg(format!("--socket={}", sock.display()))
            .arg(format!("--pid-file={}", dir.path().join("mysqld.pid").display()))
            .args(["--bind-address=127.0.0.1", &format!("--port={port}"), "--user=mysql"])
            .arg(format!("--max-connections={max_connections}"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .process_group(0)
            .spawn()
            .expect("start mariadbd");
        let db = TestMariaDb { port, sock, _server: Child(server), _dir: dir };
        wait_until("the test MariaDB answering", || db.try_sql("SELECT 1").is_ok());
        db
    }

    /// As root over the socket.
    fn try_sql(&self, sql: &str) -> Result<String, String> {
        let out = Command::new("mariadb")
            .arg(format!("--socket={}", self.sock.display()))
            .args(["-uroot", "-N", "-B", "-e", sql])
            .output()
            .expect("run mariadb");
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }

    #[track_caller]
    fn sql(&self, sql: &str) -> String {
        self.try_sql(sql).unwrap_or_else(|e| panic!("{sql:?}: {e}"))
    }

    /// The `mariadb` client as `user` over TCP, reading `sql`, or statements from a stdin
    /// that never comes (an idle session) when `sql` is empty.
    fn client(&self, user: &str, sql: &str) -> Command {
        let mut command = Command::new("mariadb");
        command.args(["-h", "127.0.0.1", "-P", &self.port.to_string(), "-u", user, "-ppw"]);
        if !sql.is_empty() {
            command.args(["-N", "-B", "-e", sql]);
        }
        command
    }

    /// An idle session of `user`, connected when this returns (it has answered a
    /// query), open until dropped.
    fn hold(&self, user: &str) -> Child {
        let mut command = self.client(user, "");
        command
            .args(["-N", "--unbuffered"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let mut child = Child(command.process_group(0).spawn().expect("start mariadb"));
        let stdin = child.0.stdin.as_mut().unwrap();
        stdin.write_all(b"SELECT 'ready';\n").unwrap();
        stdin.flush().unwrap();
        let mut line = String::new();
        BufReader::new(child.0.stdout.as_mut().unwrap()).read_line(&mut line).unwrap();
        assert_eq!(line.trim(), "ready", "the session of {user} did not connect");
        child
    }

    fn sessions_of(&self, user: &str) -> usize {
        self.sql(&format!(
            "SELECT count(*) FROM information_schema.PROCESSLIST WHERE USER = '{user}'"
        ))
        .parse()
        .unwrap()
    }
}

/// max_connections 10 for everyone but an account with `CONNECTION ADMIN`, which gets
/// one more: the audit's account has it, so it reads the full server and the refusal
/// (as an aborted connect: that is where MariaDB counts it).
#[test]
fn mariadb_saturation_and_refusals_show_and_clear() {
    let db = TestMariaDb::start(10);
    db.sql("CREATE USER app@'%' IDENTIFIED BY 'pw'");
    db.sql("CREATE USER watch@'%' IDENTIFIED BY 'pw'");
    db.sql("GRANT BINLOG MONITOR, SLAVE MONITOR, CONNECTION ADMIN ON *.* TO watch@'%'");
    let password = db._dir.path().join("watch-password");
    std::fs::write(&password, "pw").unwrap();
    set_mode(&password, 0o600);
    let body = format!(
        "[[targets]]\nname = \"my-small\"\nkind = \"mysql\"\nurl = \
         \"mysql://watch@127.0.0.1:{}/\"\npassword_file = \"{}\"\nrole = \"primary\"\n",
        db.port,
        password.display()
    );
    let ws = workspace("3s", &body);
    let idle = ws.audit_json();
    let t = target(&idle, "my-small");
    assert_eq!(state_value(t, "state.connections.limit"), "10");
    assert!(state_value(t, "state.uptime_s").parse::<u64>().is_ok());
    assert_eq!(status_of(&idle, "my-small", "MY-CONN-001"), "pass");
    assert_eq!(status_of(&idle, "my-small", "MY-CONN-003"), "not_applicable", "first audit");

    // Each connected before the next (nothing else takes an ordinary slot meanwhile).
    let held: Vec<Child> = (0..10).map(|_| db.hold("app")).collect();
    assert_eq!(db.sessions_of("app"), 10);
    let refused = db.client("app", "SELECT 1").output().expect("run mariadb");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("Too many connections"), "an 11th client is refused: {stderr}");
    let full = ws.audit_json();
    let t = target(&full, "my-small");
    assert_eq!(t["status"], "ok", "{t:#}");
    assert_eq!(state_value(t, "state.connections.usage_pct"), "110", "10 + the audit");
    assert_eq!(status_of(&full, "my-small", "MY-CONN-002"), "fail");
    // MariaDB 10.11 counts a client refused at max_connections (after its login) in
    // Aborted_connects; Connection_errors_max_connections stays 0.
    let aborted = finding(t, "MY-CONN-004");
    assert_eq!(aborted["status"], "fail", "{aborted:#}");
    assert_eq!(state_value(t, "state.connections.refused"), "0");
    let page = metrics(&full);
    assert!(sample(&page, "driftwatch_connections_aborted_total", "my-small") >= 1.0);
    assert_eq!(sample(&page, "driftwatch_connections_in_use", "my-small"), 11.0);

    drop(held);
    wait_until("the app sessions closing", || db.sessions_of("app") == 0);
    let clear = ws.audit_json();
    assert_eq!(status_of(&clear, "my-small", "MY-CONN-001"), "pass");
    assert_eq!(status_of(&clear, "my-small", "MY-CONN-004"), "pass", "no new aborted connect");
}
