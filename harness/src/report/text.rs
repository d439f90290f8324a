//! Aligned tables for a terminal.

use std::fmt::Write;

use super::table::{self, Table};
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

/// Claims as a list (their text is too long for columns).
fn claims(out: &mut String, claims: &[crate::model::ClaimRecord]) {
    for c in claims {
        let variant = c
            .variant
            .as_deref()
            .map(|v| format!(" [{v}]"))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "  {:<12} {}{}\n               {}",
            table::verdict_word(c.verdict),
            c.statement,
            variant,
            c.evidence
        );
    }
}

/// The whole run for a terminal.
pub fn render(run: &RunRecord) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "vmlab {} on {}{}\n",
        run.vmlab_version,
        run.environment.kernel,
        if run.quick { " (--quick sizes)" } else { "" }
    );
    out.push_str(&layout(&table::environment(&run.environment)));
    for e in &run.experiments {
        let _ = writeln!(
            out,
            "\n== {} ({:?}){}",
            e.name,
            e.status,
            e.reason
                .as_deref()
                .map(|r| format!(": {r}"))
                .unwrap_or_default()
        );
        for v in &e.variants {
            let _ = writeln!(
                out,
                "\n-- variant {}{}",
                v.name,
                match v.status {
                    Status::Ok => String::new(),
                    _ => format!(" ({:?}: {})", v.status, v.reason.as_deref().unwrap_or("")),
                }
            );
            if !v.checkpoints.is_empty() {
                out.push_str(&layout(&table::checkpoints(v)));
                let _ = writeln!(out, "  {}", table::noise_line(v));
                let _ = writeln!(out, "\n  what each step changed:");
                out.push_str(&layout(&super::delta::variant_table(v)));
            }
        }
        if super::binaries::applies(e) {
            let _ = writeln!(
                out,
                "\n-- programs (file facts; memory summed over the last checkpoint's processes)"
            );
            out.push_str(&layout(&super::binaries::files(e)));
            let _ = writeln!(
                out,
                "\n-- resident pages by mapping kind, Rss (Size) in pages"
            );
            out.push_str(&layout(&super::binaries::pages(
                e,
                run.environment.page_size,
            )));
        }
        if !e.claims.is_empty() {
            let _ = writeln!(out, "\n-- claims");
            claims(&mut out, &e.claims);
        }
        for s in &e.summary {
            let _ = writeln!(out, "\n-- {}", s.title);
            out.push_str(&layout(&table::summary(s)));
        }
    }
    out
}
