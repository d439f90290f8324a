//! Where a separately built program's resident pages are, per build: one band
//! per mapping kind (text, data, bss, heap, stack, vdso, libraries, ...), one
//! horizontal bar per build in it, its page count written at its end. Bars
//! rather than lines, because the builds are not a sequence; horizontal so
//! that every count has room. Drawn from each build's last checkpoint, the
//! same figures as the Programs table.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::legend::{self, Entry, Mark};
use super::{colour, DrawResult, Root};
use crate::experiment::programs::{self, Part};
use crate::model::ExperimentRecord;

/// Pixels per bar, and per kind's heading.
const BAR: u32 = 16;
const HEADING: u32 = 22;

/// Each build's resident pages per kind at its last checkpoint.
fn pages(e: &ExperimentRecord, page: u64) -> Vec<(String, Vec<(Part, u64)>)> {
    e.variants
        .iter()
        .filter_map(|v| {
            let b = v.binary.as_ref()?;
            let p = v.checkpoints.last()?.processes.first()?;
            let parts = programs::breakdown(p, &b.path);
            let counts = Part::ALL
                .iter()
                .map(|part| (*part, parts.get(part).map_or(0, |f| f.rss_bytes / page)))
                .collect();
            Some((v.name.clone(), counts))
        })
        .collect()
}

/// The kinds some build has resident pages in.
fn shown(builds: &[(String, Vec<(Part, u64)>)]) -> Vec<Part> {
    Part::ALL
        .into_iter()
        .filter(|part| {
            builds
                .iter()
                .any(|(_, c)| c.iter().any(|(p, n)| p == part && *n > 0))
        })
        .collect()
}

/// The chart's size: a band per kind shown.
pub fn size(e: &ExperimentRecord) -> (u32, u32) {
    let builds = pages(e, 4096);
    let kinds = shown(&builds).len().max(1) as u32;
    let band = HEADING + builds.len().max(1) as u32 * BAR;
    (super::SIZE.0, 110 + kinds * band)
}

pub fn chart(root: &Root<'_>, title: &str, e: &ExperimentRecord, page: u64) -> DrawResult {
    let builds = pages(e, page);
    let kinds = shown(&builds);
    if kinds.is_empty() {
        return Err("no build has resident pages".into());
    }
    let x_max = builds
        .iter()
        .flat_map(|(_, c)| c.iter().map(|(_, n)| *n))
        .max()
        .unwrap_or(1) as f64;
    let band = HEADING as f64 + builds.len() as f64 * BAR as f64;
    let heading = HEADING as f64 / band;
    let bar = BAR as f64 / band;
    let (plot, side) = legend::split(root);
    let mut chart = ChartBuilder::on(&plot)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(10)
        .build_cartesian_2d(0.0..x_max * 1.12, kinds.len() as f64..0.0)?;
    chart
        .configure_mesh()
        .y_labels(0)
        .disable_y_mesh()
        .light_line_style(WHITE)
        .x_label_formatter(&|x| format!("{x:.0}"))
        .x_desc("resident pages (Rss), linear")
        .draw()?;
    for (k, part) in kinds.iter().enumerate() {
        let top = k as f64;
        chart.draw_series(std::iter::once(Text::new(
            part.name().to_string(),
            (x_max * 0.005, top + heading * 0.55),
            ("sans-serif", 15)
                .into_font()
                .style(FontStyle::Bold)
                .color(&BLACK)
                .pos(Pos::new(HPos::Left, VPos::Center)),
        )))?;
        for (b, (_, counts)) in builds.iter().enumerate() {
            let n = counts
                .iter()
                .find(|(p, _)| p == part)
                .map_or(0, |(_, n)| *n) as f64;
            let y0 = top + heading + b as f64 * bar;
            chart.draw_series(std::iter::once(Rectangle::new(
                [(0.0, y0 + bar * 0.1), (n, y0 + bar * 0.9)],
                colour(b).filled(),
            )))?;
            chart.draw_series(std::iter::once(Text::new(
                format!("{n:.0}"),
                (n + x_max * 0.008, y0 + bar * 0.5),
                ("sans-serif", 12)
                    .into_font()
                    .color(&BLACK)
                    .pos(Pos::new(HPos::Left, VPos::Center)),
            )))?;
        }
    }
    let entries: Vec<Entry> = builds
        .iter()
        .enumerate()
        .map(|(b, (name, _))| Entry {
            label: name.clone(),
            colour: colour(b),
            mark: Mark::Box,
        })
        .collect();
    legend::draw(
        &side,
        &entries,
        &["Pages of the first process at each build's last checkpoint.".to_string()],
    )
}
