//! /proc/meminfo: the system-wide counters some experiments judge (Committed_AS,
//! PageTables, KernelStack, Slab, ...).

use std::path::Path;

use crate::error::ProbeError;
use crate::model::SystemCounters;
use crate::system::meminfo_bytes;

/// Parses the counters the model records; a missing field (an older kernel) reads 0.
pub fn parse(text: &str) -> SystemCounters {
    let get = |key: &str| meminfo_bytes(text, key).unwrap_or(0);
    SystemCounters {
        mem_free_bytes: get("MemFree"),
        mem_available_bytes: get("MemAvailable"),
        anon_pages_bytes: get("AnonPages"),
        mapped_bytes: get("Mapped"),
        page_tables_bytes: get("PageTables"),
        kernel_stack_bytes: get("KernelStack"),
        slab_bytes: get("Slab"),
        slab_unreclaimable_bytes: get("SUnreclaim"),
        committed_as_bytes: get("Committed_AS"),
        commit_limit_bytes: get("CommitLimit"),
        anon_huge_pages_bytes: get("AnonHugePages"),
        pcp_free_bytes: 0,
    }
}

/// Pages on the per-CPU free lists: the `count:` lines of every per-CPU pageset
/// in /proc/zoneinfo (the lines that follow a `cpu:` line), as a page count.
pub fn parse_pcp_pages(zoneinfo: &str) -> u64 {
    let mut in_cpu = false;
    let mut pages = 0;
    for line in zoneinfo.lines() {
        let line = line.trim();
        if line.starts_with("cpu:") {
            in_cpu = true;
        } else if in_cpu && line.starts_with("count:") {
            let count = line["count:".len()..].trim().parse::<u64>().unwrap_or(0);
            pages = count.saturating_add(pages);
            in_cpu = false;
        } else if line.starts_with("Node") {
            in_cpu = false;
        }
    }
    pages
}

/// Reads and parses /proc/meminfo.
pub fn read() -> Result<SystemCounters, ProbeError> {
    let path = Path::new("/proc/meminfo");
    let text = std::fs::read_to_string(path).map_err(|source| ProbeError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mut counters = parse(&text);
    // Unreadable zoneinfo leaves the correction at 0; the counters still stand.
    if let Ok(zoneinfo) = std::fs::read_to_string("/proc/zoneinfo") {
        counters.pcp_free_bytes =
            parse_pcp_pages(&zoneinfo).saturating_mul(experiments::pages::page_size() as u64);
    }
    Ok(counters)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_are_read_in_bytes() {
        let text =
            "MemFree:  100 kB\nPageTables:   8 kB\nCommitted_AS:  2048 kB\nKernelStack:  16 kB\n";
        let c = parse(text);
        assert_eq!(c.mem_free_bytes, 100 * 1024);
        assert_eq!(c.page_tables_bytes, 8 * 1024);
        assert_eq!(c.committed_as_bytes, 2 << 20);
        assert_eq!(c.kernel_stack_bytes, 16 * 1024);
        assert_eq!(c.slab_bytes, 0);
    }

    #[test]
    fn per_cpu_free_pages_are_summed_over_every_pageset() {
        let zoneinfo = "Node 0, zone   Normal\n  pagesets\n    cpu: 0\n              count:    63\n              high:     2575\n    cpu: 1\n              count: 7\nNode 0, zone  Movable\n  pages free     0\n        count:  99\n";
        assert_eq!(parse_pcp_pages(zoneinfo), 70);
    }
}
