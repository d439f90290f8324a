//! The commands: resolve options, run the experiments in order, judge, write and
//! print. Errors here are user or environment errors (exit 2); a failing
//! experiment is recorded, not returned.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context, Result};

use crate::cli::{Cli, Command, MatrixArgs, RunOptions};
use crate::compare::{self as comparing, Comparison};
use crate::error::StoreError;
use crate::experiment::{self, Experiment, PlanContext};
use crate::model::{
    ExperimentRecord, MetricSpread, Repeats, RunRecord, Status, UnstableClaim, VariantRecord,
    Verdict, FORMAT_VERSION,
};
use crate::outcome::{self, Against, RunVerdict};
use crate::probe::ProcProbe;
use crate::progress::VariantProgress;
use crate::report::{self, delta::DeltaFilter};
use crate::runner::{self, locate, RunnerEvent, VariantSpec};
use crate::scratch::{OwnerLock, ScratchDir};
use crate::selection::Selection;
use crate::step::Stepper;
use crate::store;
use crate::store::baseline::{self, BaselineMode};
use crate::system::Environment;

/// A mistake in what the user asked for (exit 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// The run was interrupted by Ctrl-C or SIGTERM (exit 130).
#[derive(Debug, thiserror::Error)]
#[error("interrupted; experiments stopped and their temporary files removed")]
pub struct Interrupted;

/// Runs the parsed command line.
pub fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::List => {
            print!("{}", list());
            Ok(ExitCode::SUCCESS)
        }
        Command::Explain {
            name,
            answers,
            results,
        } => {
            let exp = experiment::find(&name).ok_or_else(|| {
                UsageError(format!(
                    "unknown experiment '{name}'; `harness list` shows the names"
                ))
            })?;
            if answers {
                let root = results.unwrap_or_else(store::default_results_root);
                let latest = crate::answers::latest_run(&root);
                print!("{}", crate::answers::render(exp, latest.as_ref()));
            } else {
                print!("{}", crate::explain::render_text(exp));
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Compare {
            baseline,
            now,
            tolerance,
            format,
            only,
        } => {
            let only = Selection::parse_all(&only).map_err(UsageError)?;
            compare_files(&baseline, &now, &tolerance, format, &only)
        }
        Command::All(options) => for_bisect(
            options.bisect,
            run_experiments(&Selection::everything(), &options),
        ),
        Command::Run { names, options } => {
            let selected = Selection::parse_all(&names).map_err(UsageError);
            for_bisect(
                options.bisect,
                selected
                    .map_err(Into::into)
                    .and_then(|s| run_experiments(&s, &options)),
            )
        }
        Command::Matrix(args) => run_matrix(&args),
        Command::Trace(args) => crate::trace::command::trace(&args),
        Command::Watch(args) => crate::trace::watch::watch(&args),
        Command::GuestInit => {
            crate::matrix::guest::main()?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Under `--bisect`, an error (bad input, an unusable environment) would repeat
/// on every commit, so it exits 128, which stops `git bisect run`, instead of 2,
/// which it would take for "bad".
fn for_bisect(bisect: bool, result: Result<ExitCode>) -> Result<ExitCode> {
    match result {
        Err(e) if bisect && !e.is::<Interrupted>() => {
            eprintln!("harness: {e:#}");
            eprintln!("harness: --bisect: exit 128, which stops git bisect run");
            Ok(ExitCode::from(128))
        }
        other => other,
    }
}

fn run_matrix(args: &MatrixArgs) -> Result<ExitCode> {
    use crate::matrix::{self, kernels::KernelSpec};
    if args.list_kernels {
        print!("{}", matrix::kernels::list_text());
        return Ok(ExitCode::SUCCESS);
    }
    let view = matrix::View {
        out: args.out.clone().unwrap_or_else(store::default_results_root),
        ktap: args.ktap,
        all_rows: args.all_rows,
    };
    if !args.results.is_empty() {
        return matrix::from_results(&args.results, &view);
    }
    let kernels = args
        .kernels
        .iter()
        .map(|k| KernelSpec::parse(k).map_err(UsageError))
        .collect::<Result<Vec<_>, _>>()?;
    if let Some(twice) = kernels
        .iter()
        .enumerate()
        .find_map(|(i, k)| kernels[..i].contains(k).then_some(k))
    {
        return Err(UsageError(format!(
            "--kernel {twice} is given twice; each kernel is one column"
        ))
        .into());
    }
    if args.memory.is_some_and(|m| m < 128 << 20) {
        return Err(UsageError(
            "--memory below 128MiB is too small for a guest kernel and the experiments".into(),
        )
        .into());
    }
    let experiments: Vec<String> = if args.experiments.is_empty() {
        experiment::registry()
            .iter()
            .map(|e| e.info().name.to_string())
            .collect()
    } else {
        for name in &args.experiments {
            let selection = Selection::parse(name).map_err(UsageError)?;
            if selection.variants.is_some() {
                return Err(UsageError(format!(
                    "--experiments {name}: a matrix runs whole experiments; \
                     run one variant with `harness run {name}`"
                ))
                .into());
            }
        }
        args.experiments.clone()
    };
    let options = matrix::MatrixOptions {
        kernels,
        experiments,
        thp: args.thp.clone().unwrap_or_else(matrix::host_thp_mode),
        memory_bytes: args.memory,
        size_bytes: args.size,
        timeout: Duration::from_secs(args.timeout),
        view,
    };
    matrix::run(&options)
}

/// One line per experiment: its name and what it shows, then the writings it
/// comes from by title and author, each line fitted to the terminal.
fn list() -> String {
    let width = report::width::terminal_width();
    let mut out = String::new();
    for e in experiment::registry() {
        let info = e.info();
        let sources: Vec<String> = info
            .sources
            .iter()
            .map(|s| crate::explain::cite(s))
            .collect();
        out.push_str(&format!(
            "{}\n",
            report::width::truncate(&format!("{:<15} {}", info.name, info.summary), width)
        ));
        out.push_str(&crate::explain::wrap(
            &format!("from {}", sources.join("; ")),
            width,
            "                ",
        ));
    }
    out
}

fn temp_base(options: &RunOptions) -> Result<PathBuf> {
    let dir = options.dir.clone().unwrap_or_else(std::env::temp_dir);
    let probe = ScratchDir::create(&dir, "vmlab-check-").map_err(|e| {
        UsageError(format!(
            "cannot create temporary files in {}: {e}; pass --dir with a writable folder",
            dir.display()
        ))
    })?;
    drop(probe);
    Ok(dir)
}

/// What one experiment writes to its run folder, at most: a full run of all
/// nine writes about 20 MB (results.json about 10 MB, rewritten atomically after
/// each experiment, so briefly twice).
const OUTPUT_BYTES_PER_EXPERIMENT: u64 = 8 << 20;

/// What a saved baseline (one results.json) takes per experiment.
const BASELINE_BYTES_PER_EXPERIMENT: u64 = 4 << 20;

/// Checks before anything runs that `dir` (created if missing) takes files and
/// has `needed` bytes free; `option` is the flag that chooses it.
fn check_output_dir(dir: &Path, needed: u64, option: &str) -> Result<()> {
    store::check_room(dir, needed).map_err(|e| {
        let message = match e {
            store::RoomError::NotWritable { path, source } => format!(
                "cannot write in {}: {source}; pass {option} with a writable folder",
                path.display()
            ),
            store::RoomError::Full { path, free } => format!(
                "{} has {} free, and this run needs about {}; free space there or pass {option} with another folder",
                path.display(),
                crate::units::human_bytes(free),
                crate::units::human_bytes(needed)
            ),
        };
        UsageError(message).into()
    })
}

/// A run folder while the run writes it: holds the owner lock (so a later run
/// can tidy it should this one be killed), and on drop removes the folder if no
/// complete results.json made it in, so an early failure leaves nothing.
struct RunDirGuard {
    dir: PathBuf,
    lock: Option<OwnerLock>,
}

impl RunDirGuard {
    fn has_results(&self) -> bool {
        self.dir.join("results.json").is_file()
    }
}

impl Drop for RunDirGuard {
    fn drop(&mut self) {
        crate::scratch::remove_unfinished(&self.dir);
        if !self.has_results() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
        if let Some(lock) = self.lock.take() {
            lock.release();
        }
    }
}

/// A results write that failed: a full or read-only disk becomes one line that
/// says what is kept and what to do; anything else keeps its own message.
fn store_failure(e: StoreError, guard: &RunDirGuard, needed: u64) -> anyhow::Error {
    let kept = if guard.has_results() {
        format!(
            "the experiments completed before it are kept in {}",
            guard.dir.display()
        )
    } else {
        "nothing was complete, so no run folder is left".to_string()
    };
    use std::io::ErrorKind;
    let file = e.path.display();
    match e.source.kind() {
        kind @ (ErrorKind::StorageFull | ErrorKind::QuotaExceeded) => UsageError(format!(
            "the disk filled up while writing {file} ({}); {kept}; free at least {} on its file system or pass --out with another folder",
            if kind == ErrorKind::QuotaExceeded { "disk quota exceeded" } else { "no space left" },
            crate::units::human_bytes(needed)
        ))
        .into(),
        ErrorKind::ReadOnlyFilesystem => UsageError(format!(
            "the file system became read-only while writing {file}; {kept}; remount it read-write or pass --out with another folder"
        ))
        .into(),
        _ => UsageError(format!("{e}; {kept}")).into(),
    }
}

/// `compare OLD NEW`: both files are checked before anything is printed.
fn compare_files(
    old: &Path,
    new: &Path,
    tolerance: &[String],
    format: report::Format,
    only: &[Selection],
) -> Result<ExitCode> {
    let tolerances = comparing::tolerance::parse_all(tolerance)?;
    let resolve = |p: &Path| {
        if p.is_dir() {
            p.join("results.json")
        } else {
            p.to_path_buf()
        }
    };
    let (old, new) = (resolve(old), resolve(new));
    let mut baseline_run = baseline::load(&old)?;
    let mut now_run = baseline::load(&new)?;
    crate::selection::restrict(&mut baseline_run, only);
    crate::selection::restrict(&mut now_run, only);
    let cmp = comparing::compare(&baseline_run, &now_run, tolerances);
    let label = old.display().to_string();
    let text = match format {
        report::Format::Table => report::comparison::text(&cmp, &label),
        report::Format::Markdown => report::comparison::markdown(&cmp, &label),
        report::Format::Json => {
            let mut json =
                serde_json::to_string_pretty(&cmp).context("cannot serialise the comparison")?;
            json.push('\n');
            json
        }
        report::Format::Tap => report::ktap::render(&now_run, Some(&cmp)),
        report::Format::Csv => {
            return Err(UsageError(
                "compare has no CSV output; use --format table, markdown, json or tap".into(),
            )
            .into())
        }
    };
    print!("{text}");
    let cases = outcome::run_cases(&now_run, Against::Baseline(&cmp));
    Ok(ExitCode::from(RunVerdict::of(&now_run, &cases).exit_code()))
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
        report::Format::Table => print!("\n{}", report::comparison::text(cmp, label)),
        report::Format::Markdown => print!("\n{}", report::comparison::markdown(cmp, label)),
        // Machine formats keep stdout to themselves (KTAP carries the regressions
        // as failed subtests); people read the table on stderr.
        _ => eprint!("{}", report::comparison::text(cmp, label)),
    }
    Ok(())
}

fn run_experiments(selected: &[Selection], options: &RunOptions) -> Result<ExitCode> {
    // The baseline is read and checked first, so a bad one costs no run and
    // overwrites nothing.
    let baseline_dir = options
        .baseline_dir
        .clone()
        .unwrap_or_else(|| store::default_results_root().join("baselines"));
    let mode = BaselineMode::from_flags(
        &baseline_dir,
        options.baseline.as_deref(),
        options.save_baseline.as_deref(),
        options.save_baseline_file.as_deref(),
    )?;
    let baseline_run = mode.compare_with().map(baseline::load).transpose()?;
    let tolerances = comparing::tolerance::parse_all(&options.tolerance)?;
    let started = chrono::Utc::now();
    let temp_dir = temp_base(options)?;
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
    let mut stepper = if options.step {
        Some(Stepper::new(filter).map_err(UsageError)?)
    } else {
        None
    };
    // From here on Ctrl-C and SIGTERM end the run cleanly (exit 130).
    ctrlc::set_handler(runner::request_interrupt).context("cannot install the Ctrl-C handler")?;
    // Everything that can fail early fails before the run folder exists.
    let binaries = locate::experiments_dir()?;
    for selection in selected {
        locate::binary(&binaries, selection.experiment.info().name)?;
    }
    let results_root = options
        .out
        .clone()
        .unwrap_or_else(store::default_results_root);
    let experiments_count = selected.len() as u64;
    let output_bytes = OUTPUT_BYTES_PER_EXPERIMENT.saturating_mul(experiments_count);
    check_output_dir(&results_root, output_bytes, "--out")?;
    if let Some(path) = mode.save_to() {
        // A named baseline's own folder is made only when it is saved.
        let (dir, option) = if options.save_baseline_file.is_some() {
            (
                path.parent().unwrap_or(Path::new(".")),
                "--save-baseline-file",
            )
        } else {
            (baseline_dir.as_path(), "--baseline-dir")
        };
        check_output_dir(
            dir,
            BASELINE_BYTES_PER_EXPERIMENT.saturating_mul(experiments_count),
            option,
        )?;
    }
    for (what, leftovers) in [
        (
            "removed temporary folders:",
            crate::scratch::sweep(&temp_dir),
        ),
        (
            "tidied run folders (unfinished files removed, empty folders deleted):",
            crate::scratch::sweep_run_dirs(&results_root),
        ),
    ] {
        if let Some(line) = crate::scratch::describe(what, &leftovers) {
            eprintln!("{line}");
        }
    }
    let env = Environment::detect(&temp_dir);
    if runner::interrupted() {
        return Err(Interrupted.into());
    }
    let run_dir = store::create_run_dir(
        &results_root,
        &store::run_dir_name(&started, &env.hostname, options.quick),
    )
    .map_err(|e| UsageError(format!("{e}; pass --out with a writable folder")))?;
    let guard = RunDirGuard {
        lock: OwnerLock::acquire(&run_dir).ok(),
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
    };
    let mut interrupted = false;
    for selection in selected {
        let done = match run_one(
            selection,
            &ctx,
            options,
            &binaries,
            &temp_dir,
            &run_dir,
            stepper.as_mut(),
        ) {
            Ok(done) => done,
            Err(e) => {
                let e = match e.downcast::<StoreError>() {
                    Ok(store_error) => store_failure(store_error, &guard, output_bytes),
                    Err(e) => e,
                };
                if guard.has_results() {
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
        // Written after every experiment, so a later failure or Ctrl-C loses nothing.
        if let Err(e) = store::write_run(&run_dir, &crate::report::run_files(&run)) {
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
    if interrupted {
        // `latest` stays on the last complete run; this one is kept, marked.
        let partial = mark_partial(&run_dir)?;
        eprintln!(
            "partial results kept in {} (results/latest still points at the last complete run)",
            partial.display()
        );
        if crate::step::quit_requested() {
            eprintln!("stopped as asked; the experiment's processes and temporary files are gone");
            return Ok(ExitCode::SUCCESS);
        }
        return Err(Interrupted.into());
    }
    store::point_latest(&results_root, &run_dir)
        .map_err(|e| store_failure(e, &guard, output_bytes))?;
    let cmp = baseline_run
        .as_ref()
        .map(|b| comparing::compare(b, &run, tolerances));
    // Said before the report, so that the report's tally is the last line.
    eprintln!("results written to {}", run_dir.display());
    if let Some(path) = mode.save_to() {
        baseline::save(path, &run).map_err(|e| store_failure(e, &guard, output_bytes))?;
        eprintln!("baseline saved to {}", path.display());
    }
    drop(guard);
    let view = report::View {
        detail: options.detail,
        width: report::width::terminal_width(),
        all_mappings: options.all_mappings,
    };
    match (options.format, &cmp) {
        (report::Format::Tap, Some(cmp)) => print!("{}", report::ktap::render(&run, Some(cmp))),
        (format, _) => print!("{}", report::render_view(&run, format, &view)),
    }
    if let (Some(cmp), Some(path)) = (&cmp, mode.compare_with()) {
        report_comparison(cmp, &path.display().to_string(), options.format, &run_dir)?;
    }
    let against = cmp.as_ref().map_or(Against::Nothing, Against::Baseline);
    let verdict = RunVerdict::of(&run, &outcome::run_cases(&run, against));
    if let RunVerdict::Skip(reasons) = &verdict {
        eprintln!(
            "every experiment was skipped (exit {}, kselftest's KSFT_SKIP): {}",
            outcome::KSFT_SKIP,
            reasons.join("; ")
        );
    }
    if options.bisect {
        let code = verdict.bisect_code();
        let word = match code {
            0 => "good".to_string(),
            1 => "bad: an experiment failed or a regression was found (see above)".to_string(),
            _ => match &verdict {
                RunVerdict::Pass { skipped } | RunVerdict::Skip(skipped) => {
                    format!("cannot test: {}", skipped.join("; "))
                }
                RunVerdict::Fail => String::new(),
            },
        };
        eprintln!("bisect: exit {code}, {word}");
        return Ok(ExitCode::from(code));
    }
    Ok(ExitCode::from(verdict.exit_code()))
}

/// One experiment's results: the record (the first run of each variant), and
/// with `--repeat`, its metrics' spread and its unstable claims.
struct ExperimentRun {
    record: ExperimentRecord,
    spread: Vec<MetricSpread>,
    unstable: Vec<UnstableClaim>,
    /// Ctrl-C stopped it.
    interrupted: bool,
}

/// Judges the claims once per run of the variants; a claim the runs judge
/// differently is made inconclusive (not judged), with each run's verdict.
fn judge_repeats(
    exp: &dyn Experiment,
    record: &mut ExperimentRecord,
    runs: &[Vec<VariantRecord>],
    env: &Environment,
) -> Vec<UnstableClaim> {
    let judged: Vec<Vec<crate::model::ClaimRecord>> = runs
        .iter()
        .skip(1)
        .map(|variants| {
            let mut other = record.clone();
            other.variants = variants.clone();
            exp.judge(&other, env)
        })
        .collect();
    let mut unstable = Vec::new();
    for claim in &mut record.claims {
        let mut verdicts = vec![claim.verdict];
        verdicts.extend(judged.iter().map(|claims| {
            claims
                .iter()
                .find(|c| c.id == claim.id && c.variant == claim.variant)
                .map_or(Verdict::Inconclusive, |c| c.verdict)
        }));
        if verdicts.iter().all(|v| *v == verdicts[0]) {
            continue;
        }
        let count = |v: Verdict| verdicts.iter().filter(|x| **x == v).count();
        claim.evidence = format!(
            "unstable: of {} runs, {} confirmed it, {} refuted it, {} could not judge it; the first run: {}",
            verdicts.len(),
            count(Verdict::Confirmed),
            count(Verdict::Refuted),
            count(Verdict::Inconclusive),
            claim.evidence
        );
        claim.verdict = Verdict::Inconclusive;
        unstable.push(UnstableClaim {
            experiment: record.name.clone(),
            variant: claim.variant.clone(),
            id: claim.id.clone(),
            verdicts,
        });
    }
    unstable
}

/// Renames an interrupted run's folder to `<name>-partial` and says in it why.
fn mark_partial(run_dir: &Path) -> Result<PathBuf> {
    let mut name = run_dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    name.push_str("-partial");
    let partial = run_dir.with_file_name(name);
    std::fs::rename(run_dir, &partial).with_context(|| {
        format!(
            "cannot rename {} to {}",
            run_dir.display(),
            partial.display()
        )
    })?;
    store::write_atomic(
        &partial.join("PARTIAL"),
        b"This run was stopped before its end (q in step mode, or Ctrl-C): its \
          results cover the experiments and variants that finished.\n",
    )?;
    Ok(partial)
}

/// Runs the selected variants of one experiment (`--repeat` times).
fn run_one(
    selection: &Selection,
    ctx: &PlanContext<'_>,
    options: &RunOptions,
    binaries: &Path,
    temp_dir: &Path,
    run_dir: &Path,
    mut stepper: Option<&mut Stepper>,
) -> Result<ExperimentRun> {
    let exp = selection.experiment;
    let name = exp.info().name;
    let started = std::time::Instant::now();
    let mut record = ExperimentRecord {
        name: name.to_string(),
        status: Status::Ok,
        reason: None,
        params: Default::default(),
        variants: Vec::new(),
        claims: Vec::new(),
        summary: Vec::new(),
        fault_costs: Vec::new(),
    };
    let plan = match exp.plan(ctx) {
        Ok(plan) => plan,
        Err(reason) => {
            eprintln!("{name} ... skipped: {reason}");
            record.status = Status::Skipped;
            record.reason = Some(reason);
            return Ok(ExperimentRun {
                record,
                spread: Vec::new(),
                unstable: Vec::new(),
                interrupted: false,
            });
        }
    };
    record.params = plan.params;
    if let Some(variants) = &selection.variants {
        record
            .params
            .insert("variants_selected".into(), serde_json::json!(variants));
    }
    let binary = locate::binary(binaries, name)?;
    let mut interrupted = false;
    let selected_count = plan
        .variants
        .iter()
        .filter(|v| selection.wants(&v.name))
        .count();
    let repeat = options.repeat.max(1);
    // runs[r] holds the r-th run of every variant, in plan order.
    let mut runs: Vec<Vec<VariantRecord>> = Vec::new();
    'repeats: for r in 0..repeat {
        runs.push(Vec::new());
        for variant in plan.variants.iter().filter(|v| selection.wants(&v.name)) {
            let spec = VariantSpec {
                name: variant.name.clone(),
                binary: binary.clone(),
                args: variant.args.clone(),
                timeout: Duration::from_secs(options.timeout),
            };
            // The experiment's files live here; dropping it removes them, whatever happens.
            let scratch =
                ScratchDir::create(temp_dir, &format!("vmlab-{name}-")).with_context(|| {
                    format!("cannot create a temporary folder in {}", temp_dir.display())
                })?;
            let label = if repeat > 1 {
                format!("{} (run {}/{repeat})", variant.name, r + 1)
            } else {
                variant.name.clone()
            };
            let mut progress = VariantProgress::start(name, &label, options.detail);
            if let Some(s) = stepper.as_deref_mut() {
                s.start_variant(exp, &variant.name);
            }
            let mut on_event = |event: RunnerEvent| {
                if let (Some(s), RunnerEvent::Checkpoint { record }) =
                    (stepper.as_deref_mut(), &event)
                {
                    progress.suspend(|| s.pause(exp, &variant.name, record));
                }
                progress.show(event);
            };
            match runner::run_variant(&spec, &ProcProbe, scratch.path(), &mut on_event) {
                Ok(mut outcome) => {
                    crate::elf::attach_binary_facts(&mut outcome.record);
                    progress.finish(&outcome.record);
                    // The raw /proc text is the first run's, which the record keeps.
                    if r == 0 {
                        store::write_raw(run_dir, name, &variant.name, &outcome.raw)?;
                    }
                    runs[r as usize].push(outcome.record);
                }
                Err(crate::error::RunnerError::Interrupted) => {
                    interrupted = true;
                    break 'repeats;
                }
                Err(e) => bail!("{name}/{}: {e}", variant.name),
            }
        }
    }
    record.variants = runs.first().cloned().unwrap_or_default();
    // A variant that failed in a later run fails the experiment too.
    for (r, variants) in runs.iter().enumerate().skip(1) {
        for v in variants.iter().filter(|v| v.status == Status::Failed) {
            if let Some(first) = record
                .variants
                .iter_mut()
                .find(|f| f.name == v.name && f.status != Status::Failed)
            {
                *first = v.clone();
                first.reason = Some(format!(
                    "run {} of {repeat}: {}",
                    r + 1,
                    v.reason.as_deref().unwrap_or("failed")
                ));
            }
        }
    }
    if interrupted {
        record.status = Status::Failed;
        record.reason = Some("interrupted".into());
    } else if record.variants.iter().any(|v| v.status == Status::Failed) {
        record.status = Status::Failed;
        record.reason = Some(outcome::failure_reason(&record));
    }
    record.claims = exp.judge(&record, ctx.env);
    // Claims about a variant that was not selected say nothing about this run.
    record
        .claims
        .retain(|c| c.variant.as_deref().is_none_or(|v| selection.wants(v)));
    record.summary = exp.summary(&record, ctx.env);
    crate::progress::experiment_done(&record, started.elapsed());
    record.fault_costs = crate::experiment::fault_costs::price_list(&record, ctx.env);
    let complete: Vec<Vec<VariantRecord>> = runs
        .into_iter()
        .filter(|v| v.len() == selected_count)
        .collect();
    let unstable = if complete.len() > 1 && !interrupted {
        judge_repeats(exp, &mut record, &complete, ctx.env)
    } else {
        Vec::new()
    };
    let mut spread = Vec::new();
    if repeat > 1 {
        for v in plan.variants.iter().filter(|v| selection.wants(&v.name)) {
            let ran: Vec<&VariantRecord> = complete
                .iter()
                .flatten()
                .filter(|x| x.name == v.name && x.status == Status::Ok)
                .collect();
            spread.extend(comparing::spread(name, &ran, ctx.env.page_size));
        }
    }
    Ok(ExperimentRun {
        record,
        spread,
        unstable,
        interrupted,
    })
}
