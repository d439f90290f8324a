//! What a student reads about an experiment, written in Markdown beside the
//! experiment's module (`explanation.md`, included at build time) and read here
//! into a [`Lesson`]. The file's sections, in order:
//!
//! ```text
//! # <experiment name>
//! ## What the writings claim      one or more paragraphs
//! ## Steps                        one `### <checkpoint>` (or `### <variant>/<checkpoint>`) each
//! ## What to expect               one or more paragraphs
//! ## Questions                    one `### <question>` each, its answer below it
//! ```
//!
//! Text keeps the file's line breaks; every renderer re-wraps it.

/// What a student reads about an experiment. Written for someone who knows C and
/// has heard of virtual memory; seeds are paraphrased and cited by title and author.
#[derive(Debug, Clone, Copy)]
pub struct Lesson {
    /// What the seed writings claimed, paraphrased, with title and author.
    pub seed_claims: &'static str,
    /// One entry per checkpoint label: what has just happened, in one or two
    /// sentences (shown in step mode when the experiment stops there).
    pub steps: &'static [(&'static str, &'static str)],
    /// What to expect on a current kernel, and why (fault-around, large folios,
    /// read-ahead, THP, COW at fork, ...).
    pub expectations: &'static str,
    /// Questions a student should be able to answer afterwards.
    pub questions: &'static [&'static str],
    /// The answer to each question, for the teacher (same order; empty where an
    /// experiment's answers are not written in its Markdown).
    pub answers: &'static [&'static str],
}

/// The sections, by their `##` heading.
const CLAIMS: &str = "What the writings claim";
const STEPS: &str = "Steps";
const EXPECT: &str = "What to expect";
const QUESTIONS: &str = "Questions";

impl Lesson {
    /// Reads an experiment's `explanation.md`. The text lives for the program
    /// (it is `include_str!`ed), and so do the lists made from it, built once.
    pub fn parse(markdown: &'static str) -> Result<Lesson, String> {
        Outline::read(markdown)?.explanation()
    }
}

/// The file cut at its headings: each `##` section's own text (up to its first
/// `###`), and each `###` item with its section and text.
struct Outline {
    sections: Vec<(&'static str, &'static str)>,
    items: Vec<(&'static str, &'static str, &'static str)>,
}

impl Outline {
    fn read(markdown: &'static str) -> Result<Outline, String> {
        let mut outline = Outline {
            sections: Vec::new(),
            items: Vec::new(),
        };
        // The open section: its name, where its text starts, and where that text
        // ends (at its first `###`, if it has items).
        let mut section: Option<(&'static str, usize, Option<usize>)> = None;
        // The open item: its section, its title, where its text starts.
        let mut item: Option<(&'static str, &'static str, usize)> = None;
        let mut offset = 0;
        for line in markdown.split_inclusive('\n').chain(std::iter::once("## ")) {
            let start = offset;
            offset += line.len();
            let start = start.min(markdown.len());
            let end_of_text = offset.min(markdown.len());
            let text = line.trim_end();
            if let Some(title) = text.strip_prefix("### ").map(str::trim) {
                let Some((name, _, first_item)) = section.as_mut() else {
                    return Err(format!("`### {title}` comes before any `##` section"));
                };
                if let Some((s, t, from)) = item.take() {
                    outline.items.push((s, t, markdown[from..start].trim()));
                }
                first_item.get_or_insert(start);
                item = Some((*name, title, end_of_text));
            } else if let Some(title) = text.strip_prefix("## ").or((text == "##").then_some("")) {
                let title = title.trim();
                if let Some((s, t, from)) = item.take() {
                    outline.items.push((s, t, markdown[from..start].trim()));
                }
                if let Some((name, from, first_item)) = section.take() {
                    let text = markdown[from..first_item.unwrap_or(start)].trim();
                    outline.sections.push((name, text));
                }
                if offset > markdown.len() {
                    break; // the sentinel that closes the last section
                }
                if ![CLAIMS, STEPS, EXPECT, QUESTIONS].contains(&title) {
                    return Err(format!("unknown section `## {title}`"));
                }
                section = Some((title, end_of_text, None));
            }
        }
        Ok(outline)
    }

    /// The text of section `name`, which must have some.
    fn paragraph(&self, name: &str) -> Result<&'static str, String> {
        self.sections
            .iter()
            .find(|(s, _)| *s == name)
            .map(|(_, text)| *text)
            .filter(|text| !text.is_empty())
            .ok_or_else(|| format!("no text under `## {name}`"))
    }

    /// The items of section `name`: (title, text).
    fn listed(&self, name: &str) -> Vec<(&'static str, &'static str)> {
        self.items
            .iter()
            .filter(|(s, ..)| *s == name)
            .map(|(_, title, body)| (*title, *body))
            .collect()
    }

    /// Checks that every section has what it needs, and builds the explanation.
    fn explanation(self) -> Result<Lesson, String> {
        let steps = self.listed(STEPS);
        let questions = self.listed(QUESTIONS);
        if steps.is_empty() {
            return Err(format!("no `###` step under `## {STEPS}`"));
        }
        if let Some((label, _)) = steps.iter().find(|(_, text)| text.is_empty()) {
            return Err(format!("step `{label}` has no text"));
        }
        if questions.is_empty() {
            return Err(format!("no `###` question under `## {QUESTIONS}`"));
        }
        let answered = questions.iter().filter(|(_, a)| !a.is_empty()).count();
        if answered != 0 && answered != questions.len() {
            return Err("either every question has its answer below it, or none".into());
        }
        Ok(Lesson {
            seed_claims: self.paragraph(CLAIMS)?,
            steps: Vec::leak(steps),
            expectations: self.paragraph(EXPECT)?,
            questions: Vec::leak(questions.iter().map(|(q, _)| *q).collect()),
            answers: if answered == 0 {
                &[]
            } else {
                Vec::leak(questions.iter().map(|(_, a)| *a).collect())
            },
        })
    }
}

/// An experiment's `explanation.md`, read once: `explanation!()` in the module
/// that sits beside it.
#[macro_export]
macro_rules! explanation {
    () => {{
        static TEXT: std::sync::OnceLock<$crate::experiment::Lesson> = std::sync::OnceLock::new();
        TEXT.get_or_init(|| {
            $crate::experiment::Lesson::parse(include_str!("explanation.md"))
                .unwrap_or_else(|e| panic!("{}/explanation.md: {e}", module_path!()))
        })
    }};
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "# demo

## What the writings claim

A writing says
two things.

## Steps

### before

Nothing yet.

### warm/after

A page was read.

## What to expect

One page, or sixteen.

## Questions

### Why sixteen?

Fault-around.

### And with a cold file?

Read-ahead.
";

    #[test]
    fn every_section_and_item_is_read() {
        let e = Lesson::parse(GOOD).unwrap();
        assert_eq!(e.seed_claims, "A writing says\ntwo things.");
        assert_eq!(
            e.steps,
            &[
                ("before", "Nothing yet."),
                ("warm/after", "A page was read.")
            ]
        );
        assert_eq!(e.expectations, "One page, or sixteen.");
        assert_eq!(e.questions, &["Why sixteen?", "And with a cold file?"]);
        assert_eq!(e.answers, &["Fault-around.", "Read-ahead."]);
    }

    #[test]
    fn questions_without_answers_are_allowed_but_not_half_answered() {
        let none = GOOD.replace("Fault-around.", "").replace("Read-ahead.", "");
        let e = Lesson::parse(Box::leak(none.into_boxed_str())).unwrap();
        assert!(e.answers.is_empty());
        let half = GOOD.replace("Read-ahead.", "");
        let err = Lesson::parse(Box::leak(half.into_boxed_str())).unwrap_err();
        assert!(err.contains("every question"), "{err}");
    }

    #[test]
    fn a_missing_or_unknown_section_is_named() {
        let missing = GOOD.replace("## What to expect\n\nOne page, or sixteen.\n", "");
        let err = Lesson::parse(Box::leak(missing.into_boxed_str())).unwrap_err();
        assert!(err.contains("What to expect"), "{err}");
        let unknown = GOOD.replace("## Steps", "## Stages");
        let err = Lesson::parse(Box::leak(unknown.into_boxed_str())).unwrap_err();
        assert!(err.contains("Stages"), "{err}");
    }
}
