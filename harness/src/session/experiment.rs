//! One experiment of a session: plan, run each selected variant (`--repeat`
//! times), judge, summarise and price.

use std::cell::RefCell;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::compare as comparing;
use crate::experiment::{Experiment, PlanContext, PlannedVariant};
use crate::model::{ExperimentRecord, MetricSpread, Status, UnstableClaim, VariantRecord, Verdict};
use crate::options::Options;
use crate::outcome;
use crate::probe::Probe;
use crate::progress::VariantProgress;
use crate::runner::{self, locate, RunnerEvent, VariantSpec};
use crate::scratch::ScratchDir;
use crate::selection::Selection;
use crate::step::Pause;
use crate::store;
use crate::system::Environment;

use super::retry::Retries;

/// One experiment's results: the record (the first run of each variant), and
/// with `--repeat`, its metrics' spread and its unstable claims.
pub(super) struct ExperimentRun {
    pub(super) record: ExperimentRecord,
    pub(super) spread: Vec<MetricSpread>,
    pub(super) unstable: Vec<UnstableClaim>,
    /// Ctrl-C stopped it.
    pub(super) interrupted: bool,
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

/// Where an experiment's variants run: the folder of the binaries, the one
/// their temporary folders go in, the run folder, and the probe that reads them.
pub(super) struct Places<'a> {
    pub(super) binaries: &'a Path,
    pub(super) temp_dir: &'a Path,
    pub(super) run_dir: &'a Path,
    pub(super) probe: &'a dyn Probe,
}

/// Runs the selected variants of one experiment (`--repeat` times).
pub(super) fn run_one(
    selection: &Selection,
    ctx: &PlanContext<'_>,
    options: &Options,
    at: &Places<'_>,
    stepper: Option<&mut dyn Pause>,
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
        Err(reason) => return Ok(skipped(record, &reason)),
    };
    record.params = plan.params;
    record_choices(&mut record, options, selection);
    let runs = Runs {
        exp,
        selection,
        options,
        at,
        binary: locate::binary(at.binaries, name)?,
        variants: &plan.variants,
        env: ctx.env,
        retries: RefCell::default(),
    };
    let ran = runs.run(stepper)?;
    let repeat = options.repeat.max(1);
    record.variants = first_runs(&ran.runs, repeat);
    set_status(&mut record, ran.stop.as_ref());
    judge(
        &mut record,
        selection,
        ctx.env,
        ran.stop.as_ref(),
        &runs.retries.borrow(),
    );
    let selected_count = runs.selected().count();
    crate::progress::experiment_done(&record, selected_count, started.elapsed());
    record.fault_costs = crate::experiment::fault_costs::price_list(&record, ctx.env);
    let interrupted = ran.stop.is_some();
    let (spread, unstable) = runs.spread_and_unstable(&mut record, ran, ctx.env);
    Ok(ExperimentRun {
        record,
        spread,
        unstable,
        interrupted,
    })
}

/// An experiment whose plan refused this machine, skipped with the reason.
fn skipped(mut record: ExperimentRecord, reason: &str) -> ExperimentRun {
    crate::verbosity::note(format_args!("{} ... skipped: {reason}", record.name));
    record.status = Status::Skipped;
    record.reason = Some(reason.to_string());
    ExperimentRun {
        record,
        spread: Vec::new(),
        unstable: Vec::new(),
        interrupted: false,
    }
}

/// Records the size and the variants chosen on the command line, so that the
/// summary's header can say which ran.
fn record_choices(record: &mut ExperimentRecord, options: &Options, selection: &Selection) {
    if let Some(size) = options.size {
        record.params.insert(
            crate::report::summary::SIZE_PARAM.into(),
            serde_json::json!(size),
        );
    }
    if let Some(variants) = &selection.variants {
        record
            .params
            .insert("variants_selected".into(), serde_json::json!(variants));
    }
}

/// The first run of each variant; a variant that failed in a later run fails
/// the experiment too, so that later run replaces its first.
fn first_runs(runs: &[Vec<VariantRecord>], repeat: u32) -> Vec<VariantRecord> {
    let mut variants = runs.first().cloned().unwrap_or_default();
    for (r, later) in runs.iter().enumerate().skip(1) {
        for v in later.iter().filter(|v| v.status == Status::Failed) {
            if let Some(first) = variants
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
    variants
}

/// The experiment's status: where a stop left it, or failed with its first
/// failed variant's reason.
fn set_status(record: &mut ExperimentRecord, stop: Option<&Stopped>) {
    if let Some(stop) = stop {
        // Judged below as far as it got; told as where the walk stopped.
        record.status = if crate::step::quit_requested() {
            Status::Skipped
        } else {
            Status::Failed
        };
        record.reason = Some(stop.sentence());
    } else if record.variants.iter().any(|v| v.status == Status::Failed) {
        record.status = Status::Failed;
        record.reason = Some(outcome::failure_reason(record));
    }
}

/// Judges the claims and writes the summary; a stopped variant keeps only the
/// claims its stops decided, and a variant not selected has none.
fn judge(
    record: &mut ExperimentRecord,
    selection: &Selection,
    env: &Environment,
    stop: Option<&Stopped>,
    retries: &Retries,
) {
    let exp = selection.experiment;
    record.claims = exp.judge(record, env);
    retries.annotate(record);
    if let Some(s) = stop {
        s.keep_reached_claims(record);
    }
    // Claims about a variant that was not selected say nothing about this run.
    record
        .claims
        .retain(|c| c.variant.as_deref().is_none_or(|v| selection.wants(v)));
    record.summary = exp.summary(record, env);
}

/// One experiment's selected variants, run `--repeat` times.
struct Runs<'a> {
    exp: &'a dyn Experiment,
    selection: &'a Selection,
    options: &'a Options,
    at: &'a Places<'a>,
    binary: PathBuf,
    variants: &'a [PlannedVariant],
    env: &'a Environment,
    /// The variants measured again after a transient disturbance.
    retries: RefCell<Retries>,
}

/// What the runs gave: `runs[r]` holds the r-th run of every variant, in plan
/// order; `stop` says where Ctrl-C (or q) stopped them, if it did.
struct Ran {
    runs: Vec<Vec<VariantRecord>>,
    stop: Option<Stopped>,
}

impl Runs<'_> {
    fn selected(&self) -> impl Iterator<Item = &PlannedVariant> + '_ {
        self.variants
            .iter()
            .filter(|v| self.selection.wants(&v.name))
    }

    /// A temporary folder for the experiment's files; dropping it removes them.
    fn scratch(&self) -> Result<ScratchDir> {
        let temp_dir = self.at.temp_dir;
        let prefix = format!("vmlab-{}-", self.exp.info().name);
        ScratchDir::create(temp_dir, &prefix)
            .with_context(|| format!("cannot create a temporary folder in {}", temp_dir.display()))
    }

    /// Runs every selected variant `--repeat` times, keeping the first run's
    /// raw /proc text; a stop ends the runs with the checkpoints reached.
    fn run(&self, mut stepper: Option<&mut dyn Pause>) -> Result<Ran> {
        let name = self.exp.info().name;
        let mut runs: Vec<Vec<VariantRecord>> = Vec::new();
        for r in 0..self.options.repeat.max(1) {
            runs.push(Vec::new());
            // The files of this run of the variants, when they share a folder;
            // dropping it removes them, whatever happens.
            let shared = if self.exp.variants_share_a_folder() {
                Some(self.scratch()?)
            } else {
                None
            };
            for variant in self.selected() {
                // The experiment's files live here; dropping it removes them, whatever happens.
                let own;
                let folder = match &shared {
                    Some(shared) => shared.path(),
                    None => {
                        own = self.scratch()?;
                        own.path()
                    }
                };
                let outcome = self.run_variant(
                    variant,
                    r,
                    folder,
                    stepper.as_mut().map(|p| &mut **p as &mut dyn Pause),
                )?;
                let stop = outcome
                    .stopped
                    .then(|| Stopped::at(&outcome.record, self.exp, variant.name.clone()));
                // A stopped variant is kept if it reached a checkpoint.
                if stop.is_none() || !outcome.record.checkpoints.is_empty() {
                    // The raw /proc text is the first run's, which the record keeps.
                    if r == 0 {
                        store::write_raw(self.at.run_dir, name, &variant.name, &outcome.raw)?;
                    }
                    runs[r as usize].push(outcome.record);
                }
                if stop.is_some() {
                    return Ok(Ran { runs, stop });
                }
            }
        }
        Ok(Ran { runs, stop: None })
    }

    /// Runs `variant` once (run `r`, 0-based) in `folder`, showing its
    /// progress and pausing at its checkpoints in step mode.
    fn run_variant(
        &self,
        variant: &PlannedVariant,
        r: u32,
        folder: &Path,
        mut stepper: Option<&mut dyn Pause>,
    ) -> Result<runner::VariantOutcome> {
        let (exp, name) = (self.exp, self.exp.info().name);
        let spec = VariantSpec {
            name: variant.name.clone(),
            binary: self.binary.clone(),
            args: variant.args.clone(),
            timeout: self.options.timeout,
            contract: Some(exp.info()),
        };
        let repeat = self.options.repeat.max(1);
        let label = if repeat > 1 {
            format!("{} (run {}/{repeat})", variant.name, r + 1)
        } else {
            variant.name.clone()
        };
        let mut progress = VariantProgress::start(name, &label);
        if let Some(s) = stepper.as_deref_mut() {
            s.start_variant(exp, &variant.name);
        }
        let mut on_event = |event: RunnerEvent| {
            if let (Some(s), RunnerEvent::Checkpoint { record }) = (stepper.as_deref_mut(), &event)
            {
                progress.suspend(|| s.pause(exp, &variant.name, record));
            }
            progress.show(event);
        };
        let mut retries = self.retries.borrow_mut();
        let run = retries.run_variant(exp, self.env, &spec, self.at.probe, folder, &mut on_event);
        let mut outcome = match run {
            Ok(outcome) => outcome,
            Err(e) => bail!("{name}/{}: {e}", variant.name),
        };
        if outcome.stopped {
            // Stopped (q or Ctrl-C): the checkpoints reached are kept.
            progress.finish(&outcome.record);
            if !outcome.record.checkpoints.is_empty() {
                crate::elf::attach_binary_facts(&mut outcome.record, Some(folder));
            }
        } else {
            crate::elf::attach_binary_facts(&mut outcome.record, Some(folder));
            progress.finish(&outcome.record);
        }
        Ok(outcome)
    }

    /// With `--repeat`: each compared metric's spread over the complete runs,
    /// and the claims those runs judge differently (made inconclusive).
    fn spread_and_unstable(
        &self,
        record: &mut ExperimentRecord,
        ran: Ran,
        env: &Environment,
    ) -> (Vec<MetricSpread>, Vec<UnstableClaim>) {
        let selected_count = self.selected().count();
        let complete: Vec<Vec<VariantRecord>> = ran
            .runs
            .into_iter()
            .filter(|v| v.len() == selected_count)
            .collect();
        let unstable = if complete.len() > 1 && ran.stop.is_none() {
            judge_repeats(self.exp, record, &complete, env)
        } else {
            Vec::new()
        };
        let mut spread = Vec::new();
        if self.options.repeat.max(1) > 1 {
            for v in self.selected() {
                let ran: Vec<&VariantRecord> = complete
                    .iter()
                    .flatten()
                    .filter(|x| x.name == v.name && x.status == Status::Ok)
                    .collect();
                spread.extend(comparing::spread(&record.name, &ran, env.page_size));
            }
        }
        (spread, unstable)
    }
}

/// Where a variant was stopped (q in step mode, or Ctrl-C): the checkpoint
/// reached last, how many of the checkpoints the experiment announces it
/// reached, and which variant.
struct Stopped {
    variant: String,
    at: Option<String>,
    reached: usize,
    announced: usize,
}

impl Stopped {
    fn at(record: &VariantRecord, exp: &dyn Experiment, variant: String) -> Stopped {
        Stopped {
            variant,
            at: record.checkpoints.last().map(|c| c.label.clone()),
            reached: record.checkpoints.len(),
            announced: exp.info().checkpoints.len(),
        }
    }

    /// `stopped at child-write-quarter (4 of up to 7 stops) in thp-off`: the
    /// experiment announces its checkpoints for all variants together, so the
    /// count is an upper bound.
    fn sentence(&self) -> String {
        let how = if crate::step::quit_requested() {
            "stopped as asked"
        } else {
            "interrupted"
        };
        match &self.at {
            Some(at) => format!(
                "{how} at {at} ({} of up to {} stops) in {}",
                self.reached, self.announced, self.variant
            ),
            None => format!("{how} before the first stop of {}", self.variant),
        }
    }

    /// The stopped variant's claims that its reached checkpoints decided:
    /// a claim the judge could not decide from them (inconclusive, no
    /// condition of the machine behind it) needed a stop not reached, and is
    /// left out rather than reported undecided.
    fn keep_reached_claims(&self, record: &mut ExperimentRecord) {
        record.claims.retain(|c| {
            c.variant.as_deref() != Some(self.variant.as_str())
                || c.verdict != Verdict::Inconclusive
                || c.precondition.is_some()
        });
        if let Some(v) = record.variants.iter_mut().find(|v| v.name == self.variant) {
            v.status = record.status;
            v.reason = Some(self.sentence());
        }
    }
}
