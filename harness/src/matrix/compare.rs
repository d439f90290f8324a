//! Comparing runs of the same experiments across kernels: a pure function over
//! [`RunRecord`] values. The first kernel with results is the reference; every
//! other kernel's figure is compared with it, with a tolerance counted in pages
//! of the recorded page size (never in time: phase timings are left out, since
//! an emulated guest's clock says nothing about the host's).
//!
//! [`within_tolerance`] decides "same or different" with the one tolerance
//! policy of baseline comparisons ([`crate::compare::Tolerances`], its defaults).

use std::collections::HashMap;

use crate::compare::{MetricKind, Tolerances};
use crate::model::{ExperimentRecord, ProcessRecord, RunRecord, Status, Verdict};

/// What a metric counts, which decides its tolerance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Bytes: the memory tolerance of [`Tolerances`].
    Bytes,
    /// Page faults: the fault tolerance of [`Tolerances`].
    Faults,
}

/// True when `value` is within tolerance of `reference`.
pub fn within_tolerance(reference: u64, value: u64, unit: Unit, page_size: u64) -> bool {
    let kind = match unit {
        Unit::Bytes => MetricKind::Memory,
        Unit::Faults => MetricKind::Faults,
    };
    let reference_value = i64::try_from(reference).unwrap_or(i64::MAX);
    reference.abs_diff(value) <= Tolerances::default().band(kind, reference_value, page_size)
}

/// One kernel's column: its label and its run, or why it has none.
#[derive(Debug, Clone)]
pub struct Column<'a> {
    /// The kernel as the user named it.
    pub label: String,
    /// Its results, or the reason there are none (boot failure, timeout).
    pub run: Result<&'a RunRecord, String>,
}

/// A measured value or a verdict in one cell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// A figure with its unit.
    Number(u64, Unit),
    /// A figure's change over a phase, with its unit (the native policy of
    /// [`super::phases`]).
    Change(i64, Unit),
    /// A claim's verdict.
    Verdict(Verdict),
    /// Not measured on this kernel (no results, or the checkpoint was not reached).
    Missing,
    /// The column's run did not run the experiment (a folder of other
    /// experiments, or one skipped): never a difference.
    NotRun,
}

/// One cell of the matrix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cell {
    /// What was measured.
    pub value: Value,
    /// True when it differs from the reference column beyond tolerance.
    pub differs: bool,
}

/// Whether a row holds a figure or a claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RowKind {
    /// A figure at a checkpoint.
    Metric,
    /// A claim's verdict.
    Claim,
}

/// One row: `experiment / variant / checkpoint / [role] metric`, or
/// `experiment / variant / claim`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// Figure or claim.
    pub kind: RowKind,
    /// The experiment.
    pub experiment: String,
    /// The variant (empty for claims judged over the whole experiment).
    pub variant: String,
    /// The checkpoint label, or the claim id.
    pub point: String,
    /// The measured process's role when the experiment has several
    /// (`child`, `sharer-2`); empty for its main process and for claims.
    pub process: String,
    /// The metric as /proc names it (`VmRSS`, `minor faults`, `data Rss` for a
    /// region; the unit is the cells' [`Unit`]), or `verdict`.
    pub metric: String,
    /// One cell per column.
    pub cells: Vec<Cell>,
}

/// The whole comparison.
#[derive(Debug, Clone)]
pub struct Matrix {
    /// Column labels.
    pub columns: Vec<String>,
    /// Index of the reference column, if any kernel has results.
    pub reference: Option<usize>,
    /// Rows in the order first met.
    pub rows: Vec<Row>,
}

impl Matrix {
    /// Rows with at least one cell beyond tolerance.
    pub fn differing_rows(&self) -> usize {
        self.rows
            .iter()
            .filter(|r| r.cells.iter().any(|c| c.differs))
            .count()
    }
}

type Key = (RowKind, String, String, String, String, String);

/// True when every column with results ran with a fixed address space (a
/// guest, or the host column of a matrix), where whole-process figures are the
/// same from run to run and [`compare`] compares them as they are; else the
/// matrix takes `compare`'s policy ([`super::phases`]), since a native run's
/// levels move.
pub fn fixed(columns: &[Column<'_>]) -> bool {
    columns
        .iter()
        .filter_map(|c| c.run.as_ref().ok())
        .all(|r| r.environment.guest.is_some() || r.environment.address_space_fixed)
}

/// Every figure compared as it is, against the reference column.
pub fn compare(columns: &[Column<'_>]) -> Matrix {
    let mut order: Vec<Key> = Vec::new();
    let mut values: HashMap<Key, Vec<Value>> = HashMap::new();
    let n = columns.len();
    for (index, column) in columns.iter().enumerate() {
        let Ok(run) = column.run else {
            continue;
        };
        for experiment in &run.experiments {
            for (key, value) in figures(experiment) {
                let slot = values.entry(key.clone()).or_insert_with(|| {
                    order.push(key);
                    vec![Value::Missing; n]
                });
                slot[index] = value;
            }
        }
    }
    mark_not_run(columns, &mut values);
    let reference = columns.iter().position(|c| c.run.is_ok());
    let page_size = |i: usize| {
        columns[i]
            .run
            .as_ref()
            .map_or(4096, |r| r.environment.page_size)
    };
    let rows = order
        .into_iter()
        .map(|key| {
            let cells_values = values.remove(&key).unwrap_or_default();
            let cells = cells_values
                .iter()
                .enumerate()
                .map(|(i, value)| {
                    let differs = match (reference, value) {
                        (Some(r), _) if r == i => false,
                        (Some(_), _) if columns[i].run.is_err() => false,
                        (Some(r), value) => {
                            differs(&cells_values[r], value, page_size(r).max(page_size(i)))
                        }
                        (None, _) => false,
                    };
                    Cell {
                        value: value.clone(),
                        differs,
                    }
                })
                .collect();
            let (kind, experiment, variant, point, process, metric) = key;
            Row {
                kind,
                experiment,
                variant,
                point,
                process,
                metric,
                cells,
            }
        })
        .collect();
    Matrix {
        columns: columns.iter().map(|c| c.label.clone()).collect(),
        reference,
        rows,
    }
}

/// Turns the missing cells of a column whose run did not run the row's
/// experiment (left it out, or skipped it) into [`Value::NotRun`].
fn mark_not_run(columns: &[Column<'_>], values: &mut HashMap<Key, Vec<Value>>) {
    for (key, cells) in values.iter_mut() {
        for (cell, column) in cells.iter_mut().zip(columns) {
            let Ok(run) = column.run else {
                continue;
            };
            let ran = run
                .experiments
                .iter()
                .any(|e| e.name == key.1 && e.status != Status::Skipped);
            if *cell == Value::Missing && !ran {
                *cell = Value::NotRun;
            }
        }
    }
}

fn differs(reference: &Value, value: &Value, page_size: u64) -> bool {
    match (reference, value) {
        // What one column did not run is no difference.
        (Value::NotRun, _) | (_, Value::NotRun) => false,
        (Value::Number(a, unit), Value::Number(b, _)) => {
            !within_tolerance(*a, *b, *unit, page_size)
        }
        (Value::Verdict(a), Value::Verdict(b)) => a != b,
        (Value::Missing, Value::Missing) => false,
        // Measured on one kernel and not on the other is a difference too.
        _ => true,
    }
}

/// Every compared figure and verdict of one experiment.
pub(super) fn figures(e: &ExperimentRecord) -> Vec<(Key, Value)> {
    let mut out = Vec::new();
    for v in &e.variants {
        for c in &v.checkpoints {
            for p in &c.processes {
                let process = if p.role == MAIN_ROLE {
                    String::new()
                } else {
                    p.role.clone()
                };
                for (metric, value, unit) in process_figures(p) {
                    out.push((
                        (
                            RowKind::Metric,
                            e.name.clone(),
                            v.name.clone(),
                            c.label.clone(),
                            process.clone(),
                            metric,
                        ),
                        Value::Number(value, unit),
                    ));
                }
            }
        }
    }
    for claim in &e.claims {
        out.push((
            (
                RowKind::Claim,
                e.name.clone(),
                claim.variant.clone().unwrap_or_default(),
                claim.id.clone(),
                String::new(),
                "verdict".into(),
            ),
            Value::Verdict(claim.verdict),
        ));
    }
    out
}

/// The figures compared per process and checkpoint: faults of the phase, the
/// process's counters from /proc/PID/status (VmSize, VmRSS, RssAnon, RssFile),
/// its Pss summed over smaps, and each declared region's smaps Rss, Pss and
/// AnonHugePages. Names are /proc's own; the unit travels apart.
fn process_figures(p: &ProcessRecord) -> Vec<(String, u64, Unit)> {
    let t = &p.totals;
    let mut out = vec![
        (MINOR_FAULTS.to_string(), p.faults.minor, Unit::Faults),
        (MAJOR_FAULTS.to_string(), p.faults.major, Unit::Faults),
        ("VmSize".to_string(), t.vm_size_bytes, Unit::Bytes),
        (VM_RSS.to_string(), t.rss_bytes, Unit::Bytes),
        ("RssAnon".to_string(), t.rss_anon_bytes, Unit::Bytes),
        ("RssFile".to_string(), t.rss_file_bytes, Unit::Bytes),
        ("Pss".to_string(), t.pss_bytes, Unit::Bytes),
    ];
    for r in &p.regions {
        let f = &r.figures;
        out.push((format!("{} Rss", r.name), f.rss_bytes, Unit::Bytes));
        out.push((format!("{} Pss", r.name), f.pss_bytes, Unit::Bytes));
        out.push((
            format!("{} {ANON_HUGE_PAGES}", r.name),
            f.anon_huge_pages_bytes,
            Unit::Bytes,
        ));
    }
    out
}

/// The role of an experiment's only or principal process.
pub const MAIN_ROLE: &str = "main";

/// Row names the explanations of differences look for.
pub const MINOR_FAULTS: &str = "minor faults";
/// Major faults of the phase.
pub const MAJOR_FAULTS: &str = "major faults";
/// The whole process's resident set from /proc/PID/status.
pub const VM_RSS: &str = "VmRSS";
/// A region's anonymous huge pages (smaps AnonHugePages).
pub const ANON_HUGE_PAGES: &str = "AnonHugePages";

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::model::*;
    use crate::system::Environment;

    /// A run with one experiment, one variant, one checkpoint and one claim.
    pub(crate) fn run(rss_bytes: u64, minor: u64, verdict: Verdict) -> RunRecord {
        let env = Environment::fixture();
        let process = ProcessRecord {
            role: "main".into(),
            pid: 1,
            faults: Faults { minor, major: 0 },
            faults_total: Faults::default(),
            totals: Totals {
                rss_bytes,
                ..Totals::default()
            },
            regions: vec![],
            mappings: vec![],
            io: None,
            state: None,
        };
        RunRecord {
            format_version: FORMAT_VERSION,
            vmlab_version: "0".into(),
            started_at: String::new(),
            quick: true,
            // As a matrix runs them: figures are compared as they are.
            environment: Environment {
                page_size: 4096,
                address_space_fixed: true,
                ..env
            },
            repeats: None,
            provenance: Default::default(),
            gate: Default::default(),
            experiments: vec![ExperimentRecord {
                name: "an-experiment".into(),
                status: Status::Ok,
                reason: None,
                params: Default::default(),
                variants: vec![VariantRecord {
                    name: "warm".into(),
                    status: Status::Ok,
                    reason: None,
                    notes: Default::default(),
                    noise_floor: vec![],
                    checkpoints: vec![CheckpointRecord {
                        label: "after-read-all".into(),
                        phase_millis: 5,
                        processes: vec![process],
                        system: None,
                        population: None,
                    }],
                    rss_samples: vec![],
                    binary: None,
                }],
                claims: vec![ClaimRecord {
                    id: "a-claim".into(),
                    variant: Some("warm".into()),
                    source: String::new(),
                    statement: String::new(),
                    verdict,
                    evidence: "measured".into(),
                    criterion: String::new(),
                    measured: String::new(),
                    precondition: None,
                    strict: false,
                    disturbance: None,
                    attempts: None,
                    expected: None,
                }],
                summary: vec![],
                fault_costs: vec![],
            }],
        }
    }

    /// Makes `run`'s one experiment, checkpoint and claim the ones named.
    pub(crate) fn retarget(run: &mut RunRecord, experiment: &str, checkpoint: &str, claim: &str) {
        let e = &mut run.experiments[0];
        e.name = experiment.into();
        e.variants[0].checkpoints[0].label = checkpoint.into();
        e.claims[0].id = claim.into();
    }

    fn row<'a>(m: &'a Matrix, metric: &str) -> &'a Row {
        m.rows.iter().find(|r| r.metric == metric).unwrap()
    }

    #[test]
    fn figures_within_the_comparison_tolerance_are_the_same_and_beyond_differ() {
        // 1 MiB: 2 pages + 1% (10,485 bytes) = 18,677 bytes; 100 faults: at least 16.
        let a = run(1 << 20, 100, Verdict::Confirmed);
        let near = run((1 << 20) + 18_677, 116, Verdict::Confirmed);
        let far = run((1 << 20) + 18_678, 117, Verdict::Refuted);
        let m = compare(&[
            Column {
                label: "a".into(),
                run: Ok(&a),
            },
            Column {
                label: "near".into(),
                run: Ok(&near),
            },
            Column {
                label: "far".into(),
                run: Ok(&far),
            },
        ]);
        let rss: Vec<bool> = row(&m, "VmRSS").cells.iter().map(|c| c.differs).collect();
        assert_eq!(rss, vec![false, false, true]);
        let faults: Vec<bool> = row(&m, "minor faults")
            .cells
            .iter()
            .map(|c| c.differs)
            .collect();
        assert_eq!(faults, vec![false, false, true]);
        let verdicts: Vec<bool> = row(&m, "verdict").cells.iter().map(|c| c.differs).collect();
        assert_eq!(verdicts, vec![false, false, true]);
        assert!(
            m.rows.iter().all(|r| !r.metric.contains("millis")),
            "timings are left out"
        );
    }

    #[test]
    fn a_kernel_without_results_is_missing_and_the_next_one_is_the_reference() {
        let b = run(1 << 20, 100, Verdict::Confirmed);
        let m = compare(&[
            Column {
                label: "broken".into(),
                run: Err("timed out".into()),
            },
            Column {
                label: "b".into(),
                run: Ok(&b),
            },
        ]);
        assert_eq!(m.reference, Some(1));
        let cells = &row(&m, "VmRSS").cells;
        assert_eq!(cells[0].value, Value::Missing);
        assert!(!cells[1].differs);
    }
}
