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
