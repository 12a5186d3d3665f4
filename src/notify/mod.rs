//! Notifications: what a run changed compared with the previous result of each
//! target ([`events`], pure), the webhook bodies ([`json_body`], [`slack_body`], pure),
//! and sending them ([`Notifier`]) with timeouts and retries. A webhook that fails is
//! logged (host only: URLs often hold tokens) and never fails the run.

mod send;

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::{Value, json};

use crate::config::NotifyEvent;
use crate::finding::{Finding, FindingStatus, Severity};
use crate::run::{Run, TargetRun, TargetStatus};

pub use send::Notifier;

/// What the service knew about a target before this run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Previous {
    /// The status in the newest run that audited it.
    pub status: Option<TargetStatus>,
    /// The newest result in which it was collected (its findings are the baseline
    /// for "new" and "resolved").
    pub collected: Option<TargetRun>,
}

/// One thing worth telling people about.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// A rule that was not failing on this target now fails.
    NewFailure {
        target: String,
        severity: Severity,
        rule: String,
        key: String,
        expected: String,
        /// The value before (from the previous collection), when known.
        before: Option<String>,
        after: Option<String>,
        message: String,
    },
    /// A rule that failed on this target no longer does.
    Resolved {
        target: String,
        severity: Severity,
        rule: String,
        key: String,
        before: Option<String>,
        after: Option<String>,
        /// `pass`, `waived`, … or `absent` when the rule is gone.
        status: String,
    },
    /// A setting changed.
    Change {
        target: String,
        key: String,
        before: Option<String>,
        after: Option<String>,
        location: Option<String>,
    },
    /// The target could not be audited (and could be the time before).
    Unreachable { target: String, status: TargetStatus, error: Option<String> },
}

impl Event {
    pub fn kind(&self) -> NotifyEvent {
        match self {
            Event::NewFailure { .. } => NotifyEvent::NewFailures,
            Event::Resolved { .. } => NotifyEvent::Resolved,
            Event::Change { .. } => NotifyEvent::Changes,
            Event::Unreachable { .. } => NotifyEvent::Unreachable,
        }
    }
}

/// Everything `run` changed, target by target, in the run's target order. A target
/// seen for the first time reports its failing findings as new; an unreachable
/// target is reported when it becomes so, not again on every run.
pub fn events(previous: &BTreeMap<String, Previous>, run: &Run) -> Vec<Event> {
    let none = Previous::default();
    let mut out = Vec::new();
    for t in &run.targets {
        let prev = previous.get(&t.name).unwrap_or(&none);
        if t.status != TargetStatus::Ok {
            if prev.status.is_none_or(|s| s == TargetStatus::Ok) {
                out.push(Event::Unreachable {
                    target: t.name.clone(),
                    status: t.status,
                    error: t.error.clone(),
                });
            }
            continue;
        }
        let before: BTreeMap<(&str, &str), &Finding> =
            prev.collected.iter().flat_map(failing).collect();
        let after: BTreeMap<(&str, &str), &Finding> = failing(t).collect();
        let all_now: BTreeMap<(&str, &str), &Finding> =
            t.findings.iter().map(|f| ((f.rule.as_str(), f.key.as_str()), f)).collect();
        let all_before: BTreeMap<(&str, &str), &Finding> = prev
            .collected
            .iter()
            .flat_map(|p| p.findings.iter().map(|f| ((f.rule.as_str(), f.key.as_str()), f)))
            .collect();
        for (id, f) in &after {
            if !before.contains_key(id) {
                out.push(Event::NewFailure {
                    target: t.name.clone(),
                    severity: f.severity,
                    rule: f.rule.clone(),
                    key: f.key.clone(),
                    expected: f.expected.clone(),
                    before: all_before.get(id).and_then(|b| b.actual.clone()),
                    after: f.actual.clone(),
                    message: f.message.clone(),
                });
            }
        }
        for (id, f) in &before {
            if !after.contains_key(id) {
                let now = all_now.get(id);
                out.push(Event::Resolved {
                    target: t.name.clone(),
                    severity: f.severity,
                    rule: f.rule.clone(),
                    key: f.key.clone(),
                    before: f.actual.clone(),
                    after: now.and_then(|n| n.actual.clone()),
                    status: now.map_or("absent", |n| n.status.as_str()).to_owned(),
                });
            }
        }
        for c in &t.changes {
            out.push(Event::Change {
                target: t.name.clone(),
                key: c.key.clone(),
                before: c.before.clone(),
                after: c.after.clone(),
                location: c.location.clone(),
            });
        }
    }
    out
}

fn failing(t: &TargetRun) -> impl Iterator<Item = ((&str, &str), &Finding)> {
    t.findings
        .iter()
        .filter(|f| f.status == FindingStatus::Fail)
        .map(|f| ((f.rule.as_str(), f.key.as_str()), f))
}

/// The events a webhook asked for.
pub fn select<'a>(events: &'a [Event], on: &BTreeSet<NotifyEvent>) -> Vec<&'a Event> {
    events.iter().filter(|e| on.contains(&e.kind())).collect()
}

/// `<public_url>/reports/runs/<run-id>.html`, when a public URL is configured.
pub fn report_url(public_url: Option<&str>, run: &Run) -> Option<String> {
    public_url.map(|base| format!("{base}/reports/runs/{}.html", run.run_id))
}

/// The generic JSON body: the run, its summary, the report link and the events.
pub fn json_body(run: &Run, events: &[&Event], report_url: Option<&str>) -> Value {
    json!({
        "source": "driftwatch",
        "run_id": run.run_id,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "report_url": report_url,
        "summary": run.summary,
        "counts": counts(events),
        "events": events,
    })
}

/// A Slack-compatible body (`text` for notifications, `blocks` for the message).
pub fn slack_body(run: &Run, events: &[&Event], report_url: Option<&str>) -> Value {
    const MAX_LINES: usize = 30;
    let c = counts(events);
    let text = format!(
        "driftwatch run {}: {} new failures, {} resolved, {} changes, {} unreachable",
        run.run_id, c["new_failures"], c["resolved"], c["changes"], c["unreachable"]
    );
    let mut blocks = vec![json!({
        "type": "section",
        "text": { "type": "mrkdwn", "text": format!("*{}*", slack_escape(&text)) },
    })];
    let lines: Vec<String> = events.iter().take(MAX_LINES).map(|e| slack_line(e)).collect();
    // Slack caps a section's text at 3000 characters.
    let mut chunk = String::new();
    for line in lines {
        if chunk.len() + line.len() + 1 > 2900 && !chunk.is_empty() {
            blocks.push(json!({ "type": "section", "text": { "type": "mrkdwn", "text": chunk } }));
            chunk = String::new();
        }
        chunk.push_str(&line);
        chunk.push('\n');
    }
    if events.len() > MAX_LINES {
        chunk.push_str(&format!("… and {} more\n", events.len() - MAX_LINES));
    }
    if !chunk.is_empty() {
        blocks.push(json!({ "type": "section", "text": { "type": "mrkdwn", "text": chunk } }));
    }
    if let Some(url) = report_url {
        blocks.push(json!({
            "type": "context",
            "elements": [{ "type": "mrkdwn", "text": format!("<{url}|View the report>") }],
        }));
    }
    json!({ "text": text, "blocks": blocks })
}

fn counts(events: &[&Event]) -> BTreeMap<&'static str, usize> {
    let mut c: BTreeMap<&'static str, usize> =
        NotifyEvent::ALL.iter().map(|e| (e.as_str(), 0)).collect();
    for e in events {
        *c.entry(e.kind().as_str()).or_default() += 1;
    }
    c
}

fn slack_line(e: &Event) -> String {
    let v = |s: &Option<String>| slack_escape(s.as_deref().unwrap_or("(absent)"));
    let line = match e {
        Event::NewFailure { target, severity, rule, key, before, after, .. } => format!(
            "🔴 *{}* `{}` {} `{}`: {} → {}",
            severity.as_str().to_uppercase(),
            slack_escape(target),
            slack_escape(rule),
            slack_escape(key),
            v(before),
            v(after)
        ),
        Event::Resolved { target, severity, rule, key, after, .. } => format!(
            "✅ resolved {} `{}` {} `{}` (now {})",
            severity.as_str(),
            slack_escape(target),
            slack_escape(rule),
            slack_escape(key),
            v(after)
        ),
        Event::Change { target, key, before, after, .. } => format!(
            "✏️ `{}` `{}`: {} → {}",
            slack_escape(target),
            slack_escape(key),
            v(before),
            v(after)
        ),
        Event::Unreachable { target, status, error } => {
            format!("⚠️ `{}` {}: {}", slack_escape(target), status.as_str(), v(error))
        }
    };
    line.chars().take(500).collect()
}

/// Slack's mrkdwn needs `&`, `<` and `>` escaped.
fn slack_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

#[cfg(test)]
mod tests;
