//! lazy-alloc: "Hey dude, where's my memory?" (Frits Hoogland, seed 002) notes that
//! an anonymous mmap is visible in the map at once but backed by memory only when
//! used; "Some things I've learned about memory" (Evan Martin, seed 003) separates
//! address space from memory and says a default kernel overcommits: a process may
//! ask for more than the machine has. This experiment maps 8 GiB, reads and writes
//! parts of it, and asks the kernel for more than RAM + swap.
//!
//! `plan` sizes the run, `claims` states and judges the claims, `summary`
//! makes the tables, and this module quotes the answers' figures.

mod claims;
mod plan;
mod summary;

use experiments::catalog::lazy_alloc::{checkpoint, role, variant, INFO};
use experiments::ExperimentInfo;

use super::kit::{self, AnswerFigure, Facts};
use super::{human_bytes, signed_bytes, Claim, Experiment, Lesson, Plan, PlanContext};
use crate::model::{ClaimRecord, ExperimentRecord, SummaryTable};
use crate::system::Environment;

/// The experiment.
pub struct LazyAlloc;

/// The registry's handle on it.
pub static EXPERIMENT: LazyAlloc = LazyAlloc;

impl Experiment for LazyAlloc {
    fn info(&self) -> &'static ExperimentInfo {
        &INFO
    }

    fn plan(&self, ctx: &PlanContext<'_>) -> Result<Plan, String> {
        plan::plan(ctx)
    }

    fn explanation(&self) -> &'static Lesson {
        crate::explanation!()
    }

    fn claims(&self) -> &'static [Claim] {
        &claims::CLAIMS
    }

    fn declared(&self) -> &'static [super::declared::Declared] {
        &claims::DECLARED
    }

    fn judge(&self, record: &ExperimentRecord, env: &Environment) -> Vec<ClaimRecord> {
        kit::judge_each_variant(record, env, claims::cases_of)
    }

    fn answer_figures(&self) -> &'static [Option<AnswerFigure>] {
        &ANSWER_FIGURES
    }

    fn summary(&self, record: &ExperimentRecord, _env: &Environment) -> Vec<SummaryTable> {
        summary::tables(record)
    }

    fn metric_disturbances(
        &self,
        variant: &crate::model::VariantRecord,
    ) -> Vec<(&'static str, u64)> {
        match claims::thp_fallback(variant) {
            Some(n) => vec![("thp_fault_fallback", n)],
            None => Vec::new(),
        }
    }
}

/// `after - before`, signed, as a size.
fn delta(after: u64, before: u64) -> String {
    signed_bytes(after as i64 - before as i64)
}

/// The main process of `variant` after the mapping and after the read.
fn around_the_read<'a>(
    f: &'a Facts<'_>,
    variant: &str,
) -> Option<(
    &'a crate::model::ProcessRecord,
    &'a crate::model::ProcessRecord,
)> {
    Some((
        f.process(variant, checkpoint::AFTER_MMAP, role::MAIN)?,
        f.process(variant, checkpoint::AFTER_READ_FIRST_CHUNK, role::MAIN)?,
    ))
}

/// The figures the answers quote, one per question of explanation.md.
static ANSWER_FIGURES: [Option<AnswerFigure>; 5] = [
    Some(|f| {
        let (b, a) = around_the_read(f, variant::THP_OFF)?;
        Some(format!(
            "VmRSS {} while reading, VmPTE {}",
            delta(a.totals.rss_bytes, b.totals.rss_bytes),
            delta(a.totals.pte_bytes, b.totals.pte_bytes)
        ))
    }),
    Some(|f| {
        let m = [variant::THP_OFF, variant::THP_ON]
            .iter()
            .filter_map(|v| {
                let (b, a) = around_the_read(f, v)?;
                Some(format!(
                    "{v}: VmPTE {}",
                    delta(a.totals.pte_bytes, b.totals.pte_bytes)
                ))
            })
            .collect::<Vec<_>>();
        (!m.is_empty()).then(|| m.join("; "))
    }),
    None,
    None,
    Some(|f| {
        f.process(variant::THP_OFF, checkpoint::AFTER_MMAP, role::MAIN)
            .map(|p| {
                format!(
                    "after mmap: VmSize {}, VmRSS {}",
                    human_bytes(p.totals.vm_size_bytes),
                    human_bytes(p.totals.rss_bytes)
                )
            })
    }),
];
