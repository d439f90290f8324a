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
    human_bytes, pages, process_at, region_at, verdict_of, Claim, Experiment, Explanation, Plan,
    PlanContext, PlannedVariant,
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
    statement: "An anonymous mmap shows up in the address space at once (VmSize grows by its size) but is not backed by memory: VmRSS does not grow.",
    criterion: "",
};
const MAP_COMMITS: Claim = Claim {
    id: "anonymous-mmap-is-committed-at-once",
    source: SEED_003,
    statement: "The kernel counts a private writable mapping as promised memory as soon as it is made: Committed_AS grows by its size although nothing is used.",
    criterion: "",
};
const READ_NO_MEMORY: Claim = Claim {
    id: "reading-untouched-memory-uses-no-memory",
    source: SEED_002,
    statement: "Reading anonymous memory that was never written costs page faults but no memory: every page reads as the one shared zero page.",
    criterion: "",
};
const READ_PAGE_TABLES: Claim = Claim {
    id: "reading-untouched-memory-costs-page-tables",
    source: SEED_002,
    statement: "Reading untouched anonymous memory still costs page tables: each page read gets an entry pointing at the zero page.",
    criterion: "",
};
const WRITE_PER_PAGE: Claim = Claim {
    id: "writing-costs-a-page-per-page",
    source: SEED_002,
    statement:
        "Only writing makes anonymous memory real: each written chunk adds its own size to RSS.",
    criterion: "",
};
const MUNMAP_RETURNS: Claim = Claim {
    id: "munmap-returns-address-space-memory-and-commit",
    source: SEED_003,
    statement: "Unmapping gives back the address space, the memory and the commit.",
    criterion: "",
};
const OVERCOMMIT_PIECES: Claim = Claim {
    id: "default-kernel-lets-a-process-map-more-than-ram",
    source: SEED_003,
    statement: "On a default setup the kernel overcommits: a process can keep asking for address space and get more in all than the machine has memory.",
    criterion: "",
};
const OVERCOMMIT_POLICY: Claim = Claim {
    id: "overcommit-policy-decides-a-mapping-larger-than-ram",
    source: SEED_003,
    statement: "Whether one mapping larger than RAM + swap is allowed depends on vm.overcommit_memory: the heuristic (0) and never (2) refuse it, always (1) grants it.",
    criterion: "",
};

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
        ("after-write-first-chunk", "One byte of every page of the first chunk was written. Each write replaced the zero page with a private zeroed frame: now the chunk is memory."),
        ("after-write-second-chunk", "The second chunk, never read, was written: the same cost again, a frame per page."),
        ("after-munmap", "The mapping is gone: address space, memory, page tables and commit are returned."),
        ("after-overcommit-attempts", "The process asked for one mapping larger than RAM + swap, then for three mappings of half that size each. What the kernel granted is visible in VmSize; the notes say what it refused and with which error."),
    ],
    expectations: "VmSize grows by the mapping at once and VmRSS by nothing. Committed_AS, a system-wide counter, \
        grows by the mapping's size too (private writable mappings are charged at mmap time unless MAP_NORESERVE), \
        but other processes move it as well, so it is judged against the noise measured in the same run. Reading \
        untouched pages maps the zero page: no RSS, but one page-table entry per page (8 bytes per 4 KiB page). \
        With THP on (MADV_HUGEPAGE), a read maps the huge zero page with one PMD entry per 2 MiB, so even the page \
        tables do not grow, and a write allocates a whole 2 MiB page. Under vm.overcommit_memory=0 a single \
        request larger than RAM + swap is refused with ENOMEM, while several smaller ones that together exceed \
        it are granted; under 1 everything is granted; under 2 nothing beyond CommitLimit is.",
    questions: &[
        "Why does reading 1 GiB of fresh anonymous memory not raise RSS?",
        "What does that read cost the kernel instead, and why is it smaller with THP?",
        "Committed_AS grew at mmap time: what would happen under vm.overcommit_memory=2 if it reached CommitLimit?",
        "Why does the heuristic policy refuse one huge mapping but grant three smaller ones adding up to more?",
        "Which of VmSize, VmRSS, VmPTE and Committed_AS would you watch to find a process that reserves a lot but uses little?",
    ],
};

impl Experiment for LazyAlloc {
    fn info(&self) -> &'static ExperimentInfo {
        &experiments::catalog::LAZY_ALLOC
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

    fn judge(&self, record: &ExperimentRecord, env: &Environment) -> Vec<ClaimRecord> {
        let mut claims = Vec::new();
        let per_variant = [
            MAP_NO_MEMORY,
            MAP_COMMITS,
            READ_NO_MEMORY,
            READ_PAGE_TABLES,
            WRITE_PER_PAGE,
            MUNMAP_RETURNS,
        ];
        for variant in &record.variants {
            let name = Some(variant.name.as_str());
            if variant.status != Status::Ok {
                let why = format!(
                    "variant {} was {}: {}",
                    variant.name,
                    if variant.status == Status::Skipped {
                        "skipped"
                    } else {
                        "not finished"
                    },
                    variant.reason.as_deref().unwrap_or("no reason given")
                );
                claims.extend(per_variant.map(|c| c.unmeasured(name, why.clone())));
                continue;
            }
            let j = Judge { variant, env };
            claims.push(j.map_no_memory());
            claims.push(j.map_commits());
            claims.push(j.read_no_memory());
            claims.push(j.read_page_tables());
            claims.push(j.write_per_page());
            claims.push(j.munmap_returns());
            if variant.notes.contains_key("overcommit_single_result") {
                claims.push(j.overcommit_pieces());
                claims.push(j.overcommit_policy());
            }
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

fn signed_bytes(delta: i64) -> String {
    format!(
        "{}{}",
        if delta < 0 { "-" } else { "+" },
        human_bytes(delta.unsigned_abs())
    )
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
        self.page() * (self.page() / 8)
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
        let rss = after.totals.rss_bytes as i64 - before.totals.rss_bytes as i64;
        let size = region.figures.size_bytes as i64;
        let tol = 2 * self.page() as i64;
        let holds = size > 0
            && (vsz - size).abs() <= tol
            && rss.abs() <= tol
            && region.figures.rss_bytes == 0;
        MAP_NO_MEMORY.judged(
            self.name(),
            verdict_of(holds),
            format!(
                "VmSize grew by {} for a {} mapping; VmRSS changed by {rss} bytes and the mapping's Rss is {} (tolerance 2 pages)",
                signed_bytes(vsz),
                human_bytes(size as u64),
                human_bytes(region.figures.rss_bytes)
            ),
        )
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

    fn map_commits(&self) -> ClaimRecord {
        let (Some(before), Some(after), Some((noise, band)), Some(region)) = (
            self.system("before-mmap"),
            self.system("after-mmap"),
            self.commit_band(),
            region_at(self.variant, "after-mmap", MAIN, "anon"),
        ) else {
            return MAP_COMMITS.unmeasured(
                self.name(),
                "/proc/meminfo was not read at every checkpoint",
            );
        };
        let delta = after.committed_as_bytes as i64 - before.committed_as_bytes as i64;
        let size = region.figures.size_bytes as i64;
        let holds = (delta - size).unsigned_abs() <= band;
        MAP_COMMITS.judged(
            self.name(),
            verdict_of(holds),
            format!(
                "Committed_AS grew by {} across mmap for a {} mapping. Committed_AS is system-wide: over the \
                 read and write phases, which commit nothing, it moved by up to {} (other processes), so the \
                 tolerance is twice that plus {COMMIT_SLACK_PAGES} pages ({})",
                signed_bytes(delta),
                human_bytes(size as u64),
                human_bytes(noise),
                human_bytes(band)
            ),
        )
    }

    fn read_no_memory(&self) -> ClaimRecord {
        let (Some(before), Some(after), Some(region), Some(chunk)) = (
            process_at(self.variant, "after-mmap", MAIN),
            process_at(self.variant, "after-read-first-chunk", MAIN),
            region_at(self.variant, "after-read-first-chunk", MAIN, "anon"),
            self.chunk(),
        ) else {
            return READ_NO_MEMORY
                .unmeasured(self.name(), "after-read-first-chunk was not measured");
        };
        let rss = after.totals.rss_bytes as i64 - before.totals.rss_bytes as i64;
        let faults = after.faults.minor + after.faults.major;
        let chunk_pages = pages(chunk, self.page());
        let tol = 2 * self.page() as i64;
        let holds = rss.abs() <= tol && region.figures.rss_bytes <= 2 * self.page() && faults > 0;
        READ_NO_MEMORY.judged(
            self.name(),
            verdict_of(holds),
            format!(
                "reading {chunk_pages} untouched pages cost {faults} faults; VmRSS changed by {rss} bytes and the \
                 mapping's Rss is {} (tolerance 2 pages){}",
                human_bytes(region.figures.rss_bytes),
                if self.thp() && faults * 16 < chunk_pages {
                    format!(
                        "; about one fault per {}: the huge zero page was mapped a PMD at a time",
                        human_bytes(self.pmd_bytes())
                    )
                } else {
                    String::new()
                }
            ),
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
        let pte = after.totals.pte_bytes as i64 - before.totals.pte_bytes as i64;
        // One 8-byte entry per page read.
        let expected = (pages(chunk, self.page()) * 8) as i64;
        let holds = pte + 2 * self.page() as i64 >= expected;
        let faults = after.faults.minor + after.faults.major;
        let mut evidence = format!(
            "VmPTE grew by {} while reading {} pages with {faults} faults; one 8-byte entry per page read would \
             be {} (tolerance 2 pages)",
            signed_bytes(pte),
            pages(chunk, self.page()),
            human_bytes(expected as u64)
        );
        if self.thp() {
            evidence.push_str(&format!(
                ". With MADV_HUGEPAGE each read fault maps the huge zero page with one PMD entry per {}, yet the \
                 kernel still sets aside (deposits) a page of PTEs for each such PMD, to have it ready should the \
                 huge mapping be split, and counts it in VmPTE",
                human_bytes(self.pmd_bytes())
            ));
        }
        READ_PAGE_TABLES.judged(self.name(), verdict_of(holds), evidence)
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
        // With THP the first write into a 2 MiB page allocates all of it, which may
        // reach into the neighbouring chunk.
        let tol = if self.thp() {
            self.pmd_bytes() + 2 * page
        } else {
            2 * page
        };
        let mut parts = Vec::new();
        let mut holds = true;
        let mut huge_total = 0;
        for (from, to, chunk) in steps {
            let (Some(before), Some(after), Some(region_before), Some(region)) = (
                process_at(self.variant, from, MAIN),
                process_at(self.variant, to, MAIN),
                region_at(self.variant, from, MAIN, "anon"),
                region_at(self.variant, to, MAIN, "anon"),
            ) else {
                return WRITE_PER_PAGE.unmeasured(self.name(), format!("{to} was not measured"));
            };
            let delta = after.totals.rss_bytes as i64 - before.totals.rss_bytes as i64;
            let region_delta =
                region.figures.rss_bytes as i64 - region_before.figures.rss_bytes as i64;
            holds &= (delta - size as i64).unsigned_abs() <= tol
                && (region_delta - size as i64).unsigned_abs() <= tol;
            huge_total = region.figures.anon_huge_pages_bytes;
            parts.push(format!(
                "writing the {chunk} ({} pages) raised VmRSS by {} with {} faults",
                pages(size, page),
                signed_bytes(delta),
                after.faults.minor + after.faults.major
            ));
        }
        let mut evidence = format!(
            "{} (tolerance {}).",
            parts.join("; "),
            if self.thp() {
                "one huge page and 2 pages"
            } else {
                "2 pages"
            }
        );
        if self.thp() {
            if huge_total == 0 {
                return WRITE_PER_PAGE.unmeasured(
                    self.name(),
                    format!("precondition not met: no transparent huge page arrived (AnonHugePages 0). {evidence}"),
                );
            }
            evidence.push_str(&format!(
                " {} of it in transparent huge pages: memory still costs a byte per byte, but a fault per {}.",
                human_bytes(huge_total),
                human_bytes(self.pmd_bytes())
            ));
        }
        WRITE_PER_PAGE.judged(self.name(), verdict_of(holds), evidence)
    }

    fn munmap_returns(&self) -> ClaimRecord {
        let (
            Some(before),
            Some(after),
            Some(mapped),
            Some(sys_before),
            Some(sys_after),
            Some((_, band)),
        ) = (
            process_at(self.variant, "before-mmap", MAIN),
            process_at(self.variant, "after-munmap", MAIN),
            process_at(self.variant, "after-write-second-chunk", MAIN),
            self.system("after-write-second-chunk"),
            self.system("after-munmap"),
            self.commit_band(),
        )
        else {
            return MUNMAP_RETURNS
                .unmeasured(self.name(), "before-mmap or after-munmap was not measured");
        };
        let tol = 2 * self.page();
        let vsz = after
            .totals
            .vm_size_bytes
            .abs_diff(before.totals.vm_size_bytes);
        let rss = after.totals.rss_bytes.abs_diff(before.totals.rss_bytes);
        let pte = after.totals.pte_bytes.abs_diff(before.totals.pte_bytes);
        let commit = sys_before.committed_as_bytes as i64 - sys_after.committed_as_bytes as i64;
        let size = mapped.totals.vm_size_bytes as i64 - before.totals.vm_size_bytes as i64;
        let holds =
            vsz <= tol && rss <= tol && pte <= tol && (commit - size).unsigned_abs() <= band;
        MUNMAP_RETURNS.judged(
            self.name(),
            verdict_of(holds),
            format!(
                "after munmap VmSize, VmRSS and VmPTE differ from before mmap by {vsz}, {rss} and {pte} bytes \
                 (tolerance 2 pages; VmRSS had reached {}); across munmap Committed_AS changed by {} for a {} \
                 mapping (tolerance {}: twice the noise measured in the run plus {COMMIT_SLACK_PAGES} pages)",
                human_bytes(mapped.totals.rss_bytes),
                signed_bytes(-commit),
                human_bytes(size.unsigned_abs()),
                human_bytes(band)
            ),
        )
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

    fn overcommit_pieces(&self) -> ClaimRecord {
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
        let mut evidence = format!(
            "under {}, {mapped} of 3 mappings of {} each were granted ({} in all; RAM + swap is {}; VmSize \
             reached {}); refused with: {}",
            self.policy_text(),
            human_bytes(piece),
            human_bytes(got),
            human_bytes(total),
            human_bytes(vsz),
            self.note("overcommit_pieces_refused_with").unwrap_or("?")
        );
        if self.env.overcommit_memory == Some(2) {
            evidence.push_str(". This machine is not on the default policy: under 2 the kernel stops at CommitLimit");
        }
        OVERCOMMIT_PIECES.judged(self.name(), verdict_of(holds), evidence)
    }

    fn overcommit_policy(&self) -> ClaimRecord {
        let (Some(result), Some(size), Some(total)) = (
            self.note("overcommit_single_result"),
            self.note_number("overcommit_single_bytes"),
            self.note_number("overcommit_ram_and_swap_bytes"),
        ) else {
            return OVERCOMMIT_POLICY
                .unmeasured(self.name(), "the overcommit attempt was not reported");
        };
        let expected = match self.env.overcommit_memory {
            Some(0) | Some(2) => "ENOMEM",
            Some(1) => "mapped",
            _ => {
                return OVERCOMMIT_POLICY.unmeasured(
                    self.name(),
                    format!("{}; the kernel answered {result}", self.policy_text()),
                )
            }
        };
        let verdict = if result == expected {
            Verdict::Confirmed
        } else {
            Verdict::Refuted
        };
        OVERCOMMIT_POLICY.judged(
            self.name(),
            verdict,
            format!(
                "asked for one mapping of {} (RAM + swap is {}) under {}: the kernel answered {result}; the \
                 policy predicts {expected}",
                human_bytes(size),
                human_bytes(total),
                self.policy_text()
            ),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    const PAGE: u64 = 4096;
    const MAP: u64 = 1024 * PAGE;
    const CHUNK: u64 = 256 * PAGE;

    fn env() -> Environment {
        let mut env = Environment::detect(&std::env::temp_dir());
        env.page_size = PAGE;
        env
    }

    /// (label, VmSize, VmRSS, VmPTE, minor faults, Committed_AS, AnonHugePages)
    type Row = (&'static str, u64, u64, u64, u64, u64, u64);

    fn checkpoint((label, vsz, rss, pte, minor, commit, huge): Row) -> Value {
        json!({
            "label": label, "phase_millis": 0,
            "processes": [{
                "role": "main", "pid": 1,
                "faults": {"minor": minor, "major": 0}, "faults_total": {"minor": minor, "major": 0},
                "totals": {"vm_size_bytes": vsz, "rss_bytes": rss, "rss_anon_bytes": rss, "rss_file_bytes": 0,
                           "rss_shmem_bytes": 0, "pss_bytes": rss, "uss_bytes": rss, "pte_bytes": pte,
                           "stack_bytes": 0, "swap_bytes": 0},
                "regions": [{"name": "anon", "mapping_count": 1, "size_bytes": MAP,
                             "rss_bytes": rss.saturating_sub(PAGE * 100), "pss_bytes": 0,
                             "shared_clean_bytes": 0, "shared_dirty_bytes": 0, "private_clean_bytes": 0,
                             "private_dirty_bytes": 0, "anonymous_bytes": 0, "anon_huge_pages_bytes": huge,
                             "swap_bytes": 0}],
                "mappings": []
            }],
            "system": {"mem_free_bytes": 0, "mem_available_bytes": 0, "anon_pages_bytes": 0, "mapped_bytes": 0,
                       "page_tables_bytes": 0, "kernel_stack_bytes": 0, "slab_bytes": 0,
                       "slab_unreclaimable_bytes": 0, "committed_as_bytes": commit, "commit_limit_bytes": 0,
                       "anon_huge_pages_bytes": huge}
        })
    }

    fn record(variant: &str, rows: &[Row]) -> ExperimentRecord {
        serde_json::from_value(json!({
            "name": "lazy-alloc", "status": "ok", "reason": null, "params": {},
            "variants": [{
                "name": variant, "status": "ok", "reason": null,
                "notes": {"chunk_bytes": CHUNK.to_string(), "map_bytes": MAP.to_string()},
                "noise_floor": [],
                "checkpoints": rows.iter().copied().map(checkpoint).collect::<Vec<_>>()
            }],
            "claims": []
        }))
        .expect("a valid record")
    }

    fn verdict(record: &ExperimentRecord, id: &str) -> Verdict {
        LazyAlloc
            .judge(record, &env())
            .into_iter()
            .find(|c| c.id == id)
            .map(|c| c.verdict)
            .expect("claim judged")
    }

    const BASE: u64 = 100 * PAGE;
    const C0: u64 = 1 << 30;

    /// A run that behaves as the seeds say, with `huge` bytes of THP after writing.
    fn textbook(huge: u64) -> Vec<Row> {
        vec![
            ("before-mmap", BASE, BASE, 12 * PAGE, 0, C0, 0),
            ("after-mmap", BASE + MAP, BASE, 12 * PAGE, 0, C0 + MAP, 0),
            (
                "after-read-first-chunk",
                BASE + MAP,
                BASE,
                13 * PAGE,
                256,
                C0 + MAP,
                0,
            ),
            (
                "after-write-first-chunk",
                BASE + MAP,
                BASE + CHUNK,
                13 * PAGE,
                256,
                C0 + MAP,
                huge / 2,
            ),
            (
                "after-write-second-chunk",
                BASE + MAP,
                BASE + 2 * CHUNK,
                14 * PAGE,
                256,
                C0 + MAP,
                huge,
            ),
            ("after-munmap", BASE, BASE, 12 * PAGE, 0, C0, 0),
        ]
    }

    #[test]
    fn a_textbook_run_confirms_and_a_read_that_allocates_refutes() {
        let good = record("thp-off", &textbook(0));
        for id in [
            MAP_NO_MEMORY.id,
            MAP_COMMITS.id,
            READ_NO_MEMORY.id,
            READ_PAGE_TABLES.id,
            WRITE_PER_PAGE.id,
            MUNMAP_RETURNS.id,
        ] {
            assert_eq!(verdict(&good, id), Verdict::Confirmed, "{id}");
        }
        let mut rows = textbook(0);
        rows[2].2 = BASE + CHUNK; // the read made the chunk resident
        assert_eq!(
            verdict(&record("thp-off", &rows), READ_NO_MEMORY.id),
            Verdict::Refuted
        );
    }

    #[test]
    fn thp_figures_are_not_judged_when_no_huge_page_arrived() {
        assert_eq!(
            verdict(&record("thp-on", &textbook(0)), WRITE_PER_PAGE.id),
            Verdict::Inconclusive
        );
        assert_eq!(
            verdict(&record("thp-on", &textbook(2 * CHUNK)), WRITE_PER_PAGE.id),
            Verdict::Confirmed
        );
    }

    #[test]
    fn signed_sizes_show_their_direction() {
        assert_eq!(signed_bytes(-2048), "-2.0 KiB");
        assert_eq!(signed_bytes(1 << 30), "+1.0 GiB");
    }
}
