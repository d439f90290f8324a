//! static-dynamic: "Notes on VM" (Kristian Köhntopp, seed 000) argues that a
//! statically linked, preforked server costs little more memory than a dynamic
//! one: after fork the children share the text and copy only the writable pages
//! they touch, so the static build's overhead is about one extra copy of the
//! library code it uses. Here a small server-like C program, linked both ways,
//! runs as N instances, forked from one parent or exec'd one by one.
//!
//! `claims` states and judges the claims; this module plans the run and
//! quotes the answers' figures.

mod claims;

use std::collections::BTreeMap;

use experiments::catalog::static_dynamic::{checkpoint, role, variant, Args, INFO, VARIANTS};
use experiments::ExperimentInfo;
use serde_json::json;

use super::kit::AnswerFigure;
use super::programs;
use super::{human_bytes, Claim, Experiment, Lesson, Plan, PlanContext, PlannedVariant};
use crate::model::{ClaimRecord, ExperimentRecord};
use crate::system::Environment;

/// The experiment.
pub struct StaticDynamic;

/// The registry's handle on it.
pub static EXPERIMENT: StaticDynamic = StaticDynamic;

/// Instance counts, one checkpoint each.
const FULL_COUNTS: [usize; 3] = [1, 8, 32];
const QUICK_COUNTS: [usize; 3] = [1, 2, 4];

impl Experiment for StaticDynamic {
    fn info(&self) -> &'static ExperimentInfo {
        &INFO
    }

    fn plan(&self, ctx: &PlanContext<'_>) -> Result<Plan, String> {
        let counts = if ctx.quick { QUICK_COUNTS } else { FULL_COUNTS };
        let mut params = BTreeMap::new();
        params.insert("instance_counts".into(), json!(counts));
        programs::aslr_param(ctx, &mut params);
        let variants = VARIANTS
            .map(|(name, linking, mode)| PlannedVariant {
                name: name.into(),
                args: experiments::args::to_args(&Args {
                    linking,
                    mode,
                    counts: counts.to_vec(),
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
        let m = [variant::STATIC_PREFORK, variant::DYNAMIC_PREFORK]
            .iter()
            .filter_map(|v| {
                let (n, rss, pss) = f.sums_at_end(v)?;
                Some(format!(
                    "{v}, {n} instances: Σ Rss {}, Σ Pss {}",
                    human_bytes(rss),
                    human_bytes(pss)
                ))
            })
            .collect::<Vec<_>>();
        (!m.is_empty()).then(|| m.join("; "))
    }),
    Some(|f| {
        let (label, child) = (checkpoint::n(8), role::instance(1));
        let m = [variant::STATIC_PREFORK, variant::STATIC_EXEC]
            .iter()
            .filter_map(|v| {
                let p = f.process(v, &label, &child)?;
                Some(format!("{v} {child}: {} minor faults", p.faults.minor))
            })
            .collect::<Vec<_>>();
        (!m.is_empty()).then(|| m.join("; "))
    }),
    Some(|f| {
        let first = role::instance(0);
        let p = f.process(variant::DYNAMIC_EXEC, &checkpoint::n(1), &first)?;
        let dirty: u64 = p
            .mappings
            .iter()
            .filter(|m| m.name.contains("libc"))
            .map(|m| m.figures.private_dirty_bytes)
            .sum();
        Some(format!(
            "dynamic {first}: Private_Dirty in libc's mappings {}",
            human_bytes(dirty)
        ))
    }),
    Some(|f| {
        let first = role::instance(0);
        let p = f.process(variant::STATIC_EXEC, &checkpoint::n(1), &first)?;
        Some(format!(
            "VmPTE of one instance {}",
            human_bytes(p.totals.pte_bytes)
        ))
    }),
];

#[cfg(test)]
mod tests {
    use super::*;
    use experiments::catalog::static_dynamic::MAX_INSTANCES;

    #[test]
    fn quick_runs_use_fewer_instances_with_the_same_claims() {
        assert!(QUICK_COUNTS.iter().max() < FULL_COUNTS.iter().max());
        assert_eq!(QUICK_COUNTS[0], 1);
        assert!(
            FULL_COUNTS.iter().all(|&n| n <= MAX_INSTANCES),
            "a checkpoint line holds {MAX_INSTANCES} roles"
        );
    }
}
