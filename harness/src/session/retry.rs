//! A variant measured again when a transient disturbance, measured in its
//! phases, left a claim of it undecided (reclaim evicted the pages the claim
//! needed, THP faults fell back to small pages): a fresh experiment process
//! with the same plan, up to [`MAX_ATTEMPTS`] runs, and the first undisturbed
//! one judged. The criterion never changes; a permanent precondition (no
//! root, no THP, no room) is no disturbance and is not retried. What
//! disturbed each earlier run is kept in the claims' records
//! ([`crate::model::Attempts`]) and evidence.

use std::collections::BTreeMap;
use std::path::Path;

use crate::error::RunnerError;
use crate::experiment::Experiment;
use crate::model::{Attempts, ClaimRecord, ExperimentRecord, Status, VariantRecord, Verdict};
use crate::probe::Probe;
use crate::runner::{self, RunnerEvent, VariantOutcome, VariantSpec};
use crate::system::Environment;

/// Runs of one variant at most: the first and two more.
pub const MAX_ATTEMPTS: u32 = 3;

/// The variants of one experiment that were run more than once, by name.
#[derive(Debug, Default)]
pub(super) struct Retries {
    by_variant: BTreeMap<String, Attempts>,
}

impl Retries {
    /// Runs the variant of `spec` in `folder`, and again while a claim of it
    /// comes out inconclusive because of a transient disturbance, up to
    /// [`MAX_ATTEMPTS`] runs in all; returns the first undisturbed run, or the
    /// last. With `--repeat` the first run of the variants is the one
    /// recorded, so the attempts of a variant are kept from its first run.
    pub(super) fn run_variant(
        &mut self,
        exp: &dyn Experiment,
        env: &Environment,
        spec: &VariantSpec,
        probe: &dyn Probe,
        folder: &Path,
        on_event: &mut dyn FnMut(RunnerEvent),
    ) -> Result<VariantOutcome, RunnerError> {
        let mut disturbed = Vec::new();
        let mut attempt = 1;
        loop {
            let mut outcome = runner::run_variant(spec, probe, folder, on_event)?;
            // What the judges read of the measured program's file (strip's
            // debug link), as the session attaches it before judging.
            crate::elf::attach_binary_facts(&mut outcome.record, Some(folder));
            let why = match outcome.stopped {
                true => None,
                false => disturbances(exp, env, &outcome.record),
            };
            let Some(why) = why.filter(|_| attempt < MAX_ATTEMPTS) else {
                if attempt > 1 {
                    self.by_variant
                        .entry(spec.name.clone())
                        .or_insert(Attempts {
                            judged: attempt,
                            made: attempt,
                            disturbed,
                        });
                }
                return Ok(outcome);
            };
            crate::verbosity::note(format_args!(
                "{}/{}: attempt {attempt} disturbed ({why}); measuring it again",
                exp.info().name,
                spec.name
            ));
            disturbed.push(why);
            attempt += 1;
        }
    }

    /// Records, on each claim of a variant run more than once, its attempts,
    /// and says so at the end of its evidence.
    pub(super) fn annotate(&self, record: &mut ExperimentRecord) {
        let only = match record.variants.as_slice() {
            [one] => Some(one.name.clone()),
            _ => None,
        };
        for claim in &mut record.claims {
            let Some(name) = claim.variant.clone().or_else(|| only.clone()) else {
                continue;
            };
            if let Some(attempts) = self.by_variant.get(&name) {
                claim.evidence = format!("{} ({})", claim.evidence, attempts.sentence());
                claim.attempts = Some(attempts.clone());
            }
        }
    }
}

/// What disturbed a run of a variant, if a claim of it is inconclusive only
/// because of a transient disturbance: its claims judged on that run alone
/// (a claim that needs other variants is then undecided for want of them,
/// which is no disturbance), each disturbed one named with what was measured.
fn disturbances(
    exp: &dyn Experiment,
    env: &Environment,
    variant: &VariantRecord,
) -> Option<String> {
    if variant.status != Status::Ok {
        return None;
    }
    let alone = ExperimentRecord {
        name: exp.info().name.to_string(),
        status: Status::Ok,
        reason: None,
        params: Default::default(),
        variants: vec![variant.clone()],
        claims: Vec::new(),
        summary: Vec::new(),
        fault_costs: Vec::new(),
    };
    let found: Vec<String> = exp
        .judge(&alone, env)
        .iter()
        .filter(|c| c.variant.as_deref().is_none_or(|v| v == variant.name))
        .filter_map(disturbed)
        .collect();
    (!found.is_empty()).then(|| found.join(", "))
}

/// `claim-id: what was measured`, for an inconclusive claim with a transient
/// disturbance.
fn disturbed(claim: &ClaimRecord) -> Option<String> {
    match (&claim.verdict, &claim.disturbance) {
        (Verdict::Inconclusive, Some(d)) => Some(format!("{}: {}", claim.id, d.measured)),
        _ => None,
    }
}
