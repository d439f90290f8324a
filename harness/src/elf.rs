//! What a program's file holds, read from its ELF headers with the `object`
//! crate: the PT_LOAD segments (what `readelf -l` lists), the text/data/bss
//! totals (what `size` prints), static or dynamic, stripped or not.
//!
//! Parsing ([`parse`]) needs only the bytes; [`read`] adds the file and its path
//! to errors; [`attach_binary_facts`] fills a variant's record from the
//! `program_path` note its experiment left.

use std::path::Path;

use object::elf;
use object::read::elf::{ElfFile64, ProgramHeader, SectionHeader};
use object::Endianness;

use crate::model::{BinaryFacts, Linking, LoadSegment, VariantRecord};

/// The note an experiment leaves with the path of the program it measured.
pub const PROGRAM_PATH_NOTE: &str = "program_path";
/// The note the harness adds when that program's file could not be read.
pub const BINARY_ERROR_NOTE: &str = "binary_error";

/// Why a program's ELF facts could not be read.
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

/// Reads the facts of the file at `path`.
pub fn read(path: &Path) -> Result<BinaryFacts, ElfError> {
    let shown = path.display().to_string();
    let data = std::fs::read(path).map_err(|source| ElfError::Read {
        path: shown.clone(),
        source,
    })?;
    parse(&shown, &data)
}

/// The facts of an ELF file's bytes; `path` is recorded and used in errors.
pub fn parse(path: &str, data: &[u8]) -> Result<BinaryFacts, ElfError> {
    let error = |e: object::read::Error| ElfError::Parse {
        path: path.to_string(),
        reason: e.to_string(),
    };
    let file = ElfFile64::<Endianness>::parse(data).map_err(error)?;
    let endian = file.endian();
    let mut linking = Linking::Static;
    let mut load_segments = Vec::new();
    for header in file.elf_program_headers() {
        let kind = header.p_type(endian);
        if kind == elf::PT_INTERP {
            linking = Linking::Dynamic;
        }
        if kind != elf::PT_LOAD {
            continue;
        }
        let flags = header.p_flags(endian).0;
        let bit = |mask: u32, letter: char| if flags & mask != 0 { letter } else { ' ' };
        load_segments.push(LoadSegment {
            flags: [
                bit(elf::PF_R.0, 'R'),
                bit(elf::PF_W.0, 'W'),
                bit(elf::PF_X.0, 'E'),
            ]
            .iter()
            .collect(),
            offset: header.p_offset(endian),
            vaddr: header.p_vaddr(endian),
            file_bytes: header.p_filesz(endian),
            mem_bytes: header.p_memsz(endian),
        });
    }
    let sections = file.elf_section_table();
    let (mut text_bytes, mut data_bytes, mut bss_bytes) = (0, 0, 0);
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
            text_bytes += size;
        } else if kind != elf::SHT_NOBITS {
            data_bytes += size;
        } else {
            bss_bytes += size;
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
pub fn attach_binary_facts(record: &mut VariantRecord) {
    let Some(path) = record.notes.get(PROGRAM_PATH_NOTE).cloned() else {
        return;
    };
    match read(Path::new(&path)) {
        Ok(facts) => record.binary = Some(facts),
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

    #[test]
    fn a_missing_program_leaves_a_note_instead_of_facts() {
        let mut record = VariantRecord {
            name: "v".into(),
            status: crate::model::Status::Ok,
            reason: None,
            notes: [(
                PROGRAM_PATH_NOTE.to_string(),
                "/nonexistent/prog".to_string(),
            )]
            .into_iter()
            .collect(),
            noise_floor: Vec::new(),
            checkpoints: Vec::new(),
            rss_samples: Vec::new(),
            binary: None,
        };
        attach_binary_facts(&mut record);
        assert!(record.binary.is_none());
        assert!(record.notes[BINARY_ERROR_NOTE].contains("/nonexistent/prog"));
    }
}
