//! KTAP version 1, the format of the kernel's tests that KernelCI, LKFT and
//! LAVA parse (Documentation/dev-tools/ktap.rst in the kernel tree). This is the
//! one KTAP writer: `run`, `all`, `compare --format tap` and `matrix --ktap` all
//! print [`crate::outcome::Case`] trees through [`write()`], so that a `not ok`
//! line means what exit status 1 means ([`crate::outcome`] decides both).
//!
//! The layout, as ktap.rst and the kernel's own parser
//! (tools/testing/kunit/kunit_parser.py) read it:
//! - the version line, then the plan (`1..N`, the number of cases built, never a
//!   count kept by hand), then diagnostics about the run;
//! - each parent's block indented two spaces: `KTAP version 1`,
//!   `# Subtest: NAME`, its plan, its cases, and after the block, at the
//!   parent's level, the parent's result line named `NAME` (kunit_parser.py ends
//!   a block at the result line whose name matches the `# Subtest:` line);
//! - result lines `ok N name`, `ok N name # SKIP why`, `ok N name # XFAIL why`,
//!   `ok N name # XPASS why`, `not ok N name` (a regression) and
//!   `not ok N name # ERROR why`, each after its diagnostic lines; names are
//!   unique among siblings, `[A-Za-z0-9._-]` only, and never repeat the parent's;
//! - last, kselftest's `# Totals: pass:N fail:N xfail:N xpass:N skip:N error:N`
//!   over every leaf (a skipped experiment is a leaf, and so is a failed one
//!   without claims).

use std::fmt::Write;

use crate::compare::Comparison;
use crate::model::RunRecord;
use crate::outcome::{self, one_line, Against, Case, Outcome, Totals};

/// The result line of one case, without its number's indentation. An error
/// whose reason is a hang is ktap.rst's `# TIMEOUT`.
fn result_line(number: usize, case: &Case) -> String {
    let directive = match case.outcome {
        Outcome::Pass | Outcome::Fail => None,
        Outcome::Skip => Some("SKIP"),
        Outcome::XFail => Some("XFAIL"),
        Outcome::XPass => Some("XPASS"),
        Outcome::Error if is_timeout(case) => Some("TIMEOUT"),
        Outcome::Error => Some("ERROR"),
    };
    let ok = if case.outcome.is_failure() {
        "not ok"
    } else {
        "ok"
    };
    let line = match directive {
        Some(d) => format!("{ok} {number} {} # {d} {}", case.name, ascii(&case.reason)),
        None => format!("{ok} {number} {}", case.name),
    };
    line.trim_end().to_string()
}

/// Whether the case failed because its experiment hung.
fn is_timeout(case: &Case) -> bool {
    case.outcome == Outcome::Error && case.reason.contains(outcome::TIMED_OUT)
}

/// KTAP is ASCII (ktap.rst): the few symbols the reasons use are spelled out,
/// and anything else is written as `\u{XXXX}`.
pub fn ascii(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            c if c.is_ascii() => out.push(c),
            '\u{2192}' => out.push_str("->"),
            '\u{00b1}' => out.push_str("+/-"),
            '\u{2026}' => out.push_str("..."),
            '\u{00d7}' => out.push('x'),
            '\u{2264}' => out.push_str("<="),
            '\u{2265}' => out.push_str(">="),
            '\u{2212}' | '\u{2013}' | '\u{2014}' => out.push('-'),
            '\u{00a0}' | '\u{202f}' => out.push(' '),
            '\u{2018}' | '\u{2019}' => out.push('\''),
            '\u{201c}' | '\u{201d}' => out.push('"'),
            '\u{03a3}' => out.push_str("sum "),
            '\u{00b5}' | '\u{03bc}' => out.push('u'),
            other => out.push_str(&format!("\\u{{{:04x}}}", other as u32)),
        }
    }
    out
}

fn write_cases(out: &mut String, cases: &[Case], depth: usize) {
    let indent = "  ".repeat(depth);
    for (i, case) in cases.iter().enumerate() {
        if !case.cases.is_empty() {
            let inner = "  ".repeat(depth + 1);
            let _ = writeln!(out, "{inner}KTAP version 1");
            let _ = writeln!(out, "{inner}# Subtest: {}", case.name);
            let _ = writeln!(out, "{inner}1..{}", case.cases.len());
            write_cases(out, &case.cases, depth + 1);
        }
        for d in &case.diagnostics {
            let _ = writeln!(out, "{indent}# {}", ascii(&one_line(d)));
        }
        // kunit_parser keeps a failed test's diagnostics as its log, and
        // prints them; the directive on the result line it drops.
        if is_timeout(case) {
            let _ = writeln!(out, "{indent}# TIMEOUT {}", ascii(&case.reason));
        }
        let _ = writeln!(out, "{indent}{}", result_line(i + 1, case));
    }
}

/// A KTAP document of `cases`, with `diagnostics` about the whole run after
/// the plan and kselftest's Totals line at the end.
pub fn write(cases: &[Case], diagnostics: &[String]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "KTAP version 1");
    let _ = writeln!(out, "1..{}", cases.len());
    for d in diagnostics {
        let _ = writeln!(out, "# {}", ascii(&one_line(d)));
    }
    write_cases(&mut out, cases, 0);
    let _ = writeln!(out, "# {}", Totals::of(cases));
    out
}

/// The run as KTAP, compared with a baseline if one is given.
pub fn render(run: &RunRecord, cmp: Option<&Comparison>) -> String {
    let against = cmp.map_or(Against::Nothing, Against::Baseline);
    let cases = outcome::run_cases(run, against);
    let env = &run.environment;
    let mut diagnostics = vec![format!(
        "vmlab {} on {} ({}, page size {} bytes, THP {}){}",
        run.vmlab_version,
        env.kernel,
        env.arch,
        env.page_size,
        env.thp_enabled,
        if run.quick { ", --quick sizes" } else { "" }
    )];
    // What reproduces the run (results.json keeps the same fields).
    let p = &run.provenance;
    if !p.vmlab_version.is_empty() {
        diagnostics.push(format!(
            "vmlab {} git {}; command: {}",
            p.vmlab_version, p.vmlab_git_commit, p.command_line
        ));
        diagnostics.push(format!(
            "kernel: compiler {}; config {}; cmdline {}",
            p.kernel_compiler, p.kernel_config, p.kernel_cmdline
        ));
        diagnostics.push(format!(
            "memory settings: swappiness {}, zswap {}, MGLRU {}, KSM run {}, NUMA nodes {}",
            p.swappiness, p.zswap, p.mglru, p.ksm, p.numa_nodes
        ));
    }
    if run.gate.strict {
        diagnostics.push(
            "--strict: a refutation not declared in advance, or a precondition the kernel left unmet, fails"
                .into(),
        );
    }
    let statements = crate::statements::Tally::of_run(run);
    if !statements.writings.is_empty() {
        diagnostics.push(statements.line());
    }
    if let Some(r) = &run.repeats {
        diagnostics.push(format!(
            "every variant ran {} times; {} claims judged differently by different runs are skipped as unstable",
            r.count,
            r.unstable.len()
        ));
    }
    if let Some(cmp) = cmp {
        for e in &cmp.environment {
            diagnostics.push(format!(
                "environment differs from the baseline: {}: {} then, {} now",
                e.field, e.baseline, e.now
            ));
        }
        for n in &cmp.not_compared {
            diagnostics.push(format!("not compared: {n}"));
        }
    }
    let verdict = outcome::RunVerdict::of(run, &cases);
    let verdict = match cmp {
        Some(cmp) => verdict.compared(cmp),
        None => verdict,
    };
    match verdict {
        outcome::RunVerdict::Skip(reasons) => diagnostics.push(format!(
            "every experiment was skipped, whole or variant by variant: {}",
            reasons.join("; ")
        )),
        outcome::RunVerdict::NothingCompared(_) => diagnostics.push(
            "nothing was compared with the baseline: no metric was measured in both runs (exit 4)"
                .into(),
        ),
        _ => {}
    }
    write(&cases, &diagnostics)
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod gate_tests;
