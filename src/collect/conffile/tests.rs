//! Reading files: what the readers share (memory files, include bombs) and the
//! `parsed` helper every reader's tests use.

use std::path::Path;

use super::*;

#[test]
fn defaults_fill_what_the_file_leaves_out() {
    let files = MemoryFiles::new([("/p.conf", "shared_buffers = 256MB\n")]);
    let snap = snapshot(Kind::Postgres, Path::new("/p.conf"), Role::Replica, &files).unwrap();
    let sb = &snap.config["setting.shared_buffers"];
    assert_eq!((sb.value.as_str(), sb.unit.as_deref()), ("32768", Some("8kB")));
    assert_eq!(sb.location().as_deref(), Some("/p.conf:1"));
    let fsync = &snap.config["setting.fsync"];
    assert_eq!(
        (fsync.value.as_str(), fsync.source.as_deref(), fsync.location().as_deref()),
        ("on", Some("default"), Some("default"))
    );
    // Fixed at build or initdb time, or by how the server is started: not guessed.
    assert!(!snap.config.contains_key("setting.data_checksums"));
    assert!(!snap.config.contains_key("setting.data_directory"));
    // Sized from shared_buffers, at the line that set it.
    let wb = &snap.config["setting.wal_buffers"];
    assert_eq!((wb.value.as_str(), wb.location().as_deref()), ("1024", Some("/p.conf:1")));
    assert_eq!(snap.server.role, Role::Replica);
}

#[test]
fn memory_files_list_folders() {
    let files = MemoryFiles::new([("/a/b/c.conf", ""), ("/a/b/d/e.conf", ""), ("/a/x", "")]);
    let mut got = files.list_dir(Path::new("/a/b")).unwrap();
    got.sort();
    assert_eq!(got, [Path::new("/a/b/c.conf"), Path::new("/a/b/d")]);
    assert!(files.list_dir(Path::new("/nope")).is_err());
    assert!(files.is_dir(Path::new("/a/b/d")));
    assert!(!files.is_dir(Path::new("/a/x")));
}

/// A file that includes itself (or its own folder) several times: bounded work and a
/// problem, for every format with includes.
#[test]
fn include_bombs_are_bounded() {
    let cases = [
        (Kind::Postgres, "/c/postgresql.conf", "include 'postgresql.conf'\n"),
        (Kind::Postgres, "/c/postgresql.conf", "include_dir '.'\n"),
        (Kind::Mysql, "/c/my.cnf", "!includedir /c\n"),
        (Kind::Mysql, "/c/my.cnf", "!include /c/my.cnf\n"),
        (Kind::Redis, "/c/redis.conf", "include /c/redis.conf\n"),
    ];
    for (kind, path, line) in cases {
        let text = line.repeat(8);
        let files = MemoryFiles::new([(path, text.as_str()), ("/c/x.cnf", "[mysqld]\n")]);
        let started = std::time::Instant::now();
        let got = parse(kind, Path::new(path), &files);
        assert!(started.elapsed() < std::time::Duration::from_secs(5), "{kind} {line}");
        // MariaDB skips directives past its depth limit (a warning): bounded, not refused.
        if kind == Kind::Mysql {
            continue;
        }
        let problems = got.expect_err("a cycle is a problem").0;
        assert!(problems.len() < 5_000, "{kind} {line}: {} problems", problems.len());
    }
}

/// `files` (the first is the one named on the command line) read as `kind`: one
/// `name=value@file:line` line per setting the files set or the engine derives from
/// them (defaults left out), or the diagnostics.
#[track_caller]
pub(super) fn parsed(kind: Kind, files: &[(&str, &str)]) -> String {
    let mem = MemoryFiles::new(files.iter().copied());
    match parse(kind, std::path::Path::new(files[0].0), &mem) {
        Ok(map) => map
            .iter()
            .map(|(k, e)| {
                format!("{}={}@{}", &k["setting.".len()..], e.value, e.location().unwrap())
            })
            .collect::<Vec<_>>()
            .join("\n"),
        Err(d) => d.to_string(),
    }
}
