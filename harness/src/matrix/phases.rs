//! The matrix of runs whose whole-process levels move from run to run: result
//! folders of `harness all` made natively, with address-space randomisation
//! on. Their figures are compared as `compare` compares a run with its
//! baseline ([`crate::compare::compare`]: faults per phase, whole-process
//! figures as their change over a phase, declared regions' figures, spreads of
//! repeated runs, and its tolerances), each column against the reference, so
//! that two runs of one kernel differ only where `compare` would flag them.

use std::collections::HashMap;

use super::compare::{figures, Cell, Column, Matrix, Row, RowKind, Unit, Value, MAIN_ROLE};
use crate::compare::{MetricComparison, MetricKind, Tolerances};
use crate::experiment::declared::{MAJOR_FAULTS, MINOR_FAULTS};
use crate::model::Status;

/// The key of a row: kind, experiment, variant, checkpoint or claim, process, metric.
type Key = (RowKind, String, String, String, String, String);

/// One cell as it is being filled: its value and whether it differs.
type Slot = (Value, bool);

/// Builds the matrix of `columns` with `compare`'s metric policy.
pub fn compare(columns: &[Column<'_>]) -> Matrix {
    let n = columns.len();
    let reference = columns.iter().position(|c| c.run.is_ok());
    let mut order: Vec<Key> = Vec::new();
    let mut slots: HashMap<Key, Vec<Slot>> = HashMap::new();
    let mut put = |key: Key, index: usize, slot: Slot| {
        let cells = slots.entry(key.clone()).or_insert_with(|| {
            order.push(key);
            vec![(Value::Missing, false); n]
        });
        cells[index] = slot;
    };
    // Claims: each column's verdicts, against the reference's.
    for (index, column) in columns.iter().enumerate() {
        let Ok(run) = column.run else { continue };
        for experiment in &run.experiments {
            for (key, value) in figures(experiment) {
                if key.0 == RowKind::Claim {
                    put(key, index, (value, false));
                }
            }
        }
    }
    if let Some(r) = reference {
        let Ok(base) = columns[r].run else {
            unreachable!("the reference has results")
        };
        for (index, column) in columns.iter().enumerate() {
            let Ok(run) = column.run else { continue };
            if index == r {
                continue;
            }
            let cmp = crate::compare::compare(base, run, Tolerances::default());
            for m in &cmp.metrics {
                let key = metric_key(m);
                let unit = unit_of(m.kind);
                put(key.clone(), r, (value(&m.metric, m.baseline, unit), false));
                put(
                    key,
                    index,
                    (value(&m.metric, m.now, unit), m.change.is_beyond()),
                );
            }
        }
    }
    let rows = order
        .into_iter()
        .map(|key| {
            let mut cells = slots.remove(&key).unwrap_or_default();
            finish_claims(&key, &mut cells, reference);
            let cells = cells
                .into_iter()
                .enumerate()
                .map(|(i, (value, differs))| Cell {
                    value: not_run(columns, i, &key.1, value),
                    differs,
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

/// A claim's cell differs when both columns judged it and the verdicts differ.
fn finish_claims(key: &Key, cells: &mut [Slot], reference: Option<usize>) {
    let Some(r) = reference.filter(|_| key.0 == RowKind::Claim) else {
        return;
    };
    let base = cells[r].0.clone();
    for (i, (value, differs)) in cells.iter_mut().enumerate() {
        *differs =
            i != r && matches!((&base, &*value), (Value::Verdict(a), Value::Verdict(b)) if a != b);
    }
}

/// A missing value of a column that did not run the experiment is "not run".
fn not_run(columns: &[Column<'_>], index: usize, experiment: &str, value: Value) -> Value {
    let ran = |c: &Column<'_>| {
        c.run.as_ref().is_ok_and(|r| {
            r.experiments
                .iter()
                .any(|e| e.name == experiment && e.status != Status::Skipped)
        })
    };
    if value == Value::Missing && columns[index].run.is_ok() && !ran(&columns[index]) {
        Value::NotRun
    } else {
        value
    }
}

/// The row of a compared metric, named as the matrix names its figures where
/// it has the same one (`minor faults`, `data Rss`), else as `compare` does.
fn metric_key(m: &MetricComparison) -> Key {
    let process = if m.process == MAIN_ROLE {
        String::new()
    } else {
        m.process.clone()
    };
    (
        RowKind::Metric,
        m.experiment.clone(),
        m.variant.clone(),
        m.checkpoint.clone(),
        process,
        row_name(&m.metric),
    )
}

fn row_name(metric: &str) -> String {
    match metric {
        "minor_faults" => return MINOR_FAULTS.into(),
        "major_faults" => return MAJOR_FAULTS.into(),
        _ => {}
    }
    let renamed = [
        (".rss_bytes", " Rss"),
        (".pss_bytes", " Pss"),
        (".anon_huge_pages_bytes", " AnonHugePages"),
    ];
    for (suffix, name) in renamed {
        if let Some(region) = metric.strip_suffix(suffix) {
            return format!("{region}{name}");
        }
    }
    metric.to_string()
}

fn unit_of(kind: MetricKind) -> Unit {
    match kind {
        MetricKind::Faults => Unit::Faults,
        MetricKind::Memory | MetricKind::Process => Unit::Bytes,
    }
}

/// A change over a phase keeps its sign; a level is never below 0.
fn value(metric: &str, v: i64, unit: Unit) -> Value {
    if metric.ends_with("_change") {
        Value::Change(v, unit)
    } else {
        Value::Number(u64::try_from(v).unwrap_or(0), unit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matrix::compare::tests::run;
    use crate::model::{RunRecord, Verdict};

    /// A run made natively, with randomised addresses.
    fn native(mut run: RunRecord) -> RunRecord {
        run.environment.address_space_fixed = false;
        run
    }

    #[test]
    fn a_level_that_moves_between_two_native_runs_is_not_a_difference_but_faults_are() {
        // VmRSS moves by 40 pages: compared as a level that is a difference,
        // here it is not compared at all (compare leaves status counters out).
        let a = native(run(1 << 20, 100, Verdict::Confirmed));
        let mut b = native(run((1 << 20) + 40 * 4096, 100, Verdict::Confirmed));
        let columns = |b: &crate::model::RunRecord| {
            compare(&[
                Column {
                    label: "a".into(),
                    run: Ok(&a),
                },
                Column {
                    label: "b".into(),
                    run: Ok(b),
                },
            ])
        };
        assert_eq!(columns(&b).differing_rows(), 0);
        b.experiments[0].variants[0].checkpoints[0].processes[0]
            .faults
            .minor = 300;
        let m = columns(&b);
        assert_eq!(m.differing_rows(), 1);
        let faults = m.rows.iter().find(|r| r.metric == MINOR_FAULTS).unwrap();
        assert!(faults.cells[1].differs);
        assert_eq!(faults.cells[1].value, Value::Number(300, Unit::Faults));
    }

    #[test]
    fn an_experiment_one_folder_did_not_run_is_not_run_not_a_difference() {
        let a = native(run(1 << 20, 100, Verdict::Confirmed));
        let mut b = a.clone();
        b.experiments[0].name = "another-experiment".into();
        let m = compare(&[
            Column {
                label: "a".into(),
                run: Ok(&a),
            },
            Column {
                label: "b".into(),
                run: Ok(&b),
            },
        ]);
        assert_eq!(m.differing_rows(), 0);
        let claims: Vec<&Row> = m.rows.iter().filter(|r| r.kind == RowKind::Claim).collect();
        assert_eq!(claims.len(), 2);
        assert_eq!(claims[0].cells[1].value, Value::NotRun);
        assert_eq!(claims[1].cells[0].value, Value::NotRun);
    }
}
