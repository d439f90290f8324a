//! The fault-cost tables: a comparison's price lists side by side
//! ([`section`]) and the matrix's one column per kernel ([`across_kernels`]).
//! What counts as a change is [`crate::compare::costs`]'s; this only lays it out.

use super::table::Table;
use crate::compare::costs::{CostChange, CostComparison};
use crate::experiment::fault_costs::timing_caveat;
use crate::model::Spread;

/// The table of kinds compared, if any were.
pub fn section(costs: &[CostComparison]) -> Option<(String, Table)> {
    if costs.is_empty() {
        return None;
    }
    let mut t = Table {
        headers: [
            "experiment",
            "kind",
            "unit",
            "baseline ns (min – max)",
            "now ns (min – max)",
            "median change",
            "",
        ]
        .map(String::from)
        .to_vec(),
        numeric: vec![false, false, false, true, true, true, false],
        rows: Vec::new(),
    };
    let show = |s: &Spread| format!("{:.0} ({:.0} – {:.0})", s.median, s.min, s.max);
    for c in costs {
        let percent = if c.baseline.median > 0.0 {
            format!(
                "{:+.1}%",
                (c.now.median - c.baseline.median) * 100.0 / c.baseline.median
            )
        } else {
            "-".into()
        };
        t.rows.push(vec![
            c.experiment.clone(),
            c.kind.clone(),
            c.unit.clone(),
            show(&c.baseline),
            show(&c.now),
            percent,
            match c.change {
                CostChange::WithinSpread => "within spread",
                CostChange::Slower => "slower (reported, not a regression)",
                CostChange::Faster => "faster (reported, not a regression)",
            }
            .to_string(),
        ]);
    }
    Some((
        "Fault costs (timings: a change is reported, never a regression)".to_string(),
        t,
    ))
}

/// The price list side by side across kernels (the matrix): median nanoseconds
/// per unit, one column per kernel with results. A column whose timings come from
/// a different kind of machine than the first column's is marked as not
/// comparable with it; the cells are shown, never compared.
pub fn across_kernels(columns: &[(&str, &crate::model::RunRecord)]) -> Option<Table> {
    let priced = |run: &crate::model::RunRecord| {
        run.experiments
            .iter()
            .flat_map(|e| e.fault_costs.iter())
            .cloned()
            .collect::<Vec<_>>()
    };
    let lists: Vec<_> = columns.iter().map(|(_, run)| priced(run)).collect();
    if lists.iter().all(Vec::is_empty) {
        return None;
    }
    let reference = columns.first().map(|(_, r)| timing_caveat(&r.environment));
    let mut headers = vec![
        "fault cost (median ns per unit)".to_string(),
        "unit".to_string(),
    ];
    for (label, run) in columns {
        let caveat = timing_caveat(&run.environment);
        headers.push(match caveat {
            Some(c) if Some(&Some(c.clone())) != reference.as_ref() => {
                format!("{label} ({c})")
            }
            _ => label.to_string(),
        });
    }
    let mut kinds: Vec<(String, String)> = Vec::new();
    for c in lists.iter().flatten() {
        if !kinds.iter().any(|(k, _)| *k == c.kind) {
            kinds.push((c.kind.clone(), c.unit.clone()));
        }
    }
    let rows = kinds
        .into_iter()
        .map(|(kind, unit)| {
            let mut row = vec![kind.clone(), unit];
            row.extend(lists.iter().map(|list| {
                list.iter()
                    .find(|c| c.kind == kind)
                    .map_or("-".to_string(), |c| {
                        format!("{:.0}", c.nanos_per_unit.median)
                    })
            }));
            row
        })
        .collect();
    let mut numeric = vec![false, false];
    numeric.extend(columns.iter().map(|_| true));
    Some(Table {
        headers,
        numeric,
        rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::system::Environment;

    fn s(min: f64, median: f64, max: f64) -> Spread {
        Spread { min, median, max }
    }

    #[test]
    fn the_matrix_marks_an_emulated_column_and_shows_its_cells() {
        let host_env = Environment::fixture();
        let mut guest_env = host_env.clone();
        guest_env.virtual_machine = true;
        guest_env.guest = Some(crate::system::GuestInfo {
            kernel_spec: "debian:6.1".into(),
            accelerator: "tcg".into(),
            memory_bytes: 512 << 20,
            thp_cmdline: "madvise".into(),
            kernel_cmdline: String::new(),
            ..Default::default()
        });
        let run = |env: Environment, median: f64| -> crate::model::RunRecord {
            let mut run: crate::model::RunRecord = serde_json::from_str(include_str!(
                "../../tests/fixtures/runs/mmap-file-quick.json"
            ))
            .expect("the fixture run");
            run.environment = env;
            run.experiments[0].fault_costs = vec![crate::model::FaultCost {
                kind: "anon-first-touch".into(),
                phase: "after-anon-first-touch".into(),
                repetitions: 3,
                faults: 768,
                major_faults: 0,
                bytes: 1 << 20,
                unit: "fault".into(),
                units_per_repetition: 256.0,
                nanos_per_unit: s(median - 1.0, median, median + 1.0),
                cpu_nanos_per_unit: None,
                nanos_per_kib: s(1.0, 2.0, 3.0),
                compaction: None,
            }];
            run
        };
        let (host, guest) = (run(host_env, 800.0), run(guest_env, 9000.0));
        let t = across_kernels(&[("host", &host), ("debian:6.1", &guest)]).expect("a table");
        assert_eq!(t.headers[2], "host");
        assert!(
            t.headers[3].starts_with("debian:6.1 (software emulation"),
            "{:?}",
            t.headers
        );
        assert_eq!(
            t.rows,
            vec![vec!["anon-first-touch", "fault", "800", "9000"]]
        );
    }
}
