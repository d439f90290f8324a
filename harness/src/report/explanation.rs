//! `harness explain NAME` for the terminal: the experiment's explanation
//! (from [`crate::explain`] and the experiment) wrapped to the terminal's width.

use std::fmt::Write;

use super::width::wrap;
use crate::experiment::Experiment;
use crate::explain::{cite, GLOSSARY};

/// The full explanation of an experiment as plain text (`harness explain
/// NAME`), wrapped to `width`.
pub fn text(exp: &dyn Experiment, width: usize) -> String {
    let info = exp.info();
    let e = exp.explanation();
    let mut out = String::new();
    out.push_str(&wrap(
        &format!("{}: {}", info.name, info.summary),
        width,
        "",
    ));
    out.push('\n');
    let sources: Vec<String> = info.sources.iter().map(|s| cite(s)).collect();
    out.push_str(&wrap(&format!("From {}.", sources.join("; ")), width, ""));
    out.push('\n');
    let _ = writeln!(out, "WHAT THE SEED CLAIMED");
    out.push_str(&wrap(e.seed_claims, width, "  "));
    let _ = writeln!(out, "\nWHAT THE EXPERIMENT DOES (one checkpoint per step)");
    let mut number = 0;
    for (label, text) in e.steps {
        // `VARIANT/LABEL` is that variant's own text for the step.
        match label.split_once('/') {
            Some((variant, step)) => {
                out.push_str(&wrap(
                    &format!("({variant}, {step}) {text}"),
                    width,
                    "     ",
                ));
            }
            None => {
                number += 1;
                let _ = writeln!(out, "  {number}. {label}");
                out.push_str(&wrap(text, width, "     "));
            }
        }
    }
    if !exp.claims().is_empty() {
        let _ = writeln!(
            out,
            "\nTHE CLAIMS AND HOW EACH IS JUDGED (criteria fixed before measuring)"
        );
        for c in exp.claims() {
            out.push_str(&wrap(c.id, width, "  "));
            out.push_str(&wrap(c.statement, width, "     "));
            if !c.criterion.is_empty() {
                out.push_str(&wrap(
                    &format!("criterion: {}", c.criterion),
                    width,
                    "     ",
                ));
            }
            out.push_str(&wrap(&format!("from {}", cite(c.source)), width, "     "));
        }
    }
    let _ = writeln!(out, "\nWHAT THE COLUMNS MEAN");
    for (column, meaning) in GLOSSARY {
        let _ = writeln!(out, "  {column}");
        out.push_str(&wrap(meaning, width, "     "));
    }
    let _ = writeln!(out, "\nWHAT TO EXPECT ON A CURRENT KERNEL");
    out.push_str(&wrap(e.expectations, width, "  "));
    let _ = writeln!(out, "\nQUESTIONS TO ANSWER AFTERWARDS");
    for (i, q) in e.questions.iter().enumerate() {
        out.push_str(&wrap(&format!("{}. {q}", i + 1), width, "  "));
    }
    if let Some(example) = experiments::examples::find(info.name) {
        let _ = writeln!(out, "\nTHE PROGRAM FOR A SLIDE");
        out.push_str(&wrap(
            &format!(
                "`harness explain {} --program > {}` writes the demonstration as {} lines of C; \
                 `harness trace -- ./PROGRAM` measures it at the experiment's checkpoints, in order.",
                info.name,
                example.file,
                example.source.lines().count()
            ),
            width,
            "  ",
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_explanation_fits_80_columns() {
        for exp in crate::experiment::registry() {
            let out = text(exp, 80);
            for line in out.lines() {
                assert!(line.chars().count() <= 80, "{}: {line:?}", exp.info().name);
            }
        }
    }
}
