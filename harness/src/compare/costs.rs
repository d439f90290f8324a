//! Comparing the price lists (`fault_costs`) of two runs.
//!
//! Timings are not counters: the same kernel on the same machine gives a
//! different figure every run, and more so when other work shares the machine.
//! So a kind's cost is a *change* only when each run's median lies outside the
//! other run's min – max range (the spread both runs measured is the band), and
//! even then it is reported, never counted as a regression: the exit status of
//! `--baseline` stays decided by claims and counters. Timings from a different
//! kind of machine (software emulation against hardware, a guest against a host)
//! are not compared at all.

use serde::Serialize;

use crate::experiment::fault_costs::timing_caveat;
use crate::model::{ExperimentRecord, Spread};
use crate::report::table::Table;
use crate::system::Environment;

/// How a kind's median moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CostChange {
    /// At least one median lies inside the other run's range: noise.
    WithinSpread,
    /// Now costs more: each median lies outside the other run's range.
    Slower,
    /// Now costs less: each median lies outside the other run's range.
    Faster,
}

/// One kind priced in both runs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CostComparison {
    /// Experiment name.
    pub experiment: String,
    /// The kind (`anon-first-touch`, ...).
    pub kind: String,
    /// What the nanoseconds are per (`fault`, `fork`, `page`).
    pub unit: String,
    /// Nanoseconds per unit in the baseline.
    pub baseline: Spread,
    /// Nanoseconds per unit now.
    pub now: Spread,
    /// The outcome.
    pub change: CostChange,
}

/// Why two runs' timings cannot be compared, if they cannot.
pub fn incomparable(baseline: &Environment, now: &Environment) -> Option<String> {
    let (a, b) = (timing_caveat(baseline), timing_caveat(now));
    (a != b).then(|| {
        format!(
            "fault costs: timings from different kinds of machine are not compared (baseline: {}; now: {})",
            a.unwrap_or_else(|| "native".into()),
            b.unwrap_or_else(|| "native".into())
        )
    })
}

/// Every kind priced, in the same unit, in both records (in `now`'s order).
pub fn compare_costs(old: &ExperimentRecord, new: &ExperimentRecord) -> Vec<CostComparison> {
    new.fault_costs
        .iter()
        .filter_map(|n| {
            let o = old
                .fault_costs
                .iter()
                .find(|o| o.kind == n.kind && o.unit == n.unit)?;
            Some(CostComparison {
                experiment: new.name.clone(),
                kind: n.kind.clone(),
                unit: n.unit.clone(),
                baseline: o.nanos_per_unit,
                now: n.nanos_per_unit,
                change: change(&o.nanos_per_unit, &n.nanos_per_unit),
            })
        })
        .collect()
}

/// The band rule of the module docs.
pub fn change(baseline: &Spread, now: &Spread) -> CostChange {
    let outside = |median: f64, range: &Spread| median < range.min || median > range.max;
    if !(outside(now.median, baseline) && outside(baseline.median, now)) {
        CostChange::WithinSpread
    } else if now.median > baseline.median {
        CostChange::Slower
    } else {
        CostChange::Faster
    }
}

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

    fn s(min: f64, median: f64, max: f64) -> Spread {
        Spread { min, median, max }
    }

    #[test]
    fn medians_inside_each_others_range_are_noise() {
        assert_eq!(
            change(&s(90.0, 100.0, 130.0), &s(95.0, 120.0, 140.0)),
            CostChange::WithinSpread
        );
        // One median outside, the other inside: still noise.
        assert_eq!(
            change(&s(90.0, 100.0, 200.0), &s(150.0, 160.0, 170.0)),
            CostChange::WithinSpread
        );
    }

    #[test]
    fn medians_outside_both_ranges_are_a_change_with_a_direction() {
        assert_eq!(
            change(&s(90.0, 100.0, 110.0), &s(150.0, 160.0, 170.0)),
            CostChange::Slower
        );
        assert_eq!(
            change(&s(150.0, 160.0, 170.0), &s(90.0, 100.0, 110.0)),
            CostChange::Faster
        );
    }

    #[test]
    fn an_emulated_guest_is_not_compared_with_the_host() {
        let host = Environment::detect(&std::env::temp_dir());
        let mut guest = host.clone();
        guest.guest = Some(crate::system::GuestInfo {
            kernel_spec: "debian:6.1".into(),
            accelerator: "tcg".into(),
            memory_bytes: 512 << 20,
            thp_cmdline: "madvise".into(),
            kernel_cmdline: String::new(),
        });
        let why = incomparable(&host, &guest).expect("not comparable");
        assert!(why.contains("TCG"), "{why}");
        assert_eq!(incomparable(&host, &host), None);
    }

    #[test]
    fn the_matrix_marks_an_emulated_column_and_shows_its_cells() {
        let host_env = Environment::detect(&std::env::temp_dir());
        let mut guest_env = host_env.clone();
        guest_env.virtual_machine = true;
        guest_env.guest = Some(crate::system::GuestInfo {
            kernel_spec: "debian:6.1".into(),
            accelerator: "tcg".into(),
            memory_bytes: 512 << 20,
            thp_cmdline: "madvise".into(),
            kernel_cmdline: String::new(),
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
