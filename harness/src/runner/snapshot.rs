//! One process read into a [`ProcessRecord`], for callers that find their
//! processes themselves (a traced program's tree, a watched pid) instead of being
//! told them by the checkpoint protocol. The figures are the same the runner
//! records at a protocol checkpoint.

use std::path::Path;

use crate::error::ProbeError;
use crate::model::{Faults, ProcessRecord};
use crate::probe::{parse_snapshot, Probe, RawSnapshot};

/// A declared address range: name, first address, length in bytes.
pub type Region<'a> = (&'a str, u64, u64);

/// Reads `pid` through `probe` and builds its record under `role`. `before` is
/// the cumulative fault count of the previous snapshot of the same process
/// (`None` at first sight, when the counters since fork are the phase's).
/// `regions` are summed over the mappings they overlap, and their pages looked
/// up in pagemap when `page_size` is known.
pub fn snapshot_process(
    probe: &dyn Probe,
    role: &str,
    pid: i32,
    before: Option<Faults>,
    regions: &[Region<'_>],
    page_size: u64,
) -> Result<(ProcessRecord, RawSnapshot), ProbeError> {
    let raw = probe.read(pid)?;
    let parsed = parse_snapshot(&raw, Path::new(&format!("/proc/{pid}")))?;
    let faults = match before {
        Some(b) => Faults {
            minor: parsed.faults_total.minor.saturating_sub(b.minor),
            major: parsed.faults_total.major.saturating_sub(b.major),
        },
        None => parsed.faults_total,
    };
    let regions = regions
        .iter()
        .map(|(name, start, len)| {
            let mut region =
                super::region_figures(&(name.to_string(), *start, *len), &parsed.mappings);
            if region.mapping_count > 0 && page_size > 0 {
                region.pagemap = probe.region_pagemap(pid, *start, *len, page_size);
            }
            region
        })
        .collect();
    let record = ProcessRecord {
        role: role.to_string(),
        pid,
        faults,
        faults_total: parsed.faults_total,
        totals: parsed.totals,
        regions,
        mappings: parsed.mappings,
        io: probe.io(pid),
        state: None,
    };
    Ok((record, raw))
}
