//! Reading a process from outside: the [`Probe`] seam and its implementations.
//!
//! Parsing is pure ([`smaps`], [`status`], [`stat`] take text); a probe only fetches
//! the text, so captured /proc files can be parsed and judged offline
//! ([`DirProbe`]) exactly as live ones ([`ProcProbe`]).
//!
//! Everything the runner reads of the machine while an experiment runs goes
//! through a [`Probe`]: the processes' files, their resident size between
//! checkpoints, the system-wide counters, the OOM counters and a checkpoint's
//! population of children. [`TreeProbe`] reads all of it from a folder laid out
//! like `/` (a fixture tree in tests, `/` live), so a whole session can run on
//! captured text.
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
use crate::model::{
    Faults, IoCounters, MappingRecord, PopulationRecord, RegionPagemap, SystemCounters, Totals,
};
use crate::system::{MemoryCgroup, OomCounters, Root};

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

    /// The resident pages of `pid` (/proc/PID/statm), a cheap read that does not
    /// touch the process's memory; `None` when this probe cannot tell.
    fn resident_pages(&self, _pid: i32) -> Option<u64> {
        None
    }

    /// The machine-wide counters now (/proc/meminfo with /proc/vmstat); `None`
    /// when this probe cannot tell.
    fn system(&self) -> Option<SystemCounters> {
        None
    }

    /// The counters that tell an OOM kill happened, read now (all unknown when
    /// this probe cannot tell).
    fn oom_counters(&self) -> OomCounters {
        OomCounters::default()
    }

    /// The memory limit of the harness's cgroup, if one is set and readable.
    fn memory_limit(&self) -> Option<u64> {
        None
    }

    /// The machine-wide counters of /proc/meminfo alone (no /proc/vmstat), as
    /// a traced or watched program records them; `None` when this probe cannot tell.
    fn meminfo(&self) -> Option<SystemCounters> {
        None
    }

    /// The text of one file of `pid`'s /proc folder, `file` relative to it
    /// (`stat`, `comm`, `task/TID/syscall`), for the looks at a process that do
    /// not snapshot it; `None` once it is gone or when this probe cannot tell.
    fn process_text(&self, _pid: i32, _file: &str) -> Option<String> {
        None
    }

    /// Where a link of `pid`'s /proc folder points (`exe`, `fd/0`); `None`
    /// once it is gone or when this probe cannot tell.
    fn process_link(&self, _pid: i32, _file: &str) -> Option<PathBuf> {
        None
    }

    /// The thread ids of `pid` (its `task/` folder), the main thread's among
    /// them; empty once it is gone or when this probe cannot tell.
    fn threads(&self, _pid: i32) -> Vec<i32> {
        Vec::new()
    }

    /// The children of `pid`, sorted; empty once it is gone or when this
    /// probe cannot tell.
    fn children(&self, _pid: i32) -> Vec<i32> {
        Vec::new()
    }

    /// Every child of `parent`, briefly, as one population named `role`, read in
    /// up to `threads` threads; an error when this probe cannot list processes.
    fn population(
        &self,
        parent: i32,
        _role: &str,
        _threads: usize,
    ) -> Result<PopulationRecord, ProbeError> {
        Err(ProbeError::Incomplete {
            path: PathBuf::from(parent.to_string()),
            reason: "this probe cannot list a process's children".into(),
        })
    }
}

/// Reads the /proc and /sys under a folder laid out like `/`: `/` itself on
/// the running machine, a tree of captured files in tests.
#[derive(Debug, Clone)]
pub struct TreeProbe {
    /// Where `proc/` and `sys/` are.
    pub root: Root,
}

impl TreeProbe {
    fn proc_dir(&self) -> PathBuf {
        self.root.path("/proc")
    }
}

impl Probe for TreeProbe {
    fn read(&self, pid: i32) -> Result<RawSnapshot, ProbeError> {
        read_dir(&self.proc_dir().join(pid.to_string()), pid)
    }

    fn resident_pages(&self, pid: i32) -> Option<u64> {
        let statm = self.root.text(format!("/proc/{pid}/statm"))?;
        statm.split_whitespace().nth(1)?.parse().ok()
    }

    fn system(&self) -> Option<SystemCounters> {
        let mut counters = meminfo::read_in(&self.root).ok()?;
        counters.vmstat = vmstat::read_in(&self.root).ok();
        Some(counters)
    }

    fn oom_counters(&self) -> OomCounters {
        OomCounters::read_in(&self.root, MemoryCgroup::detect_in(&self.root).as_ref())
    }

    fn memory_limit(&self) -> Option<u64> {
        MemoryCgroup::detect_in(&self.root).and_then(|c| c.limit_bytes())
    }

    fn population(
        &self,
        parent: i32,
        role: &str,
        threads: usize,
    ) -> Result<PopulationRecord, ProbeError> {
        population::snapshot_in(&self.proc_dir(), parent, role, threads)
    }

    fn meminfo(&self) -> Option<SystemCounters> {
        meminfo::read_in(&self.root).ok()
    }

    fn process_text(&self, pid: i32, file: &str) -> Option<String> {
        std::fs::read_to_string(self.proc_dir().join(pid.to_string()).join(file)).ok()
    }

    fn process_link(&self, pid: i32, file: &str) -> Option<PathBuf> {
        std::fs::read_link(self.proc_dir().join(pid.to_string()).join(file)).ok()
    }

    fn threads(&self, pid: i32) -> Vec<i32> {
        let task = self.proc_dir().join(pid.to_string()).join("task");
        let Ok(entries) = std::fs::read_dir(task) else {
            return Vec::new();
        };
        let mut tids: Vec<i32> = entries
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse().ok())
            .collect();
        tids.sort_unstable();
        tids
    }

    fn children(&self, pid: i32) -> Vec<i32> {
        population::children_by_task_in(&self.proc_dir(), pid)
    }
}

/// Reads the live /proc and /sys of this machine: a [`TreeProbe`] at `/`, and
/// the binary files only a live process has (pagemap, io).
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcProbe;

impl ProcProbe {
    fn tree() -> TreeProbe {
        TreeProbe { root: Root::live() }
    }
}

impl Probe for ProcProbe {
    fn read(&self, pid: i32) -> Result<RawSnapshot, ProbeError> {
        ProcProbe::tree().read(pid)
    }

    fn resident_pages(&self, pid: i32) -> Option<u64> {
        ProcProbe::tree().resident_pages(pid)
    }

    fn system(&self) -> Option<SystemCounters> {
        ProcProbe::tree().system()
    }

    fn oom_counters(&self) -> OomCounters {
        ProcProbe::tree().oom_counters()
    }

    fn memory_limit(&self) -> Option<u64> {
        ProcProbe::tree().memory_limit()
    }

    fn population(
        &self,
        parent: i32,
        role: &str,
        threads: usize,
    ) -> Result<PopulationRecord, ProbeError> {
        ProcProbe::tree().population(parent, role, threads)
    }

    fn meminfo(&self) -> Option<SystemCounters> {
        ProcProbe::tree().meminfo()
    }

    fn process_text(&self, pid: i32, file: &str) -> Option<String> {
        ProcProbe::tree().process_text(pid, file)
    }

    fn process_link(&self, pid: i32, file: &str) -> Option<PathBuf> {
        ProcProbe::tree().process_link(pid, file)
    }

    fn threads(&self, pid: i32) -> Vec<i32> {
        ProcProbe::tree().threads(pid)
    }

    fn children(&self, pid: i32) -> Vec<i32> {
        ProcProbe::tree().children(pid)
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

/// The processes captured in tests/fixtures/trace (see its NOTES.md): a
/// shell with two children, and a two-threaded program.
#[cfg(test)]
pub(crate) fn traced() -> TreeProbe {
    TreeProbe {
        root: Root::at(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/trace/root")),
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
    fn a_tree_probe_reads_the_machine_and_a_process_under_its_root() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/session/root");
        let dir = tempfile::tempdir().unwrap();
        let copy = dir.path().join("proc/2");
        std::fs::create_dir_all(&copy).unwrap();
        for name in ["smaps", "status", "stat"] {
            std::fs::copy(kernel_thread().join(name), copy.join(name)).unwrap();
        }
        std::fs::write(copy.join("statm"), "1000 37 20 1 0 50 0\n").unwrap();
        let probe = TreeProbe {
            root: Root::at(dir.path()),
        };
        assert_eq!(probe.resident_pages(2), Some(37));
        assert!(probe.read(2).is_ok());
        assert!(matches!(
            probe.read(3),
            Err(ProbeError::ProcessGone { pid: 3 })
        ));
        assert_eq!(probe.system(), None, "no meminfo in this tree");
        let captured = TreeProbe {
            root: Root::at(&root),
        };
        let system = captured.system().expect("meminfo and vmstat are captured");
        assert!(system.vmstat.is_some());
        assert!(captured.oom_counters().system_kills.is_some());
        // The captured v1 cgroup sets no limit.
        assert_eq!(captured.memory_limit(), None);
    }

    #[test]
    fn a_tree_probe_looks_at_a_process_without_snapshotting_it() {
        let probe = traced();
        assert_eq!(probe.process_text(29692, "comm").as_deref(), Some("cat\n"));
        assert!(probe
            .process_text(29689, "task/29795/wchan")
            .is_some_and(|w| w == "anon_pipe_read"));
        assert_eq!(probe.process_text(4, "stat"), None, "no such process");
        assert_eq!(
            probe.process_link(29692, "fd/0"),
            Some(PathBuf::from("pipe:[45828]"))
        );
        assert_eq!(
            probe.process_link(29691, "exe"),
            Some(PathBuf::from("/usr/bin/sleep"))
        );
        assert_eq!(probe.threads(29689), vec![29689, 29795]);
        assert_eq!(probe.threads(29691), vec![29691]);
        assert_eq!(probe.children(29687), vec![29691, 29692]);
        assert_eq!(probe.children(29689), Vec::<i32>::new());
        let session = TreeProbe {
            root: Root::at(
                Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/session/root"),
            ),
        };
        let meminfo = session.meminfo().expect("meminfo is captured");
        assert_eq!(meminfo.vmstat, None, "meminfo alone");
        assert_eq!(traced().meminfo(), None, "no meminfo in this tree");
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
