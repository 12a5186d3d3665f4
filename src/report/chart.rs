//! Bar charts over runs, computed here and drawn by `_chart.html` as one small inline
//! SVG: bars, a y axis with round ticks and their numbers, an x axis labelled with the
//! runs' start times (first, last and a few between, never overlapping), and a caption
//! of the window covered. No script, no fonts but the reader's own, about 2 KB at 30
//! runs; integer geometry, so the same series gives the same bytes. The numbers are
//! also given as text (the accessible name and the caption).

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::text::{count, utc};

/// At most this many bars: the most recent runs.
pub const MAX_BARS: usize = 30;

/// What `_chart.html` needs: the SVG's size, its paths, the tick labels, a text
/// alternative and a caption.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Chart {
    pub width: u32,
    pub height: u32,
    /// `M40 66v-12h14v12z…`: one closed rectangle per bar, standing on the x axis.
    pub bars: String,
    /// The horizontal grid line of every tick above zero.
    pub grid: String,
    /// The y axis and the x axis, one open path.
    pub axes: String,
    /// Numbers of the y axis, bottom up (right-aligned at `x`).
    pub y_ticks: Vec<YTick>,
    /// Runs named under the x axis, oldest first (centred at `x`).
    pub x_ticks: Vec<XTick>,
    /// Accessible name and `<title>`: `Failing findings per run, oldest to newest: 3, 5, 2`.
    pub label: String,
    /// `Runs covered: 3, from … to …; highest 5, latest 2.`
    pub caption: String,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct YTick {
    pub x: u32,
    pub y: u32,
    pub text: String,
}

/// A run's start under its bar, on two lines: `11-25` over `15:10` (UTC).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct XTick {
    pub x: u32,
    pub y: u32,
    pub date: String,
    pub time: String,
}

/// Bars for counts (oldest first, the last `MAX_BARS` kept) on a scale from 0 to a
/// round number at or above the largest; `plot` is the bars' height in pixels. Zero
/// draws no bar, the axis shows it.
pub fn bars(what: &str, series: &[(DateTime<Utc>, usize)], plot: u32) -> Chart {
    let series = &series[series.len().saturating_sub(MAX_BARS)..];
    let max = series.iter().map(|(_, v)| *v).max().unwrap_or(0);
    let (top, step) = count_scale(max, max_intervals(plot));
    let scale =
        Scale { top, ticks: (0..=top / step).map(|i| (i * step, compact(i * step))).collect() };
    let heights = series.iter().map(|(_, v)| {
        // Round up so a small non-zero value still shows as a sliver.
        (*v as u128 * u128::from(plot)).div_ceil(top as u128) as u32
    });
    let numbers: Vec<String> = series.iter().map(|(_, v)| count(*v)).collect();
    let summary =
        series.last().map(|(_, last)| format!("highest {}, latest {}", count(max), count(*last)));
    draw(what, series.iter().map(|(at, _)| *at).collect(), heights, scale, plot, numbers, summary)
}

/// Bars for percentages (oldest first, the last `MAX_BARS` kept) on a fixed 0–100
/// scale (above 100 drawn as 100), so headroom reads the same on every page; `None`
/// (not read in that run) draws no bar and reads `no reading`.
pub fn percent_bars(what: &str, series: &[(DateTime<Utc>, Option<f64>)], plot: u32) -> Chart {
    let series = &series[series.len().saturating_sub(MAX_BARS)..];
    let read = |v: &Option<f64>| v.filter(|v| v.is_finite());
    let scale = Scale { top: 100, ticks: [0, 50, 100].map(|p| (p, format!("{p}%"))).into() };
    let heights = series.iter().map(|(_, v)| match read(v).filter(|v| *v > 0.0) {
        Some(v) => ((v.min(100.0) / 100.0 * f64::from(plot)).ceil() as u32).max(1),
        None => 0,
    });
    let numbers: Vec<String> = series
        .iter()
        .map(|(_, v)| v.map_or("no reading".to_owned(), |v| format!("{v}%")))
        .collect();
    let readings: Vec<f64> = series.iter().filter_map(|(_, v)| read(v)).collect();
    let summary = readings.iter().copied().reduce(f64::max).map(|highest| {
        let latest = series.last().and_then(|(_, v)| read(v));
        let latest = latest.map_or("no reading".to_owned(), |v| format!("{v}%"));
        format!("highest {highest}%, latest {latest}")
    });
    draw(what, series.iter().map(|(at, _)| *at).collect(), heights, scale, plot, numbers, summary)
}

/// Width of a bar, and the least distance between two bars' starts.
const BAR: u32 = 14;
const PITCH: u32 = 20;
/// A chart of few runs is this wide at least, its bars spread out.
const MIN_PLOT_WIDTH: u32 = 80;

/// Space around the plot, in pixels.
struct Margin {
    /// Half a tick label, so the top one is not cut.
    top: u32,
    right: u32,
    /// Two lines of run labels.
    bottom: u32,
}

const MARGIN: Margin = Margin { top: 6, right: 8, bottom: 28 };

/// Pixels a character of the 10px labels takes, generously (digits are ~5.6).
const CHAR: u32 = 6;

/// A y axis: its top value and its ticks as (value, text), bottom up.
struct Scale {
    top: usize,
    ticks: Vec<(usize, String)>,
}

/// Lays out a chart: `heights` in pixels (0: no bar) on `scale`, `plot` pixels high;
/// `numbers` (one per run) for the text alternative, `summary` for the caption.
fn draw(
    what: &str,
    at: Vec<DateTime<Utc>>,
    heights: impl Iterator<Item = u32>,
    Scale { top, ticks }: Scale,
    plot: u32,
    numbers: Vec<String>,
    summary: Option<String>,
) -> Chart {
    let n = at.len() as u32;
    let widest = ticks.iter().map(|(_, t)| t.chars().count() as u32).max().unwrap_or(1);
    let left = widest * CHAR + 8;
    let pitch = MIN_PLOT_WIDTH.checked_div(n).map_or(PITCH, |p| p.max(PITCH));
    let plot_width = (n * pitch).max(MIN_PLOT_WIDTH);
    let base = MARGIN.top + plot;
    let width = left + plot_width + MARGIN.right;
    let height = base + MARGIN.bottom;
    let bar_x = |i: u32| left + i * pitch + (pitch - BAR) / 2;

    let mut bars = String::new();
    for (i, h) in heights.enumerate() {
        if h == 0 {
            continue;
        }
        if !bars.is_empty() {
            bars.push(' ');
        }
        bars.push_str(&format!("M{} {base}v-{h}h{BAR}v{h}z", bar_x(i as u32)));
    }
    let tick_y = |v: usize| base - (v as u128 * u128::from(plot) / top.max(1) as u128) as u32;
    let mut grid = String::new();
    let y_ticks = ticks
        .iter()
        .map(|(v, text)| {
            let y = tick_y(*v);
            if *v > 0 {
                if !grid.is_empty() {
                    grid.push(' ');
                }
                grid.push_str(&format!("M{left} {y}h{plot_width}"));
            }
            YTick { x: left - 4, y: y + 3, text: text.clone() }
        })
        .collect();
    let x_ticks = label_indices(at.len(), pitch)
        .into_iter()
        .map(|i| XTick {
            x: bar_x(i as u32) + BAR / 2,
            y: base + 12,
            date: at[i].format("%m-%d").to_string(),
            time: at[i].format("%H:%M").to_string(),
        })
        .collect();
    let (label, caption) = match (at.first(), at.last()) {
        (Some(first), Some(last)) => (
            format!("{what}, oldest to newest: {}", numbers.join(", ")),
            format!(
                "{what}. Runs covered: {}, from {} to {}{}.",
                count(at.len()),
                utc(*first),
                utc(*last),
                summary.map_or(String::new(), |s| format!("; {s}"))
            ),
        ),
        _ => (format!("{what}: no runs yet"), format!("{what}: no runs yet.")),
    };
    Chart {
        width,
        height,
        bars,
        grid,
        axes: format!("M{left} {}V{base}H{}", MARGIN.top, left + plot_width),
        y_ticks,
        x_ticks,
        label,
        caption,
    }
}

/// How many intervals a scale of `plot` pixels has room for (ticks 14 px apart at
/// least), between 1 and 4.
fn max_intervals(plot: u32) -> usize {
    (plot / 14).clamp(1, 4) as usize
}

/// The top and step of a count scale: the step is 1, 2 or 5 times a power of ten, the
/// smallest giving at most `intervals` intervals up to the first multiple at or above
/// `max`. All zeros read on a 0–1 scale.
fn count_scale(max: usize, intervals: usize) -> (usize, usize) {
    let max = max.max(1);
    let mut magnitude = 1usize;
    loop {
        for m in [1usize, 2, 5] {
            let step = m.saturating_mul(magnitude);
            let n = max.div_ceil(step);
            if n <= intervals {
                return (n.saturating_mul(step), step);
            }
        }
        magnitude = magnitude.saturating_mul(10);
    }
}

/// A tick's number, short: `950`, `5000`, then `15k`, `1.5M`, `2G` (exact, or in
/// full when one decimal cannot say it).
fn compact(n: usize) -> String {
    if n < 10_000 {
        return n.to_string();
    }
    let (unit, suffix) = [(1_000_000_000, "G"), (1_000_000, "M"), (1_000, "k")]
        .into_iter()
        .find(|(unit, _)| n >= *unit)
        .expect("n is at least 10,000");
    let (whole, rest) = (n / unit, n % unit);
    if rest == 0 {
        format!("{whole}{suffix}")
    } else if rest % (unit / 10) == 0 {
        format!("{whole}.{}{suffix}", rest / (unit / 10))
    } else {
        n.to_string()
    }
}

/// The least distance between the centres of two run labels (`11-25` is ~28 px).
const LABEL_GAP: u32 = 40;
/// At most this many run labels, first and last included.
const MAX_LABELS: usize = 6;

/// Which of `n` runs (bars `pitch` apart) get a label: the first, the last, and every
/// k-th between so that there are at most [`MAX_LABELS`] and no two closer than
/// [`LABEL_GAP`].
fn label_indices(n: usize, pitch: u32) -> Vec<usize> {
    let Some(last) = n.checked_sub(1) else { return Vec::new() };
    let apart = (LABEL_GAP.div_ceil(pitch) as usize).max(last.div_ceil(MAX_LABELS - 1)).max(1);
    let near = LABEL_GAP.div_ceil(pitch) as usize;
    let mut picked: Vec<usize> = (0..last).step_by(apart).filter(|i| last - i >= near).collect();
    picked.push(last);
    if picked.len() == 1 && last > 0 {
        // Two runs too close for both labels: the newest is named (the caption has both).
        return vec![last];
    }
    picked
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runs(values: &[usize]) -> Vec<(DateTime<Utc>, usize)> {
        let start: DateTime<Utc> = "2026-11-25T15:00:00Z".parse().unwrap();
        values
            .iter()
            .enumerate()
            .map(|(i, v)| (start + chrono::Duration::minutes(10 * i as i64), *v))
            .collect()
    }

    fn y_texts(c: &Chart) -> Vec<&str> {
        c.y_ticks.iter().map(|t| t.text.as_str()).collect()
    }

    fn x_times(c: &Chart) -> Vec<String> {
        c.x_ticks.iter().map(|t| format!("{} {}", t.date, t.time)).collect()
    }

    #[test]
    fn scales_are_round_and_reach_the_largest() {
        let check = |max, want| assert_eq!(count_scale(max, 4), want, "max {max}");
        check(0, (1, 1));
        check(1, (1, 1));
        check(3, (3, 1));
        check(4, (4, 1));
        check(5, (6, 2));
        check(7, (8, 2));
        check(9, (10, 5));
        check(17, (20, 5));
        check(41, (60, 20));
        check(1_234_567, (1_500_000, 500_000));
        assert_eq!(count_scale(5, 2), (5, 5));
        // Past what a run can hold, still a scale (no overflow).
        assert!(count_scale(usize::MAX, 4).0 >= usize::MAX / 2);
    }

    #[test]
    fn tick_numbers_are_short_and_exact() {
        let check = |n, want: &str| assert_eq!(compact(n), want);
        check(0, "0");
        check(9_999, "9999");
        check(10_000, "10k");
        check(15_000, "15k");
        check(1_500_000, "1.5M");
        check(2_000_000_000, "2G");
        check(12_345, "12345");
    }

    #[test]
    fn bars_stand_on_the_axis_scaled_to_the_scale_top() {
        let c = bars("Failing findings per run", &runs(&[0, 2, 4]), 56);
        // Ticks 0..4 at 14 px; the widest label is one digit, so the plot starts at 14.
        assert_eq!(y_texts(&c), ["0", "1", "2", "3", "4"]);
        assert_eq!(c.y_ticks[0], YTick { x: 10, y: 65, text: "0".into() });
        assert_eq!(c.y_ticks[4].y, 6 + 3);
        assert_eq!(c.axes, "M14 6V62H94");
        // Three runs spread over 80 px (26 apart); zero draws no bar.
        assert_eq!(c.bars, "M46 62v-28h14v28z M72 62v-56h14v56z");
        assert_eq!(c.grid, "M14 48h80 M14 34h80 M14 20h80 M14 6h80");
        assert_eq!(c.label, "Failing findings per run, oldest to newest: 0, 2, 4");
        assert_eq!(
            c.caption,
            "Failing findings per run. Runs covered: 3, from 2026-11-25 15:00:00 UTC to \
             2026-11-25 15:20:00 UTC; highest 4, latest 4."
        );
        // First and last named; the middle one would crowd them (26 px apart).
        assert_eq!(x_times(&c), ["11-25 15:00", "11-25 15:20"]);
        assert_eq!((c.width, c.height), (102, 90));
    }

    #[test]
    fn one_run_is_one_bar_with_axes_and_its_date() {
        let c = bars("Failing", &runs(&[3]), 40);
        // Centred in the 80 px plot, on a 0-2-4 scale (40 px has room for two intervals).
        assert_eq!(c.bars, "M47 46v-30h14v30z");
        assert_eq!(y_texts(&c), ["0", "2", "4"]);
        assert_eq!(x_times(&c), ["11-25 15:00"]);
        assert_eq!(
            c.x_ticks[0],
            XTick { x: 47 + 7, y: 58, date: "11-25".into(), time: "15:00".into() }
        );
        let window = "Runs covered: 1, from 2026-11-25 15:00:00 UTC to 2026-11-25 15:00:00 UTC";
        assert!(c.caption.contains(window), "{}", c.caption);
    }

    #[test]
    fn all_zeros_draw_no_bar_on_a_zero_to_one_scale() {
        let c = bars("Failing", &runs(&[0; 5]), 40);
        assert_eq!(c.bars, "");
        assert_eq!(y_texts(&c), ["0", "1"]);
        assert!(c.caption.ends_with("; highest 0, latest 0."), "{}", c.caption);
    }

    #[test]
    fn large_numbers_get_short_round_ticks_and_full_numbers_in_text() {
        let c = bars("Failing", &runs(&[1_234_567, 10, 0]), 40);
        assert_eq!(y_texts(&c), ["0", "1M", "2M"]);
        // The plot starts after the widest tick label (2 characters).
        assert!(c.axes.starts_with("M20 "), "{}", c.axes);
        assert!(c.label.ends_with("1,234,567, 10, 0"), "{}", c.label);
        assert!(c.caption.contains("highest 1,234,567, latest 0"), "{}", c.caption);
        // 10 of 2M still shows as a sliver.
        assert!(c.bars.contains("v-1h14"), "{}", c.bars);
    }

    #[test]
    fn thirty_runs_name_six_apart_and_stay_small() {
        let values: Vec<usize> = (0..200).map(|i| i * 7 % 13 + 1).collect();
        let c = bars("Failing", &runs(&values), 48);
        assert_eq!(c.bars.matches('M').count(), MAX_BARS);
        let xs: Vec<u32> = c.x_ticks.iter().map(|t| t.x).collect();
        assert_eq!(xs.len(), MAX_LABELS);
        assert!(xs.windows(2).all(|w| w[1] - w[0] >= LABEL_GAP), "{xs:?}");
        // The first and last labels are the oldest and newest runs kept (run 170 and
        // 199, ten minutes apart from 2026-11-25 15:00).
        assert_eq!(x_times(&c).first().unwrap(), "11-26 19:20");
        assert_eq!(x_times(&c).last().unwrap(), "11-27 00:10");
        // No label runs past the chart's right edge (half a label is ~15 px).
        assert!(c.x_ticks.last().unwrap().x + 15 <= c.width);
    }

    #[test]
    fn label_picks_never_crowd() {
        assert_eq!(label_indices(0, 20), Vec::<usize>::new());
        assert_eq!(label_indices(1, 80), [0]);
        assert_eq!(label_indices(2, 40), [0, 1]);
        assert_eq!(label_indices(4, 20), [0, 3]);
        assert_eq!(label_indices(5, 20), [0, 2, 4]);
        assert_eq!(label_indices(6, 20), [0, 2, 5]);
        assert_eq!(label_indices(30, 20), [0, 6, 12, 18, 24, 29]);
        for n in 1..=MAX_BARS {
            let pitch = PITCH.max(MIN_PLOT_WIDTH / n as u32);
            let picked = label_indices(n, pitch);
            assert_eq!(picked.last(), Some(&(n - 1)), "n {n}");
            assert!(picked.len() <= MAX_LABELS);
            assert!(picked.windows(2).all(|w| (w[1] - w[0]) as u32 * pitch >= LABEL_GAP), "n {n}");
        }
    }

    #[test]
    fn percentages_use_a_fixed_scale() {
        let start: DateTime<Utc> = "2026-11-25T15:00:00Z".parse().unwrap();
        let series: Vec<(DateTime<Utc>, Option<f64>)> =
            [Some(50.0), None, Some(100.0), Some(120.0)]
                .into_iter()
                .enumerate()
                .map(|(i, v)| (start + chrono::Duration::minutes(i as i64), v))
                .collect();
        let c = percent_bars("Connection usage", &series, 40);
        assert_eq!(y_texts(&c), ["0%", "50%", "100%"]);
        assert_eq!(c.bars, "M35 46v-20h14v20z M75 46v-40h14v40z M95 46v-40h14v40z");
        assert_eq!(c.label, "Connection usage, oldest to newest: 50%, no reading, 100%, 120%");
        assert!(c.caption.ends_with("; highest 120%, latest 120%."), "{}", c.caption);
        let one = |v| percent_bars("x", &[(start, Some(v))], 40).bars;
        assert_eq!(one(0.0), "");
        assert_eq!(one(0.1), "M65 46v-1h14v1z");
    }

    #[test]
    fn same_series_same_chart() {
        let a = bars("Failing", &runs(&[5, 0, 9, 2]), 48);
        assert_eq!(a, bars("Failing", &runs(&[5, 0, 9, 2]), 48));
    }
}
