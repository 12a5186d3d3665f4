//! Numbers as the engines' C library reads and prints them: `strtol` (base 0 reads
//! `0x1f` as hex and `0144` as octal), `strtod` (`1e1`, `inf`, hex floats), `atoi`
//! (`5g` is 5), and `printf`'s `%g`. The engines call these on configuration values, so
//! a value means what glibc makes of it, prefixes, overflow and all.

/// What `strtol` made of a text: the value, how many bytes it consumed (0 = no number),
/// and whether it overflowed (`ERANGE`, value clamped to `i64::MIN`/`MAX`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Long {
    pub value: i64,
    pub consumed: usize,
    pub overflow: bool,
}

/// glibc `strtol(text, &end, base)` with `base` 0, 8, 10 or 16.
pub fn strtol(text: &str, base: u32) -> Long {
    let b = text.as_bytes();
    let mut i = skip_space(b, 0);
    let negative = match b.get(i) {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let mut radix = base;
    let hex_prefix = b.get(i) == Some(&b'0')
        && matches!(b.get(i + 1), Some(b'x' | b'X'))
        && b.get(i + 2).is_some_and(u8::is_ascii_hexdigit);
    if (radix == 0 || radix == 16) && hex_prefix {
        i += 2;
        radix = 16;
    } else if radix == 0 {
        radix = if b.get(i) == Some(&b'0') { 8 } else { 10 };
    }
    let start = i;
    let mut magnitude: u128 = 0;
    let mut overflow = false;
    while let Some(d) = b.get(i).and_then(|c| (*c as char).to_digit(radix)) {
        magnitude = magnitude * u128::from(radix) + u128::from(d);
        if magnitude > 1 << 64 {
            overflow = true;
            magnitude = 1 << 64;
        }
        i += 1;
    }
    if i == start {
        return Long { value: 0, consumed: 0, overflow: false };
    }
    let limit = if negative { 1u128 << 63 } else { (1u128 << 63) - 1 };
    if magnitude > limit {
        overflow = true;
        magnitude = limit;
    }
    let value = if negative { (magnitude as i128).wrapping_neg() as i64 } else { magnitude as i64 };
    Long { value, consumed: i, overflow }
}

/// glibc `atoi`: `(int) strtol(text, NULL, 10)`, truncated to 32 bits as C does.
pub fn atoi(text: &str) -> i32 {
    strtol(text, 10).value as i32
}

/// What `strtod` made of a text.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Double {
    pub value: f64,
    pub consumed: usize,
    /// `ERANGE`: the magnitude overflowed to infinity or underflowed below the normal
    /// range.
    pub range_error: bool,
}

/// glibc `strtod(text, &end)` in the C locale.
pub fn strtod(text: &str) -> Double {
    let b = text.as_bytes();
    let mut i = skip_space(b, 0);
    let sign_at = i;
    if matches!(b.get(i), Some(b'-' | b'+')) {
        i += 1;
    }
    let negative = b.get(sign_at) == Some(&b'-');
    let none = Double { value: 0.0, consumed: 0, range_error: false };
    let rest = &text[i..];
    let lower = rest.get(..8.min(rest.len())).unwrap_or("").to_ascii_lowercase();
    if lower.starts_with("inf") {
        let len = if lower.starts_with("infinity") { 8 } else { 3 };
        let value = if negative { f64::NEG_INFINITY } else { f64::INFINITY };
        return Double { value, consumed: i + len, range_error: false };
    }
    if lower.starts_with("nan") {
        let mut end = i + 3;
        if b.get(end) == Some(&b'(')
            && let Some(close) = b[end..].iter().position(|&c| c == b')')
            && b[end + 1..end + close].iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_')
        {
            end += close + 1;
        }
        return Double { value: f64::NAN, consumed: end, range_error: false };
    }
    if b.get(i) == Some(&b'0')
        && matches!(b.get(i + 1), Some(b'x' | b'X'))
        && let Some((value, len)) = hex_float(&b[i + 2..])
    {
        let value = if negative { -value } else { value };
        let range_error = value.is_infinite() || (value != 0.0 && !value.is_normal());
        return Double { value, consumed: i + 2 + len, range_error };
    }
    let digits_start = i;
    let mut seen_digit = false;
    let mut nonzero_digit = false;
    while let Some(c) = b.get(i).filter(|c| c.is_ascii_digit()) {
        seen_digit = true;
        nonzero_digit |= *c != b'0';
        i += 1;
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        while let Some(c) = b.get(i).filter(|c| c.is_ascii_digit()) {
            seen_digit = true;
            nonzero_digit |= *c != b'0';
            i += 1;
        }
    }
    if !seen_digit {
        return none;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        let mut j = i + 1;
        if matches!(b.get(j), Some(b'-' | b'+')) {
            j += 1;
        }
        if b.get(j).is_some_and(u8::is_ascii_digit) {
            while b.get(j).is_some_and(u8::is_ascii_digit) {
                j += 1;
            }
            i = j;
        }
    }
    let literal = &text[digits_start..i];
    let magnitude: f64 = literal.parse().unwrap_or(0.0);
    let value = if negative { -magnitude } else { magnitude };
    let range_error = magnitude.is_infinite() || (nonzero_digit && !magnitude.is_normal());
    Double { value, consumed: i, range_error }
}

/// `1.8p3`-style hex float digits after `0x`: value and bytes consumed, or `None` when
/// no hex digit follows (then strtod reads just the `0`).
fn hex_float(b: &[u8]) -> Option<(f64, usize)> {
    let mut i = 0;
    let mut mantissa: f64 = 0.0;
    let mut exponent: i64 = 0;
    let mut any = false;
    while let Some(d) = b.get(i).and_then(|c| (*c as char).to_digit(16)) {
        mantissa = mantissa * 16.0 + f64::from(d);
        any = true;
        i += 1;
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        while let Some(d) = b.get(i).and_then(|c| (*c as char).to_digit(16)) {
            mantissa = mantissa * 16.0 + f64::from(d);
            exponent -= 4;
            any = true;
            i += 1;
        }
    }
    if !any {
        return None;
    }
    if matches!(b.get(i), Some(b'p' | b'P')) {
        let mut j = i + 1;
        let negative = b.get(j) == Some(&b'-');
        if matches!(b.get(j), Some(b'-' | b'+')) {
            j += 1;
        }
        if b.get(j).is_some_and(u8::is_ascii_digit) {
            let mut e: i64 = 0;
            while let Some(c) = b.get(j).filter(|c| c.is_ascii_digit()) {
                e = (e * 10 + i64::from(c - b'0')).min(100_000);
                j += 1;
            }
            exponent += if negative { -e } else { e };
            i = j;
        }
    }
    Some((mantissa * 2f64.powi(exponent.clamp(-100_000, 100_000) as i32), i))
}

fn skip_space(b: &[u8], mut i: usize) -> usize {
    while matches!(b.get(i), Some(b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r')) {
        i += 1;
    }
    i
}

/// C `isspace` in the C locale.
pub fn is_c_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\x0b' | '\x0c' | '\r')
}

/// `printf("%g", value)`: six significant digits, exponent form below 1e-4 or from
/// 1e6, trailing zeros dropped.
pub fn format_g(value: f64) -> String {
    format_g_precision(value, 6)
}

/// `printf("%.<precision>g", value)`.
pub fn format_g_precision(value: f64, precision: usize) -> String {
    if value.is_nan() {
        return if value.is_sign_negative() { "-nan" } else { "nan" }.to_owned();
    }
    if value.is_infinite() {
        return if value < 0.0 { "-inf" } else { "inf" }.to_owned();
    }
    let p = precision.max(1);
    if value == 0.0 {
        return if value.is_sign_negative() { "-0" } else { "0" }.to_owned();
    }
    // The exponent after rounding to `p` significant digits decides the style.
    let sci = format!("{:.*e}", p - 1, value);
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if exp < -4 || exp >= p as i32 {
        let mantissa = trim_zeros(mantissa);
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exp.abs())
    } else {
        let decimals = (p as i32 - 1 - exp).max(0) as usize;
        trim_zeros(&format!("{value:.decimals$}")).to_owned()
    }
}

fn trim_zeros(text: &str) -> &str {
    if text.contains('.') { text.trim_end_matches('0').trim_end_matches('.') } else { text }
}

/// C `rint` in the default rounding mode: halves to even.
pub fn rint(value: f64) -> f64 {
    value.round_ties_even()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strtol_bases_signs_and_ends() {
        let l = |t: &str, base| {
            let r = strtol(t, base);
            (r.value, r.consumed, r.overflow)
        };
        assert_eq!(l("0144", 0), (100, 4, false));
        assert_eq!(l("0x1F kB", 0), (31, 4, false));
        assert_eq!(l("0x", 0), (0, 1, false));
        assert_eq!(l("08", 0), (0, 1, false));
        assert_eq!(l(" -12ab", 10), (-12, 4, false));
        assert_eq!(l("abc", 10), (0, 0, false));
        assert_eq!(l("- 5", 10), (0, 0, false));
        assert_eq!(l("99999999999999999999", 10), (i64::MAX, 20, true));
        assert_eq!(l("-9223372036854775808", 10), (i64::MIN, 20, false));
        assert_eq!(l("777", 8), (511, 3, false));
        assert_eq!(atoi("5g"), 5);
        assert_eq!(atoi("4294967297"), 1);
        assert_eq!(atoi("x"), 0);
    }

    #[test]
    fn strtod_forms() {
        let d = |t: &str| {
            let r = strtod(t);
            (r.value, r.consumed, r.range_error)
        };
        assert_eq!(d("1e1"), (10.0, 3, false));
        assert_eq!(d("1.5GB"), (1.5, 3, false));
        assert_eq!(d(".5"), (0.5, 2, false));
        assert_eq!(d("5."), (5.0, 2, false));
        assert_eq!(d("1e"), (1.0, 1, false));
        assert_eq!(d("1e+"), (1.0, 1, false));
        assert_eq!(d("-Infinity"), (f64::NEG_INFINITY, 9, false));
        assert_eq!(d("0x1p4"), (16.0, 5, false));
        assert_eq!(d("0x"), (0.0, 1, false));
        assert_eq!(d("1e999"), (f64::INFINITY, 5, true));
        assert!(d("1e-400").2);
        assert_eq!(d("abc"), (0.0, 0, false));
        assert!(strtod("nan(x1)").value.is_nan());
        assert_eq!(strtod("nan(x1)").consumed, 7);
    }

    #[test]
    fn percent_g() {
        for (v, g) in [
            (0.9, "0.9"),
            (2.0, "2"),
            (0.123456789, "0.123457"),
            (1e6, "1e+06"),
            (123456.0, "123456"),
            (1234567.0, "1.23457e+06"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (-1.0, "-1"),
            (100.0, "100"),
            (1e100, "1e+100"),
        ] {
            assert_eq!(format_g(v), g, "{v}");
        }
        assert_eq!(rint(2.5), 2.0);
        assert_eq!(rint(3.5), 4.0);
    }
}
