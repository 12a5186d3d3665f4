//! Report pages written only when their content changed. `index/pages.json` (derived,
//! rebuildable, mutable) records, per page, the sha256 of the page this store last wrote
//! there and the entity tag the backend gave that write. A publish lists `reports/`
//! once ([`Store::page_digests`]); a page whose newly rendered HTML has the recorded
//! digest (the caller's: the reports digest a page but for the time it was generated)
//! *and* whose listed tag is still the recorded one holds exactly that HTML, and
//! is not written again ([`Store::put_page`]). The record is saved after the publish
//! ([`Store::save_page_digests`]).
//!
//! Why both: the digest says the content is the same, the tag that nobody wrote the
//! page since. A publish cut short (pages written, record not saved) leaves pages whose
//! tags the old record does not know, so they are written again; so is a page another
//! instance wrote in between, or one restored from a copy. A backend that gives no
//! tags gets every page written, as before. A missing or unreadable record costs one
//! publish that writes everything.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use object_store::{ObjectStoreExt as _, PutPayload, PutResult};
use serde::{Deserialize, Serialize};

use super::{Store, StoreError, Written, layout};

/// Where the record lives (outside `reports/`, which `serve` shows).
pub const PAGE_DIGESTS: &str = "index/pages.json";

/// What the store holds of each page: its HTML's digest, the tag of that write.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Recorded {
    sha256: String,
    e_tag: String,
}

/// The pages under `reports/` as one publish found them, and what it writes.
#[derive(Debug, Default)]
pub struct PageDigests {
    /// Every page there, by path below the store root (`reports/targets/a.html`), with
    /// its tag when the backend gives one.
    listed: BTreeMap<String, Option<String>>,
    /// The record as read, only for pages whose listed tag it knows.
    unchanged_since: BTreeMap<String, Recorded>,
    /// What this publish wrote (or found the same), by path.
    now: Mutex<BTreeMap<String, Recorded>>,
}

impl PageDigests {
    /// The pages below `reports/<folder>/`, as paths below `reports/`
    /// (`runs/<run-id>.html`), as [`Store::report_pages`] gives them.
    pub fn in_folder(&self, folder: &str) -> BTreeSet<String> {
        let prefix = format!("reports/{folder}/");
        self.listed
            .keys()
            .filter(|p| p.starts_with(&prefix))
            .filter_map(|p| p.strip_prefix("reports/").map(str::to_owned))
            .collect()
    }

    /// Whether a page is there (`reports/…`, as listed).
    pub fn exists(&self, path: &str) -> bool {
        self.listed.contains_key(path)
    }
}

impl Store {
    /// Lists `reports/` and reads the record of what was written there. A record that
    /// cannot be read is logged and taken as empty (every page is written).
    pub async fn page_digests(&self) -> Result<PageDigests, StoreError> {
        let metas = self.list_all("reports").await?;
        let listed: BTreeMap<String, Option<String>> =
            metas.into_iter().map(|m| (m.location.to_string(), m.e_tag)).collect();
        let record: BTreeMap<String, Recorded> = match self.find_bytes(PAGE_DIGESTS).await? {
            None => BTreeMap::new(),
            Some(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                tracing::warn!(error = %e, path = PAGE_DIGESTS, "page record unreadable: every page is written");
                BTreeMap::new()
            }),
        };
        let unchanged_since = record
            .into_iter()
            .filter(|(path, r)| listed.get(path).is_some_and(|tag| tag.as_ref() == Some(&r.e_tag)))
            .collect();
        Ok(PageDigests { listed, unchanged_since, now: Mutex::default() })
    }

    /// Writes (or replaces) a report page unless what it holds has the same `digest`
    /// ([`Written::AlreadyThere`]): the caller's digest of what the page shows (the
    /// reports leave out the time a page was generated). Atomic: readers see the old or
    /// the new page.
    pub async fn put_page(
        &self,
        digests: &PageDigests,
        relative: &str,
        html: impl Into<String>,
        digest: String,
    ) -> Result<Written, StoreError> {
        let html = html.into();
        let sha256 = digest;
        if let Some(r) = digests.unchanged_since.get(relative)
            && r.sha256 == sha256
        {
            digests.now.lock().expect("page record lock").insert(relative.to_owned(), r.clone());
            return Ok(Written::AlreadyThere);
        }
        let path = layout::report(relative);
        let payload = PutPayload::from(html.into_bytes());
        self.counters.wrote(payload.content_length());
        let put: PutResult =
            self.attempt("put", || self.inner.put(&path, payload.clone())).await.map_err(
                |source| StoreError::Backend { op: "put", path: path.to_string(), source },
            )?;
        if let Some(e_tag) = put.e_tag {
            let recorded = Recorded { sha256, e_tag };
            digests.now.lock().expect("page record lock").insert(relative.to_owned(), recorded);
        }
        Ok(Written::New)
    }

    /// Saves the record after a publish: what it wrote or found the same, and what the
    /// earlier record knew of the pages it did not touch (earlier run pages).
    pub async fn save_page_digests(&self, digests: PageDigests) -> Result<(), StoreError> {
        let PageDigests { unchanged_since, now, .. } = digests;
        let mut record = unchanged_since;
        record.extend(now.into_inner().expect("page record lock"));
        let bytes = serde_json::to_vec(&record).expect("a page record serializes");
        let path = object_store::path::Path::from(PAGE_DIGESTS);
        self.counters.wrote(bytes.len());
        let payload = PutPayload::from(bytes);
        self.attempt("put", || self.inner.put(&path, payload.clone()))
            .await
            .map_err(|source| StoreError::Backend { op: "put", path: path.to_string(), source })?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoreLocation;

    fn digest(html: &str) -> String {
        format!("{:x}", <sha2::Sha256 as sha2::Digest>::digest(html.as_bytes()))
    }

    async fn publish(store: &Store, pages: &[(&str, &str)]) -> Vec<Written> {
        let digests = store.page_digests().await.unwrap();
        let mut written = Vec::new();
        for (path, html) in pages {
            written.push(store.put_page(&digests, path, *html, digest(html)).await.unwrap());
        }
        store.save_page_digests(digests).await.unwrap();
        written
    }

    #[tokio::test]
    async fn only_changed_pages_are_written_again() {
        let dir = tempfile::tempdir().unwrap();
        // The local folder: its tags are the ones that matter most (inode, time, size).
        let store = Store::open(&StoreLocation::Local(dir.path().to_owned())).unwrap();
        let (new, same) = (Written::New, Written::AlreadyThere);
        let a = "reports/targets/a.html";
        let b = "reports/groups/g.html";
        assert_eq!(publish(&store, &[(a, "a1"), (b, "g1")]).await, [new, new]);
        assert_eq!(publish(&store, &[(a, "a2"), (b, "g1")]).await, [new, same]);
        assert_eq!(store.get_bytes(a).await.unwrap(), b"a2");
        assert_eq!(store.get_bytes(b).await.unwrap(), b"g1");
        assert_eq!(publish(&store, &[(a, "a2"), (b, "g1")]).await, [same, same]);

        // A publish cut short: a page written, the record not saved. The page's tag is
        // not the recorded one, so going back to the recorded content writes it.
        let cut = store.page_digests().await.unwrap();
        store.put_page(&cut, b, "g2", digest("g2")).await.unwrap();
        drop(cut);
        assert_eq!(publish(&store, &[(a, "a2"), (b, "g1")]).await, [same, new]);
        assert_eq!(store.get_bytes(b).await.unwrap(), b"g1");

        // Someone else wrote the page (another instance, a restore).
        store.put_report(a, "other").await.unwrap();
        assert_eq!(publish(&store, &[(a, "a2")]).await, [new]);
        assert_eq!(store.get_bytes(a).await.unwrap(), b"a2");

        // A page removed (gc) is written again.
        std::fs::remove_file(dir.path().join(b)).unwrap();
        assert_eq!(publish(&store, &[(b, "g1")]).await, [new]);

        // An unreadable record: everything is written, then it is whole again.
        store.put_report(PAGE_DIGESTS, "not json").await.unwrap();
        assert_eq!(publish(&store, &[(a, "a2"), (b, "g1")]).await, [new, new]);
        assert_eq!(publish(&store, &[(a, "a2"), (b, "g1")]).await, [same, same]);
    }

    #[tokio::test]
    async fn listing_answers_what_is_there() {
        let store = Store::open(&StoreLocation::Memory).unwrap();
        publish(&store, &[("reports/runs/r1.html", "r"), ("reports/targets/a.html", "a")]).await;
        let digests = store.page_digests().await.unwrap();
        assert_eq!(digests.in_folder("runs"), BTreeSet::from(["runs/r1.html".to_owned()]));
        assert!(digests.exists("reports/targets/a.html"));
        assert!(!digests.exists("reports/targets/b.html"));
    }
}
