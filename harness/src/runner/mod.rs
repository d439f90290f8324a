//! Running one variant of an experiment: spawn it, follow its checkpoints,
//! snapshot every named process while it waits, and build its [`VariantRecord`].
//!
//! The experiment's stdout carries protocol lines (read on a thread so that every
//! wait has a timeout), its stderr is kept for the error message should it fail,
//! and `go` goes down its stdin.

pub mod child;
pub mod interrupt;
pub mod lines;
pub mod locate;
pub mod snapshot;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io::{BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use experiments::catalog::NameKind;
use experiments::protocol::{self, Event, ProcessRef};
use experiments::ExperimentInfo;

use crate::error::RunnerError;
pub use crate::model::parse_hex;
use crate::model::{
    CheckpointRecord, Faults, MappingRecord, MemoryFigures, NoiseFloor, ProcessRecord,
    RegionRecord, Status, VariantRecord,
};
use crate::probe::{parse_snapshot, ParsedSnapshot, Probe, RawSnapshot};
use crate::system::OomCounters;
use child::ChildGuard;

/// How mapping names show the run's private temp folder, so that names are the
/// same from run to run.
pub const TEMP_DIR_NAME: &str = "<temp dir>";

/// How often a wait wakes to check for Ctrl-C and to sample VmRSS.
const POLL: Duration = Duration::from_millis(50);
/// How much of the experiment's stderr is kept for error messages.
const STDERR_TAIL_BYTES: usize = 16 * 1024;

static INTERRUPTED: AtomicBool = AtomicBool::new(false);
static INTERRUPTS: AtomicUsize = AtomicUsize::new(0);

/// Marks the run as interrupted; every wait notices within `POLL`.
pub fn request_interrupt() {
    INTERRUPTED.store(true, Ordering::SeqCst);
    INTERRUPTS.fetch_add(1, Ordering::SeqCst);
}

/// How many times [`request_interrupt`] was called: a Ctrl-C after the run
/// ended (while the lecture page still shows it) is told by a new count.
pub fn interrupt_count() -> usize {
    INTERRUPTS.load(Ordering::SeqCst)
}

/// Whether Ctrl-C (or SIGTERM) arrived.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// What to run.
#[derive(Debug, Clone)]
pub struct VariantSpec {
    /// Kebab-case variant name.
    pub name: String,
    /// The experiment binary.
    pub binary: PathBuf,
    /// Its arguments (the runner adds `--dir <temp dir>`).
    pub args: Vec<OsString>,
    /// The longest the experiment may take between two messages.
    pub timeout: Duration,
    /// The experiment's contract: a checkpoint, role, region or note it does not
    /// list fails the variant (`None` for programs that have none, as traced ones).
    pub contract: Option<&'static ExperimentInfo>,
}

/// The raw /proc text of one snapshot, kept beside the results.
#[derive(Debug, Clone)]
pub struct RawCapture {
    /// Position of the checkpoint in the variant (0-based).
    pub index: usize,
    /// Its label.
    pub label: String,
    /// The process's role.
    pub role: String,
    /// The text.
    pub snapshot: RawSnapshot,
}

/// A finished variant: the record plus the raw text behind it.
#[derive(Debug, Clone)]
pub struct VariantOutcome {
    /// What was measured.
    pub record: VariantRecord,
    /// One capture per process and checkpoint.
    pub raw: Vec<RawCapture>,
    /// Ctrl-C (or q in step mode) stopped the variant before its end: the
    /// record holds the checkpoints reached until then.
    pub stopped: bool,
}

/// What the runner tells its caller while it works (for progress display).
#[derive(Debug, Clone)]
pub enum RunnerEvent {
    /// Preparation progress reported by the experiment.
    Progress {
        /// Units done.
        done: u64,
        /// Units in all.
        total: u64,
        /// What is being done.
        what: String,
    },
    /// A checkpoint was reached and snapshotted. The experiment waits until the
    /// callback returns, so a caller may pause here (step mode).
    Checkpoint {
        /// What was measured there.
        record: Box<CheckpointRecord>,
    },
}

/// Runs one variant in `temp_dir` (which the caller owns and removes). Returns
/// the record also when the experiment fails (status `failed`, with what was
/// measured up to then); Ctrl-C (or q in step mode) returns what was reached,
/// marked [`VariantOutcome::stopped`].
pub fn run_variant(
    spec: &VariantSpec,
    probe: &dyn Probe,
    temp_dir: &Path,
    on_event: &mut dyn FnMut(RunnerEvent),
) -> Result<VariantOutcome, RunnerError> {
    let mut session = Session {
        record: VariantRecord::new(spec.name.clone()),
        raw: Vec::new(),
        regions: Vec::new(),
        previous: BTreeMap::new(),
        temp_dir: temp_dir.to_path_buf(),
        phase_start: Instant::now(),
        ready_at: None,
        page_size: 0,
    };
    let mut args = spec.args.clone();
    args.push(experiments::prelude::DIR_OPTION.into());
    args.push(temp_dir.into());
    let mut stopped = false;
    match drive(spec, &args, probe, &mut session, on_event) {
        Ok(()) => {}
        Err(RunnerError::Interrupted) => stopped = true,
        Err(e) => {
            session.record.status = Status::Failed;
            session.record.reason = Some(e.to_string());
        }
    }
    Ok(VariantOutcome {
        record: session.record,
        raw: session.raw,
        stopped,
    })
}

/// The state of one variant while it runs.
struct Session {
    record: VariantRecord,
    raw: Vec<RawCapture>,
    regions: Vec<(String, u64, u64)>,
    /// The last snapshot of each role: pid, faults, VmRSS.
    previous: BTreeMap<String, (i32, Faults, u64)>,
    temp_dir: PathBuf,
    phase_start: Instant,
    /// When the experiment said ready, and its pid (for VmRSS samples).
    ready_at: Option<(Instant, i32)>,
    /// The page size the experiment announced, for reading pagemap.
    page_size: u64,
}

fn drive(
    spec: &VariantSpec,
    args: &[OsString],
    probe: &dyn Probe,
    session: &mut Session,
    on_event: &mut dyn FnMut(RunnerEvent),
) -> Result<(), RunnerError> {
    // Read before the start, so that a SIGKILL can be told apart: the OOM
    // killer's (its counters rise) or another's.
    let oom_before = probe.oom_counters();
    let mut child = Running::start(spec, args)?;
    let mut last_label = "start".to_string();
    let mut ready = false;
    loop {
        let line = match next_line(&child.lines, spec.timeout, &last_label, &mut || {
            session.sample_rss(probe)
        })? {
            Some(line) => line,
            None => return Err(child.closed_early(&last_label, probe, &oom_before)),
        };
        let event = parse_event(spec, &line, ready)?;
        if let Event::Ready { pid, page_size } = event {
            if pid != child.guard.pid() {
                return Err(RunnerError::Protocol {
                    expected: format!("ready pid={}", child.guard.pid()),
                    got: line,
                });
            }
            session.page_size = page_size;
            ready = true;
            session.ready_at = Some((Instant::now(), pid));
            release(&mut child.stdin)?;
            continue;
        }
        match session.follow(event, probe, &mut child.stdin, on_event, &mut last_label)? {
            Next::Line => {}
            Next::Skipped => {
                let _ = child.guard.wait_for_exit(Duration::from_secs(5))?;
                return Ok(());
            }
            Next::Done => return child.finish(spec.timeout, probe, &oom_before),
        }
    }
}

/// Parses one protocol line and checks it against the contract; nothing but
/// `ready` may come first.
fn parse_event(spec: &VariantSpec, line: &str, ready: bool) -> Result<Event, RunnerError> {
    let event = protocol::parse(line).map_err(|e| RunnerError::Protocol {
        expected: "a vmlab-protocol line".into(),
        got: e.to_string(),
    })?;
    if let Some(contract) = spec.contract {
        check_contract(contract, &event)?;
    }
    if !ready && !matches!(event, Event::Ready { .. }) {
        return Err(RunnerError::Protocol {
            expected: "ready".into(),
            got: line.to_string(),
        });
    }
    Ok(event)
}

/// What the runner does after a message.
enum Next {
    /// Reads the next line.
    Line,
    /// The experiment skipped itself: waits for it to exit.
    Skipped,
    /// The experiment said done: waits for its exit status.
    Done,
}

/// A spawned experiment and the threads reading its output.
struct Running {
    guard: ChildGuard,
    lines: Receiver<std::io::Result<String>>,
    stdin: std::process::ChildStdin,
    stderr_tail: Arc<Mutex<Vec<u8>>>,
    stderr_thread: JoinHandle<()>,
}

impl Running {
    fn start(spec: &VariantSpec, args: &[OsString]) -> Result<Running, RunnerError> {
        let (guard, pipes) = ChildGuard::spawn(&spec.binary, args)?;
        let stdout = pipes.stdout;
        let stderr_tail = Arc::new(Mutex::new(Vec::new()));
        Ok(Running {
            guard,
            lines: lines::spawn(move || BufReader::new(stdout)),
            stdin: pipes.stdin,
            stderr_thread: spawn_stderr_collector(pipes.stderr, Arc::clone(&stderr_tail)),
            stderr_tail,
        })
    }

    /// The experiment's output ended before `done`: how it exited, if it did.
    fn closed_early(
        mut self,
        last_label: &str,
        probe: &dyn Probe,
        oom_before: &OomCounters,
    ) -> RunnerError {
        let status = match self.guard.wait_for_exit(Duration::from_secs(5)) {
            Ok(status) => status,
            Err(e) => return RunnerError::Io(e),
        };
        let _ = self.stderr_thread.join();
        let status = match status {
            Some(s) => format!(
                "exited ({}) after {last_label} without saying done",
                exit_text(s, probe, oom_before)
            ),
            None => format!("closed its output after {last_label} without saying done"),
        };
        failure(status, &self.stderr_tail)
    }

    /// After `done`: the experiment must exit, successfully, within `timeout`.
    fn finish(
        mut self,
        timeout: Duration,
        probe: &dyn Probe,
        oom_before: &OomCounters,
    ) -> Result<(), RunnerError> {
        let status = self.guard.wait_for_exit(timeout)?;
        let _ = self.stderr_thread.join();
        match status {
            Some(s) if s.success() => Ok(()),
            Some(s) => Err(failure(
                format!(
                    "exited with {} after saying done",
                    exit_text(s, probe, oom_before)
                ),
                &self.stderr_tail,
            )),
            None => Err(RunnerError::Timeout {
                checkpoint: "done".into(),
                after: timeout,
            }),
        }
    }
}

/// The experiment failed: how, and the end of what it wrote on stderr.
fn failure(status: String, stderr_tail: &Arc<Mutex<Vec<u8>>>) -> RunnerError {
    RunnerError::ChildFailed {
        status,
        stderr: tail_text(stderr_tail),
    }
}

/// An exit status, with the OOM killer named when a SIGKILL came with its
/// counters risen since `oom_before`.
fn exit_text(
    status: std::process::ExitStatus,
    probe: &dyn Probe,
    oom_before: &OomCounters,
) -> String {
    use std::os::unix::process::ExitStatusExt;
    let oom = (status.signal() == Some(nix::sys::signal::Signal::SIGKILL as i32))
        .then(|| {
            probe
                .oom_counters()
                .explain_since(oom_before, probe.memory_limit())
        })
        .flatten();
    match oom {
        Some(oom) => format!("{status}, {oom}"),
        None => status.to_string(),
    }
}

impl Session {
    /// Records what a message (other than `ready`) says, snapshotting where it
    /// asks, and releases the experiment where it waits.
    fn follow(
        &mut self,
        event: Event,
        probe: &dyn Probe,
        stdin: &mut impl Write,
        on_event: &mut dyn FnMut(RunnerEvent),
        last_label: &mut String,
    ) -> Result<Next, RunnerError> {
        match event {
            Event::Ready { .. } => {}
            Event::Progress { done, total, what } => {
                on_event(RunnerEvent::Progress { done, total, what })
            }
            Event::Note { key, value } => {
                let value = hide_temp_path(&value, &self.temp_dir).unwrap_or(value);
                self.record.notes.insert(key, value);
            }
            Event::Region { name, start, len } => self.regions.push((name, start, len)),
            Event::NullPhase { begin, processes } => {
                self.null_phase(probe, begin, &processes)?;
                release(stdin)?;
            }
            Event::Checkpoint { label, processes } => {
                self.checkpoint(probe, &label, &processes, None)?;
                self.announce_checkpoint(on_event);
                *last_label = label;
                release(stdin)?;
            }
            Event::CheckpointChildren {
                label,
                role,
                processes,
            } => {
                self.checkpoint(probe, &label, &processes, Some(&role))?;
                self.announce_checkpoint(on_event);
                *last_label = label;
                release(stdin)?;
            }
            Event::Skip { reason } => {
                self.record.status = Status::Skipped;
                self.record.reason = Some(reason);
                return Ok(Next::Skipped);
            }
            Event::Done => return Ok(Next::Done),
        }
        Ok(Next::Line)
    }

    /// Hands the checkpoint just recorded to the caller (progress, step mode),
    /// while the experiment still waits.
    fn announce_checkpoint(&self, on_event: &mut dyn FnMut(RunnerEvent)) {
        if let Some(record) = self.record.checkpoints.last() {
            on_event(RunnerEvent::Checkpoint {
                record: Box::new(record.clone()),
            });
        }
    }

    /// Records the main process's VmRSS from /proc/PID/statm (a cheap read that
    /// does not touch the process's memory).
    fn sample_rss(&mut self, probe: &dyn Probe) {
        let Some((ready, pid)) = self.ready_at else {
            return;
        };
        let millis = ready.elapsed().as_millis() as u64;
        if self
            .record
            .rss_samples
            .last()
            .is_some_and(|last| millis < last.millis + POLL.as_millis() as u64)
        {
            return;
        }
        if let Some(resident) = probe.resident_pages(pid) {
            self.record.rss_samples.push(crate::model::RssSample {
                millis,
                rss_bytes: resident.saturating_mul(self.page_size),
            });
        }
    }

    fn snapshot(
        &self,
        probe: &dyn Probe,
        process: &ProcessRef,
    ) -> Result<(RawSnapshot, ParsedSnapshot), RunnerError> {
        let raw = probe.read(process.pid)?;
        let parsed = parse_snapshot(&raw, Path::new(&format!("/proc/{}", process.pid)))?;
        Ok((raw, parsed))
    }

    fn null_phase(
        &mut self,
        probe: &dyn Probe,
        begin: bool,
        processes: &[ProcessRef],
    ) -> Result<(), RunnerError> {
        for process in processes {
            let (_, parsed) = self.snapshot(probe, process)?;
            let now = (process.pid, parsed.faults_total, parsed.totals.rss_bytes);
            if !begin {
                if let Some((_, faults, rss)) = self.previous.get(&process.role) {
                    self.record.noise_floor.push(NoiseFloor {
                        minor_faults: parsed.faults_total.minor.saturating_sub(faults.minor),
                        major_faults: parsed.faults_total.major.saturating_sub(faults.major),
                        rss_delta_bytes: signed_change(*rss, parsed.totals.rss_bytes),
                    });
                }
            }
            self.previous.insert(process.role.clone(), now);
        }
        self.phase_start = Instant::now();
        Ok(())
    }

    fn checkpoint(
        &mut self,
        probe: &dyn Probe,
        label: &str,
        processes: &[ProcessRef],
        population_role: Option<&str>,
    ) -> Result<(), RunnerError> {
        let phase_millis = self.phase_start.elapsed().as_millis() as u64;
        let index = self.record.checkpoints.len();
        let mut records = Vec::with_capacity(processes.len());
        for process in processes {
            let (record, raw) = self.process_record(probe, process)?;
            records.push(record);
            self.raw.push(RawCapture {
                index,
                label: label.to_string(),
                role: process.role.clone(),
                snapshot: raw,
            });
        }
        // The children of the first process, briefly; they are parked like it.
        let population = match (population_role, processes.first()) {
            (Some(role), Some(parent)) => Some(probe.population(
                parent.pid,
                role,
                std::thread::available_parallelism().map_or(1, |n| n.get()),
            )?),
            _ => None,
        };
        self.record.checkpoints.push(CheckpointRecord {
            label: label.to_string(),
            phase_millis,
            processes: records,
            // Read right after the processes, so the counters and they agree as far
            // as anything system-wide can.
            system: probe.system(),
            population,
        });
        self.phase_start = Instant::now();
        Ok(())
    }

    /// Snapshots one process at a checkpoint: its faults since its previous
    /// snapshot (all of them at first sight), its mappings with the temp folder
    /// hidden, and the declared regions summed over them.
    fn process_record(
        &mut self,
        probe: &dyn Probe,
        process: &ProcessRef,
    ) -> Result<(ProcessRecord, RawSnapshot), RunnerError> {
        let (raw, parsed) = self.snapshot(probe, process)?;
        let faults = match self.previous.get(&process.role) {
            Some((pid, before, _)) if *pid == process.pid => Faults {
                minor: parsed.faults_total.minor.saturating_sub(before.minor),
                major: parsed.faults_total.major.saturating_sub(before.major),
            },
            // First sight of this process: a forked child's counters start at zero.
            _ => parsed.faults_total,
        };
        self.previous.insert(
            process.role.clone(),
            (process.pid, parsed.faults_total, parsed.totals.rss_bytes),
        );
        let mappings: Vec<MappingRecord> = parsed
            .mappings
            .into_iter()
            .map(|m| hide_temp_dir(m, &self.temp_dir))
            .collect();
        let regions = self
            .regions
            .iter()
            .map(|r| {
                let mut region = region_figures(r, &mappings);
                if region.mapping_count > 0 && self.page_size > 0 {
                    region.pagemap = probe.region_pagemap(process.pid, r.1, r.2, self.page_size);
                }
                region
            })
            .collect();
        let record = ProcessRecord {
            role: process.role.clone(),
            pid: process.pid,
            faults,
            faults_total: parsed.faults_total,
            totals: parsed.totals,
            regions,
            mappings,
            io: probe.io(process.pid),
            state: None,
        };
        Ok((record, raw))
    }
}

/// Sums the figures of every mapping that overlaps the region.
pub(crate) fn region_figures(
    (name, start, len): &(String, u64, u64),
    mappings: &[MappingRecord],
) -> RegionRecord {
    let end = start.saturating_add(*len);
    let mut figures = MemoryFigures::default();
    let mut mapping_count = 0;
    for m in mappings {
        let (m_start, m_end) = m.range();
        if m_start < end && *start < m_end {
            figures.add(&m.figures);
            mapping_count += 1;
        }
    }
    RegionRecord {
        name: name.clone(),
        mapping_count,
        figures,
        pagemap: None,
    }
}

/// `after - before` as a signed figure, held at the ends of i64 rather than
/// wrapping (only corrupt text has figures that far apart).
fn signed_change(before: u64, after: u64) -> i64 {
    let change = i128::from(after) - i128::from(before);
    i64::try_from(change).unwrap_or(if change < 0 { i64::MIN } else { i64::MAX })
}

/// Refuses a message that names something `contract` does not list.
fn check_contract(contract: &'static ExperimentInfo, event: &Event) -> Result<(), RunnerError> {
    let roles = |processes: &'_ [ProcessRef]| -> Vec<String> {
        processes.iter().map(|p| p.role.clone()).collect()
    };
    let (kind, names): (NameKind, Vec<String>) = match event {
        Event::Note { key, .. } => (NameKind::Note, vec![key.clone()]),
        Event::Region { name, .. } => (NameKind::Region, vec![name.clone()]),
        Event::Checkpoint { label, processes } => {
            check_names(contract, NameKind::Checkpoint, std::slice::from_ref(label))?;
            (NameKind::Role, roles(processes))
        }
        Event::CheckpointChildren {
            label,
            role,
            processes,
        } => {
            check_names(contract, NameKind::Checkpoint, std::slice::from_ref(label))?;
            let mut all = roles(processes);
            all.push(role.clone());
            (NameKind::Role, all)
        }
        Event::NullPhase { processes, .. } => (NameKind::Role, roles(processes)),
        _ => return Ok(()),
    };
    check_names(contract, kind, &names)
}

fn check_names(
    contract: &'static ExperimentInfo,
    kind: NameKind,
    names: &[String],
) -> Result<(), RunnerError> {
    match contract.unlisted(kind, names.iter().map(String::as_str)) {
        None => Ok(()),
        Some(name) => Err(RunnerError::Contract {
            binary: contract.binary_name(),
            kind: kind.to_string(),
            name: name.to_string(),
        }),
    }
}

/// Shows the run's private temp folder in a mapping's name as [`TEMP_DIR_NAME`],
/// so that names match from run to run.
fn hide_temp_dir(mut mapping: MappingRecord, temp_dir: &Path) -> MappingRecord {
    if let Some(hidden) = hide_temp_path(&mapping.name, temp_dir) {
        mapping.name = hidden;
    }
    mapping
}

/// `path` with the run's private temp folder shown as [`TEMP_DIR_NAME`], if it
/// lies in it. Notes get the same treatment as mapping names, so that a note
/// naming a file (a program run from a private copy) matches its mappings.
fn hide_temp_path(path: &str, temp_dir: &Path) -> Option<String> {
    let prefix = temp_dir.to_string_lossy();
    let rest = path.strip_prefix(prefix.as_ref())?;
    (!prefix.is_empty() && rest.starts_with('/')).then(|| format!("{TEMP_DIR_NAME}{rest}"))
}

/// The real path of a name that `hide_temp_path` gave, while `temp_dir`
/// still exists (to read the file after the run); other names are unchanged.
pub fn reveal_temp_path(name: &str, temp_dir: Option<&Path>) -> PathBuf {
    match (name.strip_prefix(TEMP_DIR_NAME), temp_dir) {
        (Some(rest), Some(dir)) if rest.starts_with('/') => dir.join(&rest[1..]),
        _ => PathBuf::from(name),
    }
}

fn release(stdin: &mut impl Write) -> Result<(), RunnerError> {
    stdin.write_all(protocol::GO.as_bytes())?;
    stdin.write_all(b"\n")?;
    stdin.flush()?;
    Ok(())
}

fn spawn_stderr_collector(
    mut stderr: impl Read + Send + 'static,
    tail: Arc<Mutex<Vec<u8>>>,
) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = stderr.read(&mut buf) {
            if n == 0 {
                break;
            }
            if let Ok(mut tail) = tail.lock() {
                tail.extend_from_slice(&buf[..n]);
                let excess = tail.len().saturating_sub(STDERR_TAIL_BYTES);
                tail.drain(..excess);
            }
        }
    })
}

fn tail_text(tail: &Arc<Mutex<Vec<u8>>>) -> String {
    let text = tail
        .lock()
        .map(|t| String::from_utf8_lossy(&t).trim_end().to_string())
        .unwrap_or_default();
    if text.is_empty() {
        "(nothing)".into()
    } else {
        text
    }
}

/// The next protocol line; `None` at end of output. Wakes every [`POLL`] to
/// notice Ctrl-C.
fn next_line(
    lines: &Receiver<std::io::Result<String>>,
    timeout: Duration,
    last_label: &str,
    on_tick: &mut dyn FnMut(),
) -> Result<Option<String>, RunnerError> {
    let deadline = Instant::now() + timeout;
    loop {
        if interrupted() {
            return Err(RunnerError::Interrupted);
        }
        let now = Instant::now();
        if now >= deadline {
            return Err(RunnerError::Timeout {
                checkpoint: last_label.to_string(),
                after: timeout,
            });
        }
        on_tick();
        match lines.recv_timeout(POLL.min(deadline - now)) {
            Ok(Ok(line)) => return Ok(Some(line)),
            Ok(Err(e)) => return Err(RunnerError::Io(e)),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_the_contract_does_not_list_fails_the_variant() {
        let contract = &experiments::catalog::shared_file::INFO;
        let process = |role: &str| ProcessRef {
            role: role.into(),
            pid: 1,
        };
        let listed = Event::Checkpoint {
            label: "all-reading".into(),
            processes: vec![process("main"), process("sharer-2")],
        };
        assert!(check_contract(contract, &listed).is_ok());
        let drifted = [
            Event::Checkpoint {
                label: "all-read".into(),
                processes: vec![process("main")],
            },
            Event::Checkpoint {
                label: "all-reading".into(),
                processes: vec![process("reader-1")],
            },
            Event::Note {
                key: "file_page".into(),
                value: "1".into(),
            },
            Event::Region {
                name: "data".into(),
                start: 0,
                len: 1,
            },
        ];
        for event in drifted {
            let err = check_contract(contract, &event).unwrap_err().to_string();
            assert!(err.contains("vmlab-shared-file announced"), "{err}");
            assert!(err.contains("does not list"), "{err}");
        }
    }

    fn mapping(start: u64, end: u64, rss: u64) -> MappingRecord {
        MappingRecord {
            start: crate::model::Address(start),
            end: crate::model::Address(end),
            name: String::new(),
            perms: "rw-p".into(),
            offset_bytes: 0,
            figures: MemoryFigures {
                size_bytes: end - start,
                rss_bytes: rss,
                ..Default::default()
            },
            other: BTreeMap::new(),
            vm_flags: String::new(),
        }
    }

    #[test]
    fn a_region_sums_exactly_the_mappings_it_overlaps() {
        let maps = [
            mapping(0x1000, 0x2000, 4096),
            mapping(0x2000, 0x4000, 8192),
            mapping(0x4000, 0x5000, 4096),
        ];
        let region = region_figures(&("r".into(), 0x2000, 0x2000), &maps);
        assert_eq!(region.mapping_count, 1);
        assert_eq!(region.figures.rss_bytes, 8192);
        let wide = region_figures(&("r".into(), 0x1800, 0x3000), &maps);
        assert_eq!(wide.mapping_count, 3);
        let gone = region_figures(&("r".into(), 0x9000, 0x1000), &maps);
        assert_eq!(gone.mapping_count, 0);
    }

    #[test]
    fn temp_dir_paths_are_shown_by_a_stable_name() {
        let mut m = mapping(0, 4096, 0);
        m.name = "/tmp/.tmpXyZ/data".into();
        let dir = Path::new("/tmp/.tmpXyZ");
        assert_eq!(hide_temp_dir(m, dir).name, "<temp dir>/data");
        let mut other = mapping(0, 4096, 0);
        other.name = "/tmp/.tmpXyZother/data".into();
        assert_eq!(hide_temp_dir(other, dir).name, "/tmp/.tmpXyZother/data");
        assert_eq!(
            hide_temp_path("/tmp/.tmpXyZ/prog", dir).as_deref(),
            Some("<temp dir>/prog")
        );
        assert_eq!(
            reveal_temp_path("<temp dir>/prog", Some(dir)),
            Path::new("/tmp/.tmpXyZ/prog")
        );
        assert_eq!(
            reveal_temp_path("/usr/bin/prog", Some(dir)),
            Path::new("/usr/bin/prog")
        );
    }
}
