//! The fragments of a page that repeat hundreds or thousands of times — a target
//! page's settings inventory, finding articles and the passed and not-applicable rows
//! of a findings list, change rows, group timeline rows — written straight to HTML. Through tera each row first became a tree of values,
//! which made these rows most of the cost (time and memory) of a large audit's
//! reports. The output is the same bytes the template loops produced: every value
//! goes through [`escape`], the rules of the templates' autoescape, and the templates
//! mark only these fragments safe.

use super::ids::{Ids, setting_name};
use super::splice::Html;
use super::text::{self, Val};
use super::view::{Badge, ChangeView, EventRow, FindingView, RowView};
use crate::snapshot::{Entry, PendingKind, Snapshot};

/// The rows of `target`'s inventory (`snapshot` is its current snapshot).
pub fn inventory_rows(ids: &Ids, target: &str, snapshot: &Snapshot) -> Html {
    let mut out = String::with_capacity(snapshot.config.len() * 200);
    let setting_ids = ids.settings(target);
    for (key, e) in &snapshot.config {
        let id = setting_ids.id(key);
        out.push_str("<tr id=\"");
        escape(&mut out, &id);
        out.push_str("\"><td><code>");
        escape(&mut out, &text::clean(setting_name(key)));
        out.push_str("</code><a class=\"self\" href=\"#");
        escape(&mut out, &id);
        out.push_str("\">#</a></td><td>");
        value(&mut out, &Val::of(&e.display_value()));
        out.push_str("</td><td>");
        escape(&mut out, &text::clean(&e.location().unwrap_or_else(|| "\u{2014}".to_owned())));
        out.push_str("</td><td>");
        escape(&mut out, &note(e));
        out.push_str("</td></tr>\n");
    }
    Html::new(out)
}

/// Passed or not-applicable findings, one `<tr>` each.
pub fn finding_rows(rows: &[RowView]) -> Html {
    Html::new(lines(rows, 250, finding_row))
}

fn finding_row(out: &mut String, r: &RowView) {
    out.push_str("<tr id=\"");
    escape(out, &r.id);
    out.push_str("\"><td>");
    escape(out, &r.target);
    out.push_str("</td><td>");
    web_link(out, r.rule_href.as_deref(), &r.rule);
    if !r.controls.is_empty() {
        out.push_str(" <span class=\"muted\">");
        escape(out, &r.controls);
        out.push_str("</span>");
    }
    out.push_str("<a class=\"self\" href=\"#");
    escape(out, &r.id);
    out.push_str("\">#</a></td><td><code>");
    escape(out, &r.setting);
    out.push_str("</code></td><td>");
    value(out, &r.observed);
    out.push_str("</td><td>");
    value(out, &r.expected);
    out.push_str("</td></tr>");
}

/// Findings as articles (`<article id="f-…">`, the same component on run, target and
/// group pages), each followed by a newline.
pub fn finding_articles(findings: &[FindingView]) -> Html {
    Html::new(lines(findings, 1_500, article))
}

/// `write` for each item, each followed by a newline (the template loops' layout);
/// `bytes_each` sizes the buffer.
fn lines<T>(items: &[T], bytes_each: usize, write: fn(&mut String, &T)) -> String {
    let mut out = String::with_capacity(items.len() * bytes_each);
    for item in items {
        write(&mut out, item);
        out.push('\n');
    }
    out
}

fn article(out: &mut String, f: &FindingView) {
    out.push_str("<article id=\"");
    escape(out, &f.id);
    out.push_str("\" class=\"");
    escape(out, f.badge.class);
    out.push_str("\">\n<h3>");
    badge(out, f.badge);
    out.push_str(" <span class=\"sev ");
    escape(out, f.sev.class);
    out.push_str("\">");
    escape(out, f.sev.word);
    out.push_str("</span> <code>");
    escape(out, &f.setting);
    out.push_str("</code> on ");
    link(out, f.target_href.as_deref(), &f.target);
    out.push_str(" <span class=\"muted\">");
    escape(out, &f.rule);
    out.push_str("</span><a class=\"self\" href=\"#");
    escape(out, &f.id);
    out.push_str("\" aria-label=\"Link to this finding\">#</a></h3>\n<p>");
    escape(out, &f.message);
    out.push_str("</p>\n<dl class=\"kv\">");
    if let Some(drift) = f.drift.filter(|d| !d.is_empty()) {
        out.push_str("<dt>when</dt><dd>");
        escape(out, drift);
        if let Some(r) = &f.restarting {
            out.push_str("; restart of ");
            link(out, Some(&r.href), &r.text);
        }
        out.push_str("</dd>\n");
    }
    out.push_str("<dt>observed</dt><dd>");
    value(out, &f.observed);
    out.push_str("</dd>\n<dt>expected</dt><dd>");
    value(out, &f.expected);
    out.push_str("</dd>\n<dt>where set</dt><dd>");
    match non_empty(f.location.as_deref()) {
        Some(location) => {
            out.push_str("<code>");
            escape(out, location);
            out.push_str("</code>");
        }
        None => out.push_str("unknown"),
    }
    if let Some(href) = non_empty(f.setting_href.as_deref()) {
        out.push_str(" <a href=\"");
        escape(out, href);
        out.push_str("\" class=\"lbl\">inventory</a>");
    }
    out.push_str("</dd>");
    if let Some(previous) = &f.previous {
        out.push_str("\n<dt>previous value</dt><dd>");
        value(out, previous);
        out.push_str("</dd>");
    }
    if let Some(first_seen) = non_empty(f.first_seen.as_deref()) {
        out.push_str("\n<dt>first seen</dt><dd>");
        escape(out, first_seen);
        out.push_str("</dd>");
    }
    if let Some(w) = &f.waiver {
        out.push_str("\n<dt>waiver</dt><dd>");
        if w.expired {
            out.push_str("<strong>expired</strong>: ");
        }
        escape(out, &w.reason);
        out.push_str(" <span class=\"muted\">(until ");
        escape(out, &w.expires);
        if !w.note.is_empty() {
            out.push_str(", ");
            escape(out, &w.note);
        }
        out.push_str(")</span></dd>");
    }
    out.push_str("\n<dt>policy</dt><dd>");
    escape(out, &f.policy);
    out.push_str("</dd>");
    if let Some(rationale) = non_empty(f.rationale.as_deref()) {
        out.push_str("\n<dt>rationale</dt><dd>");
        escape(out, rationale);
        out.push_str("</dd>");
    }
    if !f.references.is_empty() {
        out.push_str("\n<dt>references</dt><dd><ul class=\"refs\">");
        for r in &f.references {
            out.push_str("<li>");
            if !r.control.is_empty() {
                out.push_str("<span class=\"ctl\">");
                escape(out, &r.control);
                out.push_str("</span> ");
            }
            web_link(out, r.href.as_deref(), &r.title);
            out.push_str("</li>");
        }
        out.push_str("</ul></dd>");
    }
    out.push_str("</dl>");
    if let Some(remediation) = non_empty(f.remediation.as_deref()) {
        out.push_str("\n<div class=\"lbl\">remediation</div><pre>");
        escape(out, remediation);
        out.push_str("</pre>");
    }
    out.push_str("\n</article>");
}

/// Changed settings as table rows (`<tr id="c-…">`), each followed by a newline.
pub fn change_rows(changes: &[ChangeView]) -> Html {
    Html::new(lines(changes, 400, change_row))
}

fn change_row(out: &mut String, c: &ChangeView) {
    out.push_str("<tr id=\"");
    escape(out, &c.id);
    out.push_str("\"><td><code>");
    escape(out, &c.setting);
    out.push_str("</code>");
    if let Some(href) = non_empty(c.setting_href.as_deref()) {
        out.push_str(" <a href=\"");
        escape(out, href);
        out.push_str("\" class=\"lbl\">inventory</a>");
    }
    out.push_str("<a class=\"self\" href=\"#");
    escape(out, &c.id);
    out.push_str("\" aria-label=\"Link to this change\">#</a></td><td>");
    before_after(out, c.before.as_ref(), c.after.as_ref());
    out.push_str("</td><td>");
    if let Some(was) = non_empty(c.previous_location.as_deref()) {
        out.push_str("<span class=\"lbl\">was</span>");
        escape(out, was);
        out.push(' ');
    }
    if let Some(now) = non_empty(c.location.as_deref()) {
        out.push_str("<span class=\"lbl\">now</span>");
        escape(out, now);
    }
    if let Some(rollback) = non_empty(c.rollback.as_deref()) {
        out.push_str("<pre class=\"rollback\"><span class=\"lbl\">rollback</span> ");
        escape(out, rollback);
        out.push_str("</pre>");
    }
    out.push_str("</td></tr>");
}

/// A group timeline's events as table rows, each followed by a newline.
pub fn event_rows(events: &[EventRow]) -> Html {
    Html::new(lines(events, 500, event_row))
}

fn event_row(out: &mut String, e: &EventRow) {
    let id = e.change.as_ref().map_or(&e.id, |c| &c.id);
    out.push_str("<tr id=\"");
    escape(out, id);
    out.push_str("\"><td>");
    escape(out, &e.at);
    out.push_str("<br><span class=\"lbl\">run</span>");
    link(out, e.run_href.as_deref(), &e.run);
    out.push_str("</td><td>");
    link(out, e.target_href.as_deref(), &e.target);
    out.push_str("</td><td>");
    escape(out, e.kind);
    match &e.change {
        Some(c) => {
            out.push_str(": <code>");
            escape(out, &c.setting);
            out.push_str("</code><a class=\"self\" href=\"#");
            escape(out, id);
            out.push_str("\">#</a></td><td>");
            before_after(out, c.before.as_ref(), c.after.as_ref());
            out.push_str("</td><td>");
            escape(out, c.location.as_deref().unwrap_or_default());
            out.push_str("</td></tr>");
        }
        None => {
            out.push_str("<a class=\"self\" href=\"#");
            escape(out, id);
            out.push_str("\">#</a></td><td>");
            escape(out, &e.what);
            out.push_str("</td><td></td></tr>");
        }
    }
}

/// `was <del>before</del> → now <ins>after</ins>`, or `added`/`removed`.
pub fn before_after(out: &mut String, before: Option<&Val>, after: Option<&Val>) {
    match before {
        Some(v) => {
            out.push_str("<span class=\"lbl\">was</span><del>");
            value(out, v);
            out.push_str("</del>");
        }
        None => out.push_str("<span class=\"lbl\">added</span>"),
    }
    out.push_str(" &rarr; ");
    match after {
        Some(v) => {
            out.push_str("<span class=\"lbl\">now</span><ins>");
            value(out, v);
            out.push_str("</ins>");
        }
        None => out.push_str("<span class=\"lbl\">removed</span>"),
    }
}

/// `_badge.html`.
fn badge(out: &mut String, b: Badge) {
    out.push_str("<span class=\"b ");
    escape(out, b.class);
    out.push_str("\"><span aria-hidden=\"true\">");
    escape(out, b.shape);
    out.push_str("</span> ");
    escape(out, b.word);
    out.push_str("</span>");
}

/// A link out of the report (a rule's documentation): marked `rel="external"`, the one
/// kind of absolute address a page holds; nothing is ever fetched from it.
fn web_link(out: &mut String, href: Option<&str>, text: &str) {
    match non_empty(href) {
        Some(href) => {
            out.push_str("<a href=\"");
            escape(out, href);
            out.push_str("\" rel=\"external noreferrer\">");
            escape(out, text);
            out.push_str("</a>");
        }
        None => escape(out, text),
    }
}

/// `<a href>text</a>`, or the text alone without a link.
fn link(out: &mut String, href: Option<&str>, text: &str) {
    match non_empty(href) {
        Some(href) => {
            out.push_str("<a href=\"");
            escape(out, href);
            out.push_str("\">");
            escape(out, text);
            out.push_str("</a>");
        }
        None => escape(out, text),
    }
}

/// What a template's `{% if x %}` takes as present: set and not empty.
fn non_empty(s: Option<&str>) -> Option<&str> {
    s.filter(|s| !s.is_empty())
}

/// `_value.html`.
pub fn value(out: &mut String, v: &Val) {
    out.push_str("<code>");
    escape(out, &v.short);
    out.push_str("</code>");
    if let Some(more) = non_empty(v.more.as_deref()) {
        out.push_str("<span class=\"muted\">");
        escape(out, more);
        out.push_str("</span> <details class=\"v\"><summary>full value</summary><pre>");
        escape(out, v.full.as_deref().unwrap_or_default());
        out.push_str("</pre></details>");
    }
}

/// Why a setting's row deserves a second look: pending values, redaction.
fn note(e: &Entry) -> String {
    let mut notes: Vec<&str> = Vec::new();
    if e.pending_restart {
        notes.push("pending restart");
    }
    match e.pending {
        Some(PendingKind::Restart) => notes.push("takes effect on restart"),
        Some(PendingKind::Reload) => notes.push("takes effect on reload"),
        Some(PendingKind::RuntimeOnly) => {
            notes.push("value a restart brings back (the live one is runtime-only)")
        }
        None => {}
    }
    if e.redacted {
        notes.push("redacted");
    }
    notes.join("; ")
}

/// HTML-escapes `s` onto `out` exactly as tera's autoescape does (`&`, `<`, `>`, `"`,
/// `'`), so a fragment written here reads like one the templates wrote.
pub fn escape(out: &mut String, s: &str) {
    let mut done = 0;
    for (i, b) in s.bytes().enumerate() {
        let with = match b {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'"' => "&quot;",
            b'\'' => "&#39;",
            _ => continue,
        };
        out.push_str(&s[done..i]);
        out.push_str(with);
        done = i + 1;
    }
    out.push_str(&s[done..]);
}

#[cfg(test)]
mod tests {
    use super::super::view::{Link, RefView, Sev, WaiverView};
    use super::*;

    /// The loop `_findings.html` had before the rows were written here.
    const TEMPLATE_LOOP: &str = "{% for r in rows %}<tr id=\"{{ r.id }}\"><td>{{ r.target }}</td><td>{% if r.rule_href %}<a href=\"{{ r.rule_href }}\" rel=\"external noreferrer\">{{ r.rule }}</a>{% else %}{{ r.rule }}{% endif %}{% if r.controls %} <span class=\"muted\">{{ r.controls }}</span>{% endif %}<a class=\"self\" href=\"#{{ r.id }}\">#</a></td><td><code>{{ r.setting }}</code></td><td>{% set v = r.observed %}{% include \"_value.html\" %}</td><td>{% set v = r.expected %}{% include \"_value.html\" %}</td></tr>\n{% endfor %}";

    #[test]
    fn finding_rows_are_what_the_template_loop_wrote() {
        let row = |id: &str, observed: Option<&str>, expected: &str| RowView {
            id: id.into(),
            target: "db<1> & \"two\"".into(),
            rule: "R'1".into(),
            rule_href: (id != "f-a-r2").then(|| format!("https://example.org/{HOSTILE}")),
            controls: if id == "f-a-r1" { format!("CIS {HOSTILE} 1.2") } else { String::new() },
            setting: "x&y".into(),
            observed: Val::opt(observed),
            expected: Val::of(expected),
        };
        let rows = vec![
            row("f-a-r1", Some("<script>alert('x')</script>"), "on"),
            row("f-a-r2", None, &"long value ".repeat(40)),
            row("f-b-r1", Some(&"\u{1b}[31m é ".repeat(30)), ""),
        ];
        let mut tera = tera::Tera::new();
        tera.autoescape_on(vec![".html"]);
        tera.add_raw_templates([
            ("_value.html", include_str!("../../report-templates/_value.html")),
            ("rows.html", TEMPLATE_LOOP),
        ])
        .unwrap();
        let context = tera::Context::from_serialize(&serde_json::json!({ "rows": rows })).unwrap();
        assert_eq!(finding_rows(&rows).text(), tera.render("rows.html", &context).unwrap());
        assert_eq!(finding_rows(&[]).text(), "");
    }

    /// `_finding.html` and `_change.html` as they were before articles and change rows
    /// were written here, with the loops that included them.
    const ARTICLE_TEMPLATE: &str = r##"<article id="{{ f.id }}" class="{{ f.badge.class }}">
<h3>{% set b = f.badge %}{% include "_badge.html" %} <span class="sev {{ f.sev.class }}">{{ f.sev.word }}</span> <code>{{ f.setting }}</code> on {% if f.target_href %}<a href="{{ f.target_href }}">{{ f.target }}</a>{% else %}{{ f.target }}{% endif %} <span class="muted">{{ f.rule }}</span><a class="self" href="#{{ f.id }}" aria-label="Link to this finding">#</a></h3>
<p>{{ f.message }}</p>
<dl class="kv">{% if f.drift %}<dt>when</dt><dd>{{ f.drift }}{% if f.restarting %}; restart of {% if f.restarting.href %}<a href="{{ f.restarting.href }}">{{ f.restarting.text }}</a>{% else %}{{ f.restarting.text }}{% endif %}{% endif %}</dd>
{% endif %}<dt>observed</dt><dd>{% set v = f.observed %}{% include "_value.html" %}</dd>
<dt>expected</dt><dd>{% set v = f.expected %}{% include "_value.html" %}</dd>
<dt>where set</dt><dd>{% if f.location %}<code>{{ f.location }}</code>{% else %}unknown{% endif %}{% if f.setting_href %} <a href="{{ f.setting_href }}" class="lbl">inventory</a>{% endif %}</dd>
{%- if f.previous %}
<dt>previous value</dt><dd>{% set v = f.previous %}{% include "_value.html" %}</dd>
{%- endif %}{% if f.first_seen %}
<dt>first seen</dt><dd>{{ f.first_seen }}</dd>
{%- endif %}{% if f.waiver %}
<dt>waiver</dt><dd>{% if f.waiver.expired %}<strong>expired</strong>: {% endif %}{{ f.waiver.reason }} <span class="muted">(until {{ f.waiver.expires }}{% if f.waiver.note %}, {{ f.waiver.note }}{% endif %})</span></dd>
{%- endif %}
<dt>policy</dt><dd>{{ f.policy }}</dd>
{%- if f.rationale %}
<dt>rationale</dt><dd>{{ f.rationale }}</dd>
{%- endif %}{% if f.references %}
<dt>references</dt><dd><ul class="refs">{% for r in f.references %}<li>{% if r.control %}<span class="ctl">{{ r.control }}</span> {% endif %}{% if r.href %}<a href="{{ r.href }}" rel="external noreferrer">{{ r.title }}</a>{% else %}{{ r.title }}{% endif %}</li>{% endfor %}</ul></dd>
{%- endif %}</dl>
{%- if f.remediation %}
<div class="lbl">remediation</div><pre>{{ f.remediation }}</pre>
{%- endif %}
</article>"##;
    const CHANGE_TEMPLATE: &str = r##"<tr id="{{ c.id }}"><td><code>{{ c.setting }}</code>{% if c.setting_href %} <a href="{{ c.setting_href }}" class="lbl">inventory</a>{% endif %}<a class="self" href="#{{ c.id }}" aria-label="Link to this change">#</a></td><td>{% if c.before %}<span class="lbl">was</span><del>{% set v = c.before %}{% include "_value.html" %}</del>{% else %}<span class="lbl">added</span>{% endif %} &rarr; {% if c.after %}<span class="lbl">now</span><ins>{% set v = c.after %}{% include "_value.html" %}</ins>{% else %}<span class="lbl">removed</span>{% endif %}</td><td>{% if c.previous_location %}<span class="lbl">was</span>{{ c.previous_location }} {% endif %}{% if c.location %}<span class="lbl">now</span>{{ c.location }}{% endif %}{% if c.rollback %}<pre class="rollback"><span class="lbl">rollback</span> {{ c.rollback }}</pre>{% endif %}</td></tr>"##;
    const ARTICLE_LOOP: &str = "{% for f in items %}{% include \"_finding.html\" %}\n{% endfor %}";
    const CHANGE_LOOP: &str = "{% for c in items %}{% include \"_change.html\" %}\n{% endfor %}";

    fn old_templates() -> tera::Tera {
        let mut tera = tera::Tera::new();
        tera.autoescape_on(vec![".html"]);
        tera.add_raw_templates([
            ("_value.html", include_str!("../../report-templates/_value.html")),
            ("_badge.html", include_str!("../../report-templates/_badge.html")),
            ("_finding.html", ARTICLE_TEMPLATE),
            ("_change.html", CHANGE_TEMPLATE),
            ("articles.html", ARTICLE_LOOP),
            ("changes.html", CHANGE_LOOP),
        ])
        .unwrap();
        tera
    }

    fn old_render(template: &str, items: &impl serde::Serialize) -> String {
        let context =
            tera::Context::from_serialize(&serde_json::json!({ "items": items })).unwrap();
        old_templates().render(template, &context).unwrap()
    }

    const HOSTILE: &str = "<script>alert('x')</script> & \"q\"";

    /// Every optional part present (with hostile text), absent, and present but empty.
    fn articles() -> Vec<FindingView> {
        let full = |id: &str, badge: Badge| FindingView {
            id: id.into(),
            target: format!("db{HOSTILE}"),
            target_href: Some("../targets/db.html?a=1&b=\"2\"".into()),
            rule: format!("R-1{HOSTILE}"),
            policy: format!("policy {HOSTILE} v3"),
            setting: "max_connections<>".into(),
            setting_href: Some("../targets/db.html#s-db-max".into()),
            badge,
            sev: Sev::of(crate::finding::Severity::High),
            observed: Val::of(&format!("{HOSTILE} ").repeat(20)),
            expected: Val::of("= 'on'"),
            location: Some("/etc/postgresql.conf:12 <here>".into()),
            message: format!("expected {HOSTILE}"),
            rationale: Some(format!("because {HOSTILE}\nsecond line")),
            remediation: Some(format!("ALTER SYSTEM SET x = '{HOSTILE}';")),
            references: vec![
                RefView {
                    control: format!("CIS {HOSTILE} 3.1"),
                    title: format!("Ensure {HOSTILE}"),
                    href: None,
                },
                RefView {
                    control: String::new(),
                    title: "docs".into(),
                    href: Some(format!("https://example.org/?a=1&b={HOSTILE}")),
                },
            ],
            waiver: Some(WaiverView {
                reason: format!("ticket {HOSTILE}"),
                expires: "2026-12-01".into(),
                note: "expires in 6 days".into(),
                expired: true,
            }),
            first_seen: Some("since 2026-11-24 16:15:00 UTC (run <r>)".into()),
            previous: Some(Val::of("old & <b>")),
            drift: Some("pending: takes effect on the next restart or reload"),
            restarting: Some(Link { href: "../targets/p.html".into(), text: "p<1>".into() }),
        };
        let bare = |id: &str| FindingView {
            target_href: None,
            setting_href: None,
            location: None,
            rationale: None,
            remediation: None,
            references: vec![],
            waiver: None,
            first_seen: None,
            previous: None,
            drift: None,
            restarting: None,
            observed: Val::absent(),
            ..full(id, Badge::FAIL)
        };
        let empty = |id: &str| FindingView {
            target_href: Some(String::new()),
            setting_href: Some(String::new()),
            location: Some(String::new()),
            rationale: Some(String::new()),
            remediation: Some(String::new()),
            waiver: Some(WaiverView {
                reason: String::new(),
                expires: String::new(),
                note: String::new(),
                expired: false,
            }),
            first_seen: Some(String::new()),
            previous: Some(Val::of("")),
            drift: Some(""),
            restarting: Some(Link { href: String::new(), text: "q".into() }),
            message: String::new(),
            ..full(id, Badge::ERROR)
        };
        let unlinked_restart = |id: &str| FindingView {
            restarting: Some(Link { href: String::new(), text: "r&1".into() }),
            ..full(id, Badge::WAIVED)
        };
        vec![full("f-a", Badge::FAIL), bare("f-b"), empty("f-c"), unlinked_restart("p-d")]
    }

    #[test]
    fn finding_articles_are_what_the_template_wrote() {
        let items = articles();
        for one in items.chunks(1) {
            assert_eq!(
                finding_articles(one).text(),
                old_render("articles.html", &one),
                "{:?}",
                one[0].id
            );
        }
        assert_eq!(finding_articles(&items).text(), old_render("articles.html", &items));
        assert_eq!(finding_articles(&[]).text(), "");
    }

    #[test]
    fn change_rows_are_what_the_template_wrote() {
        let change = |id: &str, before: Option<Val>, after: Option<Val>| ChangeView {
            id: id.into(),
            setting: format!("wal_level{HOSTILE}"),
            setting_href: Some("../targets/db.html#s-db-wal-level&x".into()),
            kind: "changed",
            before,
            after,
            location: Some(format!("/etc/{HOSTILE}.conf:3")),
            previous_location: Some("ALTER SYSTEM <auto>".into()),
            rollback: Some(format!("ALTER SYSTEM SET wal_level = '{HOSTILE}';")),
        };
        let bare = |id: &str| ChangeView {
            setting_href: None,
            location: None,
            previous_location: None,
            rollback: None,
            ..change(id, None, Some(Val::of("x")))
        };
        let empty = |id: &str| ChangeView {
            setting_href: Some(String::new()),
            location: Some(String::new()),
            previous_location: Some(String::new()),
            rollback: Some(String::new()),
            ..change(id, Some(Val::of("")), None)
        };
        let items = [
            change("c-1", Some(Val::of(&"long & <v> ".repeat(30))), Some(Val::of("replica"))),
            bare("c-2"),
            empty("c-3"),
        ];
        for one in items.chunks(1) {
            assert_eq!(
                change_rows(one).text(),
                old_render("changes.html", &one),
                "{:?}",
                one[0].id
            );
        }
        assert_eq!(change_rows(&items).text(), old_render("changes.html", &items));
        assert_eq!(change_rows(&[]).text(), "");
    }

    /// The loop `group.html` had before its timeline rows were written here.
    const EVENT_LOOP: &str = r##"{% for e in timeline %}{% if e.change %}{% set c = e.change %}<tr id="{{ c.id }}"><td>{{ e.at }}<br><span class="lbl">run</span>{% if e.run_href %}<a href="{{ e.run_href }}">{{ e.run }}</a>{% else %}{{ e.run }}{% endif %}</td><td>{% if e.target_href %}<a href="{{ e.target_href }}">{{ e.target }}</a>{% else %}{{ e.target }}{% endif %}</td><td>{{ e.kind }}: <code>{{ c.setting }}</code><a class="self" href="#{{ c.id }}">#</a></td><td>{% if c.before %}<span class="lbl">was</span><del>{% set v = c.before %}{% include "_value.html" %}</del>{% else %}<span class="lbl">added</span>{% endif %} &rarr; {% if c.after %}<span class="lbl">now</span><ins>{% set v = c.after %}{% include "_value.html" %}</ins>{% else %}<span class="lbl">removed</span>{% endif %}</td><td>{% if c.location %}{{ c.location }}{% endif %}</td></tr>
{% else %}<tr id="{{ e.id }}"><td>{{ e.at }}<br><span class="lbl">run</span>{% if e.run_href %}<a href="{{ e.run_href }}">{{ e.run }}</a>{% else %}{{ e.run }}{% endif %}</td><td>{% if e.target_href %}<a href="{{ e.target_href }}">{{ e.target }}</a>{% else %}{{ e.target }}{% endif %}</td><td>{{ e.kind }}<a class="self" href="#{{ e.id }}">#</a></td><td>{{ e.what }}</td><td></td></tr>
{% endif %}{% endfor %}"##;

    #[test]
    fn event_rows_are_what_the_template_loop_wrote() {
        let change = |before: Option<Val>, after: Option<Val>, location: Option<&str>| ChangeView {
            id: "c-r-db-x".into(),
            setting: format!("x{HOSTILE}"),
            setting_href: None,
            kind: "changed",
            before,
            after,
            location: location.map(str::to_owned),
            previous_location: None,
            rollback: None,
        };
        let event = |id: &str, linked: bool, change: Option<ChangeView>| EventRow {
            id: id.into(),
            at: "2026-11-25 16:15:00 UTC".into(),
            run: format!("r{HOSTILE}"),
            run_href: linked.then(|| "../runs/r.html?a&b".into()),
            target: format!("db{HOSTILE}"),
            target_href: linked.then(|| "../targets/db.html".into()),
            kind: "config",
            what: format!("link up \u{2192} down {HOSTILE}"),
            change,
        };
        let items = [
            event("e-1", true, None),
            event("e-2", false, None),
            event("e-3", true, Some(change(Some(Val::of("a")), Some(Val::of("b<")), Some("f:1")))),
            event("e-4", false, Some(change(None, Some(Val::of(&"v ".repeat(60))), None))),
            event("e-5", true, Some(change(Some(Val::of("")), None, Some("")))),
        ];
        let mut tera = old_templates();
        tera.add_raw_template("events.html", EVENT_LOOP).unwrap();
        let context =
            tera::Context::from_serialize(&serde_json::json!({ "timeline": items })).unwrap();
        assert_eq!(event_rows(&items).text(), tera.render("events.html", &context).unwrap());
        assert_eq!(event_rows(&[]).text(), "");
    }

    #[test]
    fn escapes_as_the_templates_do() {
        for s in ["", "plain", "<script>alert('x')</script>", "a&b \"q\" 'a' <>/=`", "ü\u{0}é&"] {
            let mut ours = String::new();
            escape(&mut ours, s);
            let mut theirs = Vec::new();
            tera::escape_html(s, &mut theirs).unwrap();
            assert_eq!(ours, String::from_utf8(theirs).unwrap(), "{s:?}");
        }
    }
}
