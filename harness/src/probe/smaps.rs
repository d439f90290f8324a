//! /proc/PID/smaps → [`MappingRecord`]s, in bytes.
//!
//! procfs-core does the parsing. Two things are added around it: a line check
//! first, so that a malformed or cut-short file is reported with its line number
//! and text (procfs-core's own errors carry neither), and the `VmFlags` text kept
//! as the kernel wrote it.

use std::collections::BTreeMap;
use std::path::Path;

use procfs_core::process::{MMapPath, MemoryMap, MemoryMaps};
use procfs_core::FromBufRead;

use crate::error::ProbeError;
use crate::model::{MappingRecord, MemoryFigures};

/// Parses the text of a smaps (or smaps_rollup) file.
pub fn parse(text: &str, path: &Path) -> Result<Vec<MappingRecord>, ProbeError> {
    let vm_flags = check_lines(text, path)?;
    let maps = MemoryMaps::from_buf_read(text.as_bytes())
        .map_err(|e| super::parse_error(path, text, text.lines().count(), e.to_string()))?;
    Ok(maps
        .into_iter()
        .zip(vm_flags)
        .map(|(map, flags)| to_record(map, flags))
        .collect())
}

/// Checks every line's shape, and that every entry ends with its VmFlags line (a
/// file cut short does not). Returns each entry's VmFlags text.
fn check_lines(text: &str, path: &Path) -> Result<Vec<String>, ProbeError> {
    let mut flags: Vec<Option<String>> = Vec::new();
    let mut last_line = 0;
    for (index, line) in text.lines().enumerate() {
        let line_no = index + 1;
        last_line = line_no;
        let error = |reason: &str| super::parse_error(path, text, line_no, reason);
        if line.starts_with(|c: char| c.is_ascii_uppercase()) {
            let Some(current) = flags.last_mut() else {
                return Err(error("a field line before the first mapping line"));
            };
            let (key, value) = line
                .split_once(':')
                .ok_or_else(|| error("a field line without ':'"))?;
            if key == "VmFlags" {
                *current = Some(value.trim().to_string());
            } else {
                let mut words = value.split_whitespace();
                let number = words.next().and_then(|n| n.parse::<u64>().ok());
                let unit = words.next();
                let unit_ok = unit.is_none_or(|u| u == "kB");
                if number.is_none() || !unit_ok || words.next().is_some() {
                    return Err(error("expected 'Key: <number> [kB]'"));
                }
                // The parser multiplies kB into bytes: the figure must fit.
                if unit.is_some() && number.and_then(|n| n.checked_mul(1024)).is_none() {
                    return Err(error("a size too large for 64 bits in bytes"));
                }
            }
        } else {
            if let Some(None) = flags.last() {
                return Err(error("the previous mapping has no VmFlags line"));
            }
            if !is_mapping_line(line) {
                return Err(error("expected 'start-end perms offset dev inode [path]'"));
            }
            // smaps_rollup's one pseudo-mapping has no VmFlags line.
            let is_rollup = line.trim_end().ends_with("[rollup]");
            flags.push(is_rollup.then(String::new));
        }
    }
    flags
        .into_iter()
        .map(|f| {
            f.ok_or_else(|| {
                super::parse_error(
                    path,
                    text,
                    last_line,
                    "cut short: the last mapping has no VmFlags line",
                )
            })
        })
        .collect()
}

fn is_mapping_line(line: &str) -> bool {
    let mut words = line.split_whitespace();
    let hex = |w: &str| !w.is_empty() && w.bytes().all(|b| b.is_ascii_hexdigit());
    let range_ok = words
        .next()
        .and_then(|r| r.split_once('-'))
        .is_some_and(|(a, b)| hex(a) && hex(b));
    let perms_ok = words.next().is_some_and(|p| p.len() == 4);
    let offset_ok = words.next().is_some_and(hex);
    let dev_ok = words
        .next()
        .and_then(|d| d.split_once(':'))
        .is_some_and(|(a, b)| hex(a) && hex(b));
    let inode_ok = words.next().is_some_and(|i| i.parse::<u64>().is_ok());
    range_ok && perms_ok && offset_ok && dev_ok && inode_ok
}

/// The name as /proc/PID/maps shows it.
pub fn path_name(path: &MMapPath) -> String {
    match path {
        MMapPath::Path(p) => p.display().to_string(),
        MMapPath::Heap => "[heap]".into(),
        MMapPath::Stack => "[stack]".into(),
        MMapPath::TStack(tid) => format!("[stack:{tid}]"),
        MMapPath::Vdso => "[vdso]".into(),
        MMapPath::Vvar => "[vvar]".into(),
        MMapPath::Vsyscall => "[vsyscall]".into(),
        MMapPath::Rollup => "[rollup]".into(),
        MMapPath::Anonymous => String::new(),
        MMapPath::Vsys(key) => format!("/SYSV{:08x}", *key as u32),
        MMapPath::Other(name) => format!("[{name}]"),
    }
}

fn to_record(map: MemoryMap, vm_flags: String) -> MappingRecord {
    let mut fields: BTreeMap<String, u64> = map.extension.map.into_iter().collect();
    let mut take = |key: &str| fields.remove(key).unwrap_or(0);
    let figures = MemoryFigures {
        size_bytes: take("Size"),
        rss_bytes: take("Rss"),
        pss_bytes: take("Pss"),
        shared_clean_bytes: take("Shared_Clean"),
        shared_dirty_bytes: take("Shared_Dirty"),
        private_clean_bytes: take("Private_Clean"),
        private_dirty_bytes: take("Private_Dirty"),
        anonymous_bytes: take("Anonymous"),
        anon_huge_pages_bytes: take("AnonHugePages"),
        swap_bytes: take("Swap"),
    };
    MappingRecord {
        start: crate::model::Address(map.address.0),
        end: crate::model::Address(map.address.1),
        name: path_name(&map.pathname),
        perms: map.perms.as_str(),
        offset_bytes: map.offset,
        figures,
        other: fields,
        vm_flags,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TWO_MAPPINGS: &str = "\
7f0000000000-7f0000003000 r--s 00000000 fe:00 1234                       /tmp/.tmpAbC/data (deleted)
Size:                 12 kB
KernelPageSize:        4 kB
MMUPageSize:           4 kB
Rss:                   8 kB
Pss:                   4 kB
Pss_Dirty:             0 kB
Shared_Clean:          8 kB
Shared_Dirty:          0 kB
Private_Clean:         0 kB
Private_Dirty:         0 kB
Referenced:            8 kB
Anonymous:             0 kB
KSM:                   0 kB
LazyFree:              0 kB
AnonHugePages:         0 kB
ShmemPmdMapped:        0 kB
FilePmdMapped:         0 kB
Shared_Hugetlb:        0 kB
Private_Hugetlb:       0 kB
Swap:                  0 kB
SwapPss:               0 kB
Locked:                0 kB
THPeligible:           0
VmFlags: rd sh mr mw me ms sd
7f0000003000-7f0000004000 rw-p 00000000 00:00 0                          [anon:glibc: malloc arena]
Size:                  4 kB
Rss:                   4 kB
Pss:                   4 kB
Private_Dirty:         4 kB
Anonymous:             4 kB
VmFlags: rd wr mr mw me ac sd
";

    #[test]
    fn parses_figures_in_bytes_and_keeps_unknown_fields() {
        let maps = parse(TWO_MAPPINGS, Path::new("smaps")).unwrap();
        assert_eq!(maps.len(), 2);
        let data = &maps[0];
        assert_eq!(data.name, "/tmp/.tmpAbC/data (deleted)");
        assert_eq!(data.perms, "r--s");
        assert_eq!(data.start.to_string(), "0x7f0000000000");
        assert_eq!(data.figures.size_bytes, 12 * 1024);
        assert_eq!(data.figures.pss_bytes, 4 * 1024);
        assert_eq!(data.figures.shared_clean_bytes, 8 * 1024);
        assert_eq!(data.other["Referenced"], 8 * 1024);
        assert_eq!(data.other["THPeligible"], 0);
        assert_eq!(data.vm_flags, "rd sh mr mw me ms sd");
        assert_eq!(maps[1].name, "[anon:glibc: malloc arena]");
        assert_eq!(maps[1].figures.anonymous_bytes, 4096);
    }

    #[test]
    fn a_smaps_cut_short_is_a_parse_error_naming_the_line() {
        let cut: String = TWO_MAPPINGS
            .lines()
            .take(30)
            .map(|l| format!("{l}\n"))
            .collect();
        let err = parse(&cut, Path::new("smaps")).unwrap_err();
        match err {
            ProbeError::Parse {
                line_no, reason, ..
            } => {
                assert_eq!(line_no, 30);
                assert!(reason.contains("cut short"), "{reason}");
            }
            other => panic!("expected a parse error, got {other}"),
        }
    }

    #[test]
    fn a_garbled_field_is_a_parse_error_with_its_text() {
        let bad = TWO_MAPPINGS.replace("Rss:                   8 kB", "Rss: eight kB");
        let err = parse(&bad, Path::new("smaps")).unwrap_err();
        match err {
            ProbeError::Parse { line_no, line, .. } => {
                assert_eq!(line_no, 5);
                assert_eq!(line, "Rss: eight kB");
            }
            other => panic!("expected a parse error, got {other}"),
        }
    }

    #[test]
    fn an_empty_smaps_has_no_mappings() {
        assert!(parse("", Path::new("smaps")).unwrap().is_empty());
    }
}
