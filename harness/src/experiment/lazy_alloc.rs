//! lazy-alloc: "Hey dude, where's my memory?" (Frits Hoogland, seed 002) notes that
//! an anonymous mmap is visible in the map at once but backed by memory only when
//! used; "Some things I've learned about memory" (Evan Martin, seed 003) separates
//! address space from memory and says a default kernel overcommits: a process may
//! ask for more than the machine has. This experiment maps 8 GiB, reads and writes
//! parts of it, and asks the kernel for more than RAM + swap.

use std::collections::BTreeMap;

use experiments::ExperimentInfo;
use serde_json::json;

use super::{
    human_bytes, not_run_reason, pages, process_at, region_at, signed_bytes, verdict_of, Claim,
    Experiment, Explanation, Plan, PlanContext, PlannedVariant,
};
use crate::model::{
    ClaimRecord, ExperimentRecord, Status, SummaryTable, SystemCounters, VariantRecord, Verdict,
};
use crate::system::Environment;

/// The experiment.
pub struct LazyAlloc;

const SEED_002: &str = "002_4ca7868f1a8c4269.txt";
const SEED_003: &str = "003_189c8fe560e6e530.txt";
const MAIN: &str = "main";

const FULL_MAP_BYTES: u64 = 8 << 30;
const QUICK_MAP_BYTES: u64 = 1 << 30;
/// Each step reads or writes an eighth of the mapping at full size (1 GiB of
/// 8 GiB) and a quarter at --quick size (256 MiB of 1 GiB).
const FULL_CHUNK_SHARE: u64 = 8;
const QUICK_CHUNK_SHARE: u64 = 4;
/// Commit counted by the system besides this process, allowed on top of the
/// measured noise, in pages.
const COMMIT_SLACK_PAGES: u64 = 64;

const LABELS: [&str; 6] = [
    "before-mmap",
    "after-mmap",
    "after-read-first-chunk",
    "after-write-first-chunk",
    "after-write-second-chunk",
    "after-munmap",
];

const MAP_NO_MEMORY: Claim = Claim {
    id: "anonymous-mmap-adds-address-space-not-memory",
    source: SEED_002,
    statement: "An anonymous mmap shows up in the address space at once (VmSize grows by its size) but is not backed by memory until it is used: none of it is resident.",
    criterion: "VmSize at after-mmap minus VmSize at before-mmap equals the mapping's smaps Size within 2 pages \
        (the protocol may allocate a page or two), and the mapping's smaps Rss at after-mmap is 0 bytes, exactly",
};
const MAP_COMMITS: Claim = Claim {
    id: "anonymous-mmap-is-committed-at-once",
    source: SEED_003,
    statement: "The kernel counts a private writable mapping as promised memory as soon as it is made: Committed_AS grows by its size although nothing is used.",
    criterion: "the mapping's smaps VmFlags at after-mmap include ac (VM_ACCOUNT: the kernel charged its whole \
        Size to Committed_AS when it was made); exact. The system-wide Committed_AS across mmap is reported \
        with the noise measured in the same run, not judged: other processes move it by gigabytes between two \
        checkpoints on a busy machine",
};
const READ_NO_MEMORY: Claim = Claim {
    id: "reading-untouched-memory-uses-no-memory",
    source: SEED_002,
    statement: "Reading anonymous memory that was never written costs page faults but no memory: what is read is the kernel's shared zero page, not a page of the process's own.",
    criterion: "the mapping's smaps Rss at after-read-first-chunk is 0 bytes, exactly (the zero page is not \
        counted as resident), and the read phase took at least 1 fault",
};
const READ_PAGE_TABLES: Claim = Claim {
    id: "reading-untouched-memory-costs-page-tables",
    source: SEED_002,
    statement: "Reading untouched anonymous memory still costs page tables: each 4 KiB page read gets its own entry pointing at the zero page.",
    criterion: "the read phase took at least one fault per page read (each page-table entry is set by its own \
        fault: anonymous memory has no fault-around; tolerance 0) and VmPTE grew by at least 8 bytes per page \
        read, less 2 pages (page tables come in whole pages)",
};
const WRITE_PER_PAGE: Claim = Claim {
    id: "writing-costs-a-page-per-page",
    source: SEED_002,
    statement:
        "Only writing makes anonymous memory real: each written chunk adds its own size to the resident memory.",
    criterion: "for each of the two chunks written, the mapping's smaps Rss grows by the chunk's size: exactly \
        with base pages; within one PMD-sized page (hpage_pmd_size) with THP, since a huge page at the chunk's \
        edge is allocated whole. Precondition for thp-on: AnonHugePages > 0 after the writes",
};
const MUNMAP_RETURNS: Claim = Claim {
    id: "munmap-returns-address-space-memory-and-commit",
    source: SEED_003,
    statement: "Unmapping gives back the address space, the memory and the commit.",
    criterion: "at after-munmap, VmSize, the sum of smaps Rss over all mappings and VmPTE are back at their \
        before-mmap values within 2 pages each (the program's own stack and protocol pages), and no mapping \
        overlaps the region any more, so its accounted charge is returned; Committed_AS is reported, not \
        judged (machine-wide)",
};
const OVERCOMMIT_PIECES: Claim = Claim {
    id: "default-kernel-lets-a-process-map-more-than-ram",
    source: SEED_003,
    statement: "On a default setup the kernel overcommits: a process can keep asking for address space and get more in all than the machine has memory.",
    criterion: "under vm.overcommit_memory = 0, the default (precondition), all three mappings of half of RAM + \
        swap each are granted: the sum granted and VmSize at after-overcommit-attempts both exceed RAM + swap",
};
const OVERCOMMIT_HEURISTIC: Claim = Claim {
    id: "heuristic-overcommit-refuses-one-mapping-larger-than-ram-and-swap",
    source: SEED_003,
    statement: "Overcommit is 'more or less' unlimited: the default heuristic (vm.overcommit_memory = 0) still refuses a single request larger than RAM + swap.",
    criterion: "under vm.overcommit_memory = 0 (precondition: the mode in force; the harness does not change it, \
        since that changes the policy for every process on the machine), one mapping of RAM + swap + 1 GiB is \
        refused with ENOMEM",
};
const OVERCOMMIT_ALWAYS: Claim = Claim {
    id: "always-overcommit-grants-one-mapping-larger-than-ram-and-swap",
    source: SEED_003,
    statement: "With vm.overcommit_memory = 1 the kernel never refuses address space: even one mapping larger than RAM + swap is granted.",
    criterion: "under vm.overcommit_memory = 1 (precondition: the mode in force; not changed by the harness), \
        one mapping of RAM + swap + 1 GiB is granted",
};
const OVERCOMMIT_NEVER: Claim = Claim {
    id: "strict-overcommit-refuses-beyond-commit-limit",
    source: SEED_003,
    statement: "With vm.overcommit_memory = 2 the kernel does not overcommit: requests beyond CommitLimit are refused, so no process gets more than the machine can back.",
    criterion: "under vm.overcommit_memory = 2 (precondition: the mode in force; not changed by the harness), \
        the mapping of RAM + swap + 1 GiB is refused with ENOMEM and the three halves together are not all \
        granted",
};

/// Every claim, in the order a variant judges them.
static CLAIMS: [Claim; 10] = [
    MAP_NO_MEMORY,
    MAP_COMMITS,
    READ_NO_MEMORY,
    READ_PAGE_TABLES,
    WRITE_PER_PAGE,
    MUNMAP_RETURNS,
    OVERCOMMIT_PIECES,
    OVERCOMMIT_HEURISTIC,
    OVERCOMMIT_ALWAYS,
    OVERCOMMIT_NEVER,
];

/// A claim with the judge bound to it.
type Case = (Claim, fn(&Judge<'_>) -> ClaimRecord);

/// The claims every variant judges.
const PER_VARIANT: [Case; 6] = [
    (MAP_NO_MEMORY, |j| j.map_no_memory()),
    (MAP_COMMITS, |j| j.map_commits()),
    (READ_NO_MEMORY, |j| j.read_no_memory()),
    (READ_PAGE_TABLES, |j| j.read_page_tables()),
    (WRITE_PER_PAGE, |j| j.write_per_page()),
    (MUNMAP_RETURNS, |j| j.munmap_returns()),
];

/// The claims of the variant that tries to overcommit.
const OVERCOMMIT: [Case; 4] = [
    (OVERCOMMIT_PIECES, |j| j.overcommit_pieces()),
    (OVERCOMMIT_HEURISTIC, |j| j.overcommit_single(0, "ENOMEM")),
    (OVERCOMMIT_ALWAYS, |j| j.overcommit_single(1, "mapped")),
    (OVERCOMMIT_NEVER, |j| j.overcommit_never()),
];

/// The variant that runs the overcommit attempts.
const OVERCOMMIT_VARIANT: &str = "thp-off";

static EXPLANATION: Explanation = Explanation {
    seed_claims: "In \"Hey dude, where's my memory?\", Frits Hoogland reads /proc/self/maps and explains that \
        memory allocated with mmap appears in the map at once, but is only backed by physical memory when it is \
        actually used. In \"Some things I've learned about memory\", Evan Martin separates a process's address \
        space from the machine's memory, and notes that a default kernel overcommits: a process can keep asking \
        for memory and get pointers well beyond the physical memory of the machine, since only touching pages \
        uses memory.",
    steps: &[
        ("before-mmap", "Nothing is mapped yet; the system's Committed_AS is recorded as the baseline."),
        ("after-mmap", "A private anonymous mapping of the full size exists. VmSize and Committed_AS grew by its size; no page of it has been touched."),
        ("after-read-first-chunk", "One byte of every page of the first chunk was read. Each read faulted, and the kernel mapped the shared zero page (or, with THP, the huge zero page) read-only: page tables, no memory."),
        ("thp-off/after-read-first-chunk", "One byte of every page of the first chunk was read: one fault per 4 KiB page, each mapping the shared zero page read-only with its own page-table entry. Page tables, no memory."),
        ("thp-on/after-read-first-chunk", "One byte of every page of the first chunk was read: one fault per 2 MiB, each mapping the huge zero page with a single PMD entry. No memory; VmPTE still grows, by the page of PTEs the kernel deposits for each huge mapping."),
        ("thp-on/after-write-first-chunk", "The first chunk was written: each first write into a 2 MiB range replaced the huge zero page with a freshly zeroed huge page of the process's own (AnonHugePages grows)."),
        ("after-write-first-chunk", "One byte of every page of the first chunk was written. Each write replaced the zero page with a private zeroed frame: now the chunk is memory."),
        ("after-write-second-chunk", "The second chunk, never read, was written: the same cost again, a frame per page."),
        ("after-munmap", "The mapping is gone: address space, memory, page tables and commit are returned."),
        ("after-overcommit-attempts", "The process asked for one mapping larger than RAM + swap, then for three mappings of half that size each. What the kernel granted is visible in VmSize; the notes say what it refused and with which error."),
    ],
    expectations: "VmSize grows by the mapping at once and VmRSS by nothing. Committed_AS, a system-wide counter, \
        grows by the mapping's size too (private writable mappings are charged at mmap time unless MAP_NORESERVE), \
        but other processes move it as well, so the claim is judged on the mapping's own accounting flag (VmFlags ac) \
        and Committed_AS is shown beside it with the noise measured in the same run. Reading \
        untouched pages maps the zero page: no RSS, but one page-table entry per page (8 bytes per 4 KiB page). \
        With THP on (MADV_HUGEPAGE), a read maps the huge zero page with one PMD entry per 2 MiB, so even the page \
        tables do not grow, and a write allocates a whole 2 MiB page. Under vm.overcommit_memory=0 a single \
        request larger than RAM + swap is refused with ENOMEM, while several smaller ones that together exceed \
        it are granted; under 1 everything is granted; under 2 nothing beyond CommitLimit is. Only the mode in \
        force is judged (the others are inconclusive): the harness does not change the knob, which would change \
        the policy for every process on the machine.",
    questions: &[
        "Why does reading 1 GiB of fresh anonymous memory not raise RSS?",
        "What does that read cost the kernel instead, and why is it smaller with THP?",
        "Committed_AS grew at mmap time: what would happen under vm.overcommit_memory=2 if it reached CommitLimit?",
        "Why does the heuristic policy refuse one huge mapping but grant three smaller ones adding up to more?",
        "Which of VmSize, VmRSS, VmPTE and Committed_AS would you watch to find a process that reserves a lot but uses little?",
    ],
    answers: &[],
};

impl Experiment for LazyAlloc {
    fn info(&self) -> &'static ExperimentInfo {
        &experiments::catalog::lazy_alloc::INFO
    }

    fn plan(&self, ctx: &PlanContext<'_>) -> Result<Plan, String> {
        let page = ctx.env.page_size.max(1);
        let (default, share) = if ctx.quick {
            (QUICK_MAP_BYTES, QUICK_CHUNK_SHARE)
        } else {
            (FULL_MAP_BYTES, FULL_CHUNK_SHARE)
        };
        let map_bytes = ctx.size_bytes.unwrap_or(default).div_ceil(page) * page;
        let chunk_bytes = (map_bytes / share).div_ceil(page) * page;
        if map_bytes < 64 * page {
            return Err(format!(
                "a mapping of {map_bytes} bytes is too small to show anything; use --size 1MiB or more"
            ));
        }
        // Two chunks are written, and reading one costs a page table per 512 pages.
        let written = 2 * chunk_bytes + chunk_bytes / 512;
        if let Some(limit) = ctx.env.memory_room_bytes() {
            if limit < written + (64 << 20) {
                return Err(format!(
                    "the memory free for this run ({}, MemAvailable within the cgroup limit) cannot hold the {} this experiment writes; use --quick or a smaller --size",
                    human_bytes(limit),
                    human_bytes(written)
                ));
            }
        }
        if ctx.env.mem_total_bytes > 0 && written > ctx.env.mem_total_bytes / 2 {
            return Err(format!(
                "writing {} would take more than half of this machine's {} of RAM; use --quick or a smaller --size",
                human_bytes(written),
                human_bytes(ctx.env.mem_total_bytes)
            ));
        }
        let variant = |name: &str, overcommit: bool| {
            let mut args: Vec<std::ffi::OsString> = vec![
                "--variant".into(),
                name.into(),
                "--map-bytes".into(),
                map_bytes.to_string().into(),
                "--chunk-bytes".into(),
                chunk_bytes.to_string().into(),
            ];
            if overcommit {
                args.push("--overcommit-test".into());
            }
            PlannedVariant {
                name: name.to_string(),
                args,
            }
        };
        let mut params = BTreeMap::new();
        params.insert("map_bytes".into(), json!(map_bytes));
        params.insert("chunk_bytes".into(), json!(chunk_bytes));
        Ok(Plan {
            params,
            variants: vec![variant("thp-off", true), variant("thp-on", false)],
        })
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
            let mut cases = PER_VARIANT.to_vec();
            if variant.name == OVERCOMMIT_VARIANT {
                cases.extend(OVERCOMMIT);
            }
            if let Some(why) = not_run_reason(variant) {
                claims.extend(cases.iter().map(|(c, _)| c.unmeasured(name, why.clone())));
                continue;
            }
            let j = Judge { variant, env };
            claims.extend(cases.iter().map(|(_, judge)| judge(&j)));
        }
        claims
    }

    fn summary(&self, record: &ExperimentRecord, _env: &Environment) -> Vec<SummaryTable> {
        record
            .variants
            .iter()
            .filter(|v| v.status == Status::Ok)
            .map(summary_table)
            .collect()
    }
}

fn summary_table(variant: &VariantRecord) -> SummaryTable {
    let base = variant
        .checkpoint("before-mmap")
        .and_then(|c| c.system)
        .map(|s| s.committed_as_bytes);
    let mut table = SummaryTable {
        title: format!(
            "{}: address space, memory, page tables and commit",
            variant.name
        ),
        headers: [
            "checkpoint",
            "VmSize",
            "VmRSS",
            "VmPTE",
            "AnonHugePages",
            "minor faults",
            "Committed_AS",
            "Δ Committed_AS",
        ]
        .map(String::from)
        .to_vec(),
        rows: Vec::new(),
    };
    for c in &variant.checkpoints {
        let Some(p) = c.process(MAIN) else { continue };
        let huge: u64 = p
            .mappings
            .iter()
            .map(|m| m.figures.anon_huge_pages_bytes)
            .sum();
        let commit = c.system.map(|s| s.committed_as_bytes);
        table.rows.push(vec![
            c.label.clone(),
            human_bytes(p.totals.vm_size_bytes),
            human_bytes(p.totals.rss_bytes),
            human_bytes(p.totals.pte_bytes),
            human_bytes(huge),
            p.faults.minor.to_string(),
            commit.map_or("-".into(), human_bytes),
            match (commit, base) {
                (Some(c), Some(b)) => signed_bytes(c as i64 - b as i64),
                _ => "-".into(),
            },
        ]);
    }
    table
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

    fn thp(&self) -> bool {
        self.variant.name == "thp-on"
    }

    /// The size one PMD entry maps (2 MiB with 4 KiB pages): a page of page-table
    /// entries, 8 bytes each.
    fn pmd_bytes(&self) -> u64 {
        self.env
            .thp_pmd_bytes
            .unwrap_or(self.page() * (self.page() / 8))
    }

    fn note(&self, key: &str) -> Option<&str> {
        self.variant.notes.get(key).map(String::as_str)
    }

    fn note_number(&self, key: &str) -> Option<u64> {
        self.note(key)?.parse().ok()
    }

    /// Bytes read or written per step, as the experiment reported.
    fn chunk(&self) -> Option<u64> {
        self.note_number("chunk_bytes")
    }

    fn system(&self, label: &str) -> Option<SystemCounters> {
        self.variant.checkpoint(label)?.system
    }

    fn map_no_memory(&self) -> ClaimRecord {
        let (Some(before), Some(after), Some(region)) = (
            process_at(self.variant, "before-mmap", MAIN),
            process_at(self.variant, "after-mmap", MAIN),
            region_at(self.variant, "after-mmap", MAIN, "anon"),
        ) else {
            return MAP_NO_MEMORY
                .unmeasured(self.name(), "before-mmap or after-mmap was not measured");
        };
        let vsz = after.totals.vm_size_bytes as i64 - before.totals.vm_size_bytes as i64;
        let size = region.figures.size_bytes as i64;
        let rss = region.figures.rss_bytes;
        let holds = size > 0 && (vsz - size).abs() <= 2 * self.page() as i64 && rss == 0;
        MAP_NO_MEMORY
            .judged(
                self.name(),
                verdict_of(holds),
                format!(
                    "VmSize grew by {} for a {} mapping; the mapping's Rss is {rss} bytes",
                    signed_bytes(vsz),
                    human_bytes(size as u64),
                ),
            )
            .with_measured(format!("VmSize {}, Rss {rss} B", signed_bytes(vsz)))
    }

    /// The largest change of Committed_AS over phases in which this process's own
    /// commit does not change (reads and writes inside the mapping): what the rest
    /// of the machine did meanwhile.
    fn commit_noise(&self) -> Option<u64> {
        let labels = &LABELS[1..5];
        let values: Vec<u64> = labels
            .iter()
            .map(|l| self.system(l).map(|s| s.committed_as_bytes))
            .collect::<Option<_>>()?;
        Some(
            values
                .windows(2)
                .map(|w| w[1].abs_diff(w[0]))
                .max()
                .unwrap_or(0),
        )
    }

    /// The tolerance for a change of Committed_AS within one phase: twice the
    /// largest move measured over phases that commit nothing, plus a few pages.
    fn commit_band(&self) -> Option<(u64, u64)> {
        let noise = self.commit_noise()?;
        Some((noise, 2 * noise + COMMIT_SLACK_PAGES * self.page()))
    }

    /// The anonymous mapping itself at a checkpoint (the region's one mapping).
    fn anon_mapping(&self, label: &str) -> Option<&crate::model::MappingRecord> {
        let region = region_at(self.variant, label, MAIN, "anon")?;
        process_at(self.variant, label, MAIN)?
            .mappings
            .iter()
            .find(|m| m.name.is_empty() && m.figures.size_bytes == region.figures.size_bytes)
    }

    /// The change of Committed_AS between two checkpoints, with the noise band
    /// of the run, as evidence text.
    fn commit_text(&self, from: &str, to: &str) -> String {
        match (self.system(from), self.system(to), self.commit_band()) {
            (Some(a), Some(b), Some((noise, _))) => format!(
                "the system-wide Committed_AS changed by {} meanwhile (it moved by up to {} over the phases \
                 that commit nothing: other processes)",
                signed_bytes(b.committed_as_bytes as i64 - a.committed_as_bytes as i64),
                human_bytes(noise)
            ),
            _ => "/proc/meminfo was not read at every checkpoint".into(),
        }
    }

    fn map_commits(&self) -> ClaimRecord {
        let Some(mapping) = self.anon_mapping("after-mmap") else {
            return MAP_COMMITS.unmeasured(self.name(), "the mapping was not found at after-mmap");
        };
        let accounted = mapping.vm_flags.split_whitespace().any(|f| f == "ac");
        MAP_COMMITS
            .judged(
                self.name(),
                verdict_of(accounted),
                format!(
                    "the {} mapping's VmFlags are '{}' ({}); {}",
                    human_bytes(mapping.figures.size_bytes),
                    mapping.vm_flags,
                    if accounted {
                        "ac: charged to Committed_AS by its whole size"
                    } else {
                        "no ac: not charged"
                    },
                    self.commit_text("before-mmap", "after-mmap")
                ),
            )
            .with_measured(if accounted {
                "VmFlags ac"
            } else {
                "no ac flag"
            })
    }

    fn read_no_memory(&self) -> ClaimRecord {
        let (Some(after), Some(region), Some(chunk)) = (
            process_at(self.variant, "after-read-first-chunk", MAIN),
            region_at(self.variant, "after-read-first-chunk", MAIN, "anon"),
            self.chunk(),
        ) else {
            return READ_NO_MEMORY
                .unmeasured(self.name(), "after-read-first-chunk was not measured");
        };
        let faults = after.faults.minor + after.faults.major;
        let rss = region.figures.rss_bytes;
        let mut evidence = format!(
            "reading {} untouched pages cost {faults} faults; the mapping's Rss is {rss} bytes afterwards",
            pages(chunk, self.page()),
        );
        if self.thp() {
            evidence.push_str(&format!(
                "; with THP the page read is the huge zero page ({}), also not counted as resident",
                human_bytes(self.pmd_bytes())
            ));
        }
        READ_NO_MEMORY
            .judged(self.name(), verdict_of(rss == 0 && faults > 0), evidence)
            .with_measured(format!("Rss {rss} B after {faults} faults"))
    }

    /// What the sampled frames of the chunk read show: one frame for every
    /// sampled page (the 4 KiB zero page) or not.
    fn sampled_frames(&self) -> String {
        let Some(map) = region_at(self.variant, "after-read-first-chunk", MAIN, "anon")
            .and_then(|r| r.pagemap.as_ref())
        else {
            return String::new();
        };
        let pfns: Vec<u64> = map
            .sample
            .iter()
            .filter(|s| s.present)
            .filter_map(|s| s.pfn)
            .collect();
        let Some(first) = pfns.first() else {
            return String::new();
        };
        let per_pmd = self.pmd_bytes() / self.page();
        format!(
            "; pagemap: the {} sampled pages read map frame {first}{}{}",
            pfns.len(),
            if pfns.iter().all(|p| p == first) {
                " (all of them)"
            } else {
                " and others"
            },
            if first % per_pmd == 0 {
                format!(", aligned to {per_pmd} frames as a huge page's head is")
            } else {
                String::new()
            }
        )
    }

    fn read_page_tables(&self) -> ClaimRecord {
        let (Some(before), Some(after), Some(chunk)) = (
            process_at(self.variant, "after-mmap", MAIN),
            process_at(self.variant, "after-read-first-chunk", MAIN),
            self.chunk(),
        ) else {
            return READ_PAGE_TABLES
                .unmeasured(self.name(), "after-read-first-chunk was not measured");
        };
        let read = pages(chunk, self.page());
        let pte = after.totals.pte_bytes as i64 - before.totals.pte_bytes as i64;
        let expected = (read * 8) as i64;
        let faults = after.faults.minor + after.faults.major;
        let holds = faults >= read && pte + 2 * self.page() as i64 >= expected;
        let mut evidence = format!(
            "reading {read} pages cost {faults} faults and VmPTE grew by {}; one 8-byte entry per page read \
             would be {}{}",
            signed_bytes(pte),
            human_bytes(expected as u64),
            self.sampled_frames()
        );
        if faults < read {
            evidence.push_str(&format!(
                ". {:.0} pages per fault: each read fault mapped the huge zero page with one PMD entry per {}, \
                 not an entry per page. VmPTE still grows as if it had: the kernel deposits a page of PTEs for \
                 each such PMD, ready should the huge mapping be split, so the totals coincide while the \
                 mechanism differs",
                read as f64 / faults.max(1) as f64,
                human_bytes(self.pmd_bytes())
            ));
        }
        let record = READ_PAGE_TABLES
            .judged(self.name(), verdict_of(holds), evidence)
            .with_measured(format!(
                "{faults} faults for {read} pages, VmPTE {}",
                signed_bytes(pte)
            ));
        if self.thp() && self.env.thp_use_zero_page != Some(false) {
            record.expecting(
                Verdict::Refuted,
                format!(
                    "with MADV_HUGEPAGE a read fault maps the huge zero page, one PMD entry per {} \
                     (transparent_hugepage/use_zero_page)",
                    human_bytes(self.pmd_bytes())
                ),
            )
        } else {
            record
        }
    }

    fn write_per_page(&self) -> ClaimRecord {
        let steps = [
            (
                "after-read-first-chunk",
                "after-write-first-chunk",
                "first chunk",
            ),
            (
                "after-write-first-chunk",
                "after-write-second-chunk",
                "second chunk",
            ),
        ];
        let Some(size) = self.chunk() else {
            return WRITE_PER_PAGE.unmeasured(self.name(), "the chunk size was not reported");
        };
        let page = self.page();
        // With THP the first write into a huge page allocates all of it, which may
        // reach into the neighbouring chunk.
        let tol = if self.thp() { self.pmd_bytes() } else { 0 };
        let mut parts = Vec::new();
        let mut deltas = Vec::new();
        let mut holds = true;
        let mut huge_total = 0;
        for (from, to, chunk) in steps {
            let (Some(after), Some(region_before), Some(region)) = (
                process_at(self.variant, to, MAIN),
                region_at(self.variant, from, MAIN, "anon"),
                region_at(self.variant, to, MAIN, "anon"),
            ) else {
                return WRITE_PER_PAGE.unmeasured(self.name(), format!("{to} was not measured"));
            };
            let delta = region.figures.rss_bytes as i64 - region_before.figures.rss_bytes as i64;
            holds &= (delta - size as i64).unsigned_abs() <= tol;
            huge_total = region.figures.anon_huge_pages_bytes;
            deltas.push(signed_bytes(delta));
            parts.push(format!(
                "writing the {chunk} ({} pages) grew the mapping's Rss by {} with {} faults",
                pages(size, page),
                signed_bytes(delta),
                after.faults.minor + after.faults.major
            ));
        }
        let mut evidence = parts.join("; ");
        if self.thp() {
            if huge_total == 0 {
                return WRITE_PER_PAGE.unmeasured(
                    self.name(),
                    format!("precondition not met: no transparent huge page arrived (AnonHugePages 0). {evidence}"),
                );
            }
            evidence.push_str(&format!(
                ". {} of it in transparent huge pages: memory still costs a byte per byte written to, but a \
                 fault per {}",
                human_bytes(huge_total),
                human_bytes(self.pmd_bytes())
            ));
        }
        WRITE_PER_PAGE
            .judged(self.name(), verdict_of(holds), evidence)
            .with_measured(format!(
                "Rss {} per {} chunk",
                deltas.join(" and "),
                human_bytes(size)
            ))
    }

    fn munmap_returns(&self) -> ClaimRecord {
        let (Some(before), Some(after), Some(region), Some(gone)) = (
            process_at(self.variant, "before-mmap", MAIN),
            process_at(self.variant, "after-munmap", MAIN),
            region_at(self.variant, "after-write-second-chunk", MAIN, "anon"),
            region_at(self.variant, "after-munmap", MAIN, "anon"),
        ) else {
            return MUNMAP_RETURNS
                .unmeasured(self.name(), "before-mmap or after-munmap was not measured");
        };
        let tol = 2 * self.page();
        let vsz = after
            .totals
            .vm_size_bytes
            .abs_diff(before.totals.vm_size_bytes);
        let rss = after
            .totals
            .mapped_rss_bytes
            .abs_diff(before.totals.mapped_rss_bytes);
        let pte = after.totals.pte_bytes.abs_diff(before.totals.pte_bytes);
        let holds = vsz <= tol && rss <= tol && pte <= tol && gone.mapping_count == 0;
        MUNMAP_RETURNS
            .judged(
                self.name(),
                verdict_of(holds),
                format!(
                    "after munmap VmSize, the summed smaps Rss and VmPTE differ from before mmap by {vsz}, {rss} \
                     and {pte} bytes (the mapping's Rss had reached {}); {} mappings overlap the region; {}",
                    human_bytes(region.figures.rss_bytes),
                    gone.mapping_count,
                    self.commit_text("after-write-second-chunk", "after-munmap")
                ),
            )
            .with_measured(format!(
                "left {vsz}/{rss}/{pte} B, {} mappings",
                gone.mapping_count
            ))
    }

    fn policy_text(&self) -> String {
        match self.env.overcommit_memory {
            Some(0) => "vm.overcommit_memory=0 (heuristic)".into(),
            Some(1) => "vm.overcommit_memory=1 (always)".into(),
            Some(2) => "vm.overcommit_memory=2 (never beyond CommitLimit)".into(),
            Some(n) => format!("vm.overcommit_memory={n}"),
            None => "vm.overcommit_memory unreadable".into(),
        }
    }

    /// Inconclusive unless `mode` is the policy in force.
    fn other_mode(&self, claim: Claim, mode: u32) -> Option<ClaimRecord> {
        (self.env.overcommit_memory != Some(mode)).then(|| {
            claim.unmeasured(
                self.name(),
                format!(
                    "precondition not met: this machine runs {}, not {mode}; the harness does not change the \
                     knob, since that changes the policy for every process on the machine",
                    self.policy_text()
                ),
            )
        })
    }

    fn overcommit_pieces(&self) -> ClaimRecord {
        if let Some(record) = self.other_mode(OVERCOMMIT_PIECES, 0) {
            return record;
        }
        let (Some(piece), Some(mapped), Some(total)) = (
            self.note_number("overcommit_piece_bytes"),
            self.note_number("overcommit_pieces_mapped"),
            self.note_number("overcommit_ram_and_swap_bytes"),
        ) else {
            return OVERCOMMIT_PIECES
                .unmeasured(self.name(), "the overcommit attempts were not reported");
        };
        let got = piece * mapped;
        let vsz = process_at(self.variant, "after-overcommit-attempts", MAIN)
            .map(|p| p.totals.vm_size_bytes)
            .unwrap_or(0);
        let holds = got > total && vsz > total;
        OVERCOMMIT_PIECES
            .judged(
                self.name(),
                verdict_of(holds),
                format!(
                    "under {}, {mapped} of 3 mappings of {} each were granted ({} in all; RAM + swap is {}; \
                     VmSize reached {}); refused with: {}",
                    self.policy_text(),
                    human_bytes(piece),
                    human_bytes(got),
                    human_bytes(total),
                    human_bytes(vsz),
                    self.note("overcommit_pieces_refused_with").unwrap_or("?")
                ),
            )
            .with_measured(format!("{} granted of {}", human_bytes(got), human_bytes(total)))
    }

    /// The single mapping larger than RAM + swap, judged under `mode` only.
    fn overcommit_single(&self, mode: u32, expected: &str) -> ClaimRecord {
        let claim = if mode == 0 {
            OVERCOMMIT_HEURISTIC
        } else {
            OVERCOMMIT_ALWAYS
        };
        if let Some(record) = self.other_mode(claim, mode) {
            return record;
        }
        let (Some(result), Some(size), Some(total)) = (
            self.note("overcommit_single_result"),
            self.note_number("overcommit_single_bytes"),
            self.note_number("overcommit_ram_and_swap_bytes"),
        ) else {
            return claim.unmeasured(self.name(), "the overcommit attempt was not reported");
        };
        claim
            .judged(
                self.name(),
                verdict_of(result == expected),
                format!(
                    "asked for one mapping of {} (RAM + swap is {}) under {}: the kernel answered {result}",
                    human_bytes(size),
                    human_bytes(total),
                    self.policy_text()
                ),
            )
            .with_measured(result.to_string())
    }

    fn overcommit_never(&self) -> ClaimRecord {
        if let Some(record) = self.other_mode(OVERCOMMIT_NEVER, 2) {
            return record;
        }
        let (Some(result), Some(mapped)) = (
            self.note("overcommit_single_result"),
            self.note_number("overcommit_pieces_mapped"),
        ) else {
            return OVERCOMMIT_NEVER
                .unmeasured(self.name(), "the overcommit attempts were not reported");
        };
        OVERCOMMIT_NEVER
            .judged(
                self.name(),
                verdict_of(result == "ENOMEM" && mapped < 3),
                format!(
                    "under {}: the mapping larger than RAM + swap was answered {result}; {mapped} of the 3 halves \
                     were granted",
                    self.policy_text()
                ),
            )
            .with_measured(format!("{result}, {mapped} of 3 halves"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiment::testkit::{
        assert_verdict, env, figures, process, record, variant, ProcessExt, PAGE,
    };
    use crate::model::{ProcessRecord, SystemCounters};
    use Verdict::{Confirmed, Inconclusive, Refuted};

    const MAP: u64 = 4096 * PAGE;
    const CHUNK: u64 = 1024 * PAGE;
    const CHUNK_PAGES: u64 = CHUNK / PAGE;
    const BASE: u64 = 100 * PAGE;
    const C0: u64 = 1 << 30;

    /// One checkpoint of a synthetic run.
    #[derive(Clone, Copy)]
    struct Row {
        label: &'static str,
        vsz: u64,
        region_rss: u64,
        pte: u64,
        faults: u64,
        commit: u64,
        huge: u64,
    }

    /// A run as the seeds describe it (base pages).
    fn seed() -> Vec<Row> {
        let row = |label, vsz, region_rss, pte, faults, commit| Row {
            label,
            vsz,
            region_rss,
            pte,
            faults,
            commit,
            huge: 0,
        };
        vec![
            row("before-mmap", BASE, 0, 12 * PAGE, 0, C0),
            row("after-mmap", BASE + MAP, 0, 12 * PAGE, 0, C0 + MAP),
            row(
                "after-read-first-chunk",
                BASE + MAP,
                0,
                14 * PAGE,
                CHUNK_PAGES,
                C0 + MAP,
            ),
            row(
                "after-write-first-chunk",
                BASE + MAP,
                CHUNK,
                14 * PAGE,
                CHUNK_PAGES,
                C0 + MAP,
            ),
            row(
                "after-write-second-chunk",
                BASE + MAP,
                2 * CHUNK,
                16 * PAGE,
                CHUNK_PAGES,
                C0 + MAP,
            ),
            row("after-munmap", BASE, 0, 12 * PAGE, 0, C0),
        ]
    }

    fn main_at(r: &Row) -> ProcessRecord {
        let mut anon = figures(MAP, r.region_rss);
        anon.anon_huge_pages_bytes = r.huge;
        let p = process(MAIN).faults(r.faults, 0).totals(|t| {
            t.vm_size_bytes = r.vsz;
            t.pte_bytes = r.pte;
            t.mapped_rss_bytes = BASE + r.region_rss;
        });
        match r.label {
            "before-mmap" => p,
            "after-munmap" => {
                let mut p = p.region("anon", figures(MAP, 0));
                p.mappings.clear();
                p.regions[0].mapping_count = 0;
                p
            }
            _ => {
                let mut p = p.region("anon", anon);
                p.mappings[0].name.clear();
                p.mappings[0].vm_flags = "rd wr mr mw me ac".into();
                p
            }
        }
    }

    fn judge(name: &str, rows: &[Row], notes: &[(&str, String)]) -> Vec<ClaimRecord> {
        let mut notes = notes.to_vec();
        notes.push(("chunk_bytes", CHUNK.to_string()));
        let mut v = variant(
            name,
            &notes,
            rows.iter().map(|r| (r.label, vec![main_at(r)])).collect(),
        );
        for (c, r) in v.checkpoints.iter_mut().zip(rows) {
            c.system = Some(SystemCounters {
                committed_as_bytes: r.commit,
                ..Default::default()
            });
        }
        let mut env = env();
        env.overcommit_memory = Some(0);
        env.thp_pmd_bytes = Some(2 << 20);
        LazyAlloc.judge(&record("lazy-alloc", vec![v]), &env)
    }

    fn verdict(name: &str, rows: &[Row], claim: Claim, want: Verdict) {
        assert_verdict(&judge(name, rows, &[]), claim.id, Some(name), want);
    }

    fn with(rows: &[Row], label: &str, f: impl Fn(&mut Row)) -> Vec<Row> {
        let mut rows = rows.to_vec();
        rows.iter_mut().filter(|r| r.label == label).for_each(f);
        rows
    }

    #[test]
    fn a_run_as_the_seeds_describe_confirms_every_per_variant_claim() {
        for (c, _) in PER_VARIANT {
            verdict("thp-on-base-pages-only", &seed(), c, Confirmed);
        }
    }

    #[test]
    fn mapping_must_add_its_size_to_vmsize_and_nothing_resident() {
        let rows = with(&seed(), "after-mmap", |r| r.vsz += 2 * PAGE);
        verdict("thp-off", &rows, MAP_NO_MEMORY, Confirmed);
        let rows = with(&seed(), "after-mmap", |r| r.vsz += 3 * PAGE);
        verdict("thp-off", &rows, MAP_NO_MEMORY, Refuted);
        let rows = with(&seed(), "after-mmap", |r| r.region_rss = PAGE);
        verdict("thp-off", &rows, MAP_NO_MEMORY, Refuted);
    }

    #[test]
    fn commit_is_judged_on_the_mappings_accounting_flag() {
        let claims = judge("thp-off", &seed(), &[]);
        let c = crate::experiment::testkit::find(&claims, MAP_COMMITS.id, None);
        assert_eq!(c.verdict, Confirmed, "{}", c.evidence);
        assert!(
            c.evidence.contains("Committed_AS changed by +16.0 MiB"),
            "{}",
            c.evidence
        );
        // Without VM_ACCOUNT (MAP_NORESERVE) nothing was charged.
        let mut v = variant(
            "thp-off",
            &[],
            seed().iter().map(|r| (r.label, vec![main_at(r)])).collect(),
        );
        for c in &mut v.checkpoints {
            for m in &mut c.processes[0].mappings {
                m.vm_flags = "rd wr mr mw me nr".into();
            }
        }
        let claims = LazyAlloc.judge(&record("lazy-alloc", vec![v]), &env());
        assert_verdict(&claims, MAP_COMMITS.id, Some("thp-off"), Refuted);
    }

    #[test]
    fn a_read_that_makes_one_page_resident_refutes_no_memory() {
        let rows = with(&seed(), "after-read-first-chunk", |r| r.region_rss = PAGE);
        verdict("thp-off", &rows, READ_NO_MEMORY, Refuted);
        let rows = with(&seed(), "after-read-first-chunk", |r| r.faults = 0);
        verdict("thp-off", &rows, READ_NO_MEMORY, Refuted);
    }

    #[test]
    fn page_tables_need_a_fault_and_an_entry_per_page_read() {
        let fewer = with(&seed(), "after-read-first-chunk", |r| {
            r.faults = CHUNK_PAGES - 1
        });
        verdict("thp-off", &fewer, READ_PAGE_TABLES, Refuted);
        // VmPTE: 8 bytes per page (2 pages here) less 2 pages of tolerance.
        let edge = with(&seed(), "after-read-first-chunk", |r| r.pte = 12 * PAGE);
        verdict("thp-off", &edge, READ_PAGE_TABLES, Confirmed);
        let short = with(&seed(), "after-read-first-chunk", |r| r.pte = 12 * PAGE - 1);
        verdict("thp-off", &short, READ_PAGE_TABLES, Refuted);
    }

    #[test]
    fn the_huge_zero_page_refutes_the_entry_per_page_as_expected() {
        // One fault per 2 MiB, VmPTE grown as much as with base pages.
        let huge = with(&seed(), "after-read-first-chunk", |r| {
            r.faults = CHUNK / (2 << 20)
        });
        let claims = judge("thp-on", &huge, &[]);
        assert_verdict(&claims, READ_PAGE_TABLES.id, Some("thp-on"), Refuted);
        let c = claims.iter().find(|c| c.id == READ_PAGE_TABLES.id).unwrap();
        assert_eq!(
            crate::outcome::Outcome::of_claim(c),
            crate::outcome::Outcome::XFail
        );
        assert!(c.evidence.contains("huge zero page"), "{}", c.evidence);
    }

    #[test]
    fn each_chunk_written_must_add_its_size() {
        let short = with(&seed(), "after-write-second-chunk", |r| {
            r.region_rss -= PAGE
        });
        verdict("thp-off", &short, WRITE_PER_PAGE, Refuted);
        // With THP a huge page at the edge may be allocated whole...
        let edge = |extra| {
            let rows = with(&seed(), "after-write-first-chunk", |r| {
                r.region_rss += extra;
                r.huge = CHUNK;
            });
            with(&rows, "after-write-second-chunk", |r| {
                r.region_rss += extra;
                r.huge = 2 * CHUNK;
            })
        };
        verdict("thp-on", &edge(2 << 20), WRITE_PER_PAGE, Confirmed);
        verdict("thp-on", &edge((2 << 20) + PAGE), WRITE_PER_PAGE, Refuted);
        // ...but no huge page at all means the THP variant cannot be judged.
        verdict("thp-on", &seed(), WRITE_PER_PAGE, Inconclusive);
    }

    #[test]
    fn munmap_must_give_everything_back() {
        let rows = with(&seed(), "after-munmap", |r| r.pte += 2 * PAGE);
        verdict("thp-off", &rows, MUNMAP_RETURNS, Confirmed);
        let rows = with(&seed(), "after-munmap", |r| r.pte += 3 * PAGE);
        verdict("thp-off", &rows, MUNMAP_RETURNS, Refuted);
        let rows = with(&seed(), "after-munmap", |r| r.vsz += 3 * PAGE);
        verdict("thp-off", &rows, MUNMAP_RETURNS, Refuted);
    }

    fn overcommit(single: &str, pieces: u64) -> Vec<ClaimRecord> {
        let total: u64 = 16 << 30;
        let mut rows = seed();
        rows.push(Row {
            label: "after-overcommit-attempts",
            vsz: BASE + pieces * total / 2,
            ..rows[0]
        });
        judge(
            OVERCOMMIT_VARIANT,
            &rows,
            &[
                ("overcommit_ram_and_swap_bytes", total.to_string()),
                ("overcommit_single_bytes", (total + (1 << 30)).to_string()),
                ("overcommit_single_result", single.into()),
                ("overcommit_piece_bytes", (total / 2).to_string()),
                ("overcommit_pieces_mapped", pieces.to_string()),
                ("overcommit_pieces_refused_with", "none".into()),
            ],
        )
    }

    #[test]
    fn overcommit_is_judged_for_the_mode_in_force_only() {
        let v = Some(OVERCOMMIT_VARIANT);
        let claims = overcommit("ENOMEM", 3);
        assert_verdict(&claims, OVERCOMMIT_PIECES.id, v, Confirmed);
        assert_verdict(&claims, OVERCOMMIT_HEURISTIC.id, v, Confirmed);
        assert_verdict(&claims, OVERCOMMIT_ALWAYS.id, v, Inconclusive);
        assert_verdict(&claims, OVERCOMMIT_NEVER.id, v, Inconclusive);
        let claims = overcommit("mapped", 2);
        assert_verdict(&claims, OVERCOMMIT_PIECES.id, v, Refuted);
        assert_verdict(&claims, OVERCOMMIT_HEURISTIC.id, v, Refuted);
        // Two halves are exactly RAM + swap: not more.
        assert_verdict(&overcommit("ENOMEM", 2), OVERCOMMIT_PIECES.id, v, Refuted);
    }

    #[test]
    fn signed_sizes_show_their_direction() {
        assert_eq!(signed_bytes(-2048), "-2.0 KiB");
        assert_eq!(signed_bytes(1 << 30), "+1.0 GiB");
    }
}
