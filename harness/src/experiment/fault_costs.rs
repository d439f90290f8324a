//! fault-costs: the price list. The writings argue about what things cost: a major
//! fault "has to hit disk" ("Playing with Virtual Memory", Kristina Chodorow, seed
//! 001), copy-on-write copies only what is touched ("Hey dude, where's my memory?",
//! Frits Hoogland, seed 002; "Some things I've learned about memory", Evan Martin,
//! seed 003), static linking carries "a slight overhead" ("Notes on VM", Kristian
//! Köhntopp, seed 000). This experiment times each kind of fault inside the
//! process, and this module divides those timings by the faults (or forks, or
//! resident pages) the harness counted from outside for the same phase.
//!
//! Nothing here is a claim: timings vary with the machine and its load, so they
//! are reported (results.json `fault_costs`, the "price list" table) and compared
//! across runs, never judged.

use experiments::ExperimentInfo;
use serde_json::json;

use super::{human_bytes, process_at, region_at, Experiment, Explanation, Plan, PlanContext};
use super::{ClaimRecord, PlannedVariant};
use crate::model::{ExperimentRecord, FaultCost, Spread, Status, SummaryTable, VariantRecord};
use crate::system::Environment;

/// The experiment.
pub struct FaultCosts;

const VARIANT: &str = "default";
const MAIN: &str = "main";
const CHILD: &str = "child";

/// Sizes at full size and at `--quick` size.
struct Sizes {
    block_bytes: u64,
    thp_block_bytes: u64,
    random_block_bytes: u64,
    repetitions: u64,
}

const FULL: Sizes = Sizes {
    block_bytes: 8 << 20,
    thp_block_bytes: 16 << 20,
    random_block_bytes: 1 << 20,
    repetitions: 16,
};
const QUICK: Sizes = Sizes {
    block_bytes: 1 << 20,
    thp_block_bytes: 4 << 20,
    random_block_bytes: 128 << 10,
    repetitions: 8,
};

/// What a kind's nanoseconds are divided by.
#[derive(Debug, Clone, Copy)]
enum Unit {
    /// The faults the harness counted in the phase, per repetition.
    Faults,
    /// One fork per repetition; bytes are the main process's VmRSS before it.
    Forks,
    /// The pages of the `anon` region resident before the phase, per repetition.
    ResidentPages,
}

/// Which block size one repetition covers.
#[derive(Debug, Clone, Copy)]
enum Block {
    /// `block_bytes`.
    Base,
    /// `thp_block_bytes`.
    Huge,
    /// `random_block_bytes`.
    Random,
    /// Measured from outside at the phase's start (fork, munmap).
    Resident,
}

/// What must hold for a kind's timing to mean what its name says.
#[derive(Debug, Clone, Copy)]
enum Precondition {
    /// Nothing beyond faults having been counted.
    None,
    /// The `thp` region is all huge pages at the phase's end.
    HugePages,
    /// The phase had major faults (the file really was cold).
    MajorFaults,
    /// The forked child was alive at the phase's end, so pages were still shared.
    ChildAlive,
}

/// One kind of the price list.
struct Kind {
    /// Kebab-case name in results.json.
    kind: &'static str,
    /// The checkpoint ending its phase.
    phase: &'static str,
    /// The note with its per-repetition nanoseconds.
    note: &'static str,
    unit: Unit,
    block: Block,
    precondition: Precondition,
    /// What it is, for the table.
    what: &'static str,
}

/// Every kind, in the order the experiment times them.
const KINDS: &[Kind] = &[
    Kind {
        kind: "anon-first-touch",
        phase: "after-anon-first-touch",
        note: "cost_anon_first_touch_nanos",
        unit: Unit::Faults,
        block: Block::Base,
        precondition: Precondition::None,
        what: "first write to an anonymous 4 KiB page (a zeroed frame)",
    },
    Kind {
        kind: "zero-page-read",
        phase: "after-zero-page-read",
        note: "cost_zero_page_read_nanos",
        unit: Unit::Faults,
        block: Block::Base,
        precondition: Precondition::None,
        what: "first read of an untouched anonymous page (the shared zero page)",
    },
    Kind {
        kind: "thp-first-touch",
        phase: "after-thp-first-touch",
        note: "cost_thp_first_touch_nanos",
        unit: Unit::Faults,
        block: Block::Huge,
        precondition: Precondition::HugePages,
        what: "first write to a 2 MiB transparent huge page",
    },
    Kind {
        kind: "file-minor-fault-around",
        phase: "after-file-minor-fault",
        note: "cost_file_minor_fault_around_nanos",
        unit: Unit::Faults,
        block: Block::Base,
        precondition: Precondition::None,
        what: "read of a file page in the page cache (fault-around maps its neighbours)",
    },
    Kind {
        kind: "file-major-read-ahead",
        phase: "after-file-major-fault",
        note: "cost_file_major_read_ahead_nanos",
        unit: Unit::Faults,
        block: Block::Base,
        precondition: Precondition::MajorFaults,
        what: "read of a cold file page, from the disk with read-ahead",
    },
    Kind {
        kind: "file-major-no-read-ahead",
        phase: "after-file-major-fault-no-read-ahead",
        note: "cost_file_major_no_read_ahead_nanos",
        unit: Unit::Faults,
        block: Block::Random,
        precondition: Precondition::MajorFaults,
        what: "read of a cold file page with MADV_RANDOM: one disk read per page",
    },
    Kind {
        kind: "cow-after-fork",
        phase: "after-cow-fault",
        note: "cost_cow_after_fork_nanos",
        unit: Unit::Faults,
        block: Block::Base,
        precondition: Precondition::ChildAlive,
        what: "write to a page shared with a forked child (copy-on-write)",
    },
    Kind {
        kind: "fork",
        phase: "after-fork",
        note: "cost_fork_nanos",
        unit: Unit::Forks,
        block: Block::Resident,
        precondition: Precondition::None,
        what: "fork of the process (bytes: its VmRSS), the child exiting at once",
    },
    Kind {
        kind: "munmap",
        phase: "after-munmap",
        note: "cost_munmap_nanos",
        unit: Unit::ResidentPages,
        block: Block::Resident,
        precondition: Precondition::None,
        what: "munmap of resident anonymous pages (per page freed)",
    },
];

/// The kinds this experiment prices, as named in results.json.
pub fn kinds() -> impl Iterator<Item = &'static str> {
    KINDS.iter().map(|k| k.kind)
}

static EXPLANATION: Explanation = Explanation {
    seed_claims: "The writings argue about cost more than they measure it. In \"Playing with Virtual Memory\", \
        Kristina Chodorow separates minor page faults, where the page is already in RAM, from major ones that \
        \"hit disk\". In \"Hey dude, where's my memory?\", Frits Hoogland and in \"Some things I've learned about \
        memory\", Evan Martin explain that a forked child shares its parent's pages until one of them writes, so \
        only what is touched is copied. In \"Notes on VM\", Kristian Köhntopp calls the cost of static linking \
        \"a slight overhead\". This experiment puts a price on each of these events on the running machine.",
    steps: &[
        ("before-measuring", "Every region is mapped and the file is written: its first part is in the page cache, the rest was dropped with posix_fadvise(DONTNEED). Nothing measured has been touched."),
        ("after-anon-first-touch", "One byte of every page of a fresh anonymous block was written, once per repetition: each write was a fault that got a zeroed 4 KiB frame (THP off for this region)."),
        ("after-zero-page-read", "One byte of every page of another untouched block was read: each read was a fault that mapped the shared zero page, no memory."),
        ("after-thp-first-touch", "One byte per 2 MiB of a region advised MADV_HUGEPAGE was written: each write was one fault that got and zeroed a whole huge page."),
        ("after-file-minor-fault", "One byte of every page of the cached part of the file was read through a shared mapping: fault-around mapped up to 16 neighbouring pages per fault, so there are far fewer faults than pages."),
        ("after-file-major-fault", "The same read over the cold part of the file: faults waited for the disk, and read-ahead brought in more than each fault asked for."),
        ("after-file-major-fault-no-read-ahead", "The cold part advised MADV_RANDOM was read: no read-ahead, one disk read per page."),
        ("after-fork-child", "A region was written in full and the process forked a child that waits: every page of the region is now shared and write-protected in both."),
        ("after-cow-fault", "The parent wrote one byte of every page of the shared region: each write was a copy-on-write fault that copied one page."),
        ("before-fork", "The child is gone and only the anonymous region of the first phase is still resident."),
        ("after-fork", "The process forked, once per repetition, a child that exited at once: the cost is copying the page tables and marking every page copy-on-write."),
        ("after-munmap", "The anonymous region was unmapped block by block: the cost is freeing each resident page and its page-table entries."),
    ],
    expectations: "Each figure is a median over the repetitions with its minimum and maximum; a fault is what the \
        kernel counted, so a file fault that mapped 16 pages by fault-around counts once, and the per-KiB figure \
        says what a KiB of mapped file cost. A first-touch anonymous fault costs a fraction of a microsecond to a \
        microsecond (most of it zeroing the page); the zero page is cheaper (no frame, no zeroing); a THP fault \
        costs far more per fault but less per KiB (one fault and one page-table entry for 512 pages); a minor \
        file fault with fault-around costs more per fault than an anonymous one and far less per KiB; a major \
        fault costs what the disk costs (tens of microseconds or more), and without read-ahead every page pays \
        it; a copy-on-write fault costs a copy of 4 KiB more than a first touch; fork grows with the resident \
        memory it has to write-protect. Figures under emulation (a matrix guest without KVM) say nothing about \
        the host. Other load on the machine inflates the maxima first, the medians less.",
    questions: &[
        "Why is a THP fault more expensive than a 4 KiB fault, yet cheaper per KiB?",
        "Fault-around makes a file fault cost more than an anonymous one: why is it still a good deal?",
        "How many minor faults cost as much as one major fault here?",
        "What does fork's cost grow with, and why does copy-on-write make fork cheap but the first write after it expensive?",
        "Why is reading untouched anonymous memory cheaper than writing it?",
    ],
    answers: &[],
};

impl Experiment for FaultCosts {
    fn info(&self) -> &'static ExperimentInfo {
        &experiments::catalog::fault_costs::INFO
    }

    fn plan(&self, ctx: &PlanContext<'_>) -> Result<Plan, String> {
        let sizes = if ctx.quick { QUICK } else { FULL };
        let page = ctx.env.page_size.max(1);
        let block = ctx.size_bytes.unwrap_or(sizes.block_bytes).div_ceil(page) * page;
        if block < 16 * page {
            return Err(format!(
                "a block of {block} bytes is too small to time faults in; use --size 64KiB or more"
            ));
        }
        let reps = sizes.repetitions;
        let file_bytes = reps * (2 * block + sizes.random_block_bytes);
        // Resident at once at most: the anonymous block set, the COW set twice
        // (the parent's copies and the child's originals), the THP set, the file.
        let resident = reps * (3 * block + sizes.thp_block_bytes) + file_bytes;
        check_room(ctx.env, file_bytes, resident)?;
        let mut params = std::collections::BTreeMap::new();
        params.insert("block_bytes".into(), json!(block));
        params.insert("thp_block_bytes".into(), json!(sizes.thp_block_bytes));
        params.insert("random_block_bytes".into(), json!(sizes.random_block_bytes));
        params.insert("repetitions".into(), json!(reps));
        params.insert("file_bytes".into(), json!(file_bytes));
        Ok(Plan {
            params,
            variants: vec![PlannedVariant {
                name: VARIANT.into(),
                args: vec![
                    "--block-bytes".into(),
                    block.to_string().into(),
                    "--thp-block-bytes".into(),
                    sizes.thp_block_bytes.to_string().into(),
                    "--random-block-bytes".into(),
                    sizes.random_block_bytes.to_string().into(),
                    "--repetitions".into(),
                    reps.to_string().into(),
                ],
            }],
        })
    }

    fn judge(&self, _record: &ExperimentRecord, _env: &Environment) -> Vec<ClaimRecord> {
        // Timings are never judged: see the module docs.
        Vec::new()
    }

    fn explanation(&self) -> &'static Explanation {
        &EXPLANATION
    }

    fn summary(&self, record: &ExperimentRecord, env: &Environment) -> Vec<SummaryTable> {
        let Some(variant) = ok_variant(record) else {
            return Vec::new();
        };
        let priced = price_variant(variant, env.page_size);
        let mut table = SummaryTable {
            title: format!(
                "price list: nanoseconds per fault (or fork, or page unmapped), timed inside the process, median and min – max over {} repetitions of wall time, and the median of the thread's CPU time{}",
                variant.notes.get("repetitions").map_or("the", String::as_str),
                timing_caveat(env).map(|c| format!(" ({c})")).unwrap_or_default()
            ),
            headers: [
                "kind",
                "unit",
                "units per rep",
                "bytes per rep",
                "ns per unit",
                "min – max",
                "CPU ns per unit",
                "ns per KiB",
                "major faults",
                "what",
            ]
            .map(String::from)
            .to_vec(),
            rows: Vec::new(),
        };
        for (kind, result) in KINDS.iter().zip(&priced) {
            table.rows.push(match result {
                Ok(c) => vec![
                    c.kind.clone(),
                    c.unit.clone(),
                    format!("{:.1}", c.units_per_repetition),
                    human_bytes(c.bytes),
                    format!("{:.0}", c.nanos_per_unit.median),
                    format!("{:.0} – {:.0}", c.nanos_per_unit.min, c.nanos_per_unit.max),
                    c.cpu_nanos_per_unit
                        .map_or("-".into(), |s| format!("{:.0}", s.median)),
                    format!("{:.1}", c.nanos_per_kib.median),
                    c.major_faults.to_string(),
                    kind.what.to_string(),
                ],
                Err(reason) => vec![
                    kind.kind.to_string(),
                    "-".into(),
                    "-".into(),
                    "-".into(),
                    "-".into(),
                    "-".into(),
                    "-".into(),
                    "-".into(),
                    "-".into(),
                    format!("not measured: {reason}"),
                ],
            });
        }
        vec![table]
    }
}

/// Why this run's timings cannot stand for the host's, if they cannot: under
/// software emulation (TCG) a clock tick is not a host clock tick, and in any
/// virtual machine the first touch of a guest page may also fault in the hypervisor.
pub fn timing_caveat(env: &Environment) -> Option<String> {
    match &env.guest {
        Some(g) if g.accelerator == "tcg" => Some(
            "software emulation (TCG): not comparable with the host or with KVM guests".into(),
        ),
        Some(g) => Some(format!(
            "a matrix guest under {}: comparable with other guests of the same accelerator, not with the host",
            if g.accelerator.is_empty() { "an unknown accelerator" } else { &g.accelerator }
        )),
        None if env.virtual_machine => Some(
            "measured in a virtual machine: a first touch may also fault in the hypervisor".into(),
        ),
        None => None,
    }
}

/// The price list of a fault-costs record: one entry per kind that was measured
/// and whose precondition held (the summary table says why the others are missing).
pub fn price_list(record: &ExperimentRecord, env: &Environment) -> Vec<FaultCost> {
    if record.name != experiments::catalog::fault_costs::INFO.name {
        return Vec::new();
    }
    ok_variant(record)
        .map(|v| {
            price_variant(v, env.page_size)
                .into_iter()
                .filter_map(Result::ok)
                .collect()
        })
        .unwrap_or_default()
}

fn ok_variant(record: &ExperimentRecord) -> Option<&VariantRecord> {
    record.variants.iter().find(|v| v.status == Status::Ok)
}

/// Every kind of [`KINDS`], priced or with the reason it could not be.
fn price_variant(variant: &VariantRecord, page_size: u64) -> Vec<Result<FaultCost, String>> {
    KINDS
        .iter()
        .map(|k| price(k, variant, page_size.max(1)))
        .collect()
}

fn note_u64(variant: &VariantRecord, key: &str) -> Result<u64, String> {
    let text = variant
        .notes
        .get(key)
        .ok_or_else(|| format!("the experiment did not note {key}"))?;
    text.trim()
        .parse()
        .map_err(|_| format!("note {key} is not a whole number: {text:?}"))
}

fn price(kind: &Kind, variant: &VariantRecord, page_size: u64) -> Result<FaultCost, String> {
    if kind.kind == "thp-first-touch" {
        if let Some(why) = variant.notes.get("thp_unavailable") {
            return Err(why.clone());
        }
    }
    let samples = parse_nanos(
        variant
            .notes
            .get(kind.note)
            .ok_or_else(|| format!("no timings (note {})", kind.note))?,
    )?;
    let repetitions = samples.len() as u64;
    let at_end = process_at(variant, kind.phase, MAIN)
        .ok_or_else(|| format!("checkpoint {} was not reached", kind.phase))?;
    let faults = at_end.faults.minor + at_end.faults.major;
    let major_faults = at_end.faults.major;
    let before = variant
        .checkpoints
        .iter()
        .position(|c| c.label == kind.phase)
        .and_then(|i| i.checked_sub(1))
        .and_then(|i| variant.checkpoints.get(i))
        .and_then(|c| c.process(MAIN));
    let anon_resident = before
        .and_then(|p| p.region("anon"))
        .map_or(0, |r| r.figures.rss_bytes);
    let bytes = match kind.block {
        Block::Base => note_u64(variant, "block_bytes")?,
        Block::Huge => note_u64(variant, "thp_block_bytes")?,
        Block::Random => note_u64(variant, "random_block_bytes")?,
        Block::Resident => match kind.unit {
            Unit::Forks => before.map_or(0, |p| p.totals.rss_bytes),
            _ => anon_resident / repetitions,
        },
    };
    let units_per_repetition = match kind.unit {
        Unit::Faults => faults as f64 / repetitions as f64,
        Unit::Forks => 1.0,
        Unit::ResidentPages => (anon_resident / page_size) as f64 / repetitions as f64,
    };
    if units_per_repetition <= 0.0 || bytes == 0 {
        return Err(match kind.unit {
            Unit::Faults => "no fault was counted in the phase".to_string(),
            _ => "nothing was resident before the phase".to_string(),
        });
    }
    match kind.precondition {
        Precondition::None => {}
        Precondition::HugePages => {
            let want = repetitions * bytes;
            let got = region_at(variant, kind.phase, MAIN, "thp")
                .map_or(0, |r| r.figures.anon_huge_pages_bytes);
            if got < want {
                return Err(format!(
                    "only {} of the {} touched arrived as huge pages (AnonHugePages)",
                    human_bytes(got),
                    human_bytes(want)
                ));
            }
        }
        Precondition::MajorFaults => {
            if major_faults == 0 {
                return Err(
                    "no major fault: the file stayed in memory (tmpfs, or the drop failed)"
                        .to_string(),
                );
            }
        }
        Precondition::ChildAlive => {
            if process_at(variant, kind.phase, CHILD).is_none() {
                return Err("the forked child was not there to share the pages".to_string());
            }
        }
    }
    let whole = spread(&samples);
    let divide = |whole: Spread, divisor: f64| Spread {
        min: whole.min / divisor,
        median: whole.median / divisor,
        max: whole.max / divisor,
    };
    let per = |divisor: f64| divide(whole, divisor);
    let cpu_key = kind.note.replace("_nanos", "_cpu_nanos");
    let cpu = match variant.notes.get(&cpu_key) {
        Some(text) => Some(divide(spread(&parse_nanos(text)?), units_per_repetition)),
        None => None,
    };
    Ok(FaultCost {
        kind: kind.kind.to_string(),
        phase: kind.phase.to_string(),
        repetitions,
        faults,
        major_faults,
        bytes,
        unit: match kind.unit {
            Unit::Faults => "fault",
            Unit::Forks => "fork",
            Unit::ResidentPages => "page",
        }
        .to_string(),
        units_per_repetition,
        nanos_per_unit: per(units_per_repetition),
        cpu_nanos_per_unit: cpu,
        nanos_per_kib: per(bytes as f64 / 1024.0),
    })
}

/// Parses the experiment's comma-separated nanoseconds.
fn parse_nanos(text: &str) -> Result<Vec<u64>, String> {
    let samples = text
        .split(',')
        .map(|s| {
            s.trim()
                .parse::<u64>()
                .map_err(|_| format!("timing {s:?} in {text:?} is not a whole number"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    if samples.is_empty() {
        return Err("no timings".to_string());
    }
    Ok(samples)
}

/// Min, median and max of a non-empty set.
pub(crate) fn spread(samples: &[u64]) -> Spread {
    let mut sorted = samples.to_vec();
    sorted.sort_unstable();
    let n = sorted.len();
    if n == 0 {
        return Spread::default();
    }
    let median = if n % 2 == 1 {
        sorted[n / 2] as f64
    } else {
        (sorted[n / 2 - 1] as f64 + sorted[n / 2] as f64) / 2.0
    };
    Spread {
        min: sorted[0] as f64,
        median,
        max: sorted[n - 1] as f64,
    }
}

/// The file must fit in the temp folder, and what is resident at once in the cgroup.
fn check_room(env: &Environment, file_bytes: u64, resident_bytes: u64) -> Result<(), String> {
    let needed = file_bytes + file_bytes / 20;
    if env.temp_dir_free_bytes < needed {
        return Err(format!(
            "needs {} free in {} for the file but only {} is free; pass --dir elsewhere, --quick or a smaller --size",
            human_bytes(needed),
            env.temp_dir.display(),
            human_bytes(env.temp_dir_free_bytes)
        ));
    }
    let limit = env.cgroup_memory_max_bytes.unwrap_or(u64::MAX).min(
        env.mem_total_bytes
            .checked_div(2)
            .filter(|m| *m > 0)
            .unwrap_or(u64::MAX),
    );
    if resident_bytes + (64 << 20) > limit {
        return Err(format!(
            "holds up to {} resident at once, more than the {} it may use here; use --quick or a smaller --size",
            human_bytes(resident_bytes),
            human_bytes(limit)
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_takes_the_middle_of_an_even_count() {
        let s = spread(&[40, 10, 30, 20]);
        assert_eq!((s.min, s.median, s.max), (10.0, 25.0, 40.0));
        let s = spread(&[7]);
        assert_eq!((s.min, s.median, s.max), (7.0, 7.0, 7.0));
    }

    #[test]
    fn timings_that_are_not_numbers_are_refused_with_the_text() {
        assert_eq!(parse_nanos("1,2,3"), Ok(vec![1, 2, 3]));
        let err = parse_nanos("1,x").unwrap_err();
        assert!(err.contains("\"x\""), "{err}");
    }

    fn record(thp_huge_bytes: u64, major: u64) -> ExperimentRecord {
        let process = |role: &str, minor: u64, major: u64, regions: serde_json::Value| {
            json!({"role": role, "pid": 1, "faults": {"minor": minor, "major": major},
                   "faults_total": {"minor": 0, "major": 0},
                   "totals": {"vm_size_bytes": 0, "rss_bytes": 64 << 20, "rss_anon_bytes": 0,
                              "rss_file_bytes": 0, "rss_shmem_bytes": 0, "pss_bytes": 0,
                              "uss_bytes": 0, "pte_bytes": 0, "stack_bytes": 0, "swap_bytes": 0},
                   "regions": regions, "mappings": []})
        };
        let region = |name: &str, rss: u64, huge: u64| {
            json!({"name": name, "mapping_count": 1, "size_bytes": rss, "rss_bytes": rss,
                   "pss_bytes": rss, "shared_clean_bytes": 0, "shared_dirty_bytes": 0,
                   "private_clean_bytes": 0, "private_dirty_bytes": rss, "anonymous_bytes": rss,
                   "anon_huge_pages_bytes": huge, "swap_bytes": 0})
        };
        let cp = |label: &str, procs: Vec<serde_json::Value>| json!({"label": label, "phase_millis": 1, "processes": procs});
        let main = |minor, major| process(MAIN, minor, major, json!([]));
        serde_json::from_value(json!({
            "name": "fault-costs", "status": "ok", "reason": null, "params": {},
            "variants": [{
                "name": VARIANT, "status": "ok", "reason": null,
                "notes": {"block_bytes": "1048576", "thp_block_bytes": "4194304",
                          "random_block_bytes": "131072", "repetitions": "4",
                          "cost_anon_first_touch_nanos": "256000,512000,300000,280000",
                          "cost_anon_first_touch_cpu_nanos": "2560,2560,2560,2560",
                          "cost_thp_first_touch_nanos": "100,100,100,100",
                          "cost_file_major_read_ahead_nanos": "100,100,100,100",
                          "cost_munmap_nanos": "2560,2560,2560,2560"},
                "noise_floor": [],
                "checkpoints": [
                    cp("after-anon-first-touch", vec![main(1024, 0)]),
                    cp("after-thp-first-touch",
                       vec![process(MAIN, 8, 0, json!([region("thp", 16 << 20, thp_huge_bytes)]))]),
                    cp("after-file-major-fault", vec![main(40, major)]),
                    cp("before-fork",
                       vec![process(MAIN, 0, 0, json!([region("anon", 4 << 20, 0)]))]),
                    cp("after-fork",
                       vec![process(MAIN, 3, 0, json!([region("anon", 4 << 20, 0)]))]),
                    cp("after-munmap", vec![main(0, 0)]),
                ]
            }],
            "claims": []
        }))
        .expect("a valid record")
    }

    fn env() -> Environment {
        let mut env = Environment::detect(&std::env::temp_dir());
        env.page_size = 4096;
        env
    }

    fn cost<'a>(costs: &'a [FaultCost], kind: &str) -> Option<&'a FaultCost> {
        costs.iter().find(|c| c.kind == kind)
    }

    #[test]
    fn nanos_are_divided_by_the_faults_counted_from_outside() {
        let env = env();
        let costs = price_list(&record(16 << 20, 10), &env);
        let anon = cost(&costs, "anon-first-touch").expect("anon priced");
        // 1024 faults over 4 repetitions: 256 per repetition.
        assert_eq!(anon.units_per_repetition, 256.0);
        assert_eq!(anon.nanos_per_unit.min, 1000.0);
        assert_eq!(anon.nanos_per_unit.median, 1132.8125);
        assert_eq!(anon.nanos_per_unit.max, 2000.0);
        assert_eq!(anon.nanos_per_kib.min, 250.0);
        assert_eq!(anon.cpu_nanos_per_unit.map(|s| s.median), Some(10.0));
        let munmap = cost(&costs, "munmap").expect("munmap priced");
        // 4 MiB resident over 4 repetitions: 256 pages of 4 KiB each.
        assert_eq!(munmap.units_per_repetition, 256.0);
        assert_eq!(munmap.nanos_per_unit.median, 10.0);
        assert!(
            cost(&costs, "zero-page-read").is_none(),
            "no timings, no entry"
        );
    }

    #[test]
    fn a_thp_timing_counts_only_when_the_huge_pages_arrived() {
        let env = env();
        assert!(cost(&price_list(&record(16 << 20, 1), &env), "thp-first-touch").is_some());
        let costs = price_list(&record(14 << 20, 1), &env);
        assert!(cost(&costs, "thp-first-touch").is_none());
        let table = FaultCosts.summary(&record(14 << 20, 1), &env);
        let row = table[0]
            .rows
            .iter()
            .find(|r| r[0] == "thp-first-touch")
            .expect("a row for thp");
        assert!(row[9].contains("huge pages"), "{row:?}");
    }

    #[test]
    fn a_major_fault_timing_needs_major_faults() {
        let env = env();
        assert!(cost(&price_list(&record(0, 3), &env), "file-major-read-ahead").is_some());
        assert!(cost(&price_list(&record(0, 0), &env), "file-major-read-ahead").is_none());
    }
}
