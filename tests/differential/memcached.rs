//! memcached 1.6 through Debian's service wrapper against `check` (see the module doc
//! of `differential`). Each case runs `systemd-memcached-wrapper <file>` (what
//! memcached.service runs) as root in a network namespace of its own and reads `stats
//! settings`. Rules are from the wrapper script itself (read: it is the format), and
//! memcached.c of 1.6 (`main`'s option loop and the checks after it).

use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader, Write as _};
use std::path::Path;

use driftwatch::collect::conffile::{self, RealFiles};
use driftwatch::snapshot::Kind;

use super::{Case, Engine, Rules, netns};

const BIN: &str = "/usr/bin/memcached";
const WRAPPER: &str = "/usr/share/memcached/scripts/systemd-memcached-wrapper";

#[rustfmt::skip]
const CASES: &[Case] = &[
    Case::new("empty file", "with no options left the wrapper adds `-u root` (systemd-memcached-wrapper)", &[("memcached.conf", "")]),
    Case::new("Debian's file", "the shipped /etc/memcached.conf: -d and logfile are the wrapper's, the rest memcached's", &[("memcached.conf", "# memcached\n-d\nlogfile /var/log/memcached.log\n-m 64\n-p 11211\n-u memcache\n-l 127.0.0.1\n-P /var/run/memcached/memcached.pid\n")]),
    Case::new("memory with a suffix", "-m is read with atoi(): `-m 5g` is 5 megabytes (memcached.c case 'm')", &[("memcached.conf", "-u memcache\n-m 5g\n")]),
    Case::new("listen twice", "-l again adds the address, comma-separated (memcached.c case 'l')", &[("memcached.conf", "-u memcache\n-l 127.0.0.1\n-l 127.0.0.2\n")]),
    Case::new("listen, same address twice", "an address already listed is not added again (memcached.c: strstr)", &[("memcached.conf", "-u memcache\n-l 127.0.0.1\n-l 127.0.0.1\n")]),
    Case::new("two options on a line", "the wrapper joins lines with blanks: one line can hold several options", &[("memcached.conf", "-u memcache -m 128 -c 2048\n")]),
    Case::new("extended options", "-o takes a comma-separated list; hashpower sets hashpower_init (memcached.c getsubopt)", &[("memcached.conf", "-u memcache\n-o hashpower=20,no_lru_crawler\n")]),
    Case::new("no -u", "memcached refuses to run as root without -u; the wrapper adds it only to an empty file", &[("memcached.conf", "-m 64\n")]).refused_at("memcached.conf", 1),
    Case::new("comments", "a # not preceded by a backslash removes text up to the next # (systemd-memcached-wrapper)", &[("memcached.conf", "-u memcache # who\n-c 100 # conns # more\n")]),
    Case::new("escaped #", "\\# is not a comment; the shell then reads the backslash (systemd-memcached-wrapper, sh)", &[("memcached.conf", "-u memcache\n-D \\#\n")]),
    Case::new("verbosity counts", "every -v adds one (memcached.c case 'v')", &[("memcached.conf", "-u memcache\n-vv\n-v\n")]),
    Case::new("long options", "getopt_long: --name=value, --name value and unique prefixes (memcached.c longopts)", &[("memcached.conf", "-u memcache\n--memory-limit=128\n--conn 1000\n")]),
    Case::new("attached arguments", "-m64: an argument may follow the option letter (getopt)", &[("memcached.conf", "-u memcache\n-m64\n-c1024\n")]),
    Case::new("zero connections", "-c must be greater than 0 (memcached.c case 'c')", &[("memcached.conf", "-u memcache\n-c 0\n")]).refused_at("memcached.conf", 2),
    Case::new("item size with a suffix", "-I takes k or m (memcached.c case 'I')", &[("memcached.conf", "-u memcache\n-I 2m\n")]),
    Case::new("item size too small", "-I below 1024 bytes is refused (memcached.c ITEM_SIZE_MAX_LOWER_LIMIT)", &[("memcached.conf", "-u memcache\n-I 100\n")]).refused_at("memcached.conf", 2),
    Case::new("item size above half the memory", "-I above half of -m is refused (memcached.c)", &[("memcached.conf", "-u memcache\n-m 2\n-I 2m\n")]).refused_at("memcached.conf", 3),
    Case::new("unknown sub-option", "an unknown -o name is refused (memcached.c: Illegal suboption)", &[("memcached.conf", "-u memcache\n-o bogus_option\n")]).refused_at("memcached.conf", 2),
    Case::new("protocol", "-B is auto, binary or ascii (memcached.c case 'B')", &[("memcached.conf", "-u memcache\n-B ascii\n")]),
    Case::new("protocol invalid", "-B anything else is refused (memcached.c case 'B')", &[("memcached.conf", "-u memcache\n-B http\n")]).refused_at("memcached.conf", 2),
    Case::new("unix mask", "-a is read in octal (memcached.c: strtol(optarg, NULL, 8))", &[("memcached.conf", "-u memcache\n-a 0770\n")]),
    Case::new("threads and requests", "-t and -R are counts greater than 0 (memcached.c)", &[("memcached.conf", "-u memcache\n-t 2\n-R 0\n")]).refused_at("memcached.conf", 3),
    Case::new("growth factor", "-f is read with atof and must be above 1 (memcached.c case 'f')", &[("memcached.conf", "-u memcache\n-f 1.5\n")]),
    Case::new("growth factor of 1", "-f 1 is refused (memcached.c case 'f')", &[("memcached.conf", "-u memcache\n-f 1\n")]).refused_at("memcached.conf", 2),
    Case::new("UDP port alone", "with -U and no -p, the TCP port follows the UDP port (memcached.c)", &[("memcached.conf", "-u memcache\n-U 11300\n")]),
    Case::new("a bare word", "a line without a blank that is not an option is passed on; getopt skips it (systemd-memcached-wrapper, getopt)", &[("memcached.conf", "-u memcache\nverbose\n-c 99\n")]),
    Case::new("-d and -h lines", "lines starting with -d or -h are dropped by the wrapper", &[("memcached.conf", "-u memcache\n-d\n-h\n-c 77\n")]),
    Case::new("no_modern", "-o no_modern restores the 1.4 defaults (memcached.c NO_MODERN)", &[("memcached.conf", "-u memcache\n-o no_modern\n")]),
    Case::new("LRU percentages", "hot_lru_pct + warm_lru_pct may not exceed 80 (memcached.c)", &[("memcached.conf", "-u memcache\n-o hot_lru_pct=50,warm_lru_pct=40\n")]).refused_at("memcached.conf", 2),
    Case::new("flags", "-M, -C, -F, -X, -A turn features off or on (memcached.c)", &[("memcached.conf", "-u memcache\n-M\n-C\n-F\n-X\n-A\n")]),
    Case::new("quoted argument", "quotes go through /bin/sh (the wrapper execs one string with shell characters)", &[("memcached.conf", "-u memcache\n-l \"127.0.0.1\"\n")]),
    Case::new("port out of range", "a TCP port above 65535 is refused (memcached.c: Invalid port number)", &[("memcached.conf", "-u memcache\n-p 70000\n")]).refused_at("memcached.conf", 2),
    Case::new("check's own fixture", "tests/fixtures/check/memcached/memcached.conf", &[("memcached.conf", include_str!("../fixtures/check/memcached/memcached.conf"))]),
    Case::new("unknown option", "an unknown option letter stops memcached (getopt, memcached.c: Illegal argument)", &[("memcached.conf", "-u memcache\n-q\n")]).refused_at("memcached.conf", 2),
];

pub fn rules() -> Rules {
    Rules { kind: Kind::Memcached, harness: &[] }
}

#[test]
fn memcached_reads_files_as_check_does() {
    super::require_binary(BIN, "install memcached: bash tests/setup/services.sh");
    super::require_binary(WRAPPER, "install memcached: bash tests/setup/services.sh");
    super::run(&rules(), CASES, engine, Some("memcache"));
}

/// What the wrapper's memcached does with `main`.
pub fn engine(_case: &Case, main: &Path) -> Engine {
    let dir = main.parent().unwrap_or(Path::new("/")).to_owned();
    let log = dir.join("memcached.log");
    let port = conffile::read(Kind::Memcached, &[main.to_owned()], &RealFiles)
        .ok()
        .and_then(|r| r.config.get("setting.tcpport").and_then(|e| e.value.parse().ok()))
        .unwrap_or(11211);
    let mut child = netns::spawn(
        "/usr/bin/perl",
        &[WRAPPER, &main.display().to_string()],
        &log,
        Path::new("/"),
    );
    let answer = netns::wait_for(&mut child, move || stats_settings(port));
    child.stop(libc::SIGKILL);
    match answer {
        Some(values) => Engine::Runs(values),
        None => {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            let message =
                text.lines().rfind(|l| !l.trim().is_empty()).unwrap_or("exited").to_owned();
            Engine::Refuses { message, at: None }
        }
    }
}

/// `stats settings` over TCP to 127.0.0.1:`port` (in the caller's namespace).
pub fn stats_settings(port: u16) -> Option<BTreeMap<String, String>> {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(std::time::Duration::from_secs(5))).ok()?;
    s.write_all(b"stats settings\r\n").ok()?;
    let mut r = BufReader::new(s);
    let mut out = BTreeMap::new();
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let line = line.trim_end();
        if line == "END" {
            return Some(out);
        }
        let rest = line.strip_prefix("STAT ")?;
        let (k, v) = rest.split_once(' ')?;
        out.insert(k.to_owned(), v.to_owned());
    }
}
