//! /proc/vmstat: the machine-wide event counters that explain a phase (why no
//! huge page arrived, why a read went to storage), parsed without I/O.

use crate::error::ProbeError;
use crate::model::VmstatCounters;
use crate::system::Root;

/// Where the kernel shows them.
pub const VMSTAT: &str = "/proc/vmstat";

/// The counters the model records, from /proc/vmstat's `name value` lines; a
/// counter this kernel does not write stays `None`.
pub fn parse(text: &str) -> VmstatCounters {
    let mut c = VmstatCounters::default();
    for line in text.lines() {
        let mut words = line.split_whitespace();
        let (Some(name), Some(value)) = (words.next(), words.next()) else {
            continue;
        };
        let Ok(value) = value.parse::<u64>() else {
            continue;
        };
        let slot = match name {
            "thp_fault_alloc" => &mut c.thp_fault_alloc,
            "thp_fault_fallback" => &mut c.thp_fault_fallback,
            "pgmajfault" => &mut c.pgmajfault,
            "compact_stall" => &mut c.compact_stall,
            "workingset_refault_file" => &mut c.workingset_refault_file,
            _ => continue,
        };
        *slot = Some(value);
    }
    c
}

/// Reads and parses /proc/vmstat.
pub fn read() -> Result<VmstatCounters, ProbeError> {
    read_in(&Root::live())
}

/// Reads and parses the /proc/vmstat under `root` (a fixture tree in tests).
pub fn read_in(root: &Root) -> Result<VmstatCounters, ProbeError> {
    let path = root.path(VMSTAT);
    std::fs::read_to_string(&path)
        .map(|t| parse(&t))
        .map_err(|source| ProbeError::Io { path, source })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_named_counters_are_read_and_missing_ones_stay_unknown() {
        let c = parse(
            "nr_free_pages 12\nthp_fault_alloc 7\nthp_fault_fallback 3\npgmajfault 99\ncompact_stall 0\n",
        );
        assert_eq!(c.thp_fault_alloc, Some(7));
        assert_eq!(c.thp_fault_fallback, Some(3));
        assert_eq!(c.pgmajfault, Some(99));
        assert_eq!(c.compact_stall, Some(0));
        assert_eq!(c.workingset_refault_file, None);
        let later = VmstatCounters {
            thp_fault_fallback: Some(10),
            ..c
        };
        assert_eq!(
            later.delta_text(&c),
            "thp_fault_alloc +0, thp_fault_fallback +7, pgmajfault +0, compact_stall +0, workingset_refault_file unknown"
        );
    }

    #[test]
    fn this_machines_vmstat_has_the_fault_counters() {
        let c = read().expect("/proc/vmstat is readable");
        assert!(c.pgmajfault.is_some());
    }
}
