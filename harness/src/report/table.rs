//! The table model shared by the terminal and Markdown renderers: which rows and
//! columns each view has, as display strings, and how a table is narrowed to
//! the terminal ([`fit`]). Renderers only lay them out.
//!
//! A table wider than the terminal is narrowed in three steps, each only as far
//! as needed:
//! 1. headers are abbreviated (`minor flt` → `min`, `Priv_Dirty` → `PrD`, ...);
//! 2. columns are dropped in the order the view declares, least telling first;
//! 3. the widest text column is cut (with `…`), then, if still too wide, columns
//!    are dropped from the right.
//!
//! Nothing is lost: results.md has every table in full.
//!
//! Where nothing may be cut (the matrix, a comparison), [`layout_fitted`]
//! wraps instead: what a row is in one wrapped column, its figures side by
//! side, a trailing text column as a note under the row.

use std::fmt::Write;

use super::width::truncate;
use crate::model::{ClaimRecord, ExperimentRecord, SummaryTable, VariantRecord, Verdict};
use crate::outcome::Outcome;
use crate::system::Environment;
use crate::units::human_bytes;

/// A table of display strings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    /// Column headers.
    pub headers: Vec<String>,
    /// Rows, each as long as `headers`.
    pub rows: Vec<Vec<String>>,
    /// Per column: right-aligned (numbers) or not.
    pub numeric: Vec<bool>,
}

impl Table {
    fn new(headers: &[(&str, bool)]) -> Table {
        Table {
            headers: headers.iter().map(|(h, _)| h.to_string()).collect(),
            numeric: headers.iter().map(|(_, n)| *n).collect(),
            rows: Vec::new(),
        }
    }
}

/// One row per checkpoint and process: totals, faults, and each declared region.
pub fn checkpoints(variant: &VariantRecord) -> Table {
    let regions: Vec<String> = variant
        .checkpoints
        .iter()
        .flat_map(|c| {
            c.processes
                .iter()
                .flat_map(|p| p.regions.iter().map(|r| r.name.clone()))
        })
        .fold(Vec::new(), |mut names, name| {
            if !names.contains(&name) {
                names.push(name);
            }
            names
        });
    let mut headers: Vec<(String, bool)> = vec![
        ("checkpoint".into(), false),
        ("process".into(), false),
        ("VmSize".into(), true),
        ("VmRSS".into(), true),
        ("Pss".into(), true),
        ("USS".into(), true),
        ("PTE".into(), true),
        ("minor flt".into(), true),
        ("major flt".into(), true),
    ];
    for r in &regions {
        headers.push((format!("{r} Size"), true));
        headers.push((format!("{r} Rss"), true));
        headers.push((format!("{r} Pss"), true));
        headers.push((format!("{r} Priv_Dirty"), true));
    }
    let mut table = Table {
        headers: headers.iter().map(|(h, _)| h.clone()).collect(),
        numeric: headers.iter().map(|(_, n)| *n).collect(),
        rows: Vec::new(),
    };
    for checkpoint in &variant.checkpoints {
        for p in &checkpoint.processes {
            let t = &p.totals;
            let mut row = vec![
                checkpoint.label.clone(),
                p.who(),
                human_bytes(t.vm_size_bytes),
                human_bytes(t.rss_bytes),
                human_bytes(t.pss_bytes),
                human_bytes(t.uss_bytes),
                human_bytes(t.pte_bytes),
                p.faults.minor.to_string(),
                p.faults.major.to_string(),
            ];
            for name in &regions {
                match p.region(name) {
                    Some(r) => {
                        row.push(human_bytes(r.figures.size_bytes));
                        row.push(human_bytes(r.figures.rss_bytes));
                        row.push(human_bytes(r.figures.pss_bytes));
                        row.push(human_bytes(r.figures.private_dirty_bytes));
                    }
                    None => row.extend(["-", "-", "-", "-"].map(String::from)),
                }
            }
            table.rows.push(row);
        }
    }
    table
}

/// Each phase's page faults (of the first process) beside the machine-wide
/// /proc/vmstat counters' change over the same phase: a fallback from huge
/// pages (`thp_fault_fallback`, `compact_stall`) or a read from storage
/// (`pgmajfault`, `workingset_refault_file`) shows here. `None` when the run
/// recorded no vmstat (older versions).
pub fn vmstat_phases(variant: &VariantRecord) -> Option<Table> {
    let counters: Vec<_> = variant
        .checkpoints
        .iter()
        .map(|c| c.system.as_ref().and_then(|s| s.vmstat))
        .collect();
    if counters.iter().all(Option::is_none) {
        return None;
    }
    let names = crate::model::VmstatCounters::default().fields();
    let mut headers: Vec<(&str, bool)> = vec![
        ("phase to", false),
        ("minor flt", true),
        ("major flt", true),
    ];
    headers.extend(names.iter().map(|(n, _)| (*n, true)));
    let mut table = Table::new(&headers);
    for (i, c) in variant.checkpoints.iter().enumerate().skip(1) {
        let faults = c.processes.first().map(|p| p.faults).unwrap_or_default();
        let mut row = vec![
            c.label.clone(),
            faults.minor.to_string(),
            faults.major.to_string(),
        ];
        match (counters[i - 1], counters[i]) {
            (Some(a), Some(b)) => row.extend(b.fields().iter().zip(a.fields()).map(
                |((_, now), (_, then))| match (now, then) {
                    (Some(x), Some(y)) => format!("{:+}", *x as i128 - y as i128),
                    _ => "-".into(),
                },
            )),
            _ => row.extend(names.iter().map(|_| "-".to_string())),
        }
        table.rows.push(row);
    }
    Some(table)
}

/// An experiment's summary table; columns whose cells all start with a digit
/// (or are `-`) are right-aligned.
pub fn summary(summary: &SummaryTable) -> Table {
    let numeric = (0..summary.headers.len())
        .map(|i| {
            summary.rows.iter().all(|r| {
                r.get(i).is_some_and(|c| {
                    c == "-"
                        || c.starts_with(|ch: char| ch.is_ascii_digit() || ch == '+' || ch == '-')
                })
            }) && !summary.rows.is_empty()
        })
        .collect();
    Table {
        headers: summary.headers.clone(),
        rows: summary
            .rows
            .iter()
            .map(|r| {
                let mut r = r.clone();
                r.resize(summary.headers.len(), String::new());
                r
            })
            .collect(),
        numeric,
    }
}

/// One row per claim: the verdict next to its criterion and what was measured.
pub fn claims(claims: &[ClaimRecord]) -> Table {
    let mut table = Table::new(&[
        ("verdict", false),
        ("variant", false),
        ("claim", false),
        ("criterion", false),
        ("measured", false),
        ("evidence", false),
        ("source", false),
    ]);
    for c in claims {
        table.rows.push(vec![
            verdict_cell(c),
            c.variant.clone().unwrap_or_default(),
            c.statement.clone(),
            c.criterion.clone(),
            c.measured.clone(),
            c.evidence.clone(),
            crate::explain::cite(&c.source),
        ]);
    }
    table
}

/// The parameters of an experiment.
pub fn params(experiment: &ExperimentRecord) -> Table {
    let mut table = Table::new(&[("parameter", false), ("value", true)]);
    for (k, v) in &experiment.params {
        table.rows.push(vec![k.clone(), v.to_string()]);
    }
    table
}

/// The machine.
pub fn environment(env: &Environment) -> Table {
    let mut table = Table::new(&[("", false), ("", false)]);
    let rows = [hardware_rows(env), knob_rows(env), limit_rows(env)];
    for (k, v) in rows.into_iter().flatten() {
        table.rows.push(vec![k.to_string(), v]);
    }
    if let Some(guest) = &env.guest {
        table.rows.push(vec![
            "matrix guest".to_string(),
            format!(
                "{} under QEMU ({}), {} memory, transparent_hugepage={}",
                guest.kernel_spec,
                guest.accelerator,
                human_bytes(guest.memory_bytes),
                guest.thp_cmdline
            ),
        ]);
    }
    table
}

/// A figure read from the machine, or that it was not readable.
fn readable(v: Option<u64>) -> String {
    v.map_or_else(|| "not readable".to_string(), |v| v.to_string())
}

/// The machine's rows: kernel, CPUs, memory, page size.
fn hardware_rows(env: &Environment) -> Vec<(&'static str, String)> {
    vec![
        ("kernel", env.kernel.clone()),
        (
            "machine",
            format!(
                "{} × {} ({}){}",
                env.cpu_count,
                env.cpu_model,
                env.arch,
                if env.virtual_machine {
                    ", virtual machine"
                } else {
                    ""
                }
            ),
        ),
        (
            "memory",
            format!(
                "{} RAM, {} swap",
                human_bytes(env.mem_total_bytes),
                human_bytes(env.swap_total_bytes)
            ),
        ),
        ("page size", format!("{} bytes", env.page_size)),
    ]
}

/// The kernel's knobs the experiments depend on.
fn knob_rows(env: &Environment) -> Vec<(&'static str, String)> {
    vec![
        (
            "THP enabled / defrag",
            format!("{} / {}", env.thp_enabled, env.thp_defrag),
        ),
        (
            "vm.overcommit_memory",
            env.overcommit_memory.map_or("?".into(), |v| v.to_string()),
        ),
        ("fault_around_bytes", readable(env.fault_around_bytes)),
        (
            "randomize_va_space",
            env.randomize_va_space.map_or("?".into(), |v| v.to_string()),
        ),
    ]
}

/// Where the experiments' files go, the limits they run under, who runs
/// them and the C library.
fn limit_rows(env: &Environment) -> Vec<(&'static str, String)> {
    vec![
        (
            "temp dir",
            format!(
                "{} ({}, {} free, read_ahead_kb {})",
                env.temp_dir.display(),
                env.temp_dir_fs,
                human_bytes(env.temp_dir_free_bytes),
                readable(env.temp_dir_read_ahead_kb)
            ),
        ),
        (
            "cgroup memory.max",
            env.cgroup_memory_max_bytes
                .map_or("none".into(), human_bytes),
        ),
        (
            "pid_max / nproc",
            // Short, so that the row fits 80 columns: kernel.pid_max, the
            // RLIMIT_NPROC soft limit and the cgroup's pids.max.
            format!(
                "{} / {} / cgroup pids.max {}",
                readable(env.pid_max),
                env.rlimit_nproc
                    .map_or("unlimited".into(), |v| v.to_string()),
                env.cgroup_pids_max.map_or("none".into(), |v| v.to_string()),
            ),
        ),
        ("root", env.is_root.to_string()),
        ("glibc", env.glibc_version.clone()),
    ]
}

/// The word a verdict is shown as: its `Display`, the one vocabulary (kept as a
/// function for the tables that map over verdicts).
pub fn verdict_word(v: Verdict) -> String {
    v.to_string()
}

/// The null-phase noise of a variant in one line.
pub fn noise_line(variant: &VariantRecord) -> String {
    if variant.noise_floor.is_empty() {
        return "noise floor: not measured".into();
    }
    let parts: Vec<String> = variant
        .noise_floor
        .iter()
        .map(|n| {
            format!(
                "{} minor / {} major faults, {:+} bytes RSS",
                n.minor_faults, n.major_faults, n.rss_delta_bytes
            )
        })
        .collect();
    format!(
        "noise floor (two snapshots, nothing between): {}",
        parts.join("; ")
    )
}
/// The verdict as the summary column shows it: refutations declared in advance
/// carry a `*`, confirmations against that declaration a `!` (the legend
/// explains both).
pub fn verdict_cell(claim: &ClaimRecord) -> String {
    match Outcome::of_claim(claim) {
        Outcome::XFail => format!("{}*", claim.verdict),
        Outcome::XPass => format!("{}!", claim.verdict),
        _ => claim.verdict.to_string(),
    }
}

/// Shorter headers, tried before any column is dropped.
const ABBREVIATIONS: &[(&str, &str)] = &[
    ("minor flt", "min"),
    ("major flt", "maj"),
    ("Priv_Dirty", "PrD"),
    ("Private_Dirty", "PrD"),
    ("Shared_Dirty", "ShD"),
    ("checkpoint", "ckpt"),
];

/// The width `text::layout` gives `table`: two spaces of indent, two between columns.
pub fn laid_out_width(table: &Table) -> usize {
    let widths = column_widths(table);
    2 + widths.iter().sum::<usize>() + 2 * widths.len().saturating_sub(1)
}

fn column_widths(table: &Table) -> Vec<usize> {
    (0..table.headers.len())
        .map(|i| {
            table
                .rows
                .iter()
                .map(|r| r.get(i).map_or(0, |c| c.chars().count()))
                .chain([table.headers[i].chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect()
}

fn remove_column(table: &mut Table, index: usize) {
    table.headers.remove(index);
    table.numeric.remove(index);
    for row in &mut table.rows {
        if index < row.len() {
            row.remove(index);
        }
    }
}

/// Whether a header matches a drop-order entry: exactly, or, for an entry
/// starting with `*`, by its ending (`* Size` matches every region's Size).
fn matches(header: &str, entry: &str) -> bool {
    match entry.strip_prefix('*') {
        Some(suffix) => header.ends_with(suffix),
        None => header == entry,
    }
}

/// `table` narrowed to `width` (see the module documentation); `drop_order`
/// names the columns that may go, least telling first (headers as built, before
/// abbreviation).
pub fn fit(table: &Table, width: usize, drop_order: &[&str]) -> Table {
    let mut out = table.clone();
    if laid_out_width(&out) <= width {
        return out;
    }
    // The headers as built, kept aligned with `out` so that the drop order can
    // name them whatever their abbreviation.
    let mut original = out.headers.clone();
    for header in &mut out.headers {
        for (long, short) in ABBREVIATIONS {
            if header.contains(long) {
                *header = header.replace(long, short);
            }
        }
    }
    for entry in drop_order {
        while laid_out_width(&out) > width {
            let Some(index) = original.iter().rposition(|h| matches(h, entry)) else {
                break;
            };
            remove_column(&mut out, index);
            original.remove(index);
        }
    }
    squeeze(out, width)
}

/// Cuts the widest text column, then drops columns from the right, until the
/// table fits.
fn squeeze(mut out: Table, width: usize) -> Table {
    const MIN_TEXT: usize = 12;
    while laid_out_width(&out) > width {
        let widths = column_widths(&out);
        let widest_text = (0..widths.len())
            .filter(|i| !out.numeric[*i] && widths[*i] > MIN_TEXT)
            .max_by_key(|i| widths[*i]);
        match widest_text {
            Some(i) => {
                let excess = laid_out_width(&out) - width;
                let keep = widths[i].saturating_sub(excess).max(MIN_TEXT);
                for row in &mut out.rows {
                    if let Some(cell) = row.get_mut(i) {
                        *cell = truncate(cell, keep);
                    }
                }
                out.headers[i] = truncate(&out.headers[i], keep);
            }
            None if out.headers.len() > 1 => {
                let last = out.headers.len() - 1;
                remove_column(&mut out, last);
            }
            None => break,
        }
    }
    out
}

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

/// `table` laid out for a terminal `width` wide, nothing cut: as [`layout`]
/// when it fits; else, if it has numeric columns (figures, or a kernel's
/// cells), its text columns before them (what a row is) are joined into one
/// and a text column after them becomes a note under its row, so that the
/// figures stay side by side, and the result goes through
/// [`layout_wrapped`].
pub fn layout_fitted(table: &Table, width: usize) -> String {
    if laid_out_width(table) <= width {
        return layout(table);
    }
    let (narrow, notes) = one_key_column(table);
    layout_wrapped(&narrow, width, &notes)
}

/// `table` with its leading text columns joined into one (headers joined
/// with commas, cells with spaces, empty ones left out) and its last column,
/// if it is text after numeric ones, taken out as each row's note (with its
/// header before it when it has one). Unchanged when nothing is numeric.
fn one_key_column(table: &Table) -> (Table, Vec<String>) {
    let Some(first_number) = table.numeric.iter().position(|n| *n) else {
        return (table.clone(), Vec::new());
    };
    let keys = first_number.max(1);
    let last = table.headers.len().saturating_sub(1);
    let end = if last > keys && !table.numeric[last] {
        last
    } else {
        table.headers.len()
    };
    let joined = |cells: &[String], separator: &str| {
        cells[..keys.min(cells.len())]
            .iter()
            .filter(|c| !c.is_empty())
            .cloned()
            .collect::<Vec<_>>()
            .join(separator)
    };
    let row = |cells: &[String], separator: &str| {
        let mut row = vec![joined(cells, separator)];
        row.extend(cells.get(keys..end).unwrap_or_default().iter().cloned());
        row
    };
    let notes = table
        .rows
        .iter()
        .map(|r| match (end < table.headers.len(), r.get(end)) {
            (true, Some(note)) if !note.is_empty() => match table.headers[end].as_str() {
                "" => note.clone(),
                header => format!("{header}: {note}"),
            },
            _ => String::new(),
        })
        .collect();
    let mut numeric = vec![false];
    numeric.extend(table.numeric[keys..end].iter().copied());
    let narrow = Table {
        headers: row(&table.headers, ", "),
        rows: table.rows.iter().map(|r| row(r, " ")).collect(),
        numeric,
    };
    (narrow, notes)
}

/// The narrowest a text column is made when [`layout_wrapped`] wraps it.
const MIN_WRAPPED: usize = 12;

/// `table` laid out in `width` with nothing cut: when it is too wide, its
/// widest text columns are narrowed (to `MIN_WRAPPED` at least) and their
/// cells wrapped onto the following lines, a cell's continuation indented
/// two spaces. A row's note (`notes[i]`, if not empty) follows the row,
/// wrapped across the whole width. Columns that still do not fit go into
/// further bands (see [`bands`]), each repeating the first column; the notes
/// come with the last band.
pub fn layout_wrapped(table: &Table, width: usize, notes: &[String]) -> String {
    let bands = bands(table, width);
    let last = bands.len().saturating_sub(1);
    bands
        .iter()
        .enumerate()
        .map(|(i, band)| layout_band(band, width, if i == last { notes } else { &[] }))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The width a column can be narrowed to: a number's natural width, a text's
/// natural width up to [`MIN_WRAPPED`].
fn narrowest(table: &Table, widths: &[usize], column: usize) -> usize {
    if table.numeric[column] {
        widths[column]
    } else {
        widths[column].min(MIN_WRAPPED)
    }
}

/// `table` split by columns into tables that each fit `width` once their
/// text columns are narrowed: the first column (what a row is) in every
/// one, the others in order, as many as fit (at least one) in each.
pub fn bands(table: &Table, width: usize) -> Vec<Table> {
    let widths = column_widths(table);
    if widths.len() <= 1 {
        return vec![table.clone()];
    }
    let first = narrowest(table, &widths, 0);
    let mut groups: Vec<Vec<usize>> = Vec::new();
    let mut current: Vec<usize> = Vec::new();
    let mut used = 2 + first;
    for column in 1..widths.len() {
        let need = 2 + narrowest(table, &widths, column);
        if used + need > width && !current.is_empty() {
            groups.push(std::mem::take(&mut current));
            used = 2 + first;
        }
        current.push(column);
        used += need;
    }
    groups.push(current);
    groups
        .iter()
        .map(|columns| {
            let pick = |cells: &[String]| -> Vec<String> {
                std::iter::once(0)
                    .chain(columns.iter().copied())
                    .map(|c| cells.get(c).cloned().unwrap_or_default())
                    .collect()
            };
            Table {
                headers: pick(&table.headers),
                rows: table.rows.iter().map(|r| pick(r)).collect(),
                numeric: std::iter::once(0)
                    .chain(columns.iter().copied())
                    .map(|c| table.numeric[c])
                    .collect(),
            }
        })
        .collect()
}

/// The column widths that make `table` fit `width`: the widest text column
/// narrowed first, none below [`narrowest`].
fn wrapped_widths(table: &Table, width: usize) -> Vec<usize> {
    let natural = column_widths(table);
    let mut widths = natural.clone();
    let laid_out = |w: &[usize]| 2 + w.iter().sum::<usize>() + 2 * w.len().saturating_sub(1);
    while laid_out(&widths) > width {
        let Some(widest) = (0..widths.len())
            .filter(|&c| widths[c] > narrowest(table, &natural, c))
            .max_by_key(|&c| widths[c])
        else {
            break;
        };
        let floor = narrowest(table, &natural, widest);
        let excess = laid_out(&widths) - width;
        widths[widest] = widths[widest].saturating_sub(excess).max(floor);
    }
    widths
}

/// One band of [`layout_wrapped`]: header, rule, and each row on as many
/// lines as its tallest wrapped cell, then its note.
fn layout_band(table: &Table, width: usize, notes: &[String]) -> String {
    let widths = wrapped_widths(table, width);
    let mut out = String::new();
    let row = |cells: &[String], out: &mut String| {
        let wrapped: Vec<Vec<String>> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| {
                super::width::wrap_hanging(c, *w, "", "  ")
                    .lines()
                    .map(String::from)
                    .collect()
            })
            .collect();
        let height = wrapped.iter().map(Vec::len).max().unwrap_or(0).max(1);
        for line in 0..height {
            let cells: Vec<String> = wrapped
                .iter()
                .map(|lines| lines.get(line).cloned().unwrap_or_default())
                .collect();
            out.push_str(&padded_line(&cells, &widths, &table.numeric));
        }
    };
    if table.headers.iter().any(|h| !h.is_empty()) {
        row(&table.headers, &mut out);
        let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
        out.push_str(&padded_line(&rule, &widths, &table.numeric));
    }
    for (i, cells) in table.rows.iter().enumerate() {
        row(cells, &mut out);
        if let Some(note) = notes.get(i).filter(|n| !n.is_empty()) {
            out.push_str(&super::width::wrap(note, width, "      "));
        }
    }
    out
}

/// One laid-out line: cells padded to `widths`, numbers to the right, two
/// spaces of indent and between columns, no trailing blanks.
fn padded_line(cells: &[String], widths: &[usize], numeric: &[bool]) -> String {
    let padded: Vec<String> = cells
        .iter()
        .zip(widths)
        .zip(numeric)
        .map(|((c, w), numeric)| {
            if *numeric {
                format!("{c:>w$}")
            } else {
                format!("{c:<w$}")
            }
        })
        .collect();
    format!("  {}\n", padded.join("  ").trim_end())
}

/// Which columns each view gives up first when the terminal is narrow (see
/// [`fit`]); results.md keeps them all.
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

#[cfg(test)]
mod fit_tests {
    use super::*;

    fn wide() -> Table {
        Table {
            headers: [
                "checkpoint",
                "process",
                "VmSize",
                "minor flt",
                "data Size",
                "data Rss",
                "heap Size",
            ]
            .map(String::from)
            .to_vec(),
            numeric: vec![false, false, true, true, true, true, true],
            rows: vec![[
                "after-touching-every-page",
                "main 123456",
                "1000.0 MiB",
                "262144",
                "1000.0 MiB",
                "1000.0 MiB",
                "132.0 KiB",
            ]
            .map(String::from)
            .to_vec()],
        }
    }

    #[test]
    fn a_table_that_fits_is_left_alone() {
        let t = wide();
        assert_eq!(fit(&t, 200, &["* Size"]), t);
    }

    #[test]
    fn columns_go_in_the_declared_order_and_the_rest_fits() {
        let t = fit(&wide(), 80, &["* Size", "VmSize"]);
        assert!(laid_out_width(&t) <= 80, "{t:?}");
        assert!(
            !t.headers.iter().any(|h| h.ends_with(" Size")),
            "{:?}",
            t.headers
        );
        assert!(
            t.headers.contains(&"data Rss".to_string()),
            "{:?}",
            t.headers
        );
        assert!(t.headers.contains(&"min".to_string()), "{:?}", t.headers);
    }

    fn three_kernels(rows: usize) -> Table {
        Table {
            headers: ["what", "K1 (ref)", "kernel-b", "K3"]
                .map(String::from)
                .to_vec(),
            numeric: vec![false, true, true, true],
            rows: (0..rows)
                .map(|i| {
                    vec![
                        format!("claim number-{i}-{}", "long-name-".repeat(8)),
                        "1,048,576 *".into(),
                        "inconclusive".into(),
                        format!("{i}"),
                    ]
                })
                .collect(),
        }
    }

    #[test]
    fn wrapped_layout_fits_the_width_and_keeps_every_character() {
        let t = three_kernels(3);
        let notes = vec![
            String::new(),
            "explained by: ".to_string() + &"word ".repeat(30),
        ];
        let out = layout_wrapped(&t, 80, &notes);
        assert!(out.lines().all(|l| l.chars().count() <= 80), "{out}");
        // The first column's text, read back from its width under the rule.
        let rule = out.lines().nth(1).unwrap_or_default();
        let key_width = rule
            .trim_start()
            .split(' ')
            .next()
            .unwrap_or_default()
            .len();
        let first_column: String = out
            .lines()
            .flat_map(|l| l.chars().skip(2).take(key_width))
            .filter(|c| !c.is_whitespace())
            .collect();
        for row in &t.rows {
            let key: String = row[0].split_whitespace().collect();
            assert!(first_column.contains(&key), "{key} whole in:\n{out}");
            let line = out
                .lines()
                .find(|l| l.contains(&row[3]) && l.contains("1,048,576 *"))
                .unwrap_or_else(|| panic!("row {row:?} values on one line:\n{out}"));
            assert!(line.contains("inconclusive"), "{line}");
        }
        assert_eq!(out.matches("word").count(), 30, "{out}");
    }

    #[test]
    fn columns_that_cannot_fit_go_to_a_further_band_with_the_first_column() {
        let mut t = three_kernels(1);
        for k in 4..12 {
            t.headers.push(format!("K{k}"));
            t.numeric.push(true);
            t.rows[0].push("65,536 *".into());
        }
        let bands = bands(&t, 80);
        assert!(bands.len() > 1, "{bands:?}");
        assert!(bands.iter().all(|b| b.headers[0] == "what"));
        let shown: usize = bands.iter().map(|b| b.headers.len() - 1).sum();
        assert_eq!(shown, t.headers.len() - 1);
        let out = layout_wrapped(&t, 80, &[]);
        assert!(out.lines().all(|l| l.chars().count() <= 80), "{out}");
    }

    #[test]
    fn a_fitted_table_joins_what_a_row_is_and_puts_its_last_text_under_it() {
        let t = Table {
            headers: ["metric", "experiment", "K1", "K2", "explained by"]
                .map(String::from)
                .to_vec(),
            numeric: vec![false, false, true, true, false],
            rows: vec![[
                "VmRSS (KiB)",
                "mmap-file",
                "1,024",
                "2,048 *",
                &"why ".repeat(30),
            ]
            .map(String::from)
            .to_vec()],
        };
        let out = layout_fitted(&t, 80);
        let lines: Vec<&str> = out.lines().collect();
        assert!(lines[0].starts_with("  metric, experiment"), "{out}");
        assert!(lines[2].starts_with("  VmRSS (KiB) mmap-file"), "{out}");
        assert!(lines[2].ends_with("1,024  2,048 *"), "{out}");
        assert!(lines[3].starts_with("      explained by: why"), "{out}");
        assert!(out.lines().all(|l| l.chars().count() <= 80), "{out}");
        assert_eq!(out.matches("why").count(), 30, "{out}");
        // What fits is laid out as before.
        let roomy = layout_fitted(&t, 400);
        assert_eq!(roomy, layout(&t));
    }

    #[test]
    fn long_text_is_cut_when_dropping_is_not_enough() {
        let t = Table {
            headers: vec!["claim".into(), "evidence".into()],
            numeric: vec![false, false],
            rows: vec![vec!["x".repeat(60), "y".repeat(300)]],
        };
        let fitted = fit(&t, 80, &[]);
        assert!(laid_out_width(&fitted) <= 80);
        assert!(fitted.rows[0][1].ends_with('…'));
    }
}
