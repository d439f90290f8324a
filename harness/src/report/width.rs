//! Fitting terminal output to the screen: the width to use, and tables narrowed
//! to it.
//!
//! The width is `COLUMNS` when set (so `COLUMNS=80 harness all` is what a
//! projector shows), else the terminal's, else 80; never less than 80, the
//! narrowest terminal the output is written for.
//!
//! A table wider than that is narrowed in three steps, each only as far as needed:
//! 1. headers are abbreviated (`minor flt` → `min`, `Priv_Dirty` → `PrD`, ...);
//! 2. columns are dropped in the order the view declares, least telling first;
//! 3. the widest text column is cut (with `…`), then, if still too wide, columns
//!    are dropped from the right.
//!
//! Nothing is lost: results.md has every table in full.

use std::os::fd::{AsRawFd, RawFd};

use nix::pty::Winsize;

use super::table::Table;

/// The narrowest width output is laid out for.
pub const FLOOR: usize = 80;

/// Shorter headers, tried before any column is dropped.
const ABBREVIATIONS: &[(&str, &str)] = &[
    ("minor flt", "min"),
    ("major flt", "maj"),
    ("Priv_Dirty", "PrD"),
    ("Private_Dirty", "PrD"),
    ("Shared_Dirty", "ShD"),
    ("checkpoint", "ckpt"),
];

/// The width to lay terminal output out in.
pub fn terminal_width() -> usize {
    let columns = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse::<usize>().ok())
        .filter(|c| *c > 0);
    columns.or_else(tty_width).unwrap_or(FLOOR).max(FLOOR)
}

/// The width of the terminal on stdout or stderr, if either is one.
fn tty_width() -> Option<usize> {
    [std::io::stdout().as_raw_fd(), std::io::stderr().as_raw_fd()]
        .into_iter()
        .find_map(|fd| {
            let size = window_size(fd)?;
            (size.ws_col > 0).then_some(size.ws_col as usize)
        })
}

/// The height of the terminal, if stderr or stdout is one.
pub fn terminal_height() -> Option<usize> {
    [std::io::stderr().as_raw_fd(), std::io::stdout().as_raw_fd()]
        .into_iter()
        .find_map(|fd| {
            let size = window_size(fd)?;
            (size.ws_row > 0).then_some(size.ws_row as usize)
        })
}

/// The size of the terminal `fd` is, or `None` when it is not one.
fn window_size(fd: RawFd) -> Option<Winsize> {
    // nix has no TIOCGWINSZ function, so its ioctl macro declares one (unsafe,
    // as every ioctl is); the request number is libc's, as nix has no constant
    // for it.
    nix::ioctl_read_bad!(tiocgwinsz, libc::TIOCGWINSZ, Winsize);
    let mut size = Winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes one `winsize` into the pointer given, which
    // points at a live, properly aligned local; a non-terminal fd fails with
    // ENOTTY and writes nothing.
    unsafe { tiocgwinsz(fd, &mut size) }.ok()?;
    Some(size)
}

/// `text` cut to `width` characters, the cut marked with `…`.
pub fn truncate(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    let mut out: String = text.chars().take(width.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// The width `text::layout` gives `table`: two spaces of indent, two between columns.
pub fn laid_out_width(table: &Table) -> usize {
    let widths = column_widths(table);
    2 + widths.iter().sum::<usize>() + 2 * widths.len().saturating_sub(1)
}

fn column_widths(table: &Table) -> Vec<usize> {
    (0..table.headers.len())
        .map(|i| {
            table
                .rows
                .iter()
                .map(|r| r.get(i).map_or(0, |c| c.chars().count()))
                .chain([table.headers[i].chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect()
}

fn remove_column(table: &mut Table, index: usize) {
    table.headers.remove(index);
    table.numeric.remove(index);
    for row in &mut table.rows {
        if index < row.len() {
            row.remove(index);
        }
    }
}

/// Whether a header matches a drop-order entry: exactly, or, for an entry
/// starting with `*`, by its ending (`* Size` matches every region's Size).
fn matches(header: &str, entry: &str) -> bool {
    match entry.strip_prefix('*') {
        Some(suffix) => header.ends_with(suffix),
        None => header == entry,
    }
}

/// `table` narrowed to `width` (see the module documentation); `drop_order`
/// names the columns that may go, least telling first (headers as built, before
/// abbreviation).
pub fn fit(table: &Table, width: usize, drop_order: &[&str]) -> Table {
    let mut out = table.clone();
    if laid_out_width(&out) <= width {
        return out;
    }
    // The headers as built, kept aligned with `out` so that the drop order can
    // name them whatever their abbreviation.
    let mut original = out.headers.clone();
    for header in &mut out.headers {
        for (long, short) in ABBREVIATIONS {
            if header.contains(long) {
                *header = header.replace(long, short);
            }
        }
    }
    for entry in drop_order {
        while laid_out_width(&out) > width {
            let Some(index) = original.iter().rposition(|h| matches(h, entry)) else {
                break;
            };
            remove_column(&mut out, index);
            original.remove(index);
        }
    }
    squeeze(out, width)
}

/// Cuts the widest text column, then drops columns from the right, until the
/// table fits.
fn squeeze(mut out: Table, width: usize) -> Table {
    const MIN_TEXT: usize = 12;
    while laid_out_width(&out) > width {
        let widths = column_widths(&out);
        let widest_text = (0..widths.len())
            .filter(|i| !out.numeric[*i] && widths[*i] > MIN_TEXT)
            .max_by_key(|i| widths[*i]);
        match widest_text {
            Some(i) => {
                let excess = laid_out_width(&out) - width;
                let keep = widths[i].saturating_sub(excess).max(MIN_TEXT);
                for row in &mut out.rows {
                    if let Some(cell) = row.get_mut(i) {
                        *cell = truncate(cell, keep);
                    }
                }
                out.headers[i] = truncate(&out.headers[i], keep);
            }
            None if out.headers.len() > 1 => {
                let last = out.headers.len() - 1;
                remove_column(&mut out, last);
            }
            None => break,
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wide() -> Table {
        Table {
            headers: [
                "checkpoint",
                "process",
                "VmSize",
                "minor flt",
                "data Size",
                "data Rss",
                "heap Size",
            ]
            .map(String::from)
            .to_vec(),
            numeric: vec![false, false, true, true, true, true, true],
            rows: vec![[
                "after-touching-every-page",
                "main 123456",
                "1000.0 MiB",
                "262144",
                "1000.0 MiB",
                "1000.0 MiB",
                "132.0 KiB",
            ]
            .map(String::from)
            .to_vec()],
        }
    }

    #[test]
    fn a_table_that_fits_is_left_alone() {
        let t = wide();
        assert_eq!(fit(&t, 200, &["* Size"]), t);
    }

    #[test]
    fn columns_go_in_the_declared_order_and_the_rest_fits() {
        let t = fit(&wide(), 80, &["* Size", "VmSize"]);
        assert!(laid_out_width(&t) <= 80, "{t:?}");
        assert!(
            !t.headers.iter().any(|h| h.ends_with(" Size")),
            "{:?}",
            t.headers
        );
        assert!(
            t.headers.contains(&"data Rss".to_string()),
            "{:?}",
            t.headers
        );
        assert!(t.headers.contains(&"min".to_string()), "{:?}", t.headers);
    }

    #[test]
    fn long_text_is_cut_when_dropping_is_not_enough() {
        let t = Table {
            headers: vec!["claim".into(), "evidence".into()],
            numeric: vec![false, false],
            rows: vec![vec!["x".repeat(60), "y".repeat(300)]],
        };
        let fitted = fit(&t, 80, &[]);
        assert!(laid_out_width(&fitted) <= 80);
        assert!(fitted.rows[0][1].ends_with('…'));
    }

    #[test]
    fn truncation_counts_characters_not_bytes() {
        assert_eq!(truncate("ääää", 3), "ää…");
        assert_eq!(truncate("abc", 3), "abc");
    }
}
