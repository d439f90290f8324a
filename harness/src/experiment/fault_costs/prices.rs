//! The price list: each kind of fault the experiment times, and its timings
//! divided by what the harness counted from outside for the same phase.

use experiments::catalog::fault_costs::{checkpoint, note, region, role, timing, INFO};
use experiments::note::{NamedNote, Series};

use super::super::human_bytes;
use super::super::kit::{process_at, region_at};
use crate::model::{
    ExperimentRecord, FaultCost, PhaseCompaction, ProcessRecord, Spread, Status, VariantRecord,
};
use crate::system::Environment;

/// The kinds' names in results.json (`fault_costs[].kind`).
pub mod kind {
    #![allow(missing_docs)] // each name is its own documentation
    pub const ANON_FIRST_TOUCH: &str = "anon-first-touch";
    pub const ZERO_PAGE_READ: &str = "zero-page-read";
    pub const THP_FIRST_TOUCH: &str = "thp-first-touch";
    pub const FILE_MINOR_FAULT_AROUND: &str = "file-minor-fault-around";
    pub const FILE_MAJOR_READ_AHEAD: &str = "file-major-read-ahead";
    pub const FILE_MAJOR_NO_READ_AHEAD: &str = "file-major-no-read-ahead";
    pub const FILE_SHARED_WRITE_FAULT: &str = "file-shared-write-fault";
    pub const FILE_PRIVATE_COW_FAULT: &str = "file-private-cow-fault";
    pub const COW_AFTER_FORK: &str = "cow-after-fork";
    pub const FORK: &str = "fork";
    pub const MUNMAP: &str = "munmap";
}

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
    /// The file's pages were in the page cache, so the timing is the fault's
    /// and not the disk's: fewer major faults than half the repetitions. A
    /// disk read only adds time, so at most that many repetitions are slower
    /// and sort above the median: the median and the minimum are still the
    /// cached fault's (the maximum may not be; the table shows the major faults).
    Cached,
    /// The forked child was alive at the phase's end, so pages were still shared.
    ChildAlive,
}

/// One kind of the price list.
pub(super) struct Kind {
    /// Kebab-case name in results.json.
    pub(super) kind: &'static str,
    /// The checkpoint ending its phase.
    phase: &'static str,
    /// The stem of the notes with its per-repetition nanoseconds.
    timing: &'static str,
    unit: Unit,
    block: Block,
    precondition: Precondition,
    /// What it is, for the table.
    pub(super) what: &'static str,
}

/// Every kind, in the order the experiment times them.
pub(super) const KINDS: &[Kind] = &[
    Kind {
        kind: kind::ANON_FIRST_TOUCH,
        phase: checkpoint::AFTER_ANON_FIRST_TOUCH,
        timing: timing::ANON_FIRST_TOUCH,
        unit: Unit::Faults,
        block: Block::Base,
        precondition: Precondition::None,
        what: "first write to an anonymous 4 KiB page (a zeroed frame)",
    },
    Kind {
        kind: kind::ZERO_PAGE_READ,
        phase: checkpoint::AFTER_ZERO_PAGE_READ,
        timing: timing::ZERO_PAGE_READ,
        unit: Unit::Faults,
        block: Block::Base,
        precondition: Precondition::None,
        what: "first read of an untouched anonymous page (the shared zero page)",
    },
    Kind {
        kind: kind::THP_FIRST_TOUCH,
        phase: checkpoint::AFTER_THP_FIRST_TOUCH,
        timing: timing::THP_FIRST_TOUCH,
        unit: Unit::Faults,
        block: Block::Huge,
        precondition: Precondition::HugePages,
        what: "first write to a 2 MiB transparent huge page",
    },
    Kind {
        kind: kind::FILE_MINOR_FAULT_AROUND,
        phase: checkpoint::AFTER_FILE_MINOR_FAULT,
        timing: timing::FILE_MINOR_FAULT_AROUND,
        unit: Unit::Faults,
        block: Block::Base,
        precondition: Precondition::None,
        what: "read of a file page in the page cache (fault-around maps its neighbours)",
    },
    Kind {
        kind: kind::FILE_MAJOR_READ_AHEAD,
        phase: checkpoint::AFTER_FILE_MAJOR_FAULT,
        timing: timing::FILE_MAJOR_READ_AHEAD,
        unit: Unit::Faults,
        block: Block::Base,
        precondition: Precondition::MajorFaults,
        what: "read of a cold file page, from the disk with read-ahead",
    },
    Kind {
        kind: kind::FILE_MAJOR_NO_READ_AHEAD,
        phase: checkpoint::AFTER_FILE_MAJOR_FAULT_NO_READ_AHEAD,
        timing: timing::FILE_MAJOR_NO_READ_AHEAD,
        unit: Unit::Faults,
        block: Block::Random,
        precondition: Precondition::MajorFaults,
        what: "read of a cold file page with MADV_RANDOM: one disk read per page",
    },
    Kind {
        kind: kind::FILE_SHARED_WRITE_FAULT,
        phase: checkpoint::AFTER_FILE_SHARED_WRITE_FAULT,
        timing: timing::FILE_SHARED_WRITE,
        unit: Unit::Faults,
        block: Block::Base,
        precondition: Precondition::Cached,
        what: "write to a cached file page through MAP_SHARED: made writable and dirty, no copy (a fault may map a whole large folio)",
    },
    Kind {
        kind: kind::FILE_PRIVATE_COW_FAULT,
        phase: checkpoint::AFTER_FILE_PRIVATE_COW_FAULT,
        timing: timing::FILE_PRIVATE_COW,
        unit: Unit::Faults,
        block: Block::Base,
        precondition: Precondition::Cached,
        what: "write to a cached file page through MAP_PRIVATE (the page copied, copy-on-write)",
    },
    Kind {
        kind: kind::COW_AFTER_FORK,
        phase: checkpoint::AFTER_COW_FAULT,
        timing: timing::COW_AFTER_FORK,
        unit: Unit::Faults,
        block: Block::Base,
        precondition: Precondition::ChildAlive,
        what: "write to a page shared with a forked child (copy-on-write)",
    },
    Kind {
        kind: kind::FORK,
        phase: checkpoint::AFTER_FORK,
        timing: timing::FORK,
        unit: Unit::Forks,
        block: Block::Resident,
        precondition: Precondition::None,
        what: "fork of the process (bytes: its VmRSS), the child exiting at once",
    },
    Kind {
        kind: kind::MUNMAP,
        phase: checkpoint::AFTER_MUNMAP,
        timing: timing::MUNMAP,
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
    if record.name != INFO.name {
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

pub(super) fn ok_variant(record: &ExperimentRecord) -> Option<&VariantRecord> {
    record.variants.iter().find(|v| v.status == Status::Ok)
}

/// Every kind of [`KINDS`], priced or with the reason it could not be.
pub(super) fn price_variant(
    variant: &VariantRecord,
    page_size: u64,
) -> Vec<Result<FaultCost, String>> {
    KINDS
        .iter()
        .map(|k| price(k, variant, page_size.max(1)))
        .collect()
}

fn price(kind: &Kind, variant: &VariantRecord, page_size: u64) -> Result<FaultCost, String> {
    if kind.timing == timing::THP_FIRST_TOUCH {
        if let Some(why) = variant.note::<String>(note::THP_UNAVAILABLE) {
            return Err(why);
        }
    }
    let samples = wall_samples(kind, variant)?;
    let repetitions = samples.len() as u64;
    let phase = PhaseFigures::read(kind, variant)?;
    let bytes = bytes_per_repetition(kind, variant, &phase, repetitions)?;
    let units_per_repetition = phase.units_per_repetition(kind.unit, repetitions, page_size);
    if units_per_repetition <= 0.0 || bytes == 0 {
        return Err(match kind.unit {
            Unit::Faults => "no fault was counted in the phase".to_string(),
            _ => "nothing was resident before the phase".to_string(),
        });
    }
    check_precondition(kind, variant, &phase, repetitions, bytes)?;
    let whole = spread(&samples);
    let cpu_key = timing::cpu_note(kind.timing);
    let cpu = match variant.notes.get(cpu_key.key()) {
        Some(text) => Some(divided(
            spread(&timings(cpu_key, text)?),
            units_per_repetition,
        )),
        None => None,
    };
    Ok(FaultCost {
        kind: kind.kind.to_string(),
        phase: kind.phase.to_string(),
        repetitions,
        faults: phase.faults,
        major_faults: phase.major_faults,
        bytes,
        unit: match kind.unit {
            Unit::Faults => "fault",
            Unit::Forks => "fork",
            Unit::ResidentPages => "page",
        }
        .to_string(),
        units_per_repetition,
        nanos_per_unit: divided(whole, units_per_repetition),
        cpu_nanos_per_unit: cpu,
        nanos_per_kib: divided(whole, bytes as f64 / 1024.0),
        compaction: phase_compaction(variant, kind.phase),
    })
}

/// The wall time of each repetition of the kind's timing, in nanoseconds.
fn wall_samples(kind: &Kind, variant: &VariantRecord) -> Result<Vec<u64>, String> {
    let wall_key = timing::wall_note(kind.timing);
    let name = wall_key.key();
    timings(
        wall_key,
        variant
            .notes
            .get(name)
            .ok_or_else(|| format!("no timings (note {name})"))?,
    )
}

/// A spread of whole repetitions, divided into `divisor` units each.
fn divided(whole: Spread, divisor: f64) -> Spread {
    Spread {
        min: whole.min / divisor,
        median: whole.median / divisor,
        max: whole.max / divisor,
    }
}

/// What the snapshots say about the kind's phase: its faults, and the main
/// process as it was at the checkpoint before it.
struct PhaseFigures<'a> {
    faults: u64,
    major_faults: u64,
    before: Option<&'a ProcessRecord>,
    /// The anonymous region's Rss before the phase.
    anon_resident: u64,
}

impl<'a> PhaseFigures<'a> {
    fn read(kind: &Kind, variant: &'a VariantRecord) -> Result<PhaseFigures<'a>, String> {
        let at_end = process_at(variant, kind.phase, role::MAIN)
            .ok_or_else(|| format!("checkpoint {} was not reached", kind.phase))?;
        let before = variant
            .checkpoints
            .iter()
            .position(|c| c.label == kind.phase)
            .and_then(|i| i.checked_sub(1))
            .and_then(|i| variant.checkpoints.get(i))
            .and_then(|c| c.process(role::MAIN));
        Ok(PhaseFigures {
            faults: at_end.faults.minor + at_end.faults.major,
            major_faults: at_end.faults.major,
            before,
            anon_resident: before
                .and_then(|p| p.region(region::ANON))
                .map_or(0, |r| r.figures.rss_bytes),
        })
    }

    /// How many of the kind's units (faults, forks, resident pages) one
    /// repetition covered.
    fn units_per_repetition(&self, unit: Unit, repetitions: u64, page_size: u64) -> f64 {
        match unit {
            Unit::Faults => self.faults as f64 / repetitions as f64,
            Unit::Forks => 1.0,
            Unit::ResidentPages => (self.anon_resident / page_size) as f64 / repetitions as f64,
        }
    }
}

/// The bytes one repetition worked on: the block the experiment noted, or
/// (for fork and munmap) what was resident before the phase.
fn bytes_per_repetition(
    kind: &Kind,
    variant: &VariantRecord,
    phase: &PhaseFigures<'_>,
    repetitions: u64,
) -> Result<u64, String> {
    Ok(match kind.block {
        Block::Base => variant.need_note(note::BLOCK_BYTES)?,
        Block::Huge => variant.need_note(note::THP_BLOCK_BYTES)?,
        Block::Random => variant.need_note(note::RANDOM_BLOCK_BYTES)?,
        Block::Resident => match kind.unit {
            Unit::Forks => phase.before.map_or(0, |p| p.totals.rss_bytes),
            _ => phase.anon_resident / repetitions,
        },
    })
}

/// Whether the phase measured what the kind prices; the reason when not.
fn check_precondition(
    kind: &Kind,
    variant: &VariantRecord,
    phase: &PhaseFigures<'_>,
    repetitions: u64,
    bytes: u64,
) -> Result<(), String> {
    match kind.precondition {
        Precondition::None => {}
        Precondition::HugePages => {
            let want = repetitions * bytes;
            let got = region_at(variant, kind.phase, role::MAIN, region::THP)
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
            if phase.major_faults == 0 {
                return Err(
                    "no major fault: the file stayed in memory (tmpfs, or the drop failed)"
                        .to_string(),
                );
            }
        }
        Precondition::Cached => {
            if phase.major_faults * 2 >= repetitions {
                return Err(format!(
                    "{} major faults in {repetitions} repetitions: pages of the file had left the page cache (reclaim), so the disk was timed in most of them",
                    phase.major_faults
                ));
            }
        }
        Precondition::ChildAlive => {
            if process_at(variant, kind.phase, role::CHILD).is_none() {
                return Err("the forked child was not there to share the pages".to_string());
            }
        }
    }
    Ok(())
}

/// The compaction counters' change over the phase ending at `phase`, from the
/// machine-wide /proc/vmstat read at its two checkpoints.
fn phase_compaction(variant: &VariantRecord, phase: &str) -> Option<PhaseCompaction> {
    let end = variant.checkpoints.iter().position(|c| c.label == phase)?;
    let vmstat = |i: usize| variant.checkpoints.get(i)?.system.as_ref()?.vmstat;
    Some(PhaseCompaction::between(
        &vmstat(end.checked_sub(1)?)?,
        &vmstat(end)?,
    ))
}

/// The nanoseconds of timing note `key`, one per repetition (at least one).
fn timings(key: NamedNote<Series>, text: &str) -> Result<Vec<u64>, String> {
    let Series(samples) = key.read(text).map_err(|why| format!("timing {why}"))?;
    if samples.is_empty() {
        return Err("no timings".to_string());
    }
    Ok(samples)
}

/// Min, median and max of a non-empty set.
fn spread(samples: &[u64]) -> Spread {
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

#[cfg(test)]
mod tests {
    use experiments::catalog::fault_costs::variant;
    use serde_json::json;

    use super::*;
    use crate::experiment::Experiment;

    #[test]
    fn an_empty_or_malformed_timing_note_is_no_price() {
        let key = timing::wall_note(timing::THP_FIRST_TOUCH);
        assert_eq!(timings(key, "5,7"), Ok(vec![5, 7]));
        assert_eq!(timings(key, ""), Err("no timings".to_string()));
        let err = timings(key, "5,x").unwrap_err();
        assert!(err.starts_with("timing ") && err.contains("\"x\""), "{err}");
    }

    #[test]
    fn spread_takes_the_middle_of_an_even_count() {
        let s = spread(&[40, 10, 30, 20]);
        assert_eq!((s.min, s.median, s.max), (10.0, 25.0, 40.0));
        let s = spread(&[7]);
        assert_eq!((s.min, s.median, s.max), (7.0, 7.0, 7.0));
    }

    #[test]
    fn timings_that_are_not_numbers_are_refused_with_the_text() {
        let key = timing::wall_note(timing::FORK);
        assert_eq!(timings(key, "1,2,3"), Ok(vec![1, 2, 3]));
        let err = timings(key, "1,x").unwrap_err();
        assert!(err.starts_with("timing \"x\""), "{err}");
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
        let main = |minor, major| process(role::MAIN, minor, major, json!([]));
        serde_json::from_value(json!({
            "name": "fault-costs", "status": "ok", "reason": null, "params": {},
            "variants": [{
                "name": variant::DEFAULT, "status": "ok", "reason": null,
                "notes": {"block_bytes": "1048576", "thp_block_bytes": "4194304",
                          "random_block_bytes": "131072", "repetitions": "4",
                          "cost_anon_first_touch_nanos": "256000,512000,300000,280000",
                          "cost_anon_first_touch_cpu_nanos": "2560,2560,2560,2560",
                          "cost_thp_first_touch_nanos": "100,100,100,100",
                          "cost_file_major_read_ahead_nanos": "100,100,100,100",
                          "cost_file_shared_write_nanos": "100,100,100,100",
                          "cost_munmap_nanos": "2560,2560,2560,2560"},
                "noise_floor": [],
                "checkpoints": [
                    cp("after-anon-first-touch", vec![main(1024, 0)]),
                    cp("after-thp-first-touch",
                       vec![process(role::MAIN, 8, 0, json!([region("thp", 16 << 20, thp_huge_bytes)]))]),
                    cp("after-file-major-fault", vec![main(40, major)]),
                    cp("after-file-shared-write-fault", vec![main(8, major)]),
                    cp("before-fork",
                       vec![process(role::MAIN, 0, 0, json!([region("anon", 4 << 20, 0)]))]),
                    cp("after-fork",
                       vec![process(role::MAIN, 3, 0, json!([region("anon", 4 << 20, 0)]))]),
                    cp("after-munmap", vec![main(0, 0)]),
                ]
            }],
            "claims": []
        }))
        .expect("a valid record")
    }

    fn env() -> Environment {
        let mut env = Environment::fixture();
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
        let table = super::super::EXPERIMENT.summary(&record(14 << 20, 1), &env);
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

    #[test]
    fn a_cached_write_timing_allows_disk_reads_in_fewer_than_half_the_repetitions() {
        let env = env();
        let shared = "file-shared-write-fault";
        // 4 repetitions: one disk read leaves the median a cached fault's, two
        // could make it a disk read's.
        assert!(cost(&price_list(&record(0, 0), &env), shared).is_some());
        assert!(cost(&price_list(&record(0, 1), &env), shared).is_some());
        assert!(cost(&price_list(&record(0, 2), &env), shared).is_none());
        let table = super::super::EXPERIMENT.summary(&record(0, 3), &env);
        let row = table[0]
            .rows
            .iter()
            .find(|r| r[0] == shared)
            .expect("a row for the shared write");
        assert!(row[9].contains("left the page cache"), "{row:?}");
    }

    #[test]
    fn a_thp_price_says_whether_the_kernel_compacted_memory_in_its_phase() {
        use crate::model::{SystemCounters, VmstatCounters};
        let env = env();
        let mut rec = record(16 << 20, 1);
        let counters = |alloc, stall, fallback| {
            Some(SystemCounters {
                vmstat: Some(VmstatCounters {
                    thp_fault_alloc: Some(alloc),
                    compact_stall: Some(stall),
                    thp_fault_fallback: Some(fallback),
                    ..VmstatCounters::default()
                }),
                ..SystemCounters::default()
            })
        };
        // The THP phase runs from after-anon-first-touch to after-thp-first-touch.
        rec.variants[0].checkpoints[0].system = counters(100, 7, 2);
        rec.variants[0].checkpoints[1].system = counters(108, 10, 2);
        let costs = price_list(&rec, &env);
        let thp = cost(&costs, "thp-first-touch").expect("thp priced");
        let p = thp.compaction.expect("counters at both ends");
        assert_eq!(
            (p.thp_fault_alloc, p.compact_stall, p.thp_fault_fallback),
            (Some(8), Some(3), Some(0))
        );
        assert_eq!(p.text(), "compacted (compact_stall +3)");
        let table = super::super::EXPERIMENT.summary(&rec, &env);
        let row = table[0]
            .rows
            .iter()
            .find(|r| r[0] == "thp-first-touch")
            .expect("a row for thp");
        assert!(
            row[9].ends_with("; compacted (compact_stall +3)"),
            "{row:?}"
        );
        // No counters at the phase's start: nothing is said.
        rec.variants[0].checkpoints[0].system = None;
        let costs = price_list(&rec, &env);
        assert!(cost(&costs, "thp-first-touch")
            .expect("thp priced")
            .compaction
            .is_none());
        // A quiet phase says so.
        rec.variants[0].checkpoints[0].system = counters(100, 7, 2);
        rec.variants[0].checkpoints[1].system = counters(108, 7, 2);
        let thp = price_list(&rec, &env);
        let p = cost(&thp, "thp-first-touch").and_then(|c| c.compaction);
        assert_eq!(p.map(|p| p.text()), Some("no compaction".to_string()));
    }
}
