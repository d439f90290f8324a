//! SVG charts of a variant: memory per checkpoint, faults per phase, and VmRSS
//! over time where a phase ran long enough to be sampled. Drawn with plotters'
//! SVG backend, so no external tool is needed.

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::model::{CheckpointRecord, ProcessRecord, VariantRecord};

/// Chart size in pixels.
const SIZE: (u32, u32) = (1000, 520);
/// Fewer samples than this are not worth a time chart.
const MIN_SAMPLES: usize = 5;
const MIB: f64 = 1024.0 * 1024.0;

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

/// Every chart for one variant.
pub fn charts(experiment: &str, variant: &VariantRecord) -> Vec<Chart> {
    let mut out = Vec::new();
    if variant.checkpoints.is_empty() {
        return out;
    }
    let base = format!("{experiment}-{}", variant.name);
    let title = format!(
        "{experiment} / {}: Rss and Pss per checkpoint",
        variant.name
    );
    if let Some(svg) = render(|root| memory_chart(root, &title, variant)) {
        out.push(Chart {
            file_name: format!("{base}-memory.svg"),
            title,
            svg,
        });
    }
    let title = format!("{experiment} / {}: page faults per phase", variant.name);
    if let Some(svg) = render(|root| faults_chart(root, &title, variant)) {
        out.push(Chart {
            file_name: format!("{base}-faults.svg"),
            title,
            svg,
        });
    }
    if variant.rss_samples.len() >= MIN_SAMPLES {
        let title = format!("{experiment} / {}: VmRSS over time", variant.name);
        if let Some(svg) = render(|root| rss_time_chart(root, &title, variant)) {
            out.push(Chart {
                file_name: format!("{base}-rss-over-time.svg"),
                title,
                svg,
            });
        }
    }
    out
}

type Root<'a> = DrawingArea<SVGBackend<'a>, Shift>;
type DrawResult = Result<(), Box<dyn std::error::Error>>;

fn render(draw: impl FnOnce(&Root<'_>) -> DrawResult) -> Option<String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).ok()?;
        draw(&root).ok()?;
        root.present().ok()?;
    }
    Some(svg)
}

/// Distinct colours for series, in order.
fn colour(i: usize) -> RGBColor {
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
struct Group {
    /// How the legend names it.
    label: String,
    /// The roles summed into it.
    roles: Vec<String>,
}

impl Group {
    /// The group's sum at a checkpoint, if any of its processes was there.
    fn sum(
        &self,
        checkpoint: &CheckpointRecord,
        pick: impl Fn(&ProcessRecord) -> u64,
    ) -> Option<u64> {
        let present: Vec<&ProcessRecord> = self
            .roles
            .iter()
            .filter_map(|r| checkpoint.process(r))
            .collect();
        (!present.is_empty()).then(|| present.into_iter().map(pick).sum())
    }
}

/// One group per process role in order of first appearance, or, with many
/// processes, the first role and the sum over all of them.
fn groups(variant: &VariantRecord) -> Vec<Group> {
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
            label: format!("all {} processes, summed", roles.len()),
            roles,
        },
    ]
}

/// Checkpoint labels as x-axis tick text: short enough not to overlap.
fn tick_label(variant: &VariantRecord, x: f64) -> String {
    let i = x.round();
    if (x - i).abs() > 0.01 || i < 0.0 {
        return String::new();
    }
    variant
        .checkpoints
        .get(i as usize)
        .map(|c| c.label.clone())
        .unwrap_or_default()
}

type Axis<'a, 'b> = ChartContext<
    'a,
    SVGBackend<'b>,
    Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
>;

fn checkpoint_axis<'a, 'b>(
    root: &'a Root<'b>,
    title: &str,
    variant: &VariantRecord,
    y_max: f64,
    y_desc: &str,
) -> Result<Axis<'a, 'b>, Box<dyn std::error::Error>> {
    let n = variant.checkpoints.len() as f64;
    let mut chart = ChartBuilder::on(root)
        .caption(title, ("sans-serif", 20))
        .margin(15)
        .x_label_area_size(55)
        .y_label_area_size(80)
        // Headroom above the tallest value keeps the legend (upper left) off the data.
        .build_cartesian_2d(-0.5..(n - 0.5), 0.0..(y_max * 1.45).max(1.0))?;
    chart
        .configure_mesh()
        .x_labels(variant.checkpoints.len())
        .x_label_formatter(&|x| tick_label(variant, *x))
        .x_label_style(("sans-serif", 13))
        .x_desc("checkpoint")
        .y_desc(y_desc)
        .disable_x_mesh()
        .draw()?;
    Ok(chart)
}

/// The series legend, in the upper left where the curves start low.
fn draw_legend<'a, 'b: 'a>(chart: &mut Axis<'a, 'b>) -> DrawResult {
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()?;
    Ok(())
}

fn memory_chart(root: &Root<'_>, title: &str, variant: &VariantRecord) -> DrawResult {
    let series: Vec<(String, Vec<(f64, f64)>)> = groups(variant)
        .iter()
        .flat_map(|group| {
            let points = |pick: fn(&ProcessRecord) -> u64| -> Vec<(f64, f64)> {
                variant
                    .checkpoints
                    .iter()
                    .enumerate()
                    .filter_map(|(i, c)| group.sum(c, pick).map(|v| (i as f64, v as f64 / MIB)))
                    .collect()
            };
            [
                (
                    format!("{} Rss", group.label),
                    points(|p| p.totals.rss_bytes),
                ),
                (
                    format!("{} Pss", group.label),
                    points(|p| p.totals.pss_bytes),
                ),
            ]
        })
        .collect();
    let y_max = series
        .iter()
        .flat_map(|(_, p)| p.iter().map(|(_, y)| *y))
        .fold(0.0, f64::max);
    let mut chart = checkpoint_axis(root, title, variant, y_max, "memory (MiB)")?;
    for (i, (name, points)) in series.iter().enumerate() {
        let style = colour(i).stroke_width(2);
        chart
            .draw_series(LineSeries::new(points.iter().copied(), style))?
            .label(name.as_str())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], colour(i).stroke_width(2))
            });
        chart.draw_series(
            points
                .iter()
                .map(|p| Circle::new(*p, 4, colour(i).filled())),
        )?;
    }
    draw_legend(&mut chart)
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
    let mut chart = checkpoint_axis(
        root,
        title,
        variant,
        y_max,
        "faults in the phase ending here",
    )?;
    let width = 0.8 / kinds.len() as f64;
    for (k, (name, r, major)) in kinds.iter().enumerate() {
        let fill = colour(k).filled();
        let bars = variant.checkpoints.iter().enumerate().map(|(i, c)| {
            let x0 = i as f64 - 0.4 + k as f64 * width;
            Rectangle::new(
                [(x0, 0.0), (x0 + width * 0.9, value(c, *r, *major) as f64)],
                fill,
            )
        });
        chart
            .draw_series(bars)?
            .label(name.as_str())
            .legend(move |(x, y)| {
                Rectangle::new([(x, y - 5), (x + 15, y + 5)], colour(k).filled())
            });
    }
    draw_legend(&mut chart)
}

fn rss_time_chart(root: &Root<'_>, title: &str, variant: &VariantRecord) -> DrawResult {
    let points: Vec<(f64, f64)> = variant
        .rss_samples
        .iter()
        .map(|s| (s.millis as f64 / 1000.0, s.rss_bytes as f64 / MIB))
        .collect();
    let x_max = points.iter().map(|p| p.0).fold(0.0, f64::max).max(0.001);
    let y_max = points.iter().map(|p| p.1).fold(0.0, f64::max).max(1.0);
    let mut chart = ChartBuilder::on(root)
        .caption(title, ("sans-serif", 20))
        .margin(15)
        .x_label_area_size(50)
        .y_label_area_size(80)
        .build_cartesian_2d(0.0..x_max * 1.02, 0.0..y_max * 1.1)?;
    chart
        .configure_mesh()
        .x_desc("time since start (s)")
        .y_desc("VmRSS (MiB)")
        .draw()?;
    chart
        .draw_series(LineSeries::new(points, colour(0).stroke_width(2)))?
        .label("main VmRSS")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], colour(0).stroke_width(2)));
    draw_legend(&mut chart)
}
