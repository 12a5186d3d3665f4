//! memcached options as Debian's `/etc/memcached.conf` holds them: one command-line
//! option per line (`-m 64`, `-m64`, `--memory-limit=64`, `--memory-limit 64`), `#`
//! comments, plus Debian's `logfile PATH`. Each option is stored under the name
//! `stats settings` reports (`-m` → `maxbytes` in bytes, `-c` → `maxconns`, `-p` →
//! `tcpport`, `-l` → `inter`, `-I 1m` → `item_size_max` in bytes, …); `-o a=b,c`
//! extended options under their own names (dashes as underscores).

use std::path::Path;

use super::{Files, Settings, binary_size, read};

/// How an option's argument becomes a `stats settings` value.
#[derive(Debug, Clone, Copy)]
enum Arg {
    /// Takes an argument, stored as written.
    Text,
    /// Megabytes unless it has a `k`/`m`/`g` suffix; stored in bytes.
    Megabytes,
    /// Bytes unless it has a `k`/`m` suffix; stored in bytes.
    Bytes,
    /// Takes no argument: the setting becomes this value.
    Flag(&'static str),
}

/// short option, long option, `stats settings` name, argument.
const OPTIONS: &[(char, &str, &str, Arg)] = &[
    ('p', "port", "tcpport", Arg::Text),
    ('U', "udp-port", "udpport", Arg::Text),
    ('s', "unix-socket", "domain_socket", Arg::Text),
    ('a', "unix-mask", "umask", Arg::Text),
    ('A', "enable-shutdown", "shutdown_command", Arg::Flag("yes")),
    ('l', "listen", "inter", Arg::Text),
    ('d', "daemon", "daemonize", Arg::Flag("yes")),
    ('u', "user", "username", Arg::Text),
    ('m', "memory-limit", "maxbytes", Arg::Megabytes),
    ('M', "disable-evictions", "evictions", Arg::Flag("off")),
    ('c', "conn-limit", "maxconns", Arg::Text),
    ('k', "lock-memory", "lock_memory", Arg::Flag("yes")),
    ('P', "pidfile", "pidfile", Arg::Text),
    ('f', "slab-growth-factor", "growth_factor", Arg::Text),
    ('n', "slab-min-size", "chunk_size", Arg::Text),
    ('L', "enable-largepages", "large_memory_pages", Arg::Flag("yes")),
    ('D', "", "stat_key_prefix", Arg::Text),
    ('t', "threads", "num_threads", Arg::Text),
    ('R', "max-reqs-per-event", "reqs_per_event", Arg::Text),
    ('C', "disable-cas", "cas_enabled", Arg::Flag("no")),
    ('b', "listen-backlog", "tcp_backlog", Arg::Text),
    ('B', "protocol", "binding_protocol", Arg::Text),
    ('I', "max-item-size", "item_size_max", Arg::Bytes),
    ('S', "enable-sasl", "auth_enabled_sasl", Arg::Flag("yes")),
    ('Y', "auth-file", "auth_file", Arg::Text),
    ('Z', "enable-ssl", "ssl_enabled", Arg::Flag("yes")),
    ('e', "memory-file", "memory_file", Arg::Text),
];

/// Parses `path` into `out` (memcached has no includes).
pub fn parse(path: &Path, files: &dyn Files, out: &mut Settings) {
    let text = match read(files, path) {
        Ok(text) => text,
        Err(e) => return out.problem(path, 1, e),
    };
    let mut verbosity = 0;
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let text = raw.split_once('#').map_or(raw, |(before, _)| before).trim();
        if text.is_empty() {
            continue;
        }
        if let Some(file) = text.strip_prefix("logfile") {
            out.set("logfile", file.trim(), path, line);
            continue;
        }
        if text.starts_with("-v") && text[1..].chars().all(|c| c == 'v') {
            verbosity += text.len() - 1;
            out.set("verbosity", verbosity.to_string(), path, line);
            continue;
        }
        match option(text) {
            Ok(settings) => {
                for (name, value) in settings {
                    out.set(&name, value, path, line);
                }
            }
            Err(msg) => out.problem(path, line, msg),
        }
    }
}

/// One option line → the settings it sets.
fn option(text: &str) -> Result<Vec<(String, String)>, String> {
    let (spec, inline) = if let Some(long) = text.strip_prefix("--") {
        let (name, arg) = split_arg(long, '=');
        let spec = OPTIONS.iter().find(|o| !o.1.is_empty() && o.1 == name);
        match (name, spec) {
            ("extended", _) => return extended(arg.unwrap_or("")),
            (_, Some(spec)) => (spec, arg),
            (_, None) => return Err(format!("unknown option `--{name}`")),
        }
    } else if let Some(short) = text.strip_prefix('-') {
        let mut chars = short.chars();
        let letter = chars.next().ok_or("an option needs a letter after `-`")?;
        let arg = chars.as_str().trim();
        let arg = (!arg.is_empty()).then_some(arg);
        if letter == 'o' {
            return extended(arg.unwrap_or(""));
        }
        match OPTIONS.iter().find(|o| o.0 == letter) {
            Some(spec) => (spec, arg),
            None => return Err(format!("unknown option `-{letter}`")),
        }
    } else {
        return Err(format!("expected an option like `-m 64`, found `{text}`"));
    };
    let (_, long, name, kind) = *spec;
    let value = match (kind, inline) {
        (Arg::Flag(v), None) => v.to_owned(),
        (Arg::Flag(_), Some(extra)) => {
            return Err(format!("`--{long}` takes no argument (found `{extra}`)"));
        }
        (_, None) => return Err(format!("`{name}` option needs a value")),
        (Arg::Text, Some(v)) => v.to_owned(),
        (Arg::Megabytes, Some(v)) => match v.parse::<u64>() {
            Ok(mb) => (mb << 20).to_string(),
            Err(_) => {
                binary_size(v, false).ok_or(format!("invalid memory size `{v}`"))?.to_string()
            }
        },
        (Arg::Bytes, Some(v)) => match v.parse::<u64>() {
            Ok(b) => b.to_string(),
            Err(_) => binary_size(v, false).ok_or(format!("invalid item size `{v}`"))?.to_string(),
        },
    };
    Ok(vec![(name.to_owned(), value)])
}

fn split_arg(text: &str, sep: char) -> (&str, Option<&str>) {
    match text.split_once(|c: char| c == sep || c.is_whitespace()) {
        Some((name, arg)) => (name, Some(arg.trim()).filter(|a| !a.is_empty())),
        None => (text, None),
    }
}

/// `-o modern,slab_reassign,hashpower=20` → each as a setting (`yes` without a value).
fn extended(list: &str) -> Result<Vec<(String, String)>, String> {
    if list.trim().is_empty() {
        return Err("`-o` needs a comma-separated list of options".to_owned());
    }
    Ok(list
        .split(',')
        .map(|item| {
            let (k, v) = item.split_once('=').unwrap_or((item, "yes"));
            (k.trim().replace('-', "_"), v.trim().to_owned())
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::conffile::{MemoryFiles, parse as parse_files};
    use crate::snapshot::Kind;

    #[track_caller]
    fn check(text: &str, expect: &str) {
        let mem = MemoryFiles::new([("/m.conf", text)]);
        let got = match parse_files(Kind::Memcached, Path::new("/m.conf"), &mem) {
            Ok(map) => map
                .iter()
                .map(|(k, e)| {
                    format!("{}={}@{}", &k["setting.".len()..], e.value, e.source_line.unwrap())
                })
                .collect::<Vec<_>>()
                .join("\n"),
            Err(d) => d.to_string(),
        };
        assert_eq!(got, expect.trim());
    }

    #[test]
    fn debian_style_file() {
        check(
            "# memcached\n-d\nlogfile /var/log/memcached.log\n-m 64\n-p 11211\n-u memcache\n-l 127.0.0.1\n-c 1024 # conns\n-P /var/run/memcached/memcached.pid\n",
            "daemonize=yes@2\ninter=127.0.0.1@7\nlogfile=/var/log/memcached.log@3\nmaxbytes=67108864@4\nmaxconns=1024@8\npidfile=/var/run/memcached/memcached.pid@9\ntcpport=11211@5\nusername=memcache@6",
        );
    }

    #[test]
    fn long_forms_sizes_flags_and_extended() {
        check(
            "--max-item-size=2m\n-m1g\n--udp-port 0\n-U 0\n-M\n-vv\n-o modern,hashpower=20\n--conn-limit=4096\n",
            "evictions=off@5\nhashpower=20@7\nitem_size_max=2097152@1\nmaxbytes=1073741824@2\nmaxconns=4096@8\nmodern=yes@7\nudpport=0@4\nverbosity=2@6",
        );
    }

    #[test]
    fn errors_name_file_and_line() {
        check(
            "-m\n-q 1\nport 11211\n-M yes\n-I lots\n",
            "/m.conf:1:1: `maxbytes` option needs a value\n/m.conf:2:1: unknown option `-q`\n/m.conf:3:1: expected an option like `-m 64`, found `port 11211`\n/m.conf:4:1: `--disable-evictions` takes no argument (found `yes`)\n/m.conf:5:1: invalid item size `lots`",
        );
    }
}
