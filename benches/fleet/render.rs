//! Report rendering in process: the newest run of a benchmark store, its history and
//! snapshots read back, then `driftwatch::report::render` timed on its own.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use driftwatch::audit::REPORT_HISTORY;
use driftwatch::config::StoreLocation;
use driftwatch::report::{self, ReportInput};
use driftwatch::store::Store;

pub struct Rendered {
    pub targets: usize,
    pub history: usize,
    pub pages: usize,
    pub bytes: usize,
    /// Median over the repetitions.
    pub time: Duration,
}

/// Renders the newest run in `store_dir` `reps` times.
pub fn time_render(store_dir: &Path, reps: usize) -> Rendered {
    let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    let (runs, snapshots) = rt.block_on(async {
        let store = Store::open(&StoreLocation::Local(store_dir.to_owned())).expect("store");
        let runs = store.recent_runs(REPORT_HISTORY + 1).await.expect("runs");
        let mut snapshots = BTreeMap::new();
        for t in &runs[0].targets {
            if let Some(d) = &t.snapshot {
                snapshots
                    .insert(t.name.clone(), store.get_snapshot(&t.name, d).await.expect("snap"));
            }
        }
        (runs, snapshots)
    });
    let (run, history) = runs.split_first().expect("the store holds a run");
    let input = ReportInput { run, history, snapshots: &snapshots };
    let mut times = Vec::new();
    let mut pages = Vec::new();
    for _ in 0..reps.max(1) {
        let start = Instant::now();
        pages = report::render(&input).expect("render");
        times.push(start.elapsed());
    }
    times.sort();
    Rendered {
        targets: run.targets.len(),
        history: history.len(),
        pages: pages.len(),
        bytes: pages.iter().map(|p| p.html.len()).sum(),
        time: times[times.len() / 2],
    }
}
