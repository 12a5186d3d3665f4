//! `[audit.limits]` and a target's `limits`: bounds on what one collection reads from a
//! server ([`Limits`]), checked once; a target's keys override the `[audit]` ones.

use toml::Spanned;

use super::{Checker, raw};
use crate::collect::Limits;

/// The largest `reply_bytes` and `value_bytes` accepted (the bound is held in memory).
const MAX_BYTES: u64 = 4 << 30;
/// The smallest: below this no real server's answer fits.
const MIN_BYTES: u64 = 1 << 10;
/// The largest `settings` and `rows` accepted.
const MAX_COUNT: i64 = 10_000_000;

impl Checker<'_> {
    /// `raw` over `base`: every key given replaces the one in `base`.
    pub(super) fn limits(&mut self, base: Limits, raw: Option<raw::Limits>) -> Limits {
        let Some(raw) = raw else { return base };
        Limits {
            reply_bytes: self.size("reply_bytes", raw.reply_bytes, base.reply_bytes),
            settings: self.count("settings", raw.settings, base.settings),
            rows: self.count("rows", raw.rows, base.rows),
            value_bytes: self.size("value_bytes", raw.value_bytes, base.value_bytes),
        }
    }

    fn count(&mut self, key: &str, value: Option<Spanned<i64>>, default: usize) -> usize {
        let Some(value) = value else { return default };
        match *value.get_ref() {
            n @ 1..=MAX_COUNT => n as usize,
            _ => {
                self.error(
                    Some(value.span()),
                    format!("limits.{key} must be between 1 and {MAX_COUNT}"),
                );
                default
            }
        }
    }

    fn size(&mut self, key: &str, value: Option<Spanned<raw::Size>>, default: u64) -> u64 {
        let Some(value) = value else { return default };
        let span = value.span();
        let parsed = match value.into_inner() {
            raw::Size::Bytes(n) => u64::try_from(n).map_err(|_| format!("`{n}` is negative")),
            raw::Size::Text(text) => parse_size(&text),
        };
        match parsed {
            Ok(n) if (MIN_BYTES..=MAX_BYTES).contains(&n) => n,
            Ok(_) => {
                self.error(Some(span), format!("limits.{key} must be between 1KiB and 4GiB"));
                default
            }
            Err(e) => {
                self.error(Some(span), format!("limits.{key}: {e}"));
                default
            }
        }
    }
}

/// `32MiB`, `512KiB`, `1GiB`, `100B`, `4096`: bytes. Decimal units (`MB`) are refused
/// rather than guessed.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("`{text}` is not a size: write a number and a unit, e.g. `32MiB`"))?;
    let shift = match unit.trim() {
        "" | "B" => 0,
        "KiB" => 10,
        "MiB" => 20,
        "GiB" => 30,
        other => return Err(format!("unknown unit `{other}` in `{text}`: use B, KiB, MiB or GiB")),
    };
    n.checked_mul(1 << shift).ok_or_else(|| format!("`{text}` is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("32MiB"), Ok(32 << 20));
        assert_eq!(parse_size("512 KiB"), Ok(512 << 10));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("100B"), Ok(100));
        assert!(parse_size("32MB").unwrap_err().contains("unknown unit `MB`"));
        assert!(parse_size("lots").unwrap_err().contains("not a size"));
    }
}
