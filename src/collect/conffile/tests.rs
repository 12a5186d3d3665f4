//! Snapshots from files: the file's settings over the engine's defaults.

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
    // Fixed at build or initdb time: not guessed.
    assert!(!snap.config.contains_key("setting.data_checksums"));
    assert_eq!(snap.server.role, Role::Replica);
}

#[test]
fn memory_files_list_folders() {
    let files = MemoryFiles::new([("/a/b/c.conf", ""), ("/a/b/d/e.conf", ""), ("/a/x", "")]);
    let mut got = files.list_dir(Path::new("/a/b")).unwrap();
    got.sort();
    assert_eq!(got, [Path::new("/a/b/c.conf"), Path::new("/a/b/d")]);
    assert!(files.list_dir(Path::new("/nope")).is_err());
}

#[test]
fn binary_sizes() {
    assert_eq!(binary_size("4K", false), Some(4096));
    assert_eq!(binary_size("1g", false), Some(1 << 30));
    assert_eq!(binary_size("2MB", true), Some(2 << 20));
    assert_eq!(binary_size("2MB", false), None);
    assert_eq!(binary_size("12", false), None);
}

/// A file that includes itself (or its own folder) several times: bounded work and one
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
        let files = MemoryFiles::new([(path, text.as_str())]);
        let started = std::time::Instant::now();
        let problems = parse(kind, Path::new(path), &files).expect_err("a cycle is a problem").0;
        assert!(started.elapsed() < std::time::Duration::from_secs(5), "{kind} {line}");
        assert!(problems.len() < 5_000, "{kind} {line}: {} problems", problems.len());
        assert!(
            problems.iter().any(|p| p.message.contains("included files")),
            "{kind} {line}: {problems:?}"
        );
    }
}

/// `files` (the first is the one named on the command line) parsed as `kind`: one
/// `name=value@file:line` line per setting, or the diagnostics. The parsers' tests
/// compare against it.
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
