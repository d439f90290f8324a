//! What the experiments that measure separately built programs (tiny-malloc,
//! static-dynamic, strip) share: where each mapping of such a program comes from,
//! and the `--no-aslr` plumbing.

use std::collections::BTreeMap;

use serde_json::json;

use super::PlanContext;
use crate::elf::PROGRAM_PATH_NOTE;
use crate::model::{MappingRecord, MemoryFigures, ProcessRecord, VariantRecord};

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
    for (i, m) in process.mappings.iter().enumerate() {
        parts
            .entry(part_of(process, i, m, program))
            .or_default()
            .add(&m.figures);
    }
    parts
}

/// Where mapping `index` of the process comes from. An anonymous mapping is the
/// program's bss when it starts where a mapping of the program file ends.
fn part_of(process: &ProcessRecord, index: usize, m: &MappingRecord, program: &str) -> Part {
    if m.name == program {
        return if m.perms.contains('x') {
            Part::Text
        } else if m.perms.contains('w') {
            Part::Data
        } else {
            Part::ReadOnly
        };
    }
    if m.name.is_empty() {
        let after_program = index
            .checked_sub(1)
            .and_then(|i| process.mappings.get(i))
            .filter(|prev| prev.name == program)
            .is_some_and(|prev| prev.end == m.start);
        return if after_program {
            Part::Bss
        } else {
            Part::Anonymous
        };
    }
    match m.name.as_str() {
        "[heap]" => Part::Heap,
        "[stack]" => Part::Stack,
        name if name.starts_with("[v") => Part::Kernel,
        name if name.starts_with('[') => Part::Anonymous,
        _ => Part::Libraries,
    }
}

/// How many mappings of the process [`breakdown`] files under `part`.
pub fn mappings_of(process: &ProcessRecord, program: &str, part: Part) -> usize {
    process
        .mappings
        .iter()
        .enumerate()
        .filter(|(i, m)| part_of(process, *i, m, program) == part)
        .count()
}

/// The figures of every mapping of the program's own file.
pub fn program_figures(process: &ProcessRecord, program: &str) -> MemoryFigures {
    let mut sum = MemoryFigures::default();
    for m in process.mappings.iter().filter(|m| m.name == program) {
        sum.add(&m.figures);
    }
    sum
}

/// The path of the program a variant measured: the text of its
/// `Note<String>`, borrowed rather than read into a new `String`.
pub fn program_path(variant: &VariantRecord) -> Option<&str> {
    variant.notes.get(PROGRAM_PATH_NOTE).map(String::as_str)
}

/// The launch options every program-starting experiment passes on: `--no-aslr`
/// if asked.
pub fn launch_args(ctx: &PlanContext<'_>) -> experiments::catalog::LaunchArgs {
    experiments::catalog::LaunchArgs {
        no_aslr: ctx.no_aslr,
    }
}

/// Records whether randomisation was asked off.
pub fn aslr_param(ctx: &PlanContext<'_>, params: &mut BTreeMap<String, serde_json::Value>) {
    params.insert("no_aslr".into(), json!(ctx.no_aslr));
}

/// A byte count as whole pages, rounded up.
pub fn pages_up(bytes: u64, page_size: u64) -> u64 {
    bytes.div_ceil(page_size.max(1))
}

/// The pages one mapping of the program covers, and its protections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRange {
    /// First page number (address / page size).
    pub first: u64,
    /// Last page number, inclusive.
    pub last: u64,
    /// Mapped writable.
    pub writable: bool,
    /// Mapped executable.
    pub executable: bool,
}

impl std::fmt::Display for PageRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "pages {:#x}-{:#x} {}{}",
            self.first,
            self.last,
            if self.writable { "w" } else { "-" },
            if self.executable { "x" } else { "-" }
        )
    }
}

/// The page ranges of the program's own mappings: its file's and the anonymous
/// bss right after them.
pub fn program_page_ranges(process: &ProcessRecord, program: &str, page: u64) -> Vec<PageRange> {
    let page = page.max(1);
    let mut out = Vec::new();
    let mut program_end = None;
    for m in &process.mappings {
        let (start, end) = m.range();
        let bss = m.name.is_empty() && program_end == Some(start);
        if m.name == program || bss {
            out.push(PageRange {
                first: start / page,
                last: end.saturating_sub(1) / page,
                writable: m.perms.contains('w'),
                executable: m.perms.contains('x'),
            });
        }
        program_end = (m.name == program).then_some(end);
    }
    out
}

/// Pages of a load segment that lie wholly past its file contents: the bss
/// that cannot share the last page of file data, so the kernel maps it anonymous.
pub fn pages_past_file(segment: &crate::model::LoadSegment, page: u64) -> u64 {
    let page = page.max(1);
    // Pages holding file contents: none at all when the segment has no file bytes.
    let file_end = if segment.file_bytes == 0 {
        segment.vaddr / page
    } else {
        (segment.vaddr + segment.file_bytes).div_ceil(page)
    };
    let mem_end = (segment.vaddr + segment.mem_bytes).div_ceil(page);
    mem_end.saturating_sub(file_end)
}

/// Small builders of synthetic records for the judges' tests.
#[cfg(test)]
pub mod fixtures {
    use std::collections::BTreeMap;

    use crate::model::{
        CheckpointRecord, Faults, MappingRecord, MemoryFigures, ProcessRecord, Status, Totals,
        VariantRecord,
    };

    /// The page size the fixtures use.
    pub const PAGE: u64 = 4096;

    /// The captured machine (`Environment::fixture`), with the fixtures' page size.
    pub fn env() -> crate::system::Environment {
        let mut env = crate::system::Environment::fixture();
        env.page_size = PAGE;
        env
    }

    /// A mapping of `pages` pages at page number `first`, `rss` of them resident.
    pub fn mapping(first: u64, pages: u64, name: &str, perms: &str, rss: u64) -> MappingRecord {
        MappingRecord {
            start: crate::model::Address(first * PAGE),
            end: crate::model::Address((first + pages) * PAGE),
            name: name.into(),
            perms: perms.into(),
            offset_bytes: 0,
            figures: MemoryFigures {
                size_bytes: pages * PAGE,
                rss_bytes: rss * PAGE,
                pss_bytes: rss * PAGE,
                ..Default::default()
            },
            other: BTreeMap::new(),
            vm_flags: String::new(),
        }
    }

    /// A process with these mappings; its totals are their sums.
    pub fn process(role: &str, mappings: Vec<MappingRecord>) -> ProcessRecord {
        let mut sum = MemoryFigures::default();
        for m in &mappings {
            sum.add(&m.figures);
        }
        ProcessRecord {
            role: role.into(),
            pid: 1,
            faults: Faults::default(),
            faults_total: Faults::default(),
            totals: Totals {
                vm_size_bytes: sum.size_bytes,
                rss_bytes: sum.rss_bytes,
                mapped_rss_bytes: sum.rss_bytes,
                pss_bytes: sum.pss_bytes,
                uss_bytes: sum.private_clean_bytes + sum.private_dirty_bytes,
                rss_anon_bytes: sum.anonymous_bytes,
                ..Default::default()
            },
            regions: Vec::new(),
            mappings,
            io: None,
            state: None,
        }
    }

    /// A checkpoint holding these processes.
    pub fn checkpoint(label: &str, processes: Vec<ProcessRecord>) -> CheckpointRecord {
        CheckpointRecord {
            label: label.into(),
            phase_millis: 0,
            processes,
            system: None,
            population: None,
        }
    }

    /// A variant that ran to its end through these checkpoints.
    pub fn variant(name: &str, checkpoints: Vec<CheckpointRecord>) -> VariantRecord {
        VariantRecord {
            name: name.into(),
            status: Status::Ok,
            reason: None,
            notes: BTreeMap::new(),
            noise_floor: Vec::new(),
            checkpoints,
            rss_samples: Vec::new(),
            binary: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Faults, MappingRecord, Totals};

    fn mapping(start: u64, end: u64, name: &str, perms: &str) -> MappingRecord {
        MappingRecord {
            start: crate::model::Address(start),
            end: crate::model::Address(end),
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
            state: None,
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

    #[test]
    fn bss_pages_past_the_file_are_counted_from_the_last_page_with_file_bytes() {
        let seg = |vaddr: u64, file_bytes: u64, mem_bytes: u64| crate::model::LoadSegment {
            flags: "RW ".into(),
            offset: 0,
            vaddr,
            file_bytes,
            mem_bytes,
        };
        // The minimal build: no file bytes at all, so its one page is anonymous.
        assert_eq!(pages_past_file(&seg(0x401240, 0, 56), 4096), 1);
        // Bss that fits in the last file page (a dynamic build).
        assert_eq!(pages_past_file(&seg(0x3dd0, 600, 696), 4096), 0);
        // The static glibc build: 23448 file bytes, 46056 in memory.
        assert_eq!(pages_past_file(&seg(4851416, 23448, 46056), 4096), 5);
    }

    #[test]
    fn every_claim_of_these_experiments_declares_its_criterion() {
        for name in [
            "tiny-malloc",
            "static-dynamic",
            "strip",
            "anatomy",
            "many-processes",
        ] {
            let experiment = crate::experiment::find(name).expect(name);
            let claims = experiment.claims();
            assert!(!claims.is_empty(), "{name}");
            let mut ids = std::collections::BTreeSet::new();
            for c in claims {
                assert!(ids.insert(c.id), "{name}: {} twice", c.id);
                assert!(!c.criterion.is_empty(), "{name}: {}", c.id);
                assert!(!c.statement.is_empty(), "{name}: {}", c.id);
            }
        }
    }
}
