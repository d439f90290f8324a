//! `harness lecture`: step mode in a browser, for a projector. The experiment
//! runs as a session under `--step` would, but each checkpoint is held by the
//! lecture page (`LecturePause`), served on 127.0.0.1 behind a random token
//! ([`server`]): the page shows the stop (the same [`crate::step::Stop`] the
//! terminal renders), Next resumes, Quit stops and keeps what was reached. At
//! the end the page shows the claims and the run's results.html until the
//! teacher closes it, presses Ctrl-C, or `--timeout` passes.

pub mod server;

use std::path::Path;
use std::process::{ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::cli::LectureArgs;
use crate::error::UsageError;
use crate::experiment::Experiment;
use crate::model::{CheckpointRecord, ProcessRecord, RunRecord};
use crate::options::Options;
use crate::runner;
use crate::selection::Selection;
use crate::step::{self, Pause, Stop};
use server::{Criterion, End, EndClaim, Lecture, Phase, Server, Shared};

/// Runs `harness lecture`.
pub fn lecture(args: &LectureArgs) -> Result<ExitCode> {
    let selection = Selection::parse(&args.name).map_err(UsageError)?;
    let name = selection.experiment.info().name;
    // A mistake is said before anything listens (the session checks it again
    // against the variants it plans).
    selection
        .check_variants(selection.experiment.info().variants)
        .map_err(UsageError)?;
    let mut options = Options::quick(vec![selection]);
    options.quick = args.quick;
    options.size = args.size;
    options.no_aslr = args.no_aslr;
    options.timeout = Duration::from_secs(args.timeout);
    if let Some(out) = &args.out {
        options.results_root = out.clone();
    }
    if let Some(dir) = &args.dir {
        options.temp_dir = dir.clone();
    }
    let token = server::new_token().context("cannot read random bytes for the lecture's token")?;
    let shared = Shared::new(Lecture::new(name));
    let server = Server::start(args.port.unwrap_or(0), token.clone(), shared.clone())?;
    let url = format!("http://{}/{token}/", server.addr);
    eprintln!("lecture: the page is at {url}");
    crate::verbosity::say(
        "lecture: Next on the page (or \u{2192}, space) goes on to the next checkpoint; \
         Quit (q) stops and keeps what was reached; Ctrl-C here stops too",
    );
    if !args.no_open {
        open_in_browser(&url);
    }
    let mut pause = LecturePause {
        shared: shared.clone(),
        previous: Vec::new(),
        timeout: options.timeout,
    };
    let result = crate::session::run_pausing(&options, Some(&mut pause));
    let ctrl_c = runner::interrupted() && !step::quit_requested();
    let (ended, timed_out) = {
        let state = shared.lock();
        (state.end.is_some(), state.timed_out)
    };
    if ended && !ctrl_c && !timed_out {
        crate::verbosity::say(format_args!(
            "lecture: the claims and results are on the page; Quit there (q) or Ctrl-C here \
             ends the lecture (by itself after {} s)",
            args.timeout
        ));
        linger(&shared, options.timeout);
    }
    server.stop();
    eprintln!("lecture: over; nothing listens on {url} any more");
    result
}

/// Keeps the page's end (claims, results.html) served until the teacher
/// closes it, presses Ctrl-C, or `timeout` passes.
fn linger(shared: &Shared, timeout: Duration) {
    let interrupts = runner::interrupt_count();
    let deadline = Instant::now() + timeout;
    let mut state = shared.lock();
    while state.phase != Phase::Closed
        && runner::interrupt_count() == interrupts
        && Instant::now() < deadline
    {
        state = shared.wait(state, POLL);
    }
}

/// How often a wait looks at Ctrl-C and the clock.
const POLL: Duration = Duration::from_millis(100);

/// Opens the page with `xdg-open` where there is a display; says so where not.
fn open_in_browser(url: &str) {
    let display = ["DISPLAY", "WAYLAND_DISPLAY"]
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|x| !x.is_empty()));
    if !display {
        eprintln!("lecture: no display here; open the link in a browser on this machine");
        return;
    }
    match std::process::Command::new("xdg-open")
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
    {
        // Reaped by a thread: xdg-open returns once the browser has the link.
        Ok(mut child) => {
            std::thread::spawn(move || child.wait());
        }
        Err(e) => eprintln!("lecture: cannot run xdg-open ({e}); open the link by hand"),
    }
}

/// Holds the session at each checkpoint until the page says Next (or Quit,
/// Ctrl-C, or `--timeout` without a Next).
struct LecturePause {
    shared: std::sync::Arc<Shared>,
    previous: Vec<ProcessRecord>,
    timeout: Duration,
}

impl Pause for LecturePause {
    fn start_variant(&mut self, exp: &dyn Experiment, variant: &str) {
        self.previous.clear();
        let criteria = exp
            .claims()
            .iter()
            .map(|c| Criterion {
                id: c.id.to_string(),
                criterion: c.criterion.to_string(),
            })
            .collect();
        self.shared.update(|s| {
            s.variant = variant.to_string();
            s.criteria = criteria;
            if s.phase == Phase::Paused {
                s.phase = Phase::Running;
            }
        });
    }

    fn pause(&mut self, exp: &dyn Experiment, variant: &str, checkpoint: &CheckpointRecord) {
        let stop = Stop::of(exp, variant, checkpoint, &self.previous);
        self.previous = checkpoint.processes.clone();
        let number = self.shared.update(|s| {
            s.stops.push(stop);
            if s.phase != Phase::Stopping {
                s.phase = Phase::Paused;
            }
            s.stops.len()
        });
        eprintln!(
            "lecture: stop {number}, {}: waiting for Next on the page",
            checkpoint.label
        );
        let deadline = Instant::now() + self.timeout;
        let mut state = self.shared.lock();
        loop {
            if state.phase != Phase::Paused || runner::interrupted() {
                return;
            }
            if Instant::now() >= deadline {
                let note = format!(
                    "no Next within {} s (--timeout): the run is stopped, what was reached is kept",
                    self.timeout.as_secs()
                );
                eprintln!("lecture: {note}");
                drop(state);
                self.shared.update(|s| {
                    s.phase = Phase::Stopping;
                    s.note = Some(note);
                    s.timed_out = true;
                });
                runner::request_interrupt();
                return;
            }
            state = self.shared.wait(state, POLL);
        }
    }

    fn finished(&mut self, run: &RunRecord, run_dir: &Path, partial: bool) {
        let claims = run
            .experiments
            .iter()
            .flat_map(|e| &e.claims)
            .map(|c| EndClaim {
                id: c.id.clone(),
                variant: c.variant.clone(),
                statement: c.statement.clone(),
                verdict: c.verdict,
                evidence: c.evidence.clone(),
            })
            .collect();
        let html = crate::report::run_files(run)
            .into_iter()
            .find(|f| f.name == Path::new("results.html"))
            .map(|f| f.contents);
        let message = if partial {
            // The runner keeps a variant only once it has run to its end, so
            // the stops of a stopped variant live on this page, not in the folder.
            format!(
                "Stopped before the end. The partial run folder {} is kept; it holds the \
                 variants that ran to their end, and the stops of the stopped one stay on this page only.",
                run_dir.display()
            )
        } else {
            format!("The run is complete: results in {}", run_dir.display())
        };
        self.shared.update(|s| {
            s.end = Some(End {
                run_dir: run_dir.display().to_string(),
                partial,
                message,
                claims,
            });
            s.results_html = html;
            s.phase = Phase::Finished;
        });
    }
}
