//! anatomy: the seeds read a process's own map. "Playing with Virtual Memory"
//! (Kristina Chodorow, seed 001) finds a stack variable in `[stack]` and a malloc'd
//! block in the heap; "Hey dude, where's my memory?" (Frits Hoogland, seed 002)
//! explains the executable's two lines with `readelf -l`: the `R E` load segment
//! becomes `r-xp`, the `RW` one `rw-p`, and names `[vdso]` and `[vsyscall]`;
//! "Some things I've learned about memory" (Evan Martin, seed 003) explains the
//! `---p` regions of shared libraries. Here the process reports its own
//! addresses, and the harness places each one and matches every PT_LOAD segment
//! of the executable and of libc to the mapping it became.

use std::collections::BTreeMap;
use std::path::Path;

use experiments::ExperimentInfo;

use super::{
    human_bytes, process_at, verdict_of, Claim, Experiment, Explanation, Plan, PlanContext,
    PlannedVariant,
};
use crate::elf::segments::{self as elf_segments, SegmentMatch};
use crate::model::{
    ClaimRecord, ExperimentRecord, MappingRecord, ProcessRecord, Status, SummaryTable,
    VariantRecord, Verdict,
};
use crate::runner::parse_hex;
use crate::system::Environment;

/// The experiment.
pub struct Anatomy;

const SEED_001: &str = "001_3c62cec1a17aa088.txt";
const SEED_002: &str = "002_4ca7868f1a8c4269.txt";
const SEED_003: &str = "003_189c8fe560e6e530.txt";
const MAIN: &str = "main";
/// Where x86-64 puts the legacy vsyscall page.
const VSYSCALL_ADDRESS: u64 = 0xffff_ffff_ff60_0000;
/// The heap's and the stack's size in the seed's pmap: 132K each.
const SEED_BLOCK_BYTES: u64 = 132 * 1024;
const LABEL: &str = "addresses-reported";
const VARIANT: &str = "default";

/// The pieces the process reports, in the order shown.
const PIECES: [(&str, &str); 7] = [
    ("stack-variable", "a local variable of main's caller chain"),
    ("small-malloc", "malloc(4)"),
    (
        "large-malloc",
        "malloc(1 MiB), above glibc's 128 KiB mmap threshold",
    ),
    ("function", "a function's code"),
    (
        "initialised-static",
        "a static with a non-zero initial value (.data)",
    ),
    ("zeroed-static", "a static initialised to zero (.bss)"),
    (
        "anonymous-mmap",
        "mmap(MAP_PRIVATE | MAP_ANONYMOUS) of 64 KiB",
    ),
];

const STACK: Claim = Claim {
    id: "stack-variable-lies-in-stack",
    source: SEED_001,
    statement: "A local variable's address lies in the mapping named [stack].",
    criterion: "the address of a local variable, reported by the process, lies inside the start-end range of the mapping named [stack]; exact",
};
const HEAP: Claim = Claim {
    id: "malloc-block-lies-in-heap",
    source: SEED_001,
    statement: "A small malloc'd block lies in the heap, the mapping named [heap].",
    criterion: "the address malloc(4) returned lies inside the mapping named [heap]; exact (where the 1 MiB block lies is shown, not judged: the seed says nothing of it)",
};
const CODE_AND_DATA: Claim = Claim {
    id: "code-and-statics-lie-in-the-executables-mappings",
    source: SEED_002,
    statement: "Code lies in the executable's r-xp mapping and initialised data in its rw-p mapping; zero-initialised data (.bss) follows it.",
    criterion: "a function's address lies in the executable's r-xp mapping, an initialised static's in its rw-p mapping, and a zeroed static's in that rw-p mapping or in the anonymous rw-p mapping that starts where the executable's last mapping ends; all three, exact",
};
const TWO_LINES: Claim = Claim {
    id: "executable-appears-as-two-mappings",
    source: SEED_002,
    statement: "The executable is mentioned twice in the map, once per load segment: the code (r-xp) and the data (rw-p); two is extremely common for executables.",
    criterion: "the executable's file appears in exactly two mappings, one r-xp and one rw-p; any other number refutes",
};
const ANON: Claim = Claim {
    id: "anonymous-mmap-is-an-unnamed-mapping",
    source: SEED_002,
    statement: "An anonymous mmap appears as a mapping with no file name.",
    criterion: "the address mmap(MAP_PRIVATE | MAP_ANONYMOUS) returned lies in a mapping with an empty name and perms rw-p; exact",
};
const SEGMENTS: Claim = Claim {
    id: "every-load-segment-becomes-a-mapping-with-its-permissions",
    source: SEED_002,
    statement: "Every PT_LOAD program header of the executable and of libc becomes a mapping of that file at the segment's file offset, with permissions from its flags (R E → r-xp, RW → rw-p).",
    criterion: "for every PT_LOAD segment of the executable and of libc (read from the files), a mapping of that file at the segment's page-rounded file offset exists whose permissions follow the flags (R → r, W → w, E → x; a RW page inside PT_GNU_RELRO may show r--p, the loader protects it after relocation); one unmatched segment refutes",
};
const GAPS: Claim = Claim {
    id: "no-access-regions-use-no-memory",
    source: SEED_003,
    statement: "The --- spans are completely inaccessible, reserved address space (holes the loader protects between a library's segments, or guard pages): they hold no memory.",
    criterion: "every mapping whose permissions are ---p has Rss 0; inconclusive when the process has no ---p mapping",
};
const LIBRARY_HOLES: Claim = Claim {
    id: "library-holes-are-protected-none",
    source: SEED_003,
    statement: "A shared object whose segments are not contiguous is loaded as one big block, and the loader makes the bits between its segments inaccessible (PROT_NONE, shown ---).",
    criterion: "for every mapped file whose PT_LOAD segments leave page-rounded holes between them (read from its program headers), each hole's address range at the file's load bias is wholly covered by ---p mappings; inconclusive when no mapped file has such holes",
};
const KERNEL: Claim = Claim {
    id: "kernel-maps-vdso-into-every-process",
    source: SEED_002,
    statement: "The kernel maps code of its own into every process, [vdso], so that some system calls (gettimeofday) can run in user space.",
    criterion: "the process has a mapping named [vdso] that is executable and not backed by a file (offset 0); its absence refutes",
};

const VSYSCALL: Claim = Claim {
    id: "vsyscall-page-is-kernel-code-at-a-fixed-address",
    source: SEED_002,
    statement: "Every x86-64 process also has [vsyscall], a page of kernel code at the fixed address ffffffffff600000, readable and executable (r-xp), for fast system calls.",
    criterion: "a mapping named [vsyscall] starts at 0xffffffffff600000 with perms r-xp; --xp (execute-only) or no such mapping refutes",
};
const SIZES: Claim = Claim {
    id: "heap-and-stack-start-at-132-kib",
    source: SEED_001,
    statement: "pmap shows the heap holding the malloc'd block as a 132K block, and the stack as another 132K block.",
    criterion: "the [heap] and [stack] mappings are each exactly 132 KiB (33 pages) long, as the seed's pmap shows them; any other size refutes (inconclusive if either mapping is missing)",
};

/// Every claim, in the order they are judged.
static CLAIMS: [Claim; 11] = [
    STACK,
    HEAP,
    SIZES,
    CODE_AND_DATA,
    TWO_LINES,
    ANON,
    SEGMENTS,
    GAPS,
    LIBRARY_HOLES,
    KERNEL,
    VSYSCALL,
];

const TWO_LINES_EXPECTED: &str = "current toolchains link with -z separate-code (binutils 2.31 on x86-64), which \
    gives the ELF headers and read-only data their own non-executable segments, and with RELRO, whose pages the \
    loader makes read-only after relocation: four or five lines per executable";
const VSYSCALL_EXPECTED: &str = "current x86-64 kernels default to vsyscall=xonly: the page holds no code a process \
    can read, and a call into it traps so the kernel emulates the system call; maps shows it --xp (vsyscall=none \
    removes it). The vDSO took over its job";

static EXPLANATION: Explanation = Explanation {
    seed_claims: "Kristina Chodorow (\"Playing with Virtual Memory\") pauses a small C program, runs pmap on it, and \
        finds the stack variable's address inside the [ stack ] block and the malloc'd pointer in an anonymous \
        block that is the heap. Frits Hoogland (\"Hey dude, where's my memory?\") reads /proc/self/maps of cat, \
        names the executable's two lines, the heap, the libraries, [stack], [vdso] and [vsyscall], and uses \
        readelf -l to show that the executable's R E load segment is the r-xp line (code) and its RW load \
        segment the rw-p line (data). Evan Martin (\"Some things I've learned about memory\") notes that r-x is \
        code, r-- read-only data, rw- writable data, and that the --- spans of shared libraries are reserved \
        address space the loader protects because the library's segments are not contiguous.",
    steps: &[
        ("addresses-reported", "The process has allocated a small and a large block with malloc, mapped 64 KiB of anonymous memory, written to two statics, and reported the address of each piece, of a stack variable and of a function. It waits while the harness places every address in a mapping and reads the ELF program headers of the executable and of libc."),
    ],
    expectations: "The stack variable lies in [stack] and the small malloc'd block in [heap]; the 1 MiB block lies \
        in an anonymous mapping of its own, because glibc serves requests above M_MMAP_THRESHOLD (128 KiB) with \
        mmap. A Rust or modern C executable is position-independent and linked with separate code and read-only \
        data, so it has four PT_LOAD segments (R, R E, RW, RW) rather than the seed's two, at a random base. \
        The first RW segment is covered by PT_GNU_RELRO: after relocation the loader makes it read-only, so it \
        shows as r--p, not rw-p. .bss that does not fit in the last file page becomes an anonymous rw-p mapping \
        right after the executable's. Whether libc has ---p gaps depends on how it was linked: with segments \
        aligned to more than a page the loader reserves the whole span and protects the holes with PROT_NONE; \
        such regions have Rss 0. [vvar] (and [vvar_vclock] on newer kernels) holds data the vDSO code reads. \
        [vsyscall] is the legacy page at the fixed address ffffffffff600000 that the seeds show as r-xp: current \
        kernels keep no code there for a process to read or run; a call into it traps and the kernel emulates the \
        system call (vsyscall=xonly, the default, shown as --xp), or the page is absent (vsyscall=none). The \
        vDSO replaced it. The brk heap and the stack both start as 132 KiB mappings, as in the seeds' pmap.",
    questions: &[
        "Why does the executable appear as four mappings when readelf -l shows its load segments?",
        "Which segment is RW in the file but r--p in the process, and why?",
        "Why did the 1 MiB malloc not land in [heap]?",
        "What would you expect the Rss of a ---p region to be, and why?",
        "Which mappings are provided by the kernel rather than by a file, and what are they for?",
    ],
    answers: &[],
};

impl Experiment for Anatomy {
    fn info(&self) -> &'static ExperimentInfo {
        &experiments::catalog::anatomy::INFO
    }

    fn plan(&self, _ctx: &PlanContext<'_>) -> Result<Plan, String> {
        Ok(Plan {
            params: BTreeMap::new(),
            variants: vec![PlannedVariant {
                name: VARIANT.into(),
                args: Vec::new(),
            }],
        })
    }

    fn explanation(&self) -> &'static Explanation {
        &EXPLANATION
    }

    fn claims(&self) -> &'static [Claim] {
        &CLAIMS
    }

    fn judge(&self, record: &ExperimentRecord, env: &Environment) -> Vec<ClaimRecord> {
        let all = CLAIMS;
        let Some((variant, process)) = measured(record) else {
            let why = record
                .variants
                .first()
                .and_then(|v| v.reason.clone())
                .or_else(|| record.reason.clone())
                .unwrap_or_else(|| "addresses-reported was not measured".into());
            return all
                .iter()
                .map(|c| c.unmeasured(None, why.clone()))
                .collect();
        };
        let j = Judge {
            variant,
            process,
            page: env.page_size.max(1),
        };
        vec![
            j.stack(),
            j.heap(),
            j.sizes(),
            j.code_and_data(),
            j.two_lines()
                .expecting(Verdict::Refuted, TWO_LINES_EXPECTED),
            j.anon(),
            j.segments(),
            j.gaps(),
            j.library_holes(),
            j.kernel(),
            j.vsyscall().expecting(Verdict::Refuted, VSYSCALL_EXPECTED),
        ]
    }

    fn summary(&self, record: &ExperimentRecord, env: &Environment) -> Vec<SummaryTable> {
        let Some((variant, process)) = measured(record) else {
            return Vec::new();
        };
        let j = Judge {
            variant,
            process,
            page: env.page_size.max(1),
        };
        vec![j.pieces_table(), j.segments_table(), j.special_table()]
    }
}

fn measured(record: &ExperimentRecord) -> Option<(&VariantRecord, &ProcessRecord)> {
    let variant = record.variants.iter().find(|v| v.status == Status::Ok)?;
    Some((variant, process_at(variant, LABEL, MAIN)?))
}

fn bounds(m: &MappingRecord) -> Option<(u64, u64)> {
    Some((parse_hex(&m.start)?, parse_hex(&m.end)?))
}

struct Judge<'a> {
    variant: &'a VariantRecord,
    process: &'a ProcessRecord,
    page: u64,
}

impl Judge<'_> {
    fn executable(&self) -> Option<&str> {
        self.variant.notes.get("executable").map(String::as_str)
    }

    fn libc(&self) -> Option<&str> {
        self.process
            .mappings
            .iter()
            .map(|m| m.name.as_str())
            .find(|n| {
                let file = n.rsplit('/').next().unwrap_or("");
                file.starts_with("libc.so") || (file.starts_with("libc-") && file.ends_with(".so"))
            })
    }

    fn address(&self, piece: &str) -> Option<u64> {
        parse_hex(
            self.variant
                .notes
                .get(&format!("address_{}", piece.replace('-', "_")))?,
        )
    }

    fn mapping_at(&self, addr: u64) -> Option<&MappingRecord> {
        self.process
            .mappings
            .iter()
            .find(|m| bounds(m).is_some_and(|(s, e)| s <= addr && addr < e))
    }

    /// What a mapping is, in words.
    fn describe(&self, m: &MappingRecord) -> String {
        let what = if m.name.is_empty() {
            "anonymous".to_string()
        } else if Some(m.name.as_str()) == self.executable() {
            "the executable".to_string()
        } else if m.name.starts_with('[') {
            m.name.clone()
        } else {
            m.name.rsplit('/').next().unwrap_or(&m.name).to_string()
        };
        format!("{what} {} {}-{}", m.perms, m.start, m.end)
    }

    fn place(&self, piece: &str) -> Option<(u64, &MappingRecord)> {
        let addr = self.address(piece)?;
        Some((addr, self.mapping_at(addr)?))
    }

    fn placed_text(&self, piece: &str) -> String {
        match self.place(piece) {
            Some((addr, m)) => format!("{piece} at {addr:#x} lies in {}", self.describe(m)),
            None => format!("{piece} was not found in any mapping"),
        }
    }

    fn stack(&self) -> ClaimRecord {
        let Some((_, m)) = self.place("stack-variable") else {
            return STACK.unmeasured(None, self.placed_text("stack-variable"));
        };
        STACK
            .judged(
                None,
                verdict_of(m.name == "[stack]"),
                self.placed_text("stack-variable"),
            )
            .with_measured(format!("in {}", self.kind(m)))
    }

    fn heap(&self) -> ClaimRecord {
        let Some((_, small)) = self.place("small-malloc") else {
            return HEAP.unmeasured(None, self.placed_text("small-malloc"));
        };
        HEAP.judged(
            None,
            verdict_of(small.name == "[heap]"),
            format!(
                "{}; {} (glibc serves blocks above its mmap threshold, 128 KiB by default, with a mapping of their own)",
                self.placed_text("small-malloc"),
                self.placed_text("large-malloc")
            ),
        )
        .with_measured(format!("in {}", self.kind(small)))
    }

    fn sizes(&self) -> ClaimRecord {
        let find = |name: &str| self.process.mappings.iter().find(|m| m.name == name);
        let (Some(heap), Some(stack)) = (find("[heap]"), find("[stack]")) else {
            return SIZES.unmeasured(
                None,
                "precondition not met: the process has no [heap] or no [stack] mapping",
            );
        };
        let (h, st) = (heap.figures.size_bytes, stack.figures.size_bytes);
        SIZES
            .judged(
                None,
                verdict_of(h == SEED_BLOCK_BYTES && st == SEED_BLOCK_BYTES),
                format!(
                    "[heap] is {} and [stack] {}, against the seed's 132K each: glibc's first brk asks for the \
                     request plus a 128 KiB top pad, and exec makes the stack the pages its arguments, environment \
                     and auxiliary vector fill (one, when they fit in a page) plus 128 KiB below them",
                    human_bytes(h),
                    human_bytes(st)
                ),
            )
            .with_measured(format!(
                "heap {} KiB, stack {} KiB",
                h / 1024,
                st / 1024
            ))
    }

    /// The anonymous rw-p mapping that starts where the executable's last
    /// file-backed mapping ends (the rest of .bss), if any.
    fn bss_after_executable(&self, m: &MappingRecord) -> bool {
        let Some(exe) = self.executable() else {
            return false;
        };
        let Some((start, _)) = bounds(m) else {
            return false;
        };
        m.name.is_empty()
            && m.perms == "rw-p"
            && self
                .process
                .mappings
                .iter()
                .any(|e| e.name == exe && bounds(e).is_some_and(|(_, end)| end == start))
    }

    fn code_and_data(&self) -> ClaimRecord {
        let Some(exe) = self.executable() else {
            return CODE_AND_DATA.unmeasured(None, "the executable's path was not reported");
        };
        let (Some((_, code)), Some((_, data)), Some((_, bss))) = (
            self.place("function"),
            self.place("initialised-static"),
            self.place("zeroed-static"),
        ) else {
            return CODE_AND_DATA.unmeasured(None, "an address was not found in any mapping");
        };
        let code_ok = code.name == exe && code.perms == "r-xp";
        let data_ok = data.name == exe && data.perms == "rw-p";
        let bss_ok = (bss.name == exe && bss.perms == "rw-p") || self.bss_after_executable(bss);
        let measured = format!(
            "code in {} {}, data in {} {}, bss in {} {}",
            self.kind(code),
            code.perms,
            self.kind(data),
            data.perms,
            self.kind(bss),
            bss.perms
        );
        CODE_AND_DATA.judged(
            None,
            verdict_of(code_ok && data_ok && bss_ok),
            format!(
                "{}; {}; {}{}",
                self.placed_text("function"),
                self.placed_text("initialised-static"),
                self.placed_text("zeroed-static"),
                if bss.name.is_empty() {
                    " (the anonymous mapping right after the executable's rw-p line: .bss past the last file page)"
                } else {
                    ""
                }
            ),
        )
        .with_measured(measured)
    }

    fn two_lines(&self) -> ClaimRecord {
        let Some(exe) = self.executable() else {
            return TWO_LINES.unmeasured(None, "the executable's path was not reported");
        };
        let lines: Vec<&MappingRecord> = self
            .process
            .mappings
            .iter()
            .filter(|m| m.name == exe)
            .collect();
        if lines.is_empty() {
            return TWO_LINES.unmeasured(None, "the executable was not found in the map");
        }
        let perms: Vec<&str> = lines.iter().map(|m| m.perms.as_str()).collect();
        let mut sorted = perms.clone();
        sorted.sort_unstable();
        let libraries: Vec<String> = self
            .mapped_files()
            .into_iter()
            .filter(|f| *f != exe)
            .map(|f| {
                let n = self.process.mappings.iter().filter(|m| m.name == f).count();
                format!("{} {n}", f.rsplit('/').next().unwrap_or(f))
            })
            .collect();
        TWO_LINES
            .judged(
                None,
                verdict_of(sorted == ["r-xp", "rw-p"]),
                format!(
                    "the executable has {} lines in the map ({}); the other files: {}",
                    lines.len(),
                    perms.join(", "),
                    libraries.join(", ")
                ),
            )
            .with_measured(format!("{} lines", lines.len()))
    }

    fn anon(&self) -> ClaimRecord {
        let Some((_, m)) = self.place("anonymous-mmap") else {
            return ANON.unmeasured(None, self.placed_text("anonymous-mmap"));
        };
        let mut evidence = self.placed_text("anonymous-mmap");
        if m.figures.size_bytes > 64 * 1024 {
            evidence.push_str(&format!(
                " ({} for a 64 KiB request: the kernel merges adjacent anonymous mappings with the same \
                 permissions into one line, here with the large malloc block's)",
                human_bytes(m.figures.size_bytes)
            ));
        }
        ANON.judged(
            None,
            verdict_of(m.name.is_empty() && m.perms == "rw-p"),
            evidence,
        )
        .with_measured(format!("in {} {}", self.kind(m), m.perms))
    }

    /// The segments of the executable and of libc, matched to mappings.
    fn matches(&self) -> Vec<(String, Result<Vec<SegmentMatch>, String>)> {
        let mut out = Vec::new();
        for path in [self.executable(), self.libc()].into_iter().flatten() {
            let result = elf_segments::read(Path::new(path))
                .map_err(|e| e.to_string())
                .and_then(|elf| {
                    elf.match_mappings(&self.process.mappings, self.page)
                        .ok_or_else(|| {
                            format!("no mapping of {path} at the offset of its first segment")
                        })
                });
            out.push((path.to_string(), result));
        }
        out
    }

    fn segments(&self) -> ClaimRecord {
        let matches = self.matches();
        if matches.is_empty() {
            return SEGMENTS
                .unmeasured(None, "neither the executable nor libc was found in the map");
        }
        let mut holds = true;
        let mut parts = Vec::new();
        let (mut matched, mut total) = (0, 0);
        for (path, result) in &matches {
            let file = path.rsplit('/').next().unwrap_or(path);
            match result {
                Err(e) => return SEGMENTS.unmeasured(None, format!("{file}: {e}")),
                Ok(segs) => {
                    let ok = segs.iter().filter(|s| s.perms_ok && s.offsets_ok).count();
                    let relro: usize = segs.iter().map(|s| s.relro_mappings).sum();
                    holds &= ok == segs.len();
                    matched += ok;
                    total += segs.len();
                    parts.push(format!(
                        "{file}: {ok} of {} PT_LOAD segments found as mappings at their file offsets with the \
                         expected permissions{}",
                        segs.len(),
                        if relro > 0 {
                            format!(
                                " ({relro} mapping(s) inside PT_GNU_RELRO show r--p instead of rw-p: the loader \
                                 makes relocated data read-only)"
                            )
                        } else {
                            String::new()
                        }
                    ));
                }
            }
        }
        SEGMENTS
            .judged(None, verdict_of(holds), parts.join("; "))
            .with_measured(format!("{matched} of {total} segments matched"))
    }

    fn gaps(&self) -> ClaimRecord {
        let gaps: Vec<&MappingRecord> = self
            .process
            .mappings
            .iter()
            .filter(|m| m.perms.starts_with("---"))
            .collect();
        if gaps.is_empty() {
            return GAPS.unmeasured(
                None,
                "this process has no ---p mapping: its libraries were linked with page-aligned, contiguous \
                 segments, so the loader left no holes to protect",
            );
        }
        let size: u64 = gaps.iter().map(|m| m.figures.size_bytes).sum();
        let rss: u64 = gaps.iter().map(|m| m.figures.rss_bytes).sum();
        let names: Vec<String> = gaps.iter().map(|m| self.describe(m)).collect();
        let in_files = gaps.iter().filter(|m| !m.name.is_empty()).count();
        GAPS.judged(
            None,
            verdict_of(rss == 0),
            format!(
                "{} ---p mapping(s), {} of address space, Rss {}: {}{}",
                gaps.len(),
                human_bytes(size),
                human_bytes(rss),
                names.join("; "),
                if in_files == 0 {
                    ". None of them belongs to a library (the libraries here were linked with contiguous, \
                     page-aligned segments, leaving no holes); these are guard regions, PROT_NONE just the same"
                } else {
                    ""
                }
            ),
        )
        .with_measured(format!("{} ---p, Rss {} KiB", gaps.len(), rss / 1024))
    }

    /// The files mapped into the process, each once, in address order.
    fn mapped_files(&self) -> Vec<&str> {
        let mut files: Vec<&str> = Vec::new();
        for m in &self.process.mappings {
            if m.name.starts_with('/') && !files.contains(&m.name.as_str()) {
                files.push(&m.name);
            }
        }
        files
    }

    /// The holes between the segments of every mapped file, at the file's load
    /// address: (file name, start, end).
    fn file_holes(&self) -> Vec<(String, u64, u64)> {
        let mut out = Vec::new();
        for path in self.mapped_files() {
            let Ok(elf) = elf_segments::read(Path::new(path)) else {
                continue;
            };
            let Some(bias) = elf.load_bias(&self.process.mappings, self.page) else {
                continue;
            };
            let file = path.rsplit('/').next().unwrap_or(path);
            for (start, end) in elf.holes(self.page) {
                out.push((file.to_string(), bias + start, bias + end));
            }
        }
        out
    }

    fn library_holes(&self) -> ClaimRecord {
        self.holes_claim(&self.file_holes())
    }

    fn holes_claim(&self, holes: &[(String, u64, u64)]) -> ClaimRecord {
        if holes.is_empty() {
            return LIBRARY_HOLES.unmeasured(
                None,
                format!(
                    "precondition not met: none of the {} mapped files has holes between its segments (they \
                     were linked with page-aligned, contiguous segments), so the loader had nothing to protect",
                    self.mapped_files().len()
                ),
            );
        }
        let mut checked = Vec::new();
        let mut covered = 0;
        for (file, start, end) in holes {
            let protected: u64 = self
                .process
                .mappings
                .iter()
                .filter(|m| m.perms == "---p")
                .filter_map(bounds)
                .map(|(s, e)| e.min(*end).saturating_sub(s.max(*start)))
                .sum();
            covered += usize::from(protected == end - start);
            checked.push(format!(
                "{file}: hole {start:#x}-{end:#x} ({}), {} of it ---p",
                human_bytes(end - start),
                human_bytes(protected)
            ));
        }
        LIBRARY_HOLES
            .judged(None, verdict_of(covered == holes.len()), checked.join("; "))
            .with_measured(format!("{covered} of {} holes ---p", holes.len()))
    }

    fn kernel(&self) -> ClaimRecord {
        let find = |name: &str| self.process.mappings.iter().find(|m| m.name == name);
        let Some(vdso) = find("[vdso]") else {
            return KERNEL
                .judged(None, verdict_of(false), "no [vdso] mapping in this process")
                .with_measured("no [vdso]");
        };
        KERNEL
            .judged(
                None,
                verdict_of(vdso.perms.contains('x') && vdso.offset_bytes == 0),
                self.describe(vdso),
            )
            .with_measured(format!("[vdso] {}", vdso.perms))
    }

    fn vsyscall(&self) -> ClaimRecord {
        let found = self
            .process
            .mappings
            .iter()
            .find(|m| m.name == "[vsyscall]");
        let Some(m) = found else {
            return VSYSCALL
                .judged(
                    None,
                    verdict_of(false),
                    "no [vsyscall] mapping: the kernel runs with vsyscall=none",
                )
                .with_measured("no [vsyscall]");
        };
        let at_fixed = parse_hex(&m.start) == Some(VSYSCALL_ADDRESS);
        VSYSCALL
            .judged(
                None,
                verdict_of(at_fixed && m.perms == "r-xp"),
                format!(
                    "{}{}",
                    self.describe(m),
                    if m.perms.starts_with("--x") {
                        ": execute-only, so nothing there can be read; a call traps and the kernel emulates it"
                    } else {
                        ""
                    }
                ),
            )
            .with_measured(format!("[vsyscall] {}", m.perms))
    }

    fn pieces_table(&self) -> SummaryTable {
        let mut table = SummaryTable {
            title: "where each piece of the process lies".into(),
            headers: [
                "piece",
                "what",
                "address",
                "mapping",
                "perms",
                "mapping range",
            ]
            .map(String::from)
            .to_vec(),
            rows: Vec::new(),
        };
        for (piece, what) in PIECES {
            let addr = self.address(piece);
            let m = addr.and_then(|a| self.mapping_at(a));
            table.rows.push(vec![
                piece.to_string(),
                what.to_string(),
                addr.map_or("-".into(), |a| format!("{a:#x}")),
                m.map_or("-".into(), |m| self.kind(m)),
                m.map_or("-".into(), |m| m.perms.clone()),
                m.map_or("-".into(), |m| format!("{}-{}", m.start, m.end)),
            ]);
        }
        table
    }

    fn kind(&self, m: &MappingRecord) -> String {
        if m.name.is_empty() {
            "(anonymous)".into()
        } else if Some(m.name.as_str()) == self.executable() {
            "(executable)".into()
        } else {
            m.name.rsplit('/').next().unwrap_or(&m.name).to_string()
        }
    }

    fn segments_table(&self) -> SummaryTable {
        let mut table = SummaryTable {
            title: "PT_LOAD segments (readelf -l) and the mappings they became".into(),
            headers: [
                "file",
                "segment",
                "flags",
                "file offset",
                "file size",
                "mem size",
                "mapping(s)",
                "perms",
                "mapping offset",
                "matches",
            ]
            .map(String::from)
            .to_vec(),
            rows: Vec::new(),
        };
        for (path, result) in self.matches() {
            let file = path.rsplit('/').next().unwrap_or(&path).to_string();
            let Ok(segs) = result else {
                table.rows.push(vec![file, "unreadable".into()]);
                continue;
            };
            for s in segs {
                let mut maps: Vec<&MappingRecord> = s.mappings.iter().collect();
                if let Some(b) = &s.bss_mapping {
                    maps.push(b);
                }
                let join = |f: &dyn Fn(&MappingRecord) -> String| {
                    maps.iter().map(|m| f(m)).collect::<Vec<_>>().join(", ")
                };
                table.rows.push(vec![
                    file.clone(),
                    format!("#{}", s.index),
                    s.segment.flags.trim_end().to_string(),
                    format!("{:#x}", s.segment.offset),
                    format!("{:#x}", s.segment.file_bytes),
                    format!("{:#x}", s.segment.mem_bytes),
                    join(&|m| {
                        format!(
                            "{}-{}{}",
                            m.start,
                            m.end,
                            if m.name.is_empty() {
                                " (anon, .bss)"
                            } else {
                                ""
                            }
                        )
                    }),
                    join(&|m| m.perms.clone()),
                    join(&|m| format!("{:#x}", m.offset_bytes)),
                    if s.perms_ok && s.offsets_ok {
                        if s.relro_mappings > 0 {
                            "yes (RELRO → r--p)".into()
                        } else {
                            "yes".into()
                        }
                    } else {
                        "no".into()
                    },
                ]);
            }
        }
        table
    }

    fn special_table(&self) -> SummaryTable {
        let mut table = SummaryTable {
            title: "mappings that are not plain file data".into(),
            headers: ["mapping", "perms", "size", "Rss", "what it is"]
                .map(String::from)
                .to_vec(),
            rows: Vec::new(),
        };
        for m in &self.process.mappings {
            let what = match m.name.as_str() {
                "[vdso]" => "code the kernel maps into every process, so calls like clock_gettime run without a system call",
                "[vvar]" | "[vvar_vclock]" => "kernel data the vDSO code reads (clock values), read-only to the process",
                "[vsyscall]" => "the legacy fixed-address system-call page of x86-64: a call into it traps and the kernel emulates it (--xp, execute-only)",
                "[stack]" => "the main thread's stack; it grows down on demand",
                "[heap]" => "the brk heap: malloc's arena for small blocks",
                _ if m.perms.starts_with("---") => "reserved, inaccessible address space (PROT_NONE): a hole between a library's segments or a guard",
                _ => continue,
            };
            table.rows.push(vec![
                if m.name.is_empty() {
                    format!("(anonymous) {}", m.start)
                } else {
                    format!("{} {}", self.kind(m), m.start)
                },
                m.perms.clone(),
                human_bytes(m.figures.size_bytes),
                human_bytes(m.figures.rss_bytes),
                what.to_string(),
            ]);
        }
        table
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiment::programs::fixtures::{self, mapping, PAGE};

    const EXE: &str = "/bin/anatomy";

    /// The mappings of a typical process, by page number.
    fn maps() -> Vec<MappingRecord> {
        vec![
            mapping(0x100, 1, EXE, "r--p", 1),
            mapping(0x101, 4, EXE, "r-xp", 4),
            mapping(0x105, 1, EXE, "r--p", 1),
            mapping(0x106, 1, EXE, "rw-p", 1),
            mapping(0x107, 1, "", "rw-p", 1),
            mapping(0x200, 33, "[heap]", "rw-p", 1),
            mapping(0x7000, 16, "", "rw-p", 0),
            mapping(0x7010, 1, "", "---p", 0),
            mapping(0x7100, 2, "[vdso]", "r-xp", 2),
            mapping(0x7ff00, 33, "[stack]", "rw-p", 2),
            mapping(VSYSCALL_ADDRESS / PAGE, 1, "[vsyscall]", "--xp", 0),
        ]
    }

    /// Where each piece lies, as page numbers (the address is 16 bytes in).
    const PLACES: [(&str, u64); 7] = [
        ("stack_variable", 0x7ff20),
        ("small_malloc", 0x200),
        ("large_malloc", 0x7000),
        ("function", 0x102),
        ("initialised_static", 0x106),
        ("zeroed_static", 0x107),
        ("anonymous_mmap", 0x7008),
    ];

    fn variant_with(places: &[(&str, u64)]) -> VariantRecord {
        let mut v = fixtures::variant(VARIANT, Vec::new());
        v.notes.insert("executable".into(), EXE.into());
        for (piece, page) in places {
            v.notes.insert(
                format!("address_{piece}"),
                format!("{:#x}", page * PAGE + 16),
            );
        }
        v
    }

    fn verdicts(
        mappings: Vec<MappingRecord>,
        places: &[(&str, u64)],
    ) -> BTreeMap<&'static str, Verdict> {
        let variant = variant_with(places);
        let process = fixtures::process(MAIN, mappings);
        let j = Judge {
            variant: &variant,
            process: &process,
            page: PAGE,
        };
        [
            j.stack(),
            j.heap(),
            j.sizes(),
            j.code_and_data(),
            j.two_lines()
                .expecting(Verdict::Refuted, TWO_LINES_EXPECTED),
            j.anon(),
            j.gaps(),
            j.library_holes(),
            j.kernel(),
            j.vsyscall(),
        ]
        .into_iter()
        .map(|c| {
            assert!(
                c.verdict == Verdict::Inconclusive || !c.measured.is_empty(),
                "{}",
                c.id
            );
            let id = CLAIMS.iter().find(|k| k.id == c.id).expect("declared").id;
            (id, c.verdict)
        })
        .collect()
    }

    fn moved(piece: &str, page: u64) -> Vec<(&'static str, u64)> {
        PLACES
            .iter()
            .map(|&(p, at)| (p, if p == piece { page } else { at }))
            .collect()
    }

    #[test]
    fn a_typical_process_confirms_the_seeds_map_except_vsyscall() {
        let v = verdicts(maps(), &PLACES);
        for claim in [STACK, HEAP, SIZES, CODE_AND_DATA, ANON, GAPS, KERNEL] {
            assert_eq!(v[claim.id], Verdict::Confirmed, "{}", claim.id);
        }
        // Four lines for the executable, as current toolchains link it.
        assert_eq!(v[TWO_LINES.id], Verdict::Refuted);
        assert_eq!(v[VSYSCALL.id], Verdict::Refuted);
    }

    #[test]
    fn pieces_in_the_wrong_mapping_refute() {
        assert_eq!(
            verdicts(maps(), &moved("stack_variable", 0x200))[STACK.id],
            Verdict::Refuted
        );
        assert_eq!(
            verdicts(maps(), &moved("small_malloc", 0x7000))[HEAP.id],
            Verdict::Refuted
        );
        assert_eq!(
            verdicts(maps(), &moved("function", 0x105))[CODE_AND_DATA.id],
            Verdict::Refuted
        );
        assert_eq!(
            verdicts(maps(), &moved("zeroed_static", 0x7000))[CODE_AND_DATA.id],
            Verdict::Refuted
        );
        assert_eq!(
            verdicts(maps(), &moved("anonymous_mmap", 0x200))[ANON.id],
            Verdict::Refuted
        );
        // An address in no mapping at all: no judgement.
        assert_eq!(
            verdicts(maps(), &moved("stack_variable", 0x9000))[STACK.id],
            Verdict::Inconclusive
        );
    }

    #[test]
    fn an_executable_of_two_lines_code_and_data_confirms() {
        let mut m = maps();
        m.drain(0..3);
        m.insert(0, mapping(0x101, 4, EXE, "r-xp", 4));
        let places = moved("function", 0x102);
        assert_eq!(
            verdicts(m.clone(), &places)[TWO_LINES.id],
            Verdict::Confirmed
        );
        m[1].perms = "r--p".into();
        assert_eq!(verdicts(m, &places)[TWO_LINES.id], Verdict::Refuted);
    }

    #[test]
    fn heap_and_stack_must_be_exactly_132_kib() {
        let mut m = maps();
        m[5] = mapping(0x200, 34, "[heap]", "rw-p", 1);
        assert_eq!(verdicts(m, &PLACES)[SIZES.id], Verdict::Refuted);
        let mut m = maps();
        m[9] = mapping(0x7ff00, 32, "[stack]", "rw-p", 2);
        assert_eq!(verdicts(m, &PLACES)[SIZES.id], Verdict::Refuted);
        let mut m = maps();
        m.remove(5);
        assert_eq!(verdicts(m, &PLACES)[SIZES.id], Verdict::Inconclusive);
    }

    #[test]
    fn a_resident_page_in_a_no_access_region_refutes_and_none_is_inconclusive() {
        let mut m = maps();
        m[7] = mapping(0x7010, 1, "", "---p", 1);
        assert_eq!(verdicts(m, &PLACES)[GAPS.id], Verdict::Refuted);
        let mut m = maps();
        m.remove(7);
        assert_eq!(verdicts(m, &PLACES)[GAPS.id], Verdict::Inconclusive);
    }

    #[test]
    fn every_hole_between_a_librarys_segments_must_be_no_access() {
        let variant = variant_with(&PLACES);
        let judge = |mappings: Vec<MappingRecord>, holes: &[(String, u64, u64)]| {
            let process = fixtures::process(MAIN, mappings);
            Judge {
                variant: &variant,
                process: &process,
                page: PAGE,
            }
            .holes_claim(holes)
            .verdict
        };
        let hole = [("libx.so".to_string(), 0x7010 * PAGE, 0x7011 * PAGE)];
        assert_eq!(judge(maps(), &hole), Verdict::Confirmed);
        // One page of the hole left accessible.
        let wider = [("libx.so".to_string(), 0x7010 * PAGE, 0x7012 * PAGE)];
        assert_eq!(judge(maps(), &wider), Verdict::Refuted);
        // No file with holes: nothing to judge.
        assert_eq!(judge(maps(), &[]), Verdict::Inconclusive);
    }

    #[test]
    fn vdso_must_be_there_and_vsyscall_readable_at_its_fixed_address() {
        let mut m = maps();
        m.remove(8);
        assert_eq!(verdicts(m, &PLACES)[KERNEL.id], Verdict::Refuted);
        let mut m = maps();
        m[10].perms = "r-xp".into();
        assert_eq!(verdicts(m, &PLACES)[VSYSCALL.id], Verdict::Confirmed);
        let mut m = maps();
        m[10] = mapping(VSYSCALL_ADDRESS / PAGE + 1, 1, "[vsyscall]", "r-xp", 0);
        assert_eq!(verdicts(m, &PLACES)[VSYSCALL.id], Verdict::Refuted);
        let mut m = maps();
        m.remove(10);
        assert_eq!(verdicts(m, &PLACES)[VSYSCALL.id], Verdict::Refuted);
    }
}
