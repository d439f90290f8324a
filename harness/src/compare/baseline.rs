//! Baselines on disk: plain results.json files, one folder per name under the
//! baseline folder (`results/baselines/<name>/results.json` by default). This is
//! the only part of [`crate::compare`] that does I/O; every error names its file.

use std::path::{Path, PathBuf};

use crate::error::StoreError;
use crate::model::{RunRecord, FORMAT_VERSION};
use crate::report::json;
use crate::store;

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
    /// The mode the two flags ask for, with names resolved under `dir`.
    pub fn from_flags(
        dir: &Path,
        compare: Option<&str>,
        save: Option<&str>,
    ) -> Result<BaselineMode, BaselineError> {
        let compare = compare.map(|n| resolve(dir, n)).transpose()?;
        let save = save.map(|n| resolve(dir, n)).transpose()?;
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

/// A baseline or results file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum BaselineError {
    /// The file does not exist: usually a baseline that was never saved.
    #[error("{path}: no such file; save a baseline first with --save-baseline NAME{hint}")]
    Missing {
        /// The file looked for.
        path: PathBuf,
        /// The baselines that do exist, if any.
        hint: String,
    },
    /// The file exists but cannot be read.
    #[error("{path}: cannot read: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not JSON, or not the layout of a results.json.
    #[error("{path}: not a vmlab results.json: {reason}")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong, with line and column where JSON says so.
        reason: String,
    },
    /// The file was written by a harness with another layout version.
    #[error("{path}: format_version {found}, but this harness reads format_version {expected}; rerun the baseline with this harness")]
    Version {
        /// The file.
        path: PathBuf,
        /// Its format_version.
        found: u64,
        /// The one this harness reads ([`FORMAT_VERSION`]).
        expected: u32,
    },
    /// A baseline name that is not a safe folder name.
    #[error("baseline name '{name}' is not usable: use letters, digits, '.', '-' and '_' (e.g. v6.18), or a path to a results.json")]
    BadName {
        /// The name given.
        name: String,
    },
}

/// The results.json a baseline name or path stands for: a name (`v6.18`) is
/// `<dir>/<name>/results.json`; anything with a `/` or ending in `.json` is a
/// path, and a folder means its results.json.
pub fn resolve(dir: &Path, name: &str) -> Result<PathBuf, BaselineError> {
    if name.contains('/') || name.ends_with(".json") {
        let path = PathBuf::from(name);
        return Ok(if path.is_dir() {
            path.join("results.json")
        } else {
            path
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

/// Reads and checks a results.json (a saved baseline or any run's).
pub fn load(path: &Path) -> Result<RunRecord, BaselineError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(BaselineError::Missing {
                path: path.to_path_buf(),
                hint: existing_hint(path),
            })
        }
        Err(source) => {
            return Err(BaselineError::Read {
                path: path.to_path_buf(),
                source,
            })
        }
    };
    parse(&text, path)
}

/// Checks and parses the text of a results.json; `path` is for messages only.
pub fn parse(text: &str, path: &Path) -> Result<RunRecord, BaselineError> {
    let malformed = |reason: String| BaselineError::Malformed {
        path: path.to_path_buf(),
        reason,
    };
    // The version is checked first, so a newer layout gets the right message
    // rather than a complaint about some field.
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| malformed(e.to_string()))?;
    let found = value
        .get("format_version")
        .and_then(serde_json::Value::as_u64)
        .ok_or_else(|| malformed("no format_version field".into()))?;
    if found != u64::from(FORMAT_VERSION) {
        return Err(BaselineError::Version {
            path: path.to_path_buf(),
            found,
            expected: FORMAT_VERSION,
        });
    }
    json::parse(text).map_err(|e| malformed(e.to_string()))
}

/// Writes `run` as a baseline at `path` atomically: a reader sees the old
/// baseline or the new one, never part of one.
pub fn save(path: &Path, run: &RunRecord) -> Result<(), StoreError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|source| StoreError {
            path: dir.to_path_buf(),
            source,
        })?;
    }
    store::write_atomic(path, json::render(run).as_bytes())
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
