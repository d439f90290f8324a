//! shared-file: "Some things I've learned about memory" (Evan Martin, seed 003)
//! presents PSS as the fair share of memory several processes map (each page's
//! size divided by the number of processes mapping it), points out that its
//! sum does not double count as the sum of RSS does, and that it has a surprise:
//! when one sharer exits, the others' PSS rises although no memory was freed.
//! Chrome maps one resource file into all its processes; here N processes map
//! one file.
//!
//! `claims` states and judges the claims, `summary` makes the table, and
//! this module plans the run and quotes the answers' figures.

mod claims;
mod summary;

use std::collections::BTreeMap;

use experiments::catalog::shared_file::{checkpoint, region, variant, Args, INFO};
use experiments::ExperimentInfo;
use serde_json::json;

use super::kit::{self, AnswerFigure, Facts};
use super::{human_bytes, Claim, Experiment, Lesson, Plan, PlanContext, PlannedVariant};
use crate::model::{ClaimRecord, ExperimentRecord, MemoryFigures, SummaryTable};
use crate::system::Environment;

/// The experiment.
pub struct SharedFile;

/// The registry's handle on it.
pub static EXPERIMENT: SharedFile = SharedFile;

const FULL_FILE_BYTES: u64 = 100 << 20;
const QUICK_FILE_BYTES: u64 = 16 << 20;
const DEFAULT_SHARERS: u64 = 4;

impl Experiment for SharedFile {
    fn info(&self) -> &'static ExperimentInfo {
        &INFO
    }

    fn plan(&self, ctx: &PlanContext<'_>) -> Result<Plan, String> {
        let page = ctx.env.page_size.max(1);
        let default = if ctx.quick {
            QUICK_FILE_BYTES
        } else {
            FULL_FILE_BYTES
        };
        let file_bytes = ctx.size_bytes.unwrap_or(default).div_ceil(page) * page;
        let sharers = ctx.count.unwrap_or(DEFAULT_SHARERS);
        let most = experiments::catalog::shared_file::MAX_SHARERS as u64;
        if !(3..=most).contains(&sharers) {
            return Err(format!(
                "--count {sharers}: shared-file needs 3 to {most} sharers (two of them exit during the run; each is named on every checkpoint line)"
            ));
        }
        if file_bytes < 16 * page {
            return Err("the file must be at least 16 pages; use a larger --size".into());
        }
        super::room::check_disk(ctx.env, file_bytes, "the file")?;
        let planned = |name: &str, shm: bool| PlannedVariant {
            name: name.into(),
            args: experiments::args::to_args(&Args {
                file_bytes,
                sharers: sharers as usize,
                shm,
            }),
        };
        let mut params = BTreeMap::new();
        params.insert("file_bytes".into(), json!(file_bytes));
        params.insert("sharers".into(), json!(sharers));
        Ok(Plan {
            params,
            variants: vec![
                planned(variant::DEFAULT, false),
                planned(variant::SHM, true),
            ],
        })
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

    /// The file's claims are judged on the default variant, recorded for no
    /// variant as they always were; the shm variant answers its own.
    fn judge(&self, record: &ExperimentRecord, env: &Environment) -> Vec<ClaimRecord> {
        let mut file = record.clone();
        file.variants.retain(|v| v.name == variant::DEFAULT);
        let mut judged = kit::judge_single_variant(&file, env, &claims::CASES);
        if let Some(shm) = record.variants.iter().find(|v| v.name == variant::SHM) {
            judged.extend(kit::judge_variant(shm, env, &claims::SHM_CASES));
        }
        judged
    }

    fn answer_figures(&self) -> &'static [Option<AnswerFigure>] {
        &ANSWER_FIGURES
    }

    fn summary(&self, record: &ExperimentRecord, env: &Environment) -> Vec<SummaryTable> {
        summary::tables(record, env)
    }
}

/// The file's figures in each process at `label` of the latest run, by role.
fn file_region<'a>(f: &'a Facts<'_>, label: &str) -> Vec<(&'a str, &'a MemoryFigures)> {
    f.variant(variant::DEFAULT)
        .and_then(|v| v.checkpoint(label))
        .map(|c| {
            c.processes
                .iter()
                .filter_map(|p| Some((p.role.as_str(), &p.region(region::FILE)?.figures)))
                .collect()
        })
        .unwrap_or_default()
}

/// The figures the answers quote, one per question of explanation.md.
static ANSWER_FIGURES: [Option<AnswerFigure>; 4] = [
    Some(|f| {
        let r = file_region(f, checkpoint::ALL_READING);
        r.first().map(|(role, x)| {
            format!(
                "{} sharers; {role}: Rss {}, Pss {}",
                r.len(),
                human_bytes(x.rss_bytes),
                human_bytes(x.pss_bytes)
            )
        })
    }),
    Some(|f| {
        let before = file_region(f, checkpoint::ALL_READING);
        let after = file_region(f, checkpoint::AFTER_ONE_EXITS);
        match (before.first(), after.first()) {
            (Some((role, b)), Some((_, a))) => Some(format!(
                "{role}'s Pss {} → {}, Rss {} → {}",
                human_bytes(b.pss_bytes),
                human_bytes(a.pss_bytes),
                human_bytes(b.rss_bytes),
                human_bytes(a.rss_bytes)
            )),
            _ => None,
        }
    }),
    Some(|f| {
        let r = file_region(f, checkpoint::ALL_READING);
        (!r.is_empty()).then(|| {
            format!(
                "Σ Rss {}, Σ Pss {}",
                human_bytes(r.iter().map(|(_, x)| x.rss_bytes).sum()),
                human_bytes(r.iter().map(|(_, x)| x.pss_bytes).sum())
            )
        })
    }),
    None,
];
