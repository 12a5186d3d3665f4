//! The shipped baselines on the real servers: each rule that issue 15 corrected, judged
//! by a real audit (the real binary, `policies/` of this repository) of the servers the
//! test setup starts, so a rule that fails a documented default fails here.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::harness::*;
use super::target;
use crate::support::lock::ServerLock;
use crate::support::{MY_PRIMARY, MY_REPLICA, REDIS_PRIMARY, REDIS_REPLICA};

/// (status, message) of `rule` on `name` in `run`.
fn judged(run: &serde_json::Value, name: &str, rule: &str) -> (String, String) {
    let t = target(run, name);
    let f = t["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == rule)
        .unwrap_or_else(|| panic!("no finding {rule} on {name}: {:#}", t["findings"]));
    (f["status"].as_str().unwrap().to_owned(), f["message"].as_str().unwrap().to_owned())
}

#[track_caller]
fn expect(run: &serde_json::Value, name: &str, rule: &str, status: &str) {
    let (got, message) = judged(run, name, rule);
    assert_eq!(got, status, "{rule} on {name}: {message}");
}

fn workspace(targets: &str) -> Workspace {
    Workspace::with_config(&format!(
        "[store]\nurl = \"store\"\n\n[policies]\ndir = \"{}\"\n\
         packs = [\"replication\", \"connections\", \"security\"]\n\n\
         [audit]\nconnect_timeout = \"3s\"\ntarget_timeout = \"20s\"\n\n{targets}",
        policies_dir().display()
    ))
}

fn mysql(port: u16, sql: &str) -> String {
    let out = Command::new("mysql")
        .args(["-uroot", "-h127.0.0.1", &format!("-P{port}"), "-N", "-e", sql])
        .output()
        .expect("run the mysql client");
    assert!(out.status.success(), "mysql {sql}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// MariaDB's documented default binlog_format, MIXED, passes MY-REPL-002 on a real
/// MariaDB of the test's own (started on a fresh data directory with the binary log on;
/// the shared primary runs ROW from its option file and is left alone); STATEMENT fails.
#[test]
fn mariadb_mixed_binlog_format_passes_statement_fails() {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let server = Mariadb::start(port, 7);
    let ws = workspace(&format!(
        "[[targets]]\nname = \"own\"\nkind = \"mysql\"\nurl = \"mysql://root@127.0.0.1:{port}/\"\nrole = \"primary\"\n"
    ));
    let mixed = ws.audit_json();
    expect(&mixed, "own", "MY-REPL-002", "pass");
    mysql(port, "SET GLOBAL binlog_format = 'STATEMENT'");
    let statement = ws.audit_json();
    expect(&statement, "own", "MY-REPL-002", "fail");
    drop(server);
}

/// Semi-synchronous replication on a MariaDB pair of the test's own (the shared servers
/// are left alone). Enabled on the primary with no semi-sync replica, the first commit
/// waits out the timeout and the primary falls back to asynchronous replication while
/// `rpl_semi_sync_master_enabled` still says ON: MY-REPL-033 and -034 fail. Once the
/// replica acknowledges, they pass, and so does MY-REPL-036 on the replica. Its IO
/// thread stopped, the next commit goes unacknowledged: MY-REPL-035 fails on the change.
#[test]
fn mariadb_semi_sync_fallback_fails_while_the_setting_says_on() {
    let free = || TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let (pp, rp) = (free(), free());
    let (_primary, _replica) = (Mariadb::start(pp, 7), Mariadb::start(rp, 8));
    mysql(
        pp,
        "SET GLOBAL rpl_semi_sync_master_timeout = 200; SET GLOBAL rpl_semi_sync_master_enabled = ON",
    );
    mysql(pp, "CREATE DATABASE t; CREATE TABLE t.x (a INT); INSERT INTO t.x VALUES (1)");
    let ws = workspace(&format!(
        "[[targets]]\nname = \"own-primary\"\nkind = \"mysql\"\nurl = \"mysql://root@127.0.0.1:{pp}/\"\nrole = \"primary\"\ngroup = \"semi\"\n\n\
         [[targets]]\nname = \"own-replica\"\nkind = \"mysql\"\nurl = \"mysql://root@127.0.0.1:{rp}/\"\nrole = \"replica\"\ngroup = \"semi\"\n"
    ));
    let fallen_back = ws.audit_json();
    let primary = target(&fallen_back, "own-primary");
    assert_eq!(primary["state"]["state.semi_sync.primary.status"]["value"], "OFF", "{primary:#}");
    expect(&fallen_back, "own-primary", "MY-REPL-033", "fail");
    expect(&fallen_back, "own-primary", "MY-REPL-034", "fail");
    expect(&fallen_back, "own-primary", "MY-REPL-035", "not_applicable");

    mysql(
        rp,
        &format!(
            "SET GLOBAL rpl_semi_sync_slave_enabled = ON; CHANGE MASTER TO \
             MASTER_HOST = '127.0.0.1', MASTER_PORT = {pp}, MASTER_USER = 'root', \
             MASTER_USE_GTID = slave_pos; START SLAVE"
        ),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while mysql(pp, "SHOW GLOBAL STATUS LIKE 'Rpl_semi_sync_master_clients'")
        != "Rpl_semi_sync_master_clients\t1"
    {
        assert!(Instant::now() < deadline, "the replica never connected as semi-synchronous");
        std::thread::sleep(Duration::from_millis(100));
    }
    // The first acknowledged commit switches the primary back. The replica must catch
    // up on the whole binary log before it acknowledges: with the 200 ms timeout that
    // made the fallback quick, a loaded machine let this commit time out too (its
    // `Rpl_semi_sync_master_no_tx` then rose, and MY-REPL-035 failed rightly), so the
    // primary waits as long as it takes here, and falls back quickly again below.
    mysql(pp, "SET GLOBAL rpl_semi_sync_master_timeout = 30000");
    mysql(pp, "INSERT INTO t.x VALUES (2)");
    let acknowledged = ws.audit_json();
    expect(&acknowledged, "own-primary", "MY-REPL-033", "pass");
    expect(&acknowledged, "own-primary", "MY-REPL-034", "pass");
    expect(&acknowledged, "own-primary", "MY-REPL-035", "pass");
    expect(&acknowledged, "own-replica", "MY-REPL-036", "pass");

    mysql(rp, "STOP SLAVE IO_THREAD");
    mysql(pp, "SET GLOBAL rpl_semi_sync_master_timeout = 200");
    mysql(pp, "INSERT INTO t.x VALUES (3)");
    let unacknowledged = ws.audit_json();
    let (status, message) = judged(&unacknowledged, "own-primary", "MY-REPL-035");
    assert_eq!(status, "fail", "{message}");
    expect(&unacknowledged, "own-primary", "MY-REPL-033", "fail");
    expect(&unacknowledged, "own-replica", "MY-REPL-036", "fail");
}

/// The real MariaDB replica's lag is judged beyond its SQL_Delay.
#[test]
fn mariadb_replica_lag_is_judged_beyond_its_delay() {
    require_port(MY_PRIMARY, "MariaDB (primary)");
    require_port(MY_REPLICA, "MariaDB replica");
    let _lock = ServerLock::shared("mariadb-replica");
    let ws = workspace(&format!(
        "[[targets]]\nname = \"my-primary\"\nkind = \"mysql\"\nurl = \"mysql://root@127.0.0.1:{MY_PRIMARY}/\"\nrole = \"primary\"\ngroup = \"m\"\n\n\
         [[targets]]\nname = \"my-replica\"\nkind = \"mysql\"\nurl = \"mysql://root@127.0.0.1:{MY_REPLICA}/\"\nrole = \"replica\"\ngroup = \"m\"\n"
    ));
    let run = ws.audit_json();
    let replica = target(&run, "my-replica");
    let lag = &replica["state"]["state.replication.default.lag_beyond_delay_s"]["value"];
    assert!(lag.is_string(), "the collector reports the lag beyond the delay: {replica:#}");
    expect(&run, "my-replica", "MY-REPL-032", "pass");
    expect(&run, "my-primary", "MY-REPL-002", "pass");
}

/// On the real Redis pair (Redis 7 defaults on the replica): stale reads are served
/// (the default passes), the replica leaves eviction to its primary, and with a single
/// declared replica min-replicas-to-write is not judged.
#[test]
fn redis_replica_defaults_pass_and_one_replica_does_not_need_min_replicas() {
    require_port(REDIS_PRIMARY, "Redis (primary)");
    require_port(REDIS_REPLICA, "Redis replica");
    let _lock = ServerLock::shared("redis-replica");
    let ws = workspace(&format!(
        "[[targets]]\nname = \"cache-primary\"\nkind = \"redis\"\nurl = \"redis://127.0.0.1:{REDIS_PRIMARY}\"\nrole = \"primary\"\ngroup = \"cache\"\n\n\
         [[targets]]\nname = \"cache-replica\"\nkind = \"redis\"\nurl = \"redis://127.0.0.1:{REDIS_REPLICA}\"\nrole = \"replica\"\ngroup = \"cache\"\n"
    ));
    let run = ws.audit_json();
    expect(&run, "cache-replica", "RD-REPL-021", "pass");
    expect(&run, "cache-replica", "RD-REPL-012", "pass");
    expect(&run, "cache-replica", "RD-REPL-010", "pass");
    let (status, message) = judged(&run, "cache-primary", "RD-REPL-001");
    assert_eq!(status, "not_applicable", "{message}");
    assert!(message.contains("group.replicas is 1"), "{message}");
    // A second declared replica (not reachable here) makes it apply: the primary's
    // min-replicas-to-write 0 then fails.
    let closed = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let ws = workspace(&format!(
        "[[targets]]\nname = \"cache-primary\"\nkind = \"redis\"\nurl = \"redis://127.0.0.1:{REDIS_PRIMARY}\"\nrole = \"primary\"\ngroup = \"cache\"\n\n\
         [[targets]]\nname = \"cache-replica\"\nkind = \"redis\"\nurl = \"redis://127.0.0.1:{REDIS_REPLICA}\"\nrole = \"replica\"\ngroup = \"cache\"\n\n\
         [[targets]]\nname = \"cache-replica-2\"\nkind = \"redis\"\nurl = \"redis://127.0.0.1:{closed}\"\nrole = \"replica\"\ngroup = \"cache\"\n"
    ));
    let run = ws.audit_json();
    expect(&run, "cache-primary", "RD-REPL-001", "fail");
}

/// A memcached of the test's own (2 MB of memory) with evictions induced between two
/// audits: the counter rule fails once, on the change, and passes on the next audit
/// with no new evictions; never on the lifetime total. A restart in between is not
/// applicable.
#[test]
fn memcached_evictions_fail_once_on_the_change() {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let server = Memcached::start(port);
    let ws = workspace(&format!(
        "[[targets]]\nname = \"cache\"\nkind = \"memcached\"\nurl = \"memcached://127.0.0.1:{port}\"\nrole = \"standalone\"\n"
    ));
    let first = ws.audit_json();
    expect(&first, "cache", "MC-CAP-004", "not_applicable");
    server.fill(4 * 1024 * 1024);
    let second = ws.audit_json();
    let (status, message) = judged(&second, "cache", "MC-CAP-004");
    assert_eq!(status, "fail", "evictions since the first audit: {message}");
    let third = ws.audit_json();
    expect(&third, "cache", "MC-CAP-004", "pass");
    expect(&third, "cache", "MC-CAP-005", "pass");
    expect(&third, "cache", "MC-CAP-006", "pass");

    // Restarted between two audits (evictions induced before the restart): counters
    // started again from zero, so the change cannot be judged.
    server.fill(4 * 1024 * 1024);
    drop(server);
    std::thread::sleep(Duration::from_millis(1100));
    let server = Memcached::start(port);
    let after_restart = ws.audit_json();
    let (status, message) = judged(&after_restart, "cache", "MC-CAP-004");
    assert_eq!(status, "not_applicable", "{message}");
    assert!(message.contains("restarted"), "{message}");
    drop(server);
}

/// A PostgreSQL of the test's own with its streaming standby named synchronous (`*`):
/// the collector counts it, and PG-REPL-009 passes; without the setting it is not
/// judged.
#[test]
fn postgres_synchronous_standby_is_counted_and_attached() {
    let pg = TestPg::start(&[]);
    let standby = pg.standby();
    let ws = Workspace::new(&[PRIMARY.on(&pg), REPLICA.on(&standby)]);
    let plain = ws.audit_json();
    expect(&plain, "pg-primary", "PG-REPL-009", "not_applicable");
    let synchronous = {
        let _sync = AlteredSetting::set(&pg, "synchronous_standby_names", "*");
        let deadline = Instant::now() + Duration::from_secs(10);
        while pg.psql("SELECT count(*) FROM pg_stat_replication WHERE sync_state = 'sync'") != "1" {
            assert!(Instant::now() < deadline, "the standby never became synchronous");
            std::thread::sleep(Duration::from_millis(100));
        }
        ws.audit_json()
    };
    let primary = target(&synchronous, "pg-primary");
    assert_eq!(primary["state"]["state.replicas.synchronous"]["value"], "1", "{primary:#}");
    expect(&synchronous, "pg-primary", "PG-REPL-009", "pass");
}

/// A MariaDB server of the test's own on a fresh data directory, binary log on with
/// MIXED (its default), killed when dropped.
struct Mariadb {
    child: Child,
    _dir: tempfile::TempDir,
}

impl Mariadb {
    fn start(port: u16, server_id: u32) -> Mariadb {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let install = Command::new("mariadb-install-db")
            .args(["--no-defaults", "--user=root", "--auth-root-authentication-method=normal"])
            .arg("--skip-test-db")
            .arg(format!("--datadir={}", data.display()))
            .output()
            .expect("mariadb-install-db (apt-get install mariadb-server)");
        assert!(install.status.success(), "{}", String::from_utf8_lossy(&install.stderr));
        let path = |name: &str| dir.path().join(name).display().to_string();
        let child = Command::new("/usr/sbin/mariadbd")
            .arg("--no-defaults")
            .arg(format!("--datadir={}", data.display()))
            .args(["--user=root", "--bind-address=127.0.0.1"])
            .arg(format!("--server-id={server_id}"))
            .arg(format!("--port={port}"))
            .arg(format!("--socket={}", path("mysqld.sock")))
            .arg(format!("--pid-file={}", path("mysqld.pid")))
            .arg(format!("--log-bin={}", path("binlog")))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start mariadbd");
        let server = Mariadb { child, _dir: dir };
        let deadline = Instant::now() + Duration::from_secs(30);
        while Command::new("mysql")
            .args(["-uroot", "-h127.0.0.1", &format!("-P{port}"), "-e", "SELECT 1"])
            .output()
            .map_or(true, |o| !o.status.success())
        {
            assert!(Instant::now() < deadline, "mariadbd did not answer on {port}");
            std::thread::sleep(Duration::from_millis(100));
        }
        server
    }
}

impl Drop for Mariadb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A memcached process of the test's own, stopped when dropped.
struct Memcached {
    child: Child,
    port: u16,
}

impl Memcached {
    fn start(port: u16) -> Memcached {
        let binary = "/usr/bin/memcached";
        assert!(
            std::path::Path::new(binary).exists(),
            "{binary} is missing: install memcached (apt-get install memcached)"
        );
        let child = Command::new(binary)
            .args([
                "-l",
                "127.0.0.1",
                "-p",
                &port.to_string(),
                "-U",
                "0",
                "-m",
                "2",
                "-u",
                "nobody",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start memcached");
        let server = Memcached { child, port };
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "memcached did not listen on {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    /// Store `bytes` of 100 kB items, twice what its memory holds: it must evict.
    fn fill(&self, bytes: usize) {
        use std::io::{BufRead, BufReader, Write};
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let value = vec![b'x'; 100 * 1024];
        for i in 0..(2 * bytes / value.len()) {
            write!(stream, "set key{i} 0 0 {}\r\n", value.len()).unwrap();
            stream.write_all(&value).unwrap();
            stream.write_all(b"\r\n").unwrap();
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            assert_eq!(line.trim(), "STORED", "set key{i}");
        }
    }
}

impl Drop for Memcached {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
