//! fork-cow: "Notes on VM" (Kristian Köhntopp, seed 000), "Hey dude, where's my
//! memory?" (Frits Hoogland, seed 002) and "Some things I've learned about
//! memory" (Evan Martin, seed 003) all say that fork copies nothing: the child
//! maps the parent's pages, a page is copied only when one side writes it, PSS
//! splits the shared pages between the sharers, and summing RSS over processes
//! counts shared pages more than once.
//!
//! Each claim is judged from smaps figures of both processes, their fault
//! deltas, and (the physical proof) the page frame numbers pagemap shows for a
//! sample of the region's pages.

use std::collections::BTreeMap;

use experiments::ExperimentInfo;
use serde_json::json;

use super::{
    human_bytes, pages, process_at, region_at, verdict_of, Claim, Experiment, Explanation, Plan,
    PlanContext, PlannedVariant,
};
use crate::model::{
    ClaimRecord, ExperimentRecord, MemoryFigures, RegionPagemap, Status, SummaryTable,
    VariantRecord,
};
use crate::system::Environment;

/// The experiment.
pub struct ForkCow;

const S000: &str = "000_242c9450f32c56c8.txt";
const S002: &str = "002_4ca7868f1a8c4269.txt";
const S003: &str = "003_189c8fe560e6e530.txt";
const PARENT: &str = "parent";
const CHILD: &str = "child";
const REGION: &str = "data";

/// Region sizes: full, and `--quick` (eight 2 MiB huge pages).
const FULL_REGION_BYTES: u64 = 256 << 20;
const QUICK_REGION_BYTES: u64 = 16 << 20;
/// Children of the zygote variant.
const ZYGOTE_CHILDREN: u64 = 4;
/// Page-count slack for faults that are not about the region: the first touch
/// of a stack page after fork, which is itself copied on write.
const STRAY_FAULT_PAGES: u64 = 8;
/// Bytes of one PMD-mapped huge page on x86-64.
const HUGE_PAGE_BYTES: u64 = 2 << 20;

/// Variants that fork one child; the anonymous ones share page tables at fork.
const ANON_VARIANTS: [&str; 2] = ["thp-off", "thp-on"];

/// smaps prints Pss in whole kB, truncated: per mapping a figure may be up to
/// this much below the exact share.
const PSS_ROUNDING_BYTES: u64 = 1024;

/// Failure: fork copied the region (Pss equal to Rss), or the child lacks pages.
const FORK_SHARES: Claim = Claim {
    id: "fork-copies-nothing",
    source: S002,
    statement: "Right after fork the child has the parent's memory without a copy: the region's Rss is the same in both, and each one's Pss is half of it.",
    criterion: "at after-fork, the region's smaps Rss equals its Size in the parent (the fill touched every page) \
        and in the child, exactly, and each one's Pss is Rss / 2 within 1 KiB per mapping (smaps prints whole \
        kB, truncated)",
};
/// Failure: the child's page tables were not copied at fork, so reads fault.
const READ_NO_FAULT: Claim = Claim {
    id: "child-reads-without-faults",
    source: S003,
    statement: "The child reads every inherited anonymous page without a page fault: the pages are already mapped, shared copy-on-write.",
    criterion: "the child's faults over child-read-all are at most 8 minor and 0 major (its own stack and \
        protocol pages, which fork made copy-on-write too), for a region of thousands of pages",
};
/// Failure: the child got the file's page table entries at fork, or never shared the parent's pages.
const FILE_READ_FAULTS: Claim = Claim {
    id: "private-file-child-faults-to-read",
    source: S003,
    statement: "A private file mapping the parent has only read is not copied at fork: the child starts with none of it resident and faults to read it, then shares the parent's page-cache pages.",
    criterion: "at after-fork the child's smaps Rss of the mapping is 0 while the parent's is its Size, exactly; \
        over child-read-all the child takes at least 1 fault and its Rss becomes the Size, with Pss Rss / 2 \
        within 1 KiB per mapping",
};
/// Failure: a write copied more (or less) than the page written, e.g. a whole huge page.
const WRITE_COPIES: Claim = Claim {
    id: "write-copies-only-the-written-pages",
    source: S000,
    statement: "When a child writes to a page it inherited, a copy is made of that page only: writing N pages costs N minor faults and moves N pages from shared to private; the rest stay shared.",
    criterion: "over child-write-quarter (a quarter of the region written), the child's minor faults are the pages \
        written within 8 (its own stack pages); its Private_Dirty grows and its shared pages shrink by exactly \
        the pages written, and the parent's private pages are exactly those pages",
};
/// Failure: the frames differ right after fork (a copy), or stay the same after a write (a leak).
const PHYSICAL: Claim = Claim {
    id: "same-frames-until-written",
    source: S002,
    statement: "Parent and child map the same physical page frames until the child writes; a written page gets a frame of its own.",
    criterion: "of the pages pagemap samples evenly over the region, every one has the same PFN in parent and \
        child at after-fork (file-private: child-read-all); after child-write-quarter every sampled page in the \
        written quarter has different PFNs and every other one still the same. Precondition: PFNs readable \
        (root)",
};
/// Failure: one side saw the other's writes; copy-on-write is broken.
const CONTENT: Claim = Claim {
    id: "writes-do-not-leak",
    source: S000,
    statement: "After the child writes, each side still reads its own data: the child's writes never show in the parent.",
    criterion: "each process read back the tag of every page of the region after the writes: 0 pages hold \
        another process's data, exactly, and every page was checked",
};
/// Failure: pages stay charged to processes that are gone.
const EXIT_PSS: Claim = Claim {
    id: "pss-returns-to-rss-when-sharers-exit",
    source: S003,
    statement: "When the processes sharing memory exit, the survivor's Pss goes up: the shared pages are now charged to it alone, Pss equal to Rss.",
    criterion: "the parent's Pss of the region is below its Rss by more than 1 KiB per mapping before the children \
        exit (precondition: pages are shared) and equals its Rss within 1 KiB per mapping after",
};
/// Failure: a child owns more than the share it wrote.
const ZYGOTE_SHARED: Claim = Claim {
    id: "zygote-children-share-the-initialised-state",
    source: S003,
    statement: "State initialised before a zygote forks stays shared by every child as long as it is not modified: each child's private memory is only the share it wrote.",
    criterion: "at children-write-share, every child's Private_Dirty of the region is exactly the pages it wrote \
        (a sixteenth of the region) and its Shared_Dirty exactly the rest",
};
/// Failure: summed Rss is not inflated by sharing, or summed Pss misses the memory in use.
const RSS_DOUBLE_COUNTS: Claim = Claim {
    id: "summing-rss-double-counts",
    source: S002,
    statement: "Adding up the memory figures of processes that share pages counts those pages once per process; the sum of Pss is the memory really used.",
    criterion: "at children-write-share, Σ Rss of the region over the parent and its children is (children + 1) × \
        its Size, exactly, and Σ Pss is the region plus every child's copies within 1 KiB per process (smaps \
        rounding)",
};

/// Every claim, in the order the variants judge them.
static CLAIMS: [Claim; 9] = [
    FORK_SHARES,
    READ_NO_FAULT,
    FILE_READ_FAULTS,
    WRITE_COPIES,
    PHYSICAL,
    CONTENT,
    EXIT_PSS,
    ZYGOTE_SHARED,
    RSS_DOUBLE_COUNTS,
];

/// What a judge found: whether the criterion holds, the evidence, and the
/// measured figure in a few words; or why it could not be judged.
type Judged = Result<Finding, String>;

/// A judge's finding.
struct Finding {
    holds: bool,
    evidence: String,
    measured: String,
}

/// A claim with the judge bound to it.
type Case = (Claim, fn(&Judge<'_>) -> Judged);

const FORK_SHARES_CASE: Case = (FORK_SHARES, |j| j.fork_shares());
const READ_NO_FAULT_CASE: Case = (READ_NO_FAULT, |j| j.read_no_fault());
const FILE_READ_CASE: Case = (FILE_READ_FAULTS, |j| j.file_read_faults());
const WRITE_COPIES_CASE: Case = (WRITE_COPIES, |j| j.write_copies());
const PHYSICAL_CASE: Case = (PHYSICAL, |j| j.physical());
const CONTENT_CASE: Case = (CONTENT, |j| j.content());
const EXIT_PSS_CASE: Case = (EXIT_PSS, |j| j.exit_pss());
const ZYGOTE_CASE: Case = (ZYGOTE_SHARED, |j| j.zygote_shared());
const SUMS_CASE: Case = (RSS_DOUBLE_COUNTS, |j| j.rss_double_counts());

static EXPLANATION: Explanation = Explanation {
    seed_claims: "Kristian Köhntopp (\"Notes on VM\") explains that a preforked Apache's children share the parent's \
        pages, even its writable ones, until a child writes one, and only that page is copied. Frits Hoogland (\"Hey \
        dude, where's my memory?\") describes fork as giving the child pointers to the parent's memory, copied only \
        on a change, and warns that adding up the memory figures of processes counts shared pages many times. Evan \
        Martin (\"Some things I've learned about memory\") lists fork among the ways processes share pages, presents \
        Pss as each sharer's fair part, notes that a sharer's exit raises the others' Pss, and describes Chrome's \
        zygote: state set up before it forks stays shared by every process forked from it.",
    steps: &[
        ("after-mmap", "The parent mapped the region. Nothing is resident yet."),
        ("thp-off/after-mmap", "The parent mapped an anonymous region and advised MADV_NOHUGEPAGE: it will be backed by 4 KiB pages only. Nothing is resident yet."),
        ("thp-on/after-mmap", "The parent mapped an anonymous region aligned to 2 MiB and advised MADV_HUGEPAGE: the fill may get transparent huge pages. Nothing is resident yet."),
        ("file-private/after-mmap", "The parent mapped a temp file MAP_PRIVATE (copy-on-write over the page cache). Nothing is resident yet."),
        ("zygote/after-mmap", "The zygote (the parent) mapped an anonymous region it will initialise before forking its children. Nothing is resident yet."),
        ("after-fill", "The parent wrote a tag into every page. The whole region is resident and belongs to the parent alone."),
        ("thp-on/after-fill", "The parent wrote a tag into every page: one fault per 2 MiB huge page, so AnonHugePages is the whole region."),
        ("file-private/after-fill", "The parent read every page of the file mapping: its pages are the page cache's, mapped (Private_Clean, since only this process maps them); nothing has been copied."),
        ("after-fork", "fork returned. The child's page tables point at the parent's pages, now write-protected in both; nothing was copied, so each has the region's full Rss and half of it as Pss."),
        ("thp-on/after-fork", "fork returned. The child's page tables map the parent's huge pages with the same PMD entries, write-protected; nothing was copied."),
        ("file-private/after-fork", "fork returned. A private file mapping without private (written) pages is not copied at fork: the child's page tables for it are empty and it will fault its pages in from the page cache."),
        ("zygote/after-fork", "The zygote forked its children: every one maps the zygote's initialised pages, so each process's Pss is a fifth of its Rss."),
        ("child-read-all", "The child read every page. Anonymous pages were already mapped, so this costs no faults."),
        ("file-private/child-read-all", "The child read every page of the file mapping, faulting them in from the page cache (fault-around maps several per fault); parent and child now share the same page-cache pages."),
        ("child-write-quarter", "The child wrote every page of the first quarter. Each write hit a write-protected page and faulted; the kernel gave the child its own copy. Those pages are now private in both processes."),
        ("thp-on/child-write-quarter", "The child wrote every 4 KiB page of the first quarter. The first write into each huge page split the child's PMD mapping of it; each written 4 KiB page was copied on its own, and the parent kept its huge mappings."),
        ("file-private/child-write-quarter", "The child wrote every page of the first quarter: each write copied the page-cache page into a private anonymous page of the child's. The parent's originals are page-cache pages mapped by it alone now (Private_Clean)."),
        ("child-write-all", "The child wrote the rest of the region: every page is now copied, and parent and child share nothing in it."),
        ("after-child-exit", "The child exited and was reaped. Its copies, anonymous memory, are freed; the parent is the only user of every page of the region."),
        ("file-private/after-child-exit", "The child exited and was reaped. Its copies (anonymous) are freed; the file's pages stay in the page cache, which outlives every process mapping them."),
        ("children-write-share", "Each zygote child wrote its own sixteenth of the region: only those pages were copied; the rest is still shared by all."),
        ("after-children-exit", "Every zygote child exited: their copies are freed, and the parent's Pss is its Rss again."),
    ],
    expectations: "On a current kernel the anonymous variants behave as the seeds say: after fork Rss is equal in both \
        processes, each Pss is half, reading costs nothing and each written page costs one minor fault, moving one \
        page from Shared_Dirty to Private_Dirty in both processes. With THP, fork shares the 2 MiB pages through the \
        PMD; the child's first write splits its PMD mapping and copies only the 4 KiB page written (since Linux 5.8), \
        so faults still follow 4 KiB pages and the child's AnonHugePages drops. The private file mapping is the \
        exception to 'nothing is copied and nothing faults': since the page tables of a file mapping without private \
        pages are not copied at fork, the child faults to read, with fault-around mapping several pages per fault. \
        Physically, pagemap shows the same frame numbers in both processes until the child writes (as root; others \
        see zero PFNs).",
    questions: &[
        "Why is the child's Rss as large as the parent's right after fork, although nothing was copied?",
        "How does Pss divide a page shared by two processes, and what happens to the parent's Pss when the child exits?",
        "Why does the child fault to read a private file mapping but not anonymous memory?",
        "How many faults does writing N pages cost, and where do those pages move in smaps?",
        "With transparent huge pages, does a write copy 2 MiB or 4 KiB? What shows it?",
        "Why does summing Rss over the zygote's children overstate the memory they use?",
    ],
    answers: &[],
};

impl Experiment for ForkCow {
    fn info(&self) -> &'static ExperimentInfo {
        &experiments::catalog::fork_cow::INFO
    }

    /// Parent and child side by side, one row per checkpoint, for each variant
    /// with one child: the region's Rss, Pss and Private_Dirty, and the phase's
    /// faults.
    fn summary(&self, record: &ExperimentRecord, _env: &Environment) -> Vec<SummaryTable> {
        let side = |p: Option<&crate::model::ProcessRecord>| -> [String; 4] {
            match p {
                None => ["-", "-", "-", "-"].map(String::from),
                Some(p) => {
                    let f = p
                        .region(REGION)
                        .map(|r| r.figures.clone())
                        .unwrap_or_default();
                    [
                        human_bytes(f.rss_bytes),
                        human_bytes(f.pss_bytes),
                        human_bytes(f.private_dirty_bytes),
                        format!("{} / {}", p.faults.minor, p.faults.major),
                    ]
                }
            }
        };
        record
            .variants
            .iter()
            .filter(|v| v.status == Status::Ok && v.name != "zygote")
            .map(|v| SummaryTable {
                title: format!("{}: the region in parent and child", v.name),
                headers: [
                    "checkpoint",
                    "parent Rss",
                    "parent Pss",
                    "parent Private_Dirty",
                    "parent faults (min / maj)",
                    "child Rss",
                    "child Pss",
                    "child Private_Dirty",
                    "child faults (min / maj)",
                ]
                .map(String::from)
                .to_vec(),
                rows: v
                    .checkpoints
                    .iter()
                    .map(|c| {
                        let mut row = vec![c.label.clone()];
                        row.extend(side(c.process(PARENT)));
                        row.extend(side(c.process(CHILD)));
                        row
                    })
                    .collect(),
            })
            .collect()
    }

    fn plan(&self, ctx: &PlanContext<'_>) -> Result<Plan, String> {
        let bytes = ctx.size_bytes.unwrap_or(if ctx.quick {
            QUICK_REGION_BYTES
        } else {
            FULL_REGION_BYTES
        });
        let page = ctx.env.page_size.max(1);
        if bytes < 64 * page {
            return Err(format!(
                "a region of {bytes} bytes is too small to divide into quarters and sixteenths; use --size 1MiB or more"
            ));
        }
        // Parent and child each end with a full copy, plus the page cache of the file.
        let needed = 2 * bytes + (64 << 20);
        if let Some(limit) = ctx.env.memory_room_bytes() {
            if limit < needed {
                return Err(format!(
                    "the memory free for this run ({}, MemAvailable within the cgroup limit) cannot hold two copies of the region ({}); use --quick or a smaller --size",
                    human_bytes(limit),
                    human_bytes(bytes)
                ));
            }
        }
        if ctx.env.temp_dir_free_bytes < bytes + bytes / 20 {
            return Err(format!(
                "needs {} free in {} for the file-private variant; pass --dir elsewhere, --quick or a smaller --size",
                human_bytes(bytes),
                ctx.env.temp_dir.display()
            ));
        }
        let variant = |name: &str| {
            let mut args: Vec<std::ffi::OsString> = vec![
                "--variant".into(),
                name.into(),
                "--region-bytes".into(),
                bytes.to_string().into(),
            ];
            if name == "zygote" {
                args.extend(["--children".into(), ZYGOTE_CHILDREN.to_string().into()]);
            }
            PlannedVariant {
                name: name.to_string(),
                args,
            }
        };
        let mut params = BTreeMap::new();
        params.insert("region_bytes".into(), json!(bytes));
        params.insert("zygote_children".into(), json!(ZYGOTE_CHILDREN));
        Ok(Plan {
            params,
            variants: ["thp-off", "thp-on", "file-private", "zygote"]
                .into_iter()
                .map(variant)
                .collect(),
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
            let expected = claims_of(&variant.name);
            if variant.status != Status::Ok {
                let why = format!(
                    "variant {} {}: {}",
                    variant.name,
                    if variant.status == Status::Skipped {
                        "was skipped"
                    } else {
                        "failed"
                    },
                    variant.reason.as_deref().unwrap_or("no reason given")
                );
                claims.extend(
                    expected
                        .iter()
                        .map(|(c, _)| c.unmeasured(name, why.clone())),
                );
                continue;
            }
            let judge = Judge { variant, env };
            if let Some(why) = judge.thp_missing() {
                claims.extend(
                    expected
                        .iter()
                        .map(|(c, _)| c.unmeasured(name, why.clone())),
                );
                continue;
            }
            for (claim, judge_fn) in expected {
                claims.push(judge.judge(claim, judge_fn));
            }
        }
        claims
    }
}

/// The claims judged on each variant, with their judges. The one-child variants
/// copy every page before the child exits, so nothing is shared then and the
/// exit claim is judged on the zygote only.
fn claims_of(variant: &str) -> Vec<Case> {
    match variant {
        v if ANON_VARIANTS.contains(&v) => vec![
            FORK_SHARES_CASE,
            READ_NO_FAULT_CASE,
            WRITE_COPIES_CASE,
            PHYSICAL_CASE,
            CONTENT_CASE,
        ],
        "file-private" => vec![
            FILE_READ_CASE,
            WRITE_COPIES_CASE,
            PHYSICAL_CASE,
            CONTENT_CASE,
        ],
        "zygote" => vec![ZYGOTE_CASE, SUMS_CASE, CONTENT_CASE, EXIT_PSS_CASE],
        _ => Vec::new(),
    }
}

/// One sampled page as the parent and the child map it.
struct FramePair {
    page_index: u64,
    parent_pfn: Option<u64>,
    child_pfn: Option<u64>,
    parent_map_count: Option<u64>,
}

impl FramePair {
    /// Pairs the samples of the same pages.
    fn of(parent: &RegionPagemap, child: &RegionPagemap) -> Vec<FramePair> {
        parent
            .sample
            .iter()
            .zip(&child.sample)
            .filter(|(p, c)| p.page_index == c.page_index)
            .map(|(p, c)| FramePair {
                page_index: p.page_index,
                parent_pfn: p.pfn,
                child_pfn: c.pfn,
                parent_map_count: p.map_count,
            })
            .collect()
    }

    /// Both map the same frame.
    fn same(&self) -> bool {
        self.parent_pfn.is_some() && self.parent_pfn == self.child_pfn
    }

    /// Both map a frame, and not the same one.
    fn differ(&self) -> bool {
        self.parent_pfn.is_some() && self.child_pfn.is_some() && self.parent_pfn != self.child_pfn
    }
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

    fn figures(&self, label: &str, role: &str) -> Option<&MemoryFigures> {
        Some(&region_at(self.variant, label, role, REGION)?.figures)
    }

    fn pagemap(&self, label: &str, role: &str) -> Option<&RegionPagemap> {
        region_at(self.variant, label, role, REGION)?
            .pagemap
            .as_ref()
    }

    fn note(&self, key: &str) -> Option<u64> {
        self.variant.notes.get(key)?.parse().ok()
    }

    fn region_pages(&self) -> Option<u64> {
        self.note("region_pages")
    }

    fn pages_text(&self, bytes: u64) -> String {
        format!("{} pages", pages(bytes, self.page()))
    }

    /// For `thp-on`: why the THP claims cannot be judged, if they cannot.
    fn thp_missing(&self) -> Option<String> {
        if self.variant.name != "thp-on" {
            return None;
        }
        if self.env.thp_enabled == "never" {
            return Some(
                "precondition not met: transparent huge pages are disabled (enabled = never), so MADV_HUGEPAGE gets none"
                    .into(),
            );
        }
        match self.figures("after-fill", PARENT) {
            None => Some("after-fill was not measured".into()),
            Some(f) if f.anon_huge_pages_bytes == 0 => Some(format!(
                "precondition not met: no huge page arrived (AnonHugePages 0 after the fill; THP enabled = {}, defrag = {}, region aligned to 2 MiB: {})",
                self.env.thp_enabled,
                self.env.thp_defrag,
                self.variant
                    .notes
                    .get("region_aligned_to_2mib")
                    .map_or("unknown", String::as_str)
            )),
            Some(_) => None,
        }
    }

    fn judge(&self, claim: Claim, judge: fn(&Judge<'_>) -> Judged) -> ClaimRecord {
        match judge(self) {
            Ok(f) => claim
                .judged(self.name(), verdict_of(f.holds), f.evidence)
                .with_measured(f.measured),
            Err(why) => claim.unmeasured(self.name(), why),
        }
    }

    /// The region's figures of `role` at `label`, or why they are missing.
    fn need(&self, label: &str, role: &str) -> Result<&MemoryFigures, String> {
        self.figures(label, role)
            .ok_or_else(|| format!("{label} was not measured for the {role}"))
    }

    fn faults_of(&self, label: &str, role: &str) -> Result<crate::model::Faults, String> {
        process_at(self.variant, label, role)
            .map(|p| p.faults)
            .ok_or_else(|| format!("{label} was not measured for the {role}"))
    }

    fn pages_of_region(&self) -> Result<u64, String> {
        self.region_pages()
            .ok_or_else(|| "the experiment did not report region_pages".to_string())
    }

    /// Whether Pss is Rss / `n` within the smaps rounding of the region's mappings.
    fn is_share(&self, label: &str, role: &str, n: u64) -> bool {
        region_at(self.variant, label, role, REGION).is_some_and(|r| {
            let tol = PSS_ROUNDING_BYTES * r.mapping_count.max(1) as u64;
            r.figures.pss_bytes.abs_diff(r.figures.rss_bytes / n) <= tol
        })
    }

    fn fork_shares(&self) -> Judged {
        let parent = self.need("after-fork", PARENT)?;
        let child = self.need("after-fork", CHILD)?;
        let size = parent.size_bytes;
        let holds = size > 0
            && parent.rss_bytes == size
            && child.rss_bytes == size
            && self.is_share("after-fork", PARENT, 2)
            && self.is_share("after-fork", CHILD, 2);
        Ok(Finding {
            holds,
            evidence: format!(
                "after fork the region ({}) has Rss {} in the parent and {} in the child; Pss {} and {}; \
                 Shared_Dirty {} and {}",
                human_bytes(size),
                human_bytes(parent.rss_bytes),
                human_bytes(child.rss_bytes),
                human_bytes(parent.pss_bytes),
                human_bytes(child.pss_bytes),
                human_bytes(parent.shared_dirty_bytes),
                human_bytes(child.shared_dirty_bytes),
            ),
            measured: format!(
                "Rss {} / {}, Pss {} / {}",
                human_bytes(parent.rss_bytes),
                human_bytes(child.rss_bytes),
                human_bytes(parent.pss_bytes),
                human_bytes(child.pss_bytes)
            ),
        })
    }

    fn read_no_fault(&self) -> Judged {
        let faults = self.faults_of("child-read-all", CHILD)?;
        let pages = self.pages_of_region()?;
        Ok(Finding {
            holds: faults.minor <= STRAY_FAULT_PAGES && faults.major == 0,
            evidence: format!(
                "reading all {pages} pages cost the child {} minor and {} major faults",
                faults.minor, faults.major
            ),
            measured: format!("{} faults for {pages} pages", faults.minor + faults.major),
        })
    }

    fn file_read_faults(&self) -> Judged {
        let after_fork = self.need("after-fork", CHILD)?;
        let parent = self.need("after-fork", PARENT)?;
        let read = self.need("child-read-all", CHILD)?;
        let faults = self.faults_of("child-read-all", CHILD)?;
        let pages = self.pages_of_region()?;
        let taken = faults.minor + faults.major;
        let holds = after_fork.rss_bytes == 0
            && parent.size_bytes > 0
            && parent.rss_bytes == parent.size_bytes
            && taken >= 1
            && read.rss_bytes == read.size_bytes
            && self.is_share("child-read-all", CHILD, 2);
        Ok(Finding {
            holds,
            evidence: format!(
                "after fork the child's Rss of the mapping is {} (parent {}); reading its {pages} pages cost the \
                 child {} minor and {} major faults ({:.1} pages per fault: fault-around and large page-cache \
                 folios map several per fault), after which its Rss is {} and Pss {}: it shares the parent's \
                 page-cache pages",
                human_bytes(after_fork.rss_bytes),
                human_bytes(parent.rss_bytes),
                faults.minor,
                faults.major,
                pages as f64 / taken.max(1) as f64,
                human_bytes(read.rss_bytes),
                human_bytes(read.pss_bytes),
            ),
            measured: format!(
                "Rss 0 → {} with {taken} faults",
                human_bytes(read.rss_bytes)
            ),
        })
    }

    fn write_copies(&self) -> Judged {
        let before = self.need("child-read-all", CHILD)?;
        let after = self.need("child-write-quarter", CHILD)?;
        let parent = self.need("child-write-quarter", PARENT)?;
        let faults = self.faults_of("child-write-quarter", CHILD)?;
        let page = self.page();
        let written = self.pages_of_region()? / 4;
        let shared = |f: &MemoryFigures| f.shared_clean_bytes + f.shared_dirty_bytes;
        // The parent's originals of the copied pages are its alone now: dirty for
        // anonymous memory, clean page-cache pages for the file mapping.
        let parent_private = parent.private_dirty_bytes + parent.private_clean_bytes;
        let private_gain = after
            .private_dirty_bytes
            .saturating_sub(before.private_dirty_bytes);
        let shared_loss = shared(before).saturating_sub(shared(after));
        let holds = faults.minor >= written
            && faults.minor - written <= STRAY_FAULT_PAGES
            && private_gain == written * page
            && shared_loss == written * page
            && parent_private == written * page;
        let mut evidence = format!(
            "writing {written} pages cost the child {} minor faults; its Private_Dirty grew by {} and its shared \
             pages shrank by {}; the parent's private pages (Private_Clean + Private_Dirty) are now {}: the \
             originals of the copied pages are its alone",
            faults.minor,
            self.pages_text(private_gain),
            self.pages_text(shared_loss),
            self.pages_text(parent_private),
        );
        if self.variant.name == "thp-on" {
            evidence.push_str(&self.thp_write_text(before, after, parent, faults.minor, written));
        }
        Ok(Finding {
            holds,
            evidence,
            measured: format!(
                "{} faults, {} copied for {written} written",
                faults.minor,
                self.pages_text(private_gain)
            ),
        })
    }

    /// What THP changed about the write, from the figures: how many faults the
    /// fill and the write cost, and where the huge mappings went.
    fn thp_write_text(
        &self,
        before: &MemoryFigures,
        after: &MemoryFigures,
        parent: &MemoryFigures,
        write_faults: u64,
        written: u64,
    ) -> String {
        let huge = self.env.thp_pmd_bytes.unwrap_or(HUGE_PAGE_BYTES);
        let fill = process_at(self.variant, "after-fill", PARENT).map_or(0, |p| p.faults.minor);
        let huge_pages = before.anon_huge_pages_bytes / huge;
        let split = before
            .anon_huge_pages_bytes
            .saturating_sub(after.anon_huge_pages_bytes);
        let how = if write_faults.abs_diff(written) <= STRAY_FAULT_PAGES {
            format!(
                "one fault per 4 KiB page written: the child's huge mappings over the written range ({}) were split \
                 and each page was copied on its own, while the parent kept its huge mappings",
                human_bytes(split)
            )
        } else if write_faults <= written / (huge / self.page()).max(1) + STRAY_FAULT_PAGES {
            "far fewer faults than pages written: whole huge pages were copied at once".to_string()
        } else {
            "a fault count between one per page and one per huge page".to_string()
        };
        format!(
            ". With THP: the fill cost the parent {fill} faults for {} pages; the child held {huge_pages} huge pages \
             before writing and its AnonHugePages went from {} to {} (the parent's is {}); the write cost \
             {write_faults} faults for {written} pages: {how}",
            self.region_pages().unwrap_or(0),
            human_bytes(before.anon_huge_pages_bytes),
            human_bytes(after.anon_huge_pages_bytes),
            human_bytes(parent.anon_huge_pages_bytes),
        )
    }

    fn physical(&self) -> Judged {
        let shared_at = if self.variant.name == "file-private" {
            "child-read-all"
        } else {
            "after-fork"
        };
        let missing = || "pagemap was not read at a checkpoint this claim needs".to_string();
        let p0 = self.pagemap(shared_at, PARENT).ok_or_else(missing)?;
        let c0 = self.pagemap(shared_at, CHILD).ok_or_else(missing)?;
        let p1 = self
            .pagemap("child-write-quarter", PARENT)
            .ok_or_else(missing)?;
        let c1 = self
            .pagemap("child-write-quarter", CHILD)
            .ok_or_else(missing)?;
        let quarter = self.pages_of_region()? / 4;
        let exclusive = format!(
            "pages mapped by one process only (pagemap bit 56): {} in the parent and {} in the child at {shared_at}, \
             {} and {} after the child wrote {quarter} pages",
            p0.exclusive_pages, c0.exclusive_pages, p1.exclusive_pages, c1.exclusive_pages
        );
        let all = [p0, c0, p1, c1];
        if all
            .iter()
            .any(|m| m.sample.iter().any(|s| s.present && s.pfn.is_none()))
        {
            let why = all
                .iter()
                .find_map(|m| m.pfn_unavailable.clone())
                .unwrap_or_else(|| "pagemap showed no PFN for a present page".into());
            return Err(format!(
                "page frame numbers not readable: {why}; {exclusive}"
            ));
        }
        let before = FramePair::of(p0, c0);
        let after = FramePair::of(p1, c1);
        let same_before = before.iter().filter(|f| f.same()).count();
        let (written, untouched): (Vec<_>, Vec<_>) =
            after.iter().partition(|f| f.page_index < quarter);
        let differ_written = written.iter().filter(|f| f.differ()).count();
        let same_untouched = untouched.iter().filter(|f| f.same()).count();
        let counts = |v: &[&FramePair]| {
            v.iter()
                .filter_map(|f| f.parent_map_count)
                .map(|c| c.to_string())
                .collect::<Vec<_>>()
                .join(",")
        };
        let holds = !before.is_empty()
            && same_before == before.len()
            && !written.is_empty()
            && differ_written == written.len()
            && same_untouched == untouched.len();
        Ok(Finding {
            holds,
            evidence: format!(
                "of {} sampled pages, {same_before} had the same PFN in parent and child at {shared_at} (map counts \
                 {}); after the child wrote the first quarter, {differ_written} of the {} sampled pages in it had \
                 different PFNs and {same_untouched} of the {} others still the same (parent map counts {}); {exclusive}",
                before.len(),
                counts(&before.iter().collect::<Vec<_>>()),
                written.len(),
                untouched.len(),
                counts(&after.iter().collect::<Vec<_>>()),
            ),
            measured: format!(
                "{same_before}/{} same, then {differ_written}/{} written differ",
                before.len(),
                written.len()
            ),
        })
    }

    fn content(&self) -> Judged {
        let unreported = || "the content check was not reported".to_string();
        let checked = self.note("content_checked_pages").ok_or_else(unreported)?;
        let keys = [
            "content_child_mismatches_after_quarter",
            "content_parent_mismatches_after_quarter",
            "content_child_mismatches_after_all",
            "content_parent_mismatches_after_all",
        ];
        let counts: Vec<u64> = keys
            .iter()
            .map(|k| self.note(k))
            .collect::<Option<_>>()
            .ok_or_else(unreported)?;
        let holds = checked == self.pages_of_region()? && counts.iter().all(|c| *c == 0);
        let evidence = if self.variant.name == "zygote" {
            format!(
                "after the children wrote their shares, each child and the parent read back the tag of all {checked} \
                 pages: pages not holding what that reader should see (its own share, the parent's data elsewhere): \
                 {} in the children, {} in the parent",
                counts[2], counts[3]
            )
        } else {
            format!(
                "each side read back the tag of all {checked} pages after the child's writes: pages not holding the \
                 reader's own data: child {} and parent {} after the quarter, child {} and parent {} after all",
                counts[0], counts[1], counts[2], counts[3]
            )
        };
        Ok(Finding {
            holds,
            evidence,
            measured: format!(
                "{} mismatches in {checked} pages",
                counts.iter().sum::<u64>()
            ),
        })
    }

    fn exit_pss(&self) -> Judged {
        let (before_label, after_label) = if self.variant.name == "zygote" {
            ("children-write-share", "after-children-exit")
        } else {
            ("child-write-all", "after-child-exit")
        };
        let before = self.need(before_label, PARENT)?;
        let after = self.need(after_label, PARENT)?;
        let mapping_count = |label| {
            region_at(self.variant, label, PARENT, REGION)
                .map_or(1, |r| r.mapping_count.max(1) as u64)
        };
        let tol_before = PSS_ROUNDING_BYTES * mapping_count(before_label);
        if before.pss_bytes + tol_before >= before.rss_bytes {
            return Err(format!(
                "precondition not met: nothing was shared before the exit (the parent's Pss {} of Rss {} at \
                 {before_label})",
                human_bytes(before.pss_bytes),
                human_bytes(before.rss_bytes)
            ));
        }
        let holds = after.rss_bytes > 0 && self.is_share(after_label, PARENT, 1);
        Ok(Finding {
            holds,
            evidence: format!(
                "the parent's Pss of the region was {} of Rss {} at {before_label}, and is {} of Rss {} at \
                 {after_label}",
                human_bytes(before.pss_bytes),
                human_bytes(before.rss_bytes),
                human_bytes(after.pss_bytes),
                human_bytes(after.rss_bytes),
            ),
            measured: format!(
                "Pss {} → {} of Rss {}",
                human_bytes(before.pss_bytes),
                human_bytes(after.pss_bytes),
                human_bytes(after.rss_bytes)
            ),
        })
    }

    fn children<'b>(&'b self, label: &str) -> Vec<&'b MemoryFigures> {
        self.variant
            .checkpoint(label)
            .map(|c| {
                c.processes
                    .iter()
                    .filter(|p| p.role.starts_with("child-"))
                    .filter_map(|p| p.region(REGION).map(|r| &r.figures))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The zygote's share per child and child count, with every child measured.
    fn zygote_children(&self) -> Result<(u64, u64, Vec<&MemoryFigures>), String> {
        let share = self
            .note("zygote_share_pages")
            .ok_or("the zygote's share was not reported")?;
        let count = self
            .note("zygote_children")
            .ok_or("the zygote's children were not reported")?;
        let children = self.children("children-write-share");
        if children.len() as u64 != count || count == 0 {
            return Err(format!(
                "{} of {count} children were measured at children-write-share",
                children.len()
            ));
        }
        Ok((share, count, children))
    }

    fn zygote_shared(&self) -> Judged {
        let (share, count, children) = self.zygote_children()?;
        let page = self.page();
        let private: Vec<u64> = children
            .iter()
            .map(|f| pages(f.private_dirty_bytes, page))
            .collect();
        let holds = children.iter().all(|f| {
            f.private_dirty_bytes == share * page
                && f.shared_dirty_bytes + share * page == f.size_bytes
        });
        Ok(Finding {
            holds,
            evidence: format!(
                "each of {count} children wrote {share} pages; their Private_Dirty in the region: {} pages; their \
                 Shared_Dirty: {}",
                private
                    .iter()
                    .map(u64::to_string)
                    .collect::<Vec<_>>()
                    .join(", "),
                children
                    .iter()
                    .map(|f| self.pages_text(f.shared_dirty_bytes))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            measured: format!(
                "Private_Dirty {} pages each (wrote {share})",
                private
                    .iter()
                    .map(u64::to_string)
                    .collect::<Vec<_>>()
                    .join("/")
            ),
        })
    }

    fn rss_double_counts(&self) -> Judged {
        let (share, count, children) = self.zygote_children()?;
        let pages_in_region = self.pages_of_region()?;
        let parent = self.need("children-write-share", PARENT)?;
        let page = self.page();
        let all: Vec<&MemoryFigures> = std::iter::once(parent).chain(children).collect();
        let rss: u64 = all.iter().map(|f| f.rss_bytes).sum();
        let pss: u64 = all.iter().map(|f| f.pss_bytes).sum();
        let used = (pages_in_region + count * share) * page;
        let tol = PSS_ROUNDING_BYTES * (count + 1);
        let holds = rss == (count + 1) * pages_in_region * page && pss.abs_diff(used) <= tol;
        Ok(Finding {
            holds,
            evidence: format!(
                "{} processes: the sum of their Rss of the region is {} ({} pages), the sum of Pss {} ({} pages); \
                 the pages really in use are the region plus each child's copies, {} pages ({}); summing Rss \
                 overstates it {:.1} times",
                count + 1,
                human_bytes(rss),
                pages(rss, page),
                human_bytes(pss),
                pages(pss, page),
                pages(used, page),
                human_bytes(used),
                rss as f64 / used.max(1) as f64,
            ),
            measured: format!(
                "Σ Rss {}, Σ Pss {} for {} used",
                human_bytes(rss),
                human_bytes(pss),
                human_bytes(used)
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{PageSample, ProcessRecord, RegionRecord, Verdict};

    const PAGE: u64 = 4096;
    const PAGES: u64 = 1024;

    fn figures(rss_pages: u64, pss_pages: u64, huge_pages: u64) -> MemoryFigures {
        MemoryFigures {
            size_bytes: PAGES * PAGE,
            rss_bytes: rss_pages * PAGE,
            pss_bytes: pss_pages * PAGE,
            shared_dirty_bytes: (rss_pages.saturating_sub(pss_pages)) * 2 * PAGE,
            anon_huge_pages_bytes: huge_pages * HUGE_PAGE_BYTES,
            ..Default::default()
        }
    }

    fn process(role: &str, figures: MemoryFigures, pfns: &[Option<u64>]) -> ProcessRecord {
        let sample = pfns
            .iter()
            .enumerate()
            .map(|(i, pfn)| PageSample {
                page_index: i as u64 * PAGES / pfns.len().max(1) as u64,
                present: true,
                exclusive: false,
                pfn: *pfn,
                map_count: None,
            })
            .collect();
        ProcessRecord {
            role: role.into(),
            pid: 1,
            faults: Default::default(),
            faults_total: Default::default(),
            totals: Default::default(),
            regions: vec![RegionRecord {
                name: REGION.into(),
                mapping_count: 1,
                figures,
                pagemap: Some(RegionPagemap {
                    pages: PAGES,
                    present_pages: PAGES,
                    swapped_pages: 0,
                    exclusive_pages: 0,
                    sample,
                    pfn_unavailable: pfns
                        .iter()
                        .any(Option::is_none)
                        .then(|| "needs CAP_SYS_ADMIN".into()),
                }),
            }],
            mappings: Vec::new(),
            io: None,
        }
    }

    fn variant(name: &str, checkpoints: Vec<(&str, Vec<ProcessRecord>)>) -> VariantRecord {
        crate::experiment::testkit::variant(
            name,
            &[("region_pages", PAGES.to_string())],
            checkpoints,
        )
    }

    fn env(thp: &str) -> Environment {
        let mut env = Environment::detect(std::path::Path::new("/"));
        env.page_size = PAGE;
        env.thp_enabled = thp.into();
        env
    }

    fn judged(v: VariantRecord, env: &Environment) -> Vec<ClaimRecord> {
        let record = ExperimentRecord {
            name: "fork-cow".into(),
            status: Status::Ok,
            reason: None,
            params: BTreeMap::new(),
            variants: vec![v],
            claims: Vec::new(),
            summary: Vec::new(),
            fault_costs: Vec::new(),
        };
        ForkCow.judge(&record, env)
    }

    #[test]
    fn thp_claims_are_inconclusive_when_no_huge_page_arrived() {
        let v = variant(
            "thp-on",
            vec![(
                "after-fill",
                vec![process(PARENT, figures(PAGES, PAGES, 0), &[])],
            )],
        );
        let claims = judged(v, &env("madvise"));
        assert!(!claims.is_empty());
        for c in claims {
            assert_eq!(c.verdict, Verdict::Inconclusive, "{}", c.id);
            assert!(
                c.evidence.contains("no huge page arrived"),
                "{}",
                c.evidence
            );
        }
    }

    #[test]
    fn thp_claims_are_inconclusive_when_thp_is_disabled() {
        let v = variant(
            "thp-on",
            vec![(
                "after-fill",
                vec![process(PARENT, figures(PAGES, PAGES, 2), &[])],
            )],
        );
        for c in judged(v, &env("never")) {
            assert_eq!(c.verdict, Verdict::Inconclusive, "{}", c.id);
            assert!(c.evidence.contains("never"), "{}", c.evidence);
        }
    }

    #[test]
    fn a_child_that_owns_its_pages_after_fork_refutes_the_sharing_claim() {
        // Pss equal to Rss in both: the pages were copied, not shared.
        let v = variant(
            "thp-off",
            vec![(
                "after-fork",
                vec![
                    process(PARENT, figures(PAGES, PAGES, 0), &[]),
                    process(CHILD, figures(PAGES, PAGES, 0), &[]),
                ],
            )],
        );
        let c = judge_one(v, FORK_SHARES);
        assert_eq!(c.verdict, Verdict::Refuted, "{}", c.evidence);
        let shared = variant(
            "thp-off",
            vec![(
                "after-fork",
                vec![
                    process(PARENT, figures(PAGES, PAGES / 2, 0), &[]),
                    process(CHILD, figures(PAGES, PAGES / 2, 0), &[]),
                ],
            )],
        );
        let c = judge_one(shared, FORK_SHARES);
        assert_eq!(c.verdict, Verdict::Confirmed, "{}", c.evidence);
    }

    #[test]
    fn hidden_frame_numbers_make_the_physical_claim_inconclusive() {
        let hidden = [None, None];
        let at = |label| {
            (
                label,
                vec![
                    process(PARENT, figures(PAGES, PAGES / 2, 0), &hidden),
                    process(CHILD, figures(PAGES, PAGES / 2, 0), &hidden),
                ],
            )
        };
        let v = variant("thp-off", vec![at("after-fork"), at("child-write-quarter")]);
        let c = judge_one(v, PHYSICAL);
        assert_eq!(c.verdict, Verdict::Inconclusive);
        assert!(c.evidence.contains("CAP_SYS_ADMIN"), "{}", c.evidence);
    }

    #[test]
    fn frames_that_stay_shared_after_the_write_refute_the_physical_claim() {
        let same = [Some(10), Some(20), Some(30), Some(40)];
        let at = |label| {
            (
                label,
                vec![
                    process(PARENT, figures(PAGES, PAGES / 2, 0), &same),
                    process(CHILD, figures(PAGES, PAGES / 2, 0), &same),
                ],
            )
        };
        let v = variant("thp-off", vec![at("after-fork"), at("child-write-quarter")]);
        let c = judge_one(v, PHYSICAL);
        assert_eq!(c.verdict, Verdict::Refuted, "{}", c.evidence);
    }

    /// Judges one claim of one variant.
    fn judge_one(v: VariantRecord, claim: Claim) -> ClaimRecord {
        let env = env("madvise");
        let (_, judge) = claims_of(&v.name)
            .into_iter()
            .chain(claims_of("zygote"))
            .chain(claims_of("file-private"))
            .find(|(c, _)| c.id == claim.id)
            .expect("a judge for the claim");
        Judge {
            variant: &v,
            env: &env,
        }
        .judge(claim, judge)
    }

    /// Region figures: `rss` pages resident, Pss in bytes, `shared` pages
    /// Shared_Dirty and `private` pages Private_Dirty.
    fn fig(rss: u64, pss_bytes: u64, shared: u64, private: u64) -> MemoryFigures {
        MemoryFigures {
            size_bytes: PAGES * PAGE,
            rss_bytes: rss * PAGE,
            pss_bytes,
            shared_dirty_bytes: shared * PAGE,
            private_dirty_bytes: private * PAGE,
            ..Default::default()
        }
    }

    fn with_faults(mut p: ProcessRecord, minor: u64) -> ProcessRecord {
        p.faults.minor = minor;
        p
    }

    /// A thp-off run as the seeds describe it; `child_write_faults` and
    /// `pss_after_fork` (bytes, both sides) vary.
    fn anon_run(
        child_read_faults: u64,
        child_write_faults: u64,
        pss_after_fork: u64,
    ) -> VariantRecord {
        let half = PAGES * PAGE / 2;
        let q = PAGES / 4;
        let mut v = variant(
            "thp-off",
            vec![
                (
                    "after-fork",
                    vec![
                        process(PARENT, fig(PAGES, pss_after_fork, PAGES, 0), &[]),
                        process(CHILD, fig(PAGES, pss_after_fork, PAGES, 0), &[]),
                    ],
                ),
                (
                    "child-read-all",
                    vec![
                        process(PARENT, fig(PAGES, half, PAGES, 0), &[]),
                        with_faults(
                            process(CHILD, fig(PAGES, half, PAGES, 0), &[]),
                            child_read_faults,
                        ),
                    ],
                ),
                (
                    "child-write-quarter",
                    vec![
                        process(PARENT, fig(PAGES, half + q * PAGE / 2, PAGES - q, q), &[]),
                        with_faults(
                            process(CHILD, fig(PAGES, half + q * PAGE / 2, PAGES - q, q), &[]),
                            child_write_faults,
                        ),
                    ],
                ),
            ],
        );
        v.notes.extend(
            [
                ("content_checked_pages", PAGES),
                ("content_child_mismatches_after_quarter", 0),
                ("content_parent_mismatches_after_quarter", 0),
                ("content_child_mismatches_after_all", 0),
                ("content_parent_mismatches_after_all", 0),
            ]
            .map(|(k, n)| (k.to_string(), n.to_string())),
        );
        v
    }

    fn verdict(v: VariantRecord, claim: Claim) -> Verdict {
        let c = judge_one(v, claim);
        if c.verdict != Verdict::Inconclusive {
            assert!(!c.measured.is_empty(), "{}: no measured figure", c.id);
        }
        c.verdict
    }

    #[test]
    fn pss_after_fork_may_be_one_kib_below_half() {
        let half = PAGES * PAGE / 2;
        assert_eq!(
            verdict(anon_run(0, PAGES / 4, half - 1024), FORK_SHARES),
            Verdict::Confirmed
        );
        assert_eq!(
            verdict(anon_run(0, PAGES / 4, half - 1025), FORK_SHARES),
            Verdict::Refuted
        );
    }

    #[test]
    fn reading_may_cost_the_child_eight_stray_faults_and_no_more() {
        let half = PAGES * PAGE / 2;
        assert_eq!(
            verdict(anon_run(8, PAGES / 4, half), READ_NO_FAULT),
            Verdict::Confirmed
        );
        assert_eq!(
            verdict(anon_run(9, PAGES / 4, half), READ_NO_FAULT),
            Verdict::Refuted
        );
    }

    #[test]
    fn a_write_costs_one_fault_per_page_within_the_stray_allowance() {
        let half = PAGES * PAGE / 2;
        let q = PAGES / 4;
        assert_eq!(
            verdict(anon_run(0, q, half), WRITE_COPIES),
            Verdict::Confirmed
        );
        assert_eq!(
            verdict(anon_run(0, q + 8, half), WRITE_COPIES),
            Verdict::Confirmed
        );
        assert_eq!(
            verdict(anon_run(0, q + 9, half), WRITE_COPIES),
            Verdict::Refuted
        );
        // One fault per huge page: a whole huge page copied per write.
        assert_eq!(
            verdict(anon_run(0, q / 512 + 1, half), WRITE_COPIES),
            Verdict::Refuted
        );
    }

    #[test]
    fn one_page_of_the_other_sides_data_refutes_the_content_claim() {
        let half = PAGES * PAGE / 2;
        assert_eq!(
            verdict(anon_run(0, PAGES / 4, half), CONTENT),
            Verdict::Confirmed
        );
        let mut v = anon_run(0, PAGES / 4, half);
        v.notes
            .insert("content_parent_mismatches_after_all".into(), "1".into());
        assert_eq!(verdict(v, CONTENT), Verdict::Refuted);
        let mut v = anon_run(0, PAGES / 4, half);
        v.notes.insert("content_checked_pages".into(), "1".into());
        assert_eq!(verdict(v, CONTENT), Verdict::Refuted);
    }

    #[test]
    fn frames_shared_then_copied_confirm_the_physical_claim() {
        let pfns = |base: u64| [Some(base), Some(base + 1), Some(base + 2), Some(base + 3)];
        let copied = [Some(90), Some(11), Some(12), Some(13)];
        let f = figures(PAGES, PAGES / 2, 0);
        let v = variant(
            "thp-off",
            vec![
                (
                    "after-fork",
                    vec![
                        process(PARENT, f.clone(), &pfns(10)),
                        process(CHILD, f.clone(), &pfns(10)),
                    ],
                ),
                (
                    "child-write-quarter",
                    vec![
                        process(PARENT, f.clone(), &pfns(10)),
                        process(CHILD, f, &copied),
                    ],
                ),
            ],
        );
        assert_eq!(verdict(v, PHYSICAL), Verdict::Confirmed);
    }

    #[test]
    fn a_child_with_the_file_mapped_at_fork_refutes_the_file_claim() {
        let file = |child_rss_after_fork: u64| {
            let mut read = process(CHILD, fig(PAGES, PAGES * PAGE / 2, 0, 0), &[]);
            read.faults.minor = 32;
            variant(
                "file-private",
                vec![
                    (
                        "after-fork",
                        vec![
                            process(PARENT, fig(PAGES, PAGES * PAGE, 0, 0), &[]),
                            process(CHILD, fig(child_rss_after_fork, 0, 0, 0), &[]),
                        ],
                    ),
                    (
                        "child-read-all",
                        vec![
                            process(PARENT, fig(PAGES, PAGES * PAGE / 2, 0, 0), &[]),
                            read,
                        ],
                    ),
                ],
            )
        };
        assert_eq!(verdict(file(0), FILE_READ_FAULTS), Verdict::Confirmed);
        assert_eq!(verdict(file(1), FILE_READ_FAULTS), Verdict::Refuted);
    }

    /// A zygote run: 4 children each wrote `share` pages; the parent's Pss after
    /// the children exit is `pss_after` bytes.
    fn zygote(child_private: u64, pss_after: u64, pss_each: u64) -> VariantRecord {
        let share = PAGES / 16;
        let mut children: Vec<ProcessRecord> = (1..=4)
            .map(|i| {
                process(
                    &format!("child-{i}"),
                    fig(PAGES, pss_each, PAGES - child_private, child_private),
                    &[],
                )
            })
            .collect();
        children.insert(0, process(PARENT, fig(PAGES, pss_each, PAGES, 0), &[]));
        let mut v = variant(
            "zygote",
            vec![
                ("children-write-share", children),
                (
                    "after-children-exit",
                    vec![process(PARENT, fig(PAGES, pss_after, 0, PAGES), &[])],
                ),
            ],
        );
        v.notes
            .insert("zygote_share_pages".into(), share.to_string());
        v.notes.insert("zygote_children".into(), "4".into());
        v
    }

    #[test]
    fn zygote_children_must_own_exactly_their_share() {
        let share = PAGES / 16;
        let pss = (PAGES + 4 * share) * PAGE / 5;
        assert_eq!(
            verdict(zygote(share, PAGES * PAGE, pss), ZYGOTE_SHARED),
            Verdict::Confirmed
        );
        assert_eq!(
            verdict(zygote(share + 1, PAGES * PAGE, pss), ZYGOTE_SHARED),
            Verdict::Refuted
        );
    }

    #[test]
    fn summed_pss_is_judged_within_one_kib_per_process() {
        let share = PAGES / 16;
        let pss = (PAGES + 4 * share) * PAGE / 5;
        let at = |each| verdict(zygote(share, PAGES * PAGE, each), RSS_DOUBLE_COUNTS);
        assert_eq!(at(pss - 1024), Verdict::Confirmed);
        assert_eq!(at(pss - 1025), Verdict::Refuted);
    }

    #[test]
    fn the_survivors_pss_must_return_to_its_rss_once_something_was_shared() {
        let share = PAGES / 16;
        let pss = (PAGES + 4 * share) * PAGE / 5;
        let at = |before, after| verdict(zygote(share, after, before), EXIT_PSS);
        assert_eq!(at(pss, PAGES * PAGE - 1024), Verdict::Confirmed);
        assert_eq!(at(pss, PAGES * PAGE - 1025), Verdict::Refuted);
        // Nothing shared before the exit: the claim has nothing to show.
        assert_eq!(at(PAGES * PAGE, PAGES * PAGE), Verdict::Inconclusive);
    }

    #[test]
    fn every_variant_has_claims() {
        for v in ["thp-off", "thp-on", "file-private", "zygote"] {
            assert!(!claims_of(v).is_empty(), "{v}");
        }
    }

    #[test]
    fn every_checkpoint_has_an_explanation_step() {
        let labels: Vec<_> = EXPLANATION.steps.iter().map(|(l, _)| *l).collect();
        for label in [
            "after-mmap",
            "after-fill",
            "after-fork",
            "child-read-all",
            "child-write-quarter",
            "child-write-all",
            "after-child-exit",
            "children-write-share",
            "after-children-exit",
        ] {
            assert!(labels.contains(&label), "{label}");
        }
    }

    #[test]
    fn anon_variants_are_judged_on_what_fork_shares() {
        for v in ANON_VARIANTS {
            assert!(claims_of(v).iter().any(|(c, _)| c.id == FORK_SHARES.id));
        }
    }
}
