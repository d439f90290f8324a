//! lazy-alloc's table: per variant, the main process's address space, memory,
//! page tables and the system's commit at every checkpoint.

use experiments::catalog::lazy_alloc::{checkpoint, role};

use super::super::{human_bytes, signed_bytes};
use crate::model::{ExperimentRecord, Status, SummaryTable, VariantRecord};

/// One table per variant that ran to its end.
pub(super) fn tables(record: &ExperimentRecord) -> Vec<SummaryTable> {
    record
        .variants
        .iter()
        .filter(|v| v.status == Status::Ok)
        .map(table)
        .collect()
}

fn table(variant: &VariantRecord) -> SummaryTable {
    let base = variant
        .checkpoint(checkpoint::BEFORE_MMAP)
        .and_then(|c| c.system)
        .map(|s| s.committed_as_bytes);
    let mut table = SummaryTable {
        title: format!(
            "{}: address space, memory, page tables and commit",
            variant.name
        ),
        headers: [
            "checkpoint",
            "VmSize",
            "VmRSS",
            "VmPTE",
            "AnonHugePages",
            "minor faults",
            "Committed_AS",
            "Δ Committed_AS",
        ]
        .map(String::from)
        .to_vec(),
        rows: Vec::new(),
    };
    for c in &variant.checkpoints {
        let Some(p) = c.process(role::MAIN) else {
            continue;
        };
        let huge: u64 = p
            .mappings
            .iter()
            .map(|m| m.figures.anon_huge_pages_bytes)
            .sum();
        let commit = c.system.map(|s| s.committed_as_bytes);
        table.rows.push(vec![
            c.label.clone(),
            human_bytes(p.totals.vm_size_bytes),
            human_bytes(p.totals.rss_bytes),
            human_bytes(p.totals.pte_bytes),
            human_bytes(huge),
            p.faults.minor.to_string(),
            commit.map_or("-".into(), human_bytes),
            match (commit, base) {
                (Some(c), Some(b)) => signed_bytes(c as i64 - b as i64),
                _ => "-".into(),
            },
        ]);
    }
    table
}
