//! many-processes: "ten thousand small processes" (D. J. Bernstein and Jeff
//! Roberson, freebsd-performance mailing list, 2003, seed 004). Bernstein's static
//! program made five small mallocs and had 44 KB of RSS; Roberson answered that
//! even small programs need page tables, that text, data and bss need separate
//! pages, and that most of the virtual size is a stack reservation. Here N such
//! processes run at once, and the harness measures each of them and the kernel's
//! own counters, to find what one more process really costs.

use std::collections::BTreeMap;
use std::path::Path;

use experiments::ExperimentInfo;
use serde_json::json;

use super::{
    human_bytes, pages, verdict_of, Claim, Experiment, Explanation, Plan, PlanContext,
    PlannedVariant,
};
use crate::model::{
    ClaimRecord, ExperimentRecord, PopulationRecord, Status, SummaryTable, SystemCounters,
    VariantRecord, Verdict,
};
use crate::system::Environment;

/// The experiment.
pub struct ManyProcesses;

const SEED: &str = "004_27fc77f6d1b07880.txt";
const VARIANT: &str = "default";
const FULL_COUNT: u64 = 1000;
const QUICK_COUNT: u64 = 100;
const MAX_COUNT: u64 = 10_000;
/// The seed's figure: 44 KB of RSS for the tiny static program on FreeBSD 4.8.
const SEED_RSS_BYTES: u64 = 44 * 1024;

/// The seed's figure: 168 KB of VSZ for the same program.
const SEED_VSZ_BYTES: u64 = 168 * 1024;
/// Roberson's count of page-table pages for the smallest process on x86.
const SEED_PAGE_TABLE_PAGES: u64 = 3;

const KERNEL_DOMINATES: Claim = Claim {
    id: "one-more-process-costs-mostly-kernel-memory",
    source: SEED,
    statement: "Where the memory of one more tiny process goes: most of it is the kernel's per-process bookkeeping (page tables, kernel stack), not the program's own private pages.",
    criterion: "per worker, kernel = Σ VmPTE / N (exact, each worker's status) + Δ KernelStack / N (machine-wide, before-start to all-started), against user = Σ USS / N (exact, each worker's smaps_rollup); the noise band is |KernelStack after-exit − before-start| / N, measured in the same run. Confirmed if kernel − band > user; refuted if kernel + Δ Slab / N (if positive) + band < user; inconclusive in between",
};
const PAGE_TABLES: Claim = Claim {
    id: "even-a-tiny-process-needs-page-tables",
    source: SEED,
    statement: "Even a small program needs page tables: at least three pages on x86 (a page directory, a page table for text, data, bss and the guard page, and one for the stack).",
    criterion: "the smallest VmPTE among the workers (page-table pages below the top level, exact per process) is at least 3 pages, the seed's count; the top level is not in VmPTE, so the comparison leans against the seed",
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
static CLAIMS: [Claim; 5] = [
    KERNEL_DOMINATES,
    PAGE_TABLES,
    RSS_OVERSTATES,
    SEED_RSS,
    SEED_VSZ,
];

static EXPLANATION: Explanation = Explanation {
    seed_claims: "On the freebsd-performance list, D. J. Bernstein asks why a static program that makes five small \
        mallocs and sleeps needs 44 KB of RSS and 168 KB of VSZ, when one page ought to do, since he wants to run \
        ten thousand such processes. Jeff Roberson answers that even small programs need page tables (at least a \
        page directory and a page table each for text/data/bss and for the stack), that most of the VSZ is the \
        initial stack reservation, which costs nothing until used, and that text, data and bss need separate \
        pages because they have different protections and text is shared.",
    steps: &[
        ("before-start", "The worker program is ready (built static from C when a compiler is available) and no worker runs. The system's counters are the baseline."),
        ("all-started", "N workers run: each made its five mallocs, said it was ready and now blocks on a pipe. The harness reads every worker's status and smaps_rollup, and the system's counters."),
        ("after-exit", "The pipe was closed, every worker exited and was reaped; the harness checks that none is left and reads the counters again."),
    ],
    expectations: "Each worker's RSS is a few dozen KiB, most of it the static binary's text and data mapped from the \
        page cache and shared by all workers, so Σ Rss is far above Σ Pss. Its private pages (USS) are a handful: \
        stack, heap, data and bss. Each process also costs the kernel a 16 KiB kernel stack (x86-64), several \
        pages of page tables (VmPTE) and slab objects (task_struct, mm_struct, VMAs, file table, signal \
        handlers...), which together outweigh the private user pages. System-wide counters move with everything \
        else on the machine, so the kernel's share is reported with the noise measured in the same run; freed \
        slab objects may stay cached after the workers exit.",
    questions: &[
        "How much memory does one more tiny process really cost, and which part is the kernel's?",
        "Why is Σ Rss of the workers many times larger than Σ Pss?",
        "Why does every process need several pages of page tables, even if it touches only a few pages?",
        "Which of the figures here would you use to decide how many such processes fit in 1 GiB?",
    ],
    answers: &[],
};

impl Experiment for ManyProcesses {
    fn info(&self) -> &'static ExperimentInfo {
        &experiments::catalog::many_processes::INFO
    }

    fn plan(&self, ctx: &PlanContext<'_>) -> Result<Plan, String> {
        let count = ctx
            .count
            .unwrap_or(if ctx.quick { QUICK_COUNT } else { FULL_COUNT });
        if count == 0 || count > MAX_COUNT {
            return Err(format!(
                "--count {count}: many-processes starts 1 to {MAX_COUNT} processes"
            ));
        }
        check_limits(count)?;
        // A worker takes well under 256 KiB (its private pages, page tables,
        // kernel stack and slab); refuse counts that could squeeze the machine.
        let needed = count * (256 << 10);
        let available = ctx
            .env
            .memory_room_bytes()
            .unwrap_or(ctx.env.mem_total_bytes);
        if available > 0 && needed > available / 2 {
            return Err(format!(
                "{count} workers may need {} and this machine or cgroup has {}; use a smaller --count",
                human_bytes(needed),
                human_bytes(available)
            ));
        }
        let mut params = BTreeMap::new();
        params.insert("count".into(), json!(count));
        Ok(Plan {
            params,
            variants: vec![PlannedVariant {
                name: VARIANT.into(),
                args: vec!["--count".into(), count.to_string().into()],
            }],
        })
    }

    fn explanation(&self) -> &'static Explanation {
        &EXPLANATION
    }

    fn claims(&self) -> &'static [Claim] {
        &CLAIMS
    }

    fn judge(&self, record: &ExperimentRecord, env: &Environment) -> Vec<ClaimRecord> {
        let all = CLAIMS;
        let measured = record
            .variants
            .iter()
            .find(|v| v.status == Status::Ok)
            .and_then(Costs::of);
        let Some(costs) = measured else {
            let why = record
                .variants
                .first()
                .and_then(|v| v.reason.clone())
                .or_else(|| record.reason.clone())
                .unwrap_or_else(|| "the workers were not measured".into());
            return all
                .iter()
                .map(|c| c.unmeasured(None, why.clone()))
                .collect();
        };
        let page = env.page_size.max(1);
        vec![
            costs.kernel_dominates(page),
            costs.page_tables_claim(page),
            costs.rss_overstates(),
            costs.seed_rss(page),
            costs.seed_vsz(page),
        ]
    }

    fn summary(&self, record: &ExperimentRecord, _env: &Environment) -> Vec<SummaryTable> {
        let Some(variant) = record.variants.iter().find(|v| v.status == Status::Ok) else {
            return Vec::new();
        };
        let mut tables = Vec::new();
        if let Some(costs) = Costs::of(variant) {
            tables.push(costs.cost_table());
            tables.push(costs.sums_table());
        }
        tables.push(counters_table(variant));
        tables
    }
}

/// Refuses counts the process limits cannot reach: RLIMIT_NPROC (not for root),
/// pid_max and the cgroup's pids.max.
fn check_limits(count: u64) -> Result<(), String> {
    let running = std::fs::read_dir("/proc")
        .map(|d| {
            d.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
                .count() as u64
        })
        .unwrap_or(0);
    let read_number =
        |path: &str| -> Option<u64> { std::fs::read_to_string(path).ok()?.trim().parse().ok() };
    if let Some(pid_max) = read_number("/proc/sys/kernel/pid_max") {
        if running + count + 64 > pid_max {
            return Err(format!(
                "{count} more processes do not fit under kernel.pid_max {pid_max} with {running} running; use a smaller --count"
            ));
        }
    }
    if !nix::unistd::geteuid().is_root() {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit writes into the local struct.
        let ok = unsafe { libc::getrlimit(libc::RLIMIT_NPROC, &mut limit) } == 0;
        if ok && limit.rlim_cur != libc::RLIM_INFINITY {
            // RLIMIT_NPROC counts every process of this user; the running count is an upper bound.
            if count + running > limit.rlim_cur {
                return Err(format!(
                    "RLIMIT_NPROC is {} and up to {running} processes already run; {count} more may not start. Raise `ulimit -u` or use a smaller --count",
                    limit.rlim_cur
                ));
            }
        }
    }
    for (max, current) in cgroup_pids_files() {
        if let (Some(max), Some(current)) = (read_number(&max), read_number(&current)) {
            if current + count + 8 > max {
                return Err(format!(
                    "the cgroup allows {max} processes (pids.max) and {current} exist; {count} more do not fit. Use a smaller --count"
                ));
            }
        }
    }
    Ok(())
}

/// (pids.max, pids.current) paths of this process's cgroup, v2 and v1.
fn cgroup_pids_files() -> Vec<(String, String)> {
    let Ok(text) = std::fs::read_to_string("/proc/self/cgroup") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for line in text.lines() {
        let mut parts = line.splitn(3, ':');
        let (_, controllers, path) = (
            parts.next(),
            parts.next().unwrap_or(""),
            parts.next().unwrap_or(""),
        );
        let base = if controllers.is_empty() {
            format!("/sys/fs/cgroup{path}")
        } else if controllers.split(',').any(|c| c == "pids") {
            format!("/sys/fs/cgroup/pids{path}")
        } else {
            continue;
        };
        let base = base.trim_end_matches('/').to_string();
        if Path::new(&format!("{base}/pids.max")).exists() {
            out.push((format!("{base}/pids.max"), format!("{base}/pids.current")));
        }
    }
    out
}

/// A mean per-worker figure and the seed's, for [`Costs::against_seed`].
struct SeedFigure<'a> {
    claim: Claim,
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
struct Costs<'a> {
    variant: &'a VariantRecord,
    population: &'a PopulationRecord,
    n: u64,
    before: SystemCounters,
    during: SystemCounters,
    after: SystemCounters,
}

fn delta(a: u64, b: u64) -> i64 {
    b as i64 - a as i64
}

fn signed(bytes: i64) -> String {
    format!(
        "{}{}",
        if bytes < 0 { "-" } else { "" },
        human_bytes(bytes.unsigned_abs())
    )
}

impl<'a> Costs<'a> {
    fn of(variant: &'a VariantRecord) -> Option<Costs<'a>> {
        let during = variant.checkpoint("all-started")?;
        let population = during.population.as_ref()?;
        let n = population.members.len() as u64;
        (n > 0).then_some(())?;
        Some(Costs {
            variant,
            population,
            n,
            before: variant.checkpoint("before-start")?.system?,
            during: during.system?,
            after: variant.checkpoint("after-exit")?.system?,
        })
    }

    /// A counter's change per worker while they ran, and its residual after they
    /// exited (what the rest of the machine did, or caches kept), per worker.
    fn per_worker(&self, f: fn(&SystemCounters) -> u64) -> (i64, i64) {
        (
            delta(f(&self.before), f(&self.during)) / self.n as i64,
            delta(f(&self.before), f(&self.after)) / self.n as i64,
        )
    }

    fn user_private(&self) -> u64 {
        self.population.sum.uss_bytes / self.n
    }

    fn page_tables(&self) -> u64 {
        self.population.sum.pte_bytes / self.n
    }

    fn kernel_dominates(&self, page: u64) -> ClaimRecord {
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
        let claim = if low > user {
            KERNEL_DOMINATES.judged(None, Verdict::Confirmed, evidence)
        } else if high < user {
            KERNEL_DOMINATES.judged(None, Verdict::Refuted, evidence)
        } else {
            KERNEL_DOMINATES.unmeasured(
                None,
                format!(
                    "the machine-wide counters' noise band straddles the private pages: {evidence}"
                ),
            )
        };
        claim.with_measured(measured)
    }

    fn page_tables_claim(&self, page: u64) -> ClaimRecord {
        let min = self
            .population
            .members
            .iter()
            .map(|m| m.figures.pte_bytes)
            .min()
            .unwrap_or(0);
        PAGE_TABLES.judged(
            None,
            verdict_of(min >= SEED_PAGE_TABLE_PAGES * page),
            format!(
                "VmPTE per worker: {} on average ({} pages), at least {} ({} pages); PageTables grew by {} per worker",
                human_bytes(self.page_tables()),
                pages(self.page_tables(), page),
                human_bytes(min),
                pages(min, page),
                signed(self.per_worker(|s| s.page_tables_bytes).0)
            ),
        )
        .with_measured(format!("min VmPTE {} pages", pages(min, page)))
    }

    fn rss_overstates(&self) -> ClaimRecord {
        let sum = &self.population.sum;
        let anon = self.per_worker(|s| s.anon_pages_bytes).0;
        RSS_OVERSTATES.judged(
            None,
            verdict_of(sum.rss_bytes >= 2 * sum.pss_bytes && sum.rss_bytes > sum.uss_bytes),
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
        )
        .with_measured(format!(
            "Σ Rss {:.1} × Σ Pss",
            sum.rss_bytes as f64 / sum.pss_bytes.max(1) as f64
        ))
    }

    fn worker_kind(&self) -> &str {
        self.variant
            .notes
            .get("worker_kind")
            .map_or("?", String::as_str)
    }

    /// A mean figure per worker against one of the seed's, within half the
    /// seed's page count either way; judged only on the seed's own program.
    fn against_seed(&self, figure: SeedFigure<'_>, page: u64) -> ClaimRecord {
        let SeedFigure {
            claim,
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
        if !kind.starts_with("static") {
            return claim
                .unmeasured(
                    None,
                    format!("precondition not met: the worker is not the seed's static C program. {evidence}"),
                )
                .with_measured(measured);
        }
        // The same expectation as tiny-malloc's static variant: the seed measured
        // FreeBSD 4.8's libc; a static glibc program runs far more start-up code.
        claim
            .judged(None, verdict_of(holds), evidence)
            .with_measured(measured)
            .expecting(Verdict::Refuted, expected)
    }

    fn seed_rss(&self, page: u64) -> ClaimRecord {
        let why_not = format!(
            ". Of that, {} per worker is file pages of the worker program, mapped from the page cache and shared by \
             all workers (fault-around maps up to 16 neighbouring pages per fault, and a static glibc program is \
             several hundred KiB); its own pages (USS) are {}",
            human_bytes(self.population.sum.rss_file_bytes / self.n),
            human_bytes(self.user_private())
        );
        self.against_seed(
            SeedFigure {
                claim: SEED_RSS,
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

    fn seed_vsz(&self, page: u64) -> ClaimRecord {
        self.against_seed(
            SeedFigure {
                claim: SEED_VSZ,
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

    fn cost_table(&self) -> SummaryTable {
        let n = self.n as i64;
        let mut rows = vec![
            vec![
                "private user pages (Σ USS / N)".to_string(),
                human_bytes(self.user_private()),
                human_bytes(self.user_private() * self.n),
                "each worker's smaps_rollup".into(),
            ],
            vec![
                "page tables (Σ VmPTE / N)".into(),
                human_bytes(self.page_tables()),
                human_bytes(self.page_tables() * self.n),
                "each worker's status".into(),
            ],
        ];
        for (name, f) in [
            (
                "AnonPages",
                (|s: &SystemCounters| s.anon_pages_bytes) as fn(&SystemCounters) -> u64,
            ),
            ("PageTables", |s| s.page_tables_bytes),
            ("KernelStack", |s| s.kernel_stack_bytes),
            ("Slab", |s| s.slab_bytes),
            ("SUnreclaim", |s| s.slab_unreclaimable_bytes),
            ("MemAvailable", |s| s.mem_available_bytes),
            ("(MemAvailable + per-CPU free pages)", |s| {
                s.mem_available_bytes + s.pcp_free_bytes
            }),
        ] {
            let (during, residual) = self.per_worker(f);
            rows.push(vec![
                format!("Δ {name} / N"),
                signed(during),
                signed(during * n),
                format!(
                    "system-wide counters (meminfo, zoneinfo); {} per worker left after exit",
                    signed(residual)
                ),
            ]);
        }
        let parts = self.user_private() as i64
            + self.page_tables() as i64
            + self.per_worker(|s| s.kernel_stack_bytes).0
            + self.per_worker(|s| s.slab_bytes).0;
        rows.push(vec![
            "USS + VmPTE + Δ KernelStack + Δ Slab".into(),
            signed(parts),
            signed(parts * n),
            "the parts above, to compare with the fall of MemAvailable + per-CPU free pages".into(),
        ]);
        SummaryTable {
            title: format!("what one more worker costs ({} workers)", self.n),
            headers: ["component", "per worker", "all workers", "measured from"]
                .map(String::from)
                .to_vec(),
            rows,
        }
    }

    fn sums_table(&self) -> SummaryTable {
        let sum = &self.population.sum;
        let member = |f: fn(&crate::model::MemberFigures) -> u64| {
            let min = self
                .population
                .members
                .iter()
                .map(|m| f(&m.figures))
                .min()
                .unwrap_or(0);
            let max = self
                .population
                .members
                .iter()
                .map(|m| f(&m.figures))
                .max()
                .unwrap_or(0);
            format!("{} – {}", human_bytes(min), human_bytes(max))
        };
        let rows = vec![
            vec![
                "VmSize".to_string(),
                human_bytes(sum.vm_size_bytes),
                human_bytes(sum.vm_size_bytes / self.n),
                member(|f| f.vm_size_bytes),
            ],
            vec![
                "VmRSS".into(),
                human_bytes(sum.rss_bytes),
                human_bytes(sum.rss_bytes / self.n),
                member(|f| f.rss_bytes),
            ],
            vec![
                "RssFile".into(),
                human_bytes(sum.rss_file_bytes),
                human_bytes(sum.rss_file_bytes / self.n),
                member(|f| f.rss_file_bytes),
            ],
            vec![
                "RssAnon".into(),
                human_bytes(sum.rss_anon_bytes),
                human_bytes(sum.rss_anon_bytes / self.n),
                member(|f| f.rss_anon_bytes),
            ],
            vec![
                "Pss".into(),
                human_bytes(sum.pss_bytes),
                human_bytes(sum.pss_bytes / self.n),
                member(|f| f.pss_bytes),
            ],
            vec![
                "USS".into(),
                human_bytes(sum.uss_bytes),
                human_bytes(sum.uss_bytes / self.n),
                member(|f| f.uss_bytes),
            ],
            vec![
                "VmPTE".into(),
                human_bytes(sum.pte_bytes),
                human_bytes(sum.pte_bytes / self.n),
                member(|f| f.pte_bytes),
            ],
        ];
        SummaryTable {
            title: format!(
                "the workers as ps would add them up ({} found, {} vanished while read)",
                self.population.count, self.population.vanished
            ),
            headers: ["figure", "Σ all workers", "mean", "min – max"]
                .map(String::from)
                .to_vec(),
            rows,
        }
    }
}

fn counters_table(variant: &VariantRecord) -> SummaryTable {
    let mut rows = Vec::new();
    for c in &variant.checkpoints {
        let Some(s) = c.system else { continue };
        rows.push(vec![
            c.label.clone(),
            c.population
                .as_ref()
                .map_or("-".into(), |p| p.members.len().to_string()),
            human_bytes(s.mem_available_bytes),
            human_bytes(s.anon_pages_bytes),
            human_bytes(s.page_tables_bytes),
            human_bytes(s.kernel_stack_bytes),
            human_bytes(s.slab_bytes),
            human_bytes(s.slab_unreclaimable_bytes),
        ]);
    }
    SummaryTable {
        title: "the kernel's counters (/proc/meminfo, whole machine)".into(),
        headers: [
            "checkpoint",
            "workers",
            "MemAvailable",
            "AnonPages",
            "PageTables",
            "KernelStack",
            "Slab",
            "SUnreclaim",
        ]
        .map(String::from)
        .to_vec(),
        rows,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiment::programs::fixtures::{self, PAGE};
    use crate::model::{MemberFigures, MemberRecord};

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
            role: "worker".into(),
            parent_pid: 1,
            count: N as usize,
            vanished: 0,
            members,
            sum,
        }
    }

    /// KernelStack (bytes) at the three checkpoints.
    fn run(population: PopulationRecord, stacks: [u64; 3], kind: &str) -> VariantRecord {
        let labels = ["before-start", "all-started", "after-exit"];
        let checkpoints = labels
            .iter()
            .zip(stacks)
            .map(|(label, stack)| {
                let mut c = fixtures::checkpoint(label, Vec::new());
                c.system = Some(SystemCounters {
                    kernel_stack_bytes: stack,
                    ..Default::default()
                });
                if *label == "all-started" {
                    c.population = Some(population.clone());
                }
                c
            })
            .collect();
        let mut v = fixtures::variant(VARIANT, checkpoints);
        v.notes.insert("worker_kind".into(), kind.into());
        v
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
            let v = run(typical(), stacks, "static C");
            Costs::of(&v).expect("costs").kernel_dominates(PAGE).verdict
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
    fn every_worker_needs_three_page_table_pages() {
        for (first, verdict) in [(3, Verdict::Confirmed), (2, Verdict::Refuted)] {
            let v = run(
                population(174, 247, 12, 11, 9, first),
                [BASE; 3],
                "static C",
            );
            let claim = Costs::of(&v).expect("costs").page_tables_claim(PAGE);
            assert_eq!(claim.verdict, verdict, "{first}");
            assert!(!claim.measured.is_empty());
        }
    }

    #[test]
    fn summed_rss_must_be_twice_summed_pss() {
        for (pss, verdict) in [(87, Verdict::Confirmed), (88, Verdict::Refuted)] {
            let v = run(population(174, 247, pss, 11, 9, 9), [BASE; 3], "static C");
            assert_eq!(
                Costs::of(&v).expect("costs").rss_overstates().verdict,
                verdict,
                "{pss}"
            );
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
            let v = run(population(rss, 42, 3, 3, 9, 9), [BASE; 3], "static C");
            let claim = Costs::of(&v).expect("costs").seed_rss(PAGE);
            assert_eq!(claim.verdict, verdict, "RSS {rss} pages");
            assert_eq!(claim.expected.map(|e| e.verdict), Some(Verdict::Refuted));
        }
        for (vsz, verdict) in [
            (63, Verdict::Confirmed),
            (64, Verdict::Refuted),
            (21, Verdict::Confirmed),
            (20, Verdict::Refuted),
        ] {
            let v = run(population(11, vsz, 3, 3, 9, 9), [BASE; 3], "static C");
            assert_eq!(
                Costs::of(&v).expect("costs").seed_vsz(PAGE).verdict,
                verdict,
                "VSZ {vsz} pages"
            );
        }
        // Not the seed's program: no judgement.
        let v = run(population(11, 42, 3, 3, 9, 9), [BASE; 3], "rust std");
        assert_eq!(
            Costs::of(&v).expect("costs").seed_rss(PAGE).verdict,
            Verdict::Inconclusive
        );
    }
}
