//! Text for people: UTC times, grouped numbers, durations, long values, and the one
//! place that makes untrusted text safe to place in an HTML text node (after escaping).

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

/// Values longer than this many characters are shown shortened, the full value folded.
pub const SHORT_CHARS: usize = 80;

/// The folded "full value" holds at most this many characters: a megabyte value would
/// make every page that shows it megabytes long. The note says the whole value is in
/// the store (run manifest, snapshot), where the API and `driftwatch diff` read it.
pub const FULL_CHARS: usize = 64 * 1024;

/// Free text (messages, errors, names) is cut after this many characters.
pub const TEXT_CHARS: usize = 4 * 1024;

/// `2026-11-25 16:15:00 UTC`.
pub fn utc(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// `1,240`.
pub fn count(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `1 finding`, `3 findings`.
pub fn plural(n: usize, one: &str) -> String {
    if n == 1 { format!("1 {one}") } else { format!("{} {one}s", count(n)) }
}

/// The change from `before` to `now` as a signed word: `+2`, `−1`, `±0`; empty when
/// there is nothing to compare with.
pub fn delta(now: usize, before: Option<usize>) -> String {
    match before {
        None => String::new(),
        Some(b) if now > b => format!("+{}", count(now - b)),
        Some(b) if now < b => format!("\u{2212}{}", count(b - now)),
        Some(_) => "\u{b1}0".to_owned(),
    }
}

/// `850 ms`, `12.3 s`, `4 min 05 s`, `2 h 03 min`.
pub fn duration_ms(ms: i64) -> String {
    let ms = ms.max(0);
    if ms < 1_000 {
        format!("{ms} ms")
    } else if ms < 60_000 {
        format!("{}.{} s", ms / 1_000, (ms % 1_000) / 100)
    } else if ms < 3_600_000 {
        format!("{} min {:02} s", ms / 60_000, (ms % 60_000) / 1_000)
    } else {
        format!("{} h {:02} min", ms / 3_600_000, (ms % 3_600_000) / 60_000)
    }
}

/// How close a waiver's expiry (`YYYY-MM-DD`, inclusive) is, seen from `now`.
pub fn expiry_note(expires: &str, now: DateTime<Utc>) -> String {
    let Ok(day) = NaiveDate::parse_from_str(expires, "%Y-%m-%d") else {
        return "expiry date not understood".to_owned();
    };
    let days = (day - now.date_naive()).num_days();
    match days {
        d if d < -1 => format!("expired {} days ago", -d),
        -1 => "expired yesterday".to_owned(),
        0 => "expires today".to_owned(),
        1 => "expires tomorrow".to_owned(),
        d if d <= 30 => format!("expires in {d} days"),
        _ => String::new(),
    }
}

/// Untrusted text made fit for an HTML text node: C0 controls (other than tab and
/// newlines), DEL and NUL become their visible Control Pictures (`␀`), because a NUL is
/// a parse error and other controls are not allowed in HTML; text longer than
/// [`TEXT_CHARS`] is cut, saying so. Escaping of `<`, `&`, quotes is left to the
/// template engine.
pub fn clean(s: &str) -> String {
    if s.len() <= TEXT_CHARS && plain(s) {
        return s.to_owned();
    }
    let chars = s.chars().count();
    if chars <= TEXT_CHARS {
        return visible(s);
    }
    let head: String = s.chars().take(TEXT_CHARS).collect();
    format!("{}\u{2026} (cut: {} chars in all)", visible(&head), count(chars))
}

/// Controls and noncharacters replaced by visible stand-ins (see [`clean`]).
fn visible(s: &str) -> String {
    if plain(s) {
        return s.to_owned();
    }
    s.chars()
        .map(|c| match c {
            '\t' | '\n' => c,
            '\r' => '\n',
            '\u{0}'..='\u{1f}' => char::from_u32(0x2400 + c as u32).unwrap_or('\u{fffd}'),
            '\u{7f}' => '\u{2421}',
            '\u{80}'..='\u{9f}' | '\u{fdd0}'..='\u{fdef}' => '\u{fffd}',
            c if (c as u32) & 0xfffe == 0xfffe => '\u{fffd}',
            c => c,
        })
        .collect()
}

/// Nothing [`visible`] would replace: printable ASCII, tab and newline only (the
/// common case, checked a byte at a time).
fn plain(s: &str) -> bool {
    s.bytes().all(|b| matches!(b, b' '..=b'~' | b'\t' | b'\n'))
}

/// A value as shown: the first [`SHORT_CHARS`] characters, and when it is longer, a note
/// with its length and the full value (both already cleaned).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Val {
    pub short: String,
    /// `… (1,240 chars)` when shortened.
    pub more: Option<String>,
    pub full: Option<String>,
}

impl Val {
    pub fn of(s: &str) -> Val {
        if s.len() <= SHORT_CHARS {
            return Val { short: visible(s), more: None, full: None };
        }
        let chars = s.chars().count();
        if chars <= SHORT_CHARS {
            return Val { short: visible(s), more: None, full: None };
        }
        let short: String = visible(&s.chars().take(SHORT_CHARS).collect::<String>());
        if chars <= FULL_CHARS {
            let more = format!("\u{2026} ({} chars)", count(chars));
            return Val { short, more: Some(more), full: Some(visible(s)) };
        }
        let more = format!(
            "\u{2026} ({} chars; the first {} below, the whole value in the store's run manifest and snapshot)",
            count(chars),
            count(FULL_CHARS)
        );
        let full = visible(&s.chars().take(FULL_CHARS).collect::<String>());
        Val { short, more: Some(more), full: Some(full) }
    }

    /// An absent value, shown as such rather than as an empty string.
    pub fn absent() -> Val {
        Val { short: "(absent)".to_owned(), more: None, full: None }
    }

    pub fn opt(s: Option<&str>) -> Val {
        s.map_or_else(Val::absent, Val::of)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_grouped() {
        let got: Vec<_> = [0, 7, 999, 1_000, 1_240, 1_234_567].map(count).into();
        assert_eq!(got, ["0", "7", "999", "1,000", "1,240", "1,234,567"]);
    }

    #[test]
    fn deltas_carry_a_sign() {
        assert_eq!(delta(3, Some(1)), "+2");
        assert_eq!(delta(1, Some(3)), "\u{2212}2");
        assert_eq!(delta(1, Some(1)), "\u{b1}0");
        assert_eq!(delta(1, None), "");
    }

    #[test]
    fn durations_read_well() {
        assert_eq!(duration_ms(850), "850 ms");
        assert_eq!(duration_ms(12_345), "12.3 s");
        assert_eq!(duration_ms(245_000), "4 min 05 s");
        assert_eq!(duration_ms(7_380_000), "2 h 03 min");
    }

    #[test]
    fn controls_become_visible() {
        assert_eq!(clean("a\u{0}b\u{1b}c\td"), "a\u{2400}b\u{241b}c\td");
        assert_eq!(clean("a\r\nb\u{7f}"), "a\n\nb\u{2421}");
        assert_eq!(clean("plain text, <tags> & 'quotes'\n"), "plain text, <tags> & 'quotes'\n");
        assert_eq!(clean("caf\u{e9} \u{85}"), "caf\u{e9} \u{fffd}");
        assert_eq!(Val::of("\u{1}").short, "\u{2401}");
    }

    #[test]
    fn long_values_are_shortened_with_their_length() {
        let v = Val::of(&"x".repeat(1_240));
        assert_eq!(v.short.len(), SHORT_CHARS);
        assert_eq!(v.more.as_deref(), Some("\u{2026} (1,240 chars)"));
        assert_eq!(v.full.as_ref().map(String::len), Some(1_240));
        assert_eq!(Val::of("on").more, None);
    }

    #[test]
    fn huge_values_fold_a_bounded_part_and_say_where_the_rest_is() {
        let v = Val::of(&"y".repeat(2_000_000));
        assert_eq!(v.full.as_ref().map(|f| f.chars().count()), Some(FULL_CHARS));
        let more = v.more.unwrap();
        assert!(more.contains("2,000,000 chars") && more.contains("run manifest"), "{more}");
    }

    #[test]
    fn long_free_text_is_cut_saying_so() {
        let cut = clean(&"\u{0}".repeat(10_000));
        assert!(cut.starts_with('\u{2400}'));
        assert!(cut.ends_with("(cut: 10,000 chars in all)"), "{}", &cut[cut.len() - 40..]);
        assert_eq!(cut.chars().filter(|c| *c == '\u{2400}').count(), TEXT_CHARS);
    }
}
