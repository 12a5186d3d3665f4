//! `[[overlay]]` tables: `when = { labels = { … } }`, `rule`, and at least one of
//! `severity`, `expect`, `disabled`.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

use super::Sink;
use super::operators::{OperatorTable, operators};
use crate::finding::Severity;
use crate::policy::overlay::Overlay;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawOverlay {
    when: Spanned<RawWhen>,
    pub(super) rule: Spanned<String>,
    #[serde(default)]
    severity: Option<Spanned<String>>,
    #[serde(default)]
    expect: Option<Spanned<OperatorTable>>,
    #[serde(default)]
    disabled: Option<Spanned<bool>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWhen {
    labels: BTreeMap<String, String>,
}

pub(super) fn overlay(raw: RawOverlay, sink: &mut Sink<'_>) -> Option<Overlay> {
    let before = sink.diags.len();
    let when_span = raw.when.span();
    let labels = raw.when.into_inner().labels;
    if labels.is_empty() {
        sink.at(when_span, "an overlay needs `when = { labels = { … } }` with at least one label (to change a rule everywhere, edit the rule)");
    }
    let disabled = raw.disabled.as_ref().is_some_and(|d| *d.get_ref());
    if raw.severity.is_none() && raw.expect.is_none() && !disabled {
        sink.at(raw.rule.span(), "an overlay must set `severity`, `expect` or `disabled = true`");
    }
    if disabled && (raw.severity.is_some() || raw.expect.is_some()) {
        let span = raw.disabled.as_ref().map(Spanned::span).unwrap_or(raw.rule.span());
        sink.at(span, "a disabled overlay cannot also set `severity` or `expect`");
    }
    let severity = raw.severity.and_then(|s| {
        let parsed = Severity::parse(s.get_ref());
        if parsed.is_none() {
            let msg = format!(
                "unknown severity `{}` (expected critical, high, medium, low or info)",
                s.get_ref()
            );
            sink.at(s.span(), msg);
        }
        parsed
    });
    let expect = raw.expect.map(|e| operators(e, "expect", sink));
    if sink.diags.len() != before {
        return None;
    }
    Some(Overlay {
        rule: raw.rule.into_inner(),
        labels,
        severity,
        expect: expect.flatten(),
        disabled,
    })
}
