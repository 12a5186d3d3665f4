//! The per-target change index: one small object per run in which a target's
//! configuration changed (`index/changes/<target>/<run-id>.json`). A history query lists
//! one target's folder (names sort by time) and reads only those objects, never the
//! run manifests. The index is derived data: written after the manifest it comes from,
//! repaired at the start of the next run if a crash cut it short, and rebuildable from
//! the manifests with [`Store::rebuild_index`].

use chrono::{DateTime, Utc};
use futures::{StreamExt as _, TryStreamExt as _};
use object_store::ObjectStoreExt as _;
use serde::{Deserialize, Serialize};

use super::{Store, StoreError, Written, layout};
use crate::diff::Change;
use crate::run::{RunId, RunOutline, TargetOutline};
use crate::snapshot::Digest;

/// How many index objects a query reads at once.
const READ_AHEAD: usize = 32;

/// The changes of one target in one run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexEntry {
    pub run_id: RunId,
    pub target: String,
    pub collected_at: DateTime<Utc>,
    pub snapshot: Digest,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_snapshot: Option<Digest>,
    pub changes: Vec<Change>,
}

impl IndexEntry {
    /// The entry a target's result in a run gives, if it changed anything.
    pub fn of(run_id: &RunId, t: &TargetOutline) -> Option<IndexEntry> {
        let snapshot = t.snapshot.clone()?;
        if t.changes.is_empty() {
            return None;
        }
        Some(IndexEntry {
            run_id: run_id.clone(),
            target: t.name.clone(),
            collected_at: t.collected_at,
            snapshot,
            previous_snapshot: t.previous_snapshot.clone(),
            changes: t.changes.clone(),
        })
    }
}

impl Store {
    /// Writes the index entries of a committed run (create-only, so writing them again
    /// is harmless). Returns how many were new.
    pub async fn index_run(&self, run: &RunOutline) -> Result<usize, StoreError> {
        let mut new = 0;
        for entry in run.targets.iter().filter_map(|t| IndexEntry::of(&run.run_id, t)) {
            let bytes = serde_json::to_vec(&entry).expect("an index entry serializes");
            if self.create(&layout::change_index(&entry.target, &entry.run_id), bytes).await?
                == Written::New
            {
                new += 1;
            }
        }
        Ok(new)
    }

    /// One target's changes, oldest first, from runs after `after` (all when `None`).
    pub async fn changes_of(
        &self,
        target: &str,
        after: Option<&RunId>,
    ) -> Result<Vec<IndexEntry>, StoreError> {
        let prefix = layout::change_index_dir(target);
        let offset = after.map(|id| layout::change_index(target, id));
        let paths = self.list_paths(&prefix, offset.as_ref()).await?;
        self.read_index_entries(paths).await
    }

    /// One target's changes in the newest `limit` runs that changed anything on it,
    /// oldest first: one listing and at most `limit` reads, however long the history.
    pub async fn recent_changes_of(
        &self,
        target: &str,
        limit: usize,
    ) -> Result<Vec<IndexEntry>, StoreError> {
        let prefix = layout::change_index_dir(target);
        let mut paths = self.list_paths(&prefix, None).await?;
        let skip = paths.len().saturating_sub(limit);
        self.read_index_entries(paths.split_off(skip)).await
    }

    async fn read_index_entries(
        &self,
        paths: Vec<object_store::path::Path>,
    ) -> Result<Vec<IndexEntry>, StoreError> {
        futures::stream::iter(paths)
            .map(|path| async move {
                let bytes = self.get(&path).await?;
                serde_json::from_slice::<IndexEntry>(&bytes)
                    .map_err(|source| StoreError::Corrupt { path: path.to_string(), source })
            })
            .buffered(READ_AHEAD)
            .try_collect()
            .await
    }

    /// Rebuilds the whole index and the analytics export from the run manifests.
    /// Returns (runs read, objects written). Existing objects are kept (they are
    /// immutable and equal).
    pub async fn rebuild_index(&self) -> Result<(usize, usize), StoreError> {
        let ids = self.list_runs().await?;
        let mut written = 0;
        for id in &ids {
            let run = self.get_run(id).await?;
            written += self.index_run(&run.outline()).await?;
            written += self.export_run(&run).await?;
        }
        Ok((ids.len(), written))
    }

    /// Deletes one object; a missing object is not an error.
    pub(super) async fn delete(&self, path: &object_store::path::Path) -> Result<(), StoreError> {
        match self.attempt("delete", || self.inner.delete(path)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(source) => {
                Err(StoreError::Backend { op: "delete", path: path.to_string(), source })
            }
        }
    }
}
