//! One audit run: the only module that knows the order of the pipeline.
//!
//! ```text
//! targets ─► collect (concurrent, bounded, deadlines) ─► redact ─► store snapshot
//!        ─► diff against the previous snapshot ─► evaluate policies
//!        ─► store policy files ─► commit manifest (LAST) ─► render + store reports
//! ```
//!
//! A target that cannot be collected is recorded with its status and message; the run
//! goes on. Only a store failure fails the run, and only before the manifest: once it
//! is committed, the run is [`Committed`] whatever happens to its reports (and change
//! index entries), which say so in [`Committed::unpublished`]; the next run writes
//! what is missing.

mod batches;
mod evaluate;
mod publish;

pub use publish::republish;

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use chrono::{DateTime, Utc};
use futures::StreamExt as _;
use tracing::Instrument as _;

use crate::collect::{self, CollectError, Collected, Endpoint};
use crate::config::{AuditSettings, Config, Target};
use crate::diff;
use crate::policy::PolicySet;
use crate::redact;
use crate::report;
use crate::rollback;
use crate::run::{Run, RunId, Slot, Summary, TargetRun, TargetStatus};
use crate::snapshot::{Digest, Snapshot};
use crate::store::{Store, StoreError, Written};

/// How many earlier runs the reports look back over (trend, timelines, first seen):
/// with the run itself, the runs that have a page ([`report::MAX_RUN_PAGES`]), so
/// every entry of a timeline links to its run. Each earlier run is held in memory
/// while the reports are written.
pub const REPORT_HISTORY: usize = report::MAX_RUN_PAGES - 1;

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("rendering reports: {0}")]
    Report(#[from] report::ReportError),
    /// The fingerprint key is configured but cannot be read: a run without it would
    /// show every secret as changed.
    #[error("secret fingerprint key: {0}")]
    RedactionKey(String),
    /// The chain's signing key is configured but cannot be read: a run without it
    /// would leave an unsigned link in a signed chain.
    #[error("[integrity] signing key: {0}")]
    SigningKey(String),
}

/// A committed run, and whether everything derived from it was written.
#[derive(Debug)]
pub struct Committed {
    pub run: Run,
    /// Why some report pages or change-index entries of the run are missing, if any:
    /// the run is committed all the same, and the next run writes them.
    pub unpublished: Option<AuditError>,
}

/// Told about each target as its collection finishes (before policies are evaluated),
/// for progress bars.
pub trait Progress: Sync {
    fn started(&self, _targets: usize) {}
    fn target_done(&self, _result: &TargetRun) {}
}

/// Progress that shows nothing.
pub struct Quiet;
impl Progress for Quiet {}

/// What started the run, recorded in the manifest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    Manual,
    Schedule,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Manual => "manual",
            Trigger::Schedule => "schedule",
        }
    }
}

/// Runs one audit of every configured target and commits it to the store.
pub async fn run(
    config: &Config,
    policies: &PolicySet,
    store: &Store,
    trigger: Trigger,
    progress: &dyn Progress,
) -> Result<Committed, AuditError> {
    let all: Vec<&str> = config.targets.iter().map(|t| t.name.as_str()).collect();
    run_targets(config, policies, store, trigger, progress, &all).await
}

/// Runs one audit of the named targets only (in config order; unknown names are
/// ignored) and commits it to the store: the run's manifest lists just those.
pub async fn run_targets(
    config: &Config,
    policies: &PolicySet,
    store: &Store,
    trigger: Trigger,
    progress: &dyn Progress,
    names: &[&str],
) -> Result<Committed, AuditError> {
    run_some(config, policies, store, trigger, progress, names, None).await
}

/// Like [`run_targets`] for a scheduled `slot` the caller has claimed
/// ([`Store::claim_slot`]): the manifest records the slot.
pub async fn run_slot(
    config: &Config,
    policies: &PolicySet,
    store: &Store,
    progress: &dyn Progress,
    names: &[&str],
    slot: &Slot,
) -> Result<Committed, AuditError> {
    run_some(config, policies, store, Trigger::Schedule, progress, names, Some(slot)).await
}

async fn run_some(
    config: &Config,
    policies: &PolicySet,
    store: &Store,
    trigger: Trigger,
    progress: &dyn Progress,
    names: &[&str],
    slot: Option<&Slot>,
) -> Result<Committed, AuditError> {
    let started_at = Utc::now();
    // Two bytes tell apart runs started in the same millisecond (several instances).
    let run_id = RunId::new(started_at, crate::run::nonce() as u16);
    let span = tracing::info_span!("audit", run_id = %run_id);
    let names: HashSet<&str> = names.iter().copied().collect();
    let targets: Vec<&Target> =
        config.targets.iter().filter(|t| names.contains(t.name.as_str())).collect();
    let run = Started { trigger, started_at, run_id, slot: slot.cloned() };
    run_inner(config, &targets, policies, store, progress, run).instrument(span).await
}

/// What a run is before it collects anything.
struct Started {
    trigger: Trigger,
    started_at: DateTime<Utc>,
    run_id: RunId,
    slot: Option<Slot>,
}

async fn run_inner(
    config: &Config,
    targets: &[&Target],
    policies: &PolicySet,
    store: &Store,
    progress: &dyn Progress,
    started: Started,
) -> Result<Committed, AuditError> {
    let Started { trigger, started_at, run_id, slot } = started;
    let clock = Instant::now();
    let requests_before = store.requests();
    let redactor = config.redaction.redactor().map_err(AuditError::RedactionKey)?;
    let signer = config.integrity.signer().map_err(AuditError::SigningKey)?;
    // Housekeeping: a failure here is logged, never the run's.
    if let Err(e) = store.clean_temporary_files(crate::store::TEMPORARY_FILE_AGE).await {
        tracing::warn!(error = %e, "cannot remove temporary files of interrupted writes");
    }
    let earlier = store.list_runs().await?;
    if let Some(last) = earlier.last() {
        // A crash between the last commit and its index entries or its export is
        // repaired here (the export needs the findings: read only when it is missing).
        let outline = store.get_run_outline(last).await?;
        store.index_run(&outline).await?;
        if !outline.targets.is_empty() && !store.exported(last).await? {
            store.export_run(&store.get_run(last).await?).await?;
        }
    }
    // And one between a commit and its link in the chain (or a store from before it).
    store.link_unlinked(&earlier, signer.as_ref()).await?;
    let previous = Previous::find(store, &earlier, targets).await?;
    let borrowed = evaluate::Borrowed::find(
        store,
        &earlier,
        &config.targets,
        targets,
        config.audit.group_member_max_age,
        started_at,
    )
    .await?;
    progress.started(targets.len());

    // Futures collected into a Vec (not a stream of closures) keep this future `Send`
    // for the scheduler, which spawns it.
    let collections: Vec<_> = targets
        .iter()
        .copied()
        .enumerate()
        .map(|(i, target)| {
            // A task of its own per target, collection and assessment: decoding a
            // server's answer, redacting, hashing and storing its snapshot are CPU work
            // and a store round trip, and this loop runs where the audit is awaited, on
            // one thread, which would otherwise do every target's in turn.
            let (target, settings) = (target.clone(), config.audit.clone());
            let (store, redactor) = (store.clone(), redactor.clone());
            let before = previous.get(&target.name).map(|p| p.snapshot.clone());
            async move {
                let assessed = Spawned(tokio::spawn(
                    async move {
                        let clock = Instant::now();
                        let collected = collect_target(&target, &settings).await;
                        let duration_ms = clock.elapsed().as_millis() as u64;
                        assess(&target, collected, duration_ms, &store, before.as_ref(), &redactor)
                            .await
                    }
                    // The audit's span (its run id) on what the task logs.
                    .in_current_span(),
                ));
                (i, assessed.await)
            }
        })
        .collect();
    let mut collections =
        futures::stream::iter(collections).buffer_unordered(config.audit.concurrency);
    // Each target is evaluated once its whole group is collected; snapshots are
    // dropped then (see `evaluate`).
    let mut evaluator =
        evaluate::Evaluator::new(policies, targets, &previous, started_at.date_naive())
            .with_borrowed(&borrowed);
    while let Some((i, assessed)) = collections.next().await {
        let (result, snapshot) = assessed?;
        progress.target_done(&result);
        evaluator.add(i, result, snapshot);
    }
    drop(collections);
    let (targets, settings) = evaluator.finish();
    targets.iter().for_each(log_target);

    let bundle = policies.bundle().clone();
    let files: Vec<(&str, &[u8])> =
        policies.sources().iter().map(|s| (s.path.as_str(), s.text.as_bytes())).collect();
    store.put_policy_files(&bundle.digest, files).await?;

    let summary = Summary::of(&targets);
    let run = Run {
        run_id,
        started_at,
        finished_at: Utc::now(),
        trigger: trigger.as_str().to_owned(),
        driftwatch_version: env!("CARGO_PKG_VERSION").to_owned(),
        policy_bundle: bundle,
        previous_run: earlier.last().cloned(),
        targets,
        summary,
        slot,
    };
    store.commit_run(&run).await?;
    // The run is committed whatever happens to its link: the next audit links it.
    if let Err(e) =
        store.append_link(std::slice::from_ref(&run.run_id), Vec::new(), signer.as_ref()).await
    {
        tracing::warn!(error = %e, "run committed but not linked in the chain yet");
    }
    tracing::info!(
        trigger = run.trigger.as_str(),
        targets = run.summary.targets,
        targets_ok = run.summary.targets_ok,
        failing = run.summary.failing(),
        changes = run.summary.changes,
        duration_ms = clock.elapsed().as_millis() as u64,
        "run committed"
    );

    // Committed: from here on a failure leaves the run as it is and says what is
    // missing (the next run repairs the change index and the export, and writes
    // missing pages).
    let derived = async {
        store.index_run(&run.outline()).await?;
        store.export_run(&run).await
    };
    let published = match derived.await {
        Ok(_) => {
            let public_key = signer.as_ref().map(|s| s.public());
            publish::publish_reports(
                store,
                &run,
                &settings,
                policies.expected_differences(),
                publish::RunPages::Unwritten,
                public_key.as_ref(),
            )
            .await
        }
        Err(e) => Err(e.into()),
    };
    let unpublished = published.err();
    let r = store.requests().since(&requests_before);
    tracing::debug!(
        gets = r.gets,
        puts = r.puts,
        heads = r.heads,
        lists = r.lists,
        deletes = r.deletes,
        bytes_read = r.bytes_read,
        bytes_written = r.bytes_written,
        "store requests of the run"
    );
    if let Some(e) = &unpublished {
        tracing::error!(
            error = %e,
            "run committed, reports incomplete: the next run publishes what is missing"
        );
    }
    Ok(Committed { run, unpublished })
}

/// A task the audit awaits, aborted when dropped: an audit cut short (a shutdown, a
/// dropped future) leaves none of its targets' collections running behind it.
struct Spawned<T>(tokio::task::JoinHandle<T>);

impl<T> std::future::Future for Spawned<T> {
    type Output = T;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<T> {
        use std::task::Poll;
        match std::pin::Pin::new(&mut self.0).poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Ok(out)) => Poll::Ready(out),
            // A collector's panic is a bug: it ends the audit as it did in-line.
            Poll::Ready(Err(e)) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            // Cancelled: the runtime is shutting down (`serve`'s grace period ran out and
            // `main` shuts it down with this audit still running; our own `abort` only
            // comes with `drop`). The audit is cancelled with it: it waits to be dropped.
            Poll::Ready(Err(_)) => Poll::Pending,
        }
    }
}

impl<T> Drop for Spawned<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Collects one target within its deadline. Never fails: failure is a result.
async fn collect_target(
    target: &Target,
    settings: &AuditSettings,
) -> Result<Collected, CollectError> {
    let url = target.connection.resolve().map_err(CollectError::Failed)?;
    let endpoint = Endpoint {
        target: target.name.clone(),
        kind: target.kind,
        url,
        connect_timeout: settings.connect_timeout,
        statement_timeout: settings.statement_timeout,
        limits: target.limits,
        config_file: target.config_file.clone(),
    };
    match tokio::time::timeout(settings.target_timeout, collect::collect(&endpoint)).await {
        Ok(result) => result,
        Err(_) => Err(CollectError::Failed(format!(
            "deadline exceeded: collection took longer than target_timeout ({}s)",
            settings.target_timeout.as_secs_f64()
        ))),
    }
}

/// Turns one collection into a target result: redact, store, diff. Findings (live and
/// pre-flight) come later, from [`evaluate::Evaluator`], once every member of the
/// target's group is collected.
async fn assess(
    target: &Target,
    collected: Result<Collected, CollectError>,
    duration_ms: u64,
    store: &Store,
    before: Option<&Digest>,
    redactor: &redact::Redactor,
) -> Result<(TargetRun, Option<Snapshot>), StoreError> {
    let collected_at = Utc::now();
    let mut result = TargetRun {
        name: target.name.clone(),
        kind: target.kind,
        role: target.role,
        detected_role: None,
        group: target.group.clone(),
        labels: target.labels.clone(),
        address: target.connection.display(),
        status: TargetStatus::Ok,
        error: None,
        server_version: None,
        snapshot: None,
        previous_snapshot: None,
        collected_at,
        duration_ms,
        state: Default::default(),
        findings: Default::default(),
        changes: Vec::new(),
        preflight: Vec::new(),
        detail: Default::default(),
    };
    let Collected { mut snapshot, mut state } = match collected {
        Ok(collected) => collected,
        Err(e) => {
            result.status = match e {
                CollectError::Unreachable(_) => TargetStatus::Unreachable,
                CollectError::Failed(_) => TargetStatus::Error,
            };
            // The status says which kind: the message is what happened.
            let (CollectError::Unreachable(message) | CollectError::Failed(message)) = &e;
            result.error = Some(redact::text(message).into_owned());
            return Ok((result, None));
        }
    };
    redactor.snapshot(&mut snapshot);
    redactor.state(&mut state);

    let (digest, written) = store.put_snapshot(&snapshot).await?;
    if let Some(before) = before {
        if *before != digest {
            let old = store.get_snapshot(&target.name, before).await?;
            result.changes = diff::diff(&old, &snapshot);
            for change in &mut result.changes {
                change.rollback = rollback::statement_for(
                    snapshot.kind,
                    change,
                    old.get(&change.key),
                    snapshot.get(&change.key),
                    &snapshot,
                );
            }
        }
        result.previous_snapshot = Some(before.clone());
    }
    tracing::debug!(target = %target.name, digest = %digest.short(), new = written == Written::New, "snapshot stored");

    result.detected_role = Some(snapshot.server.role);
    result.server_version = Some(snapshot.server.version.clone());
    result.snapshot = Some(digest);
    result.state = state.into();
    Ok((result, Some(snapshot)))
}

fn log_target(result: &TargetRun) {
    let failing = result.failing_at_least(crate::finding::Severity::Info);
    match result.status {
        TargetStatus::Ok => tracing::info!(
            target = %result.name,
            kind = %result.kind,
            status = result.status.as_str(),
            failing,
            changes = result.changes.len(),
            duration_ms = result.duration_ms,
            "target audited"
        ),
        _ => tracing::warn!(
            target = %result.name,
            kind = %result.kind,
            status = result.status.as_str(),
            error = result.error.as_deref().unwrap_or(""),
            duration_ms = result.duration_ms,
            "target not audited"
        ),
    }
}

/// Each target's latest successful collection in the store: its snapshot (what this
/// run's diff compares with) and its state and time (what counter rules compare
/// with), found by reading manifests newest first until every target is accounted for.
pub(crate) struct Previous(HashMap<String, PreviousCollection>);

/// One target's latest successful collection.
pub(crate) struct PreviousCollection {
    pub snapshot: Digest,
    pub state: std::sync::Arc<crate::snapshot::State>,
    pub collected_at: DateTime<Utc>,
}

impl Previous {
    async fn find(store: &Store, runs: &[RunId], targets: &[&Target]) -> Result<Self, StoreError> {
        let mut found = HashMap::new();
        let names: HashSet<&str> = targets.iter().map(|t| t.name.as_str()).collect();
        let mut wanted = names.len();
        for id in runs.iter().rev() {
            if wanted == 0 {
                break;
            }
            let run = store.get_run_outline(id).await?;
            for t in run.targets {
                if let Some(digest) = t.snapshot
                    && names.contains(t.name.as_str())
                    && !found.contains_key(&t.name)
                {
                    let collection = PreviousCollection {
                        snapshot: digest,
                        state: t.state,
                        collected_at: t.collected_at,
                    };
                    found.insert(t.name, collection);
                    wanted -= 1;
                }
            }
        }
        Ok(Previous(found))
    }

    pub(crate) fn get(&self, target: &str) -> Option<&PreviousCollection> {
        self.0.get(target)
    }
}

#[cfg(test)]
mod tests {
    use futures::FutureExt as _;

    use super::Spawned;

    /// Dropping an audit drops its targets' tasks: none keeps running behind it.
    #[tokio::test]
    async fn a_dropped_task_is_aborted() {
        let (alive, gone) = tokio::sync::oneshot::channel::<()>();
        let task = Spawned(tokio::spawn(async move {
            let _alive = alive;
            std::future::pending::<()>().await
        }));
        tokio::task::yield_now().await;
        drop(task);
        // The sender is dropped with the aborted task's future; a task left running
        // would hold it (the timeout only keeps a failure from hanging the suite).
        let closed = tokio::time::timeout(std::time::Duration::from_secs(10), gone).await;
        assert!(matches!(closed, Ok(Err(_))), "the task outlived its handle");
    }

    /// A collector's panic is the audit's, as when it ran in line.
    #[tokio::test]
    async fn a_task_panic_is_the_awaiting_audits() {
        let task = Spawned(tokio::spawn(async { panic!("collector bug") }));
        let caught = std::panic::AssertUnwindSafe(task).catch_unwind().await;
        let payload = caught.expect_err("the panic reaches the awaiting future");
        assert_eq!(payload.downcast_ref::<&str>(), Some(&"collector bug"));
    }

    #[tokio::test]
    async fn a_task_answer_is_its_output() {
        assert_eq!(Spawned(tokio::spawn(async { 7 })).await, 7);
    }
}
