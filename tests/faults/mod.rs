//! Faults and hostile servers (issue 18): Redis servers that name a FIFO, `/dev/zero`
//! or another target's secret as their configuration file, a 50 MB reply, a store on
//! a full disk, kills while publishing, a store that loses writes. Each test checks
//! what was committed, what a reader sees, and that memory stayed bounded.

mod big_reply;
mod full_disk;
mod lost_writes;
mod publish_kill;
mod redis_file;

use std::io::Read as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How a child process ended, what it printed, and its peak memory.
pub struct Measured {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    /// Peak resident set size (`VmHWM`), KiB.
    pub max_rss_kib: u64,
}

/// Runs `cmd` to its end and measures its peak RSS: `VmHWM` of `/proc/<pid>/status`,
/// read every 10 ms once the process runs the program (`ru_maxrss` would count the
/// test process's pages the child had before `exec`). `VmHWM` only grows, so the last
/// reading is the peak unless it came in the last 10 ms of the process's life, after
/// the run was published. `hang_guard` only stops a test from waiting forever on a
/// hung process (it then fails, naming the guard); it is no speed check.
#[track_caller]
// The child is reaped with `waitpid` (polled beside its memory), not `Child::wait`.
#[allow(clippy::zombie_processes)]
pub fn run_measured(cmd: &mut Command, hang_guard: Duration) -> Measured {
    let mut child =
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("start the process");
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let stdout = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let stderr = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let pid = child.id() as libc::pid_t;
    let program = std::fs::canonicalize(cmd.get_program()).unwrap();
    let started = Instant::now();
    let mut max_rss_kib = 0;
    let status = loop {
        if let Some(kib) = high_water_mark(pid, &program) {
            max_rss_kib = max_rss_kib.max(kib);
        }
        let mut status = 0;
        let rc = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        assert!(rc >= 0, "waitpid failed");
        if rc == pid {
            break status;
        }
        if started.elapsed() > hang_guard {
            unsafe { libc::kill(pid, libc::SIGKILL) };
            panic!("the process still ran after {hang_guard:?} (hung?)");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    assert!(max_rss_kib > 0, "the process ended before its memory could be read");
    let code = libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
    Measured { code, stdout: stdout.join().unwrap(), stderr: stderr.join().unwrap(), max_rss_kib }
}

/// `VmHWM` of `pid`, KiB, once it runs `program` (not before its `exec`).
fn high_water_mark(pid: libc::pid_t, program: &std::path::Path) -> Option<u64> {
    let exe = std::fs::read_link(format!("/proc/{pid}/exe")).ok()?;
    if exe != program {
        return None;
    }
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// `driftwatch <args> --config <config>` with debug logs.
pub fn driftwatch(config: &std::path::Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_driftwatch"));
    cmd.args(args).arg("--config").arg(config).env("RUST_LOG", "debug");
    cmd
}

/// Pages reachable from `reports/index.html` (following relative links) that link to a
/// page that does not exist, as `<page> -> <href>`: what a reader who starts at the
/// index can run into. Anchors are not checked here (pages are rewritten one at a
/// time; see `Workspace::broken_report_links` for the full check of a finished run).
pub fn unreachable_links(store: &std::path::Path) -> Vec<String> {
    let reports = store.join("reports");
    let href = regex::Regex::new(r##"\shref="([^"#]*)[^"]*""##).unwrap();
    let mut broken = std::collections::BTreeSet::new();
    let mut seen = std::collections::BTreeSet::new();
    let mut todo = vec![reports.join("index.html")];
    while let Some(page) = todo.pop() {
        if !seen.insert(page.clone()) {
            continue;
        }
        let Ok(html) = std::fs::read_to_string(&page) else {
            // Only the index may be missing (before a first publish finished).
            assert!(seen.len() == 1, "{} was reached but is missing", page.display());
            continue;
        };
        for c in href.captures_iter(&html) {
            let file = c[1].replace("&amp;", "&");
            if file.is_empty() || file.contains("://") || file.starts_with("mailto:") {
                continue;
            }
            let target = normalize(&page.parent().unwrap().join(&file));
            if target.is_file() {
                if target.extension().is_some_and(|e| e == "html") {
                    todo.push(target);
                }
            } else {
                let shown = page.strip_prefix(&reports).unwrap_or(&page).display().to_string();
                broken.insert(format!("{shown} -> {file}"));
            }
        }
    }
    broken.into_iter().collect()
}

fn normalize(path: &std::path::Path) -> std::path::PathBuf {
    let mut out = std::path::PathBuf::new();
    for part in path.components() {
        match part {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// Temporary files of interrupted writes (`<object>#<n>`) under `store`.
pub fn temporary_files(store: &std::path::Path) -> Vec<std::path::PathBuf> {
    fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
                n.rsplit_once('#').is_some_and(|(_, d)| d.bytes().all(|b| b.is_ascii_digit()))
            }) {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    walk(store, &mut out);
    out
}
