//! fault-costs' table: the price list, one row per kind.

use experiments::catalog::fault_costs::note;

use super::super::human_bytes;
use super::prices::{ok_variant, price_variant, timing_caveat, KINDS};
use crate::model::{ExperimentRecord, SummaryTable};
use crate::system::Environment;

/// The price list table (one row per kind, with the reason where it is missing).
pub(super) fn tables(record: &ExperimentRecord, env: &Environment) -> Vec<SummaryTable> {
    let Some(variant) = ok_variant(record) else {
        return Vec::new();
    };
    let priced = price_variant(variant, env.page_size);
    let mut table = SummaryTable {
            title: format!(
                "price list: nanoseconds per fault (or fork, or page unmapped), timed inside the process, median and min – max over {} repetitions of wall time, and the median of the thread's CPU time{}",
                variant
                    .note(note::REPETITIONS)
                    .map_or("the".to_string(), |n| n.to_string()),
                timing_caveat(env).map(|c| format!(" ({c})")).unwrap_or_default()
            ),
            headers: [
                "kind",
                "unit",
                "units per rep",
                "bytes per rep",
                "ns per unit",
                "min – max",
                "CPU ns per unit",
                "ns per KiB",
                "major faults",
                "what",
            ]
            .map(String::from)
            .to_vec(),
            rows: Vec::new(),
        };
    for (kind, result) in KINDS.iter().zip(&priced) {
        table.rows.push(match result {
            Ok(c) => vec![
                c.kind.clone(),
                c.unit.clone(),
                format!("{:.1}", c.units_per_repetition),
                human_bytes(c.bytes),
                format!("{:.0}", c.nanos_per_unit.median),
                format!("{:.0} – {:.0}", c.nanos_per_unit.min, c.nanos_per_unit.max),
                c.cpu_nanos_per_unit
                    .map_or("-".into(), |s| format!("{:.0}", s.median)),
                format!("{:.1}", c.nanos_per_kib.median),
                c.major_faults.to_string(),
                match c
                    .compaction
                    .filter(|p| p.thp_fault_alloc.is_some_and(|n| n > 0))
                {
                    Some(p) => format!("{}; {}", kind.what, p.text()),
                    None => kind.what.to_string(),
                },
            ],
            Err(reason) => vec![
                kind.kind.to_string(),
                "-".into(),
                "-".into(),
                "-".into(),
                "-".into(),
                "-".into(),
                "-".into(),
                "-".into(),
                "-".into(),
                format!("not measured: {reason}"),
            ],
        });
    }
    vec![table]
}
