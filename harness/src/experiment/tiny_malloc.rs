//! tiny-malloc: "ten thousand small processes" (D. J. Bernstein and Jeff Roberson,
//! freebsd-performance, 2003). Bernstein's static test program made five small
//! mallocs and waited; FreeBSD 4.8 showed 44 KB RSS and 168 KB VSZ and he asked
//! where the pages went. Roberson answered: page tables, the stack reservation,
//! text separated from data and bss. Here the same program runs in four builds,
//! and each mapping is accounted for in pages.

use std::collections::BTreeMap;

use experiments::ExperimentInfo;
use serde_json::json;

use super::programs::{self, pages_up, Part};
use super::{
    human_bytes, pages, process_at, verdict_of, Claim, Experiment, Explanation, Plan, PlanContext,
};
use crate::model::{
    ClaimRecord, ExperimentRecord, MemoryFigures, ProcessRecord, VariantRecord, Verdict,
};
use crate::system::Environment;

/// The experiment.
pub struct TinyMalloc;

const SOURCE: &str = "004_27fc77f6d1b07880.txt";
const ROLE: &str = "program";
const BEFORE: &str = "before-mallocs";
const AFTER: &str = "after-mallocs";
const VARIANTS: [&str; 4] = ["static", "dynamic", "minimal", "std"];
/// The five requests of the seed's program: 1076 bytes in all.
const MALLOCS: [u64; 5] = [360, 80, 180, 16, 440];
/// What FreeBSD 4.8 showed for the seed's static program.
const SEED_RSS_BYTES: u64 = 44 * 1024;
const SEED_VSZ_BYTES: u64 = 168 * 1024;
/// How far above the derived minimum the minimal build may be, in pages.
const MINIMUM_TOLERANCE_PAGES: u64 = 2;
/// Roberson's count of page-table pages for the smallest process on x86.
const SEED_PAGE_TABLE_PAGES: u64 = 3;
/// Roberson: 32 pages of the address space were the initial stack reservation.
const SEED_STACK_PAGES: u64 = 32;

const MALLOC_PAGE: Claim = Claim {
    id: "small-mallocs-do-not-cost-a-page-each",
    source: SOURCE,
    statement: "Five small mallocs (1076 bytes) need not cost a page each: the process's anonymous memory grows by fewer pages than there are mallocs.",
    criterion: "",
};
const SEED_FIGURES: Claim = Claim {
    id: "static-program-takes-44k-rss-168k-vsz",
    source: SOURCE,
    statement: "A static C program making five small mallocs ends up with about 44 KB RSS and 168 KB VSZ (FreeBSD 4.8; 'about' here means at most twice as much).",
    criterion: "",
};
const NEAR_MINIMUM: Claim = Claim {
    id: "minimal-program-fits-in-a-few-pages",
    source: SOURCE,
    statement: "A small program could live in a single page per process, or a few: without C library start-up, its RSS comes within 2 pages of the least Linux allows.",
    criterion: "",
};
const PAGE_TABLES: Claim = Claim {
    id: "every-process-needs-page-tables",
    source: SOURCE,
    statement: "Even the smallest process needs pages for page tables, at least three on x86.",
    criterion: "",
};
const STACK_RESERVATION: Claim = Claim {
    id: "stack-reservation-is-address-space-not-memory",
    source: SOURCE,
    statement: "About 32 pages of the address space are the initial stack reservation; they cost no memory, only the pages used are resident.",
    criterion: "",
};

static EXPLANATION: Explanation = Explanation {
    seed_claims: "In \"ten thousand small processes\" (freebsd-performance, 2003), D. J. Bernstein compiles a \
        static program that calls malloc five times for 1076 bytes in all and sleeps; FreeBSD 4.8 shows 44 KB \
        RSS and 168 KB VSZ, and he asks where the 8 extra pages of memory and 39 of address space go, since \
        a small program should fit in one page. He suspects exit() drags in stdio's data and bss, and that \
        malloc takes a page per call plus an anonymous mmap. Jeff Roberson answers that every process needs \
        page-table pages (three at least on x86), that 32 of the address-space pages are the initial stack \
        reservation, which costs nothing until used, and that text must be kept apart from data and bss \
        because they need different protections, so they cannot share one page.",
    steps: &[
        ("before-mallocs", "The program has started (loader, C library start-up, or nothing at all for the minimal build) and stopped itself before its first malloc."),
        ("after-mallocs", "The five mallocs are done (360, 80, 180, 16 and 440 bytes) and the program stopped again: what grew is what the allocations cost."),
    ],
    expectations: "Five small mallocs cost one or two pages, not five: glibc's malloc takes them from one brk heap \
        (it mmaps only requests of 128 KiB and more), and Rust's std uses the same allocator. Linux figures are \
        far above Bernstein's for glibc: a static glibc binary carries some 650 KB of text, and fault-around \
        maps up to 16 cached pages of a file around each text fault, so hundreds of KB of text are resident; a \
        dynamic one maps libc and the loader as well (shared with every other process, which Pss shows). The \
        minimal build, with three instructions of start-up and a bump allocator over brk, comes within a page \
        or two of the least Linux allows: a page of text, one of bss, one of heap and one of stack. VmStk is \
        132 KiB of address space of which only a page or two are resident, as Roberson said of FreeBSD's stack \
        reservation. VmPTE counts page-table pages below the top level: a handful per process.",
    questions: &[
        "Which mappings of the minimal build are resident, and why can text and bss not share one page?",
        "Why does the static glibc build have hundreds of KB resident when the program runs only a few functions?",
        "How many pages did the five mallocs cost, and where (heap or anonymous mmap)?",
        "What is the difference between VmStk and the stack's Rss?",
        "Which memory of a process does no figure in /proc/PID/smaps include?",
    ],
};

impl Experiment for TinyMalloc {
    fn info(&self) -> &'static ExperimentInfo {
        &experiments::catalog::TINY_MALLOC
    }

    fn plan(&self, ctx: &PlanContext<'_>) -> Result<Plan, String> {
        let mut params = BTreeMap::new();
        params.insert("malloc_bytes".into(), json!(MALLOCS));
        programs::aslr_param(ctx, &mut params);
        let variants = programs::named_variants(&VARIANTS, ctx);
        Ok(Plan { params, variants })
    }

    fn explanation(&self) -> &'static Explanation {
        &EXPLANATION
    }

    fn judge(&self, record: &ExperimentRecord, env: &Environment) -> Vec<ClaimRecord> {
        let mut claims = Vec::new();
        for variant in &record.variants {
            let name = Some(variant.name.as_str());
            if let Some(why) = programs::not_ok(variant) {
                claims.push(MALLOC_PAGE.unmeasured(name, why.clone()));
                claims.push(PAGE_TABLES.unmeasured(name, why));
                continue;
            }
            let judge = Judge {
                variant,
                page: env.page_size,
            };
            claims.push(judge.malloc_page());
            claims.push(judge.page_tables());
            match variant.name.as_str() {
                "static" => claims.push(judge.seed_figures().expecting(
                    Verdict::Refuted,
                    "glibc's static start-up runs far more code than FreeBSD 4.8's, and fault-around maps up to \
                     16 cached pages of the file per fault, so hundreds of KiB of text are resident",
                )),
                "minimal" => {
                    claims.push(judge.near_minimum());
                    claims.push(judge.stack_reservation());
                }
                _ => {}
            }
        }
        for (claim, variant) in [(SEED_FIGURES, "static"), (NEAR_MINIMUM, "minimal")] {
            if let Some(v) = record.variants.iter().find(|v| v.name == variant) {
                if let Some(why) = programs::not_ok(v) {
                    claims.push(claim.unmeasured(Some(variant), why));
                }
            }
        }
        claims
    }
}

/// Judges one variant that ran to its end.
struct Judge<'a> {
    variant: &'a VariantRecord,
    page: u64,
}

impl Judge<'_> {
    fn name(&self) -> Option<&str> {
        Some(self.variant.name.as_str())
    }

    /// `part pages` of Rss (and of Size in parentheses) for every part present.
    fn breakdown_text(&self, label: &str) -> String {
        let (Some(process), Some(program)) = (
            process_at(self.variant, label, ROLE),
            programs::program_path(self.variant),
        ) else {
            return "no breakdown".into();
        };
        let parts = programs::breakdown(process, program);
        Part::ALL
            .iter()
            .filter_map(|p| {
                let f = parts.get(p)?;
                Some(format!(
                    "{} {} ({})",
                    p.name(),
                    pages(f.rss_bytes, self.page),
                    pages(f.size_bytes, self.page)
                ))
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn malloc_page(&self) -> ClaimRecord {
        let (Some(before), Some(after)) = (
            process_at(self.variant, BEFORE, ROLE),
            process_at(self.variant, AFTER, ROLE),
        ) else {
            return MALLOC_PAGE.unmeasured(self.name(), "the two checkpoints were not measured");
        };
        let delta = |f: fn(&ProcessRecord) -> u64| f(after) as i64 - f(before) as i64;
        let anon = delta(|p| p.totals.rss_anon_bytes);
        let file = delta(|p| p.totals.rss_file_bytes);
        let rss = delta(|p| p.totals.rss_bytes);
        let anon_pages = anon.max(0) as u64 / self.page;
        let program = programs::program_path(self.variant).unwrap_or_default();
        let heap = |p: &ProcessRecord| {
            let parts = programs::breakdown(p, program);
            let get = |part| parts.get(&part).map_or(0, |f: &MemoryFigures| f.rss_bytes);
            (get(Part::Heap), get(Part::Anonymous))
        };
        let (heap_before, anon_before) = heap(before);
        let (heap_after, anon_after) = heap(after);
        let mut evidence = format!(
            "anonymous memory (RssAnon) grew by {anon_pages} pages ({anon} bytes) over the five mallocs; heap Rss \
             {} -> {} pages, other anonymous Rss {} -> {} pages; {} minor faults",
            pages(heap_before, self.page),
            pages(heap_after, self.page),
            pages(anon_before, self.page),
            pages(anon_after, self.page),
            after.faults.minor,
        );
        if file > 0 {
            evidence.push_str(&format!(
                ". VmRSS grew by {} pages in all: {} pages are file pages, malloc's own code paged in on first \
                 use (fault-around maps up to 16 cached pages per fault, and where its window falls depends on \
                 the library's load address, which ASLR moves), shared with every process that maps the file",
                rss / self.page as i64,
                file / self.page as i64
            ));
        }
        MALLOC_PAGE.judged(
            self.name(),
            verdict_of(anon >= 0 && anon_pages < MALLOCS.len() as u64),
            evidence,
        )
    }

    fn page_tables(&self) -> ClaimRecord {
        let Some(after) = process_at(self.variant, AFTER, ROLE) else {
            return PAGE_TABLES.unmeasured(self.name(), "after-mallocs was not measured");
        };
        let pte_pages = pages(after.totals.pte_bytes, self.page);
        PAGE_TABLES.judged(
            self.name(),
            verdict_of(pte_pages >= SEED_PAGE_TABLE_PAGES),
            format!(
                "VmPTE is {pte_pages} pages ({}); it counts page-table pages below the top level, so the \
                 top-level page directory (one page, two with page-table isolation) comes on top",
                human_bytes(after.totals.pte_bytes)
            ),
        )
    }

    fn seed_figures(&self) -> ClaimRecord {
        let Some(after) = process_at(self.variant, AFTER, ROLE) else {
            return SEED_FIGURES.unmeasured(self.name(), "after-mallocs was not measured");
        };
        let t = &after.totals;
        let holds = t.rss_bytes <= 2 * SEED_RSS_BYTES && t.vm_size_bytes <= 2 * SEED_VSZ_BYTES;
        let text = self
            .variant
            .binary
            .as_ref()
            .map(|b| {
                format!(
                    "; the file has {} of text (size)",
                    human_bytes(b.text_bytes)
                )
            })
            .unwrap_or_default();
        SEED_FIGURES.judged(
            self.name(),
            verdict_of(holds),
            format!(
                "VmRSS {} and VmSize {} (seed: 44 KB and 168 KB){text}. Rss (Size) in pages: {}. Glibc's \
                 static start-up runs far more code than FreeBSD 4.8's, and fault-around maps up to 16 cached \
                 pages of the file around every text fault",
                human_bytes(t.rss_bytes),
                human_bytes(t.vm_size_bytes),
                self.breakdown_text(AFTER)
            ),
        )
    }

    /// The least Linux allows, from the file's segments: every page the text
    /// segment spans (the code runs through it), every page of the writable
    /// segment (the allocator's state lives there), the heap pages the five
    /// requests need, and one page of stack (arguments, environment and auxiliary
    /// vector are written there by exec, and the program's frames follow).
    fn minimum_pages(&self) -> Option<(u64, String)> {
        let binary = self.variant.binary.as_ref()?;
        let span = |vaddr: u64, bytes: u64| {
            if bytes == 0 {
                0
            } else {
                (vaddr + bytes).div_ceil(self.page) - vaddr / self.page
            }
        };
        let text: u64 = binary
            .load_segments
            .iter()
            .filter(|s| s.flags.contains('E'))
            .map(|s| span(s.vaddr, s.mem_bytes))
            .sum();
        let writable: u64 = binary
            .load_segments
            .iter()
            .filter(|s| s.flags.contains('W'))
            .map(|s| span(s.vaddr, s.mem_bytes))
            .sum();
        let heap = pages_up(
            MALLOCS.iter().map(|b| b.next_multiple_of(16)).sum(),
            self.page,
        );
        let stack = 1;
        Some((
            text + writable + heap + stack,
            format!("{text} text + {writable} data/bss + {heap} heap + {stack} stack"),
        ))
    }

    fn near_minimum(&self) -> ClaimRecord {
        let Some(after) = process_at(self.variant, AFTER, ROLE) else {
            return NEAR_MINIMUM.unmeasured(self.name(), "after-mallocs was not measured");
        };
        let Some((minimum, derivation)) = self.minimum_pages() else {
            return NEAR_MINIMUM.unmeasured(
                self.name(),
                "the program's ELF facts could not be read, so the minimum cannot be derived",
            );
        };
        let rss_pages = pages(after.totals.rss_bytes, self.page);
        let holds = rss_pages <= minimum + MINIMUM_TOLERANCE_PAGES;
        NEAR_MINIMUM.judged(
            self.name(),
            verdict_of(holds),
            format!(
                "VmRSS is {rss_pages} pages ({}), VmSize {} pages (the seed's static FreeBSD program: 11 pages \
                 RSS, 42 pages VSZ); the least Linux allows is {minimum} pages \
                 ({derivation}); tolerance {MINIMUM_TOLERANCE_PAGES} pages. Rss (Size) in pages: {}. Not one \
                 page: text must not be writable and data must not be executable, so they need pages of their \
                 own, and the kernel starts every process with a stack",
                human_bytes(after.totals.rss_bytes),
                pages(after.totals.vm_size_bytes, self.page),
                self.breakdown_text(AFTER)
            ),
        )
    }

    fn stack_reservation(&self) -> ClaimRecord {
        let (Some(after), Some(program)) = (
            process_at(self.variant, AFTER, ROLE),
            programs::program_path(self.variant),
        ) else {
            return STACK_RESERVATION.unmeasured(self.name(), "after-mallocs was not measured");
        };
        let parts = programs::breakdown(after, program);
        let Some(stack) = parts.get(&Part::Stack) else {
            return STACK_RESERVATION.unmeasured(self.name(), "no [stack] mapping was seen");
        };
        let size_pages = pages(stack.size_bytes, self.page);
        let rss_pages = pages(stack.rss_bytes, self.page);
        let holds = size_pages >= SEED_STACK_PAGES && rss_pages * 4 <= size_pages;
        STACK_RESERVATION.judged(
            self.name(),
            verdict_of(holds),
            format!(
                "the [stack] mapping spans {size_pages} pages (VmStk {}) of which {rss_pages} are resident; \
                 Linux reserves 128 KiB below the arguments at exec, as FreeBSD reserved its 32 pages",
                human_bytes(after.totals.stack_bytes)
            ),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{BinaryFacts, Linking, LoadSegment, Status};

    fn segment(flags: &str, vaddr: u64, mem_bytes: u64) -> LoadSegment {
        LoadSegment {
            flags: flags.into(),
            offset: 0,
            vaddr,
            file_bytes: mem_bytes,
            mem_bytes,
        }
    }

    #[test]
    fn the_minimum_counts_every_page_the_segments_span_plus_heap_and_stack() {
        let variant = VariantRecord {
            name: "minimal".into(),
            status: Status::Ok,
            reason: None,
            notes: BTreeMap::new(),
            noise_floor: Vec::new(),
            checkpoints: Vec::new(),
            rss_samples: Vec::new(),
            binary: Some(BinaryFacts {
                path: "/p".into(),
                file_bytes: 1448,
                linking: Linking::Static,
                stripped: false,
                // Text inside one page; bss straddling a page boundary.
                load_segments: vec![
                    segment("R E", 0x400000, 0x227),
                    segment("RW ", 0x401ff0, 0x38),
                ],
                text_bytes: 0x227,
                data_bytes: 0,
                bss_bytes: 0x38,
            }),
        };
        let judge = Judge {
            variant: &variant,
            page: 4096,
        };
        let (pages, derivation) = judge.minimum_pages().expect("binary facts");
        assert_eq!(pages, 1 + 2 + 1 + 1, "{derivation}");
    }
}
