//! The operators of an `expect` or `when` table: exactly one (or `min` with `max`),
//! each value checked at load time (units, regexes) so evaluation cannot meet a bad one.

use std::collections::BTreeMap;
use std::ops::Range;

use toml::Spanned;

use super::Sink;
use crate::engine::quantity::Expected;
use crate::policy::pattern::{Pattern, PatternError};
use crate::policy::rule::{Bound, Expect, Literal, Measure, Parity};

const OPERATORS: &str = "equals, not_equals, one_of, min, max, matches, present, absent, \
                         same_as, at_least, unique, matches_declared_role, \
                         fits_primary_connections, increase, rate";

/// An `expect` or `when` table: operator name → value, both with spans.
pub(super) type OperatorTable = BTreeMap<Spanned<String>, Spanned<toml::Value>>;

/// The one operator of an `expect` or `when` table (or `min` and `max` together).
pub(super) fn operators(
    table: Spanned<OperatorTable>,
    what: &str,
    sink: &mut Sink<'_>,
) -> Option<Expect> {
    let span = table.span();
    let mut entries: Vec<_> = table.into_inner().into_iter().collect();
    entries.sort_by_key(|(k, _)| k.span().start);
    let mut ok = true;
    let mut names: Vec<Spanned<String>> = Vec::new();
    let mut found: Vec<Expect> = Vec::new();
    let (mut min, mut max) = (None, None);
    for (name, value) in entries {
        let parsed = match name.get_ref().as_str() {
            "equals" => literal(&value, sink).map(Expect::Equals),
            "not_equals" => literal(&value, sink).map(Expect::NotEquals),
            "one_of" => one_of(&value, sink),
            "min" => bound(&value, sink).map(|b| {
                min = Some((b.clone(), value.span()));
                Expect::Range { min: Some(b), max: None }
            }),
            "max" => bound(&value, sink).map(|b| {
                max = Some((b.clone(), value.span()));
                Expect::Range { min: None, max: Some(b) }
            }),
            "matches" => matches(&value, sink),
            op @ ("present" | "absent") => presence(op, &value, sink),
            op @ ("same_as"
            | "at_least"
            | "unique"
            | "matches_declared_role"
            | "fits_primary_connections") => parity(op, &value, what, sink).map(Expect::Parity),
            "increase" => counter(Measure::Increase, &value, what, sink),
            "rate" => counter(Measure::Rate, &value, what, sink),
            other => {
                let msg =
                    format!("unknown operator `{other}` in `{what}` (expected one of {OPERATORS})");
                sink.at(name.span(), msg);
                ok = false;
                continue;
            }
        };
        names.push(name);
        match parsed {
            Some(expect) => found.push(expect),
            None => ok = false,
        }
    }
    if names.is_empty() {
        if ok {
            sink.at(span, format!("`{what}` needs one operator ({OPERATORS})"));
        }
        return None;
    }
    let is_bound = |n: &Spanned<String>| matches!(n.get_ref().as_str(), "min" | "max");
    if names.len() > 1 && !names.iter().all(is_bound) {
        let (first, second) = (&names[0], &names[1]);
        let msg = format!(
            "`{what}` takes exactly one operator (found `{}` and `{}`)",
            first.get_ref(),
            second.get_ref()
        );
        sink.at(second.span(), msg);
        return None;
    }
    if !ok {
        return None;
    }
    match (min, max) {
        (Some((lo, _)), Some((hi, hi_span))) => range(lo, hi, hi_span, sink),
        _ => found.pop(),
    }
}

/// `min` and `max` together: same kind of quantity, `min <= max`.
fn range(lo: Bound, hi: Bound, hi_span: Range<usize>, sink: &mut Sink<'_>) -> Option<Expect> {
    let (a, b) = match (lo.value, hi.value) {
        (Expected::Bare(a), Expected::Bare(b)) => (a, b),
        (Expected::Quantity(a), Expected::Quantity(b)) if a.dimension == b.dimension => {
            (a.amount, b.amount)
        }
        (Expected::Quantity(_), Expected::Quantity(_)) => {
            sink.at(hi_span, "`min` and `max` measure different things (memory vs time)");
            return None;
        }
        _ => {
            sink.at(hi_span, "`min` and `max` must both have units or both be plain numbers");
            return None;
        }
    };
    if a > b {
        sink.at(hi_span, format!("`max` ({}) is below `min` ({})", hi.written, lo.written));
        return None;
    }
    Some(Expect::Range { min: Some(lo), max: Some(hi) })
}

fn matches(value: &Spanned<toml::Value>, sink: &mut Sink<'_>) -> Option<Expect> {
    let toml::Value::String(s) = value.get_ref() else {
        let msg =
            format!("`matches` takes a regex string, found {}", a(value.get_ref().type_str()));
        sink.at(value.span(), msg);
        return None;
    };
    match Pattern::new(s) {
        Ok(re) => Some(Expect::Matches(re)),
        Err(e) => {
            sink.at(value.span(), format!("invalid regex: {}", regex_reason(&e)));
            None
        }
    }
}

/// Group operators: `same_as = "primary"`, `at_least = "primary"`, `unique = true`,
/// `matches_declared_role = true`, `fits_primary_connections = true`. They compare a target with its group, so they make
/// no sense as a `when` precondition.
fn parity(
    op: &str,
    value: &Spanned<toml::Value>,
    what: &str,
    sink: &mut Sink<'_>,
) -> Option<Parity> {
    if what == "when" {
        sink.at(value.span(), format!("`{op}` compares with the group and cannot be a `when`"));
        return None;
    }
    match (op, value.get_ref()) {
        ("same_as", toml::Value::String(s)) if s == "primary" => Some(Parity::SameAsPrimary),
        ("at_least", toml::Value::String(s)) if s == "primary" => Some(Parity::AtLeastPrimary),
        ("same_as" | "at_least", _) => {
            sink.at(
                value.span(),
                format!("`{op}` compares with the group's primary: write `{op} = \"primary\"`"),
            );
            None
        }
        ("unique", toml::Value::Boolean(true)) => Some(Parity::Unique),
        ("matches_declared_role", toml::Value::Boolean(true)) => Some(Parity::DeclaredRole),
        ("fits_primary_connections", toml::Value::Boolean(true)) => {
            Some(Parity::FitsPrimaryConnections)
        }
        _ => {
            sink.at(value.span(), format!("`{op}` must be `true`"));
            None
        }
    }
}

/// `increase = { max = 0 }`, `rate = { min = 1, max = 100 }`: bounds on a counter's
/// change (per second for `rate`) since the previous collection. They compare two
/// collections, so they make no sense as a `when` precondition.
fn counter(
    measure: Measure,
    value: &Spanned<toml::Value>,
    what: &str,
    sink: &mut Sink<'_>,
) -> Option<Expect> {
    let op = measure.as_str();
    if what == "when" {
        sink.at(value.span(), format!("`{op}` compares two collections and cannot be a `when`"));
        return None;
    }
    let toml::Value::Table(table) = value.get_ref() else {
        let msg = format!(
            "`{op}` takes bounds, e.g. `{op} = {{ max = 0 }}`, found {}",
            a(value.get_ref().type_str())
        );
        sink.at(value.span(), msg);
        return None;
    };
    let (mut min, mut max, mut ok) = (None, None, true);
    for (name, bound_value) in table {
        let spanned = Spanned::new(value.span(), bound_value.clone());
        match name.as_str() {
            "min" | "max" => match bound(&spanned, sink) {
                Some(b) if name == "min" => min = Some(b),
                Some(b) => max = Some(b),
                None => ok = false,
            },
            other => {
                sink.at(value.span(), format!("`{op}` takes `min` and `max`, not `{other}`"));
                ok = false;
            }
        }
    }
    if !ok {
        return None;
    }
    if min.is_none() && max.is_none() {
        sink.at(value.span(), format!("`{op}` needs `min`, `max` or both"));
        return None;
    }
    if let (Some(lo), Some(hi)) = (&min, &max) {
        range(lo.clone(), hi.clone(), value.span(), sink)?;
    }
    Some(Expect::Counter { measure, min, max })
}

fn presence(op: &str, value: &Spanned<toml::Value>, sink: &mut Sink<'_>) -> Option<Expect> {
    match (op, value.get_ref()) {
        ("present", toml::Value::Boolean(true)) => Some(Expect::Present),
        ("absent", toml::Value::Boolean(true)) => Some(Expect::Absent),
        _ => {
            let other = if op == "present" { "absent" } else { "present" };
            let msg =
                format!("`{op}` must be `true` (to expect the opposite, write `{other} = true`)");
            sink.at(value.span(), msg);
            None
        }
    }
}

/// `an array`, `a string`.
pub(super) fn a(type_name: &str) -> String {
    let article = if type_name.starts_with(['a', 'e', 'i', 'o', 'u']) { "an" } else { "a" };
    format!("{article} {type_name}")
}

fn regex_reason(e: &PatternError) -> String {
    let text = e.to_string();
    let last = text.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or(&text);
    last.trim().trim_start_matches("error: ").to_owned()
}

fn literal(value: &Spanned<toml::Value>, sink: &mut Sink<'_>) -> Option<Literal> {
    match value.get_ref() {
        toml::Value::String(s) => Some(Literal::Str(s.clone())),
        toml::Value::Integer(n) => Some(Literal::Int(*n)),
        toml::Value::Float(n) => Some(Literal::Float(*n)),
        toml::Value::Boolean(b) => Some(Literal::Bool(*b)),
        other => {
            sink.at(
                value.span(),
                format!("expected a string, number or boolean, found {}", a(other.type_str())),
            );
            None
        }
    }
}

fn one_of(value: &Spanned<toml::Value>, sink: &mut Sink<'_>) -> Option<Expect> {
    let toml::Value::Array(items) = value.get_ref() else {
        sink.at(
            value.span(),
            format!("`one_of` takes a list, found {}", a(value.get_ref().type_str())),
        );
        return None;
    };
    if items.is_empty() {
        sink.at(value.span(), "`one_of` needs at least one value");
        return None;
    }
    let literals: Option<Vec<Literal>> =
        items.iter().map(|v| literal(&Spanned::new(value.span(), v.clone()), sink)).collect();
    literals.map(Expect::OneOf)
}

fn bound(value: &Spanned<toml::Value>, sink: &mut Sink<'_>) -> Option<Bound> {
    let parsed = match value.get_ref() {
        toml::Value::Integer(n) => Ok((n.to_string(), Expected::Bare(*n as f64))),
        toml::Value::Float(n) => Ok((n.to_string(), Expected::Bare(*n))),
        toml::Value::String(s) => Expected::parse(s)
            .map(|e| (s.trim().to_owned(), e))
            .map_err(|e| format!("invalid quantity `{s}`: {e}")),
        other => Err(format!(
            "expected a number or a quantity like \"64MB\" or \"5min\", found {}",
            a(other.type_str())
        )),
    };
    match parsed {
        Ok((written, value)) => Some(Bound { written, value }),
        Err(msg) => {
            sink.at(value.span(), msg);
            None
        }
    }
}
