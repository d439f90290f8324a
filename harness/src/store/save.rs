//! Where a baseline is saved, and whether it is: a save replaces only a
//! regular file that is a results.json vmlab wrote (never a FIFO, a device, a
//! link or someone's file), which is checked before the run starts and again
//! just before the write; and a run in which an experiment failed is not a
//! baseline, so the one saved before it is kept.

use std::path::Path;

use serde::Deserialize;

use super::baseline::{self, MAX_RESULTS_BYTES};
use crate::error::{BaselineError, StoreError};
use crate::model::{RunRecord, Status};

/// The fields every results.json vmlab ever wrote has; the rest is skipped
/// without being kept, so checking a large file costs no memory.
#[derive(Deserialize)]
struct Written {
    #[allow(dead_code)]
    format_version: u64,
    #[allow(dead_code)]
    vmlab_version: String,
}

/// Checks that a baseline may be written at `path`: nothing is there, or a
/// regular file that is a results.json vmlab wrote.
pub fn check_target(path: &Path) -> Result<(), BaselineError> {
    use std::os::unix::fs::FileTypeExt;
    let refuse = |what: String| BaselineError::SaveTarget {
        path: path.to_path_buf(),
        what,
    };
    let meta = match path.symlink_metadata() {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(source) => {
            return Err(BaselineError::Read {
                path: path.to_path_buf(),
                source,
            })
        }
    };
    let kind = meta.file_type();
    if !kind.is_file() {
        let what = if kind.is_dir() {
            "a folder"
        } else if kind.is_symlink() {
            "a symbolic link"
        } else if kind.is_fifo() {
            "a FIFO"
        } else if kind.is_char_device() || kind.is_block_device() {
            "a device"
        } else if kind.is_socket() {
            "a socket"
        } else {
            "not a regular file"
        };
        return Err(refuse(what.to_string()));
    }
    if meta.len() > MAX_RESULTS_BYTES {
        return Err(refuse(format!("a file of {} bytes", meta.len())));
    }
    let file = std::fs::File::open(path).map_err(|source| BaselineError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let reader = std::io::BufReader::new(std::io::Read::take(file, MAX_RESULTS_BYTES));
    serde_json::from_reader::<_, Written>(reader)
        .map(drop)
        .map_err(|_| refuse("a file that is not a vmlab results.json".to_string()))
}

/// What became of a save.
#[derive(Debug, PartialEq, Eq)]
pub enum Saved {
    /// Written.
    Written,
    /// Not written, because these experiments failed (`name: reason`).
    Refused(Vec<String>),
}

/// Saves `run`, rendered as `text` (the run's results.json, statements
/// included), as the baseline at `path` unless an experiment failed in it.
pub fn save_if_good(path: &Path, run: &RunRecord, text: &str) -> Result<Saved, anyhow::Error> {
    let failed: Vec<String> = run
        .experiments
        .iter()
        .filter(|e| e.status == Status::Failed)
        .map(|e| {
            format!(
                "{}: {}",
                e.name,
                e.reason
                    .as_deref()
                    .and_then(|r| r.lines().next())
                    .unwrap_or("no reason given")
            )
        })
        .collect();
    if !failed.is_empty() {
        return Ok(Saved::Refused(failed));
    }
    check_target(path)?;
    baseline::save_text(path, text).map_err(|e: StoreError| anyhow::Error::new(e))?;
    Ok(Saved::Written)
}

/// The line that says a save was refused and what is kept.
pub fn refused_line(path: &Path, failed: &[String]) -> String {
    let kept = if path.is_file() {
        "the baseline saved there before is kept"
    } else {
        "no baseline was saved"
    };
    format!(
        "baseline not saved to {}: an experiment failed ({}), so this run is no baseline; {kept}",
        path.display(),
        failed.join("; ")
    )
}
