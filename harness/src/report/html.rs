//! results.html: the report for a browser and a projector. One self-contained
//! file (CSS and SVG charts inline, no script, nothing fetched), with the same
//! content as results.md in the same order: the tally, every claim, then per
//! experiment its claims, derived tables, and per variant the charts, the
//! per-checkpoint table and the before/after view (the last two folded).

use std::fmt::Write;

use super::delta::{self, DeltaFilter};
use super::table::{self, Table};
use super::{plot, summary};
use crate::explain::cite;
use crate::model::{ClaimRecord, ExperimentRecord, RunRecord, Status, Verdict};

/// Large type and strong contrast: it is read from the back of a room.
const STYLE: &str = "
body{font-family:system-ui,sans-serif;font-size:18px;line-height:1.4;margin:2em auto;max-width:1200px;padding:0 1em;color:#111;background:#fff}
h1{font-size:1.8em;margin-bottom:.2em}h2{margin-top:2em;border-bottom:3px solid #333}
.tally{font-size:1.5em;font-weight:bold;padding:.5em;background:#eef;border-radius:6px}
table{border-collapse:collapse;margin:.5em 0;font-size:.85em;display:block;overflow-x:auto;max-width:100%}
th,td{border:1px solid #bbb;padding:.2em .5em;vertical-align:top;text-align:left}
td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
th{background:#eee}
.confirmed{background:#d7f5d7}.refuted{background:#ffd8d0}.inconclusive{background:#eee}
.expected{background:#fff0c8}
.chart svg{max-width:100%;height:auto}
details{margin:.5em 0}summary{cursor:pointer;font-weight:bold}
.muted{color:#555}
";

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

fn claim_row(out: &mut String, first: &str, c: &ClaimRecord) {
    let _ = writeln!(
        out,
        "<tr>{first}<td class=\"{}\">{}</td><td><code>{}</code></td><td>{}</td></tr>",
        verdict_class(c),
        escape(&summary::verdict_cell(c)),
        escape(&summary::claim_name(c)),
        escape(&summary::figures(c)),
    );
}

fn claim_index(out: &mut String, run: &RunRecord) {
    out.push_str(
        "<table>\n<tr><th>experiment</th><th>verdict</th><th>claim</th><th>measured (criterion)</th></tr>\n",
    );
    for e in &run.experiments {
        let link = format!("<td><a href=\"#{0}\">{0}</a></td>", escape(&e.name));
        if e.claims.is_empty() {
            let _ = writeln!(
                out,
                "<tr>{link}<td>{}</td><td></td><td>{}</td></tr>",
                format!("{:?}", e.status).to_lowercase(),
                escape(e.reason.as_deref().unwrap_or(""))
            );
        }
        for c in &e.claims {
            claim_row(out, &link, c);
        }
    }
    out.push_str("</table>\n");
}

fn claims_detail(out: &mut String, claims: &[ClaimRecord]) {
    out.push_str("<table>\n<tr><th>verdict</th><th>claim</th><th>criterion</th><th>measured</th><th>evidence</th></tr>\n");
    for c in claims {
        let _ = writeln!(
            out,
            "<tr><td class=\"{}\">{}</td><td><code>{}</code><br>{}<br><span class=\"muted\">{}</span></td><td>{}</td><td>{}</td><td>{}</td></tr>",
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

fn experiment(out: &mut String, run: &RunRecord, e: &ExperimentRecord, charts: &plot::Charts) {
    let _ = writeln!(out, "<section id=\"{0}\">\n<h2>{0}</h2>", escape(&e.name));
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
    if !e.claims.is_empty() {
        out.push_str("<h3>Claims</h3>\n");
        claims_detail(out, &e.claims);
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
    let filter = DeltaFilter {
        page_size: run.environment.page_size,
        all: false,
    };
    for v in &e.variants {
        let _ = writeln!(out, "<h3>Variant <code>{}</code></h3>", escape(&v.name));
        if v.status != Status::Ok {
            let _ = writeln!(
                out,
                "<p><strong>{:?}</strong>: {}</p>",
                v.status,
                escape(v.reason.as_deref().unwrap_or(""))
            );
        }
        for chart in charts.of_variant(&e.name, &v.name) {
            let _ = writeln!(
                out,
                "<figure class=\"chart\">{}<figcaption>{}</figcaption></figure>",
                strip_xml_declaration(&chart.svg),
                escape(&chart.title)
            );
        }
        if !v.checkpoints.is_empty() {
            out.push_str("<details><summary>Every checkpoint</summary>\n");
            out.push_str(&table_html(&table::checkpoints(v)));
            let _ = writeln!(out, "<p>{}.</p>", escape(&table::noise_line(v)));
            if let Some(t) = table::vmstat_phases(v) {
                out.push_str("<p>Each phase's faults beside the machine-wide /proc/vmstat counters' change over it:</p>\n");
                out.push_str(&table_html(&t));
            }
            out.push_str("</details>\n<details><summary>What each step changed</summary>\n");
            out.push_str(&table_html(&delta::variant_table(v, &filter)));
            for note in delta::variant_notes(v, &filter) {
                let _ = writeln!(out, "<p>{}</p>", escape(&note));
            }
            out.push_str("</details>\n");
        }
    }
    out.push_str("</section>\n");
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
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>vmlab results: {}</title>\n<style>{STYLE}</style>\n</head>\n<body>",
        escape(&run.started_at)
    );
    let _ = writeln!(
        out,
        "<h1>vmlab results</h1>\n<p>{}, {} on {}.</p>",
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
        let _ = writeln!(out, "<h2>{}</h2>", escape(super::statements::HEADING));
        out.push_str(&table_html(&super::statements::tally_table(
            &crate::statements::Tally::of(&statements),
        )));
        out.push_str(&table_html(&super::statements::table(&statements)));
        out.push_str("<h2>The claims, per variant</h2>\n");
    }
    if let Some(legend) = summary::legend(&tally) {
        let _ = writeln!(out, "<p class=\"muted\">{}</p>", escape(legend));
    }
    claim_index(&mut out, run);
    out.push_str("<h2>Machine</h2>\n");
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
    out.push_str("</dl>\n");
    for e in &run.experiments {
        experiment(&mut out, run, e, charts);
    }
    out.push_str("</body>\n</html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

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
