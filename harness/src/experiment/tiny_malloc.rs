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
const VARIANTS: [&str; 5] = ["static", "dynamic", "minimal", "minimal-stack-4k", "std"];
/// The variant started with its stack limited, as the seed's program was.
const LIMITED: &str = "minimal-stack-4k";
/// The note in which the experiment records the stack limit in force at exec.
const STACK_LIMIT_NOTE: &str = "stack_limit_bytes";
/// The five requests of the seed's program: 1076 bytes in all.
const MALLOCS: [u64; 5] = [360, 80, 180, 16, 440];
/// What FreeBSD 4.8 showed for the seed's static program.
const SEED_RSS_BYTES: u64 = 44 * 1024;
const SEED_VSZ_BYTES: u64 = 168 * 1024;
/// Roberson's count of page-table pages for the smallest process on x86.
const SEED_PAGE_TABLE_PAGES: u64 = 3;
/// Roberson: 32 pages of the address space were the initial stack reservation.
const SEED_STACK_PAGES: u64 = 32;
/// Bernstein hard-limited the stack to 4K before exec.
const SEED_STACK_LIMIT_BYTES: u64 = 4096;
/// Bernstein: "I don't care much about the 3-page text segment".
const SEED_TEXT_PAGES: u64 = 3;
/// Bernstein: one page per process should do; "two or three can be excused".
const SEED_EXCUSABLE_PAGES: u64 = 3;

const MALLOC_PAGE: Claim = Claim {
    id: "malloc-takes-a-page-per-call",
    source: SOURCE,
    statement: "Each of the five small mallocs takes a whole new page of memory, as Bernstein read FreeBSD 4.8's figures.",
    criterion: "anonymous resident memory (RssAnon) after-mallocs minus before-mallocs, in whole pages, is at least 5 (one page per call, the seed's own reading); fewer than 5 pages refutes",
};
const MALLOC_MMAP: Claim = Claim {
    id: "malloc-adds-an-anonymous-mmap",
    source: SOURCE,
    statement: "Besides its pages, malloc takes another page for an anonymous mmap (Bernstein).",
    criterion: "over the five mallocs, the anonymous mappings other than [heap], [stack] and the program's bss grow in number or in total Size; neither growing refutes",
};
const SEED_FIGURES: Claim = Claim {
    id: "static-program-takes-44k-rss-168k-vsz",
    source: SOURCE,
    statement: "A static C program making five small mallocs ends up with about 44 KB RSS and 168 KB VSZ (FreeBSD 4.8).",
    criterion: "static build at after-mallocs: resident pages (Rss summed over smaps) within 11 ± 5 pages (44 KB, tolerance half the seed's page count, rounded down) and VmSize within 42 ± 21 pages (168 KB, the same half); outside either band refutes",
};
const TEXT_PAGES: Claim = Claim {
    id: "static-text-segment-is-3-pages",
    source: SOURCE,
    statement: "The static program's text segment is 3 pages (FreeBSD 4.8's libc).",
    criterion: "static build: Size of the program file's executable mapping within 3 ± 1 pages (the seed's figure; one page for where the segment's ends fall); outside refutes",
};
const NEAR_MINIMUM: Claim = Claim {
    id: "small-program-fits-in-a-few-pages",
    source: SOURCE,
    statement: "Nothing stops a small program from fitting in one page per process; two or three pages can be excused (Bernstein).",
    criterion: "minimal build (no C library) at after-mallocs: resident pages (Rss summed over smaps) at most 3, the seed's 'two or three can be excused'; more refutes",
};
const SEPARATE_PAGES: Claim = Claim {
    id: "text-and-data-need-separate-pages",
    source: SOURCE,
    statement: "Text must be read-only because it is shared, data and bss read-write, so the two must be placed in separate pages (Roberson).",
    criterion: "no mapping of the program (its file's mappings and the anonymous bss after them) is both writable and executable, and both kinds exist: a page has one protection, so text and data in W^X mappings lie in separate pages; one W+X mapping refutes, no tolerance",
};
const DATA_PRIVATE: Claim = Claim {
    id: "data-changes-are-private-copies",
    source: SOURCE,
    statement: "Data is read-write but cannot be written out to its backing file: changes are private, while text stays unmodified and shareable (Roberson).",
    criterion: "the program file's writable mappings are private (perms end in p), every resident page of them that is dirty is an anonymous private copy (Private_Dirty equals Anonymous), and its executable mappings have no dirty page; inconclusive when the file has no writable mapping with a resident page",
};
const BSS_ANONYMOUS: Claim = Claim {
    id: "bss-is-not-mapped-from-the-file",
    source: SOURCE,
    statement: "BSS is a pseudo section, not mapped from the file: its pages beyond the file's data are anonymous (Roberson).",
    criterion: "the pages of the writable PT_LOAD segment that lie wholly past its file contents (page arithmetic on p_vaddr, p_filesz, p_memsz) are covered by the anonymous mapping right after the program file's: its Size in pages is at least that count, exactly; inconclusive when the segment has no such page",
};
const PAGE_TABLES: Claim = Claim {
    id: "every-process-needs-page-tables",
    source: SOURCE,
    statement: "Even the smallest process needs pages for page tables, at least three on x86 (Roberson).",
    criterion: "VmPTE at after-mallocs is at least 3 pages (the seed's count); VmPTE leaves out the top-level page, so the comparison leans against the seed",
};
const STACK_RESERVATION: Claim = Claim {
    id: "stack-reservation-is-address-space-not-memory",
    source: SOURCE,
    statement: "About 32 pages of the address space are the initial stack reservation; they cost no memory, only the pages used are resident (Roberson).",
    criterion: "the [stack] mapping's Size is at least 32 pages (the seed's reservation) and its Rss at most a quarter of its Size (most of the reservation not resident); either failing refutes",
};

const STACK_UNDER_LIMIT: Claim = Claim {
    id: "stack-reservation-stays-under-a-4k-limit",
    source: SOURCE,
    statement: "The 32-page (131072-byte) initial stack reservation is made even when the stack is hard-limited to 4K before exec (Bernstein's observation).",
    criterion: "minimal build started with RLIMIT_STACK at 4096 bytes (checked in the experiment's note) and randomisation off (so the stack's place within its page is the same in every run): its [stack] mapping's Size is at least 32 pages; fewer refutes; inconclusive if the limit was not in force",
};

/// Every claim, in the order they are judged.
static CLAIMS: [Claim; 11] = [
    MALLOC_PAGE,
    MALLOC_MMAP,
    PAGE_TABLES,
    SEPARATE_PAGES,
    DATA_PRIVATE,
    BSS_ANONYMOUS,
    STACK_RESERVATION,
    STACK_UNDER_LIMIT,
    SEED_FIGURES,
    TEXT_PAGES,
    NEAR_MINIMUM,
];

const MALLOC_EXPECTED: &str =
    "glibc's malloc (and Rust's std, and the minimal build's bump allocator) carves small blocks \
    out of one brk heap; 1076 bytes fit in one page, so the five calls cost at most a page or two";
const MMAP_EXPECTED: &str = "glibc's malloc (which Rust's std calls too) mmaps only requests of 128 KiB or more \
    (M_MMAP_THRESHOLD) and serves small ones from the brk heap; the minimal build's allocator uses brk alone";
const STATIC_EXPECTED: &str =
    "glibc's static start-up runs far more code than FreeBSD 4.8's, and fault-around maps up to \
    16 cached pages of the file around every text fault, so hundreds of KiB of text are resident";
const TEXT_EXPECTED: &str =
    "a static glibc program links some 600 KiB of libc code (printf, locale, malloc, start-up), \
    against FreeBSD 4.8's few KiB";
const LIMIT_EXPECTED: &str = "Linux's exec caps the stack mapping's initial extent at RLIMIT_STACK (setup_arg_pages in \
    fs/exec.c expands it by 128 KiB only within the limit), so under a 4 KiB limit the stack is the page or two exec \
    filled";
const MINIMUM_EXPECTED: &str = "on Linux the least is four pages: text and data need separate pages (different \
    protections), the heap's first page holds the mallocs, and exec writes arguments, environment and auxiliary vector \
    into a stack page";

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
        ("before-mallocs", "The program has started (loader, C library start-up, or nothing at all for the minimal build; in minimal-stack-4k with its stack limited to 4 KiB at exec, as the seed's was, and randomisation off) and stopped itself before its first malloc."),
        ("after-mallocs", "The five mallocs are done (360, 80, 180, 16 and 440 bytes) and the program stopped again: what grew is what the allocations cost."),
    ],
    expectations: "Five small mallocs cost one or two pages, not five: glibc's malloc takes them from one brk heap \
        (it mmaps only requests of 128 KiB and more), and Rust's std uses the same allocator, so Bernstein's page per \
        call is refuted here. Linux figures are far above his for glibc: a static glibc binary carries some 650 KB \
        of text, and fault-around maps up to 16 cached pages of a file around each text fault, so hundreds of KB of \
        text are resident; a dynamic one maps libc and the loader as well (shared with every other process, which \
        Pss shows). The minimal build, with three instructions of start-up and a bump allocator over brk, shows the \
        least a static program needs, counted from its ELF program headers: every page its executable segment \
        spans (the code runs through it), every page its writable segment spans (the allocator's state lives \
        there), the heap pages the five requests need (rounded to 16-byte chunks: one page), and one stack page \
        (exec writes arguments, environment and auxiliary vector there and the frames follow): four pages, a page \
        or two under what it shows, and more than Bernstein's 'two or three', for Roberson's reasons: text and \
        data need different protections, so separate pages. VmStk is 132 KiB of address space of which only a page \
        or two are resident, as Roberson said of FreeBSD's stack reservation; started under a 4 KiB stack \
        limit, as Bernstein's program was (minimal-stack-4k), the process gets no such reservation at all, \
        because exec grows the stack mapping only within RLIMIT_STACK: its stack is the one page exec filled, \
        and its whole address space about a dozen pages. Page tables are memory no smaps \
        figure includes; /proc/PID/status shows them as VmPTE, which counts the page-table pages below the top \
        level: a handful per process, above Roberson's three.",
    questions: &[
        "Which mappings of the minimal build are resident, and why can text and bss not share one page?",
        "Why does the static glibc build have hundreds of KB resident when the program runs only a few functions?",
        "How many pages did the five mallocs cost, and where (heap or anonymous mmap)?",
        "What is the difference between VmStk and the stack's Rss?",
        "Which memory of a process does no figure in /proc/PID/smaps include, and which line of /proc/PID/status shows it?",
    ],
    answers: &[],
};

impl Experiment for TinyMalloc {
    fn info(&self) -> &'static ExperimentInfo {
        &experiments::catalog::tiny_malloc::INFO
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

    fn claims(&self) -> &'static [Claim] {
        &CLAIMS
    }

    fn judge(&self, record: &ExperimentRecord, env: &Environment) -> Vec<ClaimRecord> {
        let mut claims = Vec::new();
        for variant in &record.variants {
            let name = Some(variant.name.as_str());
            let stack_claim = if variant.name == LIMITED {
                STACK_UNDER_LIMIT
            } else {
                STACK_RESERVATION
            };
            if let Some(why) = programs::not_ok(variant) {
                for claim in [
                    MALLOC_PAGE,
                    MALLOC_MMAP,
                    PAGE_TABLES,
                    SEPARATE_PAGES,
                    DATA_PRIVATE,
                    BSS_ANONYMOUS,
                    stack_claim,
                ] {
                    claims.push(claim.unmeasured(name, why.clone()));
                }
                continue;
            }
            let judge = Judge {
                variant,
                page: env.page_size.max(1),
            };
            claims.push(
                judge
                    .malloc_page()
                    .expecting(Verdict::Refuted, MALLOC_EXPECTED),
            );
            claims.push(
                judge
                    .malloc_mmap()
                    .expecting(Verdict::Refuted, MMAP_EXPECTED),
            );
            claims.push(judge.page_tables());
            claims.push(judge.separate_pages());
            claims.push(judge.data_private());
            claims.push(judge.bss_anonymous());
            if variant.name == LIMITED {
                claims.push(
                    judge
                        .stack_under_limit()
                        .expecting(Verdict::Refuted, LIMIT_EXPECTED),
                );
            } else {
                claims.push(judge.stack_reservation());
            }
            match variant.name.as_str() {
                "static" => {
                    claims.push(
                        judge
                            .seed_figures()
                            .expecting(Verdict::Refuted, STATIC_EXPECTED),
                    );
                    claims.push(
                        judge
                            .text_pages()
                            .expecting(Verdict::Refuted, TEXT_EXPECTED),
                    );
                }
                "minimal" => {
                    claims.push(
                        judge
                            .near_minimum()
                            .expecting(Verdict::Refuted, MINIMUM_EXPECTED),
                    );
                }
                _ => {}
            }
        }
        for (claim, variant) in [
            (SEED_FIGURES, "static"),
            (TEXT_PAGES, "static"),
            (NEAR_MINIMUM, "minimal"),
        ] {
            match record.variants.iter().find(|v| v.name == variant) {
                Some(v) => {
                    if let Some(why) = programs::not_ok(v) {
                        claims.push(claim.unmeasured(Some(variant), why));
                    }
                }
                None => claims.push(claim.unmeasured(Some(variant), "the variant did not run")),
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

/// Resident bytes from smaps (exact), falling back to VmRSS in older records.
fn resident_bytes(p: &ProcessRecord) -> u64 {
    if p.totals.mapped_rss_bytes > 0 {
        p.totals.mapped_rss_bytes
    } else {
        p.totals.rss_bytes
    }
}

impl Judge<'_> {
    fn name(&self) -> Option<&str> {
        Some(self.variant.name.as_str())
    }

    fn after(&self) -> Option<&ProcessRecord> {
        process_at(self.variant, AFTER, ROLE)
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
        let anon_pages = anon / self.page as i64;
        let program = programs::program_path(self.variant).unwrap_or_default();
        let heap = |p: &ProcessRecord| {
            let parts = programs::breakdown(p, program);
            let get = |part| parts.get(&part).map_or(0, |f: &MemoryFigures| f.rss_bytes);
            (get(Part::Heap), get(Part::Anonymous))
        };
        let (heap_before, anon_before) = heap(before);
        let (heap_after, anon_after) = heap(after);
        let mut evidence = format!(
            "anonymous memory (RssAnon) grew by {anon_pages} pages ({anon} bytes) over the five mallocs, against \
             the seed's 5; heap Rss {} -> {} pages, other anonymous Rss {} -> {} pages; {} minor faults",
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
        MALLOC_PAGE
            .judged(
                self.name(),
                verdict_of(anon_pages >= MALLOCS.len() as i64),
                evidence,
            )
            .with_measured(format!("RssAnon {anon_pages:+} pages"))
    }

    fn malloc_mmap(&self) -> ClaimRecord {
        let (Some(before), Some(after), Some(program)) = (
            process_at(self.variant, BEFORE, ROLE),
            process_at(self.variant, AFTER, ROLE),
            programs::program_path(self.variant),
        ) else {
            return MALLOC_MMAP.unmeasured(self.name(), "the two checkpoints were not measured");
        };
        let anonymous = |p: &ProcessRecord| {
            let count = programs::mappings_of(p, program, Part::Anonymous);
            let size = programs::breakdown(p, program)
                .get(&Part::Anonymous)
                .map_or(0, |f| f.size_bytes);
            (count, size)
        };
        let ((count_before, size_before), (count_after, size_after)) =
            (anonymous(before), anonymous(after));
        let grew = count_after > count_before || size_after > size_before;
        MALLOC_MMAP
            .judged(
                self.name(),
                verdict_of(grew),
                format!(
                    "anonymous mappings besides heap, stack and bss: {count_before} ({} pages) before the mallocs, \
                     {count_after} ({} pages) after; [heap] {} -> {} pages of Size",
                    pages(size_before, self.page),
                    pages(size_after, self.page),
                    self.part_size(before, program, Part::Heap),
                    self.part_size(after, program, Part::Heap),
                ),
            )
            .with_measured(format!(
                "{:+} mappings, {:+} pages",
                count_after as i64 - count_before as i64,
                (size_after as i64 - size_before as i64) / self.page as i64
            ))
    }

    fn part_size(&self, p: &ProcessRecord, program: &str, part: Part) -> u64 {
        programs::breakdown(p, program)
            .get(&part)
            .map_or(0, |f| pages(f.size_bytes, self.page))
    }

    fn page_tables(&self) -> ClaimRecord {
        let Some(after) = self.after() else {
            return PAGE_TABLES.unmeasured(self.name(), "after-mallocs was not measured");
        };
        let pte_pages = pages(after.totals.pte_bytes, self.page);
        PAGE_TABLES
            .judged(
                self.name(),
                verdict_of(pte_pages >= SEED_PAGE_TABLE_PAGES),
                format!(
                    "VmPTE is {pte_pages} pages ({}), against the seed's {SEED_PAGE_TABLE_PAGES}; it counts page-table \
                     pages below the top level, so the top-level page directory (one page, two with page-table \
                     isolation) comes on top. No smaps figure includes them",
                    human_bytes(after.totals.pte_bytes)
                ),
            )
            .with_measured(format!("VmPTE {pte_pages} pages"))
    }

    /// Page ranges `[first, last]` of the program's text and of its writable
    /// parts (file data and the anonymous bss after it), with their permissions.
    fn separate_pages(&self) -> ClaimRecord {
        let (Some(after), Some(program)) = (self.after(), programs::program_path(self.variant))
        else {
            return SEPARATE_PAGES.unmeasured(self.name(), "after-mallocs was not measured");
        };
        let ranges = programs::program_page_ranges(after, program, self.page);
        let text: Vec<_> = ranges.iter().filter(|r| r.executable).collect();
        let writable: Vec<_> = ranges.iter().filter(|r| r.writable).collect();
        if text.is_empty() || writable.is_empty() {
            return SEPARATE_PAGES.unmeasured(
                self.name(),
                format!(
                    "the program has {} executable and {} writable mappings: nothing to compare",
                    text.len(),
                    writable.len()
                ),
            );
        }
        let wx = ranges.iter().filter(|r| r.executable && r.writable).count();
        let list = |rs: &[&programs::PageRange]| {
            rs.iter()
                .map(|r| r.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        };
        SEPARATE_PAGES
            .judged(
                self.name(),
                verdict_of(wx == 0),
                format!(
                    "text {}; writable {}; {wx} mapping(s) both writable and executable. The kernel protects whole \
                     pages, so the linker starts each segment on a page of its own",
                    list(&text),
                    list(&writable)
                ),
            )
            .with_measured(format!("{wx} W+X mappings"))
    }

    fn data_private(&self) -> ClaimRecord {
        let (Some(after), Some(program)) = (self.after(), programs::program_path(self.variant))
        else {
            return DATA_PRIVATE.unmeasured(self.name(), "after-mallocs was not measured");
        };
        let of_program = || after.mappings.iter().filter(|m| m.name == program);
        let writable: Vec<_> = of_program()
            .filter(|m| m.perms.contains('w') && m.figures.rss_bytes > 0)
            .collect();
        if writable.is_empty() {
            return DATA_PRIVATE.unmeasured(
                self.name(),
                "precondition not met: the program file has no writable mapping with a resident page (its data is all bss)",
            );
        }
        let private = writable.iter().all(|m| m.perms.ends_with('p'));
        let dirty: u64 = writable
            .iter()
            .map(|m| m.figures.private_dirty_bytes + m.figures.shared_dirty_bytes)
            .sum();
        let anonymous: u64 = writable.iter().map(|m| m.figures.anonymous_bytes).sum();
        let text_dirty: u64 = of_program()
            .filter(|m| m.perms.contains('x'))
            .map(|m| m.figures.private_dirty_bytes + m.figures.shared_dirty_bytes)
            .sum();
        DATA_PRIVATE
            .judged(
                self.name(),
                verdict_of(private && dirty == anonymous && text_dirty == 0),
                format!(
                    "the program's writable file mappings ({}) hold {} dirty pages, {} of them anonymous private \
                     copies; its text has {} dirty pages",
                    writable
                        .iter()
                        .map(|m| m.perms.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                    pages(dirty, self.page),
                    pages(anonymous, self.page),
                    pages(text_dirty, self.page)
                ),
            )
            .with_measured(format!(
                "{} of {} dirty data pages private copies",
                pages(anonymous, self.page),
                pages(dirty, self.page)
            ))
    }

    fn bss_anonymous(&self) -> ClaimRecord {
        let (Some(after), Some(program), Some(binary)) = (
            self.after(),
            programs::program_path(self.variant),
            self.variant.binary.as_ref(),
        ) else {
            return BSS_ANONYMOUS.unmeasured(
                self.name(),
                "after-mallocs or the program's ELF facts were not measured",
            );
        };
        let beyond: u64 = binary
            .load_segments
            .iter()
            .filter(|s| s.flags.contains('W'))
            .map(|s| programs::pages_past_file(s, self.page))
            .sum();
        if beyond == 0 {
            return BSS_ANONYMOUS.unmeasured(
                self.name(),
                format!(
                    "precondition not met: the program's bss ({} bytes) fits in the last page of its file data, \
                     so no page of it lies wholly past the file",
                    binary.bss_bytes
                ),
            );
        }
        let parts = programs::breakdown(after, program);
        let bss_pages = parts
            .get(&Part::Bss)
            .map_or(0, |f| pages(f.size_bytes, self.page));
        BSS_ANONYMOUS
            .judged(
                self.name(),
                verdict_of(bss_pages >= beyond),
                format!(
                    "the writable segment has {beyond} page(s) wholly past its file contents ({} bytes of bss in \
                     all); the anonymous mapping after the program's file spans {bss_pages} page(s), Rss {} \
                     page(s). The bss that shares the last file page is zeroed in the private copy of that page",
                    binary.bss_bytes,
                    parts.get(&Part::Bss).map_or(0, |f| pages(f.rss_bytes, self.page))
                ),
            )
            .with_measured(format!("{bss_pages} anonymous of {beyond} bss pages"))
    }

    fn seed_figures(&self) -> ClaimRecord {
        let Some(after) = self.after() else {
            return SEED_FIGURES.unmeasured(self.name(), "after-mallocs was not measured");
        };
        let rss_pages = pages(resident_bytes(after), self.page);
        let vsz_pages = pages(after.totals.vm_size_bytes, self.page);
        let rss_seed = SEED_RSS_BYTES / self.page;
        let vsz_seed = SEED_VSZ_BYTES / self.page;
        let holds = within_half(rss_pages, rss_seed) && within_half(vsz_pages, vsz_seed);
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
        SEED_FIGURES
            .judged(
                self.name(),
                verdict_of(holds),
                format!(
                    "resident {rss_pages} pages ({}) and VmSize {vsz_pages} pages ({}), against the seed's \
                     {rss_seed} ± {} and {vsz_seed} ± {} pages{text}. Rss (Size) in pages: {}",
                    human_bytes(resident_bytes(after)),
                    human_bytes(after.totals.vm_size_bytes),
                    rss_seed / 2,
                    vsz_seed / 2,
                    self.breakdown_text(AFTER)
                ),
            )
            .with_measured(format!("RSS {rss_pages} pages, VSZ {vsz_pages} pages"))
    }

    fn text_pages(&self) -> ClaimRecord {
        let (Some(after), Some(program)) = (self.after(), programs::program_path(self.variant))
        else {
            return TEXT_PAGES.unmeasured(self.name(), "after-mallocs was not measured");
        };
        let parts = programs::breakdown(after, program);
        let Some(text) = parts.get(&Part::Text) else {
            return TEXT_PAGES
                .unmeasured(self.name(), "no executable mapping of the program was seen");
        };
        let size = pages(text.size_bytes, self.page);
        TEXT_PAGES
            .judged(
                self.name(),
                verdict_of(size.abs_diff(SEED_TEXT_PAGES) <= 1),
                format!(
                    "the program's executable mapping spans {size} pages, {} resident, against the seed's \
                     {SEED_TEXT_PAGES} ± 1",
                    pages(text.rss_bytes, self.page)
                ),
            )
            .with_measured(format!("text {size} pages"))
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
        let Some(after) = self.after() else {
            return NEAR_MINIMUM.unmeasured(self.name(), "after-mallocs was not measured");
        };
        let minimum = self.minimum_pages().map_or_else(
            || "the least Linux allows could not be derived (no ELF facts)".to_string(),
            |(pages, derivation)| {
                format!("the least Linux allows, counted from the program headers, is {pages} pages ({derivation})")
            },
        );
        let rss_pages = pages(resident_bytes(after), self.page);
        NEAR_MINIMUM
            .judged(
                self.name(),
                verdict_of(rss_pages <= SEED_EXCUSABLE_PAGES),
                format!(
                    "resident {rss_pages} pages ({}), VmSize {} pages (the seed's static FreeBSD program: 11 pages \
                     RSS, 42 pages VSZ), against the seed's {SEED_EXCUSABLE_PAGES}; {minimum}. Rss (Size) in pages: {}",
                    human_bytes(resident_bytes(after)),
                    pages(after.totals.vm_size_bytes, self.page),
                    self.breakdown_text(AFTER)
                ),
            )
            .with_measured(format!("RSS {rss_pages} pages"))
    }

    fn stack_reservation(&self) -> ClaimRecord {
        let (Some(after), Some(program)) = (self.after(), programs::program_path(self.variant))
        else {
            return STACK_RESERVATION.unmeasured(self.name(), "after-mallocs was not measured");
        };
        let parts = programs::breakdown(after, program);
        let Some(stack) = parts.get(&Part::Stack) else {
            return STACK_RESERVATION.unmeasured(self.name(), "no [stack] mapping was seen");
        };
        let size_pages = pages(stack.size_bytes, self.page);
        let rss_pages = pages(stack.rss_bytes, self.page);
        let holds = size_pages >= SEED_STACK_PAGES && rss_pages * 4 <= size_pages;
        STACK_RESERVATION
            .judged(
                self.name(),
                verdict_of(holds),
                format!(
                    "the [stack] mapping spans {size_pages} pages (VmStk {}) of which {rss_pages} are resident; \
                     Linux reserves 128 KiB below the arguments at exec, as FreeBSD reserved its 32 pages",
                    human_bytes(after.totals.stack_bytes)
                ),
            )
            .with_measured(format!("{rss_pages} of {size_pages} pages resident"))
    }
}

impl Judge<'_> {
    fn stack_under_limit(&self) -> ClaimRecord {
        let limit = self
            .variant
            .notes
            .get(STACK_LIMIT_NOTE)
            .and_then(|v| v.parse::<u64>().ok());
        if limit != Some(SEED_STACK_LIMIT_BYTES) {
            return STACK_UNDER_LIMIT.unmeasured(
                self.name(),
                format!(
                    "precondition not met: the stack limit in force at exec was {}, not {SEED_STACK_LIMIT_BYTES} bytes",
                    limit.map_or("not recorded".to_string(), |l| format!("{l} bytes"))
                ),
            );
        }
        let (Some(after), Some(program)) = (self.after(), programs::program_path(self.variant))
        else {
            return STACK_UNDER_LIMIT.unmeasured(self.name(), "after-mallocs was not measured");
        };
        let parts = programs::breakdown(after, program);
        let Some(stack) = parts.get(&Part::Stack) else {
            return STACK_UNDER_LIMIT.unmeasured(self.name(), "no [stack] mapping was seen");
        };
        let size_pages = pages(stack.size_bytes, self.page);
        STACK_UNDER_LIMIT
            .judged(
                self.name(),
                verdict_of(size_pages >= SEED_STACK_PAGES),
                format!(
                    "with RLIMIT_STACK at {SEED_STACK_LIMIT_BYTES} bytes the [stack] mapping spans {size_pages} pages, \
                     {} resident, against the seed's {SEED_STACK_PAGES}; VmSize {} pages",
                    pages(stack.rss_bytes, self.page),
                    pages(after.totals.vm_size_bytes, self.page)
                ),
            )
            .with_measured(format!("stack {size_pages} pages"))
    }
}

/// `measured` lies within half of `seed` (rounded down) either way.
fn within_half(measured: u64, seed: u64) -> bool {
    measured.abs_diff(seed) <= seed / 2
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

    use crate::elf::PROGRAM_PATH_NOTE;
    use crate::experiment::programs::fixtures::{self, mapping, PAGE};

    const PROGRAM: &str = "/p";

    /// A minimal-like process: text, bss, heap, stack; `anon` heap pages resident.
    fn minimal_process(heap_rss: u64, stack: (u64, u64)) -> ProcessRecord {
        let mut p = fixtures::process(
            ROLE,
            vec![
                mapping(0x400, 1, PROGRAM, "r-xp", 1),
                mapping(0x401, 1, "", "rw-p", 1),
                mapping(0x500, 1 + heap_rss, "[heap]", "rw-p", heap_rss),
                mapping(0x7f000, stack.0, "[stack]", "rw-p", stack.1),
            ],
        );
        p.totals.rss_anon_bytes = (1 + heap_rss + stack.1) * PAGE;
        p.totals.pte_bytes = 6 * PAGE;
        p
    }

    fn judge_on(variant: &VariantRecord) -> Judge<'_> {
        Judge {
            variant,
            page: PAGE,
        }
    }

    fn two_checkpoints(name: &str, before: ProcessRecord, after: ProcessRecord) -> VariantRecord {
        let mut v = fixtures::variant(
            name,
            vec![
                fixtures::checkpoint(BEFORE, vec![before]),
                fixtures::checkpoint(AFTER, vec![after]),
            ],
        );
        v.notes.insert(PROGRAM_PATH_NOTE.into(), PROGRAM.into());
        v.binary = Some(BinaryFacts {
            path: PROGRAM.into(),
            file_bytes: 1448,
            linking: Linking::Static,
            stripped: false,
            load_segments: vec![segment("R E", 0x400000, 0x227), {
                let mut s = segment("RW ", 0x401000, 0x38);
                s.file_bytes = 0;
                s
            }],
            text_bytes: 0x227,
            data_bytes: 0,
            bss_bytes: 0x38,
        });
        v
    }

    fn with_after(after: ProcessRecord) -> VariantRecord {
        two_checkpoints("minimal", minimal_process(0, (33, 1)), after)
    }

    #[test]
    fn a_page_per_malloc_needs_five_new_anonymous_pages() {
        for (grown, verdict) in [
            (5, Verdict::Confirmed),
            (6, Verdict::Confirmed),
            (4, Verdict::Refuted),
            (0, Verdict::Refuted),
        ] {
            let v = with_after(minimal_process(grown, (33, 1)));
            let claim = judge_on(&v).malloc_page();
            assert_eq!(claim.verdict, verdict, "{grown} pages: {}", claim.evidence);
            assert!(!claim.measured.is_empty());
        }
    }

    #[test]
    fn an_anonymous_mmap_must_appear_or_grow_over_the_mallocs() {
        let v = with_after(minimal_process(1, (33, 1)));
        assert_eq!(judge_on(&v).malloc_mmap().verdict, Verdict::Refuted);
        let mut after = minimal_process(1, (33, 1));
        after.mappings.insert(3, mapping(0x7e000, 1, "", "rw-p", 1));
        let v = with_after(after.clone());
        assert_eq!(judge_on(&v).malloc_mmap().verdict, Verdict::Confirmed);
        // The same mapping before and after, one page longer after.
        let mut before = minimal_process(0, (33, 1));
        before
            .mappings
            .insert(3, mapping(0x7e000, 1, "", "rw-p", 1));
        after.mappings[3] = mapping(0x7e000, 2, "", "rw-p", 1);
        let v = two_checkpoints("minimal", before.clone(), after);
        assert_eq!(judge_on(&v).malloc_mmap().verdict, Verdict::Confirmed);
        let v = two_checkpoints("minimal", before.clone(), before);
        assert_eq!(judge_on(&v).malloc_mmap().verdict, Verdict::Refuted);
    }

    #[test]
    fn page_tables_need_at_least_the_seeds_three_pages() {
        for (pte, verdict) in [
            (3, Verdict::Confirmed),
            (2, Verdict::Refuted),
            (9, Verdict::Confirmed),
        ] {
            let mut after = minimal_process(1, (33, 1));
            after.totals.pte_bytes = pte * PAGE;
            let v = with_after(after);
            assert_eq!(
                judge_on(&v).page_tables().verdict,
                verdict,
                "VmPTE {pte} pages"
            );
        }
    }

    #[test]
    fn a_writable_and_executable_mapping_refutes_separate_pages() {
        let v = with_after(minimal_process(1, (33, 1)));
        assert_eq!(judge_on(&v).separate_pages().verdict, Verdict::Confirmed);
        let mut after = minimal_process(1, (33, 1));
        after.mappings[0].perms = "rwxp".into();
        let v = with_after(after);
        assert_eq!(judge_on(&v).separate_pages().verdict, Verdict::Refuted);
        let mut after = minimal_process(1, (33, 1));
        after.mappings.remove(1);
        let v = with_after(after);
        assert_eq!(judge_on(&v).separate_pages().verdict, Verdict::Inconclusive);
    }

    #[test]
    fn written_data_must_be_private_anonymous_copies() {
        let with_data = |perms: &str, dirty: u64, anonymous: u64| {
            let mut after = minimal_process(1, (33, 1));
            let mut data = mapping(0x401, 1, PROGRAM, perms, 1);
            data.figures.private_dirty_bytes = dirty * PAGE;
            data.figures.anonymous_bytes = anonymous * PAGE;
            after.mappings[1] = data;
            let v = with_after(after);
            judge_on(&v).data_private().verdict
        };
        assert_eq!(with_data("rw-p", 1, 1), Verdict::Confirmed);
        assert_eq!(with_data("rw-s", 1, 1), Verdict::Refuted);
        assert_eq!(with_data("rw-p", 1, 0), Verdict::Refuted);
        // Pure bss: no writable file mapping, nothing to judge.
        let v = with_after(minimal_process(1, (33, 1)));
        assert_eq!(judge_on(&v).data_private().verdict, Verdict::Inconclusive);
    }

    #[test]
    fn bss_past_the_file_must_be_an_anonymous_mapping() {
        let v = with_after(minimal_process(1, (33, 1)));
        assert_eq!(judge_on(&v).bss_anonymous().verdict, Verdict::Confirmed);
        // No anonymous mapping after the file: the bss page is missing.
        let mut after = minimal_process(1, (33, 1));
        after.mappings[1] = mapping(0x402, 1, "", "rw-p", 1);
        let v = with_after(after);
        assert_eq!(judge_on(&v).bss_anonymous().verdict, Verdict::Refuted);
        // Bss inside the last file page: the precondition did not occur.
        let mut v = with_after(minimal_process(1, (33, 1)));
        let b = v.binary.as_mut().unwrap();
        b.load_segments[1].file_bytes = 0x10;
        b.load_segments[1].vaddr = 0x401000;
        assert_eq!(judge_on(&v).bss_anonymous().verdict, Verdict::Inconclusive);
    }

    #[test]
    fn the_stack_reservation_must_be_32_pages_and_mostly_absent() {
        for (size, rss, verdict) in [
            (32, 8, Verdict::Confirmed),
            (32, 9, Verdict::Refuted),
            (31, 1, Verdict::Refuted),
            (33, 2, Verdict::Confirmed),
        ] {
            let v = with_after(minimal_process(1, (size, rss)));
            assert_eq!(
                judge_on(&v).stack_reservation().verdict,
                verdict,
                "{rss} of {size}"
            );
        }
    }

    #[test]
    fn the_reservation_under_a_4k_limit_needs_the_limit_and_32_pages() {
        let limited = |stack_pages: u64, note: Option<&str>| {
            let mut v = with_after(minimal_process(1, (stack_pages, 1)));
            v.name = LIMITED.into();
            if let Some(n) = note {
                v.notes.insert(STACK_LIMIT_NOTE.into(), n.into());
            }
            judge_on(&v).stack_under_limit().verdict
        };
        assert_eq!(limited(32, Some("4096")), Verdict::Confirmed);
        assert_eq!(limited(31, Some("4096")), Verdict::Refuted);
        assert_eq!(limited(1, Some("4096")), Verdict::Refuted);
        assert_eq!(limited(1, None), Verdict::Inconclusive);
        assert_eq!(limited(1, Some("8388608")), Verdict::Inconclusive);
    }

    #[test]
    fn the_seed_figures_hold_within_half_either_way() {
        // Resident: text 1 + bss 1 + heap h + stack s; size: 1 + 1 + (1 + h) + stack size.
        let case = |heap: u64, stack: (u64, u64)| {
            let v = two_checkpoints(
                "static",
                minimal_process(0, (33, 1)),
                minimal_process(heap, stack),
            );
            judge_on(&v).seed_figures().verdict
        };
        // 16 resident pages (11 + 5) and 21 + 16 + 3 = 40 pages of size: inside.
        assert_eq!(case(13, (24, 1)), Verdict::Confirmed);
        // 17 resident pages: one past the band.
        assert_eq!(case(14, (24, 1)), Verdict::Refuted);
        // 6 resident pages (11 - 5), 63 pages of size (42 + 21): the lower and upper edges.
        assert_eq!(case(3, (57, 1)), Verdict::Confirmed);
        assert_eq!(case(3, (58, 1)), Verdict::Refuted);
        assert_eq!(case(2, (57, 1)), Verdict::Refuted);
    }

    #[test]
    fn the_text_segment_is_three_pages_give_or_take_one() {
        for (text, verdict) in [
            (2, Verdict::Confirmed),
            (4, Verdict::Confirmed),
            (5, Verdict::Refuted),
            (1, Verdict::Refuted),
        ] {
            let mut after = minimal_process(1, (33, 1));
            after.mappings[0] = mapping(0x400 - text + 1, text, PROGRAM, "r-xp", 1);
            let v = with_after(after);
            assert_eq!(judge_on(&v).text_pages().verdict, verdict, "{text} pages");
        }
    }

    #[test]
    fn a_small_program_may_take_three_pages_not_four() {
        let mut after = minimal_process(0, (33, 1));
        assert_eq!(after.totals.mapped_rss_bytes, 3 * PAGE);
        let v = with_after(after.clone());
        assert_eq!(judge_on(&v).near_minimum().verdict, Verdict::Confirmed);
        after.totals.mapped_rss_bytes = 4 * PAGE;
        let v = with_after(after);
        let claim = judge_on(&v).near_minimum();
        assert_eq!(claim.verdict, Verdict::Refuted);
        assert!(
            claim
                .evidence
                .contains("4 pages (1 text + 1 data/bss + 1 heap + 1 stack)"),
            "{}",
            claim.evidence
        );
    }

    #[test]
    fn every_judged_claim_is_declared_with_a_criterion() {
        let v = with_after(minimal_process(1, (33, 1)));
        let record = ExperimentRecord {
            name: "tiny-malloc".into(),
            status: Status::Ok,
            reason: None,
            params: BTreeMap::new(),
            variants: vec![v],
            claims: Vec::new(),
            summary: Vec::new(),
            fault_costs: Vec::new(),
        };
        for claim in TinyMalloc.judge(&record, &fixtures::env()) {
            let declared = CLAIMS.iter().find(|c| c.id == claim.id).expect("declared");
            assert!(!declared.criterion.is_empty(), "{}", claim.id);
        }
    }
}
