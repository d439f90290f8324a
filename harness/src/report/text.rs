//! Aligned tables for a terminal.

use std::fmt::Write;

use super::delta::DeltaFilter;
use super::summary;
use super::table::{self, Table};
use super::width::{fit, truncate};
use super::View;
use crate::explain::wrap;
use crate::model::{RunRecord, Status};

/// Lays a table out with padded columns.
pub fn layout(table: &Table) -> String {
    let widths: Vec<usize> = (0..table.headers.len())
        .map(|i| {
            table
                .rows
                .iter()
                .map(|r| r[i].chars().count())
                .chain([table.headers[i].chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    let line = |cells: &[String], out: &mut String| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .zip(&table.numeric)
            .map(|((c, w), numeric)| {
                if *numeric {
                    format!("{c:>w$}")
                } else {
                    format!("{c:<w$}")
                }
            })
            .collect();
        let _ = writeln!(out, "  {}", padded.join("  ").trim_end());
    };
    if table.headers.iter().any(|h| !h.is_empty()) {
        line(&table.headers, &mut out);
        let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
        line(&rule, &mut out);
    }
    for row in &table.rows {
        line(row, &mut out);
    }
    out
}

/// Which columns each view gives up first when the terminal is narrow (see
/// [`width`](super::width)); results.md keeps them all.
pub mod drop_order {
    /// The per-checkpoint table: region sizes rarely move, PTE and USS are in
    /// results.md; the region's Rss and the faults stay longest.
    pub const CHECKPOINTS: &[&str] = &["* Size", "PTE", "USS", "* Pss", "* Priv_Dirty", "Pss"];
    /// The before/after table: permissions, then Size (mostly 0), then Pss.
    pub const DELTAS: &[&str] = &["perms", "Size", "Shared_Dirty", "Pss"];
    /// The programs table.
    pub const PROGRAMS: &[&str] = &[
        "PT_LOAD",
        "bss",
        "data",
        "text",
        "VmStk",
        "PTE",
        "checkpoint",
        "procs",
        "stripped",
    ];
}

/// Claims in detail: verdict and name, then the statement, criterion and
/// evidence wrapped to the width.
fn claims(out: &mut String, claims: &[crate::model::ClaimRecord], width: usize) {
    for c in claims {
        let _ = writeln!(
            out,
            "{}",
            truncate(
                &format!(
                    "  {:<13} {}",
                    summary::verdict_cell(c),
                    summary::claim_name(c)
                ),
                width
            )
        );
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
pub fn render(run: &RunRecord, view: &View) -> String {
    if !view.detail {
        return summary::render(run, view.width);
    }
    let width = view.width;
    let fitted = |t: &Table, order: &[&str]| layout(&fit(t, width, order));
    let mut out = String::new();
    out.push_str(&fitted(&table::environment(&run.environment), &[]));
    for e in &run.experiments {
        let _ = writeln!(out, "\n== {}", summary::experiment_line(e, width - 3));
        for v in &e.variants {
            let _ = writeln!(
                out,
                "\n{}",
                truncate(
                    &format!(
                        "-- variant {}{}",
                        v.name,
                        match v.status {
                            Status::Ok => String::new(),
                            _ =>
                                format!(" ({:?}: {})", v.status, v.reason.as_deref().unwrap_or("")),
                        }
                    ),
                    width
                )
            );
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
            let _ = writeln!(
                out,
                "\n{}",
                truncate(
                    "-- programs (file facts; memory summed over the last checkpoint's processes)",
                    width
                )
            );
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
            let _ = writeln!(out, "\n{}", truncate(&format!("-- {}", s.title), width));
            out.push_str(&fitted(&table::summary(s), &[]));
        }
    }
    let _ = writeln!(out, "\n== summary\n");
    out.push_str(&summary::render(run, width));
    out
}
