//! `driftwatch serve`: audits on cron schedules, serves the results, shuts down
//! cleanly. The only module that knows about cron and signals.
//!
//! - Each schedule ([`plans`]: the service-wide `[schedule] cron` for most targets, one
//!   per distinct per-target `schedule`) is a tokio-cron-scheduler job. A tick takes
//!   that schedule's mutex with `try_lock_owned`: when the run before is still going,
//!   the tick is skipped and logged, never stacked.
//! - Runs are spawned on a [`TaskTracker`]. Shutdown is ours, not the scheduler
//!   library's: when the `shutdown` future resolves, a [`CancellationToken`] stops new
//!   ticks, notification retries and the web server; the tracker waits for the running
//!   audit up to `grace_period`; then [`run`] returns. [`shutdown_signals`] resolves on
//!   SIGTERM/SIGINT and exits the process at once (130) on a second one.
//! - After each run the in-memory [`Status`] is updated (metrics, readiness) and the
//!   differences with the previous results go to the webhooks.
//! - Several instances may share one store ([`crate::fleet`]): a tick first claims its
//!   slot (the cron time, to the second, and this instance's shard) with a create-only
//!   lease; when another instance has it, the tick is skipped, logged (`slot lost`) and
//!   counted. Every tick also takes in the runs other instances committed, so metrics,
//!   readiness and notifications follow the whole fleet's history.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tokio::net::TcpListener;
use tokio::sync::Mutex;
use tokio_cron_scheduler::{Job, JobScheduler};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::audit::{self, Quiet};
use crate::config::{Config, Cron};
use crate::fleet::{self, Instance};
use crate::notify::{self, Notifier};
use crate::policy::PolicySet;
use crate::run::{RunId, Shard, Slot};
use crate::server::{self, AppState};
use crate::status::{SharedStatus, Status};
use crate::store::{Store, StoreError};

/// How many recent manifests start-up reads to rebuild the status.
const STARTUP_HISTORY: usize = 50;
/// How long shutdown waits for the scheduler library and the web server.
const STOP_TIMEOUT: Duration = Duration::from_secs(5);

/// What the service runs with: checked config, loaded policies, an open store.
pub struct Service {
    pub config: Config,
    pub policies: PolicySet,
    pub store: Store,
    /// Access control and HTTPS for the web server.
    pub guard: server::Guard,
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("reading the history: {0}")]
    Store(#[from] StoreError),
    #[error("scheduler: {0}")]
    Scheduler(String),
    #[error("{0}")]
    Notify(String),
    #[error("web server: {0}")]
    Server(String),
    #[error("{0}")]
    Shard(String),
}

/// One cron schedule and the targets it audits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// `service` for `[schedule] cron`, else the pattern.
    pub name: String,
    /// The schedule's key in lease names ([`fleet::schedule_key`]).
    pub key: String,
    pub cron: Cron,
    pub targets: Vec<String>,
}

/// The schedules of a config: targets without their own `schedule` share the
/// service-wide one; targets with the same own pattern share a run.
pub fn plans(config: &Config) -> Vec<Plan> {
    let mut plans: Vec<Plan> = Vec::new();
    let shared: Vec<String> =
        config.targets.iter().filter(|t| t.schedule.is_none()).map(|t| t.name.clone()).collect();
    if !shared.is_empty() {
        plans.push(Plan {
            name: "service".into(),
            key: fleet::schedule_key("service", &config.schedule.cron.pattern),
            cron: config.schedule.cron.clone(),
            targets: shared,
        });
    }
    let mut own: Vec<Plan> = Vec::new();
    for t in &config.targets {
        let Some(cron) = &t.schedule else { continue };
        match own.iter_mut().find(|p| p.cron.pattern == cron.pattern) {
            Some(plan) => plan.targets.push(t.name.clone()),
            None => own.push(Plan {
                name: cron.pattern.clone(),
                key: fleet::schedule_key(&cron.pattern, &cron.pattern),
                cron: cron.clone(),
                targets: vec![t.name.clone()],
            }),
        }
    }
    plans.extend(own);
    plans
}

/// Runs the service until `shutdown` resolves: the web server on `listener` and the
/// audits on their schedules. Returns after the running audit finished or
/// `grace_period` passed.
pub async fn run(
    service: Service,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServeError> {
    let started_at = Utc::now();
    let config = &service.config;
    let names: Vec<&str> = config.targets.iter().map(|t| t.name.as_str()).collect();
    let mut status = Status::from_history(&service.store.recent_runs(STARTUP_HISTORY).await?);
    status.retain_targets(&names);
    let status = status.shared();
    let notifier = Notifier::new(config.notify.clone(), config.server.public_url.clone())
        .map_err(ServeError::Notify)?;
    let instance = Instance::this_process();
    let shard = fleet::this_shard(&config.schedule, &instance.host).map_err(ServeError::Shard)?;
    let mut plans = plans(config);
    for plan in &mut plans {
        plan.targets = fleet::targets_of(&plan.targets, shard);
    }
    let longest = plans.iter().map(|p| p.cron.interval).max().unwrap_or(Duration::from_secs(300));
    let grace_period = config.schedule.grace_period;
    let run_at_start = config.schedule.run_at_start;
    let token = CancellationToken::new();
    let tracker = TaskTracker::new();

    let app = AppState {
        store: service.store.clone(),
        status: status.clone(),
        targets: Arc::new(names.iter().map(|n| (*n).to_owned()).collect()),
        ready_within: longest * 3,
        started_at,
        ui: Arc::new(server::ui::Ui::new()),
        cache: Arc::new(server::Caches::new()),
    };
    let all_names = app.targets.clone();
    let window = catch_up_window(longest, config.audit.target_timeout);
    let address = listener.local_addr().map(|a| a.to_string()).unwrap_or_default();
    let mut web = tokio::spawn(server::serve(
        listener,
        app,
        service.guard.clone(),
        token.clone().cancelled_owned(),
    ));

    let ctx = Arc::new(Context {
        service,
        status,
        notifier,
        token: token.clone(),
        tracker,
        instance,
        shard,
        names: all_names,
        window,
        seen: Default::default(),
    });
    let scheduler = JobScheduler::new().await.map_err(scheduler_error)?;
    for plan in &plans {
        let plan = Arc::new(plan.clone());
        let lock: Arc<PlanLock> = Arc::new(Mutex::new(None));
        let (c, p, l) = (ctx.clone(), plan.clone(), lock.clone());
        let job = Job::new_async(plan.cron.pattern.as_str(), move |_, _| {
            let (c, p, l) = (c.clone(), p.clone(), l.clone());
            Box::pin(async move { tick(&c, &p, &l) })
        })
        .map_err(scheduler_error)?;
        scheduler.add(job).await.map_err(scheduler_error)?;
        tracing::info!(
            schedule = %plan.name,
            cron = %plan.cron.pattern,
            targets = plan.targets.len(),
            shard = shard.map(|s| s.index),
            shards = shard.map(|s| s.count),
            "schedule added"
        );
        if run_at_start {
            tick(&ctx, &plan, &lock);
        }
    }
    scheduler.start().await.map_err(scheduler_error)?;
    tracing::info!(
        listen = %address,
        schedules = plans.len(),
        instance = %ctx.instance.id,
        host = %ctx.instance.host,
        "driftwatch serve started"
    );

    let web_ended = tokio::select! {
        () = shutdown => None,
        ended = &mut web => Some(ended),
    };
    token.cancel();
    let mut scheduler = scheduler;
    match tokio::time::timeout(STOP_TIMEOUT, scheduler.shutdown()).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::warn!(error = %e, "scheduler did not stop cleanly"),
        Err(_) => tracing::warn!("scheduler did not stop in time"),
    }
    ctx.tracker.close();
    if !ctx.tracker.is_empty() {
        tracing::info!(
            grace_period_s = grace_period.as_secs_f64(),
            "waiting for the running audit"
        );
    }
    if tokio::time::timeout(grace_period, ctx.tracker.wait()).await.is_err() {
        tracing::warn!(
            grace_period_s = grace_period.as_secs_f64(),
            "grace period over: abandoning the running audit (it will not be committed)"
        );
    }
    match web_ended {
        Some(ended) => {
            let why = match ended {
                Ok(Ok(())) => "stopped".to_owned(),
                Ok(Err(e)) => e.to_string(),
                Err(e) => e.to_string(),
            };
            Err(ServeError::Server(why))
        }
        None => {
            if tokio::time::timeout(STOP_TIMEOUT, web).await.is_err() {
                tracing::warn!("web server did not stop in time");
            }
            tracing::info!("driftwatch serve stopped");
            Ok(())
        }
    }
}

/// Resolves on the first SIGTERM or SIGINT. The handlers are installed when this is
/// called, so no signal is lost before the future is polled. A second signal exits
/// the process at once with status 130.
pub fn shutdown_signals() -> std::io::Result<impl Future<Output = ()> + Send + 'static> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    Ok(async move {
        let name = tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
        };
        tracing::info!(
            signal = name,
            "shutting down: no new runs, waiting for the running one (signal again to exit now)"
        );
        tokio::spawn(async move {
            let name = tokio::select! {
                _ = term.recv() => "SIGTERM",
                _ = int.recv() => "SIGINT",
            };
            tracing::warn!(signal = name, "second signal: exiting now");
            std::process::exit(130);
        });
    })
}

/// What every tick needs.
struct Context {
    service: Service,
    status: SharedStatus,
    notifier: Notifier,
    token: CancellationToken,
    tracker: TaskTracker,
    /// Who this process is in the leases it takes.
    instance: Instance,
    /// This instance's shard, when the fleet is sharded.
    shard: Option<Shard>,
    /// Every configured target (the status keeps only these).
    names: Arc<Vec<String>>,
    /// How far back from the newest known run [`catch_up`] looks for runs it missed.
    window: chrono::Duration,
    /// Runs within that window already taken into the status.
    seen: std::sync::Mutex<std::collections::BTreeSet<RunId>>,
}

/// Held while a plan's run is going; holds the newest slot this instance took for it.
type PlanLock = Mutex<Option<DateTime<Utc>>>;

/// A tick of `plan`: start a run unless one is still going, its slot was already
/// taken, or we are shutting down.
fn tick(ctx: &Arc<Context>, plan: &Arc<Plan>, lock: &Arc<PlanLock>) {
    if ctx.token.is_cancelled() {
        return;
    }
    let slot =
        Slot { schedule: plan.key.clone(), at: plan.cron.slot_at(Utc::now()), shard: ctx.shard };
    let Ok(mut guard) = lock.clone().try_lock_owned() else {
        ctx.status.write().expect("status lock").skip_tick();
        tracing::warn!(schedule = %plan.name, "tick skipped: the previous run is still in progress");
        return;
    };
    // The scheduler fires up to a poll interval late, more on a loaded machine: a tick
    // due at one slot can fire inside the next, and the next tick then finds its slot
    // already taken by this instance. That is neither a lost slot nor a second run.
    if !take_slot(&mut guard, slot.at) {
        tracing::debug!(schedule = %plan.name, slot = %slot.at, "tick for a slot this instance already took");
        return;
    }
    let (ctx2, plan) = (ctx.clone(), plan.clone());
    ctx.tracker.spawn(async move {
        let _guard = guard;
        if claim(&ctx2, &plan, &slot).await {
            execute(&ctx2, &plan, &slot).await;
        }
    });
}

/// Claims `slot` for this instance and takes in what other instances committed.
/// `true`: run it. A plan with no targets in this shard only catches up.
async fn claim(ctx: &Context, plan: &Plan, slot: &Slot) -> bool {
    if plan.targets.is_empty() {
        catch_up(ctx).await;
        return false;
    }
    let store = &ctx.service.store;
    let started_at = Utc::now();
    let won = match store.claim_slot(&ctx.instance.lease(slot, started_at)).await {
        Ok(won) => won,
        Err(e) => {
            let error = format!("cannot claim the slot: {e}");
            tracing::error!(schedule = %plan.name, slot = %slot.at, %error, "scheduled run failed");
            let mut status = ctx.status.write().expect("status lock");
            status.record_failure(started_at, Utc::now(), error);
            return false;
        }
    };
    if !won {
        ctx.status.write().expect("status lock").lose_slot();
        let holder = match store.lease(slot).await {
            Ok(Some(lease)) => format!("{} (pid {} on {})", lease.instance, lease.pid, lease.host),
            _ => "unknown".to_owned(),
        };
        tracing::info!(
            schedule = %plan.name,
            slot = %slot.at,
            shard = slot.shard.map(|s| s.index),
            holder,
            "slot lost: another instance runs it"
        );
    }
    catch_up(ctx).await;
    won
}

/// Takes the runs other instances sharing the store committed into the status. Runs
/// of one slot commit in any order (an earlier-started run may commit last), so this
/// lists every run started within `ctx.window` of the newest one known, and reads the
/// ones not taken in yet (at most [`STARTUP_HISTORY`]). `Status::record` keeps each
/// target's newest result, whatever order runs arrive in.
async fn catch_up(ctx: &Context) {
    let newest = ctx.status.read().expect("status lock").newest_run.clone();
    let from = newest.and_then(|n| n.timestamp()).map(|t| RunId::new(t - ctx.window, 0));
    let store = &ctx.service.store;
    let ids = match store.runs_after(from.as_ref()).await {
        Ok(ids) => ids,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read other instances' runs");
            return;
        }
    };
    let unseen: Vec<RunId> = {
        let mut seen = ctx.seen.lock().expect("seen lock");
        if let Some(from) = &from {
            seen.retain(|id| id > from);
        }
        ids.into_iter().filter(|id| !seen.contains(id)).collect()
    };
    let skip = unseen.len().saturating_sub(STARTUP_HISTORY);
    let mut runs = Vec::new();
    for id in &unseen[skip..] {
        match store.get_run(id).await {
            Ok(run) => runs.push(run),
            Err(e) => tracing::warn!(run_id = %id, error = %e, "cannot read a run"),
        }
    }
    if runs.is_empty() {
        return;
    }
    ctx.seen.lock().expect("seen lock").extend(runs.iter().map(|r| r.run_id.clone()));
    let names: Vec<&str> = ctx.names.iter().map(String::as_str).collect();
    let mut status = ctx.status.write().expect("status lock");
    for run in &runs {
        status.record(run);
    }
    status.retain_targets(&names);
    tracing::debug!(runs = runs.len(), "took in runs from other instances");
}

/// One scheduled run: audit, update the status, notify.
async fn execute(ctx: &Context, plan: &Plan, slot: &Slot) {
    let names: Vec<&str> = plan.targets.iter().map(String::as_str).collect();
    let started_at = Utc::now();
    let clock = Instant::now();
    let s = &ctx.service;
    let result = audit::run_slot(&s.config, &s.policies, &s.store, &Quiet, &names, slot).await;
    let duration_ms = clock.elapsed().as_millis() as u64;
    match result {
        Ok(audit::Committed { run, unpublished }) => {
            let events = {
                let mut status = ctx.status.write().expect("status lock");
                let previous = status.previous(&names);
                status.record(&run);
                if let Some(e) = &unpublished {
                    status.record_unpublished(&run.run_id, e.to_string());
                }
                notify::events(&previous, &run)
            };
            ctx.seen.lock().expect("seen lock").insert(run.run_id.clone());
            tracing::info!(
                run_id = %run.run_id,
                schedule = %plan.name,
                slot = %slot.at,
                targets = run.summary.targets,
                targets_ok = run.summary.targets_ok,
                targets_unreachable = run.summary.targets_unreachable,
                targets_error = run.summary.targets_error,
                failing = run.summary.failing(),
                changes = run.summary.changes,
                events = events.len(),
                reports_complete = unpublished.is_none(),
                duration_ms,
                "scheduled run finished"
            );
            if !events.is_empty() && !ctx.notifier.is_empty() {
                ctx.notifier.send(&run, &events, &ctx.token).await;
            }
        }
        Err(e) => {
            ctx.status.write().expect("status lock").record_failure(
                started_at,
                Utc::now(),
                e.to_string(),
            );
            tracing::error!(schedule = %plan.name, error = %e, duration_ms, "scheduled run failed");
        }
    }
}

/// Records `at` as the plan's newest slot; `false` when this instance already took it
/// or a later one.
fn take_slot(last: &mut Option<DateTime<Utc>>, at: DateTime<Utc>) -> bool {
    if last.is_some_and(|last| at <= last) {
        return false;
    }
    *last = Some(at);
    true
}

/// Runs of one slot may commit up to a collection deadline apart, and an instance may
/// lose several slots in a row: look back three intervals plus a deadline, at least a
/// minute.
fn catch_up_window(longest: Duration, target_timeout: Duration) -> chrono::Duration {
    let window = (longest * 3 + target_timeout).max(Duration::from_secs(60));
    chrono::Duration::from_std(window).unwrap_or(chrono::Duration::days(1))
}

fn scheduler_error(e: tokio_cron_scheduler::JobSchedulerError) -> ServeError {
    ServeError::Scheduler(e.to_string())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    #[test]
    fn a_late_tick_does_not_take_a_slot_twice() {
        let at = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        let mut last = None;
        assert!(take_slot(&mut last, at("2026-11-25T16:15:01Z")));
        // The tick due at :01 fired after :02 and took :02; the one due at :02 finds it taken.
        assert!(take_slot(&mut last, at("2026-11-25T16:15:02Z")));
        assert!(!take_slot(&mut last, at("2026-11-25T16:15:02Z")));
        assert!(!take_slot(&mut last, at("2026-11-25T16:15:01Z")));
        assert!(take_slot(&mut last, at("2026-11-25T16:15:03Z")));
        assert_eq!(last, Some(at("2026-11-25T16:15:03Z")));
    }

    #[test]
    fn targets_are_grouped_by_schedule() {
        let config = crate::config::parse(
            Path::new("/x/driftwatch.toml"),
            r#"
[schedule]
cron = "0 */5 * * * *"
[[targets]]
name = "a"
kind = "postgres"
url = "postgres://h/x"
role = "primary"
[[targets]]
name = "b"
kind = "postgres"
url = "postgres://h/x"
role = "primary"
schedule = "*/10 * * * * *"
[[targets]]
name = "c"
kind = "postgres"
url = "postgres://h/x"
role = "primary"
[[targets]]
name = "d"
kind = "postgres"
url = "postgres://h/x"
role = "primary"
schedule = "*/10 * * * * *"
"#,
        )
        .unwrap();
        let got: Vec<(String, Vec<String>)> =
            plans(&config).into_iter().map(|p| (p.name, p.targets)).collect();
        assert_eq!(
            got,
            [
                ("service".to_owned(), vec!["a".to_owned(), "c".to_owned()]),
                ("*/10 * * * * *".to_owned(), vec!["b".to_owned(), "d".to_owned()]),
            ]
        );
    }
}
