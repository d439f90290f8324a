//! The claims of mmap-file, each with its criterion and its judge, and the
//! figures of a variant that both the judges and the summary read.

use experiments::catalog::mmap_file::{checkpoint, note, region, role, variant, FILE_NAME};

use super::super::declared::{at, judged, Declared, Metric, Need, RegionFigure};
use super::super::kit::{pages, Case, Finding, Judged, Observed};
use super::super::{grouped, human_bytes, Claim};
use super::plan::SEED_WRITE_CHUNK_BYTES;
use crate::model::{DisturbanceCause, Faults, MappingRecord, Verdict};

const SOURCE: &str = experiments::catalog::writing::CHODOROW;

/// The cold claims need the file out of the page cache: at most 1 page in 100
/// may still be cached when it is mapped.
const COLD_CACHED_PER_100_PAGES: u64 = 1;

const VSZ_GROWS: Claim = Claim {
    id: "mmap-grows-vsz-by-mapping-size",
    source: SOURCE,
    statement: "Mapping the file grows the address space (VSZ) by the size of the mapping at once (976,564 KiB in the seed's pmap).",
    criterion: "VmSize at after-mmap minus VmSize at before-mmap equals the mapping's smaps Size, within 2 pages \
        (the program may allocate a page or two for the protocol between the two checkpoints)",
};
const NO_RSS: Claim = Claim {
    id: "mmap-adds-no-rss",
    source: SOURCE,
    statement: "Mapping the file makes none of it resident: nothing of the file is in the process's RSS until it is read.",
    criterion: "the mapping's own smaps Rss at after-mmap is 0 bytes, exactly (smaps counts the mapping's pages \
        one by one; VmRSS is not judged, since it also moves when the program's own code faults in)",
};
const FIRST_READ: Claim = Claim {
    id: "first-read-maps-only-that-page",
    source: SOURCE,
    statement: "Reading one int at the start of the mapping makes only that page of the file resident: pmap -x showed 4 KB of the file.",
    criterion: "the mapping's smaps Rss at after-first-read is exactly 1 page (the seed's own figure, 4 KB); \
        tolerance 0, since a page is the unit",
};
const READ_ALL: Claim = Claim {
    id: "read-all-makes-file-resident",
    source: SOURCE,
    statement: "Reading the whole mapping makes all of it resident: its RSS becomes the size of the mapping (976,564 KiB of 976,564 KiB in the seed).",
    criterion: "the mapping's smaps Rss at after-read-all equals its smaps Size; tolerance 0 pages, since every \
        page was read. Where proactive reclaim (a DAMON pageout scheme) runs, a shortfall is inconclusive: \
        reclaim unmaps idle pages, so it can only make Rss fall short",
};
const WARM_NO_DISK: Claim = Claim {
    id: "cached-file-reads-need-no-disk",
    source: SOURCE,
    statement: "A file still in the page cache (just written) is read without going to the disk: the process only 'discovers' pages already in RAM, with minor faults.",
    criterion: "read_bytes of /proc/PID/io over the two read phases (after-mmap to after-read-all) is 0: the \
        process caused no storage read; exact. Precondition: mincore showed every page of the mapping cached \
        before mmap (the file is read through again, up to 3 times, until it does); a page missing can only \
        cause a read, so with none read the claim is confirmed. Proactive reclaim (a DAMON pageout scheme) evicts idle page-cache pages at any time (the \
        seed: 'until something else kicks it out'), so where it runs a storage read is inconclusive; it cannot \
        cause a read of 0, which confirms. Major faults are reported but not judged, since the kernel also \
        counts a retried fault as major",
};
const JUST_WRITTEN_CACHED: Claim = Claim {
    id: "just-written-file-is-in-the-page-cache",
    source: SOURCE,
    statement: "A file just written (with dd in the seed) is probably all in memory before it is mapped: the page cache still holds it.",
    criterion: "after writing and fsync, mincore shows every page of the mapping in the page cache before any \
        page is read back (the experiment's pages_reread_to_warm is 0); exact. Where proactive reclaim (a \
        DAMON pageout scheme) runs, a page read back is inconclusive, since reclaim alone evicts it; none \
        read back confirms",
};
const EACH_PAGE_FAULTS: Claim = Claim {
    id: "each-page-touched-costs-a-fault",
    source: SOURCE,
    statement: "The kernel tells the process about one page at a time: every page the program touches for the first time costs it a page fault (minor when the page is already in RAM).",
    criterion: "minor + major faults of the process over the two read phases are at least the mapping's pages \
        (one fault per page first touched); tolerance 0, since a fault is the unit",
};
const COLD_DISK: Claim = Claim {
    id: "uncached-file-reads-take-major-faults",
    source: SOURCE,
    statement: "Reading a file that is not in the page cache makes the process wait for the disk (major faults): the file has to come in from storage.",
    criterion: "read_bytes of /proc/PID/io over the two read phases is at least the bytes of the mapping that \
        were not cached before mmap (mincore, in pages; exact), and the process took at least 1 major fault. \
        Precondition: at most 1 page in 100 of the mapping cached before mmap",
};
const READ_AHEAD: Claim = Claim {
    id: "kernel-reads-more-than-the-page-asked-for",
    source: SOURCE,
    statement: "Asked for the first bytes of a file, the kernel reads more of it (the seed: the first dozen KB) but only tells the process about the page it asked for (4 KB).",
    criterion: "read_bytes of /proc/PID/io over the first-read phase is greater than the mapping's smaps Rss \
        after it (the kernel read more than it mapped); strict, in bytes. Precondition: the file was not \
        cached (as for the cold claim)",
};
const RANDOM_EVERY_PAGE: Claim = Claim {
    id: "random-access-faults-every-page",
    source: SOURCE,
    statement: "A page that has to come from the disk is a major fault: with read-ahead off (MADV_RANDOM) nothing is read in advance, so every page of an uncached file costs one.",
    criterion: "major faults over the two read phases are at least the pages of the mapping not cached before \
        mmap (mincore); tolerance 0, one trip to the disk per page",
};

/// Every claim, in the order a variant judges them.
pub(super) static CLAIMS: [Claim; 10] = [
    VSZ_GROWS,
    NO_RSS,
    FIRST_READ,
    READ_ALL,
    JUST_WRITTEN_CACHED,
    WARM_NO_DISK,
    EACH_PAGE_FAULTS,
    COLD_DISK,
    READ_AHEAD,
    RANDOM_EVERY_PAGE,
];

/// What the claims need of the machine and the figures they are judged on
/// (read by the tools that compare runs across kernels and machines).
pub(super) static DECLARED: [Declared; 9] = [
    judged(&VSZ_GROWS, &[at(Metric::VmSize, checkpoint::AFTER_MMAP)]),
    judged(
        &NO_RSS,
        &[at(
            Metric::Region(region::DATA, RegionFigure::Rss),
            checkpoint::AFTER_MMAP,
        )],
    ),
    judged(
        &FIRST_READ,
        &[at(
            Metric::Region(region::DATA, RegionFigure::Rss),
            checkpoint::AFTER_FIRST_READ,
        )],
    ),
    judged(
        &READ_ALL,
        &[at(
            Metric::Region(region::DATA, RegionFigure::Rss),
            checkpoint::AFTER_READ_ALL,
        )],
    ),
    judged(
        &WARM_NO_DISK,
        &[
            at(Metric::ReadBytes, checkpoint::AFTER_FIRST_READ),
            at(Metric::ReadBytes, checkpoint::AFTER_READ_ALL),
        ],
    ),
    judged(
        &EACH_PAGE_FAULTS,
        &[
            at(Metric::MinorFaults, checkpoint::AFTER_FIRST_READ),
            at(Metric::MajorFaults, checkpoint::AFTER_FIRST_READ),
            at(Metric::MinorFaults, checkpoint::AFTER_READ_ALL),
            at(Metric::MajorFaults, checkpoint::AFTER_READ_ALL),
        ],
    ),
    Declared {
        claim: &COLD_DISK,
        needs: &[Need::DiskBackedFiles],
        judges: &[
            at(Metric::ReadBytes, checkpoint::AFTER_READ_ALL),
            at(Metric::MajorFaults, checkpoint::AFTER_FIRST_READ),
            at(Metric::MajorFaults, checkpoint::AFTER_READ_ALL),
        ],
    },
    judged(
        &READ_AHEAD,
        &[
            at(Metric::ReadBytes, checkpoint::AFTER_FIRST_READ),
            at(
                Metric::Region(region::DATA, RegionFigure::Rss),
                checkpoint::AFTER_FIRST_READ,
            ),
        ],
    ),
    Declared {
        claim: &RANDOM_EVERY_PAGE,
        needs: &[Need::DiskBackedFiles],
        judges: &[
            at(Metric::MajorFaults, checkpoint::AFTER_FIRST_READ),
            at(Metric::MajorFaults, checkpoint::AFTER_READ_ALL),
        ],
    },
];

/// The claims every variant judges: what mapping and reading do to the address
/// space and the resident set.
const COMMON: [Case; 4] = [
    (VSZ_GROWS, vsz_grows),
    (NO_RSS, no_rss),
    (FIRST_READ, first_read),
    (READ_ALL, read_all),
];

/// A warm file: it stays in the page cache and is read without the disk.
static WARM: [Case; 7] = [
    COMMON[0],
    COMMON[1],
    COMMON[2],
    COMMON[3],
    (JUST_WRITTEN_CACHED, just_written_cached),
    (WARM_NO_DISK, warm_no_disk),
    (EACH_PAGE_FAULTS, each_page_faults),
];

/// A cold file read with read-ahead.
static COLD: [Case; 7] = [
    COMMON[0],
    COMMON[1],
    COMMON[2],
    COMMON[3],
    (COLD_DISK, cold_disk),
    (READ_AHEAD, read_ahead),
    (EACH_PAGE_FAULTS, each_page_faults),
];

/// A cold file read without read-ahead (MADV_RANDOM).
static RANDOM: [Case; 7] = [
    COMMON[0],
    COMMON[1],
    COMMON[2],
    COMMON[3],
    (COLD_DISK, cold_disk),
    (RANDOM_EVERY_PAGE, random_every_page),
    (EACH_PAGE_FAULTS, each_page_faults),
];

/// The claims variant `name` judges, with their judges.
pub(super) fn cases(name: &str) -> &'static [Case] {
    match name {
        variant::COLD => &COLD,
        variant::COLD_RANDOM => &RANDOM,
        _ => &WARM,
    }
}

/// The mapping of the file at a checkpoint, as smaps lists it (for the fields
/// the region does not sum, such as FilePmdMapped).
fn file_mapping<'a>(view: &Observed<'a>, label: &str) -> Option<&'a MappingRecord> {
    let suffix = format!("/{FILE_NAME}");
    view.process(label, role::MAIN)?
        .mappings
        .iter()
        .find(|m| m.name.ends_with(&suffix))
}

/// Bytes of the file mapped by PMDs at `label` (smaps FilePmdMapped).
pub(super) fn pmd_mapped(view: &Observed<'_>, label: &str) -> u64 {
    file_mapping(view, label)
        .and_then(|m| m.other.get("FilePmdMapped").copied())
        .unwrap_or(0)
}

/// Faults of the process over the two read phases.
pub(super) fn read_faults(view: &Observed<'_>) -> Option<Faults> {
    view.faults_over(
        &[checkpoint::AFTER_FIRST_READ, checkpoint::AFTER_READ_ALL],
        role::MAIN,
    )
}

/// Bytes the process caused to be read from storage over the two read phases.
pub(super) fn read_bytes(view: &Observed<'_>) -> Option<u64> {
    view.read_bytes_between(
        checkpoint::AFTER_MMAP,
        checkpoint::AFTER_READ_ALL,
        role::MAIN,
    )
}

/// What the write phase (`before-write` to `after-write`) measured, as dd
/// reports it: bytes passed to write(2) (`wchar`) and milliseconds. None when
/// the variant reused a kept file (it wrote nothing) or io was unreadable.
pub(super) fn written(view: &Observed<'_>) -> Option<(u64, u64)> {
    let io = |label: &str| view.process(label, role::MAIN)?.io;
    let (before, after) = (io(checkpoint::BEFORE_WRITE)?, io(checkpoint::AFTER_WRITE)?);
    let millis = view.checkpoint(checkpoint::AFTER_WRITE)?.phase_millis;
    Some((after.wchar_bytes.saturating_sub(before.wchar_bytes), millis))
}

/// The write phase in dd's terms (the seed quotes dd's bytes, seconds and
/// MB/s): `1,024,004,310 bytes through write(2), 4.2 s, 244 MB/s`. wchar also
/// counts the progress reports the program writes to the harness meanwhile
/// (a few KiB), so it is a little over the file's size.
pub(super) fn written_dd_text(view: &Observed<'_>) -> Option<String> {
    let (bytes, millis) = written(view)?;
    Some(format!(
        "{} bytes through write(2) (wchar), {}",
        grouped(bytes),
        speed_text(bytes, millis)
    ))
}

/// How long the write phase took and at what rate: `4.2 s, 244 MB/s`.
pub(super) fn written_speed_text(view: &Observed<'_>) -> Option<String> {
    written(view).map(|(bytes, millis)| speed_text(bytes, millis))
}

fn speed_text(bytes: u64, millis: u64) -> String {
    let rate = bytes as f64 / 1e6 / (millis.max(1) as f64 / 1000.0);
    format!("{:.1} s, {rate:.0} MB/s", millis as f64 / 1000.0)
}

/// Pages of the mapping, and how many of them were in the page cache when it
/// was mapped (as the experiment measured with mincore).
fn cache_state(view: &Observed<'_>) -> Option<(u64, u64)> {
    Some((
        view.note(note::MAPPED_PAGES)?,
        view.note(note::PAGE_CACHE_PAGES_BEFORE_MMAP)?,
    ))
}

/// How the file was written, for evidence text.
fn written_text(view: &Observed<'_>) -> String {
    match view.note::<u64>(note::WRITE_CHUNK_BYTES) {
        Some(SEED_WRITE_CHUNK_BYTES) => "written 1 KiB per write, as the seed's dd did".into(),
        Some(bytes) => format!("written {} per write", human_bytes(bytes)),
        None => "written in writes of unrecorded size".into(),
    }
}

/// When pages of the file went missing: the machine's proactive reclaim, if
/// any runs, is a known cause outside the experiment.
fn eviction_text(view: &Observed<'_>) -> String {
    if view.env.damon_pageout.is_empty() {
        String::new()
    } else {
        format!(
            ". Proactive reclaim runs on this machine ({}): it pages out memory it finds idle, page-cache \
             pages of this file included, so pages can leave the page cache while the file is read",
            view.env.damon_pageout.join("; ")
        )
    }
}

/// The claims about the page cache keeping the file under proactive reclaim:
/// reclaim only evicts pages, so it can make them fail but never hold. With it
/// running a refutation is inconclusive (reclaim may have caused it), and a
/// confirmation stands: nothing reclaim does puts pages back.
///
/// Reclaim is a transient disturbance: the phase measured its effect (pages
/// missing that the claim needed), and the session measures the variant again.
fn unless_reclaim_explains(view: &Observed<'_>, finding: Finding) -> Judged {
    if finding.holds || view.env.damon_pageout.is_empty() {
        return Ok(finding);
    }
    let what = format!("{} while proactive reclaim ran", finding.measured);
    let evidence = format!(
        "precondition not met: proactive reclaim runs on this machine ({}) and can evict page-cache \
         pages of this file at any moment, which alone would explain what was measured: {}",
        view.env.damon_pageout.join("; "),
        finding.evidence
    );
    Ok(Finding::disturbed(
        DisturbanceCause::Reclaim,
        what,
        evidence,
        finding.measured,
    ))
}

/// The pages a test made the experiment drop from the page cache after
/// measuring it and before the read (`VMLAB_TEST_EVICT_ONCE`), if any.
fn test_eviction(view: &Observed<'_>) -> Option<u64> {
    view.note::<u64>(note::TEST_EVICTED_PAGES)
        .filter(|pages| *pages > 0)
}

/// `fault_around_bytes` for evidence text, saying where the figure comes from.
fn fault_around_text(view: &Observed<'_>) -> String {
    match view.env.fault_around_bytes {
        Some(bytes) => human_bytes(bytes),
        None => format!(
            "{}, the kernel default; debugfs is not readable here",
            human_bytes(view.env.fault_around_or_default())
        ),
    }
}

/// Why a fault maps more than one page on current kernels.
fn fault_around_reason(view: &Observed<'_>) -> String {
    format!(
        "fault-around (Linux 3.15 and later) maps up to fault_around_bytes ({}) of neighbouring pages already \
         in the page cache with the one that faulted, and a large page-cache folio is mapped whole",
        fault_around_text(view)
    )
}

/// Declares the refutation current kernels give a claim of one fault per page,
/// except without read-ahead (cold-random), where the seed's picture holds.
fn expect_fault_around(view: &Observed<'_>, finding: Finding) -> Finding {
    if view.variant.name == variant::COLD_RANDOM {
        finding
    } else {
        finding.expecting(Verdict::Refuted, fault_around_reason(view))
    }
}

/// Why the cold claims cannot be judged, if the file was still cached.
fn not_cold(view: &Observed<'_>) -> Result<(), String> {
    let (mapped, cached) = cache_state(view).ok_or("the page-cache state was not reported")?;
    let method = view
        .note::<String>(note::CACHE_DROP_METHOD)
        .unwrap_or_else(|| "unknown".into());
    if cached * 100 > mapped * COLD_CACHED_PER_100_PAGES {
        // Pages in memory-backed file systems cannot be evicted at all: the
        // environment's doing. Elsewhere the kernel was asked and kept them.
        let fs = view.env.temp_dir_fs.as_str();
        if matches!(fs, "tmpfs" | "ramfs" | "shmem") {
            return Err(format!(
                "precondition not met: {cached} of {mapped} pages were still cached after {method}: \
                 the temporary folder is on {fs}, whose pages cannot be evicted; use --dir on a disk"
            ));
        }
        return Err(format!(
            "{}{cached} of {mapped} pages were still cached after {method} (file system {fs})",
            crate::model::KERNEL_PRECONDITION
        ));
    }
    Ok(())
}

fn vsz_grows(view: &Observed<'_>) -> Judged {
    let (Some(before), Some(after), Some(region)) = (
        view.process(checkpoint::BEFORE_MMAP, role::MAIN),
        view.process(checkpoint::AFTER_MMAP, role::MAIN),
        view.region(checkpoint::AFTER_MMAP, role::MAIN, region::DATA),
    ) else {
        return Err("before-mmap or after-mmap was not measured".into());
    };
    let delta = after.totals.vm_size_bytes as i64 - before.totals.vm_size_bytes as i64;
    let expected = region.figures.size_bytes as i64;
    let holds = expected > 0 && (delta - expected).abs() <= 2 * view.page() as i64;
    Ok(Finding::new(
        holds,
        format!(
            "VmSize grew by {} ({delta} bytes); the mapping's Size is {expected} bytes",
            human_bytes(delta.unsigned_abs()),
        ),
        format!("VmSize +{delta} B for a {expected} B mapping"),
    ))
}

fn no_rss(view: &Observed<'_>) -> Judged {
    let (Some(before), Some(after), Some(region)) = (
        view.process(checkpoint::BEFORE_MMAP, role::MAIN),
        view.process(checkpoint::AFTER_MMAP, role::MAIN),
        view.region(checkpoint::AFTER_MMAP, role::MAIN, region::DATA),
    ) else {
        return Err("before-mmap or after-mmap was not measured".into());
    };
    let rss = region.figures.rss_bytes;
    let vm_rss = after.totals.rss_bytes as i64 - before.totals.rss_bytes as i64;
    Ok(Finding::new(
        rss == 0,
        format!(
            "the mapping's Rss after mmap is {rss} bytes; VmRSS of the whole process changed by {vm_rss} \
             bytes meanwhile (for information: it includes the program's own pages)"
        ),
        format!("mapping Rss {rss} B"),
    ))
}

fn first_read(view: &Observed<'_>) -> Judged {
    let region = view
        .region(checkpoint::AFTER_FIRST_READ, role::MAIN, region::DATA)
        .ok_or("after-first-read was not measured")?;
    let rss = region.figures.rss_bytes;
    let page = view.page();
    let resident = pages(rss, page);
    let fault_around = view.env.fault_around_or_default();
    let mut evidence = format!(
        "{resident} pages ({}) of the file became resident after reading one int; the seed saw 1 page \
         (4 KB). The file was {}",
        human_bytes(rss),
        written_text(view)
    );
    if rss > fault_around {
        evidence.push_str(&format!(
            ". That is more than fault-around alone maps ({}): the page cache holds the file in large \
             folios and the fault mapped the whole folio it hit{}",
            fault_around_text(view),
            match pmd_mapped(view, checkpoint::AFTER_FIRST_READ) {
                0 => String::new(),
                pmd => format!(" ({} of it by PMD, FilePmdMapped)", human_bytes(pmd)),
            }
        ));
    } else if rss > page {
        evidence.push_str(&format!(
            ". Fault-around maps up to fault_around_bytes ({}) of pages already in the page cache around \
             the one that faulted",
            fault_around_text(view)
        ));
    } else if rss == page {
        evidence.push_str(". Exactly the page that was read, as in the seed: no neighbour was in the page cache to map");
    }
    let finding = Finding::new(rss == page, evidence, format!("{resident} pages"));
    Ok(expect_fault_around(view, finding))
}

fn read_all(view: &Observed<'_>) -> Judged {
    let region = view
        .region(checkpoint::AFTER_READ_ALL, role::MAIN, region::DATA)
        .ok_or("after-read-all was not measured")?;
    let size = region.figures.size_bytes;
    let rss = region.figures.rss_bytes;
    let pmd = pmd_mapped(view, checkpoint::AFTER_READ_ALL);
    let mut evidence = format!(
        "the mapping's Rss is {} of its Size {} ({} of {} pages)",
        human_bytes(rss),
        human_bytes(size),
        pages(rss, view.page()),
        pages(size, view.page())
    );
    if pmd > 0 {
        let pte = view
            .process(checkpoint::AFTER_READ_ALL, role::MAIN)
            .map_or(0, |p| p.totals.pte_bytes);
        evidence.push_str(&format!(
            ". {} of it ({:.0}%) is mapped by PMDs (FilePmdMapped): read-ahead filled the page cache with \
             PMD-sized folios, each mapped by one entry, so the process's page tables are only {} (VmPTE)",
            human_bytes(pmd),
            pmd as f64 * 100.0 / rss.max(1) as f64,
            human_bytes(pte)
        ));
    }
    if rss < size {
        evidence.push_str(&eviction_text(view));
    }
    // Reclaim unmaps and evicts pages: it can only make Rss fall short.
    unless_reclaim_explains(
        view,
        Finding::new(
            size > 0 && rss == size,
            evidence,
            format!(
                "{} of {} pages",
                pages(rss, view.page()),
                pages(size, view.page())
            ),
        ),
    )
}

fn just_written_cached(view: &Observed<'_>) -> Judged {
    let (Some(reread), Some(mapped)) = (
        view.note::<u64>(note::PAGES_REREAD_TO_WARM),
        view.note::<u64>(note::MAPPED_PAGES),
    ) else {
        return Err("the page-cache state after writing was not reported".into());
    };
    let why = if reread > 0 {
        eviction_text(view)
    } else {
        String::new()
    };
    let measured = written_dd_text(view).map_or(String::new(), |t| format!("; the writes: {t}"));
    unless_reclaim_explains(
        view,
        Finding::new(
            reread == 0,
            format!(
                "after writing ({}{measured}) and fsync, {} of the {mapped} pages of the mapping were in the page cache \
                 (mincore); {reread} had to be read back{why}",
                written_text(view),
                mapped.saturating_sub(reread)
            ),
            format!("{reread} of {mapped} pages missing"),
        ),
    )
}

fn warm_no_disk(view: &Observed<'_>) -> Judged {
    let (Some((mapped, cached)), Some(faults), Some(read)) =
        (cache_state(view), read_faults(view), read_bytes(view))
    else {
        return Err(
            "the page-cache state, the read phases or /proc/PID/io were not measured".into(),
        );
    };
    // Pages missing from the page cache can only bring a storage read, never
    // hide one: with none read the claim is confirmed whatever mincore saw.
    if cached < mapped && read > 0 {
        return Err(format!(
            "precondition not met: only {cached} of {mapped} pages were in the page cache before mapping, \
             and reading the mapping read {read} bytes from storage{}",
            eviction_text(view)
        ));
    }
    let mut evidence = format!(
        "{cached} of {mapped} pages were cached before mapping; reading them caused {read} bytes of storage \
         reads (read_bytes) and cost {} minor and {} major faults",
        faults.minor, faults.major
    );
    if faults.major > 0 && read == 0 {
        evidence.push_str(
            ": with no byte read from storage, those major faults waited for no disk; the kernel counts a \
             fault as major also when it was retried, e.g. after waiting for a folio that asynchronous \
             read-ahead (which only found the pages cached) held locked",
        );
    }
    if read > 0 {
        evidence.push_str(&format!(
            ": the kernel reads from storage only pages that are not (uptodate) in the page cache, so \
             {} pages left it between mincore and the read{}",
            pages(read, view.page()),
            eviction_text(view)
        ));
    }
    let measured = format!("read_bytes {read} B");
    match test_eviction(view) {
        Some(evicted) if read > 0 => Ok(Finding::disturbed(
            DisturbanceCause::TestEviction,
            format!("the test evicted {evicted} pages between mincore and the read"),
            format!("precondition not met: the experiment dropped {evicted} pages of its file from the page cache after mincore, as a test asked: {evidence}"),
            measured,
        )),
        _ => unless_reclaim_explains(view, Finding::new(read == 0, evidence, measured)),
    }
}

fn each_page_faults(view: &Observed<'_>) -> Judged {
    let (Some(faults), Some((mapped, _))) = (read_faults(view), cache_state(view)) else {
        return Err("the read phases were not measured".into());
    };
    let total = faults.minor + faults.major;
    let mut evidence = format!(
        "{total} faults ({} minor, {} major) for {mapped} pages: {:.1} pages per fault",
        faults.minor,
        faults.major,
        mapped as f64 / total.max(1) as f64
    );
    if total < mapped {
        evidence.push_str(&format!(
            ". The kernel maps more than the page asked for: {}{}",
            fault_around_reason(view),
            view.env
                .temp_dir_read_ahead_kb
                .map(|kb| format!("; read-ahead (read_ahead_kb {kb} here) fills the page cache ahead of the reader"))
                .unwrap_or_default()
        ));
    }
    let finding = Finding::new(
        total >= mapped,
        evidence,
        format!("{total} faults for {mapped} pages"),
    );
    Ok(expect_fault_around(view, finding))
}

fn cold_disk(view: &Observed<'_>) -> Judged {
    not_cold(view)?;
    let (Some((mapped, cached)), Some(faults), Some(read)) =
        (cache_state(view), read_faults(view), read_bytes(view))
    else {
        return Err("the read phases or /proc/PID/io were not measured".into());
    };
    let uncached = (mapped - cached) * view.page();
    let holds = read >= uncached && faults.major >= 1;
    let mut evidence = format!(
        "{cached} of {mapped} pages were cached before mapping; reading the mapping made the kernel read {} \
         from storage for the process (read_bytes; {} were not cached) while it took {} major and {} minor \
         faults",
        human_bytes(read),
        human_bytes(uncached),
        faults.major,
        faults.minor
    );
    if faults.major * 4 < mapped && read >= uncached {
        evidence.push_str(
            ". Few of the faults are major because read-ahead does the disk work: a fault that finds its \
             page already read ahead is minor, and only the faults that had to wait for the disk (or were \
             retried) count as major",
        );
    }
    Ok(Finding::new(
        holds,
        evidence,
        format!(
            "read_bytes {}, {} major faults",
            human_bytes(read),
            faults.major
        ),
    ))
}

fn read_ahead(view: &Observed<'_>) -> Judged {
    not_cold(view)?;
    let (Some(read), Some(region)) = (
        view.read_bytes_between(
            checkpoint::AFTER_MMAP,
            checkpoint::AFTER_FIRST_READ,
            role::MAIN,
        ),
        view.region(checkpoint::AFTER_FIRST_READ, role::MAIN, region::DATA),
    ) else {
        return Err("after-first-read or /proc/PID/io was not measured".into());
    };
    let rss = region.figures.rss_bytes;
    Ok(Finding::new(
        read > rss,
        format!(
            "reading one int made the kernel read {} of the file from storage (read_bytes) and map {} \
             of it into the process (the mapping's Rss){}",
            human_bytes(read),
            human_bytes(rss),
            view.env
                .temp_dir_read_ahead_kb
                .map(|kb| format!("; read_ahead_kb is {kb} on this device"))
                .unwrap_or_default()
        ),
        format!("read {} , mapped {}", human_bytes(read), human_bytes(rss)),
    ))
}

fn random_every_page(view: &Observed<'_>) -> Judged {
    not_cold(view)?;
    let (Some(faults), Some((mapped, cached))) = (read_faults(view), cache_state(view)) else {
        return Err("the read phases were not measured".into());
    };
    let uncached = mapped - cached;
    let holds = faults.major >= uncached;
    let mut evidence = format!(
        "{} major faults for {uncached} uncached pages ({mapped} mapped)",
        faults.major
    );
    if !holds {
        evidence.push_str(
            ". MADV_RANDOM turns off read-ahead, yet some faults brought in more than one page: the page \
             cache read the file in large folios, and a fault maps the whole folio it hits",
        );
    }
    Ok(Finding::new(
        holds,
        evidence,
        format!("{} major faults for {uncached} pages", faults.major),
    ))
}

#[cfg(test)]
mod tests {
    use super::super::MmapFile;
    use super::*;
    use crate::experiment::testkit::{
        assert_verdict, env, figures, process, record, variant, ProcessExt, PAGE,
    };
    use crate::experiment::Experiment;
    use crate::model::{ClaimRecord, ExperimentRecord};
    use experiments::catalog::mmap_file::INFO;
    use Verdict::{Confirmed, Inconclusive, Refuted};

    const PAGES: u64 = 256;
    const SIZE: u64 = PAGES * PAGE;
    const VSZ: u64 = 1 << 20;
    const MAIN: &str = role::MAIN;
    const REGION: &str = region::DATA;

    /// The figures of one synthetic run, as the seed describes it by default.
    struct Run {
        name: &'static str,
        cached_pages: u64,
        vsz_growth: u64,
        rss_after_mmap: u64,
        rss_first: u64,
        rss_all: u64,
        faults_first: (u64, u64),
        faults_rest: (u64, u64),
        read_first: u64,
        read_rest: u64,
        reread: u64,
    }

    fn seed(name: &'static str) -> Run {
        let cold = name != variant::WARM && name != variant::WARM_DD;
        Run {
            name,
            cached_pages: if cold { 0 } else { PAGES },
            vsz_growth: SIZE,
            rss_after_mmap: 0,
            rss_first: PAGE,
            rss_all: SIZE,
            faults_first: if cold { (0, 1) } else { (1, 0) },
            // Read-ahead reads the cold file under minor faults; without it
            // (MADV_RANDOM) every page is a major fault.
            faults_rest: if name == variant::COLD_RANDOM {
                (0, PAGES - 1)
            } else {
                (PAGES - 1, 0)
            },
            read_first: if cold { 3 * PAGE } else { 0 },
            read_rest: if cold { SIZE - 3 * PAGE } else { 0 },
            reread: 0,
        }
    }

    impl Run {
        fn judge(&self) -> Vec<ClaimRecord> {
            MmapFile.judge(&self.record(), &env())
        }

        fn record(&self) -> ExperimentRecord {
            let main = |rss: u64| process(MAIN).region(REGION, figures(SIZE, rss));
            let v = variant(
                self.name,
                &[
                    (note::MAPPED_PAGES.key(), PAGES.to_string()),
                    (
                        note::PAGE_CACHE_PAGES_BEFORE_MMAP.key(),
                        self.cached_pages.to_string(),
                    ),
                    (note::WRITE_CHUNK_BYTES.key(), "1048576".into()),
                    (note::PAGES_REREAD_TO_WARM.key(), self.reread.to_string()),
                ],
                vec![
                    (
                        checkpoint::BEFORE_MMAP,
                        vec![process(MAIN)
                            .totals(|t| t.vm_size_bytes = VSZ)
                            .read_bytes(0)],
                    ),
                    (
                        checkpoint::AFTER_MMAP,
                        vec![main(self.rss_after_mmap)
                            .totals(|t| t.vm_size_bytes = VSZ + self.vsz_growth)
                            .read_bytes(0)],
                    ),
                    (
                        checkpoint::AFTER_FIRST_READ,
                        vec![main(self.rss_first)
                            .faults(self.faults_first.0, self.faults_first.1)
                            .read_bytes(self.read_first)],
                    ),
                    (
                        checkpoint::AFTER_READ_ALL,
                        vec![main(self.rss_all)
                            .faults(self.faults_rest.0, self.faults_rest.1)
                            .read_bytes(self.read_first + self.read_rest)
                            .other(REGION, "FilePmdMapped", SIZE / 2)],
                    ),
                ],
            );
            record(INFO.name, vec![v])
        }

        fn verdict(&self, claim: Claim, want: Verdict) {
            assert_verdict(&self.judge(), claim.id, Some(self.name), want);
        }
    }

    #[test]
    fn a_run_as_the_seed_describes_confirms_every_claim() {
        for name in [
            variant::WARM,
            variant::WARM_DD,
            variant::COLD,
            variant::COLD_RANDOM,
        ] {
            let claims = seed(name).judge();
            for c in &claims {
                assert_eq!(c.verdict, Confirmed, "{name}/{}: {}", c.id, c.evidence);
            }
        }
    }

    #[test]
    fn the_write_phase_shows_in_the_page_cache_evidence_as_dd_reports_it() {
        let mut record = seed(variant::WARM_DD).record();
        let v = &mut record.variants[0];
        let wrote = |wchar: u64| {
            let mut p = process(MAIN);
            p.io = Some(crate::model::IoCounters {
                wchar_bytes: wchar,
                ..Default::default()
            });
            p
        };
        let mut written = variant(
            variant::WARM_DD,
            &[],
            vec![
                (checkpoint::BEFORE_WRITE, vec![wrote(100)]),
                (checkpoint::AFTER_WRITE, vec![wrote(100 + 4_000_000)]),
            ],
        )
        .checkpoints;
        written[1].phase_millis = 2000;
        v.checkpoints.splice(0..0, written);
        let claims = MmapFile.judge(&record, &env());
        let cached = claims
            .iter()
            .find(|c| c.id == JUST_WRITTEN_CACHED.id)
            .expect("judged");
        assert_eq!(cached.verdict, Confirmed, "{}", cached.evidence);
        assert!(
            cached
                .evidence
                .contains("4,000,000 bytes through write(2) (wchar), 2.0 s, 2 MB/s"),
            "{}",
            cached.evidence
        );
        // A variant that reused a kept file wrote nothing: no write figures.
        let reused = seed(variant::WARM).judge();
        let cached = reused.iter().find(|c| c.id == JUST_WRITTEN_CACHED.id);
        assert!(!cached.expect("judged").evidence.contains("write(2)"));
    }

    #[test]
    fn vsz_growth_is_judged_within_two_pages() {
        let mut run = seed(variant::WARM);
        run.vsz_growth = SIZE + 2 * PAGE;
        run.verdict(VSZ_GROWS, Confirmed);
        run.vsz_growth = SIZE + 3 * PAGE;
        run.verdict(VSZ_GROWS, Refuted);
        run.vsz_growth = 0;
        run.verdict(VSZ_GROWS, Refuted);
    }

    #[test]
    fn one_resident_page_after_mmap_refutes_no_rss() {
        let mut run = seed(variant::COLD);
        run.rss_after_mmap = PAGE;
        run.verdict(NO_RSS, Refuted);
    }

    #[test]
    fn the_first_read_must_map_exactly_one_page() {
        let mut run = seed(variant::WARM);
        run.rss_first = 2 * PAGE;
        run.verdict(FIRST_READ, Refuted);
        run.rss_first = 0;
        run.verdict(FIRST_READ, Refuted);
        run.rss_first = 16 * PAGE;
        let claims = run.judge();
        let c = claims.iter().find(|c| c.id == FIRST_READ.id).unwrap();
        assert_eq!(
            crate::outcome::Outcome::of_claim(c),
            crate::outcome::Outcome::XFail,
            "{c:?}"
        );
        assert!(c.evidence.contains("Fault-around"), "{}", c.evidence);
    }

    #[test]
    fn reading_all_must_leave_every_page_resident() {
        let mut run = seed(variant::WARM);
        run.rss_all = SIZE - PAGE;
        run.verdict(READ_ALL, Refuted);
    }

    #[test]
    fn a_cached_file_is_judged_on_storage_reads_not_major_faults() {
        let mut run = seed(variant::WARM);
        run.faults_rest = (10, 3);
        run.verdict(WARM_NO_DISK, Confirmed);
        run.read_rest = PAGE;
        run.verdict(WARM_NO_DISK, Refuted);
        let c = run
            .judge()
            .into_iter()
            .find(|c| c.id == WARM_NO_DISK.id)
            .unwrap();
        assert!(c.evidence.contains("1 pages left it"), "{}", c.evidence);
        // Proactive reclaim can only evict: with it running, a storage read
        // (which eviction explains) is inconclusive, and none read confirms.
        let mut env = env();
        env.damon_pageout = vec!["kdamond 0: pageout of idle paddr memory".into()];
        let judged = |run: &Run, id: &str| {
            MmapFile
                .judge(&run.record(), &env)
                .into_iter()
                .find(|c| c.id == id)
                .unwrap()
        };
        let c = judged(&run, WARM_NO_DISK.id);
        assert_eq!(c.verdict, Inconclusive);
        assert!(c.evidence.contains("kdamond 0"), "{}", c.evidence);
        run.read_rest = 0;
        assert_eq!(judged(&run, WARM_NO_DISK.id).verdict, Confirmed);
        assert_eq!(judged(&run, JUST_WRITTEN_CACHED.id).verdict, Confirmed);
        run.reread = 1;
        let c = judged(&run, JUST_WRITTEN_CACHED.id);
        assert_eq!(c.verdict, Inconclusive);
        assert!(c.evidence.contains("kdamond 0"), "{}", c.evidence);
        run.reread = 0;
        run.read_rest = PAGE;
        run.cached_pages = PAGES - 1;
        run.verdict(WARM_NO_DISK, Inconclusive);
        // See: issue 22. A page missing before mmap can only cause a read:
        // with none read the claim is confirmed.
        run.read_rest = 0;
        run.verdict(WARM_NO_DISK, Confirmed);
    }

    #[test]
    fn pages_missing_after_the_read_under_proactive_reclaim_are_inconclusive() {
        let mut run = seed(variant::WARM);
        run.rss_all = SIZE - 2 * PAGE;
        run.verdict(READ_ALL, Refuted);
        let mut env = env();
        env.damon_pageout = vec!["kdamond 0: pageout of idle paddr memory".into()];
        let judged = |run: &Run| {
            MmapFile
                .judge(&run.record(), &env)
                .into_iter()
                .find(|c| c.id == READ_ALL.id)
                .unwrap()
        };
        let c = judged(&run);
        assert_eq!(c.verdict, Inconclusive, "{}", c.evidence);
        assert!(c.evidence.contains("kdamond 0"), "{}", c.evidence);
        run.rss_all = SIZE;
        assert_eq!(judged(&run).verdict, Confirmed);
    }

    #[test]
    fn one_page_missing_after_writing_refutes_the_page_cache_claim() {
        let mut run = seed(variant::WARM_DD);
        run.reread = 1;
        run.verdict(JUST_WRITTEN_CACHED, Refuted);
    }

    #[test]
    fn fewer_faults_than_pages_refute_one_fault_per_page() {
        let mut run = seed(variant::WARM);
        run.faults_rest = (PAGES - 2, 0);
        run.verdict(EACH_PAGE_FAULTS, Refuted);
        run.faults_rest = (PAGES - 2, 1);
        run.verdict(EACH_PAGE_FAULTS, Confirmed);
    }

    #[test]
    fn a_cold_read_needs_the_uncached_bytes_from_storage_and_a_major_fault() {
        let mut run = seed(variant::COLD);
        run.read_rest -= 1;
        run.verdict(COLD_DISK, Refuted);
        let mut run = seed(variant::COLD);
        run.faults_first = (1, 0);
        run.verdict(COLD_DISK, Refuted);
        let mut run = seed(variant::COLD);
        run.cached_pages = PAGES / 100 + 1;
        run.verdict(COLD_DISK, Inconclusive);
        run.cached_pages = PAGES / 100;
        run.read_rest -= run.cached_pages * PAGE;
        run.verdict(COLD_DISK, Confirmed);
    }

    /// Pages the kernel kept although asked to drop them: its doing on a
    /// disk file system (a failure under --strict), the environment's on tmpfs.
    #[test]
    fn a_file_left_cached_is_the_kernels_precondition_on_disk_and_the_environments_on_tmpfs() {
        use crate::model::Precondition;
        let mut run = seed(variant::COLD);
        run.cached_pages = PAGES / 2;
        for (fs, kind) in [
            ("ext4", Precondition::Kernel),
            ("tmpfs", Precondition::Environment),
        ] {
            let mut env = env();
            env.temp_dir_fs = fs.into();
            let claims = MmapFile.judge(&run.record(), &env);
            let c = crate::experiment::testkit::find(&claims, COLD_DISK.id, Some(variant::COLD));
            assert_eq!(c.verdict, Inconclusive, "{}", c.evidence);
            assert_eq!(c.precondition, Some(kind), "{fs}: {}", c.evidence);
        }
    }

    #[test]
    fn read_ahead_means_reading_more_than_was_mapped() {
        let mut run = seed(variant::COLD);
        run.read_first = PAGE + 1;
        run.verdict(READ_AHEAD, Confirmed);
        run.read_first = PAGE;
        run.verdict(READ_AHEAD, Refuted);
    }

    #[test]
    fn random_reads_need_a_major_fault_per_uncached_page() {
        let mut run = seed(variant::COLD_RANDOM);
        run.verdict(RANDOM_EVERY_PAGE, Confirmed);
        run.faults_rest = (1, PAGES - 2);
        run.verdict(RANDOM_EVERY_PAGE, Refuted);
    }

    #[test]
    fn the_summary_shows_what_one_read_mapped_and_the_pmd_mapped_share() {
        let mut run = seed(variant::COLD);
        run.rss_first = 16 * PAGE;
        let tables = MmapFile.summary(&run.record(), &env());
        let row = &tables[0].rows[0];
        assert_eq!(row[0], variant::COLD);
        assert_eq!(row[1], "1.0 MiB");
        // No write phase in the record: the variant reused a kept file.
        assert_eq!(row[2], "-");
        assert_eq!(row[4], "16");
        assert_eq!(row[6], human_bytes(SIZE));
        assert_eq!(row[7], human_bytes(SIZE / 2));
    }

    #[test]
    fn every_claim_a_variant_judges_is_listed() {
        for name in [
            variant::WARM,
            variant::WARM_DD,
            variant::COLD,
            variant::COLD_RANDOM,
        ] {
            for (claim, _) in cases(name) {
                assert!(CLAIMS.iter().any(|c| c.id == claim.id), "{}", claim.id);
            }
        }
    }

    #[test]
    fn unmeasured_claims_are_inconclusive() {
        assert_eq!(
            VSZ_GROWS.unmeasured(None, "x").verdict,
            Verdict::Inconclusive
        );
    }
}
