//! The analytics export in the store (`exports/v1/<dataset>/dt=<day>/<run-id>.ndjson.gz`,
//! rows as [`crate::export`] defines them): written after a run's manifest, like the
//! change index (derived, rebuildable from the manifests, repaired by the next audit),
//! and read back for fleet-wide questions by one listing from the window's first day
//! on, so a question about last week reads last week's objects only.

use futures::{StreamExt as _, TryStreamExt as _};
use serde::de::DeserializeOwned;

use super::{Store, StoreError, Written, layout};
use crate::export::{ChangeRow, Dataset, FindingRow, Query, Rows};
use crate::run::{Run, RunId};

/// Export objects read at once.
const READ_AHEAD: usize = 32;

impl Store {
    /// Writes the export objects of a committed run that are missing. Returns how many
    /// it wrote.
    pub async fn export_run(&self, run: &Run) -> Result<usize, StoreError> {
        let rows = Rows::of(run);
        let mut written = 0;
        for dataset in Dataset::ALL {
            let Some(bytes) = rows.encode(dataset) else { continue };
            let path = layout::export(dataset, &run.run_id);
            if self.create_content(&path, bytes).await? == Written::New {
                written += 1;
            }
        }
        Ok(written)
    }

    /// Whether a run with targets has its export (its `targets` rows, which every such
    /// run has, are written last).
    pub async fn exported(&self, run: &RunId) -> Result<bool, StoreError> {
        self.exists(&layout::export(Dataset::Targets, run)).await
    }

    /// Every change row the query asks for, oldest first.
    pub async fn query_changes(&self, query: &Query) -> Result<Vec<ChangeRow>, StoreError> {
        let mut rows: Vec<ChangeRow> = self.read_export(Dataset::Changes, query).await?;
        rows.retain(|r| query.matches_change(r));
        rows.sort_by(|a, b| {
            (a.at.collected_at, &a.at.target, &a.key).cmp(&(
                b.at.collected_at,
                &b.at.target,
                &b.key,
            ))
        });
        Ok(rows)
    }

    /// Every finding row the query asks for, oldest first.
    pub async fn query_findings(&self, query: &Query) -> Result<Vec<FindingRow>, StoreError> {
        let mut rows: Vec<FindingRow> = self.read_export(Dataset::Findings, query).await?;
        rows.retain(|r| query.matches_finding(r));
        rows.sort_by(|a, b| {
            (a.at.collected_at, &a.at.target, &a.rule).cmp(&(
                b.at.collected_at,
                &b.at.target,
                &b.rule,
            ))
        });
        Ok(rows)
    }

    /// The rows of every export object of `dataset` whose run may hold rows in the
    /// query's window: one listing from the partition of the window's first day.
    async fn read_export<T: DeserializeOwned + Send + 'static>(
        &self,
        dataset: Dataset,
        query: &Query,
    ) -> Result<Vec<T>, StoreError> {
        let prefix = object_store::path::Path::from(layout::export_dir(dataset));
        let listing = match query.since {
            Some(since) => {
                // The day before: a run started before midnight may collect after it.
                let day = (since - chrono::Duration::days(1)).date_naive();
                let offset = object_store::path::Path::from(layout::export_partition(dataset, day));
                self.inner.list_with_offset(Some(&prefix), &offset)
            }
            None => self.inner.list(Some(&prefix)),
        };
        let paths: Vec<object_store::path::Path> = listing
            .map_ok(|m| m.location)
            .try_collect::<Vec<_>>()
            .await
            .map_err(|source| StoreError::Backend { op: "list", path: prefix.to_string(), source })?
            .into_iter()
            .filter(|p| {
                layout::export_run_of(p)
                    .and_then(|id| id.timestamp())
                    .is_none_or(|started| query.may_hold(started))
            })
            .collect();
        let chunks: Vec<Vec<T>> = futures::stream::iter(paths)
            .map(|path| async move {
                let bytes = self.get(&path).await?;
                crate::export::decode::<T>(&bytes).map_err(|e| StoreError::Corrupt {
                    path: path.to_string(),
                    source: serde::de::Error::custom(e.to_string()),
                })
            })
            .buffered(READ_AHEAD)
            .try_collect()
            .await?;
        Ok(chunks.into_iter().flatten().collect())
    }

    /// Deletes a removed run's export objects (`gc`).
    pub(super) async fn delete_exports(
        &self,
        run: &RunId,
        dry_run: bool,
    ) -> Result<usize, StoreError> {
        let mut removed = 0;
        for dataset in Dataset::ALL {
            let path = layout::export(dataset, run);
            if self.exists(&path).await? {
                if !dry_run {
                    self.delete(&path).await?;
                }
                removed += 1;
            }
        }
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use object_store::ObjectStoreExt as _;

    use super::*;
    use crate::diff::Change;
    use crate::report::fixtures::{run, target};
    use crate::snapshot::Role;
    use crate::store::StoreLocation;

    fn change(key: &str, before: &str, after: &str) -> Change {
        Change {
            key: key.into(),
            before: Some(before.into()),
            after: Some(after.into()),
            location: None,
            previous_location: None,
            rollback: None,
        }
    }

    /// A run on `day` in which `db1` changed `key`.
    fn changed(id: &str, started: &str, key: &str) -> Run {
        let at = chrono::DateTime::parse_from_rfc3339(started).unwrap().to_utc();
        let mut t = target("db1", Role::Primary, at);
        t.changes = vec![change(key, "1", "2")];
        let mut other = target("db2", Role::Replica, at);
        other.labels.insert("env".into(), "staging".into());
        other.changes = vec![change("pending.max_connections", "100", "200")];
        run(id, started, None, vec![t, other])
    }

    #[tokio::test]
    async fn a_question_reads_only_the_partitions_of_its_window() {
        let store = Store::open(&StoreLocation::Memory).unwrap();
        let old = changed("20261101T100000Z-0001", "2026-11-01T10:00:00Z", "setting.work_mem");
        let new =
            changed("20261125T100000Z-0002", "2026-11-25T10:00:00Z", "setting.max_connections");
        assert_eq!(store.export_run(&old).await.unwrap(), 2, "changes and targets");
        store.export_run(&new).await.unwrap();
        assert_eq!(store.export_run(&new).await.unwrap(), 0, "create-only: nothing twice");
        assert!(store.exported(&new.run_id).await.unwrap());
        // An old partition that cannot be read is never read by a recent question.
        store
            .inner
            .put(&layout::export(Dataset::Changes, &old.run_id), b"garbage".to_vec().into())
            .await
            .unwrap();
        let since = |t: &str| Query {
            since: Some(chrono::DateTime::parse_from_rfc3339(t).unwrap().to_utc()),
            ..Query::default()
        };
        let rows = store.query_changes(&since("2026-11-20T00:00:00Z")).await.unwrap();
        let keys: Vec<(&str, &str)> =
            rows.iter().map(|r| (r.at.target.as_str(), r.key.as_str())).collect();
        assert_eq!(keys, [("db1", "setting.max_connections"), ("db2", "pending.max_connections")]);
        assert!(rows[1].pending);
        let q = Query {
            key: Some("max_connections".into()),
            labels: vec![("env".into(), "staging".into())],
            ..since("2026-11-20T00:00:00Z")
        };
        let rows = store.query_changes(&q).await.unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].at.target, "db2");
        // The whole history reads the garbage, and says where it is.
        let err = store.query_changes(&Query::default()).await.unwrap_err().to_string();
        assert!(err.contains("exports/v1/changes/dt=2026-11-01/"), "{err}");
    }
}
