//! The PgBouncer collector against the PgBouncer `pgbouncer.sh` starts on 6432 in front
//! of the system PostgreSQL, with its least-privilege `stats_users` account.

use std::time::Duration;

use driftwatch::collect::CollectError;
use driftwatch::collect::pgbouncer::collect;
use driftwatch::snapshot::{Kind, Role};

use crate::support::{
    PGBOUNCER, PGBOUNCER_STATS_USER, endpoint, entry, pgbouncer_endpoint, pgbouncer_url, value,
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
