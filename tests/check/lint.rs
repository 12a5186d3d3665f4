//! `driftwatch policy lint`.

use super::{driftwatch, exit};

#[test]
fn shipped_policies_are_clean() {
    let out = exit(&driftwatch(&["policy", "lint", "policies"]), 0);
    assert!(out.trim_end().ends_with("rules: ok"), "{out}");
    assert!(out.starts_with("17 policies, "), "{out}");
}

#[test]
fn every_problem_kind_with_file_line_col() {
    let out = driftwatch(&["policy", "lint", "tests/fixtures/check/broken"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let f = "tests/fixtures/check/broken/bad.toml";
    for want in [
        format!(
            "{f}:8:7: no postgres setting is called `shared_bufers`; did you mean `setting.shared_buffers`?"
        ),
        format!("{f}:15:21: `64mb` does not parse as a quantity"),
        format!(
            "{f}:21:18: `setting.statement_timeout` is a time setting but `64MB` is a memory value"
        ),
        format!("{f}:27:11: waiver for `B-001` expired on 2020-01-01"),
        format!("{f}:30:8: waiver for unknown rule `B-404`"),
    ] {
        assert!(stderr.contains(&want), "missing {want}\n{stderr}");
    }
    assert!(stderr.contains("error: invalid policies (5 problems)"), "{stderr}");
}

#[test]
fn test_policies_for_other_engines_are_clean() {
    exit(&driftwatch(&["policy", "lint", "tests/fixtures/check/policies"]), 0);
}
