//! `reports/groups/<group>.html`: one replication group on one page: who replicates
//! from whom (link state, lag), what its members' next restarts would break, the
//! settings that differ across members (the drift first, then those the policies
//! expect to differ, with why: `Site::expected`), and one timeline of every member's
//! configuration changes and replication state transitions.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::fragments;
use super::ids::setting_name;
use super::site::{Site, home};
use super::splice::Html;
use super::text::{self, Val, count, utc};
use super::timeline::{Event, group_timeline};
use super::view::{Badge, EventRow, Layout};
use crate::engine::state::{REPLICA_PREFIX, REPLICATION_PREFIX, mysql, postgres, redis};
use crate::run::{TargetRun, TargetStatus};
use crate::snapshot::{Entry, Kind, Snapshot, State};

/// A snapshot's settings.
type Config = BTreeMap<String, Entry>;

/// The newest events the timeline keeps.
const MAX_EVENTS: usize = 200;

#[derive(Debug, Serialize)]
pub struct GroupPage {
    pub layout: Layout,
    pub name: String,
    pub members: Vec<MemberRow>,
    pub streams: Vec<StreamRow>,
    /// Pre-flight findings of every member, as articles (HTML).
    pub preflight: Html,
    pub preflight_count: String,
    pub preflight_note: &'static str,
    /// Column heads of the differences matrix: the collected members, by name.
    pub columns: Vec<String>,
    /// Settings that differ and no policy expects to: the drift, by key.
    pub differences: Vec<DifferenceRow>,
    pub differences_note: String,
    /// Settings that differ as the policies expect (by role, by identity), by key,
    /// each with its reason; shown folded below the drift.
    pub expected: Vec<DifferenceRow>,
    pub expected_count: String,
    /// Table rows, already HTML ([`fragments::event_rows`]).
    pub timeline: Html,
    pub timeline_note: String,
}

/// A member and its upstream, as its own state reports it.
#[derive(Debug, Serialize)]
pub struct MemberRow {
    pub id: String,
    pub name: String,
    pub href: Option<String>,
    pub kind: String,
    pub role: String,
    pub badge: Badge,
    pub note: String,
    /// `host:port` of its upstream, or `—`.
    pub upstream: String,
    pub upstream_href: Option<String>,
    pub upstream_name: String,
    pub link: String,
    pub lag: String,
}

/// A replica as its upstream reports it.
#[derive(Debug, Serialize)]
pub struct StreamRow {
    pub from: String,
    pub from_href: Option<String>,
    pub replica: String,
    pub state: String,
    pub lag: String,
}

#[derive(Debug, Serialize, PartialEq)]
pub struct DifferenceRow {
    pub id: String,
    pub setting: String,
    pub values: Vec<Val>,
    /// Why a policy expects it to differ; empty for the drift.
    pub reason: String,
}

/// A group's differing settings, split by whether a policy expects them.
#[derive(Debug, Default, PartialEq)]
pub struct Differences {
    pub unexpected: Vec<DifferenceRow>,
    pub expected: Vec<DifferenceRow>,
}

const ROOT: &str = "../";
const DASH: &str = "\u{2014}";

/// `snapshots`: the current snapshots of the group's collected members (others are
/// ignored).
pub fn build(site: &Site<'_>, group: &str, snapshots: &BTreeMap<String, Snapshot>) -> GroupPage {
    let run = site.run;
    let name = text::clean(group);
    let targets: Vec<&TargetRun> = site.members.get(group).cloned().unwrap_or_default();

    let members = targets.iter().map(|t| member_row(site, t, &targets)).collect();
    let streams = targets.iter().flat_map(|t| stream_rows(site, t)).collect();
    let preflight = site.preflights(ROOT, run, &targets);

    let collected: Vec<&TargetRun> =
        targets.iter().copied().filter(|t| snapshots.contains_key(&t.name)).collect();
    let differences = differences(site, &collected, snapshots);
    let differences_note = match collected.len() {
        0 | 1 => {
            "Fewer than two members were collected in this run: nothing to compare.".to_owned()
        }
        _ if differences.unexpected.is_empty() && differences.expected.is_empty() => {
            "Every member has the same configuration.".to_owned()
        }
        n if differences.unexpected.is_empty() => format!(
            "Across {n} collected members, every setting that differs is one the policies expect to differ."
        ),
        n => format!(
            "{} {} across {n} collected members that no policy expects to differ.",
            count(differences.unexpected.len()),
            if differences.unexpected.len() == 1 { "setting differs" } else { "settings differ" },
        ),
    };

    let no_members = BTreeSet::new();
    let ever = site.ever_members.get(group).unwrap_or(&no_members);
    let events = group_timeline(&site.index, &site.runs, group, ever);
    let skip = events.len().saturating_sub(MAX_EVENTS);
    let timeline: Vec<EventRow> = events
        .into_iter()
        .skip(skip)
        .map(|(r, t, kind, event)| {
            let (id, what, change) = match event {
                Event::Change(c) => {
                    let view = site.change(ROOT, r, &t.name, c);
                    (view.id.clone(), String::new(), Some(view))
                }
                Event::State { key, what } => {
                    (site.ids.event(&r.run_id.0, &t.name, &key), text::clean(&what), None)
                }
            };
            EventRow {
                id,
                at: utc(t.collected_at),
                run: text::clean(&r.run_id.0),
                run_href: site.run_href(ROOT, &r.run_id.0),
                target: text::clean(&t.name),
                target_href: site.target_href(ROOT, &t.name),
                kind: kind.word(),
                what,
                change,
            }
        })
        .collect();
    let timeline_note = if timeline.is_empty() {
        "No configuration change or replication state transition in the runs this report covers."
            .to_owned()
    } else if skip > 0 {
        format!("The newest {} events; {} older ones are left out.", count(MAX_EVENTS), count(skip))
    } else {
        format!("{} events over the last {} runs.", count(timeline.len()), count(site.runs.len()))
    };

    GroupPage {
        layout: site.layout(
            ROOT,
            format!("Group {name}"),
            vec![home(ROOT)],
            format!("Group {name}"),
        ),
        name,
        members,
        streams,
        preflight_count: count(preflight.len()),
        preflight: fragments::finding_articles(&preflight),
        preflight_note: "No pending configuration of any member would break anything on the next restarts.",
        columns: collected.iter().map(|t| text::clean(&t.name)).collect(),
        differences: differences.unexpected,
        differences_note,
        expected_count: count(differences.expected.len()),
        expected: differences.expected,
        timeline: fragments::event_rows(&timeline),
        timeline_note,
    }
}

/// The settings whose values differ across the `collected` members (columns in their
/// order), by key, split by [`ExpectedDifferences::reason_for_all`] over the kinds of
/// the members that hold the setting.
///
/// [`ExpectedDifferences::reason_for_all`]: crate::diff::ExpectedDifferences::reason_for_all
fn differences(
    site: &Site<'_>,
    collected: &[&TargetRun],
    snapshots: &BTreeMap<String, Snapshot>,
) -> Differences {
    let configs: Vec<&Config> = collected.iter().map(|t| &snapshots[&t.name].config).collect();
    let mut out = Differences::default();
    let mut kinds = Vec::with_capacity(collected.len());
    aligned(&configs, |key, entries| {
        if all_shown_alike(entries) {
            return;
        }
        kinds.clear();
        kinds.extend(
            collected.iter().zip(entries).filter(|(_, e)| e.is_some()).map(|(t, _)| t.kind),
        );
        kinds.dedup();
        let reason = site.expected.reason_for_all(&kinds, key);
        let row = DifferenceRow {
            id: site.ids.difference(key),
            setting: text::clean(setting_name(key)),
            values: entries
                .iter()
                .map(|e| e.map_or_else(Val::absent, |e| Val::of(&e.display_value())))
                .collect(),
            reason: reason.map_or_else(String::new, text::clean),
        };
        match reason {
            Some(_) => out.expected.push(row),
            None => out.unexpected.push(row),
        }
    });
    out
}

fn member_row(site: &Site<'_>, t: &TargetRun, group: &[&TargetRun]) -> MemberRow {
    // A collected member is PASS only when none of its findings fails.
    let failing = t.findings.iter().filter(|f| super::compare::is_failing(f)).count();
    let (badge, note) = match t.status {
        TargetStatus::Ok if failing > 0 => {
            (Badge::FAIL, format!("collected; {} failing", count(failing)))
        }
        TargetStatus::Ok => (Badge::PASS, "collected".to_owned()),
        s => (
            Badge::ERROR,
            format!(
                "{}: {}",
                s.as_str(),
                text::clean(t.error.as_deref().unwrap_or("no error message"))
            ),
        ),
    };
    let up = upstream(t.kind, &t.state);
    let upstream_member = up.as_ref().and_then(|u| {
        group.iter().find(|m| m.name != t.name && host_port(&m.address) == u.address)
    });
    let detected = t.detected_role.map_or("not detected".to_owned(), |r| r.to_string());
    MemberRow {
        id: site.ids.member(&t.name),
        name: text::clean(&t.name),
        href: site.target_href(ROOT, &t.name),
        kind: t.kind.to_string(),
        role: format!("{} / {detected}", t.role),
        badge,
        note,
        upstream: up.as_ref().map_or_else(|| DASH.to_owned(), |u| text::clean(&u.address)),
        upstream_href: upstream_member.map(|m| format!("#{}", site.ids.member(&m.name))),
        upstream_name: upstream_member.map_or_else(String::new, |m| text::clean(&m.name)),
        link: up.as_ref().map_or_else(|| DASH.to_owned(), |u| text::clean(&u.link)),
        lag: up.as_ref().map_or_else(|| DASH.to_owned(), |u| text::clean(&u.lag)),
    }
}

/// What a replica reports about its upstream.
struct Upstream {
    address: String,
    link: String,
    lag: String,
}

fn upstream(kind: Kind, state: &State) -> Option<Upstream> {
    let get = |k: &str| state.get(k).map(|e| e.value.as_str());
    let join = |parts: Vec<String>| {
        let parts: Vec<String> = parts.into_iter().filter(|p| !p.is_empty()).collect();
        if parts.is_empty() { DASH.to_owned() } else { parts.join(", ") }
    };
    let with = |v: Option<&str>, unit: &str| v.map_or(String::new(), |v| format!("{v} {unit}"));
    match kind {
        Kind::Postgres => {
            let status = get(postgres::WAL_RECEIVER_STATUS)?;
            let paused = get(postgres::REPLAY_PAUSED) == Some("true");
            Some(Upstream {
                address: format!(
                    "{}:{}",
                    get(postgres::WAL_RECEIVER_SENDER_HOST).unwrap_or("?"),
                    get(postgres::WAL_RECEIVER_SENDER_PORT).unwrap_or("?")
                ),
                link: if paused { format!("{status}, replay paused") } else { status.to_owned() },
                lag: join(vec![
                    with(get(postgres::REPLAY_LAG_S), "s"),
                    with(get(postgres::REPLAY_LAG_BYTES), "B"),
                ]),
            })
        }
        Kind::Redis => Some(Upstream {
            address: format!("{}:{}", get(redis::MASTER_HOST)?, get(redis::MASTER_PORT)?),
            link: get(redis::MASTER_LINK_STATUS).unwrap_or("unknown").to_owned(),
            lag: join(vec![with(get(redis::OFFSET_LAG_BYTES), "B")]),
        }),
        Kind::Mysql => {
            let conn = state.keys().find_map(|k| {
                k.strip_prefix(REPLICATION_PREFIX)?.strip_suffix(mysql::SOURCE_HOST_SUFFIX)
            })?;
            let field = |f: &str| get(&format!("{REPLICATION_PREFIX}{conn}.{f}"));
            Some(Upstream {
                address: format!(
                    "{}:{}",
                    field("source_host")?,
                    field("source_port").unwrap_or("?")
                ),
                link: format!(
                    "IO {}, SQL {}",
                    field("io_running").unwrap_or("?"),
                    field("sql_running").unwrap_or("?")
                ),
                lag: field(mysql::SECONDS_BEHIND)
                    .map_or_else(|| "unknown".to_owned(), |s| format!("{s} s")),
            })
        }
        Kind::Memcached | Kind::Pgbouncer => None,
    }
}

/// Replicas as their upstream `t` reports them (`state.replica.<name>.*`).
fn stream_rows(site: &Site<'_>, t: &TargetRun) -> Vec<StreamRow> {
    let get = |k: String| t.state.get(&k).map(|e| e.value.clone());
    let names: BTreeSet<&str> = t
        .state
        .keys()
        .filter_map(|k| k.strip_prefix(REPLICA_PREFIX)?.rsplit_once('.').map(|(n, _)| n))
        .collect();
    names
        .into_iter()
        .map(|n| {
            let field = |f: &str| get(format!("{REPLICA_PREFIX}{n}.{f}"));
            let state =
                [field("state"), field("sync_state")].into_iter().flatten().collect::<Vec<_>>();
            let lag = [
                field("replay_lag_s").or_else(|| field("lag")).map(|v| format!("{v} s")),
                field("replay_lag_bytes")
                    .or_else(|| field("offset_lag_bytes"))
                    .map(|v| format!("{v} B")),
            ];
            let lag: Vec<String> = lag.into_iter().flatten().collect();
            StreamRow {
                from: text::clean(&t.name),
                from_href: site.target_href(ROOT, &t.name),
                replica: text::clean(n),
                state: if state.is_empty() {
                    DASH.to_owned()
                } else {
                    text::clean(&state.join(", "))
                },
                lag: if lag.is_empty() { DASH.to_owned() } else { lag.join(", ") },
            }
        })
        .collect()
}

/// Walks the settings of every config in key order, together: `each` gets every key
/// any of them holds and its entry in each (`None` where a config lacks it). One pass
/// over the sorted maps instead of a lookup per key and member.
fn aligned<'a>(configs: &[&'a Config], mut each: impl FnMut(&'a str, &[Option<&'a Entry>])) {
    let mut iters: Vec<_> = configs.iter().map(|c| c.iter().peekable()).collect();
    let mut row: Vec<Option<&Entry>> = vec![None; configs.len()];
    while let Some(key) = iters.iter_mut().filter_map(|i| i.peek().map(|(k, _)| *k)).min() {
        for (slot, it) in row.iter_mut().zip(&mut iters) {
            *slot = it.next_if(|(k, _)| *k == key).map(|(_, e)| e);
        }
        each(key, &row);
    }
}

/// Whether every entry shows as the same value (absent counts as a value).
fn all_shown_alike(entries: &[Option<&Entry>]) -> bool {
    let Some((first, rest)) = entries.split_first() else { return true };
    fn raw<'e>(e: &Option<&'e Entry>) -> Option<(&'e str, Option<&'e str>)> {
        e.map(|e| (e.value.as_str(), e.unit.as_deref().filter(|u| !u.is_empty())))
    }
    // Equal parts show alike; unequal parts can still show alike (`128 8kB` with no
    // unit beside `128` in `8kB`), so those compare as shown.
    rest.iter().all(|e| raw(e) == raw(first))
        || rest.iter().all(|e| e.map(Entry::display_value) == first.map(Entry::display_value))
}

/// `host:port` of a redacted connection address (`postgres://u@h:5432/db` → `h:5432`).
fn host_port(address: &str) -> String {
    let rest = address.split_once("://").map_or(address, |(_, r)| r);
    let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
    rest.split(['/', '?']).next().unwrap_or(rest).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_reduce_to_host_and_port() {
        assert_eq!(host_port("postgres://auditor@db1:5432/postgres"), "db1:5432");
        assert_eq!(host_port("redis://127.0.0.1:6380"), "127.0.0.1:6380");
        assert_eq!(host_port("mysql://u:[REDACTED]@h:3306/"), "h:3306");
    }

    fn config(entries: &[(&str, &str, Option<&str>)]) -> Config {
        entries
            .iter()
            .map(|(k, v, unit)| {
                let mut e = Entry::new(*v);
                e.unit = unit.map(str::to_owned);
                ((*k).to_owned(), e)
            })
            .collect()
    }

    #[test]
    fn configs_are_walked_together_by_key() {
        let a = config(&[("a", "1", None), ("c", "3", None)]);
        let b = config(&[("b", "2", None), ("c", "3", None), ("d", "4", None)]);
        let empty = Config::new();
        let mut seen = Vec::new();
        aligned(&[&a, &b, &empty], |key, entries| {
            let values: Vec<_> = entries.iter().map(|e| e.map(|e| e.value.clone())).collect();
            seen.push((key.to_owned(), values));
        });
        let v = |s: &str| Some(s.to_owned());
        assert_eq!(
            seen,
            [
                ("a".to_owned(), vec![v("1"), None, None]),
                ("b".to_owned(), vec![None, v("2"), None]),
                ("c".to_owned(), vec![v("3"), v("3"), None]),
                ("d".to_owned(), vec![None, v("4"), None]),
            ]
        );
    }

    #[test]
    fn values_compare_as_shown() {
        let a = config(&[("x", "128 8kB", None), ("y", "on", Some(""))]);
        let b = config(&[("x", "128", Some("8kB")), ("y", "on", None)]);
        let c = config(&[("x", "128", None), ("y", "on", Some("s"))]);
        let (ax, bx, cx) = (a.get("x"), b.get("x"), c.get("x"));
        let (ay, by, cy) = (a.get("y"), b.get("y"), c.get("y"));
        assert!(all_shown_alike(&[ax, bx]));
        assert!(!all_shown_alike(&[ax, cx]));
        assert!(all_shown_alike(&[ay, by]));
        assert!(!all_shown_alike(&[ay, cy]));
        assert!(!all_shown_alike(&[ay, None]));
        assert!(all_shown_alike(&[None, None]));
        assert!(all_shown_alike(&[]));
    }
}
