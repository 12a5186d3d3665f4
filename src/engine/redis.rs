//! Redis: its configs (generated metadata) and how redis-server reads a config's
//! arguments (config.c, util.c, sds.c of 7.0):
//!
//! - A line is split by `sdssplitargs`: blanks separate arguments; `"…"` with `\n \r
//!   \t \b \a \xHH` escapes, `'…'` with `\'`; a closing quote must be followed by a
//!   blank. Lines starting with `#` are comments; a `#` later on a line is an argument.
//! - Booleans: `yes`/`no` only, case-insensitive. Integers: `string2ll` (no `+`, no
//!   leading zeros, no blanks). Memory configs: digits and `b k kb m mb g gb` (`k` is
//!   1000, `kb` 1024), never negative; `maxmemory-clients` also takes `N%`. Octal
//!   configs (`unixsocketperm`). Then the range. Enums: case-insensitive names.
//! - Configs with their own syntax: `save` (pairs; the first `save` line of a file
//!   replaces the default list, `save ""` empties it), `bind` (up to 16 addresses),
//!   `client-output-buffer-limit` (class, hard, soft, seconds; merged per class),
//!   `notify-keyspace-events` (flags, shown in the server's order), `replicaof`,
//!   `oom-score-adj-values`, `latency-tracking-info-percentiles`.
//! - `hz` is clamped to 1..500 once the file is read.
//!
//! [`unit`] is the unit the collector attaches to a byte or duration config, so a
//! snapshot from a file and one from a live server carry the same units.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::Deserialize;

use super::EngineInfo;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Metadata {
    pub engine: EngineInfo,
    pub configs: BTreeMap<String, Config>,
    pub commands: Commands,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Commands {
    pub names: Vec<String>,
}

/// One config of `CONFIG GET *`, as the generator recorded it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `bool`, `integer`, `memory`, `memory_or_percent`, `octal`, `enum`, `string`,
    /// `special`.
    #[serde(rename = "type")]
    pub ctype: String,
    #[serde(default)]
    pub min: Option<String>,
    #[serde(default)]
    pub max: Option<String>,
    #[serde(default)]
    pub values: Vec<String>,
    #[serde(default = "yes")]
    pub mutable: bool,
    /// Other names of the same config.
    #[serde(default)]
    pub aliases: Vec<String>,
    /// What CONFIG GET shows for values at the top of the range.
    #[serde(default)]
    pub shown_max: Option<String>,
    #[serde(default)]
    pub default: Option<String>,
    #[serde(default)]
    pub varies: Option<String>,
}

fn yes() -> bool {
    true
}

/// The newest Redis series embedded.
pub fn metadata() -> &'static Metadata {
    static CACHE: OnceLock<Metadata> = OnceLock::new();
    super::newest("redis", &CACHE)
}

/// The unit driftwatch attaches to a Redis config whose value is a byte count or a
/// duration (Redis prints them as plain numbers), so `"64MB"` or `"1min"` in a
/// baseline compares. The live collector and the file parser both use it.
pub fn unit(name: &str) -> Option<&'static str> {
    Some(match name {
        "maxmemory"
        | "repl-backlog-size"
        | "client-query-buffer-limit"
        | "proto-max-bulk-len"
        | "active-defrag-ignore-bytes"
        | "auto-aof-rewrite-min-size"
        | "stream-node-max-bytes" => "B",
        "timeout"
        | "tcp-keepalive"
        | "repl-timeout"
        | "repl-backlog-ttl"
        | "repl-ping-replica-period"
        | "repl-ping-slave-period"
        | "repl-diskless-sync-delay"
        | "min-replicas-max-lag"
        | "min-slaves-max-lag"
        | "shutdown-timeout" => "s",
        "busy-reply-threshold"
        | "lua-time-limit"
        | "cluster-node-timeout"
        | "latency-monitor-threshold" => "ms",
        "slowlog-log-slower-than" => "us",
        _ => return None,
    })
}

/// `sdssplitargs`: the arguments of a line, or `None` for unbalanced quotes (or a
/// closing quote not followed by a blank).
pub fn split_args(line: &str) -> Option<Vec<String>> {
    let b = line.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    loop {
        while b.get(i).is_some_and(|c| super::cnum::is_c_space(*c as char)) {
            i += 1;
        }
        if i >= b.len() {
            return Some(out);
        }
        let mut cur: Vec<u8> = Vec::new();
        let (mut inq, mut insq) = (false, false);
        loop {
            let c = b.get(i).copied();
            if inq {
                match c {
                    None => return None,
                    Some(b'\\')
                        if b.get(i + 1) == Some(&b'x')
                            && hex(b.get(i + 2)).is_some()
                            && hex(b.get(i + 3)).is_some() =>
                    {
                        cur.push(
                            hex(b.get(i + 2)).unwrap_or(0) * 16 + hex(b.get(i + 3)).unwrap_or(0),
                        );
                        i += 3;
                    }
                    Some(b'\\') if b.get(i + 1).is_some() => {
                        i += 1;
                        cur.push(match b[i] {
                            b'n' => b'\n',
                            b'r' => b'\r',
                            b't' => b'\t',
                            b'b' => 8,
                            b'a' => 7,
                            other => other,
                        });
                    }
                    Some(b'"') => {
                        if b.get(i + 1).is_some_and(|n| !super::cnum::is_c_space(*n as char)) {
                            return None;
                        }
                        i += 1;
                        break;
                    }
                    Some(other) => cur.push(other),
                }
            } else if insq {
                match c {
                    None => return None,
                    Some(b'\\') if b.get(i + 1) == Some(&b'\'') => {
                        i += 1;
                        cur.push(b'\'');
                    }
                    Some(b'\'') => {
                        if b.get(i + 1).is_some_and(|n| !super::cnum::is_c_space(*n as char)) {
                            return None;
                        }
                        i += 1;
                        break;
                    }
                    Some(other) => cur.push(other),
                }
            } else {
                match c {
                    None | Some(b' ' | b'\n' | b'\r' | b'\t') => break,
                    Some(b'"') => inq = true,
                    Some(b'\'') => insq = true,
                    Some(other) => cur.push(other),
                }
            }
            i += 1;
        }
        out.push(String::from_utf8_lossy(&cur).into_owned());
    }
}

fn hex(c: Option<&u8>) -> Option<u8> {
    c.and_then(|c| (*c as char).to_digit(16)).map(|d| d as u8)
}

/// `string2ll`: strict decimal (`-` allowed, no `+`, no leading zeros, no blanks).
pub fn string2ll(s: &str) -> Option<i64> {
    if s == "0" {
        return Some(0);
    }
    let (neg, digits) = match s.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, s),
    };
    if digits.is_empty()
        || !digits.starts_with(|c: char| ('1'..='9').contains(&c))
        || !digits.bytes().all(|c| c.is_ascii_digit())
    {
        return None;
    }
    let v: u64 = digits.parse().ok()?;
    if neg {
        if v > 1 << 63 { None } else { Some((v as i128).wrapping_neg() as i64) }
    } else {
        i64::try_from(v).ok()
    }
}

/// `memtoull`: a byte count with an optional `b k kb m mb g gb` unit.
pub fn memtoull(s: &str) -> Option<u64> {
    if s.starts_with('-') {
        return None;
    }
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, unit) = s.split_at(split);
    let mul: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" => 1000,
        "kb" => 1024,
        "m" => 1_000_000,
        "mb" => 1 << 20,
        "g" => 1_000_000_000,
        "gb" => 1 << 30,
        _ => return None,
    };
    // strtoull of the digits: an empty string is 0 (no EINVAL from glibc here).
    let value: u64 = if digits.is_empty() { 0 } else { digits.parse().unwrap_or(u64::MAX) };
    Some(value.wrapping_mul(mul))
}

/// A standard config's argument as the server stores it, shown as CONFIG GET shows it,
/// or the server's reason for refusing it.
pub fn parse(config: &Config, arg: &str) -> Result<String, String> {
    match config.ctype.as_str() {
        "bool" => match arg.to_ascii_lowercase().as_str() {
            v @ ("yes" | "no") => Ok(v.to_owned()),
            _ => Err("argument must be 'yes' or 'no'".into()),
        },
        "enum" => {
            config.values.iter().find(|v| v.eq_ignore_ascii_case(arg)).cloned().ok_or_else(|| {
                format!("argument(s) must be one of the following: {}", config.values.join(", "))
            })
        }
        "integer" | "memory" | "memory_or_percent" | "octal" => numeric(config, arg),
        _ => Ok(arg.to_owned()),
    }
}

fn numeric(config: &Config, arg: &str) -> Result<String, String> {
    let memory = config.ctype.starts_with("memory");
    let percent = config.ctype == "memory_or_percent";
    let octal = config.ctype == "octal";
    let mut shown_percent = false;
    let value: i128 = if let Some(m) = memory.then(|| memtoull(arg)).flatten() {
        i128::from(m as i64)
    } else if let Some(p) = (percent && arg.len() > 1 && arg.ends_with('%'))
        .then(|| string2ll(&arg[..arg.len() - 1]).filter(|p| *p >= 0))
        .flatten()
    {
        shown_percent = true;
        -i128::from(p)
    } else if octal {
        let l = super::cnum::strtol(arg, 8);
        if l.consumed != arg.len() || l.overflow || arg.is_empty() {
            return Err("argument couldn't be parsed as an octal number".into());
        }
        i128::from(l.value)
    } else if !memory
        && !percent
        && let Some(v) = string2ll(arg)
    {
        i128::from(v)
    } else {
        return Err(match (memory, percent) {
            (true, true) => "argument must be a memory or percent value",
            (true, false) => "argument must be a memory value",
            _ => "argument couldn't be parsed into an integer",
        }
        .into());
    };
    let bound = |b: &Option<String>| b.as_deref().and_then(|b| b.parse::<i128>().ok());
    if let (Some(lo), Some(hi)) = (bound(&config.min), bound(&config.max)) {
        // Unsigned configs compare the value as unsigned: a negative is huge.
        let v = if lo >= 0 && value < 0 && !shown_percent { value + (1i128 << 64) } else { value };
        if !shown_percent && (v < lo || v > hi) {
            return Err(if octal {
                format!("argument must be between {lo:o} and {hi:o} inclusive")
            } else {
                format!("argument must be between {lo} and {hi} inclusive")
            });
        }
    }
    Ok(if shown_percent {
        format!("{}%", -value)
    } else if octal {
        format!("{value:o}")
    } else if memory && value < 0 {
        // A size_t/unsigned memory config stores the wrapped value.
        ((value + (1i128 << 64)) as u64).to_string()
    } else {
        value.to_string()
    })
}

/// `notify-keyspace-events`: the flags, shown in the server's own order (`A` for all
/// of `g$lshzxetd`), or `None` for an unknown character.
pub fn keyspace_events(arg: &str) -> Option<String> {
    const CLASSES: &str = "g$lshzxetd";
    let mut on = std::collections::BTreeSet::new();
    for c in arg.chars() {
        match c {
            'A' => on.extend(CLASSES.chars()),
            'g' | '$' | 'l' | 's' | 'h' | 'z' | 'x' | 'e' | 'K' | 'E' | 't' | 'm' | 'd' | 'n' => {
                on.insert(c);
            }
            _ => return None,
        }
    }
    // notify.c keyspaceEventsFlagsToString: `A` or the class letters (with `n`), then
    // K, E, m. (With `A`, `n` is set but not shown.)
    let mut out = String::new();
    if CLASSES.chars().all(|c| on.contains(&c)) {
        out.push('A');
    } else {
        out.extend("g$lshzxetdn".chars().filter(|c| on.contains(c)));
    }
    out.extend("KEm".chars().filter(|c| on.contains(c)));
    Some(out)
}

/// `save`: pairs of seconds (≥ 1) and changes (≥ 0), checked as the server does.
pub fn save_pairs(args: &[String]) -> Result<Vec<(i64, i64)>, String> {
    if args.len() % 2 == 1 {
        return Err("Invalid save parameters".into());
    }
    args.chunks(2)
        .map(|p| {
            let n = |s: &str| {
                let l = super::cnum::strtol(s, 10);
                (l.consumed == s.len()).then_some(l.value)
            };
            match (n(&p[0]), n(&p[1])) {
                (Some(s), Some(c)) if s >= 1 && c >= 0 => Ok((s, c)),
                _ => Err("Invalid save parameters".into()),
            }
        })
        .collect()
}

/// One `client-output-buffer-limit` class update: (class as shown, hard, soft, seconds).
pub fn buffer_limits(args: &[String]) -> Result<Vec<(&'static str, u64, u64, i64)>, String> {
    if args.is_empty() || !args.len().is_multiple_of(4) {
        return Err("Wrong number of arguments in buffer limit configuration.".into());
    }
    args.chunks(4)
        .map(|c| {
            let class = match c[0].to_ascii_lowercase().as_str() {
                "normal" => "normal",
                "slave" | "replica" => "slave",
                "pubsub" => "pubsub",
                _ => {
                    return Err(
                        "Invalid client class specified in buffer limit configuration.".into()
                    );
                }
            };
            let secs = super::cnum::strtol(&c[3], 10);
            match (memtoull(&c[1]), memtoull(&c[2])) {
                (Some(h), Some(s)) if secs.value >= 0 && secs.consumed == c[3].len() => {
                    Ok((class, h, s, secs.value))
                }
                _ => Err(
                    "Error in hard, soft or soft_seconds setting in buffer limit configuration."
                        .into(),
                ),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_quotes_and_escapes() {
        assert_eq!(split_args(r#"a "b c" 'd\'e' "\x41\n""#).unwrap(), ["a", "b c", "d'e", "A\n"]);
        assert!(split_args(r#"a "b"c"#).is_none());
        assert!(split_args(r#"a "b"#).is_none());
        assert_eq!(
            split_args("maxmemory 100mb # why").unwrap(),
            ["maxmemory", "100mb", "#", "why"]
        );
    }

    #[test]
    fn numbers_and_memory() {
        assert_eq!(string2ll("10"), Some(10));
        assert_eq!(string2ll("010"), None);
        assert_eq!(string2ll("+1"), None);
        assert_eq!(string2ll("1k"), None);
        assert_eq!(memtoull("1k"), Some(1000));
        assert_eq!(memtoull("1KB"), Some(1024));
        assert_eq!(memtoull("100mb"), Some(100 << 20));
        assert_eq!(memtoull("-1"), None);
        assert_eq!(memtoull("1 mb"), None);
        let meta = metadata();
        let p = |n: &str, v: &str| parse(&meta.configs[n], v);
        assert_eq!(p("maxmemory", "100mb").unwrap(), "104857600");
        assert_eq!(p("timeout", "1k").unwrap_err(), "argument couldn't be parsed into an integer");
        assert_eq!(
            p("lazyfree-lazy-eviction", "true").unwrap_err(),
            "argument must be 'yes' or 'no'"
        );
        assert_eq!(p("appendfsync", "ALWAYS").unwrap(), "always");
        assert_eq!(p("maxmemory-clients", "5%").unwrap(), "5%");
        assert_eq!(p("maxmemory-clients", "100b").unwrap(), "100");
        assert_eq!(p("port", "-1").unwrap_err(), "argument must be between 0 and 65535 inclusive");
        assert_eq!(p("unixsocketperm", "700").unwrap(), "700");
    }

    #[test]
    fn keyspace_event_order() {
        assert_eq!(keyspace_events("Ex").unwrap(), "xE");
        assert_eq!(keyspace_events("KEA").unwrap(), "AKE");
        assert_eq!(keyspace_events("nxK").unwrap(), "xnK");
        assert_eq!(keyspace_events("An").unwrap(), "A");
        assert!(keyspace_events("q").is_none());
        assert_eq!(keyspace_events("").unwrap(), "");
    }
}
