//! Differential tests: `check` against the real engines on this machine.
//!
//! Each case is a small set of files and the engine rule it holds (with where the
//! engine's documentation or source states it). The harness gives the files to the real
//! engine — started on them with its own data directory, socket or network namespace
//! and port, listening on nothing anyone else uses — and reads what it runs with
//! (`pg_settings`, `SHOW GLOBAL VARIABLES`, `CONFIG GET *`, `stats settings`). It gives
//! the same files to `check`'s reader (`conffile::read`) and compares: whether the file
//! is refused at all, at which line, and value by value every setting either side
//! reports (defaults included), except the few the harness itself sets to start the
//! server. Every disagreement of every case is collected; the test fails listing them.
//!
//! One test per engine runs its cases one after the other on one prepared data
//! directory (PostgreSQL: one `initdb`, MariaDB: one `mariadb-install-db`); Redis and
//! memcached start in milliseconds, each in its own network namespace (`unshare -n`),
//! so the files run exactly as written. `parity` runs every shipped rule over a
//! snapshot read from a file and over the live snapshot of a server started on it.

mod mariadb;
mod memcached;
mod netns;
mod parity;
mod pgbouncer;
mod postgres;
mod redis;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use driftwatch::collect::conffile::{self, RealFiles};
use driftwatch::snapshot::Kind;

/// One differential case.
pub struct Case {
    pub name: &'static str,
    /// The engine rule the case holds, and the document or source that states it.
    pub rule: &'static str,
    /// (path relative to the case folder, text); the first is the file the engine is
    /// started on. `{dir}` in a text is the case folder.
    pub files: &'static [(&'static str, &'static str)],
    /// Where the engine refuses the files when its refusal names no line: (file, line).
    pub refused_at: Option<(&'static str, usize)>,
}

impl Case {
    pub const fn new(
        name: &'static str,
        rule: &'static str,
        files: &'static [(&'static str, &'static str)],
    ) -> Case {
        Case { name, rule, files, refused_at: None }
    }

    pub const fn refused_at(mut self, file: &'static str, line: usize) -> Case {
        self.refused_at = Some((file, line));
        self
    }
}

/// What the engine did with a case's files.
#[derive(Debug)]
pub enum Engine {
    /// It ran: every setting it reports, name → value.
    Runs(BTreeMap<String, String>),
    /// It refused to start: its message, and the place when it names one (a file it
    /// names, or `None` when it gives only a line number).
    Refuses { message: String, at: Option<(Option<PathBuf>, usize)> },
}

/// The case's files written to a fresh folder readable by `owner` (a system user the
/// engine runs as), and the folder.
pub fn write_case(case: &Case, owner: Option<&str>) -> (tempfile::TempDir, PathBuf) {
    let dir =
        tempfile::Builder::new().prefix("driftwatch-differential-").tempdir().expect("temp dir");
    let root = dir.path().to_owned();
    set_mode(&root, 0o755);
    for (rel, text) in case.files {
        let path = root.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("case folder");
            set_mode(parent, 0o755);
        }
        std::fs::write(&path, text.replace("{dir}", &root.display().to_string()))
            .expect("case file");
        set_mode(&path, 0o644);
    }
    if let Some(user) = owner {
        chown_tree(&root, user);
    }
    let main = root.join(case.files[0].0);
    (dir, main)
}

pub fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt as _;
    let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode));
}

/// (uid, gid) of a system user, or a failure naming it.
#[track_caller]
pub fn user_ids(user: &str) -> (u32, u32) {
    let name = std::ffi::CString::new(user).expect("user name");
    // SAFETY: getpwnam reads a NUL-terminated name and returns a pointer into static
    // storage (or null), which is read at once.
    let pw = unsafe { libc::getpwnam(name.as_ptr()) };
    assert!(!pw.is_null(), "no system user `{user}`: install the engine's Debian package");
    // SAFETY: pw is non-null and points at a passwd record.
    unsafe { ((*pw).pw_uid, (*pw).pw_gid) }
}

pub fn chown_tree(path: &Path, user: &str) {
    let (uid, gid) = user_ids(user);
    for entry in walk(path) {
        let _ = std::os::unix::fs::chown(&entry, Some(uid), Some(gid));
    }
}

fn walk(path: &Path) -> Vec<PathBuf> {
    let mut out = vec![path.to_owned()];
    if path.is_dir()
        && let Ok(entries) = std::fs::read_dir(path)
    {
        for e in entries.flatten() {
            out.extend(walk(&e.path()));
        }
    }
    out
}

/// Fails naming the package when an engine binary is missing.
#[track_caller]
pub fn require_binary(path: &str, how: &str) {
    assert!(Path::new(path).exists(), "{path} is missing: {how}");
}

/// A port nothing listens on now (the engine binds it right after).
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// A process this test started in a process group of its own (`process_group(0)`):
/// the group is killed (and the process waited for) when dropped, so whatever it
/// started (a shell's child) goes with it.
pub struct Child(pub std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        // SAFETY: killpg on the process group our own child leads.
        unsafe {
            libc::killpg(self.0.id() as i32, libc::SIGKILL);
        }
        let _ = self.0.wait();
    }
}

impl Child {
    /// Asks the process group to stop with `signal` and waits for the process.
    pub fn stop(mut self, signal: i32) {
        // SAFETY: killpg on the process group our own child leads.
        unsafe {
            libc::killpg(self.0.id() as i32, signal);
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while std::time::Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    pub fn exited(&mut self) -> bool {
        matches!(self.0.try_wait(), Ok(Some(_)))
    }
}

/// How the harness compares one engine.
pub struct Rules {
    pub kind: Kind,
    /// Settings the harness sets itself to start the server (or that follow from
    /// them): not compared.
    pub harness: &'static [&'static str],
}

/// Runs every case with `engine` and compares; fails listing every disagreement.
pub fn run(
    rules: &Rules,
    cases: &[Case],
    mut engine: impl FnMut(&Case, &Path) -> Engine,
    owner: Option<&str>,
) {
    assert!(cases.len() >= 25, "{}: only {} cases", rules.kind, cases.len());
    let mut disagreements = Vec::new();
    for case in cases {
        let (_dir, main) = write_case(case, owner);
        let said = engine(case, &main);
        // DRIFTWATCH_DIFFERENTIAL_TRACE=1 shows what each engine did.
        if std::env::var_os("DRIFTWATCH_DIFFERENTIAL_TRACE").is_some() {
            match &said {
                Engine::Runs(v) => {
                    eprintln!("{} `{}`: runs ({} settings)", rules.kind, case.name, v.len())
                }
                Engine::Refuses { message, at } => {
                    eprintln!("{} `{}`: refuses at {at:?}: {message}", rules.kind, case.name)
                }
            }
        }
        let read = conffile::read(rules.kind, std::slice::from_ref(&main), &RealFiles);
        let root = main.parent().unwrap_or(Path::new("/")).to_owned();
        for d in compare(rules, case, &root, &said, &read) {
            disagreements.push(format!("{} `{}` ({}): {d}", rules.kind, case.name, case.rule));
        }
    }
    assert!(
        disagreements.is_empty(),
        "{} disagreement(s) between check and the real {}:\n  {}",
        disagreements.len(),
        rules.kind,
        disagreements.join("\n  ")
    );
}

fn compare(
    rules: &Rules,
    case: &Case,
    root: &Path,
    engine: &Engine,
    read: &Result<conffile::Read, driftwatch::diagnostic::Diagnostics>,
) -> Vec<String> {
    let rel = |p: &Path| {
        p.strip_prefix(root).map_or_else(|_| p.display().to_string(), |r| r.display().to_string())
    };
    match (engine, read) {
        (Engine::Runs(_), Err(d)) => {
            vec![format!("the engine runs with the files; check refuses them:\n    {d}")]
        }
        (Engine::Refuses { message, .. }, Ok(_)) => {
            vec![format!("the engine refuses the files ({message}); check accepts them")]
        }
        (Engine::Refuses { message, at }, Err(d)) => {
            let first = &d.0[0];
            let (check_file, check_line) = (rel(&first.file), first.line);
            let expected = match at {
                Some((file, line)) => Some((file.as_ref().map(|f| rel(f)), *line)),
                None => case.refused_at.map(|(f, l)| (Some(f.to_owned()), l)),
            };
            match expected {
                None => vec![format!(
                    "the engine refuses the files without naming a line ({message}); the case must say where (check says {check_file}:{check_line})"
                )],
                Some((file, line))
                    if line != check_line || file.as_ref().is_some_and(|f| *f != check_file) =>
                {
                    vec![format!(
                        "the engine refuses at {}:{line} ({message}); check at {check_file}:{check_line} ({})",
                        file.unwrap_or_else(|| "?".into()),
                        first.message
                    )]
                }
                Some(_) => Vec::new(),
            }
        }
        (Engine::Runs(live), Ok(read)) => {
            let fixed: BTreeSet<&str> = conffile::defaults(rules.kind)
                .iter()
                .filter(|(_, d)| d.fixed)
                .map(|(k, _)| k.as_str())
                .collect();
            let mut out = Vec::new();
            let parsed: BTreeMap<&str, &str> = read
                .config
                .iter()
                .filter_map(|(k, e)| Some((k.strip_prefix("setting.")?, e.value.as_str())))
                .collect();
            let names: BTreeSet<&str> =
                parsed.keys().copied().chain(live.keys().map(String::as_str)).collect();
            for name in names {
                if rules.harness.contains(&name) {
                    continue;
                }
                match (parsed.get(name), live.get(name)) {
                    (Some(c), Some(e)) if c == e => {}
                    (Some(c), Some(e)) => {
                        out.push(format!("{name}: check says {c:?}, the engine {e:?}"))
                    }
                    (None, Some(_)) if fixed.contains(name) => {}
                    (None, Some(e)) => {
                        out.push(format!("{name}: the engine says {e:?}, check has nothing"))
                    }
                    (Some(c), None) => out
                        .push(format!("{name}: check says {c:?}, the engine has no such setting")),
                    (None, None) => {}
                }
            }
            out
        }
    }
}

/// The file and line an engine's message names: PostgreSQL's `in file "F" line N`,
/// MariaDB's `in config file: F at line: N` (or `F at line N`).
pub fn located(message: &str) -> Option<(Option<PathBuf>, usize)> {
    let patterns = [r#"in file "([^"]+)" line (\d+)"#, r#"config file: (\S+) at line:? (\d+)"#];
    patterns.iter().find_map(|p| {
        let caps = regex::Regex::new(p).expect("regex").captures(message)?;
        let line = caps.get(2)?.as_str().parse().ok()?;
        Some((caps.get(1).map(|m| PathBuf::from(m.as_str())), line))
    })
}
