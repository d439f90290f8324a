//! The claims of tiny-malloc, each with its criterion and its judge. Most are
//! judged on every build with a real allocator; the stack claim depends on the
//! stack limit; the static build and the two arena builds (allocations in the
//! .bss slack, and the same linked with ld -N) answer claims of their own; and
//! whether a small program fits in a few pages is judged once, on the
//! libc-free build that comes closest.

use experiments::catalog::tiny_malloc::{note, variant};

use super::super::declared::{at, judged, Declared, Metric};
use super::super::kit::{self, Finding, Judged, Observed};
use super::super::Claim;
use super::judges::{
    bookkeeping, bss_anonymous, bss_slack, data_private, exit_stdio, extra_vm, malloc_mmap,
    malloc_page, near_minimum, page_tables, program_lines, resident_pages, seed_figures,
    separate_pages, stack_reservation, stack_under_limit, text_pages,
};
use crate::model::{ClaimRecord, ExperimentRecord, Verdict};
use crate::system::Environment;
use experiments::catalog::tiny_malloc::checkpoint;

const SOURCE: &str = experiments::catalog::writing::BERNSTEIN;
pub(super) const MALLOC_PAGE: Claim = Claim {
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
const BSS_SLACK: Claim = Claim {
    id: "allocations-fit-in-the-bss-slack",
    source: SOURCE,
    statement: "The 1076 bytes the five mallocs request would fit in the free bytes at the end of the program's .bss page (Bernstein).",
    criterion: "minimal-bss build, whose allocator serves them from an arena in .bss: resident pages (Rss summed over smaps) at after-mallocs at most those at before-mallocs, where the program has already used its .bss page; one page more refutes",
};
const EXTRA_VM: Claim = Claim {
    id: "static-program-has-39-extra-pages-of-vm",
    source: SOURCE,
    statement: "Besides its 3-page text, the static program has 39 more pages of VM (Bernstein's count on FreeBSD 4.8).",
    criterion: "static build at after-mallocs: VmSize minus the Size of the program's executable mapping, in pages, within 39 ± 19 (half the seed's count, rounded down, as for the seed's other figures); outside refutes",
};
const EXIT_STDIO: Claim = Claim {
    id: "exit-pulls-in-stdio",
    source: SOURCE,
    statement: "Calling exit() brings in a chunk of stdio (84 bytes of data, 316 of bss) and wastes at least 2 pages (Bernstein).",
    criterion: "the static build ending in exit() against the same source ending in _exit(): its data + bss (program headers, as size shows them) at least 400 bytes larger and its resident pages at after-mallocs at least 2 more, the seed's figures; either short refutes",
};
const THREE_LINES: Claim = Claim {
    id: "small-c-program-has-three-mappings",
    source: experiments::catalog::writing::CHODOROW,
    statement: "A small C program built with gcc's defaults shows three mappings of its own file: r-x, r-- and rw- (Chodorow's pmap).",
    criterion: "dynamic build (gcc's defaults) at after-mallocs: the map's lines naming the program's file are exactly r-xp, r--p, rw-p, in that order; anything else refutes",
};
const NEAR_MINIMUM: Claim = Claim {
    id: "small-program-fits-in-a-few-pages",
    source: SOURCE,
    statement: "Nothing stops a small program from fitting in one page per process; two or three pages can be excused (Bernstein).",
    criterion: "the smallest of the libc-free builds (minimal; minimal-bss, allocations in the .bss slack; minimal-rwx, the same linked with ld -N) at after-mallocs: resident pages (Rss summed over smaps) at most 3, the seed's 'two or three can be excused'; more refutes. The claim is about what is possible, so the build that comes closest is judged (its name is in the measured figure). The builds run with address-space randomisation off, as the seed's FreeBSD 4.8 had none: with it on, exec leaves a random gap of up to 8 KiB inside the block of arguments and auxiliary vector it writes at the stack top, which puts the stack on one to three pages by chance; the stack's pages are counted either way and shown apart. Should randomisation stay on (personality refused), a refutation is inconclusive, since the gap can only add pages",
};
const SEPARATE_PAGES: Claim = Claim {
    id: "text-and-data-need-separate-pages",
    source: SOURCE,
    statement: "Text must be read-only because it is shared, data and bss read-write, so the two must be placed in separate pages (Roberson).",
    criterion: "judged on the minimal-rwx build, linked with ld -N so that text, data and bss share one writable and executable segment: if Linux runs it to after-mallocs with a mapping of the program both writable and executable, text and data share pages and 'must' is refuted; text and writable parts in separate mappings confirm. Default builds separate them by the linker's choice and are not judged",
};
const DATA_PRIVATE: Claim = Claim {
    id: "data-changes-are-private-copies",
    source: SOURCE,
    statement: "Data is read-write but cannot be written out to its backing file: changes are private, while text stays unmodified and shareable (Roberson).",
    criterion: "the program file's writable mappings are private (perms end in p), every resident page of them that is dirty is an anonymous private copy (Private_Dirty equals Anonymous), and its executable mappings have no dirty page; inconclusive when the file has no writable mapping with a resident page, or when the only dirty pages against it are no copies (the file's own page cache, dirty because it was just built: smaps counts it as dirty whoever wrote it, so it can only make the claim look refuted); a shared writable mapping or a copied text page refutes",
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
    statement: "Even the smallest process needs page tables, and Roberson counts three pages on x86: the page directory, one page table for text, data, bss and the guard page, and one for the stack.",
    criterion: "page-table pages at after-mallocs, VmPTE (every level below the top) in pages plus 1 for the top-level directory VmPTE leaves out, equal Roberson's count of 3 exactly (page tables come in whole pages, and his count names each one); any other count refutes",
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

const BOOKKEEPING: Claim = Claim {
    id: "allocator-bookkeeping-costs-memory",
    source: experiments::catalog::writing::MARTIN,
    statement: "A memory allocator's bookkeeping costs memory of its own, beyond what the program asks for (Martin).",
    criterion: "many-small build (glibc's malloc, dynamic), 65536 mallocs of 16 bytes (1 MiB requested), each block written once: anonymous resident memory (Anonymous summed over smaps) after-mallocs minus before-mallocs greater than the bytes requested plus 1 page (rounding up to whole pages); no more refutes, as an allocator keeping nothing beside its blocks would",
};

/// Every claim, in the order they are judged.
pub(super) static CLAIMS: [Claim; 16] = [
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
    BSS_SLACK,
    EXTRA_VM,
    EXIT_STDIO,
    THREE_LINES,
    BOOKKEEPING,
];

/// What the claims need of the machine and the figures they are judged on
/// (read by the tools that compare runs across kernels and machines).
pub(super) static DECLARED: [Declared; 3] = [
    judged(
        &MALLOC_PAGE,
        &[at(Metric::RssAnon, checkpoint::AFTER_MALLOCS)],
    ),
    judged(
        &SEED_FIGURES,
        &[at(Metric::VmSize, checkpoint::AFTER_MALLOCS)],
    ),
    judged(&EXTRA_VM, &[at(Metric::VmSize, checkpoint::AFTER_MALLOCS)]),
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
const LINES_EXPECTED: &str = "current binutils link with -z separate-code, which gives the ELF headers and \
    read-only data a non-executable segment of their own before the code, and with RELRO: r--p, r-xp, r--p, \
    r--p, rw-p rather than the three lines of 2011";
const EXIT_EXPECTED: &str = "glibc's static library links stdio into every program (its start-up and error \
    paths use it), so ending with exit() adds not one byte of data or bss to one ending with _exit(); the files \
    differ only in that call, and a resident page more or less is the two runs' own variation";
const SEPARATE_EXPECTED: &str =
    "Linux maps a PT_LOAD segment with the permissions its flags ask for, writable and \
    executable together included; only the linker's defaults put text and data in separate pages";

const PAGE_TABLES_EXPECTED: &str = "Roberson counts two-level 32-bit x86 paging; x86-64 walks four levels (five with LA57), and \
    the program, the mmap area and the stack lie far apart, so each needs its own tables at every level below the top";

/// A claim with its judge and, when current kernels are expected to refute
/// it, why.
type ExpectedCase = (Claim, fn(&Observed<'_>) -> Judged, Option<&'static str>);

/// The claims judged on every build, the stack's last (see [`stack_case`]).
static COMMON: [ExpectedCase; 5] = [
    (MALLOC_PAGE, malloc_page, Some(MALLOC_EXPECTED)),
    (MALLOC_MMAP, malloc_mmap, Some(MMAP_EXPECTED)),
    (PAGE_TABLES, page_tables, Some(PAGE_TABLES_EXPECTED)),
    (DATA_PRIVATE, data_private, None),
    (BSS_ANONYMOUS, bss_anonymous, None),
];

/// The stack claim of a build: under the seed's 4 KiB limit, or the ordinary
/// reservation.
fn stack_case(name: &str) -> ExpectedCase {
    if name == variant::MINIMAL_STACK_4K {
        (STACK_UNDER_LIMIT, stack_under_limit, Some(LIMIT_EXPECTED))
    } else {
        (STACK_RESERVATION, stack_reservation, None)
    }
}

/// The claims only one build answers, with that build.
static OWN: [(&str, ExpectedCase); 7] = [
    (
        variant::DYNAMIC,
        (THREE_LINES, program_lines, Some(LINES_EXPECTED)),
    ),
    (
        variant::STATIC,
        (SEED_FIGURES, seed_figures, Some(STATIC_EXPECTED)),
    ),
    (variant::STATIC, (EXTRA_VM, extra_vm, None)),
    (
        variant::STATIC,
        (TEXT_PAGES, text_pages, Some(TEXT_EXPECTED)),
    ),
    (variant::MINIMAL_BSS, (BSS_SLACK, bss_slack, None)),
    (variant::MANY_SMALL, (BOOKKEEPING, bookkeeping, None)),
    (
        variant::MINIMAL_RWX,
        (SEPARATE_PAGES, separate_pages, Some(SEPARATE_EXPECTED)),
    ),
];

/// The builds that exist for one claim each: the arena builds answer only
/// their own claims, since their allocator is not malloc.
fn is_arena_build(name: &str) -> bool {
    name == variant::MINIMAL_BSS || name == variant::MINIMAL_RWX
}

/// The builds that answer only their own claims: the arena builds, the
/// static build ending in exit(), which is there to be compared, and the
/// many-small build, which is not the seed's program.
fn answers_own_claims_only(name: &str) -> bool {
    is_arena_build(name) || name == variant::STATIC_EXIT || name == variant::MANY_SMALL
}

/// exit() against _exit(): the two static builds compared.
fn exit_compared(record: &ExperimentRecord, env: &Environment) -> ClaimRecord {
    let ran = |name: &str| {
        let variant = record.variants.iter().find(|v| v.name == name)?;
        kit::not_run_reason(variant)
            .is_none()
            .then_some(Observed { variant, env })
    };
    match (ran(variant::STATIC_EXIT), ran(variant::STATIC)) {
        (Some(e), Some(q)) => EXIT_STDIO
            .record(None, exit_stdio(&e, &q))
            .expecting(Verdict::Refuted, EXIT_EXPECTED),
        _ => EXIT_STDIO.unmeasured(None, "the static and static-exit builds both need to run"),
    }
}

/// The libc-free builds, in the order a tie between them is settled.
const LIBC_FREE: [&str; 3] = [variant::MINIMAL, variant::MINIMAL_BSS, variant::MINIMAL_RWX];

/// "Nothing stops a small program from fitting in a page": judged on the
/// libc-free build with the fewest resident pages.
fn near_minimum_of_all(record: &ExperimentRecord, env: &Environment) -> ClaimRecord {
    let smallest = LIBC_FREE
        .iter()
        .filter_map(|name| record.variants.iter().find(|v| v.name == *name))
        .filter(|v| kit::not_run_reason(v).is_none())
        .map(|variant| Observed { variant, env })
        .filter_map(|view| Some((resident_pages(&view)?, view)))
        .min_by_key(|(pages, _)| *pages);
    match smallest {
        // Recorded for no one variant: which build comes closest can change
        // between identical runs (two builds a page apart), the verdict not.
        Some((_, view)) => {
            let name = view.variant.name.clone();
            let judged = near_minimum(&view)
                .map(|mut f| {
                    f.evidence = format!("the {name} build, the smallest: {}", f.evidence);
                    f.measured = format!("{} ({name})", f.measured);
                    f
                })
                .and_then(|f| unless_randomised(&view, f));
            NEAR_MINIMUM.record(None, judged)
        }
        None => NEAR_MINIMUM.unmeasured(None, "no libc-free build ran to after-mallocs"),
    }
}

/// A refutation of the few-pages claim on a build that ran with randomisation
/// on: exec's random gap in the stack block can only add pages, so it may be
/// the cause, and the claim is inconclusive; a confirmation stands.
fn unless_randomised(view: &Observed<'_>, finding: Finding) -> Judged {
    let aslr = view.note::<String>(note::ASLR);
    if finding.holds || aslr.as_deref() == Some("off") {
        return Ok(finding);
    }
    Err(format!(
        "precondition not met: address-space randomisation was {} for the {} build, and exec's random \
         gap in the stack's argument block alone can add a page or two: {}",
        aslr.as_deref().unwrap_or("not recorded"),
        view.variant.name,
        finding.evidence
    ))
}

/// Judges every build's claims, then makes the claims of a build that did not
/// run to its end (or did not run) inconclusive, with the reason.
pub(super) fn judge(record: &ExperimentRecord, env: &Environment) -> Vec<ClaimRecord> {
    let mut claims = Vec::new();
    for variant in &record.variants {
        let name = variant.name.as_str();
        let shared: &[ExpectedCase] = if answers_own_claims_only(name) {
            &[]
        } else {
            &COMMON
        };
        let stack = (!answers_own_claims_only(name)).then(|| stack_case(name));
        let cases = shared.iter().copied().chain(stack);
        if let Some(why) = kit::not_run_reason(variant) {
            claims.extend(cases.map(|(c, ..)| c.unmeasured(Some(name), why.clone())));
            continue;
        }
        let view = Observed { variant, env };
        let own = OWN
            .iter()
            .filter(|(v, _)| *v == name)
            .map(|(_, case)| *case);
        for (claim, judge, expected) in cases.chain(own) {
            let record = view.verdict(&claim, judge(&view));
            claims.push(match expected {
                Some(reason) => record.expecting(Verdict::Refuted, reason),
                None => record,
            });
        }
    }
    for (name, (claim, ..)) in OWN {
        match record.variants.iter().find(|v| v.name == name) {
            Some(v) => {
                if let Some(why) = kit::not_run_reason(v) {
                    claims.push(claim.unmeasured(Some(name), why));
                }
            }
            None => claims.push(claim.unmeasured(Some(name), "the variant did not run")),
        }
    }
    claims.push(near_minimum_of_all(record, env));
    claims.push(exit_compared(record, env));
    claims
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::super::judges::tests::{minimal_process, with_after};
    use super::*;
    use crate::experiment::programs::fixtures;
    use crate::model::Status;

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
        for claim in judge(&record, &fixtures::env()) {
            let declared = CLAIMS.iter().find(|c| c.id == claim.id).expect("declared");
            assert!(!declared.criterion.is_empty(), "{}", claim.id);
        }
    }

    #[test]
    fn fitting_in_a_few_pages_is_judged_on_the_smallest_libc_free_build() {
        let build_with = |name: &str, rss_pages: u64, aslr: &str| {
            let mut after = minimal_process(1, (33, 1));
            after.totals.mapped_rss_bytes = rss_pages * 4096;
            let mut v = with_after(after);
            v.name = name.into();
            v.notes.insert(note::ASLR.key().into(), aslr.into());
            v
        };
        let build = |name: &str, rss_pages: u64| build_with(name, rss_pages, "off");
        let record = |variants| ExperimentRecord {
            name: "tiny-malloc".into(),
            status: Status::Ok,
            reason: None,
            params: BTreeMap::new(),
            variants,
            claims: Vec::new(),
            summary: Vec::new(),
            fault_costs: Vec::new(),
        };
        let env = fixtures::env();
        let smallest = |variants| {
            judge(&record(variants), &env)
                .into_iter()
                .find(|c| c.id == NEAR_MINIMUM.id)
                .expect("judged")
        };
        let c = smallest(vec![
            build(variant::MINIMAL, 4),
            build(variant::MINIMAL_RWX, 2),
        ]);
        assert_eq!(c.verdict, Verdict::Confirmed);
        assert_eq!(c.variant, None);
        assert!(c.measured.contains(variant::MINIMAL_RWX), "{c:?}");
        let c = smallest(vec![build(variant::MINIMAL, 4)]);
        assert_eq!(c.verdict, Verdict::Refuted);
        // See: issue 22. Randomisation on can only add stack pages: it makes
        // a refutation inconclusive and leaves a confirmation standing.
        let c = smallest(vec![build_with(variant::MINIMAL, 4, "on")]);
        assert_eq!(c.verdict, Verdict::Inconclusive, "{c:?}");
        assert!(c.evidence.contains("randomisation was on"), "{c:?}");
        let c = smallest(vec![build_with(variant::MINIMAL_RWX, 3, "on")]);
        assert_eq!(c.verdict, Verdict::Confirmed, "{c:?}");
        assert_eq!(smallest(Vec::new()).verdict, Verdict::Inconclusive);
    }
}
