//! Turning a [`StoreLocation`] into an `object_store` backend. Cloud stores take their
//! credentials from the service's standard environment variables (`AWS_*`,
//! `GOOGLE_*`, `AZURE_*`, as object_store's `from_env` builders read them) plus the
//! config's options; the URL's path becomes a prefix every object lives under.

use std::sync::Arc;

use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::azure::{AzureConfigKey, MicrosoftAzureBuilder};
use object_store::gcp::{GoogleCloudStorageBuilder, GoogleConfigKey};
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::prefix::PrefixStore;
use object_store::{BackoffConfig, ObjectStore, RetryConfig};

use super::StoreError;
use super::{CloudService, CloudStore, StoreLocation, StoreRetry};

/// Whether `key` is an option the service's builder knows.
pub fn check_option(service: CloudService, key: &str) -> Result<(), String> {
    let known = match service {
        CloudService::S3 => key.parse::<AmazonS3ConfigKey>().is_ok(),
        CloudService::Gcs => key.parse::<GoogleConfigKey>().is_ok(),
        CloudService::Azure => key.parse::<AzureConfigKey>().is_ok(),
    };
    if known {
        Ok(())
    } else {
        Err(format!("unknown store option `{key}` (object_store config keys such as aws_region)"))
    }
}

/// The backend and a description fit for messages (no credentials).
pub(super) fn open(
    location: &StoreLocation,
    retry: &StoreRetry,
) -> Result<(Arc<dyn ObjectStore>, String), StoreError> {
    match location {
        StoreLocation::Memory => Ok((Arc::new(InMemory::new()), "memory://".to_owned())),
        StoreLocation::Local(dir) => {
            let description = dir.display().to_string();
            let open_err = |source| StoreError::Open { location: description.clone(), source };
            std::fs::create_dir_all(dir).map_err(open_err)?;
            let fs = LocalFileSystem::new_with_prefix(dir)
                .map_err(|e| open_err(std::io::Error::other(e.to_string())))?;
            Ok((Arc::new(fs), description))
        }
        StoreLocation::Cloud(cloud) => cloud_store(cloud, retry).map(|s| (s, cloud.url.clone())),
    }
}

/// `object_store`'s own retry layer, off: its backoff is jittered and gives up far
/// sooner than `[store]` says; [`super::retry`] retries every backend instead.
fn retry_config(retry: &StoreRetry) -> RetryConfig {
    RetryConfig {
        backoff: BackoffConfig::default(),
        max_retries: 0,
        retry_timeout: retry.retry_timeout,
    }
}

fn cloud_store(cloud: &CloudStore, retry: &StoreRetry) -> Result<Arc<dyn ObjectStore>, StoreError> {
    let open_err = |e: object_store::Error| StoreError::Open {
        location: cloud.url.clone(),
        source: std::io::Error::other(crate::redact::text(&e.to_string()).into_owned()),
    };
    let bad_option = |key: &str| StoreError::Open {
        location: cloud.url.clone(),
        source: std::io::Error::other(format!("unknown store option `{key}`")),
    };
    let inner: Arc<dyn ObjectStore> = match cloud.service {
        CloudService::S3 => {
            let mut b =
                AmazonS3Builder::from_env().with_url(&cloud.url).with_retry(retry_config(retry));
            for (k, v) in &cloud.options {
                b = b.with_config(k.parse().map_err(|_| bad_option(k))?, v);
            }
            Arc::new(b.build().map_err(open_err)?)
        }
        CloudService::Gcs => {
            let mut b = GoogleCloudStorageBuilder::from_env()
                .with_url(&cloud.url)
                .with_retry(retry_config(retry));
            for (k, v) in &cloud.options {
                b = b.with_config(k.parse().map_err(|_| bad_option(k))?, v);
            }
            Arc::new(b.build().map_err(open_err)?)
        }
        CloudService::Azure => {
            let mut b = MicrosoftAzureBuilder::from_env()
                .with_url(&cloud.url)
                .with_retry(retry_config(retry));
            for (k, v) in &cloud.options {
                b = b.with_config(k.parse().map_err(|_| bad_option(k))?, v);
            }
            Arc::new(b.build().map_err(open_err)?)
        }
    };
    // The builders take the bucket from the URL and ignore its path: keep it as a prefix.
    let prefix = url_prefix(&cloud.url);
    if prefix.is_empty() {
        Ok(inner)
    } else {
        Ok(Arc::new(PrefixStore::new(inner, Path::from(prefix))))
    }
}

/// `s3://bucket/a/b/` → `a/b`.
fn url_prefix(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    rest.split_once('/').map_or("", |(_, path)| path.trim_matches('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes() {
        assert_eq!(url_prefix("s3://bucket"), "");
        assert_eq!(url_prefix("s3://bucket/"), "");
        assert_eq!(url_prefix("s3://bucket/a/b/"), "a/b");
        assert_eq!(url_prefix("gs://b/history"), "history");
    }

    #[test]
    fn options_are_checked_per_service() {
        assert!(check_option(CloudService::S3, "aws_region").is_ok());
        assert!(check_option(CloudService::S3, "aws_regoin").is_err());
        assert!(check_option(CloudService::Azure, "azure_storage_account_name").is_ok());
        assert!(check_option(CloudService::Gcs, "google_service_account").is_ok());
    }
}
