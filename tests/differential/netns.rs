//! Servers started in a network namespace of their own (`unshare -n`, loopback up), so
//! a file's `port`, `bind` and `-l` are used exactly as written without meeting the
//! machine's own servers; the harness talks to them from a thread that joins the same
//! namespace (`setns`).

use std::os::unix::process::CommandExt as _;
use std::path::Path;
use std::process::{Command, Stdio};

use super::Child;

/// Starts `program args…` in a new network namespace, with stdout and stderr to `log`,
/// working in `cwd`.
pub fn spawn(program: &str, args: &[&str], log: &Path, cwd: &Path) -> Child {
    super::require_binary("/usr/bin/unshare", "install util-linux");
    let out = std::fs::File::create(log).expect("log file");
    let err = out.try_clone().expect("log file");
    let child = Command::new("/usr/bin/unshare")
        .args(["-n", "/bin/sh", "-c", "ip link set lo up && exec \"$@\"", "sh", program])
        .args(args)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .process_group(0)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {program} in a network namespace: {e}"));
    Child(child)
}

/// Runs `f` on a thread inside the network namespace of process `pid`.
pub fn within<T: Send + 'static>(pid: u32, f: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    std::thread::spawn(move || {
        let path = format!("/proc/{pid}/ns/net");
        // Until `unshare` has made its namespace, the child is still in ours: never
        // talk to the machine's own servers by mistake.
        let theirs = std::fs::read_link(&path).ok()?;
        if std::fs::read_link("/proc/self/ns/net").ok()? == theirs {
            return None;
        }
        let file = std::fs::File::open(&path).ok()?;
        use std::os::fd::AsRawFd as _;
        // SAFETY: setns on a namespace file descriptor we hold open; it changes only
        // this thread's network namespace.
        let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
        if rc != 0 {
            return None;
        }
        Some(f())
    })
    .join()
    .ok()
    .flatten()
}

/// Polls `ready` inside the namespace of `child` until it answers, the child exits, or
/// 20 s pass; `Some` with its answer, `None` when the child exited first.
pub fn wait_for<T: Send + 'static>(
    child: &mut Child,
    ready: impl Fn() -> Option<T> + Send + Sync + Clone + 'static,
) -> Option<T> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        // The shell has exec'd the server once it no longer shows as `sh`.
        let pid = child.0.id();
        let r = ready.clone();
        if let Some(Some(answer)) = within(pid, r) {
            return Some(answer);
        }
        if child.exited() {
            return None;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the server neither answered nor exited in 20 s"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}
