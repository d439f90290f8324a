//! The /proc files the harness reads: smaps (and smaps_rollup), status,
//! stat, meminfo and zoneinfo, each given the same bytes.
#![no_main]

use harness::probe::{meminfo, smaps, stat, status};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = std::path::Path::new("/proc/1/x");
    let _ = smaps::parse(text, path);
    let _ = status::parse_totals(text, path);
    let _ = stat::parse_faults(text, path);
    let _ = meminfo::parse(text);
    let _ = meminfo::parse_pcp_pages(text);
});
