//! Config loading: good files become values, bad files give every problem with its place.

use super::*;
use crate::store::CloudService;

const GOOD: &str = r#"
[store]
url = "./data"

[policies]
dir = "pol"

[audit]
concurrency = 4
connect_timeout = "2s"
target_timeout = "20s"

[[targets]]
name = "orders-primary"
kind = "postgres"
url = "postgres://auditor@127.0.0.1:5432/postgres"
role = "primary"
group = "orders"
labels = { env = "production" }

[[targets]]
name = "orders-replica"
kind = "postgres"
url_env = "ORDERS_REPLICA_URL"
role = "replica"
group = "orders"
"#;

#[track_caller]
fn check_ok(text: &str) -> Config {
    match parse(Path::new("/etc/dw/driftwatch.toml"), text) {
        Ok(config) => config,
        Err(e) => panic!("expected a valid config, got:\n{e}"),
    }
}

/// Every expected `line:col: fragment` must appear, and nothing else.
#[track_caller]
fn check_err(text: &str, expect: &[&str]) {
    let diags = parse(Path::new("c.toml"), text).expect_err("expected problems");
    let got: Vec<String> =
        diags.0.iter().map(|d| format!("{}:{}: {}", d.line, d.column, d.message)).collect();
    assert_eq!(got.len(), expect.len(), "got {got:#?}");
    for (g, e) in got.iter().zip(expect) {
        let (place, fragment) = e.split_once(' ').unwrap();
        assert!(
            g.starts_with(place) && g.contains(fragment),
            "`{g}` should be `{e}`\nall: {got:#?}"
        );
    }
}

#[test]
fn good_config_is_resolved_against_its_folder() {
    let c = check_ok(GOOD);
    assert_eq!(c.store, StoreLocation::Local(PathBuf::from("/etc/dw/./data")));
    assert_eq!(c.policies_dir, PathBuf::from("/etc/dw/pol"));
    assert_eq!(c.audit.concurrency, 4);
    assert_eq!(c.audit.connect_timeout, Duration::from_secs(2));
    assert_eq!(c.audit.statement_timeout, Duration::from_secs(10));
    assert_eq!(c.targets.len(), 2);
    assert_eq!(c.targets[0].role, Role::Primary);
    assert_eq!(c.targets[0].labels["env"], "production");
    assert_eq!(c.targets[1].connection, Connection::UrlEnv("ORDERS_REPLICA_URL".into()));
}

#[test]
fn defaults_apply() {
    let c = check_ok(
        "[[targets]]\nname = \"a\"\nkind = \"postgres\"\nurl = \"postgres://127.0.0.1/x\"\nrole = \"standalone\"\n",
    );
    assert_eq!(c.store, StoreLocation::Local(PathBuf::from("/etc/dw/driftwatch-data")));
    assert_eq!(c.policies_dir, PathBuf::from("/etc/dw/policies"));
    assert_eq!(c.audit, AuditSettings::default());
}

#[test]
fn memory_and_file_stores() {
    let t = "[[targets]]\nname = \"a\"\nkind = \"postgres\"\nurl = \"postgres://h/x\"\nrole = \"primary\"\n";
    let c = check_ok(&format!("[store]\nurl = \"memory://\"\n{t}"));
    assert_eq!(c.store, StoreLocation::Memory);
    let c = check_ok(&format!("[store]\nurl = \"file:///var/lib/dw\"\n{t}"));
    assert_eq!(c.store, StoreLocation::Local(PathBuf::from("/var/lib/dw")));
}

#[test]
fn syntax_error_points_at_it() {
    check_err("[store\nurl = 1\n", &["1:7: invalid TOML"]);
}

#[test]
fn unknown_fields_in_several_places_are_all_reported() {
    check_err(
        r#"
[store]
ur = "x"

[audit]
concurrenc = 3

[[targets]]
name = "a"
kind = "postgres"
url = "postgres://h/x"
role = "primary"
colour = "blue"
"#,
        &[
            "3:1: unknown field `ur`",
            "6:1: unknown field `concurrenc`",
            "13:1: unknown field `colour`",
        ],
    );
}

#[test]
fn wrong_types_and_values() {
    check_err(
        r#"
[audit]
concurrency = 0
connect_timeout = "5"
target_timeout = "-1s"

[[targets]]
name = "a"
kind = "oracle"
url = "postgres://h/x"
role = "primary"

[[targets]]
name = "b"
kind = "postgres"
url = "postgres://h/x"
role = "leader"
"#,
        &[
            "3:15: between 1 and 4096",
            "4:19: no unit",
            "5:18: negative",
            "9:8: unknown variant `oracle`",
            "17:8: unknown variant `leader`",
        ],
    );
}

#[test]
fn target_problems() {
    check_err(
        r#"
[[targets]]
name = "Orders DB"
kind = "postgres"
url = "mysql://h/x"
role = "primary"

[[targets]]
name = "dup"
kind = "postgres"
url = "postgres://u:hunter2@h/x"
role = "primary"

[[targets]]
name = "dup"
kind = "postgres"
role = "primary"

[[targets]]
name = "both"
kind = "postgres"
url = "postgres://h/x"
url_env = "X"
role = "primary"
"#,
        &[
            "3:8: must be 1-100 characters",
            "5:7: needs a postgres:// url",
            "11:7: holds a password",
            "15:8: duplicate target name `dup`",
            "15:8: needs `url` or `url_env`",
            "23:11: not both",
        ],
    );
}

#[test]
fn unknown_section_and_missing_targets() {
    check_err("[stor]\nurl = \"x\"\n", &["1:1: no [[targets]]", "1:2: unknown section `stor`"]);
}

#[test]
fn unsupported_store_scheme() {
    check_err(
        "[store]\nurl = \"ftp://x\"\n[[targets]]\nname = \"a\"\nkind = \"postgres\"\nurl = \"postgres://h/x\"\nrole = \"primary\"\n",
        &["2:7: not supported"],
    );
}

#[test]
fn password_comes_from_file_at_resolve_time() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pw"), "s3cr3t\n").unwrap();
    let conn = Connection::Url {
        url: "postgres://auditor@127.0.0.1:5432/postgres".into(),
        password: Some(PasswordSource::File(dir.path().join("pw"))),
    };
    assert_eq!(conn.resolve().unwrap(), "postgres://auditor:s3cr3t@127.0.0.1:5432/postgres");
    assert_eq!(conn.display(), "postgres://auditor@127.0.0.1:5432/postgres");
    let missing = Connection::UrlEnv("DRIFTWATCH_TEST_SURELY_UNSET".into());
    assert!(missing.resolve().unwrap_err().contains("DRIFTWATCH_TEST_SURELY_UNSET"));
}

const ONE_TARGET: &str = "[[targets]]\nname = \"a\"\nkind = \"postgres\"\nurl = \"postgres://h/x\"\nrole = \"primary\"\n";

#[test]
fn s3_store_with_options() {
    let c = check_ok(&format!(
        "[store]\nurl = \"s3://bucket/history\"\nendpoint = \"http://127.0.0.1:9000\"\nregion = \"eu-west-1\"\nallow_http = true\npath_style = true\noptions = {{ aws_sse_kms_key_id = \"k\" }}\n{ONE_TARGET}"
    ));
    let StoreLocation::Cloud(cloud) = c.store else { panic!("{:?}", c.store) };
    assert_eq!(cloud.service, CloudService::S3);
    assert_eq!(cloud.url, "s3://bucket/history");
    let keys: Vec<(&str, &str)> =
        cloud.options.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(
        keys,
        [
            ("aws_allow_http", "true"),
            ("aws_endpoint", "http://127.0.0.1:9000"),
            ("aws_region", "eu-west-1"),
            ("aws_sse_kms_key_id", "k"),
            ("aws_virtual_hosted_style_request", "false"),
        ]
    );
    assert!(!format!("{cloud:?}").contains("\"k\""), "options values stay out of Debug");
}

#[test]
fn cloud_store_problems() {
    check_err(
        &format!("[store]\nurl = \"s3://\"\noptions = {{ aws_regoin = \"x\" }}\n{ONE_TARGET}"),
        &["2:7: names no bucket", "3:13: unknown store option `aws_regoin`"],
    );
    check_err(
        &format!("[store]\nurl = \"gs://b\"\nregion = \"x\"\n{ONE_TARGET}"),
        &["3:10: region applies to s3://"],
    );
    check_err(
        &format!("[store]\nurl = \"./data\"\nregion = \"x\"\n{ONE_TARGET}"),
        &["2:7: endpoint, region and options apply to s3://"],
    );
}

#[test]
fn service_sections_default_when_absent() {
    let c = check_ok(ONE_TARGET);
    assert_eq!(c.schedule, ScheduleSettings::default());
    assert_eq!(c.schedule.cron.pattern, "0 */5 * * * *");
    assert_eq!(c.schedule.cron.interval, Duration::from_secs(300));
    assert!(c.schedule.run_at_start);
    assert_eq!(c.schedule.grace_period, Duration::from_secs(30));
    assert_eq!(c.server.listen.to_string(), "127.0.0.1:9187");
    assert_eq!(c.server.public_url, None);
    assert!(c.notify.is_empty());
    assert_eq!(c.targets[0].schedule, None);
}

#[test]
fn service_sections_are_read() {
    let c = check_ok(&format!(
        r#"
[schedule]
cron = "*/10 * * * * *"
run_at_start = false
grace_period = "5s"

[server]
listen = "0.0.0.0:8080"
public_url = "https://driftwatch.example.com/"

[server.auth]
tokens_file = "tokens"
metrics = "open"

[server.tls]
cert_file = "/etc/ssl/dw.pem"
key_file = "dw.key"

[[notify]]
url = "https://hooks.example.com/T000/B000/XXXX"
format = "slack"
timeout = "2s"
retries = 1
on = ["new_failures", "unreachable"]

[[notify]]
url_env = "DW_HOOK"

{ONE_TARGET}schedule = "0 0 * * * *"
"#
    ));
    assert_eq!(c.schedule.cron.interval, Duration::from_secs(10));
    assert!(!c.schedule.run_at_start);
    assert_eq!(c.schedule.grace_period, Duration::from_secs(5));
    assert_eq!(c.server.listen.port(), 8080);
    assert_eq!(c.server.public_url.as_deref(), Some("https://driftwatch.example.com"));
    assert_eq!(c.server.auth.tokens_file.as_deref(), Some(Path::new("/etc/dw/tokens")));
    assert!(c.server.auth.metrics_open && c.server.auth.users_file.is_none());
    let tls = c.server.tls.as_ref().unwrap();
    assert_eq!(
        (tls.cert_file.as_path(), tls.key_file.as_path()),
        (Path::new("/etc/ssl/dw.pem"), Path::new("/etc/dw/dw.key"))
    );
    assert_eq!(c.notify.len(), 2);
    assert_eq!(c.notify[0].format, NotifyFormat::Slack);
    assert_eq!(c.notify[0].timeout, Duration::from_secs(2));
    assert_eq!(c.notify[0].retries, 1);
    assert_eq!(
        c.notify[0].on.iter().copied().collect::<Vec<_>>(),
        [NotifyEvent::NewFailures, NotifyEvent::Unreachable]
    );
    assert_eq!(c.notify[1].url, WebhookUrl::Env("DW_HOOK".into()));
    assert_eq!(c.notify[1].format, NotifyFormat::Json);
    assert_eq!(c.notify[1].retries, 3);
    assert_eq!(c.notify[1].on.len(), 4);
    assert_eq!(c.targets[0].schedule.as_ref().unwrap().interval, Duration::from_secs(3600));
}

#[test]
fn cron_intervals() {
    let interval = |p: &str| Cron::parse(p).unwrap().interval;
    assert_eq!(interval("*/1 * * * * *"), Duration::from_secs(1));
    assert_eq!(interval("0 30 2 * * *"), Duration::from_secs(86_400));
    assert_eq!(interval("0 0 9 * * MON-FRI"), Duration::from_secs(3 * 86_400));
}

#[test]
fn service_problems() {
    check_err(
        &format!(
            r#"
[schedule]
cron = "*/5 * * *"
grace_period = "soon"

[server]
listen = "localhost"
public_url = "ftp://x"

[[notify]]
url = "https://h/x"
format = "teams"
retries = 99
on = ["changes", "everything"]

[[notify]]
url = "https://h/x"
url_env = "HOOK"

[[notify]]
on = []

{ONE_TARGET}schedule = "0 61 * * * *"
"#
        ),
        &[
            "3:8: has 4 fields",
            "4:16: not a duration",
            "7:10: not an address",
            "8:14: must be an http:// or https:// URL",
            "12:10: unknown notify format `teams`",
            "13:11: between 0 and 10",
            "14:18: unknown event `everything`",
            "18:11: not both",
            "20:1: needs `url` or `url_env`",
            "28:12: invalid cron",
        ],
    );
    check_err(
        &format!("[schedule]\noverlap = true\n{ONE_TARGET}"),
        &["2:1: unknown field `overlap`"],
    );
}

#[test]
fn sharding_is_read_and_checked() {
    let c = check_ok(&format!("[schedule]\nshards = 3\nshard = 2\n{ONE_TARGET}"));
    assert_eq!(c.schedule.sharding, Some(Sharding { count: 3, this: ShardSource::Index(2) }));
    let c = check_ok(&format!("[schedule]\nshards = 3\nshard_from_hostname = true\n{ONE_TARGET}"));
    let sharding = c.schedule.sharding.unwrap();
    assert_eq!(sharding.index("driftwatch-1"), Ok(1));
    assert!(sharding.index("driftwatch-3").unwrap_err().contains("at most 3 replicas"));
    assert!(sharding.index("laptop").unwrap_err().contains("does not end in `-<number>`"));
    assert_eq!(check_ok(ONE_TARGET).schedule.sharding, None);

    check_err(
        &format!("[schedule]\nshard = 1\nshard_from_hostname = true\n{ONE_TARGET}"),
        &["2:9: needs schedule.shards", "3:23: needs schedule.shards"],
    );
    check_err(
        &format!("[schedule]\nshards = 0\nshard = 0\n{ONE_TARGET}"),
        &["2:10: between 1 and 1024"],
    );
    check_err(
        &format!("[schedule]\nshards = 2\nshard = 2\n{ONE_TARGET}"),
        &["3:9: between 0 and 1"],
    );
    check_err(
        &format!("[schedule]\nshards = 2\n{ONE_TARGET}"),
        &["2:10: needs this instance's shard"],
    );
    check_err(
        &format!("[schedule]\nshards = 2\nshard = 0\nshard_from_hostname = true\n{ONE_TARGET}"),
        &["4:23: not both"],
    );
}

#[test]
fn store_retries_default_and_bounds() {
    let c = check_ok(GOOD);
    assert_eq!(c.store_retry, StoreRetry { retries: 5, retry_timeout: Duration::from_secs(30) });
    let c = check_ok(&format!(
        "[store]\nurl = \"./d\"\nretries = 2\nretry_timeout = \"1500ms\"\n{ONE_TARGET}"
    ));
    assert_eq!(
        c.store_retry,
        StoreRetry { retries: 2, retry_timeout: Duration::from_millis(1500) }
    );
    check_err(
        &format!("[store]\nretries = -1\nretry_timeout = \"-3s\"\n{ONE_TARGET}"),
        &["2:11: between 0 and 100", "3:17: negative"],
    );
}

#[test]
fn slots_are_the_latest_cron_time() {
    let at = |s: &str| chrono::DateTime::parse_from_rfc3339(s).unwrap().to_utc();
    let every_5min = Cron::parse("0 */5 * * * *").unwrap();
    assert_eq!(every_5min.slot_at(at("2026-11-25T16:15:00.4Z")), at("2026-11-25T16:15:00Z"));
    assert_eq!(every_5min.slot_at(at("2026-11-25T16:19:59.9Z")), at("2026-11-25T16:15:00Z"));
    let every_s = Cron::parse("*/1 * * * * *").unwrap();
    assert_eq!(every_s.slot_at(at("2026-11-25T16:15:07.999Z")), at("2026-11-25T16:15:07Z"));
}

#[test]
fn redaction_key_file_is_resolved_and_read() {
    let c = check_ok(&format!("[redaction]\nkey_file = \"fp.key\"\n{ONE_TARGET}"));
    assert_eq!(c.redaction.key_file, Some(PathBuf::from("/etc/dw/fp.key")));
    check_err(&format!("[redaction]\nkey = \"x\"\n{ONE_TARGET}"), &["2:1: unknown field `key`"]);

    let dir = tempfile::tempdir().unwrap();
    let settings = |name: &str| RedactionSettings { key_file: Some(dir.path().join(name)) };
    std::fs::write(dir.path().join("good"), "0123456789abcdef0123\n").unwrap();
    std::fs::write(dir.path().join("short"), "tiny-key-value\n").unwrap();
    if std::env::var_os(KEY_ENV).is_none() {
        assert!(settings("good").redactor().unwrap().is_keyed());
        let short = settings("short").redactor().unwrap_err();
        assert!(short.contains("key_file") && !short.contains("tiny-key-value"), "{short}");
        let missing = settings("missing").redactor().unwrap_err();
        assert!(missing.starts_with("cannot read [redaction] key_file"), "{missing}");
        assert!(!RedactionSettings::default().redactor().unwrap().is_keyed());
    }
}

#[test]
fn policy_packs_default_or_as_written() {
    const TARGET: &str = "[[targets]]\nname = \"a\"\nkind = \"postgres\"\nurl = \"postgres://127.0.0.1/x\"\nrole = \"standalone\"\n";
    let c = check_ok(TARGET);
    assert_eq!(c.policy_packs, super::PackSelection::default());
    assert_eq!(c.policy_packs.names, ["replication", "connections"]);
    let c = check_ok(&format!("[policies]\npacks = [\"security\", \"replication\"]\n{TARGET}"));
    assert_eq!(c.policy_packs.names, ["security", "replication"]);
    assert_eq!(c.policy_packs.origin, super::PackOrigin::Config { line: 2, column: 9 });
    check_err(
        &format!("[policies]\npacks = [\"Security\"]\n{TARGET}"),
        &["2:10: policies.packs: `Security` is not a pack name"],
    );
}

#[test]
fn limits_default_and_override_per_target() {
    let c = check_ok(
        r#"
[audit.limits]
reply_bytes = "64MiB"
settings = 20000

[[targets]]
name = "a"
kind = "redis"
url = "redis://127.0.0.1:6379"
role = "primary"
config_file = "redis/redis.conf"
limits = { rows = 50000, value_bytes = 4096 }

[[targets]]
name = "b"
kind = "postgres"
url = "postgres://h/x"
role = "primary"
"#,
    );
    let defaults = crate::collect::Limits::default();
    assert_eq!(c.audit.limits.reply_bytes, 64 << 20);
    assert_eq!(c.audit.limits.rows, defaults.rows);
    let a = &c.targets[0];
    assert_eq!(
        a.limits,
        crate::collect::Limits {
            reply_bytes: 64 << 20,
            settings: 20000,
            rows: 50000,
            value_bytes: 4096
        }
    );
    assert_eq!(a.config_file, Some(PathBuf::from("/etc/dw/redis/redis.conf")));
    assert_eq!(c.targets[1].limits, c.audit.limits);
    assert_eq!(c.targets[1].config_file, None);
    assert_eq!(check_ok(GOOD).targets[0].limits, defaults);
}

#[test]
fn limit_and_config_file_problems() {
    check_err(
        r#"
[audit]
limits = { reply_bytes = "32MB", settings = 0, rows = 1 }

[[targets]]
name = "a"
kind = "postgres"
url = "postgres://h/x"
role = "primary"
config_file = "/etc/postgresql.conf"
limits = { value_bytes = 10 }

[[targets]]
name = "b"
kind = "redis"
url = "redis://h:6379"
role = "primary"
config_file = ""
limits = { colour = 1 }

[[targets]]
name = "c"
kind = "redis"
url = "redis://h:6379"
role = "primary"
config_file = ""
"#,
        &[
            "3:26: unknown unit `MB`",
            "3:45: limits.settings must be between 1 and",
            "10:15: redis targets only",
            "11:26: limits.value_bytes must be between 1KiB and 4GiB",
            "19:12: unknown field `colour`",
            "26:15: config_file is empty",
        ],
    );
}

#[test]
fn off_loopback_the_server_needs_credentials() {
    check_err(
        &format!("[server]\nlisten = \"0.0.0.0:9187\"\n\n{ONE_TARGET}"),
        &["2:10 server.listen 0.0.0.0:9187 is reachable from other hosts"],
    );
    check_err(
        &format!("[server]\nlisten = \"[::]:9187\"\n\n{ONE_TARGET}"),
        &["2:10 is reachable from other hosts"],
    );
    // Loopback, IPv4 or IPv6: no credentials needed.
    for listen in ["127.0.0.1:9187", "[::1]:9187", "127.0.0.2:80"] {
        check_ok(&format!("[server]\nlisten = \"{listen}\"\n\n{ONE_TARGET}"));
    }
    check_err(
        &format!(
            "[server]\nlisten = \"127.0.0.1:1\"\n[server.auth]\nmetrics = \"public\"\n[server.tls]\ncert_file = \"c.pem\"\n\n{ONE_TARGET}"
        ),
        &[
            "4:11 server.auth.metrics `public`: expected `authenticated` or `open`",
            "6:13 [server.tls] needs both cert_file and key_file",
        ],
    );
}

#[test]
fn a_missing_config_says_how_to_give_one() {
    let e = crate::config::load(Path::new("/nonexistent/driftwatch.toml")).unwrap_err();
    assert_eq!(
        e.to_string(),
        "/nonexistent/driftwatch.toml:1:1: cannot read config: no such file (give --config FILE or set DRIFTWATCH_CONFIG; deploy/examples/driftwatch.toml is a start)"
    );
}

#[test]
fn cron_takes_five_fields_as_crontab_writes_them() {
    let five = crate::config::Cron::parse("*/5 * * * *").unwrap();
    let six = crate::config::Cron::parse("0 */5 * * * *").unwrap();
    assert_eq!(five, six, "five fields are minute first, at second 0");
    assert_eq!(five.interval, Duration::from_secs(300));
    assert_eq!(crate::config::Cron::parse("  30  2 * * 1 ").unwrap().pattern, "0 30 2 * * 1");
    assert_eq!(
        crate::config::Cron::parse("*/10 * * * * *").unwrap().interval,
        Duration::from_secs(10)
    );
}

#[test]
fn a_pgbouncer_target_names_the_admin_console() {
    let target = |url: &str| {
        format!(
            "[[targets]]\nname = \"pooler\"\nkind = \"pgbouncer\"\nurl = \"{url}\"\n\
             password_env = \"PB\"\nrole = \"standalone\"\n"
        )
    };
    let c = check_ok(&target("postgres://stats@pb1:6432/pgbouncer"));
    assert_eq!(c.targets[0].kind, Kind::Pgbouncer);
    check_err(&target("postgres://stats@pb1:6432/app"), &["4:7: database pgbouncer"]);
    check_err(&target("redis://pb1:6432/pgbouncer"), &["4:7: needs a postgres:// url"]);
}
