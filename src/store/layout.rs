//! Where each kind of object lives in the store. The layout is a contract: reports
//! link by these paths, and scripts read them.
//!
//! ```text
//! snapshots/<target>/<sha256>.json        stable config, create-only
//! runs/<YYYY>/<MM>/<DD>/<run-id>.json     run manifest, create-only, written LAST
//! findings/<sha256>.json                  one target's findings, create-only, shared
//! policies/<bundle-digest>/<path>         the exact policy files a run used
//! index/changes/<target>/<run-id>.json    one target's changes in one run (derived)
//! leases/<schedule>/<slot>[-shard-<i>-of-<n>].json   who runs a scheduled slot, create-only
//! chain/<seq>.json                        hash-chain link (12 digits), create-only
//! exports/v1/<dataset>/dt=<YYYY-MM-DD>/<run-id>.ndjson.gz   analytics export (derived)
//! chain/head.json                         hint: the newest link's seq (mutable)
//! reports/index.html                      latest overview
//! reports/runs/<run-id>.html              one run
//! reports/targets/<target>.html           one target
//! ```

use object_store::path::Path;

use chrono::{DateTime, NaiveDateTime, Utc};

use crate::run::{RunId, Slot};
use crate::snapshot::Digest;

pub const RUNS: &str = "runs";
pub const CHAIN: &str = "chain";
/// The hint of the chain's newest link (`store::chain`): mutable, never trusted.
pub const CHAIN_HEAD: &str = "chain/head.json";
pub const LEASES: &str = "leases";

/// How a slot's time is written in a lease's name: sorts by time.
const SLOT_FORMAT: &str = "%Y%m%dT%H%M%SZ";

/// `leases/service/20261125T161500Z.json`, or with a shard
/// `leases/service/20261125T161500Z-shard-0-of-2.json`.
pub fn lease(slot: &Slot) -> Path {
    let at = slot.at.format(SLOT_FORMAT);
    let schedule = &slot.schedule;
    match slot.shard {
        None => Path::from(format!("{LEASES}/{schedule}/{at}.json")),
        Some(s) => {
            Path::from(format!("{LEASES}/{schedule}/{at}-shard-{}-of-{}.json", s.index, s.count))
        }
    }
}

/// The slot time a lease path names, if the path is one.
pub fn lease_time_of(path: &Path) -> Option<DateTime<Utc>> {
    if !path.as_ref().starts_with(LEASES) {
        return None;
    }
    let name = path.filename()?;
    let stamp = name.get(..16)?;
    NaiveDateTime::parse_from_str(stamp, SLOT_FORMAT).ok().map(|t| t.and_utc())
}

/// Where the analytics export of one dataset lives: `exports/v1/<dataset>/`.
pub fn export_dir(dataset: crate::export::Dataset) -> String {
    format!("exports/v{}/{}/", crate::export::SCHEMA_VERSION, dataset.as_str())
}

/// The partition of one day: `exports/v1/changes/dt=2026-11-25/`.
pub fn export_partition(dataset: crate::export::Dataset, day: chrono::NaiveDate) -> String {
    format!("{}dt={}/", export_dir(dataset), day.format("%Y-%m-%d"))
}

/// `exports/v1/changes/dt=2026-11-25/20261125T161500.000Z-3f9a.ndjson.gz`: one run's
/// rows of one dataset, in the partition of the day the run started (UTC). Ids that
/// carry no time (never produced by driftwatch) go under `dt=undated`.
pub fn export(dataset: crate::export::Dataset, run: &RunId) -> Path {
    let partition = match run.timestamp() {
        Some(t) => export_partition(dataset, t.date_naive()),
        None => format!("{}dt=undated/", export_dir(dataset)),
    };
    Path::from(format!("{partition}{run}.ndjson.gz"))
}

/// The run id of an export object's path.
pub fn export_run_of(path: &Path) -> Option<RunId> {
    let name = path.filename()?.strip_suffix(".ndjson.gz")?;
    path.as_ref().starts_with("exports/").then(|| RunId(name.to_owned()))
}

/// `chain/000000000042.json`: link 42 of the hash chain.
pub fn chain_link(seq: u64) -> Path {
    Path::from(format!("{CHAIN}/{seq:012}.json"))
}

/// The `seq` a chain link path names, if the path is one (not the head hint).
pub fn chain_seq_of(path: &Path) -> Option<u64> {
    let name = path.filename()?.strip_suffix(".json")?;
    (path.as_ref().starts_with(CHAIN) && name.len() == 12).then(|| name.parse().ok()).flatten()
}

pub fn snapshot(target: &str, digest: &Digest) -> Path {
    Path::from(format!("snapshots/{target}/{digest}.json"))
}

/// `runs/2026/11/25/20261125T161500Z-3f9a.json`; ids that don't carry a date (never
/// produced by driftwatch) go under `runs/undated/`.
pub fn run(id: &RunId) -> Path {
    let s = &id.0;
    match (s.get(0..4), s.get(4..6), s.get(6..8)) {
        (Some(y), Some(m), Some(d))
            if s.len() >= 8 && s[..8].bytes().all(|b| b.is_ascii_digit()) =>
        {
            Path::from(format!("{RUNS}/{y}/{m}/{d}/{s}.json"))
        }
        _ => Path::from(format!("{RUNS}/undated/{s}.json")),
    }
}

/// The run id of a manifest path, if the path is one.
pub fn run_id_of(path: &Path) -> Option<RunId> {
    let name = path.filename()?;
    let id = name.strip_suffix(".json")?;
    path.as_ref().starts_with(RUNS).then(|| RunId(id.to_owned()))
}

pub fn change_index_dir(target: &str) -> Path {
    Path::from(format!("index/changes/{target}"))
}

pub fn change_index(target: &str, run: &RunId) -> Path {
    Path::from(format!("index/changes/{target}/{run}.json"))
}

pub fn policy_file(bundle_digest: &str, relative: &str) -> Path {
    Path::from(format!("policies/{bundle_digest}/{relative}"))
}

/// A report page: `relative` is the page's path under the store root, e.g.
/// `reports/index.html`.
pub fn report(relative: &str) -> Path {
    Path::from(relative)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_paths_are_dated_and_reversible() {
        let id = RunId("20261125T161500Z-3f9a".into());
        let p = run(&id);
        assert_eq!(p.as_ref(), "runs/2026/11/25/20261125T161500Z-3f9a.json");
        assert_eq!(run_id_of(&p), Some(id));
        assert_eq!(run(&RunId("x".into())).as_ref(), "runs/undated/x.json");
    }

    #[test]
    fn lease_paths_name_the_slot_and_shard() {
        let at = DateTime::parse_from_rfc3339("2026-11-25T16:15:00Z").unwrap().to_utc();
        let mut slot = Slot { schedule: "service".into(), at, shard: None };
        assert_eq!(lease(&slot).as_ref(), "leases/service/20261125T161500Z.json");
        slot.shard = Some(crate::run::Shard { index: 1, count: 3 });
        let p = lease(&slot);
        assert_eq!(p.as_ref(), "leases/service/20261125T161500Z-shard-1-of-3.json");
        assert_eq!(lease_time_of(&p), Some(at));
        assert_eq!(lease_time_of(&Path::from("runs/x/20261125T161500Z.json")), None);
    }

    #[test]
    fn snapshot_path() {
        let p = snapshot("orders-primary", &Digest("ab".into()));
        assert_eq!(p.as_ref(), "snapshots/orders-primary/ab.json");
    }
}
