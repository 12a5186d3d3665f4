//! The value an option gives its variable(s), as `my_getopt`'s `setval` and mysqld's
//! option handler make it, in the form `SHOW GLOBAL VARIABLES` prints it.

use super::{Found, Metadata, OptionSpec, Refusal, Variable};
use crate::engine::cnum;

/// A variable an option sets: the value the server will show (`None`: the engine
/// ignores the option and the variable keeps its value) and, when the engine adjusted
/// or ignored what was written, its warning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assigned {
    pub variable: String,
    pub shown: Option<String>,
    pub note: Option<String>,
}

/// What option `found` with `value` (as written after `=`, or none) sets. A warning the
/// engine gives becomes the note; an error is the refusal.
pub fn assign(
    meta: &Metadata,
    found: &Found,
    value: Option<&str>,
) -> Result<Vec<Assigned>, Refusal> {
    let name = found.option.as_str();
    let Some(spec) = meta.options.get(name) else { return Ok(Vec::new()) };
    // skip-/disable- give "0" (or "1" for `=0`), enable- the reverse.
    let marker = match found.prefix {
        Some("skip" | "disable") => Some(if value == Some("0") { "1" } else { "0" }),
        Some("enable") => Some(if value == Some("0") { "0" } else { "1" }),
        _ => None,
    };
    match found.prefix {
        Some("maximum") => return Ok(Vec::new()), // a limit for SET, not a value
        Some("autoset") => {
            if value.is_some() {
                return Err(Refusal(format!(
                    "automatically set option '--{name}' cannot take an argument"
                )));
            }
            return Ok(Vec::new()); // the variable keeps its start-up sizing
        }
        _ => {}
    }
    let given = marker.or(value);
    if spec.flag && given.is_some() {
        return Err(Refusal(format!("option '--{name}' cannot take an argument")));
    }
    if spec.argument == "required" && given.is_none() {
        return Err(Refusal(format!("option '--{name}' requires an argument")));
    }
    if let Some(special) = special(meta, name, given, marker.is_some()) {
        return special;
    }
    let target = if spec.variable { meta.variable_of(name) } else { alias_target(meta, spec) };
    let Some((var_name, var)) = target else {
        return Ok(effects(meta, spec, given));
    };
    let (shown, note) = value_of(&var_name, var, spec, given, marker.is_some())?;
    let mut out = vec![Assigned { variable: var_name.clone(), shown: shown.clone(), note }];
    // An alias and the variable it stands for show the same value.
    if let Some(target) = &var.alias_of {
        out.push(Assigned { variable: target.clone(), shown: shown.clone(), note: None });
    }
    for (other, v) in &meta.variables {
        if v.alias_of.as_deref() == Some(var_name.as_str()) {
            out.push(Assigned { variable: other.clone(), shown: shown.clone(), note: None });
        }
    }
    Ok(out)
}

/// Options handled by mysqld itself rather than by a variable of their name.
fn special(
    meta: &Metadata,
    name: &str,
    given: Option<&str>,
    negated: bool,
) -> Option<Result<Vec<Assigned>, Refusal>> {
    let set = |variable: &str, shown: &str| Assigned {
        variable: variable.to_owned(),
        shown: Some(shown.to_owned()),
        note: None,
    };
    match name {
        // `log-bin[=name]` turns binary logging on (its name sets the file names);
        // `skip-log-bin` turns it off. `log-bin=0` is a file called 0.
        "log-bin" => {
            Some(Ok(vec![set("log_bin", if negated && given == Some("0") { "OFF" } else { "ON" })]))
        }
        "character-set-server" => {
            let charset = given.unwrap_or("");
            let found = meta.charsets.keys().find(|c| c.eq_ignore_ascii_case(charset));
            Some(match found {
                Some(c) => Ok(vec![set("character_set_server", c)]),
                None => Err(Refusal(format!("Unknown character set: '{charset}'"))),
            })
        }
        // Options of mysqld for variables of another name.
        "transaction-isolation" | "transaction-read-only" => {
            let (target, var) = meta.variable_of(name)?;
            let spec = meta.options.get(name)?;
            Some(
                value_of(&target, var, spec, given, negated)
                    .map(|(shown, note)| vec![Assigned { variable: target.clone(), shown, note }]),
            )
        }
        "collation-server" => {
            let collation = given.unwrap_or("");
            let found = meta.collations.iter().find(|(c, _)| c.eq_ignore_ascii_case(collation));
            Some(match found {
                Some((c, _)) => Ok(vec![set("collation_server", c)]),
                None => Err(Refusal(format!("Unknown collation: '{collation}'"))),
            })
        }
        _ => None,
    }
}

/// A non-variable option that the help showed setting a variable to exactly its probe
/// value is another name for that variable (`table-cache` = `table_open_cache`).
fn alias_target<'a>(meta: &'a Metadata, spec: &OptionSpec) -> Option<(String, &'a Variable)> {
    let probe = spec.probe.as_deref().filter(|p| !p.is_empty())?;
    spec.sets.iter().filter(|(_, v)| *v == probe).find_map(|(k, _)| meta.variable_of(k))
}

/// What an option that is not a variable sets, from the help's probe: flag options
/// (`ansi`) set what they set; options with a text value set names derived from it
/// (`log-basename=x` → `x.log`, `x-slow.log`).
fn effects(meta: &Metadata, spec: &OptionSpec, given: Option<&str>) -> Vec<Assigned> {
    let probe = spec.probe.as_deref().unwrap_or("");
    spec.sets
        .iter()
        .filter_map(|(option, shown)| {
            let (var_name, var) = meta.variable_of(option)?;
            if var.varies.is_some() {
                return None;
            }
            let shown = if probe.is_empty() {
                shown.clone()
            } else {
                let value = given?;
                if shown == probe {
                    value.to_owned()
                } else if let Some(rest) =
                    shown.strip_prefix(probe).filter(|r| r.starts_with(['.', '-']))
                {
                    format!("{value}{rest}")
                } else {
                    return None; // depends on more than the value (a path in the data directory)
                }
            };
            let shown = match (var.vtype.as_str(), shown.as_str()) {
                ("boolean", "TRUE") => "ON".to_owned(),
                ("boolean", "FALSE") => "OFF".to_owned(),
                _ => shown,
            };
            Some(Assigned { variable: var_name, shown: Some(shown), note: None })
        })
        .collect()
}

/// The shown value (`None`: the option is ignored) and warning for `given` on
/// variable `name`; `marker`: `given` came from a `skip-`/`enable-` prefix.
fn value_of(
    name: &str,
    var: &Variable,
    spec: &OptionSpec,
    given: Option<&str>,
    marker: bool,
) -> Result<(Option<String>, Option<String>), Refusal> {
    let error = |value: &str| Refusal(format!("Error while setting value '{value}' to '{name}'"));
    let set = |shown: String| Ok((Some(shown), None));
    // No value (or enable-) is the engine's "1".
    let v = given.unwrap_or("1");
    match var.vtype.as_str() {
        "boolean"
            if var.argument.as_deref() == Some("none")
                || (spec.argument == "none" && var.argument.is_none()) =>
        {
            // NO_ARG booleans: only the first character of 1/0 counts; anything else
            // is ignored with a warning.
            if given.is_none()
                || v.starts_with('1')
                || v.eq_ignore_ascii_case("true")
                || v.eq_ignore_ascii_case("on")
            {
                set("ON".into())
            } else if v.starts_with('0')
                || v.eq_ignore_ascii_case("false")
                || v.eq_ignore_ascii_case("off")
            {
                set("OFF".into())
            } else {
                Ok((None, Some(format!("ignoring option '--{name}' due to invalid value '{v}'"))))
            }
        }
        "boolean" => {
            let truthy = ["true", "on", "1"].iter().any(|t| v.eq_ignore_ascii_case(t));
            let falsy = ["false", "off", "0"].iter().any(|t| v.eq_ignore_ascii_case(t));
            let note = (!truthy && !falsy).then(|| {
                format!("option '{name}': boolean value '{v}' wasn't recognized. Set to OFF.")
            });
            Ok((Some(if truthy { "ON" } else { "OFF" }.to_owned()), note))
        }
        "double" => {
            let d = cnum::strtod(v);
            if d.consumed != v.len() || d.consumed == 0 || d.range_error {
                return Err(Refusal(format!("Invalid decimal value for option '{name}'")));
            }
            let mut x = d.value;
            if let Some(hi) = bound_f(&var.max).filter(|hi| *hi != 0.0 && x > *hi) {
                x = hi;
            }
            if let Some(lo) = bound_f(&var.min).filter(|lo| x < *lo) {
                x = lo;
            }
            let note = (x != d.value).then(|| {
                format!(
                    "option '{name}': value {} adjusted to {}",
                    cnum::format_g(d.value),
                    cnum::format_g(x)
                )
            });
            Ok((Some(format!("{x:.6}")), note))
        }
        "enum" if !var.values.is_empty() => match find_type(&var.values, v) {
            Lookup::One(i) => set(var.values[i].clone()),
            Lookup::Ambiguous => Err(error(v)),
            Lookup::None => match v.parse::<usize>() {
                Ok(i) if i < var.values.len() && v.bytes().all(|b| b.is_ascii_digit()) => {
                    set(var.values[i].clone())
                }
                _ => Err(error(v)),
            },
        },
        "set" => set_value(var, v).map(|s| (Some(s), None)).ok_or_else(|| error(v)),
        "flagset" => {
            flagset(var, given.unwrap_or("")).map(|s| (Some(s), None)).ok_or_else(|| error(v))
        }
        // A string option given no value (or enable-) is the empty string.
        "varchar" | "enum" => {
            set(if given.is_none() || marker && v == "1" { String::new() } else { v.to_owned() })
        }
        _ => integer(name, var, v).map(|(n, note)| (Some(n), note)),
    }
}

fn bound_f(b: &Option<String>) -> Option<f64> {
    b.as_deref().and_then(|b| b.parse().ok())
}

/// `getopt_ll`/`getopt_ull` and their limits.
fn integer(name: &str, var: &Variable, v: &str) -> Result<(String, Option<String>), Refusal> {
    let unsigned = var.vtype.ends_with("unsigned");
    if unsigned && v.starts_with('-') {
        return Err(Refusal(format!("Incorrect unsigned value: '{v}' for {name}")));
    }
    let (num, consumed) = if unsigned {
        let u = strtoull(v);
        if u.2 {
            return Err(Refusal(format!("Incorrect integer value: '{v}' for {name}")));
        }
        (i128::from(u.0), u.1)
    } else {
        let l = cnum::strtol(v, 10);
        if l.overflow {
            return Err(Refusal(format!("Incorrect integer value: '{v}'")));
        }
        (i128::from(l.value), l.consumed)
    };
    let suffix = v[consumed..].chars().next();
    let factor: i128 = match suffix {
        None => 1,
        Some('k' | 'K') => 1 << 10,
        Some('m' | 'M') => 1 << 20,
        Some('g' | 'G') => 1 << 30,
        Some('t' | 'T') => 1 << 40,
        Some('p' | 'P') => 1 << 50,
        Some('e' | 'E') => 1 << 60,
        Some(c) => {
            return Err(Refusal(format!(
                "Unknown suffix '{c}' used for variable '{name}' (value '{v}')"
            )));
        }
    };
    // C multiplies in 64 bits and wraps.
    let old: i128 = if unsigned {
        i128::from((num as u64).wrapping_mul(factor as u64))
    } else {
        i128::from((num as i64).wrapping_mul(factor as i64))
    };
    let bound = |b: &Option<String>| b.as_deref().and_then(|b| b.parse::<i128>().ok());
    let (min, max) = (bound(&var.min).unwrap_or(i128::MIN), bound(&var.max).unwrap_or(0));
    let type_max: i128 = match var.vtype.as_str() {
        "int" => i128::from(i32::MAX),
        "int unsigned" => i128::from(u32::MAX),
        "bigint" => i128::from(i64::MAX),
        _ => i128::from(u64::MAX),
    };
    let block =
        var.block.as_deref().and_then(|b| b.parse::<i128>().ok()).filter(|b| *b > 1).unwrap_or(1);
    let mut n = old;
    let mut adjusted = false;
    if (unsigned || n > 0) && max != 0 && n > max {
        n = max;
        adjusted = true;
    }
    if n > type_max {
        n = type_max;
        adjusted = true;
    }
    n = n / block * block;
    if n < min {
        n = min;
        adjusted |= old < min;
    }
    let note = adjusted.then(|| {
        let kind = if unsigned { "unsigned" } else { "signed" };
        format!("option '{name}': {kind} value {old} adjusted to {n}")
    });
    Ok((n.to_string(), note))
}

/// glibc `strtoull(text, &end, 10)`: value, bytes consumed, overflow. (A leading `-`
/// was refused before.)
fn strtoull(text: &str) -> (u64, usize, bool) {
    let b = text.as_bytes();
    let mut i = 0;
    while b.get(i).is_some_and(|c| cnum::is_c_space(*c as char)) {
        i += 1;
    }
    if b.get(i) == Some(&b'+') {
        i += 1;
    }
    let start = i;
    let mut n: u64 = 0;
    let mut overflow = false;
    while let Some(d) = b.get(i).filter(|c| c.is_ascii_digit()) {
        match n.checked_mul(10).and_then(|x| x.checked_add(u64::from(d - b'0'))) {
            Some(x) => n = x,
            None => overflow = true,
        }
        i += 1;
    }
    if i == start {
        return (0, 0, false);
    }
    (if overflow { u64::MAX } else { n }, i, overflow)
}

enum Lookup {
    One(usize),
    Ambiguous,
    None,
}

/// `find_type`: an exact name (case-insensitive) or a unique prefix of one.
fn find_type(values: &[String], text: &str) -> Lookup {
    if text.is_empty() {
        return Lookup::None;
    }
    if let Some(i) = values.iter().position(|v| v.eq_ignore_ascii_case(text)) {
        return Lookup::One(i);
    }
    let matches: Vec<usize> = values
        .iter()
        .enumerate()
        .filter(|(_, v)| v.len() >= text.len() && v[..text.len()].eq_ignore_ascii_case(text))
        .map(|(i, _)| i)
        .collect();
    match matches.as_slice() {
        [i] => Lookup::One(*i),
        [] => Lookup::None,
        _ => Lookup::Ambiguous,
    }
}

/// A `SET` value: comma-separated names (or a bit mask), combination members expanded,
/// shown in the set's own order.
fn set_value(var: &Variable, text: &str) -> Option<String> {
    let mut on = vec![false; var.values.len()];
    let mask_form = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
    if mask_form {
        let mask: u64 = text.parse().ok()?;
        if var.values.len() < 64 && mask >> var.values.len() != 0 {
            return None;
        }
        for (i, o) in on.iter_mut().enumerate() {
            *o = mask & (1 << i) != 0;
        }
    } else if !text.is_empty() {
        for item in text.split(',') {
            let Lookup::One(i) = find_type(&var.values, item) else { return None };
            on[i] = true;
        }
    }
    // Combination members set the members they stand for.
    let expanded: Vec<usize> = on.iter().enumerate().filter(|(_, o)| **o).map(|(i, _)| i).collect();
    for i in expanded {
        if let Some(members) = var.expands.get(&var.values[i]) {
            for m in members.split(',') {
                if let Some(j) = var.values.iter().position(|v| v == m) {
                    on[j] = true;
                }
            }
        }
    }
    Some(
        var.values
            .iter()
            .zip(&on)
            .filter(|(_, o)| **o)
            .map(|(v, _)| v.as_str())
            .collect::<Vec<_>>()
            .join(","),
    )
}

/// A flag set (`optimizer_switch`): `name=on|off|default` items over the default.
fn flagset(var: &Variable, text: &str) -> Option<String> {
    let default = var.default.as_deref().unwrap_or("");
    let defaults: Vec<(&str, &str)> =
        default.split(',').filter_map(|p| p.split_once('=')).collect();
    let mut flags: Vec<(String, String)> =
        defaults.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    if text.is_empty() {
        return Some(default.to_owned());
    }
    for item in text.split(',') {
        if item.eq_ignore_ascii_case("default") {
            flags = defaults.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
            continue;
        }
        let (k, v) = item.split_once('=')?;
        let value = ["on", "off", "default"].into_iter().find(|x| x.eq_ignore_ascii_case(v))?;
        let i = flags.iter().position(|(name, _)| name.eq_ignore_ascii_case(k))?;
        flags[i].1 = if value == "default" { defaults[i].1.to_owned() } else { value.to_owned() };
    }
    Some(flags.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(","))
}
