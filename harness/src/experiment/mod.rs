//! The harness's side of each experiment: how to run it (variants and their
//! arguments, at full or `--quick` size) and how to judge its claims from the
//! measured record. One module per experiment, mirroring `experiments/src/bin/`.

mod anatomy;
pub mod fault_costs;
mod fork_cow;
mod lazy_alloc;
mod many_processes;
mod mmap_file;
pub mod programs;
mod shared_file;
mod static_dynamic;
mod strip;
mod tiny_malloc;

use std::collections::BTreeMap;
use std::ffi::OsString;

use experiments::ExperimentInfo;

use crate::model::{
    ClaimRecord, ExperimentRecord, Faults, ProcessRecord, RegionRecord, SummaryTable,
    VariantRecord, Verdict,
};
use crate::system::Environment;

/// What an experiment's plan may depend on.
#[derive(Debug, Clone)]
pub struct PlanContext<'a> {
    /// Small sizes that finish in seconds (tests, CI).
    pub quick: bool,
    /// `--size`: overrides the experiment's main size, in bytes.
    pub size_bytes: Option<u64>,
    /// `--count`: overrides how many processes an experiment starts.
    pub count: Option<u64>,
    /// The machine.
    pub env: &'a Environment,
    /// `--no-aslr`: start the measured programs with address-space randomisation off.
    pub no_aslr: bool,
}

/// How an experiment will run.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    /// Sizes and options, recorded in the results.
    pub params: BTreeMap<String, serde_json::Value>,
    /// The variants, in the order they run.
    pub variants: Vec<PlannedVariant>,
}

/// One run of the experiment's binary.
#[derive(Debug, Clone)]
pub struct PlannedVariant {
    /// Kebab-case variant name.
    pub name: String,
    /// Arguments for the binary (the runner adds `--dir`).
    pub args: Vec<OsString>,
}

/// One experiment as the harness sees it.
pub trait Experiment: Sync {
    /// Name, summary and seeds, shared with the experiment binary.
    fn info(&self) -> &'static ExperimentInfo;

    /// The variants to run, or why the experiment cannot run here (a skip).
    fn plan(&self, ctx: &PlanContext<'_>) -> Result<Plan, String>;

    /// The claims, judged from what was measured.
    fn judge(&self, record: &ExperimentRecord, env: &Environment) -> Vec<ClaimRecord>;

    /// The teaching text (`harness explain NAME`, step mode, the Markdown report).
    fn explanation(&self) -> &'static Explanation;

    /// Every claim the experiment judges, in the order it judges them (shown
    /// with its criterion by `explain` and in step mode before the step runs).
    fn claims(&self) -> &'static [Claim] {
        &[]
    }

    /// Tables derived from the measurements that show the experiment's point at a
    /// glance (rendered after the claims). None by default.
    fn summary(&self, _record: &ExperimentRecord, _env: &Environment) -> Vec<SummaryTable> {
        Vec::new()
    }
}

/// What a student reads about an experiment. Written for someone who knows C and
/// has heard of virtual memory; seeds are paraphrased and cited by title and author.
#[derive(Debug, Clone, Copy)]
pub struct Explanation {
    /// What the seed writings claimed, paraphrased, with title and author.
    pub seed_claims: &'static str,
    /// One entry per checkpoint label: what has just happened, in one or two
    /// sentences (shown in step mode when the experiment stops there).
    pub steps: &'static [(&'static str, &'static str)],
    /// What to expect on a current kernel, and why (fault-around, large folios,
    /// read-ahead, THP, COW at fork, ...).
    pub expectations: &'static str,
    /// Questions a student should be able to answer afterwards.
    pub questions: &'static [&'static str],
}

/// Every experiment, in [`experiments::CATALOG`] order.
pub fn registry() -> Vec<&'static dyn Experiment> {
    vec![
        &mmap_file::MmapFile,
        &fork_cow::ForkCow,
        &tiny_malloc::TinyMalloc,
        &static_dynamic::StaticDynamic,
        &strip::Strip,
        &anatomy::Anatomy,
        &lazy_alloc::LazyAlloc,
        &shared_file::SharedFile,
        &many_processes::ManyProcesses,
        &fault_costs::FaultCosts,
    ]
}

/// Looks an experiment up by name.
pub fn find(name: &str) -> Option<&'static dyn Experiment> {
    registry().into_iter().find(|e| e.info().name == name)
}

/// A claim of a seed, before it is judged.
#[derive(Debug, Clone, Copy)]
pub struct Claim {
    /// Kebab-case id, stable across runs.
    pub id: &'static str,
    /// The seed file.
    pub source: &'static str,
    /// The claim, paraphrased, in the writing's own direction: confirmed means
    /// the writing was right.
    pub statement: &'static str,
    /// The criterion, declared before measuring: the quantity, the comparison
    /// and the tolerance with where it comes from.
    pub criterion: &'static str,
}

impl Claim {
    /// The judged claim.
    pub fn judged(
        &self,
        variant: Option<&str>,
        verdict: Verdict,
        evidence: impl Into<String>,
    ) -> ClaimRecord {
        ClaimRecord {
            id: self.id.to_string(),
            variant: variant.map(str::to_string),
            source: self.source.to_string(),
            statement: self.statement.to_string(),
            verdict,
            evidence: evidence.into(),
            criterion: self.criterion.to_string(),
            measured: String::new(),
            expected: None,
        }
    }

    /// Inconclusive: what was needed to judge was not measured.
    pub fn unmeasured(&self, variant: Option<&str>, why: impl Into<String>) -> ClaimRecord {
        self.judged(variant, Verdict::Inconclusive, why)
    }
}

/// `Confirmed` if `holds`, else `Refuted`.
pub fn verdict_of(holds: bool) -> Verdict {
    if holds {
        Verdict::Confirmed
    } else {
        Verdict::Refuted
    }
}

/// The process `role` at checkpoint `label` of a variant.
pub fn process_at<'a>(
    variant: &'a VariantRecord,
    label: &str,
    role: &str,
) -> Option<&'a ProcessRecord> {
    variant.checkpoint(label)?.process(role)
}

/// Region `name` of process `role` at checkpoint `label`.
pub fn region_at<'a>(
    variant: &'a VariantRecord,
    label: &str,
    role: &str,
    name: &str,
) -> Option<&'a RegionRecord> {
    process_at(variant, label, role)?.region(name)
}

/// Faults of process `role` summed over the phases that end at `labels`.
pub fn faults_over(variant: &VariantRecord, labels: &[&str], role: &str) -> Option<Faults> {
    labels.iter().try_fold(Faults::default(), |sum, label| {
        let f = process_at(variant, label, role)?.faults;
        Some(Faults {
            minor: sum.minor + f.minor,
            major: sum.major + f.major,
        })
    })
}

/// A byte count as pages, for evidence text.
pub fn pages(bytes: u64, page_size: u64) -> u64 {
    bytes / page_size.max(1)
}

/// Bytes in a human unit (KiB, MiB, GiB), for evidence text.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_registry_follows_the_catalog() {
        let names: Vec<_> = registry().iter().map(|e| e.info().name).collect();
        let catalog: Vec<_> = experiments::CATALOG.iter().map(|e| e.name).collect();
        assert_eq!(names, catalog);
    }

    #[test]
    fn human_bytes_picks_a_readable_unit() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(64 * 1024), "64.0 KiB");
        assert_eq!(human_bytes(1_000_000_000), "953.7 MiB");
    }
}
