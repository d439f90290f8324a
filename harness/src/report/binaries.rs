//! Tables for experiments that measure separately built programs: one row per
//! variant with the program file's facts next to its memory, and where its
//! resident pages are, mapping kind by mapping kind. Shown only when some
//! variant carries `binary` facts.

use crate::experiment::programs::{self, Part};
use crate::model::{ExperimentRecord, Linking, MemoryFigures};
use crate::units::human_bytes;

use super::table::Table;

/// Whether the experiment measured separately built programs.
pub fn applies(experiment: &ExperimentRecord) -> bool {
    experiment.variants.iter().any(|v| v.binary.is_some())
}

/// One row per variant: the file (linking, size, `size` text/data/bss, number of
/// PT_LOAD segments) and memory at its last checkpoint, summed over its processes.
pub fn files(experiment: &ExperimentRecord) -> Table {
    let headers = [
        ("variant", false),
        ("linking", false),
        ("stripped", false),
        ("file", true),
        ("text", true),
        ("data", true),
        ("bss", true),
        ("PT_LOAD", true),
        ("checkpoint", false),
        ("procs", true),
        ("VmSize", true),
        ("VmRSS", true),
        ("Pss", true),
        ("USS", true),
        ("PTE", true),
        ("VmStk", true),
    ];
    let mut table = Table {
        headers: headers.iter().map(|(h, _)| h.to_string()).collect(),
        numeric: headers.iter().map(|(_, n)| *n).collect(),
        rows: Vec::new(),
    };
    for v in &experiment.variants {
        let Some(b) = &v.binary else { continue };
        let mut row = vec![
            v.name.clone(),
            match b.linking {
                Linking::Static => "static".into(),
                Linking::Dynamic => "dynamic".into(),
            },
            if b.stripped { "yes" } else { "no" }.into(),
            human_bytes(b.file_bytes),
            b.text_bytes.to_string(),
            b.data_bytes.to_string(),
            b.bss_bytes.to_string(),
            b.load_segments.len().to_string(),
        ];
        match v.checkpoints.last() {
            Some(c) => {
                let sum = |f: fn(&crate::model::Totals) -> u64| {
                    human_bytes(
                        c.processes
                            .iter()
                            .map(|p| f(&p.totals))
                            .fold(0u64, u64::saturating_add),
                    )
                };
                row.extend([
                    c.label.clone(),
                    c.processes.len().to_string(),
                    sum(|t| t.vm_size_bytes),
                    sum(|t| t.rss_bytes),
                    sum(|t| t.pss_bytes),
                    sum(|t| t.uss_bytes),
                    sum(|t| t.pte_bytes),
                    sum(|t| t.stack_bytes),
                ]);
            }
            None => row.extend(std::iter::repeat_n("-".to_string(), 8)),
        }
        table.rows.push(row);
    }
    table
}

/// One row per variant and checkpoint: the first process's resident pages by
/// mapping kind, with the mapped pages in parentheses (`Rss (Size)`).
pub fn pages(experiment: &ExperimentRecord, page_size: u64) -> Table {
    let mut headers = vec!["variant".to_string(), "checkpoint".to_string()];
    headers.extend(Part::ALL.iter().map(|p| p.name().to_string()));
    let mut table = Table {
        numeric: headers.iter().enumerate().map(|(i, _)| i >= 2).collect(),
        headers,
        rows: Vec::new(),
    };
    let show = |f: Option<&MemoryFigures>| match f {
        Some(f) => format!(
            "{} ({})",
            f.rss_bytes / page_size.max(1),
            f.size_bytes / page_size.max(1)
        ),
        None => "-".into(),
    };
    for v in &experiment.variants {
        let Some(b) = &v.binary else { continue };
        for c in &v.checkpoints {
            let Some(p) = c.processes.first() else {
                continue;
            };
            let parts = programs::breakdown(p, &b.path);
            let mut row = vec![v.name.clone(), format!("{} ({})", c.label, p.role)];
            row.extend(Part::ALL.iter().map(|part| show(parts.get(part))));
            table.rows.push(row);
        }
    }
    table
}
