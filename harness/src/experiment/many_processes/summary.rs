//! The tables that show many-processes' point at a glance: what one more
//! worker costs part by part, the workers' figures summed as ps would, and the
//! kernel's counters at every checkpoint.

use super::super::human_bytes;
use super::claims::{signed, Costs};
use crate::model::{
    ExperimentRecord, MemberFigures, Status, SummaryTable, SystemCounters, VariantRecord,
};

/// The summary tables, if the variant ran.
pub(super) fn tables(record: &ExperimentRecord) -> Vec<SummaryTable> {
    let Some(variant) = record.variants.iter().find(|v| v.status == Status::Ok) else {
        return Vec::new();
    };
    let mut tables = Vec::new();
    if let Some(costs) = Costs::of(variant) {
        tables.push(cost_table(&costs));
        tables.push(sums_table(&costs));
    }
    tables.push(counters_table(variant));
    tables
}

/// What one more worker costs, part by part.
fn cost_table(c: &Costs<'_>) -> SummaryTable {
    let n = c.n as i64;
    let mut rows = vec![
        vec![
            "private user pages (Σ USS / N)".to_string(),
            human_bytes(c.user_private()),
            human_bytes(c.user_private() * c.n),
            "each worker's smaps_rollup".into(),
        ],
        vec![
            "page tables (Σ VmPTE / N)".into(),
            human_bytes(c.page_tables()),
            human_bytes(c.page_tables() * c.n),
            "each worker's status".into(),
        ],
    ];
    for (name, f) in [
        (
            "AnonPages",
            (|s: &SystemCounters| s.anon_pages_bytes) as fn(&SystemCounters) -> u64,
        ),
        ("PageTables", |s| s.page_tables_bytes),
        ("KernelStack", |s| s.kernel_stack_bytes),
        ("Slab", |s| s.slab_bytes),
        ("SUnreclaim", |s| s.slab_unreclaimable_bytes),
        ("MemAvailable", |s| s.mem_available_bytes),
        ("(MemAvailable + per-CPU free pages)", |s| {
            s.mem_available_bytes + s.pcp_free_bytes
        }),
    ] {
        let (during, residual) = c.per_worker(f);
        rows.push(vec![
            format!("Δ {name} / N"),
            signed(during),
            signed(during * n),
            format!(
                "system-wide counters (meminfo, zoneinfo); {} per worker left after exit",
                signed(residual)
            ),
        ]);
    }
    let parts = c.user_private() as i64
        + c.page_tables() as i64
        + c.per_worker(|s| s.kernel_stack_bytes).0
        + c.per_worker(|s| s.slab_bytes).0;
    rows.push(vec![
        "USS + VmPTE + Δ KernelStack + Δ Slab".into(),
        signed(parts),
        signed(parts * n),
        "the parts above, to compare with the fall of MemAvailable + per-CPU free pages".into(),
    ]);
    SummaryTable {
        title: format!("what one more worker costs ({} workers)", c.n),
        headers: ["component", "per worker", "all workers", "measured from"]
            .map(String::from)
            .to_vec(),
        rows,
    }
}

/// The workers' figures as ps would add them up.
fn sums_table(c: &Costs<'_>) -> SummaryTable {
    let sum = &c.population.sum;
    let member = |f: fn(&MemberFigures) -> u64| {
        let min = c
            .population
            .members
            .iter()
            .map(|m| f(&m.figures))
            .min()
            .unwrap_or(0);
        let max = c
            .population
            .members
            .iter()
            .map(|m| f(&m.figures))
            .max()
            .unwrap_or(0);
        format!("{} – {}", human_bytes(min), human_bytes(max))
    };
    let rows = vec![
        vec![
            "VmSize".to_string(),
            human_bytes(sum.vm_size_bytes),
            human_bytes(sum.vm_size_bytes / c.n),
            member(|f| f.vm_size_bytes),
        ],
        vec![
            "VmRSS".into(),
            human_bytes(sum.rss_bytes),
            human_bytes(sum.rss_bytes / c.n),
            member(|f| f.rss_bytes),
        ],
        vec![
            "RssFile".into(),
            human_bytes(sum.rss_file_bytes),
            human_bytes(sum.rss_file_bytes / c.n),
            member(|f| f.rss_file_bytes),
        ],
        vec![
            "RssAnon".into(),
            human_bytes(sum.rss_anon_bytes),
            human_bytes(sum.rss_anon_bytes / c.n),
            member(|f| f.rss_anon_bytes),
        ],
        vec![
            "Pss".into(),
            human_bytes(sum.pss_bytes),
            human_bytes(sum.pss_bytes / c.n),
            member(|f| f.pss_bytes),
        ],
        vec![
            "USS".into(),
            human_bytes(sum.uss_bytes),
            human_bytes(sum.uss_bytes / c.n),
            member(|f| f.uss_bytes),
        ],
        vec![
            "VmPTE".into(),
            human_bytes(sum.pte_bytes),
            human_bytes(sum.pte_bytes / c.n),
            member(|f| f.pte_bytes),
        ],
    ];
    SummaryTable {
        title: format!(
            "the workers as ps would add them up ({} found, {} vanished while read)",
            c.population.count, c.population.vanished
        ),
        headers: ["figure", "Σ all workers", "mean", "min – max"]
            .map(String::from)
            .to_vec(),
        rows,
    }
}
/// The machine-wide counters at every checkpoint.
fn counters_table(variant: &VariantRecord) -> SummaryTable {
    let mut rows = Vec::new();
    for c in &variant.checkpoints {
        let Some(s) = c.system else { continue };
        rows.push(vec![
            c.label.clone(),
            c.population
                .as_ref()
                .map_or("-".into(), |p| p.members.len().to_string()),
            human_bytes(s.mem_available_bytes),
            human_bytes(s.anon_pages_bytes),
            human_bytes(s.page_tables_bytes),
            human_bytes(s.kernel_stack_bytes),
            human_bytes(s.slab_bytes),
            human_bytes(s.slab_unreclaimable_bytes),
        ]);
    }
    SummaryTable {
        title: "the kernel's counters (/proc/meminfo, whole machine)".into(),
        headers: [
            "checkpoint",
            "workers",
            "MemAvailable",
            "AnonPages",
            "PageTables",
            "KernelStack",
            "Slab",
            "SUnreclaim",
        ]
        .map(String::from)
        .to_vec(),
        rows,
    }
}
