//! The vmlab harness: runs each experiment as a separate process, snapshots it
//! from outside at every checkpoint, and judges the seeds' claims.
//!
//! Imports point one way, down these layers (lowest first; a module may use its
//! own layer and those below, and `layering_tests` fails on a cycle or an
//! import that points up):
//!
//! 1. [`error`], [`units`], [`system`], [`verbosity`], [`provenance`]: the
//!    error types of every layer (a command-line mistake is a
//!    [`error::UsageError`], exit 2), byte and count formats, the machine's
//!    facts ([`system::Environment`]), how much the terminal is told, and what
//!    reproduces a run ([`provenance::Provenance`]).
//! 2. [`model`]: the records every other layer passes around, sizes in bytes.
//! 3. [`probe`]: parses smaps, status and stat (pure functions over text) into
//!    the [`model`] types.
//! 4. [`runner`]: spawns an experiment binary, follows its checkpoint protocol
//!    and, while it waits, reads its /proc files through a [`probe::Probe`].
//! 5. [`store`] (with [`scratch`]): the results folder's layout, atomic writes,
//!    the `latest` link, and records read back ([`store::baseline`], results.json
//!    in [`store::json`]); [`scratch`] owns the experiments' temporary folders.
//! 6. [`elf`]: the file facts of separately built programs and where their
//!    ELF segments land ([`elf::segments`]).
//! 7. [`experiment`]: each [`experiment::Experiment`] plans its variants and
//!    judges its claims from the [`model::ExperimentRecord`].
//! 8. [`explain`] prints an experiment's explanation, [`selection`] picks
//!    experiments and variants by name.
//! 9. [`compare`]: matches a run with a baseline (another `RunRecord`), pure,
//!    and finds the claims and metrics that changed beyond tolerance.
//! 10. [`outcome`]: turns a run (and its comparison) into the results every
//!     output and the exit code share; [`statements`] folds the claims into one
//!     verdict per statement of the writings, the tally every output leads with.
//! 11. [`report`]: renders a [`model::RunRecord`] and comparisons for people and
//!     programs; [`report::run_files`] makes the run folder's files (each
//!     rendered once), which [`store`] writes.
//! 12. [`cli`], [`progress`], [`step`]: the clap definitions and the terminal's
//!     progress lines and step mode.
//! 13. [`options`]: a run's options checked once ([`options::Options`]).
//! 14. [`session`]: runs the selected experiments for an `Options`: plan, run,
//!     judge, write, compare, print; the same for the command line and the
//!     `matrix` guest.
//! 15. The commands: [`app`] (dispatch, `list`, `explain`, `compare`),
//!     [`matrix`] (the same session under other kernels in QEMU, compared),
//!     [`trace`] (any program or running process measured with the same
//!     snapshots, judged by a claims file of the user's), [`answers`],
//!     [`lecture`] (step mode in a browser, for a projector), [`show`] (a
//!     saved run printed again).
#![deny(missing_docs)]

pub mod answers;
pub mod app;
pub mod cli;
pub mod compare;
pub mod elf;
pub mod error;
pub mod experiment;
pub mod explain;
pub mod generate;
pub mod lecture;
pub mod matrix;
pub mod model;
pub mod options;
pub mod outcome;
pub mod probe;
pub mod progress;
pub mod provenance;
pub mod report;
pub mod runner;
pub mod scratch;
pub mod selection;
pub mod session;
pub mod show;
pub mod statements;
pub mod step;
pub mod store;
pub mod system;
pub mod trace;
pub mod units;
pub mod verbosity;

pub use error::{ProbeError, RunnerError, StoreError};
pub use model::{ClaimRecord, ExperimentRecord, RunRecord, Verdict};

#[cfg(test)]
mod layering_tests;
