//! History benchmark: `driftwatch::queries::changes` over a local store holding a long
//! history of one target (each run changes 1–3 settings), written straight through the
//! `Store` API — manifests and change-index entries, no servers needed.
//!
//! `cargo bench --bench history` prints the figures table (1,000 and 10,000 runs,
//! median of 5). Under `cargo test --all-targets` (no `--bench` argument) it runs a
//! tiny history once, so it cannot rot and stays fast.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use driftwatch::diff::Change;
use driftwatch::run::{PolicyBundle, Run, RunId, Summary, TargetRun, TargetStatus};
use driftwatch::snapshot::{Digest, Entry, Kind, Role, ServerInfo, Snapshot};
use driftwatch::store::Store;
use driftwatch::store::StoreLocation;
use futures::StreamExt as _;

const TARGET: &str = "db1";

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let (sizes, repetitions): (&[usize], usize) =
        if full { (&[1_000, 10_000], 5) } else { (&[20, 50], 1) };
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    println!("| runs | changes | build | queries::changes (median of {repetitions}) |");
    println!("|---:|---:|---:|---:|");
    for &runs in sizes {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&StoreLocation::Local(dir.path().join("store"))).expect("store");
        let clock = Instant::now();
        let written = rt.block_on(build(&store, runs));
        let build_time = clock.elapsed();
        let mut times = Vec::with_capacity(repetitions);
        for _ in 0..repetitions {
            let clock = Instant::now();
            let rows = rt
                .block_on(driftwatch::queries::changes(&store, TARGET, None, None))
                .expect("history");
            times.push(clock.elapsed());
            assert_eq!(rows.len(), written, "every change is found");
        }
        times.sort();
        let median = times[times.len() / 2];
        println!(
            "| {runs} | {written} | {:.1} s | {:.3} s |",
            build_time.as_secs_f64(),
            secs(median)
        );
        eprintln!("history {runs} runs: {:.3} s ({written} changes)", secs(median));
    }
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

/// Writes `runs` manifests and their index entries; returns how many changes.
async fn build(store: &Store, runs: usize) -> usize {
    let t0: DateTime<Utc> = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z").unwrap().to_utc();
    let manifests: Vec<Run> = (0..runs).map(|i| manifest(t0, i)).collect();
    let changes = manifests.iter().map(|r| r.summary.changes).sum();
    // A manifest is committed only once every snapshot it names is stored.
    futures::stream::iter(0..=runs)
        .map(|j| async move {
            store.put_snapshot(&snapshot(j)).await.expect("snapshot");
        })
        .buffer_unordered(16)
        .collect::<Vec<()>>()
        .await;
    futures::stream::iter(manifests)
        .map(|run| async move {
            store.commit_run(&run).await.expect("commit");
            store.index_run(&run.outline()).await.expect("index");
        })
        .buffer_unordered(16)
        .collect::<Vec<()>>()
        .await;
    changes
}

/// The target's `j`-th configuration (only a marker setting differs).
fn snapshot(j: usize) -> Snapshot {
    Snapshot {
        target: TARGET.into(),
        kind: Kind::Postgres,
        server: ServerInfo { version: "15.20".into(), role: Role::Primary },
        config: [("setting.generation".to_owned(), Entry::new(j.to_string()))].into(),
    }
}

/// Run `i`, five minutes after run `i - 1`, changing 1–3 of 40 settings.
fn manifest(t0: DateTime<Utc>, i: usize) -> Run {
    let at = t0 + chrono::Duration::minutes(5 * i as i64);
    let n = 1 + (i * 7919) % 3;
    let changes: Vec<Change> = (0..n)
        .map(|k| {
            let key = format!("setting.param_{}", (i * 13 + k * 17) % 40);
            Change {
                key: key.clone(),
                before: Some(format!("{}", i + k)),
                after: Some(format!("{}", i + k + 1)),
                location: Some("postgresql.auto.conf:3".into()),
                previous_location: None,
                rollback: Some(format!("ALTER SYSTEM SET {} = '{}';", &key[8..], i + k)),
            }
        })
        .collect();
    let digest = |j: usize| -> Digest { snapshot(j).digest() };
    let target = TargetRun {
        name: TARGET.into(),
        kind: Kind::Postgres,
        role: Role::Primary,
        detected_role: Some(Role::Primary),
        group: None,
        labels: Default::default(),
        address: "postgres://auditor@db1:5432/postgres".into(),
        status: TargetStatus::Ok,
        error: None,
        server_version: Some("15.20".into()),
        snapshot: Some(digest(i + 1)),
        previous_snapshot: (i > 0).then(|| digest(i)),
        collected_at: at,
        duration_ms: 40,
        state: Default::default(),
        findings: Default::default(),
        preflight: vec![],
        detail: Default::default(),
        changes,
    };
    let targets = vec![target];
    Run {
        run_id: RunId::new(at, i as u16),
        started_at: at,
        finished_at: at,
        trigger: "schedule".into(),
        driftwatch_version: "bench".into(),
        policy_bundle: PolicyBundle { digest: "b".repeat(64), policies: vec![], packs: vec![] },
        previous_run: None,
        summary: Summary::of(&targets),
        targets,
        slot: None,
    }
}
