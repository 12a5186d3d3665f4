//! Helpers shared by the integration tests: where the services are (`ports`), service
//! URLs, endpoints and the "is the service up?" check that names the command to start it;
//! `pg`, the PostgreSQL a test starts for itself when it changes one.

pub mod fake_redis;
pub mod invariant;
pub mod lock;
pub mod moto;
pub mod pg;
mod ports;
pub mod slow_proxy;

pub use ports::*;

use std::net::{SocketAddr, TcpStream, ToSocketAddrs as _};
use std::time::Duration;

use driftwatch::collect::Endpoint;
use driftwatch::snapshot::{Entry, Kind};

/// How to start every service the live tests use.
pub const START_SERVICES: &str = "bash tests/setup/services.sh";

/// A root URL for the local MariaDB on `port` (empty password).
pub fn my_url(port: u16) -> String {
    my_url_as("root", "", port)
}

pub fn my_url_as(user: &str, password: &str, port: u16) -> String {
    match password {
        "" => format!("mysql://{user}@127.0.0.1:{port}/"),
        _ => format!("mysql://{user}:{password}@127.0.0.1:{port}/"),
    }
}

/// The MariaDB on `port`, checked to be up.
#[track_caller]
pub fn my_endpoint(port: u16) -> Endpoint {
    require_service("127.0.0.1", port, START_SERVICES);
    endpoint(Kind::Mysql, &my_url(port), Duration::from_secs(5))
}

/// The least-privilege ACL user `redis.sh` creates on both Redis servers, and one
/// without `+config|get`.
pub const REDIS_AUDITOR: (&str, &str) = ("driftwatch-auditor", "driftwatch-auditor-pw");
pub const REDIS_NOCONFIG: (&str, &str) = ("driftwatch-noconfig", "driftwatch-noconfig-pw");

/// The Redis on `port` as the default user (no password here).
pub fn redis_url(port: u16) -> String {
    format!("redis://127.0.0.1:{port}")
}

/// The Redis on `port` as an ACL user, password in the URL as `Connection::resolve`
/// puts it.
pub fn redis_url_as((user, password): (&str, &str), port: u16) -> String {
    format!("redis://{user}:{password}@127.0.0.1:{port}")
}

/// The Redis on `port`, checked to be up.
#[track_caller]
pub fn redis_endpoint(port: u16) -> Endpoint {
    require_service("127.0.0.1", port, START_SERVICES);
    endpoint(Kind::Redis, &redis_url(port), Duration::from_secs(5))
}

/// The test memcached, checked to be up.
#[track_caller]
pub fn memcached_endpoint() -> Endpoint {
    require_service("127.0.0.1", MEMCACHED, START_SERVICES);
    endpoint(Kind::Memcached, &format!("memcached://127.0.0.1:{MEMCACHED}"), Duration::from_secs(5))
}

/// The test PgBouncer's admin console as its `stats_users` account, password in the url
/// (as `Connection::resolve` hands it to the collector).
pub fn pgbouncer_endpoint() -> Endpoint {
    require_service("127.0.0.1", PGBOUNCER, START_SERVICES);
    endpoint(Kind::Pgbouncer, &pgbouncer_url(), Duration::from_secs(5))
}

pub fn pgbouncer_url() -> String {
    format!(
        "postgres://{PGBOUNCER_STATS_USER}:{PGBOUNCER_STATS_PASSWORD}@127.0.0.1:{PGBOUNCER}/pgbouncer"
    )
}

/// A superuser URL for the local PostgreSQL on `port` (trust auth).
pub fn pg_url(port: u16) -> String {
    pg_url_as("postgres", port)
}

pub fn pg_url_as(user: &str, port: u16) -> String {
    format!("postgres://{user}@127.0.0.1:{port}/postgres")
}

/// Panics, naming `how_to_start`, when nothing accepts TCP on `host:port`.
#[track_caller]
pub fn require_service(host: &str, port: u16, how_to_start: &str) {
    let addr: SocketAddr = (host, port)
        .to_socket_addrs()
        .ok()
        .and_then(|mut addrs| addrs.next())
        .unwrap_or_else(|| panic!("cannot resolve {host}:{port}"));
    if let Err(e) = TcpStream::connect_timeout(&addr, Duration::from_secs(2)) {
        panic!(
            "nothing listens on {host}:{port} ({e}); start the test services with `{how_to_start}`"
        );
    }
}

/// The PostgreSQL on `port`, checked to be up.
#[track_caller]
pub fn pg_endpoint(port: u16) -> Endpoint {
    require_service("127.0.0.1", port, START_SERVICES);
    endpoint(Kind::Postgres, &pg_url(port), Duration::from_secs(5))
}

pub fn endpoint(kind: Kind, url: &str, connect_timeout: Duration) -> Endpoint {
    Endpoint {
        target: format!("test-{kind}"),
        kind,
        url: url.to_owned(),
        connect_timeout,
        statement_timeout: Duration::from_secs(10),
        limits: Default::default(),
        config_file: None,
    }
}

/// The entry under `key`, or a panic listing the keys that share its prefix.
#[track_caller]
pub fn entry<'a>(map: &'a std::collections::BTreeMap<String, Entry>, key: &str) -> &'a Entry {
    map.get(key).unwrap_or_else(|| {
        let prefix = key.rsplit_once('.').map_or(key, |(p, _)| p);
        let near: Vec<&String> = map.keys().filter(|k| k.starts_with(prefix)).collect();
        panic!("no `{key}`; keys under `{prefix}`: {near:?}")
    })
}

/// The value under `key` (see [`entry`]).
#[track_caller]
pub fn value<'a>(map: &'a std::collections::BTreeMap<String, Entry>, key: &str) -> &'a str {
    &entry(map, key).value
}

#[test]
fn ports_parse_as_the_setup_reads_them() {
    assert_eq!(parse_port(""), Ok(None));
    assert_eq!(parse_port("5433"), Ok(Some(5433)));
    assert_eq!(parse_port("05433"), Ok(Some(5433)));
    assert_eq!(parse_port("65535"), Ok(Some(65535)));
    for bad in ["0", "65536", "99999999", "5433 ", "-1", "abc"] {
        assert_eq!(parse_port(bad), Err(()), "{bad}");
    }
}
