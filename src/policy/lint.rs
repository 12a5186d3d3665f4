//! `driftwatch policy lint`: checks beyond what loading reports, each a [`Diagnostic`]
//! at file:line:col. Pure: the caller passes the sources and `today`.
//!
//! - `setting.<name>` keys (of rules and their `when`) that the policy's engine does not
//!   have, with a did-you-mean from its known setting names (the shipped defaults
//!   data), and a hint when the name belongs to another engine; `server.` keys other
//!   than the ones collectors write; unknown namespaces.
//! - Values that do not parse with their units (`equals = "64mb"`), and quantities of
//!   the wrong kind for a PostgreSQL setting (`min = "64MB"` on a time setting).
//! - Waivers whose `expires` date has passed.
//!
//! Everything reported is an error: lint exits 2 on any of them (see the README).

use std::collections::BTreeMap;
use std::ops::Range;

use chrono::NaiveDate;
use serde::Deserialize;
use toml::Spanned;

use super::PolicySource;
use super::group::GROUP_KEYS;
use super::load::Conditions;
use crate::collect::conffile::defaults;
use crate::diagnostic::Diagnostic;
use crate::engine::quantity::{Dimension, Expected, Unit};
use crate::snapshot::Kind;

#[derive(Deserialize)]
struct File {
    #[serde(default)]
    policy: Option<Header>,
    #[serde(default)]
    rule: Vec<RuleTable>,
    #[serde(default)]
    waiver: Vec<WaiverTable>,
    #[serde(default)]
    overlay: Vec<OverlayTable>,
}

#[derive(Deserialize)]
struct Header {
    #[serde(default)]
    applies_to: Option<AppliesTo>,
}

#[derive(Deserialize)]
struct AppliesTo {
    #[serde(default)]
    kind: Option<String>,
}

type Table = BTreeMap<String, Spanned<toml::Value>>;

#[derive(Deserialize)]
struct RuleTable {
    #[serde(default)]
    key: Option<Spanned<String>>,
    #[serde(default)]
    expect: Option<Table>,
    #[serde(default)]
    when: Option<Spanned<Conditions<Table>>>,
}

#[derive(Deserialize)]
struct WaiverTable {
    #[serde(default)]
    rule: Option<String>,
    #[serde(default)]
    expires: Option<Spanned<toml::Value>>,
}

#[derive(Deserialize)]
struct OverlayTable {
    #[serde(default)]
    expect: Option<Table>,
}

/// Every lint problem of every file (files that are not valid TOML are skipped: loading
/// reports those).
pub fn lint(sources: &[PolicySource], today: NaiveDate) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for src in sources {
        let Ok(file) = toml::from_str::<File>(&src.text) else { continue };
        let kind = file
            .policy
            .and_then(|p| p.applies_to?.kind)
            .and_then(|k| Kind::ALL.into_iter().find(|x| x.as_str() == k));
        let mut at = |span: Range<usize>, msg: String| {
            out.push(Diagnostic::at_span(&src.file, &src.text, Some(span), msg));
        };
        for rule in file.rule {
            let key = rule.key.as_ref();
            if let Some(key) = key {
                check_key(kind, key.get_ref(), key.span(), &mut at);
            }
            let setting = key.and_then(|k| k.get_ref().strip_prefix("setting.").map(str::to_owned));
            if let Some(expect) = &rule.expect {
                check_values(kind, setting.as_deref(), expect, &mut at);
            }
            let whens = rule.when.map(|w| {
                let span = w.span();
                w.into_inner().tables(span)
            });
            for when in whens.iter().flatten().map(Spanned::get_ref) {
                let when_key = when
                    .get("key")
                    .and_then(|k| Some((k.get_ref().as_str()?.to_owned(), k.span())));
                if let Some((k, span)) = &when_key {
                    check_key(kind, k, span.clone(), &mut at);
                }
                let setting =
                    when_key.and_then(|(k, _)| k.strip_prefix("setting.").map(str::to_owned));
                check_values(kind, setting.as_deref(), when, &mut at);
            }
        }
        for overlay in &file.overlay {
            if let Some(expect) = &overlay.expect {
                check_values(kind, None, expect, &mut at);
            }
        }
        for waiver in &file.waiver {
            let Some(expires) = &waiver.expires else { continue };
            let date = match expires.get_ref() {
                toml::Value::Datetime(dt) => {
                    NaiveDate::parse_from_str(&dt.to_string(), "%Y-%m-%d").ok()
                }
                toml::Value::String(s) => NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok(),
                _ => None,
            };
            if let Some(date) = date.filter(|d| *d < today) {
                let rule = waiver.rule.as_deref().unwrap_or("?");
                at(
                    expires.span(),
                    format!(
                        "waiver for `{rule}` expired on {date}: renew it with a new date and reason, or remove it"
                    ),
                );
            }
        }
    }
    out
}

/// The `server.` keys collectors write.
const SERVER_KEYS: &[&str] =
    &["version", "role", "flavor", "config_file", "redis_mode", "pending_source", "provenance"];

/// Setting names of versions or flavours other than the ones the defaults data was
/// generated from (MariaDB 10.11, memcached 1.6 builds without every option), which
/// baselines may name with `missing = "not_applicable"`.
fn other_versions(kind: Kind) -> &'static [&'static str] {
    match kind {
        Kind::Mysql => &[
            // MySQL 8
            "gtid_mode",
            "enforce_gtid_consistency",
            "super_read_only",
            "server_uuid",
            "replica_skip_errors",
            "replica_net_timeout",
            "replica_parallel_workers",
            "replica_parallel_type",
            "replica_preserve_commit_order",
            "log_replica_updates",
            "binlog_expire_logs_seconds",
            "binlog_transaction_dependency_tracking",
            "source_verify_checksum",
            "replica_exec_mode",
            "replica_sql_verify_checksum",
            "persisted_globals_load",
            "caching_sha2_password_auto_generate_rsa_keys",
            "log_error_verbosity",
            "rpl_semi_sync_source_enabled",
            "rpl_semi_sync_source_wait_point",
        ],
        Kind::Memcached => &["flush_enabled", "shutdown_command", "ssl_enabled"],
        Kind::Postgres | Kind::Redis | Kind::Pgbouncer => &[],
    }
}

fn check_key(
    kind: Option<Kind>,
    key: &str,
    span: Range<usize>,
    at: &mut impl FnMut(Range<usize>, String),
) {
    let Some((ns, name)) = key.split_once('.') else { return }; // loading reports it
    match ns {
        "state" => {}
        "group" if GROUP_KEYS.contains(&name) || name.starts_with("primary.") => {}
        "group" => at(
            span,
            format!("unknown key `{key}` (group keys: group.{})", GROUP_KEYS.join(", group.")),
        ),
        "server" if SERVER_KEYS.contains(&name) => {}
        "server" => at(
            span,
            format!("unknown key `{key}` (server keys: server.{})", SERVER_KEYS.join(", server.")),
        ),
        "setting" | "pending" => {
            let Some(kind) = kind else { return };
            if kind == Kind::Postgres && name.contains('.') {
                return; // an extension's setting
            }
            let known = defaults(kind);
            if known.contains_key(name) || other_versions(kind).contains(&name) {
                return;
            }
            let mut msg = format!("no {kind} setting is called `{name}`");
            if let Some(best) = closest(name, known.keys().map(String::as_str)) {
                msg.push_str(&format!("; did you mean `setting.{best}`?"));
            } else if let Some(other) =
                Kind::ALL.into_iter().find(|k| *k != kind && defaults(*k).contains_key(name))
            {
                msg.push_str(&format!(
                    " (`{name}` is a {other} setting; this policy applies to {kind})"
                ));
            }
            at(span, msg);
        }
        "database" if kind == Some(Kind::Pgbouncer) => {
            // `database.<name>.<field>`: a `[databases]` entry as `SHOW DATABASES` shows it.
            let field = match crate::scoped::parse(key) {
                Some(parsed) => parsed.setting,
                None => key.strip_prefix("database.*.").map(str::to_owned),
            };
            let fields = crate::engine::pgbouncer::DATABASE_FIELDS;
            match field {
                Some(field) if fields.contains(&field.as_str()) => {}
                Some(field) => {
                    let mut msg = format!("PgBouncer's databases have no field `{field}`");
                    if let Some(best) = closest(&field, fields.iter().copied()) {
                        msg.push_str(&format!("; did you mean `{best}`?"));
                    } else {
                        msg.push_str(&format!(" (fields: {})", fields.join(", ")));
                    }
                    at(span, msg);
                }
                None => at(
                    span,
                    format!(
                        "`{key}` is not a database key: write `database.<name>.<field>` or `database.*.<field>`"
                    ),
                ),
            }
        }
        "role" | "database" => {
            if kind.is_some_and(|k| k != Kind::Postgres) {
                let msg = format!(
                    "`{ns}.` keys are PostgreSQL's per-role and per-database settings{}",
                    if ns == "database" { " and PgBouncer's [databases] entries" } else { "" }
                );
                return at(span, msg);
            }
            let setting = match key.split_once(".*.") {
                Some((_, setting)) => Some(setting.to_owned()),
                None => match crate::scoped::parse(key) {
                    Some(parsed) => parsed.setting,
                    None => {
                        let msg = format!(
                            "`{key}` is not a {ns} key: write `role.<role>.<setting>`, `role.<role>@<db>.<setting>`, `database.<db>.<setting>` or `*` for every name"
                        );
                        return at(span, msg);
                    }
                },
            };
            if let Some(setting) = setting {
                check_key(kind, &format!("setting.{setting}"), span, at);
            }
        }
        other => at(
            span,
            format!(
                "unknown key namespace `{other}` (expected setting., pending., server., state., group., role. or database.)"
            ),
        ),
    }
}

/// The known name most like `name`, when one is close enough to be a typo.
pub fn closest<'a>(name: &str, known: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let name = name.to_ascii_lowercase();
    known
        .map(|k| (strsim::jaro_winkler(&name, &k.to_ascii_lowercase()), k))
        .filter(|(score, _)| *score >= 0.88)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, k)| k)
}

/// Literals of `equals`/`not_equals`/`one_of`/`min`/`max` that look like quantities
/// must parse, and for a PostgreSQL setting with a unit must measure the same thing.
fn check_values(
    kind: Option<Kind>,
    setting: Option<&str>,
    table: &Table,
    at: &mut impl FnMut(Range<usize>, String),
) {
    let unit = setting
        .filter(|_| kind == Some(Kind::Postgres))
        .and_then(|s| defaults(Kind::Postgres).get(s))
        .map(|d| d.unit.as_deref().and_then(|u| Unit::parse(u).ok()).map(|u| u.dimension));
    for (op, value) in table {
        if !matches!(op.as_str(), "equals" | "not_equals" | "one_of" | "min" | "max") {
            continue;
        }
        let items: Vec<&toml::Value> = match value.get_ref() {
            toml::Value::Array(items) => items.iter().collect(),
            v => vec![v],
        };
        for item in items {
            let toml::Value::String(text) = item else { continue };
            let looks_numeric = text
                .trim()
                .trim_start_matches(['-', '+'])
                .starts_with(|c: char| c.is_ascii_digit());
            if !looks_numeric {
                continue;
            }
            match Expected::parse(text) {
                Err(e) if text.trim().chars().any(|c| c.is_ascii_alphabetic()) => {
                    at(value.span(), format!("`{text}` does not parse as a quantity: {e}"));
                }
                Ok(Expected::Quantity(q)) => {
                    let (Some(setting), Some(expected)) = (setting, unit) else { continue };
                    let got = q.dimension.map_or("plain", Dimension::as_str);
                    match expected {
                        Some(d) if Some(d) != q.dimension => at(
                            value.span(),
                            format!(
                                "`setting.{setting}` is a {} setting but `{text}` is a {got} value",
                                d.as_str()
                            ),
                        ),
                        None => at(
                            value.span(),
                            format!(
                                "`setting.{setting}` has no unit but `{text}` is a {got} value"
                            ),
                        ),
                        _ => {}
                    }
                }
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    const HEADER: &str =
        "[policy]\nname = \"p\"\nversion = \"1\"\napplies_to = { kind = \"postgres\" }\n";

    /// Lints `body` (after a postgres header) on 2026-06-01; one line per problem.
    #[track_caller]
    fn check(body: &str, expect: &str) {
        let src = PolicySource {
            path: "p.toml".into(),
            file: PathBuf::from("p.toml"),
            text: format!("{HEADER}{body}"),
        };
        let today = NaiveDate::from_ymd_opt(2026, 6, 1).unwrap();
        let got: Vec<String> = lint(&[src], today).iter().map(ToString::to_string).collect();
        assert_eq!(got.join("\n"), expect.trim());
    }

    fn rule(key: &str, expect: &str) -> String {
        format!("[[rule]]\nid = \"R\"\nkey = \"{key}\"\nexpect = {expect}\nseverity = \"low\"\n")
    }

    #[test]
    fn known_keys_are_clean() {
        check(&rule("setting.shared_buffers", "{ min = \"128MB\" }"), "");
        check(&rule("setting.pg_stat_statements.max", "{ min = 1000 }"), "");
        check(&rule("state.replication.lag", "{ max = 10 }"), "");
        check(&rule("server.version", "{ matches = \"^15\" }"), "");
    }

    #[test]
    fn unknown_settings_suggest_a_name() {
        check(
            &rule("setting.shared_bufers", "{ min = \"128MB\" }"),
            "p.toml:7:7: no postgres setting is called `shared_bufers`; did you mean `setting.shared_buffers`?",
        );
        check(
            &rule("setting.maxmemory_policy_zz", "{ equals = \"x\" }"),
            "p.toml:7:7: no postgres setting is called `maxmemory_policy_zz`",
        );
        check(
            &rule("setting.protected-mode", "{ equals = \"yes\" }"),
            "p.toml:7:7: no postgres setting is called `protected-mode` (`protected-mode` is a redis setting; this policy applies to postgres)",
        );
    }

    #[test]
    fn unknown_namespaces_and_server_keys() {
        check(
            &rule("server.uptime", "{ present = true }"),
            "p.toml:7:7: unknown key `server.uptime` (server keys: server.version, server.role, server.flavor, server.config_file, server.redis_mode, server.pending_source, server.provenance)",
        );
        check(
            &rule("settings.fsync", "{ equals = true }"),
            "p.toml:7:7: unknown key namespace `settings` (expected setting., pending., server., state., group., role. or database.)",
        );
        check(&rule("role.*.statement_timeout", "{ not_equals = 0 }"), "");
        check(&rule("role.app@shop.statement_timeout", "{ not_equals = 0 }"), "");
        check(
            &rule("database.*.statment_timeout", "{ not_equals = 0 }"),
            "p.toml:7:7: no postgres setting is called `statment_timeout`; did you mean `setting.statement_timeout`?",
        );
    }

    #[test]
    fn pgbouncer_database_keys_name_show_databases_fields() {
        let pgbouncer = |body: &str, expect: &str| {
            let header = HEADER.replace("kind = \"postgres\"", "kind = \"pgbouncer\"");
            assert_ne!(header, HEADER, "the header names its kind");
            let src = PolicySource {
                path: "p.toml".into(),
                file: PathBuf::from("p.toml"),
                text: format!("{header}{body}"),
            };
            let today = NaiveDate::from_ymd_opt(2026, 6, 1).unwrap();
            let got: Vec<String> = lint(&[src], today).iter().map(ToString::to_string).collect();
            assert_eq!(got.join("\n"), expect);
        };
        pgbouncer(&rule("database.*.pool_mode", "{ equals = \"transaction\" }"), "");
        pgbouncer(&rule("database.app.pool_size", "{ max = 50 }"), "");
        pgbouncer(&rule("database.\"my.db\".pool_size", "{ max = 50 }"), "");
        pgbouncer(
            &rule("database.*.pool_sise", "{ max = 50 }"),
            "p.toml:7:7: PgBouncer's databases have no field `pool_sise`; did you mean `pool_size`?",
        );
        pgbouncer(
            &rule("role.app.pool_size", "{ max = 50 }"),
            "p.toml:7:7: `role.` keys are PostgreSQL's per-role and per-database settings",
        );
    }

    #[test]
    fn when_keys_are_checked() {
        check(
            "[[rule]]\nid = \"R\"\nkey = \"setting.fsync\"\nexpect = { equals = true }\nseverity = \"low\"\nwhen = { key = \"setting.wal_levle\", equals = \"replica\" }\n",
            "p.toml:10:16: no postgres setting is called `wal_levle`; did you mean `setting.wal_level`?",
        );
    }

    #[test]
    fn values_with_units() {
        check(
            &rule("setting.work_mem", "{ equals = \"64mb\" }"),
            "p.toml:8:21: `64mb` does not parse as a quantity: unknown unit `mb` (memory units: B, kB, MB, GB, TB; time units: us, ms, s, min, h, d)",
        );
        check(
            &rule("setting.statement_timeout", "{ min = \"64MB\" }"),
            "p.toml:8:18: `setting.statement_timeout` is a time setting but `64MB` is a memory value",
        );
        check(
            &rule("setting.max_connections", "{ one_of = [\"100\", \"5min\"] }"),
            "p.toml:8:21: `setting.max_connections` has no unit but `5min` is a time value",
        );
    }

    #[test]
    fn expired_waivers() {
        check(
            "[[waiver]]\nrule = \"R\"\nreason = \"x\"\nexpires = 2026-05-31\n\n[[waiver]]\nrule = \"R\"\nreason = \"x\"\nexpires = 2026-06-01\n",
            "p.toml:8:11: waiver for `R` expired on 2026-05-31: renew it with a new date and reason, or remove it",
        );
    }
}
