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
//!
//! `plan` sizes the run, `prices` makes the price list (which the run's
//! record and the comparison of runs use, through the re-exports below),
//! `summary` the table, and `answers` quotes the answers' figures.

mod answers;
mod plan;
mod prices;
mod summary;

pub use prices::{kind, kinds, price_list, timing_caveat};

use experiments::catalog::fault_costs::INFO;
use experiments::ExperimentInfo;

use super::kit::AnswerFigure;
use super::{ClaimRecord, Experiment, Lesson, Plan, PlanContext};
use crate::model::{ExperimentRecord, SummaryTable};
use crate::system::Environment;

/// The experiment.
pub struct FaultCosts;

/// The registry's handle on it.
pub static EXPERIMENT: FaultCosts = FaultCosts;

impl Experiment for FaultCosts {
    fn info(&self) -> &'static ExperimentInfo {
        &INFO
    }

    fn plan(&self, ctx: &PlanContext<'_>) -> Result<Plan, String> {
        plan::plan(ctx)
    }

    fn judge(&self, _record: &ExperimentRecord, _env: &Environment) -> Vec<ClaimRecord> {
        // Timings are never judged: see the module docs.
        Vec::new()
    }

    fn explanation(&self) -> &'static Lesson {
        crate::explanation!()
    }

    fn answer_figures(&self) -> &'static [Option<AnswerFigure>] {
        &answers::FIGURES
    }

    fn summary(&self, record: &ExperimentRecord, env: &Environment) -> Vec<SummaryTable> {
        summary::tables(record, env)
    }
}
