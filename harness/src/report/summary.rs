//! The summary a run ends with: per experiment, one line per claim (verdict,
//! the measured figure against the criterion), then one tally line. It is what
//! `all` and `run` print by default, and what results.md and results.html open
//! with; tables and deltas come after it (`--detail`).

use std::fmt::Write;

use super::width::truncate;
use crate::explain::cite;
use crate::model::{ClaimRecord, ExperimentRecord, RunRecord, Status, Verdict};
use crate::outcome::Outcome;

/// How many claims and experiments came out which way.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// Claims judged.
    pub claims: usize,
    /// Confirmed: the writing was right on this kernel.
    pub confirmed: usize,
    /// Refuted, all together.
    pub refuted: usize,
    /// Of the refuted, those the experiment declared in advance (xfail).
    pub refuted_expected: usize,
    /// Confirmed although a refutation was declared (xpass).
    pub confirmed_unexpectedly: usize,
    /// A stated condition was not met.
    pub inconclusive: usize,
    /// Experiments in the run.
    pub experiments: usize,
    /// Experiments skipped with a reason.
    pub skipped: usize,
    /// Experiments that failed (crashed, hung, interrupted).
    pub failed: usize,
}

impl Tally {
    /// Counts a run.
    pub fn of(run: &RunRecord) -> Tally {
        let mut t = Tally {
            experiments: run.experiments.len(),
            ..Tally::default()
        };
        for e in &run.experiments {
            match e.status {
                Status::Ok => {}
                Status::Skipped => t.skipped += 1,
                Status::Failed => t.failed += 1,
            }
            for c in &e.claims {
                t.claims += 1;
                match c.verdict {
                    Verdict::Confirmed => t.confirmed += 1,
                    Verdict::Refuted => t.refuted += 1,
                    Verdict::Inconclusive => t.inconclusive += 1,
                }
                match c.outcome() {
                    Outcome::XFail => t.refuted_expected += 1,
                    Outcome::XPass => t.confirmed_unexpectedly += 1,
                    _ => {}
                }
            }
        }
        t
    }

    /// `95 claims: 88 confirmed, 5 refuted (3 expected), 2 inconclusive; 9 experiments`.
    pub fn line(&self) -> String {
        let mut out = format!(
            "{} claims: {} confirmed, {} refuted",
            self.claims, self.confirmed, self.refuted
        );
        if self.refuted_expected > 0 {
            let _ = write!(out, " ({} expected)", self.refuted_expected);
        }
        let _ = write!(out, ", {} inconclusive", self.inconclusive);
        if self.confirmed_unexpectedly > 0 {
            let _ = write!(
                out,
                ", {} confirmed against expectation",
                self.confirmed_unexpectedly
            );
        }
        let _ = write!(
            out,
            "; {} experiment{}",
            self.experiments,
            if self.experiments == 1 { "" } else { "s" }
        );
        if self.skipped > 0 {
            let _ = write!(out, ", {} skipped", self.skipped);
        }
        if self.failed > 0 {
            let _ = write!(out, ", {} FAILED", self.failed);
        }
        out
    }
}

/// The verdict as the summary column shows it: refutations declared in advance
/// carry a `*` (the tally explains it).
pub fn verdict_cell(claim: &ClaimRecord) -> String {
    match claim.outcome() {
        Outcome::XFail => format!("{}*", claim.verdict),
        Outcome::XPass => format!("{}!", claim.verdict),
        _ => claim.verdict.to_string(),
    }
}

/// The claim's name with its variant (`first-read-few-pages [cold]`).
pub fn claim_name(claim: &ClaimRecord) -> String {
    match &claim.variant {
        Some(v) => format!("{} [{v}]", claim.id),
        None => claim.id.clone(),
    }
}

/// What was measured against what the criterion asked, in a few words; the
/// evidence where the experiment did not record a figure.
pub fn figures(claim: &ClaimRecord) -> String {
    let measured = if claim.measured.is_empty() {
        claim.evidence.as_str()
    } else {
        claim.measured.as_str()
    };
    if claim.criterion.is_empty() {
        measured.to_string()
    } else {
        format!("{measured} (criterion: {})", claim.criterion)
    }
}

/// One claim in one line of at most `width` characters.
pub fn claim_line(claim: &ClaimRecord, width: usize) -> String {
    let line = format!(
        "  {:<13} {}: {}",
        verdict_cell(claim),
        claim_name(claim),
        figures(claim)
    );
    truncate(&line, width)
}

/// The heading line of one experiment: name, variants, sources.
pub fn experiment_line(e: &ExperimentRecord, width: usize) -> String {
    let sources: Vec<String> = experiments::CATALOG
        .iter()
        .find(|i| i.name == e.name)
        .map(|i| i.sources.iter().map(|s| cite(s)).collect())
        .unwrap_or_default();
    let state = match e.status {
        Status::Ok => format!(
            "{} variant{}",
            e.variants.len(),
            if e.variants.len() == 1 { "" } else { "s" }
        ),
        Status::Skipped => format!("skipped: {}", e.reason.as_deref().unwrap_or("")),
        Status::Failed => format!("FAILED: {}", e.reason.as_deref().unwrap_or("")),
    };
    let mut line = format!("{} ({state})", e.name);
    if !sources.is_empty() {
        let _ = write!(line, ", from {}", sources.join("; "));
    }
    truncate(&line, width)
}

/// One line about the machine and the sizes.
pub fn machine_line(run: &RunRecord, width: usize) -> String {
    let env = &run.environment;
    truncate(
        &format!(
            "vmlab {} on Linux {}, THP {}, {} CPUs, {}",
            run.vmlab_version,
            env.kernel,
            env.thp_enabled,
            env.cpu_count,
            if run.quick {
                "--quick sizes"
            } else {
                "full sizes"
            }
        ),
        width,
    )
}

/// The footnote the `*` and `!` of the verdict column need, if any claim has one.
pub fn legend(tally: &Tally) -> Option<&'static str> {
    match (tally.refuted_expected > 0, tally.confirmed_unexpectedly > 0) {
        (false, false) => None,
        (true, false) => Some("* refuted as declared in advance for current kernels"),
        (false, true) => Some("! confirmed although a refutation was declared"),
        (true, true) => Some("* refuted as declared in advance; ! confirmed against that"),
    }
}

/// Per experiment one line per claim, then the tally: every line at most
/// `width` characters.
pub fn render(run: &RunRecord, width: usize) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}", machine_line(run, width));
    for e in &run.experiments {
        let _ = writeln!(out, "\n{}", experiment_line(e, width));
        for c in &e.claims {
            let _ = writeln!(out, "{}", claim_line(c, width));
        }
    }
    let tally = Tally::of(run);
    out.push('\n');
    if let Some(legend) = legend(&tally) {
        let _ = writeln!(out, "{}", truncate(legend, width));
    }
    let _ = writeln!(out, "{}", truncate(&tally.line(), width));
    out
}
