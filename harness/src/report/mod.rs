//! Rendering a [`RunRecord`] for people and programs. One format per file; the
//! terminal and Markdown formats share one table model ([`table`]). The run
//! folder's file set is made by [`files`] (each file rendered once) and handed to
//! [`crate::store`] as bytes; comparisons are rendered by [`comparison`] and
//! [`costs`].

pub mod binaries;
pub mod comparison;
pub mod costs;
pub mod csv;
pub mod delta;
pub mod explanation;
pub mod files;
pub mod html;
pub mod junit;
pub mod ktap;
pub mod markdown;
pub mod plot;
pub mod statements;
pub mod summary;
pub mod table;
pub mod text;
pub mod width;

pub use files::{run_files, run_record};

use clap::ValueEnum;

use crate::model::RunRecord;

/// Output formats for stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Aligned tables for a terminal.
    Table,
    /// A Markdown report (the same as results.md).
    Markdown,
    /// The full record as JSON (the same as results.json).
    Json,
    /// The per-checkpoint table as CSV, bytes and counts (the same as checkpoints.csv).
    Csv,
    /// KTAP version 1 for kernel CI systems: one test per experiment, one subtest per claim.
    Tap,
    /// JUnit XML for CI dashboards (GitLab, Jenkins): one testsuite per experiment, one testcase per claim.
    Junit,
}

/// How much the terminal output shows, and how wide it may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextLayout {
    /// Every table and before/after view (`--detail`), not only the summary.
    pub detail: bool,
    /// The line width (see [`width::terminal_width`]).
    pub width: usize,
    /// Before/after views list every mapping that moved, shared libraries'
    /// Pss wobble included (`--all-mappings`).
    pub all_mappings: bool,
}

impl Default for TextLayout {
    /// The summary, 80 columns, the experiment's own mappings.
    fn default() -> TextLayout {
        TextLayout {
            detail: false,
            width: width::FLOOR,
            all_mappings: false,
        }
    }
}

/// Renders the whole run in `format` (the summary for the table format).
pub fn render(run: &RunRecord, format: Format) -> String {
    render_view(run, format, &TextLayout::default())
}

/// Renders the whole run in `format`, the table format as `view` says.
pub fn render_view(run: &RunRecord, format: Format, view: &TextLayout) -> String {
    match format {
        Format::Table => text::render(run, view),
        Format::Markdown => markdown::render(run, &plot::Charts::of(run)),
        Format::Json => crate::statements::json(run),
        Format::Csv => csv::checkpoints(run),
        Format::Tap => ktap::render(run, None),
        Format::Junit => junit::render(run, None),
    }
}

#[cfg(test)]
mod layering_tests {
    /// The `use super::` lines of a file's code before its tests.
    fn imports(source: &str) -> Vec<&str> {
        let code = source.split("#[cfg(test)]").next().unwrap_or(source);
        code.lines()
            .map(str::trim)
            .filter(|l| l.starts_with("use super::") || l.starts_with("pub use super::"))
            .collect()
    }

    // See: issue 28
    #[test]
    fn width_table_and_summary_import_one_way() {
        assert_eq!(imports(include_str!("width.rs")), Vec::<&str>::new());
        for line in imports(include_str!("table.rs")) {
            assert!(line.starts_with("use super::width"), "table imports {line}");
        }
        for line in imports(include_str!("summary.rs")) {
            assert!(
                ["table", "width", "statements"]
                    .iter()
                    .any(|m| line.contains(&format!("super::{m}"))),
                "summary imports {line}"
            );
        }
        for line in imports(include_str!("statements.rs")) {
            assert!(
                line.contains("super::table") || line.contains("super::width"),
                "statements imports {line}"
            );
        }
    }
}
