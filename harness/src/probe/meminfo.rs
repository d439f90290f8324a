//! /proc/meminfo: the system-wide counters some experiments judge (Committed_AS,
//! PageTables, KernelStack, Slab, ...), parsed by procfs-core.

use std::path::PathBuf;

use crate::error::ProbeError;
use crate::model::SystemCounters;
use crate::system::{parse_meminfo, Root, MEMINFO};

/// The counters the model records, from /proc/meminfo's text. A field the
/// harness needs that the kernel does not write is an error naming it, so a
/// record never shows a 0 that was not measured. The one exception is
/// AnonHugePages: a kernel without transparent huge pages omits it, and there
/// it is truly 0.
pub fn parse(text: &str) -> Result<SystemCounters, ProbeError> {
    let m = parse_meminfo(text)?;
    let need = |value: Option<u64>, field: &str| {
        value.ok_or_else(|| ProbeError::Incomplete {
            path: PathBuf::from(MEMINFO),
            reason: format!("no {field} field, so the system counters are not recorded"),
        })
    };
    Ok(SystemCounters {
        mem_free_bytes: m.mem_free,
        mem_available_bytes: need(m.mem_available, "MemAvailable")?,
        anon_pages_bytes: need(m.anon_pages, "AnonPages")?,
        mapped_bytes: m.mapped,
        page_tables_bytes: need(m.page_tables, "PageTables")?,
        kernel_stack_bytes: need(m.kernel_stack, "KernelStack")?,
        slab_bytes: m.slab,
        slab_unreclaimable_bytes: need(m.s_unreclaim, "SUnreclaim")?,
        committed_as_bytes: m.committed_as,
        commit_limit_bytes: need(m.commit_limit, "CommitLimit")?,
        anon_huge_pages_bytes: m.anon_hugepages.unwrap_or(0),
        pcp_free_bytes: 0,
        vmstat: None,
    })
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

/// Reads and parses the /proc/meminfo under `root` (a fixture tree in tests).
pub fn read_in(root: &Root) -> Result<SystemCounters, ProbeError> {
    let path = root.path(MEMINFO);
    let text = std::fs::read_to_string(&path).map_err(|source| ProbeError::Io { path, source })?;
    let mut counters = parse(&text)?;
    // Unreadable zoneinfo leaves the correction at 0; the counters still stand.
    if let Ok(zoneinfo) = std::fs::read_to_string(root.path("/proc/zoneinfo")) {
        counters.pcp_free_bytes =
            parse_pcp_pages(&zoneinfo).saturating_mul(experiments::pages::page_size() as u64);
    }
    Ok(counters)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_ending_in_a_non_ascii_character_is_an_error_not_a_panic() {
        for text in ["MemTotalé: 5 kB\n", "MemTotal\u{e9}:\n", "é\n"] {
            assert!(parse(text).is_err(), "{text:?}");
        }
    }

    /// This machine's /proc/meminfo (see tests/fixtures/machine/NOTES.md).
    const CAPTURED: &str = include_str!("../../tests/fixtures/machine/proc/meminfo");

    /// The value of `field` in the captured text, in bytes, read independently
    /// of procfs-core so the test checks the parser rather than itself.
    fn captured_bytes(field: &str) -> u64 {
        let line = CAPTURED
            .lines()
            .find(|l| l.split(':').next() == Some(field))
            .unwrap_or_else(|| panic!("{field} in the capture"));
        let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
        kib * 1024
    }

    #[test]
    fn captured_counters_are_read_in_bytes() {
        let c = parse(CAPTURED).expect("a real meminfo parses");
        assert_eq!(c.mem_free_bytes, captured_bytes("MemFree"));
        assert_eq!(c.mem_available_bytes, captured_bytes("MemAvailable"));
        assert_eq!(c.page_tables_bytes, captured_bytes("PageTables"));
        assert_eq!(c.committed_as_bytes, captured_bytes("Committed_AS"));
        assert_eq!(c.kernel_stack_bytes, captured_bytes("KernelStack"));
        assert_eq!(c.slab_unreclaimable_bytes, captured_bytes("SUnreclaim"));
        assert_eq!(c.anon_huge_pages_bytes, captured_bytes("AnonHugePages"));
        assert!(c.mem_free_bytes > 0 && c.committed_as_bytes > 0, "{c:?}");
    }

    #[test]
    fn a_missing_needed_field_is_an_error_naming_it_not_a_zero() {
        let without: String = CAPTURED
            .lines()
            .filter(|l| !l.starts_with("KernelStack:"))
            .map(|l| format!("{l}\n"))
            .collect();
        let err = parse(&without).expect_err("KernelStack is needed");
        let text = err.to_string();
        assert!(
            text.contains("KernelStack") && text.contains(MEMINFO),
            "{text}"
        );
    }

    #[test]
    fn text_that_is_not_meminfo_is_an_error_naming_the_file() {
        let err = parse("MemFree: lots\n").expect_err("not meminfo");
        assert!(err.to_string().contains(MEMINFO), "{err}");
    }

    #[test]
    fn a_value_beyond_u64_bytes_is_refused_with_its_line() {
        let text = CAPTURED.replacen("MemFree:", "MemFree: 18014398509481984 kB\nX:", 1);
        let err = parse(&text).expect_err("too large");
        assert!(
            matches!(&err, ProbeError::Parse { line_no: 2, .. }),
            "{err:?}"
        );
    }

    #[test]
    fn per_cpu_free_pages_are_summed_over_every_pageset() {
        let zoneinfo = "Node 0, zone   Normal\n  pagesets\n    cpu: 0\n              count:    63\n              high:     2575\n    cpu: 1\n              count: 7\nNode 0, zone  Movable\n  pages free     0\n        count:  99\n";
        assert_eq!(parse_pcp_pages(zoneinfo), 70);
    }
}
