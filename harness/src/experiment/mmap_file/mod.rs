//! mmap-file: "Playing with Virtual Memory" (Kristina Chodorow, seed 001) maps a
//! 1 GB file of random bytes and watches pmap: the address space jumps by the
//! file's size while the resident set stays tiny, then grows to the file's size
//! as the program reads it all; a footnote explains minor and major faults and
//! the kernel reading ahead of the program.
//!
//! `plan` sizes the variants, `claims` states and judges the claims,
//! `summary` makes the table and `answers` quotes the answers' figures.

mod answers;
mod claims;
mod plan;
mod summary;

use experiments::catalog::mmap_file::{note, INFO};
use experiments::ExperimentInfo;

use super::kit::{self, AnswerFigure};
use super::{Claim, Experiment, Lesson, Plan, PlanContext};
use crate::model::{ClaimRecord, ExperimentRecord, SummaryTable};
use crate::system::Environment;

/// The experiment.
pub struct MmapFile;

/// The registry's handle on it.
pub static EXPERIMENT: MmapFile = MmapFile;

impl Experiment for MmapFile {
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
        kit::judge_each_variant(record, env, claims::cases)
    }

    fn answer_figures(&self) -> &'static [Option<AnswerFigure>] {
        &answers::FIGURES
    }

    fn summary(&self, record: &ExperimentRecord, env: &Environment) -> Vec<SummaryTable> {
        summary::tables(record, env)
    }

    /// Pages of a warm file read back into the page cache come back in
    /// read(2)'s folios rather than the writes', so reading the mapping then
    /// takes another number of faults (69 against 99 at the quick size).
    fn metric_conditions(&self) -> &'static [&'static str] {
        const CONDITIONS: &[&str] = &[note::PAGES_REREAD_TO_WARM.key()];
        CONDITIONS
    }

    /// The cold variants reuse the file the warm one wrote (`plan` says which).
    fn variants_share_a_folder(&self) -> bool {
        true
    }
}
