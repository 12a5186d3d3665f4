//! The `[store]` section: where the history lives (a folder, memory, or a cloud bucket
//! with its `object_store` options) and how hard to retry when the store is away.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::{Checker, raw};
use crate::store::{CloudService, CloudStore, StoreLocation, StoreRetry};

impl Checker<'_> {
    /// `retries` and `retry_timeout` of `[store]`.
    pub(super) fn store_retry(&mut self, store: &raw::Store) -> StoreRetry {
        let defaults = StoreRetry::default();
        let retries = match &store.retries {
            Some(r) if !(0..=100).contains(r.get_ref()) => {
                self.error(Some(r.span()), "store.retries must be between 0 and 100");
                defaults.retries
            }
            Some(r) => *r.get_ref() as usize,
            None => defaults.retries,
        };
        let retry_timeout = self.duration(store.retry_timeout.clone(), defaults.retry_timeout);
        StoreRetry { retries, retry_timeout }
    }

    pub(super) fn store(&mut self, base: &Path, mut store: raw::Store) -> StoreLocation {
        let Some(url) = store.url.take() else {
            return StoreLocation::Local(base.join("driftwatch-data"));
        };
        let span = url.span();
        let url = url.into_inner();
        if let Some(rest) = url.strip_prefix("file://") {
            if rest.is_empty() || !rest.starts_with('/') {
                self.error(
                    Some(span),
                    "file:// store URLs need an absolute path: file:///var/lib/driftwatch",
                );
            }
            return StoreLocation::Local(PathBuf::from(rest));
        }
        if url == "memory://" || url == "memory:///" {
            return StoreLocation::Memory;
        }
        if let Some((scheme, rest)) = url.split_once("://") {
            let service = match scheme {
                "s3" | "s3a" => CloudService::S3,
                "gs" => CloudService::Gcs,
                "az" | "abfs" | "abfss" | "azure" => CloudService::Azure,
                _ => {
                    self.error(
                        Some(span),
                        format!(
                            "store scheme `{scheme}://` is not supported: use a path, file:///…, memory://, s3://, gs:// or az://"
                        ),
                    );
                    return StoreLocation::Memory;
                }
            };
            if rest.split('/').next().is_none_or(str::is_empty) {
                self.error(
                    Some(span),
                    format!("`{url}` names no bucket: write {scheme}://bucket/prefix"),
                );
            }
            let options = self.cloud_options(service, store);
            return StoreLocation::Cloud(CloudStore { service, url, options });
        }
        if store.endpoint.is_some() || store.region.is_some() || !store.options.is_empty() {
            self.error(
                Some(span.clone()),
                "endpoint, region and options apply to s3://, gs:// and az:// stores only",
            );
        }
        if url.trim().is_empty() {
            self.error(Some(span), "store.url is empty");
        }
        StoreLocation::Local(base.join(url))
    }

    /// The cloud store's options by `object_store` config key, each checked against
    /// the service's known keys so a typo is a config error, not a silent default.
    fn cloud_options(
        &mut self,
        service: CloudService,
        store: raw::Store,
    ) -> BTreeMap<String, String> {
        let mut options = BTreeMap::new();
        let prefix = match service {
            CloudService::S3 => "aws",
            CloudService::Gcs => "google",
            CloudService::Azure => "azure",
        };
        if let Some(endpoint) = store.endpoint {
            match service {
                CloudService::S3 => options.insert("aws_endpoint".into(), endpoint.into_inner()),
                CloudService::Azure => {
                    options.insert("azure_storage_endpoint".into(), endpoint.into_inner())
                }
                CloudService::Gcs => {
                    self.error(Some(endpoint.span()), "endpoint applies to s3:// and az:// stores");
                    None
                }
            };
        }
        if let Some(region) = store.region {
            if service == CloudService::S3 {
                options.insert("aws_region".into(), region.into_inner());
            } else {
                self.error(Some(region.span()), "region applies to s3:// stores only");
            }
        }
        if let Some(allow) = store.allow_http {
            options.insert(format!("{prefix}_allow_http"), allow.to_string());
        }
        if let Some(path_style) = store.path_style
            && service == CloudService::S3
        {
            options.insert("aws_virtual_hosted_style_request".into(), (!path_style).to_string());
        }
        for (key, value) in store.options {
            if let Err(e) = crate::store::check_option(service, key.get_ref()) {
                self.error(Some(key.span()), e);
                continue;
            }
            options.insert(key.into_inner(), value);
        }
        options
    }
}
