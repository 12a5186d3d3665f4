//! PostgreSQL collector: `pg_settings` as config; replication views as state.
//!
//! One connection (no pool), `application_name=driftwatch`, every statement bounded by
//! `statement_timeout` on the client side; only `SELECT`s on catalog and statistics views. The account needs
//! `pg_monitor` (or `pg_read_all_settings` + `pg_read_all_stats`): without them
//! PostgreSQL hides `sourcefile` and replication details behind NULLs instead of
//! failing, so the collector checks the grants first and fails with the one to add.
//!
//! # Config (`Snapshot::config`)
//!
//! - `setting.<name>`: one entry per row of `pg_settings`; `value` = `setting`, plus
//!   `unit`, `vartype`, `context`, `source`, `source_file`, `source_line`,
//!   `pending_restart`. Rows whose `source` is `client` are left out: they hold this
//!   session's own value (sqlx sends `DateStyle`, `client_encoding`, `TimeZone`,
//!   `extra_float_digits`; we send `application_name`), not the server's, and would
//!   change the digest whenever driftwatch's driver does. `statement_timeout` is
//!   enforced on the client side for the same reason, so the server's value shows.
//! - `pending.<name>`: the value a setting takes on the next restart (`postmaster`
//!   context) or reload, from the last `pg_file_settings` row for it, in the
//!   `pg_settings` unit, with file and line; see [`super::pending`]. `pg_file_settings`
//!   needs `GRANT SELECT ON pg_file_settings` and `GRANT EXECUTE ON FUNCTION
//!   pg_show_all_file_settings()` (superuser only by default, not part of
//!   `pg_monitor`); without them `server.pending_source` is `pending_restart_flag` and
//!   only `pending_restart` on `setting.<name>` tells that a restart is awaited.
//! - `role.<role>.<setting>`, `database.<db>.<setting>`, `role.<role>@<db>.<setting>`:
//!   each `ALTER ROLE/DATABASE … SET` of `pg_db_role_setting` (readable by every
//!   role, no grant needed), value as written, `source` = the statement (`ALTER ROLE
//!   app`), the server-wide setting's `unit` when the value is a plain number; and
//!   `role.<role>` = `login` for each role that can log in and is not a superuser
//!   (see [`crate::scoped`]).
//! - `Snapshot::server`: `version` from `server_version`; `role` = `replica` when
//!   `pg_is_in_recovery()`, else `primary` (PostgreSQL never reports "standalone").
//!
//! # State (`Collected::state`), every value text
//!
//! - `state.connect_ms` (`ms`): time to connect and authenticate.
//! - `state.uptime_s` (`s`): seconds since the postmaster started; `state.instance`
//!   (`postmaster started <epoch seconds>`, to the microsecond: which postmaster answered).
//! - Connections, from `pg_stat_activity` (client backends only; `pg_read_all_stats`,
//!   part of `pg_monitor`, shows every session's row): `state.connections.in_use`,
//!   `.active`, `.idle`, `.idle_in_transaction` (aborted ones included),
//!   `.waiting_lock` (`wait_event_type = 'Lock'`), `.oldest_idle_in_transaction_s`
//!   (`s`, since that session's last state change, `0` when none),
//!   `.longest_lock_wait_s` (`s`, since the waiting statement started, `0` when none),
//!   `.limit` (`max_connections` − `superuser_reserved_connections` −
//!   `reserved_connections` on 16+: what ordinary clients can open), `.usage_pct`
//!   (see [`super::connection_usage`]); per database `state.connections.database.<db>`
//!   and per user `state.connections.user.<user>`, at most [`super::MAX_GROUP_KEYS`]
//!   of each (the busiest), the rest summed in `state.connections.database_others` /
//!   `.user_others`. PostgreSQL keeps no count of refused connections (they are only
//!   logged): when the server is full the auditor itself is refused — unless it may
//!   use reserved slots (16+: `GRANT pg_use_reserved_connections`) — and the target
//!   fails with the server's "too many clients" message.
//! - Per row of `pg_stat_replication` (standbys streaming from this server), keyed by
//!   `application_name` (else `client_addr:client_port`; `@addr:port` is appended on a
//!   clash): `state.replica.<name>.client_addr`, `.state`, `.sync_state`,
//!   `.write_lag_s`, `.flush_lag_s`, `.replay_lag_s` (`s`, NULL → `0`),
//!   `.replay_lag_bytes` (`B`, WAL head − `replay_lsn`, ≥ 0, absent before the standby
//!   reports a position); `state.replicas.count`, and `state.replicas.synchronous`
//!   (how many of them commits wait for: `sync_state` `sync` or `quorum`).
//! - Per row of `pg_replication_slots`: `state.slot.<slot_name>.active`, `.slot_type`,
//!   `.wal_status`, `.safe_wal_size` (`B`, when not NULL), `.retained_bytes` (`B`, WAL
//!   head − `restart_lsn`, ≥ 0, when `restart_lsn` is set); `state.slots.count`, and
//!   totals for policies: `state.slots.lost` (slots whose WAL is gone),
//!   `state.slots.inactive`, `state.slots.inactive_retained_bytes` (`B`, WAL held back
//!   by slots nobody consumes).
//! - On a standby only: `state.wal_receiver.status` (`not running` when the view is
//!   empty), `.sender_host`, `.sender_port`, `.slot_name`, `.conninfo` (masked by
//!   PostgreSQL), `.last_msg_receipt_at`; `state.replication.replay_lag_bytes` (`B`,
//!   received − replayed, ≥ 0), `.last_replay_at` (UTC, ISO 8601; absent until a
//!   transaction has been replayed since the standby started),
//!   `.replay_lag_s` (`s`, `now() - pg_last_xact_replay_timestamp()`, `0` when
//!   everything received is replayed: an idle primary is not lag),
//!   `.replay_paused` (`true`/`false`).
//!
//! The "WAL head" is `pg_current_wal_lsn()` on a primary and the last received (else
//! replayed) position on a standby, so cascading standbys are measured too.
//!
//! Every column is cast to `text` in SQL, so decoding never depends on PostgreSQL types.

use std::collections::BTreeMap;
use std::str::FromStr as _;
use std::time::{Duration, Instant};

use futures::TryStreamExt as _;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgRow};
use sqlx::{Connection as _, Row as _};

mod pending;
mod roles;

use super::{
    CollectError, Collected, Endpoint, INSTANCE_KEY, Limit, Limits, UPTIME_KEY, failed,
    human_duration,
};
use crate::engine::state;
use crate::snapshot::{Entry, Role, ServerInfo, Snapshot, State};

/// The grant to name when a privilege is missing.
const GRANT_HINT: &str =
    "grant pg_monitor (or pg_read_all_settings + pg_read_all_stats) to the auditor";

/// Collects `pg_settings` and replication state from one PostgreSQL server.
pub async fn collect(endpoint: &Endpoint) -> Result<Collected, CollectError> {
    let options = connect_options(endpoint)?;
    let started = Instant::now();
    let mut conn = connect(&options, endpoint.connect_timeout).await?;
    let connect_ms = started.elapsed().as_millis();

    let mut session = Session {
        conn: &mut conn,
        statement_timeout: endpoint.statement_timeout,
        limits: endpoint.limits,
        read: 0,
    };
    let result = read(&mut session, endpoint, connect_ms).await;
    // Terminate politely, but never let a stalled server hold the collection.
    let _ = tokio::time::timeout(Duration::from_secs(1), conn.close()).await;
    result
}

fn connect_options(endpoint: &Endpoint) -> Result<PgConnectOptions, CollectError> {
    let options = PgConnectOptions::from_str(&endpoint.url)
        .map_err(|e| failed(format!("invalid postgres URL: {e}")))?;
    Ok(options.application_name("driftwatch"))
}

async fn connect(
    options: &PgConnectOptions,
    timeout: Duration,
) -> Result<PgConnection, CollectError> {
    let address = address(options);
    super::sql::connect(options, timeout, &address, options.get_username(), database_message).await
}

fn address(options: &PgConnectOptions) -> String {
    match options.get_socket() {
        Some(dir) => format!("{}/.s.PGSQL.{}", dir.display(), options.get_port()),
        None => format!("{}:{}", options.get_host(), options.get_port()),
    }
}

async fn read(
    conn: &mut Session<'_>,
    endpoint: &Endpoint,
    connect_ms: u128,
) -> Result<Collected, CollectError> {
    check_privileges(conn).await?;
    let (server, running) = server_info(conn).await?;
    let (mut config, boot) = settings(conn).await?;
    pending::read(conn, &mut config, &boot).await?;
    roles::read(conn, &mut config).await?;

    let mut state = State::new();
    state.insert("state.connect_ms".into(), Entry::new(connect_ms.to_string()).with_unit("ms"));
    if let Some(uptime_s) = running.uptime_s {
        state.insert(UPTIME_KEY.into(), Entry::new(uptime_s).with_unit("s"));
    }
    if let Some(started) = running.started {
        state.insert(INSTANCE_KEY.into(), Entry::new(format!("postmaster started {started}")));
    }
    connections(conn, &mut state).await?;
    replicas(conn, &mut state).await?;
    slots(conn, &mut state).await?;
    if server.role == Role::Replica {
        standby_state(conn, &mut state).await?;
    }

    super::connection_usage(&mut state);
    let snapshot =
        Snapshot { target: endpoint.target.clone(), kind: endpoint.kind, server, config };
    Ok(Collected { snapshot, state })
}

/// PostgreSQL answers an under-privileged auditor with NULLs, not errors: ask first.
async fn check_privileges(conn: &mut Session<'_>) -> Result<(), CollectError> {
    let row = fetch_one(
        conn,
        "checking privileges",
        "SELECT current_user::text,
                pg_has_role('pg_read_all_settings', 'MEMBER')::text,
                pg_has_role('pg_read_all_stats', 'MEMBER')::text",
    )
    .await?;
    let user = text(&row, 0)?.unwrap_or_default();
    let missing: Vec<&str> = [(1, "pg_read_all_settings"), (2, "pg_read_all_stats")]
        .into_iter()
        .filter(|&(i, _)| text(&row, i).ok().flatten().as_deref() != Some("true"))
        .map(|(_, role)| role)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(failed(format!(
        "permission denied for {user}: not a member of {}: {GRANT_HINT}",
        missing.join(", ")
    )))
}

/// How long the postmaster has run, and when it started (epoch seconds, to the
/// microsecond: which postmaster answered).
struct Running {
    uptime_s: Option<String>,
    started: Option<String>,
}

/// The version and role, and how long the postmaster has run.
async fn server_info(conn: &mut Session<'_>) -> Result<(ServerInfo, Running), CollectError> {
    let row = fetch_one(
        conn,
        "reading server version",
        "SELECT current_setting('server_version'), pg_is_in_recovery()::text,
                floor(extract(epoch FROM now() - pg_postmaster_start_time()))::bigint::text,
                extract(epoch FROM pg_postmaster_start_time())::text",
    )
    .await?;
    let uptime_s = text(&row, 2)?;
    let started = text(&row, 3)?;
    let version = text(&row, 0)?.unwrap_or_default();
    let role = match text(&row, 1)?.as_deref() {
        Some("true") => Role::Replica,
        _ => Role::Primary,
    };
    Ok((ServerInfo { version, role }, Running { uptime_s, started }))
}

/// The settings, and each one's `boot_val` (what it goes back to when no file sets it).
type Settings = (BTreeMap<String, Entry>, BTreeMap<String, String>);

async fn settings(conn: &mut Session<'_>) -> Result<Settings, CollectError> {
    let rows = fetch_bounded(
        conn,
        Limit::Settings,
        "reading pg_settings",
        "SELECT name::text, setting::text, unit::text, vartype::text, context::text,
                source::text, sourcefile::text, sourceline::text, pending_restart::text,
                boot_val::text
         FROM pg_settings
         WHERE source <> 'client'
         ORDER BY name",
    )
    .await?;
    let mut config = BTreeMap::new();
    let mut boot = BTreeMap::new();
    for row in &rows {
        let name = text(row, 0)?.unwrap_or_default();
        if let Some(value) = text(row, 9)? {
            boot.insert(name.clone(), value);
        }
        let entry = Entry {
            value: text(row, 1)?.unwrap_or_default(),
            unit: text(row, 2)?,
            vartype: text(row, 3)?,
            context: text(row, 4)?,
            source: text(row, 5)?,
            source_file: text(row, 6)?,
            source_line: text(row, 7)?.and_then(|line| line.parse().ok()),
            pending_restart: text(row, 8)?.as_deref() == Some("true"),
            redacted: false,
            pending: None,
        };
        config.insert(format!("setting.{name}"), entry);
    }
    Ok((config, boot))
}

/// Client backends by state, database and user (`pg_stat_activity`; `pg_read_all_stats`
/// shows every row), and the usable limit. Walsenders, autovacuum and background
/// workers are not client backends and do not count against `max_connections`.
async fn connections(conn: &mut Session<'_>, state: &mut State) -> Result<(), CollectError> {
    let row = fetch_one(
        conn,
        "reading pg_stat_activity",
        "SELECT count(*)::text,
                count(*) FILTER (WHERE state = 'active')::text,
                count(*) FILTER (WHERE state = 'idle')::text,
                count(*) FILTER (WHERE state LIKE 'idle in transaction%')::text,
                count(*) FILTER (WHERE wait_event_type = 'Lock')::text,
                coalesce(max(extract(epoch FROM now() - state_change))
                         FILTER (WHERE state LIKE 'idle in transaction%'), 0)::text,
                coalesce(max(extract(epoch FROM now() - coalesce(query_start, state_change)))
                         FILTER (WHERE wait_event_type = 'Lock'), 0)::text,
                (current_setting('max_connections')::int
                 - current_setting('superuser_reserved_connections')::int
                 - coalesce(current_setting('reserved_connections', true), '0')::int)::text
         FROM pg_stat_activity
         WHERE backend_type = 'client backend'",
    )
    .await?;
    let fields = [
        ("in_use", None),
        ("active", None),
        ("idle", None),
        ("idle_in_transaction", None),
        ("waiting_lock", None),
        ("oldest_idle_in_transaction_s", Some("s")),
        ("longest_lock_wait_s", Some("s")),
        ("limit", None),
    ];
    for (index, (field, unit)) in fields.into_iter().enumerate() {
        if let Some(value) = text(&row, index)? {
            insert(state, format!("state.connections.{field}"), value, unit);
        }
    }
    let rows = fetch_all(
        conn,
        "reading pg_stat_activity per database and user",
        "SELECT 'database', coalesce(datname::text, ''), count(*)::text
         FROM pg_stat_activity WHERE backend_type = 'client backend' GROUP BY 2
         UNION ALL
         SELECT 'user', coalesce(usename::text, ''), count(*)::text
         FROM pg_stat_activity WHERE backend_type = 'client backend' GROUP BY 2",
    )
    .await?;
    let mut groups: BTreeMap<String, Vec<(String, u64)>> = BTreeMap::new();
    for row in &rows {
        let (Some(group), Some(name), Some(count)) = (text(row, 0)?, text(row, 1)?, text(row, 2)?)
        else {
            continue;
        };
        groups.entry(group).or_default().push((name, count.parse().unwrap_or(0)));
    }
    for (group, counts) in groups {
        super::bounded_counts(state, &format!("state.connections.{group}"), counts);
    }
    Ok(())
}

/// Standbys streaming from this server (`pg_stat_replication`).
async fn replicas(conn: &mut Session<'_>, state: &mut State) -> Result<(), CollectError> {
    let rows = fetch_all(
        conn,
        "reading pg_stat_replication",
        "SELECT coalesce(nullif(application_name, ''),
                         host(client_addr) || ':' || client_port::text,
                         'pid' || pid::text),
                coalesce(host(client_addr) || ':' || client_port::text, 'local'),
                host(client_addr), state::text, sync_state::text,
                coalesce(extract(epoch FROM write_lag), 0)::text,
                coalesce(extract(epoch FROM flush_lag), 0)::text,
                coalesce(extract(epoch FROM replay_lag), 0)::text,
                greatest(pg_wal_lsn_diff(
                    CASE WHEN pg_is_in_recovery()
                         THEN coalesce(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())
                         ELSE pg_current_wal_lsn() END,
                    replay_lsn), 0)::text
         FROM pg_stat_replication
         ORDER BY 1, 2",
    )
    .await?;
    let (mut count, mut synchronous) = (0, 0);
    for row in &rows {
        let sync_state = text(row, 4)?.unwrap_or_default();
        // `sync` (priority-based) or `quorum` (ANY n): commits wait for it.
        if sync_state == "sync" || sync_state == "quorum" {
            synchronous += 1;
        }
        let mut name = text(row, 0)?.unwrap_or_default();
        if state.contains_key(&format!("{}{name}.state", state::REPLICA_PREFIX)) {
            name = format!("{name}@{}", text(row, 1)?.unwrap_or_default());
        }
        let prefix = format!("{}{name}", state::REPLICA_PREFIX);
        let fields = [
            ("client_addr", 2, None),
            ("state", 3, None),
            ("sync_state", 4, None),
            ("write_lag_s", 5, Some("s")),
            ("flush_lag_s", 6, Some("s")),
            ("replay_lag_s", 7, Some("s")),
            ("replay_lag_bytes", 8, Some("B")),
        ];
        for (field, index, unit) in fields {
            if let Some(value) = text(row, index)? {
                insert(state, format!("{prefix}.{field}"), value, unit);
            }
        }
        count += 1;
    }
    insert(state, "state.replicas.count".into(), count.to_string(), None);
    insert(state, "state.replicas.synchronous".into(), synchronous.to_string(), None);
    Ok(())
}

/// Replication slots on this server (`pg_replication_slots`).
async fn slots(conn: &mut Session<'_>, state: &mut State) -> Result<(), CollectError> {
    let rows = fetch_all(
        conn,
        "reading pg_replication_slots",
        "SELECT slot_name::text, active::text, slot_type::text, wal_status::text,
                safe_wal_size::text,
                greatest(pg_wal_lsn_diff(
                    CASE WHEN pg_is_in_recovery()
                         THEN coalesce(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())
                         ELSE pg_current_wal_lsn() END,
                    restart_lsn), 0)::text
         FROM pg_replication_slots
         ORDER BY slot_name",
    )
    .await?;
    let (mut lost, mut inactive, mut inactive_retained) = (0u64, 0u64, 0f64);
    for row in &rows {
        let wal_status = text(row, 3)?;
        if wal_status.as_deref() == Some("lost") {
            lost += 1;
        }
        if text(row, 1)?.as_deref() == Some("false") {
            inactive += 1;
            inactive_retained += text(row, 5)?.and_then(|b| b.parse::<f64>().ok()).unwrap_or(0.0);
        }
        let prefix = format!("state.slot.{}", text(row, 0)?.unwrap_or_default());
        let fields = [
            ("active", 1, None),
            ("slot_type", 2, None),
            ("wal_status", 3, None),
            ("safe_wal_size", 4, Some("B")),
            ("retained_bytes", 5, Some("B")),
        ];
        for (field, index, unit) in fields {
            if let Some(value) = text(row, index)? {
                insert(state, format!("{prefix}.{field}"), value, unit);
            }
        }
    }
    insert(state, "state.slots.count".into(), rows.len().to_string(), None);
    // Totals that policies can hold a line on without knowing slot names.
    insert(state, "state.slots.lost".into(), lost.to_string(), None);
    insert(state, "state.slots.inactive".into(), inactive.to_string(), None);
    insert(
        state,
        "state.slots.inactive_retained_bytes".into(),
        inactive_retained.to_string(),
        Some("B"),
    );
    Ok(())
}

/// What a standby knows about its upstream and its own replay.
async fn standby_state(conn: &mut Session<'_>, state: &mut State) -> Result<(), CollectError> {
    let receiver = fetch_all(
        conn,
        "reading pg_stat_wal_receiver",
        "SELECT status::text, sender_host::text, sender_port::text, slot_name::text,
                conninfo::text,
                to_char(last_msg_receipt_time AT TIME ZONE 'UTC',
                        'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')
         FROM pg_stat_wal_receiver",
    )
    .await?;
    match receiver.first() {
        None => {
            insert(state, state::postgres::WAL_RECEIVER_STATUS.into(), "not running".into(), None)
        }
        Some(row) => {
            let fields = [
                "status",
                "sender_host",
                "sender_port",
                "slot_name",
                "conninfo",
                "last_msg_receipt_at",
            ];
            for (index, field) in fields.into_iter().enumerate() {
                if let Some(value) = text(row, index)? {
                    insert(
                        state,
                        format!("{}{field}", state::postgres::WAL_RECEIVER_PREFIX),
                        value,
                        None,
                    );
                }
            }
        }
    }

    // Received − replayed can be negative for a moment after a restart: clamp.
    let row = fetch_one(
        conn,
        "reading replay progress",
        "SELECT greatest(pg_wal_lsn_diff(pg_last_wal_receive_lsn(),
                                         pg_last_wal_replay_lsn()), 0)::text,
                to_char(pg_last_xact_replay_timestamp() AT TIME ZONE 'UTC',
                        'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'),
                CASE WHEN coalesce(pg_wal_lsn_diff(pg_last_wal_receive_lsn(),
                                                   pg_last_wal_replay_lsn()), 0) <= 0
                     THEN 0
                     ELSE greatest(extract(epoch FROM now() - pg_last_xact_replay_timestamp()),
                                   0)
                END::text,
                pg_is_wal_replay_paused()::text",
    )
    .await?;
    let fields = [
        ("replay_lag_bytes", Some("B")),
        ("last_replay_at", None),
        ("replay_lag_s", Some("s")),
        ("replay_paused", None),
    ];
    for (index, (field, unit)) in fields.into_iter().enumerate() {
        if let Some(value) = text(&row, index)? {
            insert(state, format!("{}{field}", state::REPLICATION_PREFIX), value, unit);
        }
    }
    Ok(())
}

fn insert(state: &mut State, key: String, value: String, unit: Option<&str>) {
    let mut entry = Entry::new(value);
    entry.unit = unit.map(str::to_owned);
    state.insert(key, entry);
}

/// Statements go over the simple query protocol (`raw_sql`): none takes a parameter,
/// each runs once per connection, and every column is cast to `text`, so preparing
/// them (Parse, Describe, Bind: extra round trips and server work on every
/// collection) bought nothing.
///
/// The open connection and the bound on each statement. The bound is kept on the
/// client side: setting `statement_timeout` on the session would make `pg_settings`
/// report driftwatch's value instead of the server's. `read` counts the bytes of the
/// values read so far, against `limits.reply_bytes`.
pub(super) struct Session<'c> {
    pub(super) conn: &'c mut PgConnection,
    pub(super) statement_timeout: Duration,
    pub(super) limits: Limits,
    pub(super) read: u64,
}

/// Every row of `sql`, at most `limits.rows` of them.
async fn fetch_all(
    session: &mut Session<'_>,
    what: &str,
    sql: &'static str,
) -> Result<Vec<PgRow>, CollectError> {
    fetch_bounded(session, Limit::Rows, what, sql).await
}

/// Every row of `sql`, streamed and held to the limits as they arrive: at most
/// `limits.settings` or `limits.rows` rows (`bound`), no value longer than
/// `limits.value_bytes`, and `limits.reply_bytes` of values over the collection. A
/// server that sends more fails the collection at the first row too many; sqlx holds
/// one row message at a time.
pub(super) async fn fetch_bounded(
    session: &mut Session<'_>,
    bound: Limit,
    what: &str,
    sql: &'static str,
) -> Result<Vec<PgRow>, CollectError> {
    let limits = session.limits;
    let max_rows = if bound == Limit::Settings { limits.settings } else { limits.rows };
    let read = &mut session.read;
    let conn = &mut *session.conn;
    let query = async move {
        let mut rows = Vec::new();
        let mut stream = sqlx::raw_sql(sql).fetch(conn);
        while let Some(row) = stream.try_next().await.map_err(|e| query_error(what, &e))? {
            if rows.len() == max_rows {
                return Err(bound.exceeded(&limits, what));
            }
            for i in 0..row.len() {
                let len = row
                    .try_get_raw(i)
                    .ok()
                    .and_then(|v| v.as_bytes().ok())
                    .map_or(0, |b| b.len() as u64);
                if len > limits.value_bytes {
                    return Err(Limit::ValueBytes.exceeded(&limits, what));
                }
                *read += len;
            }
            if *read > limits.reply_bytes {
                return Err(Limit::ReplyBytes.exceeded(&limits, what));
            }
            rows.push(row);
        }
        Ok(rows)
    };
    match tokio::time::timeout(session.statement_timeout, query).await {
        Ok(result) => result,
        Err(_) => Err(statement_timed_out(what, session.statement_timeout)),
    }
}

async fn fetch_one(
    session: &mut Session<'_>,
    what: &str,
    sql: &'static str,
) -> Result<PgRow, CollectError> {
    let query = sqlx::raw_sql(sql).fetch_one(&mut *session.conn);
    match tokio::time::timeout(session.statement_timeout, query).await {
        Ok(result) => result.map_err(|e| query_error(what, &e)),
        Err(_) => Err(statement_timed_out(what, session.statement_timeout)),
    }
}

fn statement_timed_out(what: &str, timeout: Duration) -> CollectError {
    failed(format!("{what}: no answer within {} (statement_timeout)", human_duration(timeout)))
}

fn text(row: &PgRow, index: usize) -> Result<Option<String>, CollectError> {
    row.try_get::<Option<String>, _>(index)
        .map_err(|e| failed(format!("decoding column {index}: {e}")))
}

fn query_error(what: &str, e: &sqlx::Error) -> CollectError {
    match e {
        sqlx::Error::Database(db) => failed(format!("{what}: {}", database_message(db.as_ref()))),
        other => failed(format!("{what}: {other}")),
    }
}

/// The server's own message, with the grant to add when a privilege is missing.
fn database_message(db: &dyn sqlx::error::DatabaseError) -> String {
    match db.code().as_deref() {
        // insufficient_privilege
        Some("42501") => format!("{}: {GRANT_HINT}", db.message()),
        // query_canceled: statement_timeout
        Some("57014") => format!("{} (statement_timeout)", db.message()),
        // too_many_connections: the server is full, for the auditor too
        Some("53300") => format!(
            "{}: the server is at its connection limit (max_connections); on PostgreSQL \
             16+ GRANT pg_use_reserved_connections TO the auditor (with \
             reserved_connections > 0) so audits still read a full server",
            db.message()
        ),
        _ => db.message().to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check_duration(d: Duration, expect: &str) {
        assert_eq!(human_duration(d), expect);
    }

    #[test]
    fn durations_read_like_config() {
        check_duration(Duration::from_secs(5), "5s");
        check_duration(Duration::from_millis(500), "500ms");
        check_duration(Duration::from_millis(1500), "1.5s");
    }

    #[test]
    fn invalid_url_never_shows_the_password() {
        let endpoint = Endpoint {
            target: "t".into(),
            kind: crate::snapshot::Kind::Postgres,
            url: "postgres://u:hunter2@h:notaport/db".into(),
            connect_timeout: Duration::from_secs(1),
            statement_timeout: Duration::from_secs(1),
            limits: Default::default(),
            config_file: None,
        };
        let err = connect_options(&endpoint).unwrap_err();
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }
}
