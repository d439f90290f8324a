//! One experiment of a session: plan, run each selected variant (`--repeat`
//! times), judge, summarise and price.

use std::path::Path;

use anyhow::{bail, Context, Result};

use crate::compare as comparing;
use crate::experiment::{Experiment, PlanContext};
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
    mut stepper: Option<&mut dyn Pause>,
) -> Result<ExperimentRun> {
    let Places {
        binaries,
        temp_dir,
        run_dir,
        probe,
    } = *at;
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
            crate::verbosity::note(format_args!("{name} ... skipped: {reason}"));
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
    // Recorded so that the summary's header can say which sizes ran.
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
    let binary = locate::binary(binaries, name)?;
    let mut interrupted = false;
    let mut stop: Option<Stopped> = None;
    let selected_count = plan
        .variants
        .iter()
        .filter(|v| selection.wants(&v.name))
        .count();
    let repeat = options.repeat.max(1);
    // runs[r] holds the r-th run of every variant, in plan order.
    let mut runs: Vec<Vec<VariantRecord>> = Vec::new();
    let new_scratch = || {
        ScratchDir::create(temp_dir, &format!("vmlab-{name}-"))
            .with_context(|| format!("cannot create a temporary folder in {}", temp_dir.display()))
    };
    'repeats: for r in 0..repeat {
        runs.push(Vec::new());
        // The files of this run of the variants, when they share a folder;
        // dropping it removes them, whatever happens.
        let shared = if exp.variants_share_a_folder() {
            Some(new_scratch()?)
        } else {
            None
        };
        for variant in plan.variants.iter().filter(|v| selection.wants(&v.name)) {
            let spec = VariantSpec {
                name: variant.name.clone(),
                binary: binary.clone(),
                args: variant.args.clone(),
                timeout: options.timeout,
                contract: Some(exp.info()),
            };
            // The experiment's files live here; dropping it removes them, whatever happens.
            let own;
            let folder = match &shared {
                Some(shared) => shared.path(),
                None => {
                    own = new_scratch()?;
                    own.path()
                }
            };
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
                if let (Some(s), RunnerEvent::Checkpoint { record }) =
                    (stepper.as_deref_mut(), &event)
                {
                    progress.suspend(|| s.pause(exp, &variant.name, record));
                }
                progress.show(event);
            };
            match runner::run_variant(&spec, probe, folder, &mut on_event) {
                Ok(mut outcome) if outcome.stopped => {
                    // Stopped (q or Ctrl-C): the checkpoints reached are kept.
                    progress.finish(&outcome.record);
                    interrupted = true;
                    stop = Some(Stopped::at(&outcome.record, exp, variant.name.clone()));
                    if !outcome.record.checkpoints.is_empty() {
                        crate::elf::attach_binary_facts(&mut outcome.record);
                        if r == 0 {
                            store::write_raw(run_dir, name, &variant.name, &outcome.raw)?;
                        }
                        runs[r as usize].push(outcome.record);
                    }
                    break 'repeats;
                }
                Ok(mut outcome) => {
                    crate::elf::attach_binary_facts(&mut outcome.record);
                    progress.finish(&outcome.record);
                    // The raw /proc text is the first run's, which the record keeps.
                    if r == 0 {
                        store::write_raw(run_dir, name, &variant.name, &outcome.raw)?;
                    }
                    runs[r as usize].push(outcome.record);
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
        // Judged below as far as it got; told as where the walk stopped.
        record.status = if crate::step::quit_requested() {
            Status::Skipped
        } else {
            Status::Failed
        };
        record.reason = Some(match &stop {
            Some(s) => s.sentence(),
            None => "interrupted".into(),
        });
    } else if record.variants.iter().any(|v| v.status == Status::Failed) {
        record.status = Status::Failed;
        record.reason = Some(outcome::failure_reason(&record));
    }
    record.claims = exp.judge(&record, ctx.env);
    if let Some(s) = &stop {
        s.keep_reached_claims(&mut record);
    }
    // Claims about a variant that was not selected say nothing about this run.
    record
        .claims
        .retain(|c| c.variant.as_deref().is_none_or(|v| selection.wants(v)));
    record.summary = exp.summary(&record, ctx.env);
    crate::progress::experiment_done(&record, selected_count, started.elapsed());
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
