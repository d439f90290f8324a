//! anatomy: the seeds read a process's own map. "Playing with Virtual Memory"
//! (Kristina Chodorow, seed 001) finds a stack variable in `[stack]` and a malloc'd
//! block in the heap; "Hey dude, where's my memory?" (Frits Hoogland, seed 002)
//! explains the executable's two lines with `readelf -l`: the `R E` load segment
//! becomes `r-xp`, the `RW` one `rw-p`, and names `[vdso]` and `[vsyscall]`;
//! "Some things I've learned about memory" (Evan Martin, seed 003) explains the
//! `---p` regions of shared libraries. Here the process reports its own
//! addresses, and the harness places each one and matches every PT_LOAD segment
//! of the executable and of libc to the mapping it became.
//!
//! `map` reads the process's map, `claims` states and judges the claims,
//! `summary` makes the tables, and this module plans the run and quotes the
//! answers' figures.

mod claims;
mod map;
mod summary;

use std::collections::BTreeMap;

use experiments::catalog::anatomy::{variant, Args, INFO};
use experiments::ExperimentInfo;

use super::kit::{self, AnswerFigure, Facts};
use super::{human_bytes, Claim, Experiment, Lesson, Plan, PlanContext, PlannedVariant};
use crate::model::{ClaimRecord, ExperimentRecord, MappingRecord, SummaryTable};
use crate::system::Environment;

/// The experiment.
pub struct Anatomy;

/// The registry's handle on it.
pub static EXPERIMENT: Anatomy = Anatomy;

impl Experiment for Anatomy {
    fn info(&self) -> &'static ExperimentInfo {
        &INFO
    }

    fn plan(&self, _ctx: &PlanContext<'_>) -> Result<Plan, String> {
        Ok(Plan {
            params: BTreeMap::new(),
            variants: vec![PlannedVariant {
                name: variant::DEFAULT.into(),
                args: experiments::args::to_args(&Args {}),
            }],
        })
    }

    fn explanation(&self) -> &'static Lesson {
        crate::explanation!()
    }

    fn claims(&self) -> &'static [Claim] {
        &claims::CLAIMS
    }

    fn judge(&self, record: &ExperimentRecord, env: &Environment) -> Vec<ClaimRecord> {
        kit::judge_single_variant(record, env, &claims::CASES)
    }

    fn answer_figures(&self) -> &'static [Option<AnswerFigure>] {
        &ANSWER_FIGURES
    }

    fn summary(&self, record: &ExperimentRecord, env: &Environment) -> Vec<SummaryTable> {
        summary::tables(record, env)
    }
}

/// The mappings of the first process at the last checkpoint of the latest run.
fn last_mappings<'a>(f: &'a Facts<'_>) -> Option<&'a [MappingRecord]> {
    let p = f.first_variant()?.checkpoints.last()?.processes.first()?;
    Some(&p.mappings)
}

/// The figures the answers quote, one per question of explanation.md.
static ANSWER_FIGURES: [Option<AnswerFigure>; 5] = [
    Some(|f| {
        f.first_variant()
            .and_then(|v| v.binary.as_ref())
            .map(|b| format!("{} PT_LOAD segments in the file", b.load_segments.len()))
    }),
    None,
    None,
    Some(|f| {
        // The loader's holes are named after their file; guard pages and the
        // region protected after use are anonymous: the answer contrasts them.
        let (holes, others): (Vec<_>, Vec<_>) = last_mappings(f)?
            .iter()
            .filter(|m| m.perms.starts_with("---"))
            .partition(|m| m.name.starts_with('/'));
        let rss = |ms: &[&MappingRecord]| human_bytes(ms.iter().map(|m| m.figures.rss_bytes).sum());
        Some(format!(
            "{} ---p holes between a library's segments, Rss {}; {} anonymous ---p (guard pages, the \
             region protected after use), Rss {}",
            holes.len(),
            rss(&holes),
            others.len(),
            rss(&others)
        ))
    }),
    Some(|f| {
        let names: Vec<&str> = last_mappings(f)?
            .iter()
            .map(|m| m.name.as_str())
            .filter(|n| n.starts_with('['))
            .collect();
        Some(names.join(", "))
    }),
];
