//! The run folder while a session writes it, and the checks made before it
//! exists: room for the output, a usable folder for temporary files; a failed
//! write becomes one line that says what is kept.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::error::{StoreError, UsageError};
use crate::scratch::{OwnerLock, ScratchDir};
use crate::store;

/// Makes the run folder `root/name` (or `name-2`, ...) with its owner record
/// already in it: it is made under a staging name that names this process and
/// renamed once the record is in, so that a kill at any moment leaves nothing
/// the next run's sweep cannot recognise as ours.
pub(crate) fn owned_run_dir(root: &Path, name: &str) -> Result<(PathBuf, OwnerLock), StoreError> {
    let io = |e: std::io::Error| StoreError {
        path: root.to_path_buf(),
        source: e,
    };
    std::fs::create_dir_all(root).map_err(io)?;
    let (staging, lock) = crate::scratch::staging_run_dir(root).map_err(io)?;
    match store::publish_run_dir(root, name, &staging) {
        Ok(dir) => Ok((dir.clone(), lock.moved_to(&dir))),
        Err(e) => {
            drop(lock);
            let _ = std::fs::remove_dir_all(&staging);
            Err(e)
        }
    }
}

/// Checks that `dir` takes the experiments' temporary files.
pub(super) fn temp_base(dir: &Path) -> Result<PathBuf> {
    let dir = dir.to_path_buf();
    let probe = ScratchDir::create(&dir, "vmlab-check-").map_err(|e| {
        UsageError(format!(
            "cannot create temporary files in {}: {e}; pass --dir with a writable folder",
            dir.display()
        ))
    })?;
    drop(probe);
    Ok(dir)
}

/// What one experiment writes to its run folder, at most: a full run of all
/// nine writes about 20 MB (results.json about 10 MB, rewritten atomically after
/// each experiment, so briefly twice).
pub(super) const OUTPUT_BYTES_PER_EXPERIMENT: u64 = 8 << 20;

/// What a saved baseline (one results.json) takes per experiment.
pub(super) const BASELINE_BYTES_PER_EXPERIMENT: u64 = 4 << 20;

/// Checks before anything runs that `dir` (created if missing) takes files and
/// has `needed` bytes free; `option` is the flag that chooses it.
pub(super) fn check_output_dir(dir: &Path, needed: u64, option: &str) -> Result<()> {
    store::check_room(dir, needed).map_err(|e| {
        let message = match e {
            crate::error::RoomError::NotWritable { path, source } => format!(
                "cannot write in {}: {source}; pass {option} with a writable folder",
                path.display()
            ),
            crate::error::RoomError::Full { path, free } => format!(
                "{} has {} free, and this run needs about {}; free space there or pass {option} with another folder",
                path.display(),
                crate::units::human_bytes(free),
                crate::units::human_bytes(needed)
            ),
        };
        UsageError(message).into()
    })
}

/// A run folder while the run writes it: holds the owner lock (so a later run
/// can tidy it should this one be killed), and on drop removes the folder if no
/// complete results.json made it in, so an early failure leaves nothing.
pub(super) struct RunDirGuard {
    pub(super) dir: PathBuf,
    pub(super) lock: Option<OwnerLock>,
}

impl RunDirGuard {
    pub(super) fn has_results(&self) -> bool {
        self.dir.join("results.json").is_file()
    }
}

impl Drop for RunDirGuard {
    fn drop(&mut self) {
        crate::scratch::remove_unfinished(&self.dir);
        if !self.has_results() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
        if let Some(lock) = self.lock.take() {
            lock.release();
        }
    }
}

/// A results write that failed: a full or read-only disk becomes one line that
/// says what is kept and what to do; anything else keeps its own message.
pub(super) fn store_failure(e: StoreError, guard: &RunDirGuard, needed: u64) -> anyhow::Error {
    let kept = if guard.has_results() {
        format!(
            "the experiments completed before it are kept in {}",
            guard.dir.display()
        )
    } else {
        "nothing was complete, so no run folder is left".to_string()
    };
    use std::io::ErrorKind;
    let file = e.path.display();
    match e.source.kind() {
        kind @ (ErrorKind::StorageFull | ErrorKind::QuotaExceeded) => UsageError(format!(
            "the disk filled up while writing {file} ({}); {kept}; free at least {} on its file system or pass --out with another folder",
            if kind == ErrorKind::QuotaExceeded { "disk quota exceeded" } else { "no space left" },
            crate::units::human_bytes(needed)
        ))
        .into(),
        ErrorKind::ReadOnlyFilesystem => UsageError(format!(
            "the file system became read-only while writing {file}; {kept}; remount it read-write or pass --out with another folder"
        ))
        .into(),
        _ => UsageError(format!("{e}; {kept}")).into(),
    }
}

/// Marks an interrupted run's folder partial ([`crate::scratch::mark_partial`]):
/// its owner record goes first, so that the folder renamed is nobody's to tidy,
/// and the guard follows the folder to its new name.
pub(super) fn mark_partial(guard: &mut RunDirGuard) -> Result<PathBuf> {
    if let Some(lock) = guard.lock.take() {
        lock.release();
    }
    let partial = crate::scratch::mark_partial(
        &guard.dir,
        "This run was stopped before its end (q in step mode, or Ctrl-C): its \
         results cover the experiments and variants that finished.\n",
    )
    .with_context(|| format!("cannot mark {} as partial", guard.dir.display()))?;
    guard.dir = partial.clone();
    Ok(partial)
}

/// The fewest open files a run needs: the experiment's pipes, its children's,
/// the snapshot files of every process read at a checkpoint, and the results.
const MIN_OPEN_FILES: u64 = 64;

/// What the soft open-file limit is raised to, when the hard limit allows.
const WANTED_OPEN_FILES: u64 = 1024;

/// Raises the soft open-file limit towards [`WANTED_OPEN_FILES`] (as far as
/// the hard limit allows), and refuses the run before anything starts if it
/// stays below [`MIN_OPEN_FILES`]: otherwise experiments crash one by one, or
/// the results fail to be written after every measurement was taken.
pub(super) fn check_open_files() -> Result<()> {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) else {
        return Ok(());
    };
    let wanted = WANTED_OPEN_FILES.min(hard);
    let soft = if soft < wanted && setrlimit(Resource::RLIMIT_NOFILE, wanted, hard).is_ok() {
        wanted
    } else {
        soft
    };
    if soft < MIN_OPEN_FILES {
        return Err(UsageError(format!(
            "the open-file limit (ulimit -n) is {soft} and cannot be raised (hard limit {hard}); a run needs at least {MIN_OPEN_FILES}: raise it, e.g. ulimit -n 1024"
        ))
        .into());
    }
    Ok(())
}

/// Folders a check is about to create (`dir` and its missing parents):
/// removed again on drop, if still empty, unless [`MadeDir::keep`] is called,
/// so that a run refused before it starts leaves no empty `--out` behind.
pub(super) struct MadeDir(Vec<PathBuf>);

impl MadeDir {
    pub(super) fn new(dir: &Path) -> MadeDir {
        // Deepest first, the order they are removed in.
        let missing = dir
            .ancestors()
            .take_while(|d| !d.as_os_str().is_empty() && !d.exists())
            .map(Path::to_path_buf)
            .collect();
        MadeDir(missing)
    }

    pub(super) fn keep(mut self) {
        self.0.clear();
    }
}

impl Drop for MadeDir {
    fn drop(&mut self) {
        for dir in &self.0 {
            // Only an empty folder goes (remove_dir refuses any other).
            if std::fs::remove_dir(dir).is_err() {
                break;
            }
        }
    }
}
