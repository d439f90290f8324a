//! One traced run: start the program, watch its processes for waits (and the
//! SDK's protocol lines), snapshot the whole tree at each checkpoint while the
//! program waits, resume it, and build the [`VariantRecord`] the built-in
//! experiments build.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io::{BufReader, Write};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use experiments::protocol::{self, Event};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use super::idle::{self, IdleTally};
use super::label::Labeller;
use super::launch::{self, Launched, OutputPump};
use super::moment::snapshot_with_state;
use super::tree::{self, Member, Tree};
use super::wait::{self, Observation, WaitKind};
use crate::error::{ProbeError, RunnerError};
use crate::model::{CheckpointRecord, Faults, NoiseFloor, Status, VariantRecord};
use crate::probe::Probe;
use crate::runner::snapshot::snapshot_process;
use crate::runner::{interrupted, RawCapture, VariantOutcome};

/// How long the harness sleeps between two looks at the program's processes.
/// A wait counts once two looks in a row agree, so a checkpoint is taken
/// between one and two of these after the program starts to wait.
pub const POLL: Duration = Duration::from_millis(20);

/// How often VmRSS of the main process is sampled while the program runs.
const RSS_SAMPLE_EVERY: Duration = Duration::from_millis(50);

/// Most checkpoints one run takes: a program that reads its input in a loop
/// (`cat`) would otherwise be resumed forever, one newline at a time.
pub const MAX_CHECKPOINTS: usize = 1000;

/// What to trace and how.
#[derive(Debug, Clone)]
pub struct TraceSpec {
    /// The program (looked up in PATH like a shell does).
    pub program: OsString,
    /// Its arguments.
    pub args: Vec<OsString>,
    /// Names for the detected checkpoints, in order.
    pub labels: Vec<String>,
    /// Snapshots every this long besides the waits (the program keeps running).
    pub every: Option<Duration>,
    /// Longest time without a checkpoint or the program's exit.
    pub timeout: Duration,
    /// Start with address-space randomisation off.
    pub no_aslr: bool,
    /// The page size, for reading pagemap of declared regions.
    pub page_size: u64,
}

/// Why a checkpoint was taken, for the caller (step mode, progress).
#[derive(Debug, Clone)]
pub struct CheckpointCause {
    /// One line per waiting process (`main (pid 42) reads its standard input`).
    pub waiting: Vec<String>,
}

/// How a resumed process is seen to have left its wait.
#[derive(Debug, Clone, Copy)]
enum Departure {
    /// Its newline was read from the pipe.
    Input,
    /// SIGCONT brought it out of the stopped state.
    Continued,
    /// The signal it waited for was delivered.
    Signalled(i32),
    /// It caught no signal, so it was ended as a reader ends it (Ctrl-C).
    Ended,
}

struct State {
    record: VariantRecord,
    raw: Vec<RawCapture>,
    regions: Vec<(String, u64, u64)>,
    previous: BTreeMap<i32, Faults>,
    phase_start: Instant,
    null_phase_done: bool,
    page_size: u64,
    idle: IdleTally,
}

/// Runs `spec` to its end. The record is returned also when the program fails
/// (status `failed`, with what was measured until then) and on Ctrl-C (with
/// the checkpoints taken; [`crate::runner::interrupted`] says so); a program
/// that cannot be started at all is an `Err`.
pub fn run(
    spec: &TraceSpec,
    probe: &dyn Probe,
    sink: &mut dyn Write,
    on_checkpoint: &mut dyn FnMut(&CheckpointRecord, &CheckpointCause),
) -> Result<VariantOutcome, RunnerError> {
    let mut state = State {
        record: VariantRecord::new("default"),
        raw: Vec::new(),
        regions: Vec::new(),
        previous: BTreeMap::new(),
        phase_start: Instant::now(),
        null_phase_done: false,
        page_size: spec.page_size,
        idle: IdleTally::default(),
    };
    match drive(spec, probe, sink, &mut state, on_checkpoint) {
        Ok(()) if state.record.checkpoints.is_empty() => {
            state.record.status = Status::Skipped;
            state.record.reason = Some(idle::nothing_measured(&state.idle, POLL));
        }
        Ok(()) => {}
        Err(e @ RunnerError::Spawn { .. }) => return Err(e),
        // The checkpoints taken are kept: the caller sees the interrupt flag.
        Err(RunnerError::Interrupted) => {}
        Err(e) => {
            state.record.status = Status::Failed;
            state.record.reason = Some(e.to_string());
        }
    }
    Ok(VariantOutcome {
        record: state.record,
        raw: state.raw,
        stopped: crate::runner::interrupted(),
    })
}

fn spawn_protocol_reader(input: std::fs::File) -> Receiver<String> {
    crate::runner::lines::spawn_text(move || BufReader::new(input))
}

fn drive(
    spec: &TraceSpec,
    probe: &dyn Probe,
    sink: &mut dyn Write,
    state: &mut State,
    on_checkpoint: &mut dyn FnMut(&CheckpointRecord, &CheckpointCause),
) -> Result<(), RunnerError> {
    let Launched {
        guard,
        stdin,
        stdin_inode,
        output,
        protocol_in,
        protocol_out,
    } = launch::launch(&spec.program, &spec.args, spec.no_aslr)?;
    let main_pid = guard.pid();
    // The file the program runs from (after exec: spawn returns once it happened),
    // whose ELF facts the report shows.
    if let Some(exe) = probe.process_link(main_pid, "exe") {
        state.record.notes.insert(
            crate::elf::PROGRAM_PATH_NOTE.to_string(),
            exe.display().to_string(),
        );
    }
    let started = Instant::now();
    state.phase_start = started;
    let mut tracer = Tracer {
        spec,
        probe,
        sink,
        state,
        on_checkpoint,
        guard,
        stdin,
        stdin_inode,
        output,
        protocol_lines: spawn_protocol_reader(protocol_in),
        protocol_out,
        main_pid,
        pump: OutputPump::default(),
        labeller: Labeller::new(spec.labels.clone()),
        tree: Tree::new(main_pid),
        candidates: BTreeMap::new(),
        departing: BTreeMap::new(),
        ended_by_harness: Vec::new(),
        started,
        last_event: Instant::now(),
        last_label: "start".to_string(),
        every_count: 0,
    };
    let status = tracer.follow()?;
    tracer.finish(status)
}

/// A traced program while it runs: its processes, the waits seen once (a
/// wait is a checkpoint when seen twice alike), and where the last
/// checkpoint was.
struct Tracer<'a> {
    spec: &'a TraceSpec,
    probe: &'a dyn Probe,
    sink: &'a mut dyn Write,
    state: &'a mut State,
    on_checkpoint: &'a mut dyn FnMut(&CheckpointRecord, &CheckpointCause),
    guard: crate::runner::child::ChildGuard,
    stdin: std::fs::File,
    stdin_inode: u64,
    output: std::fs::File,
    protocol_lines: Receiver<String>,
    protocol_out: std::fs::File,
    main_pid: i32,
    pump: OutputPump,
    labeller: Labeller,
    tree: Tree,
    candidates: BTreeMap<i32, (WaitKind, Observation)>,
    departing: BTreeMap<i32, Departure>,
    ended_by_harness: Vec<i32>,
    started: Instant,
    last_event: Instant,
    last_label: String,
    every_count: u32,
}

impl Tracer<'_> {
    /// Polls the program until its main process exited and no process of its
    /// tree is left, taking a checkpoint wherever one is due; its exit status.
    fn follow(&mut self) -> Result<std::process::ExitStatus, RunnerError> {
        let mut main_exit = None;
        loop {
            if interrupted() {
                return Err(RunnerError::Interrupted);
            }
            self.pump.drain(&mut self.output, self.sink);
            self.state
                .sample_rss(self.probe, self.main_pid, self.started);
            let live = self.tree.refresh(self.probe);
            self.protocol_checkpoints(&live)?;
            if main_exit.is_none() {
                main_exit = self.guard.wait_for_exit(Duration::ZERO)?;
            }
            if let (Some(status), true) = (main_exit, live.is_empty()) {
                self.pump.drain(&mut self.output, self.sink);
                return Ok(status);
            }
            let (probe, stdin) = (self.probe, &self.stdin);
            self.departing
                .retain(|pid, how| !left(probe, *pid, *how, stdin));
            let waiting = self.waiting(&live);
            if !waiting.is_empty() {
                self.hold(&waiting, &live)?;
            } else if let Some(every) = self.spec.every {
                self.every(every, &live)?;
            }
            self.check_limits()?;
            std::thread::sleep(POLL);
        }
    }

    /// Checkpoints the program named through the SDK.
    fn protocol_checkpoints(&mut self, live: &[Member]) -> Result<(), RunnerError> {
        while let Ok(line) = self.protocol_lines.try_recv() {
            let event = protocol::parse(&line).map_err(|e| RunnerError::Protocol {
                expected: "a vmlab-protocol line on the checkpoint channel".into(),
                got: e.to_string(),
            })?;
            match event {
                Event::Checkpoint { label, processes }
                | Event::CheckpointChildren {
                    label, processes, ..
                } => {
                    self.pump.drain(&mut self.output, self.sink);
                    let label = self.labeller.named(&label);
                    let who = processes
                        .iter()
                        .map(|p| format!("pid {} reached checkpoint {label}", p.pid))
                        .collect();
                    let held: Vec<i32> = processes.iter().map(|p| p.pid).collect();
                    self.state.checkpoint(self.probe, &label, live, &held)?;
                    announce(self.state, self.on_checkpoint, who);
                    self.last_label = label;
                    self.last_event = Instant::now();
                    answer_go(&mut self.protocol_out)?;
                }
                Event::Ready { .. } | Event::NullPhase { .. } => answer_go(&mut self.protocol_out)?,
                Event::Region { name, start, len } => self.state.regions.push((name, start, len)),
                Event::Note { key, value } => {
                    self.state.record.notes.insert(key, value);
                }
                Event::Skip { reason } => {
                    self.state.record.notes.insert("skip".into(), reason);
                }
                Event::Progress { .. } | Event::Done => {}
            }
        }
        Ok(())
    }

    /// The processes seen waiting alike twice in a row (a candidate the first
    /// time); a process that runs is noted for the idle tally.
    fn waiting(&mut self, live: &[Member]) -> Vec<(Member, WaitKind, Observation)> {
        let mut waiting = Vec::new();
        for member in live {
            if self.departing.contains_key(&member.pid) {
                continue;
            }
            let (probe, stdin_inode) = (self.probe, self.stdin_inode);
            let ours = || launch::reads_our_pipe(probe, member.pid, stdin_inode);
            let mut seen = wait::observe(probe, member.pid);
            let mut kind = seen.as_ref().and_then(|o| wait::classify(o, &ours));
            if kind.is_none() && seen.as_ref().is_some_and(|o| o.state != 'T') {
                if let Some(thread) = wait::thread_reading_stdin(probe, member.pid, ours) {
                    kind = Some(WaitKind::Stdin);
                    seen = Some(thread);
                }
            }
            match (kind, seen) {
                (Some(kind), Some(seen)) => {
                    if self.candidates.get(&member.pid) == Some(&(kind, seen.clone())) {
                        waiting.push((member.clone(), kind, seen));
                    } else {
                        self.candidates.insert(member.pid, (kind, seen));
                    }
                }
                (_, seen) => {
                    if let Some(seen) = &seen {
                        self.state.idle.note(&member.role, member.pid, seen);
                    }
                    self.candidates.remove(&member.pid);
                }
            }
        }
        waiting
    }

    /// A checkpoint where processes wait: named after the program's last
    /// output line, each wait noted, then every waiting process resumed.
    fn hold(
        &mut self,
        waiting: &[(Member, WaitKind, Observation)],
        live: &[Member],
    ) -> Result<(), RunnerError> {
        self.pump.settle(&mut self.output, self.sink);
        let label = self.labeller.for_wait(&self.pump.last_line());
        self.pump.end_line(self.sink);
        let causes: Vec<String> = waiting
            .iter()
            .map(|(m, kind, seen)| {
                let wchan = if seen.wchan.is_empty() || seen.wchan == "0" {
                    String::new()
                } else {
                    format!(" (in {})", seen.wchan)
                };
                format!("{} (pid {}) {kind}{wchan}", m.role, m.pid)
            })
            .collect();
        self.state
            .record
            .notes
            .insert(format!("wait_{label}"), causes.join("; "));
        let held: Vec<i32> = waiting.iter().map(|(m, _, _)| m.pid).collect();
        self.state.checkpoint(self.probe, &label, live, &held)?;
        announce(self.state, self.on_checkpoint, causes);
        for (member, kind, _) in waiting {
            self.candidates.remove(&member.pid);
            let how = resume(self.probe, member.pid, *kind, &mut self.stdin)?;
            if matches!(how, Departure::Ended) {
                self.ended_by_harness.push(member.pid);
                self.state.record.notes.insert(
                    format!("ended_{}", member.role),
                    format!(
                        "{} waited in pause() or sigsuspend() with no signal handler, so after checkpoint {label} the harness ended it as a reader would (Ctrl-C)",
                        member.role
                    ),
                );
            }
            self.departing.insert(member.pid, how);
        }
        self.last_label = label;
        self.last_event = Instant::now();
        Ok(())
    }

    /// `--every`: a checkpoint each time another period has passed.
    fn every(&mut self, every: Duration, live: &[Member]) -> Result<(), RunnerError> {
        if self.started.elapsed() < every * (self.every_count + 1) {
            return Ok(());
        }
        self.every_count += 1;
        let label = self.labeller.named(&format!("every-{}", self.every_count));
        self.state.checkpoint(self.probe, &label, live, &[])?;
        announce(
            self.state,
            self.on_checkpoint,
            vec![format!(
                "{} since the start (the program runs on)",
                humantime(self.started.elapsed())
            )],
        );
        self.last_label = label;
        self.last_event = Instant::now();
        Ok(())
    }

    /// Ends a program that keeps waiting, or has not moved for too long.
    fn check_limits(&self) -> Result<(), RunnerError> {
        if self.state.record.checkpoints.len() >= MAX_CHECKPOINTS {
            return Err(RunnerError::Protocol {
                expected: format!("at most {MAX_CHECKPOINTS} checkpoints"),
                got: format!(
                    "a program that kept waiting after {} (does it read its input in a loop?)",
                    self.last_label
                ),
            });
        }
        if self.last_event.elapsed() > self.spec.timeout {
            return Err(RunnerError::Timeout {
                checkpoint: self.last_label.clone(),
                after: self.spec.timeout,
            });
        }
        Ok(())
    }

    /// Records how the program ended and its processes; a failure exit is an
    /// error unless the harness ended it.
    fn finish(self, status: std::process::ExitStatus) -> Result<(), RunnerError> {
        let notes = &mut self.state.record.notes;
        notes.insert("exit_status".into(), status.to_string());
        notes.insert("processes".into(), self.tree.describe());
        use std::os::unix::process::ExitStatusExt;
        let ended_by_us =
            status.signal().is_some() && self.ended_by_harness.contains(&self.main_pid);
        if !status.success() && !ended_by_us {
            return Err(RunnerError::ChildFailed {
                status: format!("program exited with {status}"),
                stderr: "(its stderr went to the terminal)".into(),
            });
        }
        Ok(())
    }
}

fn humantime(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

fn announce(
    state: &State,
    on_checkpoint: &mut dyn FnMut(&CheckpointRecord, &CheckpointCause),
    waiting: Vec<String>,
) {
    if let Some(record) = state.record.checkpoints.last() {
        on_checkpoint(record, &CheckpointCause { waiting });
    }
}

fn answer_go(out: &mut std::fs::File) -> Result<(), RunnerError> {
    out.write_all(protocol::GO.as_bytes())?;
    out.write_all(b"\n")?;
    out.flush()?;
    Ok(())
}

fn send(pid: i32, signal: Signal) -> Result<(), RunnerError> {
    match kill(Pid::from_raw(pid), signal) {
        Ok(()) | Err(nix::errno::Errno::ESRCH) => Ok(()),
        Err(e) => Err(RunnerError::Io(std::io::Error::other(format!(
            "cannot send {signal} to pid {pid}: {e}"
        )))),
    }
}

/// Lets a waiting process go on, the way its wait is ended (`probe` reads
/// which signals it catches).
fn resume(
    probe: &dyn Probe,
    pid: i32,
    kind: WaitKind,
    stdin: &mut std::fs::File,
) -> Result<Departure, RunnerError> {
    match kind {
        WaitKind::Stdin => {
            match stdin.write_all(b"\n").and_then(|()| stdin.flush()) {
                Ok(()) => {}
                // The reader exited meanwhile.
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
                Err(e) => return Err(RunnerError::Io(e)),
            }
            Ok(Departure::Input)
        }
        WaitKind::Stopped => {
            send(pid, Signal::SIGCONT)?;
            Ok(Departure::Continued)
        }
        WaitKind::Pause | WaitKind::SigSuspend => {
            let status = probe.process_text(pid, "status").unwrap_or_default();
            if let Some(number) = wait::signal_to_resume(&status) {
                let signal = Signal::try_from(number).map_err(|e| {
                    RunnerError::Io(std::io::Error::other(format!("signal {number}: {e}")))
                })?;
                send(pid, signal)?;
                return Ok(Departure::Signalled(number));
            }
            let ignored = wait::parse_signal_mask(&status, "SigIgn").unwrap_or(0);
            let fatal = [Signal::SIGINT, Signal::SIGTERM]
                .into_iter()
                .find(|s| ignored & (1u64 << (*s as i32 - 1)) == 0)
                .unwrap_or(Signal::SIGKILL);
            send(pid, fatal)?;
            Ok(Departure::Ended)
        }
    }
}

/// Whether a resumed process has left the wait it was resumed from, so that
/// the next wait seen is a new one.
fn left(probe: &dyn Probe, pid: i32, how: Departure, stdin: &std::fs::File) -> bool {
    if !tree::alive(probe, pid) {
        return true;
    }
    match how {
        Departure::Input => launch::unread_input(stdin) == 0,
        Departure::Continued => wait::observe(probe, pid).is_none_or(|o| o.state != 'T'),
        Departure::Signalled(signal) => probe
            .process_text(pid, "status")
            .is_some_and(|s| !wait::signal_pending(&s, signal)),
        Departure::Ended => false,
    }
}

impl State {
    /// Snapshots every live process of the tree; `held` are the processes
    /// waiting at this checkpoint (none for a timed snapshot), the others are
    /// read as they run (see [`super::moment`]). The first checkpoint at which
    /// the program waits is preceded by the null phase (two reads with nothing
    /// between); a timed snapshot of a running program cannot measure it.
    fn checkpoint(
        &mut self,
        probe: &dyn Probe,
        label: &str,
        live: &[Member],
        held: &[i32],
    ) -> Result<(), RunnerError> {
        if !held.is_empty() && !self.null_phase_done {
            self.null_phase_done = true;
            // Only a process that holds still has a noise floor to measure.
            let still: Vec<Member> = live
                .iter()
                .filter(|m| held.contains(&m.pid))
                .cloned()
                .collect();
            self.null_phase(probe, &still)?;
        }
        let phase_millis = self.phase_start.elapsed().as_millis() as u64;
        let index = self.record.checkpoints.len();
        let regions: Vec<(&str, u64, u64)> = self
            .regions
            .iter()
            .map(|(n, s, l)| (n.as_str(), *s, *l))
            .collect();
        let mut processes = Vec::new();
        for member in live {
            let before = self.previous.get(&member.pid).copied();
            match snapshot_with_state(
                probe,
                &member.role,
                member.pid,
                before,
                &regions,
                self.page_size,
                held.contains(&member.pid),
            ) {
                Ok((record, raw)) => {
                    self.previous.insert(member.pid, record.faults_total);
                    self.raw.push(RawCapture {
                        index,
                        label: label.to_string(),
                        role: member.role.clone(),
                        snapshot: raw,
                    });
                    processes.push(record);
                }
                // A process that exited since the tree was read is simply not here.
                Err(ProbeError::ProcessGone { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        self.record.checkpoints.push(CheckpointRecord {
            label: label.to_string(),
            phase_millis,
            processes,
            system: probe.meminfo(),
            population: None,
        });
        self.phase_start = Instant::now();
        Ok(())
    }

    /// Records the main process's VmRSS from /proc/PID/statm (a read that does
    /// not touch its memory) at most every [`RSS_SAMPLE_EVERY`], for the plot of
    /// VmRSS over time the built-in experiments have too.
    fn sample_rss(&mut self, probe: &dyn Probe, pid: i32, started: Instant) {
        let millis = started.elapsed().as_millis() as u64;
        let every = RSS_SAMPLE_EVERY.as_millis() as u64;
        if self
            .record
            .rss_samples
            .last()
            .is_some_and(|last| millis < last.millis + every)
        {
            return;
        }
        if let Some(pages) = probe
            .resident_pages(pid)
            // An exiting process has given its memory back already.
            .filter(|pages| *pages > 0)
        {
            self.record.rss_samples.push(crate::model::RssSample {
                millis,
                rss_bytes: pages * self.page_size,
            });
        }
    }

    fn null_phase(&mut self, probe: &dyn Probe, live: &[Member]) -> Result<(), RunnerError> {
        for member in live {
            let first = snapshot_process(probe, &member.role, member.pid, None, &[], 0);
            let second = snapshot_process(probe, &member.role, member.pid, None, &[], 0);
            if let (Ok((a, _)), Ok((b, _))) = (first, second) {
                self.record.noise_floor.push(NoiseFloor {
                    minor_faults: b.faults_total.minor.saturating_sub(a.faults_total.minor),
                    major_faults: b.faults_total.major.saturating_sub(a.faults_total.major),
                    rss_delta_bytes: b.totals.rss_bytes as i64 - a.totals.rss_bytes as i64,
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_resumed_process_has_left_its_wait_once_its_files_say_so() {
        let probe = crate::probe::traced();
        let stdin = tempfile::tempfile().unwrap();
        // Sleeping, not stopped: SIGCONT has done its work.
        assert!(left(&probe, 29691, Departure::Continued, &stdin));
        // SIGUSR1 is not pending for the program in pause().
        let usr1 = Signal::SIGUSR1 as i32;
        assert!(left(&probe, 29689, Departure::Signalled(usr1), &stdin));
        assert!(!left(&probe, 29689, Departure::Ended, &stdin));
        assert!(left(&probe, 4, Departure::Ended, &stdin), "gone");
    }
}
