//! PostgreSQL: its settings (generated metadata) and how the server turns the text of a
//! configuration value into the value it runs with (guc.c `parse_and_validate_value`):
//!
//! - `bool`: `parse_bool`, case-insensitive, with unique prefixes: `t`, `tr`, … `true`,
//!   `f`… `false`, `y`… `yes`, `n`, `no`, `on`, `of`, `off`, `1`, `0`.
//! - `integer`: `strtol` base 0 (`0x1F` hex, `0144` octal), or `strtod` when it stops at
//!   `.`, `e` or overflows (`1e3`, `1.5`); then an optional unit of the setting's kind,
//!   converted to the setting's unit and rounded as the server does ([`units`]); then
//!   `rint`, `int` range, and the setting's min/max.
//! - `real`: `strtod`, unit, min/max; shown with `%g`.
//! - `enum`: case-insensitive against the listed values and the engine's aliases.
//! - `string`: as written, except the settings whose check hooks the server runs at
//!   start-up ([`strings`]: time zones, `DateStyle`, lists, `synchronous_standby_names`).
//!
//! Refusals carry the server's own message (and hint), as the server logs it.

pub mod startup;
pub mod strings;
pub mod units;

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::Deserialize;

use super::EngineInfo;
use super::cnum;

/// One engine version's settings.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Metadata {
    pub engine: EngineInfo,
    pub settings: BTreeMap<String, Setting>,
    pub time_zones: TimeZones,
}

/// The names `TimeZone` and `log_timezone` accept (besides POSIX-style specifications).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeZones {
    pub names: Vec<String>,
}

/// One row of `pg_settings`, as the generator recorded it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Setting {
    pub vartype: VarType,
    #[serde(default)]
    pub unit: Option<String>,
    pub context: String,
    #[serde(default)]
    pub min: Option<String>,
    #[serde(default)]
    pub max: Option<String>,
    /// Listed enum values (`pg_settings.enumvals`).
    #[serde(default)]
    pub values: Vec<String>,
    /// Enum values written → the value the server shows, where they differ.
    #[serde(default)]
    pub aliases: BTreeMap<String, String>,
    /// The compiled-in value (`boot_val`).
    pub boot: String,
    /// What a server started on an empty file shows; absent when it `varies`.
    #[serde(default)]
    pub default: Option<String>,
    /// `start-up` or `session`: the value comes from how the server was started or
    /// from the connection, never from a file.
    #[serde(default)]
    pub varies: Option<String>,
    /// Computed at start-up from the cluster (`RUNTIME_COMPUTED`).
    #[serde(default)]
    pub computed: bool,
    /// The server's refusal of a file that sets this setting at all (for settings fixed
    /// by the build or initdb).
    #[serde(default)]
    pub file: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VarType {
    Bool,
    Integer,
    Real,
    Enum,
    String,
}

impl VarType {
    pub fn as_str(self) -> &'static str {
        match self {
            VarType::Bool => "bool",
            VarType::Integer => "integer",
            VarType::Real => "real",
            VarType::Enum => "enum",
            VarType::String => "string",
        }
    }
}

impl Setting {
    /// `internal` settings are fixed when PostgreSQL is built or the cluster created.
    pub fn internal(&self) -> bool {
        self.context == "internal"
    }

    /// Integer settings the server shows in octal (`unix_socket_permissions` `0777`).
    pub fn octal(&self) -> bool {
        self.vartype == VarType::Integer
            && self.default.as_deref().is_some_and(|d| d.len() > 1 && d.starts_with('0'))
    }
}

/// The newest PostgreSQL series embedded.
pub fn metadata() -> &'static Metadata {
    static CACHE: OnceLock<Metadata> = OnceLock::new();
    super::newest("postgres", &CACHE)
}

impl Metadata {
    /// The setting called `name`, case-insensitively as the server looks names up, with
    /// the name as `pg_settings` spells it.
    pub fn setting(&self, name: &str) -> Option<(&str, &Setting)> {
        if let Some((k, s)) = self.settings.get_key_value(name) {
            return Some((k.as_str(), s));
        }
        self.settings
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(k, s)| (k.as_str(), s))
    }
}

/// The server's refusal of a value: its message and, when it gives one, its hint or
/// detail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub message: String,
    pub hint: Option<String>,
}

impl Refusal {
    fn invalid(name: &str, value: &str, hint: Option<String>) -> Refusal {
        Refusal { message: format!("invalid value for parameter \"{name}\": \"{value}\""), hint }
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.hint {
            Some(hint) => write!(f, "{} ({hint})", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// What a written value becomes: the value `pg_settings.setting` will show, and, when
/// the server adjusts what was written beyond spelling (rounding to the unit, clamping),
/// why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    pub shown: String,
    pub adjusted: Option<String>,
}

/// `raw` (the value as written, quotes removed) for setting `name`, as the server reads
/// it, or its refusal.
pub fn parse_value(
    meta: &Metadata,
    name: &str,
    setting: &Setting,
    raw: &str,
) -> Result<Parsed, Refusal> {
    let plain = |shown: String| Ok(Parsed { shown, adjusted: None });
    match setting.vartype {
        VarType::Bool => match parse_bool(raw) {
            Some(b) => plain(if b { "on" } else { "off" }.to_owned()),
            None => Err(Refusal {
                message: format!("parameter \"{name}\" requires a Boolean value"),
                hint: None,
            }),
        },
        VarType::Integer => {
            let (value, rounded) = parse_int(name, setting, raw)?;
            check_int_range(name, setting, value)?;
            let shown = if setting.octal() { format!("{value:04o}") } else { value.to_string() };
            let adjusted = rounded.then(|| {
                format!("rounded to a whole number of {}", unit_name(setting).unwrap_or("units"))
            });
            Ok(Parsed { shown, adjusted })
        }
        VarType::Real => {
            let value = parse_real(name, setting, raw)?;
            check_real_range(name, setting, value)?;
            plain(cnum::format_g(value))
        }
        VarType::Enum => {
            parse_enum(name, setting, raw).map(|shown| Parsed { shown, adjusted: None })
        }
        VarType::String => {
            strings::check(meta, name, raw).map(|shown| Parsed { shown, adjusted: None })
        }
    }
}

/// `parse_bool`: see the module doc. No trimming: `' on'` is not a boolean.
pub fn parse_bool(text: &str) -> Option<bool> {
    let lower = text.to_ascii_lowercase();
    let prefix_of = |word: &str, min: usize| lower.len() >= min && word.starts_with(lower.as_str());
    match lower.as_bytes().first()? {
        b't' if prefix_of("true", 1) => Some(true),
        b'f' if prefix_of("false", 1) => Some(false),
        b'y' if prefix_of("yes", 1) => Some(true),
        b'n' if prefix_of("no", 1) => Some(false),
        // `o` alone is not unique enough.
        b'o' if lower == "on" => Some(true),
        b'o' if prefix_of("off", 2) => Some(false),
        b'1' if lower.len() == 1 => Some(true),
        b'0' if lower.len() == 1 => Some(false),
        _ => None,
    }
}

/// The unit `pg_settings` shows (`kB`, `8kB`, `ms`), when the setting has one.
fn unit_name(setting: &Setting) -> Option<&str> {
    setting.unit.as_deref().filter(|u| !u.is_empty())
}

/// `parse_int`: the integer and whether rounding changed the amount written.
fn parse_int(name: &str, setting: &Setting, raw: &str) -> Result<(i64, bool), Refusal> {
    let invalid = |hint: Option<&str>| Refusal::invalid(name, raw, hint.map(str::to_owned));
    let long = cnum::strtol(raw, 0);
    let after = raw.as_bytes().get(long.consumed).copied();
    let (mut value, consumed) = if matches!(after, Some(b'.' | b'e' | b'E')) || long.overflow {
        let d = cnum::strtod(raw);
        if d.consumed == 0 || d.range_error {
            return Err(invalid(None));
        }
        (d.value, d.consumed)
    } else {
        if long.consumed == 0 {
            return Err(invalid(None));
        }
        (long.value as f64, long.consumed)
    };
    if value.is_nan() {
        return Err(invalid(None));
    }
    let rest = raw[consumed..].trim_start_matches(cnum::is_c_space);
    if !rest.is_empty() {
        let Some(unit) = unit_name(setting) else { return Err(invalid(None)) };
        match units::to_base_unit(value, rest, unit) {
            Some(v) => value = v,
            None => return Err(invalid(Some(units::hint(unit)))),
        }
    }
    let rounded = cnum::rint(value);
    if rounded > f64::from(i32::MAX) || rounded < f64::from(i32::MIN) {
        return Err(invalid(Some("Value exceeds integer range.")));
    }
    Ok((rounded as i64, rounded != value))
}

/// `parse_real`.
fn parse_real(name: &str, setting: &Setting, raw: &str) -> Result<f64, Refusal> {
    let invalid = |hint: Option<&str>| Refusal::invalid(name, raw, hint.map(str::to_owned));
    let d = cnum::strtod(raw);
    if d.consumed == 0 || d.range_error || d.value.is_nan() {
        return Err(invalid(None));
    }
    let rest = raw[d.consumed..].trim_start_matches(cnum::is_c_space);
    if rest.is_empty() {
        return Ok(d.value);
    }
    let Some(unit) = unit_name(setting) else { return Err(invalid(None)) };
    units::to_base_unit(d.value, rest, unit).ok_or_else(|| invalid(Some(units::hint(unit))))
}

fn check_int_range(name: &str, setting: &Setting, value: i64) -> Result<(), Refusal> {
    let bound = |b: &Option<String>| b.as_deref().and_then(|b| b.parse::<i64>().ok());
    let (Some(min), Some(max)) = (bound(&setting.min), bound(&setting.max)) else { return Ok(()) };
    if (min..=max).contains(&value) {
        return Ok(());
    }
    let unit = unit_name(setting).map(|u| format!(" {u}")).unwrap_or_default();
    Err(Refusal {
        message: format!(
            "{value}{unit} is outside the valid range for parameter \"{name}\" ({min} .. {max})"
        ),
        hint: None,
    })
}

fn check_real_range(name: &str, setting: &Setting, value: f64) -> Result<(), Refusal> {
    let bound = |b: &Option<String>| b.as_deref().and_then(|b| b.parse::<f64>().ok());
    let (Some(min), Some(max)) = (bound(&setting.min), bound(&setting.max)) else { return Ok(()) };
    if value >= min && value <= max {
        return Ok(());
    }
    let unit = unit_name(setting).map(|u| format!(" {u}")).unwrap_or_default();
    Err(Refusal {
        message: format!(
            "{}{unit} is outside the valid range for parameter \"{name}\" ({} .. {})",
            cnum::format_g(value),
            cnum::format_g(min),
            cnum::format_g(max)
        ),
        hint: None,
    })
}

/// An enum value, case-insensitively, as the value the server shows.
fn parse_enum(name: &str, setting: &Setting, raw: &str) -> Result<String, Refusal> {
    let found = setting
        .aliases
        .iter()
        .find(|(written, _)| written.eq_ignore_ascii_case(raw))
        .map(|(_, shown)| shown.clone())
        .or_else(|| setting.values.iter().find(|v| v.eq_ignore_ascii_case(raw)).cloned());
    found.ok_or_else(|| {
        Refusal::invalid(
            name,
            raw,
            Some(format!("Available values: {}.", setting.values.join(", "))),
        )
    })
}

#[cfg(test)]
mod tests;
