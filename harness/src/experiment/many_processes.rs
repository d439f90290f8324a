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

const KERNEL_DOMINATES: Claim = Claim {
    id: "one-more-process-costs-mostly-kernel-memory",
    source: SEED,
    statement: "Most of what one more tiny process costs is the kernel's bookkeeping (page tables, kernel stack, kernel objects), not the program's own pages.",
    criterion: "",
};
const PAGE_TABLES: Claim = Claim {
    id: "even-a-tiny-process-needs-page-tables",
    source: SEED,
    statement: "Even a small program needs several pages of page tables (the reply counts at least three on x86).",
    criterion: "",
};
const RSS_OVERSTATES: Claim = Claim {
    id: "summing-rss-overstates-the-cost",
    source: SEED,
    statement: "Adding up the processes' RSS overstates what they cost: shared text and library pages are counted once per process.",
    criterion: "",
};
const SEED_RSS: Claim = Claim {
    id: "tiny-static-process-has-44kb-rss",
    source: SEED,
    statement:
        "A static program that made five small mallocs shows about 44 KB of RSS (FreeBSD 4.8).",
    criterion: "",
};

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
};

impl Experiment for ManyProcesses {
    fn info(&self) -> &'static ExperimentInfo {
        &experiments::catalog::MANY_PROCESSES
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

    fn judge(&self, record: &ExperimentRecord, env: &Environment) -> Vec<ClaimRecord> {
        let all = [KERNEL_DOMINATES, PAGE_TABLES, RSS_OVERSTATES, SEED_RSS];
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

    fn kernel_dominates(&self, _page: u64) -> ClaimRecord {
        let user = self.user_private() as i64;
        let pte = self.page_tables() as i64;
        let (stack, stack_residual) = self.per_worker(|s| s.kernel_stack_bytes);
        let (slab, slab_residual) = self.per_worker(|s| s.slab_bytes);
        // Page tables and private pages are each worker's own figures (exact); the
        // kernel stack and slab come from system-wide counters, which the rest of
        // the machine moves too. The verdict must hold at both ends of that
        // uncertainty: without the slab and with the kernel stack's residual taken
        // off (low), and with both and their residuals added (high).
        let low = pte + stack - stack_residual.abs();
        let high = pte + stack + stack_residual.abs() + slab.max(0) + slab_residual.abs();
        let evidence = format!(
            "per worker: {} of private user pages (Σ USS / N) against kernel memory of page tables {} (Σ VmPTE / N), \
             kernel stack {} (Δ KernelStack / N; {} left after exit) and slab {} (Δ Slab / N; {} left after exit, \
             freed objects may stay cached): between {} and {} in all",
            human_bytes(user as u64),
            human_bytes(pte as u64),
            signed(stack),
            signed(stack_residual),
            signed(slab),
            signed(slab_residual),
            signed(low),
            signed(high)
        );
        if low > user {
            KERNEL_DOMINATES.judged(None, Verdict::Confirmed, evidence)
        } else if high < user {
            KERNEL_DOMINATES.judged(None, Verdict::Refuted, evidence)
        } else {
            KERNEL_DOMINATES.unmeasured(
                None,
                format!("the system-wide counters were too noisy to decide: {evidence}"),
            )
        }
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
            verdict_of(min >= 3 * page),
            format!(
                "VmPTE per worker: {} on average ({} pages), at least {} ({} pages); PageTables grew by {} per worker",
                human_bytes(self.page_tables()),
                pages(self.page_tables(), page),
                human_bytes(min),
                pages(min, page),
                signed(self.per_worker(|s| s.page_tables_bytes).0)
            ),
        )
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
    }

    fn seed_rss(&self, page: u64) -> ClaimRecord {
        let mean = self.population.sum.rss_bytes / self.n;
        let kind = self
            .variant
            .notes
            .get("worker_kind")
            .map_or("?", String::as_str);
        let seed_pages = SEED_RSS_BYTES / page.max(1);
        // Within half the seed's page count either way.
        let holds = mean.abs_diff(SEED_RSS_BYTES) <= seed_pages / 2 * page;
        let claim = SEED_RSS.judged(
            None,
            verdict_of(holds),
            format!(
                "mean RSS per worker {} ({} pages; the seed's 44 KB is {seed_pages} pages, tolerance {} pages), VSZ {}; \
                 worker: {kind}",
                human_bytes(mean),
                pages(mean, page),
                seed_pages / 2,
                human_bytes(self.population.sum.vm_size_bytes / self.n)
            ),
        );
        let claim = if holds {
            claim
        } else {
            ClaimRecord {
                evidence: format!(
                    "{}. Of that, {} per worker is file pages of the worker program, mapped from the page cache and \
                     shared by all workers (fault-around maps up to 16 neighbouring pages per fault, and a static \
                     glibc program is several hundred KiB); its own pages (USS) are {}",
                    claim.evidence,
                    human_bytes(self.population.sum.rss_file_bytes / self.n),
                    human_bytes(self.user_private())
                ),
                ..claim
            }
        };
        if kind.starts_with("static") {
            // The same expectation as tiny-malloc's static variant: the seed measured
            // FreeBSD 4.8's libc; a static glibc program runs far more start-up code.
            claim.expecting(
                Verdict::Refuted,
                "a static glibc program maps and touches hundreds of KiB of its own text at start-up, and \
                 fault-around maps up to 16 cached neighbours per fault, so its RSS is far above FreeBSD 4.8's 44 KB",
            )
        } else {
            ClaimRecord {
                verdict: Verdict::Inconclusive,
                evidence: format!(
                    "precondition not met: the worker is not a static C program. {}",
                    claim.evidence
                ),
                ..claim
            }
        }
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
