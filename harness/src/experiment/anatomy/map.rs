//! Reading the process's own map: where each reported piece lies, what a
//! mapping is in words, and the executable's and libc's segments matched to
//! their mappings. What the claims and the tables both need.

use std::path::Path;

use experiments::catalog::anatomy::{checkpoint, note, role};

use super::super::kit::Observed;
use crate::elf::segments::{self as elf_segments, SegmentMatch};
use crate::model::{MappingRecord, ProcessRecord};
use experiments::note::{Hex, Note};

/// One piece of the process whose address it reports.
#[derive(Debug, Clone, Copy)]
pub(super) struct Piece {
    /// Its name, in evidence and tables.
    pub name: &'static str,
    /// The note that carries its address.
    pub note: Note<Hex>,
    /// What it is, in words.
    pub what: &'static str,
}

pub(super) const STACK_VARIABLE: Piece = Piece {
    name: "stack-variable",
    note: note::ADDRESS_STACK_VARIABLE,
    what: "a local variable of main's caller chain",
};
pub(super) const SMALL_MALLOC: Piece = Piece {
    name: "small-malloc",
    note: note::ADDRESS_SMALL_MALLOC,
    what: "malloc(4)",
};
pub(super) const LARGE_MALLOC: Piece = Piece {
    name: "large-malloc",
    note: note::ADDRESS_LARGE_MALLOC,
    what: "malloc(1 MiB), above glibc's 128 KiB mmap threshold",
};
pub(super) const FUNCTION: Piece = Piece {
    name: "function",
    note: note::ADDRESS_FUNCTION,
    what: "a function's code",
};
pub(super) const INITIALISED_STATIC: Piece = Piece {
    name: "initialised-static",
    note: note::ADDRESS_INITIALISED_STATIC,
    what: "a static with a non-zero initial value (.data)",
};
pub(super) const ZEROED_STATIC: Piece = Piece {
    name: "zeroed-static",
    note: note::ADDRESS_ZEROED_STATIC,
    what: "a static initialised to zero (.bss)",
};
pub(super) const ANONYMOUS_MMAP: Piece = Piece {
    name: "anonymous-mmap",
    note: note::ADDRESS_ANONYMOUS_MMAP,
    what: "mmap(MAP_PRIVATE | MAP_ANONYMOUS) of 64 KiB",
};

/// The region the process wrote in full and then made PROT_NONE (not one of
/// [`PIECES`]: it is there for the ---p claims, not for finding pieces).
pub(super) const PROTECTED_AFTER_USE: Piece = Piece {
    name: "protected-after-use",
    note: note::ADDRESS_PROTECTED_AFTER_USE,
    what: "256 KiB of anonymous memory written in full, then mprotect(PROT_NONE)",
};

/// The pieces the process reports, in the order shown.
pub(super) const PIECES: [Piece; 7] = [
    STACK_VARIABLE,
    SMALL_MALLOC,
    LARGE_MALLOC,
    FUNCTION,
    INITIALISED_STATIC,
    ZEROED_STATIC,
    ANONYMOUS_MMAP,
];

/// A mapping's start and end addresses.
pub(super) fn bounds(m: &MappingRecord) -> Option<(u64, u64)> {
    Some(m.range())
}

/// What anatomy reads of an [`Observed`]: the main process's map at the one checkpoint.
pub(super) trait ProcessMap<'a> {
    /// The main process at the checkpoint, or why it is missing.
    fn main(&self) -> Result<&'a ProcessRecord, String>;
    /// Its mappings (none when it was not measured).
    fn mappings(&self) -> &'a [MappingRecord];
    /// The executable's path, as the process reported it.
    fn executable(&self) -> Option<String>;
    /// The libc mapped into the process, by its path.
    fn libc(&self) -> Option<&'a str>;
    /// The address `piece` was reported at.
    fn address(&self, piece: Piece) -> Option<u64>;
    /// The mapping that contains `addr`.
    fn mapping_at(&self, addr: u64) -> Option<&'a MappingRecord>;
    /// `piece`'s address and the mapping it lies in.
    fn place(&self, piece: Piece) -> Option<(u64, &'a MappingRecord)>;
    /// Where `piece` lies, in words.
    fn placed_text(&self, piece: Piece) -> String;
    /// What a mapping is, in words, with its perms and range.
    fn describe(&self, m: &MappingRecord) -> String;
    /// What a mapping is, short: (anonymous), (executable) or the file's name.
    fn kind(&self, m: &MappingRecord) -> String;
    /// The files mapped into the process, each once, in address order.
    fn mapped_files(&self) -> Vec<&'a str>;
    /// The segments of the executable and of libc, matched to mappings.
    fn matches(&self) -> Vec<(String, Result<Vec<SegmentMatch>, String>)>;
    /// The holes between the segments of every mapped file, at the file's load
    /// address: (file name, start, end).
    fn file_holes(&self) -> Vec<(String, u64, u64)>;
}

impl<'a> ProcessMap<'a> for Observed<'a> {
    fn main(&self) -> Result<&'a ProcessRecord, String> {
        self.process(checkpoint::ADDRESSES_REPORTED, role::MAIN)
            .ok_or_else(|| format!("{} was not measured", checkpoint::ADDRESSES_REPORTED))
    }

    fn mappings(&self) -> &'a [MappingRecord] {
        self.main().map_or(&[], |p| p.mappings.as_slice())
    }

    fn executable(&self) -> Option<String> {
        self.note(note::EXECUTABLE)
    }

    fn libc(&self) -> Option<&'a str> {
        self.mappings().iter().map(|m| m.name.as_str()).find(|n| {
            let file = n.rsplit('/').next().unwrap_or("");
            file.starts_with("libc.so") || (file.starts_with("libc-") && file.ends_with(".so"))
        })
    }

    fn address(&self, piece: Piece) -> Option<u64> {
        let text = self.variant.notes.get(piece.note.key())?;
        piece.note.parse(text).map(|Hex(address)| address)
    }

    fn mapping_at(&self, addr: u64) -> Option<&'a MappingRecord> {
        self.mappings()
            .iter()
            .find(|m| bounds(m).is_some_and(|(s, e)| s <= addr && addr < e))
    }

    fn place(&self, piece: Piece) -> Option<(u64, &'a MappingRecord)> {
        let addr = self.address(piece)?;
        Some((addr, self.mapping_at(addr)?))
    }

    fn placed_text(&self, piece: Piece) -> String {
        let name = piece.name;
        match self.place(piece) {
            Some((addr, m)) => format!("{name} at {addr:#x} lies in {}", self.describe(m)),
            None => format!("{name} was not found in any mapping"),
        }
    }

    fn describe(&self, m: &MappingRecord) -> String {
        let what = if m.name.is_empty() {
            "anonymous".to_string()
        } else if Some(&m.name) == self.executable().as_ref() {
            "the executable".to_string()
        } else if m.name.starts_with('[') {
            m.name.clone()
        } else {
            m.name.rsplit('/').next().unwrap_or(&m.name).to_string()
        };
        format!("{what} {} {}-{}", m.perms, m.start, m.end)
    }

    fn kind(&self, m: &MappingRecord) -> String {
        if m.name.is_empty() {
            "(anonymous)".into()
        } else if Some(&m.name) == self.executable().as_ref() {
            "(executable)".into()
        } else {
            m.name.rsplit('/').next().unwrap_or(&m.name).to_string()
        }
    }

    fn mapped_files(&self) -> Vec<&'a str> {
        let mut files: Vec<&str> = Vec::new();
        for m in self.mappings() {
            if m.name.starts_with('/') && !files.contains(&m.name.as_str()) {
                files.push(&m.name);
            }
        }
        files
    }

    fn matches(&self) -> Vec<(String, Result<Vec<SegmentMatch>, String>)> {
        let mut out = Vec::new();
        let exe = self.executable();
        for path in [exe.as_deref(), self.libc()].into_iter().flatten() {
            let result = elf_segments::read(Path::new(path))
                .map_err(|e| e.to_string())
                .and_then(|elf| {
                    elf.match_mappings(self.mappings(), self.page())
                        .ok_or_else(|| {
                            format!("no mapping of {path} at the offset of its first segment")
                        })
                });
            out.push((path.to_string(), result));
        }
        out
    }

    fn file_holes(&self) -> Vec<(String, u64, u64)> {
        let mut out = Vec::new();
        for path in self.mapped_files() {
            let Ok(elf) = elf_segments::read(Path::new(path)) else {
                continue;
            };
            let Some(bias) = elf.load_bias(self.mappings(), self.page()) else {
                continue;
            };
            let file = path.rsplit('/').next().unwrap_or(path);
            for (start, end) in elf.holes(self.page()) {
                out.push((file.to_string(), bias + start, bias + end));
            }
        }
        out
    }
}
