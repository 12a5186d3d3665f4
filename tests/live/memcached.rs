//! The memcached collector against the memcached `memcached.sh` starts on 11211, and
//! against fake servers (tokio listeners in the test) that misbehave: it must fail or
//! report unreachable within its timeouts, with bounded memory, and never panic.

use std::collections::BTreeMap;
use std::future::Future;
use std::net::TcpListener as StdListener;
use std::path::Path;
use std::time::{Duration, Instant};

use driftwatch::collect::memcached::collect;
use driftwatch::collect::{CollectError, Endpoint};
use driftwatch::finding::FindingStatus;
use driftwatch::policy::{TargetFacts, evaluate, parse};
use driftwatch::policy_files;
use driftwatch::snapshot::{Kind, Role};
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::{TcpListener, TcpStream};

use crate::support::{MEMCACHED, endpoint, entry, memcached_endpoint, value};

#[tokio::test]
async fn snapshot_has_settings_version_and_connections() {
    let c = collect(&memcached_endpoint()).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.snapshot.kind, Kind::Memcached);
    assert_eq!(c.snapshot.server.role, Role::Standalone);
    assert!(c.snapshot.server.version.starts_with("1."), "{:?}", c.snapshot.server);
    let config = &c.snapshot.config;
    assert!(value(config, "setting.maxconns").parse::<u32>().unwrap() > 0);
    assert_eq!(value(config, "setting.tcpport"), MEMCACHED.to_string());
    assert_eq!(value(config, "setting.udpport"), "0");
    assert_eq!(value(config, "setting.inter"), "127.0.0.1");
    assert_eq!(entry(config, "setting.item_size_max").unit.as_deref(), Some("B"));
    assert!(config.len() > 30, "only {} settings", config.len());

    let connections: u32 = value(&c.state, "state.curr_connections").parse().unwrap();
    assert!(connections >= 1, "we are connected: {connections}");
    for key in ["state.total_connections", "state.evictions", "state.curr_items"] {
        value(&c.state, key).parse::<u64>().unwrap_or_else(|e| panic!("{key}: {e}"));
    }
    assert_eq!(entry(&c.state, "state.uptime").unit.as_deref(), Some("s"));
    assert_eq!(entry(&c.state, "state.bytes").unit.as_deref(), Some("B"));
    assert_eq!(entry(&c.state, "state.limit_maxbytes").unit.as_deref(), Some("B"));
    assert_eq!(entry(&c.state, "state.connect_ms").unit.as_deref(), Some("ms"));
}

#[tokio::test]
async fn shipped_baseline_evaluates_without_errors() {
    let c = collect(&memcached_endpoint()).await.unwrap_or_else(|e| panic!("{e}"));
    let dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/policies"));
    let set = parse(policy_files::read(dir).unwrap_or_else(|d| panic!("{d}")))
        .unwrap_or_else(|d| panic!("{d}"));
    let labels = BTreeMap::new();
    let target =
        TargetFacts { name: "mc", kind: Kind::Memcached, role: Role::Standalone, labels: &labels };
    let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 25).unwrap();
    let findings = evaluate(&set, &target, &c.snapshot, &c.state, today);
    assert!(findings.iter().all(|f| f.rule.starts_with("MC-")), "{findings:?}");
    for f in &findings {
        assert_ne!(f.status, FindingStatus::Error, "{f:?}");
    }
    let status = |id: &str| findings.iter().find(|f| f.rule == id).unwrap().status;
    // `-l 127.0.0.1 -U 0`, as memcached.sh starts it.
    assert_eq!(status("MC-SEC-001"), FindingStatus::Pass);
    assert_eq!(status("MC-SEC-002"), FindingStatus::Pass);
}

#[tokio::test]
async fn collect_dispatches_memcached_by_kind() {
    let c = driftwatch::collect::collect(&memcached_endpoint()).await.unwrap();
    assert_eq!(c.snapshot.target, "test-memcached");
}

// --- misbehaving servers -------------------------------------------------------------

fn fake_endpoint(port: u16) -> Endpoint {
    let mut e = endpoint(
        Kind::Memcached,
        &format!("memcached://127.0.0.1:{port}"),
        Duration::from_millis(500),
    );
    e.statement_timeout = Duration::from_millis(500);
    e
}

/// Serves one connection with `serve`, returning the endpoint to collect from.
async fn fake<F, Fut>(serve: F) -> Endpoint
where
    F: FnOnce(BufReader<TcpStream>) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        if let Ok((stream, _)) = listener.accept().await {
            serve(BufReader::new(stream)).await;
        }
    });
    fake_endpoint(port)
}

/// Reads one request line (the collector's command).
async fn request(stream: &mut BufReader<TcpStream>) -> String {
    let mut line = String::new();
    let _ = stream.read_line(&mut line).await;
    line
}

/// Collects, checking it ends within `limit`.
async fn collect_within(endpoint: &Endpoint, limit: Duration) -> CollectError {
    let started = Instant::now();
    let result = collect(endpoint).await;
    let took = started.elapsed();
    assert!(took < limit, "took {took:?}");
    result.expect_err("a misbehaving server cannot give a snapshot")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_that_never_answers_is_unreachable_in_time() {
    let endpoint = fake(|mut s| async move {
        request(&mut s).await;
        tokio::time::sleep(Duration::from_secs(30)).await;
    })
    .await;
    let err = collect_within(&endpoint, Duration::from_secs(2)).await;
    assert!(
        matches!(&err, CollectError::Unreachable(m) if m.starts_with("timed out after 500ms")),
        "{err:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endless_line_fails_at_the_line_cap() {
    let endpoint = fake(|mut s| async move {
        request(&mut s).await;
        let _ = s.get_mut().write_all(b"VERSION 1.6.18\r\n").await;
        request(&mut s).await;
        let chunk = vec![b'x'; 64 * 1024];
        while s.get_mut().write_all(&chunk).await.is_ok() {}
    })
    .await;
    let err = collect_within(&endpoint, Duration::from_secs(2)).await;
    assert_eq!(
        err,
        CollectError::Failed(
            "stats settings: the server sent a line longer than 8192 bytes".into()
        )
    );
}

/// A server that sends `STAT` lines of `value_len` bytes without end.
async fn endless_stats(value_len: usize) -> Endpoint {
    fake(move |mut s| async move {
        request(&mut s).await;
        let _ = s.get_mut().write_all(b"VERSION 1.6.18\r\n").await;
        request(&mut s).await;
        let mut chunk = Vec::new();
        let value = "v".repeat(value_len);
        for i in 0..1000 {
            chunk.extend_from_slice(format!("STAT key{i} {value}\r\n").as_bytes());
        }
        while s.get_mut().write_all(&chunk).await.is_ok() {}
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endless_stats_fail_at_the_settings_bound() {
    let endpoint = endless_stats(5).await;
    let err = collect_within(&endpoint, Duration::from_secs(2)).await;
    assert_eq!(
        err,
        CollectError::Failed(
            "stats settings: the server sent more than 10000 settings (limits.settings); if it \
             really has that much, raise settings under [audit.limits] or in the target's limits"
                .into()
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endless_stats_fail_at_the_byte_bound() {
    let mut endpoint = endless_stats(4000).await;
    endpoint.limits.reply_bytes = 1 << 20;
    let err = collect_within(&endpoint, Duration::from_secs(2)).await.to_string();
    assert!(
        err.starts_with(
            "stats settings: the server sent more than 1MiB in all (limits.reply_bytes)"
        ),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_is_a_failure() {
    let endpoint = fake(|mut s| async move {
        request(&mut s).await;
        let _ = s.get_mut().write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n").await;
        tokio::time::sleep(Duration::from_secs(5)).await;
    })
    .await;
    let err = collect_within(&endpoint, Duration::from_secs(2)).await;
    assert_eq!(
        err,
        CollectError::Failed(
            "version: unexpected answer `HTTP/1.1 400 Bad Request` (is this a memcached server?)"
                .into()
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_garbage_is_a_failure() {
    let endpoint = fake(|mut s| async move {
        request(&mut s).await;
        let _ = s.get_mut().write_all(b"VERSION 1.6.18\r\n").await;
        request(&mut s).await;
        let _ = s.get_mut().write_all(b"STAT \xff\xfe\x00 x\r\n").await;
        tokio::time::sleep(Duration::from_secs(5)).await;
    })
    .await;
    let err = collect_within(&endpoint, Duration::from_secs(2)).await;
    assert_eq!(err, CollectError::Failed("stats settings: the server sent non-UTF-8 text".into()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_error_is_a_failure() {
    let endpoint = fake(|mut s| async move {
        request(&mut s).await;
        let _ = s.get_mut().write_all(b"VERSION 1.6.18\r\n").await;
        request(&mut s).await;
        let _ = s.get_mut().write_all(b"SERVER_ERROR out of memory\r\n").await;
        tokio::time::sleep(Duration::from_secs(5)).await;
    })
    .await;
    let err = collect_within(&endpoint, Duration::from_secs(2)).await;
    assert_eq!(
        err,
        CollectError::Failed(
            "stats settings: the server answered `SERVER_ERROR out of memory`".into()
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_stats_fail_on_statement_timeout() {
    let endpoint = fake(|mut s| async move {
        request(&mut s).await;
        let _ = s.get_mut().write_all(b"VERSION 1.6.18\r\n").await;
        request(&mut s).await;
        // Half an answer, then silence.
        let _ = s.get_mut().write_all(b"STAT maxconns 1024\r\n").await;
        tokio::time::sleep(Duration::from_secs(30)).await;
    })
    .await;
    let err = collect_within(&endpoint, Duration::from_secs(2)).await;
    assert_eq!(
        err,
        CollectError::Failed("stats settings: no answer within 500ms (statement_timeout)".into())
    );
}

#[tokio::test]
async fn closed_port_is_unreachable_at_once() {
    let port = StdListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let err = collect_within(&fake_endpoint(port), Duration::from_secs(2)).await;
    assert_eq!(err, CollectError::Unreachable(format!("connection refused by 127.0.0.1:{port}")));
}
