//! PgBouncer in a group end to end: the real binary audits the PostgreSQL primary and
//! the test PgBouncer in front of it (its stats account, the password from a file) as
//! one group. PB-POOL-001 adds up the poolers' server connections against the
//! primary's usable max_connections: one pooler fits, enough of them (the same
//! PgBouncer under several names) do not; the reports' links stay whole.

use super::harness::*;
use super::target;
use crate::support::{
    PG_PRIMARY, PGBOUNCER, PGBOUNCER_STATS_PASSWORD, PGBOUNCER_STATS_USER, pgbouncer_endpoint,
};

fn finding<'a>(target: &'a serde_json::Value, rule: &str) -> &'a serde_json::Value {
    target["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == rule)
        .unwrap_or_else(|| panic!("no finding {rule} in {:#}", target["findings"]))
}

/// A workspace auditing the primary and `poolers` PgBouncer targets in group `orders`.
fn group(poolers: usize) -> Workspace {
    let mut config = format!(
        "[store]\nurl = \"store\"\n\n[policies]\ndir = \"{}\"\n\n\
         [[targets]]\nname = \"orders-primary\"\nkind = \"postgres\"\n\
         url = \"postgres://postgres@127.0.0.1:{PG_PRIMARY}/postgres\"\nrole = \"primary\"\ngroup = \"orders\"\n",
        policies_dir().display()
    );
    for i in 1..=poolers {
        config.push_str(&format!(
            "\n[[targets]]\nname = \"orders-pooler-{i}\"\nkind = \"pgbouncer\"\n\
             url = \"postgres://{PGBOUNCER_STATS_USER}@127.0.0.1:{PGBOUNCER}/pgbouncer\"\n\
             password_file = \"pgbouncer-password\"\nrole = \"standalone\"\ngroup = \"orders\"\n"
        ));
    }
    let ws = Workspace::with_config(&config);
    let dir = ws.config().parent().unwrap().to_owned();
    std::fs::write(dir.join("pgbouncer-password"), PGBOUNCER_STATS_PASSWORD).unwrap();
    ws
}

#[test]
fn audit_sizes_a_groups_poolers_against_its_primary() {
    require_port(PG_PRIMARY, "PostgreSQL");
    let _ = pgbouncer_endpoint();

    let ws = group(1);
    let run = ws.audit_json();
    let pooler = target(&run, "orders-pooler-1");
    assert_eq!(pooler["status"], "ok", "{pooler:#}");
    let f = finding(pooler, "PB-POOL-001");
    assert_eq!(f["status"], "pass", "{f:#}");
    let message = f["message"].as_str().unwrap().to_owned();
    // "… open up to 25 server connections; the primary orders-primary accepts 97 (…)"
    let number = |after: &str| -> u64 {
        let rest = &message[message.find(after).unwrap() + after.len()..];
        rest.split(|c: char| !c.is_ascii_digit()).next().unwrap().parse().unwrap()
    };
    let per_pooler = number("open up to ");
    let usable = number("orders-primary accepts ");
    assert!(ws.broken_report_links().is_empty(), "{:?}", ws.broken_report_links());
    // The password never reaches the store.
    for (path, bytes) in ws.store_files() {
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains(PGBOUNCER_STATS_PASSWORD), "{} holds the password", path.display());
    }

    let too_many = (usable / per_pooler + 1) as usize;
    let ws = group(too_many);
    let run = ws.audit_json();
    for i in 1..=too_many {
        let f = finding(target(&run, &format!("orders-pooler-{i}")), "PB-POOL-001");
        assert_eq!(f["status"], "fail", "{f:#}");
        assert_eq!(f["severity"], "critical", "{f:#}");
    }
    assert!(ws.broken_report_links().is_empty(), "{:?}", ws.broken_report_links());
}
