//! Rendering a [`RunRecord`] for people and programs. One format per file; the
//! terminal and Markdown formats share one table model ([`table`]).

pub mod binaries;
pub mod csv;
pub mod delta;
pub mod json;
pub mod ktap;
pub mod markdown;
pub mod plot;
pub mod table;
pub mod text;

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
}

/// Renders the whole run in `format`.
pub fn render(run: &RunRecord, format: Format) -> String {
    match format {
        Format::Table => text::render(run),
        Format::Markdown => markdown::render(run),
        Format::Json => json::render(run),
        Format::Csv => csv::checkpoints(run),
        Format::Tap => ktap::render(run, None),
    }
}
