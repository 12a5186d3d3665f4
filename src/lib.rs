//! driftwatch: audits the live configuration of databases and caches against versioned
//! policy baselines, keeps the history in object storage and publishes HTML reports.
//!
//! # Layout
//!
//! - [`config`]: `driftwatch.toml`, raw → validated, every problem with file:line:col.
//! - [`collect`]: one collector per engine kind; reads, never writes.
//! - [`redact`]: the one place that decides what a secret looks like.
//! - [`engine`]: the one home of engine knowledge: generated metadata per engine
//!   version and how each engine reads configuration values.
//! - [`snapshot`]: what a collector saw: stable config (hashed) and volatile state.
//! - [`policy`]: baselines from `policies/`, rules, waivers; pure evaluation.
//! - [`policy_files`]: the policy folder read from disk (the I/O half of loading).
//! - [`diff`]: snapshot → snapshot changes.
//! - [`scoped`]: PostgreSQL per-role and per-database setting keys.
//! - [`finding`], [`run`]: the data a run produces, stored as its manifest.
//! - [`store`]: the history on `object_store`: layout and commit protocol.
//! - [`report`]: HTML pages from run data.
//! - [`queries`]: incident questions asked of the stored history (`history`, `diff`,
//!   `rollback`'s `last-good`), answered without reading every manifest.
//! - [`baseline`]: a policy captured from a stored snapshot.
//! - [`check`]: configuration files judged by the baselines, before deployment.
//! - [`audit`]: one run; the only module that knows the order of the pipeline.
//! - [`status`]: the service's in-memory view of its latest runs.
//! - [`notify`]: what changed since the previous run, sent to webhooks.
//! - [`server`]: the web server: reports, JSON API, `/metrics`, health.
//! - [`schedule`]: `serve`: cron ticks, overlap guard, shutdown; the only module that
//!   knows about cron and signals.
//! - [`fleet`]: several instances sharing one store: shards, slots and who claims them.

pub mod audit;
pub mod baseline;
pub mod check;
pub mod collect;
pub mod config;
pub mod diagnostic;
pub mod diff;
pub mod engine;
pub mod export;
pub mod finding;
pub mod fleet;
pub mod integrity;
pub mod notify;
pub mod policy;
pub mod policy_files;
pub mod queries;
pub mod redact;
pub mod report;
pub mod rollback;
pub mod run;
pub mod schedule;
pub mod scoped;
pub mod server;
pub mod snapshot;
pub mod status;
pub mod store;
pub mod when;
