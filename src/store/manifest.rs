//! The stored form of a run manifest: compact JSON of the [`Run`], with each target's
//! `findings` moved to a content-addressed object and replaced by its digest.
//!
//! ```text
//! runs/…/<run-id>.json   {"run_id":…,"targets":[{"name":…,"findings_ref":"<sha256>",
//!                         "findings_live":[[3,"8 s","… is 8 s, which satisfies ≤ 30s."]],…}],…}
//! findings/<sha256>.json [{"rule":…,"status":…,…}, …]   create-only, shared by every
//!                        run and target whose findings are byte-identical
//! ```
//!
//! Findings on live readings (`state.…` keys: lag, offsets, counters) keep their
//! `actual` and `message` in the manifest (`findings_live`), so the object stays the
//! same while the readings move. An unchanged target therefore adds only its digest,
//! its volatile state, those readings and its identity to each run (under 2 KB), not
//! its findings again. Reads share one findings list between runs and targets. Reading resolves the
//! references, so [`Store::get_run`] returns exactly the `Run` that was committed (the
//! `audit --output json` shape); manifests with inline `findings` (written before this
//! form) read as they are.
//!
//! The manifest is stored gzip-compressed ([`compress`]; deterministic: the same run,
//! the same bytes), under the same path: an unchanged target's share of it falls from
//! ~2.9 KB of JSON to ~300 B. Manifests written before that are plain JSON; every
//! reader here goes through [`expand`], which tells the two apart by their first bytes
//! (gzip's magic `1f 8b`, which no JSON text starts with), so old stores read as they
//! are and are never rewritten (the chain vouches for the bytes stored).

use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::io::{Read as _, Write as _};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures::{StreamExt as _, TryStreamExt as _};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Store, StoreError, Written};
use crate::finding::Finding;
use crate::run::{PolicyBundle, Run, RunId, RunOutline, Slot, Summary, TargetRun};
use crate::snapshot::Digest;

/// The key that replaces `findings` in a stored target.
pub const FINDINGS_REF: &str = "findings_ref";
/// Beside it: what findings on live readings (`state.…` keys: lag, offsets) observed in
/// this run, `[index, actual, message]`, so the referenced object stays the same run
/// after run while the readings move.
pub const FINDINGS_LIVE: &str = "findings_live";

/// One live finding's observation: its place in the list, `actual`, `message`.
type Live = (usize, Option<String>, String);

fn is_live(f: &Finding) -> bool {
    f.key.starts_with("state.")
}
/// Parallel reads of findings objects.
const READ_AHEAD: usize = 32;

/// `findings/<sha256>.json`.
pub fn findings_path(digest: &Digest) -> object_store::path::Path {
    object_store::path::Path::from(format!("findings/{digest}.json"))
}

/// Findings objects already read, by digest: unchanged targets share one list across
/// runs (and targets with identical findings share one within a run).
pub type FindingsCache = HashMap<String, Arc<Vec<Finding>>>;

/// A run's header as stored: the fields of [`Run`] but `targets`, which are written
/// one by one. (`stored_form_keeps_every_field` checks the two stay in step.)
#[derive(Serialize)]
struct Header<'a> {
    run_id: &'a RunId,
    started_at: &'a DateTime<Utc>,
    finished_at: &'a DateTime<Utc>,
    trigger: &'a str,
    driftwatch_version: &'a str,
    policy_bundle: &'a PolicyBundle,
    #[serde(skip_serializing_if = "Option::is_none")]
    previous_run: Option<&'a RunId>,
    targets: Vec<Value>,
    summary: &'a Summary,
    #[serde(skip_serializing_if = "Option::is_none")]
    slot: Option<&'a Slot>,
}

/// Splits a run into its stored manifest and the findings objects it refers to.
pub fn encode(run: &Run) -> (Vec<u8>, Vec<(Digest, Vec<u8>)>) {
    let mut objects: Vec<(Digest, Vec<u8>)> = Vec::new();
    let mut seen = BTreeSet::new();
    let mut targets = Vec::with_capacity(run.targets.len());
    for t in &run.targets {
        let mut target = serde_json::to_value(t).expect("a target always serializes");
        let map = target.as_object_mut().expect("a target is an object");
        map.remove("findings");
        let mut stable: Vec<Finding> = t.findings.to_vec();
        let live: Vec<Live> = stable
            .iter_mut()
            .enumerate()
            .filter(|(_, f)| is_live(f))
            .map(|(i, f)| (i, f.actual.take(), std::mem::take(&mut f.message)))
            .collect();
        let bytes = serde_json::to_vec(&stable).expect("findings serialize");
        let digest = Digest::of(&bytes);
        map.insert(FINDINGS_REF.to_owned(), Value::String(digest.0.clone()));
        if !live.is_empty() {
            map.insert(FINDINGS_LIVE.to_owned(), serde_json::to_value(&live).expect("live"));
        }
        if seen.insert(digest.0.clone()) {
            objects.push((digest, bytes));
        }
        targets.push(target);
    }
    let header = Header {
        run_id: &run.run_id,
        started_at: &run.started_at,
        finished_at: &run.finished_at,
        trigger: &run.trigger,
        driftwatch_version: &run.driftwatch_version,
        policy_bundle: &run.policy_bundle,
        previous_run: run.previous_run.as_ref(),
        targets,
        summary: &run.summary,
        slot: run.slot.as_ref(),
    };
    (serde_json::to_vec(&header).expect("a manifest serializes"), objects)
}

/// What a stored manifest keeps beside each target's fields: its findings reference
/// and live readings. Read from the same bytes as the typed [`Run`] (whose targets then
/// have no findings): serde skips everything else without building it.
#[derive(Deserialize)]
struct StoredRefs {
    #[serde(default)]
    targets: Vec<StoredTarget>,
}

#[derive(Deserialize)]
struct StoredTarget {
    #[serde(default)]
    findings_ref: Option<String>,
    #[serde(default)]
    findings_live: Option<Vec<Live>>,
}

/// gzip's first two bytes; a JSON text starts with `{` or whitespace.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// The stored bytes of a manifest's JSON: gzip, no file name or time in the header, so
/// the same JSON always compresses to the same bytes (a retried commit compares them).
pub fn compress(json: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(
        Vec::with_capacity(json.len() / 8),
        flate2::Compression::default(),
    );
    gz.write_all(json).expect("writing to memory");
    gz.finish().expect("writing to memory")
}

/// A stored manifest's JSON: gunzipped when it was stored compressed, as it is when it
/// is plain JSON (manifests written before compression).
pub fn expand(stored: &[u8]) -> Result<Cow<'_, [u8]>, serde_json::Error> {
    if !stored.starts_with(&GZIP_MAGIC) {
        return Ok(Cow::Borrowed(stored));
    }
    let mut json = Vec::with_capacity(stored.len() * 8);
    flate2::read::GzDecoder::new(stored).read_to_end(&mut json).map_err(serde_json::Error::io)?;
    Ok(Cow::Owned(json))
}

/// The digests a stored manifest refers to (none for an inline manifest).
pub fn references(manifest: &[u8]) -> Result<BTreeSet<String>, serde_json::Error> {
    let refs: StoredRefs = serde_json::from_slice(&expand(manifest)?)?;
    Ok(refs.targets.into_iter().filter_map(|t| t.findings_ref).collect())
}

/// A stored manifest as a [`RunOutline`]: its findings (inline or by reference) are
/// not read.
pub fn run_outline(manifest: &[u8]) -> Result<RunOutline, serde_json::Error> {
    serde_json::from_slice(&expand(manifest)?)
}

impl Store {
    /// Writes the findings objects a manifest refers to (create-only), then nothing
    /// else: the caller commits the manifest after.
    pub(super) async fn put_findings(
        &self,
        objects: Vec<(Digest, Vec<u8>)>,
    ) -> Result<usize, StoreError> {
        // Futures collected into a Vec (not a stream of closures) keep callers `Send`.
        let puts: Vec<_> = objects
            .into_iter()
            .map(|(digest, bytes)| async move {
                self.create_content(&findings_path(&digest), bytes).await
            })
            .collect();
        let written: Vec<Written> =
            futures::stream::iter(puts).buffer_unordered(READ_AHEAD).try_collect().await?;
        Ok(written.iter().filter(|w| **w == Written::New).count())
    }

    /// One target of a committed run, its findings resolved, reading the manifest and
    /// that target's findings object only (`None`: the run did not audit it). What the
    /// web UI's per-setting timeline reads for each run the change index names.
    pub async fn target_in_run(
        &self,
        id: &RunId,
        name: &str,
    ) -> Result<Option<TargetRun>, StoreError> {
        let path = super::layout::run(id);
        let stored = self.get(&path).await?;
        let corrupt = |source| StoreError::Corrupt { path: path.to_string(), source };
        let bytes = expand(&stored).map_err(corrupt)?;
        let run: Run = serde_json::from_slice(&bytes).map_err(corrupt)?;
        let refs: StoredRefs = serde_json::from_slice(&bytes).map_err(corrupt)?;
        let Some(i) = run.targets.iter().position(|t| t.name == name) else {
            return Ok(None);
        };
        let mut target = run.targets.into_iter().nth(i).expect("the position found");
        let Some(stored) = refs.targets.into_iter().nth(i) else {
            return Err(corrupt(serde::de::Error::custom("targets read twice differ in number")));
        };
        // Without a reference the findings were written inline (older manifests).
        let Some(digest) = stored.findings_ref else { return Ok(Some(target)) };
        let findings_at = findings_path(&Digest(digest.clone()));
        let object = self.get(&findings_at).await?;
        if Digest::of(&object).0 != digest {
            return Err(StoreError::DigestMismatch { path: findings_at.to_string() });
        }
        let findings: Vec<Finding> = serde_json::from_slice(&object)
            .map_err(|source| StoreError::Corrupt { path: findings_at.to_string(), source })?;
        let mut cache = FindingsCache::new();
        cache.insert(digest.clone(), Arc::new(findings));
        target.findings = match stored.findings_live {
            None => cache.remove(&digest).unwrap_or_default(),
            Some(live) => with_live(&mut cache, &digest, live),
        };
        Ok(Some(target))
    }

    /// Reads a stored manifest and resolves its findings references through `cache`;
    /// the findings of targets named in `outlined` as outlines ([`Finding::outline`]).
    pub(super) async fn decode(
        &self,
        id: &RunId,
        bytes: &[u8],
        cache: &mut FindingsCache,
        outlined: &HashSet<String>,
    ) -> Result<Run, StoreError> {
        let path = super::layout::run(id).to_string();
        let corrupt = |source| StoreError::Corrupt { path: path.clone(), source };
        // Typed, not through `serde_json::Value`: a 1,000-target manifest as a value
        // tree was ~10 MB of small allocations. Inline findings (older manifests) are
        // read with the targets; references beside them.
        let bytes = expand(bytes).map_err(corrupt)?;
        let mut run: Run = serde_json::from_slice(&bytes).map_err(corrupt)?;
        let refs: StoredRefs = serde_json::from_slice(&bytes).map_err(corrupt)?;
        if refs.targets.len() != run.targets.len() {
            return Err(corrupt(serde::de::Error::custom("targets read twice differ in number")));
        }
        // An outline is made from the full list when that is at hand anyway.
        let missing: BTreeSet<(String, bool)> = run
            .targets
            .iter()
            .zip(&refs.targets)
            .filter_map(|(t, r)| Some((r.findings_ref.clone()?, outlined.contains(&t.name))))
            .filter(|(d, outline)| {
                !(cache.contains_key(d) || *outline && cache.contains_key(&outline_key(d)))
            })
            .collect();
        // Futures collected into a Vec (not a stream of closures) keep callers `Send`.
        let reads: Vec<_> = missing
            .into_iter()
            .map(|(digest, outline)| async move {
                let path = findings_path(&Digest(digest.clone()));
                let bytes = self.get(&path).await?;
                if Digest::of(&bytes).0 != digest {
                    return Err(StoreError::DigestMismatch { path: path.to_string() });
                }
                let findings: Vec<Finding> = serde_json::from_slice(&bytes)
                    .map_err(|source| StoreError::Corrupt { path: path.to_string(), source })?;
                if outline {
                    let outlines = findings.iter().map(Finding::outline).collect();
                    return Ok::<_, StoreError>((outline_key(&digest), Arc::new(outlines)));
                }
                Ok::<_, StoreError>((digest, Arc::new(findings)))
            })
            .collect();
        let mut fetched: Vec<(String, Arc<Vec<Finding>>)> =
            futures::stream::iter(reads).buffer_unordered(READ_AHEAD).try_collect().await?;
        share_texts(fetched.iter_mut().filter_map(|(_, f)| Arc::get_mut(f)).flatten());
        cache.extend(fetched);

        for (t, r) in run.targets.iter_mut().zip(refs.targets) {
            // Without a reference the findings were written inline (older manifests).
            let Some(digest) = r.findings_ref else { continue };
            t.findings = if outlined.contains(&t.name) {
                // Live readings are observed values: an outline has none.
                outline(cache, &digest)
            } else {
                match r.findings_live {
                    None => cache.get(&digest).cloned().unwrap_or_default(),
                    Some(live) => with_live(cache, &digest, live),
                }
            };
        }
        Ok(run)
    }
}

/// One copy of each rule's rationale, remediation and references for all `findings`: every target
/// of a run repeats them, and they are most of a finding's bytes.
fn share_texts<'a>(findings: impl Iterator<Item = &'a mut Finding>) {
    let mut texts: HashSet<Arc<str>> = HashSet::new();
    let mut share = |slot: &mut Option<Arc<str>>| {
        if let Some(text) = slot {
            match texts.get(text) {
                Some(shared) => *text = shared.clone(),
                None => {
                    texts.insert(text.clone());
                }
            }
        }
    };
    let mut references: HashSet<crate::finding::References> = HashSet::new();
    for f in findings {
        share(&mut f.rationale);
        share(&mut f.remediation);
        if !f.references.is_empty() {
            match references.get(&f.references) {
                Some(shared) => f.references = shared.clone(),
                None => {
                    references.insert(f.references.clone());
                }
            }
        }
    }
}

fn outline_key(digest: &str) -> String {
    format!("outline|{digest}")
}

/// The outlines of the referenced findings, made once per digest.
fn outline(cache: &mut FindingsCache, digest: &str) -> Arc<Vec<Finding>> {
    let key = outline_key(digest);
    if let Some(found) = cache.get(&key) {
        return found.clone();
    }
    let outlines: Arc<Vec<Finding>> = Arc::new(
        cache.get(digest).map(|f| f.iter().map(Finding::outline).collect()).unwrap_or_default(),
    );
    cache.insert(key, outlines.clone());
    outlines
}

/// The referenced findings with this run's live observations put back; the result is
/// cached too, so runs that observed the same readings share it.
fn with_live(cache: &mut FindingsCache, digest: &str, live: Vec<Live>) -> Arc<Vec<Finding>> {
    let key =
        format!("{digest}|{}", serde_json::to_string(&live).expect("live readings serialize"));
    if let Some(found) = cache.get(&key) {
        return found.clone();
    }
    let mut findings: Vec<Finding> = cache.get(digest).map(|f| f.to_vec()).unwrap_or_default();
    for (i, actual, message) in live {
        if let Some(f) = findings.get_mut(i) {
            f.actual = actual;
            f.message = message;
        }
    }
    let findings = Arc::new(findings);
    cache.insert(key, findings.clone());
    findings
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::{FindingStatus, Severity};
    use crate::run::{TargetRun, TargetStatus};
    use crate::snapshot::{Kind, Role};
    use crate::store::StoreLocation;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    fn target(name: &str, actual: &str) -> TargetRun {
        TargetRun {
            name: name.into(),
            kind: Kind::Postgres,
            role: Role::Primary,
            detected_role: Some(Role::Primary),
            group: None,
            labels: Default::default(),
            address: format!("postgres://{name}:5432/postgres"),
            status: TargetStatus::Ok,
            error: None,
            server_version: Some("15.20".into()),
            snapshot: Some(Digest("ab".repeat(32))),
            previous_snapshot: None,
            collected_at: at("2026-11-25T16:15:00Z"),
            duration_ms: 7,
            state: Default::default(),
            findings: vec![Finding {
                rule: "PG-REPL-001".into(),
                policy: "postgres-replication".into(),
                key: "setting.wal_level".into(),
                severity: Severity::Critical,
                status: FindingStatus::Fail,
                expected: "one of replica, logical".into(),
                actual: Some(actual.into()),
                message: format!("wal_level is {actual}"),
                rationale: Some("Replicas need WAL.".repeat(20).into()),
                remediation: Some("ALTER SYSTEM SET wal_level = 'replica';".into()),
                references: Default::default(),
                location: None,
                waiver: None,
                drift: Default::default(),
                restarting: None,
            }]
            .into(),
            changes: vec![],
            preflight: vec![],
            detail: Default::default(),
        }
    }

    fn run(id: &str, targets: Vec<TargetRun>) -> Run {
        let started = RunId(id.into()).timestamp().unwrap();
        Run {
            run_id: RunId(id.into()),
            started_at: started,
            finished_at: started,
            trigger: "manual".into(),
            driftwatch_version: "0.0.0".into(),
            policy_bundle: PolicyBundle { digest: "d".into(), policies: vec![], packs: vec![] },
            previous_run: None,
            summary: Summary::of(&targets),
            targets,
            slot: None,
        }
    }

    /// Commits `run` after storing a stand-in for every snapshot it names (a manifest
    /// is committed only when they are there).
    async fn commit(store: &Store, run: &Run) {
        for t in &run.targets {
            for digest in t.snapshot.iter().chain(&t.previous_snapshot) {
                let path = crate::store::layout::snapshot(&t.name, digest);
                object_store::ObjectStoreExt::put(&*store.inner, &path, b"{}".to_vec().into())
                    .await
                    .unwrap();
            }
        }
        store.commit_run(run).await.unwrap();
    }

    async fn count(store: &Store, prefix: &str) -> usize {
        let p = object_store::path::Path::from(prefix);
        store.inner.list(Some(&p)).try_collect::<Vec<_>>().await.unwrap().len()
    }

    #[tokio::test]
    async fn findings_are_stored_once_and_read_back_exactly() {
        let store = Store::open(&StoreLocation::Memory).unwrap();
        let one = run(
            "20261125T161500Z-0001",
            vec![target("a", "minimal"), target("b", "minimal"), target("c", "replica")],
        );
        commit(&store, &one).await;
        assert_eq!(count(&store, "findings").await, 2, "a and b share their findings");
        assert_eq!(store.get_run(&one.run_id).await.unwrap(), one);

        // An unchanged re-audit adds a manifest and nothing else; it is small and
        // holds no findings text.
        let two = run(
            "20261125T161600Z-0002",
            vec![target("a", "minimal"), target("b", "minimal"), target("c", "replica")],
        );
        commit(&store, &two).await;
        assert_eq!(count(&store, "findings").await, 2);
        let stored = store.get(&crate::store::layout::run(&two.run_id)).await.unwrap();
        let text = String::from_utf8(expand(&stored).unwrap().into_owned()).unwrap();
        assert!(text.contains(FINDINGS_REF) && !text.contains("Replicas need WAL"), "{text}");
        assert!(text.len() < 3 * 600, "{} bytes for 3 targets", text.len());
        assert_eq!(store.recent_runs(5).await.unwrap(), vec![two.clone(), one.clone()]);

        let outline = store.get_run_outline(&two.run_id).await.unwrap();
        assert_eq!(outline, two.outline());
    }

    /// Earlier runs as the reports of a newer one read them: whole up to each target's
    /// newest collection, outlines further back; a run that did not collect a target
    /// does not count as its collection.
    #[tokio::test]
    async fn reports_read_earlier_runs_as_outlines() {
        let store = Store::open(&StoreLocation::Memory).unwrap();
        let mut missed = target("b", "minimal");
        missed.status = TargetStatus::Unreachable;
        missed.findings = Arc::new(vec![]);
        let runs = [
            run("20261125T161500Z-0001", vec![target("a", "minimal"), target("b", "minimal")]),
            run("20261125T161600Z-0002", vec![target("a", "replica"), target("b", "replica")]),
            run("20261125T161700Z-0003", vec![target("a", "logical"), missed]),
            run("20261125T161800Z-0004", vec![target("a", "logical"), target("b", "logical")]),
        ];
        for r in &runs {
            commit(&store, r).await;
        }
        let read = store.recent_runs_outlined(5, &runs[3].run_id, |_| true).await.unwrap();
        let ids: Vec<&str> = read.iter().map(|r| r.run_id.0.as_str()).collect();
        assert_eq!(
            ids,
            ["20261125T161700Z-0003", "20261125T161600Z-0002", "20261125T161500Z-0001"]
        );
        let findings = |r: usize, t: usize| &read[r].targets[t].findings[0];
        // a: whole in its newest collection (run 3), outlines before.
        assert_eq!(read[0].targets[0], runs[2].targets[0]);
        for r in [1, 2] {
            let f = findings(r, 0);
            assert_eq!((f.rule.as_str(), f.status), ("PG-REPL-001", FindingStatus::Fail));
            assert!(f.actual.is_none() && f.message.is_empty() && f.rationale.is_none(), "{f:?}");
            assert_eq!(read[r].targets[0].detail, crate::run::Detail::Outline, "run {r}");
        }
        assert_eq!(read[0].targets[0].detail, crate::run::Detail::Whole);
        // b: run 3 did not collect it, so run 2 is its newest collection: whole.
        assert_eq!(read[1].targets[1], runs[1].targets[1]);
        assert!(findings(2, 1).actual.is_none());
        assert_eq!(read[2].targets[1].detail, crate::run::Detail::Outline);
        // Run 3's b was not collected: nothing to outline, and no text to show either.
        assert_eq!(read[0].targets[1].detail, crate::run::Detail::Whole);
    }

    #[tokio::test]
    async fn earlier_runs_share_a_target_state_while_it_is_unchanged() {
        let store = Store::open(&StoreLocation::Memory).unwrap();
        let with_lag = |lag: &str| {
            let mut t = target("a", "replica");
            t.state = Arc::new(crate::snapshot::State::from([
                ("state.lag".to_owned(), crate::snapshot::Entry::new(lag)),
                ("state.other".to_owned(), crate::snapshot::Entry::new(lag)),
            ]));
            t
        };
        let lags = ["0", "0", "0", "5", "5"];
        let runs: Vec<Run> = lags
            .iter()
            .enumerate()
            .map(|(i, lag)| run(&format!("20261125T16{i}000Z-000{i}"), vec![with_lag(lag)]))
            .collect();
        for r in &runs {
            commit(&store, r).await;
        }
        let read =
            store.recent_runs_outlined(10, &runs[4].run_id, |k| k == "state.lag").await.unwrap();
        let state = |r: usize| &read[r].targets[0].state;
        // The newest earlier collection is whole; further back only the kept key.
        assert_eq!(state(0), &runs[3].targets[0].state);
        let kept = crate::snapshot::State::from([(
            "state.lag".to_owned(),
            crate::snapshot::Entry::new("0"),
        )]);
        for r in 1..4 {
            assert_eq!(**state(r), kept, "run {r}");
        }
        assert!(Arc::ptr_eq(state(1), state(2)) && Arc::ptr_eq(state(2), state(3)));
        assert!(!Arc::ptr_eq(state(0), state(1)));
    }

    /// The stored header names every field of `Run`: a field added to `Run` and not to
    /// `Header` fails here instead of silently not being stored.
    #[test]
    fn stored_form_keeps_every_field() {
        let mut r = run("20261125T161500Z-0001", vec![target("a", "minimal")]);
        r.previous_run = Some(RunId("20261125T161400Z-0000".into()));
        r.slot = Some(Slot { schedule: "nightly".into(), at: r.started_at, shard: None });
        let full = serde_json::to_value(&r).unwrap();
        let stored: Value = serde_json::from_slice(&encode(&r).0).unwrap();
        let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<BTreeSet<_>>();
        assert_eq!(keys(&full), keys(&stored));
        let mut target_keys = keys(&full["targets"][0]);
        target_keys.remove("findings");
        target_keys.insert(FINDINGS_REF.to_owned());
        assert_eq!(target_keys, keys(&stored["targets"][0]));
    }

    #[tokio::test]
    async fn live_readings_stay_in_the_manifest() {
        let store = Store::open(&StoreLocation::Memory).unwrap();
        let lagging = |lag: &str| {
            let mut t = target("r", "replica");
            let mut findings = t.findings.to_vec();
            findings.push(Finding {
                key: "state.replication.replay_lag_s".into(),
                actual: Some(lag.into()),
                message: format!("lag is {lag}"),
                ..findings[0].clone()
            });
            t.findings = findings.into();
            t
        };
        let one = run("20261125T161500Z-0001", vec![lagging("1 s")]);
        let two = run("20261125T161600Z-0002", vec![lagging("3 s")]);
        commit(&store, &one).await;
        commit(&store, &two).await;
        assert_eq!(count(&store, "findings").await, 1, "the lag is not in the object");
        assert_eq!(store.recent_runs(2).await.unwrap(), vec![two, one]);
    }

    #[tokio::test]
    async fn manifests_with_inline_findings_still_read() {
        let store = Store::open(&StoreLocation::Memory).unwrap();
        let old = run("20261125T161500Z-0001", vec![target("a", "minimal")]);
        let pretty = serde_json::to_vec_pretty(&old).unwrap();
        store.create(&crate::store::layout::run(&old.run_id), pretty).await.unwrap();
        assert_eq!(store.get_run(&old.run_id).await.unwrap(), old);
    }

    #[tokio::test]
    async fn manifests_are_stored_compressed_and_uncompressed_ones_still_read() {
        let store = Store::open(&StoreLocation::Memory).unwrap();
        // Before compression: the same compact form, as plain JSON.
        let old =
            run("20261125T161500Z-0001", vec![target("a", "minimal"), target("b", "replica")]);
        let (json, findings) = encode(&old);
        store.put_findings(findings).await.unwrap();
        store.create(&crate::store::layout::run(&old.run_id), json.clone()).await.unwrap();
        let new =
            run("20261125T161600Z-0002", vec![target("a", "minimal"), target("b", "replica")]);
        commit(&store, &new).await;

        let stored = store.get(&crate::store::layout::run(&new.run_id)).await.unwrap();
        assert!(stored.starts_with(&GZIP_MAGIC), "a new manifest is gzip");
        assert!(
            stored.len() * 2 < json.len(),
            "{} B stored for {} B of JSON",
            stored.len(),
            json.len()
        );
        assert_eq!(expand(&stored).unwrap(), encode(&new).0, "it holds the compact JSON");
        assert_eq!(compress(&encode(&new).0), stored, "the same run compresses to the same bytes");
        // Every way of reading a run reads both forms.
        assert_eq!(store.recent_runs(5).await.unwrap(), vec![new.clone(), old.clone()]);
        assert_eq!(store.get_run(&old.run_id).await.unwrap(), old);
        let bare = store.get_run_outline(&old.run_id).await.unwrap();
        assert_eq!(bare.targets[1].snapshot, old.targets[1].snapshot);
        let old_bytes = store.get(&crate::store::layout::run(&old.run_id)).await.unwrap();
        assert_eq!(references(&old_bytes).unwrap(), references(&stored).unwrap());
        for id in [&old.run_id, &new.run_id] {
            let one = store.target_in_run(id, "b").await.unwrap().expect("b is in the run");
            assert_eq!(one, new.targets[1], "one target of run {id}");
        }
        // A retried commit that meets its own manifest is committed, not a conflict.
        store.commit_run(&new).await.unwrap();
        // Not gzip, not JSON: corrupt, named.
        let broken = [GZIP_MAGIC[0], GZIP_MAGIC[1], 0, 0];
        assert!(run_outline(&broken).is_err());
    }

    #[tokio::test]
    async fn gc_deletes_findings_no_remaining_run_refers_to() {
        let store = Store::open(&StoreLocation::Memory).unwrap();
        let old = run("20261101T000000Z-0001", vec![target("a", "minimal")]);
        let new = run("20261125T000000Z-0002", vec![target("a", "replica")]);
        commit(&store, &old).await;
        commit(&store, &new).await;
        assert_eq!(count(&store, "findings").await, 2);
        let now = Utc::now() + chrono::Duration::minutes(1);
        let report = store
            .gc(at("2026-11-10T00:00:00Z"), chrono::Duration::zero(), now, false, None)
            .await
            .unwrap();
        assert_eq!((report.runs, report.findings), (1, 1));
        assert_eq!(store.get_run(&new.run_id).await.unwrap(), new);
    }
}
