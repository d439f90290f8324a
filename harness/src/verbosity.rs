//! How much the harness says, chosen once by `-q`/`-v` and read where it prints.
//!
//! The level is process-wide, like a logger's: whatever prints asks it here, so
//! no printing site needs the option threaded down to it, and the matrix guest,
//! which runs experiments through the same code, says what the default says.
//! Errors are not this module's business: they are always printed.

use std::fmt::Display;
use std::sync::atomic::{AtomicU8, Ordering};

/// How much is printed besides errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum Level {
    /// Only errors, including an experiment that failed: the exit status and
    /// the files written tell the rest.
    Quiet,
    /// Progress, a line per experiment, where the results went, and the summary.
    #[default]
    Normal,
    /// Also a line per variant and every table and before/after view.
    Verbose,
}

impl Level {
    /// The level the two flags ask for; asking for both is a mistake.
    pub fn from_flags(quiet: bool, verbose: bool) -> Result<Level, String> {
        match (quiet, verbose) {
            (true, true) => Err("-q (--quiet) and -v (--verbose) cannot be used together".into()),
            (true, false) => Ok(Level::Quiet),
            (false, true) => Ok(Level::Verbose),
            (false, false) => Ok(Level::Normal),
        }
    }

    fn from_u8(value: u8) -> Level {
        match value {
            0 => Level::Quiet,
            2 => Level::Verbose,
            _ => Level::Normal,
        }
    }
}

static LEVEL: AtomicU8 = AtomicU8::new(Level::Normal as u8);

/// Sets the level for the rest of the process (from the command line, once).
pub fn set(level: Level) {
    LEVEL.store(level as u8, Ordering::Relaxed);
}

/// The level in force.
pub fn level() -> Level {
    Level::from_u8(LEVEL.load(Ordering::Relaxed))
}

/// `-q`: nothing but errors.
pub fn quiet() -> bool {
    level() == Level::Quiet
}

/// `-v`: every table, a line per variant.
pub fn verbose() -> bool {
    level() == Level::Verbose
}

/// How lines for the user are fitted to the terminal: installed once by the
/// command layer (the report layer's width module, which this bottom layer
/// cannot name); until then lines go out as they are.
static FITTER: std::sync::OnceLock<fn(&str) -> String> = std::sync::OnceLock::new();

/// Installs the function every line on stderr goes through (once; later
/// calls are ignored).
pub fn set_fitter(fit: fn(&str) -> String) {
    let _ = FITTER.set(fit);
}

/// `text` fitted by the installed fitter, ending with a newline.
fn fitted(text: &str) -> String {
    let mut out = match FITTER.get() {
        Some(fit) => fit(text),
        None => text.to_string(),
    };
    if !out.ends_with('\n') {
        out.push('\n');
    }
    out
}

/// A line for the user on stderr (progress, where files went), unless quiet.
pub fn note(line: impl Display) {
    if !quiet() {
        eprint!("{}", fitted(&line.to_string()));
    }
}

/// A line for the user on stderr whatever the level (a warning, what a
/// stopped run kept), fitted as [`note`]'s are.
pub fn say(line: impl Display) {
    eprint!("{}", fitted(&line.to_string()));
}

/// Text that is the command's report on stdout, unless quiet.
pub fn out(text: impl Display) {
    if !quiet() {
        stdout(text);
    }
}

/// The first write to stdout that failed: a reader that went away (`| head`)
/// or a full disk (`> /dev/full`). Later writes are skipped; `main` turns it
/// into exit 2 once the command has finished cleaning up.
static STDOUT_FAILURE: std::sync::OnceLock<std::io::Error> = std::sync::OnceLock::new();

/// Writes `text` to stdout whatever the level (a listing, a manual page),
/// flushed at once so that a closed pipe or a full disk is seen here and
/// recorded ([`stdout_failure`]) instead of panicking as `print!` does.
pub fn stdout(text: impl Display) {
    stdout_bytes(text.to_string().as_bytes());
}

/// [`stdout`] for bytes.
pub fn stdout_bytes(bytes: &[u8]) {
    use std::io::Write;
    if STDOUT_FAILURE.get().is_some() {
        return;
    }
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(bytes).and_then(|()| out.flush()) {
        let _ = STDOUT_FAILURE.set(e);
    }
}

/// Why stdout stopped taking the report, if it did.
pub fn stdout_failure() -> Option<&'static std::io::Error> {
    STDOUT_FAILURE.get()
}

/// A report that goes to stderr because stdout holds a machine format, unless quiet.
pub fn out_err(text: impl Display) {
    if !quiet() {
        eprint!("{}", fitted(&text.to_string()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_flag_gives_its_level_and_both_are_refused() {
        assert!(Level::from_flags(true, true).is_err());
        assert_eq!(Level::from_flags(true, false), Ok(Level::Quiet));
        assert_eq!(Level::from_flags(false, true), Ok(Level::Verbose));
        assert_eq!(Level::from_flags(false, false), Ok(Level::Normal));
    }

    #[test]
    fn every_level_survives_the_round_trip_through_its_number() {
        for level in [Level::Quiet, Level::Normal, Level::Verbose] {
            assert_eq!(Level::from_u8(level as u8), level);
        }
    }
}
