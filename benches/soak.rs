//! Soak: `driftwatch serve` auditing the local servers every second for a bounded time,
//! its RSS (`/proc/<pid>/status` VmRSS) printed each second, and a verdict on growth.
//!
//! ```sh
//! cargo bench --bench soak                                   # 60 s
//! DRIFTWATCH_SOAK_SECS=600 DRIFTWATCH_SOAK_MAX_GROWTH_PCT=5 cargo bench --bench soak
//! ```
//!
//! `cargo test --all-targets` runs it in test mode (no `--bench` argument): 3 seconds,
//! checking only that the service stays up and commits runs. Needs the local
//! PostgreSQL, MariaDB, Redis and memcached (`bash tests/setup/services.sh`).

use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

// The test services' ports, from the same variables as tests/setup (docs/development.md).
#[path = "../tests/support/ports.rs"]
mod ports;

use ports::{MEMCACHED, MY_PRIMARY, PG_PRIMARY, REDIS_PRIMARY};

const SERVICES: [(&str, u16); 4] = [
    ("PostgreSQL", PG_PRIMARY),
    ("MariaDB", MY_PRIMARY),
    ("Redis", REDIS_PRIMARY),
    ("memcached", MEMCACHED),
];

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn config(port: u16) -> String {
    let policies = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies");
    let target = |name: &str, kind: &str, url: &str| {
        format!(
            "[[targets]]\nname = \"{name}\"\nkind = \"{kind}\"\nurl = \"{url}\"\nrole = \"primary\"\n\n"
        )
    };
    format!(
        "[store]\nurl = \"store\"\n\n[policies]\ndir = \"{}\"\n\n\
         [audit]\nconnect_timeout = \"2s\"\ntarget_timeout = \"5s\"\n\n\
         [schedule]\ncron = \"* * * * * *\"\nrun_at_start = true\ngrace_period = \"5s\"\n\n\
         [server]\nlisten = \"127.0.0.1:{port}\"\n\n{}{}{}{}",
        policies.display(),
        target("pg", "postgres", &format!("postgres://postgres@127.0.0.1:{PG_PRIMARY}/postgres")),
        target("mariadb", "mysql", &format!("mysql://root@127.0.0.1:{MY_PRIMARY}/")),
        target("redis", "redis", &format!("redis://127.0.0.1:{REDIS_PRIMARY}")),
        target("memcached", "memcached", &format!("memcached://127.0.0.1:{MEMCACHED}")),
    )
}

/// VmRSS of `pid` in KiB.
fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn count_files(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries.flatten().map(|e| if e.path().is_dir() { count_files(&e.path()) } else { 1 }).sum()
}

fn median(values: &[u64]) -> u64 {
    let mut v = values.to_vec();
    v.sort_unstable();
    v.get(v.len() / 2).copied().unwrap_or(0)
}

fn stop(child: &mut Child) {
    // SAFETY: signalling our own child by its pid.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if child.try_wait().ok().flatten().is_some() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
}

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let secs = if bench { env_number("DRIFTWATCH_SOAK_SECS", 60) } else { 3 };
    let max_growth = env_number("DRIFTWATCH_SOAK_MAX_GROWTH_PCT", 10) as f64;
    for (what, port) in SERVICES {
        assert!(
            TcpStream::connect(("127.0.0.1", port)).is_ok(),
            "{what} is not listening on 127.0.0.1:{port}: start the test services with \
             `bash tests/setup/services.sh`"
        );
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    std::fs::write(dir.path().join("driftwatch.toml"), config(port)).unwrap();
    let log = std::fs::File::create(dir.path().join("serve.log")).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_driftwatch"))
        .args(["serve", "--config"])
        .arg(dir.path().join("driftwatch.toml"))
        .env("RUST_LOG", "driftwatch=warn")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start driftwatch serve");
    let pid = child.id();

    println!("soak: driftwatch serve (pid {pid}), 4 targets every second, {secs} s");
    let start = Instant::now();
    let mut samples = Vec::new();
    while start.elapsed() < Duration::from_secs(secs) {
        std::thread::sleep(Duration::from_secs(1));
        if child.try_wait().ok().flatten().is_some() {
            let log = std::fs::read_to_string(dir.path().join("serve.log")).unwrap_or_default();
            panic!("driftwatch serve exited early:\n{log}");
        }
        let rss = rss_kib(pid).unwrap_or(0);
        let runs = count_files(&dir.path().join("store/runs"));
        println!("t={:>4}s rss={rss:>7} KiB runs={runs}", start.elapsed().as_secs());
        samples.push(rss);
    }
    let runs = count_files(&dir.path().join("store/runs"));
    stop(&mut child);
    assert!(runs >= 1, "no run was committed in {secs} s");

    let quarter = samples.len() / 4;
    if !bench || quarter < 2 {
        println!("soak: {runs} runs committed; too short to judge memory growth");
        return;
    }
    // Warm-up (first quarter) is excluded: caches, pools and the first reports fill.
    let early = median(&samples[quarter..2 * quarter]);
    let late = median(&samples[samples.len() - quarter..]);
    let growth = (late as f64 - early as f64) * 100.0 / early.max(1) as f64;
    let verdict = if growth < max_growth { "PASS" } else { "FAIL" };
    println!(
        "soak: {verdict}: {runs} runs; RSS median {early} KiB after warm-up, {late} KiB at the \
         end: {growth:+.1}% (limit {max_growth}%)"
    );
    if verdict == "FAIL" {
        std::process::exit(1);
    }
}
