//! The store's crash invariant, checked through the `Store` API (so on any backend):
//! every committed manifest points only at objects that exist — its snapshots (which
//! must match their digests), its policy files and the run before it — and every
//! change-index entry belongs to a committed run.

use driftwatch::run::Run;
use driftwatch::snapshot::Digest;
use driftwatch::store::Store;

/// Walks every manifest in `store` and panics, naming the object, at the first dangling
/// reference. Returns the committed runs, oldest first.
pub async fn check_history(store: &Store) -> Vec<Run> {
    let ids = store.list_runs().await.expect("list runs");
    let mut runs = Vec::with_capacity(ids.len());
    for id in &ids {
        let run = store.get_run(id).await.unwrap_or_else(|e| panic!("manifest {id}: {e}"));
        for t in &run.targets {
            for digest in t.snapshot.iter().chain(&t.previous_snapshot) {
                snapshot_exists(store, &t.name, digest, id.0.as_str()).await;
            }
        }
        for p in &run.policy_bundle.policies {
            let path = format!("policies/{}/{}", run.policy_bundle.digest, p.path);
            let bytes = store
                .get_bytes(&path)
                .await
                .unwrap_or_else(|e| panic!("run {id} names policy file {path}, missing: {e}"));
            assert_eq!(Digest::of(&bytes).0, p.sha256, "run {id}: {path} does not match");
        }
        if let Some(previous) = &run.previous_run {
            assert!(ids.contains(previous), "run {id} names previous run {previous}, missing");
        }
        for t in run.targets.iter().filter(|t| !t.changes.is_empty()) {
            // Derived: may be missing after a crash (repaired by the next run), but when
            // present it must be this run's.
            let path = format!("index/changes/{}/{id}.json", t.name);
            if let Some(bytes) = store.find_bytes(&path).await.unwrap() {
                let entry: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
                assert_eq!(entry["run_id"], id.0.as_str(), "{path}");
            }
        }
        runs.push(run);
    }
    runs
}

async fn snapshot_exists(store: &Store, target: &str, digest: &Digest, run: &str) {
    if let Err(e) = store.get_snapshot(target, digest).await {
        panic!("run {run} names snapshots/{target}/{digest}.json, which is not readable: {e}");
    }
}
