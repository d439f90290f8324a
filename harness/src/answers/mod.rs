//! `harness explain NAME --answers`: the answers to an experiment's questions,
//! for the teacher. Where an answer involves a figure it is taken from the latest
//! run (results/latest/results.json), so the answer matches what the class saw;
//! without a run the answer says which command produces the figure.

use std::fmt::Write;
use std::path::Path;

use crate::experiment::Experiment;
use crate::model::RunRecord;
use crate::report::width::wrap;

/// The latest run under `root`, if there is one that can be read.
pub fn latest_run(root: &Path) -> Option<RunRecord> {
    crate::store::baseline::load(&root.join("latest").join("results.json")).ok()
}

pub use crate::experiment::Facts;

/// The questions with their answers, as plain text.
pub fn render(exp: &dyn Experiment, run: Option<&RunRecord>) -> String {
    let name = exp.info().name;
    let facts = Facts {
        record: run.and_then(|r| r.experiments.iter().find(|e| e.name == name)),
        page_size: run.map_or(4096, |r| r.environment.page_size),
    };
    let width = crate::report::width::terminal_width();
    let mut out = String::new();
    let _ = writeln!(out, "{name}: answers to the questions, for the teacher\n");
    match (run, facts.record) {
        (Some(run), Some(_)) => {
            out.push_str(&wrap(
                &format!(
                    "Figures from the latest run ({}, Linux {}{}).",
                    run.started_at,
                    run.environment.kernel,
                    if run.quick { ", --quick sizes" } else { "" }
                ),
                width,
                "",
            ));
            out.push('\n');
        }
        _ => {
            out.push_str(&wrap(
                &format!(
                    "No run of {name} in results/latest: the answers explain, the figures wait for a run."
                ),
                width,
                "",
            ));
            out.push('\n');
        }
    }
    let explanation = exp.explanation();
    for (i, q) in explanation.questions.iter().enumerate() {
        out.push_str(&wrap(&format!("{}. {q}", i + 1), width, ""));
        let answer = crate::explain::answer(exp, &facts, i, "In the latest run");
        out.push_str(&wrap(&answer, width, "   "));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_question_has_an_answer() {
        for e in crate::experiment::registry() {
            let name = e.info().name;
            let questions = e.explanation().questions.len();
            assert_eq!(
                e.explanation().answers.len(),
                questions,
                "{name}: every question has its answer in explanation.md"
            );
            // An experiment whose answers quote no figure keeps the default
            // (no slots); one that quotes any has a slot for every answer.
            let slots = e.answer_figures().len();
            assert!(
                slots == 0 || slots == questions,
                "{name}: {slots} figure slots for {questions} answers; one per answer, in order, or none"
            );
        }
    }

    #[test]
    fn without_a_run_the_answers_say_how_to_get_the_figures() {
        let exp = crate::experiment::find("mmap-file").unwrap();
        let text = render(exp, None);
        assert!(text.contains("harness run mmap-file"), "{text}");
        assert!(!text.contains("No answer is written"), "{text}");
    }
}
