//! The stored form of a run manifest: compact JSON of the [`Run`], with each target's
//! `findings` moved to a content-addressed object and replaced by its digest.
//!
//! ```text
//! runs/…/<run-id>.json   {"run_id":…,"targets":[{"name":…,"findings_ref":"<sha256>",…}],…}
//! findings/<sha256>.json [{"rule":…,"status":…,…}, …]   create-only, shared by every
//!                        run and target whose findings are byte-identical
//! ```
//!
//! An unchanged target therefore adds only its digest, its volatile state and its
//! identity to each run (well under 2 KB), not its findings again. Reading resolves the
//! references, so [`Store::get_run`] returns exactly the `Run` that was committed (the
//! `audit --output json` shape); manifests with inline `findings` (written before this
//! form) read as they are.

use std::collections::{BTreeSet, HashMap};

use futures::{StreamExt as _, TryStreamExt as _};
use serde_json::Value;

use super::{Store, StoreError, Written};
use crate::run::{Run, RunId};
use crate::snapshot::Digest;

/// The key that replaces `findings` in a stored target.
pub const FINDINGS_REF: &str = "findings_ref";
/// Parallel reads of findings objects.
const READ_AHEAD: usize = 32;

/// `findings/<sha256>.json`.
pub fn findings_path(digest: &Digest) -> object_store::path::Path {
    object_store::path::Path::from(format!("findings/{digest}.json"))
}

/// Findings objects already read, by digest: unchanged targets share them across runs.
pub type FindingsCache = HashMap<String, Value>;

/// Splits a run into its stored manifest and the findings objects it refers to.
pub fn encode(run: &Run) -> (Vec<u8>, Vec<(Digest, Vec<u8>)>) {
    let mut value = serde_json::to_value(run).expect("a run always serializes");
    let mut objects: Vec<(Digest, Vec<u8>)> = Vec::new();
    let mut seen = BTreeSet::new();
    for target in targets_mut(&mut value) {
        let Some(findings) = target.remove("findings") else { continue };
        let bytes = serde_json::to_vec(&findings).expect("findings serialize");
        let digest = Digest::of(&bytes);
        target.insert(FINDINGS_REF.to_owned(), Value::String(digest.0.clone()));
        if seen.insert(digest.0.clone()) {
            objects.push((digest, bytes));
        }
    }
    (serde_json::to_vec(&value).expect("a manifest serializes"), objects)
}

/// The digests a stored manifest refers to (none for an inline manifest).
pub fn references(manifest: &[u8]) -> Result<BTreeSet<String>, serde_json::Error> {
    let mut value: Value = serde_json::from_slice(manifest)?;
    Ok(targets_mut(&mut value)
        .filter_map(|t| t.get(FINDINGS_REF)?.as_str().map(str::to_owned))
        .collect())
}

/// Replaces every target's findings (inline or by reference) with an empty list.
pub fn strip_findings(value: &mut Value) {
    for target in targets_mut(value) {
        target.remove(FINDINGS_REF);
        target.insert("findings".to_owned(), Value::Array(Vec::new()));
    }
}

fn targets_mut(value: &mut Value) -> impl Iterator<Item = &mut serde_json::Map<String, Value>> {
    value
        .get_mut("targets")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object_mut)
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
            .map(|(digest, bytes)| async move { self.create(&findings_path(&digest), bytes).await })
            .collect();
        let written: Vec<Written> =
            futures::stream::iter(puts).buffer_unordered(READ_AHEAD).try_collect().await?;
        Ok(written.iter().filter(|w| **w == Written::New).count())
    }

    /// Reads a stored manifest and resolves its findings references through `cache`.
    pub(super) async fn decode(
        &self,
        id: &RunId,
        bytes: &[u8],
        cache: &mut FindingsCache,
    ) -> Result<Run, StoreError> {
        let path = super::layout::run(id).to_string();
        let corrupt = |source| StoreError::Corrupt { path: path.clone(), source };
        let mut value: Value = serde_json::from_slice(bytes).map_err(corrupt)?;
        let missing: BTreeSet<String> = targets_mut(&mut value)
            .filter_map(|t| t.get(FINDINGS_REF)?.as_str().map(str::to_owned))
            .filter(|d| !cache.contains_key(d))
            .collect();
        let reads: Vec<_> = missing
            .into_iter()
            .map(|digest| async move {
                let path = findings_path(&Digest(digest.clone()));
                let bytes = self.get(&path).await?;
                if Digest::of(&bytes).0 != digest {
                    return Err(StoreError::DigestMismatch { path: path.to_string() });
                }
                let value = serde_json::from_slice(&bytes)
                    .map_err(|source| StoreError::Corrupt { path: path.to_string(), source })?;
                Ok::<_, StoreError>((digest, value))
            })
            .collect();
        let fetched: Vec<(String, Value)> =
            futures::stream::iter(reads).buffer_unordered(READ_AHEAD).try_collect().await?;
        cache.extend(fetched);
        for target in targets_mut(&mut value) {
            if let Some(Value::String(digest)) = target.remove(FINDINGS_REF) {
                let findings = cache.get(&digest).cloned().unwrap_or(Value::Array(Vec::new()));
                target.insert("findings".to_owned(), findings);
            }
        }
        serde_json::from_value(value).map_err(corrupt)
    }
}
