//! What the PostgreSQL server does with its settings once it has read them all, before
//! it accepts connections: values it derives (`wal_buffers = -1` sized from
//! `shared_buffers`), values it shows differently from how they were set
//! (`archive_command` is `(disabled)` while archiving is off), and combinations it
//! refuses to start with (postmaster.c, xlog.c): `superuser_reserved_connections`
//! not below `max_connections`, archiving or WAL senders with `wal_level = minimal`,
//! WAL size limits below two segments, too many backends.

use std::collections::BTreeMap;

/// The largest number of backends a server can have (`MAX_BACKENDS`).
const MAX_BACKENDS: i64 = 0x3FFFF;

/// A value the server derives or shows otherwise: the setting, the value it shows, and
/// why, in words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Derived {
    pub name: &'static str,
    pub shown: String,
    pub why: String,
}

/// A combination the server refuses: its message and the settings involved, most
/// telling first (the problem is reported at the first of them the file sets).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    pub message: String,
    pub settings: Vec<&'static str>,
}

/// Derived values, given every setting's value as the server shows it (file over
/// defaults) and the cluster's fixed values (`wal_segment_size`, `wal_block_size`).
pub fn derived(values: &BTreeMap<String, String>) -> Vec<Derived> {
    let int = |n: &str| values.get(n).and_then(|v| v.parse::<i64>().ok());
    let mut out = Vec::new();
    if let Some(wal_buffers) = int("wal_buffers") {
        if wal_buffers == -1 {
            // XLOGChooseNumBuffers: 1/32 of shared_buffers, at least 8 pages, at most one
            // WAL segment.
            let pages = wal_segment_pages(values);
            let chosen = (int("shared_buffers").unwrap_or(16384) / 32).min(pages).max(8);
            out.push(Derived {
                name: "wal_buffers",
                shown: chosen.to_string(),
                why: "-1 sizes it to 1/32 of shared_buffers (at least 8 pages, at most one WAL segment)"
                    .into(),
            });
        } else if wal_buffers < 4 {
            out.push(Derived {
                name: "wal_buffers",
                shown: "4".into(),
                why: "the server raises wal_buffers to its minimum of 4 pages".into(),
            });
        }
    }
    if values.get("archive_mode").map(String::as_str) == Some("off")
        && values.get("archive_command").is_some_and(|c| c != "(disabled)")
    {
        out.push(Derived {
            name: "archive_command",
            shown: "(disabled)".into(),
            why: "shown as (disabled) while archive_mode is off".into(),
        });
    }
    out
}

fn wal_segment_pages(values: &BTreeMap<String, String>) -> i64 {
    let seg =
        values.get("wal_segment_size").and_then(|v| v.parse::<i64>().ok()).unwrap_or(16 << 20);
    let block = values.get("wal_block_size").and_then(|v| v.parse::<i64>().ok()).unwrap_or(8192);
    seg / block.max(1)
}

/// The combinations the server refuses to start with, in the order it checks them.
pub fn conflicts(values: &BTreeMap<String, String>) -> Vec<Conflict> {
    let int = |n: &str| values.get(n).and_then(|v| v.parse::<i64>().ok()).unwrap_or(0);
    let text = |n: &str| values.get(n).map(String::as_str).unwrap_or("");
    let mut out = Vec::new();
    let (reserved, max_connections) =
        (int("superuser_reserved_connections"), int("max_connections"));
    if reserved >= max_connections {
        out.push(Conflict {
            message: format!(
                "superuser_reserved_connections ({reserved}) must be less than max_connections ({max_connections})"
            ),
            settings: vec!["superuser_reserved_connections", "max_connections"],
        });
    }
    if text("wal_level") == "minimal" && text("archive_mode") != "off" {
        out.push(Conflict {
            message: "WAL archival cannot be enabled when wal_level is \"minimal\"".into(),
            settings: vec!["wal_level", "archive_mode"],
        });
    }
    if text("wal_level") == "minimal" && int("max_wal_senders") > 0 {
        out.push(Conflict {
            message:
                "WAL streaming (max_wal_senders > 0) requires wal_level \"replica\" or \"logical\""
                    .into(),
            settings: vec!["wal_level", "max_wal_senders"],
        });
    }
    let backends = max_connections
        + int("autovacuum_max_workers")
        + 1
        + int("max_worker_processes")
        + int("max_wal_senders");
    if backends > MAX_BACKENDS {
        out.push(Conflict {
            message: "too many backends configured".into(),
            settings: vec![
                "max_connections",
                "max_worker_processes",
                "autovacuum_max_workers",
                "max_wal_senders",
            ],
        });
    }
    let segment_mb =
        values.get("wal_segment_size").and_then(|v| v.parse::<i64>().ok()).unwrap_or(16 << 20)
            / (1024 * 1024);
    for name in ["min_wal_size", "max_wal_size"] {
        if segment_mb > 0 && int(name) / segment_mb < 2 {
            out.push(Conflict {
                message: format!("\"{name}\" must be at least twice \"wal_segment_size\""),
                settings: vec![if name == "min_wal_size" {
                    "min_wal_size"
                } else {
                    "max_wal_size"
                }],
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        let mut v: BTreeMap<String, String> = [
            ("shared_buffers", "16384"),
            ("wal_buffers", "-1"),
            ("max_connections", "100"),
            ("superuser_reserved_connections", "3"),
            ("wal_level", "replica"),
            ("archive_mode", "off"),
            ("archive_command", ""),
            ("max_wal_senders", "10"),
            ("autovacuum_max_workers", "3"),
            ("max_worker_processes", "8"),
            ("min_wal_size", "80"),
            ("max_wal_size", "1024"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        for (k, x) in pairs {
            v.insert((*k).to_owned(), (*x).to_owned());
        }
        v
    }

    #[test]
    fn wal_buffers_and_archive_command() {
        let shown = |p: &[(&str, &str)]| {
            derived(&values(p))
                .into_iter()
                .map(|d| format!("{}={}", d.name, d.shown))
                .collect::<Vec<_>>()
        };
        assert_eq!(shown(&[]), ["wal_buffers=512", "archive_command=(disabled)"]);
        assert_eq!(
            shown(&[("shared_buffers", "131072"), ("archive_mode", "on")]),
            ["wal_buffers=2048"]
        );
        assert_eq!(shown(&[("shared_buffers", "16"), ("archive_mode", "on")]), ["wal_buffers=8"]);
        assert_eq!(shown(&[("wal_buffers", "1"), ("archive_mode", "on")]), ["wal_buffers=4"]);
    }

    #[test]
    fn refused_combinations() {
        let found = |p: &[(&str, &str)]| {
            conflicts(&values(p)).into_iter().map(|c| c.message).collect::<Vec<_>>()
        };
        assert!(found(&[]).is_empty());
        assert_eq!(
            found(&[("wal_level", "minimal")]),
            ["WAL streaming (max_wal_senders > 0) requires wal_level \"replica\" or \"logical\""]
        );
        assert_eq!(found(&[("max_connections", "3")]).len(), 1);
        assert_eq!(
            found(&[("min_wal_size", "16")]),
            ["\"min_wal_size\" must be at least twice \"wal_segment_size\""]
        );
    }
}
