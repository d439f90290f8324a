//! `harness watch PID`: snapshots of a process the harness did not start (a
//! server, a shell, a student's program already running), and of every process
//! it forked. The process is not stopped, so one snapshot is not one instant:
//! the record says so, and no noise floor is measured.
//!
//! `--once` prints one snapshot per process the way `pmap -X` lists mappings,
//! with Pss, USS and swap per mapping, and writes nothing.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};

use super::tree::{self, Tree};
use crate::cli::WatchArgs;
use crate::model::{CheckpointRecord, Faults, ProcessRecord, Status, VariantRecord};
use crate::probe::{Probe, ProcProbe};
use crate::runner::{self, RawCapture};
use crate::store;
use crate::store::baseline::BaselineMode;
use crate::system::Root;

/// The command name of `pid` (/proc/PID/comm).
fn comm(probe: &dyn Probe, pid: i32) -> String {
    probe
        .process_text(pid, "comm")
        .map(|c| c.trim().to_string())
        .unwrap_or_default()
}

/// Runs `harness watch` on the running machine.
pub fn watch(args: &WatchArgs) -> Result<ExitCode> {
    watch_on(args, &ProcProbe, &Root::live())
}

/// [`watch`], reading the processes through `probe` and the machine's
/// environment and provenance under `root` (the tree `probe` reads in tests).
pub fn watch_on(args: &WatchArgs, probe: &dyn Probe, root: &Root) -> Result<ExitCode> {
    if args.pid <= 0 || !tree::alive(probe, args.pid) {
        bail!("no running process with pid {}", args.pid);
    }
    if args.once && args.format != crate::report::Format::Table {
        return Err(crate::error::UsageError(
            "--once prints a table like `pmap -X`; drop --format, or leave out --once for a run in that format".into(),
        )
        .into());
    }
    if args.once {
        crate::verbosity::stdout(once(probe, args.pid)?);
        return Ok(ExitCode::SUCCESS);
    }
    // A process that cannot be read is refused before a run folder exists.
    once(probe, args.pid)?;
    let start = super::command::start_run(args.out.as_deref(), root)?;
    let every = match (args.every, args.on_enter) {
        (Some(every), _) => Some(every),
        (None, true) => None,
        (None, false) => Some(Duration::from_secs(1)),
    };
    let mut watching = Watching {
        probe,
        pid: args.pid,
        name: run_name(probe, args.pid),
        // Read once: the record is rewritten after every snapshot.
        provenance: crate::provenance::Provenance::detect_in(
            root,
            &std::env::args().collect::<Vec<_>>(),
        ),
        start,
        record: first_record(),
        raw: Vec::new(),
        tree: Tree::new(args.pid),
        previous: BTreeMap::new(),
    };
    let mut ticks = Ticks::new(args, every);
    let limit = args.count.unwrap_or(u64::MAX);
    while (watching.record.checkpoints.len() as u64) < limit && !runner::interrupted() {
        match ticks.next() {
            Tick::Stop => break,
            Tick::NotYet => continue,
            Tick::Due => {}
        }
        if !watching.snapshot(&mut ticks)? {
            break;
        }
    }
    watching.finish(args, every)
}

/// The run's name: `watch-` and the process's command name.
fn run_name(probe: &dyn Probe, pid: i32) -> String {
    let name = format!("watch-{}", super::label::from_line(&comm(probe, pid)));
    if name == "watch-" {
        "watch-process".to_string()
    } else {
        name
    }
}

/// The record before the first snapshot, saying why it has no noise floor.
fn first_record() -> VariantRecord {
    VariantRecord {
        name: "default".into(),
        status: Status::Ok,
        reason: None,
        notes: BTreeMap::from([(
            "not_stopped".to_string(),
            "the process ran while it was read (watch does not stop it): figures of one snapshot are not from one instant, and no noise floor is measured".to_string(),
        )]),
        noise_floor: Vec::new(),
        checkpoints: Vec::new(),
        rss_samples: Vec::new(),
        binary: None,
    }
}

/// What the wait for the next snapshot gave.
enum Tick {
    /// Take a snapshot now.
    Due,
    /// Wait on.
    NotYet,
    /// q or end of input: the watch ends.
    Stop,
}

/// When snapshots are due: at each Enter (`--on-enter`), or every period.
struct Ticks {
    enter: Option<mpsc::Receiver<String>>,
    every: Option<Duration>,
    start: Instant,
    next_due: Duration,
    /// When the last snapshot was taken (the phase's start).
    last: Instant,
}

impl Ticks {
    fn new(args: &WatchArgs, every: Option<Duration>) -> Ticks {
        let enter = args.on_enter.then(|| {
            let rx = crate::runner::lines::spawn_text(|| std::io::stdin().lock());
            crate::verbosity::say(format_args!(
                "Enter takes a snapshot of {}; q (or end of input) stops",
                args.pid
            ));
            rx
        });
        Ticks {
            enter,
            every,
            start: Instant::now(),
            next_due: Duration::ZERO,
            last: Instant::now(),
        }
    }

    fn next(&mut self) -> Tick {
        match (&self.enter, self.every) {
            (Some(rx), _) => match rx.recv_timeout(Duration::from_millis(50)) {
                Ok(line) if line.trim() == "q" => Tick::Stop,
                Ok(_) => Tick::Due,
                Err(mpsc::RecvTimeoutError::Timeout) => Tick::NotYet,
                Err(mpsc::RecvTimeoutError::Disconnected) => Tick::Stop,
            },
            (None, Some(every)) => {
                if self.start.elapsed() >= self.next_due {
                    self.next_due += every;
                    Tick::Due
                } else {
                    std::thread::sleep(Duration::from_millis(10).min(every));
                    Tick::NotYet
                }
            }
            (None, None) => unreachable!("watch without --on-enter always has an interval"),
        }
    }
}

/// A watch under way: the run folder, the record so far and the tree watched.
struct Watching<'a> {
    probe: &'a dyn Probe,
    pid: i32,
    name: String,
    provenance: crate::provenance::Provenance,
    start: super::command::RunStart,
    record: VariantRecord,
    raw: Vec<RawCapture>,
    tree: Tree,
    /// Each process's cumulative faults at its previous snapshot.
    previous: BTreeMap<i32, Faults>,
}

impl Watching<'_> {
    /// Snapshots every live process of the tree and keeps the record; false
    /// when none is left.
    fn snapshot(&mut self, ticks: &mut Ticks) -> Result<bool> {
        let live = self.tree.refresh(self.probe);
        if live.is_empty() {
            self.record
                .notes
                .insert("ended".into(), format!("pid {} exited", self.pid));
            return Ok(false);
        }
        let index = self.record.checkpoints.len();
        let label = format!("snapshot-{}", index + 1);
        let processes = self.read_processes(&live, index, &label)?;
        say_snapshot(&label, ticks.start.elapsed(), &processes);
        self.record.checkpoints.push(CheckpointRecord {
            label,
            phase_millis: ticks.last.elapsed().as_millis() as u64,
            processes,
            system: self.probe.meminfo(),
            population: None,
        });
        ticks.last = Instant::now();
        // Kept after every snapshot, so that a kill loses none: the next run
        // finds the folder's owner gone and marks it partial.
        let so_far = self.whole_run(BTreeMap::new(), self.record.clone());
        store::write_run(&self.start.run_dir, &[crate::report::run_record(&so_far)])?;
        Ok(true)
    }

    /// Reads each of `live`, its faults counted from its previous snapshot; a
    /// process that exited meanwhile is left out.
    fn read_processes(
        &mut self,
        live: &[tree::Member],
        index: usize,
        label: &str,
    ) -> Result<Vec<ProcessRecord>> {
        let mut processes = Vec::new();
        for member in live {
            let before = self.previous.get(&member.pid).copied();
            match super::moment::snapshot_with_state(
                self.probe,
                &member.role,
                member.pid,
                before,
                &[],
                self.start.env.page_size,
                false,
            ) {
                Ok((p, snapshot)) => {
                    self.previous.insert(member.pid, p.faults_total);
                    self.raw.push(RawCapture {
                        index,
                        label: label.to_string(),
                        role: member.role.clone(),
                        snapshot,
                    });
                    processes.push(p);
                }
                Err(crate::error::ProbeError::ProcessGone { .. }) => {}
                Err(e) => bail!("{e}"),
            }
        }
        Ok(processes)
    }

    /// The run record of this watch with `record` as its one variant.
    fn whole_run(
        &self,
        params: BTreeMap<String, serde_json::Value>,
        record: VariantRecord,
    ) -> crate::model::RunRecord {
        super::command::whole_run(
            &self.start.started,
            &self.start.env,
            &self.provenance,
            &self.name,
            params,
            record,
        )
    }

    /// Writes the whole run (reports and raw text), points `latest` at it and
    /// tells it: Ctrl-C is how a watch ends, so its run is complete.
    fn finish(mut self, args: &WatchArgs, every: Option<Duration>) -> Result<ExitCode> {
        self.record
            .notes
            .insert("processes".into(), self.tree.describe());
        let mut params = BTreeMap::new();
        params.insert("pid".to_string(), serde_json::json!(args.pid));
        if let Some(every) = every {
            params.insert(
                "every_millis".into(),
                serde_json::json!(every.as_millis() as u64),
            );
        }
        let record = std::mem::replace(&mut self.record, first_record());
        let run = self.whole_run(params, record);
        let run_dir = &self.start.run_dir;
        store::write_run(run_dir, &crate::report::run_files(&run))?;
        store::write_raw(run_dir, &self.name, "default", &self.raw)?;
        // Ctrl-C is how a watch ends: its run is complete, not partial.
        if let Some(owner) = self.start.owner.take() {
            owner.release();
        }
        store::point_latest(&self.start.results_root, run_dir)?;
        super::command::finish(
            &run,
            args.format,
            crate::verbosity::verbose(),
            None,
            Default::default(),
            &BaselineMode::Discard,
            run_dir,
        )
    }
}

/// The line said at each snapshot: each process's VmRSS and state.
fn say_snapshot(label: &str, since_start: Duration, processes: &[ProcessRecord]) {
    crate::verbosity::say(format_args!(
        "{label} at {:.1} s: {}",
        since_start.as_secs_f64(),
        processes
            .iter()
            .map(|p| format!(
                "{} pid {} VmRSS {} KiB ({})",
                p.role,
                p.pid,
                p.totals.rss_bytes / 1024,
                p.state
                    .map_or("state unknown".to_string(), |s| s.to_string())
            ))
            .collect::<Vec<_>>()
            .join(", ")
    ));
}

/// One snapshot of `pid` and its children, as text in the manner of `pmap -X`
/// (sizes in KiB; USS is Private_Clean + Private_Dirty).
pub fn once(probe: &dyn Probe, pid: i32) -> Result<String> {
    let mut tree = Tree::new(pid);
    let mut out = String::new();
    for member in tree.refresh(probe) {
        let snapshot = super::moment::snapshot_with_state(
            probe,
            &member.role,
            member.pid,
            None,
            &[],
            0,
            false,
        );
        let (p, _) = match snapshot {
            Ok(s) => s,
            Err(crate::error::ProbeError::ProcessGone { .. }) if member.pid != pid => continue,
            Err(e) => bail!("{e}"),
        };
        out.push_str(&render_once(&p, &comm(probe, member.pid)));
    }
    Ok(out)
}

/// One process's mappings as a `pmap -X`-like table (sizes in KiB), fitted
/// to the terminal: the offset and swap columns go first, then long mapping
/// names are cut (`pmap -X` itself has every one).
pub fn render_once(p: &ProcessRecord, comm: &str) -> String {
    use crate::report::table::{fit, layout, Table};
    use std::fmt::Write;
    let kib = |b: u64| (b / 1024).to_string();
    let width = crate::report::width::terminal_width();
    let mut out = String::new();
    out.push_str(&crate::report::width::wrap(
        &format!("{}:   {comm} ({})", p.pid, p.role),
        width,
        "",
    ));
    if let Some(note) = crate::report::delta::state_note(p) {
        out.push_str(&crate::report::width::wrap(&note, width, ""));
    }
    let mut table = Table {
        headers: [
            "Address", "Perm", "Offset", "Size", "Rss", "Pss", "USS", "Swap", "Mapping",
        ]
        .map(String::from)
        .to_vec(),
        numeric: vec![true, false, true, true, true, true, true, true, false],
        rows: Vec::new(),
    };
    let mut total = crate::model::MemoryFigures::default();
    for m in &p.mappings {
        let f = &m.figures;
        total.add(f);
        table.rows.push(vec![
            format!("{:x}", m.start.0),
            m.perms.clone(),
            format!("{:x}", m.offset_bytes),
            kib(f.size_bytes),
            kib(f.rss_bytes),
            kib(f.pss_bytes),
            kib(f.private_clean_bytes + f.private_dirty_bytes),
            kib(f.swap_bytes),
            m.name.clone(),
        ]);
    }
    table.rows.push(vec![
        "total".into(),
        String::new(),
        String::new(),
        kib(total.size_bytes),
        kib(total.rss_bytes),
        kib(total.pss_bytes),
        kib(total.private_clean_bytes + total.private_dirty_bytes),
        kib(total.swap_bytes),
        "KiB".into(),
    ]);
    out.push_str(&layout(&fit(&table, width, &["Offset", "Swap"])));
    let _ = writeln!(out, "  VmRSS {} KiB\n", kib(p.totals.rss_bytes));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_watch_is_named_after_the_command_of_its_process() {
        let probe = crate::probe::traced();
        assert_eq!(comm(&probe, 29692), "cat");
        assert_eq!(run_name(&probe, 29689), "watch-python3");
        assert_eq!(run_name(&probe, 4), "watch-process", "no such process");
    }
}
