//! Reading a process from outside: the [`Probe`] seam and its implementations.
//!
//! Parsing is pure ([`smaps`], [`status`], [`stat`] take text); a probe only fetches
//! the text, so captured /proc files can be parsed and judged offline
//! ([`DirProbe`]) exactly as live ones ([`ProcProbe`]).
//!
//! [`pagemap`] adds where a declared region's pages physically are. Only a live
//! probe can tell (pagemap is binary and describes one moment of one process), so
//! [`Probe::region_pagemap`] answers `None` unless a probe overrides it.

pub mod io;
pub mod meminfo;
pub mod pagemap;
pub mod population;
pub mod smaps;
pub mod stat;
pub mod status;
pub mod vmstat;

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use crate::error::ProbeError;
use crate::model::{Faults, IoCounters, MappingRecord, RegionPagemap, Totals};

/// The raw text of one process's /proc files at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawSnapshot {
    /// /proc/PID/smaps
    pub smaps: String,
    /// /proc/PID/status
    pub status: String,
    /// /proc/PID/stat
    pub stat: String,
}

/// Fetches the /proc text of a process.
pub trait Probe {
    /// Reads smaps, status and stat of `pid`.
    fn read(&self, pid: i32) -> Result<RawSnapshot, ProbeError>;

    /// Where `len` bytes from `start` of `pid` physically are (pagemap); `None`
    /// when this probe cannot tell (captured text has no pagemap).
    fn region_pagemap(
        &self,
        _pid: i32,
        _start: u64,
        _len: u64,
        _page_size: u64,
    ) -> Option<RegionPagemap> {
        None
    }

    /// The storage I/O charged to `pid` so far (/proc/PID/io); `None` when this
    /// probe cannot tell (captured text, or no ptrace access).
    fn io(&self, _pid: i32) -> Option<IoCounters> {
        None
    }
}

/// Reads the live /proc of this machine.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcProbe;

impl Probe for ProcProbe {
    fn read(&self, pid: i32) -> Result<RawSnapshot, ProbeError> {
        read_dir(&PathBuf::from(format!("/proc/{pid}")), pid)
    }

    fn region_pagemap(
        &self,
        pid: i32,
        start: u64,
        len: u64,
        page_size: u64,
    ) -> Option<RegionPagemap> {
        pagemap::read_region(pid, start, len, page_size)
    }

    fn io(&self, pid: i32) -> Option<IoCounters> {
        io::read(pid).ok()
    }
}

/// Serves snapshots from a folder laid out as `<root>/<pid>/{smaps,status,stat}`
/// (captured fixtures, or a results `raw/` folder).
#[derive(Debug, Clone)]
pub struct DirProbe {
    /// The folder holding one subfolder per pid.
    pub root: PathBuf,
}

impl Probe for DirProbe {
    fn read(&self, pid: i32) -> Result<RawSnapshot, ProbeError> {
        read_dir(&self.root.join(pid.to_string()), pid)
    }
}

fn read_dir(dir: &Path, pid: i32) -> Result<RawSnapshot, ProbeError> {
    let read = |name: &str| {
        let path = dir.join(name);
        std::fs::read_to_string(&path).map_err(|source| match source.kind() {
            ErrorKind::NotFound => ProbeError::ProcessGone { pid },
            ErrorKind::PermissionDenied => ProbeError::PermissionDenied { path },
            _ if source.raw_os_error() == Some(nix::errno::Errno::ESRCH as i32) => {
                ProbeError::ProcessGone { pid }
            }
            _ => ProbeError::Io { path, source },
        })
    };
    // stat first: its fault counters are the figure most sensitive to the order.
    let stat = read("stat")?;
    let smaps = read("smaps")?;
    let status = read("status")?;
    if status
        .lines()
        .any(|l| l.starts_with("State:") && l.contains("zombie"))
    {
        return Err(ProbeError::ProcessGone { pid });
    }
    // A process caught between releasing its memory and becoming a zombie
    // has a status with no Vm* lines; its stat, read again, says it is
    // exiting. Only a kernel thread has no Vm* lines and is not exiting.
    if !status.lines().any(|l| l.starts_with("VmSize:"))
        && read("stat").map_or(true, |again| stat::is_exiting(&again))
    {
        return Err(ProbeError::ProcessGone { pid });
    }
    Ok(RawSnapshot {
        smaps,
        status,
        stat,
    })
}

/// A snapshot parsed into the figures the model records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedSnapshot {
    /// Cumulative minor and major faults.
    pub faults_total: Faults,
    /// Whole-process figures (Pss and USS summed from the mappings).
    pub totals: Totals,
    /// Every mapping, in address order.
    pub mappings: Vec<MappingRecord>,
}

/// Parses a raw snapshot; `source` names where it came from, for errors.
pub fn parse_snapshot(raw: &RawSnapshot, source: &Path) -> Result<ParsedSnapshot, ProbeError> {
    let faults_total = stat::parse_faults(&raw.stat, &source.join("stat"))?;
    let mut totals = status::parse_totals(&raw.status, &source.join("status"))?;
    let mappings = smaps::parse(&raw.smaps, &source.join("smaps"))?;
    for m in &mappings {
        let f = &m.figures;
        totals.mapped_rss_bytes = totals.mapped_rss_bytes.saturating_add(f.rss_bytes);
        totals.pss_bytes = totals.pss_bytes.saturating_add(f.pss_bytes);
        totals.uss_bytes = totals
            .uss_bytes
            .saturating_add(f.private_clean_bytes.saturating_add(f.private_dirty_bytes));
    }
    Ok(ParsedSnapshot {
        faults_total,
        totals,
        mappings,
    })
}

/// Builds a parse error for `text` at 1-based `line_no`.
pub(crate) fn parse_error(
    path: &Path,
    text: &str,
    line_no: usize,
    reason: impl Into<String>,
) -> ProbeError {
    ProbeError::Parse {
        path: path.to_path_buf(),
        line_no,
        line: text
            .lines()
            .nth(line_no.saturating_sub(1))
            .unwrap_or("")
            .to_string(),
        reason: reason.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// kthreadd's /proc/2 as the kernel wrote it (tests/fixtures/proc/NOTES.md):
    /// a status with no Vm* lines and a stat that is not exiting.
    fn kernel_thread() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/proc/kernel-thread")
    }

    /// The kernel thread's files under `<dir>/2`, its stat's flags replaced by `flags`.
    fn with_flags(flags: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let pid = dir.path().join("2");
        std::fs::create_dir(&pid).unwrap();
        for name in ["smaps", "status"] {
            std::fs::copy(kernel_thread().join(name), pid.join(name)).unwrap();
        }
        let stat = std::fs::read_to_string(kernel_thread().join("stat")).unwrap();
        std::fs::write(pid.join("stat"), stat.replace(" 2129984 ", flags)).unwrap();
        dir
    }

    #[test]
    fn a_process_that_released_its_memory_on_the_way_out_is_gone() {
        // PF_EXITING (0x4) added to the flags, without PF_KTHREAD.
        let dir = with_flags(" 4194308 ");
        let probe = DirProbe {
            root: dir.path().to_path_buf(),
        };
        let err = probe.read(2).unwrap_err();
        assert!(matches!(err, ProbeError::ProcessGone { pid: 2 }), "{err}");
    }

    #[test]
    fn a_task_with_no_memory_that_is_not_exiting_reaches_the_parser() {
        let dir = with_flags(" 2129984 ");
        let probe = DirProbe {
            root: dir.path().to_path_buf(),
        };
        let raw = probe.read(2).unwrap();
        let err = parse_snapshot(&raw, Path::new("/proc/2")).unwrap_err();
        assert!(err.to_string().contains("no VmSize line"), "{err}");
    }
}
