//! The conformance suite on the backends that need no server.

use super::*;

#[tokio::test]
async fn memory_backend() {
    conformance::run(Store::open(&StoreLocation::Memory).unwrap()).await;
}

#[tokio::test]
async fn memory_backend_chain() {
    conformance::chain(Store::open(&StoreLocation::Memory).unwrap()).await;
}

#[tokio::test]
async fn local_folder_backend_chain() {
    let dir = tempfile::tempdir().unwrap();
    conformance::chain(Store::open(&StoreLocation::Local(dir.path().into())).unwrap()).await;
}

#[tokio::test]
async fn local_folder_backend() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("not-yet-there");
    conformance::run(Store::open(&StoreLocation::Local(root.clone())).unwrap()).await;
    // The layout on disk is the documented one.
    assert!(root.join("runs/2026/11/25/20261125T161500Z-0002.json").is_file());
    assert_eq!(std::fs::read_dir(root.join("snapshots/db1")).unwrap().count(), 2);
}

#[tokio::test]
async fn one_target_of_a_run_reads_as_the_whole_run_has_it() {
    use crate::finding::{FindingStatus, Severity};
    use crate::status::fixture::*;
    let store = Store::open(&StoreLocation::Memory).unwrap();
    let mut a = target("a", crate::run::TargetStatus::Ok);
    a.findings =
        std::sync::Arc::new(vec![finding("R-1", "setting.x", Severity::High, FindingStatus::Fail)]);
    let mut b = target("b", crate::run::TargetStatus::Ok);
    b.findings = std::sync::Arc::new(vec![
        finding("R-2", "setting.y", Severity::Low, FindingStatus::Pass),
        finding("R-3", "state.connections.usage_pct", Severity::Low, FindingStatus::Fail),
    ]);
    let r = run("20261125T161500Z-0001", vec![a, b]);
    store.commit_run(&r).await.unwrap();
    let whole = store.get_run(&r.run_id).await.unwrap();
    for name in ["a", "b"] {
        let one = store.target_in_run(&r.run_id, name).await.unwrap();
        assert_eq!(one.as_ref(), whole.target(name), "{name}");
    }
    assert_eq!(store.target_in_run(&r.run_id, "c").await.unwrap(), None);
}

#[tokio::test]
async fn recent_changes_read_only_the_newest_index_entries() {
    use crate::status::fixture::*;
    let store = Store::open(&StoreLocation::Memory).unwrap();
    for (i, after) in ["10", "20", "30"].into_iter().enumerate() {
        let mut t = target("a", crate::run::TargetStatus::Ok);
        t.snapshot = Some(crate::snapshot::Digest(format!("{i:064}")));
        t.changes = vec![change("setting.timeout", "0", after)];
        store
            .index_run(&run(&format!("20261125T16{i}000Z-000{i}"), vec![t]).outline())
            .await
            .unwrap();
    }
    let afters = |entries: Vec<IndexEntry>| -> Vec<String> {
        entries.iter().map(|e| e.changes[0].after.clone().unwrap()).collect()
    };
    assert_eq!(afters(store.recent_changes_of("a", 2).await.unwrap()), ["20", "30"]);
    assert_eq!(afters(store.recent_changes_of("a", 10).await.unwrap()), ["10", "20", "30"]);
    assert_eq!(afters(store.changes_of("a", None).await.unwrap()), ["10", "20", "30"]);
    assert!(store.recent_changes_of("nobody", 5).await.unwrap().is_empty());
}
