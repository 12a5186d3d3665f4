//! Configuration files → [`Snapshot`]s, read exactly as the engine reads them, so a
//! change can be checked before it is deployed.
//!
//! One reader per engine's file format (`postgresql.conf`, `my.cnf`, `redis.conf`,
//! memcached's options file as Debian's service reads it, `pgbouncer.ini`). Each follows the engine's
//! own rules for comments, quoting, escapes, includes and their resolution, then reads
//! every value as the engine would ([`crate::engine`]: booleans, units and rounding,
//! integer notation, ranges, enum values and aliases, clamping, derived values, unknown
//! names, start-up cross-checks), and produces the same `setting.<name>` entries the
//! live collector reports for a server started on those files: the engine's names,
//! values as the engine shows them, the collector's units, `source_file`/`source_line`
//! of the line that set the winning value, and the engine's defaults (generated
//! metadata) for everything the files leave out (`source = "default"`). Settings whose
//! value depends on the host or on how the server is started (`varies` in the
//! metadata), or that are fixed when the engine is built or initialised, are absent.
//!
//! - A file the engine would refuse is every problem it has, each a [`Diagnostic`] at
//!   its file and line with the engine's own reason.
//! - A value the engine adjusts (rounds, clamps, replaces, ignores) is reported as the
//!   value it will use, with an [`Adjusted`] note of what was written and why.
//!
//! Reading is pure except for the files, read through [`Files`]; tests pass
//! [`MemoryFiles`]. The differential suite (`tests/differential/`) holds every reader
//! to the real engine.

mod defaults;
pub mod memcached;
pub mod mysql;
pub mod pgbouncer;
pub mod postgresql;
pub mod redis;

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

pub use defaults::{DefaultSetting, canonical_name, defaults};

use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::snapshot::{Entry, Kind, Role, ServerInfo, Snapshot};

/// How deep includes may nest (PostgreSQL's and MariaDB's own limit), which also stops
/// include cycles.
pub const MAX_INCLUDE_DEPTH: usize = 10;

/// How many included files one parse reads in all. The depth limit alone lets a file
/// that includes itself (or its folder) twice do 2¹⁰ reads, eight times 8¹⁰: an include
/// bomb that ate gigabytes before this bound.
pub const MAX_INCLUDED_FILES: usize = 256;

/// The `source` of an entry the files did not set.
pub const DEFAULT_SOURCE: &str = "default";
/// The `source` of an entry a file set.
pub const FILE_SOURCE: &str = "configuration file";
/// The `source` of an entry the engine derives from another the files set; its file
/// and line are those of that other setting.
pub const DERIVED_SOURCE: &str = "derived";

/// Where the parsers read files from.
pub trait Files {
    fn read(&self, path: &Path) -> io::Result<String>;
    /// The entries of a folder (files and folders), in no particular order.
    fn list_dir(&self, path: &Path) -> io::Result<Vec<PathBuf>>;
    /// Whether `path` is a folder.
    fn is_dir(&self, path: &Path) -> bool {
        self.list_dir(path).is_ok()
    }
    /// Whether anyone may write to `path` (MariaDB ignores such option files).
    fn world_writable(&self, _path: &Path) -> bool {
        false
    }
}

/// The real file system.
#[derive(Debug, Clone, Copy)]
pub struct RealFiles;

impl Files for RealFiles {
    fn read(&self, path: &Path) -> io::Result<String> {
        let bytes = std::fs::read(path)?;
        Ok(String::from_utf8(bytes)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()))
    }

    fn list_dir(&self, path: &Path) -> io::Result<Vec<PathBuf>> {
        std::fs::read_dir(path)?.map(|e| e.map(|e| e.path())).collect()
    }

    fn is_dir(&self, path: &Path) -> bool {
        path.is_dir()
    }

    fn world_writable(&self, path: &Path) -> bool {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o002 != 0)
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

    fn is_dir(&self, path: &Path) -> bool {
        !self.0.contains_key(path) && self.list_dir(path).is_ok()
    }
}

/// What the engine will do with a value other than take it as written: the text
/// written and the engine's reason (a warning, a rounding, a derived value).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Adjusted {
    /// The value as written in the file, or empty when the engine derived it.
    pub written: String,
    pub note: String,
}

/// Everything a server started on the files would run with.
#[derive(Debug, Clone, Default)]
pub struct Read {
    /// `setting.<name>` → entry: the files' settings over the engine's defaults.
    pub config: BTreeMap<String, Entry>,
    /// `setting.<name>` → what the engine did with what was written.
    pub adjusted: BTreeMap<String, Adjusted>,
}

/// Reads `paths` (in order, later ones overriding earlier ones, as the engine reads
/// several files) the way `kind`'s engine does.
pub fn read(kind: Kind, paths: &[PathBuf], files: &dyn Files) -> Result<Read, Diagnostics> {
    let mut out = Settings::default();
    match kind {
        Kind::Postgres => postgresql::read(paths, files, &mut out),
        Kind::Mysql => mysql::read(paths, files, &mut out),
        Kind::Redis => redis::read(paths, files, &mut out),
        Kind::Memcached => memcached::read(paths, files, &mut out),
        Kind::Pgbouncer => pgbouncer::read(paths, files, &mut out),
    }
    out.finish()
}

/// The settings the file (and what it includes) sets, without defaults: `setting.<name>`
/// → entry with its file and line (values the engine derives from them included).
pub fn parse(
    kind: Kind,
    path: &Path,
    files: &dyn Files,
) -> Result<BTreeMap<String, Entry>, Diagnostics> {
    let read = read(kind, &[path.to_owned()], files)?;
    Ok(read
        .config
        .into_iter()
        .filter(|(_, e)| e.source.as_deref() != Some(DEFAULT_SOURCE))
        .collect())
}

/// A snapshot of what a server started with this file would run with: the file's
/// settings over the engine's defaults. `server.version` is empty (no server).
pub fn snapshot(
    kind: Kind,
    path: &Path,
    role: Role,
    files: &dyn Files,
) -> Result<Snapshot, Diagnostics> {
    Ok(into_snapshot(kind, path, role, read(kind, &[path.to_owned()], files)?.config))
}

/// A snapshot named after `path` holding `config` (for MySQL, `server.flavor` = `mariadb`:
/// the files were read as MariaDB reads them).
pub fn into_snapshot(
    kind: Kind,
    path: &Path,
    role: Role,
    mut config: BTreeMap<String, Entry>,
) -> Snapshot {
    // Option files are read as MariaDB reads them (the engine metadata is MariaDB's):
    // say so, as the live collector does, so rules for one flavour judge a file too.
    if kind == Kind::Mysql {
        config.entry("server.flavor".to_owned()).or_insert_with(|| Entry::new("mariadb"));
    }
    Snapshot {
        target: path.display().to_string(),
        kind,
        server: ServerInfo { version: String::new(), role },
        config,
    }
}

/// What a reader collects: the full configuration, notes and problems.
#[derive(Debug, Default)]
pub struct Settings {
    entries: BTreeMap<String, Entry>,
    adjusted: BTreeMap<String, Adjusted>,
    problems: Vec<Diagnostic>,
    /// Included files read so far (see [`MAX_INCLUDED_FILES`]).
    included: usize,
}

impl Settings {
    /// Sets `name` to the value the engine shows, as written at `file:line`; replaces
    /// any earlier value.
    pub fn set(&mut self, name: &str, value: impl Into<String>, file: &Path, line: usize) {
        let entry = Entry {
            source: Some(FILE_SOURCE.into()),
            source_file: Some(file.display().to_string()),
            source_line: Some(line as u32),
            ..Entry::new(value)
        };
        self.entries.insert(format!("setting.{name}"), entry);
        self.adjusted.remove(&format!("setting.{name}"));
    }

    /// Sets `name` to the engine's default (unless already set).
    pub fn set_default(&mut self, name: &str, value: impl Into<String>) {
        self.entries
            .entry(format!("setting.{name}"))
            .or_insert_with(|| Entry { source: Some(DEFAULT_SOURCE.into()), ..Entry::new(value) });
    }

    /// The engine derives `name` = `value` from the setting at `from` (file and line of
    /// what drives it), or from its defaults when `from` is `None`.
    pub fn derive(&mut self, name: &str, value: &str, from: Option<(String, u32)>, why: &str) {
        let key = format!("setting.{name}");
        let previous = self.entries.get(&key).cloned().unwrap_or_default();
        if previous.value == value {
            return;
        }
        let written_here = previous.source.as_deref() == Some(FILE_SOURCE);
        let entry = match (&from, written_here) {
            // Written, and shown otherwise: keep where it was written.
            (_, true) => Entry { value: value.to_owned(), ..previous.clone() },
            (Some((file, line)), false) => Entry {
                source: Some(DERIVED_SOURCE.into()),
                source_file: Some(file.clone()),
                source_line: Some(*line),
                ..Entry::new(value)
            },
            (None, false) => Entry { source: Some(DEFAULT_SOURCE.into()), ..Entry::new(value) },
        };
        let written = if written_here { previous.value.clone() } else { String::new() };
        self.entries.insert(key.clone(), entry);
        if written_here || from.is_some() {
            self.adjusted.insert(key, Adjusted { written, note: why.to_owned() });
        }
    }

    /// Notes what the engine did with the value written for `name`.
    pub fn adjust(&mut self, name: &str, written: &str, note: impl Into<String>) {
        self.adjusted.insert(
            format!("setting.{name}"),
            Adjusted { written: written.to_owned(), note: note.into() },
        );
    }

    /// The entry for `name`, if any.
    pub fn get(&self, name: &str) -> Option<&Entry> {
        self.entries.get(&format!("setting.{name}"))
    }

    /// The entry for `name`, to change in place.
    pub fn get_mut(&mut self, name: &str) -> Option<&mut Entry> {
        self.entries.get_mut(&format!("setting.{name}"))
    }

    /// Every setting's value (`name` → value), for derived values and cross-checks.
    pub fn values(&self) -> BTreeMap<String, String> {
        self.entries
            .iter()
            .filter_map(|(k, e)| Some((k.strip_prefix("setting.")?.to_owned(), e.value.clone())))
            .collect()
    }

    /// Where `name` was written, when a file set it.
    pub fn written_at(&self, name: &str) -> Option<(String, u32)> {
        let e = self.get(name)?;
        if e.source.as_deref() == Some(DEFAULT_SOURCE) {
            return None;
        }
        Some((e.source_file.clone()?, e.source_line?))
    }

    /// Whether any problem was found so far.
    pub fn has_problems(&self) -> bool {
        !self.problems.is_empty()
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
            line: line.max(1),
            column: 1,
            message: message.into(),
        });
    }

    fn finish(self) -> Result<Read, Diagnostics> {
        if self.problems.is_empty() {
            Ok(Read { config: self.entries, adjusted: self.adjusted })
        } else {
            Err(Diagnostics(self.problems))
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

/// `read` with the error as a message for a diagnostic.
pub fn read_file(files: &dyn Files, path: &Path) -> Result<String, String> {
    files.read(path).map_err(|e| format!("cannot read {}: {}", path.display(), os_reason(&e)))
}

/// The C library's words for an I/O error (`No such file or directory`), as the
/// engines print them.
pub fn os_reason(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::NotFound => "No such file or directory".into(),
        io::ErrorKind::PermissionDenied => "Permission denied".into(),
        _ => {
            let text = e.to_string();
            text.split(" (os error").next().unwrap_or(&text).to_owned()
        }
    }
}

#[cfg(test)]
pub(crate) mod tests;
