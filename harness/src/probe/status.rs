//! /proc/PID/status: the whole-process Vm* and Rss* figures.

use std::path::Path;

use procfs_core::process::Status;
use procfs_core::FromBufRead;

use crate::error::ProbeError;
use crate::model::Totals;

/// The status figures in bytes (the kernel writes KiB). Pss and USS are left at 0;
/// they come from smaps.
pub fn parse_totals(text: &str, path: &Path) -> Result<Totals, ProbeError> {
    check_lines(text, path)?;
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
    let bytes = |kib: Option<u64>| kib.unwrap_or(0).saturating_mul(1024);
    Ok(Totals {
        vm_size_bytes: bytes(Some(vm_size)),
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

/// Every line is `Key:\tvalue`, and every value in kB is a number a byte count
/// can hold, so a malformed or corrupt file is reported at its line (the parser
/// underneath says only that something failed) and no figure overflows.
fn check_lines(text: &str, path: &Path) -> Result<(), ProbeError> {
    for (index, line) in text.lines().enumerate() {
        let error = |reason: &str| super::parse_error(path, text, index + 1, reason);
        let (key, value) = line
            .split_once(':')
            .ok_or_else(|| error("expected 'Key: value'"))?;
        if key.is_empty() || key.contains(char::is_whitespace) {
            return Err(error("expected 'Key: value'"));
        }
        if let Some(kib) = value.trim().strip_suffix(" kB") {
            let fits = kib
                .trim()
                .parse::<u64>()
                .is_ok_and(|n| n.checked_mul(1024).is_some());
            if !fits {
                return Err(error(
                    "expected a number of kB that fits in 64 bits as bytes",
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATUS: &str = include_str!("../../tests/fixtures/proc/thp-anonymous/status");

    #[test]
    fn a_captured_status_parses_in_bytes() {
        let totals = parse_totals(STATUS, Path::new("status")).unwrap();
        assert!(totals.vm_size_bytes > 0 && totals.vm_size_bytes % 1024 == 0);
    }

    #[test]
    fn a_value_too_large_for_bytes_is_a_parse_error_at_its_line() {
        let text = STATUS.replacen("VmSize:", "VmSize:\t18446744073709551615 kB\nVmOld:", 1);
        let line = text.lines().position(|l| l.starts_with("VmSize:")).unwrap() + 1;
        let err = parse_totals(&text, Path::new("status")).unwrap_err();
        assert!(
            matches!(&err, ProbeError::Parse { line_no, .. } if *line_no == line),
            "{err}"
        );
    }

    #[test]
    fn a_line_without_a_colon_is_a_parse_error_with_its_text() {
        let text = format!("{STATUS}garbage here\n");
        let err = parse_totals(&text, Path::new("/proc/1/status")).unwrap_err();
        assert!(err.to_string().contains("garbage here"), "{err}");
        assert!(err.to_string().contains("/proc/1/status"), "{err}");
    }
}
