//! A store on a 2 MB tmpfs, filled while audits run, then freed. Before: when ENOSPC
//! hit report writing, the manifest was already committed but `audit` exited 3 ("run
//! failed"), the index linked to a run page that never appeared, and the audit right
//! after space was freed still failed. Now each exit code says what was committed
//! (3: nothing; 4: the run, with pages missing), the index never reaches a missing page,
//! and once there is room the next audit exits 0 and every link resolves.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::{driftwatch, temporary_files, unreachable_links};
use crate::audit::harness::{Workspace, broken_report_links, policies_dir};
use crate::support::fake_redis::{ConfigReply, FakeRedis};
use crate::support::{PG_PRIMARY, START_SERVICES, require_service};

/// A tmpfs of `size` mounted on a fresh folder, unmounted when dropped.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    #[track_caller]
    fn mount(size: &str) -> Tmpfs {
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .output()
            .expect("run mount");
        assert!(
            out.status.success(),
            "mounting a tmpfs needs root (`mount -t tmpfs`): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Tmpfs { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn available(&self) -> u64 {
        let c = std::ffi::CString::new(self.path().as_os_str().as_encoded_bytes()).unwrap();
        let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
        assert_eq!(unsafe { libc::statvfs(c.as_ptr(), &mut st) }, 0);
        st.f_bavail as u64 * st.f_frsize as u64
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

fn manifests(store: &Path) -> usize {
    fn count(dir: &Path) -> usize {
        std::fs::read_dir(dir).map_or(0, |entries| {
            entries
                .flatten()
                .map(|e| {
                    let p = e.path();
                    if p.is_dir() {
                        count(&p)
                    } else {
                        usize::from(p.extension().is_some_and(|x| x == "json"))
                    }
                })
                .sum()
        })
    }
    count(&store.join("runs"))
}

/// Fills the file system but for about `leave` bytes.
fn fill(disk: &Tmpfs, leave: u64) -> PathBuf {
    let filler = disk.path().join("filler");
    let size = disk.available().saturating_sub(leave) / 4096 * 4096;
    std::fs::write(&filler, vec![0u8; size as usize]).unwrap();
    filler
}

#[test]
fn a_full_disk_gives_honest_exit_codes_and_the_next_run_after_freeing_space_publishes_all() {
    require_service("127.0.0.1", PG_PRIMARY, START_SERVICES);
    let disk = Tmpfs::mount("2m");
    let store = disk.path().join("store");
    let cache = FakeRedis::start("/etc/redis/redis.conf", ConfigReply::Normal);
    let ws = Workspace::with_config(&format!(
        "[store]\nurl = \"{}\"\nretries = 0\n\n[policies]\ndir = \"{}\"\n\n\
         [[targets]]\nname = \"pg\"\nkind = \"postgres\"\nurl = \"postgres://postgres@127.0.0.1:{PG_PRIMARY}/postgres\"\nrole = \"primary\"\ngroup = \"db\"\n\n\
         [[targets]]\nname = \"cache\"\nkind = \"redis\"\nurl = \"{}\"\nrole = \"primary\"\n",
        store.display(),
        policies_dir().display(),
        cache.url()
    ));
    let audit = || driftwatch(&ws.config(), &["audit"]).output().unwrap();
    let first = audit();
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));

    // Less room than a run needs: some runs commit and miss pages, then none commit.
    let filler = fill(&disk, 24 * 1024);
    let mut codes = Vec::new();
    for _ in 0..4 {
        let before = manifests(&store);
        let out = audit();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let code = out.status.code();
        let after = manifests(&store);
        match code {
            Some(4) => {
                assert_eq!(after, before + 1, "exit 4 is a committed run:\n{stderr}");
                assert!(stderr.contains("committed, reports incomplete"), "{stderr}");
                assert!(stderr.contains("the next run publishes what is missing"), "{stderr}");
                assert!(!out.stdout.is_empty(), "a committed run prints its result");
            }
            Some(3) => {
                assert_eq!(after, before, "exit 3 commits nothing:\n{stderr}");
                assert!(stderr.contains("nothing was committed"), "{stderr}");
            }
            other => panic!("on a full disk: exit {other:?}\n{stderr}"),
        }
        assert!(stderr.contains("No space left on device"), "{stderr}");
        assert_eq!(unreachable_links(&store), Vec::<String>::new(), "after exit {code:?}");
        codes.push(code.unwrap());
    }
    eprintln!("exit codes on the full disk: {codes:?}");
    assert!(codes.contains(&3), "the disk never got too full to commit: {codes:?}");

    std::fs::remove_file(filler).unwrap();
    let out = audit();
    assert!(out.status.success(), "after freeing space: {}", String::from_utf8_lossy(&out.stderr));
    let committed = manifests(&store);
    assert_eq!(committed, 1 + codes.iter().filter(|c| **c == 4).count() + 1);
    // Every run has its page (the earlier runs' missing ones were written too).
    assert_eq!(std::fs::read_dir(store.join("reports/runs")).unwrap().count(), committed);
    assert_eq!(broken_report_links(&store), Vec::<String>::new());
    assert_eq!(temporary_files(&store), Vec::<PathBuf>::new());
}
