//! The loadable segments of an ELF file (PT_LOAD and PT_GNU_RELRO program
//! headers, as `readelf -l` shows them), read with the `object` crate, and how to
//! find the mappings each one became in a process.
//!
//! Self-contained: it reads a file and returns plain values, so a judge can
//! compare them with the mappings of a snapshot.

use std::path::{Path, PathBuf};

use object::elf::{FileHeader64, PF_R, PF_W, PF_X, PT_GNU_RELRO, PT_LOAD};
use object::read::elf::{FileHeader, ProgramHeader};
use object::Endianness;

use crate::model::MappingRecord;
use crate::runner::parse_hex;

/// One PT_LOAD program header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadSegment {
    /// Index among the file's program headers.
    pub index: usize,
    /// p_offset: where the segment starts in the file, in bytes.
    pub offset: u64,
    /// p_vaddr: where it starts in memory before relocation.
    pub vaddr: u64,
    /// p_filesz: bytes taken from the file.
    pub file_size: u64,
    /// p_memsz: bytes in memory (more than file_size for .bss).
    pub mem_size: u64,
    /// p_flags: PF_R, PF_W, PF_X.
    pub flags: u32,
}

/// What an ELF file asks the loader to map.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElfSegments {
    /// The file read.
    pub path: PathBuf,
    /// Its PT_LOAD headers, in file order.
    pub loads: Vec<LoadSegment>,
    /// The PT_GNU_RELRO range (vaddr, size): made read-only after relocation.
    pub relro: Option<(u64, u64)>,
}

/// Reading an ELF file failed.
#[derive(Debug, thiserror::Error)]
pub enum ElfError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not a 64-bit ELF file, or its headers are damaged.
    #[error("{path} is not a 64-bit ELF file the harness can read: {reason}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

impl LoadSegment {
    /// The flags as `readelf -l` writes them (`R E`, `RW `).
    pub fn flags_text(&self) -> String {
        format!(
            "{}{}{}",
            if self.flags & PF_R.0 != 0 { 'R' } else { ' ' },
            if self.flags & PF_W.0 != 0 { 'W' } else { ' ' },
            if self.flags & PF_X.0 != 0 { 'E' } else { ' ' }
        )
    }

    /// The permissions of /proc/PID/maps these flags give a private mapping
    /// (`R E` → `r-xp`, `RW` → `rw-p`).
    pub fn expected_perms(&self) -> String {
        format!(
            "{}{}{}p",
            if self.flags & PF_R.0 != 0 { 'r' } else { '-' },
            if self.flags & PF_W.0 != 0 { 'w' } else { '-' },
            if self.flags & PF_X.0 != 0 { 'x' } else { '-' }
        )
    }
}

/// Reads the program headers of `path`.
pub fn read(path: &Path) -> Result<ElfSegments, ElfError> {
    let data = std::fs::read(path).map_err(|source| ElfError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let format = |reason: String| ElfError::Format {
        path: path.to_path_buf(),
        reason,
    };
    let header =
        FileHeader64::<Endianness>::parse(data.as_slice()).map_err(|e| format(e.to_string()))?;
    let endian = header.endian().map_err(|e| format(e.to_string()))?;
    let headers = header
        .program_headers(endian, data.as_slice())
        .map_err(|e| format(e.to_string()))?;
    let mut loads = Vec::new();
    let mut relro = None;
    for (index, ph) in headers.iter().enumerate() {
        match ph.p_type(endian) {
            PT_LOAD => loads.push(LoadSegment {
                index,
                offset: ph.p_offset(endian),
                vaddr: ph.p_vaddr(endian),
                file_size: ph.p_filesz(endian),
                mem_size: ph.p_memsz(endian),
                flags: ph.p_flags(endian).0,
            }),
            PT_GNU_RELRO => relro = Some((ph.p_vaddr(endian), ph.p_memsz(endian))),
            _ => {}
        }
    }
    Ok(ElfSegments {
        path: path.to_path_buf(),
        loads,
        relro,
    })
}

/// How one PT_LOAD segment shows up in a process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentMatch {
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
    x.div_ceil(page) * page
}

fn range(m: &MappingRecord) -> Option<(u64, u64)> {
    Some((parse_hex(&m.start)?, parse_hex(&m.end)?))
}

impl ElfSegments {
    /// The load bias: where the first segment landed, minus where it asked to be
    /// (0 for a fixed-address executable, the random base for PIE and libraries).
    pub fn load_bias(&self, mappings: &[MappingRecord], page: u64) -> Option<u64> {
        let name = self.path.to_string_lossy();
        let first = self.loads.iter().min_by_key(|l| l.vaddr)?;
        let start = mappings
            .iter()
            .filter(|m| m.name == name && m.offset_bytes == floor(first.offset, page))
            .filter_map(range)
            .map(|(s, _)| s)
            .min()?;
        start.checked_sub(floor(first.vaddr, page))
    }

    /// The holes between consecutive PT_LOAD segments, as page-aligned address
    /// ranges relative to the file's own addresses: where a loader that maps the
    /// file as one reservation must leave inaccessible address space.
    pub fn holes(&self, page: u64) -> Vec<(u64, u64)> {
        let page = page.max(1);
        let mut loads: Vec<&LoadSegment> = self.loads.iter().collect();
        loads.sort_by_key(|l| l.vaddr);
        loads
            .windows(2)
            .filter_map(|pair| {
                let end = ceil(pair[0].vaddr + pair[0].mem_size, page);
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
        let relro = self
            .relro
            .map(|(vaddr, size)| (bias + floor(vaddr, page), bias + floor(vaddr + size, page)));
        let mut out = Vec::new();
        for seg in &self.loads {
            let start = bias + floor(seg.vaddr, page);
            let file_end = bias + ceil(seg.vaddr + seg.file_size, page);
            let mem_end = bias + ceil(seg.vaddr + seg.mem_size, page);
            let covering: Vec<MappingRecord> = mappings
                .iter()
                .filter(|m| m.name == name)
                .filter(|m| range(m).is_some_and(|(s, e)| s < file_end && start < e))
                .cloned()
                .collect();
            let mut perms_ok = !covering.is_empty();
            let mut offsets_ok = !covering.is_empty();
            let mut relro_mappings = 0;
            for m in &covering {
                let Some((s, e)) = range(m) else { continue };
                let in_relro = relro.is_some_and(|(rs, re)| s >= rs && e <= re);
                let expected = if in_relro {
                    relro_mappings += 1;
                    "r--p".to_string()
                } else {
                    seg.expected_perms()
                };
                perms_ok &= m.perms == expected;
                offsets_ok &= s >= start && m.offset_bytes == floor(seg.offset, page) + (s - start);
            }
            let bss_mapping = (mem_end > file_end)
                .then(|| {
                    mappings
                        .iter()
                        .find(|m| range(m).is_some_and(|(s, _)| s == file_end) && m.name.is_empty())
                        .cloned()
                })
                .flatten();
            out.push(SegmentMatch {
                segment: *seg,
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

    fn load(vaddr: u64, mem_size: u64) -> LoadSegment {
        LoadSegment {
            index: 0,
            offset: vaddr,
            vaddr,
            file_size: mem_size,
            mem_size,
            flags: 4,
        }
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
    fn this_test_binary_has_a_readable_executable_segment() {
        let exe = std::env::current_exe().unwrap();
        let elf = read(&exe).unwrap();
        assert!(elf
            .loads
            .iter()
            .any(|l| l.flags & PF_X.0 != 0 && l.flags & PF_R.0 != 0));
        assert!(elf.loads.iter().any(|l| l.flags & PF_W.0 != 0));
    }

    #[test]
    fn flags_become_maps_permissions() {
        let seg = LoadSegment {
            index: 0,
            offset: 0,
            vaddr: 0,
            file_size: 1,
            mem_size: 1,
            flags: PF_R.0 | PF_X.0,
        };
        assert_eq!(seg.expected_perms(), "r-xp");
        assert_eq!(seg.flags_text(), "R E");
        let rw = LoadSegment {
            flags: PF_R.0 | PF_W.0,
            ..seg
        };
        assert_eq!(rw.expected_perms(), "rw-p");
    }

    fn mapping(start: u64, end: u64, perms: &str, offset: u64, name: &str) -> MappingRecord {
        MappingRecord {
            start: format!("{start:#x}"),
            end: format!("{end:#x}"),
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
        let seg = |index, offset, vaddr, file_size, mem_size, flags| LoadSegment {
            index,
            offset,
            vaddr,
            file_size,
            mem_size,
            flags,
        };
        let elf = ElfSegments {
            path: "/lib/libx.so".into(),
            loads: vec![
                seg(0, 0, 0, 0x1800, 0x1800, PF_R.0 | PF_X.0),
                // Data: one RELRO page, one writable page, then .bss beyond the file.
                seg(1, 0x1e00, 0x2e00, 0x1300, 0x3000, PF_R.0 | PF_W.0),
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
    fn a_file_that_is_not_elf_is_a_format_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("not-elf");
        std::fs::write(&path, b"hello").unwrap();
        let err = read(&path).unwrap_err().to_string();
        assert!(err.contains("not-elf"), "{err}");
    }
}
