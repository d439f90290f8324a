//! shared-file: "Some things I've learned about memory" (Evan Martin, seed 003)
//! presents PSS as the fair share of memory several processes map (each page's
//! size divided by the number of processes mapping it), points out that its
//! sum does not double count as the sum of RSS does, and that it has a surprise:
//! when one sharer exits, the others' PSS rises although no memory was freed.
//! Chrome maps one resource file into all its processes; here N processes map
//! one file.

use std::collections::BTreeMap;

use experiments::ExperimentInfo;
use serde_json::json;

use super::{
    human_bytes, not_run_reason, pages, region_at, verdict_of, Claim, Experiment, Explanation,
    Plan, PlanContext, PlannedVariant,
};
use crate::model::{
    CheckpointRecord, ClaimRecord, ExperimentRecord, MemoryFigures, RegionRecord, Status,
    SummaryTable, VariantRecord,
};
use crate::system::Environment;

/// The experiment.
pub struct SharedFile;

const SEED: &str = "003_189c8fe560e6e530.txt";
const REGION: &str = "file";
const VARIANT: &str = "default";
const FULL_FILE_BYTES: u64 = 100 << 20;
const QUICK_FILE_BYTES: u64 = 16 << 20;
const DEFAULT_SHARERS: u64 = 4;
const LABELS: [&str; 3] = ["all-reading", "after-one-exits", "after-two-exit"];

/// smaps prints Pss in whole kB, truncated: per mapping a figure may be up to
/// this much below the exact share.
const PSS_ROUNDING_BYTES: u64 = 1024;

const PSS_SHARE: Claim = Claim {
    id: "pss-is-rss-divided-by-sharers",
    source: SEED,
    statement: "PSS charges each process an equal share of the pages it shares: with N processes mapping the same file, each one's PSS of it is its RSS divided by N.",
    criterion: "at all-reading, every sharer's smaps Pss of the file equals its Rss / N within 1 KiB per mapping \
        (smaps prints whole kB, truncated). Precondition: every sharer has the whole file resident (Rss = the \
        file's pages)",
};
const SHARED_CLEAN: Claim = Claim {
    id: "file-pages-read-by-all-are-shared-clean",
    source: SEED,
    statement: "Mapping the same file is one of the ways processes share pages: pages all of them read are one copy, counted as Shared_Clean in each.",
    criterion: "at all-reading, every sharer's Shared_Clean of the file equals its Rss and its Private_Clean + \
        Private_Dirty is 0, exactly. Precondition: at least 2 sharers with pages resident",
};
const PSS_RISES: Claim = Claim {
    id: "pss-rises-when-a-sharer-exits",
    source: SEED,
    statement: "When one of the sharing processes exits, the PSS of each remaining sharer goes up a little: the same pages are divided among fewer.",
    criterion: "at after-one-exits and after-two-exit, every remaining sharer's Pss of the file is its Rss / \
        (sharers left) within 1 KiB per mapping, and more than 1 KiB per mapping above its Pss at the \
        checkpoint before",
};
const EXIT_FREES_NOTHING: Claim = Claim {
    id: "a-sharers-exit-frees-no-shared-memory",
    source: SEED,
    statement: "Killing one process that shares memory with others does not make that memory available to the system: the shared pages stay in memory.",
    criterion: "the page cache holds as many of the file's pages (mincore, counted by the main process) at \
        after-one-exits and after-two-exit as at all-reading; exact. Precondition: the file is cached at \
        all-reading",
};
const SUMS: Claim = Claim {
    id: "sum-of-rss-overstates-sum-of-pss-does-not",
    source: SEED,
    statement: "Only one copy of a file many processes map occupies memory: adding up RSS counts it once per process (N-fold here), adding up PSS counts it once.",
    criterion: "at all-reading, Σ Rss of the file over the N sharers equals N × the file's pages in the page \
        cache, and Σ Pss equals those pages once, within 1 KiB per sharer (smaps rounding). Precondition: at \
        least 2 sharers",
};

/// Every claim, in the order they are judged.
static CLAIMS: [Claim; 5] = [PSS_SHARE, SHARED_CLEAN, PSS_RISES, EXIT_FREES_NOTHING, SUMS];

/// A claim with the judge bound to it.
type Case = (Claim, fn(&Judge<'_>) -> ClaimRecord);

const CASES: [Case; 5] = [
    (PSS_SHARE, |j| j.pss_share()),
    (SHARED_CLEAN, |j| j.shared_clean()),
    (PSS_RISES, |j| j.pss_rises()),
    (EXIT_FREES_NOTHING, |j| j.exit_frees_nothing()),
    (SUMS, |j| j.sums()),
];

static EXPLANATION: Explanation = Explanation {
    seed_claims: "In \"Some things I've learned about memory\", Evan Martin explains that RSS charges every process \
        for every page it has resident, so ten processes sharing a library seem to use ten times its size. PSS, \
        the proportional set size in smaps, divides each page by the number of processes mapping it, and so is \
        the fairest single figure. It has a counterintuitive property: kill one of the processes sharing memory, \
        and the others' PSS goes up a little, although nothing became free. Mapping the same file is one of four \
        ways processes share pages; Chrome keeps all its resources in one file that every process maps.",
    steps: &[
        ("all-reading", "N processes have each mapped the file (inherited from the main process, which never touched it) and read one byte of every page; all are parked on a pipe. Each page of the file is in the page cache once and mapped N times."),
        ("after-one-exits", "One sharer was released, exited and was reaped. Its page-table entries are gone; the file's pages are still in the page cache, now mapped N-1 times."),
        ("after-two-exit", "A second sharer exited: each page is mapped N-2 times, and the page cache still holds the whole file."),
    ],
    expectations: "Every sharer's Rss of the file is the whole file and its Pss is exactly Rss/N (smaps rounds each \
        mapping to whole KiB), all of it Shared_Clean. After a sharer exits the remaining ones' Pss becomes \
        Rss/(N-1), while mincore shows the same number of pages in the page cache: nothing was freed, the same \
        memory is divided among fewer. Σ Rss is N times the file; Σ Pss is the file once. The main process maps \
        the file too, but never touches it, so it maps no page and does not count as a sharer.",
    questions: &[
        "Why is each sharer's Pss of the file Rss/N, and what would it be if one sharer had read only half the file?",
        "A sharer exits and the others' Pss rises: was memory allocated? What does the page cache count say?",
        "Which sum tells you how much memory the file costs the machine, and which one overstates it, by how much?",
        "What would Pss show for the last remaining sharer, and would killing it free the file's pages?",
    ],
    answers: &[],
};

impl Experiment for SharedFile {
    fn info(&self) -> &'static ExperimentInfo {
        &experiments::catalog::shared_file::INFO
    }

    fn plan(&self, ctx: &PlanContext<'_>) -> Result<Plan, String> {
        let page = ctx.env.page_size.max(1);
        let file_bytes = ctx
            .size_bytes
            .unwrap_or(if ctx.quick {
                QUICK_FILE_BYTES
            } else {
                FULL_FILE_BYTES
            })
            .div_ceil(page)
            * page;
        let sharers = ctx.count.unwrap_or(DEFAULT_SHARERS);
        if !(3..=1000).contains(&sharers) {
            return Err(format!(
                "--count {sharers}: shared-file needs 3 to 1000 sharers (two of them exit during the run)"
            ));
        }
        if file_bytes < 16 * page {
            return Err("the file must be at least 16 pages; use a larger --size".into());
        }
        let needed = file_bytes + file_bytes / 20;
        if ctx.env.temp_dir_free_bytes < needed {
            return Err(format!(
                "needs {} free in {} for the file but only {} is free; pass --dir elsewhere or a smaller --size",
                human_bytes(needed),
                ctx.env.temp_dir.display(),
                human_bytes(ctx.env.temp_dir_free_bytes)
            ));
        }
        let mut params = BTreeMap::new();
        params.insert("file_bytes".into(), json!(file_bytes));
        params.insert("sharers".into(), json!(sharers));
        Ok(Plan {
            params,
            variants: vec![PlannedVariant {
                name: VARIANT.into(),
                args: vec![
                    "--file-bytes".into(),
                    file_bytes.to_string().into(),
                    "--sharers".into(),
                    sharers.to_string().into(),
                ],
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
        let why = match record.variants.first() {
            None => Some(record.reason.clone().unwrap_or_else(|| "not run".into())),
            Some(v) => not_run_reason(v),
        };
        match (why, record.variants.first()) {
            (None, Some(variant)) => {
                let j = Judge { variant, env };
                CASES.iter().map(|(_, judge)| judge(&j)).collect()
            }
            (why, _) => {
                let why = why.unwrap_or_default();
                CASES
                    .iter()
                    .map(|(c, _)| c.unmeasured(None, why.clone()))
                    .collect()
            }
        }
    }

    fn summary(&self, record: &ExperimentRecord, env: &Environment) -> Vec<SummaryTable> {
        let Some(variant) = record.variants.iter().find(|v| v.status == Status::Ok) else {
            return Vec::new();
        };
        let mut table = SummaryTable {
            title: "the file in each sharer, and summed over sharers".into(),
            headers: [
                "checkpoint",
                "sharers",
                "Rss each",
                "Pss each",
                "Shared_Clean each",
                "Σ Rss",
                "Σ Pss",
                "page cache",
            ]
            .map(String::from)
            .to_vec(),
            rows: Vec::new(),
        };
        let j = Judge { variant, env };
        for label in LABELS {
            let Some(c) = variant.checkpoint(label) else {
                continue;
            };
            let figures = sharer_figures(c);
            let range = |f: fn(&MemoryFigures) -> u64| {
                let min = figures.iter().map(f).min().unwrap_or(0);
                let max = figures.iter().map(f).max().unwrap_or(0);
                if min == max {
                    human_bytes(min)
                } else {
                    format!("{} – {}", human_bytes(min), human_bytes(max))
                }
            };
            table.rows.push(vec![
                label.to_string(),
                figures.len().to_string(),
                range(|f| f.rss_bytes),
                range(|f| f.pss_bytes),
                range(|f| f.shared_clean_bytes),
                human_bytes(figures.iter().map(|f| f.rss_bytes).sum()),
                human_bytes(figures.iter().map(|f| f.pss_bytes).sum()),
                j.cached_bytes(label).map_or("-".into(), human_bytes),
            ]);
        }
        vec![table]
    }
}

/// The file's figures in every sharer at a checkpoint (main excluded).
fn sharer_figures(c: &CheckpointRecord) -> Vec<MemoryFigures> {
    sharer_regions(c)
        .into_iter()
        .map(|r| r.figures.clone())
        .collect()
}

/// The file's region in every sharer at a checkpoint (main excluded).
fn sharer_regions(c: &CheckpointRecord) -> Vec<&RegionRecord> {
    c.processes
        .iter()
        .filter(|p| p.role.starts_with("sharer-"))
        .filter_map(|p| p.region(REGION))
        .collect()
}

struct Judge<'a> {
    variant: &'a VariantRecord,
    env: &'a Environment,
}

impl Judge<'_> {
    fn page(&self) -> u64 {
        self.env.page_size.max(1)
    }

    fn note_number(&self, key: &str) -> Option<u64> {
        self.variant.notes.get(key)?.parse().ok()
    }

    /// The page cache's own count of the file's pages at a checkpoint (mincore,
    /// done by the main process just before it), in bytes.
    fn cached_bytes(&self, label: &str) -> Option<u64> {
        let key = match label {
            "all-reading" => "page_cache_pages_all_reading",
            "after-one-exits" => "page_cache_pages_after_one_exits",
            _ => "page_cache_pages_after_two_exit",
        };
        Some(self.note_number(key)? * self.page())
    }

    fn file_bytes(&self) -> Option<u64> {
        Some(self.note_number("file_pages")? * self.page())
    }

    /// Whether every sharer's Pss at `label` is Rss / n (n sharers there), within
    /// the smaps rounding, with a sentence saying what was seen.
    fn check_share(&self, label: &str) -> Option<(bool, String)> {
        let c = self.variant.checkpoint(label)?;
        let regions = sharer_regions(c);
        let n = regions.len() as u64;
        if n == 0 {
            return None;
        }
        let mut holds = true;
        let mut worst = 0;
        for r in &regions {
            let expected = r.figures.rss_bytes / n;
            let tol = PSS_ROUNDING_BYTES * r.mapping_count.max(1) as u64;
            let below = expected.saturating_sub(r.figures.pss_bytes);
            let above = r.figures.pss_bytes.saturating_sub(expected);
            worst = worst.max(below.max(above));
            holds &= r.figures.rss_bytes > 0 && below <= tol && above <= tol;
        }
        let first = &regions[0].figures;
        Some((
            holds,
            format!(
                "at {label}, {n} sharers each have Rss {} and Pss {} of the file (Rss/{n} = {}); the largest \
                 difference from Rss/{n} is {worst} bytes",
                human_bytes(first.rss_bytes),
                human_bytes(first.pss_bytes),
                human_bytes(first.rss_bytes / n)
            ),
        ))
    }

    fn pss_share(&self) -> ClaimRecord {
        let (Some(c), Some(file)) = (self.variant.checkpoint("all-reading"), self.file_bytes())
        else {
            return PSS_SHARE.unmeasured(None, "all-reading was not measured");
        };
        let Some((holds, text)) = self.check_share("all-reading") else {
            return PSS_SHARE.unmeasured(None, "no sharer was measured at all-reading");
        };
        if !sharer_figures(c).iter().all(|f| f.rss_bytes == file) {
            return PSS_SHARE.unmeasured(
                None,
                format!("precondition not met: not every sharer had the whole file ({}) resident; {text}", human_bytes(file)),
            );
        }
        let pss = sharer_figures(c).first().map_or(0, |f| f.pss_bytes);
        PSS_SHARE
            .judged(None, verdict_of(holds), text)
            .with_measured(format!(
                "Pss {} of Rss {}",
                human_bytes(pss),
                human_bytes(file)
            ))
    }

    fn shared_clean(&self) -> ClaimRecord {
        let Some(c) = self.variant.checkpoint("all-reading") else {
            return SHARED_CLEAN.unmeasured(None, "all-reading was not measured");
        };
        let figures = sharer_figures(c);
        if figures.len() < 2 || figures.iter().any(|f| f.rss_bytes == 0) {
            return SHARED_CLEAN.unmeasured(
                None,
                format!("precondition not met: {} sharers, not all with pages resident: nothing to share", figures.len()),
            );
        }
        let holds = figures.iter().all(|f| {
            f.shared_clean_bytes == f.rss_bytes
                && f.private_clean_bytes + f.private_dirty_bytes == 0
        });
        let private: u64 = figures
            .iter()
            .map(|f| f.private_clean_bytes + f.private_dirty_bytes)
            .sum();
        let first = &figures[0];
        SHARED_CLEAN
            .judged(
                None,
                verdict_of(holds),
                format!(
                    "each of {} sharers: Rss {}, Shared_Clean {}, Private_Clean {}, Private_Dirty {}; private bytes \
                     over all sharers: {private}",
                    figures.len(),
                    human_bytes(first.rss_bytes),
                    human_bytes(first.shared_clean_bytes),
                    human_bytes(first.private_clean_bytes),
                    human_bytes(first.private_dirty_bytes)
                ),
            )
            .with_measured(format!(
                "Shared_Clean {} of Rss {}, {private} B private",
                human_bytes(first.shared_clean_bytes),
                human_bytes(first.rss_bytes)
            ))
    }

    fn pss_rises(&self) -> ClaimRecord {
        let mut parts = Vec::new();
        let mut holds = true;
        let mut measured = Vec::new();
        for pair in LABELS.windows(2) {
            let (before_label, after_label) = (pair[0], pair[1]);
            let (Some(before), Some(after)) = (
                self.variant.checkpoint(before_label),
                self.variant.checkpoint(after_label),
            ) else {
                return PSS_RISES.unmeasured(None, format!("{after_label} was not measured"));
            };
            let Some((share_holds, share_text)) = self.check_share(after_label) else {
                return PSS_RISES
                    .unmeasured(None, format!("no sharer was measured at {after_label}"));
            };
            // Every sharer still there has a higher Pss than before.
            let rose = after
                .processes
                .iter()
                .filter(|p| p.role.starts_with("sharer-"))
                .all(|p| {
                    let (Some(now), Some(then)) = (
                        p.region(REGION),
                        before.process(&p.role).and_then(|b| b.region(REGION)),
                    ) else {
                        return false;
                    };
                    let tol = PSS_ROUNDING_BYTES * now.mapping_count.max(1) as u64;
                    now.figures.pss_bytes > then.figures.pss_bytes + tol
                });
            holds &= rose && share_holds;
            let pss = |label| {
                region_at(self.variant, label, "sharer-1", REGION)
                    .map_or(0, |r| r.figures.pss_bytes)
            };
            measured.push(human_bytes(pss(after_label)));
            parts.push(format!(
                "sharer-1's Pss went from {} to {} ({before_label} to {after_label}); {share_text}",
                human_bytes(pss(before_label)),
                human_bytes(pss(after_label))
            ));
        }
        let first = region_at(self.variant, LABELS[0], "sharer-1", REGION)
            .map_or(0, |r| r.figures.pss_bytes);
        PSS_RISES
            .judged(None, verdict_of(holds), parts.join("; "))
            .with_measured(format!(
                "Pss {} → {}",
                human_bytes(first),
                measured.join(" → ")
            ))
    }

    fn exit_frees_nothing(&self) -> ClaimRecord {
        let counts: Option<Vec<u64>> = LABELS.iter().map(|l| self.cached_bytes(l)).collect();
        let Some(counts) = counts else {
            return EXIT_FREES_NOTHING
                .unmeasured(None, "the page cache was not counted at every checkpoint");
        };
        if counts[0] == 0 {
            return EXIT_FREES_NOTHING.unmeasured(
                None,
                "precondition not met: the file was not in the page cache at all-reading",
            );
        }
        let text: Vec<String> = counts
            .iter()
            .map(|c| pages(*c, self.page()).to_string())
            .collect();
        let unchanged = counts.iter().all(|c| *c == counts[0]);
        let why = if unchanged || self.env.damon_pageout.is_empty() {
            String::new()
        } else {
            format!(
                ". Proactive reclaim runs on this machine ({}) and pages out memory it finds idle, page-cache \
                 pages included",
                self.env.damon_pageout.join("; ")
            )
        };
        EXIT_FREES_NOTHING
            .judged(
                None,
                verdict_of(unchanged),
                format!(
                    "the page cache held {} pages of the file at {} (mincore){}{why}",
                    text.join(", "),
                    LABELS.join(", "),
                    if unchanged {
                        ": the exits freed none of it"
                    } else {
                        ""
                    }
                ),
            )
            .with_measured(format!("{} pages cached", text.join(" → ")))
    }

    fn sums(&self) -> ClaimRecord {
        let (Some(c), Some(cached)) = (
            self.variant.checkpoint("all-reading"),
            self.cached_bytes("all-reading"),
        ) else {
            return SUMS.unmeasured(None, "all-reading was not measured");
        };
        let figures = sharer_figures(c);
        let n = figures.len() as u64;
        if n < 2 {
            return SUMS.unmeasured(
                None,
                format!("precondition not met: {n} sharers, nothing is shared"),
            );
        }
        let rss: u64 = figures.iter().map(|f| f.rss_bytes).sum();
        let pss: u64 = figures.iter().map(|f| f.pss_bytes).sum();
        let tol = PSS_ROUNDING_BYTES * n;
        let holds = rss == n * cached && pss <= cached && cached - pss <= tol;
        SUMS.judged(
            None,
            verdict_of(holds),
            format!(
                "{n} sharers: Σ Rss {} ({:.2} × the {} the page cache holds of the file), Σ Pss {} ({:.2} ×)",
                human_bytes(rss),
                rss as f64 / cached.max(1) as f64,
                human_bytes(cached),
                human_bytes(pss),
                pss as f64 / cached.max(1) as f64
            ),
        )
        .with_measured(format!(
            "Σ Rss {:.2}×, Σ Pss {:.2}× the file",
            rss as f64 / cached.max(1) as f64,
            pss as f64 / cached.max(1) as f64
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Verdict;
    use serde_json::{json, Value};

    const PAGE: u64 = 4096;
    const FILE: u64 = 256 * PAGE;

    fn env() -> Environment {
        let mut env = Environment::detect(&std::env::temp_dir());
        env.page_size = PAGE;
        env
    }

    fn process(role: &str, pid: i32, rss: u64, pss: u64) -> Value {
        json!({
            "role": role, "pid": pid,
            "faults": {"minor": 0, "major": 0}, "faults_total": {"minor": 0, "major": 0},
            "totals": {"vm_size_bytes": 0, "rss_bytes": rss, "rss_anon_bytes": 0, "rss_file_bytes": rss,
                       "rss_shmem_bytes": 0, "pss_bytes": pss, "uss_bytes": 0, "pte_bytes": 0,
                       "stack_bytes": 0, "swap_bytes": 0},
            "regions": [{"name": "file", "mapping_count": 1, "size_bytes": FILE, "rss_bytes": rss,
                         "pss_bytes": pss, "shared_clean_bytes": rss, "shared_dirty_bytes": 0,
                         "private_clean_bytes": 0, "private_dirty_bytes": 0, "anonymous_bytes": 0,
                         "anon_huge_pages_bytes": 0, "swap_bytes": 0}],
            "mappings": []
        })
    }

    /// A record where each sharer's Pss at each checkpoint is `pss(n)` for n sharers.
    fn record(pss: impl Fn(u64) -> u64) -> ExperimentRecord {
        let checkpoint = |label: &str, n: u64| {
            let mut procs = vec![process("main", 1, 0, 0)];
            procs.extend(
                (1..=n).map(|i| process(&format!("sharer-{i}"), 1 + i as i32, FILE, pss(n))),
            );
            json!({"label": label, "phase_millis": 0, "processes": procs})
        };
        serde_json::from_value(json!({
            "name": "shared-file", "status": "ok", "reason": null, "params": {},
            "variants": [{
                "name": "default", "status": "ok", "reason": null,
                "notes": {"file_pages": "256", "page_cache_pages_all_reading": "256",
                          "page_cache_pages_after_one_exits": "256",
                          "page_cache_pages_after_two_exit": "256"},
                "noise_floor": [],
                "checkpoints": [checkpoint("all-reading", 4), checkpoint("after-one-exits", 3),
                                checkpoint("after-two-exit", 2)]
            }],
            "claims": []
        }))
        .expect("a valid record")
    }

    fn verdicts(record: &ExperimentRecord) -> Vec<(String, Verdict)> {
        SharedFile
            .judge(record, &env())
            .into_iter()
            .map(|c| (c.id, c.verdict))
            .collect()
    }

    #[test]
    fn a_fair_share_is_confirmed_and_an_unfair_one_refuted() {
        let fair = verdicts(&record(|n| FILE / n));
        assert!(
            fair.iter().all(|(_, v)| *v == Verdict::Confirmed),
            "{fair:?}"
        );
        // Pss as if every sharer were charged in full: the claims must fail.
        let unfair = verdicts(&record(|_| FILE));
        let refuted = |id: &str| {
            unfair
                .iter()
                .any(|(i, v)| i == id && *v == Verdict::Refuted)
        };
        assert!(refuted("pss-is-rss-divided-by-sharers"), "{unfair:?}");
        assert!(refuted("pss-rises-when-a-sharer-exits"), "{unfair:?}");
        assert!(
            refuted("sum-of-rss-overstates-sum-of-pss-does-not"),
            "{unfair:?}"
        );
    }

    fn verdict_of_claim(record: &ExperimentRecord, claim: Claim) -> Verdict {
        let claims = SharedFile.judge(record, &env());
        crate::experiment::testkit::find(&claims, claim.id, None).verdict
    }

    /// Applies `f` to the file region of every sharer at `label`.
    fn edit(record: &mut ExperimentRecord, label: &str, f: impl Fn(&mut MemoryFigures)) {
        let c = record.variants[0]
            .checkpoints
            .iter_mut()
            .find(|c| c.label == label)
            .unwrap();
        for p in c
            .processes
            .iter_mut()
            .filter(|p| p.role.starts_with("sharer-"))
        {
            f(&mut p.regions[0].figures);
        }
    }

    #[test]
    fn pss_may_be_one_kib_below_the_share_per_mapping() {
        let mut r = record(|n| FILE / n);
        edit(&mut r, "all-reading", |f| f.pss_bytes -= PSS_ROUNDING_BYTES);
        assert_eq!(verdict_of_claim(&r, PSS_SHARE), Verdict::Confirmed);
        edit(&mut r, "all-reading", |f| f.pss_bytes -= 1);
        assert_eq!(verdict_of_claim(&r, PSS_SHARE), Verdict::Refuted);
        // A sharer without the whole file resident: not judged.
        edit(&mut r, "all-reading", |f| f.rss_bytes -= PAGE);
        assert_eq!(verdict_of_claim(&r, PSS_SHARE), Verdict::Inconclusive);
    }

    #[test]
    fn one_private_byte_refutes_shared_clean() {
        let mut r = record(|n| FILE / n);
        edit(&mut r, "all-reading", |f| f.private_clean_bytes = PAGE);
        assert_eq!(verdict_of_claim(&r, SHARED_CLEAN), Verdict::Refuted);
    }

    #[test]
    fn a_pss_that_does_not_rise_refutes() {
        let mut r = record(|n| FILE / n);
        edit(&mut r, "after-two-exit", |f| f.pss_bytes = FILE / 3);
        assert_eq!(verdict_of_claim(&r, PSS_RISES), Verdict::Refuted);
    }

    #[test]
    fn a_page_leaving_the_page_cache_refutes_nothing_freed() {
        let mut r = record(|n| FILE / n);
        assert_eq!(verdict_of_claim(&r, EXIT_FREES_NOTHING), Verdict::Confirmed);
        r.variants[0]
            .notes
            .insert("page_cache_pages_after_two_exit".into(), "255".into());
        assert_eq!(verdict_of_claim(&r, EXIT_FREES_NOTHING), Verdict::Refuted);
        r.variants[0]
            .notes
            .insert("page_cache_pages_all_reading".into(), "0".into());
        assert_eq!(
            verdict_of_claim(&r, EXIT_FREES_NOTHING),
            Verdict::Inconclusive
        );
    }

    #[test]
    fn sums_are_judged_within_one_kib_per_sharer() {
        let mut r = record(|n| FILE / n - PSS_ROUNDING_BYTES);
        assert_eq!(verdict_of_claim(&r, SUMS), Verdict::Confirmed);
        edit(&mut r, "all-reading", |f| f.pss_bytes -= 1);
        assert_eq!(verdict_of_claim(&r, SUMS), Verdict::Refuted);
    }

    #[test]
    fn the_summary_sums_rss_and_pss_over_sharers() {
        let tables = SharedFile.summary(&record(|n| FILE / n), &env());
        let row = &tables[0].rows[0];
        assert_eq!(row[0], "all-reading");
        assert_eq!(row[5], human_bytes(4 * FILE));
        assert_eq!(row[6], human_bytes(FILE));
    }
}
