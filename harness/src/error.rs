//! Error types, one per layer. Variants that touch a file carry its path.

use std::path::PathBuf;
use std::time::Duration;

/// Reading or parsing a process's /proc files failed.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// The process exited before it could be read: the experiment died at a checkpoint.
    #[error("process {pid} is gone (it exited while it should have been waiting at a checkpoint)")]
    ProcessGone {
        /// The process id.
        pid: i32,
    },
    /// The harness may not read this file (another user's process, or hidepid).
    #[error("permission denied reading {path}; run the harness as the user who owns the experiment, or as root")]
    PermissionDenied {
        /// The file.
        path: PathBuf,
    },
    /// Any other I/O error.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The text is not what the kernel is documented to write (or was cut short).
    #[error("cannot parse {path} at line {line_no} ({line:?}): {reason}")]
    Parse {
        /// The file (or fixture) the text came from.
        path: PathBuf,
        /// 1-based line number of the offending line (0 when the text is empty).
        line_no: usize,
        /// The offending line.
        line: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// Running an experiment binary failed.
#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    /// The binary could not be started.
    #[error("cannot start {bin}: {source}")]
    Spawn {
        /// The binary.
        bin: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The experiment wrote something the protocol does not allow at this point.
    #[error("protocol error: expected {expected}, got {got:?}")]
    Protocol {
        /// What the harness waited for.
        expected: String,
        /// What it got.
        got: String,
    },
    /// No message came within the time limit.
    #[error("timed out after {after:?} waiting for the experiment after {checkpoint}")]
    Timeout {
        /// The last checkpoint reached.
        checkpoint: String,
        /// The time limit.
        after: Duration,
    },
    /// The experiment exited without finishing its checkpoints, or exited non-zero.
    #[error("the experiment {status}; its last words on stderr:\n{stderr}")]
    ChildFailed {
        /// How it ended.
        status: String,
        /// The tail of its stderr.
        stderr: String,
    },
    /// A snapshot failed.
    #[error(transparent)]
    Probe(#[from] ProbeError),
    /// Talking to the child over its pipes failed.
    #[error("talking to the experiment: {0}")]
    Io(#[from] std::io::Error),
    /// The user pressed Ctrl-C (or the harness got SIGTERM).
    #[error("interrupted")]
    Interrupted,
}

/// Writing results failed.
#[derive(Debug, thiserror::Error)]
#[error("cannot write {path}: {source}")]
pub struct StoreError {
    /// The file or folder.
    pub path: PathBuf,
    /// The cause.
    pub source: std::io::Error,
}
