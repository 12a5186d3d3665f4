//! `postgresql.conf` and `postgresql.auto.conf`: `name = value` or `name value`, `#`
//! comments, single-quoted strings (`''` and backslash escapes), `include`,
//! `include_if_exists` and `include_dir` relative to the including file. Names are
//! case-insensitive; the last setting wins. Values are stored as `pg_settings` reports
//! them: in the setting's base unit (`128MB` → `16384` with unit `8kB`), booleans as
//! `on`/`off`, enums in lowercase.

use std::path::Path;

use super::{
    Files, MAX_INCLUDE_DEPTH, Settings, canonical_name, defaults, dir_files, read, relative_to,
};
use crate::policy::rule::parse_bool;
use crate::policy::units::{self, Expected, Unit};
use crate::snapshot::Kind;

/// Parses `path` and everything it includes into `out`.
pub fn parse(path: &Path, files: &dyn Files, out: &mut Settings) {
    match read(files, path) {
        Ok(text) => parse_text(path, &text, files, out, 0),
        Err(e) => out.problem(path, 1, e),
    }
}

/// One line's meaning: nothing, or a name and its (unquoted) value.
pub fn parse_line(line: &str) -> Result<Option<(String, String)>, String> {
    let mut chars = line.chars().peekable();
    let skip_ws = |c: &mut std::iter::Peekable<std::str::Chars<'_>>| {
        while c.next_if(|c| c.is_whitespace()).is_some() {}
    };
    skip_ws(&mut chars);
    match chars.peek() {
        None | Some('#') => return Ok(None),
        Some(c) if c.is_ascii_alphabetic() || *c == '_' => {}
        Some(c) => return Err(format!("expected a setting name, found `{c}`")),
    }
    let mut name = String::new();
    while let Some(c) = chars.next_if(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '$' | '.'))
    {
        name.push(c);
    }
    skip_ws(&mut chars);
    chars.next_if_eq(&'=');
    skip_ws(&mut chars);
    let mut value = String::new();
    match chars.peek() {
        None | Some('#') => return Err(format!("missing value for `{name}`")),
        Some('\'') => {
            chars.next();
            loop {
                match chars.next() {
                    None => return Err(format!("unterminated quoted string for `{name}`")),
                    Some('\'') if chars.next_if_eq(&'\'').is_some() => value.push('\''),
                    Some('\'') => break,
                    Some('\\') => value.push(escape(&mut chars)),
                    Some(c) => value.push(c),
                }
            }
        }
        Some(_) => {
            while let Some(c) = chars.next_if(|c| !c.is_whitespace() && *c != '#') {
                if c == '\'' {
                    return Err(format!("unexpected quote in the value of `{name}`"));
                }
                value.push(c);
            }
        }
    }
    skip_ws(&mut chars);
    match chars.peek() {
        None | Some('#') => Ok(Some((name.to_ascii_lowercase(), value))),
        Some(_) => {
            let rest: String = chars.collect();
            Err(format!("unexpected `{}` after the value of `{name}`", rest.trim_end()))
        }
    }
}

/// A backslash escape inside a quoted string: `\n \t \b \f \r`, up to three octal
/// digits, or the character itself.
fn escape(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> char {
    match chars.next() {
        Some('n') => '\n',
        Some('t') => '\t',
        Some('b') => '\u{8}',
        Some('f') => '\u{c}',
        Some('r') => '\r',
        Some(d @ '0'..='7') => {
            let mut n = d.to_digit(8).unwrap_or(0);
            for _ in 0..2 {
                match chars.next_if(|c| ('0'..='7').contains(c)) {
                    Some(d) => n = n * 8 + d.to_digit(8).unwrap_or(0),
                    None => break,
                }
            }
            char::from_u32(n).unwrap_or('\u{fffd}')
        }
        Some(c) => c,
        None => '\\',
    }
}

fn parse_text(path: &Path, text: &str, files: &dyn Files, out: &mut Settings, depth: usize) {
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let (name, value) = match parse_line(raw) {
            Ok(Some(setting)) => setting,
            Ok(None) => continue,
            Err(msg) => {
                out.problem(path, line, format!("syntax error: {msg}"));
                continue;
            }
        };
        match name.as_str() {
            "include" | "include_if_exists" | "include_dir" => {
                include(&name, &value, path, line, files, out, depth);
            }
            _ => match normalise(&name, &value) {
                Ok(value) => out.set(
                    canonical_name(Kind::Postgres, &name).unwrap_or(&name),
                    value,
                    path,
                    line,
                ),
                Err(msg) => out.problem(path, line, msg),
            },
        }
    }
}

fn include(
    directive: &str,
    value: &str,
    path: &Path,
    line: usize,
    files: &dyn Files,
    out: &mut Settings,
    depth: usize,
) {
    if depth + 1 > MAX_INCLUDE_DEPTH {
        let msg =
            format!("{directive} nested more than {MAX_INCLUDE_DEPTH} deep (an include cycle?)");
        return out.problem(path, line, msg);
    }
    let target = relative_to(path, value);
    if directive == "include_dir" {
        match dir_files(files, &target, &[".conf"]) {
            Ok(list) => {
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
            Err(e) => {
                out.problem(path, line, format!("cannot open folder {}: {e}", target.display()))
            }
        }
        return;
    }
    if !out.may_include(path, line) {
        return;
    }
    match files.read(&target) {
        Ok(text) => parse_text(&target, &text, files, out, depth + 1),
        Err(e) if directive == "include_if_exists" && e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => out.problem(path, line, format!("cannot open {}: {e}", target.display())),
    }
}

/// The value as `pg_settings` would report it, or PostgreSQL's complaint.
fn normalise(name: &str, value: &str) -> Result<String, String> {
    let default =
        canonical_name(Kind::Postgres, name).and_then(|n| defaults(Kind::Postgres).get(n));
    let Some(default) = default else {
        if name.contains('.') {
            return Ok(value.to_owned()); // an extension's setting: taken as written
        }
        return Err(format!("unrecognized configuration parameter \"{name}\""));
    };
    normalise_value(default.vartype.as_deref(), default.unit.as_deref(), value)
        .map_err(|why| format!("invalid value for parameter \"{name}\": \"{value}\"{why}"))
}

/// A value as written in a file (`128MB`, `true`, `Replica`) as `pg_settings` reports
/// it for a setting of `vartype` in `unit` (`16384`, `on`, `replica`); the error is the
/// tail of PostgreSQL's complaint (a unit hint, or empty).
pub fn normalise_value(
    vartype: Option<&str>,
    unit: Option<&str>,
    value: &str,
) -> Result<String, String> {
    match vartype {
        Some("bool") => match parse_bool(value) {
            Some(b) => Ok(if b { "on" } else { "off" }.to_owned()),
            None => Err(String::new()),
        },
        Some("enum") => Ok(value.to_ascii_lowercase()),
        Some(t @ ("integer" | "real")) => in_base_unit(t == "integer", unit, value),
        _ => Ok(value.to_owned()),
    }
}

/// `128MB` for a setting in `8kB` → `16384`; a plain number stays as it is.
fn in_base_unit(integer: bool, unit: Option<&str>, value: &str) -> Result<String, String> {
    if units::parse_number(value).is_ok() {
        return Ok(value.trim().to_owned());
    }
    let base = unit.filter(|u| !u.is_empty()).map(Unit::parse);
    let (Some(Ok(base)), Ok(Expected::Quantity(q))) = (base, Expected::parse(value)) else {
        if integer && value.trim().starts_with("0x") {
            return i64::from_str_radix(value.trim().trim_start_matches("0x"), 16)
                .map(|n| n.to_string())
                .map_err(|_| String::new());
        }
        let hint = match unit.map(Unit::parse) {
            Some(Ok(u)) if u.dimension == units::Dimension::Memory => {
                " (valid units for this parameter are \"B\", \"kB\", \"MB\", \"GB\", and \"TB\")"
            }
            Some(Ok(_)) => {
                " (valid units for this parameter are \"us\", \"ms\", \"s\", \"min\", \"h\", and \"d\")"
            }
            _ => "",
        };
        return Err(hint.to_owned());
    };
    if q.dimension != Some(base.dimension) {
        return Err(format!(" (expected a {} value)", base.dimension.as_str()));
    }
    let amount = q.amount / base.factor;
    if integer || amount.fract() == 0.0 {
        Ok(format!("{}", amount.round() as i64))
    } else {
        Ok(format!("{amount}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::conffile::{MemoryFiles, parse as parse_files};
    use crate::snapshot::Kind;

    /// `files` are (path, text); the first is parsed. `expect` lists
    /// `name=value@file:line` for every setting (sorted), or the diagnostics.
    #[track_caller]
    fn check(files: &[(&str, &str)], expect: &str) {
        assert_eq!(crate::collect::conffile::tests::parsed(Kind::Postgres, files), expect.trim());
    }

    #[test]
    fn forms_and_comments() {
        check(
            &[(
                "/p.conf",
                "# c\n\nwal_level = replica  # why\nport 5433\nFSync=off\n  cluster_name = 'a b'\n",
            )],
            "cluster_name=a b@/p.conf:6\nfsync=off@/p.conf:5\nport=5433@/p.conf:4\nwal_level=replica@/p.conf:3",
        );
    }

    #[test]
    fn quoting_and_escapes() {
        check(
            &[("/p.conf", "archive_command = 'cp ''%p'' /a\\t\\101 # not a comment'\n")],
            "archive_command=cp '%p' /a\tA # not a comment@/p.conf:1",
        );
    }

    #[test]
    fn units_become_base_units() {
        check(
            &[(
                "/p.conf",
                "shared_buffers = 128MB\nstatement_timeout = '5min'\nwork_mem = 4096\ncheckpoint_completion_target = 0.9\n",
            )],
            "checkpoint_completion_target=0.9@/p.conf:4\nshared_buffers=16384@/p.conf:1\nstatement_timeout=300000@/p.conf:2\nwork_mem=4096@/p.conf:3",
        );
    }

    #[test]
    fn booleans_and_enums_are_canonical() {
        check(
            &[("/p.conf", "fsync = false\nhot_standby = YES\nwal_level = Logical\n")],
            "fsync=off@/p.conf:1\nhot_standby=on@/p.conf:2\nwal_level=logical@/p.conf:3",
        );
    }

    #[test]
    fn later_settings_win_across_includes() {
        check(
            &[
                (
                    "/etc/pg/postgresql.conf",
                    "port = 1\ninclude 'extra.conf'\ninclude_dir = 'conf.d'\ninclude_if_exists '/nope.conf'\n",
                ),
                ("/etc/pg/extra.conf", "port = 2\nfsync = off\n"),
                ("/etc/pg/conf.d/20-b.conf", "port = 4\n"),
                ("/etc/pg/conf.d/10-a.conf", "port = 3\nfsync = on\n"),
                ("/etc/pg/conf.d/ignored.txt", "port = 9\n"),
            ],
            "fsync=on@/etc/pg/conf.d/10-a.conf:2\nport=4@/etc/pg/conf.d/20-b.conf:1",
        );
    }

    #[test]
    fn errors_name_file_and_line() {
        check(
            &[(
                "/p.conf",
                "port = 1\nwal_level =\nshared_buffers = 64mb\nfsync = maybe\nbogus_setting = 1\nport = 'x\ninclude 'missing.conf'\nwork_mem = 1 2\n",
            )],
            r#"
/p.conf:2:1: syntax error: missing value for `wal_level`
/p.conf:3:1: invalid value for parameter "shared_buffers": "64mb" (valid units for this parameter are "B", "kB", "MB", "GB", and "TB")
/p.conf:4:1: invalid value for parameter "fsync": "maybe"
/p.conf:5:1: unrecognized configuration parameter "bogus_setting"
/p.conf:6:1: syntax error: unterminated quoted string for `port`
/p.conf:7:1: cannot open /missing.conf: entity not found
/p.conf:8:1: syntax error: unexpected `2` after the value of `work_mem`"#,
        );
    }

    #[test]
    fn include_cycles_stop() {
        let got = parse_files(
            Kind::Postgres,
            Path::new("/a.conf"),
            &MemoryFiles::new([("/a.conf", "include 'a.conf'\n")]),
        );
        let msg = got.unwrap_err().to_string();
        assert!(msg.contains("nested more than 10 deep"), "{msg}");
    }

    #[test]
    fn mixed_case_names_as_pg_settings_spells_them() {
        check(
            &[("/p.conf", "datestyle = 'iso, mdy'\nTIMEZONE = UTC\n")],
            "DateStyle=iso, mdy@/p.conf:1\nTimeZone=UTC@/p.conf:2",
        );
    }

    #[test]
    fn extension_settings_are_kept() {
        check(
            &[("/p.conf", "pg_stat_statements.max = 10000\n")],
            "pg_stat_statements.max=10000@/p.conf:1",
        );
    }
}
