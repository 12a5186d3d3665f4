//! `postgresql.conf` and `postgresql.auto.conf`, read as the server reads them
//! (guc-file.l, then guc.c):
//!
//! - Tokens: `name [=] value` per line, `#` comments; a value is one token: a name,
//!   a number with unit letters (`128MB`), a real (`0.9`, `.5`, `1e3` only quoted), an
//!   unquoted string of letters, digits and `-._:/` starting with a letter, or a
//!   single-quoted string (`''` and backslash escapes `\n \t \b \f \r \ooo`). Anything
//!   else (an unquoted path, `1.5GB` unquoted, `a.b` unquoted) is a syntax error at its
//!   token. Every syntax error of a file is reported (the server stops after 100).
//! - `include`, `include_if_exists` (skipped when missing) and `include_dir` (files
//!   ending in `.conf`, not starting with `.`, in byte order), relative to the folder
//!   of the file that names them, at most 10 deep.
//! - Names are case-insensitive; an unknown name without a dot is refused (and then no
//!   value is checked); a name with a dot is an extension's placeholder, accepted
//!   and (as in `pg_settings` until the extension defines it) not listed. Only the last occurrence of a name (spelt the same way) is checked and
//!   used; earlier ones are ignored, even when invalid.
//! - Values as [`crate::engine::postgres`] reads them; settings fixed at build or initdb
//!   time are refused; then the values the server derives and the combinations it
//!   refuses to start with ([`crate::engine::postgres::startup`]).
//!
//! Entries carry `pg_settings`' `unit`, `vartype` and `context`.

use std::path::{Path, PathBuf};

use super::{Files, MAX_INCLUDE_DEPTH, Settings, os_reason, relative_to};
use crate::engine::postgres::{self as pg, Metadata, Setting, startup};

/// One `name = value` line as the lexer found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub name: String,
    pub value: String,
    pub file: PathBuf,
    pub line: usize,
}

/// Reads `paths` (`postgresql.conf`, then `postgresql.auto.conf` if given) into `out`.
pub fn read(paths: &[PathBuf], files: &dyn Files, out: &mut Settings) {
    let mut items = Vec::new();
    for path in paths {
        match files.read(path) {
            Ok(text) => parse_file(path, &text, files, out, 0, &mut items),
            Err(e) => out.problem(
                path,
                1,
                format!(
                    "could not open configuration file \"{}\": {}",
                    path.display(),
                    os_reason(&e)
                ),
            ),
        }
    }
    if out.has_problems() {
        return;
    }
    apply(pg::metadata(), &items, out);
}

/// The lines of one file and what it includes, appended to `items`; syntax and include
/// problems go to `out`.
fn parse_file(
    path: &Path,
    text: &str,
    files: &dyn Files,
    out: &mut Settings,
    depth: usize,
    items: &mut Vec<Item>,
) {
    let mut lexer = Lexer { text: text.as_bytes(), pos: 0, line: 1 };
    let mut errors = 0;
    loop {
        let mut tok = lexer.next();
        if tok.kind == Tok::Eof {
            return;
        }
        if tok.kind == Tok::Eol {
            continue;
        }
        let result: Result<(String, String), Tok> = (|| {
            if !matches!(tok.kind, Tok::Id | Tok::QualifiedId) {
                return Err(tok.kind);
            }
            let name = tok.text.clone();
            tok = lexer.next();
            if tok.kind == Tok::Equals {
                tok = lexer.next();
            }
            let value = match tok.kind {
                Tok::String => unquote(&tok.text),
                Tok::Id | Tok::Integer | Tok::Real | Tok::Unquoted => tok.text.clone(),
                other => return Err(other),
            };
            tok = lexer.next();
            match tok.kind {
                Tok::Eol => {}
                // EOF counts as the end of a line for numbering.
                Tok::Eof => lexer.line += 1,
                other => return Err(other),
            }
            Ok((name, value))
        })();
        match result {
            Ok((name, value)) => {
                let line = lexer.line - 1;
                let directive = name.to_ascii_lowercase();
                match directive.as_str() {
                    "include" | "include_if_exists" | "include_dir" => {
                        include(&directive, &value, path, line, files, out, depth, items);
                    }
                    _ => items.push(Item { name, value, file: path.to_owned(), line }),
                }
                if tok.kind == Tok::Eof {
                    return;
                }
            }
            Err(kind) => {
                let (line, near) = if matches!(kind, Tok::Eol | Tok::Eof) {
                    (lexer.line.saturating_sub(1), "near end of line".to_owned())
                } else {
                    (lexer.line, format!("near token \"{}\"", tok.text))
                };
                out.problem(
                    path,
                    line,
                    format!("syntax error in file \"{}\" line {line}, {near}", path.display()),
                );
                errors += 1;
                if errors >= 100 {
                    return;
                }
                while !matches!(tok.kind, Tok::Eol | Tok::Eof) {
                    tok = lexer.next();
                }
                if tok.kind == Tok::Eof {
                    return;
                }
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn include(
    directive: &str,
    value: &str,
    path: &Path,
    line: usize,
    files: &dyn Files,
    out: &mut Settings,
    depth: usize,
    items: &mut Vec<Item>,
) {
    let target = relative_to(path, value);
    if directive == "include_dir" {
        let list = match files.list_dir(&target) {
            Ok(list) => list,
            Err(e) => {
                return out.problem(
                    path,
                    line,
                    format!(
                        "could not open configuration directory \"{}\": {}",
                        target.display(),
                        os_reason(&e)
                    ),
                );
            }
        };
        let mut names: Vec<PathBuf> =
            list.into_iter()
                .filter(|p| {
                    p.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
                        n.len() >= 6 && !n.starts_with('.') && n.ends_with(".conf")
                    }) && !files.is_dir(p)
                })
                .collect();
        names
            .sort_by(|a, b| a.as_os_str().as_encoded_bytes().cmp(b.as_os_str().as_encoded_bytes()));
        for file in names {
            // Files of the folder are read at the folder's depth.
            if !open(&file, true, path, line, files, out, depth + 1, items) {
                return;
            }
        }
        return;
    }
    open(&target, directive == "include", path, line, files, out, depth + 1, items);
}

/// `ParseConfigFile`: false when the file could not be read (and `strict`).
#[allow(clippy::too_many_arguments)]
fn open(
    target: &Path,
    strict: bool,
    calling: &Path,
    line: usize,
    files: &dyn Files,
    out: &mut Settings,
    depth: usize,
    items: &mut Vec<Item>,
) -> bool {
    if depth > MAX_INCLUDE_DEPTH {
        out.problem(
            calling,
            line,
            format!(
                "could not open configuration file \"{}\": maximum nesting depth exceeded",
                target.display()
            ),
        );
        return false;
    }
    if !out.may_include(calling, line) {
        return false;
    }
    match files.read(target) {
        Ok(text) => {
            parse_file(target, &text, files, out, depth, items);
            true
        }
        Err(_) if !strict => true,
        Err(e) => {
            out.problem(
                calling,
                line,
                format!(
                    "could not open configuration file \"{}\": {}",
                    target.display(),
                    os_reason(&e)
                ),
            );
            false
        }
    }
}

/// The checks and assignments of `ProcessConfigFileInternal`, then defaults, derived
/// values and start-up checks.
fn apply(meta: &Metadata, items: &[Item], out: &mut Settings) {
    // Unknown names; the earlier occurrences of a name (spelt the same) are ignored.
    let mut known: Vec<Option<(&str, &Setting)>> = Vec::with_capacity(items.len());
    let mut unknown = false;
    for item in items {
        let found = meta.setting(&item.name);
        if found.is_none() && !item.name.contains('.') {
            out.problem(
                &item.file,
                item.line,
                format!(
                    "unrecognized configuration parameter \"{}\" in file \"{}\" line {}",
                    item.name,
                    item.file.display(),
                    item.line
                ),
            );
            unknown = true;
        }
        known.push(found);
    }
    if unknown {
        return;
    }
    let last = |i: usize| {
        !items[i + 1..]
            .iter()
            .zip(&known[i + 1..])
            .any(|(later, k)| later.name == items[i].name && (k.is_some() || known[i].is_none()))
    };
    for (i, item) in items.iter().enumerate() {
        if !last(i) {
            continue;
        }
        let Some((name, setting)) = known[i] else {
            // An extension's placeholder: accepted as written, and, like on a live
            // server until the extension is loaded, not in pg_settings.
            continue;
        };
        if setting.internal() {
            let msg = setting
                .file
                .clone()
                .unwrap_or_else(|| format!("parameter \"{name}\" cannot be changed"));
            out.problem(&item.file, item.line, msg);
            continue;
        }
        match pg::parse_value(meta, name, setting, &item.value) {
            Ok(parsed) => {
                out.set(name, parsed.shown.clone(), &item.file, item.line);
                if let Some(why) = parsed.adjusted {
                    out.adjust(name, &item.value, why);
                } else if setting.vartype == pg::VarType::Enum
                    && !parsed.shown.eq_ignore_ascii_case(&item.value)
                {
                    out.adjust(
                        name,
                        &item.value,
                        format!("the server reads `{}` as `{}`", item.value, parsed.shown),
                    );
                }
            }
            Err(refusal) => out.problem(&item.file, item.line, refusal.to_string()),
        }
    }
    if out.has_problems() {
        return;
    }
    for (name, s) in &meta.settings {
        if s.internal() || s.varies.is_some() {
            continue;
        }
        // Values the server works out at start-up start from the compiled-in one.
        let base = if startup_derived(name) { Some(s.boot.clone()) } else { s.default.clone() };
        if let Some(value) = base {
            out.set_default(name, value);
        }
    }
    let mut values = out.values();
    for (name, s) in meta.settings.iter().filter(|(_, s)| s.internal()) {
        if let Some(d) = &s.default {
            values.insert(name.clone(), d.clone());
        } else {
            values.insert(name.clone(), s.boot.clone());
        }
    }
    for d in startup::derived(&values) {
        let driver = match d.name {
            "wal_buffers" => {
                out.written_at("wal_buffers").or_else(|| out.written_at("shared_buffers"))
            }
            _ => out.written_at(d.name).or_else(|| out.written_at("archive_mode")),
        };
        out.derive(d.name, &d.shown, driver, &d.why);
    }
    for c in startup::conflicts(&values) {
        let at = c.settings.iter().find_map(|n| out.written_at(n));
        match at {
            Some((file, line)) => out.problem(Path::new(&file), line as usize, c.message),
            None => {
                let first = items.first().map_or_else(PathBuf::new, |i| i.file.clone());
                out.problem(&first, 1, c.message);
            }
        }
    }
    // pg_settings' unit, vartype and context on every entry.
    for (name, s) in &meta.settings {
        if let Some(e) = out.get_mut(name) {
            e.unit = s.unit.clone();
            e.vartype = Some(s.vartype.as_str().to_owned());
            e.context = Some(s.context.clone());
        }
    }
}

/// Settings whose default the server computes at start-up ([`startup::derived`]).
fn startup_derived(name: &str) -> bool {
    matches!(name, "wal_buffers" | "archive_command")
}

/// A value as written in a file (`128MB`, `true`, `Replica`) as `pg_settings` reports
/// it for a setting of `vartype` in `unit` (`16384`, `on`, `replica`); the error is the
/// server's complaint. For values read back from `pg_file_settings`.
pub fn normalise_value(
    vartype: Option<&str>,
    unit: Option<&str>,
    value: &str,
) -> Result<String, String> {
    let meta = pg::metadata();
    let setting = Setting {
        vartype: match vartype {
            Some("bool") => pg::VarType::Bool,
            Some("integer") => pg::VarType::Integer,
            Some("real") => pg::VarType::Real,
            Some("enum") => {
                return Ok(value.to_ascii_lowercase());
            }
            _ => return Ok(value.to_owned()),
        },
        unit: unit.map(str::to_owned),
        context: "user".into(),
        min: None,
        max: None,
        values: Vec::new(),
        aliases: Default::default(),
        boot: String::new(),
        default: None,
        varies: None,
        computed: false,
        file: None,
    };
    pg::parse_value(meta, "value", &setting, value).map(|p| p.shown).map_err(|r| r.to_string())
}

/// The tokens of guc-file.l.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok {
    Id,
    QualifiedId,
    String,
    Unquoted,
    Integer,
    Real,
    Equals,
    Eol,
    Eof,
    Error,
}

#[derive(Debug)]
struct Token {
    kind: Tok,
    text: String,
}

/// flex's longest match over the rules of guc-file.l, earlier rules winning ties.
struct Lexer<'a> {
    text: &'a [u8],
    pos: usize,
    line: usize,
}

fn letter(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_' || c >= 0x80
}

fn letter_or_digit(c: u8) -> bool {
    letter(c) || c.is_ascii_digit()
}

impl Lexer<'_> {
    fn next(&mut self) -> Token {
        loop {
            match self.text.get(self.pos) {
                None => return Token { kind: Tok::Eof, text: String::new() },
                Some(b'\n') => {
                    self.pos += 1;
                    self.line += 1;
                    return Token { kind: Tok::Eol, text: "\n".into() };
                }
                Some(b' ' | b'\t' | b'\r') => self.pos += 1,
                Some(b'#') => {
                    while self.text.get(self.pos).is_some_and(|c| *c != b'\n') {
                        self.pos += 1;
                    }
                }
                Some(_) => break,
            }
        }
        let s = &self.text[self.pos..];
        let candidates = [
            (Tok::Id, id(s)),
            (Tok::QualifiedId, qualified_id(s)),
            (Tok::String, string(s)),
            (Tok::Unquoted, unquoted(s)),
            (Tok::Integer, integer(s)),
            (Tok::Real, real(s)),
            (Tok::Equals, usize::from(s[0] == b'=')),
        ];
        let (mut kind, mut len) = (Tok::Error, 0);
        for (k, l) in candidates {
            if l > len {
                (kind, len) = (k, l);
            }
        }
        if len == 0 {
            // `.`: any single character (a whole UTF-8 character for the message).
            let width = std::str::from_utf8(s)
                .ok()
                .and_then(|t| t.chars().next())
                .map_or(1, char::len_utf8);
            len = width.min(s.len());
            kind = Tok::Error;
        }
        let text = String::from_utf8_lossy(&s[..len]).into_owned();
        self.pos += len;
        Token { kind, text }
    }
}

fn id(s: &[u8]) -> usize {
    if !s.first().copied().is_some_and(letter) {
        return 0;
    }
    1 + s[1..].iter().take_while(|c| letter_or_digit(**c)).count()
}

fn qualified_id(s: &[u8]) -> usize {
    let a = id(s);
    if a == 0 || s.get(a) != Some(&b'.') {
        return 0;
    }
    let b = id(&s[a + 1..]);
    if b == 0 { 0 } else { a + 1 + b }
}

fn unquoted(s: &[u8]) -> usize {
    if !s.first().copied().is_some_and(letter) {
        return 0;
    }
    1 + s[1..]
        .iter()
        .take_while(|c| letter_or_digit(**c) || matches!(c, b'-' | b'.' | b'_' | b':' | b'/'))
        .count()
}

/// `'([^'\\\n]|\\.|'')*'`, longest.
fn string(s: &[u8]) -> usize {
    if s.first() != Some(&b'\'') {
        return 0;
    }
    let (mut i, mut best) = (1, 0);
    loop {
        match s.get(i) {
            None | Some(b'\n') => return best,
            Some(b'\\') => match s.get(i + 1) {
                None | Some(b'\n') => return best,
                Some(_) => i += 2,
            },
            Some(b'\'') => {
                best = i + 1;
                if s.get(i + 1) == Some(&b'\'') {
                    i += 2;
                } else {
                    return best;
                }
            }
            Some(_) => i += 1,
        }
    }
}

/// `{SIGN}?({DIGIT}+|0x{HEXDIGIT}+){UNIT_LETTER}*`, longest.
fn integer(s: &[u8]) -> usize {
    let sign = usize::from(matches!(s.first(), Some(b'-' | b'+')));
    let rest = &s[sign..];
    let letters =
        |from: usize| from + rest[from..].iter().take_while(|c| c.is_ascii_alphabetic()).count();
    let digits = rest.iter().take_while(|c| c.is_ascii_digit()).count();
    let decimal = if digits > 0 { letters(digits) } else { 0 };
    let hex = if rest.starts_with(b"0x") {
        let h = rest[2..].iter().take_while(|c| c.is_ascii_hexdigit()).count();
        if h > 0 { letters(2 + h) } else { 0 }
    } else {
        0
    };
    let len = decimal.max(hex);
    if len == 0 { 0 } else { sign + len }
}

/// `{SIGN}?{DIGIT}*"."{DIGIT}*{EXPONENT}?`.
fn real(s: &[u8]) -> usize {
    let sign = usize::from(matches!(s.first(), Some(b'-' | b'+')));
    let mut i = sign + s[sign..].iter().take_while(|c| c.is_ascii_digit()).count();
    if s.get(i) != Some(&b'.') {
        return 0;
    }
    i += 1;
    i += s[i..].iter().take_while(|c| c.is_ascii_digit()).count();
    if matches!(s.get(i), Some(b'e' | b'E')) {
        let mut j = i + 1;
        if matches!(s.get(j), Some(b'-' | b'+')) {
            j += 1;
        }
        let d = s[j..].iter().take_while(|c| c.is_ascii_digit()).count();
        if d > 0 {
            i = j + d;
        }
    }
    i
}

/// `GUC_scanstr`: the quotes removed, `''` and backslash escapes read.
fn unquote(token: &str) -> String {
    let b = token.as_bytes();
    let inner = &b[1..b.len().saturating_sub(1).max(1)];
    let mut out: Vec<u8> = Vec::with_capacity(inner.len());
    let mut i = 0;
    while i < inner.len() {
        match inner[i] {
            b'\\' if i + 1 < inner.len() => {
                i += 1;
                match inner[i] {
                    b'b' => out.push(8),
                    b'f' => out.push(12),
                    b'n' => out.push(b'\n'),
                    b'r' => out.push(b'\r'),
                    b't' => out.push(b'\t'),
                    d @ b'0'..=b'7' => {
                        let mut v = u32::from(d - b'0');
                        let mut k = 1;
                        while k < 3 && i + 1 < inner.len() && (b'0'..=b'7').contains(&inner[i + 1])
                        {
                            i += 1;
                            v = v * 8 + u32::from(inner[i] - b'0');
                            k += 1;
                        }
                        out.push(v as u8);
                    }
                    other => out.push(other),
                }
            }
            b'\'' if inner.get(i + 1) == Some(&b'\'') => {
                out.push(b'\'');
                i += 1;
            }
            other => out.push(other),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests;
