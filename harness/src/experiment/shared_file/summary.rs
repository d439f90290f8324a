//! The table that shows shared-file's point at a glance: the file in each
//! sharer, and summed over the sharers, at every checkpoint.

use super::super::human_bytes;
use super::super::kit::Observed;
use super::claims::{cached_bytes, sharer_figures, LABELS};
use crate::model::{ExperimentRecord, MemoryFigures, Status, SummaryTable};
use crate::system::Environment;

/// The summary table, if the variant ran.
pub(super) fn tables(record: &ExperimentRecord, env: &Environment) -> Vec<SummaryTable> {
    let Some(variant) = record.variants.iter().find(|v| v.status == Status::Ok) else {
        return Vec::new();
    };
    let view = Observed { variant, env };
    let mut table = SummaryTable {
        title: "the file in each sharer, and summed over sharers".into(),
        headers: [
            "checkpoint",
            "sharers",
            "Rss each",
            "Pss each",
            "Shared_Clean each",
            "Σ Rss",
            "Σ Pss",
            "page cache",
        ]
        .map(String::from)
        .to_vec(),
        rows: Vec::new(),
    };
    for label in LABELS {
        let Some(c) = variant.checkpoint(label) else {
            continue;
        };
        let figures = sharer_figures(c);
        let range = |f: fn(&MemoryFigures) -> u64| {
            let min = figures.iter().map(f).min().unwrap_or(0);
            let max = figures.iter().map(f).max().unwrap_or(0);
            if min == max {
                human_bytes(min)
            } else {
                format!("{} – {}", human_bytes(min), human_bytes(max))
            }
        };
        table.rows.push(vec![
            label.to_string(),
            figures.len().to_string(),
            range(|f| f.rss_bytes),
            range(|f| f.pss_bytes),
            range(|f| f.shared_clean_bytes),
            human_bytes(figures.iter().map(|f| f.rss_bytes).sum()),
            human_bytes(figures.iter().map(|f| f.pss_bytes).sum()),
            cached_bytes(&view, label).map_or("-".into(), human_bytes),
        ]);
    }
    vec![table]
}
