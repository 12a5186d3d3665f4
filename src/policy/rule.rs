//! Rules and their operators: what a rule expects of one key, and checking one observed
//! value against it. Pure functions over data; nothing here knows about files.

use std::fmt;
use std::sync::Arc;

use super::pattern::Pattern;
use crate::engine::quantity::{self, Expected};
use crate::engine::reported_bool;
use crate::finding::{References, Severity};
use crate::snapshot::{Entry, Role};

/// One validated `[[rule]]`.
#[derive(Debug, Clone)]
pub struct Rule {
    /// `PG-REPL-001`; unique across all policy files.
    pub id: String,
    /// The key it reads: `setting.…` or `server.…` from the snapshot, `state.…` from
    /// the volatile state.
    pub key: String,
    pub expect: Expect,
    pub severity: Severity,
    /// Shared with every finding of the rule.
    pub rationale: Option<Arc<str>>,
    pub remediation: Option<Arc<str>>,
    /// Benchmark controls and documentation links, shared with every finding of the rule.
    pub references: References,
    /// Preconditions (`when = { … }` or a list of them): when one does not hold, the
    /// rule is not applicable.
    pub when: Vec<Condition>,
    /// Declared roles the rule applies to; empty means every role.
    pub roles: Vec<Role>,
    /// What an absent key means.
    pub missing: Missing,
}

/// A rule's `when`: another key and what it must be for the rule to apply.
#[derive(Debug, Clone)]
pub struct Condition {
    pub key: String,
    pub expect: Expect,
    /// `missing = "pass"` in the table: an absent key satisfies the condition (a
    /// setting older versions do not have, `archive_library` before PostgreSQL 15).
    /// Otherwise an absent key makes the rule not applicable.
    pub holds_when_absent: bool,
}

/// What an absent key means for a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Missing {
    /// The rule cannot be evaluated (the default: an absent setting is suspicious).
    Error,
    Fail,
    Pass,
    NotApplicable,
}

/// A literal written in a policy.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
}

impl fmt::Display for Literal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Literal::Str(s) => f.write_str(s),
            Literal::Int(n) => write!(f, "{n}"),
            Literal::Float(n) => write!(f, "{n}"),
            Literal::Bool(b) => write!(f, "{b}"),
        }
    }
}

/// A `min` or `max` bound: parsed at load time, shown as written.
#[derive(Debug, Clone, PartialEq)]
pub struct Bound {
    pub written: String,
    pub value: Expected,
}

/// The one operator of an `expect` (or `when`) table.
#[derive(Debug, Clone)]
pub enum Expect {
    Equals(Literal),
    NotEquals(Literal),
    OneOf(Vec<Literal>),
    /// `min`, `max`, or both; at least one is set.
    Range {
        min: Option<Bound>,
        max: Option<Bound>,
    },
    Matches(Pattern),
    Present,
    Absent,
    /// Compares the target with the other members of its replication group.
    Parity(Parity),
    /// Judges how much a counter (a `state.` reading that only grows while the server
    /// runs) moved since the target's previous collection: `increase = { max = 0 }`,
    /// `rate = { max = 0.5 }` (per second). Evaluated with that collection (see
    /// `policy::counter`); never a lifetime total.
    Counter {
        measure: Measure,
        /// At least one is set; both in the counter's own unit (per second for `rate`).
        min: Option<Bound>,
        max: Option<Bound>,
    },
}

/// What a counter operator measures between two collections of one target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Measure {
    /// The change: now − then.
    Increase,
    /// The change per second: (now − then) / seconds between the collections.
    Rate,
}

impl Measure {
    pub fn as_str(self) -> &'static str {
        match self {
            Measure::Increase => "increase",
            Measure::Rate => "rate",
        }
    }
}

/// The group operators. They need every member's snapshot, so they are evaluated with
/// the group (see `policy::Group`); without one they are not applicable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parity {
    /// `same_as = "primary"`: equal to the group primary's value.
    SameAsPrimary,
    /// `at_least = "primary"`: at least the group primary's value (standby sizing).
    AtLeastPrimary,
    /// `unique = true`: no other member has the same value (`server_id`).
    Unique,
    /// `matches_declared_role = true`: the role the server reports is the one the
    /// config declares (a replica answering as a primary is a promotion or split brain).
    DeclaredRole,
    /// `fits_primary_connections = true`: the key (each pooler's most server
    /// connections), added up over the group's members of the target's kind, is within
    /// the PostgreSQL primary's usable `max_connections` (`PB-POOL-001`).
    FitsPrimaryConnections,
}

impl fmt::Display for Parity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Parity::SameAsPrimary => "same as the group's primary",
            Parity::AtLeastPrimary => "≥ the group's primary",
            Parity::Unique => "unique in the group",
            Parity::DeclaredRole => "the declared role",
            Parity::FitsPrimaryConnections => {
                "added up over the group's poolers, within the primary's usable max_connections"
            }
        })
    }
}

impl fmt::Display for Expect {
    /// The expectation as a person reads it: `one of replica, logical`, `≥ 64MB`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expect::Equals(v) => write!(f, "= {v}"),
            Expect::NotEquals(v) => write!(f, "≠ {v}"),
            Expect::OneOf(vs) => {
                f.write_str("one of ")?;
                for (i, v) in vs.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{v}")?;
                }
                Ok(())
            }
            Expect::Range { min: Some(min), max: Some(max) } => {
                write!(f, "≥ {} and ≤ {}", min.written, max.written)
            }
            Expect::Range { min: Some(min), max: None } => write!(f, "≥ {}", min.written),
            Expect::Range { min: None, max: Some(max) } => write!(f, "≤ {}", max.written),
            Expect::Range { min: None, max: None } => f.write_str("anything"),
            Expect::Matches(re) => write!(f, "matches {}", re.as_str()),
            Expect::Present => f.write_str("present"),
            Expect::Parity(p) => write!(f, "{p}"),
            Expect::Absent => f.write_str("absent"),
            Expect::Counter { measure, min, max } => {
                let per = if *measure == Measure::Rate { "/s" } else { "" };
                write!(f, "{} ", measure.as_str())?;
                match (min, max) {
                    (Some(lo), Some(hi)) => {
                        write!(f, "≥ {}{per} and ≤ {}{per}", lo.written, hi.written)?
                    }
                    (Some(lo), None) => write!(f, "≥ {}{per}", lo.written)?,
                    (None, Some(hi)) => write!(f, "≤ {}{per}", hi.written)?,
                    (None, None) => f.write_str("anything")?,
                }
                f.write_str(" since the previous collection")
            }
        }
    }
}

/// The verdict of one expectation on one value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Holds,
    Fails,
    /// The comparison made no sense (dimension mismatch, not a number): why.
    Error(String),
}

impl Expect {
    /// Check an observed entry (`None` when the key is absent) against the expectation.
    /// An absent key only has an answer for `present`/`absent`; others return `None`
    /// and the caller decides (see [`Missing`]).
    pub fn check(&self, observed: Option<&Entry>) -> Option<Outcome> {
        let verdict = |b: bool| if b { Outcome::Holds } else { Outcome::Fails };
        let entry = match (self, observed) {
            (Expect::Present, e) => return Some(verdict(e.is_some())),
            (Expect::Absent, e) => return Some(verdict(e.is_none())),
            (_, None) => return None,
            (_, Some(e)) => e,
        };
        Some(match self {
            Expect::Equals(v) => same(entry, v).map_or_else(Outcome::Error, verdict),
            Expect::NotEquals(v) => same(entry, v).map_or_else(Outcome::Error, |b| verdict(!b)),
            Expect::OneOf(vs) => {
                let mut any = false;
                for v in vs {
                    match same(entry, v) {
                        Ok(b) => any |= b,
                        Err(e) => return Some(Outcome::Error(e)),
                    }
                }
                verdict(any)
            }
            Expect::Range { min, max } => {
                within(&entry.value, entry.unit.as_deref(), min.as_ref(), max.as_ref())
            }
            Expect::Matches(re) => verdict(re.is_match(&entry.value)),
            Expect::Present | Expect::Absent => verdict(true),
            Expect::Parity(p) => Outcome::Error(format!("`{p}` is evaluated with the group")),
            Expect::Counter { measure, .. } => Outcome::Error(format!(
                "`{}` is evaluated with the previous collection",
                measure.as_str()
            )),
        })
    }
}

/// Whether `value` (in `unit`) lies within the bounds, unit-aware.
pub(super) fn within(
    value: &str,
    unit: Option<&str>,
    min: Option<&Bound>,
    max: Option<&Bound>,
) -> Outcome {
    let check = |bound: Option<&Bound>, ok: fn(f64, f64) -> bool| match bound {
        None => Ok(true),
        Some(b) => quantity::comparable(value, unit, b.value)
            .map(|(obs, exp)| ok(obs, exp))
            .map_err(|e| e.to_string()),
    };
    match (check(min, |o, e| o >= e), check(max, |o, e| o <= e)) {
        (Ok(a), Ok(b)) => {
            if a && b {
                Outcome::Holds
            } else {
                Outcome::Fails
            }
        }
        (Err(e), _) | (_, Err(e)) => Outcome::Error(e),
    }
}

/// Equality between an observed entry and a literal: unit-aware when both are
/// quantities, boolean-aware when both are booleans, else case-insensitive text.
/// `Err` when both are quantities of different dimensions.
fn same(entry: &Entry, literal: &Literal) -> Result<bool, String> {
    let expected = match literal {
        Literal::Int(n) => Some(Expected::Bare(*n as f64)),
        Literal::Float(n) => Some(Expected::Bare(*n)),
        Literal::Str(s) => Expected::parse(s).ok(),
        Literal::Bool(_) => None,
    };
    if let Some(expected) = expected
        && quantity::Quantity::observed(&entry.value, None).is_ok()
    {
        return match quantity::comparable(&entry.value, entry.unit.as_deref(), expected) {
            Ok((obs, exp)) => Ok(quantity::Quantity { amount: obs, dimension: None }
                .same_amount(quantity::Quantity { amount: exp, dimension: None })),
            Err(quantity::CompareError::Mismatch(m)) => Err(m.to_string()),
            // An unknown server unit: fall back to comparing the text.
            Err(quantity::CompareError::Unit(_)) => {
                Ok(entry.value.trim().eq_ignore_ascii_case(&literal.to_string()))
            }
        };
    }
    let literal_bool = match literal {
        Literal::Bool(b) => Some(*b),
        Literal::Str(s) => reported_bool(s),
        Literal::Int(n @ (0 | 1)) => Some(*n == 1),
        _ => None,
    };
    if let (Some(a), Some(b)) = (reported_bool(&entry.value), literal_bool) {
        return Ok(a == b);
    }
    Ok(entry.value.trim().eq_ignore_ascii_case(literal.to_string().trim()))
}

/// The observed value as a person reads it: `16384 8kB (128MB)`, `on`, `0 ms`, and
/// `''` for an empty string (as `SHOW` would need it quoted).
pub fn display_observed(entry: &Entry) -> String {
    if entry.value.is_empty() {
        return "''".to_owned();
    }
    let plain = entry.display_value();
    let Some(unit) = entry.unit.as_deref().filter(|u| !u.trim().is_empty()) else {
        return plain;
    };
    match quantity::Quantity::observed(&entry.value, Some(unit)) {
        Ok(quantity::Quantity { amount, dimension: Some(d) }) if amount > 0.0 => {
            let human = quantity::human(amount, d);
            if human == format!("{}{}", entry.value.trim(), unit.trim()) {
                plain
            } else {
                format!("{plain} ({human})")
            }
        }
        _ => plain,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lit(s: &str) -> Literal {
        Literal::Str(s.into())
    }

    fn bound(s: &str) -> Option<Bound> {
        Some(Bound { written: s.into(), value: Expected::parse(s).unwrap() })
    }

    fn entry(value: &str, unit: Option<&str>) -> Entry {
        let e = Entry::new(value);
        match unit {
            Some(u) => e.with_unit(u),
            None => e,
        }
    }

    /// `observed` is `value` or `value unit`; `None` means the key is absent.
    #[track_caller]
    fn check(expect: Expect, observed: Option<&str>, want: Option<Outcome>) {
        let e = observed.map(|o| match o.split_once(' ') {
            Some((v, u)) => entry(v, Some(u)),
            None => entry(o, None),
        });
        assert_eq!(expect.check(e.as_ref()), want, "{expect} against {observed:?}");
    }

    use Outcome::{Fails, Holds};

    #[test]
    fn equals_enum_case_insensitive() {
        check(Expect::Equals(lit("replica")), Some("replica"), Some(Holds));
        check(Expect::Equals(lit("Replica")), Some("replica"), Some(Holds));
        check(Expect::Equals(lit("replica")), Some("logical"), Some(Fails));
    }

    #[test]
    fn equals_booleans() {
        check(Expect::Equals(Literal::Bool(true)), Some("on"), Some(Holds));
        check(Expect::Equals(Literal::Bool(false)), Some("on"), Some(Fails));
        check(Expect::Equals(lit("yes")), Some("ON"), Some(Holds));
        check(Expect::Equals(lit("off")), Some("false"), Some(Holds));
        check(Expect::Equals(Literal::Int(1)), Some("on"), Some(Holds));
        check(Expect::Equals(Literal::Bool(true)), Some("1"), Some(Holds));
    }

    #[test]
    fn equals_units() {
        check(Expect::Equals(lit("128MB")), Some("16384 8kB"), Some(Holds));
        check(Expect::Equals(lit("1min")), Some("60000 ms"), Some(Holds));
        check(Expect::Equals(Literal::Int(60000)), Some("60000 ms"), Some(Holds));
        check(Expect::Equals(Literal::Float(0.9)), Some("0.9"), Some(Holds));
        check(Expect::Equals(lit("1min")), Some("60001 ms"), Some(Fails));
        // A value as written in a configuration file carries its own unit.
        check(Expect::Equals(lit("128MB")), Some("128MB"), Some(Holds));
        check(Expect::Equals(lit("131072kB")), Some("128MB"), Some(Holds));
        check(Expect::Range { min: bound("64MB"), max: None }, Some("128MB"), Some(Holds));
        check(Expect::Range { min: bound("256MB"), max: None }, Some("128MB"), Some(Fails));
    }

    #[test]
    fn equals_dimension_mismatch_is_error() {
        let want = Some(Outcome::Error(
            "expected a memory value but the server reports a time value".into(),
        ));
        check(Expect::Equals(lit("64MB")), Some("60000 ms"), want);
    }

    #[test]
    fn not_equals() {
        check(Expect::NotEquals(Literal::Int(-1)), Some("-1 MB"), Some(Fails));
        check(Expect::NotEquals(Literal::Int(-1)), Some("10240 MB"), Some(Holds));
        check(Expect::NotEquals(Literal::Int(0)), Some("0 ms"), Some(Fails));
        check(Expect::NotEquals(lit("")), Some(""), Some(Fails));
        check(Expect::NotEquals(lit("")), Some("cp %p /a/%f"), Some(Holds));
    }

    #[test]
    fn one_of() {
        let e = || Expect::OneOf(vec![lit("replica"), lit("logical")]);
        check(e(), Some("logical"), Some(Holds));
        check(e(), Some("minimal"), Some(Fails));
        check(Expect::OneOf(vec![lit("on"), lit("always")]), Some("true"), Some(Holds));
    }

    #[test]
    fn min_max() {
        let min = || Expect::Range { min: bound("64MB"), max: None };
        check(min(), Some("16384 8kB"), Some(Holds));
        check(min(), Some("1024 8kB"), Some(Fails));
        let max = || Expect::Range { min: None, max: bound("5min") };
        check(max(), Some("60000 ms"), Some(Holds));
        check(max(), Some("301 s"), Some(Fails));
        let range = || Expect::Range { min: bound("10"), max: bound("1000") };
        check(range(), Some("100"), Some(Holds));
        check(range(), Some("5"), Some(Fails));
        check(range(), Some("5000"), Some(Fails));
        check(Expect::Range { min: bound("1"), max: None }, Some("-1 MB"), Some(Fails));
    }

    #[test]
    fn min_errors() {
        let min = || Expect::Range { min: bound("64MB"), max: None };
        check(
            min(),
            Some("60 s"),
            Some(Outcome::Error(
                "expected a memory value but the server reports a time value".into(),
            )),
        );
        check(min(), Some("on"), Some(Outcome::Error("`on` is not a number".into())));
    }

    #[test]
    fn matches() {
        let re = || Expect::Matches(Pattern::new(r"^\S+").unwrap());
        check(re(), Some("cp"), Some(Holds));
        check(re(), Some(""), Some(Fails));
    }

    #[test]
    fn present_absent_and_missing() {
        check(Expect::Present, Some("x"), Some(Holds));
        check(Expect::Present, None, Some(Fails));
        check(Expect::Absent, None, Some(Holds));
        check(Expect::Absent, Some("x"), Some(Fails));
        check(Expect::Equals(lit("x")), None, None);
    }

    #[test]
    fn display_expectations() {
        assert_eq!(
            Expect::OneOf(vec![lit("replica"), lit("logical")]).to_string(),
            "one of replica, logical"
        );
        assert_eq!(Expect::Range { min: bound("64MB"), max: None }.to_string(), "≥ 64MB");
        assert_eq!(Expect::Range { min: bound("1"), max: bound("5") }.to_string(), "≥ 1 and ≤ 5");
        assert_eq!(Expect::NotEquals(Literal::Int(-1)).to_string(), "≠ -1");
        assert_eq!(Expect::Equals(Literal::Bool(true)).to_string(), "= true");
        assert_eq!(Expect::Matches(Pattern::new("^x").unwrap()).to_string(), "matches ^x");
        assert_eq!(Expect::Present.to_string(), "present");
    }

    #[test]
    fn display_observed_values() {
        assert_eq!(display_observed(&entry("16384", Some("8kB"))), "16384 8kB (128MB)");
        assert_eq!(display_observed(&entry("60000", Some("ms"))), "60000 ms (1min)");
        // As SHOW prints them: a sentinel (disabled, no limit) has no unit.
        assert_eq!(display_observed(&entry("0", Some("ms"))), "0");
        assert_eq!(display_observed(&entry("-1", Some("MB"))), "-1");
        assert_eq!(display_observed(&entry("64", Some("MB"))), "64 MB");
        assert_eq!(display_observed(&entry("on", None)), "on");
        assert_eq!(display_observed(&entry("", None)), "''");
    }
}
