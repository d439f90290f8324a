//! The judges of tiny-malloc's claims: each reads one build's [`Observed`] and
//! returns what it found, with the figures; [`claims`](super::claims) binds them
//! to the claims.

use experiments::catalog::tiny_malloc::{
    checkpoint, note, role, MANY_SMALL_BYTES, MANY_SMALL_COUNT,
};

use super::super::human_bytes;
use super::super::kit::{pages, Finding, Judged, Observed};
use super::super::programs::{self, pages_up, Part};
use crate::model::{MemoryFigures, ProcessRecord};

/// The five requests of the seed's program: 1076 bytes in all.
pub(super) const MALLOCS: [u64; 5] = [360, 80, 180, 16, 440];
/// What FreeBSD 4.8 showed for the seed's static program.
const SEED_RSS_BYTES: u64 = 44 * 1024;
const SEED_VSZ_BYTES: u64 = 168 * 1024;
/// Bernstein: 39 pages of VM besides the 3-page text.
const SEED_EXTRA_VM_PAGES: u64 = 39;
/// Bernstein: the stdio exit() brings in uses 84 bytes of data and 316 of bss.
const SEED_STDIO_BYTES: u64 = 84 + 316;
/// Bernstein: at least 2 pages appear wasted by exit().
const SEED_EXIT_PAGES: u64 = 2;
/// Roberson's count of page-table pages for the smallest process on x86.
const SEED_PAGE_TABLE_PAGES: u64 = 3;
/// The top-level page directory, which VmPTE does not count.
const TOP_LEVEL_PAGES: u64 = 1;
/// Roberson: 32 pages of the address space were the initial stack reservation.
const SEED_STACK_PAGES: u64 = 32;
/// Bernstein hard-limited the stack to 4K before exec.
const SEED_STACK_LIMIT_BYTES: u64 = 4096;
/// Bernstein: "I don't care much about the 3-page text segment".
const SEED_TEXT_PAGES: u64 = 3;
/// Bernstein: one page per process should do; "two or three can be excused".
const SEED_EXCUSABLE_PAGES: u64 = 3;

/// Resident bytes from smaps (exact), falling back to VmRSS in older records.
fn resident_bytes(p: &ProcessRecord) -> u64 {
    if p.totals.mapped_rss_bytes > 0 {
        p.totals.mapped_rss_bytes
    } else {
        p.totals.rss_bytes
    }
}

/// The program at after-mallocs.
fn after<'a>(v: &Observed<'a>) -> Option<&'a ProcessRecord> {
    v.process(checkpoint::AFTER_MALLOCS, role::PROGRAM)
}

/// `part pages` of Rss (and of Size in parentheses) for every part present.
fn breakdown_text(v: &Observed<'_>, label: &str) -> String {
    let (Some(process), Some(program)) = (
        v.process(label, role::PROGRAM),
        programs::program_path(v.variant),
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
                pages(f.rss_bytes, v.page()),
                pages(f.size_bytes, v.page())
            ))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Anonymous resident bytes of every mapping (smaps, exact), as compare sums them.
fn anonymous_bytes(p: &ProcessRecord) -> u64 {
    p.mappings
        .iter()
        .fold(0, |sum, m| sum.saturating_add(m.figures.anonymous_bytes))
}

/// Whether the many small mallocs cost more resident memory than the bytes
/// they asked for, by more than rounding up to whole pages.
pub(super) fn bookkeeping(v: &Observed<'_>) -> Judged {
    let (Some(before), Some(after)) = (
        v.process(checkpoint::BEFORE_MALLOCS, role::PROGRAM),
        after(v),
    ) else {
        return Err("the two checkpoints were not measured".into());
    };
    let requested = (MANY_SMALL_COUNT * MANY_SMALL_BYTES) as u64;
    let grown = anonymous_bytes(after).saturating_sub(anonymous_bytes(before));
    let rounding = v.page();
    let extra = grown as i64 - requested as i64;
    let per_block = extra as f64 / MANY_SMALL_COUNT as f64;
    Ok(Finding::new(
        grown > requested + rounding,
        format!(
            "{MANY_SMALL_COUNT} mallocs of {MANY_SMALL_BYTES} bytes asked for {}; anonymous resident \
             memory (Anonymous summed over smaps) grew by {} ({} pages), {} {} than requested, \
             {per_block:.1} bytes per block: {}",
            human_bytes(requested),
            human_bytes(grown),
            pages(grown, v.page()),
            human_bytes(extra.unsigned_abs()),
            if extra >= 0 { "more" } else { "less" },
            if grown > requested + rounding {
                "the allocator keeps a header beside each block and rounds every block up to its \
                 smallest chunk, memory the program never asked for"
            } else {
                "no more than rounding the requests up to whole pages"
            }
        ),
        format!(
            "{} for {} requested",
            human_bytes(grown),
            human_bytes(requested)
        ),
    ))
}

pub(super) fn malloc_page(v: &Observed<'_>) -> Judged {
    let (Some(before), Some(after)) = (
        v.process(checkpoint::BEFORE_MALLOCS, role::PROGRAM),
        v.process(checkpoint::AFTER_MALLOCS, role::PROGRAM),
    ) else {
        return Err("the two checkpoints were not measured".into());
    };
    let delta = |f: fn(&ProcessRecord) -> u64| f(after) as i64 - f(before) as i64;
    let anon = delta(|p| p.totals.rss_anon_bytes);
    let file = delta(|p| p.totals.rss_file_bytes);
    let rss = delta(|p| p.totals.rss_bytes);
    let anon_pages = anon / v.page() as i64;
    let program = programs::program_path(v.variant).unwrap_or_default();
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
        pages(heap_before, v.page()),
        pages(heap_after, v.page()),
        pages(anon_before, v.page()),
        pages(anon_after, v.page()),
        after.faults.minor,
    );
    if file > 0 {
        evidence.push_str(&format!(
            ". VmRSS grew by {} pages in all: {} pages are file pages, malloc's own code paged in on first \
             use (fault-around maps up to 16 cached pages per fault, and where its window falls depends on \
             the library's load address, which ASLR moves), shared with every process that maps the file",
            rss / v.page() as i64,
            file / v.page() as i64
        ));
    }
    Ok(Finding::new(
        anon_pages >= MALLOCS.len() as i64,
        evidence,
        format!("RssAnon {anon_pages:+} pages"),
    ))
}

pub(super) fn malloc_mmap(v: &Observed<'_>) -> Judged {
    let (Some(before), Some(after), Some(program)) = (
        v.process(checkpoint::BEFORE_MALLOCS, role::PROGRAM),
        v.process(checkpoint::AFTER_MALLOCS, role::PROGRAM),
        programs::program_path(v.variant),
    ) else {
        return Err("the two checkpoints were not measured".into());
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
    Ok(Finding::new(
grew,
format!(
                "anonymous mappings besides heap, stack and bss: {count_before} ({} pages) before the mallocs, \
                 {count_after} ({} pages) after; [heap] {} -> {} pages of Size",
                pages(size_before, v.page()),
                pages(size_after, v.page()),
                part_size(v, before, program, Part::Heap),
                part_size(v, after, program, Part::Heap),
            ),
format!(
            "{:+} mappings, {:+} pages",
            count_after as i64 - count_before as i64,
            (size_after as i64 - size_before as i64) / v.page() as i64
        )))
}

fn part_size(v: &Observed<'_>, p: &ProcessRecord, program: &str, part: Part) -> u64 {
    programs::breakdown(p, program)
        .get(&part)
        .map_or(0, |f| pages(f.size_bytes, v.page()))
}

pub(super) fn page_tables(v: &Observed<'_>) -> Judged {
    let Some(after) = after(v) else {
        return Err("after-mallocs was not measured".into());
    };
    let pte_pages = pages(after.totals.pte_bytes, v.page());
    let table_pages = pte_pages + TOP_LEVEL_PAGES;
    Ok(Finding::new(
        table_pages == SEED_PAGE_TABLE_PAGES,
        format!(
            "{table_pages} page-table pages: VmPTE {pte_pages} pages ({}) below the top level, plus the top-level \
             directory (one page; two with page-table isolation), against Roberson's {SEED_PAGE_TABLE_PAGES}. {}",
            human_bytes(after.totals.pte_bytes),
            if table_pages > SEED_PAGE_TABLE_PAGES {
                "Four-level paging needs a table at each level for each area far apart (program, mmap area, \
                 stack), where Roberson's two-level x86 needed one table per area"
            } else {
                "As Roberson counts"
            }
        ),
        format!("{table_pages} page-table pages"),
    ))
}

/// Page ranges `[first, last]` of the program's text and of its writable
/// parts (file data and the anonymous bss after it), with their permissions.
pub(super) fn separate_pages(v: &Observed<'_>) -> Judged {
    let (Some(after), Some(program)) = (after(v), programs::program_path(v.variant)) else {
        return Err("after-mallocs was not measured".into());
    };
    let ranges = programs::program_page_ranges(after, program, v.page());
    let text: Vec<_> = ranges.iter().filter(|r| r.executable).collect();
    let writable: Vec<_> = ranges.iter().filter(|r| r.writable).collect();
    if text.is_empty() || writable.is_empty() {
        return Err(format!(
            "the program has {} executable and {} writable mappings: nothing to compare",
            text.len(),
            writable.len()
        ));
    }
    let wx = ranges.iter().filter(|r| r.executable && r.writable).count();
    let list = |rs: &[&programs::PageRange]| {
        rs.iter()
            .map(|r| r.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    Ok(Finding::new(
        wx == 0,
        format!(
            "text {}; writable {}; {wx} mapping(s) both writable and executable{}",
            list(&text),
            list(&writable),
            if wx > 0 {
                ". Linux loaded and ran the program with its text and data in the same pages: separate \
                 pages are the linker's default (different protections, and clean text that can be shared), \
                 not something the kernel requires"
            } else {
                ". The kernel protects whole pages, and text and data lie in pages of their own"
            }
        ),
        format!("{wx} W+X mappings"),
    ))
}

/// VmSize beyond the program's text, against Bernstein's 39 extra pages.
pub(super) fn extra_vm(v: &Observed<'_>) -> Judged {
    let (Some(after), Some(program)) = (after(v), programs::program_path(v.variant)) else {
        return Err("after-mallocs was not measured".into());
    };
    let parts = programs::breakdown(after, program);
    let text = parts
        .get(&Part::Text)
        .map_or(0, |f| pages(f.size_bytes, v.page()));
    let vsz = pages(after.totals.vm_size_bytes, v.page());
    let extra = vsz.saturating_sub(text);
    Ok(Finding::new(
        within_half(extra, SEED_EXTRA_VM_PAGES),
        format!(
            "VmSize {vsz} pages, of which the program's text {text}: {extra} pages besides it, against the \
             seed's {SEED_EXTRA_VM_PAGES} ± {}. Size in pages: {}",
            SEED_EXTRA_VM_PAGES / 2,
            breakdown_text(v, checkpoint::AFTER_MALLOCS)
        ),
        format!("{extra} extra pages"),
    ))
}

/// What exit() costs over _exit(): the two static builds compared.
pub(super) fn exit_stdio(with_exit: &Observed<'_>, without: &Observed<'_>) -> Judged {
    let (Some(e), Some(q)) = (&with_exit.variant.binary, &without.variant.binary) else {
        return Err("the file facts of the two static builds were not recorded".into());
    };
    let (Some(re), Some(rq)) = (resident_pages(with_exit), resident_pages(without)) else {
        return Err("after-mallocs was not measured in both static builds".into());
    };
    let bytes = (e.data_bytes + e.bss_bytes) as i64 - (q.data_bytes + q.bss_bytes) as i64;
    let pages_more = re as i64 - rq as i64;
    Ok(Finding::new(
        bytes >= SEED_STDIO_BYTES as i64 && pages_more >= SEED_EXIT_PAGES as i64,
        format!(
            "calling exit() rather than _exit(): data + bss {bytes:+} bytes (size: {} + {} against {} + {}), \
             resident pages at after-mallocs {pages_more:+} ({re} against {rq}), against the seed's \
             {SEED_STDIO_BYTES} bytes and {SEED_EXIT_PAGES} pages{}",
            e.data_bytes,
            e.bss_bytes,
            q.data_bytes,
            q.bss_bytes,
            if bytes < SEED_STDIO_BYTES as i64 {
                ". The static C library links stdio in either way (its own start-up and error paths \
                 use it), so exit() brings in no data or bss"
            } else {
                ""
            }
        ),
        format!("{bytes:+} B, {pages_more:+} pages"),
    ))
}

/// The lines of the map that name the program's own file.
pub(super) fn program_lines(v: &Observed<'_>) -> Judged {
    let (Some(after), Some(program)) = (after(v), programs::program_path(v.variant)) else {
        return Err("after-mallocs was not measured".into());
    };
    let perms: Vec<&str> = after
        .mappings
        .iter()
        .filter(|m| m.name == program)
        .map(|m| m.perms.as_str())
        .collect();
    Ok(Finding::new(
        perms == ["r-xp", "r--p", "rw-p"],
        format!(
            "the program's file has {} lines in the map: {}",
            perms.len(),
            perms.join(", ")
        ),
        format!("{} lines", perms.len()),
    ))
}

/// Resident pages of the program at after-mallocs, for comparing builds.
pub(super) fn resident_pages(v: &Observed<'_>) -> Option<u64> {
    after(v).map(|p| pages(resident_bytes(p), v.page()))
}

/// Whether the five allocations, served from an arena in .bss, add no page.
pub(super) fn bss_slack(v: &Observed<'_>) -> Judged {
    let (Some(before), Some(after)) = (
        v.process(checkpoint::BEFORE_MALLOCS, role::PROGRAM),
        after(v),
    ) else {
        return Err("before-mallocs or after-mallocs was not measured".into());
    };
    let (b, a) = (
        pages(resident_bytes(before), v.page()),
        pages(resident_bytes(after), v.page()),
    );
    let requested: u64 = MALLOCS.iter().sum();
    Ok(Finding::new(
        a <= b,
        format!(
            "the five allocations ({requested} bytes requested) served from an arena in the free tail of \
             the .bss page the program already uses: resident {b} pages before, {a} after. Rss (Size) in \
             pages: {}",
            breakdown_text(v, checkpoint::AFTER_MALLOCS)
        ),
        format!("{:+} pages", a as i64 - b as i64),
    ))
}

pub(super) fn data_private(v: &Observed<'_>) -> Judged {
    let (Some(after), Some(program)) = (after(v), programs::program_path(v.variant)) else {
        return Err("after-mallocs was not measured".into());
    };
    let of_program = || after.mappings.iter().filter(|m| m.name == program);
    let writable: Vec<_> = of_program()
        .filter(|m| m.perms.contains('w') && m.figures.rss_bytes > 0)
        .collect();
    if writable.is_empty() {
        return Err("precondition not met: the program file has no writable mapping with a resident page (its data is all bss)".into());
    }
    let private = writable.iter().all(|m| m.perms.ends_with('p'));
    let dirty: u64 = writable
        .iter()
        .map(|m| m.figures.private_dirty_bytes + m.figures.shared_dirty_bytes)
        .sum();
    let anonymous: u64 = writable.iter().map(|m| m.figures.anonymous_bytes).sum();
    let text: Vec<_> = of_program().filter(|m| m.perms.contains('x')).collect();
    let text_dirty: u64 = text
        .iter()
        .map(|m| m.figures.private_dirty_bytes + m.figures.shared_dirty_bytes)
        .sum();
    let text_copied: u64 = text.iter().map(|m| m.figures.anonymous_bytes).sum();
    // A page this process wrote through a private mapping is an anonymous
    // copy; a dirty page that is not is the file's own page-cache page, dirty
    // because the file was written (built) and not yet written back. smaps
    // counts both as dirty, so such dirt can only make the claim look refuted.
    let cache_dirt = dirty.saturating_sub(anonymous) + text_dirty.saturating_sub(text_copied);
    let holds = private && text_copied == 0;
    if holds && cache_dirt > 0 {
        return Err(format!(
            "precondition not met: {} pages of the program file are dirty in the page cache (written, not yet written back), which smaps counts as dirty whoever wrote them",
            pages(cache_dirt, v.page())
        ));
    }
    Ok(Finding::new(
        holds,
        format!(
            "the program's writable file mappings ({}) hold {} dirty pages, {} of them anonymous private \
             copies; its text has {} dirty pages, {} of them copies",
            writable
                .iter()
                .map(|m| m.perms.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            pages(dirty, v.page()),
            pages(anonymous, v.page()),
            pages(text_dirty, v.page()),
            pages(text_copied, v.page())
        ),
        format!(
            "{} of {} dirty data pages private copies",
            pages(anonymous, v.page()),
            pages(dirty, v.page())
        ),
    ))
}

pub(super) fn bss_anonymous(v: &Observed<'_>) -> Judged {
    let (Some(after), Some(program), Some(binary)) = (
        after(v),
        programs::program_path(v.variant),
        v.variant.binary.as_ref(),
    ) else {
        return Err("after-mallocs or the program's ELF facts were not measured".into());
    };
    let beyond: u64 = binary
        .load_segments
        .iter()
        .filter(|s| s.flags.contains('W'))
        .map(|s| programs::pages_past_file(s, v.page()))
        .sum();
    if beyond == 0 {
        return Err(format!(
                "precondition not met: the program's bss ({} bytes) fits in the last page of its file data, \
                 so no page of it lies wholly past the file",
                binary.bss_bytes
            ));
    }
    let parts = programs::breakdown(after, program);
    let bss_pages = parts
        .get(&Part::Bss)
        .map_or(0, |f| pages(f.size_bytes, v.page()));
    Ok(Finding::new(
bss_pages >= beyond,
format!(
                "the writable segment has {beyond} page(s) wholly past its file contents ({} bytes of bss in \
                 all); the anonymous mapping after the program's file spans {bss_pages} page(s), Rss {} \
                 page(s). The bss that shares the last file page is zeroed in the private copy of that page",
                binary.bss_bytes,
                parts.get(&Part::Bss).map_or(0, |f| pages(f.rss_bytes, v.page()))
            ),
format!("{bss_pages} anonymous of {beyond} bss pages")))
}

pub(super) fn seed_figures(v: &Observed<'_>) -> Judged {
    let Some(after) = after(v) else {
        return Err("after-mallocs was not measured".into());
    };
    let rss_pages = pages(resident_bytes(after), v.page());
    let vsz_pages = pages(after.totals.vm_size_bytes, v.page());
    let rss_seed = SEED_RSS_BYTES / v.page();
    let vsz_seed = SEED_VSZ_BYTES / v.page();
    let holds = within_half(rss_pages, rss_seed) && within_half(vsz_pages, vsz_seed);
    let text = v
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
    Ok(Finding::new(
holds,
format!(
                "resident {rss_pages} pages ({}) and VmSize {vsz_pages} pages ({}), against the seed's \
                 {rss_seed} ± {} and {vsz_seed} ± {} pages{text}. Rss (Size) in pages: {}",
                human_bytes(resident_bytes(after)),
                human_bytes(after.totals.vm_size_bytes),
                rss_seed / 2,
                vsz_seed / 2,
                breakdown_text(v, checkpoint::AFTER_MALLOCS)
            ),
format!("RSS {rss_pages} pages, VSZ {vsz_pages} pages")))
}

pub(super) fn text_pages(v: &Observed<'_>) -> Judged {
    let (Some(after), Some(program)) = (after(v), programs::program_path(v.variant)) else {
        return Err("after-mallocs was not measured".into());
    };
    let parts = programs::breakdown(after, program);
    let Some(text) = parts.get(&Part::Text) else {
        return Err("no executable mapping of the program was seen".into());
    };
    let size = pages(text.size_bytes, v.page());
    Ok(Finding::new(
        size.abs_diff(SEED_TEXT_PAGES) <= 1,
        format!(
            "the program's executable mapping spans {size} pages, {} resident, against the seed's \
                 {SEED_TEXT_PAGES} ± 1",
            pages(text.rss_bytes, v.page())
        ),
        format!("text {size} pages"),
    ))
}

/// The least Linux allows, from the file's segments: every page the text
/// segment spans (the code runs through it), every page of the writable
/// segment (the allocator's state lives there), the heap pages the five
/// requests need, and one page of stack (arguments, environment and auxiliary
/// vector are written there by exec, and the program's frames follow).
fn minimum_pages(v: &Observed<'_>) -> Option<(u64, String)> {
    let binary = v.variant.binary.as_ref()?;
    let span = |vaddr: u64, bytes: u64| {
        if bytes == 0 {
            0
        } else {
            (vaddr + bytes).div_ceil(v.page()) - vaddr / v.page()
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
        v.page(),
    );
    let stack = 1;
    Some((
        text + writable + heap + stack,
        format!("{text} text + {writable} data/bss + {heap} heap + {stack} stack"),
    ))
}

pub(super) fn near_minimum(v: &Observed<'_>) -> Judged {
    let Some(after) = after(v) else {
        return Err("after-mallocs was not measured".into());
    };
    let minimum = minimum_pages(v).map_or_else(
        || "the least Linux allows could not be derived (no ELF facts)".to_string(),
        |(pages, derivation)| {
            format!("the least Linux allows, counted from the program headers, is {pages} pages ({derivation})")
        },
    );
    let rss_pages = pages(resident_bytes(after), v.page());
    Ok(Finding::new(
rss_pages <= SEED_EXCUSABLE_PAGES,
format!(
                "resident {rss_pages} pages ({}), VmSize {} pages (the seed's static FreeBSD program: 11 pages \
                 RSS, 42 pages VSZ), against the seed's {SEED_EXCUSABLE_PAGES}; {minimum}. Rss (Size) in pages: {}",
                human_bytes(resident_bytes(after)),
                pages(after.totals.vm_size_bytes, v.page()),
                breakdown_text(v, checkpoint::AFTER_MALLOCS)
            ),
format!("RSS {rss_pages} pages")))
}

pub(super) fn stack_reservation(v: &Observed<'_>) -> Judged {
    let (Some(after), Some(program)) = (after(v), programs::program_path(v.variant)) else {
        return Err("after-mallocs was not measured".into());
    };
    let parts = programs::breakdown(after, program);
    let Some(stack) = parts.get(&Part::Stack) else {
        return Err("no [stack] mapping was seen".into());
    };
    let size_pages = pages(stack.size_bytes, v.page());
    let rss_pages = pages(stack.rss_bytes, v.page());
    let holds = size_pages >= SEED_STACK_PAGES && rss_pages * 4 <= size_pages;
    Ok(Finding::new(
holds,
format!(
                "the [stack] mapping spans {size_pages} pages (VmStk {}) of which {rss_pages} are resident; \
                 Linux reserves 128 KiB below the arguments at exec, as FreeBSD reserved its 32 pages",
                human_bytes(after.totals.stack_bytes)
            ),
format!("{rss_pages} of {size_pages} pages resident")))
}

pub(super) fn stack_under_limit(v: &Observed<'_>) -> Judged {
    let limit = v.note(note::STACK_LIMIT_BYTES);
    if limit != Some(SEED_STACK_LIMIT_BYTES) {
        return Err(format!(
                "precondition not met: the stack limit in force at exec was {}, not {SEED_STACK_LIMIT_BYTES} bytes",
                limit.map_or("not recorded".to_string(), |l| format!("{l} bytes"))
            ));
    }
    let (Some(after), Some(program)) = (after(v), programs::program_path(v.variant)) else {
        return Err("after-mallocs was not measured".into());
    };
    let parts = programs::breakdown(after, program);
    let Some(stack) = parts.get(&Part::Stack) else {
        return Err("no [stack] mapping was seen".into());
    };
    let size_pages = pages(stack.size_bytes, v.page());
    Ok(Finding::new(
size_pages >= SEED_STACK_PAGES,
format!(
                "with RLIMIT_STACK at {SEED_STACK_LIMIT_BYTES} bytes the [stack] mapping spans {size_pages} pages, \
                 {} resident, against the seed's {SEED_STACK_PAGES}; VmSize {} pages",
                pages(stack.rss_bytes, v.page()),
                pages(after.totals.vm_size_bytes, v.page())
            ),
format!("stack {size_pages} pages")))
}

/// `measured` lies within half of `seed` (rounded down) either way.
fn within_half(measured: u64, seed: u64) -> bool {
    measured.abs_diff(seed) <= seed / 2
}

#[cfg(test)]
pub(super) mod tests {
    use std::collections::BTreeMap;

    use experiments::catalog::tiny_malloc::variant;

    use super::super::claims::MALLOC_PAGE;
    use super::*;
    use crate::model::{BinaryFacts, Linking, LoadSegment, Status, VariantRecord};
    use crate::model::{ClaimRecord, Verdict};

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
        let env = fixtures::env();
        let view = Observed {
            variant: &variant,
            env: &env,
        };
        let (pages, derivation) = minimum_pages(&view).expect("binary facts");
        assert_eq!(pages, 1 + 2 + 1 + 1, "{derivation}");
    }

    use crate::elf::PROGRAM_PATH_NOTE;
    use crate::experiment::programs::fixtures::{self, mapping, PAGE};

    const PROGRAM: &str = "/p";

    /// A minimal-like process: text, bss, heap, stack; `anon` heap pages resident.
    pub(in crate::experiment::tiny_malloc) fn minimal_process(
        heap_rss: u64,
        stack: (u64, u64),
    ) -> ProcessRecord {
        let mut p = fixtures::process(
            role::PROGRAM,
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

    /// What `judge` records on variant `v` (under any claim: the tests read
    /// the verdict, evidence and measured figure).
    fn judged(judge: fn(&Observed<'_>) -> Judged, v: &VariantRecord) -> ClaimRecord {
        let env = fixtures::env();
        let view = Observed {
            variant: v,
            env: &env,
        };
        view.verdict(&MALLOC_PAGE, judge(&view))
    }

    fn two_checkpoints(name: &str, before: ProcessRecord, after: ProcessRecord) -> VariantRecord {
        let mut v = fixtures::variant(
            name,
            vec![
                fixtures::checkpoint(checkpoint::BEFORE_MALLOCS, vec![before]),
                fixtures::checkpoint(checkpoint::AFTER_MALLOCS, vec![after]),
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

    pub(in crate::experiment::tiny_malloc) fn with_after(after: ProcessRecord) -> VariantRecord {
        two_checkpoints("minimal", minimal_process(0, (33, 1)), after)
    }

    #[test]
    fn a_small_program_must_show_exactly_r_x_r_and_rw_lines() {
        let lines = |perms: &[&str]| {
            let mut after = minimal_process(1, (33, 1));
            after.mappings.retain(|m| m.name != PROGRAM);
            for (i, p) in perms.iter().enumerate() {
                after
                    .mappings
                    .insert(i, mapping(0x400 + i as u64, 1, PROGRAM, p, 1));
            }
            judged(program_lines, &with_after(after)).verdict
        };
        assert_eq!(lines(&["r-xp", "r--p", "rw-p"]), Verdict::Confirmed);
        assert_eq!(
            lines(&["r--p", "r-xp", "r--p", "r--p", "rw-p"]),
            Verdict::Refuted
        );
    }

    // See: issue 22. Martin's allocator bookkeeping, judged both ways at
    // its boundary: one page over the request is rounding, more is bookkeeping.
    #[test]
    fn bookkeeping_is_resident_growth_beyond_the_request_and_a_page() {
        let requested = (MANY_SMALL_COUNT * MANY_SMALL_BYTES) as u64;
        let with_heap_anon = |bytes: u64| {
            let mut p = minimal_process(1, (33, 1));
            for m in p.mappings.iter_mut().filter(|m| m.name == "[heap]") {
                m.figures.anonymous_bytes = bytes;
            }
            p
        };
        let verdict = |grown: u64| {
            let v = two_checkpoints(
                variant::MANY_SMALL,
                with_heap_anon(PAGE),
                with_heap_anon(PAGE + grown),
            );
            judged(bookkeeping, &v)
        };
        assert_eq!(verdict(2 * requested).verdict, Verdict::Confirmed);
        assert_eq!(verdict(requested + PAGE + PAGE).verdict, Verdict::Confirmed);
        assert_eq!(verdict(requested + PAGE).verdict, Verdict::Refuted);
        let c = verdict(requested);
        assert_eq!(c.verdict, Verdict::Refuted);
        assert!(c.evidence.contains("rounding"), "{}", c.evidence);
    }

    #[test]
    fn vm_beyond_the_text_is_judged_against_39_pages() {
        for (vsz, verdict) in [(41, Verdict::Confirmed), (80, Verdict::Refuted)] {
            let mut after = minimal_process(1, (33, 1));
            after.totals.vm_size_bytes = vsz * PAGE;
            let claim = judged(extra_vm, &with_after(after));
            assert_eq!(claim.verdict, verdict, "VmSize {vsz} pages");
        }
    }

    #[test]
    fn exit_must_add_the_seeds_stdio_bytes_and_two_pages() {
        let build = |name: &str, data: u64, rss_pages: u64| {
            let mut after = minimal_process(1, (33, 1));
            after.totals.mapped_rss_bytes = rss_pages * PAGE;
            let mut v = two_checkpoints(name, minimal_process(0, (33, 1)), after);
            if let Some(b) = v.binary.as_mut() {
                b.data_bytes = data;
            }
            v
        };
        let env = fixtures::env();
        let verdict = |e: &VariantRecord, q: &VariantRecord| {
            let (e, q) = (
                Observed {
                    variant: e,
                    env: &env,
                },
                Observed {
                    variant: q,
                    env: &env,
                },
            );
            e.verdict(&MALLOC_PAGE, exit_stdio(&e, &q)).verdict
        };
        let plain = build("static", 1000, 10);
        assert_eq!(
            verdict(&build("static-exit", 1400, 12), &plain),
            Verdict::Confirmed
        );
        assert_eq!(
            verdict(&build("static-exit", 1000, 10), &plain),
            Verdict::Refuted
        );
        assert_eq!(
            verdict(&build("static-exit", 1400, 11), &plain),
            Verdict::Refuted
        );
    }

    #[test]
    fn allocations_in_the_bss_slack_must_add_no_page() {
        let before = minimal_process(0, (33, 1));
        let mut same = before.clone();
        same.totals.mapped_rss_bytes = 3 * PAGE;
        let mut b = before.clone();
        b.totals.mapped_rss_bytes = 3 * PAGE;
        let v = two_checkpoints("minimal-bss", b.clone(), same);
        assert_eq!(judged(bss_slack, &v).verdict, Verdict::Confirmed);
        let mut grown = before;
        grown.totals.mapped_rss_bytes = 4 * PAGE;
        let v = two_checkpoints("minimal-bss", b, grown);
        let claim = judged(bss_slack, &v);
        assert_eq!(claim.verdict, Verdict::Refuted);
        assert_eq!(claim.measured, "+1 pages");
    }

    #[test]
    fn text_and_data_in_one_rwx_mapping_refute_separate_pages() {
        let mut after = minimal_process(0, (33, 1));
        after.mappings.remove(1);
        after.mappings[0].perms = "rwxp".into();
        let claim = judged(separate_pages, &with_after(after));
        assert_eq!(claim.verdict, Verdict::Refuted);
        assert!(claim.evidence.contains("not something the kernel requires"));
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
            let claim = judged(malloc_page, &v);
            assert_eq!(claim.verdict, verdict, "{grown} pages: {}", claim.evidence);
            assert!(!claim.measured.is_empty());
        }
    }

    #[test]
    fn an_anonymous_mmap_must_appear_or_grow_over_the_mallocs() {
        let v = with_after(minimal_process(1, (33, 1)));
        assert_eq!(judged(malloc_mmap, &v).verdict, Verdict::Refuted);
        let mut after = minimal_process(1, (33, 1));
        after.mappings.insert(3, mapping(0x7e000, 1, "", "rw-p", 1));
        let v = with_after(after.clone());
        assert_eq!(judged(malloc_mmap, &v).verdict, Verdict::Confirmed);
        // The same mapping before and after, one page longer after.
        let mut before = minimal_process(0, (33, 1));
        before
            .mappings
            .insert(3, mapping(0x7e000, 1, "", "rw-p", 1));
        after.mappings[3] = mapping(0x7e000, 2, "", "rw-p", 1);
        let v = two_checkpoints("minimal", before.clone(), after);
        assert_eq!(judged(malloc_mmap, &v).verdict, Verdict::Confirmed);
        let v = two_checkpoints("minimal", before.clone(), before);
        assert_eq!(judged(malloc_mmap, &v).verdict, Verdict::Refuted);
    }

    #[test]
    fn page_tables_must_be_robersons_three_pages_with_the_top_level() {
        for (pte, verdict) in [
            (2, Verdict::Confirmed),
            (1, Verdict::Refuted),
            (3, Verdict::Refuted),
            (5, Verdict::Refuted),
        ] {
            let mut after = minimal_process(1, (33, 1));
            after.totals.pte_bytes = pte * PAGE;
            let v = with_after(after);
            assert_eq!(
                judged(page_tables, &v).verdict,
                verdict,
                "VmPTE {pte} pages"
            );
        }
    }

    #[test]
    fn a_writable_and_executable_mapping_refutes_separate_pages() {
        let v = with_after(minimal_process(1, (33, 1)));
        assert_eq!(judged(separate_pages, &v).verdict, Verdict::Confirmed);
        let mut after = minimal_process(1, (33, 1));
        after.mappings[0].perms = "rwxp".into();
        let v = with_after(after);
        assert_eq!(judged(separate_pages, &v).verdict, Verdict::Refuted);
        let mut after = minimal_process(1, (33, 1));
        after.mappings.remove(1);
        let v = with_after(after);
        assert_eq!(judged(separate_pages, &v).verdict, Verdict::Inconclusive);
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
            judged(data_private, &v).verdict
        };
        assert_eq!(with_data("rw-p", 1, 1), Verdict::Confirmed);
        assert_eq!(with_data("rw-s", 1, 1), Verdict::Refuted);
        // A dirty page that is no copy is the file's page cache (a freshly
        // built program): it cannot tell what this process wrote.
        assert_eq!(with_data("rw-p", 1, 0), Verdict::Inconclusive);
        // A private copy of a text page: the text was modified.
        let mut after = minimal_process(1, (33, 1));
        after.mappings[1] = mapping(0x401, 1, PROGRAM, "rw-p", 1);
        after.mappings[0].figures.private_dirty_bytes = PAGE;
        after.mappings[0].figures.anonymous_bytes = PAGE;
        assert_eq!(
            judged(data_private, &with_after(after)).verdict,
            Verdict::Refuted
        );
        // Pure bss: no writable file mapping, nothing to judge.
        let v = with_after(minimal_process(1, (33, 1)));
        assert_eq!(judged(data_private, &v).verdict, Verdict::Inconclusive);
    }

    #[test]
    fn bss_past_the_file_must_be_an_anonymous_mapping() {
        let v = with_after(minimal_process(1, (33, 1)));
        assert_eq!(judged(bss_anonymous, &v).verdict, Verdict::Confirmed);
        // No anonymous mapping after the file: the bss page is missing.
        let mut after = minimal_process(1, (33, 1));
        after.mappings[1] = mapping(0x402, 1, "", "rw-p", 1);
        let v = with_after(after);
        assert_eq!(judged(bss_anonymous, &v).verdict, Verdict::Refuted);
        // Bss inside the last file page: the precondition did not occur.
        let mut v = with_after(minimal_process(1, (33, 1)));
        let b = v.binary.as_mut().unwrap();
        b.load_segments[1].file_bytes = 0x10;
        b.load_segments[1].vaddr = 0x401000;
        assert_eq!(judged(bss_anonymous, &v).verdict, Verdict::Inconclusive);
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
                judged(stack_reservation, &v).verdict,
                verdict,
                "{rss} of {size}"
            );
        }
    }

    #[test]
    fn the_reservation_under_a_4k_limit_needs_the_limit_and_32_pages() {
        let limited = |stack_pages: u64, note: Option<&str>| {
            let mut v = with_after(minimal_process(1, (stack_pages, 1)));
            v.name = variant::MINIMAL_STACK_4K.into();
            if let Some(n) = note {
                v.notes
                    .insert(note::STACK_LIMIT_BYTES.key().into(), n.into());
            }
            judged(stack_under_limit, &v).verdict
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
            judged(seed_figures, &v).verdict
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
            assert_eq!(judged(text_pages, &v).verdict, verdict, "{text} pages");
        }
    }

    #[test]
    fn a_small_program_may_take_three_pages_not_four() {
        let mut after = minimal_process(0, (33, 1));
        assert_eq!(after.totals.mapped_rss_bytes, 3 * PAGE);
        let v = with_after(after.clone());
        assert_eq!(judged(near_minimum, &v).verdict, Verdict::Confirmed);
        after.totals.mapped_rss_bytes = 4 * PAGE;
        let v = with_after(after);
        let claim = judged(near_minimum, &v);
        assert_eq!(claim.verdict, Verdict::Refuted);
        assert!(
            claim
                .evidence
                .contains("4 pages (1 text + 1 data/bss + 1 heap + 1 stack)"),
            "{}",
            claim.evidence
        );
    }
}
