//! Configuration files → [`Snapshot`]s, so a change can be checked before it is deployed.
//!
//! One parser per engine's file format (`postgresql.conf`, `my.cnf`, `redis.conf`,
//! memcached's options file), each turning a file and the files it includes into the
//! same `setting.<name>` entries a live collector reports, with `source_file` and
//! `source_line` of the line that set the winning value. Values are normalised to what
//! the live server would report (PostgreSQL base units, MariaDB `ON`/`OFF` and bytes,
//! Redis bytes) so the same baselines apply to files and servers.
//!
//! Settings a file leaves out take the engine's defaults ([`defaults`], data shipped in
//! `defaults/<kind>.toml`), with `source = "default"`.
//!
//! Parsing is pure except for reading files through [`Files`]; tests pass
//! [`MemoryFiles`]. A file the engine would refuse is a [`Diagnostic`] at its line.

mod defaults;
pub mod memcached;
pub mod mysql;
pub mod postgresql;
pub mod redis;

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

pub use defaults::{DefaultSetting, canonical_name, defaults};

use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::snapshot::{Entry, Kind, Role, ServerInfo, Snapshot};

/// How deep includes may nest (PostgreSQL's own limit), which also stops include cycles.
pub const MAX_INCLUDE_DEPTH: usize = 10;

/// How many included files one parse reads in all. The depth limit alone lets a file
/// that includes itself (or its folder) twice do 2¹⁰ reads, eight times 8¹⁰: an include
/// bomb that ate gigabytes before this bound.
pub const MAX_INCLUDED_FILES: usize = 256;

/// Where the parsers read files from.
pub trait Files {
    fn read(&self, path: &Path) -> io::Result<String>;
    /// The entries of a folder (files and folders), in no particular order.
    fn list_dir(&self, path: &Path) -> io::Result<Vec<PathBuf>>;
}

/// The real file system.
#[derive(Debug, Clone, Copy)]
pub struct RealFiles;

impl Files for RealFiles {
    fn read(&self, path: &Path) -> io::Result<String> {
        std::fs::read_to_string(path)
    }

    fn list_dir(&self, path: &Path) -> io::Result<Vec<PathBuf>> {
        std::fs::read_dir(path)?.map(|e| e.map(|e| e.path())).collect()
    }
}

/// Files held in memory, for tests: a folder exists when a file lies under it.
#[derive(Debug, Clone, Default)]
pub struct MemoryFiles(pub BTreeMap<PathBuf, String>);

impl MemoryFiles {
    pub fn new<'a>(files: impl IntoIterator<Item = (&'a str, &'a str)>) -> MemoryFiles {
        MemoryFiles(files.into_iter().map(|(p, t)| (PathBuf::from(p), t.to_owned())).collect())
    }
}

impl Files for MemoryFiles {
    fn read(&self, path: &Path) -> io::Result<String> {
        self.0.get(path).cloned().ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))
    }

    fn list_dir(&self, path: &Path) -> io::Result<Vec<PathBuf>> {
        let mut out: Vec<PathBuf> = self
            .0
            .keys()
            .filter_map(|p| p.strip_prefix(path).ok()?.components().next())
            .map(|c| path.join(c))
            .collect();
        out.dedup();
        if out.is_empty() { Err(io::Error::from(io::ErrorKind::NotFound)) } else { Ok(out) }
    }
}

/// The settings a file (and what it includes) sets, without defaults: `setting.<name>`
/// → entry with `source = "configuration file"`, file and line.
pub fn parse(
    kind: Kind,
    path: &Path,
    files: &dyn Files,
) -> Result<BTreeMap<String, Entry>, Diagnostics> {
    let mut out = Settings::default();
    match kind {
        Kind::Postgres => postgresql::parse(path, files, &mut out),
        Kind::Mysql => mysql::parse(path, files, &mut out),
        Kind::Redis => redis::parse(path, files, &mut out),
        Kind::Memcached => memcached::parse(path, files, &mut out),
    }
    out.finish()
}

/// A snapshot of what a server started with this file would run with: the file's
/// settings over the engine's defaults. `server.version` is empty (no server).
pub fn snapshot(
    kind: Kind,
    path: &Path,
    role: Role,
    files: &dyn Files,
) -> Result<Snapshot, Diagnostics> {
    Ok(with_defaults(kind, path, role, parse(kind, path, files)?))
}

/// Settings parsed from `path` (and maybe more files) over the engine's defaults.
pub fn with_defaults(
    kind: Kind,
    path: &Path,
    role: Role,
    mut config: BTreeMap<String, Entry>,
) -> Snapshot {
    // `internal` settings come from the build and initdb, not from a file: leave them
    // absent rather than guess.
    for (name, d) in defaults(kind).iter().filter(|(_, d)| d.context.as_deref() != Some("internal"))
    {
        let entry = config.entry(format!("setting.{name}")).or_insert_with(|| d.entry());
        // A value from the file is in the setting's unit (the parser converted it).
        if entry.source.as_deref() != Some("default") {
            entry.unit = d.unit.clone();
            entry.vartype = d.vartype.clone();
            entry.context = d.context.clone();
        }
    }
    Snapshot {
        target: path.display().to_string(),
        kind,
        server: ServerInfo { version: String::new(), role },
        config,
    }
}

/// What a parser collects: settings in file order (later ones win) and problems.
#[derive(Debug, Default)]
pub struct Settings {
    entries: BTreeMap<String, Entry>,
    problems: Vec<Diagnostic>,
    /// Included files read so far (see [`MAX_INCLUDED_FILES`]).
    included: usize,
}

impl Settings {
    /// Sets `name` (already normalised) as written at `file:line`; replaces any earlier.
    pub fn set(&mut self, name: &str, value: impl Into<String>, file: &Path, line: usize) {
        let entry = Entry {
            source: Some("configuration file".into()),
            source_file: Some(file.display().to_string()),
            source_line: Some(line as u32),
            ..Entry::new(value)
        };
        self.entries.insert(format!("setting.{name}"), entry);
    }

    /// The entry set so far for `name`, to append to (Redis `save`).
    pub fn get_mut(&mut self, name: &str) -> Option<&mut Entry> {
        self.entries.get_mut(&format!("setting.{name}"))
    }

    /// Counts one more included file, read because of `file:line`; false (with one
    /// problem, the first time) once [`MAX_INCLUDED_FILES`] have been read.
    pub fn may_include(&mut self, file: &Path, line: usize) -> bool {
        self.included += 1;
        if self.included == MAX_INCLUDED_FILES + 1 {
            self.problem(
                file,
                line,
                format!("more than {MAX_INCLUDED_FILES} included files (an include cycle?)"),
            );
        }
        self.included <= MAX_INCLUDED_FILES
    }

    pub fn problem(&mut self, file: &Path, line: usize, message: impl Into<String>) {
        self.problems.push(Diagnostic {
            file: file.to_owned(),
            line,
            column: 1,
            message: message.into(),
        });
    }

    fn finish(self) -> Result<BTreeMap<String, Entry>, Diagnostics> {
        if self.problems.is_empty() {
            Ok(self.entries)
        } else {
            Err(Diagnostics::sorted(self.problems))
        }
    }
}

/// `target` relative to the folder of `including` (absolute paths stay as they are).
pub fn relative_to(including: &Path, target: &str) -> PathBuf {
    let target = Path::new(target);
    if target.is_absolute() {
        return target.to_owned();
    }
    including.parent().map_or_else(|| target.to_owned(), |dir| dir.join(target))
}

/// The files of `dir` whose names end with one of `extensions`, not hidden, sorted by
/// name.
pub fn dir_files(files: &dyn Files, dir: &Path, extensions: &[&str]) -> io::Result<Vec<PathBuf>> {
    let mut out: Vec<PathBuf> = files
        .list_dir(dir)?
        .into_iter()
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| !n.starts_with('.') && extensions.iter().any(|e| n.ends_with(e)))
        })
        .collect();
    out.sort();
    Ok(out)
}

/// `read` with the error as a message for a diagnostic.
pub fn read(files: &dyn Files, path: &Path) -> Result<String, String> {
    files.read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

/// `4096` for `"4K"` with 1024-based `K M G T` suffixes (case-insensitive); `None` when
/// the text is not a number with such a suffix.
pub fn binary_size(text: &str, allow_b_suffix: bool) -> Option<u64> {
    let t = text.trim().to_ascii_lowercase();
    let t = if allow_b_suffix { t.strip_suffix('b').unwrap_or(&t).to_owned() } else { t };
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, suffix) = t.split_at(split);
    let n: u64 = digits.parse().ok()?;
    let factor: u64 = match suffix {
        "k" => 1 << 10,
        "m" => 1 << 20,
        "g" => 1 << 30,
        "t" => 1 << 40,
        _ => return None,
    };
    n.checked_mul(factor)
}

#[cfg(test)]
pub(crate) mod tests;
