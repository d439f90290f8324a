//! The command line (clap definitions only).

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::report::Format;

/// Runs the classic demonstrations of Linux virtual memory as measured experiments.
///
/// Each experiment is a separate process that stops at named checkpoints; the
/// harness snapshots /proc/PID/smaps, status and stat at each one, counts the page
/// faults of each phase, and judges the claims of the writings the demonstration
/// comes from. Results go to `results/<time>-<host>/` (JSON, Markdown, CSV, raw
/// /proc text) and results/latest points at the newest run.
///
/// Exit status (the same results KTAP prints as `not ok`): 0 nothing to act on
/// (a refuted claim is a finding, not an error); 1 an experiment crashed, hung
/// or broke the protocol, or a comparison with a baseline found a regression (a
/// claim went from confirmed to refuted or back, or a metric moved beyond the
/// baseline's spread and tolerance the way that is worse for it), or --strict
/// found an undeclared refutation; 4 every experiment or every variant was
/// skipped, or a comparison compared nothing (kselftest's KSFT_SKIP); 2 bad
/// input (including a missing or malformed baseline) or an environment the
/// harness cannot work in; 130 interrupted.
/// With --bisect: 0 good, 1 bad, 125 cannot test, 128 error.
#[derive(Debug, Parser)]
#[command(name = "harness", version, about, long_about)]
pub struct Cli {
    /// How much to print; any subcommand takes these.
    #[command(flatten)]
    pub verbosity: Verbosity,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// `-q` and `-v`, given before or after the subcommand.
#[derive(Debug, Clone, Copy, Args)]
pub struct Verbosity {
    /// Print nothing but errors (an experiment that failed is one): no
    /// progress, no summary, no report. The results are still written and the
    /// exit status still tells. The output of list, explain, completions and
    /// man is not affected, nor matrix --ktap.
    #[arg(short = 'q', long, global = true)]
    pub quiet: bool,
    /// Print every table and before/after view, not only the summary of the
    /// claims (results.md and results.html always have them), and a line per
    /// variant. Output fits the terminal's width (COLUMNS if set, 80 at least).
    #[arg(short = 'v', long, visible_alias = "detail", global = true)]
    pub verbose: bool,
}

impl Verbosity {
    /// The level these flags ask for; both together are a mistake. (clap's
    /// `conflicts_with` misses them when one comes before the subcommand and
    /// the other after it.)
    pub fn level(&self) -> Result<crate::verbosity::Level, String> {
        crate::verbosity::Level::from_flags(self.quiet, self.verbose)
    }
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run every experiment.
    All(RunOptions),
    /// Run the named experiments (see `list`), or some of their variants.
    Run {
        /// Experiment names, e.g. mmap-file; NAME/VARIANT runs one variant
        /// (fork-cow/thp-off), NAME/VARIANT,VARIANT several.
        #[arg(required = true, value_name = "NAME[/VARIANT,...]")]
        names: Vec<String>,
        /// How to run them.
        #[command(flatten)]
        options: RunOptions,
    },
    /// List the experiments with a one-line description.
    List,
    /// Explain an experiment for students: the seed's claim, the steps, the
    /// columns, what to expect on a current kernel, and questions.
    Explain {
        /// Experiment name (see `list`).
        #[arg(value_name = "NAME")]
        name: String,
        /// For the teacher: answer the questions, with the figures of the
        /// latest run (results/latest) where a figure is involved.
        #[arg(long)]
        answers: bool,
        /// Folder of results whose `latest` run the answers quote; default:
        /// results/ of the workspace.
        #[arg(long, value_name = "DIR", requires = "answers")]
        results: Option<PathBuf>,
        /// Print the demonstration's slide-sized C program instead (15-30
        /// lines: it prints its pid and waits for Enter between steps, and
        /// `harness trace` gives it the experiment's checkpoints).
        #[arg(long, conflicts_with = "answers")]
        program: bool,
    },
    /// Compare two saved runs (any two results.json): environment differences,
    /// claims whose verdict changed, metrics beyond tolerance. Exit 1 on a regression.
    Compare {
        /// The baseline: a results.json (or a run folder holding one).
        #[arg(value_name = "OLD.json")]
        baseline: PathBuf,
        /// The run to judge against it.
        #[arg(value_name = "NEW.json")]
        now: PathBuf,
        /// Tolerance of a kind of metric: faults=5% (share of the baseline),
        /// faults=3 (at least this many), memory=2pages, memory=1%. Repeatable.
        #[arg(long, value_name = "KIND=VALUE")]
        tolerance: Vec<String>,
        /// What to print on stdout (tap: NEW.json as KTAP, regressions as failed subtests).
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
        /// Compare only these experiments, or variants of them: NAME,
        /// NAME/VARIANT or NAME/VARIANT,VARIANT (as for `run`). Repeatable.
        #[arg(long, value_name = "NAME[/VARIANT,...]")]
        only: Vec<String>,
        /// Judge NEW.json strictly, as `run --strict` does.
        #[arg(long)]
        strict: bool,
        /// A variant or experiment that could not be compared fails (exit 1).
        #[arg(long)]
        require_comparable: bool,
    },
    /// Print a saved run again from its results.json, without running
    /// anything: the summary (every table with -v), or --format as `run`
    /// prints it. RUN is a run folder, a results.json, or a run's name in the
    /// results folder (--out); default `latest`.
    Show {
        /// The run to show.
        #[arg(value_name = "RUN", default_value = "latest")]
        run: String,
        /// Results folder RUN names a run of; default results/ of the workspace.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// What to print on stdout.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
        /// With -v, list every mapping that moved, shared libraries included.
        #[arg(long)]
        all_mappings: bool,
    },
    /// Run the experiments under several kernels (in QEMU virtual machines, or
    /// `host` natively) and compare them in one matrix.
    Matrix(MatrixArgs),
    /// Run any program and take a checkpoint whenever it, or a process it
    /// forked, stops to wait: reads its standard input (a `getchar()`), sits in
    /// pause() or sigsuspend(), or stops itself with SIGSTOP. At each one the
    /// whole tree is snapshotted as for the built-in experiments, labelled with
    /// the program's last output line (or --label), and resumed: a newline on its
    /// stdin, the signal it waits for, or SIGCONT. The program's output passes
    /// through (to stderr with --format json, csv or tap); its stdout is a
    /// terminal, so C's stdio flushes every line. A program that never waits
    /// (it only sleeps or polls) is warned about, with where it slept, and the
    /// run exits 4 (nothing measured): use --every then. Processes not waiting
    /// at a checkpoint (a child only its parent waits for) are not stopped:
    /// each snapshot records every process's state, and views mark a running
    /// one.
    Trace(TraceArgs),
    /// Snapshot a running process the harness did not start, and its children:
    /// every --every DURATION (default 1s), or at each Enter with --on-enter,
    /// --count times (default: until it exits or Ctrl-C). --once prints one
    /// snapshot like `pmap -X`, with Pss, USS and swap per mapping.
    Watch(WatchArgs),
    /// Print a completion script for SHELL on stdout, e.g. `harness completions
    /// bash > ~/.local/share/bash-completion/completions/harness` (see
    /// harness/docs/usage.md, "Install").
    Completions {
        /// The shell the script is for.
        #[arg(value_enum, value_name = "SHELL")]
        shell: clap_complete::Shell,
    },
    /// Print the manual page harness(1) (roff) on stdout, e.g. `harness man |
    /// man -l -`; with --out-dir, write it and a page per subcommand
    /// (harness-run(1), ...) into a folder such as ~/.local/share/man/man1.
    Man {
        /// Write harness.1 and every harness-SUBCOMMAND.1 here (made if
        /// missing) instead of printing harness.1.
        #[arg(long, value_name = "DIR")]
        out_dir: Option<PathBuf>,
    },
    /// Step through one experiment from a browser, for a projector: each
    /// checkpoint's caption, figures, page-frame sharing, PIDs and commands in
    /// large type, with charts that grow stop by stop. Serves one page on
    /// 127.0.0.1 behind a random token (printed, and opened with xdg-open
    /// where there is a display). Next (button, right arrow or space) goes on,
    /// Quit (q) stops and keeps what was reached as a `-partial` run; the end
    /// shows the claims' verdicts and the run's results.html.
    Lecture(LectureArgs),
    /// PID 1 of a matrix virtual machine (internal).
    #[command(hide = true)]
    GuestInit,
}

/// Options of `matrix`.
#[derive(Debug, Clone, Args)]
pub struct MatrixArgs {
    /// A kernel to run under, repeatable: `debian:VERSION` (fetched from the
    /// Debian archive and cached, never installed), a path to a kernel image, or
    /// `host` (the running kernel, natively). The first is the reference column.
    #[arg(
        long = "kernel",
        value_name = "SPEC",
        required_unless_present_any = ["list_kernels", "results"],
        conflicts_with = "results",
        value_parser = placed
    )]
    pub kernels: Vec<Placed>,
    /// A setting of the --kernel before it, repeatable: `thp=always|madvise|never`
    /// (its transparent_hugepage=) or `overcommit=0|1|2` (vm.overcommit_memory),
    /// e.g. `--kernel debian:6.1 --with overcommit=2`. The same kernel may be
    /// given again with other settings, as another column. Guests only.
    #[arg(long = "with", value_name = "KEY=VALUE", conflicts_with = "results", value_parser = placed)]
    pub with: Vec<Placed>,
    /// A vm. sysctl the guest of the --kernel before it sets before the
    /// experiments run, repeatable (`--sysctl vm.overcommit_memory=2`); the
    /// guest reads it back, and a column that did not get it says so.
    #[arg(long = "sysctl", value_name = "NAME=VALUE", conflicts_with = "results", value_parser = placed)]
    pub sysctls: Vec<Placed>,
    /// Experiments to run (comma-separated); default: all.
    #[arg(long, value_name = "NAMES", value_delimiter = ',')]
    pub experiments: Vec<String>,
    /// Transparent huge pages mode set on every guest's kernel command line;
    /// default: the host's mode.
    #[arg(long, value_name = "MODE", value_parser = ["always", "madvise", "never"])]
    pub thp: Option<String>,
    /// Memory of every guest; default: enough for the chosen experiments at
    /// the chosen sizes and each column's settings (at least 768MiB, so that
    /// every kernel keeps THP on), as far as this machine has it.
    #[arg(long, value_name = "SIZE", value_parser = parse_run_size, allow_hyphen_values = true)]
    pub memory: Option<u64>,
    /// Override each experiment's main size (default: its --quick size).
    #[arg(long, value_name = "SIZE", value_parser = parse_run_size, allow_hyphen_values = true)]
    pub size: Option<u64>,
    /// Longest time one kernel may take from boot to power-off, in seconds; a
    /// guest still running then is killed and reported with its console's tail.
    #[arg(long, value_name = "SECONDS", default_value_t = 600, value_parser = parse_timeout, allow_hyphen_values = true)]
    pub timeout: u64,
    /// Folder for results (a `<time>-matrix` subfolder per run); default:
    /// results/ of the workspace.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Print KTAP (one test per kernel and claim) instead of the table.
    #[arg(long)]
    pub ktap: bool,
    /// Show the cached kernels and the ones the apt sources can fetch, and exit.
    #[arg(long)]
    pub list_kernels: bool,
    /// Show every row of the matrix, not only those that differ between kernels.
    #[arg(long)]
    pub all_rows: bool,
    /// Build the matrix from result folders made elsewhere instead of running
    /// anything: each DIR holds a results.json (or is a results root whose
    /// `latest` does), e.g. `harness all` run on each kernel of a CI fleet. One
    /// column per DIR, the first being the reference.
    #[arg(long, value_name = "DIR", num_args = 1.., conflicts_with_all = ["experiments", "thp", "memory", "size", "list_kernels"])]
    pub results: Vec<PathBuf>,
}

/// A value of an option whose place among other options matters (`matrix`'s
/// `--with` belongs to the `--kernel` before it): clap parses occurrences in
/// command-line order, so a counter taken at parsing gives the order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placed {
    /// Increases along the command line.
    pub at: usize,
    /// The value as given.
    pub text: String,
}

fn placed(text: &str) -> Result<Placed, String> {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    Ok(Placed {
        at: NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        text: text.to_string(),
    })
}

/// Options of `trace`.
#[derive(Debug, Clone, Args)]
pub struct TraceArgs {
    /// Names for the detected checkpoints, in order (comma-separated or
    /// repeated); after the last, labels come from the program's last output
    /// line: lower-case, every run of other characters one '-', and every word
    /// that starts with a digit dropped (numbers, sizes like 64MiB, 0x
    /// addresses), so runs on other inputs get the same labels.
    #[arg(long = "label", value_name = "NAME", value_delimiter = ',')]
    pub labels: Vec<String>,
    /// Also snapshot every DURATION while the program runs (500ms, 2s, 1m).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, allow_hyphen_values = true)]
    pub every: Option<Duration>,
    /// Stop at every checkpoint and wait for Enter (q quits cleanly). Needs a terminal.
    #[arg(long)]
    pub step: bool,
    /// A TOML file of claims about the program, judged like the built-in claims
    /// (see harness/docs/trace.md).
    #[arg(long, value_name = "FILE")]
    pub claims: Option<PathBuf>,
    /// The experiment's name in the results (default: trace-PROGRAM).
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// What to print on stdout.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Folder for results (a subfolder per run); default: results/ of the workspace.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Longest time without a checkpoint before the program is stopped, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 600, value_parser = parse_timeout, allow_hyphen_values = true)]
    pub timeout: u64,
    /// Start the program with address-space randomisation off.
    #[arg(long)]
    pub no_aslr: bool,
    /// Keep this run as the baseline NAME (in --baseline-dir).
    #[arg(long, value_name = "NAME")]
    pub save_baseline: Option<String>,
    /// Compare this run with the baseline NAME (or a results.json); exit 1 on a regression.
    #[arg(long, value_name = "NAME")]
    pub baseline: Option<String>,
    /// Folder of named baselines; default: results/baselines/ of the workspace.
    #[arg(long, value_name = "DIR")]
    pub baseline_dir: Option<PathBuf>,
    /// Tolerance of a kind of metric when comparing with --baseline. Repeatable.
    #[arg(long, value_name = "KIND=VALUE")]
    pub tolerance: Vec<String>,
    /// The program and its arguments, after `--`.
    #[arg(last = true, required = true, value_name = "CMD")]
    pub command: Vec<OsString>,
}

/// Options of `watch`.
#[derive(Debug, Clone, Args)]
pub struct WatchArgs {
    /// The process to watch (its children are watched too).
    #[arg(value_name = "PID")]
    pub pid: i32,
    /// Snapshot every DURATION (500ms, 2s, 1m); the default is 1s.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, allow_hyphen_values = true, conflicts_with_all = ["on_enter", "once"])]
    pub every: Option<Duration>,
    /// Snapshot each time Enter is pressed; q or end of input stops.
    #[arg(long, conflicts_with = "once")]
    pub on_enter: bool,
    /// Stop after N snapshots.
    #[arg(long, value_name = "N", value_parser = parse_snapshots, allow_hyphen_values = true, conflicts_with = "once")]
    pub count: Option<u64>,
    /// Print one snapshot per process like `pmap -X` (Size, Rss, Pss, USS, Swap
    /// per mapping, in KiB) and write nothing.
    #[arg(long)]
    pub once: bool,
    /// What to print on stdout at the end.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Folder for results (a subfolder per run); default: results/ of the workspace.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

/// Options of `lecture`.
#[derive(Debug, Clone, Args)]
pub struct LectureArgs {
    /// The experiment (see `list`), or one variant of it: fork-cow/thp-off.
    #[arg(value_name = "NAME[/VARIANT]")]
    pub name: String,
    /// Small sizes that finish in seconds, with the same checkpoints and claims.
    #[arg(long)]
    pub quick: bool,
    /// Override the experiment's main size, e.g. 256MiB or 1G.
    #[arg(long, value_name = "SIZE", value_parser = parse_run_size, allow_hyphen_values = true)]
    pub size: Option<u64>,
    /// Folder for the experiment's temporary files; default: $TMPDIR or /tmp.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Folder for results (a subfolder per run); default: results/ of the workspace.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Longest wait, in seconds, for the experiment between two checkpoints,
    /// for Next at a checkpoint (then the run stops, keeping what was
    /// reached), and for Quit once the run has ended.
    #[arg(long, value_name = "SECONDS", default_value_t = DEFAULT_TIMEOUT_SECONDS, value_parser = parse_timeout, allow_hyphen_values = true)]
    pub timeout: u64,
    /// Start the experiment with address-space randomisation off.
    #[arg(long)]
    pub no_aslr: bool,
    /// The port on 127.0.0.1 to serve the page on; default: a free one.
    #[arg(long, value_name = "PORT", value_parser = clap::value_parser!(u16).range(1..))]
    pub port: Option<u16>,
    /// Print the link but do not open a browser.
    #[arg(long)]
    pub no_open: bool,
}

/// Options shared by `all` and `run`.
#[derive(Debug, Clone, Args)]
pub struct RunOptions {
    /// Small sizes that finish in seconds (e.g. a 64 MiB file instead of 1 GB),
    /// with the same checkpoints and claims.
    #[arg(long)]
    pub quick: bool,
    /// Override each experiment's main size, e.g. 256MiB or 1G (4KiB to 64TiB).
    #[arg(long, value_name = "SIZE", value_parser = parse_run_size, allow_hyphen_values = true)]
    pub size: Option<u64>,
    /// How many processes an experiment that starts several should start
    /// (many-processes: 1,000 by default, at most 10,000; shared-file: 4 sharers).
    #[arg(long, value_name = "N", value_parser = parse_count, allow_hyphen_values = true)]
    pub count: Option<u64>,
    /// What to print on stdout.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Before/after views (-v, --step) list every mapping that moved,
    /// also shared libraries whose Pss moved because of other processes and
    /// changes smaller than a page.
    #[arg(long)]
    pub all_mappings: bool,
    /// Folder for results (a subfolder per run); default: results/ of the workspace.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Folder for the experiments' temporary files (needs room for the 1 GB file);
    /// default: $TMPDIR or /tmp.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Stop at every checkpoint: say what happened, show the PIDs and commands to
    /// look at them from another terminal, and wait for Enter. Each stop fits a
    /// 50-line screen. q quits cleanly: the partial run is kept, marked
    /// `-partial`, and results/latest stays on the last complete run. Needs a
    /// terminal.
    #[arg(long)]
    pub step: bool,
    /// Longest wait for an experiment between two checkpoints, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = DEFAULT_TIMEOUT_SECONDS, value_parser = parse_timeout, allow_hyphen_values = true)]
    pub timeout: u64,
    /// Keep this run as the baseline NAME (in --baseline-dir), replacing one of
    /// the same name; written atomically. NAME is a folder name (letters,
    /// digits, '.', '-', '_'), never a path: see --save-baseline-file.
    #[arg(long, value_name = "NAME")]
    pub save_baseline: Option<String>,
    /// Keep this run as a baseline at this path (a results.json anywhere),
    /// written atomically.
    #[arg(long, value_name = "PATH", conflicts_with = "save_baseline")]
    pub save_baseline_file: Option<PathBuf>,
    /// Compare this run with the baseline NAME, or with the results.json at a
    /// path (anything with a '/': ./x.json for a file here), which is checked
    /// before anything runs; exit 1 on a regression.
    #[arg(long, value_name = "NAME")]
    pub baseline: Option<String>,
    /// Folder of named baselines; default: results/baselines/ of the workspace.
    #[arg(long, value_name = "DIR")]
    pub baseline_dir: Option<PathBuf>,
    /// Tolerance of a kind of metric when comparing with --baseline: faults=5%,
    /// faults=3, memory=2pages, memory=1%. Repeatable.
    #[arg(long, value_name = "KIND=VALUE")]
    pub tolerance: Vec<String>,
    /// Run every variant N times, record each compared metric's minimum,
    /// median and maximum (kept with a saved baseline, so that comparisons flag
    /// only what falls outside that spread), and judge every claim on each run:
    /// a claim the runs judge differently is reported inconclusive, as unstable.
    /// Default: 1, or 3 with --save-baseline and --save-baseline-file, so that
    /// a baseline carries the spread of identical runs.
    #[arg(long, value_name = "N", value_parser = parse_repeat, allow_hyphen_values = true)]
    pub repeat: Option<u32>,
    /// Exit as `git bisect run` expects: 0 good, 1 bad (an experiment failed,
    /// or a regression against --baseline), 125 cannot test (an experiment was
    /// skipped, or nothing compared); an error that every commit would repeat
    /// (bad input, a mistyped option or value included) exits 128, which
    /// stops the bisection.
    #[arg(long)]
    pub bisect: bool,
    /// Start the measured programs with address-space randomisation off
    /// (personality ADDR_NO_RANDOMIZE), so that addresses, and the figures that
    /// move with them, repeat from run to run. Recorded in each experiment's params.
    #[arg(long)]
    pub no_aslr: bool,
    /// Gate strictly: a refutation not declared in advance is `not ok` (exit
    /// 1), and so is a claim whose precondition the kernel's behaviour left
    /// unmet (THP enabled and asked for, yet no huge page). Preconditions of
    /// the environment (no root, files on tmpfs) still skip.
    #[arg(long)]
    pub strict: bool,
    /// With --baseline: a variant or experiment that could not be compared
    /// (another size, page size or set of variants) is `not ok` (exit 1)
    /// instead of a skip.
    #[arg(long)]
    pub require_comparable: bool,
}

/// The default `--timeout` of a run, in seconds: ten minutes between two
/// checkpoints (a `matrix` guest runs with it too).
pub const DEFAULT_TIMEOUT_SECONDS: u64 = 600;

/// The longest `--timeout`: a week. Longer waits are mistakes, and a deadline
/// computed from a larger figure could overflow the clock.
pub const MAX_TIMEOUT_SECONDS: u64 = 7 * 24 * 3600;

/// The largest `--size`: 64 TiB, half of the 128 TiB address space of an x86-64
/// process (47-bit), so that what an experiment maps, and twice it, fits in the
/// address space and in a u64 with room to spare. What fits in this machine's
/// memory and disk is each experiment's room check, made before it runs.
pub const MAX_SIZE_BYTES: u64 = 64 << 40;

/// The most processes `--count` may ask for.
pub const MAX_COUNT: u64 = 10_000;

/// Parses `--count`: a whole number from 1 to [`MAX_COUNT`]; a negative or
/// oversized one is rejected with the range, not as an unknown option.
pub fn parse_count(text: &str) -> Result<u64, String> {
    parse_in_range(text, 1, MAX_COUNT, "processes")
}

/// The most snapshots `watch --count` may ask for (one a second for a year).
pub const MAX_SNAPSHOTS: u64 = 366 * 24 * 3600;

/// Parses `watch --count`: 1 to [`MAX_SNAPSHOTS`], a negative one rejected
/// with the range.
pub fn parse_snapshots(text: &str) -> Result<u64, String> {
    parse_in_range(text, 1, MAX_SNAPSHOTS, "snapshots")
}

/// Parses `--repeat`: 1 to 100 runs of each variant.
pub fn parse_repeat(text: &str) -> Result<u32, String> {
    parse_in_range(text, 1, 100, "runs").map(|n| n as u32)
}

/// Parses `--timeout`: whole seconds from 1 to [`MAX_TIMEOUT_SECONDS`].
pub fn parse_timeout(text: &str) -> Result<u64, String> {
    parse_in_range(text, 1, MAX_TIMEOUT_SECONDS, "seconds")
}

fn parse_in_range(text: &str, min: u64, max: u64, unit: &str) -> Result<u64, String> {
    let trimmed = text.trim();
    let digits = trimmed.strip_prefix(['-', '+']).unwrap_or(trimmed);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "'{text}' is not a whole number; use {min} to {max} ({unit})"
        ));
    }
    match trimmed.parse::<u64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(format!(
            "{trimmed} is out of range; use {min} to {max} ({unit})"
        )),
    }
}

/// Parses a size for `--size` and `--memory`: [`parse_size`], at most
/// [`MAX_SIZE_BYTES`]. (Too small a size is each experiment's to judge: it
/// skips with the smallest it can use.)
pub fn parse_run_size(text: &str) -> Result<u64, String> {
    let bytes = parse_size(text)?;
    if bytes > MAX_SIZE_BYTES {
        return Err(format!(
            "{bytes} bytes is out of range; use 1 byte to 64TiB (half the address space of a process)"
        ));
    }
    Ok(bytes)
}

/// Parses `64MiB`, `1G`, `4096` (bytes), `2KiB`, ... into bytes.
pub fn parse_size(original: &str) -> Result<u64, String> {
    let text = original.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().map_err(|_| {
        if number.is_empty() {
            format!("'{original}' is not a size; write a positive number of bytes with an optional unit, e.g. 64MiB, 1G or 4096")
        } else {
            format!("'{original}' is out of range; use 1 byte to 64TiB")
        }
    })?;
    let multiplier: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" => 1 << 10,
        "kb" => 1000,
        "m" | "mib" => 1 << 20,
        "mb" => 1000 * 1000,
        "g" | "gib" => 1 << 30,
        "gb" => 1000 * 1000 * 1000,
        "t" | "tib" => 1 << 40,
        "tb" => 1000 * 1000 * 1000 * 1000,
        other => {
            return Err(format!(
                "unknown size unit '{other}'; use B, KiB, MiB, GiB, TiB (or KB, MB, GB, TB)"
            ))
        }
    };
    match number.checked_mul(multiplier) {
        Some(0) => Err(format!("'{original}' is zero; a size must be positive")),
        Some(bytes) => Ok(bytes),
        None => Err(format!("'{original}' is out of range; use 1 byte to 64TiB")),
    }
}

/// Parses `500ms`, `2s`, `1.5s`, `1m` into a duration of at least a millisecond.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let number: f64 = number
        .parse()
        .map_err(|_| format!("'{text}' is not a duration; write e.g. 500ms, 2s or 1m"))?;
    let seconds = match unit.trim() {
        "ms" => number / 1000.0,
        "" | "s" => number,
        "m" | "min" => number * 60.0,
        other => return Err(format!("unknown duration unit '{other}'; use ms, s or m")),
    };
    if !(0.001..=86_400.0).contains(&seconds) {
        return Err(format!("'{text}' is out of range (1ms to 24h)"));
    }
    Ok(Duration::from_secs_f64(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_their_units() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("1m"), Ok(Duration::from_secs(60)));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("0s").is_err());
    }

    #[test]
    fn sizes_parse_with_binary_and_decimal_units() {
        assert_eq!(parse_size("64MiB"), Ok(64 << 20));
        assert_eq!(parse_size("1G"), Ok(1 << 30));
        assert_eq!(parse_size("1GB"), Ok(1_000_000_000));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert!(parse_size("lots").is_err());
        assert!(parse_size("5 parsecs").is_err());
        assert!(parse_size("0").is_err());
    }

    #[test]
    fn the_command_line_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
