//! `harness watch PID`: snapshots of a process the harness did not start (a
//! server, a shell, a student's program already running), and of every process
//! it forked. The process is not stopped, so one snapshot is not one instant:
//! the record says so, and no noise floor is measured.
//!
//! `--once` prints one snapshot per process the way `pmap -X` lists mappings,
//! with Pss, USS and swap per mapping, and writes nothing.

use std::collections::BTreeMap;
use std::io::BufRead;
use std::process::ExitCode;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};

use super::tree::{self, Tree};
use crate::cli::WatchArgs;
use crate::model::{CheckpointRecord, Faults, ProcessRecord, Status, VariantRecord};
use crate::probe::ProcProbe;
use crate::runner::{self, RawCapture};
use crate::store;
use crate::store::baseline::BaselineMode;

/// The command name of `pid` (/proc/PID/comm).
fn comm(pid: i32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .map(|c| c.trim().to_string())
        .unwrap_or_default()
}

/// Runs `harness watch`.
pub fn watch(args: &WatchArgs) -> Result<ExitCode> {
    if args.pid <= 0 || !tree::alive(args.pid) {
        bail!("no running process with pid {}", args.pid);
    }
    if args.once && args.format != crate::report::Format::Table {
        return Err(crate::error::UsageError(
            "--once prints a table like `pmap -X`; drop --format, or leave out --once for a run in that format".into(),
        )
        .into());
    }
    if args.once {
        crate::verbosity::stdout(once(args.pid)?);
        return Ok(ExitCode::SUCCESS);
    }
    // A process that cannot be read is refused before a run folder exists.
    once(args.pid)?;
    let super::command::RunStart {
        started,
        env,
        results_root,
        run_dir,
        owner,
    } = super::command::start_run(args.out.as_deref())?;
    // Read once: the record is rewritten after every snapshot.
    let provenance = crate::provenance::Provenance::detect();

    let every = match (args.every, args.on_enter) {
        (Some(every), _) => Some(every),
        (None, true) => None,
        (None, false) => Some(Duration::from_secs(1)),
    };
    let enter = if args.on_enter {
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::stdin().lock().lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        crate::verbosity::say(format_args!(
            "Enter takes a snapshot of {}; q (or end of input) stops",
            args.pid
        ));
        Some(rx)
    } else {
        None
    };

    let name = format!("watch-{}", super::label::from_line(&comm(args.pid)));
    let name = if name == "watch-" {
        "watch-process".to_string()
    } else {
        name
    };
    let mut record = VariantRecord {
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
    };
    let mut raw = Vec::new();
    let mut tree = Tree::new(args.pid);
    let mut previous: BTreeMap<i32, Faults> = BTreeMap::new();
    let start = Instant::now();
    let mut last = Instant::now();
    let mut next_due = Duration::ZERO;
    let limit = args.count.unwrap_or(u64::MAX);
    while (record.checkpoints.len() as u64) < limit && !runner::interrupted() {
        let due = match (&enter, every) {
            (Some(rx), _) => match rx.recv_timeout(Duration::from_millis(50)) {
                Ok(line) if line.trim() == "q" => break,
                Ok(_) => true,
                Err(mpsc::RecvTimeoutError::Timeout) => false,
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            },
            (None, Some(every)) => {
                let due = start.elapsed() >= next_due;
                if due {
                    next_due += every;
                } else {
                    std::thread::sleep(Duration::from_millis(10).min(every));
                }
                due
            }
            (None, None) => unreachable!("watch without --on-enter always has an interval"),
        };
        if !due {
            continue;
        }
        let live = tree.refresh();
        if live.is_empty() {
            record
                .notes
                .insert("ended".into(), format!("pid {} exited", args.pid));
            break;
        }
        let index = record.checkpoints.len();
        let label = format!("snapshot-{}", index + 1);
        let mut processes: Vec<ProcessRecord> = Vec::new();
        for member in &live {
            let before = previous.get(&member.pid).copied();
            match super::moment::snapshot_with_state(
                &ProcProbe,
                &member.role,
                member.pid,
                before,
                &[],
                env.page_size,
                false,
            ) {
                Ok((p, snapshot)) => {
                    previous.insert(member.pid, p.faults_total);
                    raw.push(RawCapture {
                        index,
                        label: label.clone(),
                        role: member.role.clone(),
                        snapshot,
                    });
                    processes.push(p);
                }
                Err(crate::error::ProbeError::ProcessGone { .. }) => {}
                Err(e) => bail!("{e}"),
            }
        }
        crate::verbosity::say(format_args!(
            "{label} at {:.1} s: {}",
            start.elapsed().as_secs_f64(),
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
        record.checkpoints.push(CheckpointRecord {
            label,
            phase_millis: last.elapsed().as_millis() as u64,
            processes,
            system: crate::probe::meminfo::read().ok(),
            population: None,
        });
        last = Instant::now();
        // Kept after every snapshot, so that a kill loses none: the next run
        // finds the folder's owner gone and marks it partial.
        let so_far = super::command::whole_run(
            &started,
            &env,
            &provenance,
            &name,
            BTreeMap::new(),
            record.clone(),
        );
        store::write_run(&run_dir, &[crate::report::run_record(&so_far)])?;
    }
    record.notes.insert(
        "processes".into(),
        tree.all()
            .map(|m| match &m.parent {
                Some(p) => format!("{} pid {} (forked by {p})", m.role, m.pid),
                None => format!("{} pid {}", m.role, m.pid),
            })
            .collect::<Vec<_>>()
            .join("; "),
    );
    let mut params = BTreeMap::new();
    params.insert("pid".to_string(), serde_json::json!(args.pid));
    if let Some(every) = every {
        params.insert(
            "every_millis".into(),
            serde_json::json!(every.as_millis() as u64),
        );
    }
    let run = super::command::whole_run(&started, &env, &provenance, &name, params, record);
    store::write_run(&run_dir, &crate::report::run_files(&run))?;
    store::write_raw(&run_dir, &name, "default", &raw)?;
    // Ctrl-C is how a watch ends: its run is complete, not partial.
    if let Some(owner) = owner {
        owner.release();
    }
    store::point_latest(&results_root, &run_dir)?;
    super::command::finish(
        &run,
        args.format,
        crate::verbosity::verbose(),
        None,
        Default::default(),
        &BaselineMode::Discard,
        &run_dir,
    )
}

/// One snapshot of `pid` and its children, as text in the manner of `pmap -X`
/// (sizes in KiB; USS is Private_Clean + Private_Dirty).
pub fn once(pid: i32) -> Result<String> {
    let mut tree = Tree::new(pid);
    let mut out = String::new();
    for member in tree.refresh() {
        let snapshot = super::moment::snapshot_with_state(
            &ProcProbe,
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
        out.push_str(&render_once(&p, &comm(member.pid)));
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
