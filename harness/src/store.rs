//! The results folder: one folder per run, files written atomically (temp file in
//! the same folder, then rename), and a `latest` link to the newest run.

use std::path::{Path, PathBuf};

use crate::error::StoreError;
use crate::model::RunRecord;
use crate::report::{csv, json, markdown, plot};

/// The run subfolder that holds the SVG charts (the Markdown report links them).
pub const PLOTS_DIR: &str = "plots";
use crate::runner::RawCapture;

fn err(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError {
        path: path.to_path_buf(),
        source,
    }
}

/// Writes `contents` to `path` so that readers see the old file or the new one,
/// never a part.
pub fn write_atomic(path: &Path, contents: &[u8]) -> Result<(), StoreError> {
    use std::io::Write;
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new()
        .prefix(".vmlab-")
        .tempfile_in(dir)
        .map_err(err(path))?;
    tmp.write_all(contents).map_err(err(path))?;
    // Results are for everyone to read; the temp file starts as 0600.
    std::fs::set_permissions(
        tmp.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o644),
    )
    .map_err(err(path))?;
    tmp.as_file().sync_all().map_err(err(path))?;
    tmp.persist(path).map_err(|e| StoreError {
        path: path.to_path_buf(),
        source: e.error,
    })?;
    Ok(())
}

/// Creates `<root>/<name>` (and `root`), failing early if it cannot be written.
pub fn create_run_dir(root: &Path, name: &str) -> Result<PathBuf, StoreError> {
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).map_err(err(&dir))?;
    write_atomic(&dir.join(".write-test"), b"")
        .and_then(|()| std::fs::remove_file(dir.join(".write-test")).map_err(err(&dir)))?;
    Ok(dir)
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

/// Writes results.json, results.md and the CSV tables of a run.
pub fn write_run(dir: &Path, run: &RunRecord) -> Result<(), StoreError> {
    let files: [(&str, String); 6] = [
        ("results.json", json::render(run)),
        ("results.md", markdown::render(run)),
        ("checkpoints.csv", csv::checkpoints(run)),
        ("regions.csv", csv::regions(run)),
        ("mappings.csv", csv::mappings(run)),
        ("claims.csv", csv::claims(run)),
    ];
    for (name, contents) in files {
        write_atomic(&dir.join(name), contents.as_bytes())?;
    }
    let plots = dir.join(PLOTS_DIR);
    for e in &run.experiments {
        for v in &e.variants {
            for chart in plot::charts(&e.name, v) {
                std::fs::create_dir_all(&plots).map_err(err(&plots))?;
                write_atomic(&plots.join(&chart.file_name), chart.svg.as_bytes())?;
            }
        }
    }
    Ok(())
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
    if staging.exists() {
        std::fs::rename(&staging, &target).map_err(err(&target))?;
    }
    Ok(())
}

/// Points `<root>/latest` at the run folder (a relative symlink, swapped atomically).
pub fn point_latest(root: &Path, run_dir: &Path) -> Result<(), StoreError> {
    let Some(name) = run_dir.file_name() else {
        return Ok(());
    };
    let link = root.join("latest");
    let tmp = root.join(".latest.tmp");
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(name, &tmp).map_err(err(&tmp))?;
    std::fs::rename(&tmp, &link).map_err(err(&link))
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
