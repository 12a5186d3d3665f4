//! Where the history lives and how hard to retry when it is away: the store's own
//! input types. `config` builds them from `[store]`; `store` opens them.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// Where the history lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreLocation {
    /// A local folder (created on first write).
    Local(PathBuf),
    /// In memory, gone when the process ends: for tests and dry runs.
    Memory,
    /// An object store service: S3 (or S3-compatible), Google Cloud Storage, Azure Blob.
    Cloud(CloudStore),
}

/// A bucket (or container) and prefix in a cloud object store.
#[derive(Clone, PartialEq, Eq)]
pub struct CloudStore {
    pub service: CloudService,
    /// `s3://bucket/prefix`: the bucket and the prefix every object goes under.
    pub url: String,
    /// `object_store` options by their config key (`aws_endpoint`, `aws_region`, …),
    /// added to what the service's standard environment variables say.
    pub options: BTreeMap<String, String>,
}

/// Options may hold credentials: never print them.
impl std::fmt::Debug for CloudStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CloudStore")
            .field("service", &self.service)
            .field("url", &self.url)
            .field("options", &self.options.keys().collect::<Vec<_>>())
            .finish()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloudService {
    S3,
    Gcs,
    Azure,
}

/// How transient store errors (timeouts, 5xx, refused connections) are retried:
/// exponential backoff, at most `retries` times after the first attempt and never
/// beyond `retry_timeout` from it. Cloud stores hand this to `object_store`'s own
/// retry layer; the local folder is retried by `Store`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreRetry {
    /// Attempts after the first one (0 = no retry).
    pub retries: usize,
    /// No new attempt starts this long after the first one began.
    pub retry_timeout: Duration,
}

impl Default for StoreRetry {
    fn default() -> Self {
        StoreRetry { retries: 5, retry_timeout: Duration::from_secs(30) }
    }
}
