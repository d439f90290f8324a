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
        let host = Environment::fixture();
        let mut guest = host.clone();
        guest.guest = Some(crate::system::GuestInfo {
            kernel_spec: "debian:6.1".into(),
            accelerator: "tcg".into(),
            memory_bytes: 512 << 20,
            thp_cmdline: "madvise".into(),
            kernel_cmdline: String::new(),
            ..Default::default()
        });
        let why = incomparable(&host, &guest).expect("not comparable");
        assert!(why.contains("TCG"), "{why}");
        assert_eq!(incomparable(&host, &host), None);
    }
}
