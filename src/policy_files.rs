//! The policy folder read from disk: every `*.toml` file below it as a
//! [`PolicySource`], the I/O half of loading policies ([`crate::policy::parse`] is the
//! pure half). The CLI calls [`read`]; nothing in `policy` touches the file system.

use std::path::Path;

use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::policy::PolicySource;

/// Read every `*.toml` file under `dir`, recursively, sorted by relative path. Names
/// starting with `.` (editor droppings, hidden folders) are skipped. A missing folder,
/// an unreadable or non-UTF-8 file, or a folder without policy files is a diagnostic.
pub fn read(dir: &Path) -> Result<Vec<PolicySource>, Diagnostics> {
    let mut sources = Vec::new();
    let mut problems = Vec::new();
    if !dir.is_dir() {
        let msg = format!("policy folder {} does not exist or is not a folder", dir.display());
        return Err(Diagnostics(vec![Diagnostic::whole_file(dir, msg)]));
    }
    walk(dir, "", &mut sources, &mut problems);
    if problems.is_empty() && sources.is_empty() {
        let msg = format!("policy folder {} holds no .toml files", dir.display());
        problems.push(Diagnostic::whole_file(dir, msg));
    }
    if !problems.is_empty() {
        return Err(Diagnostics::sorted(problems));
    }
    sources.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(sources)
}

fn walk(dir: &Path, prefix: &str, sources: &mut Vec<PolicySource>, problems: &mut Vec<Diagnostic>) {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => {
            problems.push(Diagnostic::whole_file(dir, format!("cannot read folder: {e}")));
            return;
        }
    };
    for entry in entries {
        let entry = match entry {
            Ok(entry) => entry,
            Err(e) => {
                problems.push(Diagnostic::whole_file(dir, format!("cannot read folder: {e}")));
                continue;
            }
        };
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        let file = entry.path();
        let rel = format!("{prefix}{name}");
        // Follow symlinks to files; do not descend into symlinked folders (no cycles).
        let is_real_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        if is_real_dir {
            walk(&file, &format!("{rel}/"), sources, problems);
        } else if name.ends_with(".toml") && file.is_file() {
            match std::fs::read(&file) {
                Ok(bytes) => match String::from_utf8(bytes) {
                    Ok(text) => sources.push(PolicySource { path: rel, file, text }),
                    Err(_) => problems.push(Diagnostic::whole_file(&file, "not valid UTF-8")),
                },
                Err(e) => problems.push(Diagnostic::whole_file(&file, format!("cannot read: {e}"))),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_dir_walks_sorted_and_skips_hidden() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("postgres/extra")).unwrap();
        std::fs::create_dir_all(root.join(".git")).unwrap();
        for (path, text) in [
            ("postgres/z.toml", "z"),
            ("postgres/extra/a.toml", "a"),
            ("b.toml", "b"),
            ("README.md", "r"),
            (".#x.toml", "x"),
            (".git/c.toml", "c"),
        ] {
            std::fs::write(root.join(path), text).unwrap();
        }
        let got = read(root).unwrap();
        let got: Vec<(&str, &str)> =
            got.iter().map(|s| (s.path.as_str(), s.text.as_str())).collect();
        assert_eq!(
            got,
            [("b.toml", "b"), ("postgres/extra/a.toml", "a"), ("postgres/z.toml", "z")]
        );
        assert_eq!(read(root).unwrap()[0].file, root.join("b.toml"));
    }

    #[test]
    fn read_dir_problems() {
        let dir = tempfile::tempdir().unwrap();
        let empty = read(dir.path()).unwrap_err().to_string();
        assert_eq!(
            empty,
            format!("{0}:1:1: policy folder {0} holds no .toml files", dir.path().display())
        );
        let missing = dir.path().join("nope");
        let err = read(&missing).unwrap_err().to_string();
        assert_eq!(
            err,
            format!(
                "{0}:1:1: policy folder {0} does not exist or is not a folder",
                missing.display()
            )
        );
        std::fs::write(dir.path().join("bad.toml"), [0xff, 0xfe]).unwrap();
        let err = read(dir.path()).unwrap_err().to_string();
        assert_eq!(err, format!("{}:1:1: not valid UTF-8", dir.path().join("bad.toml").display()));
    }
}
