//! Timing a child process: wall clock, its own user+sys CPU and peak RSS (from
//! `wait4`'s `rusage`, so nothing else running on the machine is counted), medians.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// One run of one command.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    pub wall: Duration,
    pub cpu: Duration,
    /// Peak resident set size of the child, bytes.
    pub max_rss: u64,
    pub code: i32,
}

/// Runs `cmd` (stdout and stderr discarded) and measures it.
pub fn run(cmd: &mut Command) -> Sample {
    cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
    measure(cmd)
}

/// Like [`run_ok`], with the child's stderr (its logs) written to `log`.
pub fn run_logged(cmd: &mut Command, log: &Path) -> Sample {
    let file = std::fs::File::create(log).expect("create the log file");
    cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(file);
    let s = measure(cmd);
    assert_eq!(s.code, 0, "{cmd:?} failed; its log: {}", log.display());
    s
}

/// The fields of the last log line of `log` holding `message` (`key=value`, tracing's
/// text format), by key.
pub fn log_fields(log: &Path, message: &str) -> std::collections::BTreeMap<String, u64> {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let Some(line) = text.lines().rev().find(|l| l.contains(message)) else {
        return Default::default();
    };
    line.split_whitespace()
        .filter_map(|kv| kv.split_once('='))
        .filter_map(|(k, v)| Some((k.to_owned(), v.parse().ok()?)))
        .collect()
}

fn measure(cmd: &mut Command) -> Sample {
    let start = Instant::now();
    // Reaped by `wait4` below, which also reports the child's own CPU time and RSS.
    #[allow(clippy::zombie_processes)]
    let child = cmd.spawn().unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
    let pid = child.id() as libc::pid_t;
    let mut status: libc::c_int = 0;
    // SAFETY: a zeroed rusage is a valid value for wait4 to fill in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `pid` is our own child, not yet reaped (we never call `Child::wait`).
    let got = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let wall = start.elapsed();
    assert_eq!(got, pid, "wait4 on {cmd:?} failed: {}", std::io::Error::last_os_error());
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    let code = if libc::WIFEXITED(status) { libc::WEXITSTATUS(status) } else { -1 };
    Sample {
        wall,
        cpu: tv(usage.ru_utime) + tv(usage.ru_stime),
        max_rss: usage.ru_maxrss as u64 * 1024,
        code,
    }
}

/// Runs `cmd` and insists that it exits with one of `ok` codes, printing its
/// output when it does not.
pub fn run_ok(cmd: &mut Command, ok: &[i32]) -> Sample {
    let s = run(cmd);
    if !ok.contains(&s.code) {
        let out = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).output();
        let text = out.map(|o| {
            format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
        });
        panic!("{cmd:?} exited with {}; again, it said:\n{}", s.code, text.unwrap_or_default());
    }
    s
}

/// The median of each field over `samples` (independently).
pub fn median(samples: &[Sample]) -> Sample {
    assert!(!samples.is_empty(), "no samples");
    fn mid<T: Ord + Copy>(mut v: Vec<T>) -> T {
        v.sort();
        v[v.len() / 2]
    }
    Sample {
        wall: mid(samples.iter().map(|s| s.wall).collect()),
        cpu: mid(samples.iter().map(|s| s.cpu).collect()),
        max_rss: mid(samples.iter().map(|s| s.max_rss).collect()),
        code: samples[0].code,
    }
}

/// Total size of the regular files below `dir` (0 when it does not exist), split into
/// (history = everything but `reports/`, reports).
pub fn store_bytes(dir: &Path) -> (u64, u64) {
    fn walk(dir: &Path, total: &mut u64) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for e in entries.flatten() {
            let Ok(meta) = e.metadata() else { continue };
            if meta.is_dir() {
                walk(&e.path(), total);
            } else {
                *total += meta.len();
            }
        }
    }
    let (mut all, mut reports) = (0, 0);
    walk(dir, &mut all);
    walk(&dir.join("reports"), &mut reports);
    (all - reports, reports)
}

/// The load average over the last minute, for the machine notes.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".to_owned())
}

pub fn ms(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms >= 100.0 { format!("{ms:.0} ms") } else { format!("{ms:.1} ms") }
}

pub fn mb(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}
