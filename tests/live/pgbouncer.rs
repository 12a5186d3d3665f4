//! The PgBouncer collector against the PgBouncer `pgbouncer.sh` starts on 6432 in front
//! of the system PostgreSQL, with its least-privilege `stats_users` account.

use std::collections::BTreeMap;
use std::path::Path;
use std::str::FromStr as _;
use std::time::Duration;

use driftwatch::collect::pgbouncer::collect;
use driftwatch::collect::{CollectError, Collected};
use driftwatch::finding::FindingStatus;
use driftwatch::policy::{Group, Member, PolicySet, TargetFacts, evaluate_in, parse};
use driftwatch::policy_files;
use driftwatch::snapshot::{Kind, Role};
use sqlx::Connection as _;
use sqlx::postgres::{PgConnectOptions, PgConnection};

use crate::support::{
    PG_PRIMARY, PGBOUNCER, PGBOUNCER_POOL_PASSWORD, PGBOUNCER_STATS_USER, endpoint, entry,
    pg_endpoint, pgbouncer_endpoint, pgbouncer_url, value,
};

#[tokio::test]
async fn snapshot_has_settings_databases_pools_and_version() {
    let c = collect(&pgbouncer_endpoint()).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.snapshot.kind, Kind::Pgbouncer);
    assert_eq!(c.snapshot.server.role, Role::Standalone);
    assert!(c.snapshot.server.version.starts_with("1."), "{:?}", c.snapshot.server);
    let config = &c.snapshot.config;
    assert_eq!(value(config, "setting.listen_port"), PGBOUNCER.to_string());
    assert_eq!(value(config, "setting.stats_users"), PGBOUNCER_STATS_USER);
    let qwt = entry(config, "setting.query_wait_timeout");
    assert_eq!((qwt.value.as_str(), qwt.unit.as_deref()), ("120", Some("s")));
    assert_eq!(qwt.source.as_deref(), Some("default"));
    assert_eq!(qwt.context.as_deref(), Some("reload"));
    let mode = entry(config, "setting.pool_mode");
    assert_eq!(mode.source.as_deref(), Some("configured"), "pgbouncer.sh sets transaction");
    assert_eq!(entry(config, "setting.listen_port").context.as_deref(), Some("restart"));
    // pgbouncer.sh: `test` has pool_size=1, `postgres` the defaults it sets.
    assert_eq!(value(config, "database.test.pool_size"), "1");
    assert_eq!(value(config, "database.postgres.pool_size"), "20");
    assert_eq!(value(config, "database.postgres.reserve_pool"), "2");
    assert!(!config.keys().any(|k| k.starts_with("database.pgbouncer.")), "the console");

    for key in ["state.pools.cl_waiting", "state.pools.count", "state.pools.server_connections"] {
        value(&c.state, key).parse::<u64>().unwrap_or_else(|e| panic!("{key}: {e}"));
    }
    assert_eq!(entry(&c.state, "state.pools.maxwait_s").unit.as_deref(), Some("s"));
    let max: u64 = value(&c.state, "state.pools.server_connections_max").parse().unwrap();
    // Each database has one user (postgres) at most: (20 + 2) + (1 + 2).
    assert_eq!(max, 25, "postgres 20 + 2 reserve, test 1 + 2 reserve");
    assert_eq!(value(&c.state, "state.connections.limit"), "100");
    let in_use: u64 = value(&c.state, "state.connections.in_use").parse().unwrap();
    assert!(in_use >= 1, "we are a client: {in_use}");
    value(&c.state, "state.stats.pgbouncer.total_query_count").parse::<u64>().unwrap();
    assert_eq!(entry(&c.state, "state.connect_ms").unit.as_deref(), Some("ms"));
}

#[tokio::test]
async fn a_user_not_in_stats_users_is_told_what_to_add() {
    let _ = pgbouncer_endpoint();
    let url = format!(
        "postgres://postgres:driftwatch-pgbouncer-postgres@127.0.0.1:{PGBOUNCER}/pgbouncer"
    );
    let err = collect(&endpoint(Kind::Pgbouncer, &url, Duration::from_secs(5))).await.unwrap_err();
    match err {
        CollectError::Failed(m) => assert!(m.contains("stats_users"), "{m}"),
        other => panic!("a refusal is a failure to fix in config: {other:?}"),
    }
}

#[tokio::test]
async fn a_wrong_password_fails_without_showing_it() {
    let _ = pgbouncer_endpoint();
    let url = pgbouncer_url().replace("driftwatch-pgbouncer-stats@", "not-the-password@");
    let err = collect(&endpoint(Kind::Pgbouncer, &url, Duration::from_secs(5))).await.unwrap_err();
    assert!(matches!(err, CollectError::Failed(_)), "{err:?}");
    assert!(!err.to_string().contains("not-the-password"), "{err}");
}

// --- the shipped baseline -------------------------------------------------------------

fn shipped() -> PolicySet {
    let dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/policies"));
    parse(policy_files::read(dir).unwrap_or_else(|d| panic!("{d}")))
        .unwrap_or_else(|d| panic!("{d}"))
}

fn today() -> chrono::NaiveDate {
    chrono::NaiveDate::from_ymd_opt(2026, 12, 2).unwrap()
}

/// The findings of the PB-* rules on `c` in `group` (alone when `None`), by rule id.
fn pb_findings(
    c: &Collected,
    name: &str,
    group: Option<&Group<'_>>,
) -> BTreeMap<String, (FindingStatus, String)> {
    let labels = BTreeMap::new();
    let target =
        TargetFacts { name, kind: Kind::Pgbouncer, role: Role::Standalone, labels: &labels };
    let findings = evaluate_in(&shipped(), &target, &c.snapshot, &c.state, group, None, today());
    findings.into_iter().map(|f| (f.rule, (f.status, f.message))).collect()
}

#[tokio::test]
async fn shipped_baseline_evaluates_without_errors() {
    let c = collect(&pgbouncer_endpoint()).await.unwrap_or_else(|e| panic!("{e}"));
    let findings = pb_findings(&c, "pb", None);
    assert!(findings.keys().all(|id| id.starts_with("PB-")), "{findings:?}");
    for (id, (status, message)) in &findings {
        assert_ne!(*status, FindingStatus::Error, "{id}: {message}");
    }
    let status = |id: &str| findings[id].0;
    // pgbouncer.sh: PgBouncer's defaults but reserve_pool_size = 2.
    for id in ["PB-CONN-001", "PB-CONN-002", "PB-CONN-003", "PB-CONN-006", "PB-CONN-008"] {
        assert_eq!(status(id), FindingStatus::Pass, "{id}: {}", findings[id].1);
    }
    assert_eq!(status("PB-POOL-001"), FindingStatus::NotApplicable, "needs the group");
}

/// PB-POOL-001 with the real servers: the primary's usable max_connections from its own
/// settings, the pooler's bound from its own SHOW DATABASES. One pooler fits; as many
/// poolers as it takes to pass the limit (the same PgBouncer, collected under as many
/// names: N identical poolers in front of one primary) fail, naming both numbers.
#[tokio::test]
async fn poolers_sized_past_the_primarys_limit_fail_the_cross_component_rule() {
    let pb = collect(&pgbouncer_endpoint()).await.unwrap_or_else(|e| panic!("{e}"));
    let pg = driftwatch::collect::collect(&pg_endpoint(PG_PRIMARY))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let setting = |k: &str| -> u64 {
        pg.snapshot.get(&format!("setting.{k}")).map_or(0, |e| e.value.parse().unwrap())
    };
    let usable = setting("max_connections")
        - setting("superuser_reserved_connections")
        - setting("reserved_connections");
    let per_pooler: u64 = value(&pb.state, "state.pools.server_connections_max").parse().unwrap();

    let verdict = |poolers: u64| {
        let names: Vec<String> = (1..=poolers).map(|i| format!("pb{i}")).collect();
        let mut members = vec![Member {
            name: "db",
            role: Role::Primary,
            snapshot: &pg.snapshot,
            state: &pg.state,
        }];
        for name in &names {
            members.push(Member {
                name,
                role: Role::Standalone,
                snapshot: &pb.snapshot,
                state: &pb.state,
            });
        }
        let group = Group { name: "orders", members: &members, not_collected: &[] };
        pb_findings(&pb, "pb1", Some(&group)).remove("PB-POOL-001").unwrap()
    };

    let fits = usable / per_pooler;
    assert!(fits >= 1, "one pooler ({per_pooler}) must fit the test primary ({usable})");
    let (status, message) = verdict(fits);
    assert_eq!(status, FindingStatus::Pass, "{message}");
    let (status, message) = verdict(fits + 1);
    assert_eq!(status, FindingStatus::Fail, "{message}");
    let total = per_pooler * (fits + 1);
    assert!(message.contains(&format!("open up to {total} server connections")), "{message}");
    assert!(message.contains(&format!("the primary db accepts {usable}")), "{message}");
}

// --- clients made to wait ---------------------------------------------------------------

/// A client of the `test` database through the pooler (pool_size 1, transaction pooling).
async fn pooled_client() -> PgConnection {
    let url = format!("postgres://postgres:{PGBOUNCER_POOL_PASSWORD}@127.0.0.1:{PGBOUNCER}/test");
    let options = PgConnectOptions::from_str(&url).unwrap().extra_float_digits(None);
    PgConnection::connect_with(&options).await.unwrap_or_else(|e| panic!("through the pooler: {e}"))
}

/// One client holds the only server connection of `test` in a transaction; a second
/// client's query waits for it. The collector sees it waiting, with its wait, and
/// PB-POOL-002/003 fail; once the transaction ends the pool drains and both pass again.
/// (Under 5 s: past reserve_pool_timeout the reserve pool would serve the waiter.)
#[tokio::test]
async fn a_client_waiting_for_a_server_connection_shows_as_waiting_with_its_wait() {
    let _ = pgbouncer_endpoint();
    let mut holder = pooled_client().await;
    sqlx::raw_sql("BEGIN; SELECT 1").execute(&mut holder).await.unwrap();
    let mut waiter = pooled_client().await;
    let waiting =
        tokio::spawn(
            async move { sqlx::raw_sql("SELECT 1").execute(&mut waiter).await.map(|_| ()) },
        );
    tokio::time::sleep(Duration::from_millis(1500)).await;

    let c = collect(&pgbouncer_endpoint()).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(value(&c.state, "state.pool.postgres@test.cl_waiting"), "1");
    assert_eq!(value(&c.state, "state.pool.postgres@test.sv_active"), "1");
    let wait: f64 = value(&c.state, "state.pool.postgres@test.maxwait_s").parse().unwrap();
    assert!((1.0..5.0).contains(&wait), "waited about 1.5 s: {wait}");
    let total_wait: f64 = value(&c.state, "state.pools.maxwait_s").parse().unwrap();
    assert!(total_wait >= wait, "{total_wait} < {wait}");
    assert!(value(&c.state, "state.pools.cl_waiting").parse::<u64>().unwrap() >= 1);
    let findings = pb_findings(&c, "pb", None);
    assert_eq!(findings["PB-POOL-002"].0, FindingStatus::Fail, "{:?}", findings["PB-POOL-002"]);
    assert_eq!(findings["PB-POOL-003"].0, FindingStatus::Fail, "{:?}", findings["PB-POOL-003"]);

    sqlx::raw_sql("COMMIT").execute(&mut holder).await.unwrap();
    tokio::time::timeout(Duration::from_secs(10), waiting)
        .await
        .expect("the waiter is served once the transaction ends")
        .unwrap()
        .unwrap();
    let c = collect(&pgbouncer_endpoint()).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(value(&c.state, "state.pool.postgres@test.cl_waiting"), "0");
    let findings = pb_findings(&c, "pb", None);
    assert_eq!(findings["PB-POOL-003"].0, FindingStatus::Pass, "{:?}", findings["PB-POOL-003"]);
}
