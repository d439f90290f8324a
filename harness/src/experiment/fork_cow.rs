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
/// Page-count slack for smaps figures: the region's edges.
const EDGE_PAGES: u64 = 2;
/// Bytes of one PMD-mapped huge page on x86-64.
const HUGE_PAGE_BYTES: u64 = 2 << 20;

/// Variants that fork one child; the anonymous ones share page tables at fork.
const ANON_VARIANTS: [&str; 2] = ["thp-off", "thp-on"];

/// Failure: fork copied the region (Pss equal to Rss), or the child lacks pages.
const FORK_SHARES: Claim = Claim {
    id: "fork-copies-nothing",
    source: S002,
    statement: "Right after fork the child has the parent's memory without a copy: the region's Rss is the same in both, and each one's Pss is half of it.",
    criterion: "",
};
/// Failure: the child's page tables were not copied at fork, so reads fault.
const READ_NO_FAULT: Claim = Claim {
    id: "child-reads-without-faults",
    source: S003,
    statement: "The child reads every inherited anonymous page without a single page fault: the pages are already mapped, shared copy-on-write.",
    criterion: "",
};
/// Failure: the child got the file's page table entries at fork, or never shared the parent's pages.
const FILE_READ_FAULTS: Claim = Claim {
    id: "private-file-child-faults-to-read",
    source: S003,
    statement: "A private file mapping the parent has only read is not copied at fork: the child starts with none of it resident and faults to read it, then shares the parent's page-cache pages.",
    criterion: "",
};
/// Failure: a write copied more (or less) than the page written, e.g. a whole huge page.
const WRITE_COPIES: Claim = Claim {
    id: "write-copies-only-the-written-pages",
    source: S000,
    statement: "Writing N inherited pages costs the child about N minor faults and moves N pages from shared to private; the rest stay shared.",
    criterion: "",
};
/// Failure: the frames differ right after fork (a copy), or stay the same after a write (a leak).
const PHYSICAL: Claim = Claim {
    id: "same-frames-until-written",
    source: S002,
    statement: "Parent and child map the same physical page frames until the child writes; a written page gets a frame of its own (pagemap PFNs, kpagecount).",
    criterion: "",
};
/// Failure: one side saw the other's writes; copy-on-write is broken.
const CONTENT: Claim = Claim {
    id: "writes-do-not-leak",
    source: S000,
    statement: "After the child writes, each side still reads its own data: the child's writes never show in the parent.",
    criterion: "",
};
/// Failure: pages stay charged to processes that are gone.
const EXIT_PSS: Claim = Claim {
    id: "pss-returns-to-rss-when-sharers-exit",
    source: S003,
    statement: "When the sharers exit, the survivor's Pss rises back to its Rss: shared pages are now charged to it alone.",
    criterion: "",
};
/// Failure: a child owns more than the share it wrote.
const ZYGOTE_SHARED: Claim = Claim {
    id: "zygote-children-share-the-initialised-state",
    source: S003,
    statement: "State initialised before a zygote forks stays shared by every child: each child's private memory is only the share it wrote.",
    criterion: "",
};
/// Failure: summed Rss is not inflated by sharing, or summed Pss misses the memory in use.
const RSS_DOUBLE_COUNTS: Claim = Claim {
    id: "summing-rss-double-counts",
    source: S002,
    statement: "Adding up the Rss of processes that share pages counts those pages once per process; the sum of Pss is the memory really used.",
    criterion: "",
};

static EXPLANATION: Explanation = Explanation {
    seed_claims: "Kristian Köhntopp (\"Notes on VM\") explains that a preforked Apache's children share the parent's \
        pages, even its writable ones, until a child writes one, and only that page is copied. Frits Hoogland (\"Hey \
        dude, where's my memory?\") describes fork as giving the child pointers to the parent's memory, copied only \
        on a change, and warns that adding up the memory figures of processes counts shared pages many times. Evan \
        Martin (\"Some things I've learned about memory\") lists fork among the ways processes share pages, presents \
        Pss as each sharer's fair part, notes that a sharer's exit raises the others' Pss, and describes Chrome's \
        zygote: state set up before it forks stays shared by every process forked from it.",
    steps: &[
        ("after-mmap", "The parent mapped the region: anonymous memory (THP advised off or on), or a private mapping of a temp file. Nothing is resident yet."),
        ("after-fill", "The parent wrote a tag into every page (file-private: read every page). The whole region is resident and belongs to the parent alone."),
        ("after-fork", "fork returned. The child's page tables point at the parent's pages, now write-protected in both; nothing was copied. A private file mapping the parent never wrote is not copied at all: the child will fault it in."),
        ("child-read-all", "The child read every page. Anonymous pages were already mapped, so this costs no faults; the file mapping's pages were faulted in from the page cache."),
        ("child-write-quarter", "The child wrote every page of the first quarter. Each write hit a write-protected page and faulted; the kernel gave the child its own copy. Those pages are now private in both processes."),
        ("child-write-all", "The child wrote the rest of the region: every page is now copied, and parent and child share nothing in it."),
        ("after-child-exit", "The child exited and was reaped. Its copies are freed, and the parent is the only user of every page again."),
        ("children-write-share", "Each zygote child wrote its own sixteenth of the region: only those pages were copied; the rest is still shared by all."),
        ("after-children-exit", "Every zygote child exited: the parent's Pss is its Rss again."),
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
};

impl Experiment for ForkCow {
    fn info(&self) -> &'static ExperimentInfo {
        &experiments::catalog::FORK_COW
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
        if let Some(limit) = ctx.env.cgroup_memory_max_bytes {
            if limit < needed {
                return Err(format!(
                    "the cgroup memory limit ({}) cannot hold two copies of the region ({}); use --quick or a smaller --size",
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
                claims.extend(expected.iter().map(|c| c.unmeasured(name, why.clone())));
                continue;
            }
            let judge = Judge { variant, env };
            if let Some(why) = judge.thp_missing() {
                claims.extend(expected.iter().map(|c| c.unmeasured(name, why.clone())));
                continue;
            }
            for claim in expected {
                claims.push(judge.judge(claim));
            }
        }
        claims
    }
}

/// The claims judged on each variant.
fn claims_of(variant: &str) -> Vec<Claim> {
    match variant {
        v if ANON_VARIANTS.contains(&v) => vec![
            FORK_SHARES,
            READ_NO_FAULT,
            WRITE_COPIES,
            PHYSICAL,
            CONTENT,
            EXIT_PSS,
        ],
        "file-private" => vec![FILE_READ_FAULTS, WRITE_COPIES, PHYSICAL, CONTENT, EXIT_PSS],
        "zygote" => vec![ZYGOTE_SHARED, RSS_DOUBLE_COUNTS, CONTENT, EXIT_PSS],
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

    fn judge(&self, claim: Claim) -> ClaimRecord {
        let judged = match claim.id {
            id if id == FORK_SHARES.id => self.fork_shares(),
            id if id == READ_NO_FAULT.id => self.read_no_fault(),
            id if id == FILE_READ_FAULTS.id => self.file_read_faults(),
            id if id == WRITE_COPIES.id => self.write_copies(),
            id if id == PHYSICAL.id => match self.physical() {
                Some(Err(why)) => return claim.unmeasured(self.name(), why),
                other => other.and_then(Result::ok),
            },
            id if id == CONTENT.id => self.content(),
            id if id == EXIT_PSS.id => self.exit_pss(),
            id if id == ZYGOTE_SHARED.id => self.zygote_shared(),
            id if id == RSS_DOUBLE_COUNTS.id => self.rss_double_counts(),
            _ => None,
        };
        match judged {
            Some((holds, evidence)) => claim.judged(self.name(), verdict_of(holds), evidence),
            None => claim.unmeasured(
                self.name(),
                "a checkpoint or figure this claim needs was not measured",
            ),
        }
    }

    fn fork_shares(&self) -> Option<(bool, String)> {
        let parent = self.figures("after-fork", PARENT)?;
        let child = self.figures("after-fork", CHILD)?;
        let size = parent.size_bytes;
        let tol = EDGE_PAGES * self.page();
        let half = |f: &MemoryFigures| f.pss_bytes.abs_diff(f.rss_bytes / 2) <= tol;
        let holds = parent.rss_bytes + tol >= size
            && child.rss_bytes.abs_diff(parent.rss_bytes) <= tol
            && half(parent)
            && half(child);
        Some((
            holds,
            format!(
                "after fork the region ({}) has Rss {} in the parent and {} in the child; Pss {} and {}; Shared_Dirty {} \
                 and {} (tolerance {EDGE_PAGES} pages)",
                human_bytes(size),
                human_bytes(parent.rss_bytes),
                human_bytes(child.rss_bytes),
                human_bytes(parent.pss_bytes),
                human_bytes(child.pss_bytes),
                human_bytes(parent.shared_dirty_bytes),
                human_bytes(child.shared_dirty_bytes),
            ),
        ))
    }

    fn read_no_fault(&self) -> Option<(bool, String)> {
        let faults = process_at(self.variant, "child-read-all", CHILD)?.faults;
        let pages = self.region_pages()?;
        let holds = faults.minor <= STRAY_FAULT_PAGES && faults.major == 0;
        Some((
            holds,
            format!(
                "reading all {pages} pages cost the child {} minor and {} major faults (at most {STRAY_FAULT_PAGES} \
                 allowed for the child's own stack pages)",
                faults.minor, faults.major
            ),
        ))
    }

    fn file_read_faults(&self) -> Option<(bool, String)> {
        let after_fork = self.figures("after-fork", CHILD)?;
        let parent = self.figures("after-fork", PARENT)?;
        let read = self.figures("child-read-all", CHILD)?;
        let faults = process_at(self.variant, "child-read-all", CHILD)?.faults;
        let pages = self.region_pages()?;
        let tol = EDGE_PAGES * self.page();
        let holds = after_fork.rss_bytes <= tol
            && parent.rss_bytes + tol >= parent.size_bytes
            && faults.minor > STRAY_FAULT_PAGES
            && read.rss_bytes + tol >= read.size_bytes
            && read.pss_bytes.abs_diff(read.rss_bytes / 2) <= tol;
        Some((
            holds,
            format!(
                "after fork the child's Rss of the mapping is {} (parent {}); reading its {pages} pages cost the child \
                 {} minor and {} major faults ({:.1} pages per fault: fault-around and large page-cache folios map \
                 several per fault), after which its Rss is {} and Pss {}: it shares the parent's page-cache pages",
                human_bytes(after_fork.rss_bytes),
                human_bytes(parent.rss_bytes),
                faults.minor,
                faults.major,
                pages as f64 / faults.minor.max(1) as f64,
                human_bytes(read.rss_bytes),
                human_bytes(read.pss_bytes),
            ),
        ))
    }

    fn write_copies(&self) -> Option<(bool, String)> {
        let before = self.figures("child-read-all", CHILD)?;
        let after = self.figures("child-write-quarter", CHILD)?;
        let parent = self.figures("child-write-quarter", PARENT)?;
        let faults = process_at(self.variant, "child-write-quarter", CHILD)?.faults;
        let page = self.page();
        let written = self.region_pages()? / 4;
        let shared = |f: &MemoryFigures| f.shared_clean_bytes + f.shared_dirty_bytes;
        // The parent's originals of the copied pages are its alone now: dirty for
        // anonymous memory, clean page-cache pages for the file mapping.
        let parent_private = parent.private_dirty_bytes + parent.private_clean_bytes;
        let private_gain = after
            .private_dirty_bytes
            .saturating_sub(before.private_dirty_bytes);
        let shared_loss = shared(before).saturating_sub(shared(after));
        let tol_pages = EDGE_PAGES;
        let fault_slack = STRAY_FAULT_PAGES + written / 64;
        let holds = faults.minor.abs_diff(written) <= fault_slack
            && pages(private_gain, page).abs_diff(written) <= tol_pages
            && pages(shared_loss, page).abs_diff(written) <= tol_pages
            && pages(parent_private, page).abs_diff(written) <= tol_pages;
        let mut evidence = format!(
            "writing {written} pages cost the child {} minor faults (tolerance {fault_slack}); its Private_Dirty grew \
             by {} and its shared pages shrank by {} (tolerance {tol_pages} pages); the parent's private pages \
             (Private_Clean + Private_Dirty) are now {}: the originals of the copied pages are its alone",
            faults.minor,
            self.pages_text(private_gain),
            self.pages_text(shared_loss),
            self.pages_text(parent_private),
        );
        if self.variant.name == "thp-on" {
            evidence.push_str(&self.thp_write_text(before, after, parent, faults.minor, written));
        }
        Some((holds, evidence))
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
        let fill = process_at(self.variant, "after-fill", PARENT).map_or(0, |p| p.faults.minor);
        let huge_pages = before.anon_huge_pages_bytes / HUGE_PAGE_BYTES;
        let split = before
            .anon_huge_pages_bytes
            .saturating_sub(after.anon_huge_pages_bytes);
        let how = if write_faults.abs_diff(written) <= STRAY_FAULT_PAGES + written / 64 {
            format!(
                "one fault per 4 KiB page written: the child's huge mappings over the written range ({}) were split \
                 and each page was copied on its own, while the parent kept its huge mappings",
                human_bytes(split)
            )
        } else if write_faults <= written / 64 + STRAY_FAULT_PAGES {
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

    /// `Err` when the frames cannot be seen (not root): inconclusive, with why.
    fn physical(&self) -> Option<Result<(bool, String), String>> {
        let shared_at = if self.variant.name == "file-private" {
            "child-read-all"
        } else {
            "after-fork"
        };
        let p0 = self.pagemap(shared_at, PARENT)?;
        let c0 = self.pagemap(shared_at, CHILD)?;
        let p1 = self.pagemap("child-write-quarter", PARENT)?;
        let c1 = self.pagemap("child-write-quarter", CHILD)?;
        let pages = self.region_pages()?;
        let quarter = pages / 4;
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
            return Some(Err(format!(
                "page frame numbers not readable: {why}; {exclusive}"
            )));
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
        Some(Ok((
            holds,
            format!(
                "of {} sampled pages, {same_before} had the same PFN in parent and child at {shared_at} (map counts \
                 {}); after the child wrote the first quarter, {differ_written} of the {} sampled pages in it had \
                 different PFNs and {same_untouched} of the {} others still the same (parent map counts {}); {exclusive}",
                before.len(),
                counts(&before.iter().collect::<Vec<_>>()),
                written.len(),
                untouched.len(),
                counts(&after.iter().collect::<Vec<_>>()),
            ),
        )))
    }

    fn content(&self) -> Option<(bool, String)> {
        let checked = self.note("content_checked_pages")?;
        let keys = [
            "content_child_mismatches_after_quarter",
            "content_parent_mismatches_after_quarter",
            "content_child_mismatches_after_all",
            "content_parent_mismatches_after_all",
        ];
        let counts: Vec<u64> = keys.iter().filter_map(|k| self.note(k)).collect();
        if counts.len() != keys.len() {
            return None;
        }
        let holds = checked == self.region_pages()? && counts.iter().all(|c| *c == 0);
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
        Some((holds, evidence))
    }

    fn exit_pss(&self) -> Option<(bool, String)> {
        let (before_label, after_label) = if self.variant.name == "zygote" {
            ("children-write-share", "after-children-exit")
        } else {
            ("child-write-all", "after-child-exit")
        };
        let before = self.figures(before_label, PARENT)?;
        let after = self.figures(after_label, PARENT)?;
        let tol = EDGE_PAGES * self.page();
        let holds = after.rss_bytes > 0 && after.pss_bytes.abs_diff(after.rss_bytes) <= tol;
        Some((
            holds,
            format!(
                "the parent's Pss of the region was {} of Rss {} at {before_label}, and is {} of Rss {} at \
                 {after_label} (tolerance {EDGE_PAGES} pages)",
                human_bytes(before.pss_bytes),
                human_bytes(before.rss_bytes),
                human_bytes(after.pss_bytes),
                human_bytes(after.rss_bytes),
            ),
        ))
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

    fn zygote_shared(&self) -> Option<(bool, String)> {
        let share = self.note("zygote_share_pages")?;
        let count = self.note("zygote_children")?;
        let children = self.children("children-write-share");
        if children.len() as u64 != count || count == 0 {
            return None;
        }
        let page = self.page();
        let private: Vec<u64> = children
            .iter()
            .map(|f| pages(f.private_dirty_bytes, page))
            .collect();
        let holds = private.iter().all(|p| p.abs_diff(share) <= EDGE_PAGES);
        Some((
            holds,
            format!(
                "each of {count} children wrote {share} pages; their Private_Dirty in the region: {} pages (tolerance \
                 {EDGE_PAGES} pages); the rest of the region stays shared",
                private
                    .iter()
                    .map(u64::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ))
    }

    fn rss_double_counts(&self) -> Option<(bool, String)> {
        let share = self.note("zygote_share_pages")?;
        let count = self.note("zygote_children")?;
        let pages_in_region = self.region_pages()?;
        let parent = self.figures("children-write-share", PARENT)?;
        let children = self.children("children-write-share");
        if children.len() as u64 != count {
            return None;
        }
        let page = self.page();
        let all: Vec<&MemoryFigures> = std::iter::once(parent).chain(children).collect();
        let rss: u64 = all.iter().map(|f| f.rss_bytes).sum();
        let pss: u64 = all.iter().map(|f| f.pss_bytes).sum();
        let used = pages_in_region + count * share;
        let tol = EDGE_PAGES * (count + 1);
        let holds = pages(rss, page) + tol >= (count + 1) * pages_in_region
            && pages(pss, page).abs_diff(used) <= tol;
        Some((
            holds,
            format!(
                "{} processes: the sum of their Rss of the region is {} ({} pages), the sum of Pss {} ({} pages); the \
                 pages really in use are the region plus each child's copies, {used} pages ({}); summing Rss \
                 overstates it {:.1} times (tolerance {tol} pages)",
                count + 1,
                human_bytes(rss),
                pages(rss, page),
                human_bytes(pss),
                pages(pss, page),
                human_bytes(used * page),
                rss as f64 / (used * page).max(1) as f64,
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{CheckpointRecord, PageSample, ProcessRecord, RegionRecord, Verdict};

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
        }
    }

    fn variant(name: &str, checkpoints: Vec<(&str, Vec<ProcessRecord>)>) -> VariantRecord {
        VariantRecord {
            name: name.into(),
            status: Status::Ok,
            reason: None,
            notes: [("region_pages".to_string(), PAGES.to_string())].into(),
            noise_floor: Vec::new(),
            checkpoints: checkpoints
                .into_iter()
                .map(|(label, processes)| CheckpointRecord {
                    label: label.into(),
                    phase_millis: 0,
                    processes,
                    system: None,
                    population: None,
                })
                .collect(),
            rss_samples: Vec::new(),
            binary: None,
        }
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
        Judge {
            variant: &v,
            env: &env,
        }
        .judge(claim)
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
            assert!(claims_of(v).iter().any(|c| c.id == FORK_SHARES.id));
        }
    }
}
