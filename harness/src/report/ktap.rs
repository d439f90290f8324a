//! KTAP version 1, the format of the kernel's selftests that KernelCI and LAVA
//! parse (Documentation/dev-tools/ktap.rst in the kernel tree): one test per
//! experiment, one subtest per claim, nested with a version line, a plan and two
//! spaces of indentation per level.
//!
//! How a claim becomes a result:
//! - confirmed: `ok`;
//! - inconclusive (a precondition was not met): `ok ... # SKIP <why>`;
//! - refuted, and the experiment declared that refutation in advance
//!   ([`crate::model::ClaimRecord::expected`]): `ok ... # XFAIL <reason>`. KTAP
//!   lists XFAIL among its accepted directives ("a test is expected to fail ...
//!   used by some kselftest tests", ktap.rst, "Test case result lines"), and
//!   kselftest's `ksft_test_result_xfail()` (tools/testing/selftests/kselftest.h)
//!   prints it after an `ok`, so it does not count as a failure;
//! - refuted without a declared expectation: `ok`, with a `# finding:` diagnostic
//!   line. Without a baseline, a kernel that contradicts a seed is a finding about
//!   the seed, not a failure of the kernel;
//! - with a baseline, a claim whose verdict changed is `not ok`, and so is each
//!   variant's `metrics` subtest when a metric moved beyond tolerance.
//!
//! An experiment that failed (crashed, hung, broke the protocol) is `not ok ...
//! # ERROR`; one skipped is `ok ... # SKIP <reason>`. Plans are the number of
//! results actually built, never a count kept by hand. Test names are
//! `experiment.variant.claim-id`, limited to `[A-Za-z0-9._-]` and unique at each
//! level, so they are stable across runs.

use std::collections::HashSet;
use std::fmt::Write;

use crate::compare::Comparison;
use crate::model::{ClaimRecord, ExperimentRecord, RunRecord, Status, Verdict};

/// The result of one KTAP test, after kselftest's pass / fail / skip / xfail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// `ok`.
    Pass,
    /// `not ok`.
    Fail,
    /// `ok ... # SKIP reason`: could not be judged here.
    Skip(String),
    /// `ok ... # XFAIL reason`: the declared, expected outcome on current kernels.
    XFail(String),
    /// `not ok ... # ERROR reason`: the experiment itself broke.
    Error(String),
}

/// One test: a result line, the diagnostic lines before it, and its subtests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Test {
    /// Stable, unique name (`mmap-file.warm.mmap-adds-no-rss`).
    pub name: String,
    /// Its result.
    pub outcome: Outcome,
    /// `#` lines printed just before the result line.
    pub diagnostics: Vec<String>,
    /// Nested tests (printed as a nested KTAP document).
    pub subtests: Vec<Test>,
}

impl Test {
    fn failed(&self) -> bool {
        matches!(self.outcome, Outcome::Fail | Outcome::Error(_))
    }
}

/// Keeps only `[A-Za-z0-9._-]` (KTAP descriptions may not contain `#`, and
/// parsers split on spaces).
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

/// One line of diagnostic text (no line breaks).
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Appends `-2`, `-3`, ... to names already used at this level.
fn make_unique(tests: &mut [Test]) {
    let mut seen = HashSet::new();
    for t in tests.iter_mut() {
        let base = t.name.clone();
        let mut n = 1;
        while !seen.insert(t.name.clone()) {
            n += 1;
            t.name = format!("{base}-{n}");
        }
    }
}

fn claim_name(experiment: &str, claim: &ClaimRecord) -> String {
    let mut parts = vec![experiment.to_string()];
    parts.extend(claim.variant.clone());
    parts.push(claim.id.clone());
    safe_name(&parts.join("."))
}

fn verdict_text(v: Verdict) -> &'static str {
    match v {
        Verdict::Confirmed => "confirmed",
        Verdict::Refuted => "refuted",
        Verdict::Inconclusive => "inconclusive",
    }
}

fn claim_test(experiment: &str, claim: &ClaimRecord, cmp: Option<&Comparison>) -> Test {
    let mut diagnostics = Vec::new();
    let expected_refutation = claim
        .expected
        .as_ref()
        .filter(|e| e.verdict == Verdict::Refuted);
    let mut outcome = match (claim.verdict, expected_refutation) {
        (Verdict::Confirmed, None) => Outcome::Pass,
        (Verdict::Confirmed, Some(e)) => {
            diagnostics.push(format!(
                "confirmed, although a refutation was expected on current kernels ({})",
                one_line(&e.reason)
            ));
            Outcome::Pass
        }
        (Verdict::Inconclusive, _) => Outcome::Skip(one_line(&claim.evidence)),
        (Verdict::Refuted, Some(e)) => {
            diagnostics.push(format!(
                "refuted as expected: {}",
                one_line(&claim.evidence)
            ));
            Outcome::XFail(one_line(&e.reason))
        }
        (Verdict::Refuted, None) => {
            diagnostics.push(format!(
                "finding: this kernel refutes the claim: {}",
                one_line(&claim.evidence)
            ));
            Outcome::Pass
        }
    };
    if let Some(cmp) = cmp {
        let matched = cmp
            .claims
            .iter()
            .find(|c| c.experiment == experiment && c.variant == claim.variant && c.id == claim.id);
        match matched {
            Some(c) if c.flipped() => {
                diagnostics.push(format!(
                    "regression: {} in the baseline, {} now: {}",
                    verdict_text(c.baseline),
                    verdict_text(c.now),
                    one_line(&claim.evidence)
                ));
                outcome = Outcome::Fail;
            }
            Some(_) => {}
            None => diagnostics.push("not judged in the baseline".into()),
        }
    }
    Test {
        name: claim_name(experiment, claim),
        outcome,
        diagnostics,
        subtests: Vec::new(),
    }
}

/// One `metrics` subtest per variant the comparison covered.
fn metric_tests(e: &ExperimentRecord, cmp: &Comparison) -> Vec<Test> {
    let mut tests = Vec::new();
    for v in &e.variants {
        if !cmp.compared_variant(&e.name, &v.name) {
            continue;
        }
        let rows: Vec<_> = cmp
            .metrics
            .iter()
            .filter(|m| m.experiment == e.name && m.variant == v.name)
            .collect();
        let mut diagnostics: Vec<String> = rows
            .iter()
            .filter(|m| m.change.is_beyond())
            .map(|m| {
                format!(
                    "regression: {} {} {}: {} in the baseline, {} now ({:+}, tolerance ±{})",
                    m.checkpoint,
                    m.process,
                    m.metric,
                    m.baseline,
                    m.now,
                    m.now - m.baseline,
                    m.tolerance
                )
            })
            .collect();
        let failed = !diagnostics.is_empty();
        diagnostics.push(format!(
            "{} metrics compared, {} beyond tolerance",
            rows.len(),
            rows.iter().filter(|m| m.change.is_beyond()).count()
        ));
        tests.push(Test {
            name: safe_name(&format!("{}.{}.metrics", e.name, v.name)),
            outcome: if failed { Outcome::Fail } else { Outcome::Pass },
            diagnostics,
            subtests: Vec::new(),
        });
    }
    tests
}

fn experiment_test(e: &ExperimentRecord, cmp: Option<&Comparison>) -> Test {
    let name = safe_name(&e.name);
    if e.status == Status::Skipped {
        return Test {
            name,
            outcome: Outcome::Skip(one_line(e.reason.as_deref().unwrap_or("no reason given"))),
            diagnostics: Vec::new(),
            subtests: Vec::new(),
        };
    }
    let mut subtests: Vec<Test> = e
        .claims
        .iter()
        .map(|c| claim_test(&e.name, c, cmp))
        .collect();
    if let Some(cmp) = cmp {
        subtests.extend(metric_tests(e, cmp));
    }
    make_unique(&mut subtests);
    let outcome = if e.status == Status::Failed {
        Outcome::Error(one_line(e.reason.as_deref().unwrap_or("failed")))
    } else if subtests.iter().any(Test::failed) {
        Outcome::Fail
    } else {
        Outcome::Pass
    };
    Test {
        name,
        outcome,
        diagnostics: Vec::new(),
        subtests,
    }
}

/// The tests of a run, one per experiment; with a comparison, regressions fail.
pub fn tests(run: &RunRecord, cmp: Option<&Comparison>) -> Vec<Test> {
    let mut tests: Vec<Test> = run
        .experiments
        .iter()
        .map(|e| experiment_test(e, cmp))
        .collect();
    make_unique(&mut tests);
    tests
}

fn write_level(out: &mut String, tests: &[Test], depth: usize) {
    let indent = "  ".repeat(depth);
    let _ = writeln!(out, "{indent}KTAP version 1");
    let _ = writeln!(out, "{indent}1..{}", tests.len());
    for (i, t) in tests.iter().enumerate() {
        if !t.subtests.is_empty() {
            write_level(out, &t.subtests, depth + 1);
        }
        for d in &t.diagnostics {
            let _ = writeln!(out, "{indent}# {}", one_line(d));
        }
        let n = i + 1;
        let line = match &t.outcome {
            Outcome::Pass => format!("ok {n} {}", t.name),
            Outcome::Fail => format!("not ok {n} {}", t.name),
            Outcome::Skip(why) => format!("ok {n} {} # SKIP {why}", t.name),
            Outcome::XFail(why) => format!("ok {n} {} # XFAIL {why}", t.name),
            Outcome::Error(why) => format!("not ok {n} {} # ERROR {why}", t.name),
        };
        let _ = writeln!(out, "{indent}{}", line.trim_end());
    }
}

/// Counts of claim results, for the closing diagnostic line.
fn totals(tests: &[Test]) -> String {
    let (mut pass, mut fail, mut skip, mut xfail) = (0, 0, 0, 0);
    for t in tests.iter().flat_map(|t| &t.subtests) {
        match t.outcome {
            Outcome::Pass => pass += 1,
            Outcome::Fail | Outcome::Error(_) => fail += 1,
            Outcome::Skip(_) => skip += 1,
            Outcome::XFail(_) => xfail += 1,
        }
    }
    format!("subtests: pass:{pass} fail:{fail} xfail:{xfail} skip:{skip}")
}

/// The run as KTAP, compared with a baseline if one is given.
pub fn render(run: &RunRecord, cmp: Option<&Comparison>) -> String {
    let tests = tests(run, cmp);
    let mut out = String::new();
    let env = &run.environment;
    let _ = writeln!(out, "KTAP version 1");
    let _ = writeln!(
        out,
        "# vmlab {} on {} ({}, page size {} bytes, THP {}){}",
        run.vmlab_version,
        one_line(&env.kernel),
        env.arch,
        env.page_size,
        env.thp_enabled,
        if run.quick { ", --quick sizes" } else { "" }
    );
    if let Some(cmp) = cmp {
        for e in &cmp.environment {
            let _ = writeln!(
                out,
                "# environment differs from the baseline: {}: {} then, {} now",
                e.field,
                one_line(&e.baseline),
                one_line(&e.now)
            );
        }
        for n in &cmp.not_compared {
            let _ = writeln!(out, "# not compared: {}", one_line(n));
        }
    }
    let mut body = String::new();
    write_level(&mut body, &tests, 0);
    // The top-level version line is already out, followed by the run's diagnostics.
    out.push_str(body.strip_prefix("KTAP version 1\n").unwrap_or(&body));
    let _ = writeln!(out, "# {}", totals(&tests));
    out
}

#[cfg(test)]
mod tests;
