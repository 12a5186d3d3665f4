//! A target page's settings inventory, one `<tr>` per setting, written straight to
//! HTML. A target has hundreds of settings and a fleet thousands of targets; through
//! tera each row first became a tree of values, which made the inventory most of the
//! cost of a large audit's reports. The output is the same bytes the template loop
//! produced: every value goes through [`escape`], the rules of the templates'
//! autoescape, and `target.html` marks only this fragment safe.

use super::ids::{Ids, setting_name};
use super::text::{self, Val};
use crate::snapshot::{Entry, PendingKind, Snapshot};

/// The rows of `target`'s inventory (`snapshot` is its current snapshot).
pub fn rows(ids: &Ids, target: &str, snapshot: &Snapshot) -> String {
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
