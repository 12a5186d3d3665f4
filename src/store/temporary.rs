//! Temporary files of the local folder. `object_store`'s `LocalFileSystem` writes each
//! object to `<path>#<n>` and renames (or links) it into place; it removes the
//! temporary file when a write fails, but a process killed mid-write leaves it behind,
//! invisible to listings and never reused. [`Store::clean_temporary_files`] removes
//! those older than [`TEMPORARY_FILE_AGE`], which no write in progress can be; every
//! audit calls it before it writes anything.

use std::path::Path;
use std::time::{Duration, SystemTime};

use super::{Store, StoreError};

/// A temporary file older than this belongs to no write still in progress (a write
/// touches its file as it goes; the largest objects take seconds).
pub const TEMPORARY_FILE_AGE: Duration = Duration::from_secs(3600);

impl Store {
    /// Removes the local folder's temporary files (`<object>#<n>`) last written more
    /// than `older_than` ago; returns how many. Other stores have none: `Ok(0)`.
    pub async fn clean_temporary_files(&self, older_than: Duration) -> Result<usize, StoreError> {
        let Some(root) = self.local_root.clone() else { return Ok(0) };
        let location = root.display().to_string();
        let walk = tokio::task::spawn_blocking(move || {
            let cutoff =
                SystemTime::now().checked_sub(older_than).unwrap_or(SystemTime::UNIX_EPOCH);
            let mut removed = 0;
            remove_stale(&root, cutoff, &mut removed)?;
            Ok::<_, std::io::Error>(removed)
        });
        let removed = walk
            .await
            .map_err(|e| std::io::Error::other(e.to_string()))
            .and_then(|r| r)
            .map_err(|source| StoreError::Open { location, source })?;
        if removed > 0 {
            tracing::info!(removed, "removed temporary files of interrupted writes");
        }
        Ok(removed)
    }
}

/// Whether `name` is a temporary file's: `<object name>#<digits>`.
fn is_temporary(name: &str) -> bool {
    name.rsplit_once('#').is_some_and(|(object, n)| {
        !object.is_empty() && !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())
    })
}

fn remove_stale(dir: &Path, cutoff: SystemTime, removed: &mut usize) -> std::io::Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        let kind = entry.file_type()?;
        let path = entry.path();
        if kind.is_dir() {
            remove_stale(&path, cutoff, removed)?;
            continue;
        }
        let temporary = entry.file_name().to_str().is_some_and(is_temporary);
        if !kind.is_file() || !temporary {
            continue;
        }
        let stale = entry.metadata()?.modified().is_ok_and(|at| at < cutoff);
        // Gone already (another instance cleaned it, or its write finished): fine.
        if stale && std::fs::remove_file(&path).is_ok() {
            *removed += 1;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoreLocation;

    #[test]
    fn temporary_names() {
        assert!(is_temporary("index.html#1"));
        assert!(is_temporary("abc.json#12"));
        assert!(!is_temporary("index.html"));
        assert!(!is_temporary("a#b"));
        assert!(!is_temporary("#1"));
        assert!(!is_temporary("x#"));
    }

    #[tokio::test]
    async fn only_stale_temporary_files_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&StoreLocation::Local(dir.path().to_owned())).unwrap();
        let reports = dir.path().join("reports/targets");
        std::fs::create_dir_all(&reports).unwrap();
        let old = SystemTime::now() - Duration::from_secs(7200);
        for name in ["a.html#1", "a.html", "b.html#2"] {
            std::fs::write(reports.join(name), "x").unwrap();
        }
        for name in ["a.html#1", "a.html"] {
            std::fs::File::options()
                .write(true)
                .open(reports.join(name))
                .unwrap()
                .set_modified(old)
                .unwrap();
        }
        assert_eq!(store.clean_temporary_files(TEMPORARY_FILE_AGE).await.unwrap(), 1);
        let mut left: Vec<String> = std::fs::read_dir(&reports)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(left, ["a.html", "b.html#2"], "the fresh one may be a write in progress");
        let memory = Store::open(&StoreLocation::Memory).unwrap();
        assert_eq!(memory.clean_temporary_files(Duration::ZERO).await.unwrap(), 0);
    }
}
