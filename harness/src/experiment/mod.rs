//! The harness's side of each experiment: how to run it (variants and their
//! arguments, at full or `--quick` size) and how to judge its claims from the
//! measured record. One folder per experiment (`<name>/mod.rs` and
//! `<name>/explanation.md`), found by the build script, mirroring
//! `experiments/src/bin/vmlab-<name>.rs`; both sides speak through the
//! experiment's contract in `experiments::catalog`. [`kit`] is the judging
//! toolkit they share.

pub mod declared;
mod explanation;
pub mod programs;
pub mod room;

pub mod kit;

pub use explanation::Lesson;
pub use kit::{
    faults_over, not_run_reason, pages, process_at, read_bytes_between, region_at, verdict_of,
    AnswerFigure, Facts,
};

use std::collections::BTreeMap;
use std::ffi::OsString;

use experiments::ExperimentInfo;

use crate::model::{ClaimRecord, ExperimentRecord, SummaryTable, VariantRecord, Verdict};
use crate::system::Environment;

/// The byte and count formats, kept here under their old names so that the
/// experiments' evidence text keeps reading `super::human_bytes`.
pub use crate::units::{grouped, human_bytes, signed_bytes};

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
    fn explanation(&self) -> &'static Lesson;

    /// Every claim the experiment judges, in the order it judges them (shown
    /// with its criterion by `explain` and in step mode before the step runs).
    fn claims(&self) -> &'static [Claim] {
        &[]
    }

    /// What each claim needs of the machine and which figures it is judged
    /// on ([`declared`]), for the tools that compare runs; a claim left out
    /// needs nothing and is never explained by a change of figures.
    fn declared(&self) -> &'static [declared::Declared] {
        &[]
    }

    /// Keys of the notes that describe the setup (what was measured) rather
    /// than a measurement: when one differs between two runs, so do the
    /// programs measured, and a difference of figures is not the kernel's.
    fn setup_notes(&self) -> &'static [&'static str] {
        &[]
    }

    /// The figures the answers to the questions quote from the latest run, one
    /// entry per question of [`Experiment::explanation`], in order (`None` for an
    /// answer that quotes no figure; the prose is the explanation's). None by default.
    fn answer_figures(&self) -> &'static [Option<AnswerFigure>] {
        &[]
    }

    /// Keys of the notes that record the state a variant started from and that
    /// its metrics depend on (how many pages of a warm file had to be read back
    /// into the page cache, for one): when a variant's value of one differs
    /// between a run and its baseline, [`crate::compare`] leaves that variant's
    /// metrics out, saying why. None by default.
    fn metric_conditions(&self) -> &'static [&'static str] {
        &[]
    }

    /// Counters measured in a variant's phases that, when not zero, mean its
    /// metrics were disturbed by something outside the plan (THP faults that
    /// fell back to small pages, for one): [`crate::compare`] leaves that
    /// variant's metrics out when either run has one, with both counts.
    /// None by default.
    fn metric_disturbances(&self, _variant: &VariantRecord) -> Vec<(&'static str, u64)> {
        Vec::new()
    }

    /// Tables derived from the measurements that show the experiment's point at a
    /// glance (rendered after the claims). None by default.
    fn summary(&self, _record: &ExperimentRecord, _env: &Environment) -> Vec<SummaryTable> {
        Vec::new()
    }

    /// Whether one run of the variants (one `--repeat`) shares one temporary
    /// folder, in plan order, so that a large file one variant wrote can be
    /// reused by a later one instead of written again; what is reused is the
    /// plan's business (its variants' arguments say so). A folder per
    /// variant by default.
    fn variants_share_a_folder(&self) -> bool {
        false
    }
}

// The experiments in folders of their own (`<name>/mod.rs` beside
// `<name>/explanation.md`), found by build.rs: the `pub mod` of each and `found()`.
include!(concat!(env!("OUT_DIR"), "/experiments.rs"));

/// Every experiment, in [`experiments::CATALOG`] order (one that the catalog
/// does not list is left out, and a test fails).
pub fn registry() -> Vec<&'static dyn Experiment> {
    let all = found();
    experiments::CATALOG
        .iter()
        .filter_map(|info| all.iter().copied().find(|e| e.info().name == info.name))
        .collect()
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
            precondition: None,
            strict: false,
            disturbance: None,
            attempts: None,
            expected: None,
        }
    }

    /// Inconclusive: what was needed to judge was not measured.
    /// A reason that starts with [`crate::model::KERNEL_PRECONDITION`] is
    /// recorded as a precondition the kernel did not meet.
    pub fn unmeasured(&self, variant: Option<&str>, why: impl Into<String>) -> ClaimRecord {
        let why = why.into();
        let precondition = crate::model::Precondition::of_reason(&why);
        ClaimRecord {
            precondition,
            ..self.judged(variant, Verdict::Inconclusive, why)
        }
    }
}

/// Small builders of synthetic records for the judges' tests.
#[cfg(test)]
pub(crate) mod testkit {
    use crate::model::{
        CheckpointRecord, ClaimRecord, ExperimentRecord, Faults, IoCounters, MappingRecord,
        MemoryFigures, ProcessRecord, RegionRecord, Status, Totals, VariantRecord, Verdict,
    };
    use crate::system::Environment;

    /// The page size the synthetic records use.
    pub const PAGE: u64 = 4096;

    /// A real quick run of one experiment (its results.json), which the
    /// layers above the experiments use as a recorded run of some experiment.
    pub const RECORDED_RUN_JSON: &str =
        include_str!("../../tests/fixtures/runs/mmap-file-quick.json");

    /// The captured machine's environment (`Environment::fixture`), with 4 KiB
    /// pages and THP in madvise mode; the memory room a plan sees in it is the
    /// captured MemAvailable, not the running machine's.
    pub fn env() -> Environment {
        let mut env = Environment::fixture();
        env.page_size = PAGE;
        env.thp_enabled = "madvise".into();
        env.fault_around_bytes = Some(64 * 1024);
        env.damon_pageout = Vec::new();
        env
    }

    /// A process with `role`, no mappings and no regions yet.
    pub fn process(role: &str) -> ProcessRecord {
        ProcessRecord {
            role: role.into(),
            pid: 1,
            faults: Faults::default(),
            faults_total: Faults::default(),
            totals: Totals::default(),
            regions: Vec::new(),
            mappings: Vec::new(),
            io: None,
            state: None,
        }
    }

    /// Builder methods on a process.
    pub trait ProcessExt {
        /// Sets the phase's faults.
        fn faults(self, minor: u64, major: u64) -> Self;
        /// Adds a region (and a mapping named `name` with the same figures).
        fn region(self, name: &str, figures: MemoryFigures) -> Self;
        /// Sets the cumulative storage reads.
        fn read_bytes(self, bytes: u64) -> Self;
        /// Changes the totals.
        fn totals(self, f: impl FnOnce(&mut Totals)) -> Self;
        /// Adds an smaps field to the mapping named `name`.
        fn other(self, name: &str, key: &str, value: u64) -> Self;
    }

    impl ProcessExt for ProcessRecord {
        fn faults(mut self, minor: u64, major: u64) -> Self {
            self.faults = Faults { minor, major };
            self
        }
        fn region(mut self, name: &str, figures: MemoryFigures) -> Self {
            self.mappings.push(MappingRecord {
                start: crate::model::Address(0),
                end: crate::model::Address(0),
                name: format!("<temp dir>/{name}"),
                perms: "r--s".into(),
                offset_bytes: 0,
                figures: figures.clone(),
                other: Default::default(),
                vm_flags: String::new(),
            });
            self.regions.push(RegionRecord {
                name: name.into(),
                mapping_count: 1,
                figures,
                pagemap: None,
            });
            self
        }
        fn read_bytes(mut self, bytes: u64) -> Self {
            self.io = Some(IoCounters {
                read_bytes: bytes,
                ..Default::default()
            });
            self
        }
        fn totals(mut self, f: impl FnOnce(&mut Totals)) -> Self {
            f(&mut self.totals);
            self
        }
        fn other(mut self, name: &str, key: &str, value: u64) -> Self {
            if let Some(m) = self.mappings.iter_mut().find(|m| m.name.ends_with(name)) {
                m.other.insert(key.into(), value);
            }
            self
        }
    }

    /// Figures of `size` bytes with `rss` resident.
    pub fn figures(size: u64, rss: u64) -> MemoryFigures {
        MemoryFigures {
            size_bytes: size,
            rss_bytes: rss,
            pss_bytes: rss,
            ..Default::default()
        }
    }

    /// A variant that ran, with its notes and checkpoints.
    pub fn variant(
        name: &str,
        notes: &[(&str, String)],
        checkpoints: Vec<(&str, Vec<ProcessRecord>)>,
    ) -> VariantRecord {
        VariantRecord {
            name: name.into(),
            status: Status::Ok,
            reason: None,
            notes: notes
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
            noise_floor: Vec::new(),
            checkpoints: checkpoints
                .into_iter()
                .map(|(label, processes)| CheckpointRecord {
                    label: label.into(),
                    phase_millis: 0,
                    processes,
                    system: None,
                    population: None,
                })
                .collect(),
            rss_samples: Vec::new(),
            binary: None,
        }
    }

    /// An experiment record holding `variants`.
    pub fn record(name: &str, variants: Vec<VariantRecord>) -> ExperimentRecord {
        ExperimentRecord {
            name: name.into(),
            status: Status::Ok,
            reason: None,
            params: Default::default(),
            variants,
            claims: Vec::new(),
            summary: Vec::new(),
            fault_costs: Vec::new(),
        }
    }

    /// The claim `id` (of `variant`, if given) among `claims`.
    pub fn find<'a>(claims: &'a [ClaimRecord], id: &str, variant: Option<&str>) -> &'a ClaimRecord {
        claims
            .iter()
            .find(|c| c.id == id && (variant.is_none() || c.variant.as_deref() == variant))
            .unwrap_or_else(|| panic!("claim {id} ({variant:?}) not judged: {claims:#?}"))
    }

    /// Asserts the verdict of claim `id`, showing the evidence if it differs.
    pub fn assert_verdict(claims: &[ClaimRecord], id: &str, variant: Option<&str>, want: Verdict) {
        let c = find(claims, id, variant);
        assert_eq!(c.verdict, want, "{id} ({variant:?}): {}", c.evidence);
        if c.verdict != Verdict::Inconclusive {
            assert!(!c.measured.is_empty(), "{id}: no measured figure");
        }
        assert!(!c.criterion.is_empty(), "{id}: no criterion");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::VariantRecord;

    #[test]
    fn the_registry_follows_the_catalog() {
        let names: Vec<_> = registry().iter().map(|e| e.info().name).collect();
        let catalog: Vec<_> = experiments::CATALOG.iter().map(|e| e.name).collect();
        assert_eq!(names, catalog);
        let mut modules: Vec<_> = found().iter().map(|e| e.info().name).collect();
        modules.sort_unstable();
        let mut listed = catalog.clone();
        listed.sort_unstable();
        assert_eq!(
            modules, listed,
            "an experiment module the catalog does not list, or twice"
        );
    }

    /// Every experiment in the catalog, so that a new one is checked too.
    fn catalog_names() -> impl Iterator<Item = &'static str> {
        experiments::CATALOG.iter().map(|info| info.name)
    }

    #[test]
    fn every_experiment_states_its_claims_each_with_a_criterion() {
        for name in catalog_names() {
            let e = find(name).expect("in the registry");
            for c in e.claims() {
                assert!(
                    !c.criterion.trim().is_empty(),
                    "{name}/{}: empty criterion",
                    c.id
                );
                assert!(!c.statement.trim().is_empty(), "{name}/{}", c.id);
            }
        }
    }

    #[test]
    fn every_listed_claim_has_a_criterion() {
        for e in registry() {
            for c in e.claims() {
                assert!(
                    !c.criterion.trim().is_empty(),
                    "{}/{}: empty criterion",
                    e.info().name,
                    c.id
                );
            }
        }
    }

    #[test]
    fn every_judged_claim_is_listed_with_its_criterion() {
        // A record whose variants were all skipped still names every claim.
        let env = testkit::env();
        for name in catalog_names() {
            let e = find(name).expect("in the registry");
            let plan = e
                .plan(&PlanContext {
                    quick: true,
                    size_bytes: None,
                    count: None,
                    env: &Environment {
                        temp_dir_free_bytes: u64::MAX / 4,
                        cgroup_memory_max_bytes: None,
                        mem_total_bytes: 1 << 40,
                        ..env.clone()
                    },
                    no_aslr: false,
                })
                .expect("a plan");
            let variants = plan
                .variants
                .iter()
                .map(|v| VariantRecord {
                    status: crate::model::Status::Skipped,
                    reason: Some("test".into()),
                    ..testkit::variant(&v.name, &[], Vec::new())
                })
                .collect();
            let claims = e.judge(&testkit::record(name, variants), &env);
            // fault-costs prices faults and judges nothing: it lists nothing.
            assert_eq!(
                claims.is_empty(),
                e.claims().is_empty(),
                "{name}: judges claims it does not list, or lists claims it never judges"
            );
            for c in claims {
                let listed = e.claims().iter().find(|l| l.id == c.id);
                assert!(listed.is_some(), "{name}/{} judged but not listed", c.id);
                assert_eq!(c.verdict, Verdict::Inconclusive, "{name}/{}", c.id);
                assert!(!c.criterion.is_empty(), "{name}/{}", c.id);
            }
        }
    }

    /// A roomy machine, so that every experiment plans every variant.
    fn roomy() -> Environment {
        Environment {
            temp_dir_free_bytes: u64::MAX / 4,
            cgroup_memory_max_bytes: None,
            mem_total_bytes: 1 << 40,
            ..testkit::env()
        }
    }

    #[test]
    fn every_planned_variant_and_every_step_is_in_the_contract() {
        use experiments::catalog::NameKind;
        let env = roomy();
        for e in registry() {
            let info = e.info();
            for quick in [true, false] {
                let ctx = PlanContext {
                    quick,
                    size_bytes: None,
                    count: None,
                    env: &env,
                    no_aslr: false,
                };
                let Ok(plan) = e.plan(&ctx) else { continue };
                let names = plan.variants.iter().map(|v| v.name.as_str());
                assert_eq!(
                    info.unlisted(NameKind::Variant, names),
                    None,
                    "{}",
                    info.name
                );
            }
            let steps = e
                .explanation()
                .steps
                .iter()
                .map(|(label, _)| label.split_once('/').map_or(*label, |(_, step)| step));
            assert_eq!(
                info.unlisted(NameKind::Checkpoint, steps),
                None,
                "{}: a step the contract does not list",
                info.name
            );
        }
    }
}
