//! The history, on any `object_store` backend: the layout ([`layout`]) and the commit
//! protocol. Only this module talks to `object_store`.
//!
//! # Commit protocol
//!
//! A run writes, in order: its snapshots (create-only, content-addressed: an unchanged
//! configuration writes nothing), the policy files it used (create-only), its findings
//! objects (create-only, content-addressed), then — once one metadata request per
//! object has found everything it names — its manifest (create-only): the commit
//! point. Reports come after and are derived. A crash before the manifest leaves at
//! worst orphan snapshots, findings objects or policy files, never a manifest that
//! points at something missing.
//!
//! Several `serve` instances may share one store: before a scheduled run, each claims
//! the slot with a create-only lease ([`Store::claim_slot`]); only the winner runs it.
//!
//! # Outages
//!
//! Transient errors are retried with exponential backoff within `[store] retries` and
//! `retry_timeout` ([`retry`]), on every backend. When the store stays away the error reaches the caller
//! and the run fails before its manifest: nothing of it becomes visible.

mod backend;
mod chain;
#[doc(hidden)]
#[cfg(any(test, feature = "conformance"))]
pub mod conformance;
mod exports;
mod gc;
mod index;
pub mod layout;
mod lease;
mod location;
pub mod manifest;
mod pages;
mod requests;
pub mod retry;
mod temporary;

pub use chain::{Break, Verification};
pub use gc::GcReport;
pub use index::IndexEntry;
pub use lease::Lease;
pub use location::{CloudService, CloudStore, StoreLocation, StoreRetry};
pub use pages::{PAGE_DIGESTS, PageDigests};
pub use requests::Requests;
pub use temporary::TEMPORARY_FILE_AGE;

pub use backend::check_option;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use futures::{StreamExt as _, TryStreamExt as _};
use object_store::{ObjectStore, ObjectStoreExt as _, PutMode, PutOptions, PutPayload};

use crate::run::{Run, RunId, RunOutline};
use crate::snapshot::{Digest, Snapshot, State};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open store {location}: {source}")]
    Open { location: String, source: std::io::Error },
    #[error("store {op} {path}: {source}")]
    Backend { op: &'static str, path: String, source: object_store::Error },
    #[error("store object {path} is not valid: {source}")]
    Corrupt { path: String, source: serde_json::Error },
    #[error("snapshot {path} does not match its digest")]
    DigestMismatch { path: String },
    /// An object the manifest would name is not in the store (a store that lost an
    /// acknowledged write): the run is not committed.
    #[error(
        "store lost {path}, which this run's manifest names: the run is not committed \
         (a store that loses acknowledged writes cannot keep history)"
    )]
    Missing { path: String },
}

impl StoreError {
    /// Whether the object asked for is not in the store.
    pub fn is_not_found(&self) -> bool {
        matches!(self, StoreError::Backend { source: object_store::Error::NotFound { .. }, .. })
    }
}

/// Metadata requests in flight at once when checking what a manifest names.
const HEADS_AT_ONCE: usize = 32;
/// Manifests a history read has on their way while it decodes one (at 1,000 targets
/// each is ~0.1–1 MB compressed).
const MANIFESTS_AHEAD: usize = 4;

/// The sha256 of manifests as one caller just read them, by run id: what
/// [`Store::attest_read`] compares with the chain instead of reading them again.
/// Scoped to that caller (a publish), never kept: a manifest changed later is found by
/// the next reading.
#[derive(Debug, Default)]
pub struct ManifestsRead(HashMap<RunId, String>);

impl ManifestsRead {
    fn note(&mut self, id: &RunId, stored: &[u8]) {
        self.0.insert(id.clone(), crate::integrity::sha256_hex(stored));
    }

    pub(super) fn sha256(&self, id: &RunId) -> Option<&str> {
        self.0.get(id).map(String::as_str)
    }
}

/// Whether a create-only put wrote anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    New,
    AlreadyThere,
}

/// A handle on the history. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    inner: Arc<dyn ObjectStore>,
    description: String,
    /// How transient errors are retried ([`retry`]); `None`: not at all.
    retry: Option<StoreRetry>,
    /// The folder of a local store (temporary files are cleaned there).
    local_root: Option<std::path::PathBuf>,
    /// Requests made so far, by every clone ([`Store::requests`]).
    counters: Arc<requests::Counters>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.description)
    }
}

/// What [`Store::find_bytes_unless`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// No such object.
    Missing,
    /// The object still has the entity tag given: the caller's copy is current.
    Unchanged,
    /// The object, with its entity tag when the backend gives one.
    Read { bytes: Vec<u8>, e_tag: Option<String> },
}

impl Store {
    /// Opens (and for a local folder, creates) the store, with the default retries.
    pub fn open(location: &StoreLocation) -> Result<Store, StoreError> {
        Store::open_with_retry(location, &StoreRetry::default())
    }

    /// Opens the store; transient errors are retried as `retry` says.
    pub fn open_with_retry(
        location: &StoreLocation,
        retry: &StoreRetry,
    ) -> Result<Store, StoreError> {
        let (inner, description) = backend::open(location, retry)?;
        let local_root = match location {
            StoreLocation::Local(dir) => Some(dir.clone()),
            _ => None,
        };
        Ok(Store { inner, description, retry: Some(*retry), local_root, counters: Arc::default() })
    }

    /// A store on any backend; `retry` (if any) is applied by `Store` itself, so pass
    /// none for a backend that retries on its own.
    pub fn from_object_store(
        inner: Arc<dyn ObjectStore>,
        description: &str,
        retry: Option<StoreRetry>,
    ) -> Store {
        Store {
            inner,
            description: description.to_owned(),
            retry,
            local_root: None,
            counters: Arc::default(),
        }
    }

    /// The requests this store (and every clone of it) has made so far.
    pub fn requests(&self) -> Requests {
        self.counters.now()
    }

    /// Runs one store request, retried as [`retry`] says; each attempt is counted.
    async fn attempt<T, F, Fut>(&self, what: &str, mut attempt: F) -> Result<T, object_store::Error>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, object_store::Error>>,
    {
        let mut attempt = || {
            self.counters.request(what);
            attempt()
        };
        match &self.retry {
            Some(settings) => retry::run(settings, what, attempt).await,
            None => attempt().await,
        }
    }

    /// Where the store is, for messages (never holds credentials).
    pub fn description(&self) -> &str {
        &self.description
    }

    /// Stores a snapshot under its digest. Atomic and create-only: if the same
    /// configuration was stored before, nothing is written.
    pub async fn put_snapshot(&self, snapshot: &Snapshot) -> Result<(Digest, Written), StoreError> {
        let bytes = snapshot.canonical_json();
        let digest = Digest::of(&bytes);
        let path = layout::snapshot(&snapshot.target, &digest);
        let written = self.create_content(&path, bytes).await?;
        Ok((digest, written))
    }

    /// Reads a snapshot back and checks it against its digest.
    pub async fn get_snapshot(
        &self,
        target: &str,
        digest: &Digest,
    ) -> Result<Snapshot, StoreError> {
        let path = layout::snapshot(target, digest);
        let bytes = self.get(&path).await?;
        if Digest::of(&bytes) != *digest {
            return Err(StoreError::DigestMismatch { path: path.to_string() });
        }
        serde_json::from_slice(&bytes)
            .map_err(|source| StoreError::Corrupt { path: path.to_string(), source })
    }

    /// Stores the policy files of a bundle, create-only (a bundle is immutable): a
    /// metadata request per file, [`HEADS_AT_ONCE`] at once (every audit asks it of
    /// every file, and a stored bundle's files are all there already).
    pub async fn put_policy_files<'a>(
        &self,
        bundle_digest: &str,
        files: impl IntoIterator<Item = (&'a str, &'a [u8])>,
    ) -> Result<(), StoreError> {
        // Futures collected into a Vec (not a stream of closures) keep callers `Send`.
        let puts: Vec<_> = files
            .into_iter()
            .map(|(relative, bytes)| async move {
                let path = layout::policy_file(bundle_digest, relative);
                self.create_content(&path, bytes.to_vec()).await.map(drop)
            })
            .collect();
        futures::stream::iter(puts).buffer_unordered(HEADS_AT_ONCE).try_collect::<()>().await
    }

    /// Commits a run: its findings objects (create-only, content-addressed: findings
    /// identical to an earlier run's write nothing), then its manifest, create-only (see
    /// [`manifest`]). Everything else the manifest points at must already be stored. A
    /// manifest already there with the same (encoded, compact) bytes is this run's own
    /// (an earlier attempt that succeeded unseen): committed. Any other manifest under
    /// the id is an error.
    ///
    /// Before the manifest, every object it names (snapshots, previous snapshots,
    /// findings objects, policy files, the previous run's manifest) is checked to be
    /// there, one metadata request each: a store that lost an acknowledged write fails
    /// the commit ([`StoreError::Missing`]) instead of committing a dangling reference.
    pub async fn commit_run(&self, run: &Run) -> Result<(), StoreError> {
        let (json, findings) = manifest::encode(run);
        let bytes = manifest::compress(&json);
        drop(json);
        let mut named: BTreeSet<object_store::path::Path> =
            findings.iter().map(|(digest, _)| manifest::findings_path(digest)).collect();
        self.put_findings(findings).await?;
        for t in &run.targets {
            for digest in t.snapshot.iter().chain(&t.previous_snapshot) {
                named.insert(layout::snapshot(&t.name, digest));
            }
        }
        let bundle = &run.policy_bundle;
        named.extend(bundle.policies.iter().map(|p| layout::policy_file(&bundle.digest, &p.path)));
        named.extend(run.previous_run.iter().map(layout::run));
        self.check_present(named).await?;
        let path = layout::run(&run.run_id);
        match self.create(&path, bytes.clone()).await? {
            Written::New => Ok(()),
            Written::AlreadyThere if self.get(&path).await? == bytes => Ok(()),
            Written::AlreadyThere => Err(StoreError::Backend {
                op: "commit",
                path: path.to_string(),
                source: object_store::Error::AlreadyExists {
                    path: path.to_string(),
                    source: "a run with this id is already committed".into(),
                },
            }),
        }
    }

    /// Fails with [`StoreError::Missing`] naming the first of `paths` not in the store.
    async fn check_present(
        &self,
        paths: BTreeSet<object_store::path::Path>,
    ) -> Result<(), StoreError> {
        // Futures collected into a Vec (not a stream of closures) keep callers `Send`.
        let heads: Vec<_> = paths
            .into_iter()
            .map(|path| async move {
                match self.attempt("head", || self.inner.head(&path)).await {
                    Ok(_) => Ok(()),
                    Err(object_store::Error::NotFound { .. }) => {
                        Err(StoreError::Missing { path: path.to_string() })
                    }
                    Err(source) => {
                        Err(StoreError::Backend { op: "head", path: path.to_string(), source })
                    }
                }
            })
            .collect();
        futures::stream::iter(heads).buffer_unordered(HEADS_AT_ONCE).try_collect::<()>().await
    }

    /// Every committed run id, oldest first.
    pub async fn list_runs(&self) -> Result<Vec<RunId>, StoreError> {
        let metas = self.list_all(layout::RUNS).await?;
        let mut ids: Vec<RunId> =
            metas.iter().filter_map(|m| layout::run_id_of(&m.location)).collect();
        ids.sort();
        Ok(ids)
    }

    /// Committed run ids after `after` (all when `None`), oldest first: one listing
    /// from `after`'s manifest on, for catching up with other instances' runs.
    pub async fn runs_after(&self, after: Option<&RunId>) -> Result<Vec<RunId>, StoreError> {
        let Some(after) = after else { return self.list_runs().await };
        let prefix = object_store::path::Path::from(layout::RUNS);
        let offset = layout::run(after);
        let metas: Vec<_> = self
            .attempt("list", || {
                self.inner.list_with_offset(Some(&prefix), &offset).try_collect::<Vec<_>>()
            })
            .await
            .map_err(|source| StoreError::Backend {
                op: "list",
                path: prefix.to_string(),
                source,
            })?;
        let mut ids: Vec<RunId> = metas
            .iter()
            .filter_map(|m| layout::run_id_of(&m.location))
            .filter(|id| id > after)
            .collect();
        ids.sort();
        Ok(ids)
    }

    /// A committed run, exactly as it was committed (findings resolved).
    pub async fn get_run(&self, id: &RunId) -> Result<Run, StoreError> {
        let bytes = self.get(&layout::run(id)).await?;
        self.decode(id, &bytes, &mut manifest::FindingsCache::new(), &HashSet::new()).await
    }

    /// A committed run without its findings: what reading snapshot digests, changes
    /// and statuses needs, without reading findings objects.
    pub async fn get_run_outline(&self, id: &RunId) -> Result<RunOutline, StoreError> {
        let path = layout::run(id);
        let bytes = self.get(&path).await?;
        manifest::run_outline(&bytes)
            .map_err(|source| StoreError::Corrupt { path: path.to_string(), source })
    }

    /// The `n` most recent runs, newest first. Findings objects shared between runs
    /// are read once.
    pub async fn recent_runs(&self, n: usize) -> Result<Vec<Run>, StoreError> {
        self.recent_runs_noting(n, &mut ManifestsRead::default()).await
    }

    /// [`Store::recent_runs`], noting the sha256 of each manifest as read in `read`
    /// (for [`Store::attest_read`]).
    pub async fn recent_runs_noting(
        &self,
        n: usize,
        read: &mut ManifestsRead,
    ) -> Result<Vec<Run>, StoreError> {
        let ids = self.list_runs().await?;
        self.runs_noting(&ids, n, read).await
    }

    /// [`Store::recent_runs_noting`] of the committed runs `ids` (oldest first, as
    /// [`Store::list_runs`] gives them): for a caller that has just listed them.
    pub async fn runs_noting(
        &self,
        ids: &[RunId],
        n: usize,
        read: &mut ManifestsRead,
    ) -> Result<Vec<Run>, StoreError> {
        let mut runs = Vec::with_capacity(n.min(ids.len()));
        let mut cache = manifest::FindingsCache::new();
        let mut manifests = self.manifests(ids.iter().rev().take(n));
        while let Some((id, bytes)) = manifests.try_next().await? {
            read.note(id, &bytes);
            runs.push(self.decode(id, &bytes, &mut cache, &HashSet::new()).await?);
        }
        Ok(runs)
    }

    /// The manifests of `ids`, in order, [`MANIFESTS_AHEAD`] read at once: a history
    /// read decodes each in turn (it depends on the newer ones) while the next ones are
    /// on their way.
    fn manifests<'s>(
        &'s self,
        ids: impl Iterator<Item = &'s RunId>,
    ) -> impl futures::Stream<Item = Result<(&'s RunId, Vec<u8>), StoreError>> + Send + 's {
        // Futures collected into a Vec (not a stream of closures) keep callers `Send`.
        let reads: Vec<_> =
            ids.map(|id| async move { Ok((id, self.get(&layout::run(id)).await?)) }).collect();
        futures::stream::iter(reads).buffered(MANIFESTS_AHEAD)
    }

    /// The `n` most recent runs but `except`, newest first, as the reports of `except`
    /// need them: each target's findings are whole in the newest of these runs that
    /// collected it and in newer ones; further back they are outlines
    /// ([`Finding::outline`]: rule, setting, severity, status, waiver; no text or
    /// observed values), which is all that comparing runs uses, and a fraction of the
    /// memory at fleet scale.
    ///
    /// Those outlined targets keep only the state entries `keep_state` names, one map
    /// shared between consecutive runs in which those entries are the same, and say so:
    /// their `detail` is [`Detail::Outline`].
    ///
    /// [`Detail::Outline`]: crate::run::Detail::Outline
    ///
    /// [`Finding::outline`]: crate::finding::Finding::outline
    pub async fn recent_runs_outlined(
        &self,
        n: usize,
        except: &RunId,
        keep_state: fn(&str) -> bool,
    ) -> Result<Vec<Run>, StoreError> {
        let ids = self.list_runs().await?;
        self.runs_outlined(&ids, n, except, keep_state, &mut ManifestsRead::default()).await
    }

    /// [`Store::recent_runs_outlined`] of the committed runs `ids` (oldest first, as
    /// [`Store::list_runs`] gives them), noting the sha256 of each manifest as read in
    /// `read` (for [`Store::attest_read`]): for a caller that has listed them.
    pub async fn runs_outlined(
        &self,
        ids: &[RunId],
        n: usize,
        except: &RunId,
        keep_state: fn(&str) -> bool,
        read: &mut ManifestsRead,
    ) -> Result<Vec<Run>, StoreError> {
        let mut runs = Vec::with_capacity(n.min(ids.len()));
        let mut cache = manifest::FindingsCache::new();
        let mut collected = HashSet::new();
        // Each outlined target's kept state, shared with the next older run while it
        // stays the same (it mostly does: link up, no lag).
        let mut kept: HashMap<String, Arc<State>> = HashMap::new();
        let mut manifests = self.manifests(ids.iter().rev().filter(|id| *id != except).take(n));
        while let Some((id, bytes)) = manifests.try_next().await? {
            read.note(id, &bytes);
            let mut run = self.decode(id, &bytes, &mut cache, &collected).await?;
            for t in run.targets.iter_mut().filter(|t| collected.contains(&t.name)) {
                t.detail = crate::run::Detail::Outline;
                let whole = Arc::unwrap_or_clone(std::mem::take(&mut t.state));
                let state: State = whole.into_iter().filter(|(key, _)| keep_state(key)).collect();
                t.state = match kept.get(&t.name) {
                    Some(same) if **same == state => same.clone(),
                    _ => {
                        let state = Arc::new(state);
                        kept.insert(t.name.clone(), state.clone());
                        state
                    }
                };
            }
            collected.extend(
                run.targets
                    .iter()
                    .filter(|t| t.status == crate::run::TargetStatus::Ok)
                    .map(|t| t.name.clone()),
            );
            runs.push(run);
        }
        Ok(runs)
    }

    /// The report pages below `reports/<folder>/` (`runs`, `targets`, …), as paths
    /// below `reports/` (`runs/<run-id>.html`).
    pub async fn report_pages(&self, folder: &str) -> Result<BTreeSet<String>, StoreError> {
        let metas = self.list_all(&format!("reports/{folder}")).await?;
        Ok(metas
            .iter()
            .filter_map(|m| m.location.as_ref().strip_prefix("reports/").map(str::to_owned))
            .collect())
    }

    /// The paths below `prefix` (after `offset`, when given), sorted: one listing,
    /// retried as every request is.
    pub(super) async fn list_paths(
        &self,
        prefix: &object_store::path::Path,
        offset: Option<&object_store::path::Path>,
    ) -> Result<Vec<object_store::path::Path>, StoreError> {
        let list = || {
            let listing = match offset {
                Some(offset) => self.inner.list_with_offset(Some(prefix), offset),
                None => self.inner.list(Some(prefix)),
            };
            listing.map_ok(|m| m.location).try_collect::<Vec<_>>()
        };
        let mut paths = self.attempt("list", list).await.map_err(|source| StoreError::Backend {
            op: "list",
            path: prefix.to_string(),
            source,
        })?;
        paths.sort();
        Ok(paths)
    }

    /// Every object below `prefix`.
    pub(super) async fn list_all(
        &self,
        prefix: &str,
    ) -> Result<Vec<object_store::ObjectMeta>, StoreError> {
        let prefix = object_store::path::Path::from(prefix);
        self.attempt("list", || self.inner.list(Some(&prefix)).try_collect::<Vec<_>>())
            .await
            .map_err(|source| StoreError::Backend { op: "list", path: prefix.to_string(), source })
    }

    /// Writes (or replaces) a report page. Atomic: readers see the old or the new page.
    pub async fn put_report(
        &self,
        relative: &str,
        html: impl Into<String>,
    ) -> Result<(), StoreError> {
        let path = layout::report(relative);
        let payload = PutPayload::from(html.into().into_bytes());
        self.counters.wrote(payload.content_length());
        self.attempt("put", || self.inner.put(&path, payload.clone()))
            .await
            .map_err(|source| StoreError::Backend { op: "put", path: path.to_string(), source })?;
        Ok(())
    }

    /// Reads any object by its path under the store root (reports, manifests).
    pub async fn get_bytes(&self, relative: &str) -> Result<Vec<u8>, StoreError> {
        self.get(&object_store::path::Path::from(relative)).await
    }

    /// Like [`Store::get_bytes`], but a missing object is `None`, not an error.
    pub async fn find_bytes(&self, relative: &str) -> Result<Option<Vec<u8>>, StoreError> {
        match self.get(&object_store::path::Path::from(relative)).await {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Like [`Store::find_bytes`], but when the object still has the entity tag
    /// `e_tag`, says so without reading it (one conditional read). What `serve` keeps
    /// its copy of a report page fresh with.
    pub async fn find_bytes_unless(
        &self,
        relative: &str,
        e_tag: Option<&str>,
    ) -> Result<Found, StoreError> {
        let path = object_store::path::Path::from(relative);
        let read = || async {
            let options = object_store::GetOptions {
                if_none_match: e_tag.map(str::to_owned),
                ..Default::default()
            };
            let result = self.inner.get_opts(&path, options).await?;
            let e_tag = result.meta.e_tag.clone();
            Ok::<_, object_store::Error>((result.bytes().await?, e_tag))
        };
        match self.attempt("get", read).await {
            Ok((bytes, e_tag)) => {
                self.counters.read(bytes.len());
                Ok(Found::Read { bytes: bytes.to_vec(), e_tag })
            }
            Err(object_store::Error::NotModified { .. }) => Ok(Found::Unchanged),
            Err(object_store::Error::NotFound { .. }) => Ok(Found::Missing),
            Err(source) => Err(StoreError::Backend { op: "get", path: path.to_string(), source }),
        }
    }

    /// Whether the run `id` is committed (and not collected by `gc` since): one
    /// metadata request.
    pub async fn has_run(&self, id: &RunId) -> Result<bool, StoreError> {
        self.exists(&layout::run(id)).await
    }

    /// Whether the store answers: one metadata request (a missing object is an answer).
    pub async fn check(&self) -> Result<(), StoreError> {
        let path = object_store::path::Path::from("reports/index.html");
        match self.attempt("head", || self.inner.head(&path)).await {
            Ok(_) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(source) => Err(StoreError::Backend { op: "head", path: path.to_string(), source }),
        }
    }

    async fn create(
        &self,
        path: &object_store::path::Path,
        bytes: Vec<u8>,
    ) -> Result<Written, StoreError> {
        let payload = PutPayload::from(bytes);
        self.counters.wrote(payload.content_length());
        let put = || {
            let opts = PutOptions { mode: PutMode::Create, ..PutOptions::default() };
            self.inner.put_opts(path, payload.clone(), opts)
        };
        // Content-addressed objects and manifests (compared by `commit_run`) make an
        // `AlreadyExists` after a retried attempt safe to read as "already there".
        match self.attempt("put", put).await {
            Ok(_) => Ok(Written::New),
            Err(object_store::Error::AlreadyExists { .. }) => Ok(Written::AlreadyThere),
            Err(source) => Err(StoreError::Backend { op: "put", path: path.to_string(), source }),
        }
    }

    /// [`Store::create`] for content-addressed objects (snapshots, findings, policy
    /// files): an object already at `path` holds these very bytes, so one metadata
    /// request spares writing them again, which is the common case (an unchanged
    /// target's snapshot and findings, every run). Objects are written whole or not at
    /// all, so one that exists is complete.
    pub(super) async fn create_content(
        &self,
        path: &object_store::path::Path,
        bytes: Vec<u8>,
    ) -> Result<Written, StoreError> {
        match self.attempt("head", || self.inner.head(path)).await {
            Ok(_) => Ok(Written::AlreadyThere),
            Err(object_store::Error::NotFound { .. }) => self.create(path, bytes).await,
            Err(source) => Err(StoreError::Backend { op: "head", path: path.to_string(), source }),
        }
    }

    pub(super) async fn get(&self, path: &object_store::path::Path) -> Result<Vec<u8>, StoreError> {
        let read = || async {
            let result = self.inner.get(path).await?;
            result.bytes().await
        };
        let bytes = self.attempt("get", read).await.map_err(|source| StoreError::Backend {
            op: "get",
            path: path.to_string(),
            source,
        })?;
        self.counters.read(bytes.len());
        Ok(bytes.to_vec())
    }
}

#[cfg(test)]
mod tests;
