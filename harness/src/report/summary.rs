//! The summary a run ends with: the machine and the sizes, the writings'
//! statements, then per experiment each claim as a block (verdict and name,
//! the writing's sentence, the measured figure, why for a refutation, the
//! criterion under `-v`), then one tally line. It is what `all`, `run` and
//! `show` print by default; results.md and results.html use its pieces.
//! Every line is wrapped to the width, none cut; tables and deltas come
//! before it with `--detail`.

use std::fmt::Write;

use super::table::{self, drop_order, fit, layout};
use super::width::{wrap, wrap_hanging};
use crate::explain::cite;
use crate::model::{ClaimRecord, ExperimentRecord, RunRecord, Status, Verdict};
use crate::outcome::Outcome;

/// How many claims and experiments came out which way.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// Claims judged.
    pub claims: usize,
    /// Confirmed: the writing was right on this kernel.
    pub confirmed: usize,
    /// Refuted, all together.
    pub refuted: usize,
    /// Of the refuted, those the experiment declared in advance (xfail).
    pub refuted_expected: usize,
    /// Confirmed although a refutation was declared (xpass).
    pub confirmed_unexpectedly: usize,
    /// A stated condition was not met.
    pub inconclusive: usize,
    /// Experiments in the run.
    pub experiments: usize,
    /// Experiments skipped with a reason.
    pub skipped: usize,
    /// Experiments that failed (crashed, hung, interrupted).
    pub failed: usize,
}

impl Tally {
    /// Counts a run.
    pub fn of(run: &RunRecord) -> Tally {
        let mut t = Tally {
            experiments: run.experiments.len(),
            ..Tally::default()
        };
        for e in &run.experiments {
            match e.status {
                Status::Ok => {}
                Status::Skipped => t.skipped += 1,
                Status::Failed => t.failed += 1,
            }
            for c in &e.claims {
                t.claims += 1;
                match c.verdict {
                    Verdict::Confirmed => t.confirmed += 1,
                    Verdict::Refuted => t.refuted += 1,
                    Verdict::Inconclusive => t.inconclusive += 1,
                }
                match Outcome::of_claim(c) {
                    Outcome::XFail => t.refuted_expected += 1,
                    Outcome::XPass => t.confirmed_unexpectedly += 1,
                    _ => {}
                }
            }
        }
        t
    }

    /// `95 claims: 88 confirmed, 5 refuted (3 expected), 2 inconclusive; 9 experiments`.
    pub fn line(&self) -> String {
        let mut out = format!(
            "{} claims: {} confirmed, {} refuted",
            self.claims, self.confirmed, self.refuted
        );
        if self.refuted_expected > 0 {
            let _ = write!(out, " ({} expected)", self.refuted_expected);
        }
        let _ = write!(out, ", {} inconclusive", self.inconclusive);
        if self.confirmed_unexpectedly > 0 {
            let _ = write!(
                out,
                ", {} confirmed against expectation",
                self.confirmed_unexpectedly
            );
        }
        let _ = write!(
            out,
            "; {} experiment{}",
            self.experiments,
            if self.experiments == 1 { "" } else { "s" }
        );
        if self.skipped > 0 {
            let _ = write!(out, ", {} skipped", self.skipped);
        }
        if self.failed > 0 {
            let _ = write!(out, ", {} FAILED", self.failed);
        }
        out
    }
}

/// The run's tally line: the writings' statements first (what they say,
/// each counted once), then the claims that judged them.
pub fn tally_line(run: &RunRecord, tally: &Tally) -> String {
    let statements = crate::statements::Tally::of_run(run);
    if statements.writings.is_empty() {
        return tally.line();
    }
    format!("{}; {}", statements.line(), tally.line())
}

pub use super::table::verdict_cell;

/// The parameter a run records when `--size` chose the experiments' main
/// size, in bytes (the header says so rather than "full sizes").
pub const SIZE_PARAM: &str = "size_option_bytes";

/// The claim's name with its variant (`first-read-few-pages [cold]`).
pub fn claim_name(claim: &ClaimRecord) -> String {
    match &claim.variant {
        Some(v) => format!("{} [{v}]", claim.id),
        None => claim.id.clone(),
    }
}

/// What was measured, in a few words; the evidence where the experiment did
/// not record a figure.
pub fn measured(claim: &ClaimRecord) -> &str {
    if claim.measured.is_empty() {
        claim.evidence.as_str()
    } else {
        claim.measured.as_str()
    }
}

/// What was measured against what the criterion asked, in a few words; the
/// evidence where the experiment did not record a figure.
pub fn figures(claim: &ClaimRecord) -> String {
    if claim.criterion.is_empty() {
        measured(claim).to_string()
    } else {
        format!("{} (criterion: {})", measured(claim), claim.criterion)
    }
}

/// Why a claim did not hold, in one sentence: the mechanism declared with a
/// known refutation, else the evidence (which says why where the kernel
/// differs); for an inconclusive claim, the condition that was not met.
pub fn reason(claim: &ClaimRecord) -> Option<&str> {
    match claim.verdict {
        Verdict::Confirmed => None,
        Verdict::Refuted => Some(
            claim
                .expected
                .as_ref()
                .filter(|e| e.verdict == Verdict::Refuted && !e.reason.is_empty())
                .map_or(claim.evidence.as_str(), |e| e.reason.as_str()),
        ),
        Verdict::Inconclusive => Some(claim.evidence.as_str()),
    }
}

/// The verdict column's width, and the indent of a claim's following lines.
const VERDICT_COLUMN: &str = "               ";

/// One claim, or one group of alike claims (see [`group_claims`]), as a
/// block of lines none wider than `width`: the verdict and the name, the
/// writing's sentence, the measured figure (per variant where they differ),
/// the reason for a refutation, and with `criteria` the criterion. Nothing is
/// cut: every part wraps.
pub fn claim_block(group: &[&ClaimRecord], width: usize, criteria: bool) -> String {
    let first = group[0];
    let name = if group.len() == 1 {
        claim_name(first)
    } else {
        let variants: Vec<&str> = group.iter().filter_map(|c| c.variant.as_deref()).collect();
        let list = variants.join(", ");
        if list.chars().count() <= MAX_VARIANT_LIST {
            format!("{} [{list}]", first.id)
        } else {
            format!("{} [{} variants]", first.id, group.len())
        }
    };
    let head = format!("  {:<13}", verdict_cell(first));
    let mut out = wrap_hanging(&name, width, &head, VERDICT_COLUMN);
    out.push_str(&wrap(&first.statement, width, VERDICT_COLUMN));
    let same = group.iter().all(|c| measured(c) == measured(first));
    let figures = if same || group.len() == 1 {
        measured(first).to_string()
    } else {
        group
            .iter()
            .map(|c| format!("{}: {}", c.variant.as_deref().unwrap_or("-"), measured(c)))
            .collect::<Vec<_>>()
            .join("; ")
    };
    if !figures.is_empty() {
        out.push_str(&wrap(
            &format!("measured: {figures}"),
            width,
            VERDICT_COLUMN,
        ));
    }
    if let Some(why) = reason(first).filter(|r| !r.is_empty() && *r != measured(first)) {
        out.push_str(&wrap(&format!("why: {why}"), width, VERDICT_COLUMN));
    }
    if criteria && !first.criterion.is_empty() {
        out.push_str(&wrap(
            &format!("criterion: {}", first.criterion),
            width,
            VERDICT_COLUMN,
        ));
    }
    out
}

/// The heading line of one experiment: name, variants, sources (wrap it to
/// the width where it is printed).
pub fn experiment_line(e: &ExperimentRecord) -> String {
    let sources: Vec<String> = experiments::CATALOG
        .iter()
        .find(|i| i.name == e.name)
        .map(|i| i.sources.iter().map(|s| cite(s)).collect())
        .unwrap_or_default();
    let state = match e.status {
        Status::Ok => format!(
            "{} variant{}",
            e.variants.len(),
            if e.variants.len() == 1 { "" } else { "s" }
        ),
        Status::Skipped => format!("skipped: {}", e.reason.as_deref().unwrap_or("")),
        Status::Failed => format!("FAILED: {}", e.reason.as_deref().unwrap_or("")),
    };
    let mut line = format!("{} ({state})", e.name);
    if !sources.is_empty() {
        let _ = write!(line, ", from {}", sources.join("; "));
    }
    line
}

/// Which sizes the run used: `--quick`, `--size`, the experiments' own full
/// sizes, or none to speak of (a traced program's run has no sizes of its own).
fn sizes(run: &RunRecord) -> Option<String> {
    if run.quick {
        return Some("--quick sizes".into());
    }
    if let Some(size) = run
        .experiments
        .iter()
        .find_map(|e| e.params.get(SIZE_PARAM).and_then(|v| v.as_u64()))
    {
        return Some(format!("--size {}", crate::units::human_bytes(size)));
    }
    let built_in = run
        .experiments
        .iter()
        .any(|e| experiments::CATALOG.iter().any(|i| i.name == e.name));
    built_in.then(|| "full sizes".into())
}

/// One line about the machine and the sizes (wrapped at `width` if need be,
/// without its last newline).
pub fn machine_line(run: &RunRecord, width: usize) -> String {
    let env = &run.environment;
    let mut line = format!(
        "vmlab {} on Linux {}, THP {}, {} CPUs",
        run.vmlab_version, env.kernel, env.thp_enabled, env.cpu_count,
    );
    if let Some(sizes) = sizes(run) {
        let _ = write!(line, ", {sizes}");
    }
    wrap(&line, width, "").trim_end().to_string()
}

/// The footnote the `*` and `!` of the verdict column need, if any claim has one.
pub fn legend(tally: &Tally) -> Option<&'static str> {
    match (tally.refuted_expected > 0, tally.confirmed_unexpectedly > 0) {
        (false, false) => None,
        (true, false) => Some("* refuted as declared in advance for current kernels"),
        (false, true) => Some("! confirmed although a refutation was declared"),
        (true, true) => Some("* refuted as declared in advance; ! confirmed against that"),
    }
}

/// The summary at `width`: the machine, the writings' statements, then per
/// experiment each claim (see [`claim_block`]; `criteria` adds each claim's
/// criterion, `-v`), and the tally as the last line. Every line at most
/// `width` characters, none cut.
pub fn render(run: &RunRecord, width: usize, criteria: bool) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}", machine_line(run, width));
    let statement_lines = super::statements::lines(run, width);
    if !statement_lines.is_empty() {
        out.push('\n');
        for line in &statement_lines {
            let _ = writeln!(out, "{line}");
        }
    }
    for e in &run.experiments {
        out.push('\n');
        out.push_str(&wrap_hanging(&experiment_line(e), width, "", "  "));
        for group in group_claims(&e.claims) {
            out.push_str(&claim_block(&group, width, criteria));
        }
        if e.claims.is_empty() {
            out.push_str(&checkpoint_tables(e, width));
        }
        for line in price_lines(e, width) {
            let _ = writeln!(out, "{line}");
        }
    }
    let tally = Tally::of(run);
    out.push('\n');
    if let Some(legend) = legend(&tally) {
        out.push_str(&wrap(legend, width, ""));
    }
    // The tally is the line a class reads last.
    out.push_str(&wrap(&tally_line(run, &tally), width, ""));
    out
}

/// Each variant's checkpoint table, for an experiment with no claims to
/// summarise (a traced program without a claims file): its figures are what
/// the run found.
fn checkpoint_tables(e: &ExperimentRecord, width: usize) -> String {
    let mut out = String::new();
    for v in e.variants.iter().filter(|v| !v.checkpoints.is_empty()) {
        if e.variants.len() > 1 {
            out.push_str(&wrap(&format!("-- variant {}", v.name), width, "  "));
        }
        let table = fit(&table::checkpoints(v), width, drop_order::CHECKPOINTS);
        out.push_str(&layout(&table));
    }
    out
}

/// Claims with the same id and the same result in several variants, shown as
/// one block: the terminal summary must fit a screen, and results.md lists
/// every variant's own line.
pub fn group_claims(claims: &[ClaimRecord]) -> Vec<Vec<&ClaimRecord>> {
    let mut groups: Vec<Vec<&ClaimRecord>> = Vec::new();
    for c in claims {
        match groups.iter_mut().find(|g| {
            g[0].id == c.id && verdict_cell(g[0]) == verdict_cell(c) && reason(g[0]) == reason(c)
        }) {
            Some(g) => g.push(c),
            None => groups.push(vec![c]),
        }
    }
    groups
}

/// Longest list of variant names written out in a grouped line; longer
/// lists are counted instead.
const MAX_VARIANT_LIST: usize = 24;

/// The price list of an experiment that measured one, one kind a line:
/// median wall time per unit with the range over the repetitions.
pub fn price_lines(e: &ExperimentRecord, width: usize) -> Vec<String> {
    if e.fault_costs.is_empty() {
        return Vec::new();
    }
    let mut lines = vec![fitted(
        "  price list (wall ns per unit: median, min..max over the repetitions)",
        width,
    )];
    for c in &e.fault_costs {
        let n = &c.nanos_per_unit;
        lines.push(fitted(
            &format!(
                "  {:<26} {:>12} per {:<6} ({}..{})",
                c.kind,
                nanos(n.median),
                c.unit,
                nanos(n.min),
                nanos(n.max)
            ),
            width,
        ));
        // Said where huge pages were allocated or compaction ran in the phase:
        // a THP fault's cost swings with whether the kernel had to compact.
        if let Some(p) = c.compaction.filter(|p| {
            [p.thp_fault_alloc, p.compact_stall, p.thp_fault_fallback]
                .iter()
                .any(|v| v.is_some_and(|v| v > 0))
        }) {
            lines.push(fitted(&format!("  {:<26} {}", "", p.text()), width));
        }
    }
    lines
}

/// A price-list line wrapped at `width`, its continuation indented.
fn fitted(line: &str, width: usize) -> String {
    super::width::fit_lines(line, width).trim_end().to_string()
}

/// Nanoseconds with thousands separated, whole.
fn nanos(value: f64) -> String {
    crate::units::grouped(value.round().max(0.0) as u64)
}

#[cfg(test)]
mod grouping_tests {
    use super::*;
    use crate::model::Verdict;

    fn claim(id: &str, variant: &str, verdict: Verdict, measured: &str) -> ClaimRecord {
        ClaimRecord {
            id: id.into(),
            variant: Some(variant.into()),
            source: String::new(),
            statement: String::new(),
            verdict,
            evidence: String::new(),
            criterion: "x = 1".into(),
            measured: measured.into(),
            precondition: None,
            strict: false,
            disturbance: None,
            attempts: None,
            expected: None,
        }
    }

    #[test]
    fn claims_alike_in_several_variants_share_one_block() {
        let claims = vec![
            claim("a", "warm", Verdict::Confirmed, "1 page"),
            claim("b", "warm", Verdict::Confirmed, "2"),
            claim("a", "cold", Verdict::Confirmed, "1 page"),
            claim("a", "cold-random", Verdict::Refuted, "9 pages"),
        ];
        let groups = group_claims(&claims);
        assert_eq!(groups.len(), 3);
        let block = claim_block(&groups[0], 80, false);
        assert!(block.contains("a [warm, cold]"), "{block}");
        assert!(block.contains("measured: 1 page"), "{block}");
        assert!(!block.contains("criterion"), "{block}");
        assert!(claim_block(&groups[0], 80, true).contains("criterion: x = 1"));
        assert!(claim_block(&groups[2], 80, false).contains("refuted"));
    }

    #[test]
    fn long_variant_lists_are_counted_and_differing_figures_name_their_variant() {
        let claims: Vec<ClaimRecord> = ["static", "dynamic", "minimal", "minimal-stack-4k", "std"]
            .iter()
            .enumerate()
            .map(|(i, v)| claim("m", v, Verdict::Refuted, &format!("{i} pages")))
            .collect();
        let groups = group_claims(&claims);
        assert_eq!(groups.len(), 1);
        let block = claim_block(&groups[0], 80, false);
        assert!(block.contains("m [5 variants]"), "{block}");
        assert!(block.contains("static: 0 pages;"), "{block}");
    }

    #[test]
    fn a_long_claim_wraps_at_80_columns_and_keeps_every_word_of_its_figure() {
        let mut c = claim("pss-halves", "v", Verdict::Refuted, "");
        c.measured = "Pss 128.0 MiB of Rss 256.0 MiB in each process, Private_Dirty -256.0 MiB over the phase".into();
        c.statement = "After the fork each process is charged half of every shared page, so the Pss of the region halves while its Rss stays.".into();
        c.expected = Some(crate::model::Expectation {
            verdict: Verdict::Refuted,
            reason: "fault-around maps 16 to 256 pages per fault".into(),
        });
        let block = claim_block(&[&c], 80, true);
        for line in block.lines() {
            assert!(line.chars().count() <= 80, "{line}");
        }
        let flat = block.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(flat.contains(&c.measured), "{block}");
        assert!(
            flat.contains("why: fault-around maps 16 to 256 pages per fault"),
            "{block}"
        );
        assert!(flat.contains(&c.statement), "{block}");
    }

    #[test]
    fn nanoseconds_read_with_separators() {
        assert_eq!(nanos(912_280.4), "912,280");
        assert_eq!(nanos(771.0), "771");
    }
}
