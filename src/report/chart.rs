//! Bar charts computed here and drawn by `_chart.html` as one small inline SVG path:
//! no script, no fonts, under 1 KB, with the numbers also given as text.

use serde::Serialize;

/// At most this many bars: the most recent runs.
pub const MAX_BARS: usize = 30;

/// What `_chart.html` needs: the SVG's size, one path for all bars, a text alternative.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Chart {
    pub width: u32,
    pub height: u32,
    /// `M2 40v-12h8v12z…`: one closed rectangle per bar, baseline at the bottom.
    pub path: String,
    /// Accessible name and `<title>`: `Failing findings per run, oldest to newest: 3, 5, 2`.
    pub label: String,
    pub baseline_y: u32,
}

/// Bars for `values` (oldest first, the last `MAX_BARS` kept), scaled to the largest.
/// Zero draws no bar, only the baseline shows it.
pub fn bars(what: &str, values: &[usize], height: u32) -> Chart {
    let values = &values[values.len().saturating_sub(MAX_BARS)..];
    let (bar, gap) = (14u32, 6u32);
    let width = (values.len() as u32 * (bar + gap)).max(bar + gap);
    let max = values.iter().copied().max().unwrap_or(0).max(1);
    let plot = height.saturating_sub(2);
    let mut path = String::new();
    for (i, &v) in values.iter().enumerate() {
        // Round up so a small non-zero value still shows as a sliver.
        let h = (v as u64 * plot as u64).div_ceil(max as u64) as u32;
        if h == 0 {
            continue;
        }
        let x = i as u32 * (bar + gap) + gap / 2;
        if !path.is_empty() {
            path.push(' ');
        }
        path.push_str(&format!("M{x} {height}v-{h}h{bar}v{h}z"));
    }
    let numbers: Vec<String> = values.iter().map(|v| v.to_string()).collect();
    let label = if values.is_empty() {
        format!("{what}: no runs yet")
    } else {
        format!("{what}, oldest to newest: {}", numbers.join(", "))
    };
    Chart { width, height, path, label, baseline_y: height }
}

/// Bars for percentages (oldest first, the last `MAX_BARS` kept) on a fixed 0–100
/// scale (above 100 drawn as 100), so headroom reads the same on every page; `None`
/// (not read in that run) draws no bar and reads `no reading`.
pub fn percent_bars(what: &str, values: &[Option<f64>], height: u32) -> Chart {
    let values = &values[values.len().saturating_sub(MAX_BARS)..];
    let (bar, gap) = (14u32, 6u32);
    let width = (values.len() as u32 * (bar + gap)).max(bar + gap);
    let plot = f64::from(height.saturating_sub(2));
    let mut path = String::new();
    for (i, v) in values.iter().enumerate() {
        let Some(v) = v.filter(|v| v.is_finite() && *v > 0.0) else {
            continue;
        };
        let h = ((v.min(100.0) / 100.0 * plot).ceil() as u32).max(1);
        let x = i as u32 * (bar + gap) + gap / 2;
        if !path.is_empty() {
            path.push(' ');
        }
        path.push_str(&format!("M{x} {height}v-{h}h{bar}v{h}z"));
    }
    let numbers: Vec<String> =
        values.iter().map(|v| v.map_or("no reading".to_owned(), |v| format!("{v}%"))).collect();
    let label = if values.is_empty() {
        format!("{what}: no runs yet")
    } else {
        format!("{what}, oldest to newest: {}", numbers.join(", "))
    };
    Chart { width, height, path, label, baseline_y: height }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_scale_to_the_largest_value() {
        let c = bars("Failing findings per run", &[0, 2, 4], 40);
        assert_eq!(c.path, "M23 40v-19h14v19z M43 40v-38h14v38z");
        assert_eq!(c.label, "Failing findings per run, oldest to newest: 0, 2, 4");
        assert_eq!(c.width, 60);
    }

    #[test]
    fn percentages_use_a_fixed_scale() {
        let c = percent_bars("Connection usage", &[Some(50.0), None, Some(100.0), Some(120.0)], 40);
        assert_eq!(c.path, "M3 40v-19h14v19z M43 40v-38h14v38z M63 40v-38h14v38z");
        assert_eq!(c.label, "Connection usage, oldest to newest: 50%, no reading, 100%, 120%");
        assert_eq!(percent_bars("x", &[Some(0.0)], 40).path, "");
        assert_eq!(percent_bars("x", &[Some(0.1)], 40).path, "M3 40v-1h14v1z");
    }

    #[test]
    fn many_runs_stay_small() {
        let values: Vec<usize> = (0..200).map(|i| i * 7 % 13 + 1).collect();
        let c = bars("Failing", &values, 40);
        // Path plus label and the SVG wrapper stay well under 1 KB.
        assert!(c.path.len() + c.label.len() + 200 < 1024, "{}", c.path.len() + c.label.len());
    }
}
