//! The `trace` command: check everything the user gave (labels, claims file,
//! baseline) before the program starts, trace it, judge the claims, write the
//! run like any other and print it.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{bail, Context, Result};

use super::claims::{self, ClaimsFile};
use super::label;
use super::session::{self, CheckpointCause, TraceSpec};
use crate::cli::TraceArgs;
use crate::compare as comparing;
use crate::model::{CheckpointRecord, ExperimentRecord, RunRecord, Status, FORMAT_VERSION};
use crate::probe::ProcProbe;
use crate::report::{self, Format};
use crate::runner;
use crate::session::{tell, Telling};
use crate::store;
use crate::store::baseline::{self, BaselineMode};
use crate::system::{Environment, Root};
use crate::verbosity;

static QUIT: AtomicBool = AtomicBool::new(false);

/// The experiment name of a traced program: `trace-` and its file name in kebab-case.
pub fn experiment_name(program: &OsStr) -> String {
    let base = Path::new(program)
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let slug = label::from_line(&base);
    if slug.is_empty() {
        "trace-program".into()
    } else {
        format!("trace-{slug}")
    }
}

/// Whether the program's output would spoil the report's format on stdout.
fn machine_format(format: Format) -> bool {
    matches!(
        format,
        Format::Json | Format::Csv | Format::Tap | Format::Junit
    )
}

/// Runs `harness trace`.
pub fn trace(args: &TraceArgs) -> Result<ExitCode> {
    let Some((program, program_args)) = args.command.split_first() else {
        bail!("trace needs a program to run: harness trace [OPTIONS] -- CMD [ARGS...]");
    };
    label::check_given(&args.labels).map_err(anyhow::Error::msg)?;
    let name = match &args.name {
        Some(n) if experiments::protocol::is_valid_name(n) => n.clone(),
        Some(n) => bail!("--name '{n}' is not kebab-case (lower-case letters, digits, '-', '_')"),
        None => experiment_name(program),
    };
    let claims_file: Option<ClaimsFile> = match &args.claims {
        Some(path) => Some(claims::load(path).map_err(|e| anyhow::anyhow!("claims file {e}"))?),
        None => None,
    };
    let comparing = comparing_of(args)?;
    if args.step && !std::io::stdin().is_terminal() {
        bail!("--step needs a terminal on stdin to wait for Enter; run it interactively, or drop --step");
    }

    let start = start_run(args.out.as_deref(), &Root::live())?;
    let spec = TraceSpec {
        program: program.clone(),
        args: program_args.to_vec(),
        labels: args.labels.clone(),
        every: args.every,
        timeout: Duration::from_secs(args.timeout),
        no_aslr: args.no_aslr,
        page_size: start.env.page_size,
    };
    let mut traced = Traced {
        args,
        name,
        claims_file,
        comparing,
        // Read once: the record is rewritten at every checkpoint.
        provenance: crate::provenance::Provenance::detect(),
        start,
    };
    match traced.run(&spec)? {
        Some(outcome) => traced.write(outcome),
        None => Ok(ExitCode::SUCCESS),
    }
}

/// A trace once its options are checked and its run folder exists.
struct Traced<'a> {
    args: &'a TraceArgs,
    name: String,
    claims_file: Option<ClaimsFile>,
    comparing: Comparing,
    provenance: crate::provenance::Provenance,
    start: RunStart,
}

impl Traced<'_> {
    /// Runs the program; `None` when it was stopped as asked (q in step mode).
    fn run(&mut self, spec: &TraceSpec) -> Result<Option<crate::runner::VariantOutcome>> {
        let args = self.args;
        let mut keeper = Keeper {
            traced: self,
            taken: crate::model::VariantRecord::new("default"),
            keep_failed: false,
            stepper: StepPause {
                previous: Vec::new(),
                filter: crate::report::delta::DeltaFilter {
                    page_size: spec.page_size,
                    all: false,
                },
            },
        };
        let mut on_checkpoint =
            |record: &CheckpointRecord, cause: &CheckpointCause| keeper.keep(record, cause);
        let mut sink: Box<dyn Write> = if machine_format(args.format) {
            Box::new(std::io::stderr())
        } else {
            Box::new(std::io::stdout())
        };
        let outcome = match session::run(spec, &ProcProbe, &mut sink, &mut on_checkpoint) {
            Ok(outcome) => outcome,
            Err(crate::error::RunnerError::Interrupted) if QUIT.load(Ordering::SeqCst) => {
                crate::verbosity::say("stopped as asked; the program's processes are gone");
                return Ok(None);
            }
            Err(crate::error::RunnerError::Interrupted) => {
                return Err(crate::error::Interrupted.into())
            }
            Err(e) => {
                // Nothing ran, so the run folder stays empty: it goes.
                if let Some(owner) = self.start.owner.take() {
                    owner.release();
                }
                let _ = std::fs::remove_dir(&self.start.run_dir);
                bail!("{}: {e}", spec.program.to_string_lossy())
            }
        };
        drop(sink);
        if outcome.record.status == crate::model::Status::Skipped {
            // A CI job must see that nothing was measured; exit 4 follows from the status.
            crate::verbosity::say(format_args!(
                "warning: {}",
                outcome.record.reason.as_deref().unwrap_or("no checkpoint")
            ));
        }
        Ok(Some(outcome))
    }

    /// Judges the traced program, writes the run folder and tells the run.
    fn write(self, mut outcome: crate::runner::VariantOutcome) -> Result<ExitCode> {
        let RunStart {
            started,
            env,
            results_root,
            run_dir,
            owner,
        } = self.start;
        crate::elf::attach_binary_facts(&mut outcome.record, None);
        let mut experiment = traced_experiment(&self.name, outcome.record, trace_params(self.args));
        if let Some(file) = &self.claims_file {
            experiment.claims = claims::judge(file, &experiment, env.page_size);
        }
        let run = RunRecord {
            format_version: FORMAT_VERSION,
            vmlab_version: env!("CARGO_PKG_VERSION").to_string(),
            started_at: started.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            quick: false,
            environment: env,
            experiments: vec![experiment],
            repeats: None,
            provenance: self.provenance,
            gate: Default::default(),
        };
        store::write_run(&run_dir, &crate::report::run_files(&run))?;
        store::write_raw(&run_dir, &self.name, "default", &outcome.raw)?;
        if let Some(code) = keep(owner, &results_root, &run_dir)? {
            return Ok(code);
        }
        let Comparing {
            mode,
            baseline_run,
            tolerances,
        } = self.comparing;
        finish(
            &run,
            self.args.format,
            crate::verbosity::verbose(),
            baseline_run.as_ref(),
            tolerances,
            &mode,
            &run_dir,
        )
    }
}

/// Keeps every checkpoint in the run folder as it is taken, so that a SIGKILL
/// loses none: the next run finds the folder's owner gone and marks it
/// partial. The complete record written at the end replaces it.
struct Keeper<'t, 'a> {
    traced: &'t Traced<'a>,
    taken: crate::model::VariantRecord,
    keep_failed: bool,
    stepper: StepPause,
}

impl Keeper<'_, '_> {
    fn keep(&mut self, record: &CheckpointRecord, cause: &CheckpointCause) {
        let t = self.traced;
        self.taken.checkpoints.push(record.clone());
        let so_far = whole_run(
            &t.start.started,
            &t.start.env,
            &t.provenance,
            &t.name,
            Default::default(),
            self.taken.clone(),
        );
        let run_dir = &t.start.run_dir;
        if let Err(e) = store::write_run(run_dir, &[report::run_record(&so_far)]) {
            if !std::mem::replace(&mut self.keep_failed, true) {
                eprintln!(
                    "warning: cannot keep the checkpoints in {}: {e}",
                    run_dir.display()
                );
            }
        }
        if t.args.step {
            self.stepper.pause(record, cause);
        } else {
            verbosity::note(format_args!(
                "checkpoint {}: {}",
                record.label,
                cause.waiting.join("; ")
            ));
        }
    }
}

/// The baseline a trace is compared with or saved as, and the tolerances.
struct Comparing {
    mode: BaselineMode,
    baseline_run: Option<RunRecord>,
    tolerances: comparing::tolerance::Tolerances,
}

/// Reads and checks the baseline options before anything runs: a bad baseline
/// or target costs no run.
fn comparing_of(args: &TraceArgs) -> Result<Comparing> {
    let baseline_dir = args
        .baseline_dir
        .clone()
        .unwrap_or_else(|| store::default_results_root().join("baselines"));
    let mode = BaselineMode::from_flags(
        &baseline_dir,
        args.baseline.as_deref(),
        args.save_baseline.as_deref(),
        None,
    )?;
    let baseline_run = mode.compare_with().map(baseline::load).transpose()?;
    if let Some(path) = mode.save_to() {
        store::save::check_target(path)?;
    }
    let tolerances = comparing::tolerance::parse_all(&args.tolerance)?;
    Ok(Comparing {
        mode,
        baseline_run,
        tolerances,
    })
}

/// The trace's parameters as the record keeps them: the command, labels,
/// interval, ASLR and claims file.
fn trace_params(args: &TraceArgs) -> std::collections::BTreeMap<String, serde_json::Value> {
    let mut params = std::collections::BTreeMap::new();
    let command_line: Vec<String> = args
        .command
        .iter()
        .map(|a| a.to_string_lossy().to_string())
        .collect();
    params.insert("command".to_string(), serde_json::json!(command_line));
    if !args.labels.is_empty() {
        params.insert("labels".into(), serde_json::json!(args.labels));
    }
    if let Some(every) = args.every {
        params.insert(
            "every_millis".into(),
            serde_json::json!(every.as_millis() as u64),
        );
    }
    params.insert("no_aslr".into(), serde_json::json!(args.no_aslr));
    if let Some(path) = &args.claims {
        params.insert(
            "claims_file".into(),
            serde_json::json!(path.display().to_string()),
        );
    }
    params
}

/// The traced program as an experiment of one variant, `default`.
fn traced_experiment(
    name: &str,
    record: crate::model::VariantRecord,
    params: std::collections::BTreeMap<String, serde_json::Value>,
) -> ExperimentRecord {
    ExperimentRecord {
        name: name.to_string(),
        status: record.status,
        reason: record.reason.clone().map(|r| match record.status {
            crate::model::Status::Failed => format!("variant default failed: {r}"),
            _ => r,
        }),
        params,
        variants: vec![record],
        claims: Vec::new(),
        summary: Vec::new(),
        fault_costs: Vec::new(),
    }
}

/// Compares the run with the baseline, saves it as one and tells it, as `run` does.
pub(crate) fn finish(
    run: &RunRecord,
    format: Format,
    detail: bool,
    baseline_run: Option<&RunRecord>,
    tolerances: comparing::tolerance::Tolerances,
    mode: &BaselineMode,
    run_dir: &Path,
) -> Result<ExitCode> {
    let cmp = baseline_run.map(|b| comparing::compare(b, run, tolerances));
    // Said before the report, so that the report's tally is the last line.
    verbosity::note(format_args!("results written to {}", run_dir.display()));
    if let Some(path) = mode.save_to() {
        match store::save::save_if_good(path, run, &crate::statements::json(run))? {
            store::save::Saved::Written => {
                verbosity::note(format_args!("baseline saved to {}", path.display()))
            }
            store::save::Saved::Refused(failed) => {
                eprintln!("harness: {}", store::save::refused_line(path, &failed))
            }
        }
    }
    let telling = Telling {
        format,
        view: report::TextLayout {
            detail,
            width: report::width::terminal_width(),
            all_mappings: false,
        },
        bisect: false,
    };
    tell(
        run,
        cmp.as_ref().zip(mode.compare_with()),
        &telling,
        run_dir,
    )
}

/// Step mode: the program waits while the user looks at it from another
/// terminal; shown are the commands to run and what changed since the last stop.
struct StepPause {
    previous: Vec<crate::model::ProcessRecord>,
    /// Which mapping changes are shown (sub-page wobble is hidden).
    filter: crate::report::delta::DeltaFilter,
}

impl StepPause {
    /// One stop, laid out by step mode's renderer ([`crate::step::change_lines`])
    /// to fit the terminal: what the program waits on, the commands to look
    /// with, and the changes, capped to the screen's height.
    fn pause(&mut self, record: &CheckpointRecord, cause: &CheckpointCause) {
        use crate::report::width::{wrap, wrap_hanging};
        let screen = crate::step::Screen::detect();
        let width = screen.width;
        let mut out = String::from("\n");
        out.push_str(&wrap(
            &format!("=== stopped at {} ===", record.label),
            width,
            "",
        ));
        for line in &cause.waiting {
            out.push_str(&wrap(line, width, "  "));
        }
        out.push_str("Look at it from another terminal now:\n");
        for p in &record.processes {
            out.push_str(&wrap_hanging(
                &format!(
                    "{role} {pid}: pmap -X {pid}; cat /proc/{pid}/smaps_rollup",
                    role = p.role,
                    pid = p.pid
                ),
                width,
                "  ",
                "    ",
            ));
        }
        out.push_str("Since the previous checkpoint:\n");
        let mut changes = crate::step::change_lines(&self.previous, record, &self.filter, width);
        let room = screen.lines.saturating_sub(out.lines().count() + 1);
        if changes.len() > room {
            changes.truncate(room.saturating_sub(1));
            changes.push("  (more: -v or results.md)".into());
        }
        for line in changes {
            out.push_str(&line);
            out.push('\n');
        }
        out.push_str("Press Enter to continue, or q and Enter to quit: ");
        let mut err = std::io::stderr().lock();
        let _ = err.write_all(out.as_bytes());
        let _ = err.flush();
        drop(err);
        self.previous = record.processes.clone();
        let mut line = String::new();
        let read = std::io::stdin().lock().read_line(&mut line);
        if matches!(read, Ok(0) | Err(_)) || line.trim().eq_ignore_ascii_case("q") {
            QUIT.store(true, Ordering::SeqCst);
            runner::request_interrupt();
        }
    }
}

/// What `trace` and `watch` start a run with: the time, the machine, and a run
/// folder of their own under `out` (or the default results folder).
pub(crate) struct RunStart {
    pub(crate) started: chrono::DateTime<chrono::Utc>,
    pub(crate) env: Environment,
    pub(crate) results_root: std::path::PathBuf,
    pub(crate) run_dir: std::path::PathBuf,
    /// The run folder's owner record: a kill leaves it for the next run to
    /// tidy the folder (or mark it partial); [`keep`] removes it.
    pub(crate) owner: Option<crate::scratch::OwnerLock>,
}

/// Ends a trace or watch run whose files are written: a complete one loses its
/// owner record and becomes `latest`; an interrupted one is marked partial
/// (`latest` stays on the last complete run) and ends as `run`'s does.
pub(crate) fn keep(
    start_owner: Option<crate::scratch::OwnerLock>,
    results_root: &Path,
    run_dir: &Path,
) -> Result<Option<ExitCode>> {
    if let Some(owner) = start_owner {
        owner.release();
    }
    if !runner::interrupted() {
        store::point_latest(results_root, run_dir)?;
        return Ok(None);
    }
    let partial = crate::scratch::mark_partial(
        run_dir,
        "This run was stopped before its end (Ctrl-C, or q in step mode): its \
         checkpoints are the ones taken until then.\n",
    )
    .with_context(|| format!("cannot mark {} as partial", run_dir.display()))?;
    crate::verbosity::say(crate::session::partial_line(&partial, results_root));
    if QUIT.load(Ordering::SeqCst) {
        crate::verbosity::say("stopped as asked; the program's processes are gone");
        return Ok(Some(ExitCode::SUCCESS));
    }
    Err(crate::error::Interrupted.into())
}

/// The run record of a watch or trace with the snapshots in `record`.
pub(super) fn whole_run(
    started: &chrono::DateTime<chrono::Utc>,
    env: &crate::system::Environment,
    provenance: &crate::provenance::Provenance,
    name: &str,
    params: BTreeMap<String, serde_json::Value>,
    record: crate::model::VariantRecord,
) -> RunRecord {
    RunRecord {
        format_version: FORMAT_VERSION,
        vmlab_version: env!("CARGO_PKG_VERSION").to_string(),
        started_at: started.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        quick: false,
        environment: env.clone(),
        experiments: vec![ExperimentRecord {
            name: name.to_string(),
            status: Status::Ok,
            reason: None,
            params,
            variants: vec![record],
            claims: Vec::new(),
            summary: Vec::new(),
            fault_costs: Vec::new(),
        }],
        repeats: None,
        provenance: provenance.clone(),
        gate: Default::default(),
    }
}

/// Detects the machine whose /proc and /sys are under `root` (`/` live, the
/// tree a fixture probe reads in tests), makes the run folder and installs
/// the Ctrl-C handler.
pub(crate) fn start_run(out: Option<&Path>, root: &Root) -> Result<RunStart> {
    let start = open_run(out, root)?;
    ctrlc::set_handler(runner::request_interrupt).context("cannot install the Ctrl-C handler")?;
    Ok(start)
}

/// [`start_run`] short of the Ctrl-C handler, which a process installs once.
fn open_run(out: Option<&Path>, root: &Root) -> Result<RunStart> {
    let started = chrono::Utc::now();
    let env = Environment::detect_in(root, &std::env::temp_dir());
    let results_root = out
        .map(Path::to_path_buf)
        .unwrap_or_else(store::default_results_root);
    let tidied = crate::scratch::sweep_run_dirs(&results_root);
    if let Some(line) = crate::scratch::describe("tidied run folders:", &tidied) {
        verbosity::note(line);
    }
    let (run_dir, owner) = crate::session::owned_run_dir(
        &results_root,
        &store::run_dir_name(&started, &env.hostname, false),
    )
    .map_err(|e| anyhow::anyhow!("{e}; pass --out with a writable folder"))?;
    let owner = Some(owner);
    Ok(RunStart {
        started,
        env,
        results_root,
        run_dir,
        owner,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_records_the_environment_of_the_root_it_is_given() {
        let root = Root::at(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/machine"));
        let out = tempfile::tempdir().unwrap();
        let start = open_run(Some(out.path()), &root).unwrap();
        // The captured machine's MemTotal and THP mode (tests/fixtures/machine/NOTES.md).
        assert_eq!(start.env.mem_total_bytes, 24_684_092 * 1024);
        assert_eq!(start.env.thp_enabled, "madvise");
        // No process folders were captured; a live /proc always lists some.
        assert_eq!(start.env.processes_running, None);
        assert_eq!(start.env.detected_in, root);
        assert!(start.run_dir.starts_with(out.path()), "{:?}", start.run_dir);
    }
}
