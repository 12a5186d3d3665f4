//! A replication group over three runs, for the group page: the primary gets a pending
//! `max_connections` (a pre-flight finding on the standby), then the standby's replay
//! pauses and lag grows. The members differ in `port` and `data_directory` (expected:
//! identity), `primary_conninfo` (expected: role) and `work_mem` and the pending
//! `max_connections` (drift). And the tests of the group page and pre-flight sections.

use std::collections::BTreeMap;

use super::fixtures::{at, finding, run, target};
use crate::diff::{Change, ExpectedDifferences};
use crate::finding::{Drift, FindingStatus, Severity};
use crate::run::{Run, TargetRun};
use crate::snapshot::{Entry, Kind, PendingKind, Role, ServerInfo, Snapshot, State};

fn state(pairs: &[(&str, &str)]) -> State {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), Entry::new(*v))).collect()
}

fn member(name: &str, role: Role, when: &str, pairs: &[(&str, &str)]) -> TargetRun {
    let mut t = target(name, role, at(when));
    t.group = Some("ci".into());
    t.state = state(pairs).into();
    t
}

fn primary(when: &str, lag_s: &str) -> TargetRun {
    member(
        "ci-primary",
        Role::Primary,
        when,
        &[
            ("state.replica.standby_app.state", "streaming"),
            ("state.replica.standby_app.sync_state", "async"),
            ("state.replica.standby_app.replay_lag_s", lag_s),
        ],
    )
}

fn standby(when: &str, paused: &str, lag_s: &str, lag_b: &str) -> TargetRun {
    member(
        "ci-standby",
        Role::Replica,
        when,
        &[
            ("state.wal_receiver.status", "streaming"),
            ("state.wal_receiver.sender_host", "ci-primary"),
            ("state.wal_receiver.sender_port", "5432"),
            ("state.replication.replay_paused", paused),
            ("state.replication.replay_lag_s", lag_s),
            ("state.replication.replay_lag_bytes", lag_b),
        ],
    )
}

/// Newest first, as reports take them: (run 3, [run 2, run 1]).
pub fn runs() -> (Run, Vec<Run>) {
    let r1 = run(
        "20261125T150000Z-0001",
        "2026-11-25T15:00:00Z",
        None,
        vec![
            primary("2026-11-25T15:00:01Z", "0"),
            standby("2026-11-25T15:00:02Z", "false", "0", "0"),
        ],
    );
    let mut p2 = primary("2026-11-25T15:10:01Z", "0");
    p2.changes = vec![Change {
        key: "pending.max_connections".into(),
        before: None,
        after: Some("200".into()),
        location: Some("postgresql.auto.conf:3".into()),
        previous_location: None,
        rollback: None,
    }];
    let mut s2 = standby("2026-11-25T15:10:02Z", "false", "0", "0");
    let mut pre = finding(
        "PG-REPL-010",
        "max_connections",
        Severity::Critical,
        FindingStatus::Fail,
        "\u{2265} the group's primary",
        "100",
    );
    pre.message = "After the primary ci-primary restarts, standby ci-standby pauses replay.".into();
    pre.drift = Drift::Pending;
    pre.restarting = Some("ci-primary".into());
    s2.preflight = vec![pre];
    let r2 = run(
        "20261125T151000Z-0002",
        "2026-11-25T15:10:00Z",
        Some("20261125T150000Z-0001"),
        vec![p2, s2],
    );
    let mut s3 = standby("2026-11-25T15:11:02Z", "true", "420", "4194304");
    s3.preflight = r2.targets[1].preflight.clone();
    let r3 = run(
        "20261125T151100Z-0003",
        "2026-11-25T15:11:00Z",
        Some("20261125T151000Z-0002"),
        vec![primary("2026-11-25T15:11:01Z", "65"), s3],
    );
    (r3, vec![r2, r1])
}

pub fn snapshots() -> BTreeMap<String, Snapshot> {
    let snap = |name: &str, role, lines: &[(&str, &str)]| {
        let config = lines.iter().map(|(k, v)| ((*k).to_owned(), Entry::new(*v))).collect();
        Snapshot {
            target: name.into(),
            kind: Kind::Postgres,
            server: ServerInfo { version: "15.20".into(), role },
            config,
        }
    };
    let mut p = snap(
        "ci-primary",
        Role::Primary,
        &[
            ("setting.data_directory", "/var/lib/postgresql/15/main"),
            ("setting.max_connections", "100"),
            ("setting.port", "5432"),
            ("setting.wal_level", "replica"),
            ("setting.work_mem", "4MB"),
        ],
    );
    let pending = Entry {
        pending: Some(PendingKind::Restart),
        source_file: Some("postgresql.auto.conf".into()),
        source_line: Some(3),
        ..Entry::new("200")
    };
    p.config.insert("pending.max_connections".into(), pending);
    let s = snap(
        "ci-standby",
        Role::Replica,
        &[
            ("setting.data_directory", "/var/lib/postgresql/15/standby"),
            ("setting.max_connections", "100"),
            ("setting.port", "5433"),
            ("setting.primary_conninfo", "host=ci-primary port=5432"),
            ("setting.wal_level", "replica"),
            ("setting.work_mem", "8MB"),
        ],
    );
    BTreeMap::from([("ci-primary".to_owned(), p), ("ci-standby".to_owned(), s)])
}

/// What the shipped PostgreSQL topology policy says of these keys (one kind only: a
/// Redis group would not fold them).
pub fn expected() -> ExpectedDifferences {
    let mut e = ExpectedDifferences::default();
    for key in ["setting.port", "setting.data_directory"] {
        e.insert(Kind::Postgres, key, "identity: where each server lives");
    }
    e.insert(Kind::Postgres, "setting.primary_conninfo", "set by role: a standby has an upstream");
    e.insert(Kind::Redis, "setting.work_mem", "not a PostgreSQL reason");
    e
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{Page, ReportInput, render};

    fn pages() -> Vec<Page> {
        let (run, history) = runs();
        let input = ReportInput {
            run: &run,
            history: &history,
            snapshots: &snapshots(),
            expected: &expected(),
        };
        render(&input).unwrap()
    }

    fn page<'a>(pages: &'a [Page], path: &str) -> &'a str {
        &pages.iter().find(|p| p.path == path).unwrap_or_else(|| panic!("no {path}")).html
    }

    /// Page by page (as `audit` publishes: each group page given only its members'
    /// snapshots) gives the same group page as a whole render.
    #[test]
    fn group_page_from_its_members_snapshots_only_is_the_same() {
        let (run, history) = runs();
        let all = snapshots();
        let whole = pages();
        let renderer = crate::report::Renderer::new().unwrap();
        let expected = expected();
        let prepared = renderer.prepare(&run, &history, &all).with_expected_differences(&expected);
        let groups = prepared.groups();
        assert_eq!(groups.len(), 1);
        for (group, members) in groups {
            let mine: BTreeMap<String, Snapshot> = members
                .iter()
                .filter_map(|t| Some((t.name.clone(), all.get(&t.name)?.clone())))
                .collect();
            let one = prepared.group_page(group, &mine).unwrap();
            assert_eq!(one.html, page(&whole, &one.path));
        }
    }

    #[test]
    fn group_page_reads_change_then_lag_in_order() {
        let pages = pages();
        let html = page(&pages, "reports/groups/ci.html");
        let change =
            html.find("c-20261125t151000z-0002-ci-primary-pending-max-connections").unwrap();
        let paused = html.find("<td>replay paused</td>").unwrap();
        let lag = html.find("lag rose above 5 min").unwrap();
        assert!(change < paused && change < lag, "change first, then the standby's lag");
        assert!(html.contains("15:10:01 UTC"), "the change's time");
        assert!(html.contains("pending change"));
        // Topology: the standby replicates from the primary, resolved by address.
        assert!(html.contains(r##"<a href="#m-ci-primary">ci-primary</a>"##), "{html}");
        assert!(html.contains("streaming, replay paused"));
        // Differences: port differs, wal_level does not; the pending value shows.
        assert!(html.contains(r#"<tr id="d-port">"#) && !html.contains(r#"id="d-wal-level""#));
        assert!(html.contains(r#"<tr id="d-pending-max-connections">"#));
    }

    /// The view model: drift first (by key), then what the policies expect, each with
    /// its reason; a reason of another kind does not fold a PostgreSQL setting.
    #[test]
    fn group_differences_split_drift_from_what_policies_expect() {
        let (run, history) = runs();
        let all = snapshots();
        let expected = expected();
        let mut site = crate::report::site::Site::new(&run, &history, &all);
        site.expected = &expected;
        let view = crate::report::group_page::build(&site, "ci", &all);
        let rows = |rows: &[crate::report::group_page::DifferenceRow]| -> Vec<(String, String)> {
            rows.iter().map(|d| (d.setting.clone(), d.reason.clone())).collect()
        };
        let s = |a: &str, b: &str| (a.to_owned(), b.to_owned());
        assert_eq!(rows(&view.differences), [s("pending.max_connections", ""), s("work_mem", "")]);
        assert_eq!(
            rows(&view.expected),
            [
                s("data_directory", "identity: where each server lives"),
                s("port", "identity: where each server lives"),
                s("primary_conninfo", "set by role: a standby has an upstream"),
            ]
        );
        assert_eq!(view.expected_count, "3");
        assert_eq!(
            view.differences_note,
            "2 settings differ across 2 collected members that no policy expects to differ."
        );
        // A key only one member holds shows the other as absent.
        assert_eq!(view.expected[2].values[0].short, "(absent)");

        // Without expected differences, everything is drift, still by key
        // (`pending.*` before `setting.*`).
        let plain = crate::report::site::Site::new(&run, &history, &all);
        let view = crate::report::group_page::build(&plain, "ci", &all);
        assert!(view.expected.is_empty());
        let keys: Vec<String> = view.differences.iter().map(|d| d.setting.clone()).collect();
        let want =
            ["pending.max_connections", "data_directory", "port", "primary_conninfo", "work_mem"];
        assert_eq!(keys, want);
    }

    /// The page: the drift's table, then the expected ones in a closed `<details>`.
    #[test]
    fn expected_differences_fold_below_the_drift() {
        let pages = pages();
        let html = page(&pages, "reports/groups/ci.html");
        let drift = html.find(r#"<tr id="d-work-mem">"#).expect("the drift row");
        let fold =
            html.find(r#"<details id="expected-differences"><summary>3 expected differences"#);
        let fold = fold.expect("a closed details of the expected differences");
        let port = html.find(r#"<tr id="d-port">"#).unwrap();
        let end = fold + html[fold..].find("</tbody></table></details>").unwrap();
        assert!(drift < fold && fold < port && port < end, "drift first, then the fold");
        assert!(html[fold..end].contains("<td>identity: where each server lives</td>"));
        assert!(!html[..fold].contains(r#"id="d-port""#));
    }

    /// A collected member with a failing finding is not shown as PASS.
    #[test]
    fn a_member_with_failing_findings_shows_fail_not_pass() {
        use crate::finding::{FindingStatus, Severity};
        let (mut run, history) = runs();
        let standby = run.targets.iter_mut().find(|t| t.name == "ci-standby").unwrap();
        let failing = crate::report::fixtures::finding(
            "PG-REPL-005",
            "hot_standby",
            Severity::High,
            FindingStatus::Fail,
            "on",
            "off",
        );
        standby.findings = vec![failing].into();
        let renderer = crate::report::Renderer::new().unwrap();
        let all = snapshots();
        let prepared = renderer.prepare(&run, &history, &all);
        let html = prepared.group_page("ci", &all).unwrap().html;
        let row = |id: &str| {
            let start = html.find(&format!(r#"<tr id="{id}">"#)).unwrap();
            html[start..start + html[start..].find("</tr>").unwrap()].to_owned()
        };
        assert!(
            row("m-ci-standby").contains("FAIL</span> <span class=\"muted\">collected; 1 failing"),
            "{}",
            row("m-ci-standby")
        );
        assert!(row("m-ci-primary").contains("PASS</span>"), "{}", row("m-ci-primary"));
    }

    #[test]
    fn preflight_has_its_section_and_ids_on_every_page() {
        let pages = pages();
        let id = r#"<article id="p-ci-standby-pg-repl-010""#;
        for path in [
            "reports/groups/ci.html",
            "reports/runs/20261125T151100Z-0003.html",
            "reports/targets/ci-standby.html",
            "reports/targets/ci-primary.html",
        ] {
            let html = page(&pages, path);
            assert!(html.contains(r#"<h2 id="restart">On the next restart"#), "{path}");
            assert!(html.contains(id), "{path} lacks the pre-flight article");
        }
        assert!(
            page(&pages, "reports/targets/ci-primary.html")
                .contains("restart of <a href=\"../targets/ci-primary.html\">ci-primary</a>")
        );
    }

    #[test]
    fn group_page_is_linked_deterministic_and_well_formed() {
        let a = pages();
        assert_eq!(a, pages());
        assert!(page(&a, "reports/index.html").contains(r#"<a href="groups/ci.html">ci</a>"#));
        assert!(
            page(&a, "reports/targets/ci-standby.html")
                .contains(r#"<a href="../groups/ci.html">ci</a>"#)
        );
        crate::report::tests::check_links_and_ids(&a);
    }

    #[test]
    fn group_page_snapshot() {
        insta::assert_snapshot!("group", page(&pages(), "reports/groups/ci.html"));
    }
}
