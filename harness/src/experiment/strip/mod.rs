//! strip: "Notes on VM" (Kristian Köhntopp, seed 000) answers the advice that
//! stripping a binary shrinks its memory footprint: the file shrinks, but `size`
//! and the memory map show the same segments, because symbols and debug
//! information are never mapped. Here one object file is linked with its full
//! debug information and linked stripped, and both runs are measured.
//!
//! `claims` states and judges the claims; this module plans the run and
//! quotes the answers' figures.

mod claims;

use std::collections::BTreeMap;

use experiments::catalog::strip::{checkpoint, role, variant, Args, Variant, INFO};
use experiments::ExperimentInfo;
use serde_json::json;

use super::kit::{AnswerFigure, Facts};
use super::programs;
use super::{human_bytes, Claim, Experiment, Lesson, Plan, PlanContext, PlannedVariant};
use crate::model::{ClaimRecord, ExperimentRecord};
use crate::system::Environment;

/// The experiment.
pub struct Strip;

/// The registry's handle on it.
pub static EXPERIMENT: Strip = Strip;

impl Experiment for Strip {
    fn info(&self) -> &'static ExperimentInfo {
        &INFO
    }

    fn plan(&self, ctx: &PlanContext<'_>) -> Result<Plan, String> {
        let mut params = BTreeMap::new();
        params.insert("debug_flags".into(), json!("-O2 -g3"));
        params.insert(
            "stripped_with".into(),
            json!("link with -s (strip --strip-all)"),
        );
        programs::aslr_param(ctx, &mut params);
        let variants = Variant::ALL
            .map(|v| PlannedVariant {
                name: v.name().into(),
                args: experiments::args::to_args(&Args {
                    variant: v,
                    launch: programs::launch_args(ctx),
                }),
            })
            .into();
        Ok(Plan { params, variants })
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
        claims::judge(record, env)
    }

    fn answer_figures(&self) -> &'static [Option<AnswerFigure>] {
        &ANSWER_FIGURES
    }
}

/// The figures the answers quote, one per question of explanation.md.
static ANSWER_FIGURES: [Option<AnswerFigure>; 4] = [
    Some(|f| {
        let d = f.variant(variant::DEBUG)?.binary.as_ref()?;
        let s = f.variant(variant::STRIPPED)?.binary.as_ref()?;
        Some(format!(
            "file {} with debug information, {} stripped; PT_LOAD segments {} and {}",
            human_bytes(d.file_bytes),
            human_bytes(s.file_bytes),
            d.load_segments.len(),
            s.load_segments.len()
        ))
    }),
    // The question is about the program's own mappings: their Rss, not the
    // whole process's (libc and the stack are the same in both builds).
    Some(|f| {
        let m = Variant::ALL
            .iter()
            .filter_map(|v| {
                let p = f.process(v.name(), checkpoint::AFTER_WORK, role::PROGRAM)?;
                let program = programs::program_path(f.variant(v.name())?)?;
                let own = programs::program_figures(p, program);
                Some(format!(
                    "{}: the program's own mappings Rss {} of Size {}",
                    v.name(),
                    human_bytes(own.rss_bytes),
                    human_bytes(own.size_bytes)
                ))
            })
            .collect::<Vec<_>>();
        (!m.is_empty()).then(|| m.join("; "))
    }),
    None,
    Some(one_page_measured),
];

/// What the latest run measured for the one-page-at-a-time claim, per variant.
fn one_page_measured(f: &Facts<'_>) -> Option<String> {
    let m = f
        .record?
        .claims
        .iter()
        .filter(|c| c.id == claims::ONE_PAGE_AT_A_TIME.id && !c.measured.is_empty())
        .map(|c| format!("{}: {}", c.variant.as_deref().unwrap_or("all"), c.measured))
        .collect::<Vec<_>>();
    (!m.is_empty()).then(|| m.join("; "))
}
