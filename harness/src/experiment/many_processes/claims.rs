//! The claims of many-processes, each with its criterion and its judge, and
//! [`Costs`]: what the workers cost, from their own figures and the system's
//! counters, which the summary also shows.

use experiments::catalog::many_processes::{checkpoint, note, STATIC_C_WORKER};

use super::super::declared::{at, judged, Declared, Metric};
use super::super::kit::{pages, Case, Finding, Observed};
use super::super::{human_bytes, signed_bytes, Claim};
use crate::model::{PopulationRecord, SystemCounters, VariantRecord, Verdict};

const SEED: &str = experiments::catalog::writing::BERNSTEIN;
/// The seed's figure: 44 KB of RSS for the tiny static program on FreeBSD 4.8.
const SEED_RSS_BYTES: u64 = 44 * 1024;

/// The seed's figure: 168 KB of VSZ for the same program.
const SEED_VSZ_BYTES: u64 = 168 * 1024;
/// Roberson's count of page-table pages for the smallest process on x86.
const SEED_PAGE_TABLE_PAGES: u64 = 3;
/// The top-level page directory, which VmPTE does not count.
const TOP_LEVEL_PAGES: u64 = 1;

const KERNEL_DOMINATES: Claim = Claim {
    id: "one-more-process-costs-mostly-kernel-memory",
    source: SEED,
    statement: "Where the memory of one more tiny process goes: most of it is the kernel's per-process bookkeeping (page tables, kernel stack), not the program's own private pages.",
    criterion: "per worker, kernel = Σ VmPTE / N (exact, each worker's status) + Δ KernelStack / N (machine-wide, before-start to all-started), against user = Σ USS / N (exact, each worker's smaps_rollup); the noise band is |KernelStack after-exit − before-start| / N, measured in the same run. Confirmed if kernel − band > user; refuted if kernel + Δ Slab / N (if positive) + band < user; inconclusive in between",
};
const PAGE_TABLES: Claim = Claim {
    id: "even-a-tiny-process-needs-page-tables",
    source: SEED,
    statement: "Even a small program needs page tables, and Roberson counts three pages on x86: a page directory, a page table for text, data, bss and the guard page, and one for the stack.",
    criterion: "the smallest worker's page-table pages, VmPTE (every level below the top, exact per process) in pages plus 1 for the top-level directory VmPTE leaves out, equal Roberson's count of 3 exactly (page tables come in whole pages); any other count refutes",
};
const RSS_OVERSTATES: Claim = Claim {
    id: "summing-rss-overstates-the-cost",
    source: SEED,
    statement: "Text is read-only and shared, so adding up the processes' RSS overstates what they cost: the shared text pages are counted once per process.",
    criterion: "Σ Rss over the workers is at least twice Σ Pss (each worker's smaps_rollup), i.e. half or more of the summed RSS is pages counted more than once, and above Σ USS",
};
const SEED_RSS: Claim = Claim {
    id: "tiny-static-process-has-44kb-rss",
    source: SEED,
    statement:
        "A static program that made five small mallocs shows about 44 KB of RSS (FreeBSD 4.8).",
    criterion: "mean VmRSS per worker within 11 ± 5 pages (44 KB; the tolerance is half the seed's page count, rounded down); inconclusive unless the worker is the seed's static C program",
};
const SEED_VSZ: Claim = Claim {
    id: "tiny-static-process-has-168kb-vsz",
    source: SEED,
    statement: "The same static program shows about 168 KB of VSZ (FreeBSD 4.8), 32 pages of it the initial stack reservation.",
    criterion: "mean VmSize per worker within 42 ± 21 pages (168 KB; the tolerance is half the seed's page count, rounded down); inconclusive unless the worker is the seed's static C program",
};

/// Every claim, in the order they are judged.
pub(super) static CLAIMS: [Claim; 5] = [
    KERNEL_DOMINATES,
    PAGE_TABLES,
    RSS_OVERSTATES,
    SEED_RSS,
    SEED_VSZ,
];

/// What the claims need of the machine and the figures they are judged on
/// (read by the tools that compare runs across kernels and machines).
pub(super) static DECLARED: [Declared; 3] = [
    judged(&RSS_OVERSTATES, &[at(Metric::Pss, checkpoint::ALL_STARTED)]),
    judged(&SEED_RSS, &[at(Metric::VmRss, checkpoint::ALL_STARTED)]),
    judged(&SEED_VSZ, &[at(Metric::VmSize, checkpoint::ALL_STARTED)]),
];

/// Each claim with its judge.
pub(super) static CASES: [Case; 5] = [
    (KERNEL_DOMINATES, |v| {
        Ok(costs(v)?.kernel_dominates(v.page()))
    }),
    (PAGE_TABLES, |v| Ok(costs(v)?.page_tables_claim(v.page()))),
    (RSS_OVERSTATES, |v| Ok(costs(v)?.rss_overstates())),
    (SEED_RSS, |v| Ok(costs(v)?.seed_rss(v.page()))),
    (SEED_VSZ, |v| Ok(costs(v)?.seed_vsz(v.page()))),
];

/// The workers' costs in the variant, or why they cannot be judged.
fn costs<'a>(view: &Observed<'a>) -> Result<Costs<'a>, String> {
    Costs::of(view.variant).ok_or_else(|| "the workers were not measured".into())
}

/// A mean per-worker figure and the seed's, for [`Costs::against_seed`].
struct SeedFigure<'a> {
    /// Its name in the evidence (`RSS`).
    what: &'a str,
    /// The mean over the workers, bytes.
    mean: u64,
    /// The seed's figure, bytes.
    seed: u64,
    /// Why it differs, appended to the evidence when it is outside the band.
    why_not: &'a str,
    /// Why a refutation is expected on current kernels.
    expected: &'a str,
}

/// What the workers cost, from their own figures and the system's counters.
pub(super) struct Costs<'a> {
    variant: &'a VariantRecord,
    pub(super) population: &'a PopulationRecord,
    pub(super) n: u64,
    before: SystemCounters,
    during: SystemCounters,
    after: SystemCounters,
}

fn delta(a: u64, b: u64) -> i64 {
    b as i64 - a as i64
}

/// Bytes with a minus sign when negative (no plus sign: the evidence's own).
pub(super) fn signed(bytes: i64) -> String {
    if bytes < 0 {
        signed_bytes(bytes)
    } else {
        human_bytes(bytes as u64)
    }
}

impl<'a> Costs<'a> {
    pub(super) fn of(variant: &'a VariantRecord) -> Option<Costs<'a>> {
        let during = variant.checkpoint(checkpoint::ALL_STARTED)?;
        let population = during.population.as_ref()?;
        let n = population.members.len() as u64;
        (n > 0).then_some(())?;
        Some(Costs {
            variant,
            population,
            n,
            before: variant.checkpoint(checkpoint::BEFORE_START)?.system?,
            during: during.system?,
            after: variant.checkpoint(checkpoint::AFTER_EXIT)?.system?,
        })
    }

    /// A counter's change per worker while they ran, and its residual after they
    /// exited (what the rest of the machine did, or caches kept), per worker.
    pub(super) fn per_worker(&self, f: fn(&SystemCounters) -> u64) -> (i64, i64) {
        (
            delta(f(&self.before), f(&self.during)) / self.n as i64,
            delta(f(&self.before), f(&self.after)) / self.n as i64,
        )
    }

    pub(super) fn user_private(&self) -> u64 {
        self.population.sum.uss_bytes / self.n
    }

    pub(super) fn page_tables(&self) -> u64 {
        self.population.sum.pte_bytes / self.n
    }

    fn kernel_dominates(&self, page: u64) -> Finding {
        let user = self.user_private() as i64;
        let pte = self.page_tables() as i64;
        let (stack, stack_residual) = self.per_worker(|s| s.kernel_stack_bytes);
        let (slab, slab_residual) = self.per_worker(|s| s.slab_bytes);
        let band = stack_residual.abs();
        let kernel = pte + stack;
        let (low, high) = (kernel - band, kernel + slab.max(0) + band);
        let evidence = format!(
            "per worker: {} of private user pages (Σ USS / N) against kernel memory of page tables {} (Σ VmPTE / N) \
             and kernel stack {} (Δ KernelStack / N), noise band {} (the KernelStack left after exit); slab {} \
             (Δ Slab / N; {} left after exit, freed objects may stay cached): kernel between {} and {}",
            human_bytes(user as u64),
            human_bytes(pte as u64),
            signed(stack),
            signed(band),
            signed(slab),
            signed(slab_residual),
            signed(low),
            signed(high)
        );
        let measured = format!(
            "kernel {} to {} pages, user {} pages",
            low / page as i64,
            high / page as i64,
            user / page as i64
        );
        if low > user {
            Finding::new(true, evidence, measured)
        } else if high < user {
            Finding::new(false, evidence, measured)
        } else {
            Finding::undecided(
                format!(
                    "the machine-wide counters' noise band straddles the private pages: {evidence}"
                ),
                measured,
            )
        }
    }

    fn page_tables_claim(&self, page: u64) -> Finding {
        let min = self
            .population
            .members
            .iter()
            .map(|m| m.figures.pte_bytes)
            .min()
            .unwrap_or(0);
        let table_pages = pages(min, page) + TOP_LEVEL_PAGES;
        Finding::new(
            table_pages == SEED_PAGE_TABLE_PAGES,
            format!(
                "the smallest worker has {table_pages} page-table pages (VmPTE {} pages, plus the top-level \
                 directory), against Roberson's {SEED_PAGE_TABLE_PAGES}; VmPTE per worker {} on average ({} pages); \
                 PageTables grew by {} per worker. {}",
                pages(min, page),
                human_bytes(self.page_tables()),
                pages(self.page_tables(), page),
                signed(self.per_worker(|s| s.page_tables_bytes).0),
                if table_pages > SEED_PAGE_TABLE_PAGES {
                    "Four-level paging needs a table at each level for each area far apart (program, mmap \
                     area, stack), where Roberson's two-level x86 needed one table per area"
                } else {
                    "As Roberson counts"
                }
            ),
            format!("{table_pages} page-table pages"),
        )
        .expecting(
            Verdict::Refuted,
            "Roberson counts two-level 32-bit x86 paging; x86-64 walks four levels (five with LA57), and the \
             program, the mmap area and the stack lie far apart, so each needs its own tables at every level \
             below the top",
        )
    }

    fn rss_overstates(&self) -> Finding {
        let sum = &self.population.sum;
        let anon = self.per_worker(|s| s.anon_pages_bytes).0;
        Finding::new(
            sum.rss_bytes >= 2 * sum.pss_bytes && sum.rss_bytes > sum.uss_bytes,
            format!(
                "{} workers: Σ Rss {} ({} each), Σ Pss {}, Σ USS {}; AnonPages grew by {} per worker. Rss counts the \
                 shared text and data pages of the worker program in every process",
                self.n,
                human_bytes(sum.rss_bytes),
                human_bytes(sum.rss_bytes / self.n),
                human_bytes(sum.pss_bytes),
                human_bytes(sum.uss_bytes),
                signed(anon)
            ),
            format!(
                "Σ Rss {:.1} × Σ Pss",
                sum.rss_bytes as f64 / sum.pss_bytes.max(1) as f64
            ),
        )
    }

    fn worker_kind(&self) -> String {
        self.variant
            .note::<String>(note::WORKER_KIND)
            .unwrap_or_else(|| "?".into())
    }

    /// A mean figure per worker against one of the seed's, within half the
    /// seed's page count either way; judged only on the seed's own program.
    fn against_seed(&self, figure: SeedFigure<'_>, page: u64) -> Finding {
        let SeedFigure {
            what,
            mean,
            seed,
            why_not,
            expected,
        } = figure;
        let kind = self.worker_kind();
        let seed_pages = seed / page;
        let mean_pages = pages(mean, page);
        let holds = mean_pages.abs_diff(seed_pages) <= seed_pages / 2;
        let mut evidence = format!(
            "mean {what} per worker {} ({mean_pages} pages), against the seed's {seed_pages} ± {} pages; worker: {kind}",
            human_bytes(mean),
            seed_pages / 2,
        );
        if !holds {
            evidence.push_str(why_not);
        }
        let measured = format!("{what} {mean_pages} pages");
        if kind != STATIC_C_WORKER {
            return Finding::undecided(
                format!("precondition not met: the worker is not the seed's static C program. {evidence}"),
                measured,
            );
        }
        // The same expectation as tiny-malloc's static variant: the seed measured
        // FreeBSD 4.8's libc; a static glibc program runs far more start-up code.
        Finding::new(holds, evidence, measured).expecting(Verdict::Refuted, expected)
    }

    fn seed_rss(&self, page: u64) -> Finding {
        let why_not = format!(
            ". Of that, {} per worker is file pages of the worker program, mapped from the page cache and shared by \
             all workers (fault-around maps up to 16 neighbouring pages per fault, and a static glibc program is \
             several hundred KiB); its own pages (USS) are {}",
            human_bytes(self.population.sum.rss_file_bytes / self.n),
            human_bytes(self.user_private())
        );
        self.against_seed(
            SeedFigure {
                what: "RSS",
                mean: self.population.sum.rss_bytes / self.n,
                seed: SEED_RSS_BYTES,
                why_not: &why_not,
                expected: "a static glibc program maps and touches hundreds of KiB of its own text at start-up, and fault-around \
             maps up to 16 cached neighbours per fault, so its RSS is far above FreeBSD 4.8's 44 KB",
            },
            page,
        )
    }

    fn seed_vsz(&self, page: u64) -> Finding {
        self.against_seed(
            SeedFigure {
                what: "VSZ",
                mean: self.population.sum.vm_size_bytes / self.n,
                seed: SEED_VSZ_BYTES,
                why_not: ". A static glibc program maps some 650 KiB of its own file (text, read-only data, relro), and malloc's \
             first call extends the brk heap by 132 KiB; the stack reservation is 132 KiB, as the seed's 32 pages",
                expected: "a static glibc program's file maps several hundred KiB and glibc's malloc grows the heap by 132 KiB at \
             once, so VSZ is near 1 MB against FreeBSD 4.8's 168 KB",
            },
            page,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiment::programs::fixtures::{self, PAGE};
    use crate::model::{ClaimRecord, MemberFigures, MemberRecord};
    use experiments::catalog::many_processes::{role, variant};

    const N: u64 = 100;

    /// `n` identical workers with these figures (pages), the first with `first_pte` pages of VmPTE.
    fn population(
        rss: u64,
        vsz: u64,
        pss: u64,
        uss: u64,
        pte: u64,
        first_pte: u64,
    ) -> PopulationRecord {
        let mut members = Vec::new();
        let mut sum = MemberFigures::default();
        for i in 0..N {
            let figures = MemberFigures {
                vm_size_bytes: vsz * PAGE,
                rss_bytes: rss * PAGE,
                rss_file_bytes: rss.saturating_sub(uss) * PAGE,
                rss_anon_bytes: uss * PAGE,
                pss_bytes: pss * PAGE,
                uss_bytes: uss * PAGE,
                pte_bytes: if i == 0 { first_pte } else { pte } * PAGE,
            };
            sum.add(&figures);
            members.push(MemberRecord {
                pid: i as i32 + 2,
                figures,
            });
        }
        PopulationRecord {
            role: role::WORKER.into(),
            parent_pid: 1,
            count: N as usize,
            vanished: 0,
            members,
            sum,
        }
    }

    /// KernelStack (bytes) at the three checkpoints.
    fn run(population: PopulationRecord, stacks: [u64; 3], kind: &str) -> VariantRecord {
        let labels = [
            checkpoint::BEFORE_START,
            checkpoint::ALL_STARTED,
            checkpoint::AFTER_EXIT,
        ];
        let checkpoints = labels
            .iter()
            .zip(stacks)
            .map(|(label, stack)| {
                let mut c = fixtures::checkpoint(label, Vec::new());
                c.system = Some(SystemCounters {
                    kernel_stack_bytes: stack,
                    ..Default::default()
                });
                if *label == checkpoint::ALL_STARTED {
                    c.population = Some(population.clone());
                }
                c
            })
            .collect();
        let mut v = fixtures::variant(variant::DEFAULT, checkpoints);
        v.notes.insert(note::WORKER_KIND.key().into(), kind.into());
        v
    }

    /// `claim` judged on `v` through its case, as the experiment judges it.
    fn judged(v: &VariantRecord, claim: Claim) -> ClaimRecord {
        let env = crate::experiment::testkit::env();
        let view = Observed {
            variant: v,
            env: &env,
        };
        let (claim, judge) = CASES
            .iter()
            .find(|(c, _)| c.id == claim.id)
            .expect("every claim has a case");
        claim.record(None, judge(&view))
    }

    fn typical() -> PopulationRecord {
        population(174, 247, 12, 11, 9, 9)
    }

    const BASE: u64 = 1 << 30;

    #[test]
    fn the_kernel_share_is_judged_against_the_kernel_stacks_noise_band() {
        // Per worker: user 11 pages, VmPTE 9 pages, kernel stack 4 pages (16 KiB).
        let stack = |per_worker_pages: u64, residual: u64| {
            [BASE, BASE + per_worker_pages * PAGE * N, BASE + residual]
        };
        let judge = |stacks: [u64; 3]| {
            let v = run(typical(), stacks, STATIC_C_WORKER);
            let claim = judged(&v, KERNEL_DOMINATES);
            assert!(!claim.measured.is_empty(), "{claim:?}");
            claim.verdict
        };
        // 9 + 4 = 13 pages, band 0: above 11.
        assert_eq!(judge(stack(4, 0)), Verdict::Confirmed);
        // A band of 2 pages per worker: 13 - 2 = 11 is not above 11.
        assert_eq!(judge(stack(4, 2 * PAGE * N)), Verdict::Inconclusive);
        // Just under that band: confirmed.
        assert_eq!(judge(stack(4, 2 * PAGE * N - N * 8)), Verdict::Confirmed);
        // No kernel stack at all and a small band: 9 + 0.5 < 11.
        assert_eq!(judge(stack(0, PAGE * N / 2)), Verdict::Refuted);
    }

    #[test]
    fn the_smallest_worker_must_have_robersons_three_page_table_pages() {
        for (first, verdict) in [
            (2, Verdict::Confirmed),
            (1, Verdict::Refuted),
            (3, Verdict::Refuted),
        ] {
            let v = run(
                population(174, 247, 12, 11, 9, first),
                [BASE; 3],
                STATIC_C_WORKER,
            );
            let claim = judged(&v, PAGE_TABLES);
            assert_eq!(claim.verdict, verdict, "{first}");
            assert!(!claim.measured.is_empty());
        }
    }

    #[test]
    fn summed_rss_must_be_twice_summed_pss() {
        for (pss, verdict) in [(87, Verdict::Confirmed), (88, Verdict::Refuted)] {
            let v = run(
                population(174, 247, pss, 11, 9, 9),
                [BASE; 3],
                STATIC_C_WORKER,
            );
            assert_eq!(judged(&v, RSS_OVERSTATES).verdict, verdict, "{pss}");
        }
    }

    #[test]
    fn the_seeds_figures_hold_within_half_their_pages_either_way() {
        for (rss, verdict) in [
            (16, Verdict::Confirmed),
            (17, Verdict::Refuted),
            (6, Verdict::Confirmed),
            (5, Verdict::Refuted),
            (174, Verdict::Refuted),
        ] {
            let v = run(population(rss, 42, 3, 3, 9, 9), [BASE; 3], STATIC_C_WORKER);
            let claim = judged(&v, SEED_RSS);
            assert_eq!(claim.verdict, verdict, "RSS {rss} pages");
            assert_eq!(claim.expected.map(|e| e.verdict), Some(Verdict::Refuted));
        }
        for (vsz, verdict) in [
            (63, Verdict::Confirmed),
            (64, Verdict::Refuted),
            (21, Verdict::Confirmed),
            (20, Verdict::Refuted),
        ] {
            let v = run(population(11, vsz, 3, 3, 9, 9), [BASE; 3], STATIC_C_WORKER);
            assert_eq!(judged(&v, SEED_VSZ).verdict, verdict, "VSZ {vsz} pages");
        }
        // Not the seed's program: no judgement.
        let v = run(population(11, 42, 3, 3, 9, 9), [BASE; 3], "rust std");
        let claim = judged(&v, SEED_RSS);
        assert_eq!(claim.verdict, Verdict::Inconclusive);
        assert_eq!(claim.measured, "RSS 11 pages");
    }
}
