//! /proc/PID/io: the storage I/O the kernel charged to a process. `read_bytes`
//! counts what the process caused to be read from a block device, including the
//! read-ahead its page faults started (the bio is submitted from the faulting
//! task), so it shows the disk work that fault counts hide: read-ahead reads a
//! file in under minor faults, and only the faults that waited count as major.

use std::path::PathBuf;

use crate::error::ProbeError;
use crate::model::IoCounters;

/// Parses /proc/PID/io; `path` names the file in errors.
pub fn parse(text: &str, path: &std::path::Path) -> Result<IoCounters, ProbeError> {
    let mut counters = IoCounters::default();
    let mut seen = 0;
    for (index, line) in text.lines().enumerate() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let field = match key.trim() {
            "rchar" => &mut counters.rchar_bytes,
            "wchar" => &mut counters.wchar_bytes,
            "read_bytes" => &mut counters.read_bytes,
            "write_bytes" => &mut counters.write_bytes,
            _ => continue,
        };
        *field = value.trim().parse().map_err(|_| {
            crate::probe::parse_error(path, text, index + 1, "expected a byte count")
        })?;
        seen += 1;
    }
    if seen < 4 {
        return Err(crate::probe::parse_error(
            path,
            text,
            text.lines().count(),
            "rchar, wchar, read_bytes or write_bytes missing (truncated?)",
        ));
    }
    Ok(counters)
}

/// Reads /proc/PID/io (the caller needs ptrace access to `pid`: same user, or root).
pub fn read(pid: i32) -> Result<IoCounters, ProbeError> {
    let path = PathBuf::from(format!("/proc/{pid}/io"));
    let text = std::fs::read_to_string(&path).map_err(|source| ProbeError::Io {
        path: path.clone(),
        source,
    })?;
    parse(&text, &path)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Captured from `cat /proc/self/io` on Linux 6.18 (x86-64).
    const CAPTURED: &str = "rchar: 6976\nwchar: 0\nsyscr: 10\nsyscw: 0\nread_bytes: 0\nwrite_bytes: 0\ncancelled_write_bytes: 0\n";

    #[test]
    fn parses_captured_proc_io() {
        let io = parse(CAPTURED, std::path::Path::new("/proc/self/io")).unwrap();
        assert_eq!(io.rchar_bytes, 6976);
        assert_eq!(io.read_bytes, 0);
    }

    #[test]
    fn a_truncated_file_is_a_parse_error() {
        let err = parse("rchar: 1\nwchar: 2\n", std::path::Path::new("/proc/1/io"));
        assert!(matches!(err, Err(ProbeError::Parse { .. })), "{err:?}");
    }

    #[test]
    fn the_live_file_of_this_process_parses() {
        let io = read(std::process::id() as i32).unwrap();
        assert!(io.rchar_bytes > 0);
    }
}
