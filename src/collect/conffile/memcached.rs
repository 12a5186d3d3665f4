//! memcached's options file as Debian's service reads it: systemd runs
//! `/usr/share/memcached/scripts/systemd-memcached-wrapper /etc/memcached.conf`, a
//! Perl script that turns the file into one command line, then memcached reads that
//! command line ([`crate::engine::memcached`]). The wrapper, line by line:
//!
//! - removes every `#` not preceded by a backslash, up to the next `#`; trims;
//!   skips empty lines and lines starting with `-d` or `-h`;
//! - skips lines that do not start with `-` and have a blank in them (`logfile
//!   /var/log/memcached.log`); a line without a blank is kept as a word;
//! - joins the lines with blanks (two options on one line are two options) and adds
//!   `-u root` only when nothing is left; the command line goes through `/bin/sh` when
//!   it holds quotes, backslashes or other shell characters.
//!
//! memcached started by it as root refuses to run without `-u`. Quotes and backslashes
//! are read as the shell reads them; other shell syntax (`$`, `;`, `|`, globs, …) is
//! refused, because what the shell would run cannot be told from the file.

use std::path::PathBuf;

use super::{Settings, read_file};
use crate::engine::memcached::{self as mc, Word};

/// Reads `paths` (the options file; more are appended as the wrapper would read one
/// longer file) into `out`.
pub fn read(paths: &[PathBuf], files: &dyn super::Files, out: &mut Settings) {
    let meta = mc::metadata();
    let mut params: Vec<(String, usize, PathBuf)> = Vec::new();
    for path in paths {
        let text = match read_file(files, path) {
            Ok(text) => text,
            Err(e) => return out.problem(path, 1, e),
        };
        for (i, raw) in text.split('\n').enumerate() {
            if let Some(param) = wrapper_line(raw) {
                params.push((param, i + 1, path.clone()));
            }
        }
    }
    for (key, value) in &meta.defaults {
        out.set_default(key, value.clone());
    }
    let top = paths.first().cloned().unwrap_or_default();
    let added_user = params.is_empty();
    let mut words = Vec::new();
    for (param, line, file) in &params {
        match shell_words(param) {
            Ok(list) => words
                .extend(list.into_iter().map(|text| (Word { text, line: *line }, file.clone()))),
            Err(e) => return out.problem(file, *line, e),
        }
    }
    let file_of = |line: usize| {
        words.iter().find(|(w, _)| w.line == line).map_or_else(|| top.clone(), |(_, f)| f.clone())
    };
    let plain: Vec<Word> = words.iter().map(|(w, _)| w.clone()).collect();
    let outcome = mc::read(meta, &plain);
    if let Some((message, line)) = outcome.refusal {
        return out.problem(&file_of(line), line, message);
    }
    if !outcome.user && !added_user {
        return out.problem(&top, 1, "can't run as root without the -u switch");
    }
    for set in outcome.sets {
        out.set(&set.key, set.value, &file_of(set.line), set.line);
    }
    for key in meta.defaults.keys() {
        if let (Some(e), Some(unit)) = (out.get_mut(key), mc::unit(key)) {
            e.unit = Some(unit.to_owned());
        }
    }
}

/// What the wrapper keeps of one line, or `None` when it drops it.
pub fn wrapper_line(raw: &str) -> Option<String> {
    // s/(?<!\\)\#[^\#]*//g over the original line.
    let chars: Vec<char> = raw.chars().collect();
    let mut kept = String::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '#' && (i == 0 || chars[i - 1] != '\\') {
            i += 1;
            while i < chars.len() && chars[i] != '#' {
                i += 1;
            }
            continue;
        }
        kept.push(chars[i]);
        i += 1;
    }
    let line = kept.trim_matches(perl_space);
    if line.is_empty() || line.starts_with("-d") || line.starts_with("-h") {
        return None;
    }
    if !line.starts_with('-') {
        // ($directive, $arg) = /^(.*?)\s+(.*)/; skipped when $directive is true.
        if let Some(blank) = line.find(perl_space) {
            let directive = &line[..blank];
            if !directive.is_empty() && directive != "0" {
                return None;
            }
        }
    }
    Some(line.to_owned())
}

/// Perl's `\s`.
fn perl_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0b' | '\x0c')
}

/// The words `/bin/sh` (or, with no shell character, Perl's split) makes of one kept
/// line: quotes and backslashes as the shell reads them.
fn shell_words(line: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' | '\n' => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(x) => cur.push(x),
                        None => {
                            return Err(
                                "unterminated quoted string: /bin/sh refuses the command line"
                                    .into(),
                            );
                        }
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.peek() {
                            Some('$' | '`' | '"' | '\\') => cur.push(chars.next().unwrap_or('\\')),
                            _ => cur.push('\\'),
                        },
                        Some(x @ ('$' | '`')) => return Err(unmodelled(x)),
                        Some(x) => cur.push(x),
                        None => {
                            return Err(
                                "unterminated quoted string: /bin/sh refuses the command line"
                                    .into(),
                            );
                        }
                    }
                }
            }
            '\\' => {
                in_word = true;
                if let Some(x) = chars.next() {
                    cur.push(x);
                }
            }
            '$' | '`' | ';' | '|' | '&' | '<' | '>' | '(' | ')' | '*' | '?' | '[' => {
                return Err(unmodelled(c));
            }
            '~' if !in_word => return Err(unmodelled(c)),
            other => {
                in_word = true;
                cur.push(other);
            }
        }
    }
    if in_word {
        out.push(cur);
    }
    Ok(out)
}

fn unmodelled(c: char) -> String {
    format!(
        "`{c}` is shell syntax: the service's wrapper hands this line to /bin/sh, and what it would run cannot be told from the file"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::Kind;

    #[track_caller]
    fn check(text: &str, expect: &str) {
        assert_eq!(
            crate::collect::conffile::tests::parsed(Kind::Memcached, &[("/m.conf", text)]),
            expect.trim()
        );
    }

    #[test]
    fn wrapper_lines() {
        assert_eq!(wrapper_line("-m 64 # memory"), Some("-m 64".into()));
        assert_eq!(wrapper_line("logfile /var/log/memcached.log"), None);
        assert_eq!(wrapper_line("-d"), None);
        assert_eq!(wrapper_line("-h"), None);
        assert_eq!(wrapper_line("word"), Some("word".into()));
        assert_eq!(wrapper_line("a\\#b # c"), Some("a\\#b".into()));
        assert_eq!(wrapper_line("  # all comment"), None);
    }

    #[test]
    fn debian_style_file() {
        check(
            "# memcached\n-d\nlogfile /var/log/memcached.log\n-m 64\n-p 11211\n-u memcache\n-l 127.0.0.1\n-c 1024 # conns\n-P /var/run/memcached/memcached.pid\n",
            "inter=127.0.0.1@/m.conf:7\nmaxbytes=67108864@/m.conf:4\nmaxconns=1024@/m.conf:8\ntcpport=11211@/m.conf:5",
        );
    }

    #[test]
    fn as_memcached_reads_the_command_line() {
        check(
            "-u memcache\n-m 5g -c 100\n-o hashpower=20,no_lru_crawler\n",
            "hashpower_init=20@/m.conf:3\nlru_crawler=no@/m.conf:3\nmaxbytes=5242880@/m.conf:2\nmaxconns=100@/m.conf:2",
        );
        check("-m 64\n", "/m.conf:1:1: can't run as root without the -u switch");
        check("", "");
        check("-u memcache\n-c 0\n", "/m.conf:2:1: Maximum connections must be greater than 0");
        check(
            "-u memcache\n-l $(hostname)\n",
            "/m.conf:2:1: `$` is shell syntax: the service's wrapper hands this line to /bin/sh, and what it would run cannot be told from the file",
        );
    }
}
