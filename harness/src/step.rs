//! Step mode (`--step`): the harness stops at every checkpoint, says what just
//! happened, shows the PIDs and the commands a student can run in another
//! terminal right now, shows the change since the last checkpoint, and waits for
//! Enter (q quits cleanly). The experiment stays parked the whole time, because
//! the runner releases it only when this returns.
//!
//! What a stop shows is gathered once as a [`Stop`] (data, no terminal text),
//! which this terminal renderer and the lecture page both draw; whatever holds
//! the session at a checkpoint is a [`Pause`].

mod stop;

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::Duration;

use crate::experiment::Experiment;
use crate::explain::wrap;
use crate::model::{CheckpointRecord, ProcessRecord, RunRecord};
use crate::report::delta::{hidden_count, mapping_deltas, state_note, DeltaFilter};
use crate::report::width::truncate;
use crate::runner;
use crate::units::{human_bytes, signed_bytes};

pub use stop::{shared_frames, Figure, FrameShare, Stop, StopProcess, StopRegion};

static QUIT: AtomicBool = AtomicBool::new(false);

/// Whether the user typed q in step mode, or pressed Quit on the lecture page
/// (a clean stop, not an error).
pub fn quit_requested() -> bool {
    QUIT.load(Ordering::SeqCst)
}

/// Stops the run cleanly where it is: the experiment's processes are ended,
/// what was reached is kept as a partial run, and the exit is a success.
pub fn request_quit() {
    QUIT.store(true, Ordering::SeqCst);
    runner::request_interrupt();
}

/// What holds a session at each checkpoint: the terminal's [`Stepper`], or
/// the lecture page. The experiment stays parked until [`Pause::pause`]
/// returns.
pub trait Pause {
    /// A variant is about to run.
    fn start_variant(&mut self, exp: &dyn Experiment, variant: &str);
    /// The variant reached `checkpoint`; returns when it may go on.
    fn pause(&mut self, exp: &dyn Experiment, variant: &str, checkpoint: &CheckpointRecord);
    /// The run ended and its folder is written (`run_dir`, renamed
    /// `-partial` when `partial`).
    fn finished(&mut self, _run: &RunRecord, _run_dir: &Path, _partial: bool) {}
}

/// The screen one stop must fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Screen {
    /// Lines per stop, the prompt included.
    pub lines: usize,
    /// Characters per line.
    pub width: usize,
}

impl Screen {
    /// A projector's screen: 50 lines (fewer if the terminal has fewer) of the
    /// terminal's width (80 at least).
    pub fn detect() -> Screen {
        Screen {
            lines: crate::report::width::terminal_height()
                .unwrap_or(DEFAULT_LINES)
                .clamp(20, DEFAULT_LINES),
            width: crate::report::width::terminal_width(),
        }
    }
}

/// The height a stop is laid out for unless the terminal is smaller.
pub const DEFAULT_LINES: usize = 50;

/// The interactive pause at each checkpoint.
pub struct Stepper {
    lines: Receiver<String>,
    previous: Vec<ProcessRecord>,
    screen: Screen,
    filter: DeltaFilter,
    /// Lines the claims' criteria took before the variant's first stop, which
    /// that stop leaves off its own room so that both fit one screen.
    intro_lines: usize,
}

/// At most this many lines list the claims before a variant runs.
const MAX_CRITERIA_LINES: usize = 12;

impl Stepper {
    /// Starts step mode; stdin must be a terminal (someone must press Enter).
    /// `filter` says which changed mappings a stop lists.
    pub fn new(filter: DeltaFilter) -> Result<Stepper, String> {
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
            screen: Screen::detect(),
            filter,
            intro_lines: 0,
        })
    }

    /// The text shown at a checkpoint: at most `self.screen.lines` lines
    /// (the prompt included) of at most `self.screen.width` characters.
    pub fn describe(
        &self,
        exp: &dyn Experiment,
        variant: &str,
        checkpoint: &CheckpointRecord,
    ) -> String {
        let stop = Stop::of(exp, variant, checkpoint, &self.previous);
        self.describe_stop(&stop, checkpoint)
    }
}

impl Pause for Stepper {
    /// Forgets the previous variant's processes, and before the variant runs
    /// shows how each of its claims will be judged: the criteria are fixed
    /// before anything is measured.
    fn start_variant(&mut self, exp: &dyn Experiment, variant: &str) {
        self.previous.clear();
        let lines = criteria_lines(exp, variant, self.screen.width);
        let mut err = std::io::stderr().lock();
        for line in &lines {
            let _ = writeln!(err, "{line}");
        }
        self.intro_lines = lines.len();
    }

    /// Shows the checkpoint and waits for Enter or q.
    fn pause(&mut self, exp: &dyn Experiment, variant: &str, checkpoint: &CheckpointRecord) {
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "{}", self.describe(exp, variant, checkpoint));
        let _ = write!(err, "Press Enter to continue, or q and Enter to quit: ");
        let _ = err.flush();
        drop(err);
        self.previous = checkpoint.processes.clone();
        self.intro_lines = 0;
        loop {
            if runner::interrupted() {
                return;
            }
            match self.lines.recv_timeout(Duration::from_millis(100)) {
                Ok(line) if line.trim().eq_ignore_ascii_case("q") => {
                    request_quit();
                    return;
                }
                Ok(_) => return,
                Err(RecvTimeoutError::Timeout) => continue,
                Err(RecvTimeoutError::Disconnected) => {
                    // End of input: nobody can press Enter any more.
                    request_quit();
                    return;
                }
            }
        }
    }
}

impl Stepper {
    /// [`Stepper::describe`] of a stop already gathered.
    fn describe_stop(&self, stop: &Stop, checkpoint: &CheckpointRecord) -> String {
        let width = self.screen.width;
        let mut head: Vec<String> = vec![
            String::new(),
            truncate(
                &format!(
                    "=== {} / {}: stopped at {} ===",
                    stop.experiment, stop.variant, stop.label
                ),
                width,
            ),
        ];
        if let Some(caption) = &stop.caption {
            let lines: Vec<String> = wrap(caption, width, "").lines().map(String::from).collect();
            head.extend(cap(lines, MAX_CAPTION_LINES, "(the rest: harness explain)"));
        }
        head.push("Look at it from another terminal now:".into());
        let mut commands: Vec<String> = stop
            .processes
            .iter()
            .map(|p| truncate(&format!("  {} {}: {}", p.role, p.pid, p.commands), width))
            .collect();
        if commands.len() > MAX_COMMAND_LINES {
            let more = commands.len() - (MAX_COMMAND_LINES - 1);
            commands.truncate(MAX_COMMAND_LINES - 1);
            commands.push(format!(
                "  ... and {more} more processes (all in results.md)"
            ));
        }
        head.extend(commands);
        let frames = frame_lines(stop, width);

        // What is left of the screen goes to the changes, process by process.
        // The "Since ..." heading, the prompt, and the criteria shown before
        // the variant's first stop.
        let fixed = head.len() + frames.len() + 2 + self.intro_lines;
        let room = self.screen.lines.saturating_sub(fixed);
        let changes = cap(
            self.change_lines(checkpoint, width),
            room,
            "(more: --detail or results.md)",
        );

        let mut out = head.join("\n");
        out.push_str("\nSince the previous checkpoint:\n");
        for line in changes.iter().chain(&frames) {
            out.push_str(line);
            out.push('\n');
        }
        out
    }

    /// Per process: faults, totals (Shared_Dirty among them), and the mappings
    /// that moved.
    fn change_lines(&self, checkpoint: &CheckpointRecord, width: usize) -> Vec<String> {
        let mut lines = Vec::new();
        for p in &checkpoint.processes {
            let before = self.previous.iter().find(|b| b.pid == p.pid);
            if let Some(note) = state_note(p) {
                lines.extend(wrap(&note, width, "  ").lines().map(String::from));
            }
            let shared_dirty: u64 = p
                .mappings
                .iter()
                .map(|m| m.figures.shared_dirty_bytes)
                .sum();
            let Some(before) = before else {
                lines.push(truncate(
                    &format!(
                        "  {} {}: new process, {} mappings, VmRSS {}, Shared_Dirty {}, VmSize {}",
                        p.role,
                        p.pid,
                        p.mappings.len(),
                        human_bytes(p.totals.rss_bytes),
                        human_bytes(shared_dirty),
                        human_bytes(p.totals.vm_size_bytes),
                    ),
                    width,
                ));
                continue;
            };
            let rss_delta = p.totals.rss_bytes as i64 - before.totals.rss_bytes as i64;
            let size_delta = p.totals.vm_size_bytes as i64 - before.totals.vm_size_bytes as i64;
            let mut line = format!(
                "  {} {}: {} minor/{} major faults, VmRSS {} ({}), Shared_Dirty {}",
                p.role,
                p.pid,
                p.faults.minor,
                p.faults.major,
                human_bytes(p.totals.rss_bytes),
                signed_bytes(rss_delta),
                human_bytes(shared_dirty),
            );
            if size_delta != 0 {
                line.push_str(&format!(", VmSize {}", signed_bytes(size_delta)));
            }
            lines.push(truncate(&line, width));
            let deltas = mapping_deltas(Some(before), p, &self.filter);
            let shown = deltas.len().min(MAX_MAPPINGS_PER_PROCESS);
            for d in &deltas[..shown] {
                lines.push(truncate(&format!("    {}", d.line()), width));
                for e in d.explanations() {
                    lines.extend(wrap(&e, width, "      ").lines().map(String::from));
                }
            }
            let hidden = hidden_count(Some(before), p, &self.filter) + (deltas.len() - shown);
            if hidden > 0 {
                lines.push(format!(
                    "    ({hidden} more moved: shared-library Pss, less than a page; --all-mappings)"
                ));
            }
        }
        lines
    }
}

/// The claims an experiment judges, each with its criterion on one line (cut
/// to the width), at most [`MAX_CRITERIA_LINES`] lines in all.
fn criteria_lines(exp: &dyn Experiment, variant: &str, width: usize) -> Vec<String> {
    let claims = exp.claims();
    if claims.is_empty() {
        return Vec::new();
    }
    let mut lines = vec![truncate(
        &format!(
            "=== {} / {}: the claims and their criteria, fixed before measuring ===",
            exp.info().name,
            variant
        ),
        width,
    )];
    let room = MAX_CRITERIA_LINES - 1;
    for claim in claims
        .iter()
        .take(if claims.len() > room { room - 1 } else { room })
    {
        lines.push(truncate(
            &format!("  {}: {}", claim.id, claim.criterion),
            width,
        ));
    }
    if claims.len() > room {
        lines.push(format!(
            "  ... {} more; all in full: harness explain {}",
            claims.len() - (room - 1),
            exp.info().name
        ));
    }
    lines
}

/// Lines of the caption shown at most; the whole text is in `explain`.
const MAX_CAPTION_LINES: usize = 6;
/// Processes whose commands are listed.
const MAX_COMMAND_LINES: usize = 4;
/// Changed mappings listed per process.
const MAX_MAPPINGS_PER_PROCESS: usize = 8;
/// Region comparisons listed in the frame lines.
const MAX_FRAME_LINES: usize = 4;

/// `lines` cut to `max`, the last line saying so.
fn cap(mut lines: Vec<String>, max: usize, more: &str) -> Vec<String> {
    if lines.len() > max {
        lines.truncate(max.saturating_sub(1));
        if max > 0 {
            lines.push(format!("  {more}"));
        }
    }
    lines
}

/// Where several processes map the same declared region (after fork): how many
/// of the sampled pages sit on the same physical frame in both (pagemap).
fn frame_lines(stop: &Stop, width: usize) -> Vec<String> {
    let lines: Vec<String> = stop
        .frames
        .iter()
        .map(|f| truncate(&format!("  {}", f.sentence()), width))
        .collect();
    if lines.is_empty() {
        return lines;
    }
    let mut out = vec!["Page frames (pagemap):".to_string()];
    out.extend(cap(
        lines,
        MAX_FRAME_LINES,
        "(more regions in results.json)",
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_list_is_capped_and_says_so() {
        let lines: Vec<String> = (0..10).map(|i| i.to_string()).collect();
        let capped = cap(lines, 4, "more");
        assert_eq!(capped.len(), 4);
        assert_eq!(capped[3], "  more");
    }
}
