//! fork-cow: "Notes on VM" (Kristian Köhntopp, seed 000), "Hey dude, where's my
//! memory?" (Frits Hoogland, seed 002) and "Some things I've learned about
//! memory" (Evan Martin, seed 003) all say that fork copies nothing: the child
//! maps the parent's pages, a page is copied only when one side writes it, PSS
//! splits the shared pages between the sharers, and summing RSS over processes
//! counts shared pages more than once.
//!
//! `plan` sizes the run, `claims` states and judges the claims,
//! `summary` makes the tables and `answers` quotes the answers' figures.

mod answers;
mod claims;
mod plan;
mod summary;

use experiments::catalog::fork_cow::INFO;
use experiments::ExperimentInfo;

use super::kit::{self, AnswerFigure, Observed};
use super::{Claim, Experiment, Lesson, Plan, PlanContext};
use crate::model::{ClaimRecord, ExperimentRecord, SummaryTable};
use crate::system::Environment;

/// The experiment.
pub struct ForkCow;

/// The registry's handle on it.
pub static EXPERIMENT: ForkCow = ForkCow;

impl Experiment for ForkCow {
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

    /// Every variant's cases; `thp-on` without a huge page has nothing to show,
    /// so its claims are inconclusive with the reason.
    fn judge(&self, record: &ExperimentRecord, env: &Environment) -> Vec<ClaimRecord> {
        record
            .variants
            .iter()
            .flat_map(|variant| {
                let cases = claims::cases_of(&variant.name);
                let view = Observed { variant, env };
                let missing = kit::not_run_reason(variant)
                    .is_none()
                    .then(|| claims::thp_missing(&view))
                    .flatten();
                match missing {
                    Some(why) => cases
                        .iter()
                        .map(|(c, _)| c.unmeasured(view.name(), why.clone()))
                        .collect(),
                    None => kit::judge_variant(variant, env, cases),
                }
            })
            .collect()
    }

    fn answer_figures(&self) -> &'static [Option<AnswerFigure>] {
        &answers::FIGURES
    }

    fn summary(&self, record: &ExperimentRecord, _env: &Environment) -> Vec<SummaryTable> {
        summary::tables(record)
    }
}
