//! MySQL and MariaDB collector: `SHOW GLOBAL VARIABLES` as config; replica status,
//! binary log and GTID positions as state.
//!
//! One connection (no pool), every statement bounded by `statement_timeout` on the
//! client side; only `SHOW` and `SELECT`s of system variables and
//! `information_schema`/`performance_schema` views, sent over the text protocol (every
//! value arrives as text, so decoding never depends on column types: MySQL 8 reports
//! some as `VARBINARY`). Never reads `mysql.slave_master_info`,
//! `mysql.slave_relay_log_info` or any table that holds replication credentials; the
//! replication password is in none of the statements' output.
//!
//! The account needs, and should have, nothing but:
//! - MariaDB 10.5+: `GRANT BINLOG MONITOR, SLAVE MONITOR ON *.* TO auditor`
//!   (`REPLICATION CLIENT` is the old name of `BINLOG MONITOR`);
//! - MySQL 8: `GRANT REPLICATION CLIENT ON *.* TO auditor`.
//!
//! `SHOW GLOBAL VARIABLES` and MariaDB's `information_schema` need no grant; should a
//! MySQL server refuse `performance_schema.variables_info`, the collector fails naming
//! `GRANT SELECT ON performance_schema.variables_info`. Without the grant the
//! collector fails with the server's message and the grant to add. Listing connected
//! replicas one by one (`SHOW SLAVE HOSTS`) needs `REPLICATION MASTER ADMIN` on MariaDB
//! (an administrative privilege, deliberately not part of the minimal grant) and
//! `REPLICATION SLAVE` on MySQL; without it the collector reports only the count
//! (MariaDB's `Slaves_connected` status) or nothing (MySQL).
//!
//! # Config (`Snapshot::config`)
//!
//! - `setting.<name>`: one entry per row of `SHOW GLOBAL VARIABLES` (global values, so
//!   nothing of this session leaks in); `value` as the server prints it, no unit. On
//!   MariaDB 10.2+ the same rows and values are read with their provenance in one
//!   query of `information_schema.SYSTEM_VARIABLES` (its `GLOBAL_VALUE`).
//!   Where the engine tells where a value was set:
//!   - MariaDB (`information_schema.SYSTEM_VARIABLES`): `source` = `default`,
//!     `configuration file`, `command line`, `auto`, `set global` or `environment`;
//!     `source_file` = the option file; `vartype` (`boolean`, `int unsigned`, `enum`,
//!     …); `context` = `restart` for read-only variables, else `dynamic`.
//!   - MySQL 8 (`performance_schema.variables_info`, when present): `source` =
//!     `default`, `configuration file`, `command line`, `persisted` (`SET PERSIST`,
//!     `mysqld-auto.cnf`), `set global` or `login`; `source_file` = the option file.
//!
//!   Without the FILE privilege (not part of the minimal grant) MariaDB hides
//!   `GLOBAL_VALUE_PATH`: settings from an option file then have `source` but no
//!   `source_file`, and `server.provenance` = `no_source_file` says so, with the
//!   count and the grant that would lift it (absent when nothing is hidden).
//!
//!   Left out because they move on their own (they are in the state instead):
//!   `gtid_binlog_pos`, `gtid_binlog_state`, `gtid_current_pos`, `gtid_slave_pos`
//!   (MariaDB), `gtid_executed`, `gtid_purged`, `gtid_owned` (MySQL).
//! - `server.flavor`: `mariadb` or `mysql`.
//! - `pending.<name>` (MySQL 8): variables in `performance_schema.persisted_variables`
//!   (`SET PERSIST_ONLY`, or `mysqld-auto.cnf` edited) whose value differs from the
//!   live one: they apply at the next restart. `server.pending_source` is
//!   `persisted_variables`; MariaDB has no persisted variables: `not_applicable`.
//! - `Snapshot::server`: `version` from `SELECT VERSION()`; `role` = `replica` when
//!   replica status shows a configured source (a non-empty `Master_Host`/`Source_Host`),
//!   else `primary` (like PostgreSQL, never "standalone").
//!
//! # State (`Collected::state`), every value text
//!
//! - `state.connect_ms` (`ms`): time to connect and authenticate.
//! - From `SHOW GLOBAL STATUS` (no grant needed): `state.uptime_s` (`s`, `Uptime`);
//!   `state.connections.in_use` (`Threads_connected`), `.running` (`Threads_running`),
//!   `.max_used` (`Max_used_connections`), and the counters `.aborted_connects`
//!   (`Aborted_connects`: failed logins, handshakes cut short), `.aborted_clients`,
//!   `.errors.<cause>` (each `Connection_errors_<cause>`: `accept`, `internal`,
//!   `max_connections`, `peer_address`, `select`, `tcpwrap`) and `.refused` (the same
//!   as `.errors.max_connections`: clients turned away at the limit before logging in;
//!   MariaDB 10.11 counts an ordinary client refused at `max_connections` after its
//!   login in `Aborted_connects` instead, so watch both); `.limit`
//!   (`max_connections`; one more is kept for `SUPER`/`CONNECTION_ADMIN`), `.usage_pct`
//!   (see [`super::connection_usage`]).
//! - Semi-synchronous replication, from the same `SHOW GLOBAL STATUS` (MariaDB has it
//!   built in; MySQL once its plugin is loaded), under one set of names whatever the
//!   engine calls them (`master`/`source`, `slave`/`replica`):
//!   `state.semi_sync.primary.status` (`ON`/`OFF`: `OFF` while enabled means commits no
//!   longer wait for a replica, after `rpl_semi_sync_master_timeout`), `.clients` (the
//!   semi-synchronous replicas connected), the counters `.no_tx` (commits no replica
//!   acknowledged) and `.yes_tx`; `state.semi_sync.replica.status` (`ON` while this
//!   replica acknowledges to a semi-synchronous primary).
//! - Per replication connection of this server as a replica (MariaDB
//!   `SHOW ALL SLAVES STATUS`, keyed by `Connection_name`; MySQL `SHOW REPLICA STATUS`,
//!   keyed by `Channel_Name`; the unnamed default connection is `default`):
//!   `state.replication.<conn>.io_running` (`Yes`/`No`/`Connecting`), `.sql_running`
//!   (`Yes`/`No`), `.seconds_behind` (`s`; absent when the server reports NULL, i.e.
//!   a thread is stopped or not connected: lag is unknown, not zero), `.io_state`,
//!   `.last_io_errno`, `.last_io_error`, `.last_sql_errno`, `.last_sql_error`,
//!   `.source_host`, `.source_port`, `.sql_delay` (`s`), `.lag_beyond_delay_s` (`s`:
//!   `seconds_behind` less `sql_delay`, never below 0; absent with `seconds_behind`),
//!   `.using_gtid` (MariaDB
//!   `No`/`Slave_Pos`/`Current_Pos`; MySQL `Yes`/`No` from `Auto_Position`),
//!   `.gtid_io_pos` (MariaDB `Gtid_IO_Pos`; MySQL `Retrieved_Gtid_Set`);
//!   `state.replication.count` (connections with a source).
//! - Binary log (when enabled): `state.binlog.file`, `state.binlog.position` (`B`), from
//!   `SHOW MASTER STATUS` (MariaDB) or `SHOW BINARY LOG STATUS` (MySQL 8.2+; older:
//!   `SHOW MASTER STATUS`).
//! - GTID positions: MariaDB `state.gtid.binlog_pos`, `.current_pos`, `.slave_pos`;
//!   MySQL `state.gtid.executed`, `.purged`. Empty strings are kept.
//! - Replicas connected to this server (`SHOW SLAVE HOSTS` / `SHOW REPLICAS`):
//!   `state.replica.<server_id>.host`, `.port`, `.source_id`; `state.replicas.count`
//!   (from MariaDB's `Slaves_connected` when the hosts may not be listed, see above).

use std::collections::BTreeMap;
use std::str::FromStr as _;
use std::time::{Duration, Instant};

use futures::TryStreamExt as _;
use sqlx::mysql::{MySqlConnectOptions, MySqlConnection, MySqlDatabaseError, MySqlRow};
use sqlx::{Column as _, Connection as _, Row as _};

mod persisted;

use super::{CollectError, Collected, Endpoint, Limit, Limits, UPTIME_KEY, failed, human_duration};
use crate::engine::state as state_keys;
use crate::snapshot::{Entry, Role, ServerInfo, Snapshot, State};

/// The grants to name when a privilege is missing.
const GRANT_HINT_MARIADB: &str = "GRANT BINLOG MONITOR, SLAVE MONITOR ON *.* to the auditor (MariaDB 10.5+; older: \
     REPLICATION CLIENT)";
const GRANT_HINT_MYSQL: &str = "GRANT REPLICATION CLIENT ON *.* to the auditor";

/// Global variables that move on their own: positions, not configuration.
const VOLATILE: [&str; 7] = [
    "gtid_binlog_pos",
    "gtid_binlog_state",
    "gtid_current_pos",
    "gtid_slave_pos",
    "gtid_executed",
    "gtid_purged",
    "gtid_owned",
];

// Server error numbers.
const ER_PARSE_ERROR: u16 = 1064;
const ER_TABLEACCESS_DENIED: u16 = 1142;
const ER_NO_SUCH_TABLE: u16 = 1146;
const ER_SPECIFIC_ACCESS_DENIED: u16 = 1227;
const ER_STATEMENT_TIMEOUT: u16 = 1969;
const ER_QUERY_TIMEOUT: u16 = 3024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flavor {
    MariaDb,
    MySql,
}

impl Flavor {
    fn of(version: &str) -> Flavor {
        if version.to_ascii_lowercase().contains("mariadb") {
            Flavor::MariaDb
        } else {
            Flavor::MySql
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Flavor::MariaDb => "mariadb",
            Flavor::MySql => "mysql",
        }
    }

    fn grant_hint(self) -> &'static str {
        match self {
            Flavor::MariaDb => GRANT_HINT_MARIADB,
            Flavor::MySql => GRANT_HINT_MYSQL,
        }
    }
}

/// Collects global variables and replication state from one MySQL or MariaDB server.
pub async fn collect(endpoint: &Endpoint) -> Result<Collected, CollectError> {
    let options = connect_options(endpoint)?;
    let started = Instant::now();
    let mut conn = connect(&options, endpoint.connect_timeout).await?;
    let connect_ms = started.elapsed().as_millis();

    let mut session = Session {
        conn: &mut conn,
        statement_timeout: endpoint.statement_timeout,
        flavor: Flavor::MySql,
        limits: endpoint.limits,
        read: 0,
    };
    let result = read(&mut session, endpoint, connect_ms).await;
    // Say goodbye politely, but never let a stalled server hold the collection.
    let _ = tokio::time::timeout(Duration::from_secs(1), conn.close()).await;
    result
}

/// The server's own words for a refused login.
fn server_message(db: &dyn sqlx::error::DatabaseError) -> String {
    db.message().to_owned()
}

/// sqlx follows the handshake with `SET sql_mode=…, time_zone=…, NAMES …` unless told
/// not to. None of it matters to `SHOW` and `SELECT`s of text (the handshake already
/// asks for utf8mb4), and the auditor sends nothing but reads: a round trip and a
/// statement fewer per collection.
fn connect_options(endpoint: &Endpoint) -> Result<MySqlConnectOptions, CollectError> {
    let options = MySqlConnectOptions::from_str(&endpoint.url)
        .map_err(|e| failed(format!("invalid mysql URL: {e}")))?;
    Ok(options.pipes_as_concat(false).no_engine_substitution(false).timezone(None).set_names(false))
}

async fn connect(
    options: &MySqlConnectOptions,
    timeout: Duration,
) -> Result<MySqlConnection, CollectError> {
    let address = address(options);
    super::sql::connect(options, timeout, &address, options.get_username(), server_message).await
}

fn address(options: &MySqlConnectOptions) -> String {
    match options.get_socket() {
        Some(socket) => socket.display().to_string(),
        None => format!("{}:{}", options.get_host(), options.get_port()),
    }
}

async fn read(
    session: &mut Session<'_>,
    endpoint: &Endpoint,
    connect_ms: u128,
) -> Result<Collected, CollectError> {
    let row = fetch_one(session, "reading the server version", "SELECT VERSION(), CURRENT_USER()")
        .await?;
    let version = text(&row, 0).unwrap_or_default();
    let user = text(&row, 1).unwrap_or_default();
    session.flavor = Flavor::of(&version);

    let mut config = match session.flavor {
        Flavor::MariaDb => match mariadb_variables(session).await? {
            Some(mut config) => {
                if let Some(entry) = hidden_paths(&config, &user) {
                    config.insert(PROVENANCE_KEY.into(), entry);
                }
                config
            }
            None => settings(session).await?,
        },
        Flavor::MySql => {
            let mut config = settings(session).await?;
            provenance(session, &mut config).await?;
            config
        }
    };
    config.insert("server.flavor".into(), Entry::new(session.flavor.as_str()));
    persisted::read(session, &mut config).await?;

    let mut state = State::new();
    state.insert("state.connect_ms".into(), Entry::new(connect_ms.to_string()).with_unit("ms"));
    connections(session, &config, &mut state).await?;
    let sources = replication(session, &mut state).await?;
    binlog(session, &mut state).await?;
    gtid(session, &mut state).await?;
    replicas(session, &mut state).await?;

    super::connection_usage(&mut state);
    let role = if sources > 0 { Role::Replica } else { Role::Primary };
    let server = ServerInfo { version, role };
    let snapshot =
        Snapshot { target: endpoint.target.clone(), kind: endpoint.kind, server, config };
    Ok(Collected { snapshot, state })
}

async fn settings(session: &mut Session<'_>) -> Result<BTreeMap<String, Entry>, CollectError> {
    let rows = fetch_all(session, "reading global variables", "SHOW GLOBAL VARIABLES").await?;
    let mut config = BTreeMap::new();
    for row in &rows {
        let name = text(row, 0).unwrap_or_default();
        if VOLATILE.contains(&name.as_str()) {
            continue;
        }
        config.insert(format!("setting.{name}"), Entry::new(text(row, 1).unwrap_or_default()));
    }
    Ok(config)
}

/// MariaDB 10.2+: every global variable with where it was set, in one read of
/// `information_schema.SYSTEM_VARIABLES`: the same rows and values as `SHOW GLOBAL
/// VARIABLES`, which would cost the server as much again (~4 ms of its CPU per
/// collection). `None` when the view is missing (older servers): values without
/// provenance are still worth having.
async fn mariadb_variables(
    session: &mut Session<'_>,
) -> Result<Option<BTreeMap<String, Entry>>, CollectError> {
    let what = "reading information_schema.SYSTEM_VARIABLES";
    let sql = "SELECT LOWER(VARIABLE_NAME), GLOBAL_VALUE, GLOBAL_VALUE_ORIGIN, GLOBAL_VALUE_PATH,
                      LOWER(VARIABLE_TYPE), READ_ONLY
               FROM information_schema.SYSTEM_VARIABLES
               WHERE VARIABLE_SCOPE <> 'SESSION ONLY'";
    let rows = match try_fetch_all(session, what, sql).await? {
        Ok(rows) => rows,
        Err(e) if error_number(&e) == Some(ER_NO_SUCH_TABLE) => return Ok(None),
        Err(e) => return Err(query_error(what, &e, session.flavor)),
    };
    let mut config = BTreeMap::new();
    for row in &rows {
        let name = text(row, 0).unwrap_or_default();
        if VOLATILE.contains(&name.as_str()) {
            continue;
        }
        let mut entry = Entry::new(text(row, 1).unwrap_or_default());
        set_provenance(&mut entry, row, 2);
        config.insert(format!("setting.{name}"), entry);
    }
    Ok(Some(config))
}

/// The stable-config key that says where-set information is incomplete.
pub const PROVENANCE_KEY: &str = "server.provenance";

/// MariaDB shows `GLOBAL_VALUE_PATH` only to an account with the FILE privilege: a
/// least-privilege auditor sees `CONFIG` origins with no path. `server.provenance` =
/// `no_source_file`, with a note saying what is lost and the grant that lifts it, when
/// some setting from an option file came without its file; `None` when nothing is lost.
fn hidden_paths(config: &BTreeMap<String, Entry>, user: &str) -> Option<Entry> {
    let hidden = config
        .values()
        .filter(|e| e.source.as_deref() == Some("configuration file") && e.source_file.is_none())
        .count();
    if hidden == 0 {
        return None;
    }
    let note = format!(
        "information_schema.SYSTEM_VARIABLES.GLOBAL_VALUE_PATH is NULL for {user}: {hidden} \
         settings set in an option file show source \"configuration file\" but no \
         source_file, so findings and changes cannot name the file; GRANT FILE ON *.* TO \
         {user} lifts it, but FILE also lets the account read any file the server can \
         (LOAD_FILE, LOAD DATA INFILE), which an auditor does not otherwise need"
    );
    Some(Entry { source: Some(note), ..Entry::new("no_source_file") })
}

/// MySQL: where each variable was set, from `performance_schema.variables_info` when
/// the server has it.
async fn provenance(
    session: &mut Session<'_>,
    config: &mut BTreeMap<String, Entry>,
) -> Result<(), CollectError> {
    let what = "reading performance_schema.variables_info";
    let sql = "SELECT LOWER(VARIABLE_NAME), VARIABLE_SOURCE, VARIABLE_PATH, NULL, NULL
               FROM performance_schema.variables_info";
    let rows = match try_fetch_all(session, what, sql).await? {
        Ok(rows) => rows,
        // Older servers lack the view: values without provenance are still worth having.
        Err(e) if error_number(&e) == Some(ER_NO_SUCH_TABLE) => return Ok(()),
        Err(sqlx::Error::Database(db)) if is_denied(db.as_ref()) => {
            return Err(failed(format!(
                "{what}: {}: GRANT SELECT ON performance_schema.variables_info to the auditor",
                db.message()
            )));
        }
        Err(e) => return Err(query_error(what, &e, session.flavor)),
    };
    for row in &rows {
        if let Some(entry) =
            text(row, 0).and_then(|name| config.get_mut(&format!("setting.{name}")))
        {
            set_provenance(entry, row, 1);
        }
    }
    Ok(())
}

/// Source, option file, type and context from four columns starting at `first`.
fn set_provenance(entry: &mut Entry, row: &MySqlRow, first: usize) {
    entry.source = text(row, first).map(|origin| source_name(&origin));
    entry.source_file = text(row, first + 1).filter(|path| !path.is_empty());
    entry.vartype = text(row, first + 2);
    entry.context = text(row, first + 3).map(|read_only| {
        if read_only.eq_ignore_ascii_case("yes") { "restart" } else { "dynamic" }.to_owned()
    });
}

/// One vocabulary for both engines, close to PostgreSQL's `pg_settings.source`.
fn source_name(origin: &str) -> String {
    match origin.to_ascii_uppercase().as_str() {
        "COMPILE-TIME" | "COMPILED" => "default",
        "CONFIG" | "GLOBAL" | "SERVER" | "EXPLICIT" | "EXTRA" | "USER" => "configuration file",
        "COMMAND-LINE" | "COMMAND_LINE" => "command line",
        "SQL" | "DYNAMIC" => "set global",
        "PERSISTED" => "persisted",
        "AUTO" => "auto",
        "ENVIRONMENT" => "environment",
        "LOGIN" => "login",
        _ => return origin.to_ascii_lowercase(),
    }
    .to_owned()
}

/// This server as a replica: one set of keys per replication connection. Returns how
/// many connections have a source configured.
async fn replication(session: &mut Session<'_>, state: &mut State) -> Result<usize, CollectError> {
    let what = "reading replica status";
    let rows = match session.flavor {
        Flavor::MariaDb => fetch_all(session, what, "SHOW ALL SLAVES STATUS").await?,
        Flavor::MySql => {
            match try_fetch_all(session, what, "SHOW REPLICA STATUS").await? {
                Ok(rows) => rows,
                // Before 8.0.22.
                Err(e) if error_number(&e) == Some(ER_PARSE_ERROR) => {
                    fetch_all(session, what, "SHOW SLAVE STATUS").await?
                }
                Err(e) => return Err(query_error(what, &e, session.flavor)),
            }
        }
    };
    let mut sources = 0;
    for row in &rows {
        let name = column(row, &["Connection_name", "Channel_Name", "Channel_name"])
            .filter(|name| !name.is_empty())
            .unwrap_or_else(|| "default".into());
        let prefix = format!("{}{name}", state_keys::REPLICATION_PREFIX);
        let fields: [(&str, &[&str], Option<&str>); 12] = [
            ("io_running", &["Slave_IO_Running", "Replica_IO_Running"], None),
            ("sql_running", &["Slave_SQL_Running", "Replica_SQL_Running"], None),
            (
                state_keys::mysql::SECONDS_BEHIND,
                &["Seconds_Behind_Master", "Seconds_Behind_Source"],
                Some("s"),
            ),
            ("io_state", &["Slave_IO_State", "Replica_IO_State"], None),
            ("last_io_errno", &["Last_IO_Errno"], None),
            ("last_io_error", &["Last_IO_Error"], None),
            ("last_sql_errno", &["Last_SQL_Errno"], None),
            ("last_sql_error", &["Last_SQL_Error"], None),
            ("source_host", &["Master_Host", "Source_Host"], None),
            ("source_port", &["Master_Port", "Source_Port"], None),
            ("sql_delay", &["SQL_Delay"], Some("s")),
            ("gtid_io_pos", &["Gtid_IO_Pos", "Retrieved_Gtid_Set"], None),
        ];
        for (field, names, unit) in fields {
            if let Some(value) = column(row, names) {
                insert(state, format!("{prefix}.{field}"), value, unit);
            }
        }
        let behind = column(row, &["Seconds_Behind_Master", "Seconds_Behind_Source"]);
        let delay = column(row, &["SQL_Delay"]);
        if let Some(lag) = behind.as_deref().and_then(|b| lag_beyond_delay(b, delay.as_deref())) {
            insert(state, format!("{prefix}.lag_beyond_delay_s"), lag, Some("s"));
        }
        let using_gtid = column(row, &["Using_Gtid"]).or_else(|| {
            column(row, &["Auto_Position"]).map(|a| if a == "1" { "Yes" } else { "No" }.into())
        });
        if let Some(value) = using_gtid {
            insert(state, format!("{prefix}.using_gtid"), value, None);
        }
        if column(row, &["Master_Host", "Source_Host"]).is_some_and(|h| !h.is_empty()) {
            sources += 1;
        }
    }
    insert(state, "state.replication.count".into(), sources.to_string(), None);
    Ok(sources)
}

/// The lag a replica has beyond its deliberate delay (`MASTER_DELAY`, shown as
/// `SQL_Delay`): `Seconds_Behind_Master` counts the delay too, so a replica delayed by
/// an hour is an hour behind when it is on time. `None` when the lag is unknown (NULL,
/// or not a number); never below zero.
fn lag_beyond_delay(seconds_behind: &str, sql_delay: Option<&str>) -> Option<String> {
    let behind: i64 = seconds_behind.trim().parse().ok()?;
    let delay: i64 = sql_delay.and_then(|d| d.trim().parse().ok()).unwrap_or(0);
    Some(behind.saturating_sub(delay).max(0).to_string())
}

/// The binary log position, when binary logging is on.
async fn binlog(session: &mut Session<'_>, state: &mut State) -> Result<(), CollectError> {
    let what = "reading binary log status";
    let rows = match session.flavor {
        Flavor::MariaDb => fetch_all(session, what, "SHOW MASTER STATUS").await?,
        Flavor::MySql => match try_fetch_all(session, what, "SHOW BINARY LOG STATUS").await? {
            Ok(rows) => rows,
            // Before 8.2.
            Err(e) if error_number(&e) == Some(ER_PARSE_ERROR) => {
                fetch_all(session, what, "SHOW MASTER STATUS").await?
            }
            Err(e) => return Err(query_error(what, &e, session.flavor)),
        },
    };
    if let Some(row) = rows.first() {
        if let Some(file) = column(row, &["File"]) {
            insert(state, "state.binlog.file".into(), file, None);
        }
        if let Some(position) = column(row, &["Position"]) {
            insert(state, "state.binlog.position".into(), position, Some("B"));
        }
    }
    Ok(())
}

async fn gtid(session: &mut Session<'_>, state: &mut State) -> Result<(), CollectError> {
    let (sql, fields): (&'static str, &[&str]) = match session.flavor {
        Flavor::MariaDb => (
            "SELECT @@GLOBAL.gtid_binlog_pos, @@GLOBAL.gtid_current_pos, @@GLOBAL.gtid_slave_pos",
            &["binlog_pos", "current_pos", "slave_pos"],
        ),
        Flavor::MySql => {
            ("SELECT @@GLOBAL.gtid_executed, @@GLOBAL.gtid_purged", &["executed", "purged"])
        }
    };
    let row = fetch_one(session, "reading GTID positions", sql).await?;
    for (index, field) in fields.iter().enumerate() {
        if let Some(value) = text(&row, index) {
            insert(state, format!("state.gtid.{field}"), value, None);
        }
    }
    Ok(())
}

/// Connection counters, the uptime and semi-synchronous replication from `SHOW GLOBAL
/// STATUS` (no grant needed), and the limit from `max_connections`: ordinary clients get that many (one more is kept
/// for `SUPER` / `CONNECTION_ADMIN`).
async fn connections(
    session: &mut Session<'_>,
    config: &BTreeMap<String, Entry>,
    state: &mut State,
) -> Result<(), CollectError> {
    let rows = fetch_all(
        session,
        "reading connection status",
        "SHOW GLOBAL STATUS WHERE Variable_name IN ('Threads_connected', 'Threads_running',
             'Max_used_connections', 'Aborted_connects', 'Aborted_clients', 'Uptime',
             'Rpl_semi_sync_master_status', 'Rpl_semi_sync_master_clients',
             'Rpl_semi_sync_master_no_tx', 'Rpl_semi_sync_master_yes_tx',
             'Rpl_semi_sync_slave_status', 'Rpl_semi_sync_source_status',
             'Rpl_semi_sync_source_clients', 'Rpl_semi_sync_source_no_tx',
             'Rpl_semi_sync_source_yes_tx', 'Rpl_semi_sync_replica_status')
           OR Variable_name LIKE 'Connection\\_errors\\_%'",
    )
    .await?;
    for row in &rows {
        let (Some(name), Some(value)) = (text(row, 0), text(row, 1)) else {
            continue;
        };
        let (key, unit) = match name.to_ascii_lowercase().as_str() {
            "threads_connected" => (super::IN_USE_KEY.to_owned(), None),
            "threads_running" => ("state.connections.running".to_owned(), None),
            "max_used_connections" => ("state.connections.max_used".to_owned(), None),
            "aborted_connects" => (super::ABORTED_KEY.to_owned(), None),
            "aborted_clients" => ("state.connections.aborted_clients".to_owned(), None),
            "uptime" => (UPTIME_KEY.to_owned(), Some("s")),
            other if other.starts_with("rpl_semi_sync_") => match semi_sync_key(other) {
                Some(key) => (key, None),
                None => continue,
            },
            other => match other.strip_prefix("connection_errors_") {
                Some("max_connections") => {
                    insert(state, super::REFUSED_KEY.into(), value.clone(), None);
                    ("state.connections.errors.max_connections".to_owned(), None)
                }
                Some(cause) => (format!("state.connections.errors.{cause}"), None),
                None => continue,
            },
        };
        insert(state, key, value, unit);
    }
    if let Some(limit) = config.get("setting.max_connections") {
        insert(state, super::LIMIT_KEY.into(), limit.value.clone(), None);
    }
    Ok(())
}

/// `state.semi_sync.<side>.<reading>` for a semi-synchronous replication status
/// variable (lowercased), MariaDB's and MySQL's before 8.0.26 (`master`, `slave`) and
/// MySQL's since (`source`, `replica`) under the same names.
fn semi_sync_key(variable: &str) -> Option<String> {
    let rest = variable.strip_prefix("rpl_semi_sync_")?;
    let (side, reading) = rest.split_once('_')?;
    let side = match side {
        "master" | "source" => "primary",
        "slave" | "replica" => "replica",
        _ => return None,
    };
    Some(format!("{}{side}.{reading}", state_keys::mysql::SEMI_SYNC_PREFIX))
}

/// Replicas connected to this server. Listing them needs more than the minimal grant
/// (see the module doc): without it, the count alone where the engine offers it.
async fn replicas(session: &mut Session<'_>, state: &mut State) -> Result<(), CollectError> {
    let what = "listing connected replicas";
    let sql = match session.flavor {
        Flavor::MariaDb => "SHOW SLAVE HOSTS",
        Flavor::MySql => "SHOW REPLICAS",
    };
    let mut result = try_fetch_all(session, what, sql).await?;
    if session.flavor == Flavor::MySql
        && matches!(&result, Err(e) if error_number(e) == Some(ER_PARSE_ERROR))
    {
        // Before 8.0.22.
        result = try_fetch_all(session, what, "SHOW SLAVE HOSTS").await?;
    }
    let rows = match result {
        Ok(rows) => rows,
        Err(e) if is_access_denied(&e) => {
            if session.flavor == Flavor::MariaDb {
                let rows = fetch_all(
                    session,
                    "reading Slaves_connected",
                    "SHOW GLOBAL STATUS LIKE 'Slaves_connected'",
                )
                .await?;
                if let Some(count) = rows.first().and_then(|row| text(row, 1)) {
                    insert(state, "state.replicas.count".into(), count, None);
                }
            }
            return Ok(());
        }
        Err(e) => return Err(query_error(what, &e, session.flavor)),
    };
    for row in &rows {
        let id = column(row, &["Server_id", "Server_Id"]).unwrap_or_default();
        let prefix = format!("{}{id}", state_keys::REPLICA_PREFIX);
        let fields: [(&str, &[&str]); 3] = [
            ("host", &["Host"]),
            ("port", &["Port"]),
            ("source_id", &["Master_id", "Source_Id", "Master_Id"]),
        ];
        for (field, names) in fields {
            if let Some(value) = column(row, names) {
                insert(state, format!("{prefix}.{field}"), value, None);
            }
        }
    }
    insert(state, "state.replicas.count".into(), rows.len().to_string(), None);
    Ok(())
}

fn insert(state: &mut State, key: String, value: String, unit: Option<&str>) {
    let mut entry = Entry::new(value);
    entry.unit = unit.map(str::to_owned);
    state.insert(key, entry);
}

/// The open connection, the bound on each statement (kept on the client side, as in
/// the PostgreSQL collector), the engine once known, and the bounds on what the server
/// sends (`read` counts the bytes of values so far).
struct Session<'c> {
    conn: &'c mut MySqlConnection,
    statement_timeout: Duration,
    flavor: Flavor,
    limits: Limits,
    read: u64,
}

/// Runs `sql` over the text protocol: `SHOW` statements are not all preparable, and
/// text results decode the same whatever the column type.
///
/// Rows are streamed and held to the limits as they arrive: statements that list
/// variables at most `limits.settings` rows, others `limits.rows`; no value longer than
/// `limits.value_bytes`; `limits.reply_bytes` of values over the collection. Exceeding
/// one (or the timeout) is the outer error; the server's own error the inner one.
async fn try_fetch_all(
    session: &mut Session<'_>,
    what: &str,
    sql: &'static str,
) -> Result<Result<Vec<MySqlRow>, sqlx::Error>, CollectError> {
    let limits = session.limits;
    let bound =
        if sql.to_ascii_lowercase().contains("variables") { Limit::Settings } else { Limit::Rows };
    let max_rows = if bound == Limit::Settings { limits.settings } else { limits.rows };
    let read = &mut session.read;
    let conn = &mut *session.conn;
    let query = async move {
        let mut rows = Vec::new();
        let mut stream = sqlx::raw_sql(sql).fetch(conn);
        loop {
            let row = match stream.try_next().await {
                Ok(Some(row)) => row,
                Ok(None) => return Ok(Ok(rows)),
                Err(e) => return Ok(Err(e)),
            };
            if rows.len() == max_rows {
                return Err(bound.exceeded(&limits, what));
            }
            for i in 0..row.len() {
                let value = row.try_get_unchecked::<Option<&[u8]>, _>(i).ok().flatten();
                let len = value.map_or(0, |b| b.len() as u64);
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
    };
    match tokio::time::timeout(session.statement_timeout, query).await {
        Ok(result) => result,
        Err(_) => Err(statement_timed_out(what, session.statement_timeout)),
    }
}

async fn fetch_all(
    session: &mut Session<'_>,
    what: &str,
    sql: &'static str,
) -> Result<Vec<MySqlRow>, CollectError> {
    try_fetch_all(session, what, sql).await?.map_err(|e| query_error(what, &e, session.flavor))
}

async fn fetch_one(
    session: &mut Session<'_>,
    what: &str,
    sql: &'static str,
) -> Result<MySqlRow, CollectError> {
    fetch_all(session, what, sql)
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| failed(format!("{what}: the server returned no row")))
}

fn statement_timed_out(what: &str, timeout: Duration) -> CollectError {
    failed(format!("{what}: no answer within {} (statement_timeout)", human_duration(timeout)))
}

/// Column `index` as text; `None` for NULL. Bytes are decoded leniently: MySQL 8 sends
/// some text columns as binary strings.
fn text(row: &MySqlRow, index: usize) -> Option<String> {
    row.try_get_unchecked::<Option<Vec<u8>>, _>(index)
        .ok()
        .flatten()
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
}

/// The first of `names` that the row has, as text; `None` when absent or NULL.
fn column(row: &MySqlRow, names: &[&str]) -> Option<String> {
    let index = row.columns().iter().position(|c| names.contains(&c.name()))?;
    text(row, index)
}

fn error_number(e: &sqlx::Error) -> Option<u16> {
    match e {
        sqlx::Error::Database(db) => {
            db.try_downcast_ref::<MySqlDatabaseError>().map(|e| e.number())
        }
        _ => None,
    }
}

fn is_access_denied(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if is_denied(db.as_ref()))
}

fn is_denied(db: &dyn sqlx::error::DatabaseError) -> bool {
    db.try_downcast_ref::<MySqlDatabaseError>()
        .is_some_and(|e| matches!(e.number(), ER_SPECIFIC_ACCESS_DENIED | ER_TABLEACCESS_DENIED))
}

fn query_error(what: &str, e: &sqlx::Error, flavor: Flavor) -> CollectError {
    match (e, error_number(e)) {
        (sqlx::Error::Database(db), Some(ER_SPECIFIC_ACCESS_DENIED | ER_TABLEACCESS_DENIED)) => {
            failed(format!("{what}: {}: {}", db.message(), flavor.grant_hint()))
        }
        (sqlx::Error::Database(db), Some(ER_STATEMENT_TIMEOUT | ER_QUERY_TIMEOUT)) => {
            failed(format!("{what}: {} (server-side statement timeout)", db.message()))
        }
        (sqlx::Error::Database(db), _) => failed(format!("{what}: {}", db.message())),
        (other, _) => failed(format!("{what}: {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flavor_from_version() {
        assert_eq!(Flavor::of("10.11.19-MariaDB-0+deb12u1-log"), Flavor::MariaDb);
        assert_eq!(Flavor::of("11.4.2-MariaDB"), Flavor::MariaDb);
        assert_eq!(Flavor::of("8.4.3"), Flavor::MySql);
        assert_eq!(Flavor::of("8.0.39-0ubuntu0.22.04.1"), Flavor::MySql);
    }

    #[test]
    fn lag_beyond_a_deliberate_delay() {
        assert_eq!(lag_beyond_delay("3605", Some("3600")).as_deref(), Some("5"));
        assert_eq!(lag_beyond_delay("12", Some("0")).as_deref(), Some("12"));
        assert_eq!(lag_beyond_delay("12", None).as_deref(), Some("12"));
        // Caught up with what it fetched: Seconds_Behind_Master is 0 whatever the delay.
        assert_eq!(lag_beyond_delay("0", Some("3600")).as_deref(), Some("0"));
        assert_eq!(lag_beyond_delay("NULL", Some("0")), None);
    }

    #[test]
    fn sources_share_one_vocabulary() {
        assert_eq!(source_name("COMPILE-TIME"), "default");
        assert_eq!(source_name("COMPILED"), "default");
        assert_eq!(source_name("CONFIG"), "configuration file");
        assert_eq!(source_name("GLOBAL"), "configuration file");
        assert_eq!(source_name("COMMAND-LINE"), "command line");
        assert_eq!(source_name("COMMAND_LINE"), "command line");
        assert_eq!(source_name("SQL"), "set global");
        assert_eq!(source_name("DYNAMIC"), "set global");
        assert_eq!(source_name("PERSISTED"), "persisted");
        assert_eq!(source_name("SOMETHING-NEW"), "something-new");
    }

    #[test]
    fn invalid_url_never_shows_the_password() {
        let endpoint = Endpoint {
            target: "t".into(),
            kind: crate::snapshot::Kind::Mysql,
            url: "mysql://u:hunter2@h:notaport/db".into(),
            connect_timeout: Duration::from_secs(1),
            statement_timeout: Duration::from_secs(1),
            limits: Default::default(),
            config_file: None,
        };
        let err = connect_options(&endpoint).unwrap_err();
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }
}
