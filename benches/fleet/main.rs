//! The fleet benchmark (`cargo bench --bench fleet`): driftwatch against the real local
//! servers beside the tools people use today, printed as Markdown tables for
//! `BENCHMARKS.md`. `-- --smoke` is the quick version CI runs (N = 10, no peers, any
//! build); under `cargo test` (no flag) it only says how to run it.
//!
//! Options: `--smoke`, `--sizes 10,100,1000`, `--reps 5`, `--no-peers`,
//! `--work DIR` (scratch, default `target/bench-fleet`), `--keep` (keep the stores),
//! `--mix weighted` (the fleet weighted to Redis and memcached, for 10,000 targets),
//! `--fleet-only` (no single-target rows). Each fleet size also goes to
//! `<work>/scaling.csv` for `scripts/bench/plot-scaling.py` (the log-log plot).

// The in-process rendering figure runs on the allocator the `driftwatch` binary uses.
#[path = "../../src/allocator.rs"]
mod allocator;
mod measure;
mod peers;
// The test services' ports, from the same variables as tests/setup (docs/development.md).
#[path = "../../tests/support/ports.rs"]
mod ports;
mod render;
mod setup;

use std::path::{Path, PathBuf};
use std::process::Command;

use measure::{Sample, log_fields, mb, median, ms, run_logged, run_ok, store_bytes};
use setup::Server;

/// PostgreSQL allows 100 connections, MariaDB 151, shared with whoever else uses the
/// servers: 32 collections at a time stays well inside both.
const CONCURRENCY: usize = 32;

struct Options {
    smoke: bool,
    sizes: Vec<usize>,
    reps: usize,
    peers: bool,
    work: PathBuf,
    keep: bool,
    /// `--render STORE`: only time rendering the newest run of an existing store.
    render: Option<PathBuf>,
    /// `--mix weighted`: the Redis- and memcached-weighted fleet (`setup::weighted_fleet`).
    weighted: bool,
    /// `--fleet-only`: skip the single-target rows and the peers.
    fleet_only: bool,
}

fn options() -> Option<Options> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let smoke = args.iter().any(|a| a == "--smoke");
    if !smoke && !args.iter().any(|a| a == "--bench") {
        return None;
    }
    let value =
        |flag: &str| args.iter().position(|a| a == flag).and_then(|i| args.get(i + 1)).cloned();
    let sizes = value("--sizes").map_or_else(
        || if smoke { vec![10] } else { vec![10, 100, 1000] },
        |s| s.split(',').map(|n| n.trim().parse().expect("--sizes 10,100")).collect(),
    );
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    Some(Options {
        smoke,
        sizes,
        reps: value("--reps").map_or(if smoke { 1 } else { 5 }, |r| r.parse().expect("--reps")),
        peers: !smoke && !args.iter().any(|a| a == "--no-peers"),
        work: value("--work").map_or_else(|| manifest_dir.join("target/bench-fleet"), Into::into),
        keep: args.iter().any(|a| a == "--keep"),
        render: value("--render").map(Into::into),
        weighted: value("--mix").is_some_and(|m| m == "weighted"),
        fleet_only: args.iter().any(|a| a == "--fleet-only"),
    })
}

fn print_render(store: &Path, reps: usize) {
    let r = render::time_render(store, reps);
    println!("\n## Rendering in process (the pages an audit writes, one thread)\n");
    println!("| targets | earlier runs | pages | HTML | time (median) |\n|---|---|---|---|---|");
    println!(
        "| {} | {} | {} | {} | {} |",
        r.targets,
        r.history,
        r.pages,
        mb(r.bytes as u64),
        ms(r.time)
    );
}

fn main() {
    let Some(opts) = options() else {
        println!(
            "fleet benchmark: `cargo bench --bench fleet` (full, release) or \
             `cargo test --bench fleet -- --smoke` (N = 10); see BENCHMARKS.md"
        );
        return;
    };
    if let Some(store) = &opts.render {
        print_render(store, opts.reps.min(3));
        return;
    }
    setup::require_services(&setup::CLUSTER);
    let _ = std::fs::remove_dir_all(&opts.work);
    std::fs::create_dir_all(&opts.work).expect("work dir");
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_driftwatch"));
    println!("# driftwatch fleet benchmark\n");
    println!("- binary: `{}`", bin.display());
    println!("- cpus: {}, load average before: {}", cpus(), measure::load_average());
    println!("- repetitions: {} (medians; driftwatch and its floor interleaved)\n", opts.reps);

    let peers = opts.peers && !opts.fleet_only;
    if !opts.fleet_only {
        single_targets(&opts, &bin);
    }
    if peers {
        peers::mariadb_peers(&opts.work, &bin, opts.reps);
    }
    let mut largest = None;
    let mix = if opts.weighted { "weighted to Redis and memcached" } else { "mixed engines" };
    println!("\n## Fleet ({mix}, concurrency {CONCURRENCY})\n");
    println!(
        "| N | first audit wall | re-audit wall | ms/target | CPU (user+sys) | peak RSS | \
         history +bytes/target unchanged | … changed | reports written |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    let mut rows = Vec::new();
    for &n in &opts.sizes {
        let (store, row) = fleet(&opts, &bin, n);
        largest = Some(store);
        rows.push(row);
    }
    print_requests(&opts.work, &rows);
    if peers && opts.sizes.contains(&100) {
        peers::mariadb_fleet(&opts.work, &bin, 100, opts.reps.min(3), CONCURRENCY);
    }
    if let Some(store) = largest {
        print_render(&store, opts.reps.min(3));
    }
    if !opts.keep {
        // The stores go; `scaling.csv` stays for the plot.
        for entry in std::fs::read_dir(&opts.work).into_iter().flatten().flatten() {
            if entry.path().is_dir() {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
    println!("\n- load average after: {}", measure::load_average());
}

fn cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

pub fn audit(bin: &Path, config: &Path) -> Command {
    let mut c = Command::new(bin);
    c.args(["audit", "--output", "json", "--config"]).arg(config);
    c
}

/// One target of each engine, end to end (process start → reports written), beside the
/// same query through the engine's own client.
fn single_targets(opts: &Options, bin: &Path) {
    println!("## One target, end to end\n");
    println!(
        "| engine | driftwatch audit | CPU | peak RSS | floor (client, same query) | floor | ratio |"
    );
    println!("|---|---|---|---|---|---|---|");
    for s in [setup::PG, setup::MARIADB, setup::REDIS, setup::MEMCACHED] {
        let dir = opts.work.join(format!("one-{}", s.label));
        std::fs::create_dir_all(&dir).expect("dir");
        let config =
            setup::write_config(&dir, "driftwatch.toml", 1, &[(s.label.into(), s, None)], false);
        let (floor_name, mut floor) = floor(s);
        run_ok(&mut audit(bin, &config), &[0]); // warm-up: first run writes the snapshot
        run_ok(&mut floor, &[0]);
        let (mut ours, mut theirs) = (Vec::new(), Vec::new());
        for _ in 0..opts.reps {
            ours.push(run_ok(&mut audit(bin, &config), &[0]));
            theirs.push(run_ok(&mut floor, &[0]));
        }
        let (o, t) = (median(&ours), median(&theirs));
        println!(
            "| {} | {} | {} | {} | `{}` | {} | {:.1}× |",
            s.kind,
            ms(o.wall),
            ms(o.cpu),
            mb(o.max_rss),
            floor_name,
            ms(t.wall),
            ratio(o, t)
        );
    }
}

pub fn ratio(a: Sample, b: Sample) -> f64 {
    a.wall.as_secs_f64() / b.wall.as_secs_f64()
}

/// The engine's own client reading the same settings.
fn floor(s: Server) -> (&'static str, Command) {
    let port = s.port.to_string();
    let mut c;
    let name = match s.kind {
        "postgres" => {
            c = Command::new("psql");
            c.args(["-h", "127.0.0.1", "-p", &port, "-U", "postgres", "-d", "postgres"]);
            c.args(["-XAtq", "-c", "select * from pg_settings"]);
            "psql -c 'select * from pg_settings'"
        }
        "mysql" => {
            c = Command::new("mariadb");
            c.args(["-h", "127.0.0.1", "-P", &port, "-u", "root", "-e", "SHOW GLOBAL VARIABLES"]);
            "mariadb -e 'SHOW GLOBAL VARIABLES'"
        }
        "redis" => {
            c = Command::new("redis-cli");
            c.args(["-h", "127.0.0.1", "-p", &port, "CONFIG", "GET", "*"]);
            "redis-cli CONFIG GET '*'"
        }
        _ => {
            c = Command::new("bash");
            c.arg("-c").arg(format!(
                "exec 3<>/dev/tcp/127.0.0.1/{port}; printf 'stats settings\\r\\nquit\\r\\n' >&3; cat <&3"
            ));
            "bash: stats settings over /dev/tcp"
        }
    };
    (name, c)
}

/// One fleet size's re-audit: the child's figures and what its store requests were.
struct Row {
    n: usize,
    again: Sample,
    /// From the last unchanged re-audit's debug log ("store requests of the run").
    requests: std::collections::BTreeMap<String, u64>,
    /// … and its publish ("reports written": pages, pages_unchanged).
    reports: std::collections::BTreeMap<String, u64>,
}

/// N logical targets: a first audit into an empty store, `reps` unchanged re-audits,
/// then one with every pair swapped (a changed configuration). Returns the store.
fn fleet(opts: &Options, bin: &Path, n: usize) -> (PathBuf, Row) {
    let dir = opts.work.join(format!("fleet-{n}"));
    std::fs::create_dir_all(&dir).expect("dir");
    let targets = if opts.weighted { setup::weighted_fleet(n) } else { setup::mixed_fleet(n) };
    let config = setup::write_config(&dir, "driftwatch.toml", CONCURRENCY, &targets, false);
    let changed = setup::write_config(&dir, "changed.toml", CONCURRENCY, &targets, true);
    let store = dir.join("store");
    let log = dir.join("re-audit.log");
    let first = run_ok(&mut audit(bin, &config), &[0]);
    let mut again = Vec::new();
    let mut added = Vec::new();
    for _ in 0..opts.reps.min(3) {
        let before = store_bytes(&store).0;
        // Only the audit's own debug lines (one per target and phase): no measurable cost.
        let mut cmd = audit(bin, &config);
        cmd.env("RUST_LOG", "driftwatch=info,driftwatch::audit=debug");
        again.push(run_logged(&mut cmd, &log));
        added.push(store_bytes(&store).0 - before);
    }
    added.sort();
    let requests = log_fields(&log, "store requests of the run");
    let reports = log_fields(&log, "reports written");
    let (before, _) = store_bytes(&store);
    run_ok(&mut audit(bin, &changed), &[0]);
    let (after, reports_bytes) = store_bytes(&store);
    let a = median(&again);
    println!(
        "| {n} | {} | {} | {:.1} | {} | {} | {} B | {} B | {} |",
        ms(first.wall),
        ms(a.wall),
        a.wall.as_secs_f64() * 1000.0 / n as f64,
        ms(a.cpu),
        mb(a.max_rss),
        added[added.len() / 2] / n as u64,
        (after - before) / n as u64,
        mb(reports_bytes)
    );
    if opts.smoke {
        assert!(a.max_rss > 0 && reports_bytes > 0, "the smoke run wrote no reports");
        assert!(requests.get("puts").is_some_and(|p| *p > 0), "no store requests logged");
    }
    append_scaling(&opts.work, n, first, a);
    (store, Row { n, again: a, requests, reports })
}

/// Store requests of an unchanged re-audit (load-independent: they follow the fleet,
/// not the machine), per size.
fn print_requests(work: &Path, rows: &[Row]) {
    println!("\n## Store requests, one unchanged re-audit\n");
    println!(
        "| N | GETs | PUTs | HEADs | LISTs | bytes read | bytes written | pages written | \
         pages left unchanged | wall | CPU |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for r in rows {
        let q = |k: &str| r.requests.get(k).copied().unwrap_or(0);
        let p = |k: &str| r.reports.get(k).copied().unwrap_or(0);
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            r.n,
            q("gets"),
            q("puts"),
            q("heads"),
            q("lists"),
            mb(q("bytes_read")),
            mb(q("bytes_written")),
            p("pages"),
            p("pages_unchanged"),
            ms(r.again.wall),
            ms(r.again.cpu)
        );
    }
    println!("\n(`{}` has the scaling figures for the plot.)", work.join("scaling.csv").display());
}

/// One line of `<work>/scaling.csv`: `n,first_wall_s,wall_s,cpu_s,max_rss_mb`.
fn append_scaling(work: &Path, n: usize, first: Sample, again: Sample) {
    use std::io::Write as _;
    let path = work.join("scaling.csv");
    let new = !path.exists();
    let mut f = std::fs::OpenOptions::new().create(true).append(true).open(&path).expect("csv");
    if new {
        writeln!(f, "n,first_wall_s,wall_s,cpu_s,max_rss_mb").expect("csv");
    }
    writeln!(
        f,
        "{n},{:.3},{:.3},{:.3},{:.1}",
        first.wall.as_secs_f64(),
        again.wall.as_secs_f64(),
        again.cpu.as_secs_f64(),
        again.max_rss as f64 / 1e6
    )
    .expect("csv");
}
