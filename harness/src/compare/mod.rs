//! Comparing a run with a baseline: which claims changed verdict, which metrics
//! moved beyond their tolerance, and what differs in the environment (the kernel,
//! THP mode, page size, glibc or file system explain most changes).
//!
//! [`compare`] is a pure function over two [`RunRecord`]s, which
//! [`crate::store::baseline`] loads and saves (this module does no I/O);
//! [`crate::report::comparison`] turns a [`Comparison`] into tables. Every metric comparison has one of three outcomes
//! after criterion's: unchanged, within the noise band, or beyond it.
//!
//! **The policy** (the exit code of `compare` and `--baseline` follows it):
//! - a metric is beyond tolerance only outside the baseline's spread widened by
//!   the tolerance of its kind: `[min - band, max + band]`, where min and max are
//!   the spread a repeated baseline recorded (`--repeat N`, see
//!   [`crate::model::Repeats`]) and, for a single run, its one value. A repeated
//!   run is compared by its median;
//! - beyond it, a move the way that is worse for the metric ([`Direction`]) is
//!   a **regression** (exit 1): an increase for faults and memory, a decrease
//!   for memory in huge pages (AnonHugePages, FilePmdMapped: the kernel fell
//!   back to base pages). The other way is reported as a **change** with its
//!   direction, and is not a regression: a cheaper run is no defect to act on,
//!   and page-cache folio sizes alone make some counts drop by a third between
//!   identical runs;
//! - a claim whose verdict went from confirmed to refuted or back is a
//!   regression; one that was inconclusive on either side is a change
//!   ([`VerdictChange`]): one run could not judge it, which says nothing of the
//!   kernel.
//!
//! What is compared, per experiment, variant, checkpoint and process role:
//! - the faults of each phase (`minor_faults`, `major_faults`);
//! - the change of each whole-process figure over the phase (`rss_bytes_change`,
//!   ...): the absolute level depends on the loader, the environment variables and
//!   the stack, and moves by dozens of pages between identical runs, while the
//!   change over a phase is what the experiment is about (whole-process Pss and
//!   USS are left out, see `totals_fields`);
//! - each declared region's figures (`data.rss_bytes`, ...), absolute.
//!
//! Claims are matched by (experiment, variant, id) and compared exactly. Phase
//! durations are never compared. The price list (`fault_costs`) is compared by
//! [`costs`]: a median beyond the spread of both runs is reported as a change,
//! never as a regression. Metrics are compared only where both runs used
//! the same page size and the same parameters; the claims are still compared, and
//! [`Comparison::not_compared`] says what was left out and why.

pub mod costs;
pub mod tolerance;

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use crate::model::{
    CheckpointRecord, ExperimentRecord, MemoryFigures, MetricSpread, ProcessRecord, RunRecord,
    Status, VariantRecord, Verdict,
};
pub use tolerance::{MetricKind, Tolerances};

/// The outcome of comparing one metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Change {
    /// The same value as the baseline's (median).
    Unchanged,
    /// A different value, but within the baseline's spread widened by the
    /// tolerance of its kind: noise, not a change.
    WithinTolerance,
    /// Above the spread and tolerance: a regression (exit 1).
    Increased,
    /// Below the spread and tolerance: a change, reported, not a regression.
    Decreased,
}

impl Change {
    /// True if the change is beyond tolerance, either way.
    pub fn is_beyond(self) -> bool {
        matches!(self, Change::Increased | Change::Decreased)
    }

    /// `increased` or `decreased`, for a change beyond tolerance.
    pub fn direction(self) -> &'static str {
        match self {
            Change::Increased => "increased",
            Change::Decreased => "decreased",
            Change::Unchanged | Change::WithinTolerance => "within tolerance",
        }
    }
}

/// Which way a metric moves when the kernel got worse: declared per metric
/// ([`Direction::of`]), so that a drop of huge pages fails as a rise of faults
/// does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Direction {
    /// More is worse: faults, memory, page tables.
    #[default]
    MoreIsWorse,
    /// Less is worse: memory in huge pages (AnonHugePages, FilePmdMapped),
    /// where fewer means the kernel fell back to base pages.
    LessIsWorse,
}

impl Direction {
    /// The direction of the metric named `metric`.
    pub fn of(metric: &str) -> Direction {
        if metric.ends_with("anon_huge_pages_bytes") || metric.ends_with("file_pmd_mapped_bytes") {
            Direction::LessIsWorse
        } else {
            Direction::MoreIsWorse
        }
    }
}

/// How a claim's verdict compares with another run's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum VerdictChange {
    /// The same verdict.
    Same,
    /// Confirmed on one side, refuted on the other: a regression.
    Flipped,
    /// Inconclusive on one side: one run could not judge; a change, not a regression.
    Judgement,
}

impl VerdictChange {
    /// Compares `now` with `baseline` (verdicts are compared exactly).
    pub fn of(baseline: Verdict, now: Verdict) -> VerdictChange {
        match (baseline, now) {
            (a, b) if a == b => VerdictChange::Same,
            (Verdict::Inconclusive, _) | (_, Verdict::Inconclusive) => VerdictChange::Judgement,
            _ => VerdictChange::Flipped,
        }
    }
}

/// One environment field that differs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EnvironmentChange {
    /// The field of [`crate::system::Environment`] (`kernel`, `thp_enabled`, ...).
    pub field: String,
    /// Its value in the baseline.
    pub baseline: String,
    /// Its value now.
    pub now: String,
}

/// One claim found in both runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClaimComparison {
    /// Experiment name.
    pub experiment: String,
    /// Variant the claim was judged on, if any.
    pub variant: Option<String>,
    /// Claim id.
    pub id: String,
    /// The baseline's verdict.
    pub baseline: Verdict,
    /// This run's verdict.
    pub now: Verdict,
}

impl ClaimComparison {
    /// True if the verdict changed (verdicts are compared exactly).
    pub fn flipped(&self) -> bool {
        self.baseline != self.now
    }

    /// How it changed.
    pub fn change(&self) -> VerdictChange {
        VerdictChange::of(self.baseline, self.now)
    }
}

/// One metric found in both runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MetricComparison {
    /// Experiment name.
    pub experiment: String,
    /// Variant name.
    pub variant: String,
    /// Checkpoint label (the phase that ends there).
    pub checkpoint: String,
    /// Process role.
    pub process: String,
    /// Metric name; the unit is in the name (`_bytes`, `_faults`).
    pub metric: String,
    /// Its kind, which decides the tolerance.
    pub kind: MetricKind,
    /// The baseline's value (bytes or a count; the median of a repeated baseline).
    pub baseline: i64,
    /// The smallest value of a repeated baseline (else `baseline`).
    pub baseline_min: i64,
    /// The largest value of a repeated baseline (else `baseline`).
    pub baseline_max: i64,
    /// This run's value (the median of a repeated run).
    pub now: i64,
    /// The tolerance that applied, in the metric's unit.
    pub tolerance: u64,
    /// The outcome.
    pub change: Change,
    /// Which way is worse for this metric.
    pub worse: Direction,
}

impl MetricComparison {
    /// True if the metric moved beyond tolerance the way that is worse for it:
    /// a regression (exit 1). The other way it is a change, reported.
    pub fn is_regression(&self) -> bool {
        match self.worse {
            Direction::MoreIsWorse => self.change == Change::Increased,
            Direction::LessIsWorse => self.change == Change::Decreased,
        }
    }

    /// The baseline's value, with its spread when it was repeated (`963 (963..1412)`).
    pub fn baseline_text(&self) -> String {
        if self.baseline_min == self.baseline_max {
            self.baseline.to_string()
        } else {
            format!(
                "{} ({}..{})",
                self.baseline, self.baseline_min, self.baseline_max
            )
        }
    }
}

/// Everything two runs were compared on.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    /// Page size of the baseline, in bytes (memory tolerances are in its pages).
    pub page_size: u64,
    /// The tolerances in force.
    pub tolerances: Tolerances,
    /// How many runs of each variant the baseline's spread comes from (1: none).
    pub baseline_runs: u32,
    /// Environment fields that differ.
    pub environment: Vec<EnvironmentChange>,
    /// Every claim found in both runs.
    pub claims: Vec<ClaimComparison>,
    /// Every metric found in both runs.
    pub metrics: Vec<MetricComparison>,
    /// What could not be compared, and why; one sentence each.
    pub not_compared: Vec<String>,
    /// Every kind of the price list priced in both runs (reported, never a regression).
    pub costs: Vec<costs::CostComparison>,
}

impl Comparison {
    /// Claims whose verdict changed.
    pub fn flipped_claims(&self) -> impl Iterator<Item = &ClaimComparison> {
        self.claims.iter().filter(|c| c.flipped())
    }

    /// Metrics that moved beyond tolerance.
    pub fn beyond_tolerance(&self) -> impl Iterator<Item = &MetricComparison> {
        self.metrics.iter().filter(|m| m.change.is_beyond())
    }

    /// True if a claim flipped between confirmed and refuted, or a metric grew
    /// beyond the spread and tolerance (exit 1; see the module docs).
    pub fn regressed(&self) -> bool {
        self.claims
            .iter()
            .any(|c| c.change() == VerdictChange::Flipped)
            || self.metrics.iter().any(MetricComparison::is_regression)
    }

    /// Why the metrics of `experiment`'s `variant` were not compared: the
    /// matching line of [`Comparison::not_compared`] (the variant's, else the
    /// experiment's, else the run's), or that no metric was measured in both.
    pub fn why_not_compared(&self, experiment: &str, variant: &str) -> String {
        let own = format!("{experiment}/{variant}:");
        let whole = format!("{experiment}:");
        self.not_compared
            .iter()
            .find(|n| n.starts_with(&own))
            .or_else(|| {
                self.not_compared
                    .iter()
                    .find(|n| n.starts_with(&whole) && !n.contains(": claim "))
            })
            .or_else(|| self.not_compared.iter().find(|n| n.starts_with("metrics:")))
            .cloned()
            .unwrap_or_else(|| format!("{own} no metric was measured in both runs"))
    }

    /// Whether the variant's metrics were compared at all.
    pub fn compared_variant(&self, experiment: &str, variant: &str) -> bool {
        self.metrics
            .iter()
            .any(|m| m.experiment == experiment && m.variant == variant)
    }
}

/// The key of one metric: experiment, variant, checkpoint, process, metric.
type MetricKey = (String, String, String, String, String);

/// The recorded spreads of both runs, by metric.
#[derive(Default)]
struct Spreads {
    baseline: HashMap<MetricKey, (i64, i64, i64)>,
    now: HashMap<MetricKey, (i64, i64, i64)>,
}

fn spread_map(run: &RunRecord) -> HashMap<MetricKey, (i64, i64, i64)> {
    run.repeats
        .iter()
        .flat_map(|r| &r.spread)
        .map(|s| {
            (
                (
                    s.experiment.clone(),
                    s.variant.clone(),
                    s.checkpoint.clone(),
                    s.process.clone(),
                    s.metric.clone(),
                ),
                (s.min, s.median, s.max),
            )
        })
        .collect()
}

/// Every compared metric's minimum, median (the lower one of an even count)
/// and maximum over the repeats of one variant, in the order compared.
/// `page_size` is the run's (only the metrics' values are kept, not a band).
pub fn spread(experiment: &str, repeats: &[&VariantRecord], page_size: u64) -> Vec<MetricSpread> {
    let mut order: Vec<MetricKey> = Vec::new();
    let mut values: HashMap<MetricKey, Vec<i64>> = HashMap::new();
    for v in repeats {
        let mut own = Comparison {
            page_size,
            tolerances: Tolerances::default(),
            baseline_runs: 1,
            environment: Vec::new(),
            claims: Vec::new(),
            metrics: Vec::new(),
            not_compared: Vec::new(),
            costs: Vec::new(),
        };
        // A variant compared with itself lists each of its metrics once.
        compare_variant(&mut own, experiment, v, v, &Spreads::default());
        for m in own.metrics {
            let key = (m.experiment, m.variant, m.checkpoint, m.process, m.metric);
            values
                .entry(key.clone())
                .or_insert_with(|| {
                    order.push(key);
                    Vec::new()
                })
                .push(m.now);
        }
    }
    order
        .into_iter()
        .filter_map(|key| {
            let mut v = values.remove(&key)?;
            v.sort_unstable();
            let (experiment, variant, checkpoint, process, metric) = key;
            Some(MetricSpread {
                experiment,
                variant,
                checkpoint,
                process,
                metric,
                min: v[0],
                median: v[(v.len() - 1) / 2],
                max: v[v.len() - 1],
                runs: v.len(),
            })
        })
        .collect()
}

/// Environment fields that change on every run and explain nothing.
const VOLATILE_FIELDS: &[&str] = &[
    "temp_dir",
    "temp_dir_free_bytes",
    "commit_room_bytes",
    "processes_running",
    "cgroup_pids_current",
];

/// Compares `now` with `baseline`.
pub fn compare(baseline: &RunRecord, now: &RunRecord, tolerances: Tolerances) -> Comparison {
    let mut cmp = Comparison {
        page_size: baseline.environment.page_size,
        tolerances,
        baseline_runs: baseline.repeats.as_ref().map_or(1, |r| r.count),
        environment: environment_changes(baseline, now),
        claims: Vec::new(),
        metrics: Vec::new(),
        not_compared: Vec::new(),
        costs: Vec::new(),
    };
    let spreads = Spreads {
        baseline: spread_map(baseline),
        now: spread_map(now),
    };
    let timing_mismatch = costs::incomparable(&baseline.environment, &now.environment);
    let same_page_size = baseline.environment.page_size == now.environment.page_size;
    if !same_page_size {
        cmp.not_compared.push(format!(
            "metrics: the page size differs ({} bytes in the baseline, {} now), so sizes and fault counts are not comparable; only verdicts are compared",
            baseline.environment.page_size, now.environment.page_size
        ));
    }
    for new in &now.experiments {
        let Some(old) = baseline.experiments.iter().find(|e| e.name == new.name) else {
            cmp.not_compared
                .push(format!("{}: not in the baseline", new.name));
            continue;
        };
        compare_claims(&mut cmp, old, new);
        if timing_mismatch.is_none() {
            cmp.costs.extend(costs::compare_costs(old, new));
        }
        if same_page_size {
            compare_experiment_metrics(&mut cmp, old, new, baseline.quick, now.quick, &spreads);
        }
    }
    let priced = |r: &RunRecord| r.experiments.iter().any(|e| !e.fault_costs.is_empty());
    if let Some(why) = timing_mismatch.filter(|_| priced(baseline) && priced(now)) {
        cmp.not_compared.push(why);
    }
    for old in &baseline.experiments {
        if !now.experiments.iter().any(|e| e.name == old.name) {
            cmp.not_compared
                .push(format!("{}: in the baseline only (not run now)", old.name));
        }
    }
    cmp
}

fn display_value(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => "unknown".into(),
        other => other.to_string(),
    }
}

fn environment_changes(baseline: &RunRecord, now: &RunRecord) -> Vec<EnvironmentChange> {
    let as_map = |run: &RunRecord| -> BTreeMap<String, serde_json::Value> {
        match serde_json::to_value(&run.environment) {
            Ok(serde_json::Value::Object(map)) => map.into_iter().collect(),
            _ => BTreeMap::new(),
        }
    };
    let (old, new) = (as_map(baseline), as_map(now));
    let mut changes = Vec::new();
    if baseline.quick != now.quick {
        changes.push(EnvironmentChange {
            field: "quick".into(),
            baseline: baseline.quick.to_string(),
            now: now.quick.to_string(),
        });
    }
    // The provenance too (the kernel's build and command line, the memory
    // settings, the harness's commit), but not the command line, which differs
    // between saving a baseline and comparing with it.
    let provenance_fields = |run: &RunRecord| -> BTreeMap<String, String> {
        run.provenance
            .fields()
            .into_iter()
            .filter(|(name, _)| *name != "command_line")
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect()
    };
    let (old_p, new_p) = (provenance_fields(baseline), provenance_fields(now));
    // A record of an older version has no provenance: nothing to compare.
    let has_provenance = |run: &RunRecord| !run.provenance.vmlab_version.is_empty();
    if has_provenance(baseline) && has_provenance(now) {
        for (key, a) in &old_p {
            let b = new_p.get(key).cloned().unwrap_or_default();
            if *a != b {
                changes.push(EnvironmentChange {
                    field: key.clone(),
                    baseline: a.clone(),
                    now: b,
                });
            }
        }
    }
    let keys: std::collections::BTreeSet<&String> = old.keys().chain(new.keys()).collect();
    for key in keys {
        if VOLATILE_FIELDS.contains(&key.as_str()) {
            continue;
        }
        let (a, b) = (old.get(key), new.get(key));
        if a != b {
            let show = |v: Option<&serde_json::Value>| v.map_or("absent".into(), display_value);
            changes.push(EnvironmentChange {
                field: key.clone(),
                baseline: show(a),
                now: show(b),
            });
        }
    }
    changes
}

fn claim_name(experiment: &str, variant: Option<&str>, id: &str) -> String {
    match variant {
        Some(v) => format!("{experiment}/{v}: claim {id}"),
        None => format!("{experiment}: claim {id}"),
    }
}

fn compare_claims(cmp: &mut Comparison, old: &ExperimentRecord, new: &ExperimentRecord) {
    for c in &new.claims {
        match old
            .claims
            .iter()
            .find(|o| o.id == c.id && o.variant == c.variant)
        {
            Some(o) => cmp.claims.push(ClaimComparison {
                experiment: new.name.clone(),
                variant: c.variant.clone(),
                id: c.id.clone(),
                baseline: o.verdict,
                now: c.verdict,
            }),
            None => cmp.not_compared.push(format!(
                "{}: not judged in the baseline",
                claim_name(&new.name, c.variant.as_deref(), &c.id)
            )),
        }
    }
    for o in &old.claims {
        if !new
            .claims
            .iter()
            .any(|c| c.id == o.id && c.variant == o.variant)
        {
            cmp.not_compared.push(format!(
                "{}: judged in the baseline only",
                claim_name(&old.name, o.variant.as_deref(), &o.id)
            ));
        }
    }
}

fn compare_experiment_metrics(
    cmp: &mut Comparison,
    old: &ExperimentRecord,
    new: &ExperimentRecord,
    old_quick: bool,
    new_quick: bool,
    spreads: &Spreads,
) {
    if old.params != new.params {
        let mut diffs: Vec<String> = Vec::new();
        let keys: std::collections::BTreeSet<&String> =
            old.params.keys().chain(new.params.keys()).collect();
        for k in keys {
            let (a, b) = (old.params.get(k), new.params.get(k));
            if a != b {
                let show = |v: Option<&serde_json::Value>| v.map_or("absent".into(), display_value);
                diffs.push(format!("{k} {} → {}", show(a), show(b)));
            }
        }
        cmp.not_compared.push(format!(
            "{}: metrics not compared, the parameters differ ({}{}); only verdicts are compared",
            new.name,
            diffs.join(", "),
            if old_quick != new_quick {
                "; one run used --quick"
            } else {
                ""
            }
        ));
        return;
    }
    for v in &new.variants {
        let where_ = format!("{}/{}", new.name, v.name);
        let Some(o) = old.variants.iter().find(|o| o.name == v.name) else {
            cmp.not_compared
                .push(format!("{where_}: not in the baseline"));
            continue;
        };
        if o.status != Status::Ok || v.status != Status::Ok {
            cmp.not_compared.push(format!(
                "{where_}: metrics not compared, the variant {} in the baseline and {} now",
                status_word(o.status),
                status_word(v.status)
            ));
            continue;
        }
        if let Some(why) = conditions_differ(&new.name, o, v) {
            cmp.not_compared
                .push(format!("{where_}: metrics not compared, {why}"));
            continue;
        }
        compare_variant(cmp, &new.name, o, v, spreads);
    }
    for o in &old.variants {
        if !new.variants.iter().any(|v| v.name == o.name) {
            cmp.not_compared
                .push(format!("{}/{}: in the baseline only", old.name, o.name));
        }
    }
}

/// Why the metrics of a variant cannot be compared, if the state it started
/// from differed: a note of the experiment's
/// [`crate::experiment::Experiment::metric_conditions`] with another value in
/// the baseline than now.
fn conditions_differ(experiment: &str, old: &VariantRecord, new: &VariantRecord) -> Option<String> {
    let exp = crate::experiment::find(experiment)?;
    if let Some(why) = disturbed(exp, old, new) {
        return Some(why);
    }
    let keys = exp.metric_conditions();
    let differ: Vec<String> = keys
        .iter()
        .filter_map(|key| {
            let (a, b) = (old.notes.get(*key), new.notes.get(*key));
            (a != b).then(|| {
                let show = |v: Option<&String>| v.map_or("absent", String::as_str).to_string();
                format!("{key} {} in the baseline, {} now", show(a), show(b))
            })
        })
        .collect();
    (!differ.is_empty()).then(|| {
        format!(
            "the state it started from differed ({}), which its metrics depend on",
            differ.join("; ")
        )
    })
}

/// Why a variant's metrics cannot be compared, if a counter of the
/// experiment's [`crate::experiment::Experiment::metric_disturbances`] is not
/// zero in either run: both counts are given.
fn disturbed(
    exp: &dyn crate::experiment::Experiment,
    old: &VariantRecord,
    new: &VariantRecord,
) -> Option<String> {
    let (before, now) = (exp.metric_disturbances(old), exp.metric_disturbances(new));
    let counts: Vec<String> = before
        .iter()
        .chain(&now)
        .map(|(name, _)| *name)
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .filter_map(|name| {
            let of =
                |list: &[(&str, u64)]| list.iter().find(|(n, _)| *n == name).map_or(0, |c| c.1);
            let (a, b) = (of(&before), of(&now));
            (a > 0 || b > 0).then(|| format!("{name} +{a} in the baseline, +{b} now"))
        })
        .collect();
    (!counts.is_empty()).then(|| {
        format!(
            "a disturbance outside the plan moved them ({}), so they measure it, not the kernel's usual work",
            counts.join("; ")
        )
    })
}

fn status_word(s: Status) -> &'static str {
    match s {
        Status::Ok => "ran",
        Status::Skipped => "was skipped",
        Status::Failed => "failed",
    }
}

/// The whole-process figures compared as their change over a phase.
///
/// Pss and USS are left out: they count how many processes map each page, so
/// they move when any other process maps or unmaps the same binary or libraries
/// (another copy of the experiment running in parallel shifts USS by hundreds of
/// pages), which says nothing about this kernel; regions' Pss is compared, since
/// their files are the experiment's own. VmRSS, RssAnon and RssFile are left out
/// because the kernel keeps them in counters that lag: folded in only every 64
/// faults before Linux 6.2 (seen on 6.1 in the kernel matrix), per-CPU since,
/// and read exactly or not depending on the version. File-backed Rss, even as
/// summed from smaps, moves with the page cache (fault-around windows of the
/// program's text, library text collapsed into huge pages) by dozens of pages in
/// processes that share libraries. The anonymous Rss summed from smaps is exact
/// and is what an experiment's own work changes.
fn process_fields(p: &ProcessRecord) -> [(&'static str, u64); 4] {
    let t = &p.totals;
    [
        ("vm_size_bytes", t.vm_size_bytes),
        (
            "anonymous_bytes",
            p.mappings
                .iter()
                .fold(0u64, |sum, m| sum.saturating_add(m.figures.anonymous_bytes)),
        ),
        ("pte_bytes", t.pte_bytes),
        ("swap_bytes", t.swap_bytes),
    ]
}

/// A region's figures, compared as they are.
fn figure_fields(f: &MemoryFigures) -> [(&'static str, u64); 10] {
    [
        ("size_bytes", f.size_bytes),
        ("rss_bytes", f.rss_bytes),
        ("pss_bytes", f.pss_bytes),
        ("shared_clean_bytes", f.shared_clean_bytes),
        ("shared_dirty_bytes", f.shared_dirty_bytes),
        ("private_clean_bytes", f.private_clean_bytes),
        ("private_dirty_bytes", f.private_dirty_bytes),
        ("anonymous_bytes", f.anonymous_bytes),
        ("anon_huge_pages_bytes", f.anon_huge_pages_bytes),
        ("swap_bytes", f.swap_bytes),
    ]
}

/// The snapshot of `role` at the checkpoint before `index`, if any.
fn previous<'a>(
    checkpoints: &'a [CheckpointRecord],
    index: usize,
    role: &str,
) -> Option<&'a ProcessRecord> {
    checkpoints[..index]
        .iter()
        .rev()
        .find_map(|c| c.process(role))
}

fn compare_variant(
    cmp: &mut Comparison,
    experiment: &str,
    old: &VariantRecord,
    new: &VariantRecord,
    spreads: &Spreads,
) {
    let where_ = format!("{experiment}/{}", new.name);
    for (i, c) in new.checkpoints.iter().enumerate() {
        let Some(oi) = old.checkpoints.iter().position(|o| o.label == c.label) else {
            cmp.not_compared.push(format!(
                "{where_} at {}: not reached in the baseline",
                c.label
            ));
            continue;
        };
        let oc = &old.checkpoints[oi];
        for p in &c.processes {
            let Some(op) = oc.process(&p.role) else {
                cmp.not_compared.push(format!(
                    "{where_} at {}: process {} not in the baseline",
                    c.label, p.role
                ));
                continue;
            };
            let at = At {
                experiment,
                variant: &new.name,
                checkpoint: &c.label,
                process: &p.role,
            };
            let before = (
                previous(&old.checkpoints, oi, &p.role),
                previous(&new.checkpoints, i, &p.role),
            );
            compare_process(cmp, spreads, &at, (op, p), before);
        }
    }
    for o in &old.checkpoints {
        if new.checkpoint(&o.label).is_none() {
            cmp.not_compared.push(format!(
                "{where_} at {}: reached in the baseline only",
                o.label
            ));
        }
    }
}

/// Where a metric was measured.
struct At<'a> {
    experiment: &'a str,
    variant: &'a str,
    checkpoint: &'a str,
    process: &'a str,
}

/// One process at one checkpoint, the baseline's and this run's (`now`), with
/// their snapshots at the checkpoint before, if any: faults of the phase,
/// whole-process changes over it, the own files' huge pages, and the regions.
fn compare_process(
    cmp: &mut Comparison,
    spreads: &Spreads,
    at: &At<'_>,
    (op, p): (&ProcessRecord, &ProcessRecord),
    before: (Option<&ProcessRecord>, Option<&ProcessRecord>),
) {
    let mut push = |metric: String, kind: MetricKind, baseline: i64, now: i64| {
        push_metric(cmp, spreads, at, metric, kind, (baseline, now));
    };
    push(
        "minor_faults".into(),
        MetricKind::Faults,
        signed(op.faults.minor),
        signed(p.faults.minor),
    );
    push(
        "major_faults".into(),
        MetricKind::Faults,
        signed(op.faults.major),
        signed(p.faults.major),
    );
    if let (Some(before_old), Some(before_new)) = before {
        let deltas = |before: &ProcessRecord, after: &ProcessRecord| {
            process_fields(before)
                .iter()
                .zip(process_fields(after))
                .map(|((name, a), (_, b))| (*name, signed(b).saturating_sub(signed(*a))))
                .collect::<Vec<_>>()
        };
        for ((name, a), (_, b)) in deltas(before_old, op)
            .into_iter()
            .zip(deltas(before_new, p))
        {
            push(format!("{name}_change"), MetricKind::Process, a, b);
        }
    }
    // Huge pages of the experiment's own files (library text collapsed
    // into huge pages by others is left out: it moves with the page cache).
    let (old_pmd, new_pmd) = (own_file_pmd_mapped(op), own_file_pmd_mapped(p));
    if old_pmd.is_some() || new_pmd.is_some() {
        push(
            "own_files.file_pmd_mapped_bytes".into(),
            MetricKind::Memory,
            signed(old_pmd.unwrap_or(0)),
            signed(new_pmd.unwrap_or(0)),
        );
    }
    let mut missing = Vec::new();
    for r in &p.regions {
        match op.region(&r.name) {
            Some(or) => {
                for ((name, a), (_, b)) in figure_fields(&or.figures)
                    .into_iter()
                    .zip(figure_fields(&r.figures))
                {
                    push(
                        format!("{}.{name}", r.name),
                        MetricKind::Memory,
                        signed(a),
                        signed(b),
                    );
                }
            }
            None => missing.push(format!(
                "{}/{} at {}: region {} of {} not in the baseline",
                at.experiment, at.variant, at.checkpoint, r.name, p.role
            )),
        }
    }
    cmp.not_compared.extend(missing);
}

/// Compares one metric, against the baseline's spread when it recorded one
/// (and by this run's median when it did), and records the outcome.
fn push_metric(
    cmp: &mut Comparison,
    spreads: &Spreads,
    at: &At<'_>,
    metric: String,
    kind: MetricKind,
    (baseline, now): (i64, i64),
) {
    let key = (
        at.experiment.to_string(),
        at.variant.to_string(),
        at.checkpoint.to_string(),
        at.process.to_string(),
        metric,
    );
    let (min, baseline, max) = spreads
        .baseline
        .get(&key)
        .copied()
        .unwrap_or((baseline, baseline, baseline));
    let now = spreads.now.get(&key).map_or(now, |s| s.1);
    let tolerance = cmp.tolerances.band(kind, baseline, cmp.page_size);
    let change = if now == baseline {
        Change::Unchanged
    } else if now > max.saturating_add_unsigned(tolerance) {
        Change::Increased
    } else if now < min.saturating_sub_unsigned(tolerance) {
        Change::Decreased
    } else {
        Change::WithinTolerance
    };
    let worse = Direction::of(&key.4);
    cmp.metrics.push(MetricComparison {
        experiment: key.0,
        variant: key.1,
        checkpoint: key.2,
        process: key.3,
        metric: key.4,
        kind,
        baseline,
        baseline_min: min,
        baseline_max: max,
        now,
        tolerance,
        change,
        worse,
    });
}

/// FilePmdMapped summed over the mappings of the experiment's own files (in
/// its temporary folder), if it maps any.
fn own_file_pmd_mapped(p: &ProcessRecord) -> Option<u64> {
    let own: Vec<_> = p
        .mappings
        .iter()
        .filter(|m| m.name.starts_with("<temp dir>"))
        .collect();
    (!own.is_empty()).then(|| {
        own.iter()
            .map(|m| m.other.get("FilePmdMapped").copied().unwrap_or(0))
            .sum()
    })
}

/// A counter as a signed figure; one beyond i64 (only a corrupt file has
/// one) is held at i64::MAX rather than turning negative.
fn signed(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests;
