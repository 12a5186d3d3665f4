//! A Redis answering `CONFIG GET *` with ~50 MB (500,000 small pairs) once took 667 MB
//! of RSS and made a 128 MB target page, recorded `ok`. Now the target is `error`,
//! naming the bound it exceeded, and the audit's peak RSS stays under the figures
//! `docs/configuration.md` gives: [`MAX_RSS_MANY_KIB`] when the reply's array header
//! announces too many settings (refused before anything is parsed),
//! [`MAX_RSS_BYTES_KIB`] when few huge values fill the default 32 MiB `reply_bytes`
//! (what redis-rs holds is bounded by it).

use std::time::Duration;

use super::{driftwatch, run_measured};
use crate::audit::harness::{Workspace, policies_dir};
use crate::support::fake_redis::{ConfigReply, FakeRedis};

/// Peak RSS of an audit whose one server announces 1,000,000 elements (~50 MB).
const MAX_RSS_MANY_KIB: u64 = 64 * 1024;
/// Peak RSS of an audit whose one server sends 40 MB in 5,000 values of 8 KB.
const MAX_RSS_BYTES_KIB: u64 = 128 * 1024;

fn audit_one(reply: ConfigReply) -> (super::Measured, serde_json::Value, Workspace) {
    let fake = FakeRedis::start("/etc/redis/redis.conf", reply);
    let ws = Workspace::with_config(&format!(
        "[store]\nurl = \"store\"\n\n[policies]\ndir = \"{}\"\n\n\
         [audit]\nstatement_timeout = \"20s\"\ntarget_timeout = \"30s\"\n\n\
         [[targets]]\nname = \"big\"\nkind = \"redis\"\nurl = \"{}\"\nrole = \"primary\"\n",
        policies_dir().display(),
        fake.url()
    ));
    let out = run_measured(
        &mut driftwatch(&ws.config(), &["audit", "--output", "json"]),
        Duration::from_secs(120),
    );
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let run: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let target = run["targets"][0].clone();
    (out, target, ws)
}

#[track_caller]
fn check(reply: ConfigReply, expect: &str, max_rss_kib: u64) {
    let (out, t, ws) = audit_one(reply);
    assert_eq!(t["status"], "error", "{t:#}");
    let error = t["error"].as_str().unwrap();
    assert!(error.starts_with(expect), "{error}");
    assert!(error.contains("under [audit.limits] or in the target's limits"), "{error}");
    let page = std::fs::metadata(ws.store().join("reports/targets/big.html")).unwrap().len();
    assert!(page < 1 << 20, "the target page is {page} bytes");
    eprintln!("peak RSS {} KiB", out.max_rss_kib);
    assert!(
        out.max_rss_kib < max_rss_kib,
        "peak RSS {} KiB, bound {max_rss_kib} KiB",
        out.max_rss_kib
    );
}

#[test]
fn a_50_mb_config_reply_is_an_error_naming_the_bound_in_bounded_memory() {
    check(
        ConfigReply::Huge { pairs: 500_000, value_len: 70 },
        "CONFIG GET *: the server sent more than 10000 settings (limits.settings)",
        MAX_RSS_MANY_KIB,
    );
}

#[test]
fn a_reply_of_few_huge_values_stops_at_reply_bytes_in_bounded_memory() {
    check(
        ConfigReply::Huge { pairs: 5_000, value_len: 8_000 },
        "CONFIG GET *: the server sent more than 32MiB in all (limits.reply_bytes)",
        MAX_RSS_BYTES_KIB,
    );
}

#[test]
fn too_many_settings_in_a_small_reply_are_an_error_naming_the_bound() {
    let (_, t, _) = audit_one(ConfigReply::Huge { pairs: 20_000, value_len: 4 });
    assert_eq!(t["status"], "error", "{t:#}");
    let error = t["error"].as_str().unwrap();
    assert!(
        error.starts_with(
            "CONFIG GET *: the server sent more than 10000 settings (limits.settings)"
        ),
        "{error}"
    );
}
