//! The check hooks PostgreSQL runs on string settings when it reads the configuration
//! at start-up, and the form it then shows them in:
//!
//! - `TimeZone`, `log_timezone`: a name of the time zone database, case-insensitively
//!   (shown as the database spells it), or a POSIX specification (`EST5EDT`,
//!   `<+03>-3`; shown in upper case); `TimeZone` also takes a number of hours (`-8`,
//!   shown `<-08>+08`).
//! - `DateStyle`: a list of an output style and a field order, shown canonically
//!   (`sql, dmy` → `SQL, DMY`).
//! - `log_destination`: a list of `stderr`, `csvlog`, `jsonlog`, `syslog`.
//! - `search_path`, `temp_tablespaces`: list syntax (`SplitIdentifierString`).
//! - `synchronous_standby_names`: `FIRST n (…)`, `ANY n (…)`, `n (…)` or a list.
//! - `cluster_name`, `application_name`: bytes outside printable ASCII become `?`.
//! - `recovery_target` (`immediate`), `recovery_target_lsn` (`X/X`),
//!   `recovery_target_timeline` (`current`, `latest` or a number).
//!
//! Every other string is taken as written. (Checks that depend on the host the server
//! runs on — locales, libraries, files, certificates — are not made: a file cannot tell.)

use super::{Metadata, Refusal};

/// `raw` for string setting `name` as the server shows it, or its refusal.
pub fn check(meta: &Metadata, name: &str, raw: &str) -> Result<String, Refusal> {
    let invalid = |detail: Option<String>| Refusal {
        message: format!("invalid value for parameter \"{name}\": \"{raw}\""),
        hint: detail,
    };
    match name {
        "TimeZone" => time_zone(meta, raw, true).ok_or_else(|| invalid(None)),
        "log_timezone" => time_zone(meta, raw, false).ok_or_else(|| invalid(None)),
        "DateStyle" => date_style(raw).map_err(|d| invalid(Some(d))),
        "log_destination" => {
            let words = identifiers(raw).ok_or_else(|| invalid(Some(LIST_SYNTAX.into())))?;
            match words.iter().find(|w| {
                !["stderr", "csvlog", "jsonlog", "syslog"].iter().any(|k| k.eq_ignore_ascii_case(w))
            }) {
                Some(bad) => Err(invalid(Some(format!("Unrecognized key word: \"{bad}\".")))),
                None => Ok(raw.to_owned()),
            }
        }
        "search_path" | "temp_tablespaces" => match identifiers(raw) {
            Some(_) => Ok(raw.to_owned()),
            None => Err(invalid(Some(LIST_SYNTAX.into()))),
        },
        "synchronous_standby_names" => match standby_names(raw) {
            Ok(Some(0)) => Err(Refusal {
                message: "number of synchronous standbys (0) must be greater than zero".into(),
                hint: None,
            }),
            Ok(_) => Ok(raw.to_owned()),
            Err(detail) => Err(invalid(Some(detail))),
        },
        // pg_clean_ascii: every byte outside printable ASCII becomes `?`.
        "application_name" | "cluster_name" => {
            Ok(raw.bytes().map(|b| if (32..=126).contains(&b) { b as char } else { '?' }).collect())
        }
        "recovery_target" if !raw.is_empty() && raw != "immediate" => {
            Err(invalid(Some("The only allowed value is \"immediate\".".into())))
        }
        "recovery_target_lsn" if !raw.is_empty() && !lsn(raw) => Err(invalid(None)),
        "recovery_target_timeline" => {
            let ok = raw == "current" || raw == "latest" || {
                let l = super::super::cnum::strtol(raw, 0);
                l.consumed == raw.len()
                    && l.consumed > 0
                    && !l.overflow
                    && l.value > 0
                    && l.value <= i64::from(u32::MAX)
            };
            if ok {
                Ok(raw.to_owned())
            } else {
                Err(invalid(Some("recovery_target_timeline is not a valid number.".into())))
            }
        }
        _ => Ok(raw.to_owned()),
    }
}

const LIST_SYNTAX: &str = "List syntax is invalid.";

/// PostgreSQL's `scanner_isspace`.
fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0c')
}

/// `SplitIdentifierString(text, ',')`: the identifiers (unquoted ones lowercased,
/// `"…"` ones as written with `""` collapsed), or `None` for invalid list syntax.
pub fn identifiers(text: &str) -> Option<Vec<String>> {
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    let skip = |i: &mut usize| {
        while chars.get(*i).is_some_and(|c| is_space(*c)) {
            *i += 1;
        }
    };
    skip(&mut i);
    let mut out = Vec::new();
    if i == chars.len() {
        return Some(out);
    }
    loop {
        let mut name = String::new();
        if chars.get(i) == Some(&'"') {
            i += 1;
            loop {
                match chars.get(i) {
                    None => return None,
                    Some('"') if chars.get(i + 1) == Some(&'"') => {
                        name.push('"');
                        i += 2;
                    }
                    Some('"') => {
                        i += 1;
                        break;
                    }
                    Some(c) => {
                        name.push(*c);
                        i += 1;
                    }
                }
            }
        } else {
            let start = i;
            while chars.get(i).is_some_and(|c| *c != ',' && !is_space(*c)) {
                i += 1;
            }
            if i == start {
                return None;
            }
            name = chars[start..i].iter().collect::<String>().to_lowercase();
        }
        out.push(name);
        skip(&mut i);
        match chars.get(i) {
            Some(',') => {
                i += 1;
                skip(&mut i);
            }
            None => return Some(out),
            Some(_) => return None,
        }
    }
}

/// `check_datestyle`, starting from the compiled-in `ISO, MDY`.
fn date_style(raw: &str) -> Result<String, String> {
    let words = identifiers(raw).ok_or_else(|| LIST_SYNTAX.to_owned())?;
    let (mut style, mut order) = ("ISO", "MDY");
    let (mut have_style, mut have_order, mut ok) = (false, false, true);
    for w in &words {
        let u = w.to_ascii_uppercase();
        let new_style = match u.as_str() {
            "ISO" => Some("ISO"),
            "SQL" => Some("SQL"),
            "GERMAN" => Some("German"),
            u if u.starts_with("POSTGRES") => Some("Postgres"),
            _ => None,
        };
        let new_order = match u.as_str() {
            "YMD" => Some("YMD"),
            u if u == "DMY" || u.starts_with("EURO") => Some("DMY"),
            u if u == "MDY" || u == "US" || u.starts_with("NONEURO") => Some("MDY"),
            _ => None,
        };
        if let Some(s) = new_style {
            ok &= !(have_style && style != s);
            style = s;
            have_style = true;
            // GERMAN also sets DMY, unless an order was given.
            if s == "German" && !have_order {
                order = "DMY";
            }
        } else if let Some(o) = new_order {
            ok &= !(have_order && order != o);
            order = o;
            have_order = true;
        } else if u == "DEFAULT" {
            if !have_style {
                style = "ISO";
            }
            if !have_order {
                order = "MDY";
            }
        } else {
            return Err(format!("Unrecognized key word: \"{w}\"."));
        }
    }
    if !ok {
        return Err("Conflicting \"datestyle\" specifications.".to_owned());
    }
    Ok(format!("{style}, {order}"))
}

/// `TimeZone` / `log_timezone` as `pg_settings` shows them.
fn time_zone(meta: &Metadata, raw: &str, hours_allowed: bool) -> Option<String> {
    if hours_allowed && raw.len() >= 8 && raw[..8].eq_ignore_ascii_case("interval") {
        return Some(raw.to_owned());
    }
    if hours_allowed {
        let d = super::super::cnum::strtod(raw);
        if d.consumed > 0 && d.consumed == raw.len() {
            return offset_zone((-d.value * 3600.0) as i64);
        }
    }
    if raw.len() > 255 {
        return None;
    }
    if raw.eq_ignore_ascii_case("GMT") {
        return Some("GMT".into());
    }
    if let Some(name) = meta.time_zones.names.iter().find(|n| n.eq_ignore_ascii_case(raw)) {
        return Some(name.clone());
    }
    let upper = raw.to_ascii_uppercase();
    (!upper.starts_with(':') && posix_tz(&upper)).then_some(upper)
}

/// `pg_tzset_offset`: a fixed offset west of Greenwich in seconds, as its POSIX name.
fn offset_zone(gmtoffset: i64) -> Option<String> {
    let abs = gmtoffset.abs();
    if abs / 3600 > 167 {
        return None;
    }
    let mut text = format!("{:02}", abs / 3600);
    let rest = abs % 3600;
    if rest != 0 {
        text.push_str(&format!(":{:02}", rest / 60));
        if rest % 60 != 0 {
            text.push_str(&format!(":{:02}", rest % 60));
        }
    }
    Some(if gmtoffset > 0 { format!("<-{text}>+{text}") } else { format!("<+{text}>-{text}") })
}

/// A POSIX TZ specification (`tzparse`): `std offset [dst [offset] [,rule]]`.
fn posix_tz(text: &str) -> bool {
    let b = text.as_bytes();
    let mut i = 0;
    let name = |i: &mut usize| -> bool {
        if b.get(*i) == Some(&b'<') {
            let Some(end) = b[*i..].iter().position(|&c| c == b'>') else { return false };
            let inside = &b[*i + 1..*i + end];
            if inside.len() < 3
                || !inside.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'+' || *c == b'-')
            {
                return false;
            }
            *i += end + 1;
            true
        } else {
            let start = *i;
            while b.get(*i).is_some_and(u8::is_ascii_alphabetic) {
                *i += 1;
            }
            *i - start >= 3
        }
    };
    let offset = |i: &mut usize, max_hours: u32| -> bool {
        if matches!(b.get(*i), Some(b'+' | b'-')) {
            *i += 1;
        }
        let mut part = 0;
        loop {
            let start = *i;
            let mut n: u32 = 0;
            while let Some(d) = b.get(*i).filter(|c| c.is_ascii_digit()) {
                n = n.saturating_mul(10).saturating_add(u32::from(d - b'0'));
                *i += 1;
            }
            let limit = if part == 0 { max_hours } else { 59 };
            if *i == start || n > limit {
                return false;
            }
            part += 1;
            if part == 3 || b.get(*i) != Some(&b':') {
                return true;
            }
            *i += 1;
        }
    };
    if !name(&mut i) || !offset(&mut i, 167) {
        return false;
    }
    if i == b.len() {
        return true;
    }
    if !name(&mut i) {
        return false;
    }
    if i < b.len() && b[i] != b',' && !offset(&mut i, 167) {
        return false;
    }
    if i == b.len() {
        return true;
    }
    // ,start[/time],end[/time]: Jn, n or Mm.w.d dates.
    let rule = &text[i..];
    let parts: Vec<&str> = rule.trim_start_matches(',').split(',').collect();
    rule.starts_with(',')
        && parts.len() == 2
        && parts.iter().all(|p| {
            let (date, time) = p.split_once('/').unwrap_or((p, "0"));
            let date_ok = if let Some(m) = date.strip_prefix('M') {
                let f: Vec<&str> = m.split('.').collect();
                f.len() == 3
                    && f.iter().all(|x| !x.is_empty() && x.chars().all(|c| c.is_ascii_digit()))
            } else {
                let d = date.strip_prefix('J').unwrap_or(date);
                !d.is_empty() && d.chars().all(|c| c.is_ascii_digit())
            };
            let t = time.trim_start_matches(['+', '-']);
            date_ok
                && !t.is_empty()
                && t.split(':').count() <= 3
                && t.split(':').all(|x| !x.is_empty() && x.chars().all(|c| c.is_ascii_digit()))
        })
}

/// `synchronous_standby_names`: the number of synchronous standbys it asks for (`None`
/// for an empty value), or the parser's complaint.
fn standby_names(raw: &str) -> Result<Option<i64>, String> {
    #[derive(Debug, PartialEq)]
    enum Tok {
        Name,
        Num(i64),
        Any,
        First,
        Comma,
        Open,
        Close,
    }
    let chars: Vec<char> = raw.chars().collect();
    let mut toks = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0c' | '\x0b') {
            i += 1;
        } else if c == '"' {
            i += 1;
            loop {
                match chars.get(i) {
                    None => return Err("unterminated quoted identifier".into()),
                    Some('"') if chars.get(i + 1) == Some(&'"') => i += 2,
                    Some('"') => {
                        i += 1;
                        break;
                    }
                    Some(_) => i += 1,
                }
            }
            toks.push(Tok::Name);
        } else if c.is_ascii_alphabetic() || c == '_' || !c.is_ascii() {
            let start = i;
            while chars.get(i).is_some_and(|c| {
                c.is_ascii_alphanumeric() || *c == '_' || *c == '$' || !c.is_ascii()
            }) {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            toks.push(if word.eq_ignore_ascii_case("any") {
                Tok::Any
            } else if word.eq_ignore_ascii_case("first") {
                Tok::First
            } else {
                Tok::Name
            });
        } else if c.is_ascii_digit() {
            let start = i;
            while chars.get(i).is_some_and(char::is_ascii_digit) {
                i += 1;
            }
            let digits: String = chars[start..i].iter().collect();
            toks.push(Tok::Num(i64::from(super::super::cnum::atoi(&digits))));
        } else {
            toks.push(match c {
                '*' => Tok::Name,
                ',' => Tok::Comma,
                '(' => Tok::Open,
                ')' => Tok::Close,
                _ => return Err("syntax error".into()),
            });
            i += 1;
        }
    }
    if toks.is_empty() {
        return Ok(None);
    }
    let list = |t: &[Tok]| -> bool {
        !t.is_empty()
            && t.iter().enumerate().all(|(k, tok)| {
                if k % 2 == 0 { matches!(tok, Tok::Name | Tok::Num(_)) } else { *tok == Tok::Comma }
            })
            && t.len() % 2 == 1
    };
    let counted = |t: &[Tok]| -> Option<i64> {
        match t {
            [Tok::Num(n), Tok::Open, inner @ .., Tok::Close] if list(inner) => Some(*n),
            _ => None,
        }
    };
    let n = match toks.as_slice() {
        [Tok::Any | Tok::First, rest @ ..] => counted(rest),
        t if list(t) => Some(1),
        t => counted(t),
    };
    n.map(Some).ok_or_else(|| "syntax error".to_owned())
}

/// `X/X`, each up to 8 hex digits (`pg_lsn_in_internal`).
fn lsn(text: &str) -> bool {
    let hex = |s: &str| (1..=8).contains(&s.len()) && s.chars().all(|c| c.is_ascii_hexdigit());
    text.split_once('/').is_some_and(|(a, b)| hex(a) && hex(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifier_lists() {
        assert_eq!(identifiers(" a, \"B\"\"c\" ,d ").unwrap(), ["a", "B\"c", "d"]);
        assert_eq!(identifiers("").unwrap(), Vec::<String>::new());
        assert_eq!(identifiers("\"$user\", public").unwrap(), ["$user", "public"]);
        assert!(identifiers("a,,b").is_none());
        assert!(identifiers("a b").is_none());
        assert!(identifiers("\"a").is_none());
        assert!(identifiers("a,").is_none());
    }

    #[test]
    fn date_styles() {
        assert_eq!(date_style("sql, dmy").unwrap(), "SQL, DMY");
        assert_eq!(date_style("iso").unwrap(), "ISO, MDY");
        assert_eq!(date_style("German").unwrap(), "German, DMY");
        assert_eq!(date_style("german, ymd").unwrap(), "German, YMD");
        assert_eq!(date_style("ymd, german").unwrap(), "German, YMD");
        assert_eq!(date_style("postgresql, euro").unwrap(), "Postgres, DMY");
        assert_eq!(
            date_style("iso, sql").unwrap_err(),
            "Conflicting \"datestyle\" specifications."
        );
        assert_eq!(date_style("x").unwrap_err(), "Unrecognized key word: \"x\".");
    }

    #[test]
    fn posix_zones_and_offsets() {
        assert!(posix_tz("EST5EDT"));
        assert!(posix_tz("UTC+3"));
        assert!(posix_tz("<+03>-3"));
        assert!(posix_tz("CET-1CEST,M3.5.0,M10.5.0/3"));
        assert!(!posix_tz("PST"));
        assert!(!posix_tz("AB1"));
        assert_eq!(offset_zone(28800).unwrap(), "<-08>+08");
        assert_eq!(offset_zone(-19800).unwrap(), "<+05:30>-05:30");
        assert_eq!(offset_zone(0).unwrap(), "<+00>-00");
    }

    #[test]
    fn synchronous_standbys() {
        assert_eq!(standby_names("").unwrap(), None);
        assert_eq!(standby_names("*").unwrap(), Some(1));
        assert_eq!(standby_names("FIRST 2 (a, b, \"c d\")").unwrap(), Some(2));
        assert_eq!(standby_names("any 1 (a,b)").unwrap(), Some(1));
        assert_eq!(standby_names("2 (a, b)").unwrap(), Some(2));
        assert_eq!(standby_names("0 (a)").unwrap(), Some(0));
        assert!(standby_names("a b").is_err());
        assert!(standby_names("first").is_err());
        assert!(standby_names("(a)").is_err());
    }
}
