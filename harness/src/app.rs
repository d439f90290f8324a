//! The commands: each subcommand's options checked, then handed to the layer
//! that does the work ([`crate::session`] for `run` and `all`, [`crate::matrix`],
//! [`crate::trace`]), and `list`, `explain` and `compare` answered here. Errors
//! here are user or environment errors (exit 2); a failing experiment is
//! recorded, not returned.

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};

use crate::cli::{Cli, Command, MatrixArgs};
use crate::compare as comparing;
use crate::error::{Interrupted, UsageError};
use crate::experiment;
use crate::options::Options;
use crate::outcome::{self, Against, RunVerdict};
use crate::report;
use crate::selection::Selection;
use crate::store::{self, baseline};

/// Runs the parsed command line.
pub fn run(cli: Cli) -> Result<ExitCode> {
    // Every line told on stderr fits the terminal, wrapped.
    crate::verbosity::set_fitter(report::width::fit_terminal);
    match cli.command {
        Command::List => {
            crate::verbosity::stdout(list());
            Ok(ExitCode::SUCCESS)
        }
        Command::Explain {
            name,
            answers,
            results,
            program,
        } => explain(&name, answers, results.as_deref(), program),
        Command::Compare {
            baseline,
            now,
            tolerance,
            format,
            only,
            strict,
            require_comparable,
        } => {
            let only = Selection::parse_all(&only).map_err(UsageError)?;
            let gate = crate::model::Gate {
                strict,
                require_comparable,
            };
            compare_files(&baseline, &now, &tolerance, format, &only, gate)
        }
        Command::All(args) => for_bisect(
            args.bisect,
            Options::from_cli(None, &args).and_then(|o| crate::session::run(&o)),
        ),
        Command::Run {
            names,
            options: args,
        } => for_bisect(
            args.bisect,
            Options::from_cli(Some(&names), &args).and_then(|o| crate::session::run(&o)),
        ),
        Command::Show {
            run,
            out,
            format,
            all_mappings,
        } => crate::show::show(
            &run,
            &out.unwrap_or_else(store::default_results_root),
            format,
            all_mappings,
        ),
        Command::Matrix(args) => run_matrix(&args),
        Command::Trace(args) => crate::trace::command::trace(&args),
        Command::Watch(args) => crate::trace::watch::watch(&args),
        Command::Lecture(args) => crate::lecture::lecture(&args),
        Command::Completions { shell } => crate::generate::print_completions(shell),
        Command::Man { out_dir } => crate::generate::man(out_dir.as_deref()),
        Command::GuestInit => {
            crate::matrix::guest::main()?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `explain NAME`: the experiment's explanation, its answers from the latest
/// run in `results` (`--answers`), or its slide program (`--program`).
fn explain(name: &str, answers: bool, results: Option<&Path>, program: bool) -> Result<ExitCode> {
    let exp = experiment::find(name).ok_or_else(|| {
        UsageError(format!(
            "unknown experiment '{name}'; `harness list` shows the names"
        ))
    })?;
    if program {
        let example = crate::explain::program(name).map_err(UsageError)?;
        crate::verbosity::stdout(example.source.to_string());
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(dir) = results.filter(|d| !d.is_dir()) {
        return Err(UsageError(format!(
            "--results {}: not a folder; pass the results folder (the one holding latest)",
            dir.display()
        ))
        .into());
    }
    if answers {
        let root = results.map_or_else(store::default_results_root, Path::to_path_buf);
        let latest = crate::answers::latest_run(&root);
        crate::verbosity::stdout(crate::answers::render(exp, latest.as_ref()));
    } else {
        crate::verbosity::stdout(report::explanation::text(
            exp,
            report::width::terminal_width(),
        ));
    }
    Ok(ExitCode::SUCCESS)
}

/// Under `--bisect`, an error (bad input, an unusable environment) would repeat
/// on every commit, so it exits 128, which stops `git bisect run`, instead of 2,
/// which it would take for "bad".
fn for_bisect(bisect: bool, result: Result<ExitCode>) -> Result<ExitCode> {
    match result {
        Err(e) if bisect && !e.is::<Interrupted>() => {
            eprintln!("harness: {e:#}");
            eprintln!("harness: --bisect: exit {BISECT_USAGE_ERROR}, which stops git bisect run");
            Ok(ExitCode::from(BISECT_USAGE_ERROR))
        }
        other => other,
    }
}

/// The exit code of a command-line mistake caught before [`run`] (clap's, or
/// the verbosity flags'): 2, or 128 when `--bisect` is among the arguments, so
/// that a typo stops `git bisect run` instead of being taken for "bad" (which
/// would blame the commit under test). Arguments after `--` are not looked at.
pub fn usage_exit_code(args: &[String]) -> u8 {
    let bisect = args
        .iter()
        .skip(1)
        .take_while(|a| *a != "--")
        .any(|a| a == "--bisect");
    if bisect {
        eprintln!("harness: --bisect: exit {BISECT_USAGE_ERROR}, which stops git bisect run");
        BISECT_USAGE_ERROR
    } else {
        2
    }
}

/// `git bisect run`'s code for "stop the bisection": an error every commit
/// would repeat.
pub const BISECT_USAGE_ERROR: u8 = 128;

fn run_matrix(args: &MatrixArgs) -> Result<ExitCode> {
    use crate::matrix::{self, kernels::KernelSpec};
    if args.list_kernels {
        crate::verbosity::stdout(matrix::kernels::list_text());
        return Ok(ExitCode::SUCCESS);
    }
    let output = matrix::MatrixOutput {
        out: args.out.clone().unwrap_or_else(store::default_results_root),
        ktap: args.ktap,
        all_rows: args.all_rows,
    };
    if !args.results.is_empty() {
        return matrix::from_results(&args.results, &output);
    }
    let kernels = args
        .kernels
        .iter()
        .map(|k| KernelSpec::parse(&k.text).map_err(UsageError))
        .collect::<Result<Vec<_>, _>>()?;
    let settings =
        matrix::setup::per_kernel(&args.kernels, &args.with, &args.sysctls).map_err(UsageError)?;
    if let Some(twice) = (0..kernels.len())
        .find(|&i| (0..i).any(|j| kernels[j] == kernels[i] && settings[j] == settings[i]))
    {
        return Err(UsageError(format!(
            "--kernel {} is given twice with the same settings; each column is one kernel and its settings",
            kernels[twice]
        ))
        .into());
    }
    if let Some(i) =
        (0..kernels.len()).find(|&i| kernels[i] == KernelSpec::Host && !settings[i].0.is_empty())
    {
        return Err(UsageError(format!(
            "--kernel host --with {}: settings apply to guests; the host keeps its own",
            settings[i].label()
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
    let host = crate::system::Root::live();
    let options = matrix::MatrixOptions {
        kernels,
        settings,
        experiments,
        thp: args
            .thp
            .clone()
            .unwrap_or_else(|| matrix::host_thp_mode(&host)),
        memory_bytes: args.memory,
        size_bytes: args.size,
        timeout: Duration::from_secs(args.timeout),
        output,
        host,
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
        // Prose wraps (never cut): the summary under the name, then the sources.
        out.push_str(&report::width::wrap_hanging(
            info.summary,
            width,
            &format!("{:<15} ", info.name),
            "                ",
        ));
        out.push_str(&report::width::wrap(
            &format!("from {}", sources.join("; ")),
            width,
            "                ",
        ));
    }
    out
}

/// Refuses `--only NAME/VARIANT` when neither run has that variant of NAME,
/// rather than comparing nothing and passing.
fn check_only_variants(only: &[Selection], runs: &[&crate::model::RunRecord]) -> Result<()> {
    for selection in only {
        let name = selection.experiment.info().name;
        let Some(wanted) = &selection.variants else {
            continue;
        };
        let mut have: Vec<&str> = runs
            .iter()
            .flat_map(|r| r.experiments.iter().filter(|e| e.name == name))
            .flat_map(|e| e.variants.iter().map(|v| v.name.as_str()))
            .collect();
        have.sort_unstable();
        have.dedup();
        if let Some(missing) = wanted.iter().find(|w| !have.contains(&w.as_str())) {
            return Err(UsageError(format!(
                "--only {name}/{missing}: neither run has variant '{missing}' of {name} (they have: {})",
                if have.is_empty() { "none".to_string() } else { have.join(", ") }
            ))
            .into());
        }
    }
    Ok(())
}

/// `compare OLD NEW`: both files are checked before anything is printed.
fn compare_files(
    old: &Path,
    new: &Path,
    tolerance: &[String],
    format: report::Format,
    only: &[Selection],
    gate: crate::model::Gate,
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
    check_only_variants(only, &[&baseline_run, &now_run])?;
    crate::selection::restrict(&mut baseline_run, only);
    crate::selection::restrict(&mut now_run, only);
    now_run.gate.strict |= gate.strict;
    now_run.gate.require_comparable |= gate.require_comparable;
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
        report::Format::Junit => report::junit::render(&now_run, Some(&cmp)),
        report::Format::Csv => {
            return Err(UsageError(
                "compare has no CSV output; use --format table, markdown, json, tap or junit"
                    .into(),
            )
            .into())
        }
    };
    crate::verbosity::out(text);
    let cases = outcome::run_cases(&now_run, Against::Baseline(&cmp));
    Ok(ExitCode::from(
        RunVerdict::of(&now_run, &cases).compared(&cmp).exit_code(),
    ))
}
