//! `my.cnf` for MariaDB (and MySQL): `[section]`s, of which the server's apply
//! (`mysqld`, `mariadb`, `mariadbd`, `server`, `client-server`, `galera`, and
//! `mysqld-10.11` / `mariadb-10.11` / `mariadbd-10.11`); `key = value`, `key` alone
//! (= `ON`), `skip-key` (= `OFF`), `enable-`/`disable-`, `loose-` prefixes; dashes and
//! underscores are the same (stored with underscores); quoted values; `#` and `;`
//! comments; `!include FILE` and `!includedir DIR` (`*.cnf` and `*.conf`, sorted).
//!
//! Values are stored as `SHOW GLOBAL VARIABLES` reports them: booleans as `ON`/`OFF`,
//! sizes with `K`/`M`/`G`/`T` suffixes in bytes (both only for variables whose default
//! says they are booleans or numbers).

use std::path::Path;

use super::{
    Files, MAX_INCLUDE_DEPTH, Settings, binary_size, defaults, dir_files, read, relative_to,
};
use crate::policy::rule::parse_bool;
use crate::snapshot::Kind;

/// The MariaDB series whose versioned sections (`[mysqld-10.11]`) apply.
pub const SERIES: &str = "10.11";

/// Parses `path` and everything it includes into `out`.
pub fn parse(path: &Path, files: &dyn Files, out: &mut Settings) {
    match read(files, path) {
        Ok(text) => parse_text(path, &text, files, out, 0),
        Err(e) => out.problem(path, 1, e),
    }
}

/// Whether the server reads options from a `[section]`.
pub fn server_section(name: &str) -> bool {
    let name = name.trim().to_ascii_lowercase();
    let base = ["mysqld", "mariadb", "mariadbd"];
    base.contains(&name.as_str())
        || matches!(name.as_str(), "server" | "client-server" | "galera")
        || base.iter().any(|b| name == format!("{b}-{SERIES}"))
}

/// The variable name and value an option line means: `skip-name-resolve` →
/// (`skip_name_resolve`, `ON`)… see the module doc. `None` for `skip-`/`loose-` forms of
/// nothing.
pub fn option(key: &str, value: Option<&str>) -> (String, String) {
    let mut name = key.trim().to_ascii_lowercase().replace('-', "_");
    if let Some(rest) = name.strip_prefix("loose_") {
        name = rest.to_owned();
    }
    let known = |n: &str| defaults(Kind::Mysql).contains_key(n);
    // `skip-name-resolve` is itself a variable (`skip_name_resolve`); `skip-log-bin` is
    // `log_bin = OFF`.
    for (prefix, flag) in [("skip_", "OFF"), ("disable_", "OFF"), ("enable_", "ON")] {
        if let Some(rest) = name.strip_prefix(prefix)
            && !known(&name)
            && value.is_none()
        {
            return (rest.to_owned(), flag.to_owned());
        }
    }
    let value = match value {
        None => "ON".to_owned(),
        Some(v) => normalise(&name, v),
    };
    (name, value)
}

/// `ON`/`OFF` for boolean variables, bytes for sizes of numeric ones.
fn normalise(name: &str, value: &str) -> String {
    let Some(default) = defaults(Kind::Mysql).get(name) else { return value.to_owned() };
    // `log-bin = mariadb-bin` names the binlog files and turns logging on.
    if name == "log_bin" && parse_bool(value).is_none() {
        return "ON".to_owned();
    }
    if matches!(default.value.as_str(), "ON" | "OFF")
        && let Some(b) = parse_bool(value)
    {
        return if b { "ON" } else { "OFF" }.to_owned();
    }
    if default.value.parse::<i64>().is_ok()
        && let Some(bytes) = binary_size(value, false)
    {
        return bytes.to_string();
    }
    value.to_owned()
}

fn parse_text(path: &Path, text: &str, files: &dyn Files, out: &mut Settings, depth: usize) {
    // Options before any section are an error; an included file starts without one.
    let mut section: Option<bool> = None;
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with(';') {
            continue;
        }
        if let Some(rest) = trimmed.strip_prefix('!') {
            directive(rest, path, line, files, out, depth);
            continue;
        }
        if let Some(rest) = trimmed.strip_prefix('[') {
            match rest.split_once(']') {
                Some((name, after)) if after.trim().is_empty() || after.trim().starts_with('#') => {
                    section = Some(server_section(name));
                }
                _ => out.problem(path, line, format!("wrong group definition `{trimmed}`")),
            }
            continue;
        }
        let applies = match section {
            Some(applies) => applies,
            None => {
                out.problem(path, line, "found an option without a preceding [group]");
                continue;
            }
        };
        match split_option(trimmed) {
            Ok((key, value)) if applies => {
                let (name, value) = option(&key, value.as_deref());
                out.set(&name, value, path, line);
            }
            Ok(_) => {}
            Err(msg) => out.problem(path, line, msg),
        }
    }
}

/// `key = value # comment` → (`key`, `Some(value)`), quotes removed and escapes read.
fn split_option(text: &str) -> Result<(String, Option<String>), String> {
    let Some((key, raw)) = text.split_once('=') else {
        let key = strip_comment(text).trim().to_owned();
        return Ok((key, None));
    };
    let key = key.trim().to_owned();
    if key.is_empty() {
        return Err("an option needs a name before `=`".to_owned());
    }
    let raw = raw.trim();
    let value = match raw.chars().next() {
        Some(q @ ('"' | '\'')) => {
            let mut value = String::new();
            let mut chars = raw[1..].chars();
            loop {
                match chars.next() {
                    None => return Err(format!("unterminated quoted value for `{key}`")),
                    Some(c) if c == q => break,
                    Some('\\') => value.push(match chars.next() {
                        Some('n') => '\n',
                        Some('t') => '\t',
                        Some('r') => '\r',
                        Some('b') => '\u{8}',
                        Some('s') => ' ',
                        Some(c) => c,
                        None => '\\',
                    }),
                    Some(c) => value.push(c),
                }
            }
            let rest = chars.as_str().trim();
            if !(rest.is_empty() || rest.starts_with('#') || rest.starts_with(';')) {
                return Err(format!("unexpected `{rest}` after the quoted value of `{key}`"));
            }
            value
        }
        _ => strip_comment(raw).trim().to_owned(),
    };
    Ok((key, Some(value)))
}

/// Text before a ` #` comment (a `#` at the start of a value or inside a word stays).
fn strip_comment(text: &str) -> &str {
    let bytes = text.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'#' && (i == 0 || bytes[i - 1].is_ascii_whitespace()) {
            return &text[..i];
        }
    }
    text
}

fn directive(
    rest: &str,
    path: &Path,
    line: usize,
    files: &dyn Files,
    out: &mut Settings,
    depth: usize,
) {
    let (word, arg) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
    let arg = arg.trim();
    if !matches!(word, "include" | "includedir") {
        return out.problem(
            path,
            line,
            format!("unknown directive `!{word}` (expected !include or !includedir)"),
        );
    }
    if arg.is_empty() {
        return out.problem(path, line, format!("`!{word}` needs a path"));
    }
    if depth + 1 > MAX_INCLUDE_DEPTH {
        return out.problem(
            path,
            line,
            format!("!{word} nested more than {MAX_INCLUDE_DEPTH} deep (an include cycle?)"),
        );
    }
    let target = relative_to(path, arg);
    let list = if word == "includedir" {
        match dir_files(files, &target, &[".cnf", ".conf"]) {
            Ok(list) => list,
            Err(e) => {
                return out.problem(
                    path,
                    line,
                    format!("cannot open folder {}: {e}", target.display()),
                );
            }
        }
    } else {
        vec![target]
    };
    for file in list {
        if !out.may_include(path, line) {
            return;
        }
        match read(files, &file) {
            Ok(text) => parse_text(&file, &text, files, out, depth + 1),
            Err(e) => out.problem(path, line, e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(files: &[(&str, &str)], expect: &str) {
        assert_eq!(crate::collect::conffile::tests::parsed(Kind::Mysql, files), expect.trim());
    }

    #[test]
    fn sections_decide_what_applies() {
        check(
            &[(
                "/my.cnf",
                "[client]\nport = 1\n[mysqld]\nport = 2\n[mysqldump]\nquick\n[mariadb-10.11]\nserver-id = 7\n[mariadb-10.6]\nserver-id = 8\n[server]\nmax_connections=100\n",
            )],
            "max_connections=100@/my.cnf:12\nport=2@/my.cnf:4\nserver_id=7@/my.cnf:8",
        );
    }

    #[test]
    fn dashes_booleans_skip_and_loose() {
        check(
            &[(
                "/my.cnf",
                "[mysqld]\nread-only\nlog-bin = x-bin\nskip-log-bin\nskip-name-resolve\nloose-gtid-strict-mode = 1\nlog_slave_updates = true\ndisable-local-infile\n",
            )],
            "gtid_strict_mode=ON@/my.cnf:6\nlocal_infile=OFF@/my.cnf:8\nlog_bin=OFF@/my.cnf:4\nlog_slave_updates=ON@/my.cnf:7\nread_only=ON@/my.cnf:2\nskip_name_resolve=ON@/my.cnf:5",
        );
    }

    #[test]
    fn quotes_comments_and_sizes() {
        check(
            &[(
                "/my.cnf",
                "# top\n; also\n[mysqld]\ninit_connect = \"SET NAMES utf8mb4 # kept\"  # dropped\ninnodb_buffer_pool_size = 1G\ndatadir = /var/lib/my#sql\nsql_mode='a\\tb'\n",
            )],
            "datadir=/var/lib/my#sql@/my.cnf:6\ninit_connect=SET NAMES utf8mb4 # kept@/my.cnf:4\ninnodb_buffer_pool_size=1073741824@/my.cnf:5\nsql_mode=a\tb@/my.cnf:7",
        );
    }

    #[test]
    fn includes_and_overrides() {
        check(
            &[
                (
                    "/etc/mysql/my.cnf",
                    "[mysqld]\nport = 1\n!includedir conf.d/\nmax_connections = 5\n!include /etc/extra.cnf\n",
                ),
                ("/etc/mysql/conf.d/50-server.cnf", "[mysqld]\nport = 2\n"),
                ("/etc/mysql/conf.d/60-galera.conf", "[galera]\nport = 3\n"),
                ("/etc/mysql/conf.d/README", "[mysqld]\nport = 9\n"),
                ("/etc/extra.cnf", "[client]\nport = 4\n"),
            ],
            "max_connections=5@/etc/mysql/my.cnf:4\nport=3@/etc/mysql/conf.d/60-galera.conf:2",
        );
    }

    #[test]
    fn errors_name_file_and_line() {
        check(
            &[(
                "/my.cnf",
                "port = 1\n[mysqld\n[mysqld]\nx = \"open\n!bogus\n!include /missing.cnf\n",
            )],
            r#"
/my.cnf:1:1: found an option without a preceding [group]
/my.cnf:2:1: wrong group definition `[mysqld`
/my.cnf:4:1: unterminated quoted value for `x`
/my.cnf:5:1: unknown directive `!bogus` (expected !include or !includedir)
/my.cnf:6:1: cannot read /missing.cnf: entity not found"#,
        );
    }
}
