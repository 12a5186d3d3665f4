//! `redis.conf`, read as redis-server 7.0 reads it (config.c `loadServerConfig`,
//! [`crate::engine::redis`]):
//!
//! - Each line is trimmed; a line starting with `#` is a comment (a `#` later on a
//!   line is an argument like any other: `port 6379 # x` has three); arguments are split
//!   by `sdssplitargs`; the directive is case-insensitive.
//! - A config takes exactly one argument, except the ones that take several (`save`,
//!   `bind`, `client-output-buffer-limit`, `replicaof`, …), which also accept them as
//!   one quoted argument. Values are read by the config's type; the configs with their
//!   own syntax as the server reads them. An unknown directive is refused.
//! - `include PATH` reads another file where it stands: a relative path is relative to
//!   the server's working directory (changed by an earlier `dir`; otherwise read from
//!   where `check` runs, as for a server started there); a path with `*?[` is a glob
//!   and may match nothing; a missing file stops the server.
//! - `rename-command` needs a command that exists (once renamed it is gone);
//!   `user`, `loadmodule` and module configs (`name.x`) are accepted; `sentinel` only
//!   in sentinel mode.
//! - After the file: `replicaof` is refused with `cluster-enabled yes`; `hz` is
//!   clamped to 1..500.
//!
//! Entries are the `CONFIG GET` names (aliases too) and values, with the collector's
//! units. `dir` appears only when the file sets it to an absolute path.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::{Files, MAX_INCLUDE_DEPTH, Settings, os_reason};
use crate::engine::redis::{self as rd, Metadata};

/// Configs that take several arguments (`MULTI_ARG_CONFIG`).
const MULTI_ARG: [&str; 9] = [
    "save",
    "client-output-buffer-limit",
    "oom-score-adj-values",
    "bind",
    "replicaof",
    "slaveof",
    "latency-tracking-info-percentiles",
    "shutdown-on-sigint",
    "shutdown-on-sigterm",
];

/// Directives Redis 7.0 still accepts and ignores, with their argument count.
const DEPRECATED: [&str; 3] =
    ["list-max-ziplist-entries", "list-max-ziplist-value", "lua-replicate-commands"];

/// What the reading carries from line to line and file to file.
struct State {
    commands: BTreeSet<String>,
    save_loaded: bool,
    cwd: Option<PathBuf>,
    depth: usize,
    module_config: Option<(PathBuf, usize)>,
    loadmodule: bool,
    replicaof: Option<(PathBuf, usize)>,
}

/// Reads `paths` (the configuration file, then any more, as one) into `out`.
pub fn read(paths: &[PathBuf], files: &dyn Files, out: &mut Settings) {
    let meta = rd::metadata();
    let mut state = State {
        commands: meta.commands.names.iter().cloned().collect(),
        save_loaded: false,
        cwd: None,
        depth: 0,
        module_config: None,
        loadmodule: false,
        replicaof: None,
    };
    for (name, c) in &meta.configs {
        if c.varies.is_none()
            && let Some(d) = &c.default
        {
            out.set_default(name, d.clone());
        }
    }
    for path in paths {
        match files.read(path) {
            Ok(text) => {
                if !load(meta, path, &text, files, out, &mut state) {
                    return;
                }
            }
            Err(e) => {
                out.problem(
                    path,
                    1,
                    format!(
                        "Fatal error, can't open config file '{}': {}",
                        path.display(),
                        os_reason(&e)
                    ),
                );
                return;
            }
        }
    }
    if let Some((file, line)) = state.module_config.clone().filter(|_| !state.loadmodule) {
        out.problem(&file, line, "Module Configuration detected without loadmodule directive or no ApplyConfig call: aborting");
        return;
    }
    if let Some((file, line)) = state.replicaof.clone()
        && out.get("cluster-enabled").is_some_and(|e| e.value == "yes")
    {
        out.problem(&file, line, "replicaof directive not allowed in cluster mode");
        return;
    }
    if let Some(hz) = out.get("hz").and_then(|e| e.value.parse::<i64>().ok()) {
        let clamped = hz.clamp(1, 500);
        if clamped != hz {
            let at = out.written_at("hz");
            out.derive("hz", &clamped.to_string(), at, "the server keeps hz between 1 and 500");
        }
    }
    for name in meta.configs.keys() {
        if let (Some(e), Some(unit)) = (out.get_mut(name), rd::unit(name)) {
            e.unit = Some(unit.to_owned());
        }
    }
}

/// `loadServerConfigFromString` over one file: false when the server would stop.
fn load(
    meta: &Metadata,
    path: &Path,
    text: &str,
    files: &dyn Files,
    out: &mut Settings,
    state: &mut State,
) -> bool {
    for (i, raw) in text.split('\n').enumerate() {
        let line = i + 1;
        let trimmed = raw.trim_matches([' ', '\t', '\r', '\n']);
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let Some(args) = rd::split_args(trimmed) else {
            out.problem(path, line, "Unbalanced quotes in configuration line");
            return false;
        };
        if args.is_empty() {
            continue;
        }
        let name = args[0].to_ascii_lowercase();
        if let Err(e) = directive(meta, &name, &args[1..], path, line, files, out, state) {
            if !e.is_empty() {
                out.problem(path, line, e);
            }
            return false;
        }
    }
    true
}

/// One directive; `Err("")` when the problem is already reported.
#[allow(clippy::too_many_arguments)]
fn directive(
    meta: &Metadata,
    name: &str,
    args: &[String],
    path: &Path,
    line: usize,
    files: &dyn Files,
    out: &mut Settings,
    state: &mut State,
) -> Result<(), String> {
    if let Some(config) = meta.configs.get(name) {
        let multi = MULTI_ARG.contains(&name);
        if !multi && args.len() != 1 {
            return Err("wrong number of arguments".into());
        }
        let split;
        let args: &[String] = if multi && args.len() == 1 && !args[0].is_empty() {
            split = rd::split_args(&args[0]).unwrap_or_default();
            &split
        } else {
            args
        };
        let shown = special(name, args, out, state, path, line)?;
        let value = match shown {
            Some(v) => v,
            None => {
                let v = rd::parse(config, &args[0])?;
                check_name(name, &v)?;
                v
            }
        };
        if name == "dir" {
            return Ok(());
        }
        out.set(name, value.clone(), path, line);
        for alias in &config.aliases {
            out.set(alias, value.clone(), path, line);
        }
        return Ok(());
    }
    if DEPRECATED.contains(&name) && args.len() == 1 {
        return Ok(());
    }
    match name {
        "include" if args.len() == 1 => include(meta, &args[0], path, line, files, out, state),
        "rename-command" if args.len() == 2 => {
            let from = args[0].to_ascii_lowercase();
            if !state.commands.remove(&from) {
                return Err("No such command in rename-command".into());
            }
            let to = args[1].to_ascii_lowercase();
            if !to.is_empty() && !state.commands.insert(to) {
                return Err("Target command name already exists".into());
            }
            Ok(())
        }
        "user" if !args.is_empty() => Ok(()),
        "loadmodule" if !args.is_empty() => {
            state.loadmodule = true;
            Ok(())
        }
        n if n.contains('.') => {
            if args.is_empty() {
                return Err("Module config specified without value".into());
            }
            state.module_config.get_or_insert((path.to_owned(), line));
            Ok(())
        }
        "sentinel" if args.is_empty() => Ok(()),
        "sentinel" => Err("sentinel directive while not in sentinel mode".into()),
        _ => Err("Bad directive or wrong number of arguments".into()),
    }
}

/// The configs with their own syntax: the value to show, `None` for standard ones.
fn special(
    name: &str,
    args: &[String],
    out: &mut Settings,
    state: &mut State,
    path: &Path,
    line: usize,
) -> Result<Option<String>, String> {
    Ok(Some(match name {
        "save" => {
            let reset = args.len() == 1 && args[0].is_empty();
            let pairs = rd::save_pairs(if reset { &[] } else { args })?;
            // The first `save` of a file replaces the defaults; later ones add to it.
            let mut current = if !state.save_loaded || reset {
                String::new()
            } else {
                out.get("save").map(|e| e.value.clone()).unwrap_or_default()
            };
            state.save_loaded = true;
            for (s, c) in pairs {
                if !current.is_empty() {
                    current.push(' ');
                }
                current.push_str(&format!("{s} {c}"));
            }
            current
        }
        "bind" => {
            if args.len() > 16 {
                return Err("Too many bind addresses specified.".into());
            }
            if args.len() == 1 && args[0].is_empty() { String::new() } else { args.join(" ") }
        }
        "client-output-buffer-limit" => {
            let updates = rd::buffer_limits(args)?;
            let current = out.get(name).map(|e| e.value.clone()).unwrap_or_default();
            let words: Vec<&str> = current.split_whitespace().collect();
            let mut classes: Vec<(String, String)> = words
                .chunks(4)
                .filter(|c| c.len() == 4)
                .map(|c| (c[0].to_owned(), c[1..].join(" ")))
                .collect();
            for (class, hard, soft, secs) in updates {
                let limits = format!("{hard} {soft} {secs}");
                match classes.iter_mut().find(|(c, _)| c == class) {
                    Some((_, l)) => *l = limits,
                    None => classes.push((class.to_owned(), limits)),
                }
            }
            classes.iter().map(|(c, l)| format!("{c} {l}")).collect::<Vec<_>>().join(" ")
        }
        "notify-keyspace-events" => rd::keyspace_events(&args[0])
            .ok_or_else(|| "Invalid event class character. Use 'Ag$lshzxeKEtmdn'.".to_owned())?,
        "replicaof" | "slaveof" => {
            let [host, port] = args else { return Err("wrong number of arguments".into()) };
            state.replicaof = None;
            if host.eq_ignore_ascii_case("no") && port.eq_ignore_ascii_case("one") {
                String::new()
            } else {
                let p = crate::engine::cnum::strtol(port, 10);
                if p.consumed != port.len() || !(0..=65535).contains(&p.value) {
                    return Err("Invalid master port".into());
                }
                state.replicaof = Some((path.to_owned(), line));
                format!("{host} {}", p.value)
            }
        }
        "oom-score-adj-values" => {
            if args.len() != 3 {
                return Err("wrong number of arguments".into());
            }
            let mut shown = Vec::new();
            for a in args {
                let l = crate::engine::cnum::strtol(a, 10);
                if l.consumed != a.len() || !(-2000..=2000).contains(&l.value) {
                    return Err(
                        "Invalid oom-score-adj-values, elements must be between -2000 and 2000."
                            .into(),
                    );
                }
                shown.push(l.value.to_string());
            }
            shown.join(" ")
        }
        "latency-tracking-info-percentiles" => {
            if args.len() == 1 && args[0].is_empty() {
                String::new()
            } else {
                let mut shown = Vec::new();
                for a in args {
                    let d = crate::engine::cnum::strtod(a);
                    if d.consumed != a.len() || a.is_empty() || d.value.is_nan() {
                        return Err("Invalid latency-tracking-info-percentiles parameters".into());
                    }
                    if !(0.0..=100.0).contains(&d.value) {
                        return Err("latency-tracking-info-percentiles parameters should sit between [0.0,100.0]".into());
                    }
                    let text = format!("{:.6}", d.value);
                    shown.push(text.trim_end_matches('0').trim_end_matches('.').to_owned());
                }
                shown.join(" ")
            }
        }
        "dir" => {
            let dir = Path::new(&args[0]);
            state.cwd = Some(match &state.cwd {
                _ if dir.is_absolute() => dir.to_owned(),
                Some(cwd) => cwd.join(dir),
                None => dir.to_owned(),
            });
            if dir.is_absolute() {
                let shown = args[0].trim_end_matches('/');
                let shown = if shown.is_empty() { "/" } else { shown };
                out.set("dir", shown, path, line);
            }
            String::new()
        }
        _ => return Ok(None),
    }))
}

/// The checks of string configs that name files.
fn check_name(name: &str, value: &str) -> Result<(), String> {
    let basename = !value.contains('/');
    match name {
        "dbfilename" if !basename => Err("dbfilename can't be a path, just a filename".into()),
        "appendfilename" if !basename => {
            Err("appendfilename can't be a path, just a filename".into())
        }
        "appenddirname" if !basename => Err("appenddirname can't be a path, just a dirname".into()),
        _ => Ok(()),
    }
}

/// `include`: the file (or every file a glob matches, in order) read where it stands.
fn include(
    meta: &Metadata,
    arg: &str,
    path: &Path,
    line: usize,
    files: &dyn Files,
    out: &mut Settings,
    state: &mut State,
) -> Result<(), String> {
    if state.depth + 1 > MAX_INCLUDE_DEPTH {
        return Err(format!(
            "include nested more than {MAX_INCLUDE_DEPTH} deep (an include cycle?)"
        ));
    }
    let target = match &state.cwd {
        Some(cwd) if Path::new(arg).is_relative() => cwd.join(arg),
        _ => PathBuf::from(arg),
    };
    let targets = if arg.contains(['*', '?', '[']) { glob(files, &target) } else { vec![target] };
    for file in targets {
        if !out.may_include(path, line) {
            return Err(String::new());
        }
        let text = files.read(&file).map_err(|e| {
            format!("Fatal error, can't open config file '{}': {}", file.display(), os_reason(&e))
        })?;
        state.depth += 1;
        let ok = load(meta, &file, &text, files, out, state);
        state.depth -= 1;
        if !ok {
            return Err(String::new());
        }
    }
    Ok(())
}

/// The files a glob names (wildcards in the last component), in order.
fn glob(files: &dyn Files, pattern: &Path) -> Vec<PathBuf> {
    let (Some(dir), Some(name)) = (pattern.parent(), pattern.file_name().and_then(|n| n.to_str()))
    else {
        return Vec::new();
    };
    let dir = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
    let mut out: Vec<PathBuf> = files
        .list_dir(dir)
        .unwrap_or_default()
        .into_iter()
        .filter(|p| {
            p.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
                (!n.starts_with('.') || name.starts_with('.'))
                    && fnmatch(name.as_bytes(), n.as_bytes())
            })
        })
        .map(|p| {
            if pattern.parent().is_some_and(|d| d.as_os_str().is_empty()) {
                PathBuf::from(p.file_name().unwrap_or_default())
            } else {
                p
            }
        })
        .collect();
    out.sort();
    out
}

/// Shell-style matching of `*`, `?` and `[…]`.
fn fnmatch(p: &[u8], s: &[u8]) -> bool {
    match (p.first(), s.first()) {
        (None, None) => true,
        (Some(b'*'), _) => fnmatch(&p[1..], s) || (!s.is_empty() && fnmatch(p, &s[1..])),
        (Some(b'?'), Some(_)) => fnmatch(&p[1..], &s[1..]),
        (Some(b'['), Some(c)) => {
            let Some(end) = p.iter().skip(1).position(|x| *x == b']').map(|e| e + 1) else {
                return *c == b'[' && fnmatch(&p[1..], &s[1..]);
            };
            let set = &p[1..end];
            let (negate, set) = match set.first() {
                Some(b'!' | b'^') => (true, &set[1..]),
                _ => (false, set),
            };
            let mut hit = false;
            let mut k = 0;
            while k < set.len() {
                if k + 2 < set.len() && set[k + 1] == b'-' {
                    hit |= (set[k]..=set[k + 2]).contains(c);
                    k += 3;
                } else {
                    hit |= set[k] == *c;
                    k += 1;
                }
            }
            hit != negate && fnmatch(&p[end + 1..], &s[1..])
        }
        (Some(a), Some(b)) if a == b => fnmatch(&p[1..], &s[1..]),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::Kind;

    /// Only the settings the file wrote or derived (defaults left out).
    #[track_caller]
    fn check(files: &[(&str, &str)], expect: &str) {
        assert_eq!(crate::collect::conffile::tests::parsed(Kind::Redis, files), expect.trim());
    }

    #[test]
    fn values_as_redis_reads_them() {
        check(
            &[(
                "/r.conf",
                "# c\nPort 6380\nbind 127.0.0.1 -::1\nmaxmemory 100mb\nprotected-mode NO\nrequirepass \"a b\"\nhz 1000\nslave-read-only no\n",
            )],
            "bind=127.0.0.1 -::1@/r.conf:3\nhz=500@/r.conf:7\nmaxmemory=104857600@/r.conf:4\nport=6380@/r.conf:2\nprotected-mode=no@/r.conf:5\nreplica-read-only=no@/r.conf:8\nrequirepass=a b@/r.conf:6\nslave-read-only=no@/r.conf:8",
        );
    }

    #[test]
    fn save_lines_replace_the_defaults_then_add() {
        check(&[("/r.conf", "save 900 1\nsave 300 10\n")], "save=900 1 300 10@/r.conf:2");
        check(&[("/r.conf", "save 900 1\nsave \"\"\n")], "save=@/r.conf:2");
        check(&[("/r.conf", "save \"60 5\"\n")], "save=60 5@/r.conf:1");
    }

    #[test]
    fn refusals_name_the_line() {
        for (text, expect) in [
            ("port\n", "/r.conf:1:1: wrong number of arguments"),
            ("maxmemory 100 mb\n", "/r.conf:1:1: wrong number of arguments"),
            ("port 6379 # x\n", "/r.conf:1:1: wrong number of arguments"),
            ("timeout 1k\n", "/r.conf:1:1: argument couldn't be parsed into an integer"),
            ("lazyfree-lazy-eviction true\n", "/r.conf:1:1: argument must be 'yes' or 'no'"),
            ("save 900\n", "/r.conf:1:1: Invalid save parameters"),
            (
                "rename-command CONFIG x\nrename-command CONFIG y\n",
                "/r.conf:2:1: No such command in rename-command",
            ),
            ("bogus yes\n", "/r.conf:1:1: Bad directive or wrong number of arguments"),
            ("bind \"x\n", "/r.conf:1:1: Unbalanced quotes in configuration line"),
        ] {
            check(&[("/r.conf", text)], expect);
        }
    }

    #[test]
    fn includes_and_globs() {
        check(
            &[
                (
                    "/etc/redis/redis.conf",
                    "port 1\ninclude /etc/redis/local.conf\ninclude /etc/redis/d/*.conf\n",
                ),
                ("/etc/redis/local.conf", "port 2\n"),
                ("/etc/redis/d/b.conf", "timeout 9\n"),
                ("/etc/redis/d/a.conf", "timeout 8\n"),
            ],
            "port=2@/etc/redis/local.conf:1\ntimeout=9@/etc/redis/d/b.conf:1",
        );
        assert!(fnmatch(b"*.conf", b"a.conf"));
        assert!(fnmatch(b"[ab]?.c*", b"bx.conf"));
        assert!(!fnmatch(b"*.conf", b"a.cnf"));
    }
}
