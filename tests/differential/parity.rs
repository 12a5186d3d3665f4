//! `check` and a live `audit` give the same status for the same value on every shipped
//! rule. For each file, a server is started on it (in a network namespace of its own,
//! as the differential cases are), collected with driftwatch's own collector and
//! evaluated with `policies/`; the same file goes through `check` with the same
//! policies. Every rule `check` judges (not `not_applicable` because it needs a live
//! server) must have the same status both ways.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use driftwatch::check::{self, Subject};
use driftwatch::collect::conffile::{self, RealFiles};
use driftwatch::collect::{Collected, Endpoint};
use driftwatch::finding::FindingStatus;
use driftwatch::policy::{self, TargetFacts};
use driftwatch::snapshot::{Kind, Role};

use super::{Case, netns};

#[rustfmt::skip]
const REDIS: &[Case] = &[
    Case::new("defaults", "an empty file", &[("redis.conf", "")]),
    Case::new("units", "sizes and times written with units", &[("redis.conf", "maxmemory 64mb\nmaxmemory-policy allkeys-lru\nrepl-backlog-size 16mb\ntimeout 300\nrepl-timeout 10\nprotected-mode yes\nbind 127.0.0.1\n")]),
    Case::new("small", "values below the baselines' limits", &[("redis.conf", "maxmemory 1mb\nrepl-backlog-size 16kb\nrepl-timeout 5\nprotected-mode no\nappendonly yes\nmin-replicas-to-write 1\nmin-replicas-max-lag 30\n")]),
    Case::new("hardening", "keepalive, idle timeout, log level, fsync and replica buffers", &[("redis.conf", "maxclients 100\ntcp-keepalive 0\ntimeout 30\nloglevel warning\nappendonly yes\nappendfsync no\nclient-output-buffer-limit replica 64mb 16mb 60\nreplica-serve-stale-data no\nreplica-ignore-maxmemory no\n")]),
    Case::new("hardening passes", "the same settings at safe values", &[("redis.conf", "maxclients 4000\ntcp-keepalive 60\ntimeout 300\nloglevel notice\nappendonly yes\nappendfsync always\nclient-output-buffer-limit replica 512mb 128mb 60\n")]),
];

#[rustfmt::skip]
const MEMCACHED: &[Case] = &[
    Case::new("Debian's file", "the shipped options", &[("memcached.conf", "-d\nlogfile /var/log/memcached.log\n-m 64\n-p 11211\n-u memcache\n-l 127.0.0.1\n")]),
    Case::new("defaults", "an empty file (-u root added)", &[("memcached.conf", "")]),
    Case::new("sizes", "item size and memory with suffixes", &[("memcached.conf", "-u memcache\n-m 16\n-I 2m\n-c 4096\n-U 11211\n-A\n-M\n")]),
];

#[test]
fn redis_check_and_audit_agree_on_every_shipped_rule() {
    super::require_binary("/usr/bin/redis-server", "install redis-server");
    let mut problems = Vec::new();
    for case in REDIS {
        let (_dir, main) = super::write_case(case, None);
        let port = super::redis::port_of(&main);
        let mut child = netns::spawn(
            "/usr/bin/redis-server",
            &[&main.display().to_string()],
            &main.with_extension("log"),
            main.parent().unwrap_or(Path::new("/")),
        );
        let url = format!("redis://127.0.0.1:{port}");
        let live = netns::wait_for(&mut child, move || collect(Kind::Redis, &url))
            .unwrap_or_else(|| panic!("redis-server refused the parity file `{}`", case.name));
        child.stop(libc::SIGKILL);
        problems.extend(compare(Kind::Redis, case, &main, live));
    }
    assert!(problems.is_empty(), "check and audit disagree:\n  {}", problems.join("\n  "));
}

#[test]
fn memcached_check_and_audit_agree_on_every_shipped_rule() {
    super::require_binary("/usr/bin/memcached", "install memcached: bash tests/setup/services.sh");
    let mut problems = Vec::new();
    for case in MEMCACHED {
        let (_dir, main) = super::write_case(case, Some("memcache"));
        let port = conffile::read(Kind::Memcached, std::slice::from_ref(&main), &RealFiles)
            .ok()
            .and_then(|r| r.config.get("setting.tcpport").and_then(|e| e.value.parse::<u16>().ok()))
            .unwrap_or(11211);
        let mut child = netns::spawn(
            "/usr/bin/perl",
            &[
                "/usr/share/memcached/scripts/systemd-memcached-wrapper",
                &main.display().to_string(),
            ],
            &main.with_extension("log"),
            Path::new("/"),
        );
        let url = format!("memcached://127.0.0.1:{port}");
        let live = netns::wait_for(&mut child, move || collect(Kind::Memcached, &url))
            .unwrap_or_else(|| panic!("memcached refused the parity file `{}`", case.name));
        child.stop(libc::SIGKILL);
        problems.extend(compare(Kind::Memcached, case, &main, live));
    }
    assert!(problems.is_empty(), "check and audit disagree:\n  {}", problems.join("\n  "));
}

/// The real PostgreSQL primary's own values, written into a postgresql.conf as a person
/// would (`name = 'setting'`: a bare number is in the setting's unit, as pg_settings
/// reports it): `check` on that file and the audit of the live server must judge every
/// shipped rule that reads a setting alike. Only settings a configuration file may set
/// are written (not `internal` ones, which the server computes).
#[test]
fn postgres_check_and_audit_agree_on_the_live_servers_values() {
    let port = crate::support::PG_PRIMARY;
    crate::support::require_service("127.0.0.1", port, "PostgreSQL: bash tests/setup/services.sh");
    let live = collect(Kind::Postgres, &crate::support::pg_url(port)).expect("collect PostgreSQL");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let set = driftwatch::policy_files::read(&root.join("policies"))
        .and_then(policy::parse)
        .expect("shipped policies");
    let read: std::collections::BTreeSet<&str> = set
        .policies()
        .iter()
        .filter(|p| p.applies_to.kind == Kind::Postgres)
        .flat_map(|p| &p.rules)
        .flat_map(|r| std::iter::once(r.key.as_str()).chain(r.when.iter().map(|w| w.key.as_str())))
        .filter_map(|k| k.strip_prefix("setting."))
        .collect();
    let out = std::process::Command::new("psql")
        .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-U", "postgres", "-d", "postgres"])
        .args([
            "-AtF",
            "\t",
            "-c",
            "SELECT name, setting FROM pg_settings WHERE context <> 'internal'",
        ])
        .output()
        .expect("run psql");
    assert!(out.status.success(), "psql: {}", String::from_utf8_lossy(&out.stderr));
    let mut file = String::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Some((name, setting)) = line.split_once('\t') else { continue };
        if read.contains(name) {
            file.push_str(&format!("{name} = '{}'\n", setting.replace('\'', "''")));
        }
    }
    assert!(file.lines().count() > 20, "the shipped rules read settings: {file}");
    let dir = tempfile::tempdir().unwrap();
    let main = dir.path().join("postgresql.conf");
    std::fs::write(&main, &file).unwrap();
    let case = Case::new("live values", "the primary's pg_settings", &[]);
    // Settings the server computes (`data_checksums`, from initdb) cannot be read from
    // a file: `check` leaves their rules unjudged (not applicable), which is no
    // disagreement.
    let internal = std::process::Command::new("psql")
        .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-U", "postgres", "-d", "postgres"])
        .args(["-At", "-c", "SELECT name FROM pg_settings WHERE context = 'internal'"])
        .output()
        .expect("run psql");
    let internal: Vec<String> = String::from_utf8_lossy(&internal.stdout)
        .lines()
        .map(|name| format!(" setting.{name}: check says not_applicable"))
        .collect();
    let problems: Vec<String> = compare(Kind::Postgres, &case, &main, live)
        .into_iter()
        .filter(|p| !internal.iter().any(|i| p.contains(i.as_str())))
        .collect();
    assert!(problems.is_empty(), "check and audit disagree:\n  {}\n{file}", problems.join("\n  "));
}

/// The same for MariaDB: the shared primary's `SHOW GLOBAL VARIABLES` values of every
/// variable a shipped rule reads, written under `[mysqld]` as `name = value`. Variables
/// that are not options (`have_ssl`, …) are refused by the reader as by mariadbd: those
/// lines are dropped (and their rules, which `check` then judges on defaults, are left
/// out of the comparison).
#[test]
fn mariadb_check_and_audit_agree_on_the_live_servers_values() {
    let port = crate::support::MY_PRIMARY;
    crate::support::require_service("127.0.0.1", port, "MariaDB: bash tests/setup/services.sh");
    let live = collect(Kind::Mysql, &crate::support::my_url(port)).expect("collect MariaDB");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let set = driftwatch::policy_files::read(&root.join("policies"))
        .and_then(policy::parse)
        .expect("shipped policies");
    let read: std::collections::BTreeSet<&str> = set
        .policies()
        .iter()
        .filter(|p| p.applies_to.kind == Kind::Mysql)
        .flat_map(|p| &p.rules)
        .flat_map(|r| std::iter::once(r.key.as_str()).chain(r.when.iter().map(|w| w.key.as_str())))
        .filter_map(|k| k.strip_prefix("setting."))
        .collect();
    let mut lines: Vec<(String, String)> = read
        .iter()
        .filter_map(|name| {
            let e = live.snapshot.config.get(&format!("setting.{name}"))?;
            Some((name.to_string(), e.value.clone()))
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let main = dir.path().join("my.cnf");
    let mut dropped = Vec::new();
    loop {
        let text: String = std::iter::once("[mysqld]\n".to_owned())
            .chain(lines.iter().map(|(n, v)| format!("{n} = {v}\n")))
            .collect();
        std::fs::write(&main, &text).unwrap();
        match conffile::read(Kind::Mysql, std::slice::from_ref(&main), &RealFiles) {
            Ok(_) => break,
            Err(d) => {
                let line = d.0.first().map_or(0, |d| d.line);
                assert!(line >= 2, "the reader refuses the file as a whole: {d}");
                dropped.push(lines.remove(line - 2).0);
            }
        }
    }
    assert!(lines.len() > 15, "the shipped rules read variables: {lines:?}");
    let case = Case::new("live values", "the primary's SHOW GLOBAL VARIABLES", &[]);
    let problems: Vec<String> = compare(Kind::Mysql, &case, &main, live)
        .into_iter()
        .filter(|p| !dropped.iter().any(|n| p.contains(&format!(" setting.{n}: "))))
        .collect();
    assert!(
        problems.is_empty(),
        "check and audit disagree:\n  {}\n(not options: {dropped:?})",
        problems.join("\n  ")
    );
}

#[rustfmt::skip]
const PGBOUNCER: &[Case] = &[
    Case::new("defaults", "only the main section", &[("pgbouncer.ini", "[pgbouncer]\n")]),
    Case::new("tuned", "values the baseline passes", &[("pgbouncer.ini", "[databases]\napp = host=127.0.0.1 dbname=app\n[pgbouncer]\nquery_wait_timeout = 30\nserver_connect_timeout = 5\nreserve_pool_size = 3\nreserve_pool_timeout = 2.5\nmax_client_conn = 1000\n")]),
    Case::new("risky", "values the baseline fails", &[("pgbouncer.ini", "[pgbouncer]\nquery_wait_timeout = 0\nserver_login_retry = 60\nserver_check_query =\ndefault_pool_size = 500\nmax_client_conn = 10\n")]),
];

#[test]
fn pgbouncer_check_and_audit_agree_on_every_shipped_rule() {
    super::require_binary("/usr/sbin/pgbouncer", "install pgbouncer: bash tests/setup/tools.sh");
    let mut problems = Vec::new();
    for case in PGBOUNCER {
        let (_dir, main) = super::write_case(case, Some("postgres"));
        let (child, port, _log) = super::pgbouncer::start(&main);
        let url = super::pgbouncer::url(port);
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let live = loop {
            if let Some(c) = collect(Kind::Pgbouncer, &url) {
                break c;
            }
            assert!(std::time::Instant::now() < deadline, "pgbouncer refused `{}`", case.name);
            std::thread::sleep(Duration::from_millis(50));
        };
        child.stop(libc::SIGTERM);
        problems.extend(compare(Kind::Pgbouncer, case, &main, live));
    }
    assert!(problems.is_empty(), "check and audit disagree:\n  {}", problems.join("\n  "));
}

/// One collection with driftwatch's collector, on this thread's network namespace.
fn collect(kind: Kind, url: &str) -> Option<Collected> {
    let endpoint = Endpoint {
        target: format!("parity-{kind}"),
        kind,
        url: url.to_owned(),
        connect_timeout: Duration::from_secs(2),
        statement_timeout: Duration::from_secs(5),
        limits: driftwatch::collect::Limits::default(),
        config_file: None,
    };
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
    rt.block_on(driftwatch::collect::collect(&endpoint)).ok()
}

/// Every shipped rule's status from the live snapshot and from `check`, where check
/// judges it.
fn compare(kind: Kind, case: &Case, main: &PathBuf, live: Collected) -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let set = driftwatch::policy_files::read(&root.join("policies"))
        .and_then(policy::parse)
        .expect("shipped policies");
    let today = chrono::Utc::now().date_naive();
    let labels = BTreeMap::new();
    let mut snapshot = live.snapshot;
    driftwatch::redact::snapshot(&mut snapshot);
    let facts = TargetFacts { name: "parity", kind, role: Role::Primary, labels: &labels };
    let live_status: BTreeMap<String, FindingStatus> =
        policy::evaluate(&set, &facts, &snapshot, &live.state, today)
            .into_iter()
            .map(|f| (f.rule, f.status))
            .collect();
    let read = conffile::read(kind, std::slice::from_ref(main), &RealFiles)
        .expect("check reads the parity file");
    let mut from_file = conffile::into_snapshot(kind, main, Role::Primary, read.config);
    driftwatch::redact::snapshot(&mut from_file);
    from_file.target = "parity".into();
    let files = [main.clone()];
    let subject = Subject {
        files: &files,
        target: "parity",
        role: Role::Primary,
        labels: &labels,
        adjusted: &read.adjusted,
    };
    let report = check::check(&set, &from_file, &subject, today);
    let mut out = Vec::new();
    let mut judged = 0;
    for f in &report.findings {
        // Readings only a live server has, and PostgreSQL's per-role and per-database
        // settings (ALTER ROLE/DATABASE … SET live in the catalog, never in a file):
        // `check` cannot judge them, by design (docs/policies.md).
        let scoped = f.finding.key.starts_with("role.") || f.finding.key.starts_with("database.");
        if f.finding.message.contains("needs a live server") || (kind == Kind::Postgres && scoped) {
            continue;
        }
        judged += 1;
        if std::env::var_os("DRIFTWATCH_DIFFERENTIAL_TRACE").is_some() {
            eprintln!(
                "{kind} `{}`: {} {} {}",
                case.name,
                f.finding.rule,
                f.finding.status,
                f.finding.actual.as_deref().unwrap_or("-")
            );
        }
        let live = live_status.get(&f.finding.rule);
        if live != Some(&f.finding.status) {
            out.push(format!(
                "{kind} `{}`: {} {}: check says {} ({}), audit {}",
                case.name,
                f.finding.rule,
                f.finding.key,
                f.finding.status,
                f.finding.actual.as_deref().unwrap_or("absent"),
                live.map_or("nothing".to_owned(), |s| s.to_string()),
            ));
        }
    }
    assert!(judged > 3, "{kind}: check judges only {judged} shipped rules");
    out
}
