//! The server's in-memory caches: bounded, and never stale by construction. What they
//! hold is keyed either by something immutable (a run id: manifests are create-only),
//! by the [`Status`] generation it was derived from, or by the store's entity tag of
//! the object it copies (checked with the store on every request).
//!
//! - [`Bounded`]: least-recently-used entries, bounded in number and in bytes.
//! - [`Memo`]: a [`Bounded`] cache that builds each missing value once however many
//!   requests ask for it at the same time (the others wait for that build).
//! - [`PerGeneration`]: one body derived from the status, rebuilt when the status
//!   generation moves.
//!
//! [`Status`]: crate::status::Status

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use tokio::sync::OnceCell;

use crate::status::{SharedStatus, Status};

/// Least-recently-used entries, at most `max_entries` of them and at most `max_bytes`
/// of weight together. A value heavier than half of `max_bytes` is not kept.
#[derive(Debug)]
pub struct Bounded<K, V> {
    entries: HashMap<K, Entry<V>>,
    max_entries: usize,
    max_bytes: usize,
    bytes: usize,
    tick: u64,
}

#[derive(Debug)]
struct Entry<V> {
    value: V,
    bytes: usize,
    used: u64,
}

impl<K: Eq + Hash + Clone, V: Clone> Bounded<K, V> {
    pub fn new(max_entries: usize, max_bytes: usize) -> Bounded<K, V> {
        Bounded { entries: HashMap::new(), max_entries, max_bytes, bytes: 0, tick: 0 }
    }

    /// The value kept for `key`, marked as used.
    pub fn get(&mut self, key: &K) -> Option<V> {
        self.tick += 1;
        let entry = self.entries.get_mut(key)?;
        entry.used = self.tick;
        Some(entry.value.clone())
    }

    /// Keeps `value` (weighing `bytes`) for `key`, dropping the least recently used
    /// entries until both bounds hold again.
    pub fn insert(&mut self, key: K, value: V, bytes: usize) {
        self.remove(&key);
        if bytes > self.max_bytes / 2 || self.max_entries == 0 {
            return;
        }
        while self.entries.len() >= self.max_entries || self.bytes + bytes > self.max_bytes {
            let Some(oldest) =
                self.entries.iter().min_by_key(|(_, e)| e.used).map(|(k, _)| k.clone())
            else {
                break;
            };
            self.remove(&oldest);
        }
        self.tick += 1;
        self.bytes += bytes;
        self.entries.insert(key, Entry { value, bytes, used: self.tick });
    }

    pub fn remove(&mut self, key: &K) {
        if let Some(old) = self.entries.remove(key) {
            self.bytes -= old.bytes;
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The weight of what is kept.
    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

/// Values built from immutable sources (a committed run), kept in a [`Bounded`]
/// cache; a value is built once however many requests want it at once.
pub struct Memo<K, V> {
    done: Mutex<Bounded<K, V>>,
    building: Mutex<HashMap<K, Arc<OnceCell<V>>>>,
    weight: fn(&V) -> usize,
}

impl<K: Eq + Hash + Clone, V: Clone> Memo<K, V> {
    pub fn new(max_entries: usize, max_bytes: usize, weight: fn(&V) -> usize) -> Memo<K, V> {
        Memo {
            done: Mutex::new(Bounded::new(max_entries, max_bytes)),
            building: Mutex::new(HashMap::new()),
            weight,
        }
    }

    /// The value for `key`: the kept one, or the one `build` makes (shared with every
    /// request that asked for it meanwhile). A failed build is not kept: the next
    /// request tries again.
    pub async fn get_or_build<E, F>(&self, key: &K, build: impl FnOnce() -> F) -> Result<V, E>
    where
        F: Future<Output = Result<V, E>>,
    {
        let kept = self.done.lock().expect("cache lock").get(key);
        if let Some(value) = kept {
            return Ok(value);
        }
        let cell =
            self.building.lock().expect("cache lock").entry(key.clone()).or_default().clone();
        let built = cell
            .get_or_try_init(|| async move {
                // Built meanwhile by a request that has finished since.
                let kept = self.done.lock().expect("cache lock").get(key);
                if let Some(value) = kept {
                    return Ok(value);
                }
                let value = build().await?;
                let bytes = (self.weight)(&value);
                self.done.lock().expect("cache lock").insert(key.clone(), value.clone(), bytes);
                Ok(value)
            })
            .await
            .cloned();
        let mut building = self.building.lock().expect("cache lock");
        if building.get(key).is_some_and(|c| Arc::ptr_eq(c, &cell)) {
            building.remove(key);
        }
        built
    }

    /// How many values are kept (for tests).
    pub fn len(&self) -> usize {
        self.done.lock().expect("cache lock").len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One body derived from the [`Status`], kept with the generation it was built from.
#[derive(Default)]
pub struct PerGeneration {
    slot: tokio::sync::Mutex<Option<(u64, Bytes)>>,
}

impl PerGeneration {
    /// The body for the status as it is now: the kept one when the generation has not
    /// moved, else `render`'s (one request renders; the others wait for it).
    pub async fn get(
        &self,
        status: &SharedStatus,
        render: impl FnOnce(&Status) -> Vec<u8>,
    ) -> Bytes {
        let mut slot = self.slot.lock().await;
        let status = status.read().expect("status lock");
        if let Some((generation, body)) = slot.as_ref()
            && *generation == status.generation
        {
            return body.clone();
        }
        let body = Bytes::from(render(&status));
        *slot = Some((status.generation, body.clone()));
        body
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_drops_the_least_recently_used_first() {
        let mut cache = Bounded::new(2, 100);
        cache.insert("a", 1, 10);
        cache.insert("b", 2, 10);
        assert_eq!(cache.get(&"a"), Some(1));
        cache.insert("c", 3, 10);
        assert_eq!(cache.get(&"b"), None, "b was used least recently");
        assert_eq!((cache.get(&"a"), cache.get(&"c")), (Some(1), Some(3)));
        assert_eq!(cache.bytes(), 20);
    }

    #[test]
    fn bounded_holds_its_weight_bound() {
        let mut cache = Bounded::new(100, 100);
        for i in 0..10 {
            cache.insert(i, i, 20);
            assert!(cache.bytes() <= 100, "{}", cache.bytes());
        }
        assert_eq!(cache.len(), 5);
        cache.insert(99, 99, 51);
        assert_eq!(cache.get(&99), None, "heavier than half the bound: not kept");
        cache.insert(3, 33, 5);
        assert_eq!(cache.get(&3), Some(33), "a key inserted again takes the new value");
        assert!(cache.bytes() <= 100);
    }

    #[tokio::test]
    async fn memo_builds_once_for_concurrent_requests_and_retries_failures() {
        let memo: Arc<Memo<u32, Arc<String>>> = Arc::new(Memo::new(4, 1000, |v| v.len()));
        let builds = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let gate = Arc::new(tokio::sync::Notify::new());
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let (memo, builds, gate) = (memo.clone(), builds.clone(), gate.clone());
            tasks.push(tokio::spawn(async move {
                memo.get_or_build(&1, || async {
                    builds.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    gate.notified().await;
                    Ok::<_, ()>(Arc::new("one".to_owned()))
                })
                .await
            }));
        }
        tokio::task::yield_now().await;
        while builds.load(std::sync::atomic::Ordering::SeqCst) == 0 {
            tokio::task::yield_now().await;
        }
        gate.notify_one();
        for t in tasks {
            assert_eq!(t.await.unwrap().unwrap().as_str(), "one");
        }
        assert_eq!(builds.load(std::sync::atomic::Ordering::SeqCst), 1);
        let failed = memo.get_or_build(&2, || async { Err::<Arc<String>, _>("no") }).await;
        assert_eq!(failed, Err("no"));
        let again = memo.get_or_build(&2, || async { Ok::<_, &str>(Arc::new("two".into())) });
        assert_eq!(again.await.unwrap().as_str(), "two", "a failure is not kept");
        assert_eq!(memo.len(), 2);
    }

    #[tokio::test]
    async fn per_generation_rebuilds_when_the_generation_moves() {
        let status = Status::default().shared();
        let cache = PerGeneration::default();
        let renders = std::cell::Cell::new(0);
        let render = |s: &Status| {
            renders.set(renders.get() + 1);
            format!("{}", s.generation).into_bytes()
        };
        assert_eq!(cache.get(&status, render).await, "0");
        assert_eq!(cache.get(&status, render).await, "0");
        assert_eq!(renders.get(), 1);
        status
            .write()
            .unwrap()
            .record(&crate::status::fixture::run("20261125T161500Z-0001", vec![]));
        assert_eq!(cache.get(&status, render).await, "1");
        assert_eq!(renders.get(), 2);
    }
}
