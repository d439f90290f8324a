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
    human_bytes, pages, region_at, verdict_of, Claim, Experiment, Explanation, Plan, PlanContext,
    PlannedVariant,
};
use crate::model::{
    CheckpointRecord, ClaimRecord, ExperimentRecord, MemoryFigures, Status, SummaryTable,
    VariantRecord,
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

const PSS_SHARE: Claim = Claim {
    id: "pss-is-rss-divided-by-sharers",
    source: SEED,
    statement: "PSS charges each process an equal share of the pages it shares: with N processes mapping the same file, each one's PSS of it is its RSS divided by N.",
    criterion: "",
};
const SHARED_CLEAN: Claim = Claim {
    id: "file-pages-read-by-all-are-shared-clean",
    source: SEED,
    statement: "Mapping the same file is one of the ways processes share pages: pages all of them read are one copy, counted as Shared_Clean in each.",
    criterion: "",
};
const PSS_RISES: Claim = Claim {
    id: "pss-rises-when-a-sharer-exits",
    source: SEED,
    statement: "When one of the sharing processes exits, its shared memory is not freed, so the PSS of each remaining sharer goes up.",
    criterion: "",
};
const SUMS: Claim = Claim {
    id: "sum-of-rss-overstates-sum-of-pss-does-not",
    source: SEED,
    statement: "Adding up RSS counts a shared page once per process (N-fold here); adding up PSS counts it once.",
    criterion: "",
};

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
};

impl Experiment for SharedFile {
    fn info(&self) -> &'static ExperimentInfo {
        &experiments::catalog::SHARED_FILE
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

    fn judge(&self, record: &ExperimentRecord, env: &Environment) -> Vec<ClaimRecord> {
        let all = [PSS_SHARE, SHARED_CLEAN, PSS_RISES, SUMS];
        let Some(variant) = record.variants.first() else {
            return all
                .iter()
                .map(|c| {
                    c.unmeasured(
                        None,
                        record.reason.clone().unwrap_or_else(|| "not run".into()),
                    )
                })
                .collect();
        };
        if variant.status != Status::Ok {
            let why = format!(
                "the run did not finish: {}",
                variant.reason.as_deref().unwrap_or("no reason given")
            );
            return all
                .iter()
                .map(|c| c.unmeasured(None, why.clone()))
                .collect();
        }
        let j = Judge { variant, env };
        vec![j.pss_share(), j.shared_clean(), j.pss_rises(), j.sums()]
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
    c.processes
        .iter()
        .filter(|p| p.role.starts_with("sharer-"))
        .filter_map(|p| p.region(REGION).map(|r| r.figures.clone()))
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

    /// Pss = Rss / n for every sharer, within 2 pages (smaps rounds to KiB).
    fn check_share(&self, label: &str) -> Option<(bool, usize, String)> {
        let c = self.variant.checkpoint(label)?;
        let figures = sharer_figures(c);
        let n = figures.len() as u64;
        if n == 0 {
            return None;
        }
        let tol = 2 * self.page();
        let mut holds = true;
        let mut worst = 0;
        for f in &figures {
            let expected = f.rss_bytes / n;
            worst = worst.max(f.pss_bytes.abs_diff(expected));
            holds &= f.pss_bytes.abs_diff(expected) <= tol && f.rss_bytes > 0;
        }
        let first = &figures[0];
        Some((
            holds,
            figures.len(),
            format!(
                "at {label}, {n} sharers each have Rss {} and Pss {} of the file (Rss/{n} = {}); the largest \
                 difference from Rss/{n} is {worst} bytes (tolerance 2 pages)",
                human_bytes(first.rss_bytes),
                human_bytes(first.pss_bytes),
                human_bytes(first.rss_bytes / n)
            ),
        ))
    }

    fn pss_share(&self) -> ClaimRecord {
        let (Some((holds, _, text)), Some(file)) =
            (self.check_share("all-reading"), self.file_bytes())
        else {
            return PSS_SHARE.unmeasured(None, "all-reading was not measured");
        };
        let c = self.variant.checkpoint("all-reading");
        let all_read = c.is_some_and(|c| {
            sharer_figures(c)
                .iter()
                .all(|f| f.rss_bytes + 2 * self.page() >= file)
        });
        if !all_read {
            return PSS_SHARE.unmeasured(
                None,
                format!("precondition not met: not every sharer had the whole file ({}) resident; {text}", human_bytes(file)),
            );
        }
        PSS_SHARE.judged(None, verdict_of(holds), text)
    }

    fn shared_clean(&self) -> ClaimRecord {
        let Some(c) = self.variant.checkpoint("all-reading") else {
            return SHARED_CLEAN.unmeasured(None, "all-reading was not measured");
        };
        let figures = sharer_figures(c);
        let tol = 2 * self.page();
        let holds = !figures.is_empty()
            && figures.iter().all(|f| {
                f.shared_clean_bytes + tol >= f.rss_bytes
                    && f.private_clean_bytes + f.private_dirty_bytes <= tol
            });
        let first = figures.first().cloned().unwrap_or_default();
        SHARED_CLEAN.judged(
            None,
            verdict_of(holds),
            format!(
                "each of {} sharers: Rss {}, Shared_Clean {}, Private_Clean {}, Private_Dirty {} (tolerance 2 pages)",
                figures.len(),
                human_bytes(first.rss_bytes),
                human_bytes(first.shared_clean_bytes),
                human_bytes(first.private_clean_bytes),
                human_bytes(first.private_dirty_bytes)
            ),
        )
    }

    fn pss_rises(&self) -> ClaimRecord {
        let (Some(before), Some(after)) = (
            self.variant.checkpoint("all-reading"),
            self.variant.checkpoint("after-one-exits"),
        ) else {
            return PSS_RISES.unmeasured(None, "after-one-exits was not measured");
        };
        let Some((share_holds, n, share_text)) = self.check_share("after-one-exits") else {
            return PSS_RISES.unmeasured(None, "no sharer was measured after one exited");
        };
        let tol = 2 * self.page();
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
                now.figures.pss_bytes > then.figures.pss_bytes + tol
            });
        let cache = (
            self.cached_bytes("all-reading"),
            self.cached_bytes("after-one-exits"),
        );
        let (Some(cache_before), Some(cache_after)) = cache else {
            return PSS_RISES.unmeasured(None, "the page cache was not counted");
        };
        let nothing_freed = cache_after + tol >= cache_before;
        let pss_before = region_at(self.variant, "all-reading", "sharer-1", REGION)
            .map_or(0, |r| r.figures.pss_bytes);
        let pss_after = region_at(self.variant, "after-one-exits", "sharer-1", REGION)
            .map_or(0, |r| r.figures.pss_bytes);
        PSS_RISES.judged(
            None,
            verdict_of(rose && share_holds && nothing_freed),
            format!(
                "sharer-1's Pss of the file went from {} to {} when one of {} sharers exited; {share_text}; the \
                 page cache held {} pages of the file before and {} after (nothing was freed)",
                human_bytes(pss_before),
                human_bytes(pss_after),
                n + 1,
                pages(cache_before, self.page()),
                pages(cache_after, self.page())
            ),
        )
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
        let rss: u64 = figures.iter().map(|f| f.rss_bytes).sum();
        let pss: u64 = figures.iter().map(|f| f.pss_bytes).sum();
        let tol = 2 * self.page() * n.max(1);
        let holds = n >= 2 && pss.abs_diff(cached) <= tol && rss.abs_diff(n * cached) <= tol;
        SUMS.judged(
            None,
            verdict_of(holds),
            format!(
                "{n} sharers: Σ Rss {} ({:.2} × the {} the page cache holds of the file), Σ Pss {} ({:.2} ×); \
                 tolerance 2 pages per sharer",
                human_bytes(rss),
                rss as f64 / cached.max(1) as f64,
                human_bytes(cached),
                human_bytes(pss),
                pss as f64 / cached.max(1) as f64
            ),
        )
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

    #[test]
    fn the_summary_sums_rss_and_pss_over_sharers() {
        let tables = SharedFile.summary(&record(|n| FILE / n), &env());
        let row = &tables[0].rows[0];
        assert_eq!(row[0], "all-reading");
        assert_eq!(row[5], human_bytes(4 * FILE));
        assert_eq!(row[6], human_bytes(FILE));
    }
}
