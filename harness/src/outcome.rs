//! The result vocabulary: what a result means to CI, defined once and used by
//! every output (table, Markdown, JSON, CSV, KTAP) and by the exit code.
//!
//! The names follow kselftest (`tools/testing/selftests/kselftest.h`): pass,
//! fail, xfail, xpass, skip, error. A [`Outcome::Fail`] or [`Outcome::Error`] is
//! something CI should act on, and only those make a `not ok` line and exit 1:
//!
//! - an experiment that crashed, hung or broke the protocol ([`Outcome::Error`]:
//!   each claim of a failed variant is an error, and a failed variant without
//!   claims of its own is one itself, so that no failure lives only on a parent);
//! - a regression against a baseline ([`Outcome::Fail`]: a claim that went from
//!   confirmed to refuted or back, a metric that grew beyond the baseline's
//!   spread widened by the tolerance, see [`crate::compare`]);
//! - in the matrix, a claim whose verdict differs from the reference kernel's.
//!
//! Everything else is not a failure: a refutation declared in advance is
//! [`Outcome::XFail`], a confirmation although one was declared
//! [`Outcome::XPass`], an unmet condition [`Outcome::Skip`] with its reason.
//!
//! **A refutation not declared in advance, judged without a baseline, is a
//! finding about the writing, not a failure of the kernel**: the seed says what
//! an older system did, and a current kernel that behaves otherwise is what the
//! project exists to show. It is [`UNDECLARED_REFUTATION`] (a pass), and every
//! output shows it as a refutation with its evidence. This is the only place that
//! decides it. A run that gates a kernel asks otherwise with `--strict` (or a
//! claims file's `strict = true` per claim, see [`Gate`]): there such a
//! refutation is a [`Outcome::Fail`], and so is a precondition the kernel's
//! behaviour left unmet ([`Precondition::Kernel`]: THP enabled and asked for,
//! yet no huge page); one the environment left unmet stays a skip.
//!
//! A comparison that could not compare a variant says so with a
//! `VARIANT.metrics` skip (`not compared: why`; a failure under
//! `--require-comparable`), and one that compared no metric at all exits 4
//! ([`RunVerdict::NothingCompared`], 125 under `--bisect`): a gate that
//! compared nothing has not passed.
//!
//! The whole run then has one [`RunVerdict`], which is the exit code: 0 pass,
//! 1 fail, 4 (kselftest's `KSFT_SKIP`) when every experiment was skipped; and,
//! for `git bisect run`, 0 good, 1 bad, 125 cannot test ([`RunVerdict::bisect_code`]).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::compare::{Comparison, VerdictChange};
use crate::model::{ClaimRecord, ExperimentRecord, Gate, Precondition, RunRecord, Status, Verdict};

/// What one result means to CI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// As declared: the claim held, or the experiment ran as planned.
    Pass,
    /// A regression against a baseline (or the matrix's reference kernel).
    Fail,
    /// Refuted, as the experiment declared in advance with its reason.
    XFail,
    /// Confirmed, although a refutation was declared in advance: the declaration
    /// is out of date on this kernel. Reported, not a failure.
    XPass,
    /// Not judged: a stated condition was not met, or the experiment was skipped.
    Skip,
    /// The experiment crashed, hung or broke the protocol.
    Error,
}

/// The outcome of a refutation that was not declared in advance, without a
/// baseline: a finding about the writing, so a pass (see the module docs).
pub const UNDECLARED_REFUTATION: Outcome = Outcome::Pass;

impl Outcome {
    /// The outcome of a judged claim on its own (no baseline, experiment ran).
    pub fn of_claim(claim: &ClaimRecord) -> Outcome {
        let expected_refuted = claim
            .expected
            .as_ref()
            .is_some_and(|e| e.verdict == Verdict::Refuted);
        match (claim.verdict, expected_refuted) {
            (Verdict::Inconclusive, _) => Outcome::Skip,
            (Verdict::Refuted, true) => Outcome::XFail,
            (Verdict::Confirmed, true) => Outcome::XPass,
            (Verdict::Confirmed, false) => Outcome::Pass,
            (Verdict::Refuted, false) => UNDECLARED_REFUTATION,
        }
    }

    /// True if CI should act on it (`not ok`, exit 1).
    pub fn is_failure(self) -> bool {
        matches!(self, Outcome::Fail | Outcome::Error)
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Outcome::Pass => "pass",
            Outcome::Fail => "fail",
            Outcome::XFail => "xfail",
            Outcome::XPass => "xpass",
            Outcome::Skip => "skip",
            Outcome::Error => "error",
        })
    }
}

/// One result in the tree every output is built from: a run is one case per
/// experiment with one leaf per claim; the matrix adds a level per kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Case {
    /// Unique among its siblings, `[A-Za-z0-9._-]` only, without the parent's
    /// name (`warm.mmap-adds-no-rss` under `mmap-file`).
    pub name: String,
    /// Its outcome; for a parent, derived from its cases (see [`Case::parent`]).
    pub outcome: Outcome,
    /// Why, for skip, xfail, xpass and error (one line).
    pub reason: String,
    /// Lines that explain the result (evidence, regressions), one line each.
    pub diagnostics: Vec<String>,
    /// Nested cases.
    pub cases: Vec<Case>,
}

impl Case {
    /// A case without nested cases.
    pub fn leaf(name: &str, outcome: Outcome, reason: &str) -> Case {
        Case {
            name: safe_name(name),
            outcome,
            reason: one_line(reason),
            diagnostics: Vec::new(),
            cases: Vec::new(),
        }
    }

    /// A parent: an error if `error` says why, else failed when a case failed,
    /// skipped when every case was, passed otherwise (ktap.rst's bubbling up).
    /// Names are made unique among the cases.
    pub fn parent(name: &str, mut cases: Vec<Case>, error: Option<String>) -> Case {
        make_unique(&mut cases);
        let (outcome, reason) = match error {
            Some(why) => (Outcome::Error, one_line(&why)),
            None if cases.iter().any(|c| c.outcome.is_failure()) => (Outcome::Fail, String::new()),
            None if !cases.is_empty() && cases.iter().all(|c| c.outcome == Outcome::Skip) => {
                (Outcome::Skip, "every case was skipped".to_string())
            }
            None => (Outcome::Pass, String::new()),
        };
        Case {
            name: safe_name(name),
            outcome,
            reason,
            diagnostics: Vec::new(),
            cases,
        }
    }

    fn note(mut self, line: String) -> Case {
        self.diagnostics.push(one_line(&line));
        self
    }
}

/// Counts of results by kind, as kselftest's closing line prints them. Only
/// leaves count: a skipped experiment is one skip, a claim one result.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Totals {
    /// Passed.
    pub pass: usize,
    /// Failed (regressions).
    pub fail: usize,
    /// Refuted as declared.
    pub xfail: usize,
    /// Confirmed although a refutation was declared.
    pub xpass: usize,
    /// Skipped, with a reason.
    pub skip: usize,
    /// Crashed, hung or broke the protocol.
    pub error: usize,
}

impl Totals {
    /// The leaves of `cases`, counted.
    pub fn of(cases: &[Case]) -> Totals {
        let mut t = Totals::default();
        t.count(cases);
        t
    }

    fn count(&mut self, cases: &[Case]) {
        for c in cases {
            if !c.cases.is_empty() {
                self.count(&c.cases);
                continue;
            }
            match c.outcome {
                Outcome::Pass => self.pass += 1,
                Outcome::Fail => self.fail += 1,
                Outcome::XFail => self.xfail += 1,
                Outcome::XPass => self.xpass += 1,
                Outcome::Skip => self.skip += 1,
                Outcome::Error => self.error += 1,
            }
        }
    }
}

impl fmt::Display for Totals {
    /// kselftest's `ksft_print_cnts()` line, without its `# `.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Totals: pass:{} fail:{} xfail:{} xpass:{} skip:{} error:{}",
            self.pass, self.fail, self.xfail, self.xpass, self.skip, self.error
        )
    }
}

/// The verdict of a whole run: the exit code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunVerdict {
    /// Nothing to act on (exit 0). `skipped` lists what did not run.
    Pass {
        /// `name: reason` of each skipped experiment and `name/variant: reason`
        /// of each skipped variant (125 under `--bisect`).
        skipped: Vec<String>,
    },
    /// A `not ok` somewhere (exit 1).
    Fail,
    /// Every experiment, or every variant, was skipped (exit 4, `KSFT_SKIP`);
    /// the reasons.
    Skip(Vec<String>),
    /// Nothing failed, but the comparison with the baseline compared no
    /// metric (exit 4, 125 under `--bisect`); why, for each thing left out.
    NothingCompared(Vec<String>),
}

/// How a hang's reason begins ([`crate::error::RunnerError::Timeout`]): an
/// error with it is ktap.rst's `# TIMEOUT`.
pub const TIMED_OUT: &str = "timed out after";

/// kselftest's exit code for a skipped run (`KSFT_SKIP`).
pub const KSFT_SKIP: u8 = 4;
/// `git bisect run`'s exit code for a commit that cannot be tested.
pub const BISECT_SKIP: u8 = 125;

impl RunVerdict {
    /// The verdict of a run's cases.
    pub fn of(run: &RunRecord, cases: &[Case]) -> RunVerdict {
        if cases.iter().any(|c| c.outcome.is_failure()) {
            return RunVerdict::Fail;
        }
        let reason = |r: &Option<String>| one_line(r.as_deref().unwrap_or("no reason given"));
        let skipped: Vec<String> = run
            .experiments
            .iter()
            .filter(|e| e.status == Status::Skipped)
            .map(|e| format!("{}: {}", e.name, reason(&e.reason)))
            .collect();
        if skipped.len() == run.experiments.len() {
            return RunVerdict::Skip(skipped);
        }
        // A variant this kernel could not run leaves the commit untested too.
        let variants: Vec<String> = run
            .experiments
            .iter()
            .flat_map(|e| {
                e.variants
                    .iter()
                    .filter(|v| v.status == Status::Skipped)
                    .map(move |v| format!("{}/{}: {}", e.name, v.name, reason(&v.reason)))
            })
            .collect();
        // Every variant skipped, by whichever experiment: nothing ran.
        let ran = run.experiments.iter().any(|e| {
            e.status != Status::Skipped && e.variants.iter().any(|v| v.status != Status::Skipped)
        });
        let all: Vec<String> = skipped.into_iter().chain(variants).collect();
        if !ran {
            return RunVerdict::Skip(all);
        }
        RunVerdict::Pass { skipped: all }
    }

    /// This verdict, for a run compared with a baseline: a pass that compared
    /// no metric at all is [`RunVerdict::NothingCompared`].
    pub fn compared(self, cmp: &Comparison) -> RunVerdict {
        match self {
            RunVerdict::Pass { .. } if cmp.metrics.is_empty() => {
                let mut why = cmp.not_compared.clone();
                if why.is_empty() {
                    why.push("no metric was measured in both runs".into());
                }
                RunVerdict::NothingCompared(why)
            }
            other => other,
        }
    }

    /// The exit code: 0, 1, or 4 when every experiment was skipped.
    pub fn exit_code(&self) -> u8 {
        match self {
            RunVerdict::Pass { .. } => 0,
            RunVerdict::Fail => 1,
            RunVerdict::Skip(_) | RunVerdict::NothingCompared(_) => KSFT_SKIP,
        }
    }

    /// The exit code for `git bisect run`: 0 good, 1 bad, 125 when an
    /// experiment or a variant was skipped (this commit or kernel cannot run
    /// all of it).
    pub fn bisect_code(&self) -> u8 {
        match self {
            RunVerdict::Pass { skipped } if skipped.is_empty() => 0,
            RunVerdict::Fail => 1,
            RunVerdict::Pass { .. } | RunVerdict::Skip(_) | RunVerdict::NothingCompared(_) => {
                BISECT_SKIP
            }
        }
    }
}

/// What a run's claims are judged against, besides their own criteria.
#[derive(Debug, Clone, Copy)]
pub enum Against<'a> {
    /// Nothing: claims and experiments only.
    Nothing,
    /// A baseline: claim and metric regressions fail.
    Baseline(&'a Comparison),
    /// The matrix's reference kernel: a claim with another verdict fails.
    Reference {
        /// The reference kernel's label.
        label: &'a str,
        /// Its run.
        run: &'a RunRecord,
    },
}

/// The cases of a run: one per experiment.
pub fn run_cases(run: &RunRecord, against: Against<'_>) -> Vec<Case> {
    let mut cases: Vec<Case> = run
        .experiments
        .iter()
        .map(|e| experiment_case(e, against, run.gate))
        .collect();
    make_unique(&mut cases);
    cases
}

/// The cases of a kernel matrix: one per kernel, with its experiments inside; a
/// kernel without results is an error. The first kernel with results is the
/// reference the others' claims are judged against.
pub fn kernel_cases(columns: &[(String, Result<&RunRecord, String>)]) -> Vec<Case> {
    let reference = columns
        .iter()
        .find_map(|(label, run)| run.as_ref().ok().map(|r| (label.as_str(), *r)));
    let mut cases: Vec<Case> = columns
        .iter()
        .map(|(label, run)| match run {
            Err(why) => Case::leaf(label, Outcome::Error, &format!("no results: {why}")),
            Ok(run) => {
                let against = match reference {
                    Some((ref_label, ref_run)) if ref_label != label => Against::Reference {
                        label: ref_label,
                        run: ref_run,
                    },
                    _ => Against::Nothing,
                };
                Case::parent(label, run_cases(run, against), None)
            }
        })
        .collect();
    make_unique(&mut cases);
    cases
}

/// Why each failed variant failed, named one by one.
pub fn failure_reason(e: &ExperimentRecord) -> String {
    let failed: Vec<String> = e
        .variants
        .iter()
        .filter(|v| v.status == Status::Failed)
        .map(|v| {
            format!(
                "variant {} failed: {}",
                v.name,
                one_line(v.reason.as_deref().unwrap_or("no reason given"))
            )
        })
        .collect();
    if failed.is_empty() {
        one_line(e.reason.as_deref().unwrap_or("failed"))
    } else {
        failed.join("; ")
    }
}

/// Why a claim of a failed experiment could not be judged, if it could not:
/// its variant failed or never ran, or it is judged over the whole experiment.
fn claim_error(e: &ExperimentRecord, claim: &ClaimRecord) -> Option<String> {
    if e.status != Status::Failed {
        return None;
    }
    match &claim.variant {
        None => Some(failure_reason(e)),
        Some(name) => match e.variants.iter().find(|v| &v.name == name) {
            Some(v) if v.status == Status::Failed => Some(format!(
                "variant {name} failed: {}",
                one_line(v.reason.as_deref().unwrap_or("no reason given"))
            )),
            Some(_) => None,
            None => Some(format!(
                "variant {name} did not run: {}",
                one_line(e.reason.as_deref().unwrap_or("failed"))
            )),
        },
    }
}

/// The strict reading of a claim (see the module docs), if it fails under it.
fn strict_failure(claim: &ClaimRecord, gate: Gate) -> Option<String> {
    if !(gate.strict || claim.strict) {
        return None;
    }
    let declared = claim.expected.as_ref().map(|x| x.verdict);
    match claim.verdict {
        Verdict::Refuted if declared != Some(Verdict::Refuted) => Some(format!(
            "strict: this kernel refutes the writing's claim and no refutation was declared: {}",
            claim.evidence
        )),
        Verdict::Inconclusive if claim.precondition == Some(Precondition::Kernel) => Some(format!(
            "strict: the kernel's behaviour left a precondition unmet: {}",
            claim.evidence
        )),
        _ => None,
    }
}

fn claim_case(e: &ExperimentRecord, claim: &ClaimRecord, against: Against<'_>, gate: Gate) -> Case {
    let mut parts: Vec<&str> = claim.variant.iter().map(String::as_str).collect();
    parts.push(&claim.id);
    let name = parts.join(".");
    if let Some(why) = claim_error(e, claim) {
        return Case::leaf(&name, Outcome::Error, &why);
    }
    let outcome = Outcome::of_claim(claim);
    let expectation = claim.expected.as_ref().map_or("", |x| x.reason.as_str());
    let strict = strict_failure(claim, gate);
    let mut case = match outcome {
        _ if strict.is_some() => {
            Case::leaf(&name, Outcome::Fail, "").note(strict.unwrap_or_default())
        }
        Outcome::Skip => Case::leaf(&name, outcome, &claim.evidence),
        Outcome::XFail => Case::leaf(&name, outcome, expectation)
            .note(format!("refuted as declared: {}", claim.evidence)),
        Outcome::XPass => Case::leaf(&name, outcome, expectation).note(format!(
            "confirmed, although a refutation was declared: {}",
            claim.evidence
        )),
        _ if claim.verdict == Verdict::Refuted => Case::leaf(&name, outcome, "").note(format!(
            "finding: this kernel refutes the writing's claim: {}",
            claim.evidence
        )),
        _ => Case::leaf(&name, outcome, ""),
    };
    let (other, label) = match against {
        Against::Nothing => return case,
        Against::Baseline(cmp) => (
            cmp.claims
                .iter()
                .find(|c| c.experiment == e.name && c.variant == claim.variant && c.id == claim.id)
                .map(|c| c.baseline),
            "the baseline",
        ),
        Against::Reference { run, .. } => (
            run.experiments
                .iter()
                .find(|x| x.name == e.name)
                .and_then(|x| {
                    x.claims
                        .iter()
                        .find(|c| c.variant == claim.variant && c.id == claim.id)
                })
                .map(|c| c.verdict),
            "the reference kernel",
        ),
    };
    let label = match against {
        Against::Reference { label: l, .. } => format!("{label} {l}"),
        _ => label.to_string(),
    };
    match other.map(|v| VerdictChange::of(v, claim.verdict)) {
        None => case.note(format!("not judged in {label}")),
        Some(VerdictChange::Same) => case,
        Some(VerdictChange::Flipped) => {
            case.outcome = Outcome::Fail;
            case.reason.clear();
            case.note(format!(
                "regression: {} in {label}, {} now: {}",
                other.unwrap_or(claim.verdict),
                claim.verdict,
                claim.evidence
            ))
        }
        Some(VerdictChange::Judgement) => case.note(format!(
            "change (not a regression: one side could not judge): {} in {label}, {} now",
            other.unwrap_or(claim.verdict),
            claim.verdict
        )),
    }
}

/// One `VARIANT.metrics` case per variant: failed when a metric moved beyond
/// the baseline's spread and tolerance in its regressing direction; a skip
/// saying why when the variant could not be compared (a failure under
/// `--require-comparable`).
fn metric_cases(e: &ExperimentRecord, cmp: &Comparison, gate: Gate) -> Vec<Case> {
    let mut cases = Vec::new();
    for v in &e.variants {
        let rows: Vec<_> = cmp
            .metrics
            .iter()
            .filter(|m| m.experiment == e.name && m.variant == v.name)
            .collect();
        if rows.is_empty() {
            let why = format!("not compared: {}", cmp.why_not_compared(&e.name, &v.name));
            let name = format!("{}.metrics", v.name);
            cases.push(if gate.require_comparable {
                Case::leaf(&name, Outcome::Fail, "").note(format!("--require-comparable: {why}"))
            } else {
                Case::leaf(&name, Outcome::Skip, &why)
            });
            continue;
        }
        let mut diagnostics = Vec::new();
        for m in rows.iter().filter(|m| m.change.is_beyond()) {
            diagnostics.push(format!(
                "{}: {} {} {}: {} in the baseline, {} now ({:+}, {})",
                if m.is_regression() {
                    "regression"
                } else {
                    "change"
                },
                m.checkpoint,
                m.process,
                m.metric,
                m.baseline_text(),
                m.now,
                m.now - m.baseline,
                m.change.direction()
            ));
        }
        let regressions = rows.iter().filter(|m| m.is_regression()).count();
        let beyond = rows.iter().filter(|m| m.change.is_beyond()).count();
        diagnostics.push(format!(
            "{} metrics compared, {beyond} beyond tolerance: {regressions} the worse way (regressions), {} the other way (changes)",
            rows.len(),
            beyond - regressions
        ));
        let outcome = if regressions > 0 {
            Outcome::Fail
        } else {
            Outcome::Pass
        };
        let mut case = Case::leaf(&format!("{}.metrics", v.name), outcome, "");
        for d in diagnostics {
            case = case.note(d);
        }
        cases.push(case);
    }
    cases
}

fn experiment_case(e: &ExperimentRecord, against: Against<'_>, gate: Gate) -> Case {
    if e.status == Status::Skipped {
        return Case::leaf(
            &e.name,
            Outcome::Skip,
            e.reason.as_deref().unwrap_or("no reason given"),
        );
    }
    let mut cases: Vec<Case> = e
        .claims
        .iter()
        .map(|c| claim_case(e, c, against, gate))
        .collect();
    // A failed variant without claims of its own is an error leaf itself.
    for v in e.variants.iter().filter(|v| v.status == Status::Failed) {
        if !e.claims.iter().any(|c| c.variant.as_ref() == Some(&v.name)) {
            cases.push(Case::leaf(
                &v.name,
                Outcome::Error,
                &format!(
                    "variant {} failed: {}",
                    v.name,
                    v.reason.as_deref().unwrap_or("no reason given")
                ),
            ));
        }
    }
    if let Against::Baseline(cmp) = against {
        cases.extend(metric_cases(e, cmp, gate));
    }
    let error = (e.status == Status::Failed).then(|| failure_reason(e));
    if cases.is_empty() {
        if let Some(why) = error {
            return Case::leaf(&e.name, Outcome::Error, &why);
        }
        return Case::leaf(&e.name, Outcome::Pass, "").note("ran; no claims to judge".into());
    }
    Case::parent(&e.name, cases, error)
}

/// Keeps only `[A-Za-z0-9._-]`: KTAP descriptions may not contain `#`, and
/// parsers split on spaces.
pub fn safe_name(text: &str) -> String {
    let name: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if name.is_empty() {
        "_".into()
    } else {
        name
    }
}

/// One line of text (no line breaks, runs of blanks collapsed).
pub fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Appends `-2`, `-3`, ... to names already used among siblings.
fn make_unique(cases: &mut [Case]) {
    let mut seen = std::collections::HashSet::new();
    for c in cases.iter_mut() {
        let base = c.name.clone();
        let mut n = 1;
        while !seen.insert(c.name.clone()) {
            n += 1;
            c.name = format!("{base}-{n}");
        }
    }
}
