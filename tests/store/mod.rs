//! The store against a real S3-compatible server on loopback (moto, started by
//! `tests/setup/s3.sh`): the same conformance suite as memory and the local folder,
//! and an audit that writes its history to S3 configured only through `AWS_*`
//! variables.

mod outage;

use std::collections::BTreeMap;

use driftwatch::store::{CloudService, CloudStore, StoreLocation};
use driftwatch::store::{Store, conformance};

use crate::support::{PG_PRIMARY, require_service};

pub const S3_PORT: u16 = crate::support::S3;
pub const BUCKET: &str = "driftwatch-ci";

/// A fresh prefix per test, so tests sharing the bucket never see each other.
pub fn unique_prefix(what: &str) -> String {
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    format!("{what}-{}-{nanos}", std::process::id())
}

/// Options for the loopback S3 server, as a config's `[store]` section gives them.
pub fn s3_location(prefix: &str) -> StoreLocation {
    let options: BTreeMap<String, String> = [
        ("aws_endpoint", format!("http://127.0.0.1:{S3_PORT}")),
        ("aws_allow_http", "true".to_owned()),
        ("aws_region", "us-east-1".to_owned()),
        ("aws_access_key_id", "driftwatch".to_owned()),
        ("aws_secret_access_key", "driftwatch-s3-secret".to_owned()),
        ("aws_virtual_hosted_style_request", "false".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    StoreLocation::Cloud(CloudStore {
        service: CloudService::S3,
        url: format!("s3://{BUCKET}/{prefix}"),
        options,
    })
}

#[tokio::test]
async fn s3_backend_passes_the_conformance_suite() {
    require_service("127.0.0.1", S3_PORT, "bash tests/setup/s3.sh");
    let store = Store::open(&s3_location(&unique_prefix("conformance"))).unwrap();
    conformance::run(store).await;
}

#[tokio::test]
async fn s3_backend_keeps_a_verifiable_chain() {
    require_service("127.0.0.1", S3_PORT, "bash tests/setup/s3.sh");
    let store = Store::open(&s3_location(&unique_prefix("chain"))).unwrap();
    conformance::chain(store).await;
}

#[test]
fn audit_writes_history_to_s3_configured_by_aws_environment_variables() {
    require_service("127.0.0.1", S3_PORT, "bash tests/setup/s3.sh");
    require_service("127.0.0.1", PG_PRIMARY, "bash tests/setup/services.sh");
    let prefix = unique_prefix("audit");
    let ws = crate::audit::harness::Workspace::with_config(&format!(
        "[store]\nurl = \"s3://{BUCKET}/{prefix}\"\n\n[policies]\ndir = \"{}\"\n\n\
         [[targets]]\nname = \"pg\"\nkind = \"postgres\"\nurl = \"postgres://postgres@127.0.0.1:{PG_PRIMARY}/postgres\"\nrole = \"primary\"\n",
        crate::audit::harness::policies_dir().display()
    ));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_driftwatch"))
        .args(["audit", "--output", "json", "--config"])
        .arg(ws.config())
        .env("AWS_ENDPOINT", format!("http://127.0.0.1:{S3_PORT}"))
        .env("AWS_ALLOW_HTTP", "true")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "driftwatch")
        .env("AWS_SECRET_ACCESS_KEY", "driftwatch-s3-secret")
        .env("AWS_VIRTUAL_HOSTED_STYLE_REQUEST", "false")
        .env("RUST_LOG", "debug")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains("driftwatch-s3-secret"), "the S3 secret reached the logs");
    assert!(!ws.dir.path().join("driftwatch-data").exists(), "nothing local was written");
    let run: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let run_id = run["run_id"].as_str().unwrap().to_owned();

    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let store = Store::open(&s3_location(&prefix)).unwrap();
        let runs = store.list_runs().await.unwrap();
        assert_eq!(runs.len(), 1);
        assert_eq!(runs[0].0, run_id);
        let index = store.get_bytes("reports/index.html").await.unwrap();
        assert!(String::from_utf8_lossy(&index).contains(&run_id));
        store.get_bytes(&format!("reports/runs/{run_id}.html")).await.unwrap();
    });
}
