//! Points in time as people type them on the command line: `2026-11-25T16:15:00Z`,
//! `2026-11-25 16:15`, `2026-11-25`, or an age such as `90min`, `6h`, `3d` (that long
//! before now). Pure: the caller passes `now`.

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, Utc};

/// Parses `text` as an absolute UTC time or an age before `now`.
pub fn parse(text: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    let text = text.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.to_utc());
    }
    for format in ["%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(text, format) {
            return Ok(t.and_utc());
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(d.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc());
    }
    age(text).map(|age| now - age).ok_or_else(|| {
        format!(
            "`{text}` is not a time: write 2026-11-25T16:15:00Z, 2026-11-25 16:15, 2026-11-25, \
             or an age like 90min, 6h, 3d"
        )
    })
}

/// `90s`, `90min`, `6h`, `3d`, `2w`.
pub fn age(text: &str) -> Option<Duration> {
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (n, unit) = text.split_at(split);
    let n: i64 = n.parse().ok()?;
    let d = match unit {
        "s" => Duration::try_seconds(n),
        "m" | "min" => Duration::try_minutes(n),
        "h" => Duration::try_hours(n),
        "d" => Duration::try_days(n),
        "w" => Duration::try_weeks(n),
        _ => None,
    }?;
    (d > Duration::zero()).then_some(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-25T16:15:00Z").unwrap().to_utc()
    }

    #[track_caller]
    fn check(text: &str, expect: &str) {
        assert_eq!(parse(text, now()).unwrap().to_rfc3339(), expect);
    }

    #[test]
    fn absolute_forms() {
        check("2026-11-25T10:00:00Z", "2026-11-25T10:00:00+00:00");
        check("2026-11-25T11:00:00+01:00", "2026-11-25T10:00:00+00:00");
        check("2026-11-25 10:30", "2026-11-25T10:30:00+00:00");
        check("2026-11-24", "2026-11-24T00:00:00+00:00");
    }

    #[test]
    fn ages() {
        check("90min", "2026-11-25T14:45:00+00:00");
        check("6h", "2026-11-25T10:15:00+00:00");
        check("1d", "2026-11-24T16:15:00+00:00");
    }

    #[test]
    fn refusals() {
        assert!(parse("yesterday", now()).unwrap_err().contains("not a time"));
        assert!(parse("0h", now()).is_err());
        assert!(parse("5parsecs", now()).is_err());
    }
}
