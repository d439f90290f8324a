//! What the user sees on stderr while experiments run: a bar for long preparation
//! (writing the 1 GB file), the checkpoint reached, and one line per finished
//! experiment (per variant with `-v`, or when a variant did not run). On a
//! terminal indicatif draws; elsewhere (CI logs) only the lines are printed.
//! With `-q` nothing is drawn and only failures get their line.

use std::io::IsTerminal;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};

use crate::model::{Status, VariantRecord};
use crate::runner::RunnerEvent;
use crate::verbosity;

/// Progress display for one variant.
pub struct VariantProgress {
    bar: ProgressBar,
    title: String,
    started: Instant,
}

/// Whether a line about something that ended with `status` is printed: a
/// failure always is (it is an error), the rest unless `-q`.
fn tells(status: Status) -> bool {
    status == Status::Failed || !verbosity::quiet()
}

/// One line on stderr when an experiment has finished (its variants are told
/// one by one only with `-v`, or when one did not run).
/// `planned` is how many variants were selected to run: the count is against
/// it, so a run stopped half-way says so.
pub fn experiment_done(
    record: &crate::model::ExperimentRecord,
    planned: usize,
    took: std::time::Duration,
) {
    if !tells(record.status) {
        return;
    }
    let ran = record
        .variants
        .iter()
        .filter(|v| v.status == Status::Ok)
        .count();
    let state = match record.status {
        Status::Ok => "ok".to_string(),
        Status::Skipped => format!("skipped: {}", record.reason.as_deref().unwrap_or("")),
        Status::Failed => format!("FAILED: {}", record.reason.as_deref().unwrap_or("")),
    };
    let line = format!(
        "{} ... {state}, {ran} of {} variants ({:.1} s)",
        record.name,
        planned,
        took.as_secs_f64()
    );
    eprint!(
        "{}",
        crate::report::width::fit_lines(&line, crate::report::width::terminal_width())
    );
}

/// Room the byte counts and the rate take beside a bar
/// (`1000.0 MiB/1000.0 MiB (999.9 MiB/s)`, brackets and spaces).
const BAR_FIGURES: usize = 42;

/// The progress bar's template, its bar as long as fits the terminal beside
/// the title, the message and the figures (10 to 30 cells); the message goes
/// on its own line when even the shortest bar would not fit.
fn bar_template(title: &str, what: &str) -> String {
    let width = crate::report::width::terminal_width();
    let text = title.chars().count() + 1 + what.chars().count() + 1;
    let room = width.saturating_sub(text + BAR_FIGURES);
    if room >= 10 {
        format!(
            "{{prefix}} {{msg}} [{{bar:{}}}] {{bytes}}/{{total_bytes}} ({{bytes_per_sec}})",
            room.min(30)
        )
    } else {
        let bar = width
            .saturating_sub(title.chars().count() + 1 + BAR_FIGURES)
            .clamp(10, 30);
        format!("{{msg}}\n{{prefix}} [{{bar:{bar}}}] {{bytes}}/{{total_bytes}} ({{bytes_per_sec}})")
    }
}

impl VariantProgress {
    /// Starts the display for `experiment`/`variant`; with `-v` its end gets
    /// a line even when it went well.
    pub fn start(experiment: &str, variant: &str) -> VariantProgress {
        let title = format!("{experiment}/{variant}");
        let bar = if std::io::stderr().is_terminal() && !verbosity::quiet() {
            ProgressBar::new_spinner()
        } else {
            ProgressBar::hidden()
        };
        bar.set_style(
            ProgressStyle::with_template("{spinner} {prefix} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.set_prefix(title.clone());
        bar.set_message("starting");
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        VariantProgress {
            bar,
            title,
            started: Instant::now(),
        }
    }

    /// Shows one runner event.
    pub fn show(&mut self, event: RunnerEvent) {
        match event {
            RunnerEvent::Progress { done, total, what } => {
                if self.bar.length() != Some(total) {
                    self.bar.set_length(total);
                    self.bar.set_style(
                        ProgressStyle::with_template(&bar_template(&self.title, &what))
                            .unwrap_or_else(|_| ProgressStyle::default_bar())
                            .progress_chars("=> "),
                    );
                }
                self.bar.set_position(done);
                self.bar.set_message(what);
            }
            RunnerEvent::Checkpoint { record } => {
                let label = &record.label;
                self.bar.set_style(
                    ProgressStyle::with_template("{spinner} {prefix} {msg} ({elapsed})")
                        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                );
                self.bar.set_message(format!("at {label}"));
            }
        }
    }

    /// Runs `f` with the display hidden (for step mode's own output).
    pub fn suspend<R>(&self, f: impl FnOnce() -> R) -> R {
        self.bar.suspend(f)
    }

    /// Ends the display with one line about the outcome.
    pub fn finish(self, record: &VariantRecord) {
        self.bar.finish_and_clear();
        if (record.status == Status::Ok && !verbosity::verbose()) || !tells(record.status) {
            return;
        }
        let outcome = match record.status {
            Status::Ok => "ok".to_string(),
            Status::Skipped => format!("skipped: {}", record.reason.as_deref().unwrap_or("")),
            Status::Failed => format!("FAILED: {}", record.reason.as_deref().unwrap_or("")),
        };
        let line = format!(
            "{} ... {} ({:.1} s)",
            self.title,
            outcome,
            self.started.elapsed().as_secs_f64()
        );
        eprint!(
            "{}",
            crate::report::width::fit_lines(&line, crate::report::width::terminal_width())
        );
    }
}
