//! How the loadable segments of an ELF file (its PT_LOAD and PT_GNU_RELRO
//! program headers, as `readelf -l` shows them) became the mappings of a
//! process: the load bias, the holes a loader leaves between segments, and the
//! permissions and offsets each segment's mappings should have.
//!
//! It reads a file and returns plain values, so a judge can compare them with
//! the mappings of a snapshot.

use std::path::{Path, PathBuf};

use super::{open, program_headers, read_bytes, ElfError, LoadSegment};
use crate::model::MappingRecord;

/// What an ELF file asks the loader to map.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElfSegments {
    /// The file read.
    pub path: PathBuf,
    /// Its PT_LOAD headers in file order, each with its index among all the
    /// file's program headers.
    pub loads: Vec<(usize, LoadSegment)>,
    /// The PT_GNU_RELRO range (vaddr, size): made read-only after relocation.
    pub relro: Option<(u64, u64)>,
}

impl LoadSegment {
    /// The permissions of /proc/PID/maps these flags give a private mapping
    /// (`R E` → `r-xp`, `RW ` → `rw-p`).
    pub fn expected_perms(&self) -> String {
        let has = |letter: char, shown: char| {
            if self.flags.contains(letter) {
                shown
            } else {
                '-'
            }
        };
        format!("{}{}{}p", has('R', 'r'), has('W', 'w'), has('E', 'x'))
    }
}

/// Reads the program headers of `path`.
pub fn read(path: &Path) -> Result<ElfSegments, ElfError> {
    let data = read_bytes(path)?;
    let headers = program_headers(&open(&path.display().to_string(), &data)?);
    Ok(ElfSegments {
        path: path.to_path_buf(),
        loads: headers.loads,
        relro: headers.relro,
    })
}

/// How one PT_LOAD segment shows up in a process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentMatch {
    /// The segment's index among the file's program headers.
    pub index: usize,
    /// The segment.
    pub segment: LoadSegment,
    /// The mappings of the file that cover its file-backed part, in address order.
    pub mappings: Vec<MappingRecord>,
    /// Whether each of them has the permissions the flags (or RELRO) call for.
    pub perms_ok: bool,
    /// Whether each of them maps the file offset the segment says.
    pub offsets_ok: bool,
    /// How many of them lie in the RELRO range (read-only after relocation).
    pub relro_mappings: usize,
    /// An anonymous mapping right after the file-backed part, holding the rest of .bss.
    pub bss_mapping: Option<MappingRecord>,
}

fn floor(x: u64, page: u64) -> u64 {
    x / page * page
}

fn ceil(x: u64, page: u64) -> u64 {
    // Saturating: a segment of a damaged file may end past u64::MAX.
    x.div_ceil(page).saturating_mul(page)
}

impl ElfSegments {
    /// The load bias: where the first segment landed, minus where it asked to be
    /// (0 for a fixed-address executable, the random base for PIE and libraries).
    pub fn load_bias(&self, mappings: &[MappingRecord], page: u64) -> Option<u64> {
        let name = self.path.to_string_lossy();
        let (_, first) = self.loads.iter().min_by_key(|(_, l)| l.vaddr)?;
        let start = mappings
            .iter()
            .filter(|m| m.name == name && m.offset_bytes == floor(first.offset, page))
            .map(MappingRecord::range)
            .map(|(s, _)| s)
            .min()?;
        start.checked_sub(floor(first.vaddr, page))
    }

    /// The holes between consecutive PT_LOAD segments, as page-aligned address
    /// ranges relative to the file's own addresses: where a loader that maps the
    /// file as one reservation must leave inaccessible address space.
    pub fn holes(&self, page: u64) -> Vec<(u64, u64)> {
        let page = page.max(1);
        let mut loads: Vec<&LoadSegment> = self.loads.iter().map(|(_, l)| l).collect();
        loads.sort_by_key(|l| l.vaddr);
        loads
            .windows(2)
            .filter_map(|pair| {
                let end = ceil(pair[0].vaddr.saturating_add(pair[0].mem_bytes), page);
                let next = floor(pair[1].vaddr, page);
                (next > end).then_some((end, next))
            })
            .collect()
    }

    /// Matches every PT_LOAD segment to the mappings of this file in `mappings`.
    pub fn match_mappings(
        &self,
        mappings: &[MappingRecord],
        page: u64,
    ) -> Option<Vec<SegmentMatch>> {
        let page = page.max(1);
        let bias = self.load_bias(mappings, page)?;
        let name = self.path.to_string_lossy();
        // glibc and the kernel make whole pages read-only, rounding the end down.
        let relro = self.relro.map(|(vaddr, size)| {
            (
                bias.wrapping_add(floor(vaddr, page)),
                bias.wrapping_add(floor(vaddr.saturating_add(size), page)),
            )
        });
        let mut out = Vec::new();
        for (index, seg) in &self.loads {
            let start = bias.wrapping_add(floor(seg.vaddr, page));
            let file_end = bias.wrapping_add(ceil(seg.vaddr.saturating_add(seg.file_bytes), page));
            let mem_end = bias.wrapping_add(ceil(seg.vaddr.saturating_add(seg.mem_bytes), page));
            let covering: Vec<MappingRecord> = mappings
                .iter()
                .filter(|m| m.name == name)
                .filter(|m| {
                    let (s, e) = m.range();
                    s < file_end && start < e
                })
                .cloned()
                .collect();
            let mut perms_ok = !covering.is_empty();
            let mut offsets_ok = !covering.is_empty();
            let mut relro_mappings = 0;
            for m in &covering {
                let (s, e) = m.range();
                let in_relro = relro.is_some_and(|(rs, re)| s >= rs && e <= re);
                let expected = if in_relro {
                    relro_mappings += 1;
                    "r--p".to_string()
                } else {
                    seg.expected_perms()
                };
                perms_ok &= m.perms == expected;
                offsets_ok &= s >= start
                    && Some(m.offset_bytes) == floor(seg.offset, page).checked_add(s - start);
            }
            let bss_mapping = (mem_end > file_end)
                .then(|| {
                    mappings
                        .iter()
                        .find(|m| m.start.0 == file_end && m.name.is_empty())
                        .cloned()
                })
                .flatten();
            out.push(SegmentMatch {
                index: *index,
                segment: seg.clone(),
                mappings: covering,
                perms_ok,
                offsets_ok,
                relro_mappings,
                bss_mapping,
            });
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segment(
        flags: &str,
        offset: u64,
        vaddr: u64,
        file_bytes: u64,
        mem_bytes: u64,
    ) -> LoadSegment {
        LoadSegment {
            flags: flags.into(),
            offset,
            vaddr,
            file_bytes,
            mem_bytes,
        }
    }

    fn load(vaddr: u64, mem_bytes: u64) -> (usize, LoadSegment) {
        (0, segment("R  ", vaddr, vaddr, mem_bytes, mem_bytes))
    }

    #[test]
    fn holes_lie_between_segments_that_are_not_page_contiguous() {
        let elf = ElfSegments {
            path: PathBuf::from("/lib/x.so"),
            // Contiguous after rounding, then a 0x1ff000 gap (2 MiB alignment).
            loads: vec![load(0, 0x1234), load(0x2000, 0x800), load(0x201000, 0x100)],
            relro: None,
        };
        assert_eq!(elf.holes(4096), vec![(0x3000, 0x201000)]);
        let contiguous = ElfSegments {
            path: PathBuf::from("/lib/y.so"),
            loads: vec![load(0, 0x1234), load(0x2000, 0x800)],
            relro: None,
        };
        assert!(contiguous.holes(4096).is_empty());
    }

    #[test]
    fn this_test_binary_has_a_readable_executable_segment_and_a_writable_one() {
        let exe = std::env::current_exe().unwrap();
        let elf = read(&exe).unwrap();
        assert!(elf.loads.iter().any(|(_, l)| l.expected_perms() == "r-xp"));
        assert!(elf.loads.iter().any(|(_, l)| l.flags.contains('W')));
        // Indices count every program header and rise in file order.
        assert!(elf.loads.windows(2).all(|w| w[0].0 < w[1].0), "{elf:?}");
    }

    #[test]
    fn both_views_of_a_file_list_the_same_segments() {
        let exe = std::env::current_exe().unwrap();
        let facts = crate::elf::read(&exe).unwrap();
        let segments: Vec<LoadSegment> = read(&exe)
            .unwrap()
            .loads
            .into_iter()
            .map(|(_, l)| l)
            .collect();
        assert_eq!(facts.load_segments, segments);
    }

    #[test]
    fn flags_become_maps_permissions() {
        assert_eq!(segment("R E", 0, 0, 1, 1).expected_perms(), "r-xp");
        assert_eq!(segment("RW ", 0, 0, 1, 1).expected_perms(), "rw-p");
        assert_eq!(segment("R  ", 0, 0, 1, 1).expected_perms(), "r--p");
    }

    fn mapping(start: u64, end: u64, perms: &str, offset: u64, name: &str) -> MappingRecord {
        MappingRecord {
            start: crate::model::Address(start),
            end: crate::model::Address(end),
            name: name.into(),
            perms: perms.into(),
            offset_bytes: offset,
            figures: Default::default(),
            other: Default::default(),
            vm_flags: String::new(),
        }
    }

    #[test]
    fn segments_match_their_mappings_with_relro_made_read_only() {
        let page = 4096;
        let elf = ElfSegments {
            path: "/lib/libx.so".into(),
            loads: vec![
                (1, segment("R E", 0, 0, 0x1800, 0x1800)),
                // Data: one RELRO page, one writable page, then .bss beyond the file.
                (3, segment("RW ", 0x1e00, 0x2e00, 0x1300, 0x3000)),
            ],
            relro: Some((0x2e00, 0x200)),
        };
        let base = 0x7f00_0000_0000;
        let maps = [
            mapping(base, base + 0x2000, "r-xp", 0, "/lib/libx.so"),
            mapping(base + 0x2000, base + 0x3000, "r--p", 0x1000, "/lib/libx.so"),
            mapping(base + 0x3000, base + 0x5000, "rw-p", 0x2000, "/lib/libx.so"),
            mapping(base + 0x5000, base + 0x6000, "rw-p", 0, ""),
        ];
        let matched = elf.match_mappings(&maps, page).unwrap();
        assert_eq!(matched.len(), 2);
        assert_eq!((matched[0].index, matched[1].index), (1, 3));
        assert!(matched[0].perms_ok && matched[0].offsets_ok);
        assert_eq!(matched[1].mappings.len(), 2);
        assert_eq!(matched[1].relro_mappings, 1);
        assert!(
            matched[1].perms_ok && matched[1].offsets_ok,
            "{:?}",
            matched[1]
        );
        assert!(matched[1].bss_mapping.is_some());
        // A writable mapping where the flags say code is a mismatch.
        let mut wrong = maps.clone();
        wrong[0].perms = "rwxp".into();
        assert!(!elf.match_mappings(&wrong, page).unwrap()[0].perms_ok);
    }

    #[test]
    fn a_file_that_is_not_elf_is_a_parse_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("not-elf");
        std::fs::write(&path, b"hello").unwrap();
        let err = read(&path).unwrap_err().to_string();
        assert!(err.contains("not-elf"), "{err}");
    }
}
