//! JUnit XML: one `<testcase classname="<policy>" name="<rule id> <key>">` per rule;
//! `<failure>` for a failing rule, `<error>` for one that could not be evaluated,
//! `<skipped/>` for one that does not apply. A rule's references are the testcase's
//! `<properties>`: `control` (its id in a benchmark), `reference` (title) and `url`.

use std::fmt::Write as _;

use super::xml_escape as esc;
use crate::check::Report;
use crate::finding::FindingStatus;

pub fn junit(report: &Report) -> String {
    let s = &report.summary;
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let suite = format!("driftwatch check {} ({})", report.files.join(" + "), report.kind);
    let _ = writeln!(
        out,
        "<testsuites name=\"{name}\" tests=\"{t}\" failures=\"{f}\" errors=\"{e}\" skipped=\"{k}\">",
        name = esc(&suite),
        t = s.rules,
        f = s.fail,
        e = s.error,
        k = s.not_applicable
    );
    let _ = writeln!(
        out,
        "  <testsuite name=\"{name}\" tests=\"{t}\" failures=\"{f}\" errors=\"{e}\" skipped=\"{k}\">",
        name = esc(&suite),
        t = s.rules,
        f = s.fail,
        e = s.error,
        k = s.not_applicable
    );
    for cf in &report.findings {
        let f = &cf.finding;
        let _ = write!(
            out,
            "    <testcase classname=\"{}\" name=\"{}\" file=\"{}\" line=\"{}\"",
            esc(&f.policy),
            esc(&format!("{} {}", f.rule, f.key)),
            esc(&cf.file),
            cf.line
        );
        let body = format!(
            "{}\nseverity: {}\nexpected: {}\nactual: {}\nat: {}:{}{}\n{}{}",
            f.message,
            f.severity,
            f.expected,
            f.actual.as_deref().unwrap_or("absent"),
            cf.file,
            cf.line,
            if cf.default { " (default)" } else { "" },
            f.rationale.as_deref().map(|r| format!("rationale: {r}\n")).unwrap_or_default(),
            f.remediation.as_deref().map(|r| format!("remediation: {r}\n")).unwrap_or_default(),
        );
        let mut props = String::new();
        for r in f.references.iter() {
            if let Some(id) = r.control_id() {
                let _ =
                    write!(props, "\n        <property name=\"control\" value=\"{}\"/>", esc(&id));
            }
            let _ = write!(
                props,
                "\n        <property name=\"reference\" value=\"{}\"/>",
                esc(&r.title)
            );
            if let Some(url) = &r.url {
                let _ = write!(props, "\n        <property name=\"url\" value=\"{}\"/>", esc(url));
            }
        }
        if !props.is_empty() {
            let _ = write!(out, ">\n      <properties>{props}\n      </properties");
            if f.status == FindingStatus::Pass {
                let _ = writeln!(out, ">\n    </testcase>");
                continue;
            }
        }
        match f.status {
            FindingStatus::Fail => {
                let _ = writeln!(
                    out,
                    ">\n      <failure message=\"{}\" type=\"{}\">{}</failure>\n    </testcase>",
                    esc(&f.message),
                    f.severity,
                    esc(&body)
                );
            }
            FindingStatus::Error => {
                let _ = writeln!(
                    out,
                    ">\n      <error message=\"{}\" type=\"{}\">{}</error>\n    </testcase>",
                    esc(&f.message),
                    f.severity,
                    esc(&body)
                );
            }
            FindingStatus::NotApplicable => {
                let _ = writeln!(
                    out,
                    ">\n      <skipped message=\"{}\"/>\n    </testcase>",
                    esc(&f.message)
                );
            }
            FindingStatus::Waived => {
                let _ = writeln!(
                    out,
                    ">\n      <system-out>{}</system-out>\n    </testcase>",
                    esc(&f.message)
                );
            }
            FindingStatus::Pass => {
                let _ = writeln!(out, "/>");
            }
        }
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}
