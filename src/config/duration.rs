//! Durations as people write them in config: `500ms`, `5s`, `2min`, `1h`, `90d`.

use std::time::Duration;

/// Parses a positive duration with a unit. Bare numbers are refused: `5` could be
/// seconds or milliseconds, and a wrong guess makes a timeout 1000× off.
pub fn parse(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    if text.starts_with('-') {
        return Err(format!("`{text}` is negative: a timeout must be positive"));
    }
    let number: f64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration: write a number and a unit, e.g. `5s`"))?;
    let scale = match unit.trim() {
        "ms" => 0.001,
        "s" | "sec" => 1.0,
        "m" | "min" => 60.0,
        "h" => 3600.0,
        "d" => 86_400.0,
        "" => return Err(format!("`{text}` has no unit: write e.g. `{text}s` or `{text}ms`")),
        other => return Err(format!("unknown unit `{other}` in `{text}`: use ms, s, min, h or d")),
    };
    let secs = number * scale;
    if secs.is_nan() || secs <= 0.0 || !secs.is_finite() || secs > 86_400.0 * 3650.0 {
        return Err(format!("`{text}` must be more than zero and at most ten years"));
    }
    Ok(Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn ok(text: &str, ms: u64) {
        assert_eq!(parse(text), Ok(Duration::from_millis(ms)));
    }

    #[track_caller]
    fn err(text: &str, needle: &str) {
        let e = parse(text).unwrap_err();
        assert!(e.contains(needle), "{e:?} should mention {needle:?}");
    }

    #[test]
    fn units() {
        ok("500ms", 500);
        ok("5s", 5_000);
        ok("1.5s", 1_500);
        ok("2min", 120_000);
        ok("2m", 120_000);
        ok("1h", 3_600_000);
        ok("90d", 90 * 86_400_000);
    }

    #[test]
    fn refusals() {
        err("5", "no unit");
        err("-5s", "negative");
        err("0s", "more than zero");
        err("5 parsecs", "unknown unit");
        err("abc", "not a duration");
    }
}
