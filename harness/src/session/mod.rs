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
pub(crate) use folder::owned_run_dir;

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
    let selected = options.selected.as_slice();
    let mode = &options.baseline;
    // The baseline is read and checked first, so a bad one costs no run and
    // overwrites nothing.
    let baseline_run = mode.compare_with().map(baseline::load).transpose()?;
    folder::check_open_files()?;
    let started = chrono::Utc::now();
    let temp_dir = temp_base(&options.temp_dir)?;
    let env = Environment::detect(&temp_dir);
    let filter = DeltaFilter {
        page_size: env.page_size,
        all: options.all_mappings,
    };
    let ctx = PlanContext {
        quick: options.quick,
        size_bytes: options.size,
        count: options.count,
        env: &env,
        no_aslr: options.no_aslr,
    };
    // A variant that does not exist is a usage error before anything runs.
    for selection in selected {
        if let Ok(plan) = selection.experiment.plan(&ctx) {
            let names: Vec<&str> = plan.variants.iter().map(|v| v.name.as_str()).collect();
            selection.check_variants(&names).map_err(UsageError)?;
        }
    }
    let mut terminal_stepper;
    let mut stepper: Option<&mut dyn Pause> = match pause {
        Some(pause) => Some(pause),
        None if options.step => {
            terminal_stepper = Stepper::new(filter, env.clone()).map_err(UsageError)?;
            Some(&mut terminal_stepper)
        }
        None => None,
    };
    // From here on Ctrl-C and SIGTERM end the run cleanly (exit 130).
    ctrlc::set_handler(runner::request_interrupt).context("cannot install the Ctrl-C handler")?;
    // Everything that can fail early fails before the run folder exists.
    let binaries = locate::experiments_dir()?;
    for selection in selected {
        locate::binary(&binaries, selection.experiment.info().name)?;
    }
    let results_root = options.results_root.clone();
    let experiments_count = selected.len() as u64;
    let output_bytes = OUTPUT_BYTES_PER_EXPERIMENT.saturating_mul(experiments_count);
    // A save replaces nothing but a results.json vmlab wrote.
    if let Some(path) = mode.save_to() {
        store::save::check_target(path)?;
    }
    // A refusal from here until the run folder exists takes back the --out
    // folder the check made.
    let made_out = folder::MadeDir::new(&results_root);
    check_output_dir(&results_root, output_bytes, "--out")?;
    // A named baseline's own folder is made only when it is saved.
    if let Some((dir, option)) = options.save_folder() {
        check_output_dir(
            dir,
            BASELINE_BYTES_PER_EXPERIMENT.saturating_mul(experiments_count),
            option,
        )?;
    }
    let swept = crate::scratch::sweep(&temp_dir);
    if let Some(line) = crate::scratch::describe_left_alone(&swept.left_alone) {
        verbosity::note(line);
    }
    for (what, leftovers) in [
        ("removed temporary folders:", swept.removed),
        (
            "tidied run folders (unfinished files removed, empty folders deleted):",
            crate::scratch::sweep_run_dirs(&results_root),
        ),
    ] {
        if let Some(line) = crate::scratch::describe(what, &leftovers) {
            verbosity::note(line);
        }
    }
    // Detected again after the sweep (it may have freed room), and the plans
    // see the same facts the run records.
    let env = Environment::detect(&temp_dir);
    let ctx = PlanContext { env: &env, ..ctx };
    if runner::interrupted() {
        return Err(Interrupted.into());
    }
    let (run_dir, lock) = folder::owned_run_dir(
        &results_root,
        &store::run_dir_name(&started, &env.hostname, options.quick),
    )
    .map_err(|e| UsageError(format!("{e}; pass --out with a writable folder")))?;
    made_out.keep();
    let mut guard = RunDirGuard {
        lock: Some(lock),
        dir: run_dir.clone(),
    };

    let mut run = RunRecord {
        format_version: FORMAT_VERSION,
        vmlab_version: env!("CARGO_PKG_VERSION").to_string(),
        started_at: started.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        quick: options.quick,
        environment: env.clone(),
        experiments: Vec::new(),
        repeats: (options.repeat > 1).then(|| Repeats {
            count: options.repeat,
            ..Repeats::default()
        }),
        provenance: crate::provenance::Provenance::detect(),
        gate: options.gate,
    };
    let mut interrupted = false;
    for selection in selected {
        let done = match experiment::run_one(
            selection,
            &ctx,
            options,
            &binaries,
            &temp_dir,
            &run_dir,
            stepper.as_mut().map(|p| &mut **p as &mut dyn Pause),
        ) {
            Ok(done) => done,
            Err(e) => {
                let e = match e.downcast::<StoreError>() {
                    Ok(store_error) => store_failure(store_error, &guard, output_bytes),
                    Err(e) => e,
                };
                if guard.has_results() {
                    // The experiments done so far keep their reports; the
                    // failure being reported is the first one.
                    let _ = store::write_run(&run_dir, &report::run_files(&run));
                    let _ = store::point_latest(&results_root, &run_dir);
                }
                return Err(e);
            }
        };
        run.experiments.push(done.record);
        if let Some(r) = run.repeats.as_mut() {
            r.spread.extend(done.spread);
            r.unstable.extend(done.unstable);
        }
        // The record after every experiment, so a later failure, Ctrl-C or
        // kill loses no measurement.
        if let Err(e) = store::write_run(&run_dir, &[report::run_record(&run)]) {
            if guard.has_results() {
                let _ = store::point_latest(&results_root, &run_dir);
            }
            return Err(store_failure(e, &guard, output_bytes));
        }
        if done.interrupted {
            interrupted = true;
            break;
        }
    }
    // The report files, rendered once from the whole record.
    if let Err(e) = store::write_run(&run_dir, &report::run_files(&run)) {
        if guard.has_results() {
            let _ = store::point_latest(&results_root, &run_dir);
        }
        return Err(store_failure(e, &guard, output_bytes));
    }
    if interrupted {
        // `latest` stays on the last complete run; this one is kept, marked.
        let partial = mark_partial(&mut guard)?;
        if let Some(pause) = stepper.as_mut() {
            pause.finished(&run, &partial, true);
        }
        verbosity::say(partial_line(&partial, &results_root));
        if crate::step::quit_requested() {
            let at = run
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
        return Err(Interrupted.into());
    }
    store::point_latest(&results_root, &run_dir)
        .map_err(|e| store_failure(e, &guard, output_bytes))?;
    let cmp = baseline_run
        .as_ref()
        .map(|b| comparing::compare(b, &run, options.tolerances));
    if let Some(pause) = stepper.as_mut() {
        pause.finished(&run, &run_dir, false);
    }
    // Said before the report, so that the report's tally is the last line.
    verbosity::note(format_args!("results written to {}", run_dir.display()));
    if let Some(path) = mode.save_to() {
        match store::save::save_if_good(path, &run, &crate::statements::json(&run)).map_err(
            |e| match e.downcast::<StoreError>() {
                Ok(e) => store_failure(e, &guard, output_bytes),
                Err(e) => e,
            },
        )? {
            store::save::Saved::Written => {
                verbosity::note(format_args!("baseline saved to {}", path.display()))
            }
            store::save::Saved::Refused(failed) => {
                eprintln!("harness: {}", store::save::refused_line(path, &failed))
            }
        }
    }
    drop(guard);
    let telling = Telling {
        format: options.format,
        view: report::TextLayout {
            detail: options.detail,
            width: report::width::terminal_width(),
            all_mappings: options.all_mappings,
        },
        bisect: options.bisect,
    };
    let compared = cmp.as_ref().zip(mode.compare_with());
    tell(&run, compared, &telling, &run_dir)
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
