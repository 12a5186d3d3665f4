//! What runs say about each other: the previous collection of a target, findings that
//! are new or resolved since then, and since when a finding has been failing. Pure
//! functions over runs ordered newest first.

use std::collections::HashMap;

use crate::finding::{Finding, FindingStatus};
use crate::run::{Run, TargetRun, TargetStatus};

/// Each run's targets by name: [`Run::target`] scans the list, which made every page
/// of an N-target run cost O(N) per lookup (O(N²) per render).
pub struct TargetIndex<'a>(HashMap<&'a str, HashMap<&'a str, &'a TargetRun>>);

impl<'a> TargetIndex<'a> {
    pub fn new(runs: &[&'a Run]) -> TargetIndex<'a> {
        let mut index: HashMap<&str, HashMap<&str, &TargetRun>> = HashMap::new();
        for r in runs {
            let by_name = index.entry(r.run_id.0.as_str()).or_default();
            for t in &r.targets {
                by_name.entry(t.name.as_str()).or_insert(t);
            }
        }
        TargetIndex(index)
    }

    /// `run.target(name)`, by lookup when the run is indexed.
    pub fn target(&self, run: &'a Run, name: &str) -> Option<&'a TargetRun> {
        match self.0.get(run.run_id.0.as_str()) {
            Some(by_name) => by_name.get(name).copied(),
            None => run.target(name),
        }
    }
}

/// The newest run in `older` (newest first) that collected `target`, with its entry.
pub fn previous_collection<'a>(
    index: &TargetIndex<'a>,
    older: &[&'a Run],
    target: &str,
) -> Option<(&'a Run, &'a TargetRun)> {
    older.iter().find_map(|r| {
        index.target(r, target).filter(|t| t.status == TargetStatus::Ok).map(|t| (*r, t))
    })
}

/// A failing finding counts as failing whether or not an expired waiver matched it.
pub fn is_failing(f: &Finding) -> bool {
    f.status == FindingStatus::Fail
}

/// `t`'s finding for `rule` (the last, should a rule repeat).
fn by_rule<'a>(t: &'a TargetRun, rule: &str) -> Option<&'a Finding> {
    t.findings.iter().rev().find(|f| f.rule == rule)
}

/// How one collection of a target differs from the one before it.
#[derive(Debug, Default)]
pub struct TargetDelta<'a> {
    /// Failing now, not failing before.
    pub new_failures: Vec<&'a Finding>,
    /// Failing before (that finding), not failing now (`None`: the rule is gone).
    pub resolved: Vec<(&'a Finding, Option<&'a Finding>)>,
    /// Waived now, not waived before.
    pub waivers_added: Vec<&'a Finding>,
    /// An expired waiver now, but not before.
    pub waivers_expired: Vec<&'a Finding>,
}

impl TargetDelta<'_> {
    pub fn is_empty(&self) -> bool {
        self.new_failures.is_empty()
            && self.resolved.is_empty()
            && self.waivers_added.is_empty()
            && self.waivers_expired.is_empty()
    }
}

/// Compare a collection with the previous one of the same target. Without a previous
/// one, every failure is new.
pub fn delta<'a>(before: Option<&'a TargetRun>, now: &'a TargetRun) -> TargetDelta<'a> {
    let mut d = TargetDelta::default();
    if now.status != TargetStatus::Ok {
        return d;
    }
    let expired = |x: &Finding| x.waiver.as_ref().is_some_and(|w| w.expired);
    // Only failing, waived and expired findings are looked up in the previous
    // collection: most findings pass, and this runs for every target of every run.
    for f in now.findings.iter() {
        let waived = f.status == FindingStatus::Waived;
        if !(is_failing(f) || waived || expired(f)) {
            continue;
        }
        let prev = before.and_then(|b| by_rule(b, &f.rule));
        if is_failing(f) && prev.is_none_or(|p| !is_failing(p)) {
            d.new_failures.push(f);
        }
        if waived && prev.is_none_or(|p| p.status != FindingStatus::Waived) {
            d.waivers_added.push(f);
        }
        if expired(f) && prev.is_none_or(|p| !expired(p)) {
            d.waivers_expired.push(f);
        }
    }
    if let Some(b) = before {
        for f in b.findings.iter().filter(|f| is_failing(f)) {
            let now_f = by_rule(now, &f.rule);
            if !now_f.is_some_and(is_failing) {
                d.resolved.push((f, now_f));
            }
        }
    }
    d
}

/// Since which run `rule` has been failing on `target`: the oldest run of the unbroken
/// streak that ends at the newest run of `runs` (newest first). Runs that did not
/// collect the target neither extend nor break the streak.
pub fn first_failing<'a>(
    index: &TargetIndex<'a>,
    runs: &[&'a Run],
    target: &str,
    rule: &str,
) -> Option<&'a Run> {
    let mut first = None;
    for r in runs {
        let Some(t) = index.target(r, target).filter(|t| t.status == TargetStatus::Ok) else {
            continue;
        };
        match t.findings.iter().find(|f| f.rule == rule) {
            Some(f) if is_failing(f) => first = Some(*r),
            _ => break,
        }
    }
    first
}

/// New and resolved failures of a whole run against the runs before it.
pub fn run_new_and_fixed<'a>(
    index: &TargetIndex<'a>,
    run: &'a Run,
    older: &[&'a Run],
) -> (usize, usize) {
    let mut new = 0;
    let mut fixed = 0;
    for t in &run.targets {
        let before = previous_collection(index, older, &t.name).map(|(_, t)| t);
        let d = delta(before, t);
        new += d.new_failures.len();
        fixed += d.resolved.len();
    }
    (new, fixed)
}
