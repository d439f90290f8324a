//! SVG charts of a variant: memory per checkpoint, faults per phase, and VmRSS
//! over time where a phase ran long enough to be sampled. Drawn with plotters'
//! SVG backend, so no external tool is needed.

use plotters::coord::combinators::{IntoLogRange, LogCoord, WithKeyPoints};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::model::{CheckpointRecord, ProcessRecord, VariantRecord};

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
}

impl Charts {
    /// Renders every chart of every variant of `run`.
    pub fn of(run: &crate::model::RunRecord) -> Charts {
        let by_variant = run
            .experiments
            .iter()
            .flat_map(|e| {
                e.variants
                    .iter()
                    .map(|v| (e.name.clone(), v.name.clone(), charts(&e.name, v)))
            })
            .collect();
        Charts { by_variant }
    }

    /// The charts of one variant (none if it has none).
    pub fn of_variant(&self, experiment: &str, variant: &str) -> &[Chart] {
        self.by_variant
            .iter()
            .find(|(e, v, _)| e == experiment && v == variant)
            .map_or(&[], |(_, _, charts)| charts.as_slice())
    }

    /// Every chart, in the run's order.
    pub fn iter(&self) -> impl Iterator<Item = &Chart> {
        self.by_variant.iter().flat_map(|(_, _, charts)| charts)
    }
}

/// Every chart for one variant.
pub fn charts(experiment: &str, variant: &VariantRecord) -> Vec<Chart> {
    let mut out = Vec::new();
    if variant.checkpoints.is_empty() {
        return out;
    }
    let base = format!("{experiment}-{}", variant.name);
    let title = format!(
        "{experiment} / {}: VmSize, Rss and Pss per checkpoint",
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
            label: format!("Σ {}…{} (those running)", roles[0], roles[roles.len() - 1]),
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

type LogAxis<'a, 'b> = ChartContext<
    'a,
    SVGBackend<'b>,
    Cartesian2d<plotters::coord::types::RangedCoordf64, WithKeyPoints<LogCoord<f64>>>,
>;

/// Ticks of a log axis of bytes: powers of 16 from 4 KiB (4 KiB, 64 KiB,
/// 1 MiB, 16 MiB, ...), round numbers in binary units.
fn byte_ticks(max: f64) -> Vec<f64> {
    let mut ticks = vec![4096.0];
    while ticks[ticks.len() - 1] * 16.0 <= max {
        let next = ticks[ticks.len() - 1] * 16.0;
        ticks.push(next);
    }
    ticks
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
        .y_label_formatter(&|y| tick_count(*y))
        .x_desc("checkpoint")
        .y_desc(y_desc)
        .disable_x_mesh()
        .draw()?;
    Ok(chart)
}

/// The series legend, in the upper left where the curves start low.
fn draw_legend<'a, 'b: 'a, C: plotters::coord::CoordTranslate>(
    chart: &mut ChartContext<'a, SVGBackend<'b>, C>,
) -> DrawResult {
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()?;
    Ok(())
}

/// The smallest value a log axis of bytes shows: half a page. Smaller values
/// (0 among them) sit on the axis.
const LOG_FLOOR_BYTES: f64 = 2048.0;

fn memory_chart(root: &Root<'_>, title: &str, variant: &VariantRecord) -> DrawResult {
    let series: Vec<(String, Vec<(f64, f64)>)> = groups(variant)
        .iter()
        .flat_map(|group| {
            let points = |pick: fn(&ProcessRecord) -> u64| -> Vec<(f64, f64)> {
                variant
                    .checkpoints
                    .iter()
                    .enumerate()
                    .filter_map(|(i, c)| {
                        group
                            .sum(c, pick)
                            .map(|v| (i as f64, (v as f64).max(LOG_FLOOR_BYTES)))
                    })
                    .collect()
            };
            [
                (
                    format!("{} VmSize", group.label),
                    points(|p| p.totals.vm_size_bytes),
                ),
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
        .fold(LOG_FLOOR_BYTES * 2.0, f64::max);
    let n = variant.checkpoints.len() as f64;
    let mut chart: LogAxis<'_, '_> = ChartBuilder::on(root)
        .caption(title, ("sans-serif", 20))
        .margin(15)
        .x_label_area_size(55)
        .y_label_area_size(80)
        // A decade of headroom keeps the legend (upper left) off the data.
        .build_cartesian_2d(
            -0.5..(n - 0.5),
            (LOG_FLOOR_BYTES..y_max * 40.0)
                .log_scale()
                .with_key_points(byte_ticks(y_max * 40.0)),
        )?;
    chart
        .configure_mesh()
        .x_labels(variant.checkpoints.len())
        .x_label_formatter(&|x| tick_label(variant, *x))
        .x_label_style(("sans-serif", 13))
        .y_label_formatter(&|y| tick_bytes(*y))
        .x_desc("checkpoint")
        .y_desc("memory (log scale)")
        .disable_x_mesh()
        .draw()?;
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
    draw_legend(&mut chart)
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

fn rss_time_chart(root: &Root<'_>, title: &str, variant: &VariantRecord) -> DrawResult {
    // One binary unit for the whole axis, so that ticks fall on round numbers of it.
    let peak = variant
        .rss_samples
        .iter()
        .map(|s| s.rss_bytes)
        .max()
        .unwrap_or(0) as f64;
    let (unit, unit_name) = [(1u64 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")]
        .into_iter()
        .find(|(u, _)| peak >= *u as f64)
        .map_or((1.0, "B"), |(u, n)| (u as f64, n));
    let points: Vec<(f64, f64)> = variant
        .rss_samples
        .iter()
        .map(|s| (s.millis as f64 / 1000.0, s.rss_bytes as f64 / unit))
        .collect();
    let marks = checkpoint_times(variant);
    let x_max = points
        .iter()
        .map(|p| p.0)
        .chain(marks.iter().map(|m| m.0))
        .fold(0.0, f64::max)
        .max(0.001);
    let y_max = points.iter().map(|p| p.1).fold(0.0, f64::max).max(1.0);
    let mut chart = ChartBuilder::on(root)
        .caption(title, ("sans-serif", 20))
        .margin(15)
        .x_label_area_size(50)
        .y_label_area_size(80)
        .build_cartesian_2d(0.0..x_max * 1.02, 0.0..y_max * 1.3)?;
    chart
        .configure_mesh()
        .x_label_formatter(&|x| format!("{x:.1} s"))
        .y_label_formatter(&|y| format!("{y:.0} {unit_name}"))
        .x_desc("seconds since the experiment started; dashed: checkpoints, placed by their phases' durations")
        .y_desc("VmRSS")
        .draw()?;
    let grey = RGBColor(90, 90, 90);
    for (i, (at, label)) in marks.iter().enumerate() {
        chart.draw_series(DashedLineSeries::new(
            [(*at, 0.0), (*at, y_max * 1.3)],
            6,
            4,
            grey.stroke_width(1),
        ))?;
        // Alternate heights so that neighbouring names do not overlap.
        let y = y_max * if i % 2 == 0 { 1.24 } else { 1.16 };
        chart.draw_series(std::iter::once(Text::new(
            label.to_string(),
            (*at, y),
            ("sans-serif", 12)
                .into_font()
                .color(&grey)
                .pos(Pos::new(HPos::Center, VPos::Center)),
        )))?;
    }
    chart
        .draw_series(LineSeries::new(points, colour(0).stroke_width(2)))?
        .label("main VmRSS")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], colour(0).stroke_width(2)));
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()?;
    Ok(())
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
        assert_eq!(
            byte_ticks(2.0 * 1048576.0),
            vec![4096.0, 65536.0, 1048576.0]
        );
    }
}
