//! The benchmark's targets: the local test servers, and `driftwatch.toml` files that
//! point one, or N logical targets, at them.

use std::fmt::Write as _;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::ports;

/// One local server, as a target template.
#[derive(Debug, Clone, Copy)]
pub struct Server {
    pub label: &'static str,
    pub kind: &'static str,
    pub port: u16,
    pub role: &'static str,
    /// The server whose role swaps with this one for a "changed" re-audit.
    pub swap_port: u16,
}

impl Server {
    fn url(&self, port: u16) -> String {
        match self.kind {
            "postgres" => format!("postgres://postgres@127.0.0.1:{port}/postgres?sslmode=prefer"),
            "mysql" => format!("mysql://root@127.0.0.1:{port}/"),
            "redis" => format!("redis://127.0.0.1:{port}/"),
            _ => format!("memcached://127.0.0.1:{port}"),
        }
    }
}

pub const PG: Server = Server {
    label: "pg",
    kind: "postgres",
    port: ports::PG_PRIMARY,
    role: "primary",
    swap_port: ports::PG_REPLICA,
};
pub const PG_REPLICA: Server = Server {
    label: "pg-replica",
    kind: "postgres",
    port: ports::PG_REPLICA,
    role: "replica",
    swap_port: ports::PG_PRIMARY,
};
pub const MARIADB: Server = Server {
    label: "mariadb",
    kind: "mysql",
    port: ports::MY_PRIMARY,
    role: "primary",
    swap_port: ports::MY_REPLICA,
};
pub const MARIADB_REPLICA: Server = Server {
    label: "mariadb-replica",
    kind: "mysql",
    port: ports::MY_REPLICA,
    role: "replica",
    swap_port: ports::MY_PRIMARY,
};
pub const REDIS: Server = Server {
    label: "redis",
    kind: "redis",
    port: ports::REDIS_PRIMARY,
    role: "primary",
    swap_port: ports::REDIS_REPLICA,
};
pub const REDIS_REPLICA: Server = Server {
    label: "redis-replica",
    kind: "redis",
    port: ports::REDIS_REPLICA,
    role: "replica",
    swap_port: ports::REDIS_PRIMARY,
};
pub const MEMCACHED: Server = Server {
    label: "memcached",
    kind: "memcached",
    port: ports::MEMCACHED,
    role: "standalone",
    swap_port: ports::MEMCACHED,
};

/// One replication cluster of the mixed fleet: every local server once; the pairs share
/// a `group`, so group (parity) rules run too.
pub const CLUSTER: [Server; 7] =
    [PG, PG_REPLICA, MARIADB, MARIADB_REPLICA, REDIS, REDIS_REPLICA, MEMCACHED];

/// Fails, never skips, naming the command that starts the services.
pub fn require_services(servers: &[Server]) {
    for s in servers {
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], s.port));
        if TcpStream::connect_timeout(&addr, Duration::from_secs(2)).is_err() {
            panic!(
                "{} ({}) is not listening on 127.0.0.1:{}. Start the test services with \
                 `bash tests/setup/services.sh` (as root), then run the benchmark again.",
                s.label, s.kind, s.port
            );
        }
    }
}

/// A `driftwatch.toml` in `dir` for `targets` (name, server), storing in `dir/store`.
/// `swapped` points every paired target at its partner: a changed configuration.
pub fn write_config(
    dir: &Path,
    name: &str,
    concurrency: usize,
    targets: &[(String, Server, Option<String>)],
    swapped: bool,
) -> PathBuf {
    let policies = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies");
    let mut toml = format!(
        "[store]\nurl = {:?}\n\n[policies]\ndir = {:?}\n\n[audit]\nconcurrency = {concurrency}\n\
         connect_timeout = \"10s\"\nstatement_timeout = \"10s\"\ntarget_timeout = \"60s\"\n",
        dir.join("store").display().to_string(),
        policies.display().to_string(),
    );
    for (target, s, group) in targets {
        let port = if swapped { s.swap_port } else { s.port };
        let _ = write!(
            toml,
            "\n[[targets]]\nname = {target:?}\nkind = {:?}\nurl = {:?}\nrole = {:?}\n",
            s.kind,
            s.url(port),
            s.role
        );
        if let Some(g) = group {
            let _ = writeln!(toml, "group = {g:?}");
        }
    }
    let path = dir.join(name);
    std::fs::write(&path, toml).expect("write config");
    path
}

/// `n` targets cycling through [`CLUSTER`]: `c0001-pg`, `c0001-pg-replica`, ….
pub fn mixed_fleet(n: usize) -> Vec<(String, Server, Option<String>)> {
    (0..n)
        .map(|i| {
            let cluster = i / CLUSTER.len();
            let s = CLUSTER[i % CLUSTER.len()];
            let group = (s.kind != "memcached").then(|| format!("c{cluster:04}-{}", s.kind));
            (format!("c{cluster:04}-{}", s.label), s, group)
        })
        .collect()
}

/// `n` targets that are all the MariaDB primary, no groups: what a loop of a
/// one-server tool would visit.
pub fn mariadb_fleet(n: usize) -> Vec<(String, Server, Option<String>)> {
    (0..n).map(|i| (format!("m{i:04}"), MARIADB, None)).collect()
}

/// The 10,000-target mix: weighted to Redis and memcached (cheap connections, so the
/// local servers can take it): every 20 targets one PostgreSQL pair, one MariaDB pair,
/// four Redis pairs and eight memcached, each pair a `group` (`w0001-redis-2`,
/// `w0001-redis-2-replica`, group `w0001-redis-2`).
pub fn weighted_fleet(n: usize) -> Vec<(String, Server, Option<String>)> {
    // (server, pair or instance number): 2 + 2 + 4 × 2 + 8 = 20 slots.
    let mut slots: Vec<(Server, usize)> =
        vec![(PG, 0), (PG_REPLICA, 0), (MARIADB, 0), (MARIADB_REPLICA, 0)];
    for pair in 0..4 {
        slots.extend([(REDIS, pair), (REDIS_REPLICA, pair)]);
    }
    slots.extend((0..8).map(|i| (MEMCACHED, i)));
    (0..n)
        .map(|i| {
            let cycle = i / slots.len();
            let (s, k) = slots[i % slots.len()];
            if s.kind == "memcached" {
                return (format!("w{cycle:04}-memcached-{k}"), s, None);
            }
            let group = format!("w{cycle:04}-{}-{k}", s.kind);
            let name = match s.role {
                "replica" => format!("{group}-replica"),
                _ => group.clone(),
            };
            (name, s, Some(group))
        })
        .collect()
}
