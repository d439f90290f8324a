//! The claims of shared-file, each with its criterion and its judge.

use experiments::catalog::name_matches;
use experiments::catalog::shared_file::{checkpoint, note, region, role};

use super::super::declared::{at, judged, Declared, Metric, Need, RegionFigure};
use super::super::kit::{pages, Case, Finding, Judged, Observed, SMAPS_ROUNDING_BYTES};
use super::super::{human_bytes, Claim};
use crate::model::{CheckpointRecord, MemoryFigures, RegionRecord};

const SEED: &str = experiments::catalog::writing::MARTIN;

/// The checkpoints, in order: each has one sharer fewer than the one before.
pub(super) const LABELS: [&str; 3] = [
    checkpoint::ALL_READING,
    checkpoint::AFTER_ONE_EXITS,
    checkpoint::AFTER_TWO_EXIT,
];

/// smaps prints Pss in whole kB, truncated: per mapping a figure may be up to
/// this much below the exact share.
const PSS_ROUNDING_BYTES: u64 = SMAPS_ROUNDING_BYTES;

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

const SHM_HELD_ONCE: Claim = Claim {
    id: "shared-memory-object-is-held-once",
    source: SEED,
    statement: "Processes can share pages explicitly through a shared-memory API: an object several processes map is held in memory once for all of them (Martin's first way of sharing).",
    criterion: "shm variant, a POSIX shared-memory object (shm_open) of the file's size mapped MAP_SHARED by N \
        sharers that each read every page: at all-reading, Σ Pss of the object over the sharers equals its \
        size within 1 KiB per sharer (smaps rounding): one copy for all; more refutes (copies of their \
        own). Precondition: at least 2 sharers, each with the whole object resident (Rss = its size)",
};

/// Every claim, in the order they are judged.
pub(super) static CLAIMS: [Claim; 6] = [
    PSS_SHARE,
    SHARED_CLEAN,
    PSS_RISES,
    EXIT_FREES_NOTHING,
    SUMS,
    SHM_HELD_ONCE,
];

/// What the claims need of the machine and the figures they are judged on
/// (read by the tools that compare runs across kernels and machines).
pub(super) static DECLARED: [Declared; 5] = [
    judged(
        &PSS_SHARE,
        &[
            at(
                Metric::Region(region::FILE, RegionFigure::Pss),
                checkpoint::ALL_READING,
            ),
            at(
                Metric::Region(region::FILE, RegionFigure::Rss),
                checkpoint::ALL_READING,
            ),
        ],
    ),
    Declared {
        claim: &SHARED_CLEAN,
        needs: &[Need::DiskBackedFiles],
        judges: &[at(
            Metric::Region(region::FILE, RegionFigure::Sharing),
            checkpoint::ALL_READING,
        )],
    },
    judged(
        &PSS_RISES,
        &[
            at(
                Metric::Region(region::FILE, RegionFigure::Pss),
                checkpoint::AFTER_ONE_EXITS,
            ),
            at(
                Metric::Region(region::FILE, RegionFigure::Pss),
                checkpoint::AFTER_TWO_EXIT,
            ),
        ],
    ),
    judged(
        &SUMS,
        &[
            at(
                Metric::Region(region::FILE, RegionFigure::Rss),
                checkpoint::ALL_READING,
            ),
            at(
                Metric::Region(region::FILE, RegionFigure::Pss),
                checkpoint::ALL_READING,
            ),
        ],
    ),
    judged(
        &SHM_HELD_ONCE,
        &[at(
            Metric::Region(region::FILE, RegionFigure::Pss),
            checkpoint::ALL_READING,
        )],
    ),
];

/// The shm variant's claim with its judge.
pub(super) static SHM_CASES: [Case; 1] = [(SHM_HELD_ONCE, shm_held_once)];

/// Each claim with its judge.
pub(super) static CASES: [Case; 5] = [
    (PSS_SHARE, pss_share),
    (SHARED_CLEAN, shared_clean),
    (PSS_RISES, pss_rises),
    (EXIT_FREES_NOTHING, exit_frees_nothing),
    (SUMS, sums),
];

/// The file's figures in every sharer at a checkpoint (main excluded).
pub(super) fn sharer_figures(c: &CheckpointRecord) -> Vec<MemoryFigures> {
    sharer_regions(c)
        .into_iter()
        .map(|r| r.figures.clone())
        .collect()
}

/// The file's region in every sharer at a checkpoint (main excluded).
fn sharer_regions(c: &CheckpointRecord) -> Vec<&RegionRecord> {
    c.processes
        .iter()
        .filter(|p| name_matches(role::SHARER_ANY, &p.role))
        .filter_map(|p| p.region(region::FILE))
        .collect()
}

/// The page cache's own count of the file's pages at a checkpoint (mincore,
/// done by the main process just before it), in bytes.
pub(super) fn cached_bytes(view: &Observed<'_>, label: &str) -> Option<u64> {
    let key = note::page_cache_pages_at(label)?;
    Some(view.note::<u64>(key)? * view.page())
}

fn file_bytes(view: &Observed<'_>) -> Option<u64> {
    Some(view.note::<u64>(note::FILE_PAGES)? * view.page())
}

/// Whether every sharer's Pss at `label` is Rss / n (n sharers there), within
/// the smaps rounding, with a sentence saying what was seen.
fn check_share(view: &Observed<'_>, label: &str) -> Option<(bool, String)> {
    let c = view.checkpoint(label)?;
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

fn pss_share(view: &Observed<'_>) -> Judged {
    let (Some(c), Some(file)) = (view.checkpoint(checkpoint::ALL_READING), file_bytes(view)) else {
        return Err("all-reading was not measured".into());
    };
    let (holds, text) = check_share(view, checkpoint::ALL_READING)
        .ok_or("no sharer was measured at all-reading")?;
    if !sharer_figures(c).iter().all(|f| f.rss_bytes == file) {
        return Err(format!(
            "precondition not met: not every sharer had the whole file ({}) resident; {text}",
            human_bytes(file)
        ));
    }
    let pss = sharer_figures(c).first().map_or(0, |f| f.pss_bytes);
    Ok(Finding::new(
        holds,
        text,
        format!("Pss {} of Rss {}", human_bytes(pss), human_bytes(file)),
    ))
}

fn shared_clean(view: &Observed<'_>) -> Judged {
    let c = view
        .checkpoint(checkpoint::ALL_READING)
        .ok_or("all-reading was not measured")?;
    let figures = sharer_figures(c);
    if figures.len() < 2 || figures.iter().any(|f| f.rss_bytes == 0) {
        return Err(format!(
            "precondition not met: {} sharers, not all with pages resident: nothing to share",
            figures.len()
        ));
    }
    let holds = figures.iter().all(|f| {
        f.shared_clean_bytes == f.rss_bytes && f.private_clean_bytes + f.private_dirty_bytes == 0
    });
    let private: u64 = figures
        .iter()
        .map(|f| f.private_clean_bytes + f.private_dirty_bytes)
        .sum();
    let first = &figures[0];
    Ok(Finding::new(
        holds,
        format!(
            "each of {} sharers: Rss {}, Shared_Clean {}, Private_Clean {}, Private_Dirty {}; private bytes \
             over all sharers: {private}",
            figures.len(),
            human_bytes(first.rss_bytes),
            human_bytes(first.shared_clean_bytes),
            human_bytes(first.private_clean_bytes),
            human_bytes(first.private_dirty_bytes)
        ),
        format!(
            "Shared_Clean {} of Rss {}, {private} B private",
            human_bytes(first.shared_clean_bytes),
            human_bytes(first.rss_bytes)
        ),
    ))
}

fn pss_rises(view: &Observed<'_>) -> Judged {
    let first_sharer = role::sharer(1);
    let pss = |label| {
        view.region(label, &first_sharer, region::FILE)
            .map_or(0, |r| r.figures.pss_bytes)
    };
    let mut parts = Vec::new();
    let mut holds = true;
    let mut measured = Vec::new();
    for pair in LABELS.windows(2) {
        let (before_label, after_label) = (pair[0], pair[1]);
        let (Some(before), Some(after)) =
            (view.checkpoint(before_label), view.checkpoint(after_label))
        else {
            return Err(format!("{after_label} was not measured"));
        };
        let (share_holds, share_text) = check_share(view, after_label)
            .ok_or_else(|| format!("no sharer was measured at {after_label}"))?;
        // Every sharer still there has a higher Pss than before.
        let rose = after
            .processes
            .iter()
            .filter(|p| name_matches(role::SHARER_ANY, &p.role))
            .all(|p| {
                let (Some(now), Some(then)) = (
                    p.region(region::FILE),
                    before.process(&p.role).and_then(|b| b.region(region::FILE)),
                ) else {
                    return false;
                };
                let tol = PSS_ROUNDING_BYTES * now.mapping_count.max(1) as u64;
                now.figures.pss_bytes > then.figures.pss_bytes + tol
            });
        holds &= rose && share_holds;
        measured.push(human_bytes(pss(after_label)));
        parts.push(format!(
            "{first_sharer}'s Pss went from {} to {} ({before_label} to {after_label}); {share_text}",
            human_bytes(pss(before_label)),
            human_bytes(pss(after_label))
        ));
    }
    Ok(Finding::new(
        holds,
        parts.join("; "),
        format!(
            "Pss {} → {}",
            human_bytes(pss(LABELS[0])),
            measured.join(" → ")
        ),
    ))
}

fn exit_frees_nothing(view: &Observed<'_>) -> Judged {
    let counts: Vec<u64> = LABELS
        .iter()
        .map(|l| cached_bytes(view, l))
        .collect::<Option<_>>()
        .ok_or("the page cache was not counted at every checkpoint")?;
    if counts[0] == 0 {
        return Err(
            "precondition not met: the file was not in the page cache at all-reading".into(),
        );
    }
    let text: Vec<String> = counts
        .iter()
        .map(|c| pages(*c, view.page()).to_string())
        .collect();
    let unchanged = counts.iter().all(|c| *c == counts[0]);
    let why = if unchanged || view.env.damon_pageout.is_empty() {
        String::new()
    } else {
        format!(
            ". Proactive reclaim runs on this machine ({}) and pages out memory it finds idle, page-cache \
             pages included",
            view.env.damon_pageout.join("; ")
        )
    };
    Ok(Finding::new(
        unchanged,
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
        format!("{} pages cached", text.join(" → ")),
    ))
}

fn sums(view: &Observed<'_>) -> Judged {
    let (Some(c), Some(cached)) = (
        view.checkpoint(checkpoint::ALL_READING),
        cached_bytes(view, checkpoint::ALL_READING),
    ) else {
        return Err("all-reading was not measured".into());
    };
    let figures = sharer_figures(c);
    let n = figures.len() as u64;
    if n < 2 {
        return Err(format!(
            "precondition not met: {n} sharers, nothing is shared"
        ));
    }
    let rss: u64 = figures.iter().map(|f| f.rss_bytes).sum();
    let pss: u64 = figures.iter().map(|f| f.pss_bytes).sum();
    let tol = PSS_ROUNDING_BYTES * n;
    let holds = rss == n * cached && pss <= cached && cached - pss <= tol;
    let times = |bytes: u64| bytes as f64 / cached.max(1) as f64;
    let evidence = format!(
        "{n} sharers: Σ Rss {} ({:.2} × the {} the page cache holds of the file), Σ Pss {} ({:.2} ×)",
        human_bytes(rss),
        times(rss),
        human_bytes(cached),
        human_bytes(pss),
        times(pss)
    );
    // Fewer pages mapped than cached, each still mapped by every sharer (Σ Rss
    // is N × Σ Pss): pages left the mappings between the reads. Proactive
    // reclaim does that, and it can only take pages out, never add them.
    let unmapped = rss < n * cached && rss.abs_diff(n * pss) <= n * tol;
    if !holds && unmapped && !view.env.damon_pageout.is_empty() {
        return Err(format!(
            "precondition not met: proactive reclaim runs on this machine ({}) and took {} of the file out \
             of the sharers' mappings while they were read, which alone would explain what was measured: \
             {evidence}",
            view.env.damon_pageout.join("; "),
            human_bytes(cached.saturating_sub(pss))
        ));
    }
    Ok(Finding::new(
        holds,
        evidence,
        format!(
            "Σ Rss {:.2}×, Σ Pss {:.2}× the file",
            times(rss),
            times(pss)
        ),
    ))
}

fn shm_held_once(view: &Observed<'_>) -> Judged {
    let (Some(c), Some(size)) = (view.checkpoint(checkpoint::ALL_READING), file_bytes(view)) else {
        return Err("all-reading was not measured".into());
    };
    let figures = sharer_figures(c);
    let n = figures.len() as u64;
    if n < 2 || !figures.iter().all(|f| f.rss_bytes == size) {
        return Err(format!(
            "precondition not met: {n} sharers, not at least 2 each with the whole object ({}) resident",
            human_bytes(size)
        ));
    }
    let pss: u64 = figures.iter().map(|f| f.pss_bytes).sum();
    let rss: u64 = figures.iter().map(|f| f.rss_bytes).sum();
    let tol = PSS_ROUNDING_BYTES * n;
    let holds = pss <= size + tol && size.saturating_sub(pss) <= tol;
    let times = pss as f64 / size.max(1) as f64;
    Ok(Finding::new(
        holds,
        format!(
            "{n} sharers each have the whole {} object resident (Σ Rss {}); Σ Pss {} ({times:.2} × the object), \
             Shared of each {}: the pages are the object's own (shmem), one copy mapped by all",
            human_bytes(size),
            human_bytes(rss),
            human_bytes(pss),
            human_bytes(figures[0].shared_clean_bytes + figures[0].shared_dirty_bytes)
        ),
        format!("Σ Pss {times:.2}× the object"),
    ))
}

#[cfg(test)]
mod tests {
    use super::super::SharedFile;
    use super::*;
    use crate::experiment::Experiment;
    use crate::model::ExperimentRecord;
    use crate::model::Verdict;
    use crate::system::Environment;
    use serde_json::{json, Value};

    const PAGE: u64 = 4096;
    const FILE: u64 = 256 * PAGE;

    fn env() -> Environment {
        let mut env = Environment::fixture();
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
    fn pages_reclaim_took_out_of_every_mapping_leave_the_sums_undecided() {
        let judge = |r: &ExperimentRecord, damon: &[&str]| {
            let mut env = env();
            env.damon_pageout = damon.iter().map(|d| d.to_string()).collect();
            let claims = SharedFile.judge(r, &env);
            crate::experiment::testkit::find(&claims, SUMS.id, None).clone()
        };
        // 4 sharers, each missing the same 32 pages of the 256 cached.
        let mut r = record(|n| FILE / n);
        edit(&mut r, "all-reading", |f| {
            f.rss_bytes -= 32 * PAGE;
            f.pss_bytes -= 8 * PAGE;
        });
        assert_eq!(judge(&r, &[]).verdict, Verdict::Refuted);
        let c = judge(&r, &["kdamond 0: pageout of idle paddr memory"]);
        assert_eq!(c.verdict, Verdict::Inconclusive, "{}", c.evidence);
        assert!(
            c.evidence.contains("kdamond 0") && c.evidence.contains("128.0 KiB"),
            "{}",
            c.evidence
        );
        // Σ Pss short while every page is mapped by all: no reclaim explains it.
        let mut r = record(|n| FILE / n);
        edit(&mut r, "all-reading", |f| f.pss_bytes -= 8 * PAGE);
        let c = judge(&r, &["kdamond 0: pageout of idle paddr memory"]);
        assert_eq!(c.verdict, Verdict::Refuted, "{}", c.evidence);
    }

    #[test]
    fn the_summary_sums_rss_and_pss_over_sharers() {
        use crate::experiment::human_bytes;
        let tables = SharedFile.summary(&record(|n| FILE / n), &env());
        let row = &tables[0].rows[0];
        assert_eq!(row[0], "all-reading");
        assert_eq!(row[5], human_bytes(4 * FILE));
        assert_eq!(row[6], human_bytes(FILE));
    }

    // See: issue 22. Martin's shared-memory APIs: the shm variant's object is
    // held once (Σ Pss = its size) or the claim is refuted.
    #[test]
    fn a_shared_memory_object_is_judged_on_its_pss_summed_over_the_sharers() {
        let shm = |pss: fn(u64) -> u64| {
            let mut r = record(pss);
            let mut v = r.variants[0].clone();
            v.name = "shm".into();
            r.variants.push(v);
            SharedFile
                .judge(&r, &env())
                .into_iter()
                .find(|c| c.id == SHM_HELD_ONCE.id)
                .expect("judged")
        };
        let once = shm(|n| FILE / n);
        assert_eq!(once.verdict, Verdict::Confirmed, "{once:?}");
        assert_eq!(once.variant.as_deref(), Some("shm"));
        assert_eq!(shm(|_| FILE).verdict, Verdict::Refuted);
        // One sharer holding a page more than its share: beyond the rounding.
        assert_eq!(
            shm(|n| FILE / n + PAGE / n + 1024).verdict,
            Verdict::Refuted
        );
    }
}
