//! Memcached collector: `stats settings` as config; `stats` as state.
//!
//! A small reader of the text protocol over one TCP connection (no client crate: the
//! `memcache` crate blocks and cannot send `stats settings`). `version` is sent first
//! and must be answered within `connect_timeout`, like a handshake: a server that
//! accepts TCP and never speaks is unreachable. Then `stats settings` and `stats`, each
//! bounded as a whole by `statement_timeout`. Lines are capped at [`MAX_LINE`] bytes,
//! the whole conversation at `limits.reply_bytes`, `stats settings` at
//! `limits.settings` lines and `stats` at `limits.rows`, so a hostile or broken server
//! cannot exhaust memory; `ERROR`, `CLIENT_ERROR` and `SERVER_ERROR` answers, and anything that
//! is not the text protocol, fail the collection. The URL is `memcached://host[:port]`
//! (or `tcp://`; default port 11211). Memcached's SASL/ASCII authentication is not
//! supported: a URL with credentials is refused rather than silently ignored.
//!
//! # Config (`Snapshot::config`)
//!
//! - `setting.<name>`: one entry per `STAT name value` line of `stats settings`
//!   (`maxconns`, `tcpport`, `udpport`, `inter` = the `-l` listen address, `NULL` when
//!   listening on every interface, `item_size_max`, …). Byte and time settings carry a
//!   unit (`maxbytes`, `item_size_max` `B`; `idle_timeout` `s`; see [`unit_of`]).
//! - `Snapshot::server`: `version` from `VERSION x`; `role` is always `standalone`
//!   (memcached does not replicate).
//!
//! # State (`Collected::state`), every value text
//!
//! - `state.connect_ms` (`ms`): time to connect and answer `version`.
//! - From `stats`: `state.curr_connections`, `.total_connections`,
//!   `.rejected_connections`, `.listen_disabled_num` (times `maxconns` was hit),
//!   `.evictions`, `.curr_items`, `.uptime` (`s`), `.bytes` and `.limit_maxbytes` (`B`);
//!   the uptime also as `state.uptime_s`, the name every collector gives it;
//!   `state.instance` (`pid <pid> started <time − uptime>`: which process answered).
//! - Connections, under the names every collector gives them: `state.connections.in_use`
//!   (`curr_connections`: memcached counts its listening sockets too), `.limit`
//!   (`maxconns` from `stats settings`), `.refused` (`rejected_connections`, a
//!   counter: connections closed at `maxconns`), `.listen_disabled`
//!   (`listen_disabled_num`, a counter: times memcached stopped accepting), and
//!   `.usage_pct` (see [`super::connection_usage`]). memcached keeps a few descriptors
//!   of its `maxconns` for itself and starts refusing a little below it (seen with
//!   1.6.18, `-c 256 -t 1`), so refusals can come before usage reaches 95%.

use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::TcpStream;

use super::{
    CollectError, Collected, Endpoint, INSTANCE_KEY, Limit, Limits, UPTIME_KEY, failed,
    human_duration, unreachable,
};
use crate::snapshot::{Entry, Role, ServerInfo, Snapshot, State};

/// The longest line accepted from the server.
pub const MAX_LINE: usize = 8 * 1024;
const DEFAULT_PORT: u16 = 11211;

/// Collects `stats settings`, `version` and `stats` from one memcached server.
pub async fn collect(endpoint: &Endpoint) -> Result<Collected, CollectError> {
    let (host, port) = host_port(&endpoint.url)?;
    let address =
        if host.contains(':') { format!("[{host}]:{port}") } else { format!("{host}:{port}") };
    let started = Instant::now();
    let timeout = endpoint.connect_timeout;
    let timed_out = || super::connect_timed_out(timeout, &address);
    let stream =
        match tokio::time::timeout(timeout, TcpStream::connect((host.as_str(), port))).await {
            Err(_) => return Err(timed_out()),
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                return Err(unreachable(format!("connection refused by {address}")));
            }
            Ok(Err(e)) => return Err(unreachable(format!("cannot reach {address}: {e}"))),
            Ok(Ok(stream)) => stream,
        };
    // Every command is one small write: without this, a write after a write waits for
    // the server's delayed ACK (40 ms on Linux).
    let _ = stream.set_nodelay(true);
    let mut session = Session { stream: BufReader::new(stream), read: 0, limits: endpoint.limits };

    // The handshake: the rest of the connect budget for the first answer.
    let left = timeout.saturating_sub(started.elapsed());
    let version = match tokio::time::timeout(left, session.version()).await {
        Err(_) => return Err(timed_out()),
        Ok(result) => result?,
    };
    let connect_ms = started.elapsed().as_millis();

    let timeout = endpoint.statement_timeout;
    let settings = within(timeout, "stats settings", Limit::Settings, &mut session).await?;
    let stats = within(timeout, "stats", Limit::Rows, &mut session).await?;
    // Polite goodbye; the socket closes when the session drops either way.
    let _ = tokio::time::timeout(Duration::from_millis(200), session.send("quit")).await;
    drop(session);

    let mut config = std::collections::BTreeMap::new();
    let mut state = State::new();
    for (name, value) in settings {
        if name == "maxconns" {
            state.insert(super::LIMIT_KEY.into(), Entry::new(value.clone()));
        }
        let mut entry = Entry::new(value);
        entry.unit = unit_of(&name).map(str::to_owned);
        config.insert(format!("setting.{name}"), entry);
    }
    state.insert("state.connect_ms".into(), Entry::new(connect_ms.to_string()).with_unit("ms"));
    let wanted = [
        ("curr_connections", None),
        ("total_connections", None),
        ("rejected_connections", None),
        ("listen_disabled_num", None),
        ("evictions", None),
        ("curr_items", None),
        ("uptime", Some("s")),
        ("bytes", Some("B")),
        ("limit_maxbytes", Some("B")),
    ];
    let common = [
        ("curr_connections", super::IN_USE_KEY),
        ("rejected_connections", super::REFUSED_KEY),
        ("listen_disabled_num", "state.connections.listen_disabled"),
    ];
    if let Some(instance) = instance(&stats) {
        state.insert(INSTANCE_KEY.into(), Entry::new(instance));
    }
    for (name, value) in stats {
        if let Some(&(_, key)) = common.iter().find(|(n, _)| *n == name) {
            state.insert(key.into(), Entry::new(value.clone()));
        }
        if let Some(&(_, unit)) = wanted.iter().find(|(n, _)| *n == name) {
            let mut entry = Entry::new(value);
            entry.unit = unit.map(str::to_owned);
            if name == "uptime" {
                state.insert(UPTIME_KEY.into(), entry.clone());
            }
            state.insert(format!("state.{name}"), entry);
        }
    }

    super::connection_usage(&mut state);
    let server = ServerInfo { version, role: Role::Standalone };
    let snapshot =
        Snapshot { target: endpoint.target.clone(), kind: endpoint.kind, server, config };
    Ok(Collected { snapshot, state })
}

/// `pid <pid> started <unix seconds>`: memcached's `time` and `uptime` both count from
/// the clock it ticks once a second, so `time - uptime` is the same for every `stats` of
/// one process and its start time.
fn instance(stats: &[(String, String)]) -> Option<String> {
    let number = |name: &str| {
        stats.iter().find(|(n, _)| n == name).and_then(|(_, v)| v.trim().parse::<u64>().ok())
    };
    let (pid, time, uptime) = (number("pid")?, number("time")?, number("uptime")?);
    Some(format!("pid {pid} started {}", time.checked_sub(uptime)?))
}

/// Runs one `stats` command, bounded as a whole by `statement_timeout`, its lines by
/// `bound` (`limits.settings` or `limits.rows`).
async fn within(
    timeout: Duration,
    command: &str,
    bound: Limit,
    session: &mut Session,
) -> Result<Vec<(String, String)>, CollectError> {
    match tokio::time::timeout(timeout, session.stats(command, bound)).await {
        Ok(result) => result,
        Err(_) => Err(failed(format!(
            "{command}: no answer within {} (statement_timeout)",
            human_duration(timeout)
        ))),
    }
}

/// Host and port of a `memcached://host[:port]` (or `tcp://`) URL.
fn host_port(url: &str) -> Result<(String, u16), CollectError> {
    let parsed = url::Url::parse(url).map_err(|e| failed(format!("invalid memcached URL: {e}")))?;
    if !matches!(parsed.scheme(), "memcached" | "tcp") {
        return Err(failed(format!(
            "a memcached URL starts with memcached://, not {}://",
            parsed.scheme()
        )));
    }
    if parsed.password().is_some() || !parsed.username().is_empty() {
        return Err(failed(
            "memcached authentication is not supported: remove the user and password from the URL"
                .into(),
        ));
    }
    let host = match parsed.host() {
        Some(url::Host::Ipv6(ip)) => ip.to_string(),
        Some(url::Host::Ipv4(ip)) => ip.to_string(),
        Some(url::Host::Domain(name)) if !name.is_empty() => name.to_owned(),
        _ => return Err(failed(format!("memcached URL {url} has no host"))),
    };
    Ok((host, parsed.port().unwrap_or(DEFAULT_PORT)))
}

/// The unit of a `stats settings` value that is a byte count or a duration.
pub fn unit_of(name: &str) -> Option<&'static str> {
    // One table for the live snapshot and the one `check` reads from a file.
    crate::engine::memcached::unit(name)
}

/// One connection, how many bytes it has read so far, and the bounds.
struct Session {
    stream: BufReader<TcpStream>,
    read: u64,
    limits: Limits,
}

impl Session {
    async fn send(&mut self, command: &str) -> Result<(), CollectError> {
        let stream = self.stream.get_mut();
        stream
            .write_all(format!("{command}\r\n").as_bytes())
            .await
            .map_err(|e| failed(format!("{command}: sending failed: {e}")))
    }

    /// `version` → `VERSION 1.6.18`.
    async fn version(&mut self) -> Result<String, CollectError> {
        self.send("version").await?;
        let line = self.line("version").await?;
        match line.strip_prefix("VERSION ") {
            Some(version) if !version.trim().is_empty() => Ok(version.trim().to_owned()),
            _ => Err(self.unexpected("version", &line)),
        }
    }

    /// `stats …` → the `STAT name value` pairs up to `END`, at most `bound` of them.
    async fn stats(
        &mut self,
        command: &str,
        bound: Limit,
    ) -> Result<Vec<(String, String)>, CollectError> {
        self.send(command).await?;
        let max = if bound == Limit::Settings { self.limits.settings } else { self.limits.rows };
        let mut pairs = Vec::new();
        loop {
            let line = self.line(command).await?;
            if line == "END" {
                return Ok(pairs);
            }
            if pairs.len() == max {
                return Err(bound.exceeded(&self.limits, command));
            }
            let Some(rest) = line.strip_prefix("STAT ") else {
                return Err(self.unexpected(command, &line));
            };
            let (name, value) = rest.split_once(' ').unwrap_or((rest, ""));
            if name.is_empty() {
                return Err(self.unexpected(command, &line));
            }
            pairs.push((name.to_owned(), value.to_owned()));
        }
    }

    /// One `\r\n`-terminated line, within [`MAX_LINE`] and `limits.reply_bytes`.
    async fn line(&mut self, what: &str) -> Result<String, CollectError> {
        let mut line = Vec::new();
        loop {
            let buf = self
                .stream
                .fill_buf()
                .await
                .map_err(|e| failed(format!("{what}: reading failed: {e}")))?;
            if buf.is_empty() {
                return Err(failed(format!("{what}: the server closed the connection")));
            }
            let (chunk, done) = match buf.iter().position(|&b| b == b'\n') {
                Some(i) => (&buf[..=i], true),
                None => (buf, false),
            };
            let n = chunk.len();
            line.extend_from_slice(chunk);
            self.stream.consume(n);
            self.read += n as u64;
            if line.len() > MAX_LINE {
                return Err(failed(format!(
                    "{what}: the server sent a line longer than {MAX_LINE} bytes"
                )));
            }
            if self.read > self.limits.reply_bytes {
                return Err(Limit::ReplyBytes.exceeded(&self.limits, what));
            }
            if done {
                break;
            }
        }
        while line.last().is_some_and(|&b| b == b'\n' || b == b'\r') {
            line.pop();
        }
        String::from_utf8(line)
            .map_err(|_| failed(format!("{what}: the server sent non-UTF-8 text")))
    }

    fn unexpected(&self, what: &str, line: &str) -> CollectError {
        let shown: String = line.chars().take(120).collect::<String>().escape_debug().to_string();
        if line == "ERROR" || line.starts_with("CLIENT_ERROR") || line.starts_with("SERVER_ERROR") {
            failed(format!("{what}: the server answered `{shown}`"))
        } else {
            failed(format!("{what}: unexpected answer `{shown}` (is this a memcached server?)"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(host_port("memcached://127.0.0.1:11212").unwrap(), ("127.0.0.1".into(), 11212));
        assert_eq!(host_port("memcached://cache1").unwrap(), ("cache1".into(), 11211));
        assert_eq!(host_port("tcp://[::1]:11211").unwrap(), ("::1".into(), 11211));
        assert!(host_port("redis://127.0.0.1").is_err());
        let err = host_port("memcached://u:hunter2@h:1").unwrap_err();
        assert!(err.to_string().contains("not supported"), "{err}");
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }
}
