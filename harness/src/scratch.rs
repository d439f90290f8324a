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
//!
//! Only a folder holding such an owner record (a lock file whose text is the
//! record this module writes) is ever removed: a name that merely looks like
//! one of ours proves nothing, so such a folder is left alone and named.

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

/// How old a temporary folder without an owner record must be before it is
/// named as looking stale (it is never removed: it may not be ours).
const UNLOCKED_GRACE: Duration = Duration::from_secs(60);

/// The text of an owner record before the owner's PID: what tells a lock
/// file vmlab wrote from any file that happens to have its name.
const RECORD_TAG: &str = "vmlab owner record, pid ";

/// The PID an owner record names; `None` if the text is not an owner record.
fn parse_record(text: &str) -> Option<u32> {
    text.strip_prefix(RECORD_TAG)?.trim_end().parse().ok()
}

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
        std::fs::write(&staging, format!("{RECORD_TAG}{pid}\n"))?;
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

    /// The same lock once its folder was renamed to `dir` (the flock is on
    /// the open file, which a rename does not touch).
    pub fn moved_to(self, dir: &Path) -> OwnerLock {
        OwnerLock {
            path: dir.join(LOCK_FILE),
            _lock: self._lock,
        }
    }
}

/// Run folders are made under this name, `<prefix><pid>-<random>`, with their
/// owner record inside, then renamed to their run name: a run killed at any
/// moment leaves either nothing, a staging folder that names its PID, or a
/// folder with its owner record, each of which [`sweep_run_dirs`] tidies.
pub const RUN_STAGING_PREFIX: &str = ".vmlab-new-";

/// Makes a staging folder for a run folder in `root`, with its owner record.
pub fn staging_run_dir(root: &Path) -> io::Result<(PathBuf, OwnerLock)> {
    let dir = tempfile::Builder::new()
        .prefix(&format!("{RUN_STAGING_PREFIX}{}-", std::process::id()))
        .tempdir_in(root)
        .map_err(crate::error::plain_io)?
        .keep();
    match OwnerLock::acquire(&dir) {
        Ok(lock) => Ok((dir, lock)),
        Err(e) => {
            let _ = std::fs::remove_dir_all(&dir);
            Err(e)
        }
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

/// Whether `dir` holds an owner record that nobody holds locked: its owner is
/// gone. `None` when it has no owner record (no lock file, or a file of that
/// name that is not a regular file or not a record vmlab wrote).
fn owner_gone(dir: &Path) -> Option<(bool, Option<u32>)> {
    use std::io::Read;
    let path = dir.join(LOCK_FILE);
    if !path.symlink_metadata().ok()?.is_file() {
        return None;
    }
    let mut file = File::open(&path).ok()?;
    let mut text = String::new();
    (&mut file).take(128).read_to_string(&mut text).ok()?;
    let pid = parse_record(&text)?;
    match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
        // Held until the folder is gone, so a second sweeper waits its turn.
        Ok(lock) => {
            std::mem::forget(lock);
            Some((true, Some(pid)))
        }
        Err(_) => Some((false, Some(pid))),
    }
}

/// What the run folder `dir` is, as its owner record tells: `None` when it has
/// no record (a finished run, or not one of ours), else whether its writer
/// still lives.
pub fn run_owner(dir: &Path) -> Option<OwnerState> {
    let path = dir.join(LOCK_FILE);
    if !path.symlink_metadata().ok()?.is_file() {
        return None;
    }
    let file = File::open(&path).ok()?;
    let mut text = String::new();
    use std::io::Read;
    (&file).take(128).read_to_string(&mut text).ok()?;
    let pid = parse_record(&text)?;
    // A shared lock only tests: it is released at once and never blocks.
    match Flock::lock(file, FlockArg::LockSharedNonblock) {
        Ok(_lock) => Some(OwnerState::Gone(pid)),
        Err(_) => Some(OwnerState::Writing(pid)),
    }
}

/// Whether a run folder's writer lives, by its owner record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OwnerState {
    /// The run with this PID is still writing it.
    Writing(u32),
    /// The run with this PID died before finishing it (killed).
    Gone(u32),
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

/// What [`sweep`] did in a folder of temporary folders.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Sweep {
    /// Folders with an owner record whose owner is gone: removed.
    pub removed: Vec<Leftover>,
    /// Folders named like ours, over a minute old, whose named PID is gone,
    /// but without an owner record: left alone (they may not be ours), named
    /// so that their owner can look.
    pub left_alone: Vec<PathBuf>,
}

/// Removes the temporary folders in `base` whose owner record says their
/// owner is gone, and says which. Only this user's folders named
/// [`TEMP_PREFIX`]`*` are looked at; a folder whose lock is held is in use, and
/// a folder without an owner record is never removed, whatever its name: if
/// it looks stale it is listed in [`Sweep::left_alone`].
pub fn sweep(base: &Path) -> Sweep {
    let Ok(entries) = std::fs::read_dir(base) else {
        return Sweep::default();
    };
    let uid = nix::unistd::geteuid().as_raw();
    let mut sweep = Sweep::default();
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
        match owner_gone(&path) {
            Some((true, pid)) => {
                if std::fs::remove_dir_all(&path).is_ok() {
                    sweep.removed.push(Leftover {
                        path,
                        owner_pid: pid,
                    });
                }
            }
            Some((false, _)) => {}
            None => {
                let Some(pid) = pid_in_name(name).filter(|pid| !pid_alive(*pid)) else {
                    continue;
                };
                // An owner killed between creating its folder and placing its
                // record leaves it empty (or holding only its staged record):
                // removing an empty folder loses nothing, whoever made it.
                let staged = path.join(format!("{LOCK_FILE}.{pid}.tmp"));
                if std::fs::read_to_string(&staged).is_ok_and(|t| parse_record(&t) == Some(pid)) {
                    let _ = std::fs::remove_file(&staged);
                }
                if std::fs::remove_dir(&path).is_ok() {
                    sweep.removed.push(Leftover {
                        path,
                        owner_pid: Some(pid),
                    });
                    continue;
                }
                let old = meta
                    .modified()
                    .ok()
                    .and_then(|m| SystemTime::now().duration_since(m).ok())
                    .is_some_and(|age| age > UNLOCKED_GRACE);
                if old {
                    sweep.left_alone.push(path);
                }
            }
        }
    }
    sweep.removed.sort_by(|a, b| a.path.cmp(&b.path));
    sweep.left_alone.sort();
    sweep
}

/// One line naming folders that look stale but were left alone, if any.
pub fn describe_left_alone(paths: &[PathBuf]) -> Option<String> {
    if paths.is_empty() {
        return None;
    }
    let paths: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    Some(format!(
        "left alone {} folder(s) named like vmlab's temporary folders but without its owner record (remove them if they are yours): {}",
        paths.len(),
        paths.join(", ")
    ))
}

/// Tidies the run folders under `root` whose writer died mid-run (its owner
/// record's lock is free): removes the temporary files and staging folders of
/// unfinished writes, then the folder itself if no complete `results.json` was
/// written, else marks it partial ([`mark_partial`]) so that nobody takes it
/// for a complete run. Returns the folders tidied (as they are now named).
pub fn sweep_run_dirs(root: &Path) -> Vec<Leftover> {
    let Ok(entries) = std::fs::read_dir(root) else {
        return Vec::new();
    };
    let mut tidied = Vec::new();
    for entry in entries.flatten() {
        let mut path = entry.path();
        if !path.symlink_metadata().is_ok_and(|m| m.is_dir()) {
            continue;
        }
        let Some((true, owner_pid)) = owner_gone(&path) else {
            // A staging folder its run left before writing the owner record
            // into it: empty, and named after a process that is gone.
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some(pid) = name
                .strip_prefix(RUN_STAGING_PREFIX)
                .and_then(|rest| rest.split_once('-'))
                .and_then(|(pid, _)| pid.parse::<u32>().ok())
                .filter(|&pid| !pid_alive(pid))
            {
                // Empty but for the owner record it was being given.
                remove_unfinished(&path);
                if std::fs::remove_dir(&path).is_ok() {
                    tidied.push(Leftover {
                        path,
                        owner_pid: Some(pid),
                    });
                }
            }
            continue;
        };
        remove_unfinished(&path);
        if path.join("results.json").is_file() {
            // Noted partial before its owner record goes, so that a sweep
            // killed before the rename still leaves it recognisable.
            write_partial_note(&path, KILLED);
            let _ = std::fs::remove_file(path.join(LOCK_FILE));
            if let Ok(partial) = mark_partial(&path, KILLED) {
                path = partial;
            }
        } else {
            remove_dead_run_dir(&path);
        }
        tidied.push(Leftover { path, owner_pid });
    }
    tidied.sort_by(|a, b| a.path.cmp(&b.path));
    tidied
}

/// Writes [`PARTIAL_FILE`] with `why` into `dir`, atomically; a failure (a
/// full disk) leaves no half-written note.
fn write_partial_note(dir: &Path, why: &str) {
    let staged = dir.join(format!(".vmlab-{PARTIAL_FILE}.tmp"));
    if std::fs::write(&staged, why).is_err()
        || std::fs::rename(&staged, dir.join(PARTIAL_FILE)).is_err()
    {
        let _ = std::fs::remove_file(&staged);
    }
}

/// Removes the run folder `path` of a run that is gone, so that a kill at any
/// moment of the removal leaves something the next sweep still recognises:
/// the folder is first renamed to a staging name that names this process,
/// then emptied with its owner record last, then removed.
fn remove_dead_run_dir(path: &Path) {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let doomed = path.with_file_name(format!(
        "{RUN_STAGING_PREFIX}{}-{}",
        std::process::id(),
        name.trim_start_matches('.')
    ));
    let path = if std::fs::rename(path, &doomed).is_ok() {
        doomed
    } else {
        path.to_path_buf()
    };
    if let Ok(entries) = std::fs::read_dir(&path) {
        for entry in entries.flatten() {
            if entry.file_name() == LOCK_FILE {
                continue;
            }
            let p = entry.path();
            if p.symlink_metadata().is_ok_and(|m| m.is_dir()) {
                let _ = std::fs::remove_dir_all(&p);
            } else {
                let _ = std::fs::remove_file(&p);
            }
        }
    }
    let _ = std::fs::remove_file(path.join(LOCK_FILE));
    let _ = std::fs::remove_dir(&path);
}

/// The marker file of a partial run folder, saying why it is partial.
pub const PARTIAL_FILE: &str = "PARTIAL";

/// What a run folder's [`PARTIAL_FILE`] says when its writer was killed.
const KILLED: &str = "This run was killed before its end: its results cover the \
experiments that finished before it died, and it has no report files.\n";

/// How many suffixed `-partial` names are tried.
const MAX_PARTIAL_SUFFIX: u32 = 1000;

/// Renames the run folder `run_dir` (no longer holding an owner record) to
/// `<name>-partial`, or `<name>-partial-2`, ... if that is taken (two runs
/// stopped in the same second), never replacing anything, and writes
/// [`PARTIAL_FILE`] with `why` in it. Returns the new path.
pub fn mark_partial(run_dir: &Path, why: &str) -> io::Result<PathBuf> {
    use nix::fcntl::{renameat2, RenameFlags, AT_FDCWD};
    let name = run_dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut last = io::Error::from(io::ErrorKind::AlreadyExists);
    for n in 1..=MAX_PARTIAL_SUFFIX {
        let candidate = if n == 1 {
            run_dir.with_file_name(format!("{name}-partial"))
        } else {
            run_dir.with_file_name(format!("{name}-partial-{n}"))
        };
        match renameat2(
            AT_FDCWD,
            run_dir,
            AT_FDCWD,
            &candidate,
            RenameFlags::RENAME_NOREPLACE,
        ) {
            Ok(()) => {
                // The name already says it; a full disk may keep the note out,
                // but the folder has moved and the caller must follow it.
                write_partial_note(&candidate, why);
                return Ok(candidate);
            }
            Err(nix::errno::Errno::EEXIST | nix::errno::Errno::ENOTEMPTY) => {
                last = io::ErrorKind::AlreadyExists.into();
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(last)
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
        assert_eq!(sweep(base.path()), Sweep::default());
        assert!(scratch.path().is_dir());
    }

    #[test]
    fn a_folder_whose_lock_is_free_is_removed_and_named() {
        let base = tempfile::tempdir().unwrap();
        let dead = base.path().join("vmlab-fork-cow-999999-abc");
        std::fs::create_dir(&dead).unwrap();
        std::fs::write(dead.join(LOCK_FILE), format!("{RECORD_TAG}999999\n")).unwrap();
        std::fs::write(dead.join("data"), b"x").unwrap();
        let removed = sweep(base.path()).removed;
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
        std::fs::write(young.join("data"), b"x").unwrap();
        let foreign = base.path().join("other-999999-abc");
        std::fs::create_dir(&foreign).unwrap();
        std::fs::write(foreign.join(LOCK_FILE), format!("{RECORD_TAG}999999\n")).unwrap();
        assert_eq!(sweep(base.path()), Sweep::default());
        assert!(young.exists() && foreign.exists());
    }

    fn age(path: &Path) {
        let old = SystemTime::now() - Duration::from_secs(3600);
        File::open(path).unwrap().set_modified(old).unwrap();
    }

    #[test]
    fn a_users_folder_that_only_looks_like_ours_is_named_and_never_removed() {
        let base = tempfile::tempdir().unwrap();
        // Old, named like ours, its "owner" dead: without an owner record it stays.
        let bare = base.path().join("vmlab-photos-999999-2024");
        std::fs::create_dir(&bare).unwrap();
        std::fs::write(bare.join("holiday.jpg"), b"x").unwrap();
        age(&bare);
        // A file of the lock's name that is not a record vmlab wrote.
        let lookalike = base.path().join("vmlab-notes-999998-x");
        std::fs::create_dir(&lookalike).unwrap();
        std::fs::write(lookalike.join(LOCK_FILE), "999998\n").unwrap();
        age(&lookalike);
        let swept = sweep(base.path());
        assert_eq!(swept.removed, Vec::new());
        assert_eq!(swept.left_alone, vec![lookalike.clone(), bare.clone()]);
        assert!(bare.join("holiday.jpg").is_file());
        assert!(lookalike.join(LOCK_FILE).is_file());
        let line = describe_left_alone(&swept.left_alone).unwrap();
        assert!(line.contains("vmlab-photos-999999-2024"), "{line}");
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
        std::fs::write(done.join(LOCK_FILE), format!("{RECORD_TAG}1\n")).unwrap();
        std::fs::write(done.join("results.json"), "{}").unwrap();
        std::fs::write(done.join(".vmlab-abc"), "torn").unwrap();
        std::fs::create_dir_all(done.join("raw/x/.v.partial")).unwrap();
        std::fs::write(empty.join(LOCK_FILE), format!("{RECORD_TAG}1\n")).unwrap();
        let lock = OwnerLock::acquire(&live).unwrap();
        let tidied = sweep_run_dirs(root.path());
        assert_eq!(tidied.len(), 2, "{tidied:?}");
        // The killed run's folder is kept, marked partial.
        assert!(!done.exists());
        let done = root.path().join("20260101T000000Z-a-partial");
        assert!(tidied.iter().any(|l| l.path == done), "{tidied:?}");
        assert!(done.join("results.json").is_file());
        assert!(done.join(PARTIAL_FILE).is_file());
        assert!(!done.join(".vmlab-abc").exists());
        assert!(!done.join("raw/x/.v.partial").exists());
        assert!(!done.join(LOCK_FILE).exists());
        assert!(!empty.exists());
        assert!(live.join(LOCK_FILE).is_file());
        lock.release();
        assert!(!live.join(LOCK_FILE).exists());
    }

    #[test]
    fn an_empty_folder_whose_named_owner_is_gone_is_removed() {
        let base = tempfile::tempdir().unwrap();
        let empty = base.path().join("vmlab-fork-cow-999999-abc");
        std::fs::create_dir(&empty).unwrap();
        let staged = base.path().join("vmlab-fork-cow-999997-abc");
        std::fs::create_dir(&staged).unwrap();
        std::fs::write(
            staged.join(format!("{LOCK_FILE}.999997.tmp")),
            format!("{RECORD_TAG}999997\n"),
        )
        .unwrap();
        let swept = sweep(base.path());
        assert_eq!(swept.removed.len(), 2, "{swept:?}");
        assert!(!empty.exists() && !staged.exists());
    }

    #[test]
    fn a_run_folder_is_named_only_once_its_owner_record_is_in() {
        let root = tempfile::tempdir().unwrap();
        let (staging, lock) = staging_run_dir(root.path()).unwrap();
        assert!(staging.join(LOCK_FILE).is_file());
        let dir = root.path().join("20260101T000000Z-a");
        std::fs::rename(&staging, &dir).unwrap();
        let lock = lock.moved_to(&dir);
        // Its writer lives: the sweep leaves it alone.
        assert!(sweep_run_dirs(root.path()).is_empty());
        assert_eq!(
            run_owner(&dir),
            Some(OwnerState::Writing(std::process::id()))
        );
        lock.release();
        assert!(!dir.join(LOCK_FILE).exists() && dir.is_dir());
    }

    #[test]
    fn a_staging_folder_a_killed_run_left_is_removed_and_a_live_ones_kept() {
        let root = tempfile::tempdir().unwrap();
        // Killed after mkdir, or while writing its owner record.
        let empty = root.path().join(format!("{RUN_STAGING_PREFIX}999999-abc"));
        std::fs::create_dir(&empty).unwrap();
        let half = root.path().join(format!("{RUN_STAGING_PREFIX}999998-abc"));
        std::fs::create_dir(&half).unwrap();
        std::fs::write(half.join(format!("{LOCK_FILE}.999998.tmp")), "x").unwrap();
        // This process's, just made: kept.
        let live = root
            .path()
            .join(format!("{RUN_STAGING_PREFIX}{}-abc", std::process::id()));
        std::fs::create_dir(&live).unwrap();
        // A user's folder with such a name but not empty: kept.
        let users = root.path().join(format!("{RUN_STAGING_PREFIX}999997-abc"));
        std::fs::create_dir(&users).unwrap();
        std::fs::write(users.join("notes.txt"), "mine").unwrap();
        let tidied = sweep_run_dirs(root.path());
        assert_eq!(tidied.len(), 2, "{tidied:?}");
        assert!(!empty.exists() && !half.exists());
        assert!(live.is_dir() && users.join("notes.txt").is_file());
    }

    #[test]
    fn a_dead_runs_folder_whose_removal_was_cut_short_is_removed_by_the_next_sweep() {
        let root = tempfile::tempdir().unwrap();
        // A sweep killed after renaming a dead run's folder and emptying all
        // but its owner record (which names a process that is gone).
        let doomed = root
            .path()
            .join(format!("{RUN_STAGING_PREFIX}999996-20260101T000000Z-a"));
        std::fs::create_dir_all(doomed.join("raw")).unwrap();
        std::fs::write(doomed.join(LOCK_FILE), format!("{RECORD_TAG}999995\n")).unwrap();
        std::fs::write(doomed.join("raw/x"), "x").unwrap();
        let tidied = sweep_run_dirs(root.path());
        assert_eq!(tidied.len(), 1, "{tidied:?}");
        assert_eq!(std::fs::read_dir(root.path()).unwrap().count(), 0);
        // One killed after removing the record: empty, named after a gone PID.
        std::fs::create_dir(&doomed).unwrap();
        assert_eq!(sweep_run_dirs(root.path()).len(), 1);
        assert!(!doomed.exists());
    }

    #[test]
    fn two_runs_stopped_in_the_same_second_are_both_marked_partial() {
        let root = tempfile::tempdir().unwrap();
        let first = root.path().join("20260101T000000Z-a");
        std::fs::create_dir(&first).unwrap();
        let a = mark_partial(&first, "a").unwrap();
        // The next run took the freed name, and is stopped too.
        std::fs::create_dir(&first).unwrap();
        std::fs::write(first.join("results.json"), "{}").unwrap();
        let b = mark_partial(&first, "b").unwrap();
        assert!(a.ends_with("20260101T000000Z-a-partial"), "{a:?}");
        assert!(b.ends_with("20260101T000000Z-a-partial-2"), "{b:?}");
        assert_eq!(std::fs::read_to_string(a.join(PARTIAL_FILE)).unwrap(), "a");
        assert!(b.join("results.json").is_file());
    }

    #[test]
    fn a_run_folders_owner_record_says_whether_its_writer_lives() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(run_owner(dir.path()), None);
        let lock = OwnerLock::acquire(dir.path()).unwrap();
        let me = std::process::id();
        assert_eq!(run_owner(dir.path()), Some(OwnerState::Writing(me)));
        drop(lock);
        assert_eq!(run_owner(dir.path()), Some(OwnerState::Gone(me)));
    }

    #[test]
    fn the_pid_is_read_from_a_folder_name() {
        assert_eq!(pid_in_name("vmlab-fork-cow-1234-a1B2c3"), Some(1234));
        assert_eq!(pid_in_name("vmlab-check-77-x"), Some(77));
        assert_eq!(pid_in_name("vmlab-old"), None);
    }
}
