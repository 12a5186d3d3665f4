//! Renderings of a check [`Report`]: text for people, JSON for scripts, JUnit XML for
//! CI test reports (GitLab, Jenkins), SARIF 2.1.0 for code scanning (GitHub).

mod junit;
mod sarif;

use std::fmt::Write as _;

use super::Report;
use crate::finding::FindingStatus;

pub use junit::junit;
pub use sarif::sarif;

/// The summary line, every failing, waived or erroring finding with the place the value
/// was written, then every value the engine adjusts from what was written (`NOTE`).
pub fn text(report: &Report) -> String {
    let mut out = String::new();
    let s = &report.summary;
    let _ = writeln!(
        out,
        "check {} ({}, {}): {} failing, {} passing, {} waived, {} errors, {} not applicable",
        report.files.join(" + "),
        report.kind,
        report.role,
        s.fail,
        s.pass,
        s.waived,
        s.error,
        s.not_applicable
    );
    for f in &report.findings {
        let label = match f.finding.status {
            FindingStatus::Fail => "FAIL",
            FindingStatus::Waived => "WAIVED",
            FindingStatus::Error => "ERROR",
            _ => continue,
        };
        let place = if f.default {
            format!("{} (default, not set in the file)", f.file)
        } else {
            format!("{}:{}", f.file, f.line)
        };
        let _ = writeln!(
            out,
            "  {label} {:<8} {} {}: {} (expected {})  at {place}",
            f.finding.severity.as_str().to_uppercase(),
            f.finding.rule,
            f.finding.key,
            f.finding.actual.as_deref().unwrap_or("absent"),
            f.finding.expected,
        );
        if f.finding.status == FindingStatus::Error {
            let _ = writeln!(out, "      {}", f.finding.message);
        }
    }
    for s in report.snapshot.iter().filter(|s| s.note.is_some()) {
        let written = match s.written.as_deref() {
            Some("") | None => String::new(),
            Some(w) => format!(" (written `{w}`)"),
        };
        let _ = writeln!(
            out,
            "  NOTE {} = {}{written}: {}  at {}:{}",
            s.key,
            s.value,
            s.note.as_deref().unwrap_or(""),
            s.file,
            s.line
        );
    }
    out
}

/// The report as one pretty-printed JSON object.
pub fn json(report: &Report) -> String {
    serde_json::to_string_pretty(report).expect("a report serializes")
}

/// Escapes text for XML content and attribute values.
pub fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("&#10;"),
            '\t' => out.push_str("&#9;"),
            '\r' => out.push_str("&#13;"),
            // Characters XML 1.0 cannot carry at all.
            c if (c as u32) < 0x20 => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}
