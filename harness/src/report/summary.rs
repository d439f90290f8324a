//! The summary a run ends with: per experiment, one line per claim (verdict,
//! the measured figure against the criterion), then one tally line. It is what
//! `all` and `run` print by default, and what results.md and results.html open
//! with; tables and deltas come after it (`--detail`).

use std::fmt::Write;

use super::width::truncate;
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

/// The verdict as the summary column shows it: refutations declared in advance
/// carry a `*` (the tally explains it).
pub fn verdict_cell(claim: &ClaimRecord) -> String {
    match Outcome::of_claim(claim) {
        Outcome::XFail => format!("{}*", claim.verdict),
        Outcome::XPass => format!("{}!", claim.verdict),
        _ => claim.verdict.to_string(),
    }
}

/// The claim's name with its variant (`first-read-few-pages [cold]`).
pub fn claim_name(claim: &ClaimRecord) -> String {
    match &claim.variant {
        Some(v) => format!("{} [{v}]", claim.id),
        None => claim.id.clone(),
    }
}

/// What was measured against what the criterion asked, in a few words; the
/// evidence where the experiment did not record a figure.
pub fn figures(claim: &ClaimRecord) -> String {
    let measured = if claim.measured.is_empty() {
        claim.evidence.as_str()
    } else {
        claim.measured.as_str()
    };
    if claim.criterion.is_empty() {
        measured.to_string()
    } else {
        format!("{measured} (criterion: {})", claim.criterion)
    }
}

/// One claim in one line of at most `width` characters.
pub fn claim_line(claim: &ClaimRecord, width: usize) -> String {
    let line = format!(
        "  {:<13} {}: {}",
        verdict_cell(claim),
        claim_name(claim),
        figures(claim)
    );
    truncate(&line, width)
}

/// The heading line of one experiment: name, variants, sources.
pub fn experiment_line(e: &ExperimentRecord, width: usize) -> String {
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
    truncate(&line, width)
}

/// One line about the machine and the sizes.
pub fn machine_line(run: &RunRecord, width: usize) -> String {
    let env = &run.environment;
    truncate(
        &format!(
            "vmlab {} on Linux {}, THP {}, {} CPUs, {}",
            run.vmlab_version,
            env.kernel,
            env.thp_enabled,
            env.cpu_count,
            if run.quick {
                "--quick sizes"
            } else {
                "full sizes"
            }
        ),
        width,
    )
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

/// Per experiment one line per claim, then the tally: every line at most
/// `width` characters.
pub fn render(run: &RunRecord, width: usize) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}", machine_line(run, width));
    for e in &run.experiments {
        let _ = writeln!(out, "\n{}", experiment_line(e, width));
        for group in group_claims(&e.claims) {
            let _ = writeln!(out, "{}", group_line(&group, width));
        }
        for line in price_lines(e, width) {
            let _ = writeln!(out, "{line}");
        }
    }
    let tally = Tally::of(run);
    out.push('\n');
    if let Some(legend) = legend(&tally) {
        let _ = writeln!(out, "{}", truncate(legend, width));
    }
    let statement_lines = super::statements::lines(run, width);
    if !statement_lines.is_empty() {
        for line in &statement_lines {
            let _ = writeln!(out, "{line}");
        }
        out.push('\n');
    }
    // The tally wraps rather than being cut: it is the line a class reads last.
    out.push_str(&crate::explain::wrap(&tally_line(run, &tally), width, ""));
    if !out.ends_with('\n') {
        out.push('\n');
    }
    out
}

/// Claims with the same id and the same result in several variants, shown as
/// one line: the terminal summary must fit a screen, and results.md lists
/// every variant's own line.
pub fn group_claims(claims: &[ClaimRecord]) -> Vec<Vec<&ClaimRecord>> {
    let mut groups: Vec<Vec<&ClaimRecord>> = Vec::new();
    for c in claims {
        match groups
            .iter_mut()
            .find(|g| g[0].id == c.id && verdict_cell(g[0]) == verdict_cell(c))
        {
            Some(g) => g.push(c),
            None => groups.push(vec![c]),
        }
    }
    groups
}

/// Longest list of variant names written out in a grouped line; longer
/// lists are counted instead.
const MAX_VARIANT_LIST: usize = 24;

/// One line for a group of claims (see [`group_claims`]): the verdict, the id
/// with its variants, and the first variant's figures.
pub fn group_line(group: &[&ClaimRecord], width: usize) -> String {
    let first = group[0];
    if group.len() == 1 {
        return claim_line(first, width);
    }
    let variants: Vec<&str> = group.iter().filter_map(|c| c.variant.as_deref()).collect();
    let list = variants.join(", ");
    let name = if list.chars().count() <= MAX_VARIANT_LIST {
        format!("{} [{list}]", first.id)
    } else {
        format!("{} [{} variants]", first.id, group.len())
    };
    let same = group.iter().all(|c| figures(c) == figures(first));
    let figures = match (&first.variant, same) {
        (Some(v), false) => format!("{v}: {}", figures(first)),
        _ => figures(first),
    };
    truncate(
        &format!("  {:<13} {name}: {figures}", verdict_cell(first)),
        width,
    )
}

/// The price list of an experiment that measured one, one kind a line:
/// median wall time per unit with the range over the repetitions.
pub fn price_lines(e: &ExperimentRecord, width: usize) -> Vec<String> {
    if e.fault_costs.is_empty() {
        return Vec::new();
    }
    let mut lines = vec![truncate(
        "  price list (wall ns per unit: median, min..max over the repetitions)",
        width,
    )];
    for c in &e.fault_costs {
        let n = &c.nanos_per_unit;
        lines.push(truncate(
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
            lines.push(truncate(&format!("  {:<26} {}", "", p.text()), width));
        }
    }
    lines
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
            expected: None,
        }
    }

    #[test]
    fn claims_alike_in_several_variants_share_one_line() {
        let claims = vec![
            claim("a", "warm", Verdict::Confirmed, "1 page"),
            claim("b", "warm", Verdict::Confirmed, "2"),
            claim("a", "cold", Verdict::Confirmed, "1 page"),
            claim("a", "cold-random", Verdict::Refuted, "9 pages"),
        ];
        let groups = group_claims(&claims);
        assert_eq!(groups.len(), 3);
        let line = group_line(&groups[0], 80);
        assert!(line.contains("a [warm, cold]: 1 page"), "{line}");
        assert!(group_line(&groups[2], 80).contains("refuted"));
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
        let line = group_line(&groups[0], 80);
        assert!(line.contains("m [5 variants]: static: 0 pages"), "{line}");
    }

    #[test]
    fn nanoseconds_read_with_separators() {
        assert_eq!(nanos(912_280.4), "912,280");
        assert_eq!(nanos(771.0), "771");
    }
}
