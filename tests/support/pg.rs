//! A PostgreSQL 15 of a test's own, for every test that changes a PostgreSQL: `initdb`
//! into a temporary folder as the postgres user, trust authentication, 127.0.0.1 on a
//! free port and a Unix socket in its folder, `fsync=off`; its process group is killed
//! and the folder removed when dropped. [`TestPg::standby`] adds a streaming standby
//! made by `pg_basebackup --checkpoint=fast -R`, for tests that need one (replication
//! state, `synchronous_standby_names`, pending values on a standby).
//!
//! A test killed before Drop leaves only a server in a temporary folder behind, never a
//! change to a server the setup did not start (docs/development.md, "What the tests
//! change").

use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::differential::{Child, chown_tree, free_port, require_binary, set_mode, user_ids};

const PG_BIN: &str = "/usr/lib/postgresql/15/bin";

/// One running server (a primary from [`TestPg::start`] or a standby from
/// [`TestPg::standby`]).
pub struct TestPg {
    pub port: u16,
    data: PathBuf,
    settings: Vec<String>,
    _server: Child,
    _dir: tempfile::TempDir,
}

impl TestPg {
    /// A fresh cluster started with `settings` (`name=value`, given as `-c`: they
    /// outrank `postgresql.auto.conf`, so leave out what a test changes with ALTER
    /// SYSTEM).
    #[track_caller]
    pub fn start(settings: &[&str]) -> TestPg {
        require_binary(&format!("{PG_BIN}/initdb"), "apt-get install postgresql-15");
        let dir = own_dir("driftwatch-pg-");
        let data = dir.path().join("data");
        run_as_postgres(
            Command::new(format!("{PG_BIN}/initdb"))
                .args(["-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"])
                .args(["--locale=C", "-D"])
                .arg(&data),
            "initdb",
        );
        let settings: Vec<String> = settings.iter().map(|s| (*s).to_owned()).collect();
        TestPg::launch(dir, data, settings)
    }

    /// A streaming standby of this server (`pg_basebackup --checkpoint=fast -R`, so
    /// `primary_conninfo` is in its `postgresql.auto.conf`), started with the same
    /// settings; returned once this server lists it as streaming.
    #[track_caller]
    pub fn standby(&self) -> TestPg {
        let dir = own_dir("driftwatch-pg-standby-");
        let data = dir.path().join("data");
        run_as_postgres(
            Command::new(format!("{PG_BIN}/pg_basebackup"))
                .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-U", "postgres"])
                .args(["--checkpoint=fast", "-R", "--no-sync", "-D"])
                .arg(&data),
            "pg_basebackup",
        );
        let before = self.streaming();
        let standby = TestPg::launch(dir, data, self.settings.clone());
        wait_until("the standby streaming", || self.streaming() > before);
        standby
    }

    /// The data directory (its `postgresql.auto.conf`, owned by postgres).
    pub fn data_dir(&self) -> &Path {
        &self.data
    }

    /// Runs `sql` as the superuser; panics with psql's error.
    #[track_caller]
    pub fn psql(&self, sql: &str) -> String {
        self.try_psql("postgres", sql)
            .unwrap_or_else(|e| panic!("psql {sql:?} on :{}: {e}", self.port))
    }

    pub fn try_psql(&self, user: &str, sql: &str) -> Result<String, String> {
        let out = self.psql_command(user, sql).output().expect("run psql");
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }

    /// `psql` running `sql` as `user` in database `postgres`, not yet started.
    pub fn psql_command(&self, user: &str, sql: &str) -> Command {
        let mut command = Command::new("psql");
        command.args(["-X", "-h", "127.0.0.1", "-p", &self.port.to_string(), "-U", user]);
        command.args(["-d", "postgres", "-Atqc", sql]);
        command
    }

    fn launch(dir: tempfile::TempDir, data: PathBuf, settings: Vec<String>) -> TestPg {
        let port = free_port();
        let log = std::fs::File::create(dir.path().join("postgres.log")).unwrap();
        chown_tree(dir.path(), "postgres");
        let mut command = as_postgres(Command::new(format!("{PG_BIN}/postgres")));
        command.arg("-D").arg(&data);
        command.args(["-p", &port.to_string(), "-c", "listen_addresses=127.0.0.1", "-k"]);
        command.arg(dir.path()).args(["-c", "fsync=off"]);
        for setting in &settings {
            command.args(["-c", setting]);
        }
        let server = command
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .process_group(0)
            .spawn()
            .expect("start postgres");
        let pg = TestPg { port, data, settings, _server: Child(server), _dir: dir };
        wait_until("the test PostgreSQL answering", || pg.try_psql("postgres", "SELECT 1").is_ok());
        pg
    }

    fn streaming(&self) -> usize {
        self.psql("SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'")
            .parse()
            .unwrap()
    }
}

/// A temporary folder the postgres user can enter (the server's socket goes there).
fn own_dir(prefix: &str) -> tempfile::TempDir {
    let dir = tempfile::Builder::new().prefix(prefix).tempdir().unwrap();
    set_mode(dir.path(), 0o755);
    chown_tree(dir.path(), "postgres");
    dir
}

#[track_caller]
fn run_as_postgres(command: &mut Command, what: &str) {
    let out = as_postgres_mut(command).output().unwrap_or_else(|e| panic!("run {what}: {e}"));
    assert!(out.status.success(), "{what}: {}", String::from_utf8_lossy(&out.stderr));
}

fn as_postgres(mut command: Command) -> Command {
    as_postgres_mut(&mut command);
    command
}

fn as_postgres_mut(command: &mut Command) -> &mut Command {
    let (uid, gid) = user_ids("postgres");
    command.env_clear().env("PATH", "/usr/bin:/bin").env("LANG", "C").uid(uid).gid(gid)
}

#[track_caller]
fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(Instant::now() < deadline, "{what} did not happen within 30 s");
        std::thread::sleep(Duration::from_millis(50));
    }
}
