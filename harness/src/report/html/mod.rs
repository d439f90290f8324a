//! results.html: the page a teacher projects, and the run's archive. One
//! self-contained file (CSS, SVG charts and a small script inline, nothing
//! fetched). It opens with the writings' statement tally, a contents list and
//! one card per experiment (`cards`); then the slide view (`slides`); then
//! each experiment in detail: the `explain` narrative, the questions with
//! their answers folded, the claims, tables and per variant its charts and
//! folded per-checkpoint tables; then every claim in one table and the
//! machine. Every experiment, variant and claim has a stable anchor
//! ([`anchor`]).

mod cards;
mod slides;
mod style;

use std::fmt::Write;

use super::delta::{self, DeltaFilter};
use super::table::{self, Table};
use super::{plot, summary};
use crate::explain::cite;
use crate::model::{ClaimRecord, ExperimentRecord, RunRecord, Status, VariantRecord, Verdict};

/// An element id from name parts (experiment, variant, claim): kept as they
/// are where they are plain (kebab-case names are), joined by `--`, so that
/// a link to a claim keeps working from run to run.
pub fn anchor(parts: &[&str]) -> String {
    parts
        .iter()
        .map(|p| {
            p.chars()
                .map(|c| match c {
                    'a'..='z' | 'A'..='Z' | '0'..='9' | '-' | '_' | '.' => c,
                    _ => '-',
                })
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("--")
}

/// The anchor of a claim of experiment `experiment`.
pub fn claim_anchor(experiment: &str, c: &ClaimRecord) -> String {
    match &c.variant {
        Some(v) => anchor(&["claim", experiment, v, &c.id]),
        None => anchor(&["claim", experiment, &c.id]),
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A table; numeric columns right-aligned.
fn table_html(t: &Table) -> String {
    let mut out = String::from("<table>\n<tr>");
    for h in &t.headers {
        let _ = write!(out, "<th>{}</th>", escape(h));
    }
    out.push_str("</tr>\n");
    for row in &t.rows {
        out.push_str("<tr>");
        for (i, cell) in row.iter().enumerate() {
            let class = if t.numeric.get(i).copied().unwrap_or(false) {
                " class=\"n\""
            } else {
                ""
            };
            let _ = write!(out, "<td{class}>{}</td>", escape(cell));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n");
    out
}

/// The CSS class of a claim's verdict cell.
fn verdict_class(c: &ClaimRecord) -> &'static str {
    match (c.verdict, crate::outcome::Outcome::of_claim(c)) {
        (_, crate::outcome::Outcome::XFail) => "expected",
        (Verdict::Confirmed, _) => "confirmed",
        (Verdict::Refuted, _) => "refuted",
        (Verdict::Inconclusive, _) => "inconclusive",
    }
}

/// Every claim of the run in one table (folded), each linking to its place.
fn claim_index(out: &mut String, run: &RunRecord) {
    out.push_str("<section id=\"every-claim\">\n<h2>Every claim in one table</h2>\n<details><summary>Show the table</summary>\n");
    out.push_str(
        "<table>\n<tr><th>experiment</th><th>verdict</th><th>claim</th><th>measured (criterion)</th></tr>\n",
    );
    for e in &run.experiments {
        let link = format!(
            "<td><a href=\"#{}\">{}</a></td>",
            anchor(&[&e.name]),
            escape(&e.name)
        );
        if e.claims.is_empty() {
            let _ = writeln!(
                out,
                "<tr>{link}<td>{}</td><td></td><td>{}</td></tr>",
                format!("{:?}", e.status).to_lowercase(),
                escape(e.reason.as_deref().unwrap_or(""))
            );
        }
        for c in &e.claims {
            let _ = writeln!(
                out,
                "<tr>{link}<td class=\"{}\">{}</td><td><a href=\"#{}\"><code>{}</code></a></td><td>{}</td></tr>",
                verdict_class(c),
                escape(&summary::verdict_cell(c)),
                claim_anchor(&e.name, c),
                escape(&summary::claim_name(c)),
                escape(&summary::figures(c)),
            );
        }
    }
    out.push_str("</table>\n</details>\n</section>\n");
}

fn claims_detail(out: &mut String, experiment: &str, claims: &[ClaimRecord]) {
    out.push_str("<table>\n<tr><th>verdict</th><th>claim</th><th>criterion</th><th>measured</th><th>evidence</th></tr>\n");
    for c in claims {
        let _ = writeln!(
            out,
            "<tr id=\"{}\"><td class=\"{}\">{}</td><td><code>{}</code><br>{}<br><span class=\"muted\">{}</span></td><td>{}</td><td>{}</td><td>{}</td></tr>",
            claim_anchor(experiment, c),
            verdict_class(c),
            escape(&summary::verdict_cell(c)),
            escape(&summary::claim_name(c)),
            escape(&c.statement),
            escape(&cite(&c.source)),
            escape(&c.criterion),
            escape(&c.measured),
            escape(&c.evidence),
        );
    }
    out.push_str("</table>\n");
}

/// The `explain` narrative, and the questions with their answers folded.
fn explanation(out: &mut String, run: &RunRecord, e: &ExperimentRecord) {
    let Some(exp) = crate::experiment::find(&e.name) else {
        return;
    };
    let x = exp.explanation();
    let _ = writeln!(
        out,
        "<div id=\"{}\">\n<h3>What the writing claimed</h3>\n<p>{}</p>\n<details><summary>What the experiment does, step by step</summary>\n<ol>",
        anchor(&[&e.name, "explain"]),
        escape(x.seed_claims)
    );
    for (label, text) in x.steps {
        let _ = writeln!(
            out,
            "<li><code>{}</code>: {}</li>",
            escape(label),
            escape(text)
        );
    }
    let _ = writeln!(
        out,
        "</ol>\n</details>\n<p><strong>What to expect on a current kernel.</strong> {}</p>",
        escape(x.expectations)
    );
    if !x.questions.is_empty() {
        let facts = crate::experiment::Facts {
            record: Some(e),
            page_size: run.environment.page_size,
        };
        let _ = writeln!(
            out,
            "<h3 id=\"{}\">Questions</h3>\n<ol>",
            anchor(&[&e.name, "questions"])
        );
        for (i, q) in x.questions.iter().enumerate() {
            let _ = writeln!(
                out,
                "<li>{}<details><summary>Answer</summary><p>{}</p></details></li>",
                escape(q),
                escape(&crate::explain::answer(exp, &facts, i, "In this run"))
            );
        }
        out.push_str("</ol>\n");
    }
    out.push_str("</div>\n");
}

fn figure(out: &mut String, chart: &plot::Chart) {
    let _ = writeln!(
        out,
        "<figure class=\"chart\" id=\"{}\">{}<figcaption>{}</figcaption></figure>",
        anchor(&["chart", chart.file_name.trim_end_matches(".svg")]),
        strip_xml_declaration(&chart.svg),
        escape(&chart.title)
    );
}

/// What a chart shows, from its title (`exp / variant: WHAT`).
fn chart_kind(title: &str) -> &str {
    title.rsplit_once(": ").map_or(title, |(_, what)| what)
}

fn experiment(out: &mut String, run: &RunRecord, e: &ExperimentRecord, charts: &plot::Charts) {
    experiment_heading(out, e);
    explanation(out, run, e);
    if !e.claims.is_empty() {
        let _ = writeln!(
            out,
            "<h3>Claims</h3>\n<details><summary>Each claim with its criterion, measured figure and evidence ({})</summary>",
            e.claims.len()
        );
        claims_detail(out, &e.name, &e.claims);
        out.push_str("</details>\n");
    }
    for s in &e.summary {
        let _ = writeln!(out, "<h3>{}</h3>", escape(&s.title));
        out.push_str(&table_html(&table::summary(s)));
    }
    if super::binaries::applies(e) {
        out.push_str("<h3>Programs</h3>\n");
        out.push_str(&table_html(&super::binaries::files(e)));
        out.push_str(&table_html(&super::binaries::pages(
            e,
            run.environment.page_size,
        )));
    }
    for chart in charts.of_experiment(&e.name) {
        figure(out, chart);
    }
    let filter = DeltaFilter {
        page_size: run.environment.page_size,
        all: false,
    };
    for v in &e.variants {
        variant(out, e, v, charts, &filter);
    }
    out.push_str("</section>\n");
}

/// The experiment's section opened: its name, the link back to its card,
/// what it shows and from which writings, and its status if not run.
fn experiment_heading(out: &mut String, e: &ExperimentRecord) {
    let _ = writeln!(
        out,
        "<section id=\"{}\">\n<h2>{}</h2>\n<p class=\"links\"><a href=\"#{}\">Back to its card</a></p>",
        anchor(&[&e.name]),
        escape(&e.name),
        anchor(&["card", &e.name])
    );
    if let Some(exp) = crate::experiment::find(&e.name) {
        let info = exp.info();
        let sources: Vec<String> = info.sources.iter().map(|s| cite(s)).collect();
        let _ = writeln!(
            out,
            "<p><em>{}</em> (from {}).</p>",
            escape(info.summary),
            escape(&sources.join("; "))
        );
    }
    if e.status != Status::Ok {
        let _ = writeln!(
            out,
            "<p><strong>{:?}</strong>: {}</p>",
            e.status,
            escape(e.reason.as_deref().unwrap_or(""))
        );
    }
}

/// One variant: its heading, status, charts and, folded, its checkpoints and
/// changes per step.
fn variant(
    out: &mut String,
    e: &ExperimentRecord,
    v: &VariantRecord,
    charts: &plot::Charts,
    filter: &DeltaFilter,
) {
    let _ = writeln!(
        out,
        "<h3 id=\"{}\">Variant <code>{}</code></h3>",
        anchor(&[&e.name, &v.name]),
        escape(&v.name)
    );
    if v.status != Status::Ok {
        let _ = writeln!(
            out,
            "<p><strong>{:?}</strong>: {}</p>",
            v.status,
            escape(v.reason.as_deref().unwrap_or(""))
        );
    }
    variant_charts(out, charts.of_variant(&e.name, &v.name));
    if !v.checkpoints.is_empty() {
        out.push_str("<details><summary>Every checkpoint</summary>\n");
        out.push_str(&table_html(&table::checkpoints(v)));
        let _ = writeln!(out, "<p>{}.</p>", escape(&table::noise_line(v)));
        if let Some(t) = table::vmstat_phases(v) {
            out.push_str("<p>Each phase's faults beside the machine-wide /proc/vmstat counters' change over it:</p>\n");
            out.push_str(&table_html(&t));
        }
        out.push_str("</details>\n<details><summary>What each step changed</summary>\n");
        out.push_str(&table_html(&delta::variant_table(v, filter)));
        for note in delta::variant_notes(v, filter) {
            let _ = writeln!(out, "<p>{}</p>", escape(&note));
        }
        out.push_str("</details>\n");
    }
}

/// A variant's charts: the first (the declared region's, where there is one)
/// shows the lesson; the others wait in a fold, so the page stays short.
fn variant_charts(out: &mut String, shown: &[plot::Chart]) {
    let Some((first, rest)) = shown.split_first() else {
        return;
    };
    figure(out, first);
    if !rest.is_empty() {
        let names: Vec<&str> = rest.iter().map(|c| chart_kind(&c.title)).collect();
        let _ = writeln!(
            out,
            "<details><summary>More charts: {}</summary>",
            escape(&names.join(", "))
        );
        for chart in rest {
            figure(out, chart);
        }
        out.push_str("</details>\n");
    }
}

/// An SVG document as an element to inline.
fn strip_xml_declaration(svg: &str) -> &str {
    match svg.find("<svg") {
        Some(i) => &svg[i..],
        None => svg,
    }
}

/// The whole run as one HTML page, with the run's `charts` inlined.
pub fn render(run: &RunRecord, charts: &plot::Charts) -> String {
    let tally = summary::Tally::of(run);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>vmlab results: {}</title>\n<style>{}</style>\n</head>\n<body>",
        escape(&run.started_at),
        style::STYLE
    );
    let _ = writeln!(
        out,
        "<header id=\"top\"><h1>vmlab results</h1>\n<p>{}, {} on {}.</p>",
        escape(&summary::machine_line(run, usize::MAX)),
        escape(&run.started_at),
        escape(&run.environment.hostname)
    );
    let _ = writeln!(
        out,
        "<p class=\"tally\">{}</p>",
        escape(&summary::tally_line(run, &tally))
    );
    let statements = crate::statements::judge_run(run);
    if !statements.is_empty() {
        let _ = writeln!(
            out,
            "<section id=\"statements\">\n<h2>{}</h2>",
            escape(super::statements::HEADING)
        );
        out.push_str(&table_html(&super::statements::tally_table(
            &crate::statements::Tally::of(&statements),
        )));
        out.push_str("<details><summary>Every statement, with its mechanism or reason</summary>\n");
        out.push_str(&table_html(&super::statements::table(&statements)));
        out.push_str("</details>\n</section>\n");
    }
    out.push_str("</header>\n");
    cards::contents(&mut out, run, !statements.is_empty());
    if let Some(legend) = summary::legend(&tally) {
        let _ = writeln!(out, "<p class=\"muted\">{}</p>", escape(legend));
    }
    cards::cards(&mut out, run);
    slides::render(&mut out, run);
    out.push_str("<div id=\"details\">\n");
    for e in &run.experiments {
        experiment(&mut out, run, e, charts);
    }
    out.push_str("</div>\n");
    claim_index(&mut out, run);
    out.push_str("<section id=\"machine\">\n<h2>The machine</h2>\n");
    let mut env = table::environment(&run.environment);
    env.headers = vec!["machine".into(), "value".into()];
    out.push_str(&table_html(&env));
    out.push_str("<h3>What the columns mean</h3>\n<dl>\n");
    for (column, meaning) in crate::explain::GLOSSARY {
        let _ = writeln!(
            out,
            "<dt><b>{}</b></dt><dd>{}</dd>",
            escape(column),
            escape(meaning)
        );
    }
    out.push_str("</dl>\n</section>\n");
    let _ = writeln!(out, "<script>{}</script>\n</body>\n</html>", style::SCRIPT);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture() -> RunRecord {
        crate::store::json::parse(include_str!(
            "../../../tests/fixtures/runs/mmap-file-quick.json"
        ))
        .expect("the fixture parses")
    }

    /// The values of `attr="..."` in `html`, in order.
    fn values<'a>(html: &'a str, attr: &str) -> Vec<&'a str> {
        let needle = format!("{attr}=\"");
        html.match_indices(&needle)
            .filter_map(|(i, _)| {
                let rest = &html[i + needle.len()..];
                rest.find('"').map(|end| &rest[..end])
            })
            .collect()
    }

    #[test]
    fn every_link_resolves_and_no_id_is_used_twice() {
        let run = fixture();
        let html = render(&run, &plot::Charts::of(&run));
        let ids = values(&html, " id");
        let mut unique = ids.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), ids.len(), "an id used twice");
        let links: Vec<&str> = values(&html, "href")
            .into_iter()
            .filter_map(|h| h.strip_prefix('#'))
            .collect();
        assert!(links.len() > run.experiments[0].claims.len(), "{links:?}");
        for link in links {
            assert!(ids.contains(&link), "#{link} goes nowhere");
        }
        for c in &run.experiments[0].claims {
            let id = claim_anchor(&run.experiments[0].name, c);
            assert!(ids.contains(&id.as_str()), "no anchor {id}");
        }
    }

    #[test]
    fn the_page_opens_with_the_tally_contents_and_cards_and_fetches_nothing() {
        let run = fixture();
        let html = render(&run, &plot::Charts::of(&run));
        let at = |needle: &str| html.find(needle).unwrap_or_else(|| panic!("no {needle}"));
        let order = [
            at("class=\"tally\""),
            at("id=\"contents\""),
            at("id=\"experiments\""),
            at("id=\"slide-view\""),
            at("id=\"details\""),
            at("id=\"every-claim\""),
        ];
        assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}");
        for outside in ["<script src", "<link", " src=", "url(", "@import"] {
            assert!(!html.contains(outside), "refers outside: {outside}");
        }
        // The questions are there, each answer folded.
        let exp = crate::experiment::find("mmap-file").expect("mmap-file");
        assert_eq!(
            html.matches("<details><summary>Answer</summary>").count(),
            exp.explanation().questions.len()
        );
    }

    #[test]
    fn anchors_are_stable_names() {
        assert_eq!(anchor(&["fork-cow", "thp-off"]), "fork-cow--thp-off");
        assert_eq!(anchor(&["a b", "c/d"]), "a-b--c-d");
    }

    #[test]
    fn text_is_escaped() {
        assert_eq!(escape("<a & \"b\">"), "&lt;a &amp; &quot;b&quot;&gt;");
    }

    #[test]
    fn inline_svg_loses_its_xml_declaration() {
        assert_eq!(
            strip_xml_declaration("<?xml version=\"1.0\"?>\n<svg x=\"1\"/>"),
            "<svg x=\"1\"/>"
        );
    }
}
