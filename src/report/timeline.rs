//! One timeline for a replication group: configuration changes (live, pending,
//! runtime-only) and replication state transitions of every member, in time order
//! across the runs a report sees. Transitions compare each collection of a member with
//! its previous collection: lag crossing a threshold, replay paused or resumed, a link
//! or thread going down or up, a downstream replica appearing or leaving; and
//! connection health: usage crossing 80% or 95% of the usable limit, connections
//! refused since the previous collection. Pure.

use std::collections::BTreeSet;

use super::compare::TargetIndex;
use crate::diff::Change;
use crate::engine::state::{REPLICA_PREFIX, mysql, pgbouncer, postgres};
use crate::run::{Run, TargetRun, TargetStatus};
use crate::snapshot::{
    Entry, IN_USE_KEY, Kind, LIMIT_KEY, PENDING_PREFIX, REFUSED_KEY, State, USAGE_PCT_KEY,
};

/// What kind of event, as a word the page shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum EventKind {
    /// A running value changed.
    Live,
    /// A value written for the next restart or reload appeared, changed or went away.
    Pending,
    /// A runtime-only value appeared, changed or went away (lost on restart).
    RuntimeOnly,
    /// Replication state moved.
    Replication,
    /// Connection usage crossed a threshold, or the server refused connections.
    Connections,
}

impl EventKind {
    pub fn word(self) -> &'static str {
        match self {
            EventKind::Live => "live change",
            EventKind::Pending => "pending change",
            EventKind::RuntimeOnly => "runtime-only change",
            EventKind::Replication => "replication",
            EventKind::Connections => "connections",
        }
    }
}

/// One event of one member in one run.
#[derive(Debug, Clone)]
pub enum Event<'a> {
    Change(&'a Change),
    /// A state transition: the state key it reads and what happened.
    State {
        key: String,
        what: String,
    },
}

/// Events in time order: `(run, member, kind, event)`.
pub type Timeline<'a> = Vec<(&'a Run, &'a TargetRun, EventKind, Event<'a>)>;

/// Every event of the members of `group` in `runs` (newest first, as reports hold
/// them), oldest first; within one collection, changes before state transitions.
pub fn group_timeline<'a>(
    index: &TargetIndex<'a>,
    runs: &[&'a Run],
    group: &str,
    members: &BTreeSet<&str>,
) -> Timeline<'a> {
    let mut out: Timeline<'a> = Vec::new();
    let chronological: Vec<&Run> = runs.iter().rev().copied().collect();
    for (i, run) in chronological.iter().enumerate() {
        // By lookup: scanning each run's targets made every group page O(runs × targets).
        let in_group = members
            .iter()
            .filter_map(|name| index.target(run, name))
            .filter(|t| t.group.as_deref() == Some(group));
        for t in in_group {
            if t.status != TargetStatus::Ok {
                continue;
            }
            for c in &t.changes {
                out.push((run, t, change_kind(t.kind, c), Event::Change(c)));
            }
            let previous = chronological[..i]
                .iter()
                .rev()
                .find_map(|r| index.target(r, &t.name).filter(|p| p.status == TargetStatus::Ok));
            if let Some(p) = previous {
                for (key, what) in transitions(&p.state, &t.state) {
                    let kind = state_kind(&key);
                    out.push((run, t, kind, Event::State { key, what }));
                }
            }
        }
    }
    out.sort_by(|a, b| {
        (a.1.collected_at, &a.1.name, a.2 >= EventKind::Replication).cmp(&(
            b.1.collected_at,
            &b.1.name,
            b.2 >= EventKind::Replication,
        ))
    });
    out
}

/// What a state transition is about: connections or replication.
fn state_kind(key: &str) -> EventKind {
    if key.starts_with(CONNECTIONS_PREFIX) || key == pgbouncer::POOLS_CL_WAITING {
        EventKind::Connections
    } else {
        EventKind::Replication
    }
}

const CONNECTIONS_PREFIX: &str = "state.connections.";

/// Connection usage thresholds, in % of the usable limit (the `connections` pack's).
const USAGE: [f64; 2] = [80.0, 95.0];

/// `pending.` keys are pending values, runtime-only on Redis (the only engine whose
/// pending values are the file's, against a runtime change).
fn change_kind(kind: Kind, c: &Change) -> EventKind {
    match (c.key.starts_with(PENDING_PREFIX), kind) {
        (false, _) => EventKind::Live,
        (true, Kind::Redis) => EventKind::RuntimeOnly,
        (true, _) => EventKind::Pending,
    }
}

/// Lag thresholds in seconds: in sync, behind, a minute, five minutes.
const SECONDS: [f64; 3] = [1.0, 60.0, 300.0];
/// Lag thresholds in bytes: 1 MiB, 64 MiB, 1 GiB.
const BYTES: [f64; 3] = [1048576.0, 67108864.0, 1073741824.0];

/// What moved between two collections of one member, one line per state key.
pub fn transitions(before: &State, now: &State) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let get = |s: &State, k: &str| s.get(k).map(|e: &Entry| e.value.clone());
    let keys: std::collections::BTreeSet<&String> = before.keys().chain(now.keys()).collect();
    for key in keys {
        let (old, new) = (get(before, key), get(now, key));
        if old == new {
            continue;
        }
        if let Some(what) = describe(key, old.as_deref(), new.as_deref()) {
            out.push((key.clone(), what));
        }
    }
    out
}

/// Whether a state key can ever make a timeline event (`transitions`): the state of
/// earlier runs that the reports need; the rest can be left unread.
pub fn is_event_key(key: &str) -> bool {
    // Also what the target page's connection headroom chart reads.
    if [USAGE_PCT_KEY, IN_USE_KEY, LIMIT_KEY, REFUSED_KEY, pgbouncer::POOLS_CL_WAITING]
        .contains(&key)
    {
        return true;
    }
    let last = key.rsplit('.').next().unwrap_or(key);
    match last {
        "replay_lag_s" | "seconds_behind" | "replay_paused" | "master_link_status"
        | "io_running" | "sql_running" => true,
        "replay_lag_bytes" | "offset_lag_bytes" => !key.starts_with(REPLICA_PREFIX),
        "status" => key == postgres::WAL_RECEIVER_STATUS || key == mysql::SEMI_SYNC_PRIMARY_STATUS,
        "state" => key.starts_with(REPLICA_PREFIX),
        _ => false,
    }
}

fn describe(key: &str, old: Option<&str>, new: Option<&str>) -> Option<String> {
    if key == USAGE_PCT_KEY {
        return usage_crossing(old?, new?);
    }
    if key == REFUSED_KEY {
        let number = |v: Option<&str>| v.and_then(|v| v.trim().parse::<f64>().ok());
        let (then, now) = (number(old)?, number(new)?);
        // A counter that went down restarted: nothing to say about refusals.
        return (now > then).then(|| {
            format!(
                "connections refused: +{} since the previous collection (now {now})",
                now - then
            )
        });
    }
    if key == pgbouncer::POOLS_CL_WAITING {
        let number = |v: Option<&str>| v.and_then(|v| v.trim().parse::<f64>().ok());
        return match (number(old).unwrap_or(0.0), number(new).unwrap_or(0.0)) {
            (then, now) if then <= 0.0 && now > 0.0 => {
                Some(format!("clients waiting in the pools: {now} (none before)"))
            }
            (then, now) if then > 0.0 && now <= 0.0 => {
                Some(format!("no client waits in the pools any more (were {then})"))
            }
            _ => None,
        };
    }
    if key.starts_with(CONNECTIONS_PREFIX) {
        return None;
    }
    let last = key.rsplit('.').next().unwrap_or(key);
    let subject = key.strip_prefix("state.").unwrap_or(key);
    match last {
        "replay_lag_s" | "seconds_behind" => banded(
            subject,
            "lag",
            old,
            new,
            &SECONDS,
            |v| format!("{v} s"),
            &["1 s", "1 min", "5 min"],
        ),
        "replay_lag_bytes" | "offset_lag_bytes" if !key.starts_with(REPLICA_PREFIX) => banded(
            subject,
            "lag",
            old,
            new,
            &BYTES,
            |v| format!("{v} B"),
            &["1 MiB", "64 MiB", "1 GiB"],
        ),
        "replay_paused" => match new? {
            "true" => Some("replay paused".to_owned()),
            _ if old == Some("true") => Some("replay resumed".to_owned()),
            _ => None,
        },
        "status" if key == postgres::WAL_RECEIVER_STATUS => Some(format!(
            "WAL receiver {} \u{2192} {}",
            old.unwrap_or("absent"),
            new.unwrap_or("absent")
        )),
        "status" if key == mysql::SEMI_SYNC_PRIMARY_STATUS => match (old, new) {
            (Some("ON"), Some("OFF")) => Some(
                "semi-synchronous replication fell back to asynchronous: commits no longer \
                 wait for a replica"
                    .to_owned(),
            ),
            (Some("OFF"), Some("ON")) => {
                Some("semi-synchronous replication active again: a replica acknowledges".to_owned())
            }
            _ => None,
        },
        "master_link_status" => Some(format!("link to the primary {}", new.unwrap_or("gone"))),
        "io_running" | "sql_running" => {
            let thread = if last == "io_running" { "IO" } else { "SQL" };
            let conn = subject.strip_prefix("replication.").and_then(|r| r.rsplit_once('.'));
            let conn = conn.map_or(String::new(), |(c, _)| format!(" ({c})"));
            Some(match new {
                Some("Yes") => format!("{thread} thread running{conn}"),
                Some("No") => format!("{thread} thread stopped{conn}"),
                Some(other) => format!("{thread} thread {}{conn}", other.to_ascii_lowercase()),
                None => format!("{thread} thread gone{conn}"),
            })
        }
        "state" if key.starts_with(REPLICA_PREFIX) => {
            let name = subject.strip_prefix("replica.")?.strip_suffix(".state")?;
            Some(match (old, new) {
                (None, Some(s)) => format!("replica {name} connected ({s})"),
                (Some(_), None) => format!("replica {name} disconnected"),
                (Some(a), Some(b)) => format!("replica {name} {a} \u{2192} {b}"),
                (None, None) => return None,
            })
        }
        _ => None,
    }
}

/// Usage that crossed 80% or 95% of the usable limit, either way.
fn usage_crossing(old: &str, new: &str) -> Option<String> {
    let band =
        |v: &str| v.trim().parse::<f64>().ok().map(|x| USAGE.iter().filter(|l| x > **l).count());
    let (a, b) = (band(old)?, band(new)?);
    if b > a {
        Some(format!("connection usage rose above {}% ({new}% of the usable limit)", USAGE[b - 1]))
    } else if b < a {
        Some(format!("connection usage fell below {}% ({new}% of the usable limit)", USAGE[b]))
    } else {
        None
    }
}

/// A lag reading that crossed one of `limits`, as "rose above" or "fell below".
fn banded(
    subject: &str,
    noun: &str,
    old: Option<&str>,
    new: Option<&str>,
    limits: &[f64; 3],
    show: impl Fn(&str) -> String,
    names: &[&str; 3],
) -> Option<String> {
    let band = |v: Option<&str>| {
        v.and_then(|v| v.parse::<f64>().ok()).map(|x| limits.iter().filter(|l| x >= **l).count())
    };
    let (a, b) = (band(old)?, band(new)?);
    let value = show(new?);
    let what = subject.replace('.', " ");
    if b > a {
        Some(format!("{noun} rose above {} ({what} = {value})", names[b - 1]))
    } else if b < a {
        match b {
            0 => Some(format!("{noun} back under {} ({what} = {value})", names[0])),
            _ => Some(format!("{noun} fell below {} ({what} = {value})", names[b])),
        }
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The keys the store may leave out of earlier runs never make an event.
    #[test]
    fn only_event_keys_make_events() {
        let keys = [
            "state.replication.replay_lag_s",
            "state.replication.default.seconds_behind",
            "state.replication.replay_lag_bytes",
            "state.replica.r1.replay_lag_bytes",
            "state.master_repl_offset_lag_bytes",
            "state.replication.replay_paused",
            "state.wal_receiver.status",
            "state.replica.r1.status",
            "state.master_link_status",
            "state.replication.default.io_running",
            "state.replication.default.sql_running",
            "state.replica.r1.state",
            "state.semi_sync.primary.status",
            "state.semi_sync.replica.status",
            "state.connect_ms",
            "state.binlog.position",
            "state.connections.usage_pct",
            "state.connections.refused",
            "state.connections.in_use",
            "state.connections.database.app",
        ];
        for key in keys {
            for (old, new) in
                [(None, Some("true")), (Some("0"), Some("99999999999")), (Some("Yes"), None)]
            {
                if describe(key, old, new).is_some() {
                    assert!(is_event_key(key), "{key} makes an event but is not an event key");
                }
            }
        }
        assert!(
            !is_event_key("state.connect_ms") && !is_event_key("state.replica.r1.replay_lag_bytes")
        );
    }

    fn state(pairs: &[(&str, &str)]) -> State {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), Entry::new(*v))).collect()
    }

    #[test]
    fn lag_crossing_thresholds_and_pauses_are_events() {
        let before = state(&[
            ("state.replication.replay_lag_s", "0"),
            ("state.replication.replay_lag_bytes", "0"),
            ("state.replication.replay_paused", "false"),
            ("state.wal_receiver.status", "streaming"),
        ]);
        let now = state(&[
            ("state.replication.replay_lag_s", "75.5"),
            ("state.replication.replay_lag_bytes", "4194304"),
            ("state.replication.replay_paused", "true"),
            ("state.wal_receiver.status", "streaming"),
        ]);
        let got: Vec<String> = transitions(&before, &now).into_iter().map(|(_, w)| w).collect();
        assert_eq!(
            got,
            [
                "lag rose above 1 MiB (replication replay_lag_bytes = 4194304 B)",
                "lag rose above 1 min (replication replay_lag_s = 75.5 s)",
                "replay paused",
            ]
        );
        let back: Vec<String> = transitions(&now, &before).into_iter().map(|(_, w)| w).collect();
        assert_eq!(back[0], "lag back under 1 MiB (replication replay_lag_bytes = 0 B)");
        assert_eq!(back[2], "replay resumed");
    }

    #[test]
    fn semi_sync_falling_back_and_recovering_are_events() {
        let events = |before: &str, now: &str| -> Vec<String> {
            transitions(
                &state(&[(mysql::SEMI_SYNC_PRIMARY_STATUS, before)]),
                &state(&[(mysql::SEMI_SYNC_PRIMARY_STATUS, now)]),
            )
            .into_iter()
            .map(|(_, w)| w)
            .collect()
        };
        assert_eq!(
            events("ON", "OFF"),
            [
                "semi-synchronous replication fell back to asynchronous: commits no longer wait for a replica"
            ]
        );
        assert_eq!(
            events("OFF", "ON"),
            ["semi-synchronous replication active again: a replica acknowledges"]
        );
        assert!(events("ON", "ON").is_empty());
    }

    #[test]
    fn connection_thresholds_and_refusals_are_events() {
        let check = |before: &[(&str, &str)], now: &[(&str, &str)], expect: &[&str]| {
            let got: Vec<String> =
                transitions(&state(before), &state(now)).into_iter().map(|(_, w)| w).collect();
            assert_eq!(got, expect);
        };
        let (usage, refused) = (USAGE_PCT_KEY, REFUSED_KEY);
        check(
            &[(usage, "50")],
            &[(usage, "85")],
            &["connection usage rose above 80% (85% of the usable limit)"],
        );
        check(
            &[(usage, "50")],
            &[(usage, "100")],
            &["connection usage rose above 95% (100% of the usable limit)"],
        );
        check(
            &[(usage, "97")],
            &[(usage, "90")],
            &["connection usage fell below 95% (90% of the usable limit)"],
        );
        check(
            &[(usage, "97")],
            &[(usage, "10")],
            &["connection usage fell below 80% (10% of the usable limit)"],
        );
        check(&[(usage, "81")], &[(usage, "94")], &[]);
        check(&[(usage, "80")], &[(usage, "79")], &[]);
        check(
            &[(refused, "0")],
            &[(refused, "3")],
            &["connections refused: +3 since the previous collection (now 3)"],
        );
        check(&[(refused, "3")], &[(refused, "0")], &[]);
        let waiting = pgbouncer::POOLS_CL_WAITING;
        check(
            &[(waiting, "0")],
            &[(waiting, "2")],
            &["clients waiting in the pools: 2 (none before)"],
        );
        check(&[(waiting, "2")], &[(waiting, "5")], &[]);
        check(
            &[(waiting, "5")],
            &[(waiting, "0")],
            &["no client waits in the pools any more (were 5)"],
        );
        check(&[(IN_USE_KEY, "3")], &[(IN_USE_KEY, "9")], &[]);
        assert_eq!(state_kind(usage), EventKind::Connections);
        assert_eq!(state_kind("state.replication.replay_lag_s"), EventKind::Replication);
    }

    #[test]
    fn links_threads_and_replicas() {
        let before = state(&[
            ("state.master_link_status", "up"),
            ("state.replication.default.io_running", "Yes"),
            ("state.replica.r1.state", "streaming"),
        ]);
        let now = state(&[
            ("state.master_link_status", "down"),
            ("state.replication.default.io_running", "No"),
            ("state.replica.r2.state", "catchup"),
        ]);
        let got: Vec<String> = transitions(&before, &now).into_iter().map(|(_, w)| w).collect();
        assert_eq!(
            got,
            [
                "link to the primary down",
                "replica r1 disconnected",
                "replica r2 connected (catchup)",
                "IO thread stopped (default)",
            ]
        );
    }
}
