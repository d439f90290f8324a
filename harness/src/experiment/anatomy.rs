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
use crate::elf_segments::{self, SegmentMatch};
use crate::model::{
    ClaimRecord, ExperimentRecord, MappingRecord, ProcessRecord, Status, SummaryTable,
    VariantRecord,
};
use crate::runner::parse_hex;
use crate::system::Environment;

/// The experiment.
pub struct Anatomy;

const SEED_001: &str = "001_3c62cec1a17aa088.txt";
const SEED_002: &str = "002_4ca7868f1a8c4269.txt";
const SEED_003: &str = "003_189c8fe560e6e530.txt";
const MAIN: &str = "main";
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
    criterion: "",
};
const HEAP: Claim = Claim {
    id: "malloc-block-lies-in-heap",
    source: SEED_001,
    statement: "A small malloc'd block lies in the heap, the mapping named [heap] (a large one gets an anonymous mapping of its own).",
    criterion: "",
};
const CODE_AND_DATA: Claim = Claim {
    id: "code-and-statics-lie-in-the-executables-mappings",
    source: SEED_002,
    statement: "Code lies in the executable's r-xp mapping and initialised data in its rw-p mapping; zero-initialised data (.bss) follows it.",
    criterion: "",
};
const ANON: Claim = Claim {
    id: "anonymous-mmap-is-an-unnamed-mapping",
    source: SEED_002,
    statement: "An anonymous mmap appears as a mapping with no file name.",
    criterion: "",
};
const SEGMENTS: Claim = Claim {
    id: "every-load-segment-becomes-a-mapping-with-its-permissions",
    source: SEED_002,
    statement: "Every PT_LOAD program header of the executable and of libc becomes a mapping of that file at the segment's file offset, with permissions from its flags (R E → r-xp, RW → rw-p).",
    criterion: "",
};
const GAPS: Claim = Claim {
    id: "no-access-regions-use-no-memory",
    source: SEED_003,
    statement: "The ---p regions between a library's segments are address space only: they are never resident.",
    criterion: "",
};
const KERNEL: Claim = Claim {
    id: "kernel-maps-vdso-into-every-process",
    source: SEED_002,
    statement: "The kernel maps code of its own into every process ([vdso], and on x86-64 [vsyscall]) so that some system calls run without entering the kernel.",
    criterion: "",
};

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
        such regions have Rss 0. [vvar] (and [vvar_vclock] on newer kernels) holds data the vDSO code reads; \
        [vsyscall] is a fixed legacy page, often execute-only (--xp) or absent.",
    questions: &[
        "Why does the executable appear as four mappings when readelf -l shows its load segments?",
        "Which segment is RW in the file but r--p in the process, and why?",
        "Why did the 1 MiB malloc not land in [heap]?",
        "What would you expect the Rss of a ---p region to be, and why?",
        "Which mappings are provided by the kernel rather than by a file, and what are they for?",
    ],
};

impl Experiment for Anatomy {
    fn info(&self) -> &'static ExperimentInfo {
        &experiments::catalog::ANATOMY
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

    fn judge(&self, record: &ExperimentRecord, env: &Environment) -> Vec<ClaimRecord> {
        let all = [STACK, HEAP, CODE_AND_DATA, ANON, SEGMENTS, GAPS, KERNEL];
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
            j.code_and_data(),
            j.anon(),
            j.segments(),
            j.gaps(),
            j.kernel(),
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
        STACK.judged(
            None,
            verdict_of(m.name == "[stack]"),
            self.placed_text("stack-variable"),
        )
    }

    fn heap(&self) -> ClaimRecord {
        let Some((_, small)) = self.place("small-malloc") else {
            return HEAP.unmeasured(None, self.placed_text("small-malloc"));
        };
        let large_anon = self
            .place("large-malloc")
            .is_some_and(|(_, m)| m.name.is_empty());
        HEAP.judged(
            None,
            verdict_of(small.name == "[heap]" && large_anon),
            format!(
                "{}; {} (glibc serves blocks above its mmap threshold, 128 KiB by default, with a mapping of their own)",
                self.placed_text("small-malloc"),
                self.placed_text("large-malloc")
            ),
        )
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
        for (path, result) in &matches {
            let file = path.rsplit('/').next().unwrap_or(path);
            match result {
                Err(e) => return SEGMENTS.unmeasured(None, format!("{file}: {e}")),
                Ok(segs) => {
                    let ok = segs.iter().filter(|s| s.perms_ok && s.offsets_ok).count();
                    let relro: usize = segs.iter().map(|s| s.relro_mappings).sum();
                    holds &= ok == segs.len();
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
        SEGMENTS.judged(None, verdict_of(holds), parts.join("; "))
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
    }

    fn kernel(&self) -> ClaimRecord {
        let find = |name: &str| self.process.mappings.iter().find(|m| m.name == name);
        let Some(vdso) = find("[vdso]") else {
            return KERNEL.judged(None, verdict_of(false), "no [vdso] mapping in this process");
        };
        let vsyscall = find("[vsyscall]")
            .map_or("no [vsyscall] (vsyscall=none)".to_string(), |m| {
                self.describe(m)
            });
        KERNEL.judged(
            None,
            verdict_of(vdso.perms.contains('x') && vdso.offset_bytes == 0),
            format!("{}; {vsyscall}", self.describe(vdso)),
        )
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
                    format!("#{}", s.segment.index),
                    s.segment.flags_text().trim_end().to_string(),
                    format!("{:#x}", s.segment.offset),
                    format!("{:#x}", s.segment.file_size),
                    format!("{:#x}", s.segment.mem_size),
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
                "[vsyscall]" => "the legacy fixed-address system-call page of x86-64 (emulated or execute-only)",
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
