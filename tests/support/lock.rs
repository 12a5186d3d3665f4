//! Orders tests that touch one server's configuration: a test that changes it holds
//! the server's lock exclusively, a test that needs it stable holds it shared. File
//! locks, so they also hold across test processes (nextest) and threads.

use std::fs::File;

pub struct ServerLock(#[allow(dead_code)] File);

impl ServerLock {
    fn open(server: &str) -> File {
        File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(std::env::temp_dir().join(format!("driftwatch-tests-{server}.lock")))
            .expect("open lock file")
    }

    /// For a test that needs `server`'s configuration to stay as it is.
    pub fn shared(server: &str) -> ServerLock {
        let f = Self::open(server);
        f.lock_shared().expect("lock");
        ServerLock(f)
    }

    /// For a test that changes `server`'s configuration (and puts it back).
    pub fn exclusive(server: &str) -> ServerLock {
        let f = Self::open(server);
        f.lock().expect("lock");
        ServerLock(f)
    }
}
