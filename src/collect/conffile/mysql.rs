//! `my.cnf` for MariaDB, read as `mariadbd` reads it (mysys/my_default.c, then
//! my_getopt.c and mysqld's option handlers, [`crate::engine::mariadb`]):
//!
//! - A line is a comment when it starts (after blanks) with `#` or `;`. Elsewhere `#`
//!   starts a comment unless it is inside quotes (`init_connect = SELECT 1#x` is
//!   `SELECT 1`); `;` does not.
//! - `[group]`: the groups the server reads (`mysqld`, `server`, `mariadb`,
//!   `mariadbd`, their `-10.11` forms, `client-server`, `galera`), ignoring case; the
//!   name is what lies between `[` and the first `]`, trailing blanks removed (so
//!   `[ mysqld]` is not `mysqld`). An option before any group is an error, also at
//!   the top of an included file.
//! - `name = value`: blanks around both removed; one pair of matching quotes around
//!   the value removed; escapes `\n \t \r \b \s \" \' \\` read everywhere in the value,
//!   any other `\x` kept as written (`C:\data\x`); `name` alone has no value.
//! - `!include FILE` (a path relative to the server's working directory; skipped when
//!   missing) and `!includedir DIR` (every file whose name ends in `.cnf`, hidden ones
//!   too, in name order; a missing folder is an error); other `!` lines are ignored;
//!   at most 10 deep; world-writable files are ignored.
//! - An error in an included file (an option before a group, a bad group line, a
//!   missing folder) ends the reading of that file only; in the file given, it stops the
//!   server.
//! - Options are then read in order; the first one the server refuses stops it.

use std::path::{Path, PathBuf};

use super::{Files, MAX_INCLUDE_DEPTH, Settings, os_reason};
use crate::engine::mariadb::{self as my, Metadata, Refusal};

/// One option line of a group the server reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptionLine {
    pub name: String,
    pub value: Option<String>,
    pub file: PathBuf,
    pub line: usize,
}

/// Reads `paths` (option files in the order the server reads them) into `out`.
pub fn read(paths: &[PathBuf], files: &dyn Files, out: &mut Settings) {
    let meta = my::metadata();
    let mut options = Vec::new();
    for path in paths {
        if files.read(path).is_err() && !files.is_dir(path) {
            out.problem(
                path,
                1,
                format!("Could not open required defaults file: {}", path.display()),
            );
            return;
        }
        if !search(meta, path, files, out, 0, &mut options) {
            return;
        }
    }
    apply(meta, &options, out);
}

/// `search_default_file_with_ext`: false on a fatal error (reported in `out`). The
/// server ignores what an included file's reading returns: an error there (an option
/// before a group, a bad group line, a missing folder) stops reading that file only.
fn search(
    meta: &Metadata,
    path: &Path,
    files: &dyn Files,
    out: &mut Settings,
    depth: usize,
    options: &mut Vec<OptionLine>,
) -> bool {
    if files.world_writable(path) {
        return true; // "World-writable config file '…' is ignored"
    }
    let Ok(text) = files.read(path) else { return true };
    let top = depth == 0;
    // A problem: fatal in the file the server was given, the end of an included one.
    let fail = |out: &mut Settings, line: usize, message: String| {
        if top {
            out.problem(path, line, message);
        }
        !top
    };
    let mut group: Option<bool> = None;
    for (i, raw) in text.split('\n').enumerate() {
        let line = i + 1;
        let body = raw.trim_start_matches(is_space);
        if body.is_empty() || body.starts_with('#') || body.starts_with(';') {
            continue;
        }
        if let Some(rest) = body.strip_prefix('!') {
            if depth >= MAX_INCLUDE_DEPTH {
                continue; // "skipping … maximum include recursion level was reached"
            }
            let rest = rest.trim_start_matches(is_space);
            let (keyword, arg) = if let Some(a) = keyword_arg(rest, "includedir") {
                ("includedir", a)
            } else if let Some(a) = keyword_arg(rest, "include") {
                ("include", a)
            } else {
                continue;
            };
            let arg = arg.trim_matches(is_space);
            if arg.is_empty() {
                out.problem(
                    path,
                    line,
                    format!(
                        "Wrong '!{keyword}' directive in config file: {} at line {line}",
                        path.display()
                    ),
                );
                return false;
            }
            if !out.may_include(path, line) {
                return false;
            }
            if keyword == "include" {
                search(meta, Path::new(arg), files, out, depth + 1, options);
                continue;
            }
            let dir = Path::new(arg);
            let mut list = match files.list_dir(dir) {
                Ok(list) => list,
                Err(e) => {
                    return fail(
                        out,
                        line,
                        format!("Can't read dir of '{arg}' (Errcode: {})", os_reason(&e)),
                    );
                }
            };
            list.retain(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .and_then(|n| n.rfind('.').map(|dot| &n[dot..]))
                    == Some(".cnf")
            });
            list.sort_by(|a, b| a.file_name().cmp(&b.file_name()));
            for file in list {
                search(meta, &file, files, out, depth + 1, options);
            }
            continue;
        }
        if let Some(rest) = body.strip_prefix('[') {
            let Some(end) = rest.find(']') else {
                out.problem(
                    path,
                    line,
                    format!(
                        "Wrong group definition in config file: {} at line {line}",
                        path.display()
                    ),
                );
                return false;
            };
            let name = rest[..end].trim_end_matches(is_space);
            group = Some(meta.option_files.groups.iter().any(|g| g.eq_ignore_ascii_case(name)));
            continue;
        }
        let Some(applies) = group else {
            let msg = format!(
                "Found option without preceding group in config file: {} at line: {line}",
                path.display()
            );
            return fail(out, line, msg);
        };
        if applies {
            let (name, value) = option(body);
            options.push(OptionLine { name, value, file: path.to_owned(), line });
        }
    }
    true
}

/// `!includedir x`: the text after a keyword followed by a blank.
fn keyword_arg<'a>(rest: &'a str, keyword: &str) -> Option<&'a str> {
    let after = rest.strip_prefix(keyword)?;
    after.starts_with(is_space).then_some(after)
}

/// `my_isspace` for latin1: space, `\t \n \v \f \r`.
fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\x0b' | '\x0c' | '\r')
}

/// An option line → (name, value): comment cut outside quotes, blanks trimmed, one
/// pair of quotes removed, escapes read.
fn option(body: &str) -> (String, Option<String>) {
    let line = remove_end_comment(body);
    let Some((key, value)) = line.split_once('=') else {
        return (line.trim_end_matches(is_space).to_owned(), None);
    };
    let key = key.trim_end_matches(is_space).to_owned();
    let mut value = value.trim_matches(is_space);
    let b = value.as_bytes();
    if b.len() > 1 && (b[0] == b'"' || b[0] == b'\'') && b[b.len() - 1] == b[0] {
        value = &value[1..value.len() - 1];
    }
    let chars: Vec<char> = value.chars().collect();
    let mut out = String::with_capacity(value.len());
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '\\' && i + 1 < chars.len() {
            i += 1;
            match chars[i] {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                'r' => out.push('\r'),
                'b' => out.push('\u{8}'),
                's' => out.push(' '),
                '"' => out.push('"'),
                '\'' => out.push('\''),
                '\\' => out.push('\\'),
                other => {
                    out.push('\\');
                    out.push(other);
                }
            }
        } else {
            out.push(chars[i]);
        }
        i += 1;
    }
    (key, Some(out))
}

/// `remove_end_comment`: the line up to the first `#` outside quotes (a backslash
/// inside quotes protects the next character).
fn remove_end_comment(line: &str) -> &str {
    let mut quote: Option<char> = None;
    let mut escape = false;
    for (i, c) in line.char_indices() {
        if (c == '\'' || c == '"') && !escape {
            match quote {
                None => quote = Some(c),
                Some(q) if q == c => quote = None,
                _ => {}
            }
        }
        if quote.is_none() && c == '#' {
            return &line[..i];
        }
        escape = quote.is_some() && c == '\\' && !escape;
    }
    line
}

/// The options in order: each one's variables, stopping at the first the server
/// refuses; then defaults and what the server derives.
fn apply(meta: &Metadata, options: &[OptionLine], out: &mut Settings) {
    let mut order: Vec<String> = Vec::new();
    for o in options {
        let result = meta.find(&o.name, o.value.as_deref()).and_then(|found| match found {
            None => Ok(Vec::new()),
            Some(found) => {
                let assigned = my::assign(meta, &found, o.value.as_deref());
                match (assigned, found.loose) {
                    // A loose option's bad value is a warning; the option is skipped.
                    (Err(Refusal(e)), true) => {
                        let _ = e;
                        Ok(Vec::new())
                    }
                    (r, _) => r.map(|list| (list, found.note)).map(|(list, note)| {
                        list.into_iter().map(|a| (a, note.clone())).collect::<Vec<_>>()
                    }),
                }
            }
        });
        let assigned = match result {
            Ok(list) => list,
            Err(Refusal(message)) => {
                out.problem(&o.file, o.line, message);
                return;
            }
        };
        for (a, prefix_note) in assigned {
            let written = o.value.clone().unwrap_or_default();
            if let Some(shown) = &a.shown {
                out.set(&a.variable, shown.clone(), &o.file, o.line);
                order.push(a.variable.clone());
            }
            if let Some(note) = a.note.or(prefix_note) {
                out.adjust(&a.variable, &written, note);
            }
        }
    }
    for (name, v) in &meta.variables {
        if v.varies.is_none()
            && let Some(d) = &v.default
        {
            out.set_default(name, d.clone());
        }
    }
    let values = out.values();
    if let Some(message) = my::charset_conflict(meta, &values, &order) {
        let (file, line) = out
            .written_at("collation_server")
            .or_else(|| out.written_at("character_set_server"))
            .unwrap_or_default();
        out.problem(Path::new(&file), line as usize, message);
        return;
    }
    for d in my::derive(meta, &values, &order) {
        let driver = match d.variable {
            "back_log" | "host_cache_size" | "thread_cache_size" => {
                out.written_at("max_connections")
            }
            "max_relay_log_size" => out.written_at("max_binlog_size"),
            "slave_load_tmpdir" => out.written_at("tmpdir"),
            "binlog_expire_logs_seconds" => out.written_at("expire_logs_days"),
            "expire_logs_days" => out.written_at("binlog_expire_logs_seconds"),
            "port" => out.written_at("skip_networking"),
            "report_port" => out.written_at("port"),
            "character_set_client"
            | "character_set_connection"
            | "character_set_results"
            | "character_set_database" => out
                .written_at("character_set_server")
                .or_else(|| out.written_at("collation_server")),
            "collation_server" | "collation_database" | "collation_connection" => out
                .written_at("collation_server")
                .or_else(|| out.written_at("character_set_server")),
            "innodb_open_files" => out.written_at("table_open_cache"),
            "version" => {
                ["log_bin", "general_log", "log_slow_query"].iter().find_map(|n| out.written_at(n))
            }
            _ => None,
        };
        out.derive(d.variable, &d.shown, driver, &d.why);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::Kind;

    #[track_caller]
    fn check(files: &[(&str, &str)], expect: &str) {
        assert_eq!(crate::collect::conffile::tests::parsed(Kind::Mysql, files), expect.trim());
    }

    #[test]
    fn comments_quotes_and_escapes() {
        assert_eq!(
            option("init_connect = SELECT 1#x"),
            ("init_connect".into(), Some("SELECT 1".into()))
        );
        assert_eq!(option("a = \"x # y\" # z"), ("a".into(), Some("x # y".into())));
        assert_eq!(
            option("datadir = \"C:\\data\\x\""),
            ("datadir".into(), Some("C:\\data\\x".into()))
        );
        assert_eq!(option("a = 'x\\sy'"), ("a".into(), Some("x y".into())));
        assert_eq!(option("a = \"x"), ("a".into(), Some("\"x".into())));
        assert_eq!(option("skip-name-resolve # c"), ("skip-name-resolve".into(), None));
    }

    #[test]
    fn groups_and_values() {
        check(
            &[(
                "/my.cnf",
                "[client]\nport = 1\n[MYSQLD]\nmax_connections = 500\nread_only = yes\n[ mysqld]\nport = 3\n[mariadb-10.11]\nmax_allowed_packet = 1000\n",
            )],
            "back_log=150@/my.cnf:4\nhost_cache_size=628@/my.cnf:4\nmax_allowed_packet=1024@/my.cnf:9\nmax_connections=500@/my.cnf:4\nread_only=OFF@/my.cnf:5\nthread_cache_size=256@/my.cnf:4",
        );
    }

    #[test]
    fn includes() {
        check(
            &[
                (
                    "/etc/my.cnf",
                    "[mysqld]\n!includedir /etc/conf.d\nmax_connections = 5\n!include /nope.cnf\n",
                ),
                ("/etc/conf.d/a.cnf", "[mysqld]\nmax_connections = 9\n"),
                ("/etc/conf.d/.b.cnf", "[mysqld]\nwait_timeout = 9\n"),
                ("/etc/conf.d/c.conf", "[mysqld]\nwait_timeout = 1\n"),
            ],
            "back_log=52@/etc/my.cnf:3\nhost_cache_size=138@/etc/my.cnf:3\nmax_connections=10@/etc/my.cnf:3\nthread_cache_size=10@/etc/my.cnf:3\nwait_timeout=9@/etc/conf.d/.b.cnf:2",
        );
    }

    #[test]
    fn refusals_name_the_line() {
        check(
            &[("/my.cnf", "port = 1\n")],
            "/my.cnf:1:1: Found option without preceding group in config file: /my.cnf at line: 1",
        );
        check(
            &[("/my.cnf", "[mysqld\n")],
            "/my.cnf:1:1: Wrong group definition in config file: /my.cnf at line 1",
        );
        check(
            &[("/my.cnf", "[mysqld]\nwait_timeout = 5\nlog_error_verbosity = 3\nbogus = 1\n")],
            "/my.cnf:3:1: unknown variable 'log_error_verbosity=3'",
        );
        check(
            &[("/my.cnf", "[mysqld]\n!includedir /nope\n")],
            "/my.cnf:2:1: Can't read dir of '/nope' (Errcode: No such file or directory)",
        );
    }
}
