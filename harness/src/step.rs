//! Step mode (`--step`): the harness stops at every checkpoint, says what just
//! happened, shows the PIDs and the commands a student can run in another
//! terminal right now, shows the change since the last checkpoint, and waits for
//! Enter (q quits cleanly). The experiment stays parked the whole time, because
//! the runner releases it only when this returns.

use std::io::{BufRead, IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::Duration;

use crate::experiment::Experiment;
use crate::explain::{step_caption, wrap};
use crate::model::{CheckpointRecord, ProcessRecord};
use crate::report::delta::{mapping_deltas, signed_bytes, Change};
use crate::runner;

static QUIT: AtomicBool = AtomicBool::new(false);

/// Whether the user typed q in step mode (a clean stop, not an error).
pub fn quit_requested() -> bool {
    QUIT.load(Ordering::SeqCst)
}

/// The interactive pause at each checkpoint.
pub struct Stepper {
    lines: Receiver<String>,
    previous: Vec<ProcessRecord>,
}

impl Stepper {
    /// Starts step mode; stdin must be a terminal (someone must press Enter).
    pub fn new() -> Result<Stepper, String> {
        if !std::io::stdin().is_terminal() {
            return Err("--step needs a terminal on stdin to wait for Enter; run it interactively, or drop --step".into());
        }
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::stdin().lock().lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Ok(Stepper {
            lines: rx,
            previous: Vec::new(),
        })
    }

    /// Forgets the previous variant's processes.
    pub fn start_variant(&mut self) {
        self.previous.clear();
    }

    /// Shows the checkpoint and waits for Enter or q.
    pub fn pause(&mut self, exp: &dyn Experiment, variant: &str, checkpoint: &CheckpointRecord) {
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "{}", self.describe(exp, variant, checkpoint));
        let _ = write!(err, "Press Enter to continue, or q and Enter to quit: ");
        let _ = err.flush();
        drop(err);
        self.previous = checkpoint.processes.clone();
        loop {
            if runner::interrupted() {
                return;
            }
            match self.lines.recv_timeout(Duration::from_millis(100)) {
                Ok(line) if line.trim().eq_ignore_ascii_case("q") => {
                    QUIT.store(true, Ordering::SeqCst);
                    runner::request_interrupt();
                    return;
                }
                Ok(_) => return,
                Err(RecvTimeoutError::Timeout) => continue,
                Err(RecvTimeoutError::Disconnected) => {
                    // End of input: nobody can press Enter any more.
                    QUIT.store(true, Ordering::SeqCst);
                    runner::request_interrupt();
                    return;
                }
            }
        }
    }

    /// The text shown at a checkpoint.
    pub fn describe(
        &self,
        exp: &dyn Experiment,
        variant: &str,
        checkpoint: &CheckpointRecord,
    ) -> String {
        let mut out = format!(
            "\n=== {} / {}: stopped at {} ===\n",
            exp.info().name,
            variant,
            checkpoint.label
        );
        if let Some(caption) = step_caption(exp.explanation(), &checkpoint.label) {
            out.push_str(&wrap(caption, 80, ""));
        }
        out.push_str("\nLook at it from another terminal now:\n");
        for p in &checkpoint.processes {
            out.push_str(&format!(
                "  {role} (pid {pid}):  pmap -X {pid}  |  cat /proc/{pid}/smaps_rollup  |  ps -o pid,vsz,rss,min_flt,maj_flt,cmd -p {pid}\n",
                role = p.role,
                pid = p.pid
            ));
        }
        out.push_str("\nWhat changed since the previous checkpoint:\n");
        for p in &checkpoint.processes {
            let before = self.previous.iter().find(|b| b.role == p.role);
            let rss_delta =
                p.totals.rss_bytes as i64 - before.map_or(0, |b| b.totals.rss_bytes as i64);
            out.push_str(&format!(
                "  {}: {} minor / {} major faults, VmRSS {} ({}), VmSize {}\n",
                p.role,
                p.faults.minor,
                p.faults.major,
                crate::experiment::human_bytes(p.totals.rss_bytes),
                signed_bytes(rss_delta),
                crate::experiment::human_bytes(p.totals.vm_size_bytes),
            ));
            for d in mapping_deltas(before, p) {
                let what = match d.change {
                    Change::New => "new ",
                    Change::Gone => "gone ",
                    Change::Changed => "",
                };
                out.push_str(&format!(
                    "      {what}{} {} {}: Size {}, Rss {}, Pss {}, Private_Dirty {}\n",
                    d.start,
                    d.perms,
                    d.name,
                    signed_bytes(d.size_delta_bytes),
                    signed_bytes(d.rss_delta_bytes),
                    signed_bytes(d.pss_delta_bytes),
                    signed_bytes(d.private_dirty_delta_bytes)
                ));
            }
        }
        out
    }
}
