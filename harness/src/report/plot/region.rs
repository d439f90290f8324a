//! The declared region (the 256 MiB the lesson is about) as the processes see
//! it: per process one panel, per checkpoint one bar of its resident bytes
//! split into Private_Dirty, Shared_Dirty, Private_Clean and Shared_Clean
//! (together its Rss), with its Pss as a black rule across the bar. All
//! panels share one linear scale, so that copy-on-write reads as blue turning
//! red and Pss halving at fork as the rule dropping to mid-bar.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::legend::{self, Entry, Mark};
use super::{byte_unit, checkpoint_axis, groups, tick_bytes, DrawResult, Group, Root};
use crate::model::{MemoryFigures, VariantRecord};

/// The height of one process's panel, and of the caption above them.
const PANEL: u32 = 300;
const CAPTION: u32 = 40;

/// The parts of a region's Rss, bottom up, with their colours.
/// A part's name, figure and colour.
type Part = (&'static str, fn(&MemoryFigures) -> u64, RGBColor);

const PARTS: [Part; 4] = [
    (
        "Private_Dirty",
        |f| f.private_dirty_bytes,
        RGBColor(214, 39, 40),
    ),
    (
        "Shared_Dirty",
        |f| f.shared_dirty_bytes,
        RGBColor(31, 119, 180),
    ),
    (
        "Private_Clean",
        |f| f.private_clean_bytes,
        RGBColor(255, 160, 60),
    ),
    (
        "Shared_Clean",
        |f| f.shared_clean_bytes,
        RGBColor(120, 190, 120),
    ),
];

/// The regions the variant declared, in order of first appearance.
pub fn names(variant: &VariantRecord) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for c in &variant.checkpoints {
        for p in &c.processes {
            for r in &p.regions {
                if !out.contains(&r.name) {
                    out.push(r.name.clone());
                }
            }
        }
    }
    out
}

/// The process groups that hold the region at some checkpoint.
fn holders(variant: &VariantRecord, name: &str) -> Vec<Group> {
    groups(variant)
        .into_iter()
        .filter(|g| {
            variant.checkpoints.iter().any(|c| {
                g.roles
                    .iter()
                    .filter_map(|r| c.process(r))
                    .any(|p| p.region(name).is_some())
            })
        })
        .collect()
}

/// The chart's size: one panel per process that holds a region.
pub fn size(variant: &VariantRecord) -> (u32, u32) {
    let panels = names(variant)
        .iter()
        .map(|n| holders(variant, n).len())
        .max()
        .unwrap_or(1)
        .max(1) as u32;
    (super::SIZE.0, CAPTION + panels * PANEL)
}

/// The group's figure `pick` of region `name` at checkpoint `i`.
fn value(
    variant: &VariantRecord,
    group: &Group,
    i: usize,
    name: &str,
    pick: fn(&MemoryFigures) -> u64,
) -> u64 {
    group
        .sum(&variant.checkpoints[i], |p| {
            p.region(name).map_or(0, |r| pick(&r.figures))
        })
        .unwrap_or(0)
}

pub fn chart(root: &Root<'_>, title: &str, variant: &VariantRecord, name: &str) -> DrawResult {
    let holders = holders(variant, name);
    if holders.is_empty() {
        return Err("no process holds the region".into());
    }
    let n = variant.checkpoints.len();
    let parts: Vec<&Part> = PARTS
        .iter()
        .filter(|(_, pick, _)| {
            holders
                .iter()
                .any(|g| (0..n).any(|i| value(variant, g, i, name, *pick) > 0))
        })
        .collect();
    let y_max = holders
        .iter()
        .flat_map(|g| {
            (0..n).map(move |i| {
                let rss = value(variant, g, i, name, |f| f.rss_bytes);
                rss.max(value(variant, g, i, name, |f| f.pss_bytes))
            })
        })
        .max()
        .unwrap_or(0) as f64;
    let (plot, side) = legend::split(root);
    let plot = plot.titled(title, ("sans-serif", 20))?;
    let panels = plot.split_evenly((holders.len(), 1));
    let scale = Scale {
        y_max,
        unit: byte_unit(y_max).0,
    };
    for (group, panel) in holders.iter().zip(&panels) {
        draw_panel(panel, variant, group, name, &parts, &scale)?;
    }
    let mut entries: Vec<Entry> = parts
        .iter()
        .map(|(label, _, colour)| Entry {
            label: label.to_string(),
            colour: *colour,
            mark: Mark::Box,
        })
        .collect();
    entries.push(Entry {
        label: "Pss".into(),
        colour: BLACK,
        mark: Mark::Rule,
    });
    let notes = vec![
        "Each bar is the region's Rss, stacked by kind of page; the figure above it is its Rss."
            .to_string(),
    ];
    legend::draw(&side, &entries, &notes)
}

/// The scale all panels share: the largest value drawn, and the byte unit
/// the axis counts in.
struct Scale {
    y_max: f64,
    unit: f64,
}

/// One process group's panel: per checkpoint a bar of the region's Rss
/// stacked by `parts`, the Pss as a rule across it, the Rss written above.
fn draw_panel(
    panel: &Root<'_>,
    variant: &VariantRecord,
    group: &Group,
    name: &str,
    parts: &[&Part],
    scale: &Scale,
) -> DrawResult {
    let Scale { y_max, unit } = *scale;
    let y_format = |y: &f64| tick_bytes(y * unit);
    let panel = panel.titled(
        &format!("{}: the {name} region", group.label),
        ("sans-serif", 16),
    )?;
    let mut chart = checkpoint_axis(
        &panel,
        None,
        variant,
        y_max / unit * 1.08,
        "resident (linear)",
        &y_format,
    )?;
    for i in 0..variant.checkpoints.len() {
        let x = i as f64;
        let mut bottom = 0.0;
        for (_, pick, colour) in parts {
            let top = bottom + value(variant, group, i, name, *pick) as f64 / unit;
            chart.draw_series(std::iter::once(Rectangle::new(
                [(x - 0.3, bottom), (x + 0.3, top)],
                colour.filled(),
            )))?;
            bottom = top;
        }
        let pss = value(variant, group, i, name, |f| f.pss_bytes) as f64 / unit;
        chart.draw_series(std::iter::once(PathElement::new(
            vec![(x - 0.36, pss), (x + 0.36, pss)],
            BLACK.stroke_width(3),
        )))?;
        let rss = value(variant, group, i, name, |f| f.rss_bytes);
        if rss > 0 {
            chart.draw_series(std::iter::once(Text::new(
                tick_bytes(rss as f64),
                (x, bottom.max(pss) + y_max / unit * 0.02),
                ("sans-serif", 12)
                    .into_font()
                    .color(&BLACK)
                    .pos(Pos::new(HPos::Center, VPos::Bottom)),
            )))?;
        }
    }
    Ok(())
}
