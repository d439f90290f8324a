//! Aligned tables for a terminal.

use std::fmt::Write;

use super::delta::DeltaFilter;
use super::summary;
use super::table::{self, fit, Table};
/// The layout and drop orders live with the table model; named here too for
/// the callers that lay out tables for a terminal.
pub use super::table::{drop_order, layout};
use super::width::{wrap, wrap_hanging};
use super::TextLayout;
use crate::model::{RunRecord, Status};

/// Claims in detail: verdict and name, then the statement, criterion and
/// evidence wrapped to the width.
fn claims(out: &mut String, claims: &[crate::model::ClaimRecord], width: usize) {
    for c in claims {
        out.push_str(&wrap_hanging(
            &summary::claim_name(c),
            width,
            &format!("  {:<13} ", summary::verdict_cell(c)),
            "      ",
        ));
        out.push_str(&wrap(&c.statement, width, "      "));
        if !c.criterion.is_empty() {
            out.push_str(&wrap(
                &format!("criterion: {}", c.criterion),
                width,
                "      ",
            ));
        }
        if !c.measured.is_empty() {
            out.push_str(&wrap(&format!("measured: {}", c.measured), width, "      "));
        }
        out.push_str(&wrap(&format!("evidence: {}", c.evidence), width, "      "));
    }
}

/// A before/after table with files named by their base name (`libc.so.6`):
/// the terminal has no room for paths; results.md keeps them.
fn base_names(mut table: Table) -> Table {
    if let Some(column) = table.headers.iter().position(|h| h == "mapping") {
        for row in &mut table.rows {
            if let Some(cell) = row.get_mut(column) {
                if cell.starts_with('/') {
                    *cell = cell.rsplit('/').next().unwrap_or(cell).to_string();
                }
            }
        }
    }
    table
}

/// The whole run for a terminal: the summary alone, or with `view.detail` every
/// table first, each fitted to `view.width`; the tally is the last line either way.
pub fn render(run: &RunRecord, view: &TextLayout) -> String {
    // `-v` adds each claim's criterion to the summary.
    let criteria = crate::verbosity::verbose();
    if !view.detail {
        return summary::render(run, view.width, criteria);
    }
    let width = view.width;
    let fitted = |t: &Table, order: &[&str]| layout(&fit(t, width, order));
    let mut out = String::new();
    out.push_str(&fitted(&table::environment(&run.environment), &[]));
    for e in &run.experiments {
        out.push('\n');
        out.push_str(&wrap_hanging(
            &summary::experiment_line(e),
            width,
            "== ",
            "   ",
        ));
        for v in &e.variants {
            let heading = format!(
                "-- variant {}{}",
                v.name,
                match v.status {
                    Status::Ok => String::new(),
                    _ => format!(" ({:?}: {})", v.status, v.reason.as_deref().unwrap_or("")),
                }
            );
            out.push('\n');
            out.push_str(&wrap_hanging(&heading, width, "", "   "));
            if !v.checkpoints.is_empty() {
                out.push_str(&fitted(&table::checkpoints(v), drop_order::CHECKPOINTS));
                out.push_str(&wrap(&table::noise_line(v), width, "  "));
                let _ = writeln!(out, "\n  what each step changed:");
                let filter = DeltaFilter {
                    page_size: run.environment.page_size,
                    all: view.all_mappings,
                };
                let deltas = super::delta::variant_table(v, &filter);
                out.push_str(&fitted(&base_names(deltas), drop_order::DELTAS));
                for note in super::delta::variant_notes(v, &filter) {
                    out.push_str(&wrap(&note, width, "  "));
                }
            }
        }
        if super::binaries::applies(e) {
            out.push('\n');
            out.push_str(&wrap_hanging(
                "-- programs (file facts; memory summed over the last checkpoint's processes)",
                width,
                "",
                "   ",
            ));
            out.push_str(&fitted(&super::binaries::files(e), drop_order::PROGRAMS));
            let _ = writeln!(
                out,
                "\n-- resident pages by mapping kind, Rss (Size) in pages"
            );
            out.push_str(&fitted(
                &super::binaries::pages(e, run.environment.page_size),
                &[],
            ));
        }
        if !e.claims.is_empty() {
            let _ = writeln!(out, "\n-- claims");
            claims(&mut out, &e.claims, width);
        }
        for s in &e.summary {
            out.push('\n');
            out.push_str(&wrap_hanging(&format!("-- {}", s.title), width, "", "   "));
            out.push_str(&fitted(&table::summary(s), &[]));
        }
    }
    let _ = writeln!(out, "\n== summary\n");
    out.push_str(&summary::render(run, width, criteria));
    out
}
