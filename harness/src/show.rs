//! `harness show [RUN]`: a saved run told again from its results.json, as the
//! run itself told it (the summary, every table with `-v`, or any `--format`),
//! without running anything. RUN is a run folder, a results.json, or the name
//! of a run in the results folder (`latest` by default).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Result;

use crate::error::UsageError;
use crate::report::{self, Format, TextLayout};
use crate::store::baseline;

/// The results.json `run` names: a path given (a folder holding one, or the
/// file itself), else a run of that name in `root`.
pub fn resolve(run: &str, root: &Path) -> Result<PathBuf, UsageError> {
    let given = Path::new(run);
    let candidates = [given.to_path_buf(), root.join(run)];
    for candidate in candidates {
        if candidate.is_dir() {
            return Ok(candidate.join("results.json"));
        }
        if candidate.is_file() {
            return Ok(candidate);
        }
    }
    Err(UsageError(format!(
        "no run '{run}': neither a run folder or results.json nor a run in {}; \
         `ls {}` lists the runs",
        root.display(),
        root.display()
    )))
}

/// Prints the run `run` names (see [`resolve`]) in `format`; the table format
/// shows every table with `-v`. Exit 0: a reprint judges nothing anew.
pub fn show(run: &str, root: &Path, format: Format, all_mappings: bool) -> Result<ExitCode> {
    let path = resolve(run, root)?;
    let record = baseline::load(&path).map_err(|e| UsageError(e.to_string()))?;
    let view = TextLayout {
        detail: crate::verbosity::verbose(),
        width: report::width::terminal_width(),
        all_mappings,
    };
    crate::verbosity::stdout(report::render_view(&record, format, &view));
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_is_found_by_folder_file_or_name_and_a_bad_name_is_one_line() {
        let root = tempfile::tempdir().expect("temp dir");
        let run = root.path().join("20260101T000000Z-host");
        std::fs::create_dir(&run).expect("run dir");
        std::fs::write(run.join("results.json"), "{}").expect("file");
        let json = run.join("results.json");
        assert_eq!(resolve(run.to_str().unwrap(), root.path()).unwrap(), json);
        assert_eq!(resolve(json.to_str().unwrap(), root.path()).unwrap(), json);
        assert_eq!(resolve("20260101T000000Z-host", root.path()).unwrap(), json);
        let e = resolve("nope", root.path()).unwrap_err().0;
        assert!(e.contains("no run 'nope'") && !e.contains('\n'), "{e}");
    }
}
