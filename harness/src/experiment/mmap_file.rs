//! mmap-file: "Playing with Virtual Memory" (Kristina Chodorow, seed 001) maps a
//! 1 GB file of random bytes and watches pmap: the address space jumps by the
//! file's size while the resident set stays tiny, then grows to the file's size
//! as the program reads it all; a footnote explains minor and major faults and
//! the kernel reading ahead of the program.

use std::collections::BTreeMap;

use experiments::ExperimentInfo;
use serde_json::json;

use super::{
    faults_over, human_bytes, not_run_reason, pages, process_at, read_bytes_between, region_at,
    verdict_of, Claim, Experiment, Explanation, Plan, PlanContext, PlannedVariant,
};
use crate::model::{
    ClaimRecord, ExperimentRecord, Faults, MappingRecord, SummaryTable, VariantRecord, Verdict,
};
use crate::system::Environment;

/// The experiment.
pub struct MmapFile;

const SOURCE: &str = "001_3c62cec1a17aa088.txt";
const MAIN: &str = "main";
const REGION: &str = "data";

/// The seed's sizes: `dd bs=1024 count=1000000` wrote 1,024,000,000 bytes and the
/// program mapped the first 1,000,000,000.
const SEED_FILE_BYTES: u64 = 1_024_000_000;
const QUICK_FILE_BYTES: u64 = 64 << 20;
/// With read-ahead off every page is a trip to the disk, so `cold-random` uses a
/// quarter of the file size.
const RANDOM_SHARE: u64 = 4;
/// Size of each write(2) that creates the file in the warm and cold variants:
/// the page cache keeps such a file in large folios.
const WRITE_CHUNK_BYTES: u64 = 1 << 20;
/// The seed's own method, `dd bs=1024`: 1 KiB per write(2) (variant `warm-dd`).
const SEED_WRITE_CHUNK_BYTES: u64 = 1024;
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
        page was read",
};
const WARM_NO_DISK: Claim = Claim {
    id: "cached-file-reads-need-no-disk",
    source: SOURCE,
    statement: "A file still in the page cache (just written) is read without going to the disk: the process only 'discovers' pages already in RAM, with minor faults.",
    criterion: "read_bytes of /proc/PID/io over the two read phases (after-mmap to after-read-all) is 0: the \
        process caused no storage read; exact. Precondition: mincore showed every page of the mapping cached \
        before mmap, and no proactive reclaim (a DAMON pageout scheme) runs on the machine, since it evicts \
        idle page-cache pages at any time (the seed: 'until something else kicks it out'). Major faults are \
        reported but not judged, since the kernel also counts a retried fault as major",
};
const JUST_WRITTEN_CACHED: Claim = Claim {
    id: "just-written-file-is-in-the-page-cache",
    source: SOURCE,
    statement: "A file just written (with dd in the seed) is probably all in memory before it is mapped: the page cache still holds it.",
    criterion: "after writing and fsync, mincore shows every page of the mapping in the page cache before any \
        page is read back (the experiment's pages_reread_to_warm is 0); exact. Precondition: no proactive \
        reclaim (a DAMON pageout scheme) runs on the machine",
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
static CLAIMS: [Claim; 10] = [
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

/// A claim with the judge bound to it.
type Case = (Claim, fn(&Judge<'_>) -> ClaimRecord);

/// The claims each variant judges, with their judges.
fn cases(variant: &str) -> &'static [Case] {
    const COMMON: [Case; 4] = [
        (VSZ_GROWS, |j| j.vsz_grows()),
        (NO_RSS, |j| j.no_rss()),
        (FIRST_READ, |j| j.first_read()),
        (READ_ALL, |j| j.read_all()),
    ];
    static WARM: [Case; 7] = [
        COMMON[0],
        COMMON[1],
        COMMON[2],
        COMMON[3],
        (JUST_WRITTEN_CACHED, |j| j.just_written_cached()),
        (WARM_NO_DISK, |j| j.warm_no_disk()),
        (EACH_PAGE_FAULTS, |j| j.each_page_faults()),
    ];
    static COLD: [Case; 7] = [
        COMMON[0],
        COMMON[1],
        COMMON[2],
        COMMON[3],
        (COLD_DISK, |j| j.cold_disk()),
        (READ_AHEAD, |j| j.read_ahead()),
        (EACH_PAGE_FAULTS, |j| j.each_page_faults()),
    ];
    static RANDOM: [Case; 7] = [
        COMMON[0],
        COMMON[1],
        COMMON[2],
        COMMON[3],
        (COLD_DISK, |j| j.cold_disk()),
        (RANDOM_EVERY_PAGE, |j| j.random_every_page()),
        (EACH_PAGE_FAULTS, |j| j.each_page_faults()),
    ];
    match variant {
        "cold" => &COLD,
        "cold-random" => &RANDOM,
        _ => &WARM,
    }
}

static EXPLANATION: Explanation = Explanation {
    seed_claims: "In \"Playing with Virtual Memory\", Kristina Chodorow writes a 1 GB file of random bytes with \
        dd (1 KB per write), maps it with mmap and looks at the process with pmap. Right after mmap the \
        process's virtual size has grown by about a gigabyte, yet its resident set has not: pmap -x shows 4 KB \
        of the file in RAM after reading one int. After a loop reads an int every 4 bytes of the whole mapping, \
        the file's RSS is the full mapping. A footnote explains that the kernel reads more of the file than the \
        program asked for but tells the process about one page only, that touching a page already in RAM is a \
        minor fault and one that needs the disk a major fault, and that a file just written is still in the \
        page cache, so reading it costs only minor faults.",
    steps: &[
        ("before-mmap", "The file is written, flushed to disk with fsync (1 MiB per write; 1 KiB per write in warm-dd, as the seed's dd did) and, for the cold variants, dropped from the page cache. Nothing of it is mapped yet."),
        ("after-mmap", "mmap returned an address: the file now occupies address space (VmSize jumped) but no page of it has been touched, so the mapping's Rss is 0."),
        ("after-first-read", "The program read one int at offset 0. That page faulted in, and the kernel may have mapped its neighbours as well (fault-around, or the whole large folio the page is in)."),
        ("after-read-all", "The program read one int every 4 bytes of the whole mapping. Every page has been touched, so the whole mapping is resident."),
        ("warm-dd/before-mmap", "The file was written 1 KiB per write, as the seed's dd bs=1024 did, and flushed with fsync: the page cache holds it in small folios."),
        ("cold/before-mmap", "The file was written, flushed with fsync and dropped from the page cache with posix_fadvise(DONTNEED): reading it needs the disk."),
        ("cold-random/after-mmap", "mmap returned and the mapping was advised MADV_RANDOM: the kernel will read no page ahead of the one that faults."),
        ("cold/after-first-read", "The program read one int at offset 0 of the uncached file: the fault waited for the disk, and read-ahead read far more of the file than was mapped (read_bytes of /proc/PID/io)."),
        ("cold/after-read-all", "The whole mapping was read: read-ahead brought the file in under mostly minor faults, in large folios, many of them mapped by one PMD each (FilePmdMapped)."),
        ("cold-random/after-read-all", "The whole mapping was read without read-ahead: every page was its own trip to the disk, a major fault each."),
    ],
    expectations: "VmSize grows by exactly the mapping's size and the mapping's Rss by nothing, as in the seed. \
        After one read, a current kernel shows more than the seed's 4 KiB: fault-around (since Linux 3.15) maps \
        up to fault_around_bytes (64 KiB, 16 pages) of neighbouring pages already in the page cache, and since \
        file systems such as ext4 and XFS keep files in large folios, one fault can map a whole folio. How the \
        file was written decides the folio size: written 1 MiB at a time the first read maps 256 pages, written \
        1 KiB at a time as the seed's dd did (variant warm-dd), 16. For the same reason reading the whole file \
        costs far fewer faults than it has pages, and after a cold read most of the file can be mapped by PMDs \
        (smaps FilePmdMapped), which also shrinks the page tables. A major fault is one the kernel counted as \
        having waited for I/O, or as retried (it dropped the lock to wait for a page another read held): \
        read-ahead brings most of a cold file in while the process takes minor faults, so the disk work shows in \
        /proc/PID/io read_bytes, not in the fault counts. With MADV_RANDOM read-ahead is off and each page needs \
        its own trip to the disk, a major fault each. Where proactive reclaim runs (a DAMON pageout scheme, \
        recorded in the environment), pages can leave the page cache during a run; the evidence says so where \
        that explains a refutation.",
    questions: &[
        "Why does VmSize grow by the whole mapping while the mapping's Rss stays 0?",
        "After reading one int, how many pages of the file are resident, and where do the extra ones come from?",
        "Why does the first read map 256 pages of a file written 1 MiB at a time but 16 of one written 1 KiB at a time?",
        "Why does reading the whole warm file cost far fewer faults than it has pages?",
        "Reading the cold file read all of it from disk (read_bytes), yet counted only a few major faults: who did the I/O?",
        "Why is the file's Pss equal to its Rss here, and when would it not be?",
    ],
    answers: &[],
};

/// Sizes of one variant.
struct Sizes {
    file_bytes: u64,
    map_bytes: u64,
}

impl Sizes {
    /// The seed's ratio of mapped to written bytes (1000/1024), on whole 4-byte ints.
    fn for_file(file_bytes: u64) -> Sizes {
        Sizes {
            file_bytes,
            map_bytes: (file_bytes / 1024 * 1000).max(4) / 4 * 4,
        }
    }
}

impl Experiment for MmapFile {
    fn info(&self) -> &'static ExperimentInfo {
        &experiments::catalog::mmap_file::INFO
    }

    fn plan(&self, ctx: &PlanContext<'_>) -> Result<Plan, String> {
        let file_bytes = ctx.size_bytes.unwrap_or(if ctx.quick {
            QUICK_FILE_BYTES
        } else {
            SEED_FILE_BYTES
        });
        if file_bytes < 1 << 16 {
            return Err(format!("a file of {file_bytes} bytes is too small to show anything; use --size 1MiB or more"));
        }
        let main = Sizes::for_file(file_bytes);
        let random = Sizes::for_file((file_bytes / RANDOM_SHARE).max(1 << 16));
        check_room(ctx.env, main.file_bytes)?;

        let variant = |name: &str, sizes: &Sizes, chunk: u64| PlannedVariant {
            name: name.to_string(),
            args: vec![
                "--variant".into(),
                // warm-dd is the warm variant with the seed's way of writing the file.
                name.trim_end_matches("-dd").into(),
                "--file-bytes".into(),
                sizes.file_bytes.to_string().into(),
                "--map-bytes".into(),
                sizes.map_bytes.to_string().into(),
                "--write-chunk-bytes".into(),
                chunk.to_string().into(),
            ],
        };
        let mut params = BTreeMap::new();
        params.insert("file_bytes".into(), json!(main.file_bytes));
        params.insert("map_bytes".into(), json!(main.map_bytes));
        params.insert("cold_random_file_bytes".into(), json!(random.file_bytes));
        params.insert("cold_random_map_bytes".into(), json!(random.map_bytes));
        params.insert("write_chunk_bytes".into(), json!(WRITE_CHUNK_BYTES));
        params.insert(
            "warm_dd_write_chunk_bytes".into(),
            json!(SEED_WRITE_CHUNK_BYTES),
        );
        Ok(Plan {
            params,
            variants: vec![
                variant("warm", &main, WRITE_CHUNK_BYTES),
                variant("warm-dd", &main, SEED_WRITE_CHUNK_BYTES),
                variant("cold", &main, WRITE_CHUNK_BYTES),
                variant("cold-random", &random, WRITE_CHUNK_BYTES),
            ],
        })
    }

    fn explanation(&self) -> &'static Explanation {
        &EXPLANATION
    }

    fn claims(&self) -> &'static [Claim] {
        &CLAIMS
    }

    /// The mechanisms behind the figures, one row per variant: how the file was
    /// written, what one read mapped, what reading all of it cost in faults and
    /// storage reads, and how much ended up mapped by PMDs.
    fn summary(&self, record: &ExperimentRecord, env: &Environment) -> Vec<SummaryTable> {
        let rows: Vec<Vec<String>> = record
            .variants
            .iter()
            .filter(|v| not_run_reason(v).is_none())
            .map(|variant| {
                let j = Judge { variant, env };
                let first = region_at(variant, "after-first-read", MAIN, REGION)
                    .map_or("-".into(), |r| {
                        pages(r.figures.rss_bytes, j.page()).to_string()
                    });
                let faults = j
                    .read_faults()
                    .map_or("-".into(), |f| format!("{} / {}", f.minor, f.major));
                let read = j.read_bytes().map_or("-".into(), human_bytes);
                let pte = process_at(variant, "after-read-all", MAIN)
                    .map_or("-".into(), |p| human_bytes(p.totals.pte_bytes));
                vec![
                    variant.name.clone(),
                    j.note_number("write_chunk_bytes")
                        .map_or("-".into(), human_bytes),
                    j.note_number("page_cache_pages_before_mmap")
                        .map_or("-".into(), |p| p.to_string()),
                    first,
                    faults,
                    read,
                    human_bytes(j.pmd_mapped("after-read-all")),
                    pte,
                ]
            })
            .collect();
        if rows.is_empty() {
            return Vec::new();
        }
        vec![SummaryTable {
            title: "what one read mapped, what reading all of it cost, and how it ended up mapped"
                .into(),
            headers: [
                "variant",
                "bytes per write",
                "pages cached at mmap",
                "pages resident after one read",
                "faults reading (minor / major)",
                "read from storage (read_bytes)",
                "FilePmdMapped after reading",
                "VmPTE after reading",
            ]
            .map(String::from)
            .to_vec(),
            rows,
        }]
    }

    fn judge(&self, record: &ExperimentRecord, env: &Environment) -> Vec<ClaimRecord> {
        let mut claims = Vec::new();
        for variant in &record.variants {
            let name = Some(variant.name.as_str());
            let cases = cases(&variant.name);
            if let Some(why) = not_run_reason(variant) {
                claims.extend(cases.iter().map(|(c, _)| c.unmeasured(name, why.clone())));
                continue;
            }
            let judge = Judge { variant, env };
            claims.extend(cases.iter().map(|(_, judge_fn)| judge_fn(&judge)));
        }
        claims
    }
}

/// The file must fit in the temp folder, and (for the warm variant to be warm) in
/// the cgroup's memory limit, since page cache is charged to the cgroup.
fn check_room(env: &Environment, file_bytes: u64) -> Result<(), String> {
    let needed = file_bytes + file_bytes / 20;
    if env.temp_dir_free_bytes < needed {
        return Err(format!(
            "needs {} free in {} for the file but only {} is free; pass --dir elsewhere, --quick or a smaller --size",
            human_bytes(needed),
            env.temp_dir.display(),
            human_bytes(env.temp_dir_free_bytes)
        ));
    }
    if let Some(limit) = env.memory_room_bytes() {
        if limit < needed + (64 << 20) {
            return Err(format!(
                "the memory free for this run ({}, MemAvailable within the cgroup limit) cannot hold the file in the page cache; use --quick or a smaller --size",
                human_bytes(limit)
            ));
        }
    }
    Ok(())
}

/// Judges one variant that ran to its end.
struct Judge<'a> {
    variant: &'a VariantRecord,
    env: &'a Environment,
}

impl Judge<'_> {
    fn name(&self) -> Option<&str> {
        Some(self.variant.name.as_str())
    }

    fn page(&self) -> u64 {
        self.env.page_size.max(1)
    }

    fn note_number(&self, key: &str) -> Option<u64> {
        self.variant.notes.get(key)?.parse().ok()
    }

    /// The mapping of the file at a checkpoint, as smaps lists it (for the
    /// fields the region does not sum, such as FilePmdMapped).
    fn file_mapping(&self, label: &str) -> Option<&MappingRecord> {
        process_at(self.variant, label, MAIN)?
            .mappings
            .iter()
            .find(|m| m.name.ends_with("/data"))
    }

    fn pmd_mapped(&self, label: &str) -> u64 {
        self.file_mapping(label)
            .and_then(|m| m.other.get("FilePmdMapped").copied())
            .unwrap_or(0)
    }

    /// How the file was written, for evidence text.
    fn written_text(&self) -> String {
        match self.note_number("write_chunk_bytes") {
            Some(SEED_WRITE_CHUNK_BYTES) => "written 1 KiB per write, as the seed's dd did".into(),
            Some(bytes) => format!("written {} per write", human_bytes(bytes)),
            None => "written in writes of unrecorded size".into(),
        }
    }

    /// When pages of the file went missing: the machine's proactive reclaim, if
    /// any runs, is a known cause outside the experiment.
    fn eviction_text(&self) -> String {
        if self.env.damon_pageout.is_empty() {
            String::new()
        } else {
            format!(
                ". Proactive reclaim runs on this machine ({}): it pages out memory it finds idle, page-cache \
                 pages of this file included, so pages can leave the page cache while the file is read",
                self.env.damon_pageout.join("; ")
            )
        }
    }

    /// Inconclusive when proactive reclaim runs: the claims about the page cache
    /// keeping the file need nothing else to evict it meanwhile.
    fn reclaim_running(&self, claim: Claim) -> Option<ClaimRecord> {
        (!self.env.damon_pageout.is_empty()).then(|| {
            claim.unmeasured(
                self.name(),
                format!(
                    "precondition not met: proactive reclaim runs on this machine ({}); it pages out memory it \
                     finds idle, page-cache pages of this file included, at any moment, so whether the page \
                     cache keeps the file is not the kernel's page cache alone to decide",
                    self.env.damon_pageout.join("; ")
                ),
            )
        })
    }

    /// `fault_around_bytes` for evidence text, saying where the figure comes from.
    fn fault_around_text(&self) -> String {
        match self.env.fault_around_bytes {
            Some(bytes) => human_bytes(bytes),
            None => format!(
                "{}, the kernel default; debugfs is not readable here",
                human_bytes(self.env.fault_around_or_default())
            ),
        }
    }

    /// Why a fault maps more than one page on current kernels.
    fn fault_around_reason(&self) -> String {
        format!(
            "fault-around (Linux 3.15 and later) maps up to fault_around_bytes ({}) of neighbouring pages already \
             in the page cache with the one that faulted, and a large page-cache folio is mapped whole",
            self.fault_around_text()
        )
    }

    fn vsz_grows(&self) -> ClaimRecord {
        let (Some(before), Some(after), Some(region)) = (
            process_at(self.variant, "before-mmap", MAIN),
            process_at(self.variant, "after-mmap", MAIN),
            region_at(self.variant, "after-mmap", MAIN, REGION),
        ) else {
            return VSZ_GROWS.unmeasured(self.name(), "before-mmap or after-mmap was not measured");
        };
        let delta = after.totals.vm_size_bytes as i64 - before.totals.vm_size_bytes as i64;
        let expected = region.figures.size_bytes as i64;
        let holds = expected > 0 && (delta - expected).abs() <= 2 * self.page() as i64;
        VSZ_GROWS
            .judged(
                self.name(),
                verdict_of(holds),
                format!(
                    "VmSize grew by {} ({delta} bytes); the mapping's Size is {expected} bytes",
                    human_bytes(delta.unsigned_abs()),
                ),
            )
            .with_measured(format!("VmSize +{delta} B for a {expected} B mapping"))
    }

    fn no_rss(&self) -> ClaimRecord {
        let (Some(before), Some(after), Some(region)) = (
            process_at(self.variant, "before-mmap", MAIN),
            process_at(self.variant, "after-mmap", MAIN),
            region_at(self.variant, "after-mmap", MAIN, REGION),
        ) else {
            return NO_RSS.unmeasured(self.name(), "before-mmap or after-mmap was not measured");
        };
        let rss = region.figures.rss_bytes;
        let vm_rss = after.totals.rss_bytes as i64 - before.totals.rss_bytes as i64;
        NO_RSS
            .judged(
                self.name(),
                verdict_of(rss == 0),
                format!(
                    "the mapping's Rss after mmap is {rss} bytes; VmRSS of the whole process changed by {vm_rss} \
                     bytes meanwhile (for information: it includes the program's own pages)"
                ),
            )
            .with_measured(format!("mapping Rss {rss} B"))
    }

    fn first_read(&self) -> ClaimRecord {
        let Some(region) = region_at(self.variant, "after-first-read", MAIN, REGION) else {
            return FIRST_READ.unmeasured(self.name(), "after-first-read was not measured");
        };
        let rss = region.figures.rss_bytes;
        let page = self.page();
        let resident = pages(rss, page);
        let fault_around = self.env.fault_around_or_default();
        let mut evidence = format!(
            "{resident} pages ({}) of the file became resident after reading one int; the seed saw 1 page \
             (4 KB). The file was {}",
            human_bytes(rss),
            self.written_text()
        );
        if rss > fault_around {
            evidence.push_str(&format!(
                ". That is more than fault-around alone maps ({}): the page cache holds the file in large \
                 folios and the fault mapped the whole folio it hit{}",
                self.fault_around_text(),
                match self.pmd_mapped("after-first-read") {
                    0 => String::new(),
                    pmd => format!(" ({} of it by PMD, FilePmdMapped)", human_bytes(pmd)),
                }
            ));
        } else if rss > page {
            evidence.push_str(&format!(
                ". Fault-around maps up to fault_around_bytes ({}) of pages already in the page cache around \
                 the one that faulted",
                self.fault_around_text()
            ));
        } else if rss == page {
            evidence.push_str(". Exactly the page that was read, as in the seed: no neighbour was in the page cache to map");
        }
        let record = FIRST_READ
            .judged(self.name(), verdict_of(rss == page), evidence)
            .with_measured(format!("{resident} pages"));
        if self.variant.name == "cold-random" {
            record
        } else {
            record.expecting(Verdict::Refuted, self.fault_around_reason())
        }
    }

    fn read_all(&self) -> ClaimRecord {
        let Some(region) = region_at(self.variant, "after-read-all", MAIN, REGION) else {
            return READ_ALL.unmeasured(self.name(), "after-read-all was not measured");
        };
        let size = region.figures.size_bytes;
        let rss = region.figures.rss_bytes;
        let pmd = self.pmd_mapped("after-read-all");
        let mut evidence = format!(
            "the mapping's Rss is {} of its Size {} ({} of {} pages)",
            human_bytes(rss),
            human_bytes(size),
            pages(rss, self.page()),
            pages(size, self.page())
        );
        if pmd > 0 {
            let pte =
                process_at(self.variant, "after-read-all", MAIN).map_or(0, |p| p.totals.pte_bytes);
            evidence.push_str(&format!(
                ". {} of it ({:.0}%) is mapped by PMDs (FilePmdMapped): read-ahead filled the page cache with \
                 PMD-sized folios, each mapped by one entry, so the process's page tables are only {} (VmPTE)",
                human_bytes(pmd),
                pmd as f64 * 100.0 / rss.max(1) as f64,
                human_bytes(pte)
            ));
        }
        if rss < size {
            evidence.push_str(&self.eviction_text());
        }
        READ_ALL
            .judged(self.name(), verdict_of(size > 0 && rss == size), evidence)
            .with_measured(format!(
                "{} of {} pages",
                pages(rss, self.page()),
                pages(size, self.page())
            ))
    }

    /// Pages of the mapping, and how many of them were in the page cache when it
    /// was mapped (as the experiment measured with mincore).
    fn cache_state(&self) -> Option<(u64, u64)> {
        Some((
            self.note_number("mapped_pages")?,
            self.note_number("page_cache_pages_before_mmap")?,
        ))
    }

    fn read_faults(&self) -> Option<Faults> {
        faults_over(self.variant, &["after-first-read", "after-read-all"], MAIN)
    }

    fn read_bytes(&self) -> Option<u64> {
        read_bytes_between(self.variant, "after-mmap", "after-read-all", MAIN)
    }

    /// Why the cold claims cannot be judged, if the file was still cached.
    fn not_cold(&self, claim: Claim) -> Option<ClaimRecord> {
        let Some((mapped, cached)) = self.cache_state() else {
            return Some(claim.unmeasured(self.name(), "the page-cache state was not reported"));
        };
        let method = self
            .variant
            .notes
            .get("cache_drop_method")
            .map_or("unknown", String::as_str);
        (cached * 100 > mapped * COLD_CACHED_PER_100_PAGES).then(|| {
            claim.unmeasured(
                self.name(),
                format!("precondition not met: {cached} of {mapped} pages were still cached after {method}"),
            )
        })
    }

    fn just_written_cached(&self) -> ClaimRecord {
        if let Some(record) = self.reclaim_running(JUST_WRITTEN_CACHED) {
            return record;
        }
        let (Some(reread), Some(mapped)) = (
            self.note_number("pages_reread_to_warm"),
            self.note_number("mapped_pages"),
        ) else {
            return JUST_WRITTEN_CACHED.unmeasured(
                self.name(),
                "the page-cache state after writing was not reported",
            );
        };
        let why = if reread > 0 {
            self.eviction_text()
        } else {
            String::new()
        };
        JUST_WRITTEN_CACHED
            .judged(
                self.name(),
                verdict_of(reread == 0),
                format!(
                    "after writing ({}) and fsync, {} of the {mapped} pages of the mapping were in the page cache \
                     (mincore); {reread} had to be read back{why}",
                    self.written_text(),
                    mapped.saturating_sub(reread)
                ),
            )
            .with_measured(format!("{reread} of {mapped} pages missing"))
    }

    fn warm_no_disk(&self) -> ClaimRecord {
        if let Some(record) = self.reclaim_running(WARM_NO_DISK) {
            return record;
        }
        let (Some((mapped, cached)), Some(faults), Some(read)) =
            (self.cache_state(), self.read_faults(), self.read_bytes())
        else {
            return WARM_NO_DISK.unmeasured(
                self.name(),
                "the page-cache state, the read phases or /proc/PID/io were not measured",
            );
        };
        if cached < mapped {
            return WARM_NO_DISK.unmeasured(
                self.name(),
                format!("precondition not met: only {cached} of {mapped} pages were in the page cache before mapping"),
            );
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
                pages(read, self.page()),
                self.eviction_text()
            ));
        }
        WARM_NO_DISK
            .judged(self.name(), verdict_of(read == 0), evidence)
            .with_measured(format!("read_bytes {read} B"))
    }

    fn each_page_faults(&self) -> ClaimRecord {
        let (Some(faults), Some((mapped, _))) = (self.read_faults(), self.cache_state()) else {
            return EACH_PAGE_FAULTS.unmeasured(self.name(), "the read phases were not measured");
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
                self.fault_around_reason(),
                self.env
                    .temp_dir_read_ahead_kb
                    .map(|kb| format!("; read-ahead (read_ahead_kb {kb} here) fills the page cache ahead of the reader"))
                    .unwrap_or_default()
            ));
        }
        let record = EACH_PAGE_FAULTS
            .judged(self.name(), verdict_of(total >= mapped), evidence)
            .with_measured(format!("{total} faults for {mapped} pages"));
        if self.variant.name == "cold-random" {
            record
        } else {
            record.expecting(Verdict::Refuted, self.fault_around_reason())
        }
    }

    fn cold_disk(&self) -> ClaimRecord {
        if let Some(record) = self.not_cold(COLD_DISK) {
            return record;
        }
        let (Some((mapped, cached)), Some(faults), Some(read)) =
            (self.cache_state(), self.read_faults(), self.read_bytes())
        else {
            return COLD_DISK.unmeasured(
                self.name(),
                "the read phases or /proc/PID/io were not measured",
            );
        };
        let uncached = (mapped - cached) * self.page();
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
        COLD_DISK
            .judged(self.name(), verdict_of(holds), evidence)
            .with_measured(format!(
                "read_bytes {}, {} major faults",
                human_bytes(read),
                faults.major
            ))
    }

    fn read_ahead(&self) -> ClaimRecord {
        if let Some(record) = self.not_cold(READ_AHEAD) {
            return record;
        }
        let (Some(read), Some(region)) = (
            read_bytes_between(self.variant, "after-mmap", "after-first-read", MAIN),
            region_at(self.variant, "after-first-read", MAIN, REGION),
        ) else {
            return READ_AHEAD.unmeasured(
                self.name(),
                "after-first-read or /proc/PID/io was not measured",
            );
        };
        let rss = region.figures.rss_bytes;
        READ_AHEAD
            .judged(
                self.name(),
                verdict_of(read > rss),
                format!(
                    "reading one int made the kernel read {} of the file from storage (read_bytes) and map {} \
                     of it into the process (the mapping's Rss){}",
                    human_bytes(read),
                    human_bytes(rss),
                    self.env
                        .temp_dir_read_ahead_kb
                        .map(|kb| format!("; read_ahead_kb is {kb} on this device"))
                        .unwrap_or_default()
                ),
            )
            .with_measured(format!("read {} , mapped {}", human_bytes(read), human_bytes(rss)))
    }

    fn random_every_page(&self) -> ClaimRecord {
        if let Some(record) = self.not_cold(RANDOM_EVERY_PAGE) {
            return record;
        }
        let (Some(faults), Some((mapped, cached))) = (self.read_faults(), self.cache_state())
        else {
            return RANDOM_EVERY_PAGE.unmeasured(self.name(), "the read phases were not measured");
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
        RANDOM_EVERY_PAGE
            .judged(self.name(), verdict_of(holds), evidence)
            .with_measured(format!(
                "{} major faults for {uncached} pages",
                faults.major
            ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mapping_keeps_the_seeds_ratio_on_whole_ints() {
        let seed = Sizes::for_file(SEED_FILE_BYTES);
        assert_eq!(seed.map_bytes, 1_000_000_000);
        let quick = Sizes::for_file(QUICK_FILE_BYTES);
        assert_eq!(quick.map_bytes % 4, 0);
        assert!(quick.map_bytes < quick.file_bytes);
    }

    use crate::experiment::testkit::{
        assert_verdict, env, figures, process, record, variant, ProcessExt, PAGE,
    };
    use Verdict::{Confirmed, Inconclusive, Refuted};

    const PAGES: u64 = 256;
    const SIZE: u64 = PAGES * PAGE;
    const VSZ: u64 = 1 << 20;

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
        let cold = name.starts_with("cold");
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
            faults_rest: if name == "cold-random" {
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
                    ("mapped_pages", PAGES.to_string()),
                    (
                        "page_cache_pages_before_mmap",
                        self.cached_pages.to_string(),
                    ),
                    ("write_chunk_bytes", "1048576".into()),
                    ("pages_reread_to_warm", self.reread.to_string()),
                ],
                vec![
                    (
                        "before-mmap",
                        vec![process(MAIN)
                            .totals(|t| t.vm_size_bytes = VSZ)
                            .read_bytes(0)],
                    ),
                    (
                        "after-mmap",
                        vec![main(self.rss_after_mmap)
                            .totals(|t| t.vm_size_bytes = VSZ + self.vsz_growth)
                            .read_bytes(0)],
                    ),
                    (
                        "after-first-read",
                        vec![main(self.rss_first)
                            .faults(self.faults_first.0, self.faults_first.1)
                            .read_bytes(self.read_first)],
                    ),
                    (
                        "after-read-all",
                        vec![main(self.rss_all)
                            .faults(self.faults_rest.0, self.faults_rest.1)
                            .read_bytes(self.read_first + self.read_rest)
                            .other(REGION, "FilePmdMapped", SIZE / 2)],
                    ),
                ],
            );
            record("mmap-file", vec![v])
        }

        fn verdict(&self, claim: Claim, want: Verdict) {
            assert_verdict(&self.judge(), claim.id, Some(self.name), want);
        }
    }

    #[test]
    fn a_run_as_the_seed_describes_confirms_every_claim() {
        for name in ["warm", "warm-dd", "cold", "cold-random"] {
            let claims = seed(name).judge();
            for c in &claims {
                assert_eq!(c.verdict, Confirmed, "{name}/{}: {}", c.id, c.evidence);
            }
        }
    }

    #[test]
    fn vsz_growth_is_judged_within_two_pages() {
        let mut run = seed("warm");
        run.vsz_growth = SIZE + 2 * PAGE;
        run.verdict(VSZ_GROWS, Confirmed);
        run.vsz_growth = SIZE + 3 * PAGE;
        run.verdict(VSZ_GROWS, Refuted);
        run.vsz_growth = 0;
        run.verdict(VSZ_GROWS, Refuted);
    }

    #[test]
    fn one_resident_page_after_mmap_refutes_no_rss() {
        let mut run = seed("cold");
        run.rss_after_mmap = PAGE;
        run.verdict(NO_RSS, Refuted);
    }

    #[test]
    fn the_first_read_must_map_exactly_one_page() {
        let mut run = seed("warm");
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
        let mut run = seed("warm");
        run.rss_all = SIZE - PAGE;
        run.verdict(READ_ALL, Refuted);
    }

    #[test]
    fn a_cached_file_is_judged_on_storage_reads_not_major_faults() {
        let mut run = seed("warm");
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
        // With proactive reclaim running, the page cache's keeping the file
        // cannot be judged: inconclusive, whatever was read.
        let mut env = env();
        env.damon_pageout = vec!["kdamond 0: pageout of idle paddr memory".into()];
        for id in [WARM_NO_DISK.id, JUST_WRITTEN_CACHED.id] {
            let claims = MmapFile.judge(&run.record(), &env);
            let c = claims.iter().find(|c| c.id == id).unwrap();
            assert_eq!(c.verdict, Inconclusive, "{id}");
            assert!(c.evidence.contains("kdamond 0"), "{}", c.evidence);
        }
        run.cached_pages = PAGES - 1;
        run.verdict(WARM_NO_DISK, Inconclusive);
    }

    #[test]
    fn one_page_missing_after_writing_refutes_the_page_cache_claim() {
        let mut run = seed("warm-dd");
        run.reread = 1;
        run.verdict(JUST_WRITTEN_CACHED, Refuted);
    }

    #[test]
    fn fewer_faults_than_pages_refute_one_fault_per_page() {
        let mut run = seed("warm");
        run.faults_rest = (PAGES - 2, 0);
        run.verdict(EACH_PAGE_FAULTS, Refuted);
        run.faults_rest = (PAGES - 2, 1);
        run.verdict(EACH_PAGE_FAULTS, Confirmed);
    }

    #[test]
    fn a_cold_read_needs_the_uncached_bytes_from_storage_and_a_major_fault() {
        let mut run = seed("cold");
        run.read_rest -= 1;
        run.verdict(COLD_DISK, Refuted);
        let mut run = seed("cold");
        run.faults_first = (1, 0);
        run.verdict(COLD_DISK, Refuted);
        let mut run = seed("cold");
        run.cached_pages = PAGES / 100 + 1;
        run.verdict(COLD_DISK, Inconclusive);
        run.cached_pages = PAGES / 100;
        run.read_rest -= run.cached_pages * PAGE;
        run.verdict(COLD_DISK, Confirmed);
    }

    #[test]
    fn read_ahead_means_reading_more_than_was_mapped() {
        let mut run = seed("cold");
        run.read_first = PAGE + 1;
        run.verdict(READ_AHEAD, Confirmed);
        run.read_first = PAGE;
        run.verdict(READ_AHEAD, Refuted);
    }

    #[test]
    fn random_reads_need_a_major_fault_per_uncached_page() {
        let mut run = seed("cold-random");
        run.verdict(RANDOM_EVERY_PAGE, Confirmed);
        run.faults_rest = (1, PAGES - 2);
        run.verdict(RANDOM_EVERY_PAGE, Refuted);
    }

    #[test]
    fn the_summary_shows_what_one_read_mapped_and_the_pmd_mapped_share() {
        let mut run = seed("cold");
        run.rss_first = 16 * PAGE;
        let tables = MmapFile.summary(&run.record(), &env());
        let row = &tables[0].rows[0];
        assert_eq!(row[0], "cold");
        assert_eq!(row[1], "1.0 MiB");
        assert_eq!(row[3], "16");
        assert_eq!(row[5], human_bytes(SIZE));
        assert_eq!(row[6], human_bytes(SIZE / 2));
    }

    #[test]
    fn every_claim_a_variant_judges_is_listed() {
        for name in ["warm", "warm-dd", "cold", "cold-random"] {
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
