//! The invariants a grep can check, checked (rust-analyzer's tidy tests): the source
//! read as text, never compiled. ARCHITECTURE.md's "Invariants" lists them:
//!
//! - only `store` imports `object_store`;
//! - collectors and parsers (`collect/`, with the configuration-file readers in
//!   `collect/conffile/`, and `engine/`) import nothing from `policy`, `store`, `report`;
//! - `report` imports nothing from `policy` (`audit` passes what a policy set declares);
//! - `policy` and `report` do no I/O and read no clock (no `std::fs`, `tokio::fs`,
//!   `std::net`, `tokio::net`, `std::io`, `tokio::io`, threads, processes,
//!   environment, `reqwest`, `…::now()`);
//! - only `schedule` knows cron and signals (`tokio_cron_scheduler`, `tokio::signal`);
//! - no import cycle between top-level modules;
//! - every `src` module opens with a `//!` doc;
//! - every relative link in `README.md`, `ARCHITECTURE.md` and `docs/*.md` resolves
//!   (the file, and the heading when it points into a Markdown file).
//!
//! Each rule is a function of a [`Tree`], so each test below plants a violation in a
//! tree held in memory and sees the rule report it. Test-only code (`#[cfg(test)]`
//! items and the modules they declare) is exempt from the layering rules, not from
//! the `object_store` one. A rule that must allow something lists it in its
//! allow-list with the reason.

mod links;
mod rust;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use rust::Parsed;

/// The files the rules read: `src/**/*.rs` and the Markdown pages, by path from the
/// repository root, `/`-separated.
pub struct Tree {
    files: BTreeMap<String, String>,
    /// Where other files (link targets) are looked up; `None` for a planted tree.
    disk: Option<PathBuf>,
}

impl Tree {
    /// The repository this test runs in.
    fn repo() -> &'static Tree {
        static REPO: LazyLock<Tree> = LazyLock::new(|| {
            let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
            let mut files = BTreeMap::new();
            let mut rs = Vec::new();
            walk(&root.join("src"), &mut rs);
            for name in ["README.md", "ARCHITECTURE.md"] {
                rs.push(root.join(name));
            }
            for entry in std::fs::read_dir(root.join("docs")).expect("docs/") {
                let path = entry.unwrap().path();
                if path.extension().is_some_and(|e| e == "md") {
                    rs.push(path);
                }
            }
            for path in rs {
                let text = std::fs::read_to_string(&path)
                    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                files.insert(relative(&root, &path), text);
            }
            Tree { files, disk: Some(root) }
        });
        &REPO
    }

    /// A planted tree: these files and nothing else.
    fn planted(files: &[(&str, &str)]) -> Tree {
        Tree {
            files: files.iter().map(|(p, t)| (p.to_string(), t.to_string())).collect(),
            disk: None,
        }
    }

    fn exists(&self, path: &str) -> bool {
        if self.files.contains_key(path) {
            return true;
        }
        match &self.disk {
            Some(root) => root.join(path).exists(),
            None => {
                let dir = format!("{}/", path.trim_end_matches('/'));
                self.files.keys().any(|p| p.starts_with(&dir))
            }
        }
    }

    fn read(&self, path: &str) -> Option<String> {
        match self.files.get(path) {
            Some(text) => Some(text.clone()),
            None => std::fs::read_to_string(self.disk.as_ref()?.join(path)).ok(),
        }
    }
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.is_dir() {
            walk(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn relative(root: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap();
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

/// The library (`src/lib.rs`) or the binary (`src/main.rs`, `src/cli/`).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Krate {
    Lib,
    Bin,
}

/// One module file, reached from its crate root through `mod` declarations.
struct Module {
    krate: Krate,
    /// Its path in the crate: `["collect", "pending"]`; empty for a crate root.
    path: Vec<String>,
    file: String,
    /// Declared under `#[cfg(test)]` (itself or an ancestor).
    test: bool,
    parsed: Parsed,
}

impl Module {
    fn top(&self) -> Option<&str> {
        self.path.first().map(String::as_str)
    }

    /// `segments` as an absolute path in the library, when it names something there.
    fn resolve(&self, segments: &[String]) -> Option<Vec<String>> {
        let first = segments.first()?.as_str();
        match (first, self.krate) {
            ("crate", Krate::Lib) => Some(segments[1..].to_vec()),
            ("driftwatch", Krate::Bin) => Some(segments[1..].to_vec()),
            ("self", Krate::Lib) => Some(self.path.iter().chain(&segments[1..]).cloned().collect()),
            ("super", Krate::Lib) => {
                let ups = segments.iter().take_while(|s| *s == "super").count();
                let base = self.path.len().checked_sub(ups)?;
                Some(self.path[..base].iter().chain(&segments[ups..]).cloned().collect())
            }
            _ => None,
        }
    }
}

fn modules(tree: &Tree) -> Vec<Module> {
    let mut out = Vec::new();
    for (krate, root) in [(Krate::Lib, "src/lib.rs"), (Krate::Bin, "src/main.rs")] {
        if tree.files.contains_key(root) {
            visit(tree, krate, Vec::new(), root.to_string(), false, &mut out);
        }
    }
    out
}

fn visit(
    tree: &Tree,
    krate: Krate,
    path: Vec<String>,
    file: String,
    test: bool,
    out: &mut Vec<Module>,
) {
    let parsed = rust::parse(&tree.files[&file]);
    let dir = match file.rsplit_once('/') {
        Some((dir, "lib.rs" | "main.rs" | "mod.rs")) => dir.to_string(),
        _ => file.trim_end_matches(".rs").to_string(),
    };
    for decl in &parsed.mods {
        let flat = format!("{dir}/{}.rs", decl.name);
        let nested = format!("{dir}/{}/mod.rs", decl.name);
        let child = [flat, nested].into_iter().find(|f| tree.files.contains_key(f));
        if let Some(child) = child {
            let mut child_path = path.clone();
            child_path.push(decl.name.clone());
            visit(tree, krate, child_path, child, test || decl.test, out);
        }
    }
    out.push(Module { krate, path, file, test, parsed });
}

// ---------------------------------------------------------------------------------
// The rules. Each returns its violations as `file:line: message`, sorted.

/// Only `store` imports `object_store` (test code included).
fn only_store_imports_object_store(tree: &Tree) -> Vec<String> {
    let mut out = Vec::new();
    for m in modules(tree) {
        if m.krate == Krate::Lib && m.top() == Some("store") {
            continue;
        }
        for p in &m.parsed.paths {
            if p.segments[0] == "object_store" && (p.segments.len() > 1 || p.in_use) {
                out.push(format!(
                    "{}:{}: uses `{}`: only `store` imports object_store",
                    m.file,
                    p.line,
                    p.segments.join("::")
                ));
            }
        }
    }
    out.sort();
    out
}

/// The modules that read what servers and files say, and what they may not import.
const READERS: &[&str] = &["collect", "engine"];
const NOT_FOR_READERS: &[&str] = &["policy", "store", "report"];

/// Collectors and parsers import nothing from `policy`, `store`, `report`.
fn readers_import_no_policy_store_report(tree: &Tree) -> Vec<String> {
    let mut out = Vec::new();
    for m in modules(tree) {
        if m.krate != Krate::Lib || m.test || !m.top().is_some_and(|t| READERS.contains(&t)) {
            continue;
        }
        for p in m.parsed.paths.iter().filter(|p| !p.test) {
            if let Some(abs) = m.resolve(&p.segments)
                && abs.first().is_some_and(|t| NOT_FOR_READERS.contains(&t.as_str()))
            {
                out.push(format!(
                    "{}:{}: `{}` uses `{}`: collectors and parsers import nothing from policy, store, report",
                    m.file,
                    p.line,
                    m.top().unwrap(),
                    abs.join("::")
                ));
            }
        }
    }
    out.sort();
    out
}

const PURE: &[&str] = &["policy", "report"];
/// Path prefixes that do I/O.
const IO: &[&[&str]] = &[
    &["std", "fs"],
    &["std", "net"],
    &["std", "process"],
    &["std", "env"],
    &["tokio", "fs"],
    &["tokio", "net"],
    &["tokio", "process"],
    &["std", "io"],
    &["tokio", "io"],
    &["std", "thread"],
    &["reqwest"],
    &["object_store"],
];
/// Types whose `now()` reads the clock.
const CLOCKS: &[&str] = &["SystemTime", "Instant", "Utc", "Local"];

/// `policy` and `report` do no I/O and read no clock.
fn pure_modules_do_no_io(tree: &Tree) -> Vec<String> {
    let mut out = Vec::new();
    for m in modules(tree) {
        if m.krate != Krate::Lib || m.test || !m.top().is_some_and(|t| PURE.contains(&t)) {
            continue;
        }
        for p in m.parsed.paths.iter().filter(|p| !p.test) {
            let s = &p.segments;
            let io =
                IO.iter().any(|prefix| s.len() >= prefix.len() && s[..prefix.len()] == **prefix);
            let clock = s.len() >= 2
                && s[s.len() - 1] == "now"
                && CLOCKS.contains(&s[s.len() - 2].as_str());
            if io || clock {
                out.push(format!(
                    "{}:{}: `{}` uses `{}`: policy and report do no I/O and read no clock",
                    m.file,
                    p.line,
                    m.top().unwrap(),
                    s.join("::")
                ));
            }
        }
    }
    out.sort();
    out
}

/// `report` imports nothing from `policy`: `audit` passes what the run's policy set
/// declares (the expected differences), so reports render from data alone.
fn report_imports_no_policy(tree: &Tree) -> Vec<String> {
    let mut out = Vec::new();
    for m in modules(tree) {
        if m.krate != Krate::Lib || m.test || m.top() != Some("report") {
            continue;
        }
        for p in m.parsed.paths.iter().filter(|p| !p.test) {
            if let Some(abs) = m.resolve(&p.segments)
                && abs.first().is_some_and(|t| t == "policy")
            {
                out.push(format!(
                    "{}:{}: `report` uses `{}`: report imports nothing from policy",
                    m.file,
                    p.line,
                    abs.join("::")
                ));
            }
        }
    }
    out.sort();
    out
}

/// Crates and paths that tick or catch signals.
const CRON_AND_SIGNALS: &[&[&str]] =
    &[&["tokio_cron_scheduler"], &["tokio", "signal"], &["signal_hook"], &["ctrlc"]];

/// Only `schedule` knows cron and signals: `audit` and `server` are told to stop.
fn only_schedule_knows_cron_and_signals(tree: &Tree) -> Vec<String> {
    let mut out = Vec::new();
    for m in modules(tree) {
        if m.test || (m.krate == Krate::Lib && m.top() == Some("schedule")) {
            continue;
        }
        for p in m.parsed.paths.iter().filter(|p| !p.test) {
            let s = &p.segments;
            if CRON_AND_SIGNALS
                .iter()
                .any(|prefix| s.len() >= prefix.len() && s[..prefix.len()] == **prefix)
            {
                out.push(format!(
                    "{}:{}: uses `{}`: only `schedule` knows cron and signals",
                    m.file,
                    p.line,
                    s.join("::")
                ));
            }
        }
    }
    out.sort();
    out
}

/// No import cycle between the library's top-level modules.
fn no_cycles_between_top_level_modules(tree: &Tree) -> Vec<String> {
    let mods = modules(tree);
    let tops: BTreeSet<String> = mods
        .iter()
        .filter(|m| m.krate == Krate::Lib && m.path.len() == 1)
        .map(|m| m.path[0].clone())
        .collect();
    // from → to → where (the first place that import is written).
    let mut edges: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for m in mods.iter().filter(|m| m.krate == Krate::Lib && !m.test) {
        let Some(from) = m.top() else { continue };
        for p in m.parsed.paths.iter().filter(|p| !p.test) {
            if let Some(to) = m.resolve(&p.segments).and_then(|abs| abs.first().cloned())
                && to != from
                && tops.contains(&to)
            {
                edges
                    .entry(from.to_string())
                    .or_default()
                    .entry(to)
                    .or_insert_with(|| format!("{}:{}", m.file, p.line));
            }
        }
    }
    let mut out = Vec::new();
    let mut reported: BTreeSet<BTreeSet<String>> = BTreeSet::new();
    for start in &tops {
        if let Some(cycle) = shortest_cycle(&edges, start) {
            let members: BTreeSet<String> = cycle.iter().cloned().collect();
            if !reported.insert(members) {
                continue;
            }
            let hops: Vec<String> = cycle
                .iter()
                .zip(cycle.iter().cycle().skip(1))
                .map(|(a, b)| format!("{a} → {b} ({})", edges[a][b]))
                .collect();
            out.push(format!("import cycle: {}", hops.join(", ")));
        }
    }
    out
}

/// The shortest path from `start` back to itself, as the nodes on it.
fn shortest_cycle(
    edges: &BTreeMap<String, BTreeMap<String, String>>,
    start: &str,
) -> Option<Vec<String>> {
    let mut parent: BTreeMap<String, String> = BTreeMap::new();
    let mut queue = std::collections::VecDeque::from([start.to_string()]);
    while let Some(node) = queue.pop_front() {
        for next in edges.get(&node).into_iter().flat_map(|e| e.keys()) {
            if next == start {
                let mut path = vec![node.clone()];
                while let Some(p) = parent.get(path.last().unwrap()) {
                    path.push(p.clone());
                }
                if path.last().map(String::as_str) != Some(start) {
                    path.push(start.to_string());
                }
                path.reverse();
                path.dedup();
                return Some(path);
            }
            if next != start && !parent.contains_key(next) {
                parent.insert(next.clone(), node.clone());
                queue.push_back(next.clone());
            }
        }
    }
    None
}

/// Every `src` module opens with a `//!` doc.
fn every_module_has_a_doc(tree: &Tree) -> Vec<String> {
    let mut out = Vec::new();
    for (path, text) in &tree.files {
        if !(path.starts_with("src/") && path.ends_with(".rs")) {
            continue;
        }
        let first = text.lines().map(str::trim).find(|l| !l.is_empty());
        if !first.is_some_and(|l| l.starts_with("//!")) {
            out.push(format!("{path}:1: no `//!` module doc at the top"));
        }
    }
    out
}

/// Every relative link in the Markdown pages resolves.
fn docs_links_resolve(tree: &Tree) -> Vec<String> {
    let pages: Vec<&String> = tree
        .files
        .keys()
        .filter(|p| {
            *p == "README.md"
                || *p == "ARCHITECTURE.md"
                || (p.starts_with("docs/") && p.ends_with(".md") && !p[5..].contains('/'))
        })
        .collect();
    let mut out = Vec::new();
    for page in pages {
        out.extend(links::check(tree, page));
    }
    out
}

// ---------------------------------------------------------------------------------
// On the repository.

#[track_caller]
fn assert_clean(rule: fn(&Tree) -> Vec<String>) {
    let found = rule(Tree::repo());
    assert!(found.is_empty(), "{} violation(s):\n{}", found.len(), found.join("\n"));
}

#[test]
fn repo_only_store_imports_object_store() {
    assert_clean(only_store_imports_object_store);
}

#[test]
fn repo_collectors_and_parsers_import_no_policy_store_report() {
    assert_clean(readers_import_no_policy_store_report);
}

#[test]
fn repo_policy_and_report_do_no_io() {
    assert_clean(pure_modules_do_no_io);
}

#[test]
fn repo_report_imports_no_policy() {
    assert_clean(report_imports_no_policy);
}

#[test]
fn repo_only_schedule_knows_cron_and_signals() {
    assert_clean(only_schedule_knows_cron_and_signals);
}

#[test]
fn repo_no_cycles_between_top_level_modules() {
    assert_clean(no_cycles_between_top_level_modules);
}

#[test]
fn repo_every_module_has_a_doc() {
    assert_clean(every_module_has_a_doc);
}

#[test]
fn repo_docs_links_resolve() {
    assert_clean(docs_links_resolve);
}

/// The rules read the real tree: they see its modules (a tree they could not walk
/// would pass every rule).
#[test]
fn repo_is_read() {
    let mods = modules(Tree::repo());
    for expected in
        ["src/store/mod.rs", "src/collect/pending.rs", "src/cli/mod.rs", "src/report/mod.rs"]
    {
        assert!(
            mods.iter().any(|m| m.file == expected),
            "{expected} not reached from lib.rs/main.rs"
        );
    }
    assert!(mods.iter().any(|m| m.test), "no #[cfg(test)] module found");
}

// ---------------------------------------------------------------------------------
// Planted violations: each rule sees one.

#[track_caller]
fn check(rule: fn(&Tree) -> Vec<String>, files: &[(&str, &str)], expect: &[&str]) {
    let found = rule(&Tree::planted(files));
    assert_eq!(found, expect, "found:\n{}", found.join("\n"));
}

const LIB: &str = "//! Crate.\npub mod collect;\npub mod engine;\npub mod policy;\npub mod report;\npub mod store;\n";

#[test]
fn planted_object_store_outside_store() {
    let files = [
        ("src/lib.rs", LIB),
        ("src/store/mod.rs", "//! Store.\nuse object_store::ObjectStore;\n"),
        (
            "src/report/mod.rs",
            "//! Report.\nuse std::fmt;\n\nfn f() { let _ = object_store::path::Path::from(\"x\"); }\n",
        ),
        ("src/main.rs", "//! Bin.\nmod cli;\n"),
        ("src/cli/mod.rs", "//! Cli.\nuse object_store;\n"),
        (
            "src/policy/mod.rs",
            "//! Policy.\n#[cfg(test)]\nmod tests {\n    use object_store::memory::InMemory;\n}\n",
        ),
    ];
    check(
        only_store_imports_object_store,
        &files,
        &[
            "src/cli/mod.rs:2: uses `object_store`: only `store` imports object_store",
            "src/policy/mod.rs:4: uses `object_store::memory::InMemory`: only `store` imports object_store",
            "src/report/mod.rs:4: uses `object_store::path::Path::from`: only `store` imports object_store",
        ],
    );
}

#[test]
fn planted_collector_imports_policy() {
    let files = [
        ("src/lib.rs", LIB),
        ("src/collect/mod.rs", "//! Collect.\npub mod conffile;\npub mod pending;\n"),
        (
            "src/collect/pending.rs",
            "//! Pending.\nuse crate::{snapshot::Entry, policy::rule::parse_bool};\n",
        ),
        ("src/collect/conffile/mod.rs", "//! Files.\nmod redis;\n"),
        (
            "src/collect/conffile/redis.rs",
            "//! Redis.\n// use crate::store::Store; (a comment)\nconst S: &str = \"crate::report::x\";\nfn f() { super::super::super::store::put(); }\n#[cfg(test)]\nmod tests { use crate::policy::PolicySet; }\n",
        ),
        ("src/engine/mod.rs", "//! Engine.\nfn f() -> crate::report::SettingIndex { todo!() }\n"),
    ];
    check(
        readers_import_no_policy_store_report,
        &files,
        &[
            "src/collect/conffile/redis.rs:4: `collect` uses `store::put`: collectors and parsers import nothing from policy, store, report",
            "src/collect/pending.rs:2: `collect` uses `policy::rule::parse_bool`: collectors and parsers import nothing from policy, store, report",
            "src/engine/mod.rs:2: `engine` uses `report::SettingIndex`: collectors and parsers import nothing from policy, store, report",
        ],
    );
}

#[test]
fn planted_io_in_policy_and_report() {
    let files = [
        ("src/lib.rs", LIB),
        ("src/policy/mod.rs", "//! Policy.\nmod load;\n#[cfg(test)]\nmod tests;\n"),
        (
            "src/policy/load.rs",
            "//! Load.\nuse std::{collections::BTreeMap, fs};\nfn f() { let _ = tokio::fs::read(\"x\"); }\n",
        ),
        ("src/policy/tests.rs", "//! Tests.\nuse std::fs;\n"),
        (
            "src/report/mod.rs",
            "//! Report.\nmod view;\nfn f() { let _ = Utc::now(); let _ = std::net::TcpStream::connect(\"x\"); }\n",
        ),
        (
            "src/report/view.rs",
            "//! View.\nuse std::io::Write;\nfn f() { std::thread::spawn(|| ()); }\n",
        ),
        ("src/collect/mod.rs", "//! Collect: may do I/O.\nuse std::fs;\n"),
    ];
    check(
        pure_modules_do_no_io,
        &files,
        &[
            "src/policy/load.rs:2: `policy` uses `std::fs`: policy and report do no I/O and read no clock",
            "src/policy/load.rs:3: `policy` uses `tokio::fs::read`: policy and report do no I/O and read no clock",
            "src/report/mod.rs:3: `report` uses `Utc::now`: policy and report do no I/O and read no clock",
            "src/report/mod.rs:3: `report` uses `std::net::TcpStream::connect`: policy and report do no I/O and read no clock",
            "src/report/view.rs:2: `report` uses `std::io::Write`: policy and report do no I/O and read no clock",
            "src/report/view.rs:3: `report` uses `std::thread::spawn`: policy and report do no I/O and read no clock",
        ],
    );
}

#[test]
fn planted_report_imports_policy() {
    let files = [
        ("src/lib.rs", LIB),
        (
            "src/report/mod.rs",
            "//! Report.\nmod site;\n#[cfg(test)]\nmod tests { use crate::policy::PolicySet; }\n",
        ),
        (
            "src/report/site.rs",
            "//! Site.\nuse crate::{diff::Change, policy::ExpectedDifferences};\nfn f() { super::super::policy::lint(); }\n",
        ),
        ("src/store/mod.rs", "//! Store: may.\nuse crate::policy::X;\n"),
    ];
    check(
        report_imports_no_policy,
        &files,
        &[
            "src/report/site.rs:2: `report` uses `policy::ExpectedDifferences`: report imports nothing from policy",
            "src/report/site.rs:3: `report` uses `policy::lint`: report imports nothing from policy",
        ],
    );
}

#[test]
fn planted_signals_outside_schedule() {
    let files = [
        ("src/lib.rs", "//! Crate.\npub mod audit;\npub mod schedule;\npub mod server;\n"),
        (
            "src/schedule.rs",
            "//! Schedule.\nuse tokio_cron_scheduler::Job;\nfn f() { tokio::signal::ctrl_c(); }\n",
        ),
        ("src/audit/mod.rs", "//! Audit.\nuse tokio::signal::unix::{SignalKind, signal};\n"),
        (
            "src/server/mod.rs",
            "//! Server.\nfn f() { let _ = tokio_cron_scheduler::JobScheduler::new(); }\n",
        ),
        (
            "src/main.rs",
            "//! Bin.\nconst S: &str = \"tokio_cron_scheduler=warn\";\nfn main() { let _ = tokio::signal::ctrl_c(); }\n",
        ),
    ];
    check(
        only_schedule_knows_cron_and_signals,
        &files,
        &[
            "src/audit/mod.rs:2: uses `tokio::signal::unix::SignalKind`: only `schedule` knows cron and signals",
            "src/audit/mod.rs:2: uses `tokio::signal::unix::signal`: only `schedule` knows cron and signals",
            "src/main.rs:3: uses `tokio::signal::ctrl_c`: only `schedule` knows cron and signals",
            "src/server/mod.rs:2: uses `tokio_cron_scheduler::JobScheduler::new`: only `schedule` knows cron and signals",
        ],
    );
}

#[test]
fn planted_cycle_between_top_level_modules() {
    let files = [
        ("src/lib.rs", LIB),
        ("src/policy/mod.rs", "//! Policy.\nmod units;\nuse crate::engine::Kind;\n"),
        ("src/policy/units.rs", "//! Units.\n"),
        ("src/engine/mod.rs", "//! Engine.\nuse crate::report::Page;\n"),
        ("src/report/mod.rs", "//! Report.\nmod view;\n"),
        ("src/report/view.rs", "//! View.\nuse super::super::policy::units::Quantity;\n"),
        // Test code may go back up: no cycle.
        (
            "src/store/mod.rs",
            "//! Store.\nuse crate::policy::X;\n#[cfg(test)]\nmod tests { use crate::store::Y; }\n",
        ),
    ];
    check(
        no_cycles_between_top_level_modules,
        &files,
        &[
            "import cycle: engine → report (src/engine/mod.rs:2), report → policy (src/report/view.rs:2), policy → engine (src/policy/mod.rs:3)",
        ],
    );
}

#[test]
fn planted_module_without_doc() {
    let files = [
        ("src/lib.rs", "//! Crate.\npub mod a;\n"),
        ("src/a.rs", "\n// A plain comment is not a module doc.\npub fn f() {}\n"),
        ("src/b/mod.rs", "\n\n//! Blank lines first are fine.\n"),
        ("src/c.rs", "/// An item doc is not a module doc.\npub fn f() {}\n"),
    ];
    check(
        every_module_has_a_doc,
        &files,
        &[
            "src/a.rs:1: no `//!` module doc at the top",
            "src/c.rs:1: no `//!` module doc at the top",
        ],
    );
}

#[test]
fn planted_broken_links() {
    let files = [
        (
            "README.md",
            "# Driftwatch\n\nSee [the CLI](docs/cli.md), [gone](docs/gone.md), [store](docs/store.md#layout),\n[nowhere](docs/store.md#nowhere) and [the web](https://example.com/x.md).\n\n```\n[not a link](in/code.md)\n```\n\n[ref]: docs/missing.md\n",
        ),
        (
            "docs/cli.md",
            "# CLI\n\n[Back](../README.md#driftwatch), [up](../src/) [self](#cli) [bad](#options)\n",
        ),
        ("docs/store.md", "# The store\n\n## Layout\n"),
        ("src/lib.rs", "//! Crate.\n"),
    ];
    check(
        docs_links_resolve,
        &files,
        &[
            "README.md:3: link `docs/gone.md`: no such file",
            "README.md:4: link `docs/store.md#nowhere`: no heading `#nowhere` in docs/store.md",
            "README.md:10: link `docs/missing.md`: no such file",
            "docs/cli.md:3: link `#options`: no heading `#options` in docs/cli.md",
        ],
    );
}
