//! SVG charts of a run, drawn with plotters' SVG backend (no external tool).
//! Per variant: the declared region's pages as stacked bars per process on a
//! linear scale (`region`), memory per checkpoint, faults per phase, and
//! VmRSS over time from the first checkpoint on; per experiment of separately
//! built programs, resident pages per mapping kind per build (`kinds`).
//! Every chart keeps its legend in a column beside the plot and names its
//! checkpoints in staggered rows ([`legend`]); series that coincide are drawn
//! once and the legend says so.

mod kinds;
pub mod legend;
mod region;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::model::{CheckpointRecord, ExperimentRecord, ProcessRecord, RunRecord, VariantRecord};
use legend::{Entry, Mark};

/// Chart size in pixels.
const SIZE: (u32, u32) = (1000, 520);
/// Fewer samples than this are not worth a time chart.
const MIN_SAMPLES: usize = 5;

/// One chart, ready to be written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chart {
    /// File name (`<experiment>-<variant>-<kind>.svg`).
    pub file_name: String,
    /// Alt text / caption.
    pub title: String,
    /// The SVG document.
    pub svg: String,
}

/// Every chart of a run, rendered once and shared by the files that show them
/// (the SVG files themselves, results.md's links, results.html's figures).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Charts {
    /// (experiment, variant, its charts), in the run's order.
    by_variant: Vec<(String, String, Vec<Chart>)>,
    /// (experiment, its charts over all variants), in the run's order.
    by_experiment: Vec<(String, Vec<Chart>)>,
}

impl Charts {
    /// Renders every chart of every variant of `run`.
    pub fn of(run: &RunRecord) -> Charts {
        let page = run.environment.page_size.max(1);
        let by_variant = run
            .experiments
            .iter()
            .flat_map(|e| {
                e.variants
                    .iter()
                    .map(move |v| (e.name.clone(), v.name.clone(), charts(&e.name, v, page)))
            })
            .collect();
        let by_experiment = run
            .experiments
            .iter()
            .map(|e| (e.name.clone(), experiment_charts(e, page)))
            .filter(|(_, c)| !c.is_empty())
            .collect();
        Charts {
            by_variant,
            by_experiment,
        }
    }

    /// The charts of one variant (none if it has none).
    pub fn of_variant(&self, experiment: &str, variant: &str) -> &[Chart] {
        self.by_variant
            .iter()
            .find(|(e, v, _)| e == experiment && v == variant)
            .map_or(&[], |(_, _, charts)| charts.as_slice())
    }

    /// The charts that compare an experiment's variants (none if it has none).
    pub fn of_experiment(&self, experiment: &str) -> &[Chart] {
        self.by_experiment
            .iter()
            .find(|(e, _)| e == experiment)
            .map_or(&[], |(_, charts)| charts.as_slice())
    }

    /// Every chart, in the run's order (an experiment's own after its variants').
    pub fn iter(&self) -> impl Iterator<Item = &Chart> {
        self.by_variant
            .iter()
            .flat_map(|(_, _, charts)| charts)
            .chain(self.by_experiment.iter().flat_map(|(_, charts)| charts))
    }
}

/// The charts over an experiment's variants.
fn experiment_charts(e: &ExperimentRecord, page: u64) -> Vec<Chart> {
    let mut out = Vec::new();
    if super::binaries::applies(e) {
        let title = format!("{}: resident pages per mapping kind, per build", e.name);
        let size = kinds::size(e);
        if let Some(svg) = render(size, |root| kinds::chart(root, &title, e, page)) {
            out.push(Chart {
                file_name: format!("{}-kinds.svg", e.name),
                title,
                svg,
            });
        }
    }
    out
}

/// Every chart for one variant; `page` is the page size in bytes.
pub fn charts(experiment: &str, variant: &VariantRecord, page: u64) -> Vec<Chart> {
    let mut out = Vec::new();
    if variant.checkpoints.is_empty() {
        return out;
    }
    let base = format!("{experiment}-{}", variant.name);
    for name in region::names(variant) {
        let title = format!(
            "{experiment} / {}: the {name} region's resident pages per process",
            variant.name
        );
        let size = region::size(variant);
        if let Some(svg) = render(size, |root| region::chart(root, &title, variant, &name)) {
            out.push(Chart {
                file_name: format!("{base}-region-{name}.svg"),
                title,
                svg,
            });
        }
    }
    let title = format!(
        "{experiment} / {}: VmSize, Rss and Pss per checkpoint",
        variant.name
    );
    if let Some(svg) = render(memory_size(variant), |root| {
        memory_chart(root, &title, variant, page)
    }) {
        out.push(Chart {
            file_name: format!("{base}-memory.svg"),
            title,
            svg,
        });
    }
    let title = format!("{experiment} / {}: page faults per phase", variant.name);
    if let Some(svg) = render(SIZE, |root| faults_chart(root, &title, variant)) {
        out.push(Chart {
            file_name: format!("{base}-faults.svg"),
            title,
            svg,
        });
    }
    if variant.rss_samples.len() >= MIN_SAMPLES {
        let title = format!("{experiment} / {}: VmRSS over time", variant.name);
        if let Some(svg) = render(SIZE, |root| rss_time_chart(root, &title, variant)) {
            out.push(Chart {
                file_name: format!("{base}-rss-over-time.svg"),
                title,
                svg,
            });
        }
    }
    out
}

pub(crate) type Root<'a> = DrawingArea<SVGBackend<'a>, Shift>;
pub(crate) type DrawResult = Result<(), Box<dyn std::error::Error>>;

fn render(size: (u32, u32), draw: impl FnOnce(&Root<'_>) -> DrawResult) -> Option<String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        root.fill(&WHITE).ok()?;
        draw(&root).ok()?;
        root.present().ok()?;
    }
    Some(svg)
}

/// Distinct colours for series, in order.
pub(crate) fn colour(i: usize) -> RGBColor {
    const PALETTE: [RGBColor; 8] = [
        RGBColor(31, 119, 180),
        RGBColor(255, 127, 14),
        RGBColor(44, 160, 44),
        RGBColor(214, 39, 40),
        RGBColor(148, 103, 189),
        RGBColor(140, 86, 75),
        RGBColor(227, 119, 194),
        RGBColor(127, 127, 127),
    ];
    PALETTE[i % PALETTE.len()]
}

/// More processes than this are drawn as the first one plus a sum of all, so
/// that the legend stays readable (a zygote's children, 32 server instances).
const MAX_PROCESS_SERIES: usize = 3;

/// The processes one series stands for.
pub(crate) struct Group {
    /// How the legend names it.
    pub(crate) label: String,
    /// The roles summed into it.
    pub(crate) roles: Vec<String>,
}

impl Group {
    /// The group's sum at a checkpoint, if any of its processes was there.
    pub(crate) fn sum(
        &self,
        checkpoint: &CheckpointRecord,
        pick: impl Fn(&ProcessRecord) -> u64,
    ) -> Option<u64> {
        let present: Vec<&ProcessRecord> = self
            .roles
            .iter()
            .filter_map(|r| checkpoint.process(r))
            .collect();
        (!present.is_empty()).then(|| {
            present
                .into_iter()
                .map(pick)
                .fold(0u64, u64::saturating_add)
        })
    }
}

/// One group per process role in order of first appearance, or, with many
/// processes, the first role and the sum over all of them.
pub(crate) fn groups(variant: &VariantRecord) -> Vec<Group> {
    let mut roles: Vec<String> = Vec::new();
    for c in &variant.checkpoints {
        for p in &c.processes {
            if !roles.contains(&p.role) {
                roles.push(p.role.clone());
            }
        }
    }
    if roles.len() <= MAX_PROCESS_SERIES {
        return roles
            .into_iter()
            .map(|r| Group {
                label: r.clone(),
                roles: vec![r],
            })
            .collect();
    }
    vec![
        Group {
            label: roles[0].clone(),
            roles: vec![roles[0].clone()],
        },
        Group {
            label: format!("Σ {}…{} (those running)", roles[0], roles[roles.len() - 1]),
            roles,
        },
    ]
}

/// Bytes as tick text: `4 KiB`, `1.5 MiB`, `2 GiB`.
pub fn tick_bytes(bytes: f64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes.max(0.0);
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if (value - value.round()).abs() < 0.05 {
        format!("{:.0} {}", value, UNITS[unit])
    } else {
        format!("{:.1} {}", value, UNITS[unit])
    }
}

/// Counts as tick text: `900`, `1.2k`, `16k`, `2.6M`.
pub fn tick_count(count: f64) -> String {
    let trim = |v: f64, suffix: &str| {
        if v >= 10.0 || (v - v.round()).abs() < 0.05 {
            format!("{v:.0}{suffix}")
        } else {
            format!("{v:.1}{suffix}")
        }
    };
    match count {
        c if c >= 1e6 => trim(c / 1e6, "M"),
        c if c >= 1e3 => trim(c / 1e3, "k"),
        c => trim(c, ""),
    }
}

/// A binary unit that suits `max` bytes, so that ticks fall on round numbers of it.
pub(crate) fn byte_unit(max: f64) -> (f64, &'static str) {
    [(1u64 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")]
        .into_iter()
        .find(|(u, _)| max >= *u as f64)
        .map_or((1.0, "B"), |(u, n)| (u as f64, n))
}

/// Every checkpoint's label at its slot's x (0, 1, 2, ...).
fn checkpoint_labels(variant: &VariantRecord) -> Vec<(f64, String)> {
    variant
        .checkpoints
        .iter()
        .enumerate()
        .map(|(i, c)| (i as f64, c.label.clone()))
        .collect()
}

/// Space under a checkpoint axis for its staggered names.
const LABEL_AREA: u32 = (legend::ROWS as u32) * (legend::ROW_HEIGHT as u32) + 30;

type Axis<'a, 'b> = ChartContext<
    'a,
    SVGBackend<'b>,
    Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
>;

/// A linear chart over a variant's checkpoints on `area`, their names set in
/// staggered rows under it; `y_format` writes the tick text.
fn checkpoint_axis<'a, 'b>(
    area: &'a Root<'b>,
    title: Option<&str>,
    variant: &VariantRecord,
    y_max: f64,
    y_desc: &str,
    y_format: &dyn Fn(&f64) -> String,
) -> Result<Axis<'a, 'b>, Box<dyn std::error::Error>> {
    let n = variant.checkpoints.len() as f64;
    let mut builder = ChartBuilder::on(area);
    if let Some(title) = title {
        builder.caption(title, ("sans-serif", 20));
    }
    let mut chart = builder
        .margin(12)
        .x_label_area_size(LABEL_AREA)
        .y_label_area_size(80)
        .build_cartesian_2d(-0.5..(n - 0.5), 0.0..(y_max * 1.1).max(1.0))?;
    chart
        .configure_mesh()
        .x_labels(0)
        .y_label_formatter(y_format)
        .y_desc(y_desc)
        .disable_x_mesh()
        .draw()?;
    legend::labels(
        area,
        chart.plotting_area().get_pixel_range(),
        -0.5..(n - 0.5),
        &checkpoint_labels(variant),
        true,
    )?;
    Ok(chart)
}

/// One line of a line chart.
struct Series {
    label: String,
    points: Vec<(f64, f64)>,
}

/// Series that coincide (the same checkpoints, every value within
/// `tolerance`) merged into one, its label naming them all: drawn apart they
/// would hide one another. Returns the series and a note per merge.
fn merge_coinciding(series: Vec<Series>, tolerance: f64) -> (Vec<Series>, Vec<String>) {
    let mut out: Vec<Series> = Vec::new();
    let mut merged: Vec<Vec<String>> = Vec::new();
    for s in series {
        let same = out.iter().position(|o| {
            o.points.len() == s.points.len()
                && o.points
                    .iter()
                    .zip(&s.points)
                    .all(|(a, b)| a.0 == b.0 && (a.1 - b.1).abs() <= tolerance)
        });
        match same {
            Some(i) => merged[i].push(s.label),
            None => {
                merged.push(vec![s.label.clone()]);
                out.push(s);
            }
        }
    }
    let mut notes = Vec::new();
    for (s, names) in out.iter_mut().zip(merged) {
        if names.len() > 1 {
            s.label = names.join(" = ");
            notes.push(format!("{} coincide", names.join(" and ")));
        }
    }
    (out, notes)
}

/// The memory chart's size: one panel per process group.
fn memory_size(variant: &VariantRecord) -> (u32, u32) {
    let panels = groups(variant).len().max(1) as u32;
    (SIZE.0, 40 + panels * 260)
}

/// VmSize, Rss and Pss of each process (group) in its own panel, on a linear
/// scale: in one plot a parent's and a child's lines would lie on top of
/// each other. Lines within a page or 1 % of the panel's axis are one line.
fn memory_chart(root: &Root<'_>, title: &str, variant: &VariantRecord, page: u64) -> DrawResult {
    type Pick = fn(&ProcessRecord) -> u64;
    const KINDS: [(&str, Pick); 3] = [
        ("VmSize", |p| p.totals.vm_size_bytes),
        ("Rss", |p| p.totals.rss_bytes),
        ("Pss", |p| p.totals.pss_bytes),
    ];
    let groups = groups(variant);
    let per_group: Vec<Vec<Series>> = groups
        .iter()
        .map(|group| {
            KINDS
                .iter()
                .map(|(what, pick)| Series {
                    label: what.to_string(),
                    points: variant
                        .checkpoints
                        .iter()
                        .enumerate()
                        .filter_map(|(i, c)| group.sum(c, pick).map(|v| (i as f64, v as f64)))
                        .collect(),
                })
                .collect()
        })
        .collect();
    let colour_of = |label: &str| {
        let first = label.split(" = ").next().unwrap_or(label);
        colour(KINDS.iter().position(|(k, _)| *k == first).unwrap_or(0))
    };
    let (plot, side) = legend::split(root);
    let plot = plot.titled(title, ("sans-serif", 20))?;
    let panels = plot.split_evenly((groups.len().max(1), 1));
    let mut notes = Vec::new();
    // Each panel its own scale: one process beside the sum of 32 would be a
    // flat line at zero.
    for ((group, series), panel) in groups.iter().zip(per_group).zip(&panels) {
        let y_max = series
            .iter()
            .flat_map(|s| s.points.iter().map(|(_, y)| *y))
            .fold(0.0, f64::max);
        let (unit, _) = byte_unit(y_max);
        let y_format = |y: &f64| tick_bytes(y * unit);
        // Lines closer than a page or 1 % of the axis print as one.
        let tolerance = (page as f64).max(y_max * 0.01);
        let (series, merged) = merge_coinciding(series, tolerance);
        notes.extend(merged.iter().map(|n| {
            format!(
                "{}: {n} (within {}), drawn once.",
                group.label,
                tick_bytes(tolerance)
            )
        }));
        let panel = panel.titled(&group.label, ("sans-serif", 16))?;
        let mut chart = checkpoint_axis(
            &panel,
            None,
            variant,
            y_max / unit * 1.05,
            "memory (linear)",
            &y_format,
        )?;
        for s in &series {
            let c = colour_of(&s.label);
            let points: Vec<(f64, f64)> = s.points.iter().map(|(x, y)| (*x, y / unit)).collect();
            chart.draw_series(LineSeries::new(points.iter().copied(), c.stroke_width(3)))?;
            chart.draw_series(points.iter().map(|p| Circle::new(*p, 4, c.filled())))?;
        }
    }
    let entries: Vec<Entry> = KINDS
        .iter()
        .enumerate()
        .map(|(i, (k, _))| Entry {
            label: k.to_string(),
            colour: colour(i),
            mark: Mark::Line,
        })
        .collect();
    legend::draw(&side, &entries, &notes)
}

fn faults_chart(root: &Root<'_>, title: &str, variant: &VariantRecord) -> DrawResult {
    let groups = groups(variant);
    // One bar per (group, kind) in each checkpoint's slot.
    let kinds: Vec<(String, usize, bool)> = groups
        .iter()
        .enumerate()
        .flat_map(|(g, group)| {
            [
                (format!("{} minor faults", group.label), g, false),
                (format!("{} major faults", group.label), g, true),
            ]
        })
        .collect();
    let value = |c: &CheckpointRecord, g: usize, major: bool| {
        groups[g]
            .sum(c, |p| {
                if major {
                    p.faults.major
                } else {
                    p.faults.minor
                }
            })
            .unwrap_or(0)
    };
    let y_max = variant
        .checkpoints
        .iter()
        .flat_map(|c| kinds.iter().map(|(_, g, major)| value(c, *g, *major)))
        .max()
        .unwrap_or(0) as f64;
    let (plot, side) = legend::split(root);
    let y_format = |y: &f64| tick_count(*y);
    let mut chart = checkpoint_axis(
        &plot,
        Some(title),
        variant,
        y_max * 1.1,
        "faults in the phase ending here",
        &y_format,
    )?;
    let width = 0.8 / kinds.len() as f64;
    let mut entries = Vec::new();
    for (k, (name, r, major)) in kinds.iter().enumerate() {
        let fill = colour(k).filled();
        let bars = variant.checkpoints.iter().enumerate().map(|(i, c)| {
            let x0 = i as f64 - 0.4 + k as f64 * width;
            Rectangle::new(
                [(x0, 0.0), (x0 + width * 0.9, value(c, *r, *major) as f64)],
                fill,
            )
        });
        chart.draw_series(bars)?;
        entries.push(Entry {
            label: name.clone(),
            colour: colour(k),
            mark: Mark::Box,
        });
        // The count above each bar, so that one major fault next to thousands
        // of minor ones is still seen.
        chart.draw_series(variant.checkpoints.iter().enumerate().filter_map(|(i, c)| {
            let v = value(c, *r, *major);
            (v > 0).then(|| {
                let x = i as f64 - 0.4 + k as f64 * width + width * 0.45;
                Text::new(
                    tick_count(v as f64),
                    (x, v as f64 + y_max * 0.02),
                    ("sans-serif", 12)
                        .into_font()
                        .color(&BLACK)
                        .pos(Pos::new(HPos::Center, VPos::Bottom)),
                )
            })
        }))?;
    }
    legend::draw(&side, &entries, &[])
}

/// When each checkpoint was reached, in seconds after the experiment said
/// ready. The last one came right after the last sample (sampling stops when it
/// arrives); each earlier one a phase's wall time before the next. Counted back
/// from the end, the error is only the snapshots' own time, where counting
/// forward would also carry the unrecorded preparation before the first phase.
fn checkpoint_times(variant: &VariantRecord) -> Vec<(f64, &str)> {
    let last = variant.rss_samples.last().map_or_else(
        || {
            variant
                .checkpoints
                .iter()
                .map(|c| c.phase_millis)
                .sum::<u64>()
        },
        |s| s.millis,
    ) as f64
        / 1000.0;
    let mut at = last;
    let mut out: Vec<(f64, &str)> = Vec::new();
    for c in variant.checkpoints.iter().rev() {
        out.push((at.max(0.0), c.label.as_str()));
        at -= c.phase_millis as f64 / 1000.0;
    }
    out.reverse();
    out
}

/// Time as tick text, precise enough that ticks over `span` seconds differ.
fn seconds(x: f64, span: f64) -> String {
    if span < 2.0 {
        format!("{:.0} ms", x * 1000.0)
    } else {
        format!("{x:.1} s")
    }
}

/// VmRSS from the first checkpoint on: what came before it is the
/// experiment's preparation (writing its file), not a step of the lesson.
fn rss_time_chart(root: &Root<'_>, title: &str, variant: &VariantRecord) -> DrawResult {
    let marks = checkpoint_times(variant);
    let start = marks.first().map_or(0.0, |m| m.0);
    let samples: Vec<(f64, u64)> = variant
        .rss_samples
        .iter()
        .map(|s| (s.millis as f64 / 1000.0 - start, s.rss_bytes))
        .filter(|(t, _)| *t >= -1e-9)
        .collect();
    let peak = samples.iter().map(|s| s.1).max().unwrap_or(0) as f64;
    let (unit, _) = byte_unit(peak);
    let points: Vec<(f64, f64)> = samples
        .iter()
        .map(|(t, b)| (*t, *b as f64 / unit))
        .collect();
    let marks: Vec<(f64, String)> = marks
        .iter()
        .map(|(t, l)| (t - start, l.to_string()))
        .collect();
    let x_max = points
        .iter()
        .map(|p| p.0)
        .chain(marks.iter().map(|m| m.0))
        .fold(0.0, f64::max)
        .max(0.001);
    let y_max = points.iter().map(|p| p.1).fold(0.0, f64::max).max(1.0);
    let (plot, side) = legend::split(root);
    // The caption above the checkpoint names, which sit above the plot.
    let plot = plot.titled(title, ("sans-serif", 20))?;
    let x_range = 0.0..x_max * 1.02;
    let mut chart = ChartBuilder::on(&plot)
        .margin(12)
        .margin_top(12 + legend::ROWS as u32 * legend::ROW_HEIGHT as u32)
        .x_label_area_size(50)
        .y_label_area_size(80)
        .build_cartesian_2d(x_range.clone(), 0.0..y_max * 1.1)?;
    chart
        .configure_mesh()
        .x_label_formatter(&|x| seconds(*x, x_max))
        .y_label_formatter(&|y| tick_bytes(y * unit))
        .light_line_style(WHITE)
        .x_desc(format!(
            "time since {}",
            marks.first().map_or("the start", |m| m.1.as_str())
        ))
        .y_desc("VmRSS")
        .draw()?;
    let grey = RGBColor(90, 90, 90);
    for (at, _) in &marks {
        chart.draw_series(DashedLineSeries::new(
            [(*at, 0.0), (*at, y_max * 1.1)],
            6,
            4,
            grey.stroke_width(1),
        ))?;
    }
    legend::labels(
        &plot,
        chart.plotting_area().get_pixel_range(),
        x_range,
        &marks,
        false,
    )?;
    chart.draw_series(LineSeries::new(points, colour(0).stroke_width(2)))?;
    legend::draw(
        &side,
        &[Entry {
            label: "main VmRSS".into(),
            colour: colour(0),
            mark: Mark::Line,
        }],
        &["Dashed: checkpoints, placed by their phases' durations.".to_string()],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_read_in_human_units() {
        assert_eq!(tick_bytes(1200.0 * 1024.0 * 1024.0), "1.2 GiB");
        assert_eq!(tick_bytes(4096.0), "4 KiB");
        assert_eq!(tick_count(1200.0), "1.2k");
        assert_eq!(tick_count(16000.0), "16k");
        assert_eq!(tick_count(7.0), "7");
    }

    #[test]
    fn legends_stand_beside_the_plot_and_the_region_gets_its_chart() {
        let run = crate::store::json::parse(include_str!(
            "../../../tests/fixtures/runs/mmap-file-quick.json"
        ))
        .expect("the fixture parses");
        let charts = Charts::of(&run);
        let names: Vec<&str> = charts.iter().map(|c| c.file_name.as_str()).collect();
        assert!(
            names.iter().any(|n| n.ends_with("-region-data.svg")),
            "{names:?}"
        );
        let plot_width = (SIZE.0 - legend::WIDTH) as f64;
        let mut seen = 0;
        for chart in charts.iter() {
            // Every legend entry's text starts right of the plot area.
            for label in [
                "\nRss\n</text>",
                "\nVmSize\n</text>",
                " minor faults\n</text>",
            ] {
                for (i, _) in chart.svg.match_indices(label) {
                    let start = chart.svg[..i].rfind("<text").expect("a text element");
                    let x: f64 = chart.svg[start..i]
                        .split("x=\"")
                        .nth(1)
                        .and_then(|r| r.split('"').next())
                        .and_then(|x| x.parse().ok())
                        .expect("an x");
                    assert!(x > plot_width, "{}: {label} at x {x}", chart.file_name);
                    seen += 1;
                }
            }
        }
        assert!(seen >= 3, "legend entries found: {seen}");
    }

    #[test]
    fn coinciding_series_are_drawn_once_and_named_together() {
        let s = |label: &str, ys: &[f64]| Series {
            label: label.into(),
            points: ys.iter().enumerate().map(|(i, y)| (i as f64, *y)).collect(),
        };
        let (out, notes) = merge_coinciding(
            vec![
                s("parent Rss", &[100.0, 200.0]),
                s("parent Pss", &[100.0, 100.0]),
                s("child Rss", &[100.0, 201.0]),
            ],
            4.0,
        );
        let labels: Vec<&str> = out.iter().map(|s| s.label.as_str()).collect();
        assert_eq!(labels, ["parent Rss = child Rss", "parent Pss"]);
        assert_eq!(notes.len(), 1);
    }
}
