//! The PostgreSQL collector against the local primary (5432) and its streaming replica
//! (5433), as a superuser and as the least-privilege auditor, plus unreachable servers.

use std::net::TcpListener;
use std::time::{Duration, Instant};

use driftwatch::collect::postgres::collect;
use driftwatch::collect::{CollectError, Collected};
use driftwatch::snapshot::{Kind, Role};

use crate::support::{
    PG_PRIMARY, PG_REPLICA, START_SERVICES, endpoint, entry, pg_endpoint, pg_replica_slot,
    pg_url_as, require_service, value,
};
const AUDITOR: &str = "driftwatch_auditor";

async fn collect_ok(port: u16) -> Collected {
    let endpoint = pg_endpoint(port);
    collect(&endpoint).await.unwrap_or_else(|e| panic!("collecting 127.0.0.1:{port}: {e}"))
}

/// A setting read from a configuration file, with the file and line it came from.
#[track_caller]
fn check_from_file(c: &Collected, key: &str) {
    let e = entry(&c.snapshot.config, key);
    assert_eq!(e.source.as_deref(), Some("configuration file"), "{key}: {e:?}");
    assert!(e.source_file.as_deref().is_some_and(|f| f.ends_with(".conf")), "{key}: {e:?}");
    assert!(e.source_line.is_some(), "{key}: {e:?}");
}

#[track_caller]
fn check_many_settings(c: &Collected) {
    let settings = c.snapshot.config.keys().filter(|k| k.starts_with("setting.")).count();
    assert!(settings > 200, "only {settings} settings");
}

#[tokio::test]
async fn primary_reports_settings_role_and_its_replica() {
    require_service("127.0.0.1", PG_REPLICA, START_SERVICES);
    let c = collect_ok(PG_PRIMARY).await;
    let config = &c.snapshot.config;
    assert_eq!(c.snapshot.kind, Kind::Postgres);
    assert_eq!(c.snapshot.server.role, Role::Primary);
    assert!(c.snapshot.server.version.starts_with("15"), "{:?}", c.snapshot.server);
    check_many_settings(&c);

    let wal_level = entry(config, "setting.wal_level");
    assert_eq!(wal_level.vartype.as_deref(), Some("enum"));
    assert_eq!(wal_level.context.as_deref(), Some("postmaster"));
    assert!(wal_level.source.is_some(), "{wal_level:?}");
    check_from_file(&c, "setting.port");
    assert_eq!(entry(config, "setting.shared_buffers").unit.as_deref(), Some("8kB"));

    let replica = format!("state.replica.{}", pg_replica_slot());
    assert_eq!(value(&c.state, &format!("{replica}.state")), "streaming");
    assert_eq!(value(&c.state, &format!("{replica}.client_addr")), "127.0.0.1");
    assert_eq!(value(&c.state, &format!("{replica}.sync_state")), "async");
    for lag in ["write_lag_s", "flush_lag_s", "replay_lag_s"] {
        let seconds: f64 = value(&c.state, &format!("{replica}.{lag}")).parse().unwrap();
        assert!(seconds >= 0.0, "{lag} = {seconds}");
    }
    let bytes: i64 = value(&c.state, &format!("{replica}.replay_lag_bytes")).parse().unwrap();
    assert!(bytes >= 0);
    let replicas: u32 = value(&c.state, "state.replicas.count").parse().unwrap();
    assert!(replicas >= 1);

    let slot = format!("state.slot.{}", pg_replica_slot());
    assert_eq!(value(&c.state, &format!("{slot}.active")), "true");
    assert_eq!(value(&c.state, &format!("{slot}.slot_type")), "physical");
    assert!(c.state.contains_key(&format!("{slot}.wal_status")));
    let retained: i64 = value(&c.state, &format!("{slot}.retained_bytes")).parse().unwrap();
    assert!(retained >= 0);

    let connect_ms = entry(&c.state, "state.connect_ms");
    assert_eq!(connect_ms.unit.as_deref(), Some("ms"));
    assert!(!c.state.keys().any(|k| k.starts_with("state.wal_receiver.")));
}

#[tokio::test]
async fn replica_reports_its_receiver_and_replay() {
    let c = collect_ok(PG_REPLICA).await;
    assert_eq!(c.snapshot.server.role, Role::Replica);
    assert!(c.snapshot.server.version.starts_with("15"));
    check_many_settings(&c);
    check_from_file(&c, "setting.primary_slot_name");

    assert_eq!(value(&c.state, "state.wal_receiver.status"), "streaming");
    assert_eq!(value(&c.state, "state.wal_receiver.sender_port"), PG_PRIMARY.to_string());
    assert_eq!(value(&c.state, "state.wal_receiver.slot_name"), pg_replica_slot());
    let conninfo = value(&c.state, "state.wal_receiver.conninfo");
    assert!(!conninfo.contains("driftwatch-test-secret"), "PostgreSQL masks it: {conninfo}");

    let lag = entry(&c.state, "state.replication.replay_lag_bytes");
    assert_eq!(lag.unit.as_deref(), Some("B"));
    assert!(lag.value.parse::<i64>().unwrap() >= 0, "{lag:?}");
    let lag_s: f64 = value(&c.state, "state.replication.replay_lag_s").parse().unwrap();
    assert!(lag_s >= 0.0);
    assert_eq!(value(&c.state, "state.replication.replay_paused"), "false");
}

#[tokio::test]
async fn replica_conninfo_password_is_raw_until_redacted() {
    let mut c = collect_ok(PG_REPLICA).await;
    let raw = value(&c.snapshot.config, "setting.primary_conninfo");
    assert!(raw.contains("password=driftwatch-test-secret"), "{raw}");

    driftwatch::redact::snapshot(&mut c.snapshot);
    let conninfo = entry(&c.snapshot.config, "setting.primary_conninfo");
    assert!(conninfo.value.contains("password=[REDACTED]"), "{conninfo:?}");
    assert!(!conninfo.value.contains("driftwatch-test-secret"), "{conninfo:?}");
    assert!(conninfo.redacted);
    let application_name = format!("application_name={} ", pg_replica_slot());
    assert!(format!("{} ", conninfo.value).contains(&application_name), "{conninfo:?}");
}

#[tokio::test]
async fn auditor_with_pg_monitor_sees_everything() {
    require_service("127.0.0.1", PG_PRIMARY, START_SERVICES);
    require_service("127.0.0.1", PG_REPLICA, START_SERVICES);
    let url = pg_url_as(AUDITOR, PG_PRIMARY);
    let c = collect(&endpoint(Kind::Postgres, &url, Duration::from_secs(5)))
        .await
        .unwrap_or_else(|e| panic!("collecting as {AUDITOR}: {e}; run `{START_SERVICES}`"));
    check_many_settings(&c);
    check_from_file(&c, "setting.port");
    let replica = format!("state.replica.{}.state", pg_replica_slot());
    assert_eq!(value(&c.state, &replica), "streaming");
}

#[tokio::test]
async fn closed_port_is_unreachable_at_once_without_the_password() {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("postgres://u:hunter2@127.0.0.1:{port}/postgres");
    let started = Instant::now();
    let err = collect(&endpoint(Kind::Postgres, &url, Duration::from_secs(5))).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(2), "took {:?}", started.elapsed());
    assert_eq!(err, CollectError::Unreachable(format!("connection refused by 127.0.0.1:{port}")));
    assert!(!format!("{err} {err:?}").contains("hunter2"));
}

#[tokio::test]
async fn silent_server_times_out_as_unreachable() {
    // Accepts TCP (the kernel completes the handshake) but never answers.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let url = format!("postgres://u:hunter2@127.0.0.1:{port}/postgres");
    let started = Instant::now();
    let err =
        collect(&endpoint(Kind::Postgres, &url, Duration::from_millis(500))).await.unwrap_err();
    let took = started.elapsed();
    assert!(took < Duration::from_secs(2), "took {took:?}");
    assert_eq!(
        err,
        CollectError::Unreachable(format!(
            "timed out after 500ms (connect_timeout) connecting to 127.0.0.1:{port}"
        ))
    );
    drop(listener);
}

#[tokio::test]
async fn missing_database_is_a_clear_failure() {
    require_service("127.0.0.1", PG_PRIMARY, START_SERVICES);
    let url = format!("postgres://postgres@127.0.0.1:{PG_PRIMARY}/driftwatch_no_such_db");
    let err = collect(&endpoint(Kind::Postgres, &url, Duration::from_secs(5))).await.unwrap_err();
    let CollectError::Failed(message) = &err else { panic!("expected Failed, got {err:?}") };
    assert!(message.contains("database \"driftwatch_no_such_db\" does not exist"), "{message}");
}

#[tokio::test]
async fn collect_dispatches_postgres_by_kind() {
    let c = driftwatch::collect::collect(&pg_endpoint(PG_PRIMARY)).await.unwrap();
    assert_eq!(c.snapshot.target, "test-postgres");
}

#[tokio::test]
async fn missing_pg_monitor_names_the_grant() {
    require_service("127.0.0.1", PG_PRIMARY, START_SERVICES);
    // services.sh creates this login role with no grants: PostgreSQL answers it with NULLs.
    let url = pg_url_as("driftwatch_unprivileged", PG_PRIMARY);
    let err = collect(&endpoint(Kind::Postgres, &url, Duration::from_secs(5))).await.unwrap_err();
    assert_eq!(
        err,
        CollectError::Failed(
            "permission denied for driftwatch_unprivileged: not a member of pg_read_all_settings, \
             pg_read_all_stats: grant pg_monitor (or pg_read_all_settings + pg_read_all_stats) \
             to the auditor"
                .into()
        )
    );
}
