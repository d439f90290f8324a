//! `harness explain NAME --answers`: the answers to an experiment's questions,
//! for the teacher. Where an answer involves a figure it is taken from the latest
//! run (results/latest/results.json), so the answer matches what the class saw;
//! without a run the answer says which command produces the figure.

mod texts;

use std::fmt::Write;
use std::path::Path;

use crate::experiment::Experiment;
use crate::explain::wrap;
use crate::model::{ExperimentRecord, MemoryFigures, ProcessRecord, RunRecord, VariantRecord};
use crate::units::human_bytes;

/// The latest run under `root`, if there is one that can be read.
pub fn latest_run(root: &Path) -> Option<RunRecord> {
    crate::store::baseline::load(&root.join("latest").join("results.json")).ok()
}

/// What an answer may quote: the experiment's record in the latest run.
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

/// One answer: the reasoning, and the latest run's figures when it has them.
type Answer = fn(&Facts<'_>) -> String;

/// The sentence an answer ends with: the run's figure, or how to get one.
fn figure(measured: Option<String>, name: &str) -> String {
    match measured {
        Some(text) => format!(" In the latest run: {text}."),
        None => format!(" (Run `harness run {name}` to put a measured figure here.)"),
    }
}

/// The answers of experiment `name`, one per question in order.
fn answers_of(name: &str) -> &'static [Answer] {
    match name {
        "mmap-file" => texts::MMAP_FILE,
        "fork-cow" => texts::FORK_COW,
        "tiny-malloc" => texts::TINY_MALLOC,
        "static-dynamic" => texts::STATIC_DYNAMIC,
        "strip" => texts::STRIP,
        "anatomy" => texts::ANATOMY,
        "lazy-alloc" => texts::LAZY_ALLOC,
        "shared-file" => texts::SHARED_FILE,
        "many-processes" => texts::MANY_PROCESSES,
        "fault-costs" => texts::FAULT_COSTS,
        _ => &[],
    }
}

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
            let _ = writeln!(
                out,
                "{}",
                crate::report::width::truncate(
                    &format!(
                        "Figures from the latest run ({}, Linux {}{}).\n",
                        run.started_at,
                        run.environment.kernel,
                        if run.quick { ", --quick sizes" } else { "" }
                    ),
                    width
                )
            );
        }
        _ => {
            let _ = writeln!(
                out,
                "No run of {name} in results/latest: the answers explain, the figures wait for a run.\n"
            );
        }
    }
    let answers = answers_of(name);
    for (i, q) in exp.explanation().questions.iter().enumerate() {
        out.push_str(&wrap(&format!("{}. {q}", i + 1), width, ""));
        let answer = answers.get(i).map_or_else(
            || "No answer is written for this question yet.".to_string(),
            |a| a(&facts),
        );
        out.push_str(&wrap(&answer, width, "   "));
        out.push('\n');
    }
    out
}

/// `X (N pages)`.
pub fn bytes_and_pages(facts: &Facts<'_>, bytes: u64) -> String {
    format!("{} ({} pages)", human_bytes(bytes), facts.pages(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_question_has_an_answer() {
        for e in crate::experiment::registry() {
            let name = e.info().name;
            assert_eq!(
                answers_of(name).len(),
                e.explanation().questions.len(),
                "{name}: answers and questions differ in number"
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
