//! The commands: resolve options, run the experiments in order, judge, write and
//! print. Errors here are user or environment errors (exit 2); a failing
//! experiment is recorded, not returned.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context, Result};

use crate::cli::{Cli, Command, MatrixArgs, RunOptions};
use crate::compare::baseline::{self, BaselineMode};
use crate::compare::{self as comparing, Comparison};
use crate::experiment::{self, Experiment, PlanContext};
use crate::model::{ExperimentRecord, RunRecord, Status, FORMAT_VERSION};
use crate::probe::ProcProbe;
use crate::progress::VariantProgress;
use crate::report::{self, table::Table, text::layout};
use crate::runner::{self, locate, RunnerEvent, VariantSpec};
use crate::step::Stepper;
use crate::store;
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
        Command::Explain { name } => {
            let exp = experiment::find(&name).ok_or_else(|| {
                UsageError(format!(
                    "unknown experiment '{name}'; `harness list` shows the names"
                ))
            })?;
            print!("{}", crate::explain::render_text(exp));
            Ok(ExitCode::SUCCESS)
        }
        Command::Compare {
            baseline,
            now,
            tolerance,
            format,
        } => compare_files(&baseline, &now, &tolerance, format),
        Command::All(options) => {
            let all: Vec<_> = experiment::registry();
            run_experiments(&all, &options)
        }
        Command::Run { names, options } => {
            let selected = names
                .iter()
                .map(|name| {
                    experiment::find(name).ok_or_else(|| {
                        UsageError(format!(
                            "unknown experiment '{name}'; `harness list` shows the names"
                        ))
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            run_experiments(&selected, &options)
        }
        Command::Matrix(args) => run_matrix(&args),
        Command::GuestInit => {
            crate::matrix::guest::main()?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn run_matrix(args: &MatrixArgs) -> Result<ExitCode> {
    use crate::matrix::{self, kernels::KernelSpec};
    if args.list_kernels {
        print!("{}", matrix::kernels::list_text());
        return Ok(ExitCode::SUCCESS);
    }
    let view = matrix::View {
        out: args.out.clone().unwrap_or_else(default_results_root),
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
            if experiment::find(name).is_none() {
                return Err(UsageError(format!(
                    "unknown experiment '{name}'; `harness list` shows the names"
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

fn list() -> String {
    let mut table = Table {
        headers: vec!["name".into(), "what it shows".into(), "seeds".into()],
        rows: Vec::new(),
        numeric: vec![false, false, false],
    };
    for e in experiment::registry() {
        let info = e.info();
        table.rows.push(vec![
            info.name.into(),
            info.summary.into(),
            info.sources.join(", "),
        ]);
    }
    layout(&table)
}

/// The default results folder: `results/` of the workspace when the harness runs
/// from its build folder, else `results/` here.
fn default_results_root() -> PathBuf {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf);
    let exe = std::env::current_exe().ok();
    match (workspace, exe) {
        (Some(ws), Some(exe)) if exe.starts_with(&ws) => ws.join("results"),
        _ => PathBuf::from("results"),
    }
}

fn temp_base(options: &RunOptions) -> Result<PathBuf> {
    let dir = options.dir.clone().unwrap_or_else(std::env::temp_dir);
    let probe = tempfile::Builder::new()
        .prefix("vmlab-check-")
        .tempdir_in(&dir)
        .map_err(|e| {
            UsageError(format!(
                "cannot create temporary files in {}: {e}; pass --dir with a writable folder",
                dir.display()
            ))
        })?;
    drop(probe);
    Ok(dir)
}

/// `compare OLD NEW`: both files are checked before anything is printed.
fn compare_files(
    old: &Path,
    new: &Path,
    tolerance: &[String],
    format: report::Format,
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
    let baseline_run = baseline::load(&old)?;
    let now_run = baseline::load(&new)?;
    let cmp = comparing::compare(&baseline_run, &now_run, tolerances);
    let label = old.display().to_string();
    let text = match format {
        report::Format::Table => comparing::render::text(&cmp, &label),
        report::Format::Markdown => comparing::render::markdown(&cmp, &label),
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
    Ok(if cmp.regressed() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
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
        comparing::render::markdown(cmp, label).as_bytes(),
    )?;
    match format {
        report::Format::Table => print!("\n{}", comparing::render::text(cmp, label)),
        report::Format::Markdown => print!("\n{}", comparing::render::markdown(cmp, label)),
        // Machine formats keep stdout to themselves (KTAP carries the regressions
        // as failed subtests); people read the table on stderr.
        _ => eprint!("{}", comparing::render::text(cmp, label)),
    }
    Ok(())
}

fn run_experiments(selected: &[&'static dyn Experiment], options: &RunOptions) -> Result<ExitCode> {
    // The baseline is read and checked first, so a bad one costs no run and
    // overwrites nothing.
    let baseline_dir = options
        .baseline_dir
        .clone()
        .unwrap_or_else(|| default_results_root().join("baselines"));
    let mode = BaselineMode::from_flags(
        &baseline_dir,
        options.baseline.as_deref(),
        options.save_baseline.as_deref(),
    )?;
    let baseline_run = mode.compare_with().map(baseline::load).transpose()?;
    let tolerances = comparing::tolerance::parse_all(&options.tolerance)?;
    let started = chrono::Utc::now();
    let mut stepper = if options.step {
        Some(Stepper::new().map_err(UsageError)?)
    } else {
        None
    };
    let temp_dir = temp_base(options)?;
    let env = Environment::detect(&temp_dir);
    let results_root = options.out.clone().unwrap_or_else(default_results_root);
    let run_dir = store::create_run_dir(
        &results_root,
        &store::run_dir_name(&started, &env.hostname, options.quick),
    )
    .map_err(|e| UsageError(format!("{e}; pass --out with a writable folder")))?;
    let binaries = locate::experiments_dir()?;
    ctrlc::set_handler(runner::request_interrupt).context("cannot install the Ctrl-C handler")?;

    let mut run = RunRecord {
        format_version: FORMAT_VERSION,
        vmlab_version: env!("CARGO_PKG_VERSION").to_string(),
        started_at: started.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        quick: options.quick,
        environment: env.clone(),
        experiments: Vec::new(),
    };
    let ctx = PlanContext {
        quick: options.quick,
        size_bytes: options.size,
        count: options.count,
        env: &env,
        no_aslr: options.no_aslr,
    };
    let mut interrupted = false;
    for exp in selected {
        let (record, stopped) = run_one(
            *exp,
            &ctx,
            options,
            &binaries,
            &temp_dir,
            &run_dir,
            stepper.as_mut(),
        )?;
        run.experiments.push(record);
        // Written after every experiment, so a later failure or Ctrl-C loses nothing.
        store::write_run(&run_dir, &run)?;
        if stopped {
            interrupted = true;
            break;
        }
    }
    store::point_latest(&results_root, &run_dir)?;
    if interrupted {
        eprintln!("partial results written to {}", run_dir.display());
        if crate::step::quit_requested() {
            eprintln!("stopped as asked; the experiment's processes and temporary files are gone");
            return Ok(ExitCode::SUCCESS);
        }
        return Err(Interrupted.into());
    }
    let cmp = baseline_run
        .as_ref()
        .map(|b| comparing::compare(b, &run, tolerances));
    match (options.format, &cmp) {
        (report::Format::Tap, Some(cmp)) => print!("{}", report::ktap::render(&run, Some(cmp))),
        (format, _) => print!("{}", report::render(&run, format)),
    }
    if let (Some(cmp), Some(path)) = (&cmp, mode.compare_with()) {
        report_comparison(cmp, &path.display().to_string(), options.format, &run_dir)?;
    }
    eprintln!("results written to {}", run_dir.display());
    if let Some(path) = mode.save_to() {
        baseline::save(path, &run)?;
        eprintln!("baseline saved to {}", path.display());
    }
    let regressed = cmp.as_ref().is_some_and(Comparison::regressed);
    Ok(if run.any_failed() || regressed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Runs all variants of one experiment; the flag is true if Ctrl-C stopped it.
fn run_one(
    exp: &dyn Experiment,
    ctx: &PlanContext<'_>,
    options: &RunOptions,
    binaries: &Path,
    temp_dir: &Path,
    run_dir: &Path,
    mut stepper: Option<&mut Stepper>,
) -> Result<(ExperimentRecord, bool)> {
    let name = exp.info().name;
    let mut record = ExperimentRecord {
        name: name.to_string(),
        status: Status::Ok,
        reason: None,
        params: Default::default(),
        variants: Vec::new(),
        claims: Vec::new(),
        summary: Vec::new(),
    };
    let plan = match exp.plan(ctx) {
        Ok(plan) => plan,
        Err(reason) => {
            eprintln!("{name} ... skipped: {reason}");
            record.status = Status::Skipped;
            record.reason = Some(reason);
            return Ok((record, false));
        }
    };
    record.params = plan.params;
    let binary = locate::binary(binaries, name)?;
    let mut interrupted = false;
    for variant in &plan.variants {
        let spec = VariantSpec {
            name: variant.name.clone(),
            binary: binary.clone(),
            args: variant.args.clone(),
            timeout: Duration::from_secs(options.timeout),
        };
        // The experiment's files live here; dropping it removes them, whatever happens.
        let scratch = tempfile::Builder::new()
            .prefix(&format!("vmlab-{name}-"))
            .tempdir_in(temp_dir)
            .with_context(|| {
                format!("cannot create a temporary folder in {}", temp_dir.display())
            })?;
        let mut progress = VariantProgress::start(name, &variant.name);
        if let Some(s) = stepper.as_deref_mut() {
            s.start_variant();
        }
        let mut on_event = |event: RunnerEvent| {
            if let (Some(s), RunnerEvent::Checkpoint { record }) = (stepper.as_deref_mut(), &event)
            {
                progress.suspend(|| s.pause(exp, &variant.name, record));
            }
            progress.show(event);
        };
        match runner::run_variant(&spec, &ProcProbe, scratch.path(), &mut on_event) {
            Ok(mut outcome) => {
                crate::elf::attach_binary_facts(&mut outcome.record);
                progress.finish(&outcome.record);
                store::write_raw(run_dir, name, &variant.name, &outcome.raw)?;
                record.variants.push(outcome.record);
            }
            Err(crate::error::RunnerError::Interrupted) => {
                interrupted = true;
                break;
            }
            Err(e) => bail!("{name}/{}: {e}", variant.name),
        }
    }
    if interrupted {
        record.status = Status::Failed;
        record.reason = Some("interrupted".into());
    } else if let Some(failed) = record.variants.iter().find(|v| v.status == Status::Failed) {
        record.status = Status::Failed;
        record.reason = Some(format!("variant {} failed", failed.name));
    }
    record.claims = exp.judge(&record, ctx.env);
    record.summary = exp.summary(&record, ctx.env);
    Ok((record, interrupted))
}
