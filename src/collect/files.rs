//! The local files a collector reads: the configuration file an operator names in a
//! target's config (Redis `config_file`) and the files it includes, through the
//! [`Files`] the `check` parsers read with. Never a path a server names.
//!
//! [`BoundedFiles`] opens without blocking (`O_NONBLOCK | O_NOCTTY`, so a FIFO or a
//! terminal cannot hang the open), reads regular files only (a FIFO, a device such as
//! `/dev/zero`, a socket or a folder is refused after `fstat`, before any read), at most
//! [`MAX_FILE_BYTES`] each and [`MAX_FILES`] in one parse, and lists at most
//! [`MAX_DIR_ENTRIES`] entries of a folder. It blocks on disk I/O: call it off the
//! async runtime (`spawn_blocking`).
//!
//! Every refusal is recorded ([`BoundedFiles::refusals`]) with a message of our own
//! that names the path and why, never the file's content: the caller reports those
//! instead of the parser's diagnostics, which may quote what they could not parse.

use std::io::{self, Read as _};
use std::os::unix::fs::{FileTypeExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::conffile::Files;

/// The largest file read (Redis's own annotated `redis.conf` is ~110 KB).
pub const MAX_FILE_BYTES: u64 = 1 << 20;
/// Files read in one parse, the first one and every include.
pub const MAX_FILES: usize = 64;
/// Entries of one folder listed (an include of `*.conf`).
pub const MAX_DIR_ENTRIES: usize = 4096;

/// A file not read, and why (no content).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub path: PathBuf,
    pub message: String,
}

/// The real file system, bounded (see the module doc).
#[derive(Debug, Default)]
pub struct BoundedFiles {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    reads: usize,
    refusals: Vec<Refusal>,
}

impl BoundedFiles {
    pub fn new() -> BoundedFiles {
        BoundedFiles::default()
    }

    /// Every file (or folder) that was not read, in order.
    pub fn refusals(&self) -> Vec<Refusal> {
        self.lock().refusals.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock leaves plain data behind: keep using it.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn refuse(&self, path: &Path, message: String) -> io::Error {
        let error = io::Error::other(message.clone());
        self.lock().refusals.push(Refusal { path: path.to_owned(), message });
        error
    }
}

impl Files for BoundedFiles {
    fn read(&self, path: &Path) -> io::Result<String> {
        let reads = {
            let mut state = self.lock();
            state.reads += 1;
            state.reads
        };
        if reads > MAX_FILES {
            let why = format!("not read: more than {MAX_FILES} files in one configuration");
            return Err(self.refuse(path, why));
        }
        read_regular(path).map_err(|why| self.refuse(path, why))
    }

    fn list_dir(&self, path: &Path) -> io::Result<Vec<PathBuf>> {
        let entries = std::fs::read_dir(path)
            .map_err(|e| self.refuse(path, format!("cannot list {}: {e}", path.display())))?;
        let mut out = Vec::new();
        for entry in entries {
            let entry = entry
                .map_err(|e| self.refuse(path, format!("cannot list {}: {e}", path.display())))?;
            if out.len() == MAX_DIR_ENTRIES {
                let shown = path.display();
                let why = format!("not read: {shown} holds more than {MAX_DIR_ENTRIES} entries");
                return Err(self.refuse(path, why));
            }
            out.push(entry.path());
        }
        Ok(out)
    }
}

/// The text of `path` if it is a regular file of at most [`MAX_FILE_BYTES`] of UTF-8;
/// else why not.
fn read_regular(path: &Path) -> Result<String, String> {
    let shown = path.display();
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(|e| format!("cannot open {shown}: {e}"))?;
    let meta = file.metadata().map_err(|e| format!("cannot stat {shown}: {e}"))?;
    let kind = meta.file_type();
    let not_regular = if kind.is_fifo() {
        Some("a FIFO")
    } else if kind.is_char_device() {
        Some("a character device")
    } else if kind.is_block_device() {
        Some("a block device")
    } else if kind.is_socket() {
        Some("a socket")
    } else if kind.is_dir() {
        Some("a folder")
    } else if !kind.is_file() {
        Some("not a regular file")
    } else {
        None
    };
    if let Some(what) = not_regular {
        return Err(format!("not read: {shown} is {what}, not a regular file"));
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(too_large(path, meta.len()));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    (&file)
        .take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read {shown}: {e}"))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(too_large(path, bytes.len() as u64));
    }
    String::from_utf8(bytes).map_err(|_| format!("not read: {shown} is not UTF-8 text"))
}

fn too_large(path: &Path, len: u64) -> String {
    format!(
        "not read: {} is {len} bytes or more, larger than a configuration file may be ({})",
        path.display(),
        super::bytes(MAX_FILE_BYTES)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(path: &Path) -> String {
        let files = BoundedFiles::new();
        let err = files.read(path).expect_err("refused");
        let refusals = files.refusals();
        assert_eq!(refusals.len(), 1);
        assert_eq!(refusals[0].message, err.to_string());
        err.to_string()
    }

    #[test]
    fn regular_files_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("redis.conf");
        std::fs::write(&path, "port 6380\n").unwrap();
        let files = BoundedFiles::new();
        assert_eq!(files.read(&path).unwrap(), "port 6380\n");
        assert!(files.refusals().is_empty());
    }

    #[test]
    fn devices_fifos_folders_and_big_files_are_refused_unread() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        // Without O_NONBLOCK this open would wait for a writer forever.
        assert!(refusal(&fifo).contains("is a FIFO"));
        assert!(refusal(Path::new("/dev/zero")).contains("is a character device"));
        assert!(refusal(dir.path()).contains("is a folder"));
        let big = dir.path().join("big");
        std::fs::File::create(&big).unwrap().set_len(MAX_FILE_BYTES + 1).unwrap();
        assert!(refusal(&big).contains("larger than a configuration file may be (1MiB)"));
        let binary = dir.path().join("binary");
        std::fs::write(&binary, b"port \xff\n").unwrap();
        assert!(refusal(&binary).contains("is not UTF-8 text"));
        assert!(refusal(&dir.path().join("missing")).contains("cannot open"));
    }

    #[test]
    fn reads_are_counted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.conf");
        std::fs::write(&path, "").unwrap();
        let files = BoundedFiles::new();
        for _ in 0..MAX_FILES {
            files.read(&path).unwrap();
        }
        assert!(files.read(&path).unwrap_err().to_string().contains("more than 64 files"));
    }
}
