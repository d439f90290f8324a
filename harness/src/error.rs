//! Error types, one per layer, in the bottom layer so that any module can
//! return or recognise them (a [`UsageError`] is exit 2 wherever it comes
//! from). Variants that touch a file carry its path.

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
    /// The file parsed, but lacks a field the harness needs (an older kernel, a
    /// kernel built without the feature), or its layout is not the documented one.
    #[error("{path}: {reason}")]
    Incomplete {
        /// The file.
        path: PathBuf,
        /// Which field is missing, or what the parser said.
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
    /// The experiment named a checkpoint, role, region or note that its contract
    /// (`experiments::catalog`) does not list: the binary and the harness drifted.
    #[error("{binary} announced {kind} {name:?}, which its contract in experiments::catalog does not list")]
    Contract {
        /// The experiment's binary.
        binary: String,
        /// What kind of name.
        kind: String,
        /// The name.
        name: String,
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

/// A mistake in what the user asked for (exit 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// The run was interrupted by Ctrl-C or SIGTERM (exit 130).
#[derive(Debug, thiserror::Error)]
#[error("interrupted; experiments stopped and their temporary files removed")]
pub struct Interrupted;

/// Writing results failed.
#[derive(Debug, thiserror::Error)]
#[error("cannot write {path}: {source}")]
pub struct StoreError {
    /// The file or folder.
    pub path: PathBuf,
    /// The cause.
    pub source: std::io::Error,
}

/// Why a folder cannot take a run's output.
#[derive(Debug)]
pub enum RoomError {
    /// The folder cannot be created, or a file cannot be written in it
    /// (permissions, a read-only file system, a file where the folder should be).
    NotWritable {
        /// The folder.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Writable, but with less free space than the output needs.
    Full {
        /// The folder.
        path: PathBuf,
        /// Its free bytes (for this user).
        free: u64,
    },
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
        /// The one this harness reads ([`crate::model::FORMAT_VERSION`]).
        expected: u32,
    },
    /// A baseline name that is not a safe folder name.
    #[error("baseline name '{name}' is not usable: use letters, digits, '.', '-' and '_' (e.g. v6.18), or a path to a results.json")]
    BadName {
        /// The name given.
        name: String,
    },
    /// A name that reads like a file: names are folders in the baseline folder.
    #[error("baseline name '{name}' ends in .json, but a name is a folder in the baseline folder; for a file write a path such as ./{name}")]
    JsonName {
        /// The name given.
        name: String,
    },
    /// `--save-baseline` was given a path: it writes only inside the baseline folder.
    #[error("--save-baseline takes a name (a folder in the baseline folder), not the path '{name}'; to write a file elsewhere pass --save-baseline-file PATH")]
    PathAsName {
        /// The value given.
        name: String,
    },
    /// The path is a FIFO, a device, a folder without results.json, ...: reading
    /// it could block or never end.
    #[error(
        "{path}: {what}, not a regular file; pass a results.json or the run folder holding one"
    )]
    NotAFile {
        /// The path.
        path: PathBuf,
        /// What it is.
        what: &'static str,
    },
    /// The file is larger than any results.json the harness writes.
    #[error("{path}: {size} bytes, more than the {limit} bytes a results.json may have; pass a results.json")]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Its size in bytes.
        size: u64,
        /// [`crate::store::baseline::MAX_RESULTS_BYTES`].
        limit: u64,
    },
    /// A baseline would be saved over something that is not a results.json
    /// vmlab wrote (a FIFO, a device, someone's file): refused before the run.
    #[error("{path} is {what}; a baseline is saved only as a new file or over a results.json vmlab wrote: pass another path, or remove it first")]
    SaveTarget {
        /// The path given.
        path: PathBuf,
        /// What is there.
        what: String,
    },
    /// The file is in a run folder whose writer is still writing it or was
    /// killed before its end (its owner record says so): not a complete run.
    #[error("{path}: {why}; compare a complete run, or a -partial folder knowingly")]
    Unfinished {
        /// The file.
        path: PathBuf,
        /// Whose run it is and what became of it.
        why: String,
    },
}

/// The one line a command-line mistake found by clap is reported as: what is
/// wrong (clap's first line, with the lines that complete it such as the missing
/// argument or the possible values) and what to do (clap's tip, if it has one,
/// and the `--help` of the command concerned). Clap's own rendering spreads this
/// over three to seven lines. `subcommand` is the one the command line named, if
/// any (clap's message does not always say).
pub fn clap_error_line(err: &clap::Error, subcommand: Option<&str>) -> String {
    use clap::error::ErrorKind;
    let command = match subcommand {
        Some(name) => format!("harness {name}"),
        None => "harness".to_string(),
    };
    if err.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
        return format!(
            "a command is needed (all, run, list, explain, compare or matrix); `{command} --help` explains them"
        );
    }
    let text = err.render().to_string();
    let mut what = String::new();
    let mut hints: Vec<String> = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with("Usage:") || line.starts_with("For more information")
        {
            continue;
        }
        if let Some(tip) = line.strip_prefix("tip:") {
            hints.push(tip.trim().to_string());
            continue;
        }
        let line = line.strip_prefix("error:").unwrap_or(line).trim();
        let line = line
            .strip_prefix('[')
            .and_then(|l| l.strip_suffix(']'))
            .unwrap_or(line);
        if what.is_empty() {
            what.push_str(line);
        } else if let Some(head) = what.strip_suffix(':') {
            // "the following required arguments were not provided:" + "<NAME>"
            what = format!("{head}: {line}");
        } else {
            what.push_str("; ");
            what.push_str(line);
        }
    }
    hints.push(format!("`{command} --help` lists what it takes"));
    format!("{}; {}", what.trim_end_matches(':'), hints.join("; "))
}

/// The subcommand a command line names: its first word that is not an option,
/// if it is one of `names`.
pub fn named_subcommand<'a>(args: &[String], names: &[&'a str]) -> Option<&'a str> {
    let first = args.iter().skip(1).find(|a| !a.starts_with('-'))?;
    names.iter().copied().find(|n| n == first)
}

/// Any error as the one line the harness prints: the messages of its chain, each
/// cause said once (an I/O error already quoted by its context is not repeated),
/// and line breaks in a message (an experiment's last words) folded into " / ".
pub fn one_line(err: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if line.contains(text.trim()) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(text.trim());
    }
    line.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" / ")
}

/// The operating system's error under tempfile's wrapper, which adds the
/// temporary file's path to the message: the path that matters to the user is
/// the folder or result file, which the caller names already, so the cause is
/// said once ("Read-only file system (os error 30)", not that plus a temp name).
pub fn plain_io(error: std::io::Error) -> std::io::Error {
    let code = error
        .get_ref()
        .and_then(|inner| std::error::Error::source(inner))
        .and_then(|source| source.downcast_ref::<std::io::Error>())
        .and_then(std::io::Error::raw_os_error);
    if let Some(code) = code {
        return std::io::Error::from_raw_os_error(code);
    }
    // tempfile's wrapper writes "<cause> at path \"<temp file>\"".
    let text = error.get_ref().map(ToString::to_string);
    match text.as_deref().and_then(|t| t.rsplit_once(" at path \"")) {
        Some((cause, _)) => std::io::Error::new(error.kind(), cause.to_string()),
        None => error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cause_quoted_by_its_context_is_said_once_on_one_line() {
        let io = std::io::Error::from(nix::errno::Errno::ENOSPC);
        let store = StoreError {
            path: "/r/results.json".into(),
            source: io,
        };
        let line = one_line(&anyhow::Error::new(store).context("kept in /r"));
        assert_eq!(
            line,
            "kept in /r: cannot write /r/results.json: No space left on device (os error 28)"
        );
        let multi = anyhow::anyhow!("the experiment failed; its last words:\nline one\n\nline two");
        assert_eq!(
            one_line(&multi),
            "the experiment failed; its last words: / line one / line two"
        );
    }

    #[test]
    fn tempfiles_wrapper_is_taken_off_an_os_error() {
        let base = tempfile::tempdir().unwrap();
        let file = base.path().join("file");
        std::fs::write(&file, "x").unwrap();
        let err = tempfile::tempdir_in(&file).unwrap_err();
        assert!(err.to_string().contains(" at path "), "{err}");
        let plain = plain_io(err);
        assert!(!plain.to_string().contains(" at path "), "{plain}");
    }
}
