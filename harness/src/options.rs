//! What a run of experiments was asked to do, checked once: the experiments and
//! variants by name, the baseline flags resolved to a [`BaselineMode`], the
//! tolerances parsed, every folder given its default. [`crate::session`] takes
//! an [`Options`] and nothing else, so the command line (`harness run`, `all`)
//! and a `matrix` guest, which builds one directly, run the same way.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Result;

use crate::cli::{RunOptions, DEFAULT_TIMEOUT_SECONDS};
use crate::compare::tolerance::{self, Tolerances};
use crate::error::UsageError;
use crate::model::Gate;
use crate::report::Format;
use crate::selection::Selection;
use crate::store::{self, baseline::BaselineMode};

/// A run's options, valid by construction (see the module docs).
#[derive(Debug, Clone)]
pub struct Options {
    /// The experiments to run, in order, with the variants of each.
    pub selected: Vec<Selection>,
    /// `--quick`: small sizes, the same checkpoints and claims.
    pub quick: bool,
    /// `--size`: each experiment's main size, in bytes.
    pub size: Option<u64>,
    /// `--count`: how many processes an experiment that starts several starts.
    pub count: Option<u64>,
    /// What stdout shows.
    pub format: Format,
    /// `--detail`: every table, not only the summary of the claims.
    pub detail: bool,
    /// `--all-mappings`: before/after views list every mapping that moved.
    pub all_mappings: bool,
    /// The folder that takes the run folder (`--out`, else the default).
    pub results_root: PathBuf,
    /// The folder for the experiments' temporary files (`--dir`, else $TMPDIR).
    pub temp_dir: PathBuf,
    /// `--step`: stop at every checkpoint.
    pub step: bool,
    /// Longest wait for an experiment between two checkpoints.
    pub timeout: Duration,
    /// What to do with baselines.
    pub baseline: BaselineMode,
    /// The folder of named baselines (`--baseline-dir`, else the default).
    pub baseline_dir: PathBuf,
    /// The baseline is saved to an explicit path (`--save-baseline-file`), not
    /// by name in [`Options::baseline_dir`].
    pub save_to_file: bool,
    /// The tolerances of a comparison with the baseline.
    pub tolerances: Tolerances,
    /// `--repeat`: runs of every variant (at least 1).
    pub repeat: u32,
    /// `--bisect`: exit as `git bisect run` expects.
    pub bisect: bool,
    /// `--no-aslr`: the measured programs start without address randomisation.
    pub no_aslr: bool,
    /// `--strict` and `--require-comparable`: how strictly the run gates.
    pub gate: Gate,
}

impl Options {
    /// `harness run --quick`'s options for `selected`, everything else as the
    /// command line's defaults: what a `matrix` guest runs.
    pub fn quick(selected: Vec<Selection>) -> Options {
        Options {
            selected,
            quick: true,
            size: None,
            count: None,
            format: Format::Table,
            detail: false,
            all_mappings: false,
            results_root: store::default_results_root(),
            temp_dir: std::env::temp_dir(),
            step: false,
            timeout: Duration::from_secs(DEFAULT_TIMEOUT_SECONDS),
            baseline: BaselineMode::Discard,
            baseline_dir: default_baseline_dir(),
            save_to_file: false,
            tolerances: Tolerances::default(),
            repeat: 1,
            bisect: false,
            no_aslr: false,
            gate: Gate::default(),
        }
    }

    /// Checks the parsed command line of `harness run NAMES` (or `all`, with
    /// `names` None): a mistake is an error here, before the machine is looked at.
    pub fn from_cli(names: Option<&[String]>, args: &RunOptions) -> Result<Options> {
        let selected = match names {
            Some(names) => Selection::parse_all(names).map_err(UsageError)?,
            None => Selection::everything(),
        };
        let baseline_dir = args
            .baseline_dir
            .clone()
            .unwrap_or_else(default_baseline_dir);
        let baseline = BaselineMode::from_flags(
            &baseline_dir,
            args.baseline.as_deref(),
            args.save_baseline.as_deref(),
            args.save_baseline_file.as_deref(),
        )?;
        let repeat = args.repeat.unwrap_or(if baseline.save_to().is_some() {
            BASELINE_REPEAT
        } else {
            1
        });
        Ok(Options {
            selected,
            quick: args.quick,
            size: args.size,
            count: args.count,
            format: args.format,
            detail: crate::verbosity::verbose(),
            all_mappings: args.all_mappings,
            results_root: args.out.clone().unwrap_or_else(store::default_results_root),
            temp_dir: args.dir.clone().unwrap_or_else(std::env::temp_dir),
            step: args.step,
            timeout: Duration::from_secs(args.timeout),
            baseline,
            baseline_dir,
            save_to_file: args.save_baseline_file.is_some(),
            tolerances: tolerance::parse_all(&args.tolerance)?,
            repeat,
            bisect: args.bisect,
            no_aslr: args.no_aslr,
            gate: Gate {
                strict: args.strict,
                require_comparable: args.require_comparable,
            },
        })
    }

    /// The folder a saved baseline goes to, with the flag that chooses it (for
    /// messages), if the run saves one.
    pub fn save_folder(&self) -> Option<(&Path, &'static str)> {
        let path = self.baseline.save_to()?;
        Some(if self.save_to_file {
            (
                path.parent().unwrap_or(Path::new(".")),
                "--save-baseline-file",
            )
        } else {
            (self.baseline_dir.as_path(), "--baseline-dir")
        })
    }
}

/// Runs of every variant when a baseline is saved and `--repeat` is not given:
/// a baseline of one run has no spread, so the noise of identical runs (a
/// fault-around window, a page-cache folio) reads as a change.
pub const BASELINE_REPEAT: u32 = 3;

/// `results/baselines/` of the default results folder.
fn default_baseline_dir() -> PathBuf {
    store::default_results_root().join("baselines")
}
