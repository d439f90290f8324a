//! JUnit XML, the report format GitLab, Jenkins and most CI dashboards read.
//! There is no standard, only a common shape (Ant's `junitreport`, as Jenkins
//! and GitLab read it), which this follows:
//!
//! - `<testsuites>` holds one `<testsuite>` per experiment, named after it,
//!   with `tests`, `failures`, `errors`, `skipped`, the run's `timestamp` and
//!   `hostname`, `time` (the seconds its checkpoints' phases took), and
//!   `<properties>`: the environment the run measured (`environment.kernel`,
//!   ...), the harness version, and the experiment's parameters (`params.*`);
//! - one `<testcase>` per claim (`classname` the experiment, `name`
//!   `VARIANT.CLAIM` as in KTAP), and one for each leaf of the same tree
//!   [`crate::outcome`] builds for KTAP: a failed variant without claims, a
//!   metrics comparison with `--baseline`, and a skipped experiment (then its
//!   suite's only case);
//! - the outcome as a child: `<skipped message="why"/>`, `<failure>` (a
//!   regression, with the evidence), `<error>` (crashed, hung, broke the
//!   protocol, with the reason); a pass, an expected refutation (XFAIL) and an
//!   out-of-date declaration (XPASS) have none, as KTAP's `ok` lines, and say
//!   which in `<system-out>`, which also holds every claim's statement,
//!   criterion, measured figure and evidence.
//!
//! The outcomes are [`crate::outcome`]'s, so a `<failure>` or `<error>`
//! means what exit status 1 and KTAP's `not ok` mean.

use std::fmt::Write;

use crate::compare::Comparison;
use crate::model::{ClaimRecord, ExperimentRecord, RunRecord};
use crate::outcome::{self, Against, Case, Outcome, Totals};

/// The run as JUnit XML, compared with a baseline if one is given.
pub fn render(run: &RunRecord, cmp: Option<&Comparison>) -> String {
    let against = cmp.map_or(Against::Nothing, Against::Baseline);
    let cases = outcome::run_cases(run, against);
    let totals = Totals::of(&cases);
    let mut out = String::new();
    let _ = writeln!(out, r#"<?xml version="1.0" encoding="UTF-8"?>"#);
    let _ = writeln!(
        out,
        r#"<testsuites name="vmlab" tests="{}" failures="{}" errors="{}" skipped="{}">"#,
        leaves(&cases),
        totals.fail,
        totals.error,
        totals.skip
    );
    let run_properties = run_properties(run);
    for (id, (experiment, case)) in run.experiments.iter().zip(&cases).enumerate() {
        write_suite(&mut out, id, run, experiment, case, &run_properties);
    }
    let _ = writeln!(out, "</testsuites>");
    out
}

/// Leaves of the tree: the test cases.
fn leaves(cases: &[Case]) -> usize {
    cases
        .iter()
        .map(|c| {
            if c.cases.is_empty() {
                1
            } else {
                leaves(&c.cases)
            }
        })
        .sum()
}

/// `name=value` of the run and its environment, the same for every suite.
fn run_properties(run: &RunRecord) -> Vec<(String, String)> {
    let mut properties = vec![
        ("vmlab_version".to_string(), run.vmlab_version.clone()),
        ("format_version".to_string(), run.format_version.to_string()),
        ("started_at".to_string(), run.started_at.clone()),
        ("quick".to_string(), run.quick.to_string()),
    ];
    if let Ok(serde_json::Value::Object(env)) = serde_json::to_value(&run.environment) {
        for (key, value) in env {
            flatten(&format!("environment.{key}"), &value, &mut properties);
        }
    }
    properties
}

/// A JSON value as properties: scalars as they are, objects by key, arrays
/// by index; nulls are left out (absent, as in results.json's optional fields).
fn flatten(name: &str, value: &serde_json::Value, out: &mut Vec<(String, String)>) {
    match value {
        serde_json::Value::Null => {}
        serde_json::Value::String(s) => out.push((name.to_string(), s.clone())),
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                flatten(&format!("{name}.{k}"), v, out);
            }
        }
        serde_json::Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                flatten(&format!("{name}.{i}"), v, out);
            }
        }
        other => out.push((name.to_string(), other.to_string())),
    }
}

fn write_suite(
    out: &mut String,
    id: usize,
    run: &RunRecord,
    e: &ExperimentRecord,
    case: &Case,
    run_properties: &[(String, String)],
) {
    // A skipped experiment, or one that failed before any claim, is a leaf:
    // its suite holds that one case.
    let cases = if case.cases.is_empty() {
        std::slice::from_ref(case)
    } else {
        case.cases.as_slice()
    };
    let totals = Totals::of(cases);
    let millis: u64 = e
        .variants
        .iter()
        .flat_map(|v| &v.checkpoints)
        .map(|c| c.phase_millis)
        .sum();
    let _ = writeln!(
        out,
        r#"  <testsuite name="{}" id="{id}" package="vmlab" tests="{}" failures="{}" errors="{}" skipped="{}" timestamp="{}" hostname="{}" time="{:.3}">"#,
        attr(&e.name),
        cases.len(),
        totals.fail,
        totals.error,
        totals.skip,
        attr(timestamp(&run.started_at)),
        attr(&run.environment.hostname),
        millis as f64 / 1000.0
    );
    let _ = writeln!(out, "    <properties>");
    let mut properties = run_properties.to_vec();
    for (key, value) in &e.params {
        flatten(&format!("params.{key}"), value, &mut properties);
    }
    for (name, value) in &properties {
        let _ = writeln!(
            out,
            r#"      <property name="{}" value="{}"/>"#,
            attr(name),
            attr(value)
        );
    }
    let _ = writeln!(out, "    </properties>");
    for (i, c) in cases.iter().enumerate() {
        // The first cases of an experiment are its claims, in order
        // (outcome::experiment_case); later ones are failed variants and metrics.
        let claim = (!case.cases.is_empty()).then(|| e.claims.get(i)).flatten();
        write_case(out, &e.name, c, claim);
    }
    let _ = writeln!(out, "    <system-out/>");
    let _ = writeln!(out, "    <system-err/>");
    let _ = writeln!(out, "  </testsuite>");
}

fn write_case(out: &mut String, experiment: &str, case: &Case, claim: Option<&ClaimRecord>) {
    let _ = writeln!(
        out,
        r#"    <testcase name="{}" classname="{}" time="0">"#,
        attr(&case.name),
        attr(experiment)
    );
    let mut detail: Vec<String> = Vec::new();
    if let Some(claim) = claim {
        detail.push(format!("claim: {}", claim.statement));
        detail.push(format!("source: {}", claim.source));
        detail.push(format!("verdict: {}", claim.verdict));
        if !claim.criterion.is_empty() {
            detail.push(format!("criterion: {}", claim.criterion));
        }
        if !claim.measured.is_empty() {
            detail.push(format!("measured: {}", claim.measured));
        }
        detail.push(format!("evidence: {}", claim.evidence));
    }
    detail.extend(case.diagnostics.iter().cloned());
    let body = detail.join("\n");
    match case.outcome {
        Outcome::Skip => {
            let _ = writeln!(out, r#"      <skipped message="{}"/>"#, attr(&case.reason));
        }
        Outcome::Fail => {
            // The regression line says what changed; the others explain it.
            let message = case
                .diagnostics
                .iter()
                .rev()
                .find(|d| d.starts_with("regression"))
                .or(case.diagnostics.last())
                .map_or(case.reason.as_str(), String::as_str);
            let _ = writeln!(
                out,
                r#"      <failure message="{}" type="regression">{}</failure>"#,
                attr(message),
                text(&body)
            );
        }
        Outcome::Error => {
            let _ = writeln!(
                out,
                r#"      <error message="{}" type="experiment-failed">{}</error>"#,
                attr(&case.reason),
                text(&body)
            );
        }
        Outcome::Pass | Outcome::XFail | Outcome::XPass => {}
    }
    let mut system_out = Vec::new();
    match case.outcome {
        Outcome::XFail => system_out.push(format!("XFAIL (refuted as declared): {}", case.reason)),
        Outcome::XPass => system_out.push(format!(
            "XPASS (confirmed, although a refutation was declared): {}",
            case.reason
        )),
        _ => {}
    }
    // A failure or an error holds the detail already.
    if !body.is_empty() && !case.outcome.is_failure() {
        system_out.push(body);
    }
    if !system_out.is_empty() {
        let _ = writeln!(
            out,
            "      <system-out>{}</system-out>",
            text(&system_out.join("\n"))
        );
    }
    let _ = writeln!(out, "    </testcase>");
}

/// RFC 3339 in UTC as JUnit's timestamp, which has no zone (Ant writes local
/// time without one): the `Z` is dropped, the time stays UTC.
fn timestamp(rfc3339: &str) -> &str {
    rfc3339.strip_suffix('Z').unwrap_or(rfc3339)
}

/// Characters XML 1.0 allows at all (others, such as most control
/// characters, are replaced, since no escape makes them legal).
fn legal(c: char) -> char {
    match c {
        '\t' | '\n' | '\r' => c,
        c if c < ' ' || c == '\u{FFFE}' || c == '\u{FFFF}' => '\u{FFFD}',
        c => c,
    }
}

/// Text content, escaped.
fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars().map(legal) {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// An attribute value in double quotes, escaped; line breaks kept as
/// character references so that a parser does not fold them to spaces.
fn attr(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars().map(legal) {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' => out.push_str("&#9;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests;
