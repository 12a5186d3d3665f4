//! Retention: deleting runs older than an age, then what no remaining run refers to.
//!
//! Order matters for a crash half-way: a run's derived objects (report page, change
//! index entries) go before its manifest, so no manifest is ever left pointing at a
//! deleted object; snapshots, findings objects and policy bundles go last, and only
//! those that no remaining manifest names and that are older than a grace period — a
//! run in progress may have just written one it has not committed yet. Slot leases
//! older than the cutoff go too (by the slot time in their name: no run needs them).

use std::collections::HashSet;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use super::{Store, StoreError, layout, manifest};
use crate::run::RunId;

/// What a garbage collection removed (or, dry, would remove).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct GcReport {
    pub runs: usize,
    pub report_pages: usize,
    pub index_entries: usize,
    /// Analytics export objects of the removed runs.
    pub exports: usize,
    pub snapshots: usize,
    pub policy_files: usize,
    /// Findings objects (`findings/<sha256>.json`) no remaining run refers to.
    pub findings: usize,
    pub leases: usize,
    pub runs_kept: usize,
}

impl Store {
    /// Deletes runs that started before `cutoff` (never the newest run), then
    /// snapshots and policy files no remaining run refers to and that were written more
    /// than `grace` ago, and slot leases for slots before `cutoff`. With `dry_run`,
    /// deletes nothing and reports what it would.
    pub async fn gc(
        &self,
        cutoff: DateTime<Utc>,
        grace: Duration,
        now: DateTime<Utc>,
        dry_run: bool,
        signer: Option<&crate::integrity::SigningKey>,
    ) -> Result<GcReport, StoreError> {
        let mut report = GcReport::default();
        let ids = self.list_runs().await?;
        let newest = ids.last().cloned();
        let (old, kept): (Vec<RunId>, Vec<RunId>) = ids.into_iter().partition(|id| {
            Some(id) != newest.as_ref() && id.timestamp().is_some_and(|t| t < cutoff)
        });
        if !dry_run && !old.is_empty() {
            // Recorded before anything is removed: a verifier tells retention from
            // deletion, and a crash half-way leaves runs recorded as removed but still
            // there (a note), never removed but not recorded (a break).
            let reason =
                format!("retention: started before {}", cutoff.format("%Y-%m-%dT%H:%M:%SZ"));
            let removed = old
                .iter()
                .map(|id| crate::integrity::RemovedRun {
                    run_id: id.clone(),
                    reason: reason.clone(),
                })
                .collect();
            self.append_link(&[], removed, signer).await?;
        }
        for id in &old {
            let run = self.get_run_outline(id).await?;
            for t in run.targets.iter().filter(|t| !t.changes.is_empty()) {
                self.remove(&layout::change_index(&t.name, id), dry_run).await?;
                report.index_entries += 1;
            }
            report.exports += self.delete_exports(id, dry_run).await?;
            self.remove(&layout::report(&format!("reports/runs/{id}.html")), dry_run).await?;
            report.report_pages += 1;
            self.remove(&layout::run(id), dry_run).await?;
            report.runs += 1;
        }
        report.runs_kept = kept.len();

        let mut snapshots = HashSet::new();
        let mut bundles = HashSet::new();
        let mut findings = HashSet::new();
        for id in &kept {
            let path = layout::run(id);
            let bytes = self.get(&path).await?;
            findings.extend(
                manifest::references(&bytes)
                    .map_err(|source| StoreError::Corrupt { path: path.to_string(), source })?,
            );
            let run = self.get_run_outline(id).await?;
            bundles.insert(run.policy_bundle.digest.clone());
            for t in run.targets {
                snapshots.extend(
                    t.snapshot
                        .into_iter()
                        .chain(t.previous_snapshot)
                        .map(|d| (t.name.clone(), d.0)),
                );
            }
        }
        let settled = now - grace;
        for meta in self.list_all("snapshots").await? {
            let parts: Vec<&str> = meta.location.as_ref().split('/').collect();
            let [_, target, file] = parts.as_slice() else { continue };
            let Some(digest) = file.strip_suffix(".json") else { continue };
            if !snapshots.contains(&((*target).to_owned(), digest.to_owned()))
                && meta.last_modified < settled
            {
                self.remove(&meta.location, dry_run).await?;
                report.snapshots += 1;
            }
        }
        for meta in self.list_all("findings").await? {
            let Some(digest) = meta.location.filename().and_then(|f| f.strip_suffix(".json"))
            else {
                continue;
            };
            if !findings.contains(digest) && meta.last_modified < settled {
                self.remove(&meta.location, dry_run).await?;
                report.findings += 1;
            }
        }
        for meta in self.list_all("policies").await? {
            let Some(bundle) = meta.location.as_ref().split('/').nth(1) else { continue };
            if !bundles.contains(bundle) && meta.last_modified < settled {
                self.remove(&meta.location, dry_run).await?;
                report.policy_files += 1;
            }
        }
        for meta in self.list_all(layout::LEASES).await? {
            if layout::lease_time_of(&meta.location).is_some_and(|t| t < cutoff) {
                self.remove(&meta.location, dry_run).await?;
                report.leases += 1;
            }
        }
        Ok(report)
    }

    async fn remove(
        &self,
        path: &object_store::path::Path,
        dry_run: bool,
    ) -> Result<(), StoreError> {
        if dry_run { Ok(()) } else { self.delete(path).await }
    }
}
