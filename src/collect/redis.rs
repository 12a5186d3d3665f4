//! Redis collector: `CONFIG GET *` as config; `INFO` sections and `ROLE` as state.
//!
//! One connection (redis-rs multiplexed connection, RESP2, no `CLIENT SETINFO`), opened
//! and checked with `PING` within `connect_timeout`; every later command bounded by
//! `statement_timeout` on the client side. Only `PING`, `ROLE`, `INFO <section>` and
//! `CONFIG GET *` are sent, so a least-privilege ACL user is enough:
//!
//! ```text
//! ACL SETUSER driftwatch-auditor on >PASSWORD +info +config|get +role +ping
//! ```
//!
//! A missing permission (`NOPERM`) fails the collection with the ACL rule to add; a
//! server that wants a password (`NOAUTH`) or refuses it (`WRONGPASS`) fails with what
//! to configure. The URL is `redis://[user@]host:port[/db]`; the password comes from the
//! target's `password_file`/`password_env`.
//!
//! # Config (`Snapshot::config`)
//!
//! - `setting.<name>`: one entry per pair of `CONFIG GET *`, the value as Redis prints
//!   it. Byte and time settings carry a unit (`maxmemory` `B`, `repl-timeout` `s`,
//!   `busy-reply-threshold` `ms`, …; see [`unit_of`]) so baselines can say `"64MB"`.
//!   `requirepass`, `masterauth`, … come back in clear: the caller redacts them.
//!   Redis does not say where a value was set, so there is no source/location.
//! - `server.config_file` (INFO server `config_file`, when the server was started from
//!   one) and `server.redis_mode` (`standalone`, `cluster`, `sentinel`).
//! - `pending.<name>`: settings whose runtime value differs from what a restart would
//!   bring back, i.e. changed with `CONFIG SET` and not saved with `CONFIG REWRITE`
//!   (runtime-only drift, lost on restart). The value is the file's (or the engine's
//!   default when the file does not set it), read with the `check` parser
//!   (`conffile::redis`) from the target's `config_file`, the file the operator says
//!   the server starts from — never from the path the server names (a server could
//!   name a FIFO, a device or another target's password file). The file and its
//!   includes are read through [`super::files::BoundedFiles`] on a blocking thread,
//!   within `statement_timeout`. `server.pending_source` is `config_file` then, else
//!   `unavailable` with the reason; its note says so when `INFO server` names another
//!   file. A file that does not parse is named by file and line only, never quoted.
//!   See [`super::pending`].
//! - `Snapshot::server`: `version` from INFO server `redis_version`; `role` from `ROLE`
//!   (`master` → primary, `slave` → replica).
//!
//! # Bounds
//!
//! redis-rs runs over our own socket ([`wire`]), which fails every read once the server
//! has sent `limits.reply_bytes` in all, or an array header announcing more than
//! `2 × limits.settings` elements, or nesting deeper than 8: the collection fails naming
//! the bound, and redis-rs never buffers or builds more than the limits allow. Then the
//! parsed replies are held to `limits.settings` (`CONFIG GET` pairs), `limits.rows`
//! (`INFO` fields) and `limits.value_bytes` (each value).
//!
//! # State (`Collected::state`), every value text
//!
//! - `state.connect_ms` (`ms`): time to connect, authenticate and answer `PING`.
//! - `state.uptime_s` (`s`); `state.instance` (`run_id`, new at every start).
//! - `state.role` (`master`/`slave`, as INFO says), `state.connected_replicas`.
//! - Per replica of this server (INFO replication `slaveN:`), keyed `ip:port`:
//!   `state.replica.<ip:port>.state` (`online`, `wait_bgsave`, …), `.offset`,
//!   `.lag` (`s` since its last ack), `.offset_lag_bytes` (`B`, this server's
//!   `master_repl_offset` − the replica's acked offset, ≥ 0).
//! - `state.master_repl_offset`.
//! - On a replica: `state.master_host`, `.master_port`, `.master_link_status`
//!   (`up`/`down`), `.master_last_io_seconds_ago` (`s`), `.master_sync_in_progress`
//!   (`0`/`1`), `.master_link_down_since_seconds` (`s`, only while down),
//!   `state.replication.offset_lag_bytes` (`B`, read from the primary − processed,
//!   ≥ 0; the lag behind the primary itself is measured on the primary, per replica).
//! - `state.persistence.<field>` for `loading`, `rdb_changes_since_last_save`,
//!   `rdb_bgsave_in_progress`, `rdb_last_save_time`, `rdb_last_bgsave_status`,
//!   `aof_enabled`, `aof_rewrite_in_progress`, `aof_last_bgrewrite_status`,
//!   `aof_last_write_status`.
//! - `state.memory.used_memory`, `.used_memory_rss`, `.used_memory_peak` (`B`),
//!   `.mem_fragmentation_ratio`. (`maxmemory` is a setting.)
//! - Connections (`INFO clients`, `INFO stats`): `state.connections.in_use`
//!   (`connected_clients`, replicas not counted), `.limit` (`maxclients`), `.blocked`
//!   (`blocked_clients`), `.refused` (`rejected_connections`, a counter: clients turned
//!   away at `maxclients`), `.total` (`total_connections_received`, a counter), and
//!   `.usage_pct` (see [`super::connection_usage`]).

mod wire;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, ConnectionAddr, IntoConnectionInfo as _, Value};

use wire::{Budget, Guarded, Socket};

use super::pending::RedisFile;
use super::{
    CollectError, Collected, Endpoint, Limit, Limits, failed, human_duration, unreachable,
};
use crate::engine::state as state_keys;
use crate::snapshot::{Entry, Kind, Role, ServerInfo, Snapshot, State};

/// The ACL a least-privilege auditor needs, for error messages.
const ACL_HINT: &str = "the auditor needs +info +config|get +role +ping";

/// Collects `CONFIG GET *`, `INFO` and `ROLE` from one Redis server.
pub async fn collect(endpoint: &Endpoint) -> Result<Collected, CollectError> {
    let info = connection_info(&endpoint.url)?;
    let address = address(info.addr());
    let user = info.redis_settings().username().unwrap_or("default").to_owned();
    let started = Instant::now();
    let budget = Arc::new(Budget::new(endpoint.limits));
    let (conn, driver) =
        connect(info, &address, &user, endpoint.connect_timeout, &budget, &endpoint.limits).await?;
    let connect_ms = started.elapsed().as_millis();

    let mut session = Session {
        conn,
        driver,
        user,
        statement_timeout: endpoint.statement_timeout,
        budget,
        limits: endpoint.limits,
    };
    let result = read(&mut session, endpoint, connect_ms).await;
    // Ends the connection's driver task, which closes the socket.
    drop(session);
    result
}

fn connection_info(url: &str) -> Result<redis::ConnectionInfo, CollectError> {
    if url.starts_with("rediss://") {
        return Err(failed("rediss:// (TLS) is not supported yet: use redis://".into()));
    }
    let info = url.into_connection_info().map_err(|e| failed(format!("invalid redis URL: {e}")))?;
    // No `CLIENT SETINFO` on connect: it needs a permission the auditor does not have,
    // and the collector sends nothing but reads.
    let settings = info.redis_settings().clone().set_skip_set_lib_name();
    Ok(info.set_redis_settings(settings))
}

fn address(addr: &ConnectionAddr) -> String {
    match addr {
        ConnectionAddr::Tcp(host, port) => format!("{host}:{port}"),
        ConnectionAddr::Unix(path) => path.display().to_string(),
        other => other.to_string(),
    }
}

/// Opens the connection over our own socket (TCP or Unix, wrapped in the byte
/// [`Budget`]) and checks the server answers `PING`, all within `timeout`: a server
/// that accepts TCP and never speaks is unreachable, like one that refuses.
async fn connect(
    info: redis::ConnectionInfo,
    address: &str,
    user: &str,
    timeout: Duration,
    budget: &Arc<Budget>,
    limits: &Limits,
) -> Result<(MultiplexedConnection, tokio::task::JoinHandle<()>), CollectError> {
    enum Failure {
        Socket(std::io::Error),
        Redis(redis::RedisError),
    }
    let attempt = async {
        let socket: Box<dyn Socket> = match info.addr() {
            ConnectionAddr::Tcp(host, port) => {
                let stream = tokio::net::TcpStream::connect((host.as_str(), *port))
                    .await
                    .map_err(Failure::Socket)?;
                let _ = stream.set_nodelay(true);
                Box::new(stream)
            }
            ConnectionAddr::Unix(path) => {
                Box::new(tokio::net::UnixStream::connect(path).await.map_err(Failure::Socket)?)
            }
            _ => {
                return Err(Failure::Redis(redis::RedisError::from((
                    redis::ErrorKind::InvalidClientConfig,
                    "TLS",
                ))));
            }
        };
        let stream = Guarded { inner: socket, budget: budget.clone() };
        // Our own deadlines apply, not the library's defaults (1s connect, 500ms reply).
        let config =
            AsyncConnectionConfig::new().set_connection_timeout(None).set_response_timeout(None);
        let (mut conn, driver) =
            MultiplexedConnection::new_with_config(info.redis_settings(), stream, config)
                .await
                .map_err(Failure::Redis)?;
        let driver = tokio::spawn(driver);
        match redis::cmd("PING").query_async::<Value>(&mut conn).await {
            Ok(_) => Ok((conn, driver)),
            Err(e) => {
                driver.abort();
                Err(Failure::Redis(e))
            }
        }
    };
    match tokio::time::timeout(timeout, attempt).await {
        Err(_) => Err(super::connect_timed_out(timeout, address)),
        Ok(Ok(connected)) => Ok(connected),
        Ok(Err(_)) if budget.broken().is_some() => {
            let limit = budget.broken().unwrap_or(Limit::ReplyBytes);
            Err(limit.exceeded(limits, &format!("connecting to {address}")))
        }
        Ok(Err(Failure::Socket(e))) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
            Err(unreachable(format!("connection refused by {address}")))
        }
        Ok(Err(Failure::Socket(e))) => Err(unreachable(format!("cannot reach {address}: {e}"))),
        Ok(Err(Failure::Redis(e))) => Err(connect_error(&e, address, user)),
    }
}

/// Network trouble means unreachable; a server that answers and refuses us (password,
/// ACL, TLS-only) was reached, so that is a failure to fix in config.
fn connect_error(e: &redis::RedisError, address: &str, user: &str) -> CollectError {
    if e.is_connection_refusal() {
        return unreachable(format!("connection refused by {address}"));
    }
    if let Some(message) = server_message(e, user, "PING", "+ping") {
        return failed(format!("connecting to {address} as {user}: {message}"));
    }
    match e.kind() {
        redis::ErrorKind::Io => unreachable(format!("cannot reach {address}: {e}")),
        redis::ErrorKind::InvalidClientConfig => {
            failed(format!("connecting to {address}: {e} (TLS, rediss://, is not supported)"))
        }
        redis::ErrorKind::AuthenticationFailed => {
            failed(format!("connecting to {address} as {user}: authentication failed: {e}"))
        }
        redis::ErrorKind::Parse => {
            failed(format!("{address} does not answer like a Redis server: {e}"))
        }
        _ => unreachable(format!("connecting to {address}: {e}")),
    }
}

/// The server's refusal, explained: what permission or credential is missing.
fn server_message(e: &redis::RedisError, user: &str, what: &str, acl: &str) -> Option<String> {
    let detail = e.detail().unwrap_or_default();
    match e.code()? {
        "NOPERM" => Some(format!(
            "{what}: permission denied for user {user}: {detail}: grant it with \
             `ACL SETUSER {user} {acl}` ({ACL_HINT})"
        )),
        "NOAUTH" => Some(format!(
            "{what}: the server requires a password ({detail}): give the target a user in its \
             url and password_file or password_env"
        )),
        "WRONGPASS" => Some(format!("authentication failed for user {user}: {detail}")),
        code => Some(format!("{what}: {code} {detail}")),
    }
}

async fn read(
    session: &mut Session,
    endpoint: &Endpoint,
    connect_ms: u128,
) -> Result<Collected, CollectError> {
    let server_info = info(session, "server").await?;
    let replication = info(session, "replication").await?;
    let persistence = info(session, "persistence").await?;
    let memory = info(session, "memory").await?;
    let clients = info(session, "clients").await?;
    let stats = info(session, "stats").await?;
    let role = role(session).await?;
    let mut config = settings(session, &server_info).await?;
    let file = config_file(endpoint.config_file.as_deref(), role, endpoint.statement_timeout);
    super::pending::redis_from_file(&mut config, file.await);

    let mut state = State::new();
    insert(&mut state, "state.connect_ms", connect_ms.to_string(), Some("ms"));
    if let Some(uptime) = server_info.get("uptime_in_seconds") {
        insert(&mut state, super::UPTIME_KEY, uptime.clone(), Some("s"));
    }
    // Random at every start: exactly which process answered.
    if let Some(run_id) = server_info.get("run_id") {
        insert(&mut state, super::INSTANCE_KEY, run_id.clone(), None);
    }
    replication_state(&replication, &mut state);
    let fields = [
        ("loading", None),
        ("rdb_changes_since_last_save", None),
        ("rdb_bgsave_in_progress", None),
        ("rdb_last_save_time", None),
        ("rdb_last_bgsave_status", None),
        ("aof_enabled", None),
        ("aof_rewrite_in_progress", None),
        ("aof_last_bgrewrite_status", None),
        ("aof_last_write_status", None),
    ];
    copy(&persistence, "state.persistence", &fields, &mut state);
    let fields = [
        ("used_memory", Some("B")),
        ("used_memory_rss", Some("B")),
        ("used_memory_peak", Some("B")),
        ("mem_fragmentation_ratio", None),
    ];
    copy(&memory, "state.memory", &fields, &mut state);
    connection_state(&clients, &stats, &config, &mut state);

    super::connection_usage(&mut state);
    let version = server_info.get("redis_version").cloned().unwrap_or_default();
    let server = ServerInfo { version, role };
    let snapshot =
        Snapshot { target: endpoint.target.clone(), kind: endpoint.kind, server, config };
    Ok(Collected { snapshot, state })
}

async fn info(
    session: &mut Session,
    section: &str,
) -> Result<BTreeMap<String, String>, CollectError> {
    let what = format!("INFO {section}");
    let mut cmd = redis::cmd("INFO");
    cmd.arg(section);
    // Bytes, not `String`: redis-rs refuses a reply that is not UTF-8, and one odd
    // byte must not make the whole target unauditable.
    let bytes: Vec<u8> = session.query(&what, "+info", &cmd).await?;
    let info = parse_info(&String::from_utf8_lossy(&bytes));
    let limits = &session.limits;
    if info.len() > limits.rows {
        return Err(Limit::Rows.exceeded(limits, &what));
    }
    if info.values().any(|v| v.len() as u64 > limits.value_bytes) {
        return Err(Limit::ValueBytes.exceeded(limits, &what));
    }
    Ok(info)
}

/// `field:value` lines; `# Section` headers and blank lines skipped.
fn parse_info(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .filter_map(|line| line.split_once(':'))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

async fn role(session: &mut Session) -> Result<Role, CollectError> {
    let reply: Value = session.query("ROLE", "+role", &redis::cmd("ROLE")).await?;
    let first = match &reply {
        Value::Array(items) => items.first(),
        _ => None,
    };
    let name = match first {
        Some(Value::BulkString(bytes)) => String::from_utf8_lossy(bytes).into_owned(),
        Some(Value::SimpleString(s)) => s.clone(),
        _ => return Err(failed(format!("ROLE: unexpected reply {reply:?}"))),
    };
    match name.as_str() {
        "master" => Ok(Role::Primary),
        "slave" | "replica" => Ok(Role::Replica),
        other => Err(failed(format!("ROLE: `{other}` is not a data server (master or replica)"))),
    }
}

async fn settings(
    session: &mut Session,
    server_info: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, Entry>, CollectError> {
    let mut cmd = redis::cmd("CONFIG");
    cmd.arg("GET").arg("*");
    let what = "CONFIG GET *";
    let reply: Value = session.query(what, "+config|get", &cmd).await?;
    let items = match reply {
        Value::Array(items) => items,
        other => return Err(failed(format!("{what}: unexpected reply {}", shape(&other)))),
    };
    let limits = &session.limits;
    if items.len() / 2 > limits.settings {
        return Err(Limit::Settings.exceeded(limits, what));
    }
    let mut config = BTreeMap::new();
    for pair in items.chunks(2) {
        let [name, value] = pair else {
            return Err(failed(format!("{what}: a name without a value")));
        };
        let (Some(name), Some(value)) = (text_of(name), text_of(value)) else {
            return Err(failed(format!("{what}: a name or value that is not a string")));
        };
        if value.len() as u64 > limits.value_bytes {
            return Err(Limit::ValueBytes.exceeded(limits, what));
        }
        // Values are whatever a client `CONFIG SET` (`masterauth`,
        // `replica-announce-ip`, …): bytes that are not UTF-8 show as U+FFFD.
        let name = String::from_utf8_lossy(name).into_owned();
        let mut entry = Entry::new(String::from_utf8_lossy(value).into_owned());
        entry.unit = unit_of(&name).map(str::to_owned);
        config.insert(format!("setting.{name}"), entry);
    }
    for field in ["config_file", "redis_mode"] {
        if let Some(value) = server_info.get(field).filter(|v| !v.is_empty()) {
            config.insert(format!("server.{field}"), Entry::new(value.clone()));
        }
    }
    Ok(config)
}

/// The bytes of a string reply.
fn text_of(value: &Value) -> Option<&[u8]> {
    match value {
        Value::BulkString(bytes) => Some(bytes),
        Value::SimpleString(s) => Some(s.as_bytes()),
        _ => None,
    }
}

/// What kind of reply a value is, for messages (never the value itself).
fn shape(value: &Value) -> &'static str {
    match value {
        Value::Nil => "nil",
        Value::Int(_) => "an integer",
        Value::BulkString(_) | Value::SimpleString(_) => "a string",
        Value::Array(_) => "an array",
        Value::ServerError(_) => "an error",
        _ => "of another type",
    }
}

/// The target's `config_file` (if any) parsed on a blocking thread within `timeout`:
/// what a restart would bring back.
async fn config_file(path: Option<&Path>, role: Role, timeout: Duration) -> RedisFile {
    let Some(path) = path else { return RedisFile::NotConfigured };
    let owned = path.to_owned();
    let task = tokio::task::spawn_blocking(move || parse_config_file(&owned, role));
    let why = match tokio::time::timeout(timeout, task).await {
        Ok(Ok(file)) => return file,
        Ok(Err(e)) => format!("reading it failed: {e}"),
        // The blocking read goes on until the file system answers; the collection
        // does not wait for it.
        Err(_) => format!("not read within {} (statement_timeout)", human_duration(timeout)),
    };
    RedisFile::Unreadable { path: path.to_owned(), why: vec![why] }
}

/// How many problems of an unreadable file are named.
const MAX_FILE_PROBLEMS: usize = 5;

/// Parses `path` (and its includes) through [`super::files::BoundedFiles`]. Problems
/// are named by file and line, or by the reader's own refusal: the parser's messages
/// may quote the file, and a file that is not configuration may be anything.
fn parse_config_file(path: &Path, role: Role) -> RedisFile {
    let files = super::files::BoundedFiles::new();
    let problems = match super::conffile::snapshot(Kind::Redis, path, role, &files) {
        Ok(restart) => return RedisFile::Parsed { path: path.to_owned(), restart: restart.config },
        Err(problems) => problems,
    };
    let refusals = files.refusals();
    let mut why: Vec<String> = if refusals.is_empty() {
        problems
            .0
            .iter()
            .map(|d| {
                format!("{}:{} did not parse as redis configuration", d.file.display(), d.line)
            })
            .collect()
    } else {
        refusals.into_iter().map(|r| r.message).collect()
    };
    why.dedup();
    if why.len() > MAX_FILE_PROBLEMS {
        let more = why.len() - MAX_FILE_PROBLEMS;
        why.truncate(MAX_FILE_PROBLEMS);
        why.push(format!("and {more} more"));
    }
    RedisFile::Unreadable { path: path.to_owned(), why }
}

/// The unit of a Redis setting whose value is a byte count or a duration (Redis prints
/// them as plain numbers), so `"64MB"` or `"1min"` in a baseline compares.
pub fn unit_of(name: &str) -> Option<&'static str> {
    // One table for the live snapshot and the one `check` reads from a file.
    crate::engine::redis::unit(name)
}

fn replication_state(info: &BTreeMap<String, String>, state: &mut State) {
    let get = |k: &str| info.get(k).map(String::as_str);
    let offset = |k: &str| get(k).and_then(|v| v.parse::<i64>().ok());
    if let Some(role) = get("role") {
        insert(state, "state.role", role.to_owned(), None);
    }
    if let Some(n) = get("connected_slaves") {
        insert(state, "state.connected_replicas", n.to_owned(), None);
    }
    if let Some(n) = get("master_repl_offset") {
        insert(state, "state.master_repl_offset", n.to_owned(), None);
    }
    let head = offset("master_repl_offset");
    for (key, value) in info {
        let is_replica_line = key.strip_prefix("slave").is_some_and(|n| n.parse::<u32>().is_ok());
        if !is_replica_line {
            continue;
        }
        let fields: BTreeMap<&str, &str> =
            value.split(',').filter_map(|pair| pair.split_once('=')).collect();
        let (Some(ip), Some(port)) = (fields.get("ip"), fields.get("port")) else { continue };
        let prefix = format!("{}{ip}:{port}", state_keys::REPLICA_PREFIX);
        for (field, unit) in [("state", None), ("offset", None), ("lag", Some("s"))] {
            if let Some(v) = fields.get(field) {
                insert(state, &format!("{prefix}.{field}"), (*v).to_owned(), unit);
            }
        }
        if let (Some(head), Some(acked)) =
            (head, fields.get("offset").and_then(|v| v.parse::<i64>().ok()))
        {
            let lag = (head - acked).max(0).to_string();
            insert(state, &format!("{prefix}.offset_lag_bytes"), lag, Some("B"));
        }
    }
    if get("role") == Some("slave") {
        let fields = [
            ("master_host", None),
            ("master_port", None),
            ("master_link_status", None),
            ("master_last_io_seconds_ago", Some("s")),
            ("master_sync_in_progress", None),
            ("master_link_down_since_seconds", Some("s")),
        ];
        copy(info, "state", &fields, state);
        // What the replica read from its primary but has not processed yet (Redis ≥ 7);
        // older servers only know the processed offset and `master_repl_offset`.
        let read = offset("slave_read_repl_offset").or(head);
        if let (Some(read), Some(done)) = (read, offset("slave_repl_offset")) {
            let lag = (read - done).max(0).to_string();
            insert(state, state_keys::redis::OFFSET_LAG_BYTES, lag, Some("B"));
        }
    }
}

/// `INFO clients` and `INFO stats` readings of connections; the limit is `maxclients`
/// (INFO clients has it since Redis 7, else the setting).
fn connection_state(
    clients: &BTreeMap<String, String>,
    stats: &BTreeMap<String, String>,
    config: &BTreeMap<String, Entry>,
    state: &mut State,
) {
    let fields = [
        (clients, "connected_clients", super::IN_USE_KEY),
        (clients, "blocked_clients", "state.connections.blocked"),
        (stats, "rejected_connections", super::REFUSED_KEY),
        (stats, "total_connections_received", "state.connections.total"),
    ];
    for (section, field, key) in fields {
        if let Some(value) = section.get(field) {
            insert(state, key, value.clone(), None);
        }
    }
    let limit = clients
        .get("maxclients")
        .cloned()
        .or_else(|| config.get("setting.maxclients").map(|e| e.value.clone()));
    if let Some(limit) = limit {
        insert(state, super::LIMIT_KEY, limit, None);
    }
}

fn copy(
    info: &BTreeMap<String, String>,
    prefix: &str,
    fields: &[(&str, Option<&str>)],
    state: &mut State,
) {
    for &(field, unit) in fields {
        if let Some(value) = info.get(field) {
            insert(state, &format!("{prefix}.{field}"), value.clone(), unit);
        }
    }
}

fn insert(state: &mut State, key: &str, value: String, unit: Option<&str>) {
    let mut entry = Entry::new(value);
    entry.unit = unit.map(str::to_owned);
    state.insert(key.to_owned(), entry);
}

/// The open connection and its driver task, the user it logged in as, the bound on
/// each command, and the bounds on what the server sends.
struct Session {
    conn: MultiplexedConnection,
    driver: tokio::task::JoinHandle<()>,
    user: String,
    statement_timeout: Duration,
    budget: Arc<Budget>,
    limits: Limits,
}

impl Drop for Session {
    fn drop(&mut self) {
        self.driver.abort();
    }
}

impl Session {
    /// Runs one read command within `statement_timeout`. `acl` is the permission it
    /// needs, named when the server says NOPERM.
    async fn query<T: redis::FromRedisValue>(
        &mut self,
        what: &str,
        acl: &str,
        cmd: &redis::Cmd,
    ) -> Result<T, CollectError> {
        match tokio::time::timeout(self.statement_timeout, cmd.query_async(&mut self.conn)).await {
            Err(_) => Err(failed(format!(
                "{what}: no answer within {} (statement_timeout)",
                human_duration(self.statement_timeout)
            ))),
            Ok(Ok(value)) => Ok(value),
            Ok(Err(_)) if let Some(limit) = self.budget.broken() => {
                Err(limit.exceeded(&self.limits, what))
            }
            Ok(Err(e)) => Err(match server_message(&e, &self.user, what, acl) {
                Some(message) => failed(message),
                None => failed(format!("{what}: {e}")),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_lines_become_fields() {
        let text = "# Replication\r\nrole:master\r\nconnected_slaves:1\r\n\
                    slave0:ip=127.0.0.1,port=6380,state=online,offset=14,lag=1\r\n\
                    master_repl_offset:20\r\n\r\n";
        let info = parse_info(text);
        assert_eq!(info["role"], "master");
        let mut state = State::new();
        replication_state(&info, &mut state);
        let get = |k: &str| state.get(k).map(|e| e.value.as_str());
        assert_eq!(get("state.connected_replicas"), Some("1"));
        assert_eq!(get("state.replica.127.0.0.1:6380.state"), Some("online"));
        assert_eq!(get("state.replica.127.0.0.1:6380.offset"), Some("14"));
        assert_eq!(get("state.replica.127.0.0.1:6380.lag"), Some("1"));
        assert_eq!(get("state.replica.127.0.0.1:6380.offset_lag_bytes"), Some("6"));
        assert!(!state.contains_key("state.master_link_status"));
    }

    #[test]
    fn replica_lag_is_read_minus_processed_never_negative() {
        let info = parse_info(
            "role:slave\nmaster_link_status:up\nslave_read_repl_offset:100\n\
             slave_repl_offset:140\nmaster_repl_offset:140\n",
        );
        let mut state = State::new();
        replication_state(&info, &mut state);
        assert_eq!(state["state.replication.offset_lag_bytes"].value, "0");
        assert_eq!(state["state.master_link_status"].value, "up");
    }

    #[test]
    fn invalid_url_never_shows_the_password() {
        let err = connection_info("redis://u:hunter2@h:notaport/0").unwrap_err();
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }
}
