//! Counter operators: `increase` and `rate` judge how much a counter moved between the
//! target's previous collection and this one, never its total since the server started
//! (one eviction a year ago must not fail every audit after it). Pure.
//!
//! A counter is a `state.` reading that only grows while the server runs (evictions,
//! refused or aborted connections, replication errors). The verdict is
//! `not_applicable`, saying why, when there is nothing to measure against:
//!
//! - no previous collection of this target (its first audit, or only failed ones);
//! - the counter was absent then;
//! - the server restarted in between: another server process answered
//!   (`state.instance` differs), or its uptime (`state.uptime_s`) is lower than it was,
//!   or lower than the time between the collections — its counters started again from
//!   zero, so the difference means nothing;
//! - the counter went down without a visible restart (a `FLUSH STATUS`, a stats reset).
//!
//! `rate` divides the increase by the seconds between the two collections, so a long
//! gap between audits averages a burst out: the message gives both numbers.

use super::rule::{Bound, Measure, Outcome, within};
use crate::finding::FindingStatus;
use crate::snapshot::{Entry, INSTANCE_KEY, State, UPTIME_KEY};

/// The same target's previous successful collection.
#[derive(Debug, Clone, Copy)]
pub struct Earlier<'a> {
    pub state: &'a State,
    /// Seconds from that collection to this one.
    pub seconds: f64,
}

/// The verdict of a counter operator on `key`, now `observed`, in a state `now`.
pub(super) fn verdict(
    measure: Measure,
    min: Option<&Bound>,
    max: Option<&Bound>,
    key: &str,
    observed: &Entry,
    now: &State,
    earlier: Option<Earlier<'_>>,
) -> (FindingStatus, String) {
    use FindingStatus as S;
    let na = |why: String| (S::NotApplicable, format!("Not applicable: {why}."));
    let Some(earlier) = earlier else {
        return na(format!(
            "{key} is a counter, judged by its change since the previous collection, and this \
             is the target's first successful collection"
        ));
    };
    let Some(before) = earlier.state.get(key) else {
        return na(format!("{key} was absent at the previous collection"));
    };
    let (Some(then), Some(current)) = (number(&before.value), number(&observed.value)) else {
        return (
            S::Error,
            format!(
                "{key} is not a number ({} now, {} before): `{}` judges counters",
                observed.value,
                before.value,
                measure.as_str()
            ),
        );
    };
    if let Some(why) = restarted(now, earlier) {
        return na(format!("{why}, so its counters started again from zero"));
    }
    let increase = current - then;
    if increase < 0.0 {
        return na(format!(
            "{key} went down from {} to {} without a restart (its statistics were reset)",
            before.value, observed.value
        ));
    }
    if earlier.seconds <= 0.0 {
        return na("the previous collection is not older than this one".to_owned());
    }
    let rate = increase / earlier.seconds;
    let measured = match measure {
        Measure::Increase => increase,
        Measure::Rate => rate,
    };
    let moved = format!(
        "{key} rose by {} in {} ({}/s; {} → {})",
        plain(increase),
        span(earlier.seconds),
        plain(rate),
        before.value,
        observed.value,
    );
    let unit = observed.unit.as_deref();
    match within(&plain(measured), unit, min, max) {
        Outcome::Holds => (S::Pass, format!("{moved}, within the expected bounds.")),
        Outcome::Fails => (S::Fail, format!("{moved}.")),
        Outcome::Error(e) => (S::Error, format!("Could not compare {key}: {e}.")),
    }
}

/// What a counter rule shows as its observed value: the change, not the total.
pub(super) fn observed_change(
    measure: Measure,
    key: &str,
    observed: &Entry,
    now: &State,
    earlier: Option<Earlier<'_>>,
) -> Option<String> {
    let earlier = earlier?;
    let then = number(&earlier.state.get(key)?.value)?;
    let current = number(&observed.value)?;
    if restarted(now, earlier).is_some() || current < then || earlier.seconds <= 0.0 {
        return None;
    }
    let increase = current - then;
    Some(match measure {
        Measure::Increase => format!("+{} in {}", plain(increase), span(earlier.seconds)),
        Measure::Rate => {
            format!("{}/s over {}", plain(increase / earlier.seconds), span(earlier.seconds))
        }
    })
}

/// Why the server must have restarted between the collections, if it did.
fn restarted(now: &State, earlier: Earlier<'_>) -> Option<String> {
    let instance = |state: &State| state.get(INSTANCE_KEY).map(|e| e.value.clone());
    if let (Some(current), Some(before)) = (instance(now), instance(earlier.state))
        && current != before
    {
        return Some(format!(
            "the server restarted since the previous collection (another server process \
             answered: {current}, was {before})"
        ));
    }
    let uptime = |state: &State| state.get(UPTIME_KEY).and_then(|e| number(&e.value));
    let current = uptime(now)?;
    match uptime(earlier.state) {
        Some(before) if current < before => Some(format!(
            "the server restarted since the previous collection (uptime {} s, was {} s)",
            plain(current),
            plain(before)
        )),
        // Up for less than the time since the previous collection.
        _ if current + 1.0 < earlier.seconds => Some(format!(
            "the server restarted since the previous collection ({} ago; it has been up {} s)",
            span(earlier.seconds),
            plain(current)
        )),
        _ => None,
    }
}

fn number(text: &str) -> Option<f64> {
    text.trim().parse::<f64>().ok().filter(|n| n.is_finite())
}

/// A number as a person reads it: `3`, `0.25`, `0.0333`.
fn plain(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{n:.0}")
    } else {
        let s = format!("{n:.4}");
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    }
}

/// `45 s`, `5 min`, `2.5 h`, `3 d`.
fn span(seconds: f64) -> String {
    let (n, unit) = match seconds {
        s if s < 120.0 => (s, "s"),
        s if s < 7200.0 => (s / 60.0, "min"),
        s if s < 172_800.0 => (s / 3600.0, "h"),
        s => (s / 86_400.0, "d"),
    };
    let n = (n * 10.0).round() / 10.0;
    format!("{} {unit}", plain(n))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::quantity::Expected;

    fn bound(s: &str) -> Bound {
        Bound { written: s.into(), value: Expected::parse(s).unwrap() }
    }

    fn state(pairs: &[(&str, &str)]) -> State {
        pairs.iter().map(|(k, v)| (k.to_string(), Entry::new(*v))).collect()
    }

    #[track_caller]
    fn check(
        measure: Measure,
        max: &str,
        now: &[(&str, &str)],
        then: Option<(&[(&str, &str)], f64)>,
        want: FindingStatus,
    ) -> String {
        let now = state(now);
        let then_state = then.map(|(s, secs)| (state(s), secs));
        let earlier =
            then_state.as_ref().map(|(s, seconds)| Earlier { state: s, seconds: *seconds });
        let max = bound(max);
        let key = "state.evictions";
        let (status, msg) = verdict(measure, None, Some(&max), key, &now[key], &now, earlier);
        assert_eq!(status, want, "{msg}");
        msg
    }

    use FindingStatus::{Fail, NotApplicable, Pass};

    #[test]
    fn the_first_collection_has_nothing_to_compare_with() {
        let msg = check(Measure::Increase, "0", &[("state.evictions", "5")], None, NotApplicable);
        assert!(msg.contains("first successful collection"), "{msg}");
    }

    #[test]
    fn an_old_total_does_not_fail_once_it_stops_growing() {
        let then: &[(&str, &str)] = &[("state.evictions", "40"), ("state.uptime_s", "1000")];
        let now = &[("state.evictions", "40"), ("state.uptime_s", "1300")];
        check(Measure::Increase, "0", now, Some((then, 300.0)), Pass);
    }

    #[test]
    fn growth_fails_once_and_says_by_how_much() {
        let then: &[(&str, &str)] = &[("state.evictions", "40"), ("state.uptime_s", "1000")];
        let now = &[("state.evictions", "49"), ("state.uptime_s", "1300")];
        let msg = check(Measure::Increase, "0", now, Some((then, 300.0)), Fail);
        assert!(msg.contains("rose by 9 in 5 min"), "{msg}");
        assert!(msg.contains("40 → 49"), "{msg}");
    }

    #[test]
    fn rates_are_per_second_between_the_collections() {
        let then: &[(&str, &str)] = &[("state.evictions", "0")];
        check(Measure::Rate, "0.5", &[("state.evictions", "100")], Some((then, 300.0)), Pass);
        check(Measure::Rate, "0.1", &[("state.evictions", "100")], Some((then, 300.0)), Fail);
    }

    #[test]
    fn a_restart_in_between_is_not_applicable() {
        // Uptime went down.
        let then: &[(&str, &str)] = &[("state.evictions", "40"), ("state.uptime_s", "1000")];
        let now = &[("state.evictions", "50"), ("state.uptime_s", "20")];
        let msg = check(Measure::Increase, "0", now, Some((then, 300.0)), NotApplicable);
        assert!(msg.contains("restarted"), "{msg}");
        // Up for less than the time since the previous collection, counter already past
        // its old value: still a restart.
        let then: &[(&str, &str)] = &[("state.evictions", "5"), ("state.uptime_s", "100")];
        let now = &[("state.evictions", "50"), ("state.uptime_s", "200")];
        check(Measure::Increase, "0", now, Some((then, 3600.0)), NotApplicable);
    }

    #[test]
    fn another_server_process_is_a_restart_whatever_the_uptimes_say() {
        // Restarted a second after a collection made a second after the server started:
        // the uptimes (2 s, then 2 s) cannot tell, the process can. Without the instance
        // the counter that went down reads as a stats reset.
        let then: &[(&str, &str)] =
            &[("state.evictions", "61"), ("state.uptime_s", "2"), ("state.instance", "pid 10")];
        let now =
            &[("state.evictions", "0"), ("state.uptime_s", "2"), ("state.instance", "pid 11")];
        let msg = check(Measure::Increase, "0", now, Some((then, 1.2)), NotApplicable);
        assert!(msg.contains("restarted") && msg.contains("pid 11, was pid 10"), "{msg}");
        let same =
            &[("state.evictions", "0"), ("state.uptime_s", "2"), ("state.instance", "pid 10")];
        let msg = check(Measure::Increase, "0", same, Some((then, 1.2)), NotApplicable);
        assert!(msg.contains("statistics were reset"), "{msg}");
    }

    #[test]
    fn a_counter_that_went_down_was_reset() {
        let then: &[(&str, &str)] = &[("state.evictions", "40")];
        let msg = check(
            Measure::Increase,
            "0",
            &[("state.evictions", "3")],
            Some((then, 60.0)),
            NotApplicable,
        );
        assert!(msg.contains("reset"), "{msg}");
    }

    #[test]
    fn the_observed_value_shown_is_the_change() {
        let now = state(&[("state.evictions", "49")]);
        let then = state(&[("state.evictions", "40")]);
        let earlier = Some(Earlier { state: &then, seconds: 90.0 });
        let e = &now["state.evictions"];
        let key = "state.evictions";
        assert_eq!(
            observed_change(Measure::Increase, key, e, &now, earlier).as_deref(),
            Some("+9 in 90 s")
        );
        assert_eq!(
            observed_change(Measure::Rate, key, e, &now, earlier).as_deref(),
            Some("0.1/s over 90 s")
        );
        assert_eq!(observed_change(Measure::Rate, key, e, &now, None), None);
    }
}
