//! SARIF 2.1.0 for code scanning: one `rules` entry per rule evaluated, one result per
//! failing (or waived, as suppressed) finding, located at the file and line where the
//! value was written (the top-level file, line 1, for a default). A rule's references
//! give its `helpUri` (the first address) and its control ids join its `tags`.

use serde_json::{Value, json};

use crate::check::Report;
use crate::finding::{FindingStatus, Reference, Severity};

pub const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";

/// critical/high → error, medium → warning, low/info → note.
pub fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::Info => "note",
    }
}

pub fn sarif(report: &Report) -> String {
    let mut rules: Vec<Value> = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for cf in &report.findings {
        let f = &cf.finding;
        if !seen.insert(f.rule.clone()) {
            continue;
        }
        let mut help = f.rationale.as_deref().unwrap_or_default().to_owned();
        if let Some(r) = &f.remediation {
            help.push_str(&format!("\n\nRemediation: {r}"));
        }
        let mut tags = vec![report.kind.as_str().to_owned(), f.policy.clone()];
        tags.extend(f.references.iter().filter_map(Reference::control_id));
        let mut rule = json!({
            "id": f.rule,
            "name": f.rule,
            "shortDescription": { "text": format!("{} {}", f.key, f.expected) },
            "fullDescription": { "text": f.rationale.as_deref().map_or_else(|| format!("{} {}", f.key, f.expected), str::to_owned) },
            "help": { "text": if help.is_empty() { format!("{} should be {}", f.key, f.expected) } else { help.trim().to_owned() } },
            "defaultConfiguration": { "level": level(f.severity) },
            "properties": { "policy": f.policy, "severity": f.severity.as_str(), "tags": tags },
        });
        if let Some(url) = f.references.iter().find_map(|r| r.url.as_deref()) {
            rule["helpUri"] = json!(url);
        }
        if !f.references.is_empty() {
            rule["properties"]["references"] = json!(f.references);
        }
        rules.push(rule);
    }
    let results: Vec<Value> = report
        .findings
        .iter()
        .filter(|cf| matches!(cf.finding.status, FindingStatus::Fail | FindingStatus::Waived))
        .map(|cf| {
            let f = &cf.finding;
            let rule_index = rules.iter().position(|r| r["id"] == f.rule.as_str()).unwrap_or(0);
            let mut result = json!({
                "ruleId": f.rule,
                "ruleIndex": rule_index,
                "level": level(f.severity),
                "message": { "text": if cf.default {
                    format!("{} (not set in the file: this is the default)", f.message)
                } else {
                    f.message.clone()
                } },
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": { "uri": uri(&cf.file) },
                        "region": { "startLine": cf.line },
                    }
                }],
                "properties": { "key": f.key, "expected": f.expected, "actual": f.actual, "severity": f.severity.as_str() },
            });
            if let Some(w) = f.waiver.as_ref().filter(|_| f.status == FindingStatus::Waived) {
                result["suppressions"] = json!([{
                    "kind": "external",
                    "justification": format!("{} (waived until {})", w.reason, w.expires),
                }]);
            }
            result
        })
        .collect();
    let doc = json!({
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": "driftwatch",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rules,
            } },
            "results": results,
        }],
    });
    serde_json::to_string_pretty(&doc).expect("SARIF serializes")
}

/// A file path as a SARIF URI reference: `/`-separated, no leading `./`, spaces and
/// other reserved characters percent-encoded.
fn uri(path: &str) -> String {
    let path = path.replace('\\', "/");
    let path = path.strip_prefix("./").unwrap_or(&path);
    let mut out = String::new();
    for b in path.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                out.push(b as char)
            }
            b => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}
