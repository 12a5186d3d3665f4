//! Fleet-wide question benchmark: `Store::query_changes` (what `driftwatch changes`
//! runs) over a local store holding 1,000 targets × 200 runs, written straight through
//! the `Store` API (manifest exports only: the question never reads manifests). Each
//! run, 30 minutes after the one before, changes a setting on 1–5 targets; one run in
//! fifty changes every target (a fleet-wide rollout).
//!
//! `cargo bench --bench changes` prints the table (median of 5). Under
//! `cargo test --all-targets` it builds 20 targets × 10 runs and asks once, so it
//! cannot rot and stays fast.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use driftwatch::diff::Change;
use driftwatch::export::Query;
use driftwatch::run::{PolicyBundle, Run, RunId, Summary, TargetRun, TargetStatus};
use driftwatch::snapshot::{Digest, Kind, Role};
use driftwatch::store::Store;
use driftwatch::store::StoreLocation;
use futures::StreamExt as _;

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let (targets, runs, repetitions) = if full { (1_000, 200, 5) } else { (20, 10, 1) };
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(&StoreLocation::Local(dir.path().join("store"))).expect("store");
    let clock = Instant::now();
    let written = rt.block_on(build(&store, targets, runs));
    let build_time = clock.elapsed();
    let t0 = start();
    let windows = [
        ("every run (--since the first)", t0, written),
        (
            "the last day",
            t0 + chrono::Duration::minutes(30 * runs as i64) - chrono::Duration::days(1),
            0,
        ),
    ];
    println!(
        "{targets} targets × {runs} runs, {written} changes, built in {:.1} s",
        build_time.as_secs_f64()
    );
    println!("| window | rows | query_changes (median of {repetitions}) |");
    println!("|---|---:|---:|");
    for (name, since, expect_all) in windows {
        let query = Query { since: Some(since), ..Query::default() };
        let mut times = Vec::with_capacity(repetitions);
        let mut rows = 0;
        for _ in 0..repetitions {
            let clock = Instant::now();
            rows = rt.block_on(store.query_changes(&query)).expect("query").len();
            times.push(clock.elapsed());
        }
        if expect_all > 0 {
            assert_eq!(rows, expect_all, "every change is found");
        }
        times.sort();
        println!("| {name} | {rows} | {:.3} s |", secs(times[times.len() / 2]));
    }
    // One target's key, fleet-wide: the shape of "who changed max_connections?".
    let query = Query { since: Some(t0), key: Some("param_3".into()), ..Query::default() };
    let clock = Instant::now();
    let rows = rt.block_on(store.query_changes(&query)).expect("query").len();
    println!("| --key param_3, every run | {rows} | {:.3} s |", secs(clock.elapsed()));
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

fn start() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z").unwrap().to_utc()
}

/// Writes the export of `runs` runs of `targets` targets; returns how many changes.
async fn build(store: &Store, targets: usize, runs: usize) -> usize {
    let manifests: Vec<Run> = (0..runs).map(|i| run(targets, i)).collect();
    let changes = manifests.iter().map(|r| r.summary.changes).sum();
    futures::stream::iter(manifests)
        .map(|run| async move {
            store.export_run(&run).await.expect("export");
        })
        .buffer_unordered(8)
        .collect::<Vec<()>>()
        .await;
    changes
}

/// Run `i`: every target, 1–5 of them with a changed setting (all of them every 50th run).
fn run(targets: usize, i: usize) -> Run {
    let at = start() + chrono::Duration::minutes(30 * i as i64);
    let changing = if i % 50 == 49 { targets } else { 1 + (i * 7919) % 5 };
    let list: Vec<TargetRun> = (0..targets)
        .map(|t| {
            let changes = if (t + i) % targets < changing {
                let key = format!("setting.param_{}", (i + t) % 40);
                vec![Change {
                    key,
                    before: Some(format!("{i}")),
                    after: Some(format!("{}", i + 1)),
                    location: Some("postgresql.auto.conf:3".into()),
                    previous_location: None,
                    rollback: None,
                }]
            } else {
                vec![]
            };
            TargetRun {
                name: format!("db{t:04}"),
                kind: Kind::Postgres,
                role: Role::Primary,
                detected_role: Some(Role::Primary),
                group: None,
                labels: [(
                    "env".to_owned(),
                    if t % 3 == 0 { "production" } else { "staging" }.to_owned(),
                )]
                .into(),
                address: format!("postgres://auditor@db{t:04}:5432/postgres"),
                status: TargetStatus::Ok,
                error: None,
                server_version: Some("15.20".into()),
                snapshot: Some(Digest(format!("{:064x}", t * 1000 + i))),
                previous_snapshot: None,
                collected_at: at,
                duration_ms: 40,
                state: Default::default(),
                findings: Default::default(),
                preflight: vec![],
                detail: Default::default(),
                changes,
            }
        })
        .collect();
    Run {
        run_id: RunId::new(at, i as u16),
        started_at: at,
        finished_at: at,
        trigger: "schedule".into(),
        driftwatch_version: "bench".into(),
        policy_bundle: PolicyBundle { digest: "b".repeat(64), policies: vec![], packs: vec![] },
        previous_run: None,
        summary: Summary::of(&list),
        targets: list,
        slot: None,
    }
}
