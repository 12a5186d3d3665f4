//! `/metrics`: the Prometheus text format (0.0.4), written by hand from the
//! in-memory [`Status`]. Pure: same status, same text. Every label value goes through
//! `redact::text` and is escaped.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::engine::state;
use crate::finding::{FindingStatus, Severity};
use crate::redact;
use crate::run::TargetStatus;
use crate::status::Status;

/// Where replication lag lives in a target's state, per engine. Other engines add a
/// row: the key's prefix and suffix, and which label the middle part (if any) is.
const LAG_KEYS: &[LagKey] = &[
    // PostgreSQL primary: one entry per connected standby (`pg_stat_replication`).
    LagKey {
        prefix: state::REPLICA_PREFIX,
        suffix: state::postgres::REPLICA_REPLAY_LAG_S_SUFFIX,
        replica: Replica::FromKey,
    },
    // PostgreSQL standby: its own lag behind the primary.
    LagKey { prefix: state::postgres::REPLAY_LAG_S, suffix: "", replica: Replica::Target },
];

struct LagKey {
    prefix: &'static str,
    suffix: &'static str,
    replica: Replica,
}

enum Replica {
    /// The replica's name is the part of the key between prefix and suffix.
    FromKey,
    /// The target itself is the replica.
    Target,
}

/// The whole `/metrics` page.
pub fn render(status: &Status) -> String {
    let mut out = Out::default();

    out.family(
        "driftwatch_findings",
        "gauge",
        "Findings of the latest audit of each target, by severity and status.",
    );
    for (name, t) in &status.targets {
        let mut counts: BTreeMap<(Severity, FindingStatus), usize> = BTreeMap::new();
        for f in t.result.findings.iter() {
            *counts.entry((f.severity, f.status)).or_default() += 1;
        }
        for ((severity, finding_status), n) in counts.iter().rev() {
            out.sample(
                "driftwatch_findings",
                &[
                    ("target", name),
                    ("severity", severity.as_str()),
                    ("status", finding_status.as_str()),
                ],
                *n as f64,
            );
        }
    }

    out.family(
        "driftwatch_target_up",
        "gauge",
        "1 when the latest audit could collect the target, else 0.",
    );
    for (name, t) in &status.targets {
        let up = if t.result.status == TargetStatus::Ok { 1.0 } else { 0.0 };
        out.sample(
            "driftwatch_target_up",
            &[("target", name), ("kind", t.result.kind.as_str())],
            up,
        );
    }

    out.family(
        "driftwatch_replication_lag_seconds",
        "gauge",
        "Replay lag of a replica, as the latest audit read it.",
    );
    for (name, t) in &status.targets {
        for (replica, seconds) in replication_lags(name, &t.result.state) {
            out.sample(
                "driftwatch_replication_lag_seconds",
                &[("target", name), ("replica", &replica)],
                seconds,
            );
        }
    }

    pooler_waits(&mut out, status);
    connections(&mut out, status);

    if let Some(last) = &status.last_run {
        let duration =
            (last.finished_at - last.started_at).num_milliseconds().max(0) as f64 / 1000.0;
        let gauges = [
            (
                "driftwatch_last_run_timestamp_seconds",
                "When the last run finished (Unix time).",
                last.finished_at.timestamp_millis() as f64 / 1000.0,
            ),
            ("driftwatch_last_run_duration_seconds", "How long the last run took.", duration),
            (
                "driftwatch_last_run_success",
                "1 when the last run was committed to the store, else 0.",
                if last.success { 1.0 } else { 0.0 },
            ),
            (
                "driftwatch_last_run_reports_complete",
                "1 when every report page of the last committed run was written, else 0 \
                 (the next run writes what is missing).",
                if last.success && last.unpublished.is_none() { 1.0 } else { 0.0 },
            ),
            (
                "driftwatch_last_run_changes",
                "Configuration changes the last run found.",
                last.changes as f64,
            ),
        ];
        for (name, help, value) in gauges {
            out.family(name, "gauge", help);
            out.sample(name, &[], value);
        }
    }

    out.family(
        "driftwatch_runs_skipped_total",
        "counter",
        "Scheduled ticks skipped because the previous run was still going.",
    );
    out.sample("driftwatch_runs_skipped_total", &[], status.skipped_ticks as f64);
    out.family(
        "driftwatch_slots_lost_total",
        "counter",
        "Scheduled slots skipped because another instance sharing the store claimed them.",
    );
    out.sample("driftwatch_slots_lost_total", &[], status.slots_lost as f64);

    if let Some(digest) = &status.policy_digest {
        out.family(
            "driftwatch_policy_bundle_info",
            "gauge",
            "The policy bundle the last run evaluated.",
        );
        out.sample("driftwatch_policy_bundle_info", &[("digest", digest)], 1.0);
    }
    out.0
}

/// PgBouncer targets: clients waiting for a server connection and the longest wait, over
/// all of the pooler's pools (`state.pools.*`, see `collect::pgbouncer`).
const POOLER_GAUGES: [(&str, &str, &str); 2] = [
    (
        "driftwatch_pooler_clients_waiting",
        state::pgbouncer::POOLS_CL_WAITING,
        "Clients of a pooler waiting for a server connection, as the latest audit read it.",
    ),
    (
        "driftwatch_pooler_max_wait_seconds",
        state::pgbouncer::POOLS_MAXWAIT_S,
        "How long the oldest client waiting in a pooler's pools had waited, as the latest audit read it.",
    ),
];

fn pooler_waits(out: &mut Out, status: &Status) {
    for (metric, key, help) in POOLER_GAUGES {
        out.family(metric, "gauge", help);
        for (name, t) in &status.targets {
            if t.result.kind != crate::snapshot::Kind::Pgbouncer {
                continue;
            }
            if let Some(value) = t.result.state.get(key).and_then(|e| e.value.trim().parse().ok()) {
                out.sample(metric, &[("target", name)], value);
            }
        }
    }
}

/// The connection families: a gauge or counter per target from one `state.` reading
/// (absent when the latest audit did not read it), and whether connecting timed out.
const CONNECTION_FAMILIES: &[(&str, &str, &str, &str, f64)] = &[
    (
        "driftwatch_connections_in_use",
        "gauge",
        "Client connections open on the server, as the latest audit read them.",
        crate::snapshot::IN_USE_KEY,
        1.0,
    ),
    (
        "driftwatch_connections_limit",
        "gauge",
        "Connections ordinary clients may open (PostgreSQL: max_connections less the \
         reserved slots; MySQL max_connections; Redis maxclients; memcached maxconns).",
        crate::snapshot::LIMIT_KEY,
        1.0,
    ),
    (
        "driftwatch_connect_duration_seconds",
        "gauge",
        "How long the latest audit took to connect and authenticate.",
        crate::snapshot::CONNECT_MS_KEY,
        0.001,
    ),
    (
        "driftwatch_connections_refused_total",
        "counter",
        "Connections the server turned away at its limit since it started (MySQL \
         Connection_errors_max_connections, Redis and memcached rejected_connections).",
        crate::snapshot::REFUSED_KEY,
        1.0,
    ),
    (
        "driftwatch_connections_aborted_total",
        "counter",
        "Connection attempts that failed before they were established since the server \
         started (MySQL Aborted_connects).",
        crate::snapshot::ABORTED_KEY,
        1.0,
    ),
];

fn connections(out: &mut Out, status: &Status) {
    for &(family, kind, help, key, scale) in CONNECTION_FAMILIES {
        out.family(family, kind, help);
        for (name, t) in &status.targets {
            let Some(value) = t.result.state.get(key).and_then(|e| number_of(&e.value)) else {
                continue;
            };
            out.sample(
                family,
                &[("target", name), ("kind", t.result.kind.as_str())],
                value * scale,
            );
        }
    }
    out.family(
        "driftwatch_connect_timeout",
        "gauge",
        "1 when the latest audit could not connect within connect_timeout, else 0.",
    );
    for (name, t) in &status.targets {
        let timed_out = t.result.error.as_deref().is_some_and(|e| e.contains("(connect_timeout)"));
        out.sample(
            "driftwatch_connect_timeout",
            &[("target", name), ("kind", t.result.kind.as_str())],
            if timed_out { 1.0 } else { 0.0 },
        );
    }
}

fn number_of(value: &str) -> Option<f64> {
    value.trim().parse::<f64>().ok().filter(|v| v.is_finite())
}

/// `(replica, seconds)` for every lag reading in a target's state (see [`LAG_KEYS`]).
pub fn replication_lags(target: &str, state: &crate::snapshot::State) -> Vec<(String, f64)> {
    let mut out = Vec::new();
    for (key, entry) in state {
        for lag in LAG_KEYS {
            let Some(middle) =
                key.strip_prefix(lag.prefix).and_then(|r| r.strip_suffix(lag.suffix))
            else {
                continue;
            };
            let replica = match lag.replica {
                Replica::FromKey if !middle.is_empty() && !middle.contains('.') => middle,
                Replica::Target if middle.is_empty() => target,
                _ => continue,
            };
            if let Ok(seconds) = entry.value.trim().parse::<f64>()
                && seconds.is_finite()
            {
                out.push((replica.to_owned(), seconds));
            }
        }
    }
    out
}

/// A label value as the text format wants it: redacted, then `\`, `"` and newlines
/// escaped.
pub fn escape_label(value: &str) -> String {
    let value = redact::text(value);
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

fn number(value: f64) -> String {
    if value.is_nan() {
        "NaN".into()
    } else if value.is_infinite() {
        if value > 0.0 { "+Inf".into() } else { "-Inf".into() }
    } else {
        format!("{value}")
    }
}

#[derive(Default)]
struct Out(String);

impl Out {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.0, "# HELP {name} {help}");
        let _ = writeln!(self.0, "# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.0.push_str(name);
        if !labels.is_empty() {
            self.0.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.0.push(',');
                }
                let _ = write!(self.0, "{k}=\"{}\"", escape_label(v));
            }
            self.0.push('}');
        }
        let _ = writeln!(self.0, " {}", number(value));
    }
}

#[cfg(test)]
mod tests;
