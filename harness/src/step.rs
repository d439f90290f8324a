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

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::Duration;

use crate::experiment::Experiment;
use crate::model::{CheckpointRecord, ProcessRecord, RunRecord};
use crate::report::delta::{hidden_count, mapping_deltas, state_note, DeltaFilter};
use crate::report::width::{wrap, wrap_hanging};
use crate::runner;
use crate::system::Environment;
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
    /// The machine, which the claims of a variant are found with.
    env: Environment,
}

/// At most this many lines list the claims before a variant runs.
const MAX_CRITERIA_LINES: usize = 20;

impl Stepper {
    /// Starts step mode; stdin must be a terminal (someone must press Enter).
    /// `filter` says which changed mappings a stop lists.
    pub fn new(filter: DeltaFilter, env: Environment) -> Result<Stepper, String> {
        if !std::io::stdin().is_terminal() {
            return Err("--step needs a terminal on stdin to wait for Enter; run it interactively, or drop --step".into());
        }
        let rx = crate::runner::lines::spawn_text(|| std::io::stdin().lock());
        Ok(Stepper {
            lines: rx,
            previous: Vec::new(),
            screen: Screen::detect(),
            filter,
            intro_lines: 0,
            env,
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
        let lines = criteria_lines(exp, variant, &self.env, self.screen.width);
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
        let mut head: Vec<String> = vec![String::new()];
        head.extend(
            wrap(
                &format!(
                    "=== {} / {}: stopped at {} ===",
                    stop.experiment, stop.variant, stop.label
                ),
                width,
                "",
            )
            .lines()
            .map(String::from),
        );
        if let Some(caption) = &stop.caption {
            let lines: Vec<String> = wrap(caption, width, "").lines().map(String::from).collect();
            head.extend(cap(lines, MAX_CAPTION_LINES, "(the rest: harness explain)"));
        }
        head.push("Look at it from another terminal now:".into());
        // Processes beyond MAX_COMMAND_LINES are counted, not listed.
        let listed = if stop.processes.len() > MAX_COMMAND_LINES {
            MAX_COMMAND_LINES - 1
        } else {
            stop.processes.len()
        };
        let mut commands: Vec<String> = stop.processes[..listed]
            .iter()
            .flat_map(|p| {
                wrap_hanging(
                    &format!("{} {}: {}", p.role, p.pid, p.commands),
                    width,
                    "  ",
                    "    ",
                )
                .lines()
                .map(String::from)
                .collect::<Vec<_>>()
            })
            .collect();
        if listed < stop.processes.len() {
            commands.push(format!(
                "  ... and {} more processes (all in results.md)",
                stop.processes.len() - listed
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

    /// Per process: see [`change_lines`].
    fn change_lines(&self, checkpoint: &CheckpointRecord, width: usize) -> Vec<String> {
        change_lines(&self.previous, checkpoint, &self.filter, width)
    }
}

/// A declared region as every stop names it: `data: the 256 MiB region,
/// [anon] rw-p` (the mapping's name and permissions where the region is one
/// mapping of its own size).
pub fn region_title(p: &ProcessRecord, region: &crate::model::RegionRecord) -> String {
    let mut title = format!(
        "{}: the {} region",
        region.name,
        human_bytes(region.figures.size_bytes)
    );
    if let Some(m) = region_mapping(p, region) {
        let name = match m.name.rsplit('/').next() {
            Some(base) if !base.is_empty() => base,
            _ => "[anon]",
        };
        title.push_str(&format!(", {name} {}", m.perms));
    }
    title
}

/// The mapping that is the region, where the region is exactly one mapping.
fn region_mapping<'a>(
    p: &'a ProcessRecord,
    region: &crate::model::RegionRecord,
) -> Option<&'a crate::model::MappingRecord> {
    if region.mapping_count != 1 {
        return None;
    }
    let mut same_size = p
        .mappings
        .iter()
        .filter(|m| m.figures.size_bytes == region.figures.size_bytes);
    let found = same_size.next()?;
    // Two mappings of the region's size: which one it is cannot be told.
    same_size.next().is_none().then_some(found)
}

/// What changed in each process since `previous`, for a terminal of `width`
/// columns, the one renderer of step mode and `trace --step`: the process's
/// faults and totals, then each declared region first (named by
/// [`region_title`], its figures never cut), then the other mappings that
/// moved, with the program file's and the libraries' moves folded into one
/// line. Every line wraps; none is cut.
pub fn change_lines(
    previous: &[ProcessRecord],
    checkpoint: &CheckpointRecord,
    filter: &DeltaFilter,
    width: usize,
) -> Vec<String> {
    let mut text = String::new();
    for p in &checkpoint.processes {
        let before = previous.iter().find(|b| b.pid == p.pid);
        if let Some(note) = state_note(p) {
            text.push_str(&wrap(&note, width, "  "));
        }
        text.push_str(&wrap_hanging(&process_head(p, before), width, "  ", "    "));
        let region_starts = region_lines(&mut text, p, before, width);
        if let Some(before) = before {
            mapping_lines(&mut text, p, before, &region_starts, filter, width);
        }
    }
    text.lines().map(String::from).collect()
}

/// A process's first line: new, with its size, or its phase's faults and
/// how its totals moved.
fn process_head(p: &ProcessRecord, before: Option<&ProcessRecord>) -> String {
    let shared_dirty: u64 = p
        .mappings
        .iter()
        .map(|m| m.figures.shared_dirty_bytes)
        .sum();
    match before {
        None => format!(
            "{} {}: new process, {} mappings, VmRSS {}, Shared_Dirty {}, VmSize {}",
            p.role,
            p.pid,
            p.mappings.len(),
            human_bytes(p.totals.rss_bytes),
            human_bytes(shared_dirty),
            human_bytes(p.totals.vm_size_bytes),
        ),
        Some(before) => {
            let rss_delta = p.totals.rss_bytes as i64 - before.totals.rss_bytes as i64;
            let size_delta = p.totals.vm_size_bytes as i64 - before.totals.vm_size_bytes as i64;
            let mut line = format!(
                "{} {}: {} minor/{} major faults, VmRSS {} ({}), Shared_Dirty {}",
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
            line
        }
    }
}

/// Each declared region of the process, titled, with its figures and how
/// they moved; returns the start addresses of the regions' mappings, which
/// the list of other mappings leaves out.
fn region_lines(
    text: &mut String,
    p: &ProcessRecord,
    before: Option<&ProcessRecord>,
    width: usize,
) -> Vec<String> {
    let mut region_starts = Vec::new();
    for region in &p.regions {
        text.push_str(&wrap_hanging(
            &region_title(p, region),
            width,
            "    ",
            "      ",
        ));
        let old = before.and_then(|b| b.region(&region.name));
        let figures: Vec<String> = stop::FIGURES
            .iter()
            .map(|(name, get)| {
                let now = get(&region.figures);
                match old {
                    Some(o) => format!(
                        "{name} {} ({})",
                        human_bytes(now),
                        signed_bytes(now as i64 - get(&o.figures) as i64)
                    ),
                    None => format!("{name} {}", human_bytes(now)),
                }
            })
            .collect();
        text.push_str(&wrap(&figures.join(", "), width, "      "));
        if let Some(m) = region_mapping(p, region) {
            region_starts.push(m.start.to_string());
        }
    }
    region_starts
}

/// The other mappings that moved: anonymous and special ones listed (up to
/// [`MAX_MAPPINGS_PER_PROCESS`]), the program file's and the libraries'
/// folded into one line, and a count of the rest.
fn mapping_lines(
    text: &mut String,
    p: &ProcessRecord,
    before: &ProcessRecord,
    region_starts: &[String],
    filter: &DeltaFilter,
    width: usize,
) {
    let deltas = mapping_deltas(Some(before), p, filter);
    let (files, others): (Vec<_>, Vec<_>) = deltas
        .iter()
        .filter(|d| !region_starts.contains(&d.start))
        .partition(|d| d.name.starts_with('/'));
    let shown = others.len().min(MAX_MAPPINGS_PER_PROCESS);
    for d in &others[..shown] {
        text.push_str(&wrap_hanging(&d.line(), width, "    ", "      "));
        for e in d.explanations() {
            text.push_str(&wrap(&e, width, "      "));
        }
    }
    if !files.is_empty() {
        let rss: i64 = files.iter().map(|d| d.rss_delta_bytes).sum();
        let pss: i64 = files.iter().map(|d| d.pss_delta_bytes).sum();
        text.push_str(&wrap_hanging(
            &format!(
                "the program file and libraries: {} mappings moved, Rss {}, Pss {} in all",
                files.len(),
                signed_bytes(rss),
                signed_bytes(pss)
            ),
            width,
            "    ",
            "      ",
        ));
    }
    let hidden = hidden_count(Some(before), p, filter) + (others.len() - shown);
    if hidden > 0 {
        text.push_str(&wrap_hanging(
            &format!("({hidden} more moved by less than a page; --all-mappings)"),
            width,
            "    ",
            "      ",
        ));
    }
}

/// The ids of the claims `exp` judges on `variant`: those its judge gives a
/// record for when handed that variant alone (a claim of the whole
/// experiment counts for every variant). Judging needs no measurement for
/// this: a claim with nothing measured is still recorded, as unmeasured.
pub fn variant_claim_ids(exp: &dyn Experiment, variant: &str, env: &Environment) -> Vec<String> {
    let record = crate::model::ExperimentRecord {
        name: exp.info().name.to_string(),
        status: crate::model::Status::Ok,
        reason: None,
        params: Default::default(),
        variants: vec![crate::model::VariantRecord::new(variant)],
        claims: Vec::new(),
        summary: Vec::new(),
        fault_costs: Vec::new(),
    };
    exp.judge(&record, env)
        .into_iter()
        .filter(|c| c.variant.as_deref().is_none_or(|v| v == variant))
        .map(|c| c.id)
        .collect()
}

/// The claims judged on `variant`, each with its criterion wrapped (never
/// cut), at most [`MAX_CRITERIA_LINES`] lines in all; claims that do not fit
/// are counted and left to `harness explain`.
fn criteria_lines(
    exp: &dyn Experiment,
    variant: &str,
    env: &Environment,
    width: usize,
) -> Vec<String> {
    let ids = variant_claim_ids(exp, variant, env);
    let claims: Vec<_> = exp
        .claims()
        .iter()
        .filter(|c| ids.iter().any(|id| id == c.id))
        .collect();
    if claims.is_empty() {
        return Vec::new();
    }
    let mut lines: Vec<String> = wrap(
        &format!(
            "=== {} / {}: the claims and their criteria, fixed before measuring ({} on this variant) ===",
            exp.info().name,
            variant,
            claims.len()
        ),
        width,
        "",
    )
    .lines()
    .map(String::from)
    .collect();
    let heading = lines.len();
    for (i, claim) in claims.iter().enumerate() {
        let block: Vec<String> = wrap_hanging(
            &format!("{}: {}", claim.id, claim.criterion),
            width,
            "  ",
            "      ",
        )
        .lines()
        .map(String::from)
        .collect();
        let left = claims.len() - i;
        // Room for this claim, and for the line counting the rest if any follow.
        let reserve = usize::from(left > 1);
        if lines.len() + block.len() + reserve > MAX_CRITERIA_LINES.max(heading + 2) {
            lines.extend(
                wrap(
                    &format!(
                        "... {left} more; all in full: harness explain {}",
                        exp.info().name
                    ),
                    width,
                    "  ",
                )
                .lines()
                .map(String::from),
            );
            break;
        }
        lines.extend(block);
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
        .flat_map(|f| {
            wrap_hanging(&f.sentence(), width, "  ", "    ")
                .lines()
                .map(String::from)
                .collect::<Vec<_>>()
        })
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
    fn every_variant_of_every_experiment_has_its_own_claims_listed() {
        let env = Environment::fixture();
        for exp in crate::experiment::registry() {
            let all: Vec<&str> = exp.claims().iter().map(|c| c.id).collect();
            for variant in exp.info().variants {
                let ids = variant_claim_ids(exp, variant, &env);
                assert!(
                    all.is_empty() || !ids.is_empty(),
                    "{} / {variant}: no claims",
                    exp.info().name
                );
                assert!(ids.iter().all(|id| all.contains(&id.as_str())), "{ids:?}");
            }
        }
        // fork-cow's zygote claims are not the thp-off variant's.
        let fork = crate::experiment::find("fork-cow").expect("fork-cow");
        let ids = variant_claim_ids(fork, "thp-off", &env);
        assert!(ids.iter().any(|i| i == "fork-copies-nothing"), "{ids:?}");
        assert!(!ids.iter().any(|i| i.starts_with("zygote")), "{ids:?}");
    }

    #[test]
    fn a_long_list_is_capped_and_says_so() {
        let lines: Vec<String> = (0..10).map(|i| i.to_string()).collect();
        let capped = cap(lines, 4, "more");
        assert_eq!(capped.len(), 4);
        assert_eq!(capped[3], "  more");
    }
}
