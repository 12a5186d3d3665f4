//! A store that acknowledges writes and loses them (an S3-compatible server restarted
//! empty within the retry window) once got a manifest committed that named ~31
//! snapshots that no longer existed. Now every object a manifest names is checked to
//! be there first: the run fails, nothing is committed, and once the store keeps its
//! writes again the next run commits a whole history.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use futures::stream::BoxStream;
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult, Result,
};

use driftwatch::audit::{self, Quiet, Trigger};
use driftwatch::store::{Store, StoreError};

use crate::audit::harness::policies_dir;
use crate::support::fake_redis::{ConfigReply, FakeRedis};
use crate::support::invariant::check_history;

/// Memory that, while `losing`, answers every put under `snapshots/` with success and
/// keeps nothing.
#[derive(Debug)]
struct Losing {
    inner: InMemory,
    losing: Arc<AtomicBool>,
}

impl std::fmt::Display for Losing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Losing({})", self.inner)
    }
}

#[async_trait::async_trait]
impl ObjectStore for Losing {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> Result<PutResult> {
        if self.losing.load(Ordering::SeqCst) && location.as_ref().starts_with("snapshots/") {
            return Ok(PutResult { e_tag: None, version: None, extensions: Default::default() });
        }
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> Result<Box<dyn MultipartUpload>> {
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        self.inner.get_opts(location, options).await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, Result<Path>>,
    ) -> BoxStream<'static, Result<Path>> {
        self.inner.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        self.inner.list(prefix)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> Result<()> {
        self.inner.copy_opts(from, to, options).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_that_loses_writes_fails_the_run_and_commits_nothing() {
    let fakes: Vec<FakeRedis> =
        (0..3).map(|_| FakeRedis::start("/etc/redis/redis.conf", ConfigReply::Normal)).collect();
    let policies = policies_dir();
    let mut text =
        format!("[store]\nurl = \"memory://\"\n\n[policies]\ndir = \"{}\"\n\n", policies.display());
    for (i, fake) in fakes.iter().enumerate() {
        text += &format!(
            "[[targets]]\nname = \"cache-{i}\"\nkind = \"redis\"\nurl = \"{}\"\nrole = \"primary\"\n\n",
            fake.url()
        );
    }
    let config = driftwatch::config::parse(std::path::Path::new("/dw/driftwatch.toml"), &text)
        .unwrap_or_else(|e| panic!("{e}"));
    let policies = driftwatch::policy_files::read(&config.policies_dir)
        .and_then(driftwatch::policy::parse)
        .unwrap();
    let losing = Arc::new(AtomicBool::new(true));
    let backend = Losing { inner: InMemory::new(), losing: losing.clone() };
    let store = Store::from_object_store(Arc::new(backend), "losing", None);

    let result = audit::run(&config, &policies, &store, Trigger::Manual, &Quiet).await;
    match result {
        Err(audit::AuditError::Store(StoreError::Missing { path })) => {
            assert!(path.starts_with("snapshots/cache-"), "{path}");
        }
        other => panic!("a lost snapshot must fail the run, got {other:?}"),
    }
    assert!(store.list_runs().await.unwrap().is_empty(), "nothing is committed");
    assert!(store.report_pages("runs").await.unwrap().is_empty(), "nothing is published");

    losing.store(false, Ordering::SeqCst);
    let committed = audit::run(&config, &policies, &store, Trigger::Manual, &Quiet).await.unwrap();
    assert!(committed.unpublished.is_none());
    let runs = check_history(&store).await;
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].run_id, committed.run.run_id);
}
