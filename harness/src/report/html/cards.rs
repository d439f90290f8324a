//! What the page opens with: the contents list and one card per experiment.
//! A card says, per claim of the writing, the sentence, the verdict over the
//! variants, the one figure that decided it and, for a refutation, why; it
//! links every variant's claim, its tables and charts below.

use std::fmt::Write;

use super::{anchor, claim_anchor, escape, verdict_class};
use crate::explain::cite;
use crate::model::{ClaimRecord, ExperimentRecord, RunRecord, Status, Verdict};
use crate::report::summary;

/// The verdict a claim gets over its variants, by the statements' rule: one
/// refutation decides; else a confirmation; else nothing was decided.
fn overall(claims: &[&ClaimRecord]) -> &'static str {
    if claims.iter().any(|c| c.verdict == Verdict::Refuted) {
        "refuted"
    } else if claims.iter().any(|c| c.verdict == Verdict::Confirmed) {
        "confirmed"
    } else {
        "inconclusive"
    }
}

/// The claim that decided the overall verdict: the first refuting variant,
/// else the first confirming one, else the first.
fn deciding<'a>(claims: &[&'a ClaimRecord]) -> &'a ClaimRecord {
    [Verdict::Refuted, Verdict::Confirmed]
        .iter()
        .find_map(|v| claims.iter().find(|c| c.verdict == *v))
        .unwrap_or(&claims[0])
}

/// The claims of an experiment by id, in first-appearance order.
fn by_id(claims: &[ClaimRecord]) -> Vec<Vec<&ClaimRecord>> {
    let mut out: Vec<Vec<&ClaimRecord>> = Vec::new();
    for c in claims {
        match out.iter_mut().find(|g| g[0].id == c.id) {
            Some(g) => g.push(c),
            None => out.push(vec![c]),
        }
    }
    out
}

/// `2 confirmed, 1 refuted` over the claims of `e`, each variant counted.
fn counts(e: &ExperimentRecord) -> String {
    let mut parts = Vec::new();
    for v in [Verdict::Confirmed, Verdict::Refuted, Verdict::Inconclusive] {
        let n = e.claims.iter().filter(|c| c.verdict == v).count();
        if n > 0 {
            parts.push(format!("{n} {v}"));
        }
    }
    parts.join(", ")
}

/// The contents list: every section, every experiment with its counts.
pub fn contents(out: &mut String, run: &RunRecord, statements: bool) {
    out.push_str("<nav id=\"contents\"><strong>Contents</strong>\n<ol>\n");
    if statements {
        out.push_str("<li><a href=\"#statements\">Statements of the writings</a></li>\n");
    }
    out.push_str("<li><a href=\"#experiments\">The experiments at a glance</a><ol>\n");
    for e in &run.experiments {
        let _ = writeln!(
            out,
            "<li><a href=\"#{}\">{}</a> <span class=\"muted\">{}</span></li>",
            anchor(&["card", &e.name]),
            escape(&e.name),
            escape(&counts(e))
        );
    }
    out.push_str("</ol></li>\n<li><a href=\"#slide-view\">Slide view</a></li>\n<li><a href=\"#details\">Each experiment in detail</a></li>\n<li><a href=\"#every-claim\">Every claim in one table</a></li>\n<li><a href=\"#machine\">The machine and what the columns mean</a></li>\n</ol></nav>\n");
}

fn card(out: &mut String, e: &ExperimentRecord) {
    card_heading(out, e);
    out.push_str("<ul>\n");
    for group in by_id(&e.claims) {
        claim_item(out, e, &group);
    }
    out.push_str("</ul>\n");
    card_links(out, e);
    out.push_str("</article>\n");
}

/// The card opened: the experiment's name, what it shows, from which
/// writings, and its status if not run.
fn card_heading(out: &mut String, e: &ExperimentRecord) {
    let _ = writeln!(
        out,
        "<article class=\"card\" id=\"{}\">\n<h3><a href=\"#{}\">{}</a></h3>",
        anchor(&["card", &e.name]),
        anchor(&[&e.name]),
        escape(&e.name)
    );
    if let Some(exp) = crate::experiment::find(&e.name) {
        let info = exp.info();
        let sources: Vec<String> = info.sources.iter().map(|s| cite(s)).collect();
        let _ = writeln!(
            out,
            "<p>{}. <span class=\"muted\">From {}.</span></p>",
            escape(info.summary.trim_end_matches('.')),
            escape(&sources.join("; "))
        );
    }
    if e.status != Status::Ok {
        let _ = writeln!(
            out,
            "<p><strong>{}</strong>: {}</p>",
            format!("{:?}", e.status).to_lowercase(),
            escape(e.reason.as_deref().unwrap_or(""))
        );
    }
}

/// One claim of the card over its variants: the sentence, the overall
/// verdict, the deciding figure and why, and a badge per variant.
fn claim_item(out: &mut String, e: &ExperimentRecord, group: &[&ClaimRecord]) {
    let verdict = overall(group);
    let decided = deciding(group);
    let class = if verdict == "refuted" && verdict_class(decided) == "expected" {
        "expected"
    } else {
        verdict
    };
    let _ = write!(
        out,
        "<li class=\"{verdict}\"><span class=\"badge {class}\">{verdict}</span>{}",
        escape(&decided.statement)
    );
    deciding_figure(out, decided);
    out.push_str("<br><span class=\"variants\">");
    for c in group {
        let _ = write!(
            out,
            "<a href=\"#{}\" class=\"badge {}\">{}</a>",
            claim_anchor(&e.name, c),
            verdict_class(c),
            escape(&match c.variant.as_deref() {
                Some(v) => format!("{v} {}", summary::verdict_cell(c)),
                None => format!("details: {}", summary::verdict_cell(c)),
            })
        );
    }
    out.push_str("</span></li>\n");
}

/// The deciding claim's measured figure, and why it was refuted or not
/// decided.
fn deciding_figure(out: &mut String, decided: &ClaimRecord) {
    if !decided.measured.is_empty() {
        let variant = decided
            .variant
            .as_deref()
            .map_or(String::new(), |v| format!(" ({v})"));
        let _ = write!(
            out,
            "<br>Measured{}: <span class=\"figure\">{}</span>",
            escape(&variant),
            escape(&decided.measured)
        );
    }
    match decided.verdict {
        Verdict::Refuted => {
            let why = decided
                .expected
                .as_ref()
                .map_or(decided.evidence.as_str(), |x| x.reason.as_str());
            let _ = write!(out, "<br><span class=\"why\">Why: {}</span>", escape(why));
        }
        Verdict::Inconclusive => {
            let _ = write!(
                out,
                "<br><span class=\"why\">Not decided: {}</span>",
                escape(&decided.evidence)
            );
        }
        Verdict::Confirmed => {}
    }
}

/// The links from the card to the experiment's details.
fn card_links(out: &mut String, e: &ExperimentRecord) {
    out.push_str("<p class=\"links\">Details: ");
    let _ = write!(
        out,
        "<a href=\"#{}\">explanation and questions</a>",
        anchor(&[&e.name, "explain"])
    );
    for v in &e.variants {
        let _ = write!(
            out,
            " · <a href=\"#{}\">{} (charts, tables)</a>",
            anchor(&[&e.name, &v.name]),
            escape(&v.name)
        );
    }
    out.push_str("</p>\n");
}

/// One card per experiment, under the heading `experiments`.
pub fn cards(out: &mut String, run: &RunRecord) {
    out.push_str("<section id=\"experiments\">\n<h2>The experiments at a glance</h2>\n<div class=\"cards\">\n");
    for e in &run.experiments {
        card(out, e);
    }
    out.push_str("</div>\n</section>\n");
}
