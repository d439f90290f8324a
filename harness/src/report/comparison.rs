//! A [`Comparison`] as tables: environment differences first (they explain most
//! changes), then claims whose verdict changed, then metrics that changed
//! (beyond tolerance first), then what could not be compared. Metrics with the
//! same value are counted, not listed.

use std::fmt::Write;

use super::table::{verdict_word, Table};
use crate::compare::{Change, Comparison, MetricComparison, VerdictChange};

/// The word a metric outcome is shown as; what is beyond tolerance stands out
/// in capitals, with its direction and what it means (see [`crate::compare`]'s
/// policy).
pub fn change_word(m: &MetricComparison) -> &'static str {
    match (m.change, m.is_regression()) {
        (Change::Unchanged, _) => "unchanged",
        (Change::WithinTolerance, _) => "within tolerance",
        (Change::Increased, true) => "BEYOND TOLERANCE: regression (increased)",
        (Change::Increased, false) => "BEYOND TOLERANCE: change (increased)",
        (Change::Decreased, true) => "BEYOND TOLERANCE: regression (decreased)",
        (Change::Decreased, false) => "BEYOND TOLERANCE: change (decreased)",
    }
}

/// What a changed verdict means.
fn verdict_change_word(change: VerdictChange) -> &'static str {
    match change {
        VerdictChange::Same => "same",
        VerdictChange::Flipped => "REGRESSION",
        VerdictChange::Judgement => "change (not judged on one side)",
    }
}

/// The sections of a comparison as tables, with their titles.
pub fn sections(cmp: &Comparison) -> Vec<(String, Table)> {
    let mut out = Vec::new();
    out.extend(environment_section(cmp));
    out.extend(flipped_section(cmp));
    out.extend(metrics_section(cmp));
    out.extend(super::costs::section(&cmp.costs));
    out
}

/// The environment's differences, if any.
fn environment_section(cmp: &Comparison) -> Option<(String, Table)> {
    if cmp.environment.is_empty() {
        return None;
    }
    let mut t = table(&[("environment", false), ("baseline", false), ("now", false)]);
    for e in &cmp.environment {
        t.rows
            .push(vec![e.field.clone(), e.baseline.clone(), e.now.clone()]);
    }
    Some((
        "Environment differences (they explain most changes)".to_string(),
        t,
    ))
}

/// The claims whose verdict changed, if any.
fn flipped_section(cmp: &Comparison) -> Option<(String, Table)> {
    let flipped: Vec<_> = cmp.flipped_claims().collect();
    if flipped.is_empty() {
        return None;
    }
    let mut t = table(&[
        ("experiment", false),
        ("variant", false),
        ("claim", false),
        ("baseline", false),
        ("now", false),
        ("meaning", false),
    ]);
    for c in flipped {
        t.rows.push(vec![
            c.experiment.clone(),
            c.variant.clone().unwrap_or_default(),
            c.id.clone(),
            verdict_word(c.baseline).to_string(),
            verdict_word(c.now).to_string(),
            verdict_change_word(c.change()).to_string(),
        ]);
    }
    Some(("Claims whose verdict changed".to_string(), t))
}

/// The metrics that changed, beyond tolerance first, otherwise in run
/// order; if any.
fn metrics_section(cmp: &Comparison) -> Option<(String, Table)> {
    let mut changed: Vec<_> = cmp
        .metrics
        .iter()
        .filter(|m| m.change != Change::Unchanged)
        .collect();
    changed.sort_by_key(|m| !m.change.is_beyond());
    if changed.is_empty() {
        return None;
    }
    let mut t = table(&[
        ("experiment", false),
        ("variant", false),
        ("checkpoint", false),
        ("process", false),
        ("metric", false),
        ("baseline", true),
        ("now", true),
        ("change", true),
        ("tolerance", true),
        ("", false),
    ]);
    for m in changed {
        let diff = m.now.saturating_sub(m.baseline);
        let percent = if m.baseline != 0 {
            format!(
                " ({:+.2}%)",
                diff as f64 * 100.0 / m.baseline.unsigned_abs() as f64
            )
        } else {
            String::new()
        };
        t.rows.push(vec![
            m.experiment.clone(),
            m.variant.clone(),
            m.checkpoint.clone(),
            m.process.clone(),
            m.metric.clone(),
            m.baseline_text(),
            m.now.to_string(),
            format!("{diff:+}{percent}"),
            format!("±{}", m.tolerance),
            change_word(m).to_string(),
        ]);
    }
    Some(("Metrics that changed".to_string(), t))
}

fn table(headers: &[(&str, bool)]) -> Table {
    Table {
        headers: headers.iter().map(|(h, _)| h.to_string()).collect(),
        numeric: headers.iter().map(|(_, n)| *n).collect(),
        rows: Vec::new(),
    }
}

/// The one-line verdict of a comparison.
pub fn summary(cmp: &Comparison) -> String {
    let flipped = cmp.flipped_claims().count();
    let beyond = cmp.beyond_tolerance().count();
    let increased = cmp.metrics.iter().filter(|m| m.is_regression()).count();
    let within = cmp
        .metrics
        .iter()
        .filter(|m| m.change == Change::WithinTolerance)
        .count();
    let same = cmp
        .metrics
        .iter()
        .filter(|m| m.change == Change::Unchanged)
        .count();
    format!(
        "{}: {flipped} of {} claims changed verdict; of {} metrics, {beyond} beyond tolerance ({increased} the worse way: regressions; {} the other way: changes), {within} within tolerance, {same} unchanged; {} things not compared",
        if cmp.regressed() {
            "REGRESSION"
        } else if flipped > 0 || beyond > 0 {
            "no regression, but changes"
        } else {
            "no change beyond tolerance"
        },
        cmp.claims.len(),
        cmp.metrics.len(),
        beyond - increased,
        cmp.not_compared.len()
    )
}

/// Headings of the two layouts.
struct Style<'a> {
    title: &'static str,
    section: &'static str,
    layout: &'a dyn Fn(&Table) -> String,
}

fn render_with(cmp: &Comparison, baseline: &str, style: Style<'_>) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}Comparison with {baseline}\n", style.title);
    let _ = writeln!(
        out,
        "tolerances: {}\n",
        cmp.tolerances.describe(cmp.page_size)
    );
    let spread = if cmp.baseline_runs > 1 {
        format!(
            "the spread (min..max) of the baseline's {} runs",
            cmp.baseline_runs
        )
    } else {
        "the baseline's value (one run: no spread recorded)".to_string()
    };
    let _ = writeln!(
        out,
        "policy: a metric counts as changed only outside {spread} widened by its tolerance; \
         beyond it a move the way that is worse for the metric is a regression (exit 1: an \
         increase, or a decrease of memory in huge pages) and the other way a change (reported); \
         a claim that went from confirmed to refuted or back is a regression, one that was \
         inconclusive on either side a change\n"
    );
    for (title, t) in sections(cmp) {
        let _ = writeln!(out, "{}{title}\n", style.section);
        out.push_str(&(style.layout)(&t));
        out.push('\n');
    }
    if !cmp.not_compared.is_empty() {
        let _ = writeln!(out, "{}Not compared\n", style.section);
        for n in &cmp.not_compared {
            let _ = writeln!(out, "- {n}");
        }
        out.push('\n');
    }
    let _ = writeln!(out, "{}", summary(cmp));
    out
}

/// For a terminal, at its width (80 in a pipe): prose wrapped, tables fitted
/// with nothing cut (see [`super::table::layout_fitted`]).
pub fn text(cmp: &Comparison, baseline: &str) -> String {
    let width = super::width::terminal_width();
    let text = render_with(
        cmp,
        baseline,
        Style {
            title: "",
            section: "== ",
            layout: &|t| super::table::layout_fitted(t, width),
        },
    );
    super::width::fit_lines(&text, width)
}

/// As Markdown.
pub fn markdown(cmp: &Comparison, baseline: &str) -> String {
    render_with(
        cmp,
        baseline,
        Style {
            title: "## ",
            section: "### ",
            layout: &super::markdown::layout,
        },
    )
}
