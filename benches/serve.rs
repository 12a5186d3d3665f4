//! The serve load test: `driftwatch serve` on a store holding a fleet's real run
//! many times over (1,000 targets × 1,000 runs for the issue's figure), loaded by `wrk`
//! with 50 concurrent clients on the fleet pages and the JSON API; latency percentiles
//! per URL and the server's RSS before and after, as Markdown.
//!
//! ```sh
//! cargo bench --bench fleet -- --sizes 1000 --fleet-only --no-peers --reps 1 --keep   # a real 1,000-target store
//! cargo bench --bench serve -- --from target/bench-fleet/fleet-1000/store --runs 1000
//! cargo bench --bench serve -- --smoke      # what CI runs: 10 targets × 20 runs, 2 s a URL
//! ```
//!
//! Options: `--from STORE` (a store whose newest run is cloned; default: a fresh
//! 10-target audit of the local servers), `--runs N` (runs in the history, default 1000),
//! `--clients 50`, `--secs 10` (per URL), `--work DIR` (default `target/bench-serve`),
//! `--keep`. The history is written through the `Store` API: the newest run's manifest
//! committed again under N new run ids a minute apart (same targets, findings and
//! snapshots: what an unchanged fleet's history is), then its reports published as an
//! audit would. Needs `wrk` (`apt-get install wrk`). Under `cargo test` (no flag) it
//! only prints how to run it.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use driftwatch::run::{Run, RunId};
use driftwatch::store::Store;
use driftwatch::store::StoreLocation;

struct Options {
    smoke: bool,
    from: Option<PathBuf>,
    runs: usize,
    clients: usize,
    secs: u64,
    work: PathBuf,
    keep: bool,
}

fn options() -> Option<Options> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let smoke = args.iter().any(|a| a == "--smoke");
    if !smoke && !args.iter().any(|a| a == "--bench") {
        return None;
    }
    let value =
        |flag: &str| args.iter().position(|a| a == flag).and_then(|i| args.get(i + 1)).cloned();
    let number = |flag: &str, default: usize| {
        value(flag).map_or(default, |v| v.parse().unwrap_or_else(|_| panic!("{flag} N")))
    };
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    Some(Options {
        smoke,
        from: value("--from").map(Into::into),
        runs: number("--runs", if smoke { 20 } else { 1000 }),
        clients: number("--clients", if smoke { 10 } else { 50 }),
        secs: number("--secs", if smoke { 2 } else { 10 }) as u64,
        work: value("--work").map_or_else(|| manifest_dir.join("target/bench-serve"), Into::into),
        keep: args.iter().any(|a| a == "--keep"),
    })
}

fn main() {
    let Some(opts) = options() else {
        println!(
            "serve load test: `cargo bench --bench serve -- --from STORE --runs 1000` or \
             `cargo test --bench serve -- --smoke`; see BENCHMARKS.md"
        );
        return;
    };
    let wrk = Command::new("wrk").arg("--version").output();
    assert!(
        wrk.is_ok(),
        "wrk is needed for the serve load test: `apt-get install -y wrk` (tests/setup/tools.sh)"
    );
    let _ = std::fs::remove_dir_all(&opts.work);
    std::fs::create_dir_all(&opts.work).expect("work dir");
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_driftwatch"));
    let store_dir = opts.work.join("store");
    let seed = match &opts.from {
        Some(from) => from.clone(),
        None => seed_store(&bin, &opts.work),
    };
    copy_dir(&seed, &store_dir);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let clock = Instant::now();
    let (targets, newest) = rt.block_on(history(&store_dir, opts.runs));
    println!("# driftwatch serve under load\n");
    println!(
        "- store: {targets} targets × {} runs (cloned from `{}`), built in {:.1} s",
        opts.runs,
        seed.display(),
        clock.elapsed().as_secs_f64()
    );
    println!("- load average before: {}", load_average());

    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let config = opts.work.join("serve.toml");
    let names = rt.block_on(target_names(&store_dir, &newest));
    std::fs::write(&config, serve_config(&store_dir, port, &names)).expect("config");
    let log = std::fs::File::create(opts.work.join("serve.log")).expect("log");
    let mut child = Command::new(&bin)
        .args(["serve", "--config"])
        .arg(&config)
        .env("RUST_LOG", "driftwatch=warn")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start driftwatch serve");
    wait_listening(port, &mut child);
    let base = format!("http://127.0.0.1:{port}");
    let first_target = names.first().expect("a target");
    let urls = [
        "/reports/index.html".to_owned(),
        format!("/reports/targets/{first_target}.html"),
        "/api/runs".to_owned(),
        "/api/targets".to_owned(),
        format!("/api/targets/{first_target}/changes"),
        format!("/api/runs/{}", newest.0),
        "/metrics".to_owned(),
    ];
    let rss_start = rss_kib(child.id());
    println!(
        "- wrk: {} connections, 2 threads, {} s per URL; server RSS at start {} KiB\n",
        opts.clients, opts.secs, rss_start
    );
    println!(
        "| URL | answered | requests/s | p50 | p90 | p99 | errors, timeouts | RSS after (KiB) |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let mut failed = Vec::new();
    let mut rss_max = rss_start;
    for url in &urls {
        let out = Command::new("wrk")
            .args(["-t2", "--latency"])
            .arg(format!("-c{}", opts.clients))
            .arg(format!("-d{}s", opts.secs))
            .arg(format!("{base}{url}"))
            .output()
            .expect("run wrk");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "wrk failed on {url}: {text}");
        let rss = rss_kib(child.id());
        rss_max = rss_max.max(rss);
        // Requests wrk gave up on may still be running: the next URL starts on an idle
        // server, or its figures would be this one's backlog.
        wait_idle(child.id());
        let latency = |p: &str| {
            text.lines()
                .find(|l| l.trim_start().starts_with(p))
                .and_then(|l| l.split_whitespace().nth(1))
                .unwrap_or("?")
                .to_owned()
        };
        let rate = text
            .lines()
            .find(|l| l.starts_with("Requests/sec:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .unwrap_or("?");
        // Non-2xx answers and socket errors (timeouts: no answer within wrk's 2 s) count.
        let errors: u64 = text
            .lines()
            .filter(|l| l.contains("Non-2xx") || l.contains("Socket errors"))
            .flat_map(|l| {
                l.split(|c: char| !c.is_ascii_digit()).filter_map(|n| n.parse::<u64>().ok())
            })
            .sum();
        let answered = text
            .lines()
            .find(|l| l.contains("requests in"))
            .and_then(|l| l.split_whitespace().next())
            .unwrap_or("0")
            .to_owned();
        println!(
            "| `{url}` | {answered} | {rate} | {} | {} | {} | {errors} | {rss} |",
            latency("50%"),
            latency("90%"),
            latency("99%")
        );
        if opts.smoke && errors > 0 {
            failed.push(format!("{url} answered with errors under load:\n{text}"));
        }
    }
    println!("\n- server RSS: {rss_start} KiB at start, at most {rss_max} KiB after a URL's load");
    println!("- load average after: {}", load_average());
    stop(&mut child);
    assert!(failed.is_empty(), "{}", failed.join("\n"));
    if !opts.keep {
        let _ = std::fs::remove_dir_all(&opts.work);
    }
}

/// No audit while loaded: the schedule fires once a year and not at start. The
/// targets are the stored run's, by name (the API answers for configured targets; the
/// addresses are never used).
fn serve_config(store: &Path, port: u16, targets: &[String]) -> String {
    let mut toml = format!(
        "[store]\nurl = {:?}\n\n[policies]\ndir = {:?}\n\n\
         [schedule]\ncron = \"0 0 0 1 1 *\"\nrun_at_start = false\n\n\
         [server]\nlisten = \"127.0.0.1:{port}\"\n\n",
        store.display().to_string(),
        Path::new(env!("CARGO_MANIFEST_DIR")).join("policies").display().to_string(),
    );
    for name in targets {
        toml.push_str(&format!(
            "[[targets]]\nname = {name:?}\nkind = \"memcached\"\n\
             url = \"memcached://127.0.0.1:11211\"\nrole = \"standalone\"\n\n"
        ));
    }
    toml
}

/// A 10-target store of the local servers, one real audit.
fn seed_store(bin: &Path, work: &Path) -> PathBuf {
    let dir = work.join("seed");
    std::fs::create_dir_all(&dir).expect("seed dir");
    let p = |var: &str, default: u16| {
        std::env::var(var).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
    };
    let servers = [
        (
            "pg",
            "postgres",
            format!(
                "postgres://postgres@127.0.0.1:{}/postgres",
                p("DRIFTWATCH_TEST_PG_PORT", 5432)
            ),
        ),
        (
            "mariadb",
            "mysql",
            format!("mysql://root@127.0.0.1:{}/", p("DRIFTWATCH_TEST_MARIADB_PORT", 3306)),
        ),
        ("redis", "redis", format!("redis://127.0.0.1:{}/", p("DRIFTWATCH_TEST_REDIS_PORT", 6379))),
        (
            "memcached",
            "memcached",
            format!("memcached://127.0.0.1:{}", p("DRIFTWATCH_TEST_MEMCACHED_PORT", 11211)),
        ),
    ];
    let mut toml = format!(
        "[store]\nurl = {:?}\n\n[policies]\ndir = {:?}\n\n",
        dir.join("store").display().to_string(),
        Path::new(env!("CARGO_MANIFEST_DIR")).join("policies").display().to_string()
    );
    for i in 0..10 {
        let (label, kind, url) = &servers[i % servers.len()];
        toml.push_str(&format!(
            "[[targets]]\nname = \"t{i:02}-{label}\"\nkind = \"{kind}\"\nurl = \"{url}\"\nrole = \"standalone\"\n\n"
        ));
    }
    std::fs::write(dir.join("driftwatch.toml"), toml).expect("seed config");
    let out = Command::new(bin)
        .args(["audit", "--config"])
        .arg(dir.join("driftwatch.toml"))
        .output()
        .expect("run driftwatch audit");
    assert!(
        out.status.code() == Some(0) || out.status.code() == Some(1),
        "the seed audit failed (are the test services up? `bash tests/setup/services.sh`):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    dir.join("store")
}

/// Commits the newest run of `store` again under `runs` new ids, a minute apart, then
/// publishes the reports of the newest. Returns (targets, newest id).
async fn history(store: &Path, runs: usize) -> (usize, RunId) {
    let store = Store::open(&StoreLocation::Local(store.to_owned())).expect("store");
    let ids = store.list_runs().await.expect("list");
    let seed = ids.last().expect("the seed store has a run").clone();
    let template: Run = store.get_run(&seed).await.expect("read the seed run");
    let start = template.started_at + chrono::Duration::minutes(1);
    let mut previous = Some(seed);
    let mut newest = None;
    for i in 0..runs {
        let at = start + chrono::Duration::minutes(i as i64);
        let mut run = template.clone();
        run.run_id = RunId::new(at, (i % 65536) as u16);
        run.started_at = at;
        run.finished_at = at + chrono::Duration::seconds(5);
        run.previous_run = previous.take();
        for t in &mut run.targets {
            t.collected_at = at;
            t.previous_snapshot = t.snapshot.clone();
            t.changes.clear();
        }
        store.commit_run(&run).await.expect("commit");
        previous = Some(run.run_id.clone());
        newest = Some(run.run_id);
    }
    let targets = template.targets.len();
    driftwatch::audit::republish(&store, &Default::default(), None).await.expect("publish");
    (targets, newest.expect("at least one run"))
}

/// The newest run's target names. (Report paths are slugs of the names; the
/// benchmarks' names are slugs already.)
async fn target_names(store: &Path, newest: &RunId) -> Vec<String> {
    let store = Store::open(&StoreLocation::Local(store.to_owned())).expect("store");
    let run = store.get_run_outline(newest).await.expect("newest");
    run.targets.into_iter().map(|t| t.name).collect()
}

fn wait_listening(port: u16, child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        if child.try_wait().ok().flatten().is_some() {
            panic!("driftwatch serve exited before listening (see its serve.log)");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("driftwatch serve did not listen on {port} within 30 s");
}

/// Waits (at most 120 s) until `pid` used no CPU for a second.
fn wait_idle(pid: u32) {
    let cpu = || {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        // After the command's closing parenthesis: state, ppid, …; utime and stime are
        // the 12th and 13th fields there.
        let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
        let f: Vec<&str> = rest.split_whitespace().collect();
        let field = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        field(11) + field(12)
    };
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut last = cpu();
    while Instant::now() < deadline {
        std::thread::sleep(Duration::from_secs(1));
        let now = cpu();
        if now == last {
            return;
        }
        last = now;
    }
}

fn stop(child: &mut Child) {
    // SAFETY: signalling our own child by its pid.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    let _ = child.wait();
}

/// VmRSS of `pid` in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or(0)
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".to_owned())
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("copy");
    for entry in std::fs::read_dir(from).unwrap_or_else(|e| panic!("{}: {e}", from.display())) {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy file");
        }
    }
}
