//! results.md: a report that reads well in a repository browser.

use std::fmt::Write;

use super::table::{self, Table};
use crate::model::{RunRecord, Status};

/// A table as Markdown.
pub fn layout(table: &Table) -> String {
    let escape = |c: &str| c.replace('|', "\\|").replace('\n', " ");
    let mut out = String::new();
    let header: Vec<String> = table.headers.iter().map(|h| escape(h)).collect();
    let _ = writeln!(out, "| {} |", header.join(" | "));
    let rule: Vec<&str> = table
        .numeric
        .iter()
        .map(|n| if *n { "---:" } else { "---" })
        .collect();
    let _ = writeln!(out, "|{}|", rule.join("|"));
    for row in &table.rows {
        let cells: Vec<String> = row.iter().map(|c| escape(c)).collect();
        let _ = writeln!(out, "| {} |", cells.join(" | "));
    }
    out
}

/// The whole run as a Markdown report.
pub fn render(run: &RunRecord) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# vmlab results: {} on {}\n",
        run.started_at, run.environment.hostname
    );
    let _ = writeln!(
        out,
        "Kernel {}{}.\n",
        run.environment.kernel,
        if run.quick { ", `--quick` sizes" } else { "" }
    );
    let mut env = table::environment(&run.environment);
    env.headers = vec!["machine".into(), "value".into()];
    out.push_str(&layout(&env));
    for e in &run.experiments {
        let _ = writeln!(out, "\n## {}\n", e.name);
        if e.status != Status::Ok {
            let _ = writeln!(
                out,
                "**{:?}**: {}\n",
                e.status,
                e.reason.as_deref().unwrap_or("")
            );
        }
        if !e.params.is_empty() {
            out.push_str(&layout(&table::params(e)));
        }
        if !e.claims.is_empty() {
            let _ = writeln!(out, "\n### Claims\n");
            out.push_str(&layout(&table::claims(&e.claims)));
        }
        for s in &e.summary {
            let _ = writeln!(out, "\n### {}\n", s.title);
            out.push_str(&layout(&table::summary(s)));
        }
        for v in &e.variants {
            let _ = writeln!(out, "\n### Variant `{}`\n", v.name);
            if v.status != Status::Ok {
                let _ = writeln!(
                    out,
                    "**{:?}**: {}\n",
                    v.status,
                    v.reason.as_deref().unwrap_or("")
                );
            }
            if !v.notes.is_empty() {
                let notes: Vec<String> = v
                    .notes
                    .iter()
                    .map(|(k, val)| format!("`{k}` = {val}"))
                    .collect();
                let _ = writeln!(out, "Notes: {}.\n", notes.join(", "));
            }
            if !v.checkpoints.is_empty() {
                out.push_str(&layout(&table::checkpoints(v)));
                let _ = writeln!(out, "\n{}.", table::noise_line(v));
            }
        }
    }
    out
}
