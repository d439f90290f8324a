//! Fitting terminal output to the screen: the width to use, and tables narrowed
//! to it.
//!
//! The width is `COLUMNS` when set (so `COLUMNS=80 harness all` is what a
//! projector shows), else the terminal's, else 80; never less than 80, the
//! narrowest terminal the output is written for.
//!
//! Every line a command prints is laid out here: prose is wrapped
//! ([`wrap`], [`wrap_hanging`], [`fit_lines`]), never cut; only a table cell
//! is cut ([`truncate`], used where a table is narrowed). This module is
//! the bottom of the report layer: it imports nothing from the crate.

use std::os::fd::{AsRawFd, RawFd};

use nix::pty::Winsize;

/// The narrowest width output is laid out for.
pub const FLOOR: usize = 80;

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

/// `text` word-wrapped to `width` characters, every line starting with
/// `indent` (the first with `first` instead, e.g. a verdict column); a word
/// longer than a line (a path) is broken across lines, never cut. Each line
/// ends with a newline; empty text gives nothing.
pub fn wrap_hanging<'a>(text: &str, width: usize, first: &'a str, indent: &'a str) -> String {
    let mut out = String::new();
    let mut line = String::new();
    let mut prefix = first;
    let room = |prefix: &str| width.saturating_sub(prefix.chars().count()).max(8);
    let flush = |line: &mut String, prefix: &mut &'a str, out: &mut String| {
        out.push_str(prefix);
        out.push_str(line);
        out.push('\n');
        line.clear();
        *prefix = indent;
    };
    for word in words(text) {
        let mut word = word;
        loop {
            let used = line.chars().count();
            let need = word.chars().count() + usize::from(used > 0);
            if used + need <= room(prefix) {
                if used > 0 {
                    line.push(' ');
                }
                line.push_str(&word);
                break;
            }
            if used > 0 {
                flush(&mut line, &mut prefix, &mut out);
                continue;
            }
            // A word wider than a whole line: broken, the rest carried on,
            // after its last hyphen that fits (a claim's name) if it has one.
            let take = break_at(&word, room(prefix));
            let head: String = word.chars().take(take).collect();
            word = word.chars().skip(take).collect();
            line.push_str(&head);
            flush(&mut line, &mut prefix, &mut out);
            if word.is_empty() {
                break;
            }
        }
    }
    if !line.is_empty() {
        flush(&mut line, &mut prefix, &mut out);
    }
    out
}

/// How many characters of `word` (wider than `room`) go on the line: up to
/// and including its last hyphen within `room`, else `room`.
fn break_at(word: &str, room: usize) -> usize {
    word.chars()
        .take(room)
        .enumerate()
        .filter(|(i, c)| *c == '-' && *i > 0)
        .map(|(i, _)| i + 1)
        .last()
        .unwrap_or(room)
}

/// Units a figure's number is never parted from at a line break.
const UNITS: &[&str] = &["B", "KiB", "MiB", "GiB", "TiB", "kB", "KB", "MB", "ns"];

/// The words of `text`, a unit kept with the number before it (`16.0 MiB`
/// stays on one line, so a wrapped figure reads whole).
fn words(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for word in text.split_whitespace() {
        let bare = word.trim_end_matches([',', ';', '.', ')', ':']);
        let after_number = out
            .last()
            .is_some_and(|w| w.ends_with(|c: char| c.is_ascii_digit()));
        match out.last_mut() {
            Some(last) if after_number && UNITS.contains(&bare) => {
                last.push(' ');
                last.push_str(word);
            }
            _ => out.push(word.to_string()),
        }
    }
    out
}

/// `text` word-wrapped to `width`, each line starting with `indent` (see
/// [`wrap_hanging`]).
pub fn wrap(text: &str, width: usize, indent: &str) -> String {
    wrap_hanging(text, width, indent, indent)
}

/// [`fit_lines`] at the terminal's width: what every line on stderr goes
/// through (installed with [`crate::verbosity::set_fitter`]).
pub fn fit_terminal(text: &str) -> String {
    fit_lines(text, terminal_width())
}

/// Every line of `text` (several lines, each already laid out or prose)
/// wrapped to `width`, continuation lines indented as their first line is
/// plus two spaces: for messages assembled elsewhere (progress, notes).
pub fn fit_lines(text: &str, width: usize) -> String {
    let mut out = String::new();
    for line in text.lines() {
        if line.chars().count() <= width {
            out.push_str(line);
            out.push('\n');
            continue;
        }
        let lead: String = line.chars().take_while(|c| *c == ' ').collect();
        let more = format!("{lead}  ");
        out.push_str(&wrap_hanging(line.trim_start(), width, &lead, &more));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_counts_characters_not_bytes() {
        assert_eq!(truncate("ääää", 3), "ää…");
        assert_eq!(truncate("abc", 3), "abc");
    }

    #[test]
    fn prose_wraps_without_losing_a_word_and_counts_characters() {
        let text = "Pss halves — each of the two processes is charged half of every shared page, 128 MiB of 256 MiB";
        let out = wrap_hanging(text, 40, "  refuted  ", "           ");
        for line in out.lines() {
            assert!(line.chars().count() <= 40, "{line:?}");
        }
        let words: Vec<&str> = out.split_whitespace().collect();
        assert_eq!(words[1..].join(" "), text);
        assert!(out.starts_with("  refuted  Pss"), "{out}");
    }

    #[test]
    fn a_figure_keeps_its_unit_on_its_line() {
        let out = wrap("Shared_Dirty 16.2 MiB, Pss (+8.0 KiB) and 3 pages", 17, "");
        assert!(out.lines().any(|l| l.contains("16.2 MiB,")), "{out}");
        assert!(out.lines().any(|l| l.contains("(+8.0 KiB)")), "{out}");
    }

    #[test]
    fn a_word_longer_than_the_line_is_broken_not_cut() {
        let path = format!("/tmp/{}", "x".repeat(100));
        let out = wrap(&path, 40, "  ");
        assert!(out.lines().all(|l| l.chars().count() <= 40), "{out}");
        let joined: String = out.lines().map(str::trim_start).collect();
        assert_eq!(joined, path);
    }

    #[test]
    fn a_long_hyphenated_name_breaks_after_a_hyphen() {
        let name = "heuristic-overcommit-refuses-one-mapping-larger-than-ram";
        let out = wrap(name, 20, "");
        assert!(out.lines().all(|l| l.chars().count() <= 20), "{out}");
        assert!(out.lines().rev().skip(1).all(|l| l.ends_with('-')), "{out}");
        assert_eq!(out.lines().collect::<String>(), name);
    }

    #[test]
    fn long_message_lines_wrap_with_their_indent() {
        let out = fit_lines(&format!("  {}", "word ".repeat(30)), 30);
        assert!(out.lines().count() > 1);
        assert!(
            out.lines().skip(1).all(|l| l.starts_with("    word")),
            "{out}"
        );
    }
}
