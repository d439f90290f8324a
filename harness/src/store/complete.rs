//! Whether a results.json read back belongs to a finished run: a run folder
//! whose owner record is still there is being written, or its writer was
//! killed (SIGKILL leaves no chance to mark it), and its results.json holds
//! only the experiments done so far. A folder marked partial is read, with a
//! note that it is.

use std::path::Path;

use crate::error::BaselineError;
use crate::scratch::{self, OwnerState};

/// Refuses a results.json whose run folder is unfinished; notes a partial one.
pub(super) fn check(path: &Path) -> Result<(), BaselineError> {
    let Some(folder) = path.parent().filter(|f| !f.as_os_str().is_empty()) else {
        return Ok(());
    };
    let why = match scratch::run_owner(folder) {
        None => {
            if folder.join(scratch::PARTIAL_FILE).is_file() {
                crate::verbosity::note(format_args!(
                    "{}: a partial run (stopped before its end): only the experiments that finished are in it",
                    path.display()
                ));
            }
            return Ok(());
        }
        Some(OwnerState::Writing(pid)) => {
            format!("run pid {pid} is still writing this run folder")
        }
        Some(OwnerState::Gone(pid)) => format!(
            "the run (pid {pid}) writing this folder was killed before its end, so its results are incomplete; the next `harness run` marks it -partial"
        ),
    };
    Err(BaselineError::Unfinished {
        path: path.to_path_buf(),
        why,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scratch::OwnerLock;

    #[test]
    fn a_killed_or_running_runs_results_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let results = dir.path().join("results.json");
        std::fs::write(&results, "{}").unwrap();
        assert!(check(&results).is_ok());
        let lock = OwnerLock::acquire(dir.path()).unwrap();
        let e = check(&results).unwrap_err().to_string();
        assert!(e.contains("still writing"), "{e}");
        // A SIGKILL drops the lock and leaves the record.
        drop(lock);
        let e = check(&results).unwrap_err().to_string();
        assert!(e.contains("was killed before its end"), "{e}");
    }
}
