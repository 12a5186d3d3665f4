//! Counting the requests a [`Store`](super::Store) makes: GETs, PUTs, HEADs, LISTs and
//! DELETEs (each attempt, retries included) and the bytes read and written, for the
//! debug timings of an audit and the benchmarks. Shared by every clone of a store.

use std::sync::atomic::{AtomicU64, Ordering};

/// The counters, one per kind of request.
#[derive(Debug, Default)]
pub(super) struct Counters {
    gets: AtomicU64,
    puts: AtomicU64,
    heads: AtomicU64,
    lists: AtomicU64,
    deletes: AtomicU64,
    bytes_read: AtomicU64,
    bytes_written: AtomicU64,
}

/// What a store has asked its backend so far (or between two readings: [`Requests::since`]).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Requests {
    pub gets: u64,
    pub puts: u64,
    pub heads: u64,
    pub lists: u64,
    pub deletes: u64,
    /// Bytes of the objects read (GET bodies).
    pub bytes_read: u64,
    /// Bytes of the objects written (PUT bodies).
    pub bytes_written: u64,
}

impl Counters {
    /// One attempt at a request named as [`super::retry`] names them (`get`, `put`, …).
    pub(super) fn request(&self, what: &str) {
        let counter = match what {
            "get" => &self.gets,
            "put" => &self.puts,
            "head" => &self.heads,
            "list" => &self.lists,
            "delete" => &self.deletes,
            _ => return,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn read(&self, bytes: usize) {
        self.bytes_read.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    pub(super) fn wrote(&self, bytes: usize) {
        self.bytes_written.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    pub(super) fn now(&self) -> Requests {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        Requests {
            gets: get(&self.gets),
            puts: get(&self.puts),
            heads: get(&self.heads),
            lists: get(&self.lists),
            deletes: get(&self.deletes),
            bytes_read: get(&self.bytes_read),
            bytes_written: get(&self.bytes_written),
        }
    }
}

impl Requests {
    /// The requests made after `earlier` (a reading of the same store).
    pub fn since(&self, earlier: &Requests) -> Requests {
        Requests {
            gets: self.gets - earlier.gets,
            puts: self.puts - earlier.puts,
            heads: self.heads - earlier.heads,
            lists: self.lists - earlier.lists,
            deletes: self.deletes - earlier.deletes,
            bytes_read: self.bytes_read - earlier.bytes_read,
            bytes_written: self.bytes_written - earlier.bytes_written,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::Store;
    use crate::store::StoreLocation;

    #[tokio::test]
    async fn every_request_and_its_bytes_are_counted() {
        let store = Store::open(&StoreLocation::Memory).unwrap();
        let start = store.requests();
        store.put_report("reports/index.html", "<p>hello</p>").await.unwrap();
        assert_eq!(store.get_bytes("reports/index.html").await.unwrap(), b"<p>hello</p>");
        assert_eq!(store.find_bytes("reports/missing.html").await.unwrap(), None);
        store.check().await.unwrap();
        store.list_runs().await.unwrap();
        let r = store.clone().requests().since(&start);
        assert_eq!((r.puts, r.gets, r.heads, r.lists), (1, 2, 1, 1), "{r:?}");
        assert_eq!((r.bytes_written, r.bytes_read), (12, 12), "{r:?}");
    }
}
