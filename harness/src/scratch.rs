//! Folders that a killed harness does not leave behind for good.
//!
//! A temporary folder (an experiment's files) or a run folder being written
//! holds an owner lock: a file naming the owner's PID, on which the owner keeps
//! an exclusive `flock` for as long as it lives. The kernel drops that lock when
//! the owner dies in any way, SIGKILL included, so a later run can tell a folder
//! whose owner is gone from one in use by a live run (another user's, or a
//! concurrent test's) without trusting PIDs, which the kernel reuses. A folder
//! is never removed while its lock is held.
//!
//! The lock file is created and locked under a temporary name and then renamed
//! into place, so a folder's lock file is never seen unlocked while its owner
//! lives.

use std::fs::File;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use nix::fcntl::{Flock, FlockArg};

/// The owner lock's file name inside a folder.
pub const LOCK_FILE: &str = ".vmlab-owner";

/// Temporary folders are named `<prefix><pid>-<random>`; every prefix starts so.
pub const TEMP_PREFIX: &str = "vmlab-";

/// How old a temporary folder without a lock file (its owner died between
/// creating it and locking it) must be before it counts as abandoned.
const UNLOCKED_GRACE: Duration = Duration::from_secs(60);

/// An exclusive lock that marks a folder as in use by this process.
#[derive(Debug)]
pub struct OwnerLock {
    path: PathBuf,
    _lock: Flock<File>,
}

impl OwnerLock {
    /// Places a locked owner file in `dir`.
    pub fn acquire(dir: &Path) -> io::Result<OwnerLock> {
        let pid = std::process::id();
        let staging = dir.join(format!("{LOCK_FILE}.{pid}.tmp"));
        std::fs::write(&staging, format!("{pid}\n"))?;
        // Held open read-only: a file open for writing would keep its file
        // system from being remounted read-only while the run goes on.
        let file = File::open(&staging)?;
        let lock = Flock::lock(file, FlockArg::LockExclusiveNonblock).map_err(|(_, errno)| {
            let _ = std::fs::remove_file(&staging);
            io::Error::from(errno)
        })?;
        let path = dir.join(LOCK_FILE);
        if let Err(e) = std::fs::rename(&staging, &path) {
            let _ = std::fs::remove_file(&staging);
            return Err(e);
        }
        Ok(OwnerLock { path, _lock: lock })
    }

    /// Removes the lock file (the folder is no longer in use, but stays).
    pub fn release(self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// A temporary folder owned by this process: removed when dropped, and by a
/// later run's [`sweep`] should this process die first.
#[derive(Debug)]
pub struct ScratchDir {
    path: PathBuf,
    lock: Option<OwnerLock>,
}

impl ScratchDir {
    /// Creates `<base>/<prefix><pid>-<random>` with its owner lock. `prefix`
    /// should start with [`TEMP_PREFIX`] so that [`sweep`] looks at it.
    pub fn create(base: &Path, prefix: &str) -> io::Result<ScratchDir> {
        let dir = tempfile::Builder::new()
            .prefix(&format!("{prefix}{}-", std::process::id()))
            .tempdir_in(base)
            .map_err(crate::error::plain_io)?;
        let lock = OwnerLock::acquire(dir.path())?;
        Ok(ScratchDir {
            path: dir.keep(),
            lock: Some(lock),
        })
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
        drop(self.lock.take());
    }
}

/// A folder another run left behind, as found by [`sweep`] or [`sweep_run_dirs`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leftover {
    /// The folder (removed) or run folder (tidied).
    pub path: PathBuf,
    /// The PID its lock file named, if it had one.
    pub owner_pid: Option<u32>,
}

/// Whether `dir` holds an owner lock that nobody holds: its owner is gone.
/// `None` when it has no lock file.
fn owner_gone(dir: &Path) -> Option<(bool, Option<u32>)> {
    let path = dir.join(LOCK_FILE);
    let file = File::open(&path).ok()?;
    let pid = std::fs::read_to_string(&path)
        .ok()
        .and_then(|t| t.trim().parse().ok());
    match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
        // Held until the folder is gone, so a second sweeper waits its turn.
        Ok(lock) => {
            std::mem::forget(lock);
            Some((true, pid))
        }
        Err(_) => Some((false, pid)),
    }
}

/// Whether a process with this PID exists (in this PID namespace).
fn pid_alive(pid: u32) -> bool {
    let Ok(pid) = i32::try_from(pid) else {
        return false;
    };
    !matches!(
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None),
        Err(nix::errno::Errno::ESRCH)
    )
}

/// The PID in a temporary folder's name `<prefix><pid>-<random>`.
fn pid_in_name(name: &str) -> Option<u32> {
    let (head, _random) = name.rsplit_once('-')?;
    head.rsplit('-').next()?.parse().ok()
}

/// Removes the temporary folders in `base` whose owners are gone, and says
/// which. Only this user's folders named [`TEMP_PREFIX`]`*` are looked at; a
/// folder whose lock is held, or that has no lock yet and whose named owner
/// lives or which is younger than a minute, is left alone.
pub fn sweep(base: &Path) -> Vec<Leftover> {
    let Ok(entries) = std::fs::read_dir(base) else {
        return Vec::new();
    };
    let uid = nix::unistd::geteuid().as_raw();
    let mut removed = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if !name.starts_with(TEMP_PREFIX) {
            continue;
        }
        // symlink_metadata: a link named like a folder of ours is not followed.
        let Ok(meta) = entry.path().symlink_metadata() else {
            continue;
        };
        if !meta.is_dir() || meta.uid() != uid {
            continue;
        }
        let path = entry.path();
        let owner = match owner_gone(&path) {
            Some((true, pid)) => pid,
            Some((false, _)) => continue,
            None => {
                let pid = pid_in_name(name);
                let old = meta
                    .modified()
                    .ok()
                    .and_then(|m| SystemTime::now().duration_since(m).ok())
                    .is_some_and(|age| age > UNLOCKED_GRACE);
                if pid.is_none_or(pid_alive) || !old {
                    continue;
                }
                pid
            }
        };
        if std::fs::remove_dir_all(&path).is_ok() {
            removed.push(Leftover {
                path,
                owner_pid: owner,
            });
        }
    }
    removed.sort_by(|a, b| a.path.cmp(&b.path));
    removed
}

/// Tidies the run folders under `root` whose writer died mid-run (its owner
/// lock is free): removes the temporary files and staging folders of unfinished
/// writes, then the folder itself if no complete `results.json` was written,
/// else just the lock. Returns the folders tidied.
pub fn sweep_run_dirs(root: &Path) -> Vec<Leftover> {
    let Ok(entries) = std::fs::read_dir(root) else {
        return Vec::new();
    };
    let mut tidied = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        if !path.symlink_metadata().is_ok_and(|m| m.is_dir()) {
            continue;
        }
        let Some((true, owner_pid)) = owner_gone(&path) else {
            continue;
        };
        remove_unfinished(&path);
        if path.join("results.json").is_file() {
            let _ = std::fs::remove_file(path.join(LOCK_FILE));
        } else {
            let _ = std::fs::remove_dir_all(&path);
        }
        tidied.push(Leftover { path, owner_pid });
    }
    tidied.sort_by(|a, b| a.path.cmp(&b.path));
    tidied
}

/// Removes what an interrupted write leaves in a run folder: `.vmlab-*` temp
/// files (atomic writes not yet renamed) and `*.partial` staging folders, at
/// any depth.
pub fn remove_unfinished(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        let Ok(meta) = path.symlink_metadata() else {
            continue;
        };
        if meta.is_dir() {
            if name.ends_with(".partial") {
                let _ = std::fs::remove_dir_all(&path);
            } else {
                remove_unfinished(&path);
            }
        } else if name.starts_with(".vmlab-") && name != LOCK_FILE {
            let _ = std::fs::remove_file(&path);
        }
    }
}

/// One line about what a sweep removed (`None` if nothing): which folders, left
/// by which runs.
pub fn describe(what: &str, leftovers: &[Leftover]) -> Option<String> {
    if leftovers.is_empty() {
        return None;
    }
    let mut pids: Vec<String> = leftovers
        .iter()
        .filter_map(|l| l.owner_pid.map(|p| p.to_string()))
        .collect();
    pids.dedup();
    let paths: Vec<String> = leftovers
        .iter()
        .map(|l| l.path.display().to_string())
        .collect();
    Some(format!(
        "{what} {} left by runs that are gone{}: {}",
        leftovers.len(),
        if pids.is_empty() {
            String::new()
        } else {
            format!(" (pid {})", pids.join(", "))
        },
        paths.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scratch_folder_is_removed_when_dropped() {
        let base = tempfile::tempdir().unwrap();
        let scratch = ScratchDir::create(base.path(), "vmlab-test-").unwrap();
        let path = scratch.path().to_path_buf();
        assert!(path.join(LOCK_FILE).is_file());
        std::fs::write(path.join("data"), b"x").unwrap();
        drop(scratch);
        assert!(!path.exists());
    }

    #[test]
    fn a_live_owners_folder_survives_a_sweep() {
        let base = tempfile::tempdir().unwrap();
        let scratch = ScratchDir::create(base.path(), "vmlab-test-").unwrap();
        assert_eq!(sweep(base.path()), Vec::new());
        assert!(scratch.path().is_dir());
    }

    #[test]
    fn a_folder_whose_lock_is_free_is_removed_and_named() {
        let base = tempfile::tempdir().unwrap();
        let dead = base.path().join("vmlab-fork-cow-999999-abc");
        std::fs::create_dir(&dead).unwrap();
        std::fs::write(dead.join(LOCK_FILE), "999999\n").unwrap();
        std::fs::write(dead.join("data"), b"x").unwrap();
        let removed = sweep(base.path());
        assert_eq!(
            removed,
            vec![Leftover {
                path: dead.clone(),
                owner_pid: Some(999999)
            }]
        );
        assert!(!dead.exists());
        let line = describe("removed", &removed).unwrap();
        assert!(line.contains("pid 999999"), "{line}");
    }

    #[test]
    fn a_young_unlocked_folder_and_foreign_names_are_left_alone() {
        let base = tempfile::tempdir().unwrap();
        let young = base.path().join("vmlab-x-999999-abc");
        std::fs::create_dir(&young).unwrap();
        let foreign = base.path().join("other-999999-abc");
        std::fs::create_dir(&foreign).unwrap();
        std::fs::write(foreign.join(LOCK_FILE), "999999\n").unwrap();
        assert_eq!(sweep(base.path()), Vec::new());
        assert!(young.exists() && foreign.exists());
    }

    #[test]
    fn a_dead_run_folder_keeps_its_complete_results_and_loses_its_temp_files() {
        let root = tempfile::tempdir().unwrap();
        let done = root.path().join("20260101T000000Z-a");
        let empty = root.path().join("20260101T000001Z-a");
        let live = root.path().join("20260101T000002Z-a");
        for dir in [&done, &empty, &live] {
            std::fs::create_dir(dir).unwrap();
        }
        std::fs::write(done.join(LOCK_FILE), "1\n").unwrap();
        std::fs::write(done.join("results.json"), "{}").unwrap();
        std::fs::write(done.join(".vmlab-abc"), "torn").unwrap();
        std::fs::create_dir_all(done.join("raw/x/.v.partial")).unwrap();
        std::fs::write(empty.join(LOCK_FILE), "1\n").unwrap();
        let lock = OwnerLock::acquire(&live).unwrap();
        let tidied = sweep_run_dirs(root.path());
        assert_eq!(tidied.len(), 2, "{tidied:?}");
        assert!(done.join("results.json").is_file());
        assert!(!done.join(".vmlab-abc").exists());
        assert!(!done.join("raw/x/.v.partial").exists());
        assert!(!done.join(LOCK_FILE).exists());
        assert!(!empty.exists());
        assert!(live.join(LOCK_FILE).is_file());
        lock.release();
        assert!(!live.join(LOCK_FILE).exists());
    }

    #[test]
    fn the_pid_is_read_from_a_folder_name() {
        assert_eq!(pid_in_name("vmlab-fork-cow-1234-a1B2c3"), Some(1234));
        assert_eq!(pid_in_name("vmlab-check-77-x"), Some(77));
        assert_eq!(pid_in_name("vmlab-old"), None);
    }
}
