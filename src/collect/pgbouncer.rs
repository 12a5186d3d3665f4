//! PgBouncer collector: the admin console (`SHOW CONFIG`, `SHOW DATABASES`) as config;
//! pools, clients and traffic (`SHOW POOLS`, `SHOW STATS`, `SHOW LISTS`) as state.
//!
//! The admin console is the virtual database `pgbouncer`: the target's url is
//! `postgres://<user>@<host>:<port>/pgbouncer`. It speaks only the simple query protocol
//! and only its own commands (no `SELECT`, no `SET`), and accepts as startup parameters
//! only those PgBouncer tracks: the collector connects through sqlx (its
//! authentication: trust, md5, scram-sha-256, TLS) without `extra_float_digits`, runs
//! every command with `raw_sql` (simple query) and reads every column as text. The
//! account needs only to be in `stats_users` (every `SHOW` command; PAUSE, RELOAD,
//! SET… need `admin_users` and are never sent). Bounds and deadlines are the
//! PostgreSQL collector's: each command within `statement_timeout`, rows streamed and
//! held to the target's limits.
//!
//! # Config (`Snapshot::config`)
//!
//! - `setting.<key>`: one entry per row of `SHOW CONFIG`; `value` as shown, `unit`
//!   (`s`, `ms`, `B`) for the settings PgBouncer reads as times or sizes
//!   ([`crate::engine::pgbouncer::unit`]), and where PgBouncer shows it (1.18 has
//!   `default` and `changeable` columns): `source` = `default` when the value is the
//!   default, else `configured` (the file or an admin's `SET`); `context` = `reload`
//!   when `changeable` is `yes` (RELOAD or SET applies it), `restart` when `no`.
//! - `database.<name>.<field>`: one per row of `SHOW DATABASES` but the console's own
//!   (`pgbouncer`): `host`, `port`, `database`, `force_user`, `pool_size`,
//!   `min_pool_size`, `reserve_pool`, `pool_mode`, `max_connections` (its
//!   `max_db_connections`, `0` = none).
//! - `Snapshot::server`: `version` from `SHOW VERSION` (`1.18.0`); role `standalone`.
//!
//! # State (`Collected::state`), every value text
//!
//! - `state.connect_ms` (`ms`): time to connect and authenticate.
//! - Per pool (`SHOW POOLS`, one per database and user, the console's own left out),
//!   `state.pool.<user>@<database>.cl_active`, `.cl_waiting` (clients waiting for a
//!   server connection), `.sv_active`, `.sv_idle`, `.sv_used`, `.sv_tested`,
//!   `.sv_login`, `.maxwait_s` (`s`, how long the oldest waiting client has waited,
//!   `maxwait` + `maxwait_us`), `.pool_mode`.
//! - Totals over those pools: `state.pools.count`, `state.pools.cl_waiting`,
//!   `state.pools.maxwait_s` (`s`, the longest), `state.pools.server_connections`
//!   (open server connections, every `sv_*`).
//! - `state.pools.server_connections_max`: the most server connections this pooler
//!   opens to its servers: per database of `SHOW DATABASES`, `pool_size` +
//!   `reserve_pool` per user with a pool (at least one), capped by the database's
//!   `max_connections` (else the `max_db_connections` setting) when set. What
//!   `PB-POOL-001` adds up over a group's poolers.
//! - `state.database.<name>.current_connections`, `.paused`, `.disabled`.
//! - Per database of `SHOW STATS`: `state.stats.<database>.<column>` for every column
//!   (`total_xact_count`, `total_wait_time` in `us`, …; counters since start).
//! - `state.connections.in_use` (client connections, `SHOW LISTS` `used_clients`, this
//!   one included) and `state.connections.limit` (`max_client_conn`).

use std::collections::BTreeMap;
use std::str::FromStr as _;
use std::time::{Duration, Instant};

use sqlx::postgres::{PgConnectOptions, PgRow};
use sqlx::{Connection as _, Row as _};

use super::postgres::{Session, fetch_bounded};
use super::{CollectError, Collected, Endpoint, Limit, failed};
use crate::engine::pgbouncer::{DATABASE_FIELDS, unit};
use crate::engine::state as state_keys;
use crate::scoped::Scope;
use crate::snapshot::{
    CONNECT_MS_KEY, Entry, IN_USE_KEY, LIMIT_KEY, Role, ServerInfo, Snapshot, State,
};

/// The admin console's database.
pub const ADMIN_DATABASE: &str = "pgbouncer";

/// What to add when the console refuses the account.
const GRANT_HINT: &str = "add the auditor to stats_users in pgbouncer.ini (SHOW needs no more)";

/// Collects the settings, databases, pools and stats of one PgBouncer.
pub async fn collect(endpoint: &Endpoint) -> Result<Collected, CollectError> {
    let options = connect_options(endpoint)?;
    let address = format!("{}:{}", options.get_host(), options.get_port());
    let started = Instant::now();
    let mut conn = super::sql::connect(
        &options,
        endpoint.connect_timeout,
        &address,
        options.get_username(),
        refusal,
    )
    .await?;
    let connect_ms = started.elapsed().as_millis();
    let mut session = Session {
        conn: &mut conn,
        statement_timeout: endpoint.statement_timeout,
        limits: endpoint.limits,
        read: 0,
    };
    let result = read(&mut session, endpoint, connect_ms).await;
    let _ = tokio::time::timeout(Duration::from_secs(1), conn.close()).await;
    result
}

fn connect_options(endpoint: &Endpoint) -> Result<PgConnectOptions, CollectError> {
    let options = PgConnectOptions::from_str(&endpoint.url)
        .map_err(|e| failed(format!("invalid pgbouncer URL: {e}")))?;
    match options.get_database() {
        Some(ADMIN_DATABASE) => {}
        other => {
            return Err(failed(format!(
                "a pgbouncer target's url names the admin console, database {ADMIN_DATABASE}, not {}",
                other.unwrap_or("none")
            )));
        }
    }
    // PgBouncer refuses startup parameters it does not track, and this is one.
    Ok(options.application_name("driftwatch").extra_float_digits(None))
}

/// The console's refusal, with the fix for the one that means "not in stats_users".
fn refusal(db: &dyn sqlx::error::DatabaseError) -> String {
    match db.message() {
        "not allowed" => format!("not allowed: {GRANT_HINT}"),
        message => message.to_owned(),
    }
}

async fn read(
    session: &mut Session<'_>,
    endpoint: &Endpoint,
    connect_ms: u128,
) -> Result<Collected, CollectError> {
    let version = version(session).await?;
    let mut config = settings(session).await?;
    let mut state = State::new();
    insert(&mut state, CONNECT_MS_KEY, connect_ms.to_string(), Some("ms"));
    let databases = databases(session, &mut config, &mut state).await?;
    let users = pools(session, &mut state).await?;
    insert(
        &mut state,
        "state.pools.server_connections_max",
        server_connections_max(&databases, &users, &config).to_string(),
        None,
    );
    stats(session, &mut state).await?;
    lists(session, &config, &mut state).await?;
    let server = ServerInfo { version, role: Role::Standalone };
    let snapshot =
        Snapshot { target: endpoint.target.clone(), kind: endpoint.kind, server, config };
    Ok(Collected { snapshot, state })
}

/// Rows of one console command, each column by name, as text (NULL as empty).
type Rows = Vec<BTreeMap<String, String>>;

async fn show(
    session: &mut Session<'_>,
    bound: Limit,
    command: &'static str,
) -> Result<Rows, CollectError> {
    let rows = fetch_bounded(session, bound, command, command).await.map_err(console_error)?;
    rows.iter().map(columns).collect()
}

fn columns(row: &PgRow) -> Result<BTreeMap<String, String>, CollectError> {
    use sqlx::Column as _;
    let mut out = BTreeMap::new();
    for (i, column) in row.columns().iter().enumerate() {
        // Simple-query answers are text whatever the column's type.
        let value = row
            .try_get_unchecked::<Option<String>, _>(i)
            .map_err(|e| failed(format!("decoding column {}: {e}", column.name())))?;
        out.insert(column.name().to_owned(), value.unwrap_or_default());
    }
    Ok(out)
}

/// `invalid command` / `admin access needed` from an older or stricter console.
fn console_error(e: CollectError) -> CollectError {
    match e {
        CollectError::Failed(m) if m.contains("admin access needed") => {
            failed(format!("{m}: {GRANT_HINT}"))
        }
        other => other,
    }
}

async fn version(session: &mut Session<'_>) -> Result<String, CollectError> {
    let rows = show(session, Limit::Rows, "SHOW VERSION").await?;
    let shown = rows.first().and_then(|r| r.get("version")).cloned().unwrap_or_default();
    Ok(shown.strip_prefix("PgBouncer ").unwrap_or(&shown).trim().to_owned())
}

async fn settings(session: &mut Session<'_>) -> Result<BTreeMap<String, Entry>, CollectError> {
    let rows = show(session, Limit::Settings, "SHOW CONFIG").await?;
    let mut config = BTreeMap::new();
    for row in rows {
        let Some(name) = row.get("key") else { continue };
        let value = row.get("value").cloned().unwrap_or_default();
        let mut entry = Entry::new(value.clone());
        entry.unit = unit(name).map(str::to_owned);
        if let Some(default) = row.get("default") {
            entry.source = Some(if *default == value { "default" } else { "configured" }.into());
        }
        entry.context = match row.get("changeable").map(String::as_str) {
            Some("yes") => Some("reload".into()),
            Some("no") => Some("restart".into()),
            _ => None,
        };
        config.insert(format!("setting.{name}"), entry);
    }
    Ok(config)
}

/// One `[databases]` entry's pool sizing, for the pooler's server connection bound.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolSizing {
    pub name: String,
    pub pool_size: u64,
    pub reserve_pool: u64,
    /// `max_db_connections` of the entry, 0 when none.
    pub max_connections: u64,
}

async fn databases(
    session: &mut Session<'_>,
    config: &mut BTreeMap<String, Entry>,
    state: &mut State,
) -> Result<Vec<PoolSizing>, CollectError> {
    let rows = show(session, Limit::Rows, "SHOW DATABASES").await?;
    let mut out = Vec::new();
    for row in rows {
        let Some(name) = row.get("name").cloned() else { continue };
        if name == ADMIN_DATABASE {
            continue;
        }
        // Quoted like PostgreSQL's per-database keys, so `database.*.<field>` rules
        // and a name holding a `.` read back the same way.
        let scope = Scope::Database(name.clone());
        for field in DATABASE_FIELDS {
            if let Some(value) = row.get(*field) {
                config.insert(scope.key(field), Entry::new(value.clone()));
            }
        }
        for field in ["current_connections", "paused", "disabled"] {
            if let Some(value) = row.get(field) {
                insert(state, &format!("state.{}", scope.key(field)), value.clone(), None);
            }
        }
        let number = |field: &str| row.get(field).and_then(|v| v.parse().ok()).unwrap_or(0);
        out.push(PoolSizing {
            pool_size: number("pool_size"),
            reserve_pool: number("reserve_pool"),
            max_connections: number("max_connections"),
            name,
        });
    }
    Ok(out)
}

const POOL_COUNTS: [&str; 7] =
    ["cl_active", "cl_waiting", "sv_active", "sv_idle", "sv_used", "sv_tested", "sv_login"];

/// Reads the pools into `state`; returns the users with a pool, per database.
async fn pools(
    session: &mut Session<'_>,
    state: &mut State,
) -> Result<BTreeMap<String, u64>, CollectError> {
    let rows = show(session, Limit::Rows, "SHOW POOLS").await?;
    let (mut count, mut waiting, mut servers, mut maxwait) = (0u64, 0u64, 0u64, 0f64);
    let mut users: BTreeMap<String, u64> = BTreeMap::new();
    for row in rows {
        let field = |f: &str| row.get(f).map(String::as_str).unwrap_or_default();
        let (database, user) = (field("database"), field("user"));
        if database == ADMIN_DATABASE {
            continue;
        }
        let prefix = format!("state.pool.{user}@{database}");
        for name in POOL_COUNTS {
            insert(state, &format!("{prefix}.{name}"), field(name).to_owned(), None);
        }
        let number = |f: &str| field(f).parse::<u64>().unwrap_or(0);
        let wait = number("maxwait") as f64 + number("maxwait_us") as f64 / 1e6;
        insert(state, &format!("{prefix}.maxwait_s"), wait.to_string(), Some("s"));
        insert(state, &format!("{prefix}.pool_mode"), field("pool_mode").to_owned(), None);
        count += 1;
        waiting += number("cl_waiting");
        servers +=
            POOL_COUNTS.iter().filter(|c| c.starts_with("sv_")).map(|c| number(c)).sum::<u64>();
        maxwait = maxwait.max(wait);
        *users.entry(database.to_owned()).or_default() += 1;
    }
    insert(state, "state.pools.count", count.to_string(), None);
    insert(state, state_keys::pgbouncer::POOLS_CL_WAITING, waiting.to_string(), None);
    insert(state, state_keys::pgbouncer::POOLS_MAXWAIT_S, maxwait.to_string(), Some("s"));
    insert(state, "state.pools.server_connections", servers.to_string(), None);
    Ok(users)
}

/// The most server connections the pooler opens (see the module header): per database,
/// `pool_size + reserve_pool` for each user with a pool (at least one), capped by the
/// database's `max_connections`, else by the `max_db_connections` setting, when set.
pub fn server_connections_max(
    databases: &[PoolSizing],
    users: &BTreeMap<String, u64>,
    config: &BTreeMap<String, Entry>,
) -> u64 {
    let global: u64 =
        config.get("setting.max_db_connections").and_then(|e| e.value.parse().ok()).unwrap_or(0);
    databases
        .iter()
        .map(|db| {
            let users = users.get(&db.name).copied().unwrap_or(0).max(1);
            let open = (db.pool_size + db.reserve_pool) * users;
            let cap = if db.max_connections > 0 { db.max_connections } else { global };
            if cap > 0 { open.min(cap) } else { open }
        })
        .sum()
}

async fn stats(session: &mut Session<'_>, state: &mut State) -> Result<(), CollectError> {
    let rows = show(session, Limit::Rows, "SHOW STATS").await?;
    for row in rows {
        let Some(database) = row.get("database").cloned() else { continue };
        for (column, value) in row {
            if column == "database" {
                continue;
            }
            let unit = column.ends_with("_time").then_some("us");
            insert(state, &format!("state.stats.{database}.{column}"), value, unit);
        }
    }
    Ok(())
}

async fn lists(
    session: &mut Session<'_>,
    config: &BTreeMap<String, Entry>,
    state: &mut State,
) -> Result<(), CollectError> {
    let rows = show(session, Limit::Rows, "SHOW LISTS").await?;
    let used = rows.iter().find(|r| r.get("list").map(String::as_str) == Some("used_clients"));
    if let Some(items) = used.and_then(|r| r.get("items")) {
        insert(state, IN_USE_KEY, items.clone(), None);
    }
    if let Some(limit) = config.get("setting.max_client_conn") {
        insert(state, LIMIT_KEY, limit.value.clone(), None);
    }
    Ok(())
}

fn insert(state: &mut State, key: &str, value: String, unit: Option<&str>) {
    let mut entry = Entry::new(value);
    entry.unit = unit.map(str::to_owned);
    state.insert(key.to_owned(), entry);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sizing(name: &str, pool_size: u64, reserve_pool: u64, max: u64) -> PoolSizing {
        PoolSizing { name: name.into(), pool_size, reserve_pool, max_connections: max }
    }

    #[track_caller]
    fn check(databases: &[PoolSizing], users: &[(&str, u64)], global: Option<&str>, expect: u64) {
        let users = users.iter().map(|(d, n)| ((*d).to_owned(), *n)).collect();
        let mut config = BTreeMap::new();
        if let Some(g) = global {
            config.insert("setting.max_db_connections".to_owned(), Entry::new(g));
        }
        assert_eq!(server_connections_max(databases, &users, &config), expect);
    }

    #[test]
    fn a_database_without_pools_counts_one_user() {
        check(&[sizing("app", 20, 5, 0)], &[], None, 25);
    }

    #[test]
    fn every_user_of_a_database_has_its_own_pool() {
        check(&[sizing("app", 20, 5, 0), sizing("b", 1, 0, 0)], &[("app", 3)], None, 76);
    }

    #[test]
    fn max_db_connections_caps_a_database() {
        check(&[sizing("app", 20, 5, 30)], &[("app", 3)], Some("50"), 30);
        check(&[sizing("app", 20, 5, 0)], &[("app", 3)], Some("50"), 50);
        check(&[sizing("app", 20, 5, 0)], &[("app", 1)], Some("50"), 25);
    }

    #[test]
    fn the_url_must_name_the_admin_console() {
        let endpoint = Endpoint {
            target: "t".into(),
            kind: crate::snapshot::Kind::Pgbouncer,
            url: "postgres://u:hunter2@h:6432/app".into(),
            connect_timeout: Duration::from_secs(1),
            statement_timeout: Duration::from_secs(1),
            limits: Default::default(),
            config_file: None,
        };
        let err = connect_options(&endpoint).unwrap_err().to_string();
        assert!(err.contains("database pgbouncer, not app"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
    }
}
