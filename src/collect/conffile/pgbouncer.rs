//! `pgbouncer.ini` as PgBouncer 1.18 reads it (libusual's `cfparser.c`, then each value
//! through [`crate::engine::pgbouncer::value`]):
//!
//! - Whitespace (blank lines too) before anything is skipped. `%include <file>` (a blank
//!   after it) reads another file in place, at most 10 deep; `#` or `;` starts a comment
//!   line — only at the start of a line: `key = value ; note` sets `value ; note`.
//! - `[name]` opens a section (`pgbouncer`, `databases`, `users`; any other is refused);
//!   each `[pgbouncer]` first resets every setting to its default. What follows `]` on
//!   the line is read as the next line.
//! - `key = value`: the key is made of letters, digits and `_.-*` (no quoting), then
//!   blanks, `=` (else a syntax error), blanks, and the value up to the end of the line,
//!   trailing whitespace dropped. No quoting of values, no escapes.
//! - In `[pgbouncer]` an unknown key or a value of the wrong type stops PgBouncer from
//!   starting; a key before any section too, and a file without `[pgbouncer]`.
//!
//! A refused value is reported at the line PgBouncer names, which is the line after
//! the blank lines that follow it (its parser counts lines from where it stopped).
//!
//! `%include` names a file as PgBouncer opens it, relative to its working directory:
//! here, relative to the folder of the file that includes it. The `[databases]` and
//! `[users]` entries are checked for the ini syntax only: their connection strings are
//! neither read into the snapshot nor checked (a malformed one, which PgBouncer refuses
//! at start, is not found), nor is the `auth_file` opened.

use std::path::{Path, PathBuf};

use super::{Settings, os_reason};
use crate::engine::cnum::is_c_space;
use crate::engine::pgbouncer as pb;

/// PgBouncer's include depth limit (`MAX_INCLUDE` in `cfparser.c`).
const MAX_INCLUDE: usize = 10;

/// Reads `paths` (each one as PgBouncer reads its one file; later ones override) into
/// `out`.
pub fn read(paths: &[PathBuf], files: &dyn super::Files, out: &mut Settings) {
    let meta = pb::metadata();
    defaults(out);
    for path in paths {
        let mut reader = Reader { files, out, section: None, got_main: false };
        if !reader.file(path, 0, None) {
            return;
        }
        if !reader.got_main {
            out.problem(path, 1, "main section missing from config file");
            return;
        }
    }
    for name in meta.settings.keys() {
        if let (Some(e), Some(unit)) = (out.get_mut(name), pb::unit(name)) {
            e.unit = Some(unit.to_owned());
        }
    }
}

fn defaults(out: &mut Settings) {
    for (name, s) in &pb::metadata().settings {
        if let (Some(default), None) = (&s.default, &s.varies) {
            out.set_default(name, default.clone());
        }
    }
}

struct Reader<'a> {
    files: &'a dyn super::Files,
    out: &'a mut Settings,
    section: Option<String>,
    got_main: bool,
}

impl Reader<'_> {
    /// Reads one file; false (with the problem recorded) when PgBouncer would stop.
    fn file(&mut self, path: &Path, depth: usize, from: Option<(&Path, usize)>) -> bool {
        let text = match self.files.read(path) {
            Ok(text) => text,
            Err(e) => {
                let (file, line) = from.unwrap_or((path, 1));
                let message =
                    format!("could not load file \"{}\": {}", path.display(), os_reason(&e));
                self.out.problem(file, line, message);
                return false;
            }
        };
        let b = text.as_bytes();
        let line_at = |i: usize| 1 + b[..i].iter().filter(|c| **c == b'\n').count();
        let mut p = 0;
        while p < b.len() {
            while p < b.len() && is_c_space(b[p] as char) {
                p += 1;
            }
            if p >= b.len() {
                break;
            }
            let line = line_at(p);
            if b[p..].starts_with(b"%include") && matches!(b.get(p + 8), Some(b' ' | b'\t')) {
                if depth >= MAX_INCLUDE {
                    self.out.problem(path, line, "include nesting level too deep");
                    return false;
                }
                p += 8;
                while p < b.len() && matches!(b[p], b' ' | b'\t') {
                    p += 1;
                }
                let (value, next) = rest_of_line(&text, p);
                p = next;
                let target = path.parent().unwrap_or(Path::new("/")).join(value);
                if !self.out.may_include(path, line)
                    || !self.file(&target, depth + 1, Some((path, line)))
                {
                    return false;
                }
                continue;
            }
            if b[p] == b'#' || b[p] == b';' {
                while p < b.len() && b[p] != b'\n' {
                    p += 1;
                }
                continue;
            }
            if b[p] == b'[' {
                let start = p + 1;
                let mut q = start;
                while q < b.len() && b[q] != b']' && b[q] != b'\n' {
                    q += 1;
                }
                if q >= b.len() || b[q] != b']' {
                    self.out.problem(path, line, "syntax error in configuration");
                    return false;
                }
                let name = &text[start..q];
                if !self.section(name) {
                    let message = format!("invalid section \"{name}\" in configuration");
                    self.out.problem(path, line, message);
                    return false;
                }
                p = q + 1;
                continue;
            }
            // key: letters, digits and `_.-*` (1.18 has no quoted keys)
            let mut key_end = p;
            while key_end < b.len()
                && (b[key_end].is_ascii_alphanumeric() || b"_.-*".contains(&b[key_end]))
            {
                key_end += 1;
            }
            let key = &text[p..key_end];
            let mut q = key_end;
            while q < b.len() && matches!(b[q], b' ' | b'\t') {
                q += 1;
            }
            if q >= b.len() || b[q] != b'=' {
                self.out.problem(path, line, "syntax error in configuration");
                return false;
            }
            q += 1;
            while q < b.len() && matches!(b[q], b' ' | b'\t') {
                q += 1;
            }
            let (value, next) = rest_of_line(&text, q);
            p = next;
            // PgBouncer names the line of its cursor after the whitespace that follows
            // the value, counting newlines up to it but the one its parser has just
            // overwritten (the one right after the value, when nothing trails it).
            let value_end = q + value.len();
            let mut after = next;
            while after < b.len() && is_c_space(b[after] as char) {
                after += 1;
            }
            let reported = 1 + b[..after]
                .iter()
                .enumerate()
                .filter(|(i, c)| **c == b'\n' && *i != value_end)
                .count();
            if !self.set(key, value, path, (line, reported)) {
                return false;
            }
        }
        true
    }

    /// A section header; false for a section PgBouncer does not have.
    fn section(&mut self, name: &str) -> bool {
        match name {
            "pgbouncer" => {
                self.got_main = true;
                // fill_defaults: every setting back to its default.
                let written: Vec<String> = pb::metadata()
                    .settings
                    .keys()
                    .filter(|n| self.out.written_at(n).is_some())
                    .cloned()
                    .collect();
                for name in written {
                    if let Some(default) = &pb::metadata().settings[&name].default
                        && let Some(e) = self.out.get_mut(&name)
                    {
                        *e = crate::snapshot::Entry {
                            source: Some(super::DEFAULT_SOURCE.into()),
                            ..crate::snapshot::Entry::new(default.clone())
                        };
                    }
                }
            }
            "databases" | "users" => {}
            _ => return false,
        }
        self.section = Some(name.to_owned());
        true
    }

    /// `lines`: the key's line, and the line PgBouncer names when it refuses the value.
    fn set(&mut self, key: &str, value: &str, path: &Path, lines: (usize, usize)) -> bool {
        let (line, reported) = lines;
        let Some(section) = self.section.as_deref() else {
            self.out.problem(path, reported, format!("value without section: {key}"));
            return false;
        };
        if section != "pgbouncer" {
            return true;
        }
        let meta = pb::metadata();
        let Some(setting) = meta.settings.get(key) else {
            self.out.problem(path, reported, format!("unknown parameter: pgbouncer/{key}"));
            return false;
        };
        match pb::value(key, setting, value) {
            Some(shown) => {
                if setting.varies.is_none() {
                    self.out.set(key, shown, path, line);
                }
                true
            }
            None => {
                let message = format!("invalid value \"{value}\" for parameter {key}");
                self.out.problem(path, reported, message);
                false
            }
        }
    }
}

/// From `from` to the end of its line, trailing whitespace dropped; and where the next
/// line starts.
fn rest_of_line(text: &str, from: usize) -> (&str, usize) {
    let end = text[from..].find('\n').map_or(text.len(), |i| from + i);
    (text[from..end].trim_end_matches(is_c_space), end)
}

#[cfg(test)]
mod tests {
    use crate::collect::conffile::tests::parsed;
    use crate::snapshot::Kind;

    #[track_caller]
    fn check(files: &[(&str, &str)], expect: &str) {
        assert_eq!(parsed(Kind::Pgbouncer, files), expect.trim());
    }

    #[test]
    fn settings_with_their_lines() {
        check(
            &[(
                "/p.ini",
                "; pooler\n[databases]\napp = host=db dbname=app\n\n[pgbouncer]\n  \
                 default_pool_size = 0x10\nquery_wait_timeout=0.5   \npool_mode = Transaction\n\
                 server_check_query = select 1 ; note\n",
            )],
            "default_pool_size=16@/p.ini:6\npool_mode=transaction@/p.ini:8\n\
             query_wait_timeout=0.5@/p.ini:7\nserver_check_query=select 1 ; note@/p.ini:9",
        );
    }

    #[test]
    fn includes_read_in_place_relative_to_the_including_file() {
        check(
            &[
                ("/etc/pb/p.ini", "[pgbouncer]\nmax_client_conn = 10\n%include more.ini\n"),
                ("/etc/pb/more.ini", "max_client_conn = 500\n"),
            ],
            "max_client_conn=500@/etc/pb/more.ini:1",
        );
    }

    #[test]
    fn a_second_pgbouncer_section_starts_from_the_defaults() {
        check(
            &[(
                "/p.ini",
                "[pgbouncer]\nmax_client_conn = 10\nlisten_port = 1\n[pgbouncer]\nlisten_port = 2\n",
            )],
            "listen_port=2@/p.ini:5",
        );
    }

    #[test]
    fn what_pgbouncer_refuses() {
        check(
            &[("/p.ini", "[pgbouncer]\nnope = 1\n")],
            "/p.ini:2:1: unknown parameter: pgbouncer/nope",
        );
        check(
            &[("/p.ini", "[pgbouncer]\ndefault_pool_size = 20 # many\n")],
            "/p.ini:2:1: invalid value \"20 # many\" for parameter default_pool_size",
        );
        check(
            &[("/p.ini", "[pgbouncer]\npool_mode\n")],
            "/p.ini:2:1: syntax error in configuration",
        );
        check(&[("/p.ini", "[pgbouncer\n")], "/p.ini:1:1: syntax error in configuration");
        check(&[("/p.ini", "[other]\n")], "/p.ini:1:1: invalid section \"other\" in configuration");
        check(&[("/p.ini", "listen_port = 1\n")], "/p.ini:1:1: value without section: listen_port");
        check(&[("/p.ini", "[databases]\n")], "/p.ini:1:1: main section missing from config file");
        check(
            &[("/p.ini", "[pgbouncer]\n%include /missing.ini\n")],
            "/p.ini:2:1: could not load file \"/missing.ini\": No such file or directory",
        );
    }
}
