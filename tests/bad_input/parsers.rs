//! A bounded randomized smoke test of the configuration-file parsers (the `cargo fuzz`
//! targets in `fuzz/` do the same without bounds, on nightly): 10,000 seeded inputs per
//! format — random bytes, and mutations of realistic lines — through
//! `conffile::parse`, which must return settings or diagnostics and never panic. The
//! seed is fixed, so a failure is reproducible; its input is printed.

use std::path::Path;

use driftwatch::collect::conffile::{self, MemoryFiles};
use driftwatch::snapshot::Kind;

const INPUTS: usize = 10_000;

/// xorshift64*: tiny, seeded, good enough to shake a parser.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

/// Lines each format's files are made of, including the awkward ones.
fn seeds(kind: Kind) -> &'static [&'static str] {
    match kind {
        Kind::Postgres => &[
            "shared_buffers = 128MB",
            "work_mem = '4MB'",
            "max_connections = 100",
            "statement_timeout = 5min",
            "primary_conninfo = 'host=a password=''x'' user=r'",
            "include 'other.conf'",
            "include_if_exists 'missing.conf'",
            "include_dir 'conf.d'",
            "wal_level = replica # comment",
            "log_line_prefix = '%m [%p] '",
            "checkpoint_timeout = 1e3",
            "archive_command = 'cp \\'%p\\' /x'",
        ],
        Kind::Mysql => &[
            "[mysqld]",
            "[mariadb-10.11]",
            "[client]",
            "innodb_buffer_pool_size = 1G",
            "skip-name-resolve",
            "loose-gtid_strict_mode = ON",
            "max_connections=151",
            "!include /conf/main.cnf",
            "!includedir /conf",
            "bind-address = \"127.0.0.1\"",
            "sql_mode = 'STRICT_TRANS_TABLES'",
            "enable-log_bin",
        ],
        Kind::Redis => &[
            "maxmemory 100mb",
            "save 3600 1 300 100",
            "requirepass \"with space\\x41\"",
            "include /conf/main.conf",
            "bind 127.0.0.1 -::1",
            "rename-command CONFIG \"\"",
            "client-output-buffer-limit replica 256mb 64mb 60",
            "appendonly yes",
            "user default on nopass ~* +@all",
            "notify-keyspace-events 'Ex'",
            "maxmemory-policy allkeys-lru",
            "tls-port 0",
        ],
        Kind::Memcached => &[
            "-m 64",
            "-p 11211",
            "-u memcache",
            "-l 127.0.0.1",
            "-c 1024",
            "-t 4",
            "-vv",
            "-o modern,lru_crawler",
            "# comment",
            "-I 2m",
            "--max-memory=128",
            "-U 0",
        ],
        Kind::Pgbouncer => &[
            "[databases]",
            "[pgbouncer]",
            "[users]",
            "app = host=127.0.0.1 port=5432 dbname=app pool_size=5",
            "* = host=db",
            "default_pool_size = 20",
            "listen_port=6432",
            "%include /conf/other.ini",
            "; comment",
            "# comment",
            "query_wait_timeout = 0.5",
            "admin_users = a, b",
        ],
    }
}

/// Fragments that tend to break hand-written parsers.
const NASTY: &[&str] = &[
    "\"",
    "'",
    "\\",
    "=",
    "#",
    "\n",
    "\r",
    "\0",
    " ",
    "\t",
    "[",
    "]",
    "!",
    "-",
    "--",
    "include ",
    "!include ",
    "é",
    "\u{202e}",
    "\u{fffd}",
    "99999999999999999999999",
    "-1",
    "1e308",
    "0x",
    "kB",
    "MB",
    "GB",
    "TB",
    "ms",
    "min",
    "h",
    "d",
    "mb",
    "gb",
    "k",
    "m",
    "g",
];

fn input(rng: &mut Rng, kind: Kind) -> String {
    if rng.below(8) == 0 {
        // Random bytes, read as the file reader would (lossily here).
        let bytes: Vec<u8> = (0..rng.below(300)).map(|_| rng.next() as u8).collect();
        return String::from_utf8_lossy(&bytes).into_owned();
    }
    let mut text = String::new();
    for _ in 0..1 + rng.below(8) {
        let mut line = rng.pick(seeds(kind)).to_owned();
        for _ in 0..rng.below(4) {
            let mut at = rng.below(line.len() + 1);
            while !line.is_char_boundary(at) {
                at -= 1;
            }
            match rng.below(3) {
                0 => line.insert_str(at, rng.pick(NASTY)),
                1 => line.truncate(at),
                _ => {
                    let tail = line[at..].to_owned();
                    line.push_str(&tail);
                }
            }
        }
        text.push_str(&line);
        text.push('\n');
    }
    text
}

fn shake(kind: Kind, main: &str, seed: u64) {
    let mut rng = Rng(seed);
    for i in 0..INPUTS {
        let text = input(&mut rng, kind);
        // Includes resolve inside the memory file system: to other inputs and to itself.
        let other = input(&mut rng, kind);
        let files = MemoryFiles::new([
            (main, text.as_str()),
            ("/conf/other.conf", other.as_str()),
            ("/conf/main.conf", text.as_str()),
            ("/conf/conf.d/a.conf", other.as_str()),
        ]);
        let result = std::panic::catch_unwind(|| conffile::parse(kind, Path::new(main), &files));
        assert!(result.is_ok(), "{kind} parser panicked on input {i} (seed {seed}):\n{text:?}");
    }
}

#[test]
fn postgresql_conf_parser_survives_random_input() {
    shake(Kind::Postgres, "/conf/postgresql.conf", 1);
}

#[test]
fn my_cnf_parser_survives_random_input() {
    shake(Kind::Mysql, "/conf/my.cnf", 2);
}

#[test]
fn redis_conf_parser_survives_random_input() {
    shake(Kind::Redis, "/conf/redis.conf", 3);
}

#[test]
fn memcached_conf_parser_survives_random_input() {
    shake(Kind::Memcached, "/conf/memcached.conf", 4);
}
