//! PostgreSQL's unit conversion (guc.c `convert_to_base_unit`): a number with a unit
//! (`TB GB MB kB B` for memory, `d h min s ms us` for time; case-sensitive, at most 3
//! letters, blanks allowed around it) becomes the setting's own unit (`kB`, `8kB`, `MB`,
//! `ms`, `s`, `min`). A fractional amount (`1.5GB`, `2.5min`) is first rounded
//! (`rint`, halves to even) to a whole number of the next smaller unit (`1536MB`,
//! `150s`); the integer parser then rounds the result to the setting's unit.

/// Memory units by size, largest first (bytes each).
const MEMORY: [(&str, f64); 5] = [
    ("TB", 1024.0 * 1024.0 * 1024.0 * 1024.0),
    ("GB", 1024.0 * 1024.0 * 1024.0),
    ("MB", 1024.0 * 1024.0),
    ("kB", 1024.0),
    ("B", 1.0),
];

/// Time units by size, largest first (microseconds each: whole numbers, so every ratio
/// is the same correctly rounded quotient as the server's own table).
const TIME: [(&str, f64); 6] = [
    ("d", 86_400_000_000.0),
    ("h", 3_600_000_000.0),
    ("min", 60_000_000.0),
    ("s", 1_000_000.0),
    ("ms", 1_000.0),
    ("us", 1.0),
];

/// How many bytes or microseconds one of a setting's unit is, and which table it uses.
fn base(setting_unit: &str) -> Option<(&'static [(&'static str, f64)], f64)> {
    let split = setting_unit.find(|c: char| !c.is_ascii_digit()).unwrap_or(0);
    let (count, name) = setting_unit.split_at(split);
    let count: f64 = if count.is_empty() { 1.0 } else { count.parse().ok()? };
    if let Some((_, size)) = MEMORY.iter().find(|(n, _)| *n == name) {
        return Some((&MEMORY, size * count));
    }
    TIME.iter().find(|(n, _)| *n == name).map(|(_, size)| (&TIME[..], size * count))
}

/// `value` written with `unit` (the text after the number) in the setting's unit, as
/// the server rounds it; `None` when the unit is not one of the setting's kind.
pub fn to_base_unit(value: f64, unit: &str, setting_unit: &str) -> Option<f64> {
    let (table, base_size) = base(setting_unit)?;
    let end = unit.find(super::super::cnum::is_c_space).unwrap_or(unit.len());
    let (name, rest) = unit.split_at(end);
    if name.len() > 3 || !rest.trim_start_matches(super::super::cnum::is_c_space).is_empty() {
        return None;
    }
    let i = table.iter().position(|(n, _)| *n == name)?;
    let multiplier = table[i].1 / base_size;
    let mut converted = value * multiplier;
    if let Some((_, smaller)) = table.get(i + 1) {
        let step = smaller / base_size;
        converted = super::super::cnum::rint(converted / step) * step;
    }
    Some(converted)
}

/// The server's hint for a unit it does not take.
pub fn hint(setting_unit: &str) -> &'static str {
    match base(setting_unit) {
        Some((table, _)) if table.len() == MEMORY.len() => {
            "Valid units for this parameter are \"B\", \"kB\", \"MB\", \"GB\", and \"TB\"."
        }
        _ => "Valid units for this parameter are \"us\", \"ms\", \"s\", \"min\", \"h\", and \"d\".",
    }
}

/// How many bytes (memory) or microseconds (time) one of the setting's unit is.
pub fn unit_size(setting_unit: &str) -> Option<f64> {
    base(setting_unit).map(|(_, size)| size)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions_round_like_the_server() {
        let c = |v, u, s| to_base_unit(v, u, s);
        assert_eq!(c(128.0, "MB", "8kB"), Some(16384.0));
        assert_eq!(c(1.00001, "GB", "kB"), Some(1_048_576.0));
        assert_eq!(c(150.0, "s", "min"), Some(2.5));
        assert_eq!(c(2.5, "ms", "ms"), Some(2.5));
        assert_eq!(c(1.5, "GB", "MB"), Some(1536.0));
        assert_eq!(c(5.0, "min", "ms"), Some(300_000.0));
        assert_eq!(c(1.0, "B", "kB"), Some(1.0 / 1024.0));
        assert_eq!(c(1.0, "mb", "kB"), None);
        assert_eq!(c(1.0, "s", "kB"), None);
        assert_eq!(c(1.0, "mins", "s"), None);
        assert_eq!(c(1.0, "MB x", "kB"), None);
        assert_eq!(c(1.0, "MB  ", "kB"), Some(1024.0));
    }
}
