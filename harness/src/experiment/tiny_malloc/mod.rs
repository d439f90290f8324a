//! tiny-malloc: "ten thousand small processes" (D. J. Bernstein and Jeff Roberson,
//! freebsd-performance, 2003). Bernstein's static test program made five small
//! mallocs and waited; FreeBSD 4.8 showed 44 KB RSS and 168 KB VSZ and he asked
//! where the pages went. Roberson answered: page tables, the stack reservation,
//! text separated from data and bss. Here the same program runs in four builds,
//! and each mapping is accounted for in pages.
//!
//! `claims` states the claims and binds each to its judge in `judges`;
//! this module plans the run and quotes the answers' figures.

mod claims;
mod judges;

use std::collections::BTreeMap;

use experiments::catalog::tiny_malloc::{checkpoint, role, variant, Args, Variant, INFO};
use experiments::ExperimentInfo;
use serde_json::json;

use super::kit::{AnswerFigure, Facts};
use super::programs;
use super::{
    human_bytes, signed_bytes, Claim, Experiment, Lesson, Plan, PlanContext, PlannedVariant,
};
use crate::model::{ClaimRecord, ExperimentRecord};
use crate::system::Environment;

/// The experiment.
pub struct TinyMalloc;

/// The registry's handle on it.
pub static EXPERIMENT: TinyMalloc = TinyMalloc;

impl Experiment for TinyMalloc {
    fn info(&self) -> &'static ExperimentInfo {
        &INFO
    }

    fn plan(&self, ctx: &PlanContext<'_>) -> Result<Plan, String> {
        let mut params = BTreeMap::new();
        params.insert("malloc_bytes".into(), json!(judges::MALLOCS));
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

/// The program of build `v` at checkpoint `label` of the latest run.
fn program_at<'a>(
    f: &'a Facts<'_>,
    v: &str,
    label: &str,
) -> Option<&'a crate::model::ProcessRecord> {
    f.process(v, label, role::PROGRAM)
}

/// The figures the answers quote, one per question of explanation.md.
static ANSWER_FIGURES: [Option<AnswerFigure>; 5] = [
    Some(|f| {
        let p = program_at(f, variant::MINIMAL, checkpoint::AFTER_MALLOCS)?;
        Some(format!(
            "{} mappings, VmRSS {}",
            p.mappings.len(),
            f.bytes_and_pages(p.totals.rss_bytes)
        ))
    }),
    Some(|f| {
        let p = program_at(f, variant::STATIC, checkpoint::AFTER_MALLOCS)?;
        Some(format!(
            "static build VmRSS {}",
            f.bytes_and_pages(p.totals.rss_bytes)
        ))
    }),
    Some(|f| {
        let b = program_at(f, variant::DYNAMIC, checkpoint::BEFORE_MALLOCS)?;
        let a = program_at(f, variant::DYNAMIC, checkpoint::AFTER_MALLOCS)?;
        let grown = a.totals.rss_bytes as i64 - b.totals.rss_bytes as i64;
        Some(format!(
            "dynamic build: VmRSS {}, {} minor faults",
            signed_bytes(grown),
            a.faults.minor
        ))
    }),
    Some(|f| {
        let p = program_at(f, variant::MINIMAL, checkpoint::AFTER_MALLOCS)?;
        let stack = p.mappings.iter().find(|m| m.name == "[stack]")?;
        Some(format!(
            "VmStk {}, [stack] Rss {}",
            human_bytes(p.totals.stack_bytes),
            human_bytes(stack.figures.rss_bytes)
        ))
    }),
    Some(|f| {
        let p = program_at(f, variant::MINIMAL, checkpoint::AFTER_MALLOCS)?;
        Some(format!("VmPTE {}", human_bytes(p.totals.pte_bytes)))
    }),
];
