//! redis-server 7.0 against `check` (see the module doc of `differential`). Each case
//! runs `redis-server <file>` with nothing else on its command line, in a network
//! namespace of its own, and reads `CONFIG GET *`. Rules are from redis.conf's own
//! comments (the self-documented example file) and src/config.c of 7.0.

use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::path::Path;

use driftwatch::collect::conffile::{self, RealFiles};
use driftwatch::snapshot::Kind;

use super::{Case, Engine, Rules, netns};

const BIN: &str = "/usr/bin/redis-server";

#[rustfmt::skip]
const CASES: &[Case] = &[
    Case::new("empty file", "every config left out takes its compiled-in default (config.c createXConfig defaults)", &[("redis.conf", "")]),
    Case::new("comment after a value", "only lines starting with # are comments: `port 6390 # x` has three arguments (config.c loadServerConfigFromString)", &[("redis.conf", "port 6390 # x\n")]),
    Case::new("memory units", "1k = 1000 bytes, 1kb = 1024, mb, gb; case-insensitive (redis.conf: Note on units)", &[("redis.conf", "maxmemory 100mb\nrepl-backlog-size 1k\nclient-query-buffer-limit 2GB\nproto-max-bulk-len 1048577B\n")]),
    Case::new("a unit apart from its number", "a config takes one argument: `maxmemory 100 mb` has two (config.c: wrong number of arguments)", &[("redis.conf", "port 6390\nmaxmemory 100 mb\n")]),
    Case::new("units on a plain integer", "integer configs read string2ll: no units (`timeout 1k`) (config.c numericParseString)", &[("redis.conf", "timeout 1k\n")]),
    Case::new("booleans are yes or no", "boolean configs take yes/no only, case-insensitive (config.c yesnotoi)", &[("redis.conf", "lazyfree-lazy-eviction YES\nappendonly no\n")]),
    Case::new("true is not a boolean", "boolean configs take yes/no only (config.c boolConfigSet)", &[("redis.conf", "lazyfree-lazy-eviction true\n")]),
    Case::new("save needs pairs", "save takes seconds and changes in pairs (config.c setConfigSaveOption: Invalid save parameters)", &[("redis.conf", "save 900\n")]),
    Case::new("save lines", "the first save line of a file replaces the defaults, later ones add (config.c save_loaded)", &[("redis.conf", "save 900 1\nsave 300 10\n")]),
    Case::new("save emptied", "save \"\" removes every save point (redis.conf: SNAPSHOTTING)", &[("redis.conf", "save 900 1\nsave \"\"\nsave 60 5\n")]),
    Case::new("save as one argument", "a multi-argument config given one argument splits it (config.c MULTI_ARG_CONFIG)", &[("redis.conf", "save \"60 5 30 10\"\n")]),
    Case::new("rename-command twice", "a renamed command no longer exists under its old name (config.c: No such command in rename-command)", &[("redis.conf", "rename-command CONFIG cfg1\nrename-command CONFIG cfg2\n")]),
    Case::new("rename-command onto a command", "the new name must be free (config.c: Target command name already exists)", &[("redis.conf", "rename-command GET SET\n")]),
    Case::new("rename-command to nothing", "an empty new name removes the command (redis.conf: SECURITY)", &[("redis.conf", "rename-command FLUSHALL \"\"\nport 6391\n")]),
    Case::new("relative include, missing", "include opens the path as given, from the server's working directory; a missing file stops it (config.c loadServerConfig)", &[("redis.conf", "port 6390\ninclude missing-local.conf\n")]).refused_at("redis.conf", 2),
    Case::new("include after dir", "dir changes the working directory, so a relative include after it is read from there (config.c setConfigDirOption: chdir)", &[("redis.conf", "dir {dir}\ninclude extra.conf\nport 6392\n"), ("extra.conf", "port 6393\ntimeout 7\n")]),
    Case::new("include glob without match", "an include with wildcards that matches nothing is skipped (config.c loadServerConfig: glob)", &[("redis.conf", "include {dir}/conf.d/*.conf\ntimeout 3\n")]),
    Case::new("include glob in order", "a glob's files are read in sorted order (glob(3))", &[("redis.conf", "include {dir}/d/*.conf\n"), ("d/b.conf", "timeout 9\nhz 11\n"), ("d/a.conf", "timeout 8\n")]),
    Case::new("maxmemory-clients", "memory or percent: 100b is 100 bytes, 5% a share of maxmemory (config.c PERCENT_CONFIG)", &[("redis.conf", "maxmemory-clients 100b\n")]),
    Case::new("maxmemory-clients percent", "N% is kept as a percentage (config.c numericParseString)", &[("redis.conf", "maxmemory-clients 5%\n")]),
    Case::new("keyspace events order", "notify-keyspace-events is shown in the server's own order (notify.c keyspaceEventsFlagsToString)", &[("redis.conf", "notify-keyspace-events Ex\n")]),
    Case::new("keyspace events all", "A stands for g$lshzxetd (notify.c)", &[("redis.conf", "notify-keyspace-events KEA\n")]),
    Case::new("keyspace events invalid", "an unknown class character is refused (config.c setConfigNotifyKeyspaceEventsOption)", &[("redis.conf", "notify-keyspace-events Eq\n")]),
    Case::new("hz clamped", "hz is kept between 1 and 500 (config.c: CONFIG_MAX_HZ)", &[("redis.conf", "hz 1000\n")]),
    Case::new("ziplist names", "the *-ziplist-* names are aliases of *-listpack-* (config.c createIntConfig alias)", &[("redis.conf", "hash-max-ziplist-entries 100\nzset-max-listpack-value 32\n")]),
    Case::new("slave names", "slave-* configs are aliases of replica-* (redis.conf: REPLICATION)", &[("redis.conf", "slave-read-only no\nreplica-serve-stale-data no\n")]),
    Case::new("client-output-buffer-limit", "one class at a time, sizes with units, the other classes kept (config.c updateClientOutputBufferLimit)", &[("redis.conf", "client-output-buffer-limit replica 512mb 128mb 60\n")]),
    Case::new("client-output-buffer-limit bad class", "classes are normal, replica/slave and pubsub (config.c getClientTypeByName)", &[("redis.conf", "client-output-buffer-limit master 1 1 1\n")]),
    Case::new("bind addresses", "bind takes up to 16 addresses; - marks an optional one (redis.conf: NETWORK)", &[("redis.conf", "bind 127.0.0.1 -::1\n")]),
    Case::new("quoting and escapes", "double quotes take \\n \\t \\xHH escapes; single quotes take \\' (sds.c sdssplitargs)", &[("redis.conf", "masterauth \"a b\\x41\\t\"\nmasteruser 'it\\'s'\n")]),
    Case::new("closing quote followed by text", "a closing quote must be followed by a blank (sds.c sdssplitargs)", &[("redis.conf", "masteruser \"a\"b\n")]),
    Case::new("directive case", "directives are case-insensitive (config.c sdstolower)", &[("redis.conf", "PORT 6394\nMaxMemory 1gb\n")]),
    Case::new("unknown directive", "an unknown directive stops the server (config.c: Bad directive or wrong number of arguments)", &[("redis.conf", "port 6390\nbogus-directive yes\n")]),
    Case::new("deprecated directive", "list-max-ziplist-entries is still accepted and ignored (config.c deprecated_configs)", &[("redis.conf", "list-max-ziplist-entries 128\n")]),
    Case::new("enum case", "enum values are case-insensitive (config.c configEnumGetValue)", &[("redis.conf", "appendfsync ALWAYS\nmaxmemory-policy AllKeys-LRU\n")]),
    Case::new("range", "integer configs have ranges (config.c numericBoundaryCheck)", &[("redis.conf", "port 70000\n")]),
    Case::new("leading zeros", "string2ll refuses leading zeros (util.c string2ll)", &[("redis.conf", "databases 016\n")]),
    Case::new("oom-score-adj-values", "three values between -2000 and 2000 (config.c setConfigOOMScoreAdjValuesOption)", &[("redis.conf", "oom-score-adj-values 0 200 3000\n")]),
    Case::new("replicaof in cluster mode", "replicaof is refused with cluster-enabled yes, after the whole file is read (config.c sanity checks)", &[("redis.conf", "cluster-enabled yes\nreplicaof 127.0.0.1 6399\n")]).refused_at("redis.conf", 2),
    Case::new("sentinel outside sentinel mode", "sentinel directives need sentinel mode (config.c)", &[("redis.conf", "sentinel monitor m 127.0.0.1 6379 2\n")]),
    Case::new("dbfilename is a file name", "dbfilename can't be a path (config.c isValidDBfilename)", &[("redis.conf", "dbfilename /tmp/dump.rdb\n")]),
    Case::new("module config without module", "name.x configs need a loadmodule (module.c: Module Configuration detected without loadmodule)", &[("redis.conf", "mymodule.level 3\n")]).refused_at("redis.conf", 1),
    Case::new("check's own fixture", "tests/fixtures/check/redis/redis.conf", &[("redis.conf", include_str!("../fixtures/check/redis/redis.conf"))]),
    Case::new("percentiles", "latency-tracking-info-percentiles takes 0..100 doubles (config.c)", &[("redis.conf", "latency-tracking-info-percentiles \"50 99.9 100\"\n")]),
];

pub fn rules() -> Rules {
    Rules { kind: Kind::Redis, harness: &[] }
}

#[test]
fn redis_reads_files_as_check_does() {
    super::require_binary(BIN, "install redis-server (apt-get install redis-server)");
    super::run(&rules(), CASES, engine, None);
}

/// What redis-server does with `main`, started on it alone in a namespace.
pub fn engine(_case: &Case, main: &Path) -> Engine {
    let dir = main.parent().unwrap_or(Path::new("/")).to_owned();
    let log = dir.join("redis-server.log");
    let port = port_of(main);
    let mut child = netns::spawn(BIN, &[&main.display().to_string()], &log, &dir);
    let answer = netns::wait_for(&mut child, move || config_get(port));
    child.stop(libc::SIGKILL);
    match answer {
        Some(values) => Engine::Runs(values),
        None => {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            let line = text
                .lines()
                .find_map(|l| l.strip_prefix("Reading the configuration file, at line "))
                .and_then(|n| n.trim().parse().ok());
            let message = text.lines().rfind(|l| !l.trim().is_empty()).unwrap_or("").to_owned();
            Engine::Refuses { message, at: line.map(|l| (None, l)) }
        }
    }
}

/// The port the file makes the server listen on, as check reads it (the default when
/// check refuses the file: the server will likely refuse it too).
pub fn port_of(main: &Path) -> u16 {
    conffile::read(Kind::Redis, &[main.to_owned()], &RealFiles)
        .ok()
        .and_then(|r| r.config.get("setting.port").and_then(|e| e.value.parse().ok()))
        .unwrap_or(6379)
}

/// `CONFIG GET *` over TCP to 127.0.0.1:`port` (in the caller's namespace).
pub fn config_get(port: u16) -> Option<BTreeMap<String, String>> {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(std::time::Duration::from_secs(5))).ok()?;
    s.write_all(b"*3\r\n$6\r\nCONFIG\r\n$3\r\nGET\r\n$1\r\n*\r\n").ok()?;
    let mut r = BufReader::new(s);
    let mut line = String::new();
    r.read_line(&mut line).ok()?;
    let n: usize = line.trim().strip_prefix('*')?.parse().ok()?;
    let mut items = Vec::with_capacity(n);
    for _ in 0..n {
        line.clear();
        r.read_line(&mut line).ok()?;
        let len: usize = line.trim().strip_prefix('$')?.parse().ok()?;
        let mut buf = vec![0; len + 2];
        r.read_exact(&mut buf).ok()?;
        buf.truncate(len);
        items.push(String::from_utf8_lossy(&buf).into_owned());
    }
    Some(items.chunks(2).filter(|c| c.len() == 2).map(|c| (c[0].clone(), c[1].clone())).collect())
}
