//! The figures fault-costs' answers quote, from the latest run's price list.

use super::super::kit::{AnswerFigure, Facts};
use super::prices::kind;
use crate::model::FaultCost;

/// The price list entry of `name`, if the latest run priced it.
fn entry<'a>(f: &'a Facts<'_>, name: &str) -> Option<&'a FaultCost> {
    f.record?.fault_costs.iter().find(|c| c.kind == name)
}

/// The median wall nanoseconds per unit of a kind of the price list.
fn cost(f: &Facts<'_>, name: &str) -> Option<f64> {
    entry(f, name).map(|c| c.nanos_per_unit.median)
}

/// The median wall nanoseconds per KiB of a kind of the price list.
fn cost_per_kib(f: &Facts<'_>, name: &str) -> Option<f64> {
    entry(f, name).map(|c| c.nanos_per_kib.median)
}

/// One per question of explanation.md, in order.
pub(super) static FIGURES: [Option<AnswerFigure>; 6] = [
    Some(|f| {
        Some(format!(
            "a THP fault {:.0} ns against {:.0} ns for a 4 KiB fault; per KiB {:.1} ns against {:.1} ns",
            cost(f, kind::THP_FIRST_TOUCH)?,
            cost(f, kind::ANON_FIRST_TOUCH)?,
            cost_per_kib(f, kind::THP_FIRST_TOUCH)?,
            cost_per_kib(f, kind::ANON_FIRST_TOUCH)?
        ))
    }),
    Some(|f| {
        let c = entry(f, kind::FILE_MINOR_FAULT_AROUND)?;
        Some(format!(
            "{:.0} ns per fault, each fault mapping {:.0} pages on average",
            c.nanos_per_unit.median,
            c.bytes as f64 / f.page_size.max(1) as f64 / c.units_per_repetition.max(1.0)
        ))
    }),
    Some(|f| {
        let major = cost(f, kind::FILE_MAJOR_NO_READ_AHEAD)?;
        let minor = cost(f, kind::ANON_FIRST_TOUCH)?;
        Some(format!(
            "a major fault without read-ahead {major:.0} ns, a first-touch minor fault {minor:.0} ns: about {:.0} minor faults",
            major / minor.max(1.0)
        ))
    }),
    Some(|f| {
        Some(format!(
            "fork {:.0} µs, a copy-on-write fault {:.0} ns against a first touch {:.0} ns",
            cost(f, kind::FORK)? / 1000.0,
            cost(f, kind::COW_AFTER_FORK)?,
            cost(f, kind::ANON_FIRST_TOUCH)?
        ))
    }),
    Some(|f| {
        Some(format!(
            "reading an untouched page {:.0} ns, writing one {:.0} ns",
            cost(f, kind::ZERO_PAGE_READ)?,
            cost(f, kind::ANON_FIRST_TOUCH)?
        ))
    }),
    Some(|f| {
        Some(format!(
            "a write fault through MAP_SHARED {:.0} ns, through MAP_PRIVATE (a copy) {:.0} ns",
            cost(f, kind::FILE_SHARED_WRITE_FAULT)?,
            cost(f, kind::FILE_PRIVATE_COW_FAULT)?
        ))
    }),
];
