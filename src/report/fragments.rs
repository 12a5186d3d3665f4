//! The fragments of a page that repeat hundreds or thousands of times — a target
//! page's settings inventory, the passed and not-applicable rows of a findings list —
//! written straight to HTML. Through tera each row first became a tree of values,
//! which made these rows most of the cost (time and memory) of a large audit's
//! reports. The output is the same bytes the template loops produced: every value
//! goes through [`escape`], the rules of the templates' autoescape, and the templates
//! mark only these fragments safe.

use super::ids::{Ids, setting_name};
use super::text::{self, Val};
use super::view::RowView;
use crate::snapshot::{Entry, PendingKind, Snapshot};

/// The rows of `target`'s inventory (`snapshot` is its current snapshot).
pub fn inventory_rows(ids: &Ids, target: &str, snapshot: &Snapshot) -> String {
    let mut out = String::with_capacity(snapshot.config.len() * 200);
    for (key, e) in &snapshot.config {
        let id = ids.setting(target, key);
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
    out
}

/// Passed or not-applicable findings, one `<tr>` each.
pub fn finding_rows(rows: &[RowView]) -> String {
    let mut out = String::with_capacity(rows.len() * 250);
    for r in rows {
        out.push_str("<tr id=\"");
        escape(&mut out, &r.id);
        out.push_str("\"><td>");
        escape(&mut out, &r.target);
        out.push_str("</td><td>");
        escape(&mut out, &r.rule);
        out.push_str("<a class=\"self\" href=\"#");
        escape(&mut out, &r.id);
        out.push_str("\">#</a></td><td><code>");
        escape(&mut out, &r.setting);
        out.push_str("</code></td><td>");
        value(&mut out, &r.observed);
        out.push_str("</td><td>");
        value(&mut out, &r.expected);
        out.push_str("</td></tr>\n");
    }
    out
}

/// `_value.html`.
fn value(out: &mut String, v: &Val) {
    out.push_str("<code>");
    escape(out, &v.short);
    out.push_str("</code>");
    if let Some(more) = &v.more {
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
    use super::*;

    /// The loop `_findings.html` had before the rows were written here.
    const TEMPLATE_LOOP: &str = "{% for r in rows %}<tr id=\"{{ r.id }}\"><td>{{ r.target }}</td><td>{{ r.rule }}<a class=\"self\" href=\"#{{ r.id }}\">#</a></td><td><code>{{ r.setting }}</code></td><td>{% set v = r.observed %}{% include \"_value.html\" %}</td><td>{% set v = r.expected %}{% include \"_value.html\" %}</td></tr>\n{% endfor %}";

    #[test]
    fn finding_rows_are_what_the_template_loop_wrote() {
        let row = |id: &str, observed: Option<&str>, expected: &str| RowView {
            id: id.into(),
            target: "db<1> & \"two\"".into(),
            rule: "R'1".into(),
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
        assert_eq!(finding_rows(&rows), tera.render("rows.html", &context).unwrap());
        assert_eq!(finding_rows(&[]), "");
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
