//! One conformance suite for every backend: memory and the local folder in unit tests,
//! a real S3-compatible server in the integration tests. Compiled only for the unit
//! tests and with the `conformance` feature, which the integration tests enable (the
//! crate's dev-dependency on itself), like `object_store`'s own `integration` module.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::*;
use crate::integrity::RunAttestation;
use crate::run::{PolicyBundle, Shard, Slot, Summary};
use crate::snapshot::{Entry, Kind, Role, ServerInfo};

fn snapshot(value: &str) -> Snapshot {
    let mut config = BTreeMap::new();
    config.insert("setting.wal_level".to_owned(), Entry::new(value));
    Snapshot {
        target: "db1".into(),
        kind: Kind::Postgres,
        server: ServerInfo { version: "15.20".into(), role: Role::Primary },
        config,
    }
}

fn manifest(id: &str) -> Run {
    let at: DateTime<Utc> = DateTime::parse_from_rfc3339("2026-11-25T16:15:00Z").unwrap().to_utc();
    Run {
        run_id: RunId(id.into()),
        started_at: at,
        finished_at: at,
        trigger: "manual".into(),
        driftwatch_version: "0.0.0".into(),
        policy_bundle: PolicyBundle { digest: "d".into(), policies: vec![], packs: vec![] },
        previous_run: None,
        targets: vec![],
        summary: Summary::default(),
        slot: None,
    }
}

/// Runs the whole suite against `store`, which must be empty.
pub async fn run(store: Store) {
    // Content addressing: the same config is written once.
    let (d1, w1) = store.put_snapshot(&snapshot("replica")).await.unwrap();
    let (d2, w2) = store.put_snapshot(&snapshot("replica")).await.unwrap();
    let (d3, w3) = store.put_snapshot(&snapshot("logical")).await.unwrap();
    assert_eq!((d1 == d2, w1, w2), (true, Written::New, Written::AlreadyThere));
    assert_ne!(d1, d3);
    assert_eq!(w3, Written::New);
    assert_eq!(store.get_snapshot("db1", &d1).await.unwrap(), snapshot("replica"));

    // A digest that names other content is caught.
    let missing = store.get_snapshot("db1", &Digest("0".repeat(64))).await;
    assert!(matches!(missing, Err(StoreError::Backend { op: "get", .. })), "{missing:?}");

    // Manifests: create-only, listed oldest first.
    store.commit_run(&manifest("20261125T161500Z-0002")).await.unwrap();
    store.commit_run(&manifest("20261124T090000Z-0001")).await.unwrap();
    // Committing the very same manifest again is idempotent (a retried commit whose
    // first attempt succeeded unseen); another manifest under the same id is refused.
    store.commit_run(&manifest("20261125T161500Z-0002")).await.unwrap();
    let mut other = manifest("20261125T161500Z-0002");
    other.trigger = "schedule".into();
    assert!(store.commit_run(&other).await.is_err());
    // A manifest naming an object the store does not hold is never written.
    let mut dangling = manifest("20261126T000000Z-0003");
    dangling.previous_run = Some(RunId("20200101T000000Z-dead".into()));
    let lost = store.commit_run(&dangling).await;
    assert!(
        matches!(&lost, Err(StoreError::Missing { path }) if path.contains("20200101T000000Z-dead")),
        "{lost:?}"
    );
    assert_eq!(
        store.get_run(&RunId("20261125T161500Z-0002".into())).await.unwrap().trigger,
        "manual"
    );
    let ids = store.list_runs().await.unwrap();
    assert_eq!(
        ids,
        vec![RunId("20261124T090000Z-0001".into()), RunId("20261125T161500Z-0002".into())]
    );
    assert_eq!(store.runs_after(Some(&ids[0])).await.unwrap(), ids[1..]);
    assert_eq!(store.runs_after(Some(&ids[1])).await.unwrap(), []);
    assert_eq!(store.runs_after(None).await.unwrap(), ids);
    let recent = store.recent_runs(1).await.unwrap();
    assert_eq!(recent.len(), 1);
    assert_eq!(recent[0].run_id.0, "20261125T161500Z-0002");

    // Policy files are immutable; a second put of the same bundle is fine.
    store.put_policy_files("b1", [("postgres/a.toml", b"x".as_slice())]).await.unwrap();
    store.put_policy_files("b1", [("postgres/a.toml", b"x".as_slice())]).await.unwrap();
    assert_eq!(store.get_bytes("policies/b1/postgres/a.toml").await.unwrap(), b"x");

    // Reports are replaced in place.
    store.put_report("reports/index.html", "one").await.unwrap();
    store.put_report("reports/index.html", "two").await.unwrap();
    assert_eq!(store.get_bytes("reports/index.html").await.unwrap(), b"two");

    // Optional reads and the liveness check (what the web server uses).
    assert_eq!(store.find_bytes("reports/index.html").await.unwrap().as_deref(), Some(&b"two"[..]));
    assert_eq!(store.find_bytes("reports/nope.html").await.unwrap(), None);
    store.check().await.unwrap();

    // The conditional read `serve` keeps its copy of a page fresh with: the tag of
    // the page as read says "unchanged" until the page is written again.
    use super::Found;
    let Found::Read { bytes, e_tag } =
        store.find_bytes_unless("reports/index.html", None).await.unwrap()
    else {
        panic!("a page that is there is read");
    };
    assert_eq!(bytes, b"two");
    let tag = e_tag.expect("every backend tags what it stores");
    assert_eq!(
        store.find_bytes_unless("reports/index.html", Some(&tag)).await.unwrap(),
        Found::Unchanged
    );
    store.put_report("reports/index.html", "three, longer").await.unwrap();
    match store.find_bytes_unless("reports/index.html", Some(&tag)).await.unwrap() {
        Found::Read { bytes, e_tag } => {
            assert_eq!(bytes, b"three, longer");
            assert_ne!(e_tag.as_deref(), Some(tag.as_str()), "a rewrite has a new tag");
        }
        other => panic!("a rewritten page must be read again, got {other:?}"),
    }
    assert_eq!(store.find_bytes_unless("reports/nope.html", None).await.unwrap(), Found::Missing);

    leases(&store).await;
}

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).unwrap().to_utc()
}

fn lease(slot: &Slot, instance: &str) -> Lease {
    Lease {
        slot: slot.clone(),
        instance: instance.into(),
        host: "host-a".into(),
        pid: 42,
        claimed_at: slot.at,
    }
}

/// Slot leases: of concurrent claims exactly one wins, the winner's lease stays, and
/// slots, shards and schedules are independent; gc drops leases of old slots.
async fn leases(store: &Store) {
    let slot = Slot { schedule: "service".into(), at: at("2030-01-01T00:00:05Z"), shard: None };
    let claims = (0..8).map(|i| {
        let (store, lease) = (store.clone(), lease(&slot, &format!("instance-{i}")));
        async move { (i, store.claim_slot(&lease).await.unwrap()) }
    });
    let results = futures::future::join_all(claims).await;
    let winners: Vec<usize> = results.iter().filter(|(_, won)| *won).map(|(i, _)| *i).collect();
    assert_eq!(winners.len(), 1, "exactly one claim wins: {results:?}");
    let held = store.lease(&slot).await.unwrap().expect("the winner's lease");
    assert_eq!(held.instance, format!("instance-{}", winners[0]));
    assert!(!store.claim_slot(&lease(&slot, "late")).await.unwrap(), "a taken slot stays taken");

    let shard = |index| Slot { shard: Some(Shard { index, count: 2 }), ..slot.clone() };
    assert!(store.claim_slot(&lease(&shard(0), "a")).await.unwrap());
    assert!(store.claim_slot(&lease(&shard(1), "a")).await.unwrap());
    assert!(!store.claim_slot(&lease(&shard(1), "b")).await.unwrap());
    let other = Slot { schedule: "cron-0a1b2c3d".into(), ..slot.clone() };
    assert!(store.claim_slot(&lease(&other, "b")).await.unwrap());
    let old = Slot { at: at("2020-01-01T00:00:00Z"), ..slot.clone() };
    assert!(store.claim_slot(&lease(&old, "b")).await.unwrap());
    assert_eq!(
        store.lease(&Slot { at: at("2030-01-01T00:00:06Z"), ..slot.clone() }).await.unwrap(),
        None
    );
    assert_eq!(store.leases().await.unwrap().len(), 5);

    // Retention: only leases of slots before the cutoff go (a dry run deletes nothing).
    let cutoff = at("2026-01-01T00:00:00Z");
    let day = chrono::Duration::days(1);
    let now = Utc::now(); // with a day's grace, nothing this suite wrote is settled
    assert_eq!(store.gc(cutoff, day, now, true, None).await.unwrap().leases, 1);
    assert_eq!(store.leases().await.unwrap().len(), 5);
    assert_eq!(store.gc(cutoff, day, now, false, None).await.unwrap().leases, 1);
    let left = store.leases().await.unwrap();
    assert_eq!(left.len(), 4);
    assert!(left.iter().all(|l| l.slot.at > cutoff));
}

/// A committed run of one target `db1` whose snapshot is `snapshot(value)` and whose
/// findings object holds one finding.
async fn committed(store: &Store, id: &str, value: &str) -> Run {
    let (digest, _) = store.put_snapshot(&snapshot(value)).await.unwrap();
    let mut run = manifest(id);
    let finding = crate::finding::Finding {
        rule: "R".into(),
        policy: "p".into(),
        key: "setting.wal_level".into(),
        severity: crate::finding::Severity::High,
        status: crate::finding::FindingStatus::Pass,
        expected: "= replica".into(),
        actual: Some(value.into()),
        message: "m".into(),
        rationale: None,
        remediation: None,
        references: Default::default(),
        location: None,
        waiver: None,
        drift: Default::default(),
        restarting: None,
    };
    run.targets.push(crate::run::TargetRun {
        name: "db1".into(),
        kind: Kind::Postgres,
        role: Role::Primary,
        detected_role: Some(Role::Primary),
        group: None,
        labels: BTreeMap::new(),
        address: "postgres://db1".into(),
        status: crate::run::TargetStatus::Ok,
        error: None,
        server_version: Some("15.20".into()),
        snapshot: Some(digest),
        previous_snapshot: None,
        collected_at: run.started_at,
        duration_ms: 1,
        state: Default::default(),
        findings: std::sync::Arc::new(vec![finding]),
        changes: vec![],
        preflight: vec![],
        detail: Default::default(),
    });
    store.commit_run(&run).await.unwrap();
    run
}

/// The object paths `verify` named as broken.
async fn broken(store: &Store) -> Vec<String> {
    store.verify(None, None).await.unwrap().breaks.into_iter().map(|b| b.object).collect()
}

/// The hash chain: several writers append at once and the chain stays whole; a run a
/// crash left unlinked is linked by the repair; a manifest, snapshot or findings object
/// changed or removed, a link removed, and a manifest added behind the chain's back are
/// each named by `verify`; runs `gc` recorded as removed are not breaks. `store` must be
/// empty.
pub async fn chain(store: Store) {
    let ids = ["20261125T160000Z-0001", "20261125T160500Z-0002", "20261125T161000Z-0003"];
    let mut runs = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        runs.push(committed(&store, id, ["replica", "logical", "replica"][i]).await);
    }
    let appends = runs.iter().map(|run| {
        let (store, id) = (store.clone(), run.run_id.clone());
        async move { store.append_link(&[id], Vec::new(), None).await.unwrap() }
    });
    let mut seqs = futures::future::join_all(appends).await;
    seqs.sort();
    assert_eq!(seqs, [0, 1, 2], "each writer got its own link");
    let v = store.verify(None, None).await.unwrap();
    assert!(v.is_whole(), "{:?}", v.breaks);
    assert_eq!((v.links, v.runs), (3, 3));
    assert!(v.objects >= 4, "two snapshots and the findings objects: {v:?}");
    let all: Vec<RunId> = runs.iter().map(|r| r.run_id.clone()).collect();
    assert_eq!(store.link_unlinked(&all, None).await.unwrap(), 0);

    // A run whose process died between its commit and its link: the repair links it.
    let late = committed(&store, "20261125T161500Z-0004", "replica").await;
    let mut all = all;
    all.push(late.run_id.clone());
    assert_eq!(broken(&store).await, [layout::run(&late.run_id).to_string()]);
    assert_eq!(store.link_unlinked(&all, None).await.unwrap(), 1);
    assert!(broken(&store).await.is_empty());
    // What the reports show: every run linked, the newest links whole.
    let a = store.attest(&all, None).await.unwrap();
    assert!(a.is_whole(), "{a:?}");
    assert_eq!(a.runs[&late.run_id], RunAttestation::Linked { seq: 3, signed_by: None });
    // What a publish does: the manifests it has just read are taken as read, not read
    // again; the answer is the same.
    let mut read = ManifestsRead::default();
    store.recent_runs_noting(all.len(), &mut read).await.unwrap();
    let before = store.requests();
    let again = store.attest(&all, None).await.unwrap();
    let plain = store.requests().since(&before);
    let before = store.requests();
    assert_eq!(store.attest_read(&all, None, &read).await.unwrap(), again);
    let noted = store.requests().since(&before);
    assert_eq!(noted.gets + all.len() as u64, plain.gets, "{noted:?} against {plain:?}");

    // An edited manifest, then put back.
    let path = layout::run(&runs[1].run_id);
    let original = store.get(&path).await.unwrap();
    let mut edited = original.clone();
    let at = edited.iter().position(|b| *b == b'1').unwrap();
    edited[at] = b'2';
    store.inner.put(&path, edited.into()).await.unwrap();
    assert_eq!(broken(&store).await, [path.to_string()]);
    let a = store.attest(&all, None).await.unwrap();
    assert!(matches!(a.runs[&runs[1].run_id], RunAttestation::Changed { .. }), "{a:?}");
    assert!(a.breaks.is_empty(), "the links themselves are whole: {a:?}");
    store.inner.put(&path, original.clone().into()).await.unwrap();
    assert!(broken(&store).await.is_empty());

    // A snapshot changed, and a findings object removed.
    let snap = layout::snapshot("db1", runs[1].targets[0].snapshot.as_ref().unwrap());
    let snap_bytes = store.get(&snap).await.unwrap();
    store.inner.put(&snap, b"{}".to_vec().into()).await.unwrap();
    assert_eq!(broken(&store).await, [snap.to_string()]);
    store.inner.put(&snap, snap_bytes.into()).await.unwrap();
    let findings = manifest::references(&original).unwrap();
    let findings = manifest::findings_path(&Digest(findings.into_iter().next().unwrap()));
    let findings_bytes = store.get(&findings).await.unwrap();
    store.delete(&findings).await.unwrap();
    assert_eq!(broken(&store).await, [findings.to_string()]);
    store.inner.put(&findings, findings_bytes.into()).await.unwrap();

    // A manifest put in behind the chain's back.
    let forged = layout::run(&RunId("20261125T170000Z-0009".into()));
    store.inner.put(&forged, original.clone().into()).await.unwrap();
    assert_eq!(broken(&store).await, [forged.to_string()]);
    store.delete(&forged).await.unwrap();

    // A manifest removed without gc, then one removed by gc (recorded first).
    store.delete(&path).await.unwrap();
    assert_eq!(broken(&store).await, [path.to_string()]);
    let removed =
        crate::integrity::RemovedRun { run_id: runs[1].run_id.clone(), reason: "retention".into() };
    store.append_link(&[], vec![removed], None).await.unwrap();
    assert!(broken(&store).await.is_empty());

    // A link removed from the middle: named, and the link after it no longer matches.
    let link = layout::chain_link(1);
    let link_bytes = store.get(&link).await.unwrap();
    store.delete(&link).await.unwrap();
    let got = broken(&store).await;
    assert_eq!(got.first(), Some(&link.to_string()), "{got:?}");
    let a = store.attest(&all, None).await.unwrap();
    assert!(a.breaks.iter().any(|b| b.starts_with(&link.to_string())), "{a:?}");
    store.inner.put(&link, link_bytes.into()).await.unwrap();
    assert!(broken(&store).await.is_empty());
}
