//! Quantities with PostgreSQL units: memory (`B kB MB GB TB`, 1 kB = 1024 B) and time
//! (`us ms s min h d`), normalised to bytes and microseconds so values compare.
//!
//! An observed value comes as `pg_settings` reports it: a number plus the setting's own
//! unit, which may carry a multiplier (`8kB` pages, `16MB` WAL segments). An expected
//! value is written by a person: `"256MB"`, `"5min"`, or a bare number meaning "in
//! whatever unit the server reports".

use std::fmt;

/// What a unit measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dimension {
    /// Normalised to bytes.
    Memory,
    /// Normalised to microseconds.
    Time,
}

impl Dimension {
    pub fn as_str(self) -> &'static str {
        match self {
            Dimension::Memory => "memory",
            Dimension::Time => "time",
        }
    }
}

/// A unit, possibly with a multiplier: `kB` is (Memory, 1024), `8kB` is (Memory, 8192).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Unit {
    pub dimension: Dimension,
    /// How many bytes or microseconds one of this unit is.
    pub factor: f64,
}

const KB: f64 = 1024.0;
const MEMORY_UNITS: [(&str, f64); 5] =
    [("B", 1.0), ("kB", KB), ("MB", KB * KB), ("GB", KB * KB * KB), ("TB", KB * KB * KB * KB)];
const TIME_UNITS: [(&str, f64); 6] =
    [("us", 1.0), ("ms", 1e3), ("s", 1e6), ("min", 60e6), ("h", 3600e6), ("d", 86400e6)];

/// Why a quantity did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnitError {
    #[error("`{0}` is not a number")]
    NotANumber(String),
    #[error(
        "unknown unit `{0}` (memory units: B, kB, MB, GB, TB; time units: us, ms, s, min, h, d)"
    )]
    UnknownUnit(String),
}

impl Unit {
    /// A base unit (`MB`) or a PostgreSQL multiplied unit (`8kB`, `16MB`).
    pub fn parse(text: &str) -> Result<Unit, UnitError> {
        let text = text.trim();
        let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
        let (multiplier, name) = text.split_at(split);
        let multiplier = match multiplier {
            "" => 1.0,
            digits => digits.parse::<f64>().map_err(|_| UnitError::UnknownUnit(text.into()))?,
        };
        let base = MEMORY_UNITS
            .iter()
            .map(|&(n, f)| (n, f, Dimension::Memory))
            .chain(TIME_UNITS.iter().map(|&(n, f)| (n, f, Dimension::Time)))
            .find(|&(n, _, _)| n == name);
        match base {
            Some((_, factor, dimension)) => Ok(Unit { dimension, factor: factor * multiplier }),
            None => Err(UnitError::UnknownUnit(text.into())),
        }
    }
}

/// A number, with its dimension when it has one, normalised to bytes or microseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quantity {
    pub amount: f64,
    pub dimension: Option<Dimension>,
}

impl Quantity {
    /// An observed value: `value` in the server's `unit` (`"16384"`, `Some("8kB")`).
    /// An unknown server unit is an error rather than a guess.
    /// Without a server unit, a value that carries its own (`128MB` as written in a
    /// configuration file) is read like a policy's quantity.
    pub fn observed(value: &str, unit: Option<&str>) -> Result<Quantity, UnitError> {
        let unit = unit.map(str::trim).filter(|u| !u.is_empty());
        if unit.is_none()
            && parse_number(value).is_err()
            && let Ok(Expected::Quantity(q)) = Expected::parse(value)
        {
            return Ok(q);
        }
        let amount = parse_number(value)?;
        match unit {
            None => Ok(Quantity { amount, dimension: None }),
            Some(unit) => {
                let unit = Unit::parse(unit)?;
                Ok(Quantity { amount: amount * unit.factor, dimension: Some(unit.dimension) })
            }
        }
    }

    /// Whether two quantities are the same amount (within float rounding).
    pub fn same_amount(self, other: Quantity) -> bool {
        let scale = self.amount.abs().max(other.amount.abs()).max(1.0);
        (self.amount - other.amount).abs() <= scale * 1e-9
    }
}

/// A quantity written in a policy: `"256MB"`, `"5min"`, `"1.5GB"`, or a bare number that
/// takes the observed value's unit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Expected {
    /// A number with no unit: compared in the server's unit.
    Bare(f64),
    /// A number with a unit.
    Quantity(Quantity),
}

impl Expected {
    pub fn parse(text: &str) -> Result<Expected, UnitError> {
        let text = text.trim();
        let split = text
            .char_indices()
            .find(|&(i, c)| !(c.is_ascii_digit() || c == '.' || (i == 0 && (c == '-' || c == '+'))))
            .map_or(text.len(), |(i, _)| i);
        let (number, unit) = text.split_at(split);
        if number.is_empty() {
            return Err(UnitError::NotANumber(text.into()));
        }
        let amount = parse_number(number)?;
        let unit = unit.trim();
        if unit.is_empty() {
            return Ok(Expected::Bare(amount));
        }
        // A multiplier belongs to the server's units, not to a person's: "8kB" written
        // in a policy is almost surely a typo for "8 kB"; both mean the same anyway.
        let unit = Unit::parse(unit)?;
        Ok(Expected::Quantity(Quantity {
            amount: amount * unit.factor,
            dimension: Some(unit.dimension),
        }))
    }

    /// The expected quantity in the terms of an `observed` one, or why they cannot be
    /// compared.
    pub fn against(self, observed: Quantity) -> Result<Quantity, Mismatch> {
        match self {
            // A bare number is in the observed unit: scale it the same way.
            Expected::Bare(amount) => Ok(Quantity { amount, dimension: None }),
            Expected::Quantity(q) if q.dimension == observed.dimension => Ok(q),
            Expected::Quantity(q) => {
                Err(Mismatch { expected: q.dimension, observed: observed.dimension })
            }
        }
    }
}

/// An expected and an observed quantity that measure different things.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mismatch {
    pub expected: Option<Dimension>,
    pub observed: Option<Dimension>,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = |d: Option<Dimension>| d.map_or("a plain number", Dimension::as_str);
        write!(
            f,
            "expected a {} value but the server reports {}",
            name(self.expected),
            match self.observed {
                Some(d) => format!("a {} value", d.as_str()),
                None => "a plain number".to_owned(),
            }
        )
    }
}

/// Compare `observed` (value + server unit) with `expected`: the observed amount and
/// the expected amount in the same scale. A bare expected number is scaled by the
/// observed unit, so `300` against `"300" s` is 300 s.
pub fn comparable(
    value: &str,
    unit: Option<&str>,
    expected: Expected,
) -> Result<(f64, f64), CompareError> {
    let observed = Quantity::observed(value, unit).map_err(CompareError::Unit)?;
    match expected.against(observed) {
        Ok(Quantity { amount, dimension: None }) if observed.dimension.is_some() => {
            // Bare number: compare in the server's own unit, or in the unit the value
            // was written with (`128MB` against `128`).
            let raw = match parse_number(value) {
                Ok(n) => n,
                Err(e) => number_prefix(value).ok_or(CompareError::Unit(e))?,
            };
            Ok((raw, amount))
        }
        Ok(q) => Ok((observed.amount, q.amount)),
        Err(m) => Err(CompareError::Mismatch(m)),
    }
}

/// Why an observed value could not be compared with an expected quantity.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CompareError {
    #[error("{0}")]
    Unit(UnitError),
    #[error("{0}")]
    Mismatch(Mismatch),
}

/// A plain decimal number (`-1`, `0.9`, `16384`); no hex, no exponent, no NaN.
pub fn parse_number(text: &str) -> Result<f64, UnitError> {
    let t = text.trim();
    let digits = t.strip_prefix(['-', '+']).unwrap_or(t);
    let well_formed = !digits.is_empty()
        && digits.chars().all(|c| c.is_ascii_digit() || c == '.')
        && digits.chars().filter(|&c| c == '.').count() <= 1
        && digits.chars().any(|c| c.is_ascii_digit());
    match t.parse::<f64>() {
        Ok(n) if well_formed && n.is_finite() => Ok(n),
        _ => Err(UnitError::NotANumber(text.into())),
    }
}

/// The number a quantity like `128MB` starts with.
fn number_prefix(text: &str) -> Option<f64> {
    let t = text.trim();
    let end = t
        .char_indices()
        .find(|&(i, c)| !(c.is_ascii_digit() || c == '.' || (i == 0 && (c == '-' || c == '+'))))
        .map_or(t.len(), |(i, _)| i);
    parse_number(&t[..end]).ok()
}

/// An amount in the largest unit that divides it exactly (`134217728` bytes → `128MB`).
pub fn human(amount: f64, dimension: Dimension) -> String {
    let units: &[(&str, f64)] = match dimension {
        Dimension::Memory => &MEMORY_UNITS,
        Dimension::Time => &TIME_UNITS,
    };
    let (name, factor) = units
        .iter()
        .rev()
        .find(|&&(_, f)| amount != 0.0 && (amount / f).fract() == 0.0)
        .copied()
        .unwrap_or(units[0]);
    let scaled = amount / factor;
    if scaled.fract() == 0.0 && scaled.abs() < 1e15 {
        format!("{}{name}", scaled as i64)
    } else {
        format!("{scaled}{name}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MB: f64 = 1024.0 * 1024.0;

    #[track_caller]
    fn check_observed(
        value: &str,
        unit: Option<&str>,
        expect: Result<(f64, Option<Dimension>), &str>,
    ) {
        let got = Quantity::observed(value, unit)
            .map(|q| (q.amount, q.dimension))
            .map_err(|e| e.to_string());
        assert_eq!(got, expect.map_err(str::to_owned));
    }

    #[track_caller]
    fn check_expected(text: &str, expect: Result<Expected, &str>) {
        assert_eq!(Expected::parse(text).map_err(|e| e.to_string()), expect.map_err(str::to_owned));
    }

    #[track_caller]
    fn check_compare(
        value: &str,
        unit: Option<&str>,
        expected: &str,
        expect: Result<(f64, f64), &str>,
    ) {
        let expected = Expected::parse(expected).unwrap();
        let got = comparable(value, unit, expected).map_err(|e| e.to_string());
        assert_eq!(got, expect.map_err(str::to_owned));
    }

    fn mem(amount: f64) -> Expected {
        Expected::Quantity(Quantity { amount, dimension: Some(Dimension::Memory) })
    }

    fn time(amount: f64) -> Expected {
        Expected::Quantity(Quantity { amount, dimension: Some(Dimension::Time) })
    }

    #[test]
    fn observed_pages() {
        check_observed("16384", Some("8kB"), Ok((128.0 * MB, Some(Dimension::Memory))));
    }

    #[test]
    fn observed_kb_and_segments() {
        check_observed("4096", Some("kB"), Ok((4.0 * MB, Some(Dimension::Memory))));
        check_observed("64", Some("16MB"), Ok((1024.0 * MB, Some(Dimension::Memory))));
        check_observed("-1", Some("MB"), Ok((-MB, Some(Dimension::Memory))));
    }

    #[test]
    fn observed_time() {
        check_observed("60000", Some("ms"), Ok((60e6, Some(Dimension::Time))));
        check_observed("5", Some("min"), Ok((300e6, Some(Dimension::Time))));
        check_observed("0", Some("s"), Ok((0.0, Some(Dimension::Time))));
    }

    #[test]
    fn observed_plain() {
        check_observed("0.9", None, Ok((0.9, None)));
        check_observed("100", Some(""), Ok((100.0, None)));
        check_observed("on", None, Err("`on` is not a number"));
        check_observed("1e3", None, Err("`1e3` is not a number"));
        check_observed("NaN", None, Err("`NaN` is not a number"));
        check_observed(
            "3",
            Some("pages"),
            Err(
                "unknown unit `pages` (memory units: B, kB, MB, GB, TB; time units: us, ms, s, min, h, d)",
            ),
        );
    }

    #[test]
    fn expected_forms() {
        check_expected("256MB", Ok(mem(256.0 * MB)));
        check_expected("1.5GB", Ok(mem(1536.0 * MB)));
        check_expected("64 MB", Ok(mem(64.0 * MB)));
        check_expected("5min", Ok(time(300e6)));
        check_expected("30s", Ok(time(30e6)));
        check_expected("250ms", Ok(time(250e3)));
        check_expected("1d", Ok(time(86400e6)));
        check_expected("300", Ok(Expected::Bare(300.0)));
        check_expected("-1", Ok(Expected::Bare(-1.0)));
    }

    #[test]
    fn expected_errors() {
        check_expected(
            "64mb",
            Err(
                "unknown unit `mb` (memory units: B, kB, MB, GB, TB; time units: us, ms, s, min, h, d)",
            ),
        );
        check_expected("MB", Err("`MB` is not a number"));
        check_expected("", Err("`` is not a number"));
        check_expected("1.2.3s", Err("`1.2.3` is not a number"));
    }

    #[test]
    fn compare_memory_across_units() {
        check_compare("16384", Some("8kB"), "64MB", Ok((128.0 * MB, 64.0 * MB)));
    }

    #[test]
    fn compare_bare_uses_server_unit() {
        check_compare("300", Some("s"), "300", Ok((300.0, 300.0)));
        check_compare("-1", Some("MB"), "-1", Ok((-1.0, -1.0)));
        check_compare("100", None, "100", Ok((100.0, 100.0)));
    }

    #[test]
    fn observed_value_with_its_own_unit() {
        // As written in a configuration file: no server unit, the suffix is the unit.
        check_observed("128MB", None, Ok((128.0 * MB, Some(Dimension::Memory))));
        check_observed("5min", Some(""), Ok((300e6, Some(Dimension::Time))));
        check_compare("128MB", None, "64MB", Ok((128.0 * MB, 64.0 * MB)));
        check_compare("128MB", None, "131072kB", Ok((128.0 * MB, 128.0 * MB)));
        check_compare("128MB", None, "128", Ok((128.0, 128.0)));
        check_compare(
            "30s",
            None,
            "64MB",
            Err("expected a memory value but the server reports a time value"),
        );
        check_observed("128mb", None, Err("`128mb` is not a number"));
    }

    #[test]
    fn compare_dimension_mismatch() {
        check_compare(
            "60000",
            Some("ms"),
            "64MB",
            Err("expected a memory value but the server reports a time value"),
        );
        check_compare(
            "100",
            None,
            "5min",
            Err("expected a time value but the server reports a plain number"),
        );
    }

    #[test]
    fn human_picks_largest_exact_unit() {
        assert_eq!(human(128.0 * MB, Dimension::Memory), "128MB");
        assert_eq!(human(1536.0 * MB, Dimension::Memory), "1536MB");
        assert_eq!(human(60e6, Dimension::Time), "1min");
        assert_eq!(human(0.0, Dimension::Time), "0us");
        assert_eq!(human(-MB, Dimension::Memory), "-1MB");
    }
}
