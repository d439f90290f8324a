//! What every chart draws around its plot: the legend in its own column to the
//! right (so that it never covers data), notes under it, and category labels
//! (checkpoint names) set in staggered rows so that neighbours do not print
//! over each other. Plotters' SVG backend cannot measure text, so widths are
//! estimated from the character count at the font size used.

use std::ops::Range;

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{DrawResult, Root};

/// The width of the legend column, in pixels.
pub const WIDTH: u32 = 250;

/// Label font size, in pixels.
const FONT: u32 = 13;

/// Rows of staggered labels before they are allowed to overlap.
pub const ROWS: usize = 3;

/// The height of one row of labels, in pixels.
pub const ROW_HEIGHT: i32 = 15;

/// How a legend entry is marked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    /// A line with a dot, for line series.
    Line,
    /// A filled box, for bars.
    Box,
    /// A short black rule, for a value marked across a bar (Pss).
    Rule,
}

/// One entry of the legend.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// Its text (wrapped to the column).
    pub label: String,
    /// Its colour.
    pub colour: RGBColor,
    /// Its mark.
    pub mark: Mark,
}

/// The estimated width of `text` at `size` pixels: sans-serif averages a
/// little over half the size per character.
pub fn text_width(text: &str, size: u32) -> i32 {
    (text.chars().count() as f64 * size as f64 * 0.58).ceil() as i32
}

/// Splits a chart's area into the plot (left) and the legend column (right).
pub fn split<'a>(root: &Root<'a>) -> (Root<'a>, Root<'a>) {
    let (w, _) = root.dim_in_pixel();
    root.split_horizontally(w.saturating_sub(WIDTH))
}

/// Draws the legend and then the notes into `area` (the column of [`split`]).
pub fn draw(area: &Root<'_>, entries: &[Entry], notes: &[String]) -> DrawResult {
    let font = ("sans-serif", FONT).into_font().color(&BLACK);
    let chars = ((WIDTH as f64 - 40.0) / (FONT as f64 * 0.58)) as usize;
    let mut y = 50;
    for e in entries {
        let lines = wrap(&e.label, chars);
        let mid = y + ROW_HEIGHT / 2;
        match e.mark {
            Mark::Line => {
                area.draw(&PathElement::new(
                    vec![(4, mid), (26, mid)],
                    e.colour.stroke_width(3),
                ))?;
                area.draw(&Circle::new((15, mid), 4, e.colour.filled()))?;
            }
            Mark::Box => {
                area.draw(&Rectangle::new(
                    [(6, mid - 6), (24, mid + 6)],
                    e.colour.filled(),
                ))?;
            }
            Mark::Rule => {
                area.draw(&PathElement::new(
                    vec![(2, mid), (28, mid)],
                    BLACK.stroke_width(3),
                ))?;
            }
        }
        for line in lines {
            area.draw(&Text::new(
                line,
                (32, y),
                font.clone().pos(Pos::new(HPos::Left, VPos::Top)),
            ))?;
            y += ROW_HEIGHT + 1;
        }
        y += 4;
    }
    let small = ("sans-serif", FONT - 1)
        .into_font()
        .color(&RGBColor(60, 60, 60));
    for note in notes {
        y += 8;
        for line in wrap(note, chars + 4) {
            area.draw(&Text::new(
                line,
                (4, y),
                small.clone().pos(Pos::new(HPos::Left, VPos::Top)),
            ))?;
            y += ROW_HEIGHT;
        }
    }
    Ok(())
}

fn wrap(text: &str, width: usize) -> Vec<String> {
    crate::report::width::wrap(text, width.max(8), "")
        .lines()
        .map(String::from)
        .collect()
}

/// The row (0 nearest the axis) of each label centred at `centres` (pixels, in
/// order) so that no two in one row overlap, where [`ROWS`] rows allow it.
pub fn stagger(centres: &[i32], widths: &[i32]) -> Vec<usize> {
    let mut right_edge = [i32::MIN; ROWS];
    centres
        .iter()
        .zip(widths)
        .map(|(c, w)| {
            let left = c - w / 2;
            let row = (0..ROWS)
                .find(|r| right_edge[*r] + 6 <= left)
                .unwrap_or_else(|| (0..ROWS).min_by_key(|r| right_edge[*r]).unwrap_or(0));
            right_edge[row] = c + w - w / 2;
            row
        })
        .collect()
}

/// Draws `labels` (x in the chart's coordinates) in staggered rows under the
/// plot (`below`) or above it; `pixels` is the plot's pixel range, `x` its
/// coordinate range, `area` the area the chart was built on.
pub fn labels(
    area: &Root<'_>,
    pixels: (Range<i32>, Range<i32>),
    x: Range<f64>,
    labels: &[(f64, String)],
    below: bool,
) -> DrawResult {
    let (base_x, base_y) = area.get_base_pixel();
    let (px, py) = pixels;
    let span = (x.end - x.start).max(f64::MIN_POSITIVE);
    let centres: Vec<i32> = labels
        .iter()
        .map(|(at, _)| {
            px.start + ((at - x.start) / span * (px.end - px.start) as f64).round() as i32 - base_x
        })
        .collect();
    let widths: Vec<i32> = labels.iter().map(|(_, l)| text_width(l, FONT)).collect();
    let rows = stagger(&centres, &widths);
    let font = ("sans-serif", FONT)
        .into_font()
        .color(&RGBColor(40, 40, 40));
    for ((centre, (_, label)), row) in centres.iter().zip(labels).zip(rows) {
        let y = if below {
            py.end - base_y + 6 + row as i32 * ROW_HEIGHT
        } else {
            py.start - base_y - 4 - row as i32 * ROW_HEIGHT
        };
        let v = if below { VPos::Top } else { VPos::Bottom };
        area.draw(&Text::new(
            label.clone(),
            (*centre, y),
            font.clone().pos(Pos::new(HPos::Center, v)),
        ))?;
        // A tick from the label to its place on the axis.
        let (from, to) = if below {
            (py.end - base_y, y)
        } else {
            (y, py.start - base_y)
        };
        if row > 0 {
            area.draw(&PathElement::new(
                vec![(*centre, from), (*centre, to)],
                RGBColor(170, 170, 170).stroke_width(1),
            ))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn neighbouring_labels_go_to_different_rows() {
        // Seven 130-pixel labels 93 pixels apart: alternate rows suffice.
        let centres: Vec<i32> = (0..7).map(|i| 50 + i * 93).collect();
        let rows = stagger(&centres, &[130; 7]);
        assert_eq!(rows, vec![0, 1, 0, 1, 0, 1, 0]);
        // Labels that fit stay on the axis row.
        assert_eq!(stagger(&[0, 100, 200], &[50; 3]), vec![0, 0, 0]);
    }
}
