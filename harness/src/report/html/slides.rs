//! The slide view: for a variant chosen from a list, one screen per
//! checkpoint with its name, the step's caption (the same text as the step
//! stops and `explain`) and the declared region's figures before and after
//! the step, per process. A variant without a declared region shows the
//! whole process instead. Every slide is rendered here; the page's script
//! only shows one at a time.

use std::fmt::Write;

use super::{anchor, escape};
use crate::model::{CheckpointRecord, MemoryFigures, ProcessRecord, RunRecord, VariantRecord};
use crate::units::{human_bytes, signed_bytes};

/// The figures a slide compares, by name.
type Pick = fn(&MemoryFigures) -> u64;
/// A whole-process figure.
type Total = fn(&ProcessRecord) -> u64;
const REGION_FIGURES: [(&str, Pick); 6] = [
    ("Rss", |f| f.rss_bytes),
    ("Pss", |f| f.pss_bytes),
    ("Shared_Dirty", |f| f.shared_dirty_bytes),
    ("Private_Dirty", |f| f.private_dirty_bytes),
    ("Shared_Clean", |f| f.shared_clean_bytes),
    ("Private_Clean", |f| f.private_clean_bytes),
];

/// One row: the process, the figure, before, after (bytes; before absent at
/// the first checkpoint or for a process new here).
struct Row {
    who: String,
    figure: String,
    before: Option<u64>,
    after: u64,
}

/// The region name the slides of `v` show, if it declared one.
fn region_name(v: &VariantRecord) -> Option<String> {
    v.checkpoints
        .iter()
        .flat_map(|c| &c.processes)
        .flat_map(|p| &p.regions)
        .map(|r| r.name.clone())
        .next()
}

fn rows(prev: Option<&CheckpointRecord>, c: &CheckpointRecord, region: Option<&str>) -> Vec<Row> {
    let mut out = Vec::new();
    let before_of = |p: &ProcessRecord| prev.and_then(|b| b.process(&p.role));
    for p in &c.processes {
        match region {
            Some(name) => {
                let Some(r) = p.region(name) else { continue };
                let before = before_of(p).and_then(|b| b.region(name));
                for (figure, pick) in REGION_FIGURES {
                    let after = pick(&r.figures);
                    let before = before.map(|b| pick(&b.figures));
                    if after == 0 && before.unwrap_or(0) == 0 && !matches!(figure, "Rss" | "Pss") {
                        continue;
                    }
                    out.push(Row {
                        who: p.who(),
                        figure: figure.to_string(),
                        before,
                        after,
                    });
                }
            }
            None => {
                let before = before_of(p);
                let totals: [(&str, Total); 4] = [
                    ("VmSize", |p| p.totals.vm_size_bytes),
                    ("Rss", |p| p.totals.rss_bytes),
                    ("Pss", |p| p.totals.pss_bytes),
                    ("USS", |p| p.totals.uss_bytes),
                ];
                for (figure, pick) in totals {
                    out.push(Row {
                        who: p.who(),
                        figure: figure.to_string(),
                        before: before.map(pick),
                        after: pick(p),
                    });
                }
            }
        }
    }
    out
}

fn slide(out: &mut String, experiment: &str, v: &VariantRecord, i: usize, key: &str) {
    let c = &v.checkpoints[i];
    let region = region_name(v);
    let caption = crate::experiment::find(experiment)
        .and_then(|e| crate::explain::step_caption(e.explanation(), &v.name, &c.label));
    let _ = writeln!(
        out,
        "<section class=\"slide\" data-variant=\"{key}\" hidden>\n<p class=\"muted\">{} / {}, checkpoint {} of {}</p>\n<h2>{}</h2>",
        escape(experiment),
        escape(&v.name),
        i + 1,
        v.checkpoints.len(),
        escape(&c.label)
    );
    if let Some(caption) = caption {
        let _ = writeln!(out, "<p class=\"caption\">{}</p>", escape(caption));
    }
    let what = match &region {
        Some(name) => format!("The {name} region"),
        None => "The whole process (no region declared)".to_string(),
    };
    let previous = match i {
        0 => "before: not measured (the first checkpoint)".to_string(),
        _ => format!("before: at {}", v.checkpoints[i - 1].label),
    };
    let _ = writeln!(
        out,
        "<p>{}; {}.</p>\n<table>\n<tr><th>process</th><th>figure</th><th>before</th><th>after</th><th>change</th></tr>",
        escape(&what),
        escape(&previous)
    );
    let prev = i.checked_sub(1).map(|j| &v.checkpoints[j]);
    for r in rows(prev, c, region.as_deref()) {
        let (before, change) = match r.before {
            Some(b) => (human_bytes(b), signed_bytes(r.after as i64 - b as i64)),
            None => ("-".to_string(), String::new()),
        };
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            escape(&r.who),
            escape(&r.figure),
            escape(&before),
            escape(&human_bytes(r.after)),
            escape(&change)
        );
    }
    out.push_str("</table>\n</section>\n");
}

/// The slide view's controls (a section of the page, id `slide-view`) and the
/// hidden slideshow with every variant's slides.
pub fn render(out: &mut String, run: &RunRecord) {
    let variants: Vec<(&str, &VariantRecord)> = run
        .experiments
        .iter()
        .flat_map(|e| e.variants.iter().map(move |v| (e.name.as_str(), v)))
        .filter(|(_, v)| !v.checkpoints.is_empty())
        .collect();
    if variants.is_empty() {
        return;
    }
    out.push_str("<section id=\"slide-view\">\n<h2>Slide view</h2>\n<p>One checkpoint per screen, for a projector: the step's caption and the region's figures before and after it. Arrow keys move, Escape closes.</p>\n<div id=\"slide-controls\"><label for=\"slide-variant\">Variant</label> <select id=\"slide-variant\">\n");
    for (e, v) in &variants {
        let key = anchor(&[e, &v.name]);
        let _ = writeln!(
            out,
            "<option value=\"{key}\">{} / {}</option>",
            escape(e),
            escape(&v.name)
        );
    }
    out.push_str("</select> <button id=\"slide-start\" type=\"button\">Show the slides</button></div>\n</section>\n");
    out.push_str("<div id=\"slideshow\" tabindex=\"-1\" hidden>\n<div class=\"bar\"><span id=\"slide-count\"></span><span><button id=\"slide-prev\" type=\"button\">&larr;</button> <button id=\"slide-next\" type=\"button\">&rarr;</button> <button id=\"slide-close\" type=\"button\">Close (Esc)</button></span></div>\n");
    for (e, v) in &variants {
        let key = anchor(&[e, &v.name]);
        for i in 0..v.checkpoints.len() {
            slide(out, e, v, i, &key);
        }
    }
    out.push_str("</div>\n");
}
