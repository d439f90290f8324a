//! Where the experiment binaries are, and building them when needed.
//!
//! `cargo run -p harness` builds only the harness. When the harness runs under
//! cargo (`CARGO` is set), it builds the experiments package itself with the
//! same profile and target folder (a no-op when they are fresh), so a fresh clone
//! needs no extra step. Installed (`cargo install --path harness` and `--path
//! experiments`), it finds the `vmlab-<name>` binaries next to itself, or in
//! the first folder of `PATH` that holds them, as a shell would; and
//! `VMLAB_EXPERIMENTS_DIR` names the folder outright. Nothing is looked for in
//! the working directory: what runs must not depend on where one stands.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{ChildStderr, Command, Stdio};

use anyhow::{bail, Context, Result};

use super::child::ChildGuard;
use crate::error::{Interrupted, RunnerError};

/// Overrides where experiment binaries are looked for (no build is attempted).
pub const DIR_VARIABLE: &str = "VMLAB_EXPERIMENTS_DIR";

/// How to get the experiment binaries, for the messages that miss them.
const INSTALL_HINT: &str = "install them with `cargo install --path experiments` from the \
     vmlab source, or set VMLAB_EXPERIMENTS_DIR to the folder that holds them";

/// The folder that holds the experiment binaries, built if needed; an error
/// in one line saying where they were looked for and how to get them.
///
/// A folder named by `VMLAB_EXPERIMENTS_DIR` is flushed like one just built:
/// it may well be (the integration tests build the experiments once and point
/// every harness they start there).
pub fn experiments_dir() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os(DIR_VARIABLE) {
        let dir = PathBuf::from(dir);
        flush_programs(&dir);
        return Ok(dir);
    }
    let exe = std::env::current_exe().context("cannot find the harness's own executable")?;
    let dir = exe
        .parent()
        .context("the harness executable has no parent folder")?
        .to_path_buf();
    if let Some(cargo) = std::env::var_os("CARGO") {
        build_with_cargo(Path::new(&cargo), &dir)?;
        flush_programs(&dir);
    }
    find(&dir, std::env::var_os("PATH").as_deref()).with_context(|| {
        format!(
            "no experiment binaries (vmlab-<name>) next to {} or in PATH; {INSTALL_HINT}",
            exe.display()
        )
    })
}

/// The first of `exe_dir` and the folders of `path` (a `PATH` value) that holds
/// an experiment binary of the catalog.
fn find(exe_dir: &Path, path: Option<&OsStr>) -> Option<PathBuf> {
    let searched = path.map(std::env::split_paths).into_iter().flatten();
    std::iter::once(exe_dir.to_path_buf())
        .chain(searched.filter(|d| d.is_absolute()))
        .find(|dir| holds_experiments(dir))
}

/// Whether `dir` holds at least one experiment binary: the experiments are
/// installed together, so one marks the folder; a missing one is then named by
/// [`binary`].
fn holds_experiments(dir: &Path) -> bool {
    experiments::catalog::CATALOG
        .iter()
        .any(|info| dir.join(info.binary_name()).is_file())
}

/// The path of experiment `name`'s binary (`vmlab-<name>`), with a hint if it
/// is missing.
pub fn binary(dir: &Path, name: &str) -> Result<PathBuf> {
    let path = dir.join(experiments::catalog::binary_name(name));
    if !path.is_file() {
        bail!(
            "experiment binary {} not found; build it with `cargo build -p experiments --bins` \
             in the vmlab source, or {INSTALL_HINT}",
            path.display()
        );
    }
    Ok(path)
}

/// Writes the experiment binaries and the separately built programs in
/// `dir` out to disk (fsync), a no-op for files already clean.
///
/// A program just linked has dirty page cache until writeback, and smaps counts
/// those pages as dirty in every process that maps the file, which reads as if
/// the process had written to its own text or data. Flushing them before a run
/// is setup, not measurement; it is best effort, since a file that cannot be
/// flushed leaves only that claim undecided (its judge says so).
fn flush_programs(dir: &Path) {
    let programs = dir.join(experiments::program::FOLDER);
    let files = |d: &Path| -> Vec<PathBuf> {
        std::fs::read_dir(d)
            .map(|entries| entries.flatten().map(|e| e.path()).collect())
            .unwrap_or_default()
    };
    let built = files(dir).into_iter().filter(|p| {
        p.file_name()
            .and_then(OsStr::to_str)
            .is_some_and(|n| n.starts_with("vmlab-"))
    });
    for path in built.chain(files(&programs)) {
        if path.is_file() {
            if let Ok(file) = std::fs::File::open(&path) {
                let _ = file.sync_all();
            }
        }
    }
}

/// Builds the experiments package into the folder the harness itself runs from.
fn build_with_cargo(cargo: &Path, exe_dir: &Path) -> Result<()> {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .context("the harness crate has no parent folder")?;
    let manifest = workspace.join("Cargo.toml");
    let (Some(profile_dir), Some(target_dir)) = (exe_dir.file_name(), exe_dir.parent()) else {
        return Ok(());
    };
    if !manifest.is_file() {
        return Ok(());
    }
    let mut command = Command::new(cargo);
    command
        .arg("build")
        .arg("--manifest-path")
        .arg(&manifest)
        .args(["-p", "experiments", "--bins"])
        .env("CARGO_TARGET_DIR", target_dir);
    match profile_dir.to_str() {
        Some("debug") => {}
        Some("release") => {
            command.arg("--release");
        }
        Some(other) => {
            command.args(["--profile", other]);
        }
        None => return Ok(()),
    }
    // cargo says `Compiling` only when something is out of date: then the user
    // is told what the wait is for; a fresh build stays silent. In a process
    // group of its own, killed should the run be interrupted meanwhile.
    command.stderr(Stdio::piped());
    let mut build = ChildGuard::spawn_command(command)
        .with_context(|| format!("cannot run {} to build the experiments", cargo.display()))?;
    let stderr = build.take_stderr();
    let reader = std::thread::spawn(move || stderr.map(announce_and_capture).unwrap_or_default());
    let status = match build.wait_unless_interrupted() {
        Err(RunnerError::Interrupted) => return Err(Interrupted.into()),
        waited => waited.with_context(|| format!("cannot wait for {}", cargo.display()))?,
    };
    let captured = reader.join().unwrap_or_default();
    if !status.success() {
        eprint!("{captured}");
        bail!("building the experiments failed ({status}); run `cargo build -p experiments --bins` to see why");
    }
    Ok(())
}

/// Reads cargo's stderr to its end, saying once that the experiments are
/// being built when cargo compiles something; returns what it read.
fn announce_and_capture(stderr: ChildStderr) -> String {
    let mut said = false;
    let mut captured = String::new();
    for line in BufReader::new(stderr).lines().map_while(Result::ok) {
        if line.trim_start().starts_with("Compiling") && !said {
            crate::verbosity::note(
                "building the experiment programs (first run, or after a change)...",
            );
            said = true;
        }
        captured.push_str(&line);
        captured.push('\n');
    }
    captured
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(dir: &Path, name: &str) {
        std::fs::write(dir.join(name), b"").unwrap();
    }

    #[test]
    fn the_folder_of_the_harness_comes_before_path() {
        let here = tempfile::tempdir().unwrap();
        let on_path = tempfile::tempdir().unwrap();
        let name = experiments::catalog::CATALOG[0].binary_name();
        touch(here.path(), &name);
        touch(on_path.path(), &name);
        let path = std::env::join_paths([on_path.path()]).unwrap();
        assert_eq!(find(here.path(), Some(&path)), Some(here.path().into()));
    }

    #[test]
    fn path_is_searched_in_order_when_the_harness_stands_alone() {
        let alone = tempfile::tempdir().unwrap();
        let empty = tempfile::tempdir().unwrap();
        let first = tempfile::tempdir().unwrap();
        let second = tempfile::tempdir().unwrap();
        let name = experiments::catalog::CATALOG[0].binary_name();
        touch(first.path(), &name);
        touch(second.path(), &name);
        let path = std::env::join_paths([empty.path(), first.path(), second.path()]).unwrap();
        assert_eq!(find(alone.path(), Some(&path)), Some(first.path().into()));
    }

    #[test]
    fn a_relative_path_entry_and_a_folder_with_other_programs_are_passed_over() {
        let alone = tempfile::tempdir().unwrap();
        let other = tempfile::tempdir().unwrap();
        // A program that shares the prefix but is not in the catalog marks nothing.
        touch(other.path(), "vmlab-not-an-experiment");
        let path = std::env::join_paths([Path::new("."), other.path()]).unwrap();
        assert_eq!(find(alone.path(), Some(&path)), None);
        assert_eq!(find(alone.path(), None), None);
    }
}
