//! What a program's file holds, read from its ELF headers with the `object`
//! crate: the PT_LOAD segments (what `readelf -l` lists), the text/data/bss
//! totals (what `size` prints), static or dynamic, stripped or not; and, in
//! [`segments`], how those segments became a process's mappings.
//!
//! Parsing ([`parse`]) needs only the bytes; [`read`] adds the file and its path
//! to errors; [`attach_binary_facts`] fills a variant's record from the
//! `program_path` note its experiment left. Both views read the program headers
//! through one function, so they cannot disagree about a segment.

pub mod segments;

use std::path::Path;

use object::elf;
use object::read::elf::{ElfFile64, ProgramHeader, SectionHeader};
use object::Endianness;

pub use crate::model::LoadSegment;
use crate::model::{BinaryFacts, Linking, VariantRecord};

/// The note an experiment leaves with the path of the program it measured.
pub const PROGRAM_PATH_NOTE: &str = experiments::catalog::launch_note::PROGRAM_PATH.key();
/// The note the harness adds when that program's file could not be read.
pub const BINARY_ERROR_NOTE: &str = "binary_error";

/// Why a program's ELF headers could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ElfError {
    /// The file could not be read (gone, no permission).
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// What the system said.
        source: std::io::Error,
    },
    /// The file is not a 64-bit ELF file the parser understands.
    #[error("{path} is not a readable 64-bit ELF file: {reason}")]
    Parse {
        /// The file.
        path: String,
        /// What the parser said.
        reason: String,
    },
}

/// The program headers the harness reads: what the loader is asked to map.
struct ProgramHeaders {
    /// Dynamic when a PT_INTERP names a loader.
    linking: Linking,
    /// The PT_LOAD headers in file order, each with its index among all
    /// program headers (the number `readelf -l` shows).
    loads: Vec<(usize, LoadSegment)>,
    /// The PT_GNU_RELRO range (vaddr, size), made read-only after relocation.
    relro: Option<(u64, u64)>,
}

/// The bytes of `path`, with the path in the error.
fn read_bytes(path: &Path) -> Result<Vec<u8>, ElfError> {
    std::fs::read(path).map_err(|source| ElfError::Read {
        path: path.display().to_string(),
        source,
    })
}

/// Opens `data` as a 64-bit ELF file; `path` names it in the error.
fn open<'data>(path: &str, data: &'data [u8]) -> Result<ElfFile64<'data, Endianness>, ElfError> {
    ElfFile64::<Endianness>::parse(data).map_err(|e| ElfError::Parse {
        path: path.to_string(),
        reason: e.to_string(),
    })
}

/// The flags of a program header as `readelf -l` writes them (`R E`, `RW `).
fn flags_text(flags: u32) -> String {
    let bit = |mask: u32, letter: char| if flags & mask != 0 { letter } else { ' ' };
    [
        bit(elf::PF_R.0, 'R'),
        bit(elf::PF_W.0, 'W'),
        bit(elf::PF_X.0, 'E'),
    ]
    .iter()
    .collect()
}

fn program_headers(file: &ElfFile64<'_, Endianness>) -> ProgramHeaders {
    let endian = file.endian();
    let mut headers = ProgramHeaders {
        linking: Linking::Static,
        loads: Vec::new(),
        relro: None,
    };
    for (index, header) in file.elf_program_headers().iter().enumerate() {
        match header.p_type(endian) {
            elf::PT_INTERP => headers.linking = Linking::Dynamic,
            elf::PT_LOAD => headers.loads.push((
                index,
                LoadSegment {
                    flags: flags_text(header.p_flags(endian).0),
                    offset: header.p_offset(endian),
                    vaddr: header.p_vaddr(endian),
                    file_bytes: header.p_filesz(endian),
                    mem_bytes: header.p_memsz(endian),
                },
            )),
            elf::PT_GNU_RELRO => {
                headers.relro = Some((header.p_vaddr(endian), header.p_memsz(endian)));
            }
            _ => {}
        }
    }
    headers
}

/// Reads the facts of the file at `path`.
pub fn read(path: &Path) -> Result<BinaryFacts, ElfError> {
    parse(&path.display().to_string(), &read_bytes(path)?)
}

/// The facts of an ELF file's bytes; `path` is recorded and used in errors.
pub fn parse(path: &str, data: &[u8]) -> Result<BinaryFacts, ElfError> {
    let file = open(path, data)?;
    let endian = file.endian();
    let ProgramHeaders { linking, loads, .. } = program_headers(&file);
    let load_segments = loads.into_iter().map(|(_, segment)| segment).collect();
    let sections = file.elf_section_table();
    let (mut text_bytes, mut data_bytes, mut bss_bytes) = (0u64, 0u64, 0u64);
    let mut has_symbols = false;
    for section in sections.iter() {
        let kind = section.sh_type(endian);
        let flags = section.sh_flags(endian).0;
        let name = sections.section_name(endian, section).unwrap_or_default();
        if kind == elf::SHT_SYMTAB || name.starts_with(b".debug_") {
            has_symbols = true;
        }
        if flags & elf::SHF_ALLOC.0 == 0 {
            continue;
        }
        // `size`'s Berkeley rule: code or read-only is text, writable with file
        // contents is data, the rest (no contents: .bss, .tbss) is bss.
        let size = section.sh_size(endian);
        if flags & elf::SHF_EXECINSTR.0 != 0 || flags & elf::SHF_WRITE.0 == 0 {
            text_bytes = text_bytes.saturating_add(size);
        } else if kind != elf::SHT_NOBITS {
            data_bytes = data_bytes.saturating_add(size);
        } else {
            bss_bytes = bss_bytes.saturating_add(size);
        }
    }
    Ok(BinaryFacts {
        path: path.to_string(),
        file_bytes: data.len() as u64,
        linking,
        stripped: !has_symbols,
        load_segments,
        text_bytes,
        data_bytes,
        bss_bytes,
    })
}

/// Fills `record.binary` from the program the variant noted; a file that cannot
/// be read leaves a `binary_error` note instead, so the judge can say why.
/// `temp_dir` is the variant's temporary folder, while it still exists: a
/// program run from a private copy there is noted under the folder's stable
/// name, and its facts are read from the copy.
pub fn attach_binary_facts(record: &mut VariantRecord, temp_dir: Option<&Path>) {
    let Some(path) = record.note::<String>(experiments::catalog::launch_note::PROGRAM_PATH) else {
        return;
    };
    match read(&crate::runner::reveal_temp_path(&path, temp_dir)) {
        // Named as noted, as its mappings are.
        Ok(facts) => record.binary = Some(BinaryFacts { path, ..facts }),
        Err(e) => {
            record
                .notes
                .insert(BINARY_ERROR_NOTE.to_string(), e.to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every section header of `data` (a 64-bit little-endian ELF) claims
    /// `size` bytes.
    fn with_section_sizes(mut data: Vec<u8>, size: u64) -> Vec<u8> {
        let word = |d: &[u8], at: usize, n: usize| {
            let mut v = 0u64;
            for (k, b) in d[at..at + n].iter().enumerate() {
                v |= u64::from(*b) << (8 * k);
            }
            v as usize
        };
        let (shoff, shentsize, shnum) = (
            word(&data, 0x28, 8),
            word(&data, 0x3a, 2),
            word(&data, 0x3c, 2),
        );
        for k in 0..shnum {
            let at = shoff + k * shentsize + 0x20;
            data[at..at + 8].copy_from_slice(&size.to_le_bytes());
        }
        data
    }

    #[test]
    fn absurd_section_sizes_add_up_without_overflow() {
        let me = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        let data = with_section_sizes(me, u64::MAX / 2);
        // Refused or summed, never a panic (tests run with overflow checks).
        if let Ok(facts) = parse("absurd", &data) {
            assert_eq!(facts.text_bytes, u64::MAX, "saturated");
        }
    }

    /// The test binary itself: a 64-bit ELF file built by cargo.
    fn own_executable() -> BinaryFacts {
        let exe = std::env::current_exe().expect("current exe");
        read(&exe).expect("the test binary is readable ELF")
    }

    #[test]
    fn the_test_binary_has_a_text_segment_and_a_writable_one() {
        let facts = own_executable();
        assert!(
            facts.load_segments.iter().any(|s| s.flags == "R E"),
            "{facts:#?}"
        );
        assert!(
            facts
                .load_segments
                .iter()
                .any(|s| s.flags.starts_with("RW")),
            "{facts:#?}"
        );
        for s in &facts.load_segments {
            assert!(s.mem_bytes >= s.file_bytes, "{s:?}");
            assert!(s.offset + s.file_bytes <= facts.file_bytes, "{s:?}");
        }
    }

    #[test]
    fn size_totals_fit_inside_the_load_segments() {
        let facts = own_executable();
        let file_backed: u64 = facts.load_segments.iter().map(|s| s.file_bytes).sum();
        let in_memory: u64 = facts.load_segments.iter().map(|s| s.mem_bytes).sum();
        assert!(facts.text_bytes > 0 && facts.text_bytes + facts.data_bytes <= file_backed);
        assert!(facts.text_bytes + facts.data_bytes + facts.bss_bytes <= in_memory);
    }

    #[test]
    fn a_test_binary_with_symbols_is_not_stripped() {
        // Test binaries of the dev profile keep their symbol table.
        assert!(!own_executable().stripped);
    }

    #[test]
    fn a_rust_test_binary_is_dynamically_linked_on_gnu() {
        if cfg!(target_env = "gnu") {
            assert_eq!(own_executable().linking, Linking::Dynamic);
        }
    }

    #[test]
    fn text_that_is_not_elf_is_a_parse_error_naming_the_file() {
        let err = parse("/x/y", b"#!/bin/sh\necho hi\n").expect_err("not ELF");
        assert!(err.to_string().contains("/x/y"), "{err}");
    }

    /// A variant whose only note names `program`.
    fn noting_program(program: &str) -> VariantRecord {
        VariantRecord {
            name: "v".into(),
            status: crate::model::Status::Ok,
            reason: None,
            notes: [(PROGRAM_PATH_NOTE.to_string(), program.to_string())]
                .into_iter()
                .collect(),
            noise_floor: Vec::new(),
            checkpoints: Vec::new(),
            rss_samples: Vec::new(),
            binary: None,
        }
    }

    #[test]
    fn a_missing_program_leaves_a_note_instead_of_facts() {
        let mut record = noting_program("/nonexistent/prog");
        attach_binary_facts(&mut record, None);
        assert!(record.binary.is_none());
        assert!(record.notes[BINARY_ERROR_NOTE].contains("/nonexistent/prog"));
    }

    #[test]
    fn a_program_noted_in_the_temp_folder_is_read_from_there() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::copy("/proc/self/exe", dir.path().join("prog")).unwrap();
        let mut record = noting_program(&format!("{}/prog", crate::runner::TEMP_DIR_NAME));
        attach_binary_facts(&mut record, None);
        assert!(
            record.binary.is_none(),
            "without the folder it cannot be found"
        );
        attach_binary_facts(&mut record, Some(dir.path()));
        let facts = record.binary.expect("facts read from the copy");
        assert!(!facts.load_segments.is_empty());
        assert_eq!(facts.path, "<temp dir>/prog", "named as noted");
    }
}
