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
    }
}

/// Reads and parses /proc/meminfo.
pub fn read() -> Result<SystemCounters, ProbeError> {
    let path = Path::new("/proc/meminfo");
    let text = std::fs::read_to_string(path).map_err(|source| ProbeError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(parse(&text))
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
}
