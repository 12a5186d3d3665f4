//! Where the test services are: their ports and folders, read from the same
//! `DRIFTWATCH_TEST_*` variables as `tests/setup/lib.sh`, with the same defaults, and
//! named by the same rule (docs/development.md). Read at build time (`option_env!`), so
//! they are constants; cargo rebuilds the tests when one of the variables changes. The
//! benchmarks include this file too.
#![allow(dead_code, reason = "shared with the benchmarks, which use a few of these")]

use std::path::PathBuf;

/// `port!("VAR", default)`: the port in `VAR` when the tests are built (`default` when
/// unset or empty); a build error when it is not a port number.
macro_rules! port {
    ($var:literal, $default:literal) => {
        match option_env!($var) {
            None => $default,
            Some(value) => match parse_port(value) {
                Ok(Some(port)) => port,
                Ok(None) => $default,
                Err(()) => panic!(concat!($var, " must be a port number (1-65535)")),
            },
        }
    };
}

/// The system PostgreSQL 15 (primary) and the streaming replica `postgres.sh` creates.
pub const PG_PRIMARY: u16 = port!("DRIFTWATCH_TEST_PG_PORT", 5432);
pub const PG_REPLICA: u16 = port!("DRIFTWATCH_TEST_PG_REPLICA_PORT", 5433);
/// The system MariaDB (primary) and the GTID replica `mariadb.sh` creates.
pub const MY_PRIMARY: u16 = port!("DRIFTWATCH_TEST_MARIADB_PORT", 3306);
pub const MY_REPLICA: u16 = port!("DRIFTWATCH_TEST_MARIADB_REPLICA_PORT", 3307);
/// The system Redis (primary) and the replica `redis.sh` starts.
pub const REDIS_PRIMARY: u16 = port!("DRIFTWATCH_TEST_REDIS_PORT", 6379);
pub const REDIS_REPLICA: u16 = port!("DRIFTWATCH_TEST_REDIS_REPLICA_PORT", 6380);
/// The memcached `memcached.sh` starts.
pub const MEMCACHED: u16 = port!("DRIFTWATCH_TEST_MEMCACHED_PORT", 11211);
/// The PgBouncer `pgbouncer.sh` starts, in front of [`PG_PRIMARY`].
pub const PGBOUNCER: u16 = port!("DRIFTWATCH_TEST_PGBOUNCER_PORT", 6432);
/// Its `stats_users` account (the collector's least privilege) and the pooled
/// connections' user, with the passwords `pgbouncer.sh` writes into its auth file.
pub const PGBOUNCER_STATS_USER: &str = "driftwatch_pgbouncer_stats";
pub const PGBOUNCER_STATS_PASSWORD: &str = "driftwatch-pgbouncer-stats";
pub const PGBOUNCER_POOL_PASSWORD: &str = "driftwatch-pgbouncer-postgres";
/// The S3-compatible server (moto) `s3.sh` starts.
pub const S3: u16 = port!("DRIFTWATCH_TEST_S3_PORT", 9310);

/// The folder that holds every data dir, pid file and log of the test services.
pub const TEST_DIR: &str = match option_env!("DRIFTWATCH_TEST_DIR") {
    Some(dir) if !dir.is_empty() => dir,
    _ => "/var/tmp/driftwatch-ci",
};

/// The PostgreSQL replica's data dir.
pub fn pg_replica_dir() -> PathBuf {
    instance_dir("pg-replica", PG_REPLICA, 5433)
}

/// The replication slot (and `application_name`) of the PostgreSQL replica.
pub fn pg_replica_slot() -> String {
    match PG_REPLICA {
        5433 => "driftwatch_ci_replica".to_owned(),
        port => format!("driftwatch_ci_replica_{port}"),
    }
}

/// The MariaDB replica's data dir.
pub fn my_replica_dir() -> PathBuf {
    instance_dir("mariadb-replica", MY_REPLICA, 3307)
}

/// The MariaDB replica's `server_id`: 2 at its default port, else the port (two
/// replicas of one primary must not share an id).
pub const MY_REPLICA_SERVER_ID: u32 = if MY_REPLICA == 3307 { 2 } else { MY_REPLICA as u32 };

/// The Redis replica's folder (its `redis.conf`, pid file and log).
pub fn redis_replica_dir() -> PathBuf {
    instance_dir("redis-replica", REDIS_REPLICA, 6380)
}

/// The Python with DuckDB that `tests/setup/tools.sh` installs.
pub fn duckdb_python() -> PathBuf {
    PathBuf::from(TEST_DIR).join("venv-tools/bin/python")
}

/// The `moto_server` of the virtualenv `s3.sh` installs.
pub fn moto_server() -> PathBuf {
    PathBuf::from(TEST_DIR).join("venv-moto/bin/moto_server")
}

/// A server's folder: the plain name at its default port (the name earlier setups
/// used), the name and the port at any other, so two setups never share one.
fn instance_dir(name: &str, port: u16, default: u16) -> PathBuf {
    let dir = PathBuf::from(TEST_DIR);
    if port == default { dir.join(name) } else { dir.join(format!("{name}-{port}")) }
}

/// `Ok(None)` for an empty value (unset, as the shell's `${VAR:-default}` reads it),
/// `Ok(Some(port))` for 1–65535, `Err` for anything else.
pub const fn parse_port(value: &str) -> Result<Option<u16>, ()> {
    let digits = value.as_bytes();
    if digits.is_empty() {
        return Ok(None);
    }
    let mut n: u32 = 0;
    let mut i = 0;
    while i < digits.len() {
        let d = digits[i];
        if !d.is_ascii_digit() || n > 65535 {
            return Err(());
        }
        n = n * 10 + (d - b'0') as u32;
        i += 1;
    }
    if n == 0 || n > 65535 { Err(()) } else { Ok(Some(n as u16)) }
}
