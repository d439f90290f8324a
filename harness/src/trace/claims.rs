//! Claims about a program of one's own: a TOML file of criteria, checked
//! entirely before the program runs, and judged afterwards into the same
//! [`ClaimRecord`]s as the built-in experiments' claims, so reports, KTAP,
//! `compare` and baselines treat them alike.
//!
//! ```toml
//! source = "my-exercise.md"          # where the claims come from (default: this file)
//!
//! [[claim]]
//! id = "file-resident-after-read"
//! statement = "Reading every page makes the whole file resident"
//! at = "after-read"                  # a checkpoint label
//! process = "main"                   # a role (main, child-1, ...) or an index (0 = first)
//! mapping = { path_ends_with = "random" }   # or { name = "[heap]" }, { region = "data" }
//! figure = "rss"
//! op = ">="
//! percent_of = "size"                # 99% of the same selection's Size
//! percent = 99
//!
//! [[claim]]
//! id = "child-faults-few"
//! between = ["before-fork", "after-fork"]
//! process = "child-1"
//! figure = "minor_faults"
//! op = "<="
//! value = 16                         # or "64MiB", "16 pages"
//! tolerance = "1 page"               # optional, in the figure's unit, pages, bytes or %
//! expected = { verdict = "refuted", reason = "fault-around" }   # optional: a known refutation (XFAIL)
//! strict = true                      # optional: a refutation not declared fails (exit 1), as --strict
//! ```
//!
//! Without `mapping` a memory figure is the whole process's (smaps summed, so
//! Rss is exact). Faults are the phase's at `at`, and those counted from the
//! first checkpoint to the second with `between` (from fork, for a process that
//! did not exist at the first). A memory figure with `between` is the change.
//! A criterion that names a checkpoint, process or mapping the run does not
//! have is inconclusive, and says which.

use std::fmt;
use std::path::Path;

use serde::Deserialize;
use toml::Spanned;

use crate::model::{
    CheckpointRecord, ClaimRecord, ExperimentRecord, MemoryFigures, ProcessRecord, Verdict,
};

/// A figure vmlab records that a criterion can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Figure {
    /// Size: address space.
    Size,
    /// Rss: resident.
    Rss,
    /// Pss: resident, shared pages divided among their sharers.
    Pss,
    /// Private_Clean + Private_Dirty.
    Uss,
    /// Shared_Clean.
    SharedClean,
    /// Shared_Dirty.
    SharedDirty,
    /// Private_Clean.
    PrivateClean,
    /// Private_Dirty.
    PrivateDirty,
    /// Anonymous.
    Anonymous,
    /// AnonHugePages.
    AnonHugePages,
    /// Swap.
    Swap,
    /// Minor page faults.
    MinorFaults,
    /// Major page faults.
    MajorFaults,
    /// VmRSS of status (whole process only).
    VmRss,
    /// VmPTE of status (whole process only).
    Pte,
}

impl Figure {
    fn is_count(self) -> bool {
        matches!(self, Figure::MinorFaults | Figure::MajorFaults)
    }

    fn whole_process_only(self) -> bool {
        matches!(
            self,
            Figure::MinorFaults | Figure::MajorFaults | Figure::VmRss | Figure::Pte
        )
    }

    fn of(self, figures: &MemoryFigures) -> u64 {
        match self {
            Figure::Size => figures.size_bytes,
            Figure::Rss => figures.rss_bytes,
            Figure::Pss => figures.pss_bytes,
            Figure::Uss => figures.private_clean_bytes + figures.private_dirty_bytes,
            Figure::SharedClean => figures.shared_clean_bytes,
            Figure::SharedDirty => figures.shared_dirty_bytes,
            Figure::PrivateClean => figures.private_clean_bytes,
            Figure::PrivateDirty => figures.private_dirty_bytes,
            Figure::Anonymous => figures.anonymous_bytes,
            Figure::AnonHugePages => figures.anon_huge_pages_bytes,
            Figure::Swap => figures.swap_bytes,
            Figure::MinorFaults | Figure::MajorFaults | Figure::VmRss | Figure::Pte => 0,
        }
    }
}

impl fmt::Display for Figure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Figure::Size => "Size",
            Figure::Rss => "Rss",
            Figure::Pss => "Pss",
            Figure::Uss => "USS",
            Figure::SharedClean => "Shared_Clean",
            Figure::SharedDirty => "Shared_Dirty",
            Figure::PrivateClean => "Private_Clean",
            Figure::PrivateDirty => "Private_Dirty",
            Figure::Anonymous => "Anonymous",
            Figure::AnonHugePages => "AnonHugePages",
            Figure::Swap => "Swap",
            Figure::MinorFaults => "minor faults",
            Figure::MajorFaults => "major faults",
            Figure::VmRss => "VmRSS",
            Figure::Pte => "VmPTE",
        })
    }
}

/// A comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum Op {
    /// At least.
    #[serde(rename = ">=")]
    AtLeast,
    /// More than.
    #[serde(rename = ">")]
    MoreThan,
    /// At most.
    #[serde(rename = "<=")]
    AtMost,
    /// Less than.
    #[serde(rename = "<")]
    LessThan,
    /// Equal within the tolerance.
    #[serde(rename = "==")]
    Equal,
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Op::AtLeast => "≥",
            Op::MoreThan => ">",
            Op::AtMost => "≤",
            Op::LessThan => "<",
            Op::Equal => "=",
        })
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSpec {
    source: Option<String>,
    #[serde(default)]
    claim: Vec<Spanned<ClaimSpec>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClaimSpec {
    id: String,
    statement: Option<String>,
    at: Option<String>,
    between: Option<[String; 2]>,
    process: Option<ProcessSpec>,
    mapping: Option<MappingSpec>,
    figure: Figure,
    op: Op,
    value: Option<Amount>,
    percent_of: Option<Figure>,
    percent: Option<f64>,
    tolerance: Option<Amount>,
    expected: Option<ExpectedSpec>,
    #[serde(default)]
    strict: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpectedSpec {
    verdict: Verdict,
    reason: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum ProcessSpec {
    Index(usize),
    Role(String),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct MappingSpec {
    path_ends_with: Option<String>,
    name: Option<String>,
    region: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum Amount {
    Whole(u64),
    Real(f64),
    Text(String),
}

/// Which process of a checkpoint.
#[derive(Debug, Clone, PartialEq)]
pub enum ProcessSelector {
    /// By role (`main`, `child-1`).
    Role(String),
    /// By position in the checkpoint (0 = the first, the main process).
    Index(usize),
}

/// Which memory of the process.
#[derive(Debug, Clone, PartialEq)]
pub enum Selection {
    /// The whole process.
    Process,
    /// Every mapping whose path ends so, summed.
    PathEndsWith(String),
    /// Every mapping with exactly this name (`[heap]`), summed.
    Name(String),
    /// A region the program declared through the SDK.
    Region(String),
}

/// When.
#[derive(Debug, Clone, PartialEq)]
pub enum When {
    /// At one checkpoint.
    At(String),
    /// From the first checkpoint to the second.
    Between(String, String),
}

/// What the figure is compared with.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    /// A fixed amount in the figure's unit (bytes or a count).
    Value(f64),
    /// A percentage of another figure of the same selection, at the same time.
    PercentOf(Figure, f64),
}

/// An amount that may be in pages or a percentage, resolved when judged.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Tolerance {
    /// In the figure's unit.
    Units(f64),
    /// Pages, times the recorded page size.
    Pages(f64),
    /// A percentage of the target.
    Percent(f64),
}

/// One checked criterion.
#[derive(Debug, Clone, PartialEq)]
pub struct Criterion {
    /// Kebab-case id.
    pub id: String,
    /// The claim as its author put it.
    pub statement: Option<String>,
    /// When it is judged.
    pub when: When,
    /// Which process.
    pub process: ProcessSelector,
    /// Which memory.
    pub selection: Selection,
    /// What is measured.
    pub figure: Figure,
    /// How it is compared.
    pub op: Op,
    /// With what.
    pub target: Target,
    /// Allowed slack in the claim's favour.
    pub tolerance: Option<Tolerance>,
    /// Pages given in `value`, resolved with the page size when judged.
    pub target_pages: Option<f64>,
    /// The verdict its author expects on current kernels, and why (reported
    /// as XFAIL when that is what happens).
    pub expected: Option<(Verdict, String)>,
    /// `strict = true`: a refutation not declared in `expected` fails the run
    /// (`not ok`, exit 1), as `--strict` makes every claim do.
    pub strict: bool,
}

/// A checked claims file.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimsFile {
    /// Where the claims come from (recorded as each claim's source).
    pub source: String,
    /// The criteria, in file order.
    pub criteria: Vec<Criterion>,
}

/// A malformed claims file: the one line to show.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}{}: {message}", if *line > 0 { format!(", line {line}") } else { String::new() })]
pub struct ClaimsError {
    /// The file.
    pub path: String,
    /// 1-based line; 0 when the file as a whole could not be read.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// A claims file larger than this is a mistake, not a list of criteria.
const MAX_CLAIMS_FILE_BYTES: u64 = 1 << 20;

/// Reads and checks a claims file.
pub fn load(path: &Path) -> Result<ClaimsFile, ClaimsError> {
    let whole = |message: String| ClaimsError {
        path: path.display().to_string(),
        line: 0,
        message,
    };
    // Only a regular file of a sensible size is read (not /dev/zero, a FIFO,
    // or a /proc file whose size says 0), and never more than that size.
    let bytes = crate::store::read_capped(path, MAX_CLAIMS_FILE_BYTES).map_err(|e| {
        whole(match e.kind() {
            std::io::ErrorKind::InvalidInput if e.raw_os_error().is_none() => {
                "not a regular file; pass a TOML file of claims".into()
            }
            std::io::ErrorKind::FileTooLarge => {
                format!("more than a claims file holds (at most {MAX_CLAIMS_FILE_BYTES} bytes)")
            }
            _ => format!("cannot read it: {e}"),
        })
    })?;
    let text = String::from_utf8(bytes).map_err(|_| whole("not UTF-8 text".into()))?;
    let default_source = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| path.display().to_string());
    parse(&text, &path.display().to_string(), &default_source)
}

/// Parses and checks the text of a claims file; `path` names it in errors.
pub fn parse(text: &str, path: &str, default_source: &str) -> Result<ClaimsFile, ClaimsError> {
    let error = |offset: usize, message: String| ClaimsError {
        path: path.to_string(),
        line: line_of(text, offset),
        message,
    };
    let spec: FileSpec = toml::from_str(text).map_err(|e| {
        let offset = e.span().map_or(0, |s| s.start);
        error(offset, e.message().trim().replace('\n', "; "))
    })?;
    if spec.claim.is_empty() {
        return Err(error(
            0,
            "no [[claim]] tables; a claims file declares at least one".into(),
        ));
    }
    let mut criteria: Vec<Criterion> = Vec::new();
    for claim in spec.claim {
        let offset = claim.span().start;
        let c = claim.into_inner();
        let criterion = check(c).map_err(|m| error(offset, m))?;
        if criteria.iter().any(|other| other.id == criterion.id) {
            return Err(error(
                offset,
                format!("claim id '{}' is used twice", criterion.id),
            ));
        }
        criteria.push(criterion);
    }
    Ok(ClaimsFile {
        source: spec.source.unwrap_or_else(|| default_source.to_string()),
        criteria,
    })
}

/// An amount in the figure's unit, or in pages (`Err` with the reason).
fn amount(value: &Amount, figure: Figure, what: &str) -> Result<(f64, bool), String> {
    match value {
        Amount::Whole(n) => Ok((*n as f64, false)),
        Amount::Real(x) if *x >= 0.0 => Ok((*x, false)),
        Amount::Real(x) => Err(format!("{what} {x} is negative")),
        Amount::Text(text) => {
            let t = text.trim();
            if let Some(pages) = t.strip_suffix("pages").or_else(|| t.strip_suffix("page")) {
                if figure.is_count() {
                    return Err(format!(
                        "{what} '{text}' is in pages, but {figure} are a count"
                    ));
                }
                let n: f64 = pages
                    .trim()
                    .parse()
                    .map_err(|_| format!("{what} '{text}' is not a number of pages"))?;
                return Ok((n, true));
            }
            if figure.is_count() {
                return Err(format!(
                    "{what} '{text}' is not a count; {figure} take a plain number"
                ));
            }
            crate::cli::parse_size(t)
                .map(|b| (b as f64, false))
                .map_err(|e| format!("{what}: {e}"))
        }
    }
}

fn check(c: ClaimSpec) -> Result<Criterion, String> {
    if !experiments::protocol::is_valid_name(&c.id) {
        return Err(format!(
            "claim id '{}' must be lower-case letters, digits, '-' and '_'",
            c.id
        ));
    }
    let when = check_when(&c.id, c.at, c.between)?;
    let process = match c.process {
        None => ProcessSelector::Role("main".into()),
        Some(ProcessSpec::Role(r)) => ProcessSelector::Role(r),
        Some(ProcessSpec::Index(i)) => ProcessSelector::Index(i),
    };
    let selection = check_mapping(&c.id, c.mapping)?;
    if selection != Selection::Process && c.figure.whole_process_only() {
        return Err(format!(
            "claim '{}': {} are counted per process, not per mapping; drop `mapping`",
            c.id, c.figure
        ));
    }
    let (target, target_pages) = check_target(
        &c.id,
        c.value.as_ref(),
        (c.percent_of, c.percent),
        c.figure,
        &selection,
    )?;
    let tolerance = check_tolerance(c.tolerance, c.figure)?;
    check_sense(
        &c.id,
        &when,
        c.figure,
        c.op,
        &target,
        target_pages.is_some(),
        tolerance,
    )?;
    Ok(Criterion {
        id: c.id,
        statement: c.statement,
        when,
        process,
        selection,
        figure: c.figure,
        op: c.op,
        target,
        tolerance,
        target_pages,
        expected: c.expected.map(|e| (e.verdict, e.reason)),
        strict: c.strict,
    })
}

/// `at` one checkpoint or `between` two: exactly one of them.
fn check_when(id: &str, at: Option<String>, between: Option<[String; 2]>) -> Result<When, String> {
    match (at, between) {
        (Some(at), None) => Ok(When::At(at)),
        (None, Some([a, b])) => Ok(When::Between(a, b)),
        (Some(_), Some(_)) => Err(format!(
            "claim '{id}' has both `at` and `between`; give one"
        )),
        (None, None) => Err(format!(
            "claim '{id}' needs `at = \"LABEL\"` or `between = [\"A\", \"B\"]`"
        )),
    }
}

/// The whole process, or the mappings `mapping` picks by exactly one key.
fn check_mapping(id: &str, mapping: Option<MappingSpec>) -> Result<Selection, String> {
    let Some(m) = mapping else {
        return Ok(Selection::Process);
    };
    match (m.path_ends_with, m.name, m.region) {
        (Some(p), None, None) => Ok(Selection::PathEndsWith(p)),
        (None, Some(n), None) => Ok(Selection::Name(n)),
        (None, None, Some(r)) => Ok(Selection::Region(r)),
        _ => Err(format!(
            "claim '{id}': `mapping` takes exactly one of path_ends_with, name, region"
        )),
    }
}

/// What the figure is compared with: a value (and its page count, when given
/// in pages) or a percentage of another figure of the same kind.
fn check_target(
    id: &str,
    value: Option<&Amount>,
    (percent_of, percent): (Option<Figure>, Option<f64>),
    figure: Figure,
    selection: &Selection,
) -> Result<(Target, Option<f64>), String> {
    match (value, percent_of, percent) {
        (Some(v), None, None) => {
            let (n, pages) = amount(v, figure, "value")?;
            Ok((Target::Value(n), pages.then_some(n)))
        }
        (None, Some(of), Some(p)) if p >= 0.0 && p.is_finite() => {
            if of.is_count() != figure.is_count()
                || of.whole_process_only() && *selection != Selection::Process
            {
                return Err(format!(
                    "claim '{id}': {figure} cannot be a percentage of {of}"
                ));
            }
            Ok((Target::PercentOf(of, p), None))
        }
        (None, Some(_), None) => Err(format!("claim '{id}': `percent_of` needs `percent`")),
        _ => Err(format!(
            "claim '{id}' needs `value = N` or `percent_of = \"FIGURE\"` with `percent = P`"
        )),
    }
}

/// The tolerance: a percentage, a number of pages, or units of the figure.
fn check_tolerance(tolerance: Option<Amount>, figure: Figure) -> Result<Option<Tolerance>, String> {
    match tolerance {
        None => Ok(None),
        Some(Amount::Text(t)) if t.trim().ends_with('%') => {
            let p: f64 = t
                .trim()
                .trim_end_matches('%')
                .trim()
                .parse()
                .map_err(|_| format!("tolerance '{t}' is not a percentage"))?;
            Ok(Some(Tolerance::Percent(p)))
        }
        Some(a) => {
            let (n, pages) = amount(&a, figure, "tolerance")?;
            Ok(Some(if pages {
                Tolerance::Pages(n)
            } else {
                Tolerance::Units(n)
            }))
        }
    }
}

/// Refuses a criterion that could never fail or never hold, whatever is
/// measured: a tolerance as large as the value it is around (or a percentage
/// of 100 or more), `< 0` or `>= 0` of a figure that cannot be negative (one
/// taken at a checkpoint, or a fault count).
fn check_sense(
    id: &str,
    when: &When,
    figure: Figure,
    op: Op,
    target: &Target,
    target_in_pages: bool,
    tolerance: Option<Tolerance>,
) -> Result<(), String> {
    let value = match target {
        Target::Value(v) => Some(*v),
        Target::PercentOf(_, p) => Some(*p),
    };
    match (tolerance, target) {
        (Some(Tolerance::Percent(p)), _) if !(0.0..100.0).contains(&p) => {
            return Err(format!(
                "claim '{id}': tolerance {p}% must be at least 0% and under 100%"
            ));
        }
        (Some(Tolerance::Units(t)), Target::Value(v))
            if !target_in_pages && *v > 0.0 && t >= *v =>
        {
            return Err(format!(
                "claim '{id}': tolerance {t} is as large as the value {v} itself, so the claim would hold for almost anything; use a smaller tolerance"
            ));
        }
        (Some(Tolerance::Pages(t)), Target::Value(v)) if target_in_pages && *v > 0.0 && t >= *v => {
            return Err(format!(
                "claim '{id}': tolerance {t} pages is as large as the value {v} pages itself; use a smaller tolerance"
            ));
        }
        _ => {}
    }
    let never_negative = matches!(when, When::At(_)) || figure.is_count();
    if never_negative && value == Some(0.0) {
        match op {
            Op::LessThan => {
                return Err(format!(
                    "claim '{id}': {figure} < 0 can never hold ({figure} is never negative here)"
                ))
            }
            Op::AtLeast => {
                return Err(format!(
                    "claim '{id}': {figure} >= 0 always holds ({figure} is never negative here), so it tests nothing"
                ))
            }
            _ => {}
        }
    }
    Ok(())
}

impl fmt::Display for ProcessSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProcessSelector::Role(r) => write!(f, "{r}"),
            ProcessSelector::Index(i) => write!(f, "process #{i}"),
        }
    }
}

impl fmt::Display for Selection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Selection::Process => f.write_str("whole process"),
            Selection::PathEndsWith(p) => write!(f, "mappings whose path ends in '{p}'"),
            Selection::Name(n) => write!(f, "mappings named '{n}'"),
            Selection::Region(r) => write!(f, "region '{r}'"),
        }
    }
}

fn show(figure: Figure, value: f64) -> String {
    if figure.is_count() {
        format!("{value:.0}")
    } else if value.abs() >= (1 << 20) as f64 {
        format!("{:.2} MiB", value / (1 << 20) as f64)
    } else {
        format!("{:.0} KiB", value / 1024.0)
    }
}

impl Criterion {
    /// The criterion in words, as recorded before measuring.
    pub fn describe(&self) -> String {
        let when = match &self.when {
            When::At(a) => format!("at {a}"),
            When::Between(a, b) => format!("from {a} to {b}"),
        };
        let target = match &self.target {
            Target::Value(v) => match self.target_pages {
                Some(p) => format!("{p} pages"),
                None => show(self.figure, *v),
            },
            Target::PercentOf(of, p) => format!("{p}% of {of}"),
        };
        let tolerance = match self.tolerance {
            None => String::new(),
            Some(Tolerance::Units(u)) => format!(" within {}", show(self.figure, u)),
            Some(Tolerance::Pages(p)) => format!(" within {p} pages"),
            Some(Tolerance::Percent(p)) => format!(" within {p}%"),
        };
        let change = matches!(self.when, When::Between(..)) && !self.figure.is_count();
        format!(
            "{when}, {} ({}): {}{} {} {target}{tolerance}",
            self.process,
            self.selection,
            if change { "change of " } else { "" },
            self.figure,
            self.op
        )
    }
}

fn find_process<'a>(cp: &'a CheckpointRecord, who: &ProcessSelector) -> Option<&'a ProcessRecord> {
    match who {
        ProcessSelector::Role(r) => cp.process(r),
        ProcessSelector::Index(i) => cp.processes.get(*i),
    }
}

/// The figure of one process at one checkpoint, or why it cannot be read.
fn figure_at(
    p: &ProcessRecord,
    selection: &Selection,
    figure: Figure,
    phase: bool,
) -> Result<f64, String> {
    let value = match figure {
        Figure::MinorFaults => {
            if phase {
                p.faults.minor
            } else {
                p.faults_total.minor
            }
        }
        Figure::MajorFaults => {
            if phase {
                p.faults.major
            } else {
                p.faults_total.major
            }
        }
        Figure::VmRss => p.totals.rss_bytes,
        Figure::Pte => p.totals.pte_bytes,
        _ => {
            let mut sum = MemoryFigures::default();
            let mut found = 0;
            match selection {
                Selection::Region(name) => match p.region(name) {
                    Some(r) if r.mapping_count > 0 => {
                        sum = r.figures.clone();
                        found = 1;
                    }
                    _ => {}
                },
                _ => {
                    for m in &p.mappings {
                        let hit = match selection {
                            Selection::Process => true,
                            Selection::PathEndsWith(s) => {
                                m.name.starts_with('/') && m.name.ends_with(s.as_str())
                            }
                            Selection::Name(n) => m.name == *n,
                            Selection::Region(_) => false,
                        };
                        if hit {
                            sum.add(&m.figures);
                            found += 1;
                        }
                    }
                }
            }
            if found == 0 {
                return Err(format!("{} has no {selection}", p.role));
            }
            figure.of(&sum)
        }
    };
    Ok(value as f64)
}

struct Measured {
    value: f64,
    target: f64,
    detail: String,
}

fn measure(c: &Criterion, e: &ExperimentRecord) -> Result<Measured, String> {
    let variant = e.variants.first().ok_or("the program did not run")?;
    let checkpoint = |label: &str| {
        variant.checkpoint(label).ok_or_else(|| {
            let labels: Vec<&str> = variant
                .checkpoints
                .iter()
                .map(|c| c.label.as_str())
                .collect();
            format!(
                "checkpoint '{label}' was not reached (the run has: {})",
                if labels.is_empty() {
                    "none".to_string()
                } else {
                    labels.join(", ")
                }
            )
        })
    };
    let process = |cp: &'_ CheckpointRecord| -> Result<ProcessRecord, String> {
        find_process(cp, &c.process).cloned().ok_or_else(|| {
            let roles: Vec<&str> = cp.processes.iter().map(|p| p.role.as_str()).collect();
            format!(
                "no {} at checkpoint {} (processes there: {})",
                c.process,
                cp.label,
                roles.join(", ")
            )
        })
    };
    let read = |figure: Figure| -> Result<f64, String> {
        match &c.when {
            When::At(a) => {
                let cp = checkpoint(a)?;
                figure_at(&process(cp)?, &c.selection, figure, true)
                    .map_err(|m| format!("at {a}, {m}"))
            }
            When::Between(a, b) => {
                let (from, to) = (checkpoint(a)?, checkpoint(b)?);
                let later = figure_at(&process(to)?, &c.selection, figure, false)
                    .map_err(|m| format!("at {b}, {m}"))?;
                let earlier = match process(from) {
                    Ok(p) if figure.is_count() && p.pid != process(to)?.pid => 0.0,
                    Ok(p) => figure_at(&p, &c.selection, figure, false)
                        .map_err(|m| format!("at {a}, {m}"))?,
                    // Not yet forked: its counters start at zero.
                    Err(_) if figure.is_count() => 0.0,
                    Err(m) => return Err(m),
                };
                Ok(later - earlier)
            }
        }
    };
    let value = read(c.figure)?;
    let (target, against) = match &c.target {
        Target::Value(v) => (*v, String::new()),
        Target::PercentOf(of, p) => {
            let base = read(*of)?;
            (
                base * p / 100.0,
                format!(" against {p}% of {of} {}", show(*of, base)),
            )
        }
    };
    Ok(Measured {
        value,
        target,
        detail: against,
    })
}

/// Judges every criterion of `file` on `experiment` (a traced program's record).
pub fn judge(file: &ClaimsFile, experiment: &ExperimentRecord, page_size: u64) -> Vec<ClaimRecord> {
    file.criteria
        .iter()
        .map(|c| judge_one(c, &file.source, experiment, page_size))
        .collect()
}

fn judge_one(c: &Criterion, source: &str, e: &ExperimentRecord, page_size: u64) -> ClaimRecord {
    let criterion = c.describe();
    let mut record = ClaimRecord {
        id: c.id.clone(),
        variant: None,
        source: source.to_string(),
        statement: c.statement.clone().unwrap_or_else(|| criterion.clone()),
        verdict: Verdict::Inconclusive,
        evidence: String::new(),
        criterion,
        measured: String::new(),
        expected: None,
        precondition: None,
        strict: c.strict,
        disturbance: None,
        attempts: None,
    };
    if let Some((verdict, reason)) = &c.expected {
        record = record.expecting(*verdict, reason.clone());
    }
    let mut m = match measure(c, e) {
        Ok(m) => m,
        Err(reason) => {
            record.evidence = reason;
            return record;
        }
    };
    if let Some(pages) = c.target_pages {
        m.target = pages * page_size as f64;
    }
    let slack = match c.tolerance {
        None => 0.0,
        Some(Tolerance::Units(u)) => u,
        Some(Tolerance::Pages(p)) => p * page_size as f64,
        Some(Tolerance::Percent(p)) => m.target.abs() * p / 100.0,
    };
    let holds = match c.op {
        Op::AtLeast => m.value >= m.target - slack,
        Op::MoreThan => m.value > m.target - slack,
        Op::AtMost => m.value <= m.target + slack,
        Op::LessThan => m.value < m.target + slack,
        Op::Equal => (m.value - m.target).abs() <= slack,
    };
    record.verdict = if holds {
        Verdict::Confirmed
    } else {
        Verdict::Refuted
    };
    let pages = if c.figure.is_count() || page_size == 0 {
        String::new()
    } else {
        format!(" ({:.0} pages)", m.value / page_size as f64)
    };
    record.measured = format!("{} {}{pages}", c.figure, show(c.figure, m.value));
    record.evidence = format!(
        "{} {}{pages}{}, target {} {}; the criterion {}",
        c.figure,
        show(c.figure, m.value),
        m.detail,
        c.op,
        show(c.figure, m.target),
        if holds { "holds" } else { "does not hold" }
    );
    if let Some(moving) = read_while_running(c, e) {
        record.evidence.push_str(&format!(
            "; {moving}, so its figures moved while read and depend on the timing"
        ));
    }
    record
}

/// Where the process a criterion reads was running (not held at the
/// checkpoint) when it was read: `child-1 was running at after-fork`.
fn read_while_running(c: &Criterion, e: &ExperimentRecord) -> Option<String> {
    let variant = e.variants.first()?;
    let labels: Vec<&str> = match &c.when {
        When::At(a) => vec![a.as_str()],
        When::Between(a, b) => vec![a.as_str(), b.as_str()],
    };
    let moving: Vec<String> = labels
        .into_iter()
        .filter_map(|label| {
            let p = find_process(variant.checkpoint(label)?, &c.process)?;
            let state = p.state.filter(|s| s.moving())?;
            Some(format!("{} was {state} at {label}", p.role))
        })
        .collect();
    (!moving.is_empty()).then(|| moving.join(" and "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_that_cannot_fail_or_cannot_hold_are_refused() {
        let base = "[[claim]]\nid = \"c\"\nat = \"a\"\nfigure = \"rss\"\n";
        for (rest, why) in [
            ("op = \"<\"\nvalue = 0\n", "can never hold"),
            ("op = \">=\"\nvalue = 0\n", "always holds"),
            (
                "op = \"==\"\nvalue = 4096\ntolerance = 8192\n",
                "as large as the value",
            ),
            (
                "op = \"==\"\nvalue = 4096\ntolerance = \"150%\"\n",
                "under 100%",
            ),
            (
                "op = \"==\"\nvalue = 4096\ntolerance = \"-5%\"\n",
                "under 100%",
            ),
        ] {
            let text = format!("{base}{rest}");
            let e = parse(&text, "c.toml", "c.toml")
                .expect_err(&text)
                .to_string();
            assert!(e.contains(why), "{text}: {e}");
        }
        let fine = format!("{base}op = \"<=\"\nvalue = 0\ntolerance = \"1 page\"\n");
        parse(&fine, "c.toml", "c.toml").expect("a tolerance around 0 is fine");
    }

    const GOOD: &str = r#"
source = "exercise.md"

[[claim]]
id = "file-resident"
at = "after-read"
mapping = { path_ends_with = "random" }
figure = "rss"
op = ">="
percent_of = "size"
percent = 99

[[claim]]
id = "child-faults"
between = ["before-fork", "after-fork"]
process = "child-1"
figure = "minor_faults"
op = "<="
value = 16
"#;

    #[test]
    fn a_good_file_gives_its_criteria_in_order() {
        let file = parse(GOOD, "c.toml", "c.toml").expect("parses");
        assert_eq!(file.source, "exercise.md");
        assert_eq!(file.criteria.len(), 2);
        assert_eq!(
            file.criteria[0].selection,
            Selection::PathEndsWith("random".into())
        );
        assert_eq!(
            file.criteria[1].when,
            When::Between("before-fork".into(), "after-fork".into())
        );
        assert_eq!(
            file.criteria[0].describe(),
            "at after-read, main (mappings whose path ends in 'random'): Rss ≥ 99% of Size"
        );
    }

    #[test]
    fn errors_name_the_line() {
        let bad_syntax = "[[claim]]\nid = \"a\"\nat = after\n";
        let e = parse(bad_syntax, "c.toml", "c").unwrap_err();
        assert_eq!(e.line, 3, "{e}");
        let unknown = GOOD.replace("figure = \"minor_faults\"", "figure = \"minor_fault\"");
        let e = parse(&unknown, "c.toml", "c").unwrap_err();
        assert_eq!(e.line, 17, "{e}");
        assert!(e.to_string().starts_with("c.toml, line 17:"), "{e}");
        let faults_per_mapping = GOOD.replace("figure = \"rss\"", "figure = \"major_faults\"");
        let e = parse(&faults_per_mapping, "c.toml", "c").unwrap_err();
        assert!(e.message.contains("per process"), "{e}");
        let no_when = "[[claim]]\nid = \"a\"\nfigure = \"rss\"\nop = \">=\"\nvalue = 1\n";
        assert!(parse(no_when, "c.toml", "c")
            .unwrap_err()
            .message
            .contains("`at"));
        let twice = format!("{GOOD}\n[[claim]]\nid = \"file-resident\"\nat = \"x\"\nfigure = \"rss\"\nop = \">=\"\nvalue = 1\n");
        assert!(parse(&twice, "c.toml", "c")
            .unwrap_err()
            .message
            .contains("twice"));
    }

    use crate::model::{Faults, MappingRecord, Status, Totals};

    fn proc_at(
        role: &str,
        pid: i32,
        minor_total: u64,
        minor_phase: u64,
        file_rss: u64,
    ) -> ProcessRecord {
        ProcessRecord {
            role: role.into(),
            pid,
            faults: Faults {
                minor: minor_phase,
                major: 0,
            },
            faults_total: Faults {
                minor: minor_total,
                major: 0,
            },
            totals: Totals::default(),
            regions: Vec::new(),
            mappings: vec![MappingRecord {
                start: crate::model::Address(0x1000),
                end: crate::model::Address(0x401000),
                name: "/tmp/x/data-random".into(),
                perms: "r--p".into(),
                offset_bytes: 0,
                figures: MemoryFigures {
                    size_bytes: 4 << 20,
                    rss_bytes: file_rss,
                    ..Default::default()
                },
                other: Default::default(),
                vm_flags: String::new(),
            }],
            io: None,
            state: None,
        }
    }

    fn run_of(checkpoints: Vec<(&str, Vec<ProcessRecord>)>) -> ExperimentRecord {
        ExperimentRecord {
            name: "trace-x".into(),
            status: Status::Ok,
            reason: None,
            params: Default::default(),
            variants: vec![crate::experiment::testkit::variant(
                "default",
                &[],
                checkpoints,
            )],
            claims: Vec::new(),
            summary: Vec::new(),
            fault_costs: Vec::new(),
        }
    }

    // See: issue 31
    #[test]
    fn a_verdict_on_a_process_read_while_running_says_so() {
        let file = parse(GOOD, "c.toml", "c.toml").expect("parses");
        let mut child = proc_at("child-1", 11, 12, 12, 4 << 20);
        child.state = Some(crate::model::ProcessState::Running);
        let mut main = proc_at("main", 10, 121, 1, 4 << 20);
        main.state = Some(crate::model::ProcessState::Waiting);
        let run = run_of(vec![
            ("before-fork", vec![proc_at("main", 10, 100, 100, 0)]),
            ("after-read", vec![main.clone()]),
            ("after-fork", vec![main, child]),
        ]);
        let claims = judge(&file, &run, 4096);
        assert!(!claims[0].evidence.contains("running"), "{:?}", claims[0]);
        assert!(
            claims[1]
                .evidence
                .ends_with("; child-1 was running at after-fork, so its figures moved while read and depend on the timing"),
            "{:?}",
            claims[1]
        );
    }

    #[test]
    fn criteria_are_judged_on_the_record_both_ways() {
        let file = parse(GOOD, "c.toml", "c.toml").expect("parses");
        let full = run_of(vec![
            ("before-fork", vec![proc_at("main", 10, 100, 100, 0)]),
            ("after-read", vec![proc_at("main", 10, 120, 20, 4 << 20)]),
            (
                "after-fork",
                vec![
                    proc_at("main", 10, 121, 1, 4 << 20),
                    proc_at("child-1", 11, 12, 12, 4 << 20),
                ],
            ),
        ]);
        let claims = judge(&file, &full, 4096);
        assert_eq!(claims[0].verdict, Verdict::Confirmed, "{:?}", claims[0]);
        assert_eq!(claims[0].source, "exercise.md");
        // The child did not exist at before-fork: its 12 faults count from fork.
        assert_eq!(claims[1].verdict, Verdict::Confirmed, "{:?}", claims[1]);
        assert_eq!(claims[1].measured, "minor faults 12");

        let short = run_of(vec![
            ("before-fork", vec![proc_at("main", 10, 100, 100, 0)]),
            ("after-read", vec![proc_at("main", 10, 120, 20, 1 << 20)]),
            (
                "after-fork",
                vec![
                    proc_at("main", 10, 121, 1, 1 << 20),
                    proc_at("child-1", 11, 40, 40, 0),
                ],
            ),
        ]);
        let claims = judge(&file, &short, 4096);
        assert_eq!(claims[0].verdict, Verdict::Refuted);
        assert_eq!(claims[1].verdict, Verdict::Refuted);
        assert!(!claims[1].criterion.is_empty());
    }

    #[test]
    fn absent_checkpoints_and_processes_are_inconclusive_with_the_reason() {
        let file = parse(GOOD, "c.toml", "c.toml").expect("parses");
        let run = run_of(vec![(
            "before-fork",
            vec![proc_at("main", 10, 100, 100, 0)],
        )]);
        let claims = judge(&file, &run, 4096);
        assert_eq!(claims[0].verdict, Verdict::Inconclusive);
        assert!(
            claims[0]
                .evidence
                .contains("checkpoint 'after-read' was not reached"),
            "{}",
            claims[0].evidence
        );
        let no_child = run_of(vec![
            ("before-fork", vec![proc_at("main", 10, 100, 100, 0)]),
            ("after-fork", vec![proc_at("main", 10, 101, 1, 0)]),
        ]);
        let claims = judge(&file, &no_child, 4096);
        assert_eq!(claims[1].verdict, Verdict::Inconclusive);
        assert!(
            claims[1]
                .evidence
                .contains("no child-1 at checkpoint after-fork"),
            "{}",
            claims[1].evidence
        );
    }
}
