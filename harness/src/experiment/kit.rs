//! The judging toolkit every experiment shares: an [`Observed`] of one measured
//! variant, the [`Judged`] result a judge returns, the [`Case`] that binds a
//! claim to its judge, and the drivers that judge every case on every variant
//! (a variant that did not run makes each of its claims inconclusive with the
//! reason, the same way in every experiment).
//!
//! Tolerances that come from the machine (the page size, the PMD size, smaps'
//! kB rounding) are read here, from the [`Environment`] the run recorded, so that
//! no experiment hard-codes 4 KiB or 2 MiB.

use std::str::FromStr;

use experiments::note::NoteKey;

use crate::model::{
    CheckpointRecord, ClaimRecord, Disturbance, DisturbanceCause, ExperimentRecord, Faults,
    MemoryFigures, ProcessRecord, RegionRecord, Status, VariantRecord, Verdict,
};
use crate::system::Environment;

use super::Claim;

/// smaps prints every size in whole kB, truncated: a figure of one mapping may be
/// up to this much below the exact one.
pub const SMAPS_ROUNDING_BYTES: u64 = 1024;

/// One variant that ran to its end, and the machine it ran on: what a judge reads.
#[derive(Debug, Clone, Copy)]
pub struct Observed<'a> {
    /// The measured variant.
    pub variant: &'a VariantRecord,
    /// The machine.
    pub env: &'a Environment,
}

impl<'a> Observed<'a> {
    /// The variant's name, as a claim record names it.
    pub fn name(&self) -> Option<&'a str> {
        Some(self.variant.name.as_str())
    }

    /// The page size in bytes (never 0).
    pub fn page(&self) -> u64 {
        self.env.page_size.max(1)
    }

    /// `bytes` in whole pages, rounded down.
    pub fn pages(&self, bytes: u64) -> u64 {
        bytes / self.page()
    }

    /// The size one PMD entry maps (`hpage_pmd_size`), when the kernel says.
    pub fn pmd_bytes(&self) -> Option<u64> {
        self.env.thp_pmd_bytes
    }

    /// The checkpoint `label`, if it was reached.
    pub fn checkpoint(&self, label: &str) -> Option<&'a CheckpointRecord> {
        self.variant.checkpoint(label)
    }

    /// Process `role` at checkpoint `label`.
    pub fn process(&self, label: &str, role: &str) -> Option<&'a ProcessRecord> {
        process_at(self.variant, label, role)
    }

    /// Region `name` of process `role` at checkpoint `label`.
    pub fn region(&self, label: &str, role: &str, name: &str) -> Option<&'a RegionRecord> {
        region_at(self.variant, label, role, name)
    }

    /// The figures of region `name` of process `role` at `label`, or why they
    /// are missing (for `?` in a judge).
    pub fn figures(
        &self,
        label: &str,
        role: &str,
        name: &str,
    ) -> Result<&'a MemoryFigures, String> {
        self.region(label, role, name)
            .map(|r| &r.figures)
            .ok_or_else(|| format!("{name} of the {role} was not measured at {label}"))
    }

    /// Note `key`, parsed; `None` when absent or unparsable. A typed key
    /// ([`Note<T>`](experiments::note::Note)) gives its own type.
    pub fn note<T: FromStr>(&self, key: impl NoteKey<T>) -> Option<T> {
        self.variant.note(key)
    }

    /// Note `key`, parsed, or why it cannot be used (for `?` in a judge; see
    /// [`VariantRecord::need_note`]).
    pub fn need_note<T>(&self, key: impl NoteKey<T>) -> Result<T, String>
    where
        T: FromStr,
        T::Err: std::fmt::Display,
    {
        self.variant.need_note(key)
    }

    /// Faults of process `role` summed over the phases that end at `labels`.
    pub fn faults_over(&self, labels: &[&str], role: &str) -> Option<Faults> {
        faults_over(self.variant, labels, role)
    }

    /// Bytes `role` caused to be read from storage between `from` and `to`.
    pub fn read_bytes_between(&self, from: &str, to: &str, role: &str) -> Option<u64> {
        read_bytes_between(self.variant, from, to, role)
    }

    /// The machine-wide /proc/vmstat counters' change from the checkpoint
    /// before `from` (the start of its phase) to `to`, as text
    /// (`thp_fault_alloc +0, thp_fault_fallback +31, ...`), or why not.
    pub fn vmstat_over(&self, from: &str, to: &str) -> String {
        let checkpoints = &self.variant.checkpoints;
        let start = checkpoints
            .iter()
            .position(|c| c.label == from)
            .and_then(|i| i.checked_sub(1))
            .and_then(|i| checkpoints[i].system.as_ref()?.vmstat);
        let end = self.checkpoint(to).and_then(|c| c.system.as_ref()?.vmstat);
        match (start, end) {
            (Some(a), Some(b)) => format!("/proc/vmstat over the phase: {}", b.delta_text(&a)),
            _ => "/proc/vmstat was not recorded for the phase".into(),
        }
    }

    /// Turns what a judge found into the claim's record for this variant.
    pub fn verdict(&self, claim: &Claim, judged: Judged) -> ClaimRecord {
        claim.record(self.name(), judged)
    }
}

/// What a judge found: the verdict's inputs, or why the claim cannot be judged
/// (then inconclusive).
pub type Judged = Result<Finding, String>;

/// A judge's finding on one claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Whether the criterion holds: confirmed if so, refuted if not.
    pub holds: bool,
    /// The sentence that explains the verdict, with the figures.
    pub evidence: String,
    /// The measured figure the criterion was applied to, short.
    pub measured: String,
    /// The verdict declared in advance for current kernels, and why.
    pub expected: Option<(Verdict, String)>,
    /// Whether the figures settle the criterion neither way (see [`Finding::undecided`]).
    pub undecided: bool,
    /// The transient disturbance that left it undecided (see [`Finding::disturbed`]).
    pub disturbance: Option<Disturbance>,
}

impl Finding {
    /// A finding without a declared expectation.
    pub fn new(holds: bool, evidence: impl Into<String>, measured: impl Into<String>) -> Finding {
        Finding {
            holds,
            evidence: evidence.into(),
            measured: measured.into(),
            expected: None,
            undecided: false,
            disturbance: None,
        }
    }

    /// A finding that settles the criterion neither way although everything was
    /// measured (a noise band straddling its threshold, a precondition the
    /// figures show unmet): inconclusive, and the record keeps the figure the
    /// criterion was applied to, which an `Err` reason would lose.
    pub fn undecided(evidence: impl Into<String>, measured: impl Into<String>) -> Finding {
        Finding {
            undecided: true,
            ..Finding::new(false, evidence, measured)
        }
    }

    /// Undecided because something transient, measured in the phase, took
    /// what the criterion needed (reclaim evicted the pages, THP fell back):
    /// inconclusive, and the session runs the variant again. The criterion is
    /// the same on every run; only a disturbance that passes belongs here, a
    /// permanent precondition is an `Err`.
    pub fn disturbed(
        cause: DisturbanceCause,
        what: impl Into<String>,
        evidence: impl Into<String>,
        measured: impl Into<String>,
    ) -> Finding {
        Finding {
            disturbance: Some(Disturbance {
                cause,
                measured: what.into(),
            }),
            ..Finding::undecided(evidence, measured)
        }
    }

    /// Declares the verdict expected on current kernels, and why.
    pub fn expecting(mut self, verdict: Verdict, reason: impl Into<String>) -> Finding {
        self.expected = Some((verdict, reason.into()));
        self
    }
}

impl Claim {
    /// The record of this claim for `variant` from what its judge found.
    pub fn record(&self, variant: Option<&str>, judged: Judged) -> ClaimRecord {
        match judged {
            Ok(f) => {
                let verdict = if f.undecided {
                    Verdict::Inconclusive
                } else {
                    verdict_of(f.holds)
                };
                let mut record = self
                    .judged(variant, verdict, f.evidence)
                    .with_measured(f.measured);
                if let Some(d) = f.disturbance {
                    record.precondition = Some(d.cause.precondition());
                    record.disturbance = Some(d);
                }
                match f.expected {
                    Some((verdict, reason)) => record.expecting(verdict, reason),
                    None => record,
                }
            }
            Err(why) => self.unmeasured(variant, why),
        }
    }
}

/// A claim with the judge bound to it: no dispatch by id strings, so a claim
/// without a judge (or a judge without a claim) does not compile.
pub type Case = (Claim, fn(&Observed<'_>) -> Judged);

/// Judges `cases_of(variant)` on every variant of `record`. A variant that did
/// not run to its end makes each of its cases inconclusive, with the reason.
pub fn judge_each_variant(
    record: &ExperimentRecord,
    env: &Environment,
    cases_of: impl Fn(&str) -> &'static [Case],
) -> Vec<ClaimRecord> {
    let mut claims = Vec::new();
    for variant in &record.variants {
        let cases = cases_of(&variant.name);
        claims.extend(judge_variant(variant, env, cases));
    }
    claims
}

/// Judges `cases` on one variant (inconclusive with the reason if it did not run).
pub fn judge_variant(
    variant: &VariantRecord,
    env: &Environment,
    cases: &[Case],
) -> Vec<ClaimRecord> {
    let name = Some(variant.name.as_str());
    if let Some(why) = not_run_reason(variant) {
        return cases
            .iter()
            .map(|(c, _)| c.unmeasured(name, why.clone()))
            .collect();
    }
    let view = Observed { variant, env };
    cases
        .iter()
        .map(|(claim, judge)| view.verdict(claim, judge(&view)))
        .collect()
}

/// Judges `cases` on the one variant an experiment runs (its first); claims are
/// recorded without a variant name. Without a variant, every case is
/// inconclusive with the experiment's reason.
pub fn judge_single_variant(
    record: &ExperimentRecord,
    env: &Environment,
    cases: &[Case],
) -> Vec<ClaimRecord> {
    let why = match record.variants.first() {
        None => Some(record.reason.clone().unwrap_or_else(|| "not run".into())),
        Some(v) => not_run_reason(v),
    };
    match (why, record.variants.first()) {
        (None, Some(variant)) => {
            let view = Observed { variant, env };
            cases
                .iter()
                .map(|(claim, judge)| claim.record(None, judge(&view)))
                .collect()
        }
        (why, _) => {
            let why = why.unwrap_or_default();
            cases
                .iter()
                .map(|(c, _)| c.unmeasured(None, why.clone()))
                .collect()
        }
    }
}

/// `Confirmed` if `holds`, else `Refuted`.
pub fn verdict_of(holds: bool) -> Verdict {
    if holds {
        Verdict::Confirmed
    } else {
        Verdict::Refuted
    }
}

/// Whether `measured` is within `tolerance` of `expected`, either way.
pub fn within(measured: u64, expected: u64, tolerance: u64) -> bool {
    measured.abs_diff(expected) <= tolerance
}

/// The process `role` at checkpoint `label` of a variant.
pub fn process_at<'a>(
    variant: &'a VariantRecord,
    label: &str,
    role: &str,
) -> Option<&'a ProcessRecord> {
    variant.checkpoint(label)?.process(role)
}

/// Region `name` of process `role` at checkpoint `label`.
pub fn region_at<'a>(
    variant: &'a VariantRecord,
    label: &str,
    role: &str,
    name: &str,
) -> Option<&'a RegionRecord> {
    process_at(variant, label, role)?.region(name)
}

/// Faults of process `role` summed over the phases that end at `labels`.
pub fn faults_over(variant: &VariantRecord, labels: &[&str], role: &str) -> Option<Faults> {
    labels.iter().try_fold(Faults::default(), |sum, label| {
        let f = process_at(variant, label, role)?.faults;
        Some(Faults {
            minor: sum.minor + f.minor,
            major: sum.major + f.major,
        })
    })
}

/// Bytes the process `role` caused to be read from storage (/proc/PID/io
/// `read_bytes`) between checkpoints `from` and `to`; `None` when either
/// checkpoint or its I/O counters were not measured.
pub fn read_bytes_between(
    variant: &VariantRecord,
    from: &str,
    to: &str,
    role: &str,
) -> Option<u64> {
    let before = process_at(variant, from, role)?.io?;
    let after = process_at(variant, to, role)?.io?;
    Some(after.read_bytes.saturating_sub(before.read_bytes))
}

/// Why a variant that did not run to its end cannot be judged; `None` if it did.
pub fn not_run_reason(variant: &VariantRecord) -> Option<String> {
    let how = match variant.status {
        Status::Ok => return None,
        Status::Skipped => "was skipped",
        Status::Failed => "failed",
    };
    Some(format!(
        "variant {} {how}: {}",
        variant.name,
        variant.reason.as_deref().unwrap_or("no reason given")
    ))
}

/// A byte count as pages, for evidence text.
pub fn pages(bytes: u64, page_size: u64) -> u64 {
    bytes / page_size.max(1)
}

/// What an answer to a question may quote: the experiment's record in the latest
/// run (`harness explain NAME --answers`).
pub struct Facts<'a> {
    /// The record, if the latest run has the experiment.
    pub record: Option<&'a ExperimentRecord>,
    /// The page size of the machine that ran it.
    pub page_size: u64,
}

impl Facts<'_> {
    /// The variant `name`, if it ran.
    pub fn variant(&self, name: &str) -> Option<&VariantRecord> {
        self.record?.variants.iter().find(|v| v.name == name)
    }

    /// The experiment's first variant, if any ran.
    pub fn first_variant(&self) -> Option<&VariantRecord> {
        self.record?.variants.first()
    }

    /// Process `role` at `label` of `variant`.
    pub fn process(&self, variant: &str, label: &str, role: &str) -> Option<&ProcessRecord> {
        self.variant(variant)?.checkpoint(label)?.process(role)
    }

    /// Region `region` of process `role` at `label` of `variant`.
    pub fn region(
        &self,
        variant: &str,
        label: &str,
        role: &str,
        region: &str,
    ) -> Option<&MemoryFigures> {
        Some(&self.process(variant, label, role)?.region(region)?.figures)
    }

    /// Bytes as pages.
    pub fn pages(&self, bytes: u64) -> u64 {
        bytes / self.page_size.max(1)
    }

    /// `X (N pages)`.
    pub fn bytes_and_pages(&self, bytes: u64) -> String {
        format!(
            "{} ({} pages)",
            super::human_bytes(bytes),
            self.pages(bytes)
        )
    }

    /// Σ Rss and Σ Pss over every process at the last checkpoint of `variant`.
    pub fn sums_at_end(&self, variant: &str) -> Option<(usize, u64, u64)> {
        let c = self.variant(variant)?.checkpoints.last()?;
        Some((
            c.processes.len(),
            c.processes.iter().map(|p| p.totals.rss_bytes).sum(),
            c.processes.iter().map(|p| p.totals.pss_bytes).sum(),
        ))
    }
}

/// The measured part of one answer: the latest run's figure, `None` when the run
/// lacks it. Answers' prose is in the experiment's `explanation.md`; this adds
/// the figures, one function per question, in the questions' order.
pub type AnswerFigure = fn(&Facts<'_>) -> Option<String>;
