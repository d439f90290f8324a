//! /proc/PID/status: the whole-process Vm* and Rss* figures.

use std::path::Path;

use procfs_core::process::Status;
use procfs_core::FromBufRead;

use crate::error::ProbeError;
use crate::model::Totals;

/// The status figures in bytes (the kernel writes KiB). Pss and USS are left at 0;
/// they come from smaps.
pub fn parse_totals(text: &str, path: &Path) -> Result<Totals, ProbeError> {
    let status = Status::from_buf_read(text.as_bytes()).map_err(|e| {
        let line_no = text.lines().count();
        super::parse_error(path, text, line_no, e.to_string())
    })?;
    let vm_size = status.vmsize.ok_or_else(|| {
        super::parse_error(
            path,
            text,
            0,
            "no VmSize line (a kernel thread, or the file was cut short)",
        )
    })?;
    let bytes = |kib: Option<u64>| kib.unwrap_or(0) * 1024;
    Ok(Totals {
        vm_size_bytes: vm_size * 1024,
        rss_bytes: bytes(status.vmrss),
        rss_anon_bytes: bytes(status.rssanon),
        rss_file_bytes: bytes(status.rssfile),
        rss_shmem_bytes: bytes(status.rssshmem),
        mapped_rss_bytes: 0,
        pss_bytes: 0,
        uss_bytes: 0,
        pte_bytes: bytes(status.vmpte),
        stack_bytes: bytes(status.vmstk),
        swap_bytes: bytes(status.vmswap),
    })
}
