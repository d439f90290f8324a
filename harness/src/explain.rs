//! The teaching text: the step-mode captions, the glossary and the
//! explanation section of the Markdown report come from here and from each
//! experiment's [`Lesson`]; `harness explain NAME` lays the same text out
//! for the terminal in `report::explanation`.

use std::fmt::Write;

use crate::experiment::{Experiment, Facts, Lesson};

/// `"Title", Author` for a seed file name (the file name itself if unknown).
pub fn cite(file: &str) -> String {
    experiments::catalog::source(file).map_or_else(|| file.to_string(), |s| s.citation())
}

/// What each column of the tables means, for students.
pub const GLOSSARY: &[(&str, &str)] = &[
    ("VmSize", "the address space: every byte the process has mapped, used or not (ps calls it VSZ)"),
    ("VmRSS / Rss", "the resident set: pages of the process that are in RAM right now, shared or not"),
    ("Pss", "proportional set size: each resident page divided by the number of processes that map it, so the Pss of all processes adds up to the memory really used"),
    ("USS", "unique set size: the private pages, Private_Clean + Private_Dirty. When the process exits its anonymous private pages are freed; private clean file pages stay in the page cache"),
    ("Shared_Clean / Shared_Dirty", "resident pages that other processes map too, unmodified / modified (Shared_Dirty is the copy-on-write signal: after fork, pages both sides still share until one writes)"),
    ("Private_Clean / Private_Dirty", "resident pages only this process maps, unmodified / modified (a page copied on write is Private_Dirty)"),
    ("PTE", "VmPTE: the page tables, kernel memory the process costs that no per-mapping figure shows"),
    ("minor fault", "the process touched a page that was not mapped for it yet, and the kernel mapped it without waiting for I/O (page cache, zero page, or a copy it made)"),
    ("major fault", "a fault the kernel counted as having waited for I/O (or retried). Read-ahead can do the disk work ahead of the faults, so a cold file can be read under minor faults"),
];

/// The caption of a checkpoint: what has just happened there. A text written for
/// the variant (key `VARIANT/LABEL`) wins over the experiment's (key `LABEL`).
pub fn step_caption(explanation: &Lesson, variant: &str, label: &str) -> Option<&'static str> {
    let specific = format!("{variant}/{label}");
    let find = |key: &str| {
        explanation
            .steps
            .iter()
            .find(|(l, _)| *l == key)
            .map(|(_, text)| *text)
    };
    find(&specific).or_else(|| find(label))
}

/// The slide-sized program of experiment `name` (`harness explain NAME
/// --program`), or what to say when it has none: a demonstration made of many
/// processes or of several builds of one program does not fit a slide.
pub fn program(name: &str) -> Result<&'static experiments::examples::Example, String> {
    experiments::examples::find(name).ok_or_else(|| {
        let with: Vec<&str> = experiments::examples::EXAMPLES
            .iter()
            .map(|e| e.experiment)
            .collect();
        format!(
            "{name} has no slide-sized program; these have one: {}",
            with.join(", ")
        )
    })
}

/// The answer to question `i` of `exp`, for the teacher: the written answer,
/// then the figure `facts` give it (`"{run}: figure."`), or the command that
/// produces one when the run has none. Shared by `explain --answers` and
/// results.html.
pub fn answer(exp: &dyn Experiment, facts: &Facts<'_>, i: usize, run: &str) -> String {
    let name = exp.info().name;
    match exp.explanation().answers.get(i) {
        None => "No answer is written for this question yet.".to_string(),
        Some(prose) => match exp.answer_figures().get(i).copied().flatten() {
            Some(measured) => match measured(facts) {
                Some(text) => format!("{prose} {run}: {text}."),
                None => {
                    format!("{prose} (Run `harness run {name}` to put a measured figure here.)")
                }
            },
            None => prose.to_string(),
        },
    }
}

/// The explanation as Markdown, for the report.
pub fn render_markdown(exp: &dyn Experiment) -> String {
    let info = exp.info();
    let e = exp.explanation();
    let mut out = String::new();
    let sources: Vec<String> = info.sources.iter().map(|s| cite(s)).collect();
    let _ = writeln!(out, "*{}* (from {}).\n", info.summary, sources.join("; "));
    let _ = writeln!(out, "**What the seed claimed.** {}\n", e.seed_claims);
    let _ = writeln!(out, "**What the experiment does.**\n");
    for (label, text) in e.steps {
        let _ = writeln!(out, "1. `{label}`: {text}");
    }
    let _ = writeln!(
        out,
        "\n**What to expect on a current kernel.** {}\n",
        e.expectations
    );
    let _ = writeln!(out, "**Questions.**\n");
    for q in e.questions {
        let _ = writeln!(out, "- {q}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_variant_s_own_step_text_wins_over_the_experiment_s() {
        const E: Lesson = Lesson {
            seed_claims: "",
            steps: &[
                ("after-fill", "wrote every page"),
                ("file-private/after-fill", "read every page"),
            ],
            expectations: "",
            questions: &[],
            answers: &[],
        };
        assert_eq!(
            step_caption(&E, "thp-off", "after-fill"),
            Some("wrote every page")
        );
        assert_eq!(
            step_caption(&E, "file-private", "after-fill"),
            Some("read every page")
        );
        assert_eq!(step_caption(&E, "thp-off", "after-fork"), None);
    }

    #[test]
    fn every_catalog_seed_is_cited_by_title() {
        for e in experiments::CATALOG {
            for s in e.sources {
                assert!(cite(s).starts_with('"'), "{s} has no title");
            }
        }
    }
}
