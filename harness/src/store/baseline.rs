//! Baselines on disk: plain results.json files, one folder per name under the
//! baseline folder (`results/baselines/<name>/results.json` by default), and the
//! reading back of any run's results.json. [`crate::compare`] gets the records
//! from here and does no I/O of its own; every error names its file.

use std::path::{Path, PathBuf};

use super::{json, write_atomic};
use crate::error::{BaselineError, StoreError};
use crate::model::{RunRecord, FORMAT_VERSION};

/// What to do with baselines in a run, after criterion's `Baseline` policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BaselineMode {
    /// No baseline: the run stands alone (a refuted claim is a finding).
    Discard,
    /// `--save-baseline NAME`: keep this run as a baseline, replacing one of the same name.
    Save {
        /// Where it is written.
        path: PathBuf,
    },
    /// `--baseline NAME`: compare this run with a saved one; exit 1 on a regression.
    Compare {
        /// The baseline read (before the run starts, so a bad one costs nothing).
        path: PathBuf,
    },
    /// Both flags: compare with one baseline, then save this run as another (or the same).
    CompareThenSave {
        /// The baseline read.
        baseline: PathBuf,
        /// Where this run is written.
        save: PathBuf,
    },
}

impl BaselineMode {
    /// The mode the flags ask for, with names resolved under `dir`: `compare`
    /// is a name or a path ([`resolve`]), `save` only a name ([`resolve_name`]),
    /// and `save_file` an explicit path to write.
    pub fn from_flags(
        dir: &Path,
        compare: Option<&str>,
        save: Option<&str>,
        save_file: Option<&Path>,
    ) -> Result<BaselineMode, BaselineError> {
        let compare = compare.map(|n| resolve(dir, n)).transpose()?;
        let save = match (save, save_file) {
            (Some(name), _) => Some(resolve_name(dir, name)?),
            (None, Some(path)) => Some(path.to_path_buf()),
            (None, None) => None,
        };
        Ok(match (compare, save) {
            (None, None) => BaselineMode::Discard,
            (None, Some(path)) => BaselineMode::Save { path },
            (Some(path), None) => BaselineMode::Compare { path },
            (Some(baseline), Some(save)) => BaselineMode::CompareThenSave { baseline, save },
        })
    }

    /// The baseline to compare with, if any.
    pub fn compare_with(&self) -> Option<&Path> {
        match self {
            BaselineMode::Compare { path } => Some(path),
            BaselineMode::CompareThenSave { baseline, .. } => Some(baseline),
            _ => None,
        }
    }

    /// Where to save this run, if anywhere.
    pub fn save_to(&self) -> Option<&Path> {
        match self {
            BaselineMode::Save { path } => Some(path),
            BaselineMode::CompareThenSave { save, .. } => Some(save),
            _ => None,
        }
    }
}

/// The largest results.json read: 128 MiB. A full run with every experiment
/// writes about 10 MB; a file far larger is not one of ours, and reading it
/// whole could exhaust the memory of a small cgroup.
pub const MAX_RESULTS_BYTES: u64 = 128 << 20;

/// The results.json a `--baseline` value stands for: anything with a `/` is a
/// path (a folder means its results.json; `./x.json` for a file here), and
/// anything else a name (`v6.18`), `<dir>/<name>/results.json`.
pub fn resolve(dir: &Path, name: &str) -> Result<PathBuf, BaselineError> {
    if name.contains('/') {
        let path = PathBuf::from(name);
        return Ok(if path.is_dir() {
            path.join("results.json")
        } else {
            path
        });
    }
    resolve_name(dir, name)
}

/// The results.json of the baseline NAME: `<dir>/<name>/results.json`, never
/// outside `dir`. A name is letters, digits, `.`, `-` and `_`, not starting
/// with `.` (so neither `..` nor a hidden folder) and not ending in `.json`.
pub fn resolve_name(dir: &Path, name: &str) -> Result<PathBuf, BaselineError> {
    if name.contains('/') {
        return Err(BaselineError::PathAsName {
            name: name.to_string(),
        });
    }
    if name.ends_with(".json") {
        return Err(BaselineError::JsonName {
            name: name.to_string(),
        });
    }
    let safe = !name.is_empty()
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
    if !safe {
        return Err(BaselineError::BadName {
            name: name.to_string(),
        });
    }
    Ok(dir.join(name).join("results.json"))
}

/// Reads and checks a results.json (a saved baseline or any run's). Only a
/// regular file of at most [`MAX_RESULTS_BYTES`] is read; a FIFO is opened
/// without waiting for a writer and refused.
pub fn load(path: &Path) -> Result<RunRecord, BaselineError> {
    super::complete::check(path)?;
    let text = read_bounded(path)?;
    parse(&text, path)
}

fn read_bounded(path: &Path) -> Result<String, BaselineError> {
    use std::io::Read;
    use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
    let read_error = |source: std::io::Error| match source.kind() {
        std::io::ErrorKind::NotFound => BaselineError::Missing {
            path: path.to_path_buf(),
            hint: existing_hint(path),
        },
        std::io::ErrorKind::InvalidData => BaselineError::Malformed {
            path: path.to_path_buf(),
            reason: "not UTF-8 text".into(),
        },
        _ => BaselineError::Read {
            path: path.to_path_buf(),
            source,
        },
    };
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::fcntl::OFlag::O_NONBLOCK.bits())
        .open(path)
        .map_err(read_error)?;
    let meta = file.metadata().map_err(read_error)?;
    let kind = meta.file_type();
    if !kind.is_file() {
        let what = if kind.is_dir() {
            "a folder without results.json"
        } else if kind.is_fifo() {
            "a FIFO"
        } else if kind.is_char_device() || kind.is_block_device() {
            "a device"
        } else if kind.is_socket() {
            "a socket"
        } else {
            "not a file"
        };
        return Err(BaselineError::NotAFile {
            path: path.to_path_buf(),
            what,
        });
    }
    if meta.len() > MAX_RESULTS_BYTES {
        return Err(BaselineError::TooLarge {
            path: path.to_path_buf(),
            size: meta.len(),
            limit: MAX_RESULTS_BYTES,
        });
    }
    // Checked as JSON while streaming, keeping nothing, before it is read
    // into memory: a /proc file whose size says 0, or a file of garbage, is
    // refused after its first bytes, not after 128 MiB.
    // Shaped as a record's head, so that a file of another shape (an array
    // of arrays) fails at its first value rather than after a pass over it.
    #[derive(serde::Deserialize)]
    struct Shape {
        #[allow(dead_code)]
        format_version: Option<u64>,
    }
    let mut reader = std::io::BufReader::new((&file).take(MAX_RESULTS_BYTES));
    serde_json::from_reader::<_, Shape>(&mut reader).map_err(|e| {
        if e.is_io() {
            read_error(e.into())
        } else {
            BaselineError::Malformed {
                path: path.to_path_buf(),
                reason: e.to_string(),
            }
        }
    })?;
    drop(reader);
    std::io::Seek::rewind(&mut (&file)).map_err(read_error)?;
    let mut text = String::new();
    file.take(MAX_RESULTS_BYTES)
        .read_to_string(&mut text)
        .map_err(read_error)?;
    Ok(text)
}

/// Checks and parses the text of a results.json; `path` is for messages only.
pub fn parse(text: &str, path: &Path) -> Result<RunRecord, BaselineError> {
    let malformed = |reason: String| BaselineError::Malformed {
        path: path.to_path_buf(),
        reason,
    };
    // The version is checked first, so a newer layout gets the right message
    // rather than a complaint about some field; the rest is skipped unkept,
    // so a hostile file costs no memory here (a tree of values could take ten
    // times its size).
    #[derive(serde::Deserialize)]
    struct Head {
        format_version: Option<u64>,
    }
    let head: Head = serde_json::from_str(text).map_err(|e| malformed(e.to_string()))?;
    let found = head
        .format_version
        .ok_or_else(|| malformed("no format_version field".into()))?;
    if found != u64::from(FORMAT_VERSION) {
        return Err(BaselineError::Version {
            path: path.to_path_buf(),
            found,
            expected: FORMAT_VERSION,
        });
    }
    serde_json::from_str::<super::plausible::Plausible>(text)
        .map_err(|e| malformed(e.to_string()))?;
    json::parse(text).map_err(|e| malformed(e.to_string()))
}

/// Writes `run` as a baseline at `path` atomically: a reader sees the old
/// baseline or the new one, never part of one.
pub fn save(path: &Path, run: &RunRecord) -> Result<(), StoreError> {
    save_text(path, &json::render(run))
}

/// Writes a rendered results.json as a baseline at `path` atomically (the
/// session passes the same text as the run's results.json, statements included).
pub fn save_text(path: &Path, text: &str) -> Result<(), StoreError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|source| StoreError {
            path: dir.to_path_buf(),
            source,
        })?;
    }
    write_atomic(path, text.as_bytes())
}

/// "; saved baselines: a, b" for a missing `<dir>/<name>/results.json`.
fn existing_hint(path: &Path) -> String {
    let Some(dir) = path.parent().and_then(Path::parent) else {
        return String::new();
    };
    let Ok(entries) = std::fs::read_dir(dir) else {
        return String::new();
    };
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        .filter(|e| e.path().join("results.json").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    if names.is_empty() {
        String::new()
    } else {
        format!(
            " (saved baselines in {}: {})",
            dir.display(),
            names.join(", ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURE: &str = include_str!("../../tests/fixtures/runs/mmap-file-quick.json");

    fn run() -> RunRecord {
        json::parse(FIXTURE).expect("the fixture parses")
    }

    #[test]
    fn baselines_are_found_by_name_or_path() {
        let dir = Path::new("/b");
        assert_eq!(
            resolve(dir, "v6.18").expect("name"),
            Path::new("/b/v6.18/results.json")
        );
        assert_eq!(
            resolve(dir, "old/results.json").expect("path"),
            Path::new("old/results.json")
        );
        for bad in ["", ".hidden", "a b", "x;y"] {
            assert!(resolve(dir, bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn bad_baseline_files_name_the_file_and_the_problem() {
        let path = Path::new("base.json");
        let e = parse("{ not json", path).expect_err("malformed");
        assert!(
            e.to_string()
                .starts_with("base.json: not a vmlab results.json"),
            "{e}"
        );
        let e = parse("{}", path).expect_err("no version");
        assert!(e.to_string().contains("no format_version"), "{e}");
        let newer = FIXTURE.replacen("\"format_version\": 1", "\"format_version\": 99", 1);
        let e = parse(&newer, path).expect_err("version");
        assert!(e.to_string().contains("format_version 99"), "{e}");
        let e = load(Path::new("/nonexistent/v1/results.json")).expect_err("missing");
        assert!(e.to_string().contains("--save-baseline"), "{e}");
    }

    #[test]
    fn saving_a_baseline_replaces_it_whole() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = resolve(dir.path(), "v1").expect("name");
        save(&path, &run()).expect("save");
        save(&path, &run()).expect("save again");
        let back = load(&path).expect("load");
        assert_eq!(back.experiments.len(), 1);
        let files: Vec<_> = std::fs::read_dir(path.parent().expect("dir"))
            .expect("read")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(files, ["results.json"]);
    }
}
