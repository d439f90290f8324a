//! results.md: a report that reads well in a repository browser.

use std::fmt::Write;

use super::table::{self, Table};
use super::{delta, plot, summary};
use crate::model::{ExperimentRecord, RunRecord, Status, VariantRecord};
use crate::{experiment, explain, store};

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

/// The anchor GitHub gives a `## NAME` heading.
fn anchor(name: &str) -> String {
    name.chars()
        .filter_map(|c| match c {
            'a'..='z' | '0'..='9' | '-' | '_' => Some(c),
            'A'..='Z' => Some(c.to_ascii_lowercase()),
            ' ' => Some('-'),
            _ => None,
        })
        .collect()
}

/// Every claim of the run in one table, each linking to its experiment's section.
fn claim_index(run: &RunRecord) -> Table {
    let mut table = Table {
        headers: ["experiment", "claim", "verdict", "measured (criterion)"]
            .map(String::from)
            .to_vec(),
        numeric: vec![false; 4],
        rows: Vec::new(),
    };
    for e in &run.experiments {
        let link = format!("[{}](#{})", e.name, anchor(&e.name));
        if e.claims.is_empty() {
            table.rows.push(vec![
                link.clone(),
                String::new(),
                format!("{:?}", e.status).to_lowercase(),
                e.reason.clone().unwrap_or_default(),
            ]);
        }
        for c in &e.claims {
            table.rows.push(vec![
                link.clone(),
                format!("`{}`", summary::claim_name(c)),
                summary::verdict_cell(c),
                summary::figures(c),
            ]);
        }
    }
    table
}

/// The whole run as a Markdown report, linking the run's `charts` (rendered
/// once, by the caller, for every file that shows them).
pub fn render(run: &RunRecord, charts: &plot::Charts) -> String {
    let mut out = String::new();
    run_heading(&mut out, run);
    let tally = summary::Tally::of(run);
    let _ = writeln!(out, "**{}.**\n", summary::tally_line(run, &tally));
    statements_section(&mut out, run);
    if let Some(legend) = summary::legend(&tally) {
        let _ = writeln!(out, "{}.\n", legend.replace('*', "\\*"));
    }
    out.push_str(&layout(&claim_index(run)));
    out.push('\n');
    machine_section(&mut out, run);
    for e in &run.experiments {
        experiment_section(&mut out, run, e, charts);
    }
    out
}

/// The title: when, where, which kernel and sizes.
fn run_heading(out: &mut String, run: &RunRecord) {
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
}

/// The writings' statements, tallied and listed, ahead of the claims that
/// judge them (nothing when the run judged none).
fn statements_section(out: &mut String, run: &RunRecord) {
    let statements = crate::statements::judge_run(run);
    if statements.is_empty() {
        return;
    }
    let _ = writeln!(out, "{}.\n", super::statements::HEADING);
    out.push_str(&layout(&super::statements::tally_table(
        &crate::statements::Tally::of(&statements),
    )));
    out.push('\n');
    out.push_str(&layout(&super::statements::table(&statements)));
    let _ = writeln!(out, "\nThe claims, per variant:\n");
}

/// The machine's table and what the columns of the tables below mean.
fn machine_section(out: &mut String, run: &RunRecord) {
    let mut env = table::environment(&run.environment);
    env.headers = vec!["machine".into(), "value".into()];
    out.push_str(&layout(&env));
    let _ = writeln!(out, "\nWhat the columns mean:\n");
    for (column, meaning) in explain::GLOSSARY {
        let _ = writeln!(out, "- **{column}**: {meaning}");
    }
}

/// One experiment: its explanation, status, parameters, programs, charts,
/// summary tables, variants and claims.
fn experiment_section(
    out: &mut String,
    run: &RunRecord,
    e: &ExperimentRecord,
    charts: &plot::Charts,
) {
    let _ = writeln!(out, "\n## {}\n", e.name);
    if let Some(exp) = experiment::find(&e.name) {
        out.push_str(&explain::render_markdown(exp));
        out.push('\n');
    }
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
    if super::binaries::applies(e) {
        programs_section(out, run, e);
    }
    for chart in charts.of_experiment(&e.name) {
        let _ = writeln!(
            out,
            "\n![{}]({}/{})",
            chart.title,
            store::PLOTS_DIR,
            chart.file_name
        );
    }
    for s in &e.summary {
        let _ = writeln!(out, "\n### {}\n", s.title);
        out.push_str(&layout(&table::summary(s)));
    }
    for v in &e.variants {
        variant_section(out, run, e, v, charts);
    }
    if !e.claims.is_empty() {
        let _ = writeln!(out, "\n### Claims\n");
        out.push_str(&layout(&table::claims(&e.claims)));
    }
}

/// The programs an experiment built several ways: file facts and pages by
/// mapping kind.
fn programs_section(out: &mut String, run: &RunRecord, e: &ExperimentRecord) {
    let _ = writeln!(
        out,
        "\n### Programs\n\nFile facts, and memory summed over the last checkpoint's processes.\n"
    );
    out.push_str(&layout(&super::binaries::files(e)));
    let _ = writeln!(
        out,
        "\nResident pages by mapping kind, Rss (Size) in pages.\n"
    );
    out.push_str(&layout(&super::binaries::pages(
        e,
        run.environment.page_size,
    )));
}

/// One variant: its status, notes and, if it reached a checkpoint, what it
/// measured.
fn variant_section(
    out: &mut String,
    run: &RunRecord,
    e: &ExperimentRecord,
    v: &VariantRecord,
    charts: &plot::Charts,
) {
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
        variant_measurements(out, run, e, v, charts);
    }
}

/// A variant's checkpoints, phases, changes per step and charts.
fn variant_measurements(
    out: &mut String,
    run: &RunRecord,
    e: &ExperimentRecord,
    v: &VariantRecord,
    charts: &plot::Charts,
) {
    out.push_str(&layout(&table::checkpoints(v)));
    let _ = writeln!(out, "\n{}.\n", table::noise_line(v));
    if let Some(t) = table::vmstat_phases(v) {
        let _ = writeln!(
            out,
            "Each phase's faults beside the machine-wide /proc/vmstat counters' change over it:\n"
        );
        out.push_str(&layout(&t));
        out.push('\n');
    }
    let _ = writeln!(out, "What each step changed (mappings of the same process, matched by PID, and by address overlap so that a mapping that grew, shrank, merged or split is one change, whose figures moved by a page or more since the previous checkpoint; shared libraries whose Pss alone moved are counted, not listed):\n");
    let filter = delta::DeltaFilter {
        page_size: run.environment.page_size,
        all: false,
    };
    out.push_str(&layout(&delta::variant_table(v, &filter)));
    out.push('\n');
    for note in delta::variant_notes(v, &filter) {
        let _ = writeln!(out, "- {note}");
    }
    out.push('\n');
    for chart in charts.of_variant(&e.name, &v.name) {
        let _ = writeln!(
            out,
            "![{}]({}/{})\n",
            chart.title,
            store::PLOTS_DIR,
            chart.file_name
        );
    }
}
