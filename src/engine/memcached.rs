//! memcached: its options (generated metadata) and how memcached 1.6 reads its command
//! line (memcached.c): glibc `getopt_long` (clustered short options `-vv`, attached
//! arguments `-m64`, `--name=value` or `--name value`, unique prefixes of long names,
//! words that are not options ignored), then each option as memcached's own code reads
//! it: `atoi` for most numbers (`-m 5g` is 5 megabytes), `strtol(…, 8)` for `-a`, `atof`
//! for `-f`, a `k`/`m` suffix for `-I` only, `-l` joining addresses with commas, `-v`
//! counting, `-o` sub-options (`hashpower=20`, `no_lru_crawler`), and the checks it
//! makes after reading them all (item size against memory, LRU percentages, …).
//!
//! Not modelled: memcached sets its file-descriptor limit to `-c`, and a very small
//! `-c` (below about 4 per thread plus 8) leaves too few descriptors for its threads,
//! so it exits at start-up; how many it needs depends on libevent's internals.
//!
//! Settings are named as `stats settings` reports them; options that `stats settings`
//! does not show (`-d`, `-u`, `-P`, `-k`) set nothing.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::Deserialize;

use super::EngineInfo;
use super::cnum::{atoi, strtod, strtol};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Metadata {
    pub engine: EngineInfo,
    /// `stats settings` of a server started with no options.
    pub defaults: BTreeMap<String, String>,
    /// Short option letter → what memcached's help and getopt say about it.
    pub options: BTreeMap<String, OptionSpec>,
    pub suboptions: BTreeMap<String, SubOption>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptionSpec {
    #[serde(default)]
    pub long: Option<String>,
    /// `required` or `none`.
    pub argument: String,
    #[serde(default)]
    pub probe: Option<String>,
    #[serde(default)]
    pub sets: BTreeMap<String, String>,
    #[serde(default)]
    pub refused: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubOption {
    #[serde(default)]
    pub probe: Option<String>,
    #[serde(default)]
    pub sets: BTreeMap<String, String>,
    #[serde(default)]
    pub refused: Option<String>,
}

/// The newest memcached series embedded.
pub fn metadata() -> &'static Metadata {
    static CACHE: OnceLock<Metadata> = OnceLock::new();
    super::newest("memcached", &CACHE)
}

/// One command-line word and the line of the file it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word {
    pub text: String,
    pub line: usize,
}

/// A setting memcached will run with, and the line that set it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Set {
    pub key: String,
    pub value: String,
    pub line: usize,
}

/// What memcached makes of a command line: the settings it sets (later ones win), or
/// its refusal and the line it concerns. `user`: whether `-u` was given (memcached
/// started as root refuses to run without it).
#[derive(Debug, Default)]
pub struct Outcome {
    pub sets: Vec<Set>,
    pub user: bool,
    pub refusal: Option<(String, usize)>,
}

/// Reads `words` as memcached's `main` does.
pub fn read(meta: &Metadata, words: &[Word]) -> Outcome {
    let mut out = Outcome::default();
    let mut state = State::new(meta);
    let mut i = 0;
    while i < words.len() {
        let w = &words[i];
        let text = w.text.as_str();
        if text == "--" {
            break;
        }
        if let Some(long) = text.strip_prefix("--") {
            let (name, inline) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v.to_owned())),
                None => (long, None),
            };
            let matches: Vec<(&String, &OptionSpec)> = meta
                .options
                .iter()
                .filter(|(_, o)| o.long.as_deref().is_some_and(|l| l.starts_with(name)))
                .collect();
            let exact = matches.iter().find(|(_, o)| o.long.as_deref() == Some(name));
            let chosen = match (exact, matches.as_slice()) {
                (Some(m), _) => *m,
                (None, [m]) => *m,
                (None, []) => {
                    return refuse(out, format!("unrecognized option '--{name}'"), w.line);
                }
                (None, many) => {
                    let names: Vec<String> = many
                        .iter()
                        .map(|(_, o)| format!("'--{}'", o.long.as_deref().unwrap_or("")))
                        .collect();
                    return refuse(
                        out,
                        format!(
                            "option '--{name}' is ambiguous; possibilities: {}",
                            names.join(" ")
                        ),
                        w.line,
                    );
                }
            };
            let (short, spec) = chosen;
            let long_name = spec.long.clone().unwrap_or_default();
            let arg = if spec.argument == "required" {
                match inline {
                    Some(v) => Some(v),
                    None => match words.get(i + 1) {
                        Some(next) => {
                            i += 1;
                            Some(next.text.clone())
                        }
                        None => {
                            return refuse(
                                out,
                                format!("option '--{long_name}' requires an argument"),
                                w.line,
                            );
                        }
                    },
                }
            } else if inline.is_some() && short != "v" {
                return refuse(
                    out,
                    format!("option '--{long_name}' doesn't allow an argument"),
                    w.line,
                );
            } else {
                None
            };
            if let Err(e) = state.option(short, arg.as_deref(), w.line) {
                return refuse(out, e, w.line);
            }
        } else if text.len() > 1 && text.starts_with('-') {
            let chars: Vec<char> = text[1..].chars().collect();
            let mut k = 0;
            while k < chars.len() {
                let c = chars[k].to_string();
                let Some(spec) = meta.options.get(&c) else {
                    return refuse(out, format!("invalid option -- '{c}'"), w.line);
                };
                if spec.argument == "required" {
                    let rest: String = chars[k + 1..].iter().collect();
                    let arg = if !rest.is_empty() {
                        rest
                    } else if let Some(next) = words.get(i + 1) {
                        i += 1;
                        next.text.clone()
                    } else {
                        return refuse(
                            out,
                            format!("option requires an argument -- '{c}'"),
                            w.line,
                        );
                    };
                    if let Err(e) = state.option(&c, Some(&arg), w.line) {
                        return refuse(out, e, w.line);
                    }
                    break;
                }
                if let Err(e) = state.option(&c, None, w.line) {
                    return refuse(out, e, w.line);
                }
                k += 1;
            }
        }
        // Anything else is a word that is not an option: getopt skips it.
        i += 1;
    }
    match state.finish() {
        Ok(()) => {}
        Err((e, line)) => return refuse(out, e, line),
    }
    out.user = state.user;
    out.sets = state.sets;
    out
}

fn refuse(mut out: Outcome, message: String, line: usize) -> Outcome {
    out.refusal = Some((message, line));
    out
}

/// The values memcached reads into, as `stats settings` shows them.
struct State<'a> {
    meta: &'a Metadata,
    sets: Vec<Set>,
    values: BTreeMap<String, String>,
    user: bool,
    tcp_specified: bool,
    udp_specified: bool,
    protocol_specified: bool,
    slab_chunk_changed: bool,
    lru_maintainer: bool,
}

impl<'a> State<'a> {
    fn new(meta: &'a Metadata) -> State<'a> {
        State {
            meta,
            sets: Vec::new(),
            values: meta.defaults.clone(),
            user: false,
            tcp_specified: false,
            udp_specified: false,
            protocol_specified: false,
            slab_chunk_changed: false,
            lru_maintainer: true,
        }
    }

    fn set(&mut self, key: &str, value: impl Into<String>, line: usize) {
        let value = value.into();
        self.values.insert(key.to_owned(), value.clone());
        self.sets.push(Set { key: key.to_owned(), value, line });
    }

    fn int(&self, key: &str) -> i64 {
        self.values.get(key).and_then(|v| v.parse().ok()).unwrap_or(0)
    }

    fn option(&mut self, c: &str, arg: Option<&str>, line: usize) -> Result<(), String> {
        let a = arg.unwrap_or("");
        let positive = |v: i32, msg: &str| if v <= 0 { Err(msg.to_owned()) } else { Ok(v) };
        match c {
            "A" => self.set("shutdown_command", "yes", line),
            "Z" => self.set("ssl_enabled", "yes", line),
            "a" => {
                let v = strtol(a, 8).value;
                self.set("umask", format!("{v:o}"), line);
            }
            "U" => {
                self.udp_specified = true;
                self.set("udpport", atoi(a).to_string(), line);
            }
            "p" => {
                self.tcp_specified = true;
                self.set("tcpport", atoi(a).to_string(), line);
            }
            "s" => self.set("domain_socket", a, line),
            "m" => {
                // (size_t)atoi(optarg) * 1024 * 1024: a negative wraps.
                let mb = atoi(a) as i64 as u64;
                self.set("maxbytes", mb.wrapping_mul(1 << 20).to_string(), line);
            }
            "M" => self.set("evictions", "off", line),
            "c" => {
                let v = positive(atoi(a), "Maximum connections must be greater than 0")?;
                self.set("maxconns", v.to_string(), line);
            }
            "v" => {
                let v = self.int("verbosity") + 1;
                self.set("verbosity", v.to_string(), line);
            }
            "l" => {
                let inter = match self.values.get("inter").filter(|v| *v != "NULL") {
                    // A listen address already named (as a substring) is not added twice.
                    Some(current) if current.contains(a) => current.clone(),
                    Some(current) => format!("{current},{a}"),
                    None => a.to_owned(),
                };
                self.set("inter", inter, line);
            }
            "R" => {
                let v = atoi(a);
                if v == 0 {
                    return Err("Number of requests per event must be greater than 0".into());
                }
                self.set("reqs_per_event", v.to_string(), line);
            }
            "u" => self.user = true,
            "e" => self.set("memory_file", a, line),
            "f" => {
                let v = strtod(a).value;
                if v <= 1.0 {
                    return Err("Factor must be greater than 1".into());
                }
                self.set("growth_factor", format!("{v:.2}"), line);
            }
            "n" => {
                let v = atoi(a);
                if v == 0 {
                    return Err("Chunk size must be greater than 0".into());
                }
                self.set("chunk_size", v.to_string(), line);
            }
            "t" => {
                let v = positive(atoi(a), "Number of threads must be greater than 0")?;
                self.set("num_threads", v.to_string(), line);
            }
            "D" => {
                let Some(first) = a.chars().next() else {
                    return Err("No delimiter specified".into());
                };
                self.set("stat_key_prefix", first.to_string(), line);
                self.set("detail_enabled", "yes", line);
            }
            "C" => self.set("cas_enabled", "no", line),
            "b" => self.set("tcp_backlog", atoi(a).to_string(), line),
            "B" => {
                self.protocol_specified = true;
                let shown = match a {
                    "auto" => "auto-negotiate",
                    "binary" => "binary",
                    "ascii" => "ascii",
                    _ => {
                        return Err(format!(
                            "Invalid value for binding protocol: {a} -- should be one of auto, binary, or ascii"
                        ));
                    }
                };
                self.set("binding_protocol", shown, line);
            }
            "I" => {
                let size = match a.chars().last() {
                    Some('k' | 'K') => i64::from(atoi(&a[..a.len() - 1])) * 1024,
                    Some('m' | 'M') => i64::from(atoi(&a[..a.len() - 1])) * 1024 * 1024,
                    _ => i64::from(atoi(a)),
                } as i32;
                self.set("item_size_max", size.to_string(), line);
            }
            "S" => self.set("auth_enabled_sasl", "yes", line),
            "F" => self.set("flush_enabled", "no", line),
            "X" => self.set("dump_enabled", "no", line),
            "Y" => self.set("auth_enabled_ascii", a, line),
            "N" => {
                let v = positive(atoi(a), "Maximum number of NAPI IDs must be greater than 0")?;
                self.set("num_napi_ids", v.to_string(), line);
            }
            "h" | "i" | "V" => {
                return Err(format!("-{c} prints information and exits: memcached would not run"));
            }
            "o" => {
                for item in a.split(',').filter(|s| !s.is_empty()) {
                    self.suboption(item, line)?;
                }
                if a.is_empty() {
                    return Ok(());
                }
            }
            // -d, -k, -r, -L, -P, -W: nothing `stats settings` shows.
            _ => {}
        }
        Ok(())
    }

    fn suboption(&mut self, item: &str, line: usize) -> Result<(), String> {
        let (name, value) = match item.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (item, None),
        };
        let need = |what: &str| value.ok_or_else(|| format!("Missing {what}"));
        match name {
            "maxconns_fast" => self.set("maxconns_fast", "yes", line),
            "no_maxconns_fast" => self.set("maxconns_fast", "no", line),
            "hashpower" => {
                let v = atoi(need("numeric argument for hashpower")?);
                if v < 12 {
                    return Err(format!("Initial hashtable multiplier of {v} is too low"));
                }
                if v > 32 {
                    return Err(format!("Initial hashtable multiplier of {v} is too high"));
                }
                self.set("hashpower_init", v.to_string(), line);
            }
            "slab_reassign" => self.set("slab_reassign", "yes", line),
            "no_slab_reassign" => self.set("slab_reassign", "no", line),
            "slab_automove" => {
                let v = value.map_or(1, atoi);
                if !(0..=2).contains(&v) {
                    return Err("slab_automove must be between 0 and 2".into());
                }
                self.set("slab_automove", v.to_string(), line);
            }
            "no_slab_automove" => self.set("slab_automove", "0", line),
            "slab_automove_ratio" => {
                let v = strtod(need("slab_automove_ratio argument")?).value;
                if v <= 0.0 || v > 1.0 {
                    return Err("slab_automove_ratio must be > 0 and < 1".into());
                }
                self.set("slab_automove_ratio", format!("{v:.2}"), line);
            }
            "slab_automove_window" => {
                let v = atoi(need("slab_automove_window argument")?);
                if v < 3 {
                    return Err("slab_automove_window must be > 2".into());
                }
                self.set("slab_automove_window", v.to_string(), line);
            }
            "tail_repair_time" => {
                let v = atoi(need("numeric argument for tail_repair_time")?);
                if v < 10 {
                    return Err("Cannot set tail_repair_time to less than 10 seconds".into());
                }
                self.set("tail_repair_time", v.to_string(), line);
            }
            "hash_algorithm" => {
                let v = need("hash_algorithm argument")?;
                if !["jenkins", "murmur3", "xxh3"].contains(&v) {
                    return Err("Unknown hash_algorithm option (jenkins, murmur3, xxh3)".into());
                }
                self.set("hash_algorithm", v, line);
            }
            "lru_crawler" => self.set("lru_crawler", "yes", line),
            "no_lru_crawler" => self.set("lru_crawler", "no", line),
            "lru_crawler_sleep" => {
                let v = atoi(need("lru_crawler_sleep value")?);
                if !(0..=1_000_000).contains(&v) {
                    return Err("LRU crawler sleep must be between 0 and 1 second".into());
                }
                self.set("lru_crawler_sleep", v.to_string(), line);
            }
            "lru_crawler_tocrawl" => {
                let v = need("lru_crawler_tocrawl value")?;
                let n = safe_strtoul(v).ok_or("lru_crawler_tocrawl takes a numeric 32bit value")?;
                self.set("lru_crawler_tocrawl", n.to_string(), line);
            }
            "lru_maintainer" => {
                self.lru_maintainer = true;
                self.set("lru_maintainer_thread", "yes", line);
                self.set("lru_segmented", "yes", line);
            }
            "no_lru_maintainer" => {
                self.lru_maintainer = false;
                self.set("lru_maintainer_thread", "no", line);
                self.set("lru_segmented", "no", line);
            }
            "hot_lru_pct" | "warm_lru_pct" => {
                let v = atoi(need(&format!("{name} argument"))?);
                if !(1..80).contains(&v) {
                    return Err(format!("{name} must be > 1 and < 80"));
                }
                self.set(name, v.to_string(), line);
            }
            "hot_max_factor" | "warm_max_factor" => {
                let v = strtod(need(&format!("{name} argument"))?).value;
                if v <= 0.0 {
                    return Err(format!("{name} must be > 0"));
                }
                self.set(name, format!("{v:.2}"), line);
            }
            "temporary_ttl" => {
                let v = atoi(need("temporary_ttl argument")?);
                self.set("temp_lru", "yes", line);
                self.set("temporary_ttl", v.to_string(), line);
            }
            "idle_timeout" => {
                let v = atoi(need("numeric argument for idle_timeout")?);
                self.set("idle_timeout", v.to_string(), line);
            }
            "watcher_logbuf_size"
            | "worker_logbuf_size"
            | "read_buf_mem_limit"
            | "ssl_wbuf_size" => {
                let v = need(&format!("{name} argument"))?;
                let n =
                    safe_strtoul(v).ok_or_else(|| format!("could not parse argument to {name}"))?;
                let scale: u64 = if name == "read_buf_mem_limit" { 1 << 20 } else { 1024 };
                self.set(name, (n * scale).to_string(), line);
            }
            "slab_chunk_max" => {
                let v = need("slab_chunk_max argument")?;
                let l = strtol(v, 10);
                self.slab_chunk_changed = true;
                if l.consumed == v.len() && l.consumed > 0 {
                    self.set("slab_chunk_max", l.value.to_string(), line);
                }
            }
            "track_sizes" => self.set("track_sizes", "yes", line),
            "no_hashexpand"
            | "modern"
            | "inline_ascii_resp"
            | "no_inline_ascii_resp"
            | "no_chunked_items" => {}
            "no_modern" => {
                if !self.slab_chunk_changed {
                    self.set("slab_chunk_max", "1048576", line);
                }
                for (k, v) in [
                    ("slab_reassign", "no"),
                    ("slab_automove", "0"),
                    ("maxconns_fast", "no"),
                    ("lru_segmented", "no"),
                    ("hash_algorithm", "jenkins"),
                    ("lru_crawler", "no"),
                    ("lru_maintainer_thread", "no"),
                ] {
                    self.set(k, v, line);
                }
                self.lru_maintainer = false;
            }
            "drop_privileges" | "no_drop_privileges" => {}
            "ssl_chain_cert" | "ssl_key" | "ssl_ciphers" | "ssl_ca_cert" => {
                self.set(name, need(&format!("{name} argument"))?, line);
            }
            "ssl_keyformat" => {
                let v = need("ssl_keyformat argument")?;
                let l = strtol(v, 10);
                if l.consumed != v.len() || l.consumed == 0 {
                    return Err("could not parse argument to ssl_keyformat".into());
                }
                self.set(name, l.value.to_string(), line);
            }
            "ssl_session_cache" | "ssl_kernel_tls" => self.set(name, "yes", line),
            _ => return self.generic_suboption(name, value, item, line),
        }
        Ok(())
    }

    /// Sub-options without their own code here (extstore's): what the generator saw the
    /// probe set, scaled the same way; unknown names are refused as memcached does.
    fn generic_suboption(
        &mut self,
        name: &str,
        value: Option<&str>,
        item: &str,
        line: usize,
    ) -> Result<(), String> {
        let Some(sub) = self.meta.suboptions.get(name) else {
            return Err(format!("Illegal suboption \"{item}\""));
        };
        let probe_value = sub.probe.as_deref().and_then(|p| p.split_once('=')).map(|(_, v)| v);
        for (key, shown) in sub.sets.clone() {
            let derived = match (probe_value, value) {
                (Some(p), Some(v)) if shown == p => v.to_owned(),
                (Some(p), Some(v)) => match (p.parse::<f64>(), shown.parse::<f64>()) {
                    (Ok(p), Ok(s)) if p != 0.0 && shown.contains('.') => {
                        let decimals = shown.split_once('.').map_or(0, |(_, d)| d.len());
                        format!("{:.*}", decimals, strtod(v).value * s / p)
                    }
                    (Ok(p), Ok(s)) if p != 0.0 => {
                        ((i64::from(atoi(v)) as f64 * s / p) as i64).to_string()
                    }
                    _ => shown,
                },
                _ => shown,
            };
            self.set(&key, derived, line);
        }
        Ok(())
    }

    /// The checks memcached makes once every option is read.
    fn finish(&mut self) -> Result<(), (String, usize)> {
        let at =
            |s: &Self, key: &str| s.sets.iter().rev().find(|x| x.key == key).map_or(1, |x| x.line);
        let item = self.int("item_size_max");
        let maxbytes: i128 = self.values.get("maxbytes").and_then(|v| v.parse().ok()).unwrap_or(0);
        if item < 1024 {
            return Err((
                "Item max size cannot be less than 1024 bytes.".into(),
                at(self, "item_size_max"),
            ));
        }
        if i128::from(item) > maxbytes / 2 {
            return Err((
                "Cannot set item size limit higher than 1/2 of memory max.".into(),
                at(self, "item_size_max"),
            ));
        }
        if item > 1 << 30 {
            return Err((
                "Cannot set item size limit higher than a gigabyte.".into(),
                at(self, "item_size_max"),
            ));
        }
        let page = 1 << 20;
        if item > 1 << 20 && !self.slab_chunk_changed {
            let line = at(self, "item_size_max");
            self.set("slab_chunk_max", (page / 2).to_string(), line);
        }
        let chunk = self.int("slab_chunk_max");
        if chunk > item {
            return Err((
                format!(
                    "slab_chunk_max (bytes: {chunk}) cannot be larger than -I (item_size_max {item})"
                ),
                at(self, "slab_chunk_max"),
            ));
        }
        if chunk > 0 && item % chunk != 0 {
            return Err((
                format!(
                    "-I (item_size_max: {item}) must be evenly divisible by slab_chunk_max (bytes: {chunk})"
                ),
                at(self, "item_size_max"),
            ));
        }
        if chunk > 0 && page % chunk != 0 {
            return Err((
                format!(
                    "slab_chunk_max (bytes: {chunk}) must divide evenly into {page} (slab_page_size)"
                ),
                at(self, "slab_chunk_max"),
            ));
        }
        if self.int("hot_lru_pct") + self.int("warm_lru_pct") > 80 {
            return Err((
                "hot_lru_pct + warm_lru_pct cannot be more than 80% combined".into(),
                at(self, "warm_lru_pct").max(at(self, "hot_lru_pct")),
            ));
        }
        if self.values.get("temp_lru").map(String::as_str) == Some("yes") && !self.lru_maintainer {
            return Err((
                "temporary_ttl requires lru_maintainer to be enabled".into(),
                at(self, "temp_lru"),
            ));
        }
        let threads = self.values.get("num_threads").cloned().unwrap_or_default();
        let per_udp = if self.values.get("inter").is_some_and(|i| i.contains(',')) {
            "1".to_owned()
        } else {
            threads
        };
        if self.values.get("num_threads_per_udp") != Some(&per_udp) {
            let line = at(self, "inter").max(at(self, "num_threads"));
            self.set("num_threads_per_udp", per_udp, line);
        }
        if self.values.get("auth_enabled_sasl").map(String::as_str) == Some("yes") {
            if !self.protocol_specified {
                let line = at(self, "auth_enabled_sasl");
                self.set("binding_protocol", "binary", line);
            } else if self.values.get("binding_protocol").map(String::as_str) != Some("binary") {
                return Err((
                    "ERROR: You cannot allow the ASCII protocol while using SASL.".into(),
                    at(self, "binding_protocol"),
                ));
            }
            if self.int("udpport") != 0 {
                return Err((
                    "ERROR: Cannot enable UDP while using binary SASL authentication.".into(),
                    at(self, "udpport"),
                ));
            }
        }
        if self.values.get("auth_enabled_ascii").is_some_and(|v| v != "no") {
            if !self.protocol_specified {
                let line = at(self, "auth_enabled_ascii");
                self.set("binding_protocol", "ascii", line);
            } else if self.values.get("binding_protocol").map(String::as_str) != Some("ascii") {
                return Err((
                    "ERROR: You cannot allow the BINARY protocol while using ascii authentication tokens.".into(),
                    at(self, "binding_protocol"),
                ));
            }
        }
        if self.udp_specified && self.int("udpport") != 0 && !self.tcp_specified {
            let (udp, line) = (self.int("udpport"), at(self, "udpport"));
            self.set("tcpport", udp.to_string(), line);
        }
        let port = self.int("tcpport");
        if port > 65535 {
            return Err((format!("ERROR: Invalid port number {port}."), at(self, "tcpport")));
        }
        Ok(())
    }
}

/// memcached's `safe_strtoul`: decimal, whole string (trailing blanks allowed), no
/// negative values, 32 bits.
fn safe_strtoul(text: &str) -> Option<u64> {
    let l = strtol(text, 10);
    let rest = &text[l.consumed..];
    if l.consumed == 0 || !rest.chars().all(super::cnum::is_c_space) || l.overflow {
        return None;
    }
    if l.value < 0 || l.value > i64::from(u32::MAX) {
        return None;
    }
    Some(l.value as u64)
}

/// The unit the collector attaches to a `stats settings` value that is a byte count
/// or a duration; the file parser attaches the same.
pub fn unit(name: &str) -> Option<&'static str> {
    Some(match name {
        "maxbytes"
        | "item_size_max"
        | "slab_chunk_max"
        | "chunk_size"
        | "ext_item_size"
        | "ext_wbuf_size"
        | "ssl_wbuf_size"
        | "watcher_logbuf_size"
        | "worker_logbuf_size" => "B",
        "idle_timeout" | "temporary_ttl" | "tail_repair_time" => "s",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &str) -> String {
        let words: Vec<Word> =
            args.split_whitespace().map(|t| Word { text: t.to_owned(), line: 1 }).collect();
        let out = read(metadata(), &words);
        if let Some((e, _)) = out.refusal {
            return e;
        }
        let mut last: BTreeMap<String, String> = BTreeMap::new();
        for s in out.sets {
            last.insert(s.key, s.value);
        }
        last.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" ")
    }

    #[test]
    fn options_as_memcached_reads_them() {
        assert_eq!(run("-m 5g"), "maxbytes=5242880");
        assert_eq!(run("-m64 -c 2048"), "maxbytes=67108864 maxconns=2048");
        assert_eq!(run("-vv"), "verbosity=2");
        assert_eq!(
            run("-l 127.0.0.1 -l 10.0.0.1"),
            "inter=127.0.0.1,10.0.0.1 num_threads_per_udp=1"
        );
        assert_eq!(run("-o hashpower=20,no_lru_crawler"), "hashpower_init=20 lru_crawler=no");
        assert_eq!(run("--memory-limit=128 --conn=10"), "maxbytes=134217728 maxconns=10");
        assert_eq!(run("-I 2m"), "item_size_max=2097152 slab_chunk_max=524288");
        assert_eq!(run("-I 100"), "Item max size cannot be less than 1024 bytes.");
        assert_eq!(run("-c 0"), "Maximum connections must be greater than 0");
        assert_eq!(run("-q"), "invalid option -- 'q'");
        assert_eq!(run("-o bogus"), "Illegal suboption \"bogus\"");
        assert_eq!(run("-U 7"), "tcpport=7 udpport=7");
        assert_eq!(run("-a 0777"), "umask=777");
    }
}
