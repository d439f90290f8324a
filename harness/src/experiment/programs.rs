//! What the experiments that measure separately built programs (tiny-malloc,
//! static-dynamic, strip) share: where each mapping of such a program comes from,
//! and the `--no-aslr` plumbing.

use std::collections::BTreeMap;
use std::ffi::OsString;

use serde_json::json;

use super::PlanContext;
use crate::elf::PROGRAM_PATH_NOTE;
use crate::model::{MemoryFigures, ProcessRecord, Status, VariantRecord};
use crate::runner::parse_hex;

/// Where a mapping of a process comes from, as a reader of /proc/PID/maps would
/// tell (the seed's text, data and bss, and what a modern process adds).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Part {
    /// The program file's executable mapping.
    Text,
    /// The program file's read-only mappings (ELF headers, constants, relro).
    ReadOnly,
    /// The program file's writable mapping (initialised data).
    Data,
    /// The anonymous mapping right after the program's file: the rest of bss.
    Bss,
    /// `[heap]`: the brk area.
    Heap,
    /// `[stack]`.
    Stack,
    /// `[vdso]`, `[vvar]`, `[vsyscall]`: pages the kernel maps into every process.
    Kernel,
    /// Any other file: the dynamic loader and shared libraries.
    Libraries,
    /// Any other anonymous mapping (malloc's mmap, the loader's, TLS).
    Anonymous,
}

impl Part {
    /// Every part, in table order.
    pub const ALL: [Part; 9] = [
        Part::Text,
        Part::ReadOnly,
        Part::Data,
        Part::Bss,
        Part::Heap,
        Part::Stack,
        Part::Kernel,
        Part::Libraries,
        Part::Anonymous,
    ];

    /// Its name in tables and evidence.
    pub fn name(self) -> &'static str {
        match self {
            Part::Text => "text",
            Part::ReadOnly => "read-only",
            Part::Data => "data",
            Part::Bss => "bss",
            Part::Heap => "heap",
            Part::Stack => "stack",
            Part::Kernel => "vdso/vvar",
            Part::Libraries => "libraries",
            Part::Anonymous => "anon mmap",
        }
    }
}

/// The process's mappings summed by [`Part`]; `program` is the program file's path.
pub fn breakdown(process: &ProcessRecord, program: &str) -> BTreeMap<Part, MemoryFigures> {
    let mut parts: BTreeMap<Part, MemoryFigures> = BTreeMap::new();
    let mut program_end = None;
    for m in &process.mappings {
        let part = if m.name == program {
            program_end = parse_hex(&m.end);
            if m.perms.contains('x') {
                Part::Text
            } else if m.perms.contains('w') {
                Part::Data
            } else {
                Part::ReadOnly
            }
        } else if m.name.is_empty() {
            if program_end.is_some() && program_end == parse_hex(&m.start) {
                Part::Bss
            } else {
                Part::Anonymous
            }
        } else {
            match m.name.as_str() {
                "[heap]" => Part::Heap,
                "[stack]" => Part::Stack,
                name if name.starts_with("[v") => Part::Kernel,
                name if name.starts_with('[') => Part::Anonymous,
                _ => Part::Libraries,
            }
        };
        if m.name != program {
            program_end = None;
        }
        parts.entry(part).or_default().add(&m.figures);
    }
    parts
}

/// The figures of every mapping of the program's own file.
pub fn program_figures(process: &ProcessRecord, program: &str) -> MemoryFigures {
    let mut sum = MemoryFigures::default();
    for m in process.mappings.iter().filter(|m| m.name == program) {
        sum.add(&m.figures);
    }
    sum
}

/// The path of the program a variant measured.
pub fn program_path(variant: &VariantRecord) -> Option<&str> {
    variant.notes.get(PROGRAM_PATH_NOTE).map(String::as_str)
}

/// Why a variant cannot be judged, if it did not run to its end.
pub fn not_ok(variant: &VariantRecord) -> Option<String> {
    match variant.status {
        Status::Ok => None,
        Status::Skipped => Some(format!(
            "variant {} was skipped: {}",
            variant.name,
            variant.reason.as_deref().unwrap_or("no reason given")
        )),
        Status::Failed => Some(format!(
            "variant {} failed: {}",
            variant.name,
            variant.reason.as_deref().unwrap_or("no reason given")
        )),
    }
}

/// Arguments that pass `--no-aslr` on to the experiment binary.
pub fn aslr_args(ctx: &PlanContext<'_>) -> Vec<OsString> {
    if ctx.no_aslr {
        vec!["--no-aslr".into()]
    } else {
        Vec::new()
    }
}

/// One variant per name, each run as `--variant NAME` (plus `--no-aslr` if asked).
pub fn named_variants(names: &[&str], ctx: &PlanContext<'_>) -> Vec<super::PlannedVariant> {
    names
        .iter()
        .map(|name| {
            let mut args = vec!["--variant".into(), (*name).into()];
            args.extend(aslr_args(ctx));
            super::PlannedVariant {
                name: (*name).to_string(),
                args,
            }
        })
        .collect()
}

/// Records whether randomisation was asked off.
pub fn aslr_param(ctx: &PlanContext<'_>, params: &mut BTreeMap<String, serde_json::Value>) {
    params.insert("no_aslr".into(), json!(ctx.no_aslr));
}

/// A byte count as whole pages, rounded up.
pub fn pages_up(bytes: u64, page_size: u64) -> u64 {
    bytes.div_ceil(page_size.max(1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Faults, MappingRecord, Totals};

    fn mapping(start: u64, end: u64, name: &str, perms: &str) -> MappingRecord {
        MappingRecord {
            start: format!("{start:#x}"),
            end: format!("{end:#x}"),
            name: name.into(),
            perms: perms.into(),
            offset_bytes: 0,
            figures: MemoryFigures {
                size_bytes: end - start,
                rss_bytes: 4096,
                ..Default::default()
            },
            other: BTreeMap::new(),
            vm_flags: String::new(),
        }
    }

    #[test]
    fn mappings_are_sorted_into_text_data_bss_heap_and_stack() {
        let process = ProcessRecord {
            role: "program".into(),
            pid: 1,
            faults: Faults::default(),
            faults_total: Faults::default(),
            totals: Totals::default(),
            regions: Vec::new(),
            mappings: vec![
                mapping(0x400000, 0x401000, "/p", "r-xp"),
                mapping(0x401000, 0x402000, "/p", "rw-p"),
                mapping(0x402000, 0x403000, "", "rw-p"),
                mapping(0x500000, 0x501000, "[heap]", "rw-p"),
                mapping(0x600000, 0x601000, "", "rw-p"),
                mapping(0x700000, 0x701000, "/lib/libc.so.6", "r-xp"),
                mapping(0x7f0000, 0x7f1000, "[vdso]", "r-xp"),
                mapping(0x800000, 0x821000, "[stack]", "rw-p"),
            ],
            io: None,
        };
        let parts = breakdown(&process, "/p");
        let size = |p: Part| parts.get(&p).map_or(0, |f| f.size_bytes);
        assert_eq!(size(Part::Text), 0x1000);
        assert_eq!(size(Part::Data), 0x1000);
        assert_eq!(size(Part::Bss), 0x1000);
        assert_eq!(size(Part::Heap), 0x1000);
        assert_eq!(size(Part::Anonymous), 0x1000);
        assert_eq!(size(Part::Libraries), 0x1000);
        assert_eq!(size(Part::Kernel), 0x1000);
        assert_eq!(size(Part::Stack), 0x21000);
        assert_eq!(program_figures(&process, "/p").size_bytes, 0x2000);
    }
}
