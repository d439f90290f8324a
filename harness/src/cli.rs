//! The command line (clap definitions only).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::report::Format;

/// Runs the classic demonstrations of Linux virtual memory as measured experiments.
///
/// Each experiment is a separate process that stops at named checkpoints; the
/// harness snapshots /proc/PID/smaps, status and stat at each one, counts the page
/// faults of each phase, and judges the claims of the writings the demonstration
/// comes from. Results go to results/<time>-<host>/ (JSON, Markdown, CSV, raw
/// /proc text) and results/latest points at the newest run.
///
/// Exit status: 0 every experiment ran or was skipped with a reason (a refuted
/// claim is a finding, not an error); 1 an experiment failed, or a comparison
/// with a baseline found a regression (a claim changed verdict or a metric moved
/// beyond tolerance); 2 bad input (including a missing or malformed baseline) or
/// an environment the harness cannot work in; 130 interrupted.
#[derive(Debug, Parser)]
#[command(name = "harness", version, about, long_about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run every experiment.
    All(RunOptions),
    /// Run the named experiments (see `list`).
    Run {
        /// Experiment names, e.g. mmap-file.
        #[arg(required = true, value_name = "NAME")]
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
    },
    /// Run the experiments under several kernels (in QEMU virtual machines, or
    /// `host` natively) and compare them in one matrix.
    Matrix(MatrixArgs),
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
        conflicts_with = "results"
    )]
    pub kernels: Vec<String>,
    /// Experiments to run (comma-separated); default: all.
    #[arg(long, value_name = "NAMES", value_delimiter = ',')]
    pub experiments: Vec<String>,
    /// Transparent huge pages mode set on every guest's kernel command line;
    /// default: the host's mode.
    #[arg(long, value_name = "MODE", value_parser = ["always", "madvise", "never"])]
    pub thp: Option<String>,
    /// Memory of every guest; default: enough for the chosen experiments at
    /// the chosen sizes (at least 512MiB), as far as this machine has it.
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub memory: Option<u64>,
    /// Override each experiment's main size (default: its --quick size).
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub size: Option<u64>,
    /// Longest time one kernel may take from boot to power-off, in seconds; a
    /// guest still running then is killed and reported with its console's tail.
    #[arg(long, value_name = "SECONDS", default_value_t = 600, value_parser = clap::value_parser!(u64).range(1..))]
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

/// Options shared by `all` and `run`.
#[derive(Debug, Clone, Args)]
pub struct RunOptions {
    /// Small sizes that finish in seconds (e.g. a 64 MiB file instead of 1 GB),
    /// with the same checkpoints and claims.
    #[arg(long)]
    pub quick: bool,
    /// Override each experiment's main size, e.g. 256MiB or 1G.
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub size: Option<u64>,
    /// How many processes an experiment that starts several should start
    /// (many-processes: 1,000 by default, at most 10,000; shared-file: 4 sharers).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub count: Option<u64>,
    /// What to print on stdout.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Folder for results (a subfolder per run); default: results/ of the workspace.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Folder for the experiments' temporary files (needs room for the 1 GB file);
    /// default: $TMPDIR or /tmp.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Stop at every checkpoint: say what happened, show the PIDs and commands to
    /// look at them from another terminal, and wait for Enter (q quits cleanly).
    /// Needs a terminal.
    #[arg(long)]
    pub step: bool,
    /// Longest wait for an experiment between two checkpoints, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 600, value_parser = clap::value_parser!(u64).range(1..))]
    pub timeout: u64,
    /// Keep this run as the baseline NAME (in --baseline-dir), replacing one of
    /// the same name; written atomically.
    #[arg(long, value_name = "NAME")]
    pub save_baseline: Option<String>,
    /// Compare this run with the baseline NAME (or a path to a results.json),
    /// which is checked before anything runs; exit 1 on a regression.
    #[arg(long, value_name = "NAME")]
    pub baseline: Option<String>,
    /// Folder of named baselines; default: results/baselines/ of the workspace.
    #[arg(long, value_name = "DIR")]
    pub baseline_dir: Option<PathBuf>,
    /// Tolerance of a kind of metric when comparing with --baseline: faults=5%,
    /// faults=3, memory=2pages, memory=1%. Repeatable.
    #[arg(long, value_name = "KIND=VALUE")]
    pub tolerance: Vec<String>,
    /// Start the measured programs with address-space randomisation off
    /// (personality ADDR_NO_RANDOMIZE), so that addresses, and the figures that
    /// move with them, repeat from run to run. Recorded in each experiment's params.
    #[arg(long)]
    pub no_aslr: bool,
}

/// Parses `64MiB`, `1G`, `4096` (bytes), `2KiB`, ... into bytes.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("'{text}' is not a size; write e.g. 64MiB, 1G or 4096"))?;
    let multiplier: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" => 1 << 10,
        "kb" => 1000,
        "m" | "mib" => 1 << 20,
        "mb" => 1000 * 1000,
        "g" | "gib" => 1 << 30,
        "gb" => 1000 * 1000 * 1000,
        other => {
            return Err(format!(
                "unknown size unit '{other}'; use B, KiB, MiB, GiB (or KB, MB, GB)"
            ))
        }
    };
    number
        .checked_mul(multiplier)
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("'{text}' is not a usable size"))
}

#[cfg(test)]
mod tests {
    use super::*;

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
