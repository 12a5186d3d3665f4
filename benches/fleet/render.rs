//! Report rendering in process: the newest run of a benchmark store, its history and
//! snapshots read back, then the pages an audit publishes rendered on one thread and
//! timed on their own: the index, the run's own page, every target and group page
//! (earlier run pages are left as written). The audit itself renders target and group
//! pages on every core; `RUST_LOG=driftwatch=debug` shows its timings.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::{Duration, Instant};

use driftwatch::audit::REPORT_HISTORY;
use driftwatch::report::Renderer;
use driftwatch::store::Store;
use driftwatch::store::StoreLocation;

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
        // As publishing reads them: the run whole, earlier ones outlined.
        let newest = store.list_runs().await.expect("runs").pop().expect("a run");
        let mut runs = vec![store.get_run(&newest).await.expect("run")];
        runs.extend(
            store
                .recent_runs_outlined(REPORT_HISTORY, &newest, driftwatch::report::is_event_key)
                .await
                .expect("runs"),
        );
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
    let renderer = Renderer::new().expect("templates");
    let mut times = Vec::new();
    let (mut pages, mut bytes) = (0, 0);
    for _ in 0..reps.max(1) {
        let start = Instant::now();
        let prepared = renderer.prepare(run, history, &snapshots);
        // Earlier runs' pages count as written, as they are in the store.
        let written: BTreeSet<String> =
            history.iter().map(|r| format!("runs/{}.html", r.run_id)).collect();
        let mut rendered = vec![prepared.index_page().expect("index")];
        rendered.extend(prepared.unwritten_run_pages(&written).map(|p| p.expect("run page")));
        for t in prepared.targets() {
            rendered.push(prepared.target_page(t, snapshots.get(&t.name)).expect("target"));
        }
        for (g, _) in prepared.groups() {
            rendered.push(prepared.group_page(g, &snapshots).expect("group"));
        }
        times.push(start.elapsed());
        pages = rendered.len();
        bytes = rendered.iter().map(|p| p.html.len()).sum();
    }
    times.sort();
    Rendered {
        targets: run.targets.len(),
        history: history.len(),
        pages,
        bytes,
        time: times[times.len() / 2],
    }
}
