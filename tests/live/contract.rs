//! The collector contract (`src/collect/mod.rs`), checked the same way against every
//! engine: a real server of each kind, then a port nobody listens on and one that
//! never answers.

use std::time::{Duration, Instant};

use driftwatch::collect::{CollectError, Endpoint, Limits, collect};
use driftwatch::snapshot::Kind;

use crate::support::{
    MY_PRIMARY, PG_PRIMARY, REDIS_PRIMARY, endpoint, memcached_endpoint, my_endpoint, pg_endpoint,
    redis_endpoint,
};

/// One live endpoint per engine kind.
fn every_engine() -> Vec<Endpoint> {
    let all = vec![
        pg_endpoint(PG_PRIMARY),
        my_endpoint(MY_PRIMARY),
        redis_endpoint(REDIS_PRIMARY),
        memcached_endpoint(),
    ];
    let kinds: Vec<Kind> = all.iter().map(|e| e.kind).collect();
    assert_eq!(kinds, Kind::ALL, "the contract test covers every engine kind");
    all
}

fn url_for(kind: Kind, port: u16) -> String {
    match kind {
        Kind::Postgres => format!("postgres://postgres@127.0.0.1:{port}/postgres"),
        Kind::Mysql => format!("mysql://root@127.0.0.1:{port}/"),
        Kind::Redis => format!("redis://127.0.0.1:{port}"),
        Kind::Memcached => format!("memcached://127.0.0.1:{port}"),
    }
}

#[tokio::test]
async fn every_collector_keeps_the_contract_on_a_live_server() {
    for ep in every_engine() {
        let kind = ep.kind;
        let first = collect(&ep).await.unwrap_or_else(|e| panic!("{kind}: {e}"));
        let snap = &first.snapshot;
        assert_eq!(snap.kind, kind);
        assert_eq!(snap.target, ep.target, "{kind}: the snapshot names its target");
        assert!(!snap.server.version.is_empty(), "{kind}: a version");
        let settings = snap.config.keys().filter(|k| k.starts_with("setting.")).count();
        assert!(settings >= 20, "{kind}: every setting, not a handful ({settings})");
        for key in snap.config.keys() {
            assert!(
                key.starts_with("setting.")
                    || key.starts_with("server.")
                    || key.starts_with("pending.")
                    || (kind == Kind::Postgres && driftwatch::scoped::parse(key).is_some()),
                "{kind}: stable key {key} outside the stable namespaces"
            );
        }
        assert!(!first.state.is_empty(), "{kind}: volatile readings");
        for key in first.state.keys() {
            assert!(key.starts_with("state."), "{kind}: volatile key {key} outside state.");
        }
        assert!(first.state.contains_key("state.connect_ms"), "{kind}: connection latency");

        // Volatile readings stay out of the digest: an unchanged server collects to the
        // same snapshot.
        let second = collect(&ep).await.unwrap_or_else(|e| panic!("{kind}: {e}"));
        let changed: Vec<_> =
            driftwatch::diff::diff(snap, &second.snapshot).into_iter().map(|c| c.key).collect();
        assert!(
            changed.is_empty(),
            "{kind}: stable config moved between two collections: {changed:?}"
        );
        assert_eq!(snap.digest(), second.snapshot.digest(), "{kind}");
    }
}

#[tokio::test]
async fn every_collector_reports_a_closed_port_and_a_silent_server_as_unreachable() {
    for kind in Kind::ALL {
        let closed = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let ep = endpoint(kind, &url_for(kind, closed), Duration::from_secs(2));
        let started = Instant::now();
        match collect(&ep).await {
            Err(CollectError::Unreachable(msg)) => assert!(!msg.is_empty()),
            other => panic!("{kind}: a closed port must be unreachable, got {other:?}"),
        }
        assert!(started.elapsed() < Duration::from_secs(2), "{kind}: refused at once");

        // Accepts TCP, never says a word.
        let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = silent.local_addr().unwrap().port();
        let ep = endpoint(kind, &url_for(kind, port), Duration::from_millis(500));
        let started = Instant::now();
        let result = collect(&ep).await;
        assert!(matches!(result, Err(CollectError::Unreachable(_))), "{kind}: {result:?}");
        assert!(started.elapsed() < Duration::from_secs(3), "{kind}: bounded by connect_timeout");
        drop(silent);
    }
}

/// Collects `ep` with `limits` changed by `tighten`; the failure's message.
async fn over_limit(ep: &Endpoint, tighten: impl Fn(&mut Limits)) -> String {
    let mut ep = ep.clone();
    tighten(&mut ep.limits);
    match collect(&ep).await {
        Err(CollectError::Failed(msg)) => msg,
        other => panic!("{}: a tightened limit must fail the collection, got {other:?}", ep.kind),
    }
}

#[tokio::test]
async fn every_collector_fails_naming_the_bound_a_server_exceeds() {
    for ep in every_engine() {
        let kind = ep.kind;
        // Every real server reports more than 10 settings and sends more than 1 KiB.
        let msg = over_limit(&ep, |l| l.settings = 10).await;
        assert!(msg.contains("more than 10 settings (limits.settings)"), "{kind}: {msg}");
        assert!(msg.contains("raise settings under [audit.limits]"), "{kind}: {msg}");
        let msg = over_limit(&ep, |l| l.reply_bytes = 1024).await;
        assert!(msg.contains("more than 1KiB in all (limits.reply_bytes)"), "{kind}: {msg}");
        // The defaults fit with a wide margin: a tenth of each is still enough.
        let defaults = Limits::default();
        let mut roomy = ep.clone();
        roomy.limits = Limits {
            reply_bytes: defaults.reply_bytes / 10,
            settings: defaults.settings / 10,
            rows: defaults.rows / 10,
            value_bytes: defaults.value_bytes / 10,
        };
        collect(&roomy).await.unwrap_or_else(|e| panic!("{kind}: {e}"));
    }
}
