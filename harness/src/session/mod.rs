//! A session: the selected experiments run in order for one [`Options`], the
//! same for `harness run`/`all` and a `matrix` guest. It plans (every check that
//! can fail does so before the run folder exists), runs each experiment's
//! variants, judges their claims, keeps the run record after every experiment
//! and writes the run folder's report files once when the run ends, however it
//! ends (the files from [`crate::report::run_files`], written by
//! [`crate::store`]), compares with the baseline and prints the report; the
//! exit code follows [`crate::outcome::RunVerdict`].

mod experiment;
mod folder;
mod machine;
mod retry;
pub(crate) use folder::owned_run_dir;
pub use machine::{Live, Machine};

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};

use crate::compare::{self as comparing, Comparison};
use crate::error::{Interrupted, StoreError, UsageError};
use crate::experiment::PlanContext;
use crate::model::{Repeats, RunRecord, FORMAT_VERSION};
use crate::options::Options;
use crate::outcome::{self, Against, RunVerdict};
use crate::report::{self, delta::DeltaFilter};
use crate::runner::{self, locate};
use crate::step::{Pause, Stepper};
use crate::store::{self, baseline};
use crate::system::Environment;
use crate::verbosity;
use folder::{
    check_output_dir, mark_partial, store_failure, temp_base, RunDirGuard,
    BASELINE_BYTES_PER_EXPERIMENT, OUTPUT_BYTES_PER_EXPERIMENT,
};

/// Runs the session `options` describe; the exit code is the run's verdict.
pub fn run(options: &Options) -> Result<ExitCode> {
    run_pausing(options, None)
}

/// [`run`], held at every checkpoint by `pause` (the lecture page) instead of
/// the terminal's step mode; `pause` is also told where the run's results went.
pub fn run_pausing(options: &Options, pause: Option<&mut dyn Pause>) -> Result<ExitCode> {
    run_on(options, pause, &Live)
}

/// [`run_pausing`] on `machine`: everything the session reads of the machine
/// (processes, counters, environment, clock) comes from it.
pub fn run_on(
    options: &Options,
    pause: Option<&mut dyn Pause>,
    machine: &dyn Machine,
) -> Result<ExitCode> {
    // The baseline is read and checked first, so a bad one costs no run and
    // overwrites nothing.
    let baseline_run = options
        .baseline
        .compare_with()
        .map(baseline::load)
        .transpose()?;
    folder::check_open_files()?;
    let started = machine.now();
    let temp_dir = temp_base(&options.temp_dir)?;
    let env = machine.environment(&temp_dir);
    check_variants(options, &env)?;
    let mut terminal_stepper;
    let mut stepper: Option<&mut dyn Pause> = match pause {
        Some(pause) => Some(pause),
        None if options.step => {
            terminal_stepper =
                Stepper::new(delta_filter(options, &env), env.clone()).map_err(UsageError)?;
            Some(&mut terminal_stepper)
        }
        None => None,
    };
    // From here on Ctrl-C and SIGTERM end the run cleanly (exit 130).
    ctrlc::set_handler(runner::request_interrupt).context("cannot install the Ctrl-C handler")?;
    let prepared = prepare(options, machine, &temp_dir)?;
    // Detected again after the sweep (it may have freed room), and the plans
    // see the same facts the run records.
    let env = machine.environment(&temp_dir);
    if runner::interrupted() {
        return Err(Interrupted.into());
    }
    let (run_dir, lock) = folder::owned_run_dir(
        &options.results_root,
        &store::run_dir_name(&started, &env.hostname, options.quick),
    )
    .map_err(|e| UsageError(format!("{e}; pass --out with a writable folder")))?;
    prepared.made_out.keep();
    let ending = Ending {
        guard: RunDirGuard {
            lock: Some(lock),
            dir: run_dir,
        },
        results_root: options.results_root.clone(),
        output_bytes: prepared.output_bytes,
    };
    let mut run = new_record(options, &started, env, machine);
    let ran = RunAll {
        options,
        machine,
        binaries: &prepared.binaries,
        temp_dir: &temp_dir,
    };
    let interrupted = ran.run_all(&mut run, &ending, &mut stepper)?;
    let finish = Finish {
        options,
        run: &run,
        baseline_run: baseline_run.as_ref(),
        stepper,
    };
    finish.finish(ending, interrupted)
}

/// A variant that does not exist is a usage error before anything runs.
fn check_variants(options: &Options, env: &Environment) -> Result<()> {
    let ctx = plan_context(options, env);
    for selection in &options.selected {
        if let Ok(plan) = selection.experiment.plan(&ctx) {
            let names: Vec<&str> = plan.variants.iter().map(|v| v.name.as_str()).collect();
            selection.check_variants(&names).map_err(UsageError)?;
        }
    }
    Ok(())
}

/// The plans' view of `options` on the machine `env` describes.
fn plan_context<'e>(options: &Options, env: &'e Environment) -> PlanContext<'e> {
    PlanContext {
        quick: options.quick,
        size_bytes: options.size,
        count: options.count,
        env,
        no_aslr: options.no_aslr,
    }
}

/// Which changed mappings a stop lists.
fn delta_filter(options: &Options, env: &Environment) -> DeltaFilter {
    DeltaFilter {
        page_size: env.page_size,
        all: options.all_mappings,
    }
}

/// What the checks before the run folder exists leave for the run.
struct Prepared {
    /// Where the experiment binaries are, every selected one found there.
    binaries: std::path::PathBuf,
    /// What the run folder may take at most.
    output_bytes: u64,
    /// The `--out` folders the checks made, taken back should the run be refused.
    made_out: folder::MadeDir,
}

/// Everything that can fail early fails before the run folder exists: the
/// binaries, the room for the output and a baseline to save; then the last
/// runs' leftovers are swept.
fn prepare(options: &Options, machine: &dyn Machine, temp_dir: &Path) -> Result<Prepared> {
    let binaries = machine.experiments_dir()?;
    for selection in &options.selected {
        locate::binary(&binaries, selection.experiment.info().name)?;
    }
    let experiments_count = options.selected.len() as u64;
    let output_bytes = OUTPUT_BYTES_PER_EXPERIMENT.saturating_mul(experiments_count);
    // A save replaces nothing but a results.json vmlab wrote.
    if let Some(path) = options.baseline.save_to() {
        store::save::check_target(path)?;
    }
    // A refusal from here until the run folder exists takes back the --out
    // folder the check made.
    let made_out = folder::MadeDir::new(&options.results_root);
    check_output_dir(&options.results_root, output_bytes, "--out")?;
    // A named baseline's own folder is made only when it is saved.
    if let Some((dir, option)) = options.save_folder() {
        check_output_dir(
            dir,
            BASELINE_BYTES_PER_EXPERIMENT.saturating_mul(experiments_count),
            option,
        )?;
    }
    sweep_leftovers(temp_dir, &options.results_root);
    Ok(Prepared {
        binaries,
        output_bytes,
        made_out,
    })
}

/// Removes what earlier runs left in the temporary folder and the results
/// folder, and says so.
fn sweep_leftovers(temp_dir: &Path, results_root: &Path) {
    let swept = crate::scratch::sweep(temp_dir);
    if let Some(line) = crate::scratch::describe_left_alone(&swept.left_alone) {
        verbosity::note(line);
    }
    for (what, leftovers) in [
        ("removed temporary folders:", swept.removed),
        (
            "tidied run folders (unfinished files removed, empty folders deleted):",
            crate::scratch::sweep_run_dirs(results_root),
        ),
    ] {
        if let Some(line) = crate::scratch::describe(what, &leftovers) {
            verbosity::note(line);
        }
    }
}

/// The run's record before any experiment ran.
fn new_record(
    options: &Options,
    started: &chrono::DateTime<chrono::Utc>,
    env: Environment,
    machine: &dyn Machine,
) -> RunRecord {
    RunRecord {
        format_version: FORMAT_VERSION,
        vmlab_version: env!("CARGO_PKG_VERSION").to_string(),
        started_at: started.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        quick: options.quick,
        environment: env,
        experiments: Vec::new(),
        repeats: (options.repeat > 1).then(|| Repeats {
            count: options.repeat,
            ..Repeats::default()
        }),
        provenance: machine.provenance(),
        gate: options.gate,
    }
}

/// The run folder while the run writes it, and how a failure ends the run.
struct Ending {
    guard: RunDirGuard,
    results_root: std::path::PathBuf,
    output_bytes: u64,
}

impl Ending {
    fn run_dir(&self) -> &Path {
        &self.guard.dir
    }

    /// Ends a run that failed after its folder was made: if the folder holds
    /// results, the report files of the experiments done so far (when `run`
    /// is given) and `latest` pointed at it; the error, a store error told
    /// with what is kept. The failure reported is the first one.
    fn failed(&self, e: anyhow::Error, run: Option<&RunRecord>) -> anyhow::Error {
        let e = match e.downcast::<StoreError>() {
            Ok(store_error) => store_failure(store_error, &self.guard, self.output_bytes),
            Err(e) => e,
        };
        if self.guard.has_results() {
            if let Some(run) = run {
                let _ = store::write_run(self.run_dir(), &report::run_files(run));
            }
            let _ = store::point_latest(&self.results_root, self.run_dir());
        }
        e
    }
}

/// The selected experiments run in order.
struct RunAll<'a> {
    options: &'a Options,
    machine: &'a dyn Machine,
    binaries: &'a Path,
    temp_dir: &'a Path,
}

impl RunAll<'_> {
    /// Runs every selected experiment into `run`, keeping the record after
    /// each; then the report files. Whether Ctrl-C (or q) stopped it.
    fn run_all(
        &self,
        run: &mut RunRecord,
        ending: &Ending,
        stepper: &mut Option<&mut dyn Pause>,
    ) -> Result<bool> {
        let env = run.environment.clone();
        let ctx = plan_context(self.options, &env);
        let mut interrupted = false;
        for selection in &self.options.selected {
            let places = experiment::Places {
                binaries: self.binaries,
                temp_dir: self.temp_dir,
                run_dir: ending.run_dir(),
                probe: self.machine.probe(),
            };
            let done = experiment::run_one(
                selection,
                &ctx,
                self.options,
                &places,
                stepper.as_mut().map(|p| &mut **p as &mut dyn Pause),
            )
            .map_err(|e| ending.failed(e, Some(run)))?;
            run.experiments.push(done.record);
            if let Some(r) = run.repeats.as_mut() {
                r.spread.extend(done.spread);
                r.unstable.extend(done.unstable);
            }
            // The record after every experiment, so a later failure, Ctrl-C or
            // kill loses no measurement.
            store::write_run(ending.run_dir(), &[report::run_record(run)])
                .map_err(|e| ending.failed(e.into(), None))?;
            if done.interrupted {
                interrupted = true;
                break;
            }
        }
        // The report files, rendered once from the whole record.
        store::write_run(ending.run_dir(), &report::run_files(run))
            .map_err(|e| ending.failed(e.into(), None))?;
        Ok(interrupted)
    }
}

/// What is left once the experiments ran: `latest`, the baseline compared and
/// saved, the report told.
struct Finish<'a, 'p> {
    options: &'a Options,
    run: &'a RunRecord,
    baseline_run: Option<&'a RunRecord>,
    stepper: Option<&'p mut dyn Pause>,
}

impl Finish<'_, '_> {
    fn finish(mut self, ending: Ending, interrupted: bool) -> Result<ExitCode> {
        if interrupted {
            return self.stopped(ending);
        }
        let (options, run) = (self.options, self.run);
        let run_dir = ending.run_dir().to_path_buf();
        store::point_latest(&ending.results_root, &run_dir)
            .map_err(|e| store_failure(e, &ending.guard, ending.output_bytes))?;
        let cmp = self
            .baseline_run
            .map(|b| comparing::compare(b, run, options.tolerances));
        if let Some(pause) = self.stepper.as_mut() {
            pause.finished(run, &run_dir, false);
        }
        // Said before the report, so that the report's tally is the last line.
        verbosity::note(format_args!("results written to {}", run_dir.display()));
        if let Some(path) = options.baseline.save_to() {
            save_baseline(path, run, &ending)?;
        }
        drop(ending);
        let telling = Telling {
            format: options.format,
            view: report::TextLayout {
                detail: options.detail,
                width: report::width::terminal_width(),
                all_mappings: options.all_mappings,
            },
            bisect: options.bisect,
        };
        let compared = cmp.as_ref().zip(options.baseline.compare_with());
        tell(run, compared, &telling, &run_dir)
    }

    /// A run stopped by Ctrl-C or q: `latest` stays on the last complete run;
    /// this one is kept, marked partial.
    fn stopped(mut self, mut ending: Ending) -> Result<ExitCode> {
        let partial = mark_partial(&mut ending.guard)?;
        if let Some(pause) = self.stepper.as_mut() {
            pause.finished(self.run, &partial, true);
        }
        verbosity::say(partial_line(&partial, &ending.results_root));
        if crate::step::quit_requested() {
            let at = self
                .run
                .experiments
                .last()
                .and_then(|e| e.reason.clone())
                .unwrap_or_else(|| "stopped as asked".into());
            // `at` names the stop: "stopped as asked at after-fork (3 of up to 9 stops)".
            verbosity::say(format_args!(
                "{at}; the experiment's processes and temporary files are gone"
            ));
            return Ok(ExitCode::SUCCESS);
        }
        Err(Interrupted.into())
    }
}

/// Saves the run as the baseline at `path` if it is good enough to be one.
fn save_baseline(path: &Path, run: &RunRecord, ending: &Ending) -> Result<()> {
    let saved =
        store::save::save_if_good(path, run, &crate::statements::json(run)).map_err(|e| {
            match e.downcast::<StoreError>() {
                Ok(e) => store_failure(e, &ending.guard, ending.output_bytes),
                Err(e) => e,
            }
        })?;
    match saved {
        store::save::Saved::Written => {
            verbosity::note(format_args!("baseline saved to {}", path.display()))
        }
        store::save::Saved::Refused(failed) => {
            eprintln!("harness: {}", store::save::refused_line(path, &failed))
        }
    }
    Ok(())
}

/// The line that says where a stopped run's results are, naming the real
/// results folder's `latest` (which a stopped run never moves).
pub fn partial_line(partial: &Path, results_root: &Path) -> String {
    let latest = results_root.join("latest");
    if latest.exists() {
        format!(
            "partial results kept in {} ({} still points at the last complete run)",
            partial.display(),
            latest.display()
        )
    } else {
        format!(
            "partial results kept in {} (no complete run in {} yet, so no latest)",
            partial.display(),
            results_root.display()
        )
    }
}

/// How a finished run is told: the report's format and view, and whether the
/// exit code follows `git bisect run`'s convention.
pub struct Telling {
    /// The report's format on stdout.
    pub format: report::Format,
    /// What the report shows, and how wide.
    pub view: report::TextLayout,
    /// Exit 0 good, 1 bad, 125 cannot test (`--bisect`).
    pub bisect: bool,
}

/// Tells a finished run whose folder is written, the same for `run`/`all`,
/// `trace` and `watch`: prints the report, then the comparison with the
/// baseline (its path given) where it does not spoil stdout's format, keeping
/// it as comparison.md, and returns the run's verdict as the exit code.
pub fn tell(
    run: &RunRecord,
    compared: Option<(&Comparison, &Path)>,
    telling: &Telling,
    run_dir: &Path,
) -> Result<ExitCode> {
    match (telling.format, compared) {
        (report::Format::Tap, Some((cmp, _))) => {
            verbosity::out(report::ktap::render(run, Some(cmp)))
        }
        (report::Format::Junit, Some((cmp, _))) => {
            verbosity::out(report::junit::render(run, Some(cmp)))
        }
        (format, _) => verbosity::out(report::render_view(run, format, &telling.view)),
    }
    if let Some((cmp, path)) = compared {
        report_comparison(cmp, &path.display().to_string(), telling.format, run_dir)?;
    }
    let against = compared.map_or(Against::Nothing, |(cmp, _)| Against::Baseline(cmp));
    let verdict = RunVerdict::of(run, &outcome::run_cases(run, against));
    let verdict = match compared {
        Some((cmp, _)) => verdict.compared(cmp),
        None => verdict,
    };
    match &verdict {
        RunVerdict::Skip(reasons) => verbosity::note(format_args!(
            "every experiment was skipped, whole or variant by variant (exit {}, kselftest's KSFT_SKIP): {}",
            outcome::KSFT_SKIP,
            reasons.join("; ")
        )),
        RunVerdict::NothingCompared(reasons) => verbosity::note(format_args!(
            "nothing was compared with the baseline (exit {}{}): {}",
            outcome::KSFT_SKIP,
            if telling.bisect {
                "; 125 under --bisect"
            } else {
                ""
            },
            reasons.join("; ")
        )),
        _ => {}
    }
    if telling.bisect {
        let code = verdict.bisect_code();
        let word = match code {
            0 => "good".to_string(),
            1 => "bad: an experiment failed or a regression was found (see above)".to_string(),
            _ => match &verdict {
                RunVerdict::Pass { skipped } | RunVerdict::Skip(skipped) => {
                    format!("cannot test: {}", skipped.join("; "))
                }
                RunVerdict::NothingCompared(why) => {
                    format!("cannot test: nothing was compared: {}", why.join("; "))
                }
                RunVerdict::Fail => String::new(),
            },
        };
        verbosity::say(format_args!("bisect: exit {code}, {word}"));
        return Ok(ExitCode::from(code));
    }
    Ok(ExitCode::from(verdict.exit_code()))
}

/// Prints the comparison where it does not spoil stdout's format, and keeps it
/// in the run folder as comparison.md.
fn report_comparison(
    cmp: &Comparison,
    label: &str,
    format: report::Format,
    run_dir: &Path,
) -> Result<()> {
    store::write_atomic(
        &run_dir.join("comparison.md"),
        report::comparison::markdown(cmp, label).as_bytes(),
    )?;
    match format {
        report::Format::Table => {
            verbosity::out(format!("\n{}", report::comparison::text(cmp, label)))
        }
        report::Format::Markdown => {
            verbosity::out(format!("\n{}", report::comparison::markdown(cmp, label)))
        }
        // Machine formats keep stdout to themselves (KTAP carries the regressions
        // as failed subtests); people read the table on stderr.
        _ => verbosity::out_err(report::comparison::text(cmp, label)),
    }
    Ok(())
}
