//! The results folder: one folder per run, files written atomically (temp file in
//! the same folder, then rename), a `latest` link to the newest run, and the
//! records read back ([`baseline`]). What the files say is the report layer's
//! business ([`crate::report::run_files`]); this module only lays them out and
//! writes them, so it knows nothing of formats beyond results.json ([`json`]).

pub mod baseline;
mod bounded;
mod complete;
pub mod json;
pub mod plausible;
pub mod save;

use std::path::{Path, PathBuf};

use crate::error::{RoomError, StoreError};
use crate::runner::RawCapture;

pub use bounded::read_capped;

/// The run subfolder that holds the SVG charts (the Markdown report links them).
pub const PLOTS_DIR: &str = "plots";

/// One file of a run folder's set, ready to be written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunFile {
    /// Its path inside the run folder (`results.json`, `plots/<chart>.svg`).
    pub name: PathBuf,
    /// Its contents.
    pub contents: String,
}

/// The default results folder: `results/` of the workspace when the harness runs
/// from its build folder, else `results/` here.
pub fn default_results_root() -> PathBuf {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf);
    let exe = std::env::current_exe().ok();
    match (workspace, exe) {
        (Some(ws), Some(exe)) if exe.starts_with(&ws) => ws.join("results"),
        _ => PathBuf::from("results"),
    }
}

fn err(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError {
        path: path.to_path_buf(),
        source: crate::error::plain_io(source),
    }
}

/// Writes `contents` to `path` so that readers see the old file or the new one,
/// never a part.
pub fn write_atomic(path: &Path, contents: &[u8]) -> Result<(), StoreError> {
    // Results are for everyone to read; `stage` widens the temp file's 0600.
    stage(path, contents)?
        .persist(path)
        .map_err(|e| err(path)(e.error))?;
    Ok(())
}

/// Checks that `dir` (created if missing) takes a file and has `needed`
/// bytes free for an unprivileged writer, before anything is written there.
pub fn check_room(dir: &Path, needed: u64) -> Result<(), RoomError> {
    let not_writable = |source| RoomError::NotWritable {
        path: dir.to_path_buf(),
        source: crate::error::plain_io(source),
    };
    if dir.exists() && !dir.is_dir() {
        return Err(not_writable(std::io::Error::new(
            std::io::ErrorKind::NotADirectory,
            "it is a file, not a folder",
        )));
    }
    std::fs::create_dir_all(dir).map_err(not_writable)?;
    tempfile::Builder::new()
        .prefix(".vmlab-")
        .tempfile_in(dir)
        .map_err(not_writable)?;
    let stat = nix::sys::statvfs::statvfs(dir).map_err(|e| not_writable(e.into()))?;
    let free = stat.blocks_available().saturating_mul(stat.fragment_size());
    if free < needed {
        return Err(RoomError::Full {
            path: dir.to_path_buf(),
            free,
        });
    }
    Ok(())
}

/// How many suffixed names (`-2`, `-3`, ...) are tried when a run folder's
/// name is taken.
const MAX_NAME_SUFFIX: u32 = 1000;

/// Creates a new folder `<root>/<name>` (and `root`), failing early if it
/// cannot be written. The folder is created exclusively: when the name is taken
/// (another run started in the same second), `<name>-2`, `<name>-3`, ... are
/// tried, so no two runs ever write into one folder.
pub fn create_run_dir(root: &Path, name: &str) -> Result<PathBuf, StoreError> {
    std::fs::create_dir_all(root).map_err(err(root))?;
    let mut taken = None;
    for n in 1..=MAX_NAME_SUFFIX {
        let dir = if n == 1 {
            root.join(name)
        } else {
            root.join(format!("{name}-{n}"))
        };
        match std::fs::create_dir(&dir) {
            Ok(()) => {
                let probe = dir.join(".vmlab-write-test");
                if let Err(e) = write_atomic(&probe, b"")
                    .and_then(|()| std::fs::remove_file(&probe).map_err(err(&probe)))
                {
                    let _ = std::fs::remove_dir_all(&dir);
                    return Err(e);
                }
                return Ok(dir);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => taken = Some(e),
            Err(e) => return Err(err(&dir)(e)),
        }
    }
    Err(StoreError {
        path: root.join(name),
        source: taken.unwrap_or_else(|| std::io::ErrorKind::AlreadyExists.into()),
    })
}

/// Renames the staging folder `staging` (made in `root` with its owner record
/// inside, see `scratch::staging_run_dir`) to the run folder `root/name`, or
/// `name-2`, ... if that is taken, never replacing anything, after checking
/// that files can be written in it. Returns the run folder; on an error the
/// staging folder stays for the caller to remove.
pub fn publish_run_dir(root: &Path, name: &str, staging: &Path) -> Result<PathBuf, StoreError> {
    use nix::fcntl::{renameat2, RenameFlags, AT_FDCWD};
    let probe = staging.join(".vmlab-write-test");
    write_atomic(&probe, b"").and_then(|()| std::fs::remove_file(&probe).map_err(err(&probe)))?;
    for n in 1..=MAX_NAME_SUFFIX {
        let dir = if n == 1 {
            root.join(name)
        } else {
            root.join(format!("{name}-{n}"))
        };
        match renameat2(
            AT_FDCWD,
            staging,
            AT_FDCWD,
            &dir,
            RenameFlags::RENAME_NOREPLACE,
        ) {
            Ok(()) => return Ok(dir),
            Err(nix::errno::Errno::EEXIST | nix::errno::Errno::ENOTEMPTY) => {}
            Err(e) => return Err(err(&dir)(e.into())),
        }
    }
    Err(StoreError {
        path: root.join(name),
        source: std::io::ErrorKind::AlreadyExists.into(),
    })
}

/// A run folder's name: start time and host, so runs sort by time.
pub fn run_dir_name(started: &chrono::DateTime<chrono::Utc>, host: &str, quick: bool) -> String {
    let host: String = host
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!(
        "{}-{host}{}",
        started.format("%Y%m%dT%H%M%SZ"),
        if quick { "-quick" } else { "" }
    )
}

/// Writes a run's file set (results.json, results.md, the CSV tables and the
/// charts, as [`crate::report::run_files`] renders them) into the run folder `dir`.
/// Every file is written to a temporary file first and all are renamed into
/// place only once all are complete, so a full disk leaves the previous set
/// whole (and no temporary file), never a mix.
pub fn write_run(dir: &Path, files: &[RunFile]) -> Result<(), StoreError> {
    let mut staged = Vec::new();
    for file in files {
        let path = dir.join(&file.name);
        if let Some(folder) = path.parent().filter(|p| *p != dir) {
            std::fs::create_dir_all(folder).map_err(err(folder))?;
        }
        // Closed once written (the path stays, removed if never renamed): a
        // report of many charts must not need a descriptor per file.
        let tmp = stage(&path, file.contents.as_bytes())?.into_temp_path();
        staged.push((tmp, path));
    }
    for (tmp, path) in staged {
        tmp.persist(&path).map_err(|e| err(&path)(e.error))?;
    }
    Ok(())
}

/// Writes `contents` to a synced temporary file beside `path`, to be renamed.
fn stage(path: &Path, contents: &[u8]) -> Result<tempfile::NamedTempFile, StoreError> {
    use std::io::Write;
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new()
        .prefix(".vmlab-")
        .tempfile_in(dir)
        .map_err(err(path))?;
    tmp.write_all(contents).map_err(err(path))?;
    std::fs::set_permissions(
        tmp.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o644),
    )
    .map_err(err(path))?;
    tmp.as_file().sync_all().map_err(err(path))?;
    Ok(tmp)
}

/// Keeps the raw /proc text of every snapshot under
/// `raw/<experiment>/<variant>/<NN>-<checkpoint>/<role>/{smaps,status,stat}`.
/// The files are written into a hidden staging folder that is renamed into place
/// once complete, so a variant's raw folder is whole or absent; the files are not
/// synced one by one (an experiment with many processes writes thousands).
pub fn write_raw(
    dir: &Path,
    experiment: &str,
    variant: &str,
    captures: &[RawCapture],
) -> Result<(), StoreError> {
    let parent = dir.join("raw").join(experiment);
    let staging = parent.join(format!(".{variant}.partial"));
    let target = parent.join(variant);
    for path in [&staging, &target] {
        if path.exists() {
            std::fs::remove_dir_all(path).map_err(err(path))?;
        }
    }
    let written = write_captures(&staging, captures).and_then(|()| {
        if staging.exists() {
            std::fs::rename(&staging, &target).map_err(err(&target))
        } else {
            Ok(())
        }
    });
    if written.is_err() {
        // A full or read-only disk: the variant's raw text is absent, not half there.
        let _ = std::fs::remove_dir_all(&staging);
    }
    written
}

fn write_captures(staging: &Path, captures: &[RawCapture]) -> Result<(), StoreError> {
    for c in captures {
        let folder = staging
            .join(format!("{:02}-{}", c.index, c.label))
            .join(&c.role);
        std::fs::create_dir_all(&folder).map_err(err(&folder))?;
        for (name, text) in [
            ("smaps", &c.snapshot.smaps),
            ("status", &c.snapshot.status),
            ("stat", &c.snapshot.stat),
        ] {
            let path = folder.join(name);
            std::fs::write(&path, text).map_err(err(&path))?;
        }
    }
    Ok(())
}

/// Points `<root>/latest` at the run folder (a relative symlink, swapped atomically).
pub fn point_latest(root: &Path, run_dir: &Path) -> Result<(), StoreError> {
    let Some(name) = run_dir.file_name() else {
        return Ok(());
    };
    let link = root.join("latest");
    let tmp = root.join(format!(".vmlab-latest.{}.tmp", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(name, &tmp).map_err(err(&tmp))?;
    std::fs::rename(&tmp, &link).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        err(&link)(e)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_writes_replace_the_whole_file_and_leave_no_temp_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("results.json");
        write_atomic(&path, b"first version, longer").unwrap();
        write_atomic(&path, b"second").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "second");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_taken_run_folder_name_gets_a_suffix() {
        let root = tempfile::tempdir().unwrap();
        let first = create_run_dir(root.path(), "20260101T000000Z-h").unwrap();
        let second = create_run_dir(root.path(), "20260101T000000Z-h").unwrap();
        assert_ne!(first, second);
        assert!(second.ends_with("20260101T000000Z-h-2"), "{second:?}");
        assert_eq!(std::fs::read_dir(&first).unwrap().count(), 0);
    }

    #[test]
    fn a_staged_run_folder_takes_a_free_name_and_keeps_its_files() {
        let root = tempfile::tempdir().unwrap();
        let stage = |n: &str| {
            let dir = root.path().join(n);
            std::fs::create_dir(&dir).unwrap();
            std::fs::write(dir.join("record"), n).unwrap();
            dir
        };
        let first = publish_run_dir(root.path(), "20260101T000000Z-h", &stage(".a")).unwrap();
        let second = publish_run_dir(root.path(), "20260101T000000Z-h", &stage(".b")).unwrap();
        assert!(first.ends_with("20260101T000000Z-h"), "{first:?}");
        assert!(second.ends_with("20260101T000000Z-h-2"), "{second:?}");
        assert_eq!(std::fs::read_to_string(first.join("record")).unwrap(), ".a");
        assert_eq!(
            std::fs::read_to_string(second.join("record")).unwrap(),
            ".b"
        );
        assert!(!root.path().join(".a").exists() && !root.path().join(".b").exists());
    }

    #[test]
    fn run_folder_names_are_safe_and_sortable() {
        let t = chrono::DateTime::parse_from_rfc3339("2026-11-22T11:20:00Z")
            .unwrap()
            .to_utc();
        assert_eq!(
            run_dir_name(&t, "lab pc.local", true),
            "20261122T112000Z-lab_pc_local-quick"
        );
    }
}
