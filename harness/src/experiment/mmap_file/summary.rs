//! The table that shows the mechanisms behind mmap-file's figures, one row per
//! variant: how the file was written (and how long the writes took, where
//! the variant wrote it), what one read mapped, what reading all of
//! it cost in faults and storage reads, and how much ended up mapped by PMDs.

use experiments::catalog::mmap_file::{checkpoint, note, region, role};

use super::super::human_bytes;
use super::super::kit::{not_run_reason, pages, Observed};
use super::claims::{pmd_mapped, read_bytes, read_faults, written_speed_text};
use crate::model::{ExperimentRecord, SummaryTable};
use crate::system::Environment;

/// The summary table, if any variant ran.
pub(super) fn tables(record: &ExperimentRecord, env: &Environment) -> Vec<SummaryTable> {
    let rows: Vec<Vec<String>> = record
        .variants
        .iter()
        .filter(|v| not_run_reason(v).is_none())
        .map(|variant| row(&Observed { variant, env }))
        .collect();
    if rows.is_empty() {
        return Vec::new();
    }
    vec![SummaryTable {
        title: "what one read mapped, what reading all of it cost, and how it ended up mapped"
            .into(),
        headers: [
            "variant",
            "bytes per write",
            "writing (s, MB/s)",
            "pages cached at mmap",
            "pages resident after one read",
            "faults reading (minor / major)",
            "read from storage (read_bytes)",
            "FilePmdMapped after reading",
            "VmPTE after reading",
        ]
        .map(String::from)
        .to_vec(),
        rows,
    }]
}

/// One variant's row.
fn row(view: &Observed<'_>) -> Vec<String> {
    let first = view
        .region(checkpoint::AFTER_FIRST_READ, role::MAIN, region::DATA)
        .map_or("-".into(), |r| {
            pages(r.figures.rss_bytes, view.page()).to_string()
        });
    let faults = read_faults(view).map_or("-".into(), |f| format!("{} / {}", f.minor, f.major));
    let read = read_bytes(view).map_or("-".into(), human_bytes);
    let pte = view
        .process(checkpoint::AFTER_READ_ALL, role::MAIN)
        .map_or("-".into(), |p| human_bytes(p.totals.pte_bytes));
    vec![
        view.variant.name.clone(),
        view.note(note::WRITE_CHUNK_BYTES)
            .map_or("-".into(), human_bytes),
        written_speed_text(view).unwrap_or_else(|| "-".into()),
        view.note::<u64>(note::PAGE_CACHE_PAGES_BEFORE_MMAP)
            .map_or("-".into(), |p| p.to_string()),
        first,
        faults,
        read,
        human_bytes(pmd_mapped(view, checkpoint::AFTER_READ_ALL)),
        pte,
    ]
}
