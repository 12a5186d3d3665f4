//! Several instances, one history: two real `driftwatch serve` processes on one store
//! (a local folder, then the S3 bucket) and a 1-second schedule. Each slot must run
//! exactly once; with `shards = 2`, each target exactly once per slot.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use driftwatch::run::Run;
use driftwatch::store::StoreLocation;
use driftwatch::store::{Lease, Store};

use crate::audit::harness::{Workspace, policies_dir};
use crate::serve::process::{Serve, free_port};
use crate::store::{BUCKET, S3_PORT, s3_location, unique_prefix};
use crate::support::invariant::check_history;
use crate::support::{PG_PRIMARY, START_SERVICES, require_service};

/// How long both instances run side by side, at least.
const SIDE_BY_SIDE: Duration = Duration::from_secs(5);
/// Instances that compete for slots run on until one of them lost a slot, at most this
/// long: on a loaded machine each can be busy with its own run whenever the other's
/// tick comes, so that the first seconds see no contention at all.
const COMPETE_WITHIN: Duration = Duration::from_secs(40);

/// Whether the instances must have competed for a slot before they are stopped.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Until {
    Competed,
    Elapsed,
}

/// A serve config on `store` (a `[store]` body), `[schedule]` extras, and targets named
/// `names`, all the local PostgreSQL primary.
fn config(store: &str, port: u16, schedule: &str, names: &[&str]) -> String {
    let targets: String = names
        .iter()
        .map(|n| {
            format!(
                "[[targets]]\nname = \"{n}\"\nkind = \"postgres\"\nurl = \"postgres://postgres@127.0.0.1:{PG_PRIMARY}/postgres\"\nrole = \"primary\"\n\n"
            )
        })
        .collect();
    format!(
        "[store]\n{store}\n\n[policies]\ndir = \"{}\"\n\n[audit]\nconnect_timeout = \"5s\"\ntarget_timeout = \"10s\"\n\n\
         [schedule]\ncron = \"*/1 * * * * *\"\nrun_at_start = true\ngrace_period = \"20s\"\n{schedule}\n\n\
         [server]\nlisten = \"127.0.0.1:{port}\"\n\n{targets}",
        policies_dir().display()
    )
}

fn local_store(dir: &std::path::Path) -> String {
    format!("url = \"{}\"", dir.display())
}

fn s3_store(prefix: &str) -> String {
    format!(
        "url = \"s3://{BUCKET}/{prefix}\"\nendpoint = \"http://127.0.0.1:{S3_PORT}\"\nregion = \"us-east-1\"\n\
         allow_http = true\npath_style = true\n\
         options = {{ aws_access_key_id = \"driftwatch\", aws_secret_access_key = \"driftwatch-s3-secret\" }}"
    )
}

/// Starts one instance per `(store, schedule extras)`, lets them run side by side
/// (`SIDE_BY_SIDE`, then with `Until::Competed` until one lost a slot), reads their
/// `driftwatch_slots_lost_total`, stops them with SIGTERM.
fn run_side_by_side(instances: &[(String, String)], names: &[&str], until: Until) -> Outcome {
    let mut serves: Vec<Serve> = instances
        .iter()
        .map(|(store, schedule)| {
            let port = free_port();
            Serve::spawn(Workspace::with_config(&config(store, port, schedule, names)), port)
        })
        .collect();
    serves.iter().for_each(Serve::wait_until_up);
    let started = std::time::Instant::now();
    std::thread::sleep(SIDE_BY_SIDE);
    let read_lost = || -> Vec<f64> {
        serves
            .iter()
            .map(|s| {
                let page = s.get("/metrics").body;
                let line = page
                    .lines()
                    .find(|l| l.starts_with("driftwatch_slots_lost_total "))
                    .unwrap_or_else(|| panic!("no driftwatch_slots_lost_total in\n{page}"));
                line.rsplit(' ').next().unwrap().parse().unwrap()
            })
            .collect()
    };
    let mut lost = read_lost();
    while until == Until::Competed
        && lost.iter().sum::<f64>() < 1.0
        && started.elapsed() < COMPETE_WITHIN
    {
        std::thread::sleep(Duration::from_millis(500));
        lost = read_lost();
    }
    // Every instance, winner or loser, follows the whole history: ready, and each
    // target audited recently (the loser took the winner's runs in).
    for s in &serves {
        let ready = s.get("/readyz");
        assert_eq!(ready.status, 200, "{}\nlogs:\n{}", ready.body, s.logs());
        let targets = s.get("/api/targets").json();
        for t in targets["targets"].as_array().expect("a list of targets") {
            assert_ne!(t["status"], "pending", "{t:#}");
        }
    }
    let pids = serves.iter().map(Serve::pid).collect();
    serves.iter().for_each(|s| s.signal(libc::SIGTERM));
    let mut logged = Vec::new();
    for s in &mut serves {
        let status = s.exit_within(Duration::from_secs(30));
        assert!(status.success(), "{status:?}; logs:\n{}", s.logs());
        let events = s.log_events();
        assert!(
            !events.iter().any(|e| e["level"] == "ERROR"),
            "an instance logged an error:\n{}",
            s.logs()
        );
        logged.push(
            events.iter().filter(|e| e["message"] == "slot lost: another instance runs it").count(),
        );
    }
    Outcome { lost, logged, pids }
}

/// What the instances said about themselves.
struct Outcome {
    /// Slots each lost, per its `driftwatch_slots_lost_total`.
    lost: Vec<f64>,
    /// `slot lost` log lines each wrote.
    logged: Vec<usize>,
    pids: Vec<u32>,
}

/// What the store holds after the instances stopped: the committed runs (checked for
/// the crash invariant and against the hash chain) and the leases.
fn history(location: &StoreLocation) -> (Vec<Run>, Vec<Lease>) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let store = Store::open(location).unwrap();
        // Both instances appended to one hash chain: it must verify whole.
        let v = store.verify(None, None).await.unwrap();
        assert!(v.is_whole(), "the chain two instances wrote is broken: {:?}", v.breaks);
        (check_history(&store).await, store.leases().await.unwrap())
    })
}

/// Each slot (and shard) has exactly one lease and exactly one run; every run is a
/// scheduled one with a slot. Returns the number of slots each pid won.
#[track_caller]
fn each_slot_once(runs: &[Run], leases: &[Lease]) -> BTreeMap<u32, usize> {
    assert!(runs.len() >= 3, "too few runs in {SIDE_BY_SIDE:?}: {}", runs.len());
    let mut by_slot = BTreeMap::new();
    for run in runs {
        let slot = run.slot.clone().unwrap_or_else(|| panic!("run {} has no slot", run.run_id));
        assert_eq!(run.trigger, "schedule");
        assert!(slot.at <= run.started_at, "run {} started before its slot", run.run_id);
        if let Some(other) = by_slot.insert(slot.clone(), run.run_id.clone()) {
            panic!("slot {slot:?} ran twice: {other} and {}", run.run_id);
        }
    }
    let leased: BTreeSet<_> = leases.iter().map(|l| l.slot.clone()).collect();
    assert_eq!(leased.len(), leases.len(), "two leases on one slot");
    assert_eq!(
        leased,
        by_slot.keys().cloned().collect(),
        "every lease has its run and every run its lease"
    );
    let mut wins = BTreeMap::new();
    for l in leases {
        *wins.entry(l.pid).or_insert(0) += 1;
    }
    wins
}

#[track_caller]
fn both_competed(wins: &BTreeMap<u32, usize>, outcome: &Outcome) {
    let Outcome { lost, logged, pids } = outcome;
    assert!(wins.keys().all(|pid| pids.contains(pid)), "a lease by a stranger: {wins:?}");
    eprintln!("slots won per pid: {wins:?}; lost per instance: metrics {lost:?}, logs {logged:?}");
    let lost_total: f64 = lost.iter().sum();
    let lost = lost.as_slice();
    assert!(lost_total >= 1.0, "nobody lost a slot: the instances did not compete");
    assert!(
        lost.iter().zip(logged).all(|(m, l)| *m as usize <= *l),
        "every slot counted as lost is logged: metrics {lost:?}, logs {logged:?}"
    );
    assert!(
        wins.len() == 2 || logged.iter().any(|l| *l > 0),
        "one instance won everything and the other logged no skip"
    );
}

#[test]
fn lease_two_instances_on_a_local_store_run_each_slot_once() {
    require_service("127.0.0.1", PG_PRIMARY, START_SERVICES);
    let shared = tempfile::tempdir().unwrap();
    let store = local_store(shared.path());
    let instances = [(store.clone(), String::new()), (store, String::new())];
    let outcome = run_side_by_side(&instances, &["pg"], Until::Competed);
    let (runs, leases) = history(&StoreLocation::Local(shared.path().to_owned()));
    let wins = each_slot_once(&runs, &leases);
    both_competed(&wins, &outcome);
}

#[test]
fn lease_two_instances_on_s3_run_each_slot_once() {
    require_service("127.0.0.1", PG_PRIMARY, START_SERVICES);
    require_service("127.0.0.1", S3_PORT, "bash tests/setup/s3.sh");
    let prefix = unique_prefix("lease");
    let store = s3_store(&prefix);
    let instances = [(store.clone(), String::new()), (store, String::new())];
    let outcome = run_side_by_side(&instances, &["pg"], Until::Competed);
    let (runs, leases) = history(&s3_location(&prefix));
    let wins = each_slot_once(&runs, &leases);
    both_competed(&wins, &outcome);
}

#[test]
fn lease_sharded_instances_audit_every_target_once_per_slot() {
    require_service("127.0.0.1", PG_PRIMARY, START_SERVICES);
    let names = ["pg-a", "pg-b", "pg-c", "pg-d", "pg-e", "pg-f"];
    let shard_of = |n: &str| driftwatch::fleet::shard_of(n, 2);
    let expected: Vec<BTreeSet<String>> = (0..2)
        .map(|i| names.iter().filter(|n| shard_of(n) == i).map(|n| (*n).to_owned()).collect())
        .collect();
    assert!(expected.iter().all(|s| !s.is_empty()), "both shards get targets: {expected:?}");

    let shared = tempfile::tempdir().unwrap();
    let store = local_store(shared.path());
    let instances =
        [(store.clone(), "shards = 2\nshard = 0".into()), (store, "shards = 2\nshard = 1".into())];
    let outcome = run_side_by_side(&instances, &names, Until::Elapsed);
    assert_eq!(outcome.lost, [0.0, 0.0], "shards do not compete");
    let (runs, leases) = history(&StoreLocation::Local(shared.path().to_owned()));
    let wins = each_slot_once(&runs, &leases);
    assert_eq!(wins.len(), 2, "each shard's instance ran its slots: {wins:?}");

    // Per slot time: each shard's run audits exactly that shard's targets, so no
    // target is audited twice in a slot; where both ran, every target was audited.
    let mut by_time: BTreeMap<_, Vec<&Run>> = BTreeMap::new();
    for run in &runs {
        by_time.entry(run.slot.as_ref().unwrap().at).or_default().push(run);
    }
    let mut complete = 0;
    for (at, runs) in &by_time {
        let mut audited: Vec<String> = Vec::new();
        for run in runs {
            let shard = run.slot.as_ref().unwrap().shard.expect("a sharded run names its shard");
            assert_eq!(shard.count, 2);
            let targets: BTreeSet<String> = run.targets.iter().map(|t| t.name.clone()).collect();
            assert_eq!(targets, expected[shard.index as usize], "slot {at}, shard {shard:?}");
            assert!(run.targets.iter().all(|t| t.status.as_str() == "ok"), "slot {at}");
            audited.extend(targets);
        }
        let unique: BTreeSet<&String> = audited.iter().collect();
        assert_eq!(unique.len(), audited.len(), "a target audited twice in slot {at}");
        if unique.len() == names.len() {
            complete += 1;
        }
    }
    assert!(complete >= 2, "both shards ran in at least 2 slots: {by_time:#?}");
}
