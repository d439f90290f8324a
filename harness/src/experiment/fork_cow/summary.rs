//! Parent and child side by side, one row per checkpoint, for each variant
//! with one child: the region's Rss, Pss and Private_Dirty, and the phase's
//! faults.

use experiments::catalog::fork_cow::region::DATA;
use experiments::catalog::fork_cow::role::{CHILD, PARENT};
use experiments::catalog::fork_cow::variant;

use super::super::human_bytes;
use crate::model::{ExperimentRecord, ProcessRecord, Status, SummaryTable};

/// One table per one-child variant that ran.
pub(super) fn tables(record: &ExperimentRecord) -> Vec<SummaryTable> {
    record
        .variants
        .iter()
        .filter(|v| v.status == Status::Ok && v.name != variant::ZYGOTE)
        .map(|v| SummaryTable {
            title: format!("{}: the region in parent and child", v.name),
            headers: [
                "checkpoint",
                "parent Rss",
                "parent Pss",
                "parent Private_Dirty",
                "parent faults (min / maj)",
                "child Rss",
                "child Pss",
                "child Private_Dirty",
                "child faults (min / maj)",
            ]
            .map(String::from)
            .to_vec(),
            rows: v
                .checkpoints
                .iter()
                .map(|c| {
                    let mut row = vec![c.label.clone()];
                    row.extend(side(c.process(PARENT)));
                    row.extend(side(c.process(CHILD)));
                    row
                })
                .collect(),
        })
        .collect()
}

/// One process's cells: the region's Rss, Pss, Private_Dirty and the faults.
fn side(p: Option<&ProcessRecord>) -> [String; 4] {
    match p {
        None => ["-", "-", "-", "-"].map(String::from),
        Some(p) => {
            let f = p
                .region(DATA)
                .map(|r| r.figures.clone())
                .unwrap_or_default();
            [
                human_bytes(f.rss_bytes),
                human_bytes(f.pss_bytes),
                human_bytes(f.private_dirty_bytes),
                format!("{} / {}", p.faults.minor, p.faults.major),
            ]
        }
    }
}
