//! MariaDB: its options and system variables (generated metadata), and how `mariadbd`
//! reads an option (mysys/my_getopt.c, then mysqld.cc):
//!
//! - Names: `-` and `_` are the same, case does not matter; a unique prefix of an option's name
//!   is that option (`max_connect_e`), several are an error; when no option matches,
//!   the prefixes `skip-`, `disable-` (= 0), `enable-` (= 1), `maximum-` (the limit
//!   for `SET`), `loose-` (unknown is a warning, not an error) and `autoset-` are
//!   tried, in any combination.
//! - Booleans: `1`, `on`, `true` / `0`, `off`, `false` (case-insensitive); anything
//!   else is OFF with a warning (`read_only = yes` is OFF). Options that take no value
//!   refuse one.
//! - Numbers: decimal with an optional `K M G T P E` suffix (powers of 1024; only the
//!   first letter counts); clamped to the variable's range and rounded down to its
//!   block size, with the engine's warning; negative unsigned values, overflow and
//!   unknown suffixes are refused.
//! - Enums: a name (case-insensitive, unique prefixes) or its index; sets: names
//!   separated by commas, combination modes expanded (`TRADITIONAL`); doubles: `%f`.
//! - Aliases (`slow_query_log` = `log_slow_query`), options that set other variables
//!   (`table_cache`, `ansi`), and values sized from others at start-up ([`derived`]).

mod derived;
mod values;

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::Deserialize;

pub use derived::{Derived, charset_conflict, derive};
pub use values::{Assigned, assign};

use super::EngineInfo;

/// One engine version's options and variables.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Metadata {
    pub engine: EngineInfo,
    pub option_files: OptionFiles,
    pub variables: BTreeMap<String, Variable>,
    pub options: BTreeMap<String, OptionSpec>,
    /// Character set → its default collation.
    pub charsets: BTreeMap<String, String>,
    /// Collation → its character set.
    pub collations: BTreeMap<String, String>,
}

/// What the server reads of an option file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptionFiles {
    /// The `[group]`s it reads (`mysqld`, `mariadb-10.11`, …), matched ignoring case.
    pub groups: Vec<String>,
}

/// One row of `information_schema.SYSTEM_VARIABLES`, as the generator recorded it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Variable {
    #[serde(rename = "type")]
    pub vtype: String,
    #[serde(default)]
    pub min: Option<String>,
    #[serde(default)]
    pub max: Option<String>,
    #[serde(default)]
    pub block: Option<String>,
    #[serde(default)]
    pub values: Vec<String>,
    /// Set members that set more than themselves (`TRADITIONAL`), and what they set.
    #[serde(default)]
    pub expands: BTreeMap<String, String>,
    /// `none`, `optional`, `required`; absent when no option of this name sets it.
    #[serde(default)]
    pub argument: Option<String>,
    #[serde(default)]
    pub read_only: bool,
    #[serde(default)]
    pub scope: Option<String>,
    #[serde(default)]
    pub alias_of: Option<String>,
    #[serde(default)]
    pub default: Option<String>,
    #[serde(default)]
    pub auto: bool,
    #[serde(default)]
    pub varies: Option<String>,
}

/// One option of `mariadbd --verbose --help`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptionSpec {
    /// `none`, `optional` or `required`.
    pub argument: String,
    /// `number` or `text`, for options that take a value.
    #[serde(default)]
    pub value: Option<String>,
    /// Also a system variable of the same name.
    pub variable: bool,
    /// Takes no value at all (`--ansi=1` is refused).
    #[serde(default)]
    pub flag: bool,
    /// Read in the server's first pass: a prefix shared with other options still means
    /// this one.
    #[serde(default)]
    pub early: bool,
    #[serde(default)]
    pub probe: Option<String>,
    /// What the help showed changed after the option (with `probe`).
    #[serde(default)]
    pub sets: BTreeMap<String, String>,
}

/// The newest MariaDB series embedded.
pub fn metadata() -> &'static Metadata {
    static CACHE: OnceLock<Metadata> = OnceLock::new();
    super::newest("mariadb", &CACHE)
}

/// The engine's refusal of an option: the server exits with this message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal(pub String);

/// `mariadbd`: a prefix of an option name some options share.
const SPECIAL_PREFIXES: [&str; 6] = ["skip", "disable", "enable", "maximum", "loose", "autoset"];

/// How an option name as written was matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// The option's name as the engine spells it (`max-connect-errors`).
    pub option: String,
    /// `skip`/`disable`/`enable`/`maximum`/`autoset`, when one was stripped to find it.
    pub prefix: Option<&'static str>,
    pub loose: bool,
    /// The engine's note when a unique prefix was used.
    pub note: Option<String>,
}

/// Whether two option names are the same, `-` = `_`, ignoring case (as the server
/// compares them).
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).all(|(x, y)| norm(x) == norm(y))
}

fn norm(c: u8) -> u8 {
    if c == b'-' { b'_' } else { c.to_ascii_lowercase() }
}

impl Metadata {
    /// `findopt`: the options `pattern` is the name of, or a prefix of (an exact match
    /// wins at once). The server matches prefixes within smaller sets first (its early
    /// options, each plugin's): of several matches, the one `early` option is taken.
    fn findopt(&self, pattern: &str) -> Vec<&str> {
        let mut found = Vec::new();
        for name in self.options.keys() {
            if name.len() >= pattern.len()
                && name.is_char_boundary(pattern.len())
                && same(&name[..pattern.len()], pattern)
            {
                if name.len() == pattern.len() {
                    return vec![name.as_str()];
                }
                found.push(name.as_str());
            }
        }
        if found.len() > 1 {
            let early: Vec<&str> =
                found.iter().copied().filter(|n| self.options[*n].early).collect();
            if let [one] = early.as_slice() {
                return vec![one];
            }
        }
        found
    }

    /// The variable an option sets by its own name (or, for mysqld's
    /// `transaction-isolation`/`-read-only`, by the older one), if any.
    pub fn variable_of(&self, option: &str) -> Option<(String, &Variable)> {
        let name = match option.to_ascii_lowercase().replace('-', "_").as_str() {
            "transaction_isolation" => "tx_isolation".to_owned(),
            "transaction_read_only" => "tx_read_only".to_owned(),
            other => other.to_owned(),
        };
        self.variables.get(&name).map(|v| (name, v))
    }

    /// `handle_options`: which option `written` (given `value` or none) is.
    /// `Ok(None)`: an unknown `loose-` option, ignored with a warning.
    pub fn find(&self, written: &str, value: Option<&str>) -> Result<Option<Found>, Refusal> {
        // `keycache.key_buffer_size`: options of a named key cache.
        let pattern = match written.get(1..).and_then(|rest| rest.find('.')) {
            Some(dot) if dot + 2 < written.len() => &written[dot + 2..],
            _ => written,
        };
        let direct = self.findopt(pattern);
        if direct.len() > 1 {
            return Err(Refusal(format!(
                "ambiguous option '--{pattern}' ({}, {})",
                direct[0],
                direct[direct.len() - 1]
            )));
        }
        if let [name] = direct.as_slice() {
            return Ok(Some(self.found(name, pattern, None, false)));
        }
        let mut rest = pattern;
        let mut loose = false;
        let mut prefix = None;
        'outer: loop {
            for p in SPECIAL_PREFIXES {
                let Some(after) = rest
                    .get(..p.len())
                    .filter(|head| same(head, p))
                    .and_then(|_| rest.get(p.len()..))
                    .filter(|a| a.starts_with(['-', '_']))
                    .map(|a| &a[1..])
                else {
                    continue;
                };
                rest = after;
                match p {
                    "loose" => loose = true,
                    other => prefix = Some(other),
                }
                let found = self.findopt(rest);
                if found.len() > 1 {
                    return Err(Refusal(format!(
                        "ambiguous option '--{p}-{rest}' (--{p}-{})",
                        found[0]
                    )));
                }
                if let [name] = found.as_slice() {
                    return Ok(Some(self.found(name, rest, prefix, loose)));
                }
                continue 'outer;
            }
            break;
        }
        if loose {
            return Ok(None);
        }
        Err(Refusal(if let Some(value) = value {
            format!("unknown variable '{written}={value}'")
        } else {
            format!("unknown option '--{written}'")
        }))
    }

    fn found(&self, name: &str, pattern: &str, prefix: Option<&'static str>, loose: bool) -> Found {
        let note = (name.len() != pattern.len()).then(|| {
            format!(
                "Using unique option prefix '{pattern}' is error-prone and can break in the future. Please use the full name '{name}' instead."
            )
        });
        Found { option: name.to_owned(), prefix, loose, note }
    }
}

#[cfg(test)]
mod tests;
