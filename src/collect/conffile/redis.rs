//! `redis.conf`: `directive arg…` per line, arguments double-quoted (with `\n \t \xHH`
//! escapes) or single-quoted, `#` comment lines, `include path` (relative to the
//! including file's folder). Names are case-insensitive (stored in lowercase); values
//! are stored as `CONFIG GET` shows them: arguments joined by a space, memory sizes
//! (`100mb`, `1gb`, `2k`) in bytes, `save` lines and `client-output-buffer-limit`
//! classes merged into one value, `slave-*` / `replica-*` aliases set together.
//! Directives that repeat without a `CONFIG GET` form (`rename-command`, `user`,
//! `loadmodule`, `sentinel`) are joined with `, `. An unknown directive is an error, as
//! it is for redis-server.

use std::path::Path;

use super::{Files, MAX_INCLUDE_DEPTH, Settings, defaults, read, relative_to};
use crate::snapshot::Kind;

/// Directives that may repeat and are collected rather than replaced.
const COLLECTED: [&str; 4] = ["rename-command", "user", "loadmodule", "sentinel"];

/// Parses `path` and everything it includes into `out`.
pub fn parse(path: &Path, files: &dyn Files, out: &mut Settings) {
    match read(files, path) {
        Ok(text) => parse_text(path, &text, files, out, 0),
        Err(e) => out.problem(path, 1, e),
    }
}

/// Splits a line into arguments the way redis-server does (`sdssplitargs`).
pub fn split_args(line: &str) -> Result<Vec<String>, String> {
    let mut args = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let Some(&first) = chars.peek() else { return Ok(args) };
        let mut arg = String::new();
        if first == '"' || first == '\'' {
            chars.next();
            loop {
                match chars.next() {
                    None => return Err("unbalanced quotes".to_owned()),
                    Some(c) if c == first => break,
                    Some('\\') if first == '\'' => match chars.next_if_eq(&'\'') {
                        Some(q) => arg.push(q),
                        None => arg.push('\\'),
                    },
                    Some('\\') => arg.push(escape(&mut chars)),
                    Some(c) => arg.push(c),
                }
            }
            if chars.peek().is_some_and(|c| !c.is_whitespace()) {
                return Err("a closing quote must be followed by a space".to_owned());
            }
        } else {
            while let Some(c) = chars.next_if(|c| !c.is_whitespace()) {
                arg.push(c);
            }
        }
        args.push(arg);
    }
}

fn escape(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> char {
    match chars.next() {
        Some('n') => '\n',
        Some('r') => '\r',
        Some('t') => '\t',
        Some('b') => '\u{8}',
        Some('a') => '\u{7}',
        Some('x') => {
            let hex: String =
                [chars.peek().copied(), chars.clone().nth(1)].into_iter().flatten().collect();
            match u8::from_str_radix(&hex, 16) {
                Ok(n) if hex.len() == 2 => {
                    chars.next();
                    chars.next();
                    char::from(n)
                }
                _ => 'x',
            }
        }
        Some(c) => c,
        None => '\\',
    }
}

/// Redis memory units: `1k` = 1000, `1kb` = 1024, `m`, `mb`, `g`, `gb`.
pub fn memory(text: &str) -> Option<u64> {
    let t = text.to_ascii_lowercase();
    let split = t.find(|c: char| !c.is_ascii_digit())?;
    let (digits, unit) = t.split_at(split);
    let n: u64 = digits.parse().ok()?;
    let factor: u64 = match unit {
        "k" => 1_000,
        "kb" => 1 << 10,
        "m" => 1_000_000,
        "mb" => 1 << 20,
        "g" => 1_000_000_000,
        "gb" => 1 << 30,
        _ => return None,
    };
    n.checked_mul(factor)
}

fn parse_text(path: &Path, text: &str, files: &dyn Files, out: &mut Settings, depth: usize) {
    let known = defaults(Kind::Redis);
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let args = match split_args(trimmed) {
            Ok(args) => args,
            Err(msg) => {
                out.problem(path, line, msg);
                continue;
            }
        };
        let name = args[0].to_ascii_lowercase();
        let rest = &args[1..];
        if rest.is_empty() && name != "save" {
            out.problem(path, line, format!("wrong number of arguments for `{name}`"));
            continue;
        }
        match name.as_str() {
            "include" => include(&rest[0], path, line, files, out, depth),
            "save" => {
                let add = rest.join(" ");
                match out.get_mut("save").filter(|e| e.source.as_deref() != Some("default")) {
                    Some(e) if !add.is_empty() && !e.value.is_empty() => {
                        e.value = format!("{} {add}", e.value);
                        e.source_file = Some(path.display().to_string());
                        e.source_line = Some(line as u32);
                    }
                    _ => out.set("save", add, path, line),
                }
            }
            "client-output-buffer-limit" => {
                let merged = buffer_limit(out, rest).map_err(|m| out.problem(path, line, m));
                if let Ok(value) = merged {
                    out.set(&name, value, path, line);
                }
            }
            n if COLLECTED.contains(&n) => {
                let add = rest.join(" ");
                let value = match out.get_mut(n) {
                    Some(e) => format!("{}, {add}", e.value),
                    None => add,
                };
                out.set(n, value, path, line);
            }
            n if known.contains_key(n) => {
                let value = normalise(n, rest);
                for alias in aliases(n) {
                    out.set(&alias, value.clone(), path, line);
                }
            }
            n => out.problem(path, line, format!("bad directive `{n}`")),
        }
    }
}

/// The name and its `slave-…`/`replica-…` twin when the server knows both.
fn aliases(name: &str) -> Vec<String> {
    let known = defaults(Kind::Redis);
    let twin = if let Some(rest) = name.strip_prefix("slave") {
        Some(format!("replica{rest}"))
    } else {
        name.strip_prefix("replica").map(|rest| format!("slave{rest}"))
    };
    std::iter::once(name.to_owned()).chain(twin.filter(|t| known.contains_key(t))).collect()
}

fn normalise(name: &str, args: &[String]) -> String {
    let default = defaults(Kind::Redis).get(name).map(|d| d.value.as_str()).unwrap_or("");
    let numeric = !default.is_empty() && default.split(' ').all(|w| w.parse::<i64>().is_ok());
    let boolean = matches!(default, "yes" | "no");
    let words: Vec<String> = args
        .iter()
        .map(|a| match () {
            () if numeric => memory(a).map_or_else(|| a.clone(), |n| n.to_string()),
            () if boolean => a.to_ascii_lowercase(),
            () => a.clone(),
        })
        .collect();
    words.join(" ")
}

/// `client-output-buffer-limit <class> <hard> <soft> <seconds>` merged into the current
/// value of all classes, sizes in bytes, `replica` spelt `slave` as CONFIG GET does.
fn buffer_limit(out: &mut Settings, args: &[String]) -> Result<String, String> {
    let [class, hard, soft, secs] = args else {
        return Err(
            "client-output-buffer-limit takes a class, a hard limit, a soft limit and seconds"
                .into(),
        );
    };
    let class = match class.to_ascii_lowercase().as_str() {
        "replica" | "slave" => "slave".to_owned(),
        c @ ("normal" | "pubsub") => c.to_owned(),
        other => return Err(format!("invalid client class `{other}`")),
    };
    let size = |s: &String| {
        s.parse::<u64>().ok().or_else(|| memory(s)).ok_or_else(|| format!("invalid size `{s}`"))
    };
    let (hard, soft) = (size(hard)?, size(soft)?);
    let current = out
        .get_mut("client-output-buffer-limit")
        .map(|e| e.value.clone())
        .or_else(|| {
            defaults(Kind::Redis).get("client-output-buffer-limit").map(|d| d.value.clone())
        })
        .unwrap_or_default();
    let words: Vec<&str> = current.split_whitespace().collect();
    let mut classes: Vec<(String, String)> = words
        .chunks(4)
        .filter(|c| c.len() == 4)
        .map(|c| (c[0].to_owned(), c[1..].join(" ")))
        .collect();
    let limits = format!("{hard} {soft} {secs}");
    match classes.iter_mut().find(|(c, _)| *c == class) {
        Some((_, l)) => *l = limits,
        None => classes.push((class, limits)),
    }
    Ok(classes.iter().map(|(c, l)| format!("{c} {l}")).collect::<Vec<_>>().join(" "))
}

fn include(
    arg: &str,
    path: &Path,
    line: usize,
    files: &dyn Files,
    out: &mut Settings,
    depth: usize,
) {
    if depth + 1 > MAX_INCLUDE_DEPTH {
        let msg = format!("include nested more than {MAX_INCLUDE_DEPTH} deep (an include cycle?)");
        return out.problem(path, line, msg);
    }
    let target = relative_to(path, arg);
    if !out.may_include(path, line) {
        return;
    }
    match read(files, &target) {
        Ok(text) => parse_text(&target, &text, files, out, depth + 1),
        Err(e) => out.problem(path, line, e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(files: &[(&str, &str)], expect: &str) {
        assert_eq!(crate::collect::conffile::tests::parsed(Kind::Redis, files), expect.trim());
    }

    #[test]
    fn args_quotes_and_escapes() {
        assert_eq!(split_args(r#"a "b c" 'd\'e' "\x41\n""#).unwrap(), ["a", "b c", "d'e", "A\n"]);
        assert_eq!(
            split_args(r#"a "b"c"#).unwrap_err(),
            "a closing quote must be followed by a space"
        );
        assert_eq!(split_args(r#"a "b"#).unwrap_err(), "unbalanced quotes");
    }

    #[test]
    fn directives_and_sizes() {
        check(
            &[(
                "/r.conf",
                "# c\nPort 6380\nbind 127.0.0.1 -::1\nmaxmemory 100mb\nprotected-mode NO\nrequirepass \"a b\"\n",
            )],
            "bind=127.0.0.1 -::1@/r.conf:3\nmaxmemory=104857600@/r.conf:4\nport=6380@/r.conf:2\nprotected-mode=no@/r.conf:5\nrequirepass=a b@/r.conf:6",
        );
    }

    #[test]
    fn save_lines_join_and_reset() {
        check(&[("/r.conf", "save 900 1\nsave 300 10\n")], "save=900 1 300 10@/r.conf:2");
        check(&[("/r.conf", "save 900 1\nsave \"\"\n")], "save=@/r.conf:2");
    }

    #[test]
    fn repeated_and_merged_directives() {
        check(
            &[(
                "/r.conf",
                "rename-command FLUSHALL \"\"\nrename-command CONFIG cfg\nclient-output-buffer-limit replica 512mb 128mb 60\nslave-read-only no\n",
            )],
            "client-output-buffer-limit=normal 0 0 0 slave 536870912 134217728 60 pubsub 33554432 8388608 60@/r.conf:3\nrename-command=FLUSHALL , CONFIG cfg@/r.conf:2\nreplica-read-only=no@/r.conf:4\nslave-read-only=no@/r.conf:4",
        );
    }

    #[test]
    fn includes_override() {
        check(
            &[
                ("/etc/redis/redis.conf", "port 1\ninclude local.conf\n"),
                ("/etc/redis/local.conf", "port 2\n"),
            ],
            "port=2@/etc/redis/local.conf:1",
        );
    }

    #[test]
    fn errors_name_file_and_line() {
        check(
            &[("/r.conf", "port\nbogus yes\nbind \"x\n")],
            "/r.conf:1:1: wrong number of arguments for `port`\n/r.conf:2:1: bad directive `bogus`\n/r.conf:3:1: unbalanced quotes",
        );
    }
}
