//! How much a metric may change between two runs before the change counts.
//!
//! Memory figures and fault counts of these experiments are near-deterministic
//! counters, not timings, so the noise band is not a statistical test: it is a
//! few pages (taken from the page size the baseline recorded) plus a share of the
//! baseline value, because large regions gain or lose a page or two of page
//! tables and page-cache folios from run to run. Verdicts are compared exactly.

use std::fmt;

use serde::Serialize;

/// The kind of a compared metric, which decides its tolerance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MetricKind {
    /// A size in bytes of a region the experiment declared (its Rss, Pss, ...).
    Memory,
    /// The change of a whole-process size over a phase (mapped Rss, VmSize,
    /// page tables). Besides the experiment's own work it includes the program's
    /// own text and libraries, which fault-around maps a window at a time when
    /// the code takes a new path, so its band is wider by that window.
    Process,
    /// A count of page faults.
    Faults,
}

/// The tolerances in force, one per [`MetricKind`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Tolerances {
    /// Memory: this many pages of the baseline's page size...
    pub memory_pages: u64,
    /// ...plus this share of the baseline value, in percent.
    pub memory_percent: f64,
    /// Whole-process changes: the memory band plus this many pages (one
    /// fault-around window of program text, 64 KiB of 4 KiB pages).
    pub process_extra_pages: u64,
    /// Faults: at least this many faults...
    pub faults_min: u64,
    /// ...or this share of the baseline count, in percent, whichever is larger.
    pub faults_percent: f64,
}

impl Default for Tolerances {
    /// Two pages plus 1 % for memory: the page tables of a 64 MiB mapping differ
    /// by a page between identical runs, and Pss by a few pages. Whole-process
    /// changes 16 pages more: one fault-around window of program text. Faults:
    /// 15 %, at least 16: the faults read-ahead leaves to the reader, and those a
    /// process takes in its own start-up and in fork, vary by a few between
    /// identical runs (a thousand forks by about one each), and reading a fully
    /// cached 1 GB file counted 0 to 12 major faults in identical runs.
    fn default() -> Tolerances {
        Tolerances {
            memory_pages: 2,
            memory_percent: 1.0,
            process_extra_pages: 16,
            faults_min: 16,
            faults_percent: 15.0,
        }
    }
}

/// A `--tolerance` value that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad tolerance '{text}': {reason}")]
pub struct ToleranceError {
    /// What the user wrote.
    pub text: String,
    /// What is wrong with it, and what to write instead.
    pub reason: String,
}

/// One `--tolerance KIND=VALUE` setting, before it is applied.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ToleranceSetting {
    /// `memory=Npages`.
    MemoryPages(u64),
    /// `memory=P%`.
    MemoryPercent(f64),
    /// `process=Npages`.
    ProcessPages(u64),
    /// `faults=N`.
    FaultsMin(u64),
    /// `faults=P%`.
    FaultsPercent(f64),
}

/// Parses `faults=5%`, `faults=3`, `memory=2pages`, `memory=1%`.
pub fn parse_setting(text: &str) -> Result<ToleranceSetting, ToleranceError> {
    let fail = |reason: &str| ToleranceError {
        text: text.to_string(),
        reason: reason.to_string(),
    };
    let (kind, value) = text.split_once('=').ok_or_else(|| {
        fail("write KIND=VALUE, e.g. faults=5%, faults=3, memory=2pages or memory=1%")
    })?;
    let value = value.trim();
    let percent = |v: &str| -> Result<f64, ToleranceError> {
        let p: f64 = v
            .trim()
            .parse()
            .map_err(|_| fail("the percentage is not a number"))?;
        if !(0.0..=1000.0).contains(&p) || !p.is_finite() {
            return Err(fail("the percentage must be between 0% and 1000%"));
        }
        Ok(p)
    };
    let count = |v: &str| -> Result<u64, ToleranceError> {
        v.trim()
            .parse()
            .map_err(|_| fail("the count is not a whole number"))
    };
    match kind.trim() {
        "memory" => {
            if let Some(p) = value.strip_suffix('%') {
                Ok(ToleranceSetting::MemoryPercent(percent(p)?))
            } else if let Some(n) = value
                .strip_suffix("pages")
                .or_else(|| value.strip_suffix("page"))
            {
                Ok(ToleranceSetting::MemoryPages(count(n)?))
            } else {
                Err(fail(
                    "memory takes pages or a percentage, e.g. memory=2pages or memory=1%",
                ))
            }
        }
        "process" => value
            .strip_suffix("pages")
            .or_else(|| value.strip_suffix("page"))
            .map(|n| count(n).map(ToleranceSetting::ProcessPages))
            .unwrap_or_else(|| {
                Err(fail(
                    "process takes extra pages over the memory band, e.g. process=16pages",
                ))
            }),
        "faults" => {
            if let Some(p) = value.strip_suffix('%') {
                Ok(ToleranceSetting::FaultsPercent(percent(p)?))
            } else {
                Ok(ToleranceSetting::FaultsMin(count(value)?))
            }
        }
        "verdicts" | "verdict" | "claims" => Err(fail("verdicts are always compared exactly")),
        other => Err(fail(&format!(
            "unknown kind '{other}'; the kinds are memory, process and faults"
        ))),
    }
}

/// The defaults with every `--tolerance` value applied in order; the first that
/// does not parse is the error.
pub fn parse_all(texts: &[String]) -> Result<Tolerances, ToleranceError> {
    let settings = texts
        .iter()
        .map(|t| parse_setting(t))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Tolerances::with(&settings))
}

impl Tolerances {
    /// The defaults with the command line's settings applied in order.
    pub fn with(settings: &[ToleranceSetting]) -> Tolerances {
        let mut t = Tolerances::default();
        for s in settings {
            match *s {
                ToleranceSetting::MemoryPages(n) => t.memory_pages = n,
                ToleranceSetting::MemoryPercent(p) => t.memory_percent = p,
                ToleranceSetting::ProcessPages(n) => t.process_extra_pages = n,
                ToleranceSetting::FaultsMin(n) => t.faults_min = n,
                ToleranceSetting::FaultsPercent(p) => t.faults_percent = p,
            }
        }
        t
    }

    /// The largest change of a metric of `kind` whose baseline value is
    /// `baseline` that still counts as no change, in the metric's unit.
    pub fn band(&self, kind: MetricKind, baseline: i64, page_size: u64) -> u64 {
        let share =
            |percent: f64| (baseline.unsigned_abs() as f64 * percent / 100.0).floor() as u64;
        match kind {
            MetricKind::Memory => self
                .memory_pages
                .saturating_mul(page_size)
                .saturating_add(share(self.memory_percent)),
            MetricKind::Process => self
                .memory_pages
                .saturating_add(self.process_extra_pages)
                .saturating_mul(page_size)
                .saturating_add(share(self.memory_percent)),
            MetricKind::Faults => self.faults_min.max(share(self.faults_percent)),
        }
    }

    /// The tolerances in words, for the top of a comparison.
    pub fn describe(&self, page_size: u64) -> String {
        format!(
            "memory ±{} pages ({} bytes each) + {}% of the baseline (whole-process changes {} pages more); faults ±{}% of the baseline, at least {}; verdicts exact",
            self.memory_pages,
            page_size,
            fmt_percent(self.memory_percent),
            self.process_extra_pages,
            fmt_percent(self.faults_percent),
            self.faults_min
        )
    }
}

struct Percent(f64);

impl fmt::Display for Percent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.fract() == 0.0 {
            write!(f, "{}", self.0 as i64)
        } else {
            write!(f, "{}", self.0)
        }
    }
}

fn fmt_percent(p: f64) -> String {
    Percent(p).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_parse_with_their_units() {
        assert_eq!(
            parse_setting("faults=5%"),
            Ok(ToleranceSetting::FaultsPercent(5.0))
        );
        assert_eq!(
            parse_setting("faults=3"),
            Ok(ToleranceSetting::FaultsMin(3))
        );
        assert_eq!(
            parse_setting("memory=2pages"),
            Ok(ToleranceSetting::MemoryPages(2))
        );
        assert_eq!(
            parse_setting("memory=1page"),
            Ok(ToleranceSetting::MemoryPages(1))
        );
        assert_eq!(
            parse_setting("memory=0.5%"),
            Ok(ToleranceSetting::MemoryPercent(0.5))
        );
    }

    #[test]
    fn bad_settings_say_what_to_write() {
        for bad in [
            "faults",
            "faults=lots",
            "memory=2",
            "memory=2MiB",
            "time=5%",
            "faults=-1%",
            "verdicts=1",
        ] {
            let e = parse_setting(bad).expect_err(bad);
            assert_eq!(e.text, bad);
            assert!(!e.reason.is_empty());
        }
    }

    #[test]
    fn memory_band_is_pages_plus_a_share_of_the_baseline() {
        let t = Tolerances::default();
        // 2 pages + 1% of 100 pages (409.6 bytes, floored).
        assert_eq!(t.band(MetricKind::Memory, 409_600, 4096), 2 * 4096 + 4096);
        assert_eq!(t.band(MetricKind::Memory, 0, 4096), 8192);
        // The page size comes from the record: 16 KiB pages widen the band.
        assert_eq!(t.band(MetricKind::Memory, 0, 16384), 32768);
        // Whole-process changes get one fault-around window more.
        assert_eq!(t.band(MetricKind::Process, 0, 4096), 18 * 4096);
        let wide = Tolerances::with(&[parse_setting("process=32pages").unwrap()]);
        assert_eq!(wide.band(MetricKind::Process, 0, 4096), 34 * 4096);
    }

    #[test]
    fn fault_band_is_relative_with_a_floor() {
        let t = Tolerances::default();
        assert_eq!(t.band(MetricKind::Faults, 1, 4096), 16);
        assert_eq!(t.band(MetricKind::Faults, 443, 4096), 66);
        let strict = Tolerances::with(&[
            ToleranceSetting::FaultsPercent(5.0),
            ToleranceSetting::FaultsMin(0),
        ]);
        assert_eq!(strict.band(MetricKind::Faults, 443, 4096), 22);
        assert_eq!(strict.band(MetricKind::Faults, 0, 4096), 0);
    }

    #[test]
    fn the_description_states_every_tolerance() {
        assert_eq!(
            Tolerances::default().describe(4096),
            "memory ±2 pages (4096 bytes each) + 1% of the baseline (whole-process changes 16 pages more); faults ±15% of the baseline, at least 16; verdicts exact"
        );
    }
}
