//! The vmlab harness: runs each experiment as a separate process, snapshots it
//! from outside at every checkpoint, and judges the seeds' claims.
//!
//! The data flow:
//!
//! 1. [`experiment`]: each experiment's [`experiment::Experiment`] plans its variants.
//! 2. [`runner`]: spawns the experiment binary, follows its checkpoint protocol and,
//!    while it waits, reads its /proc files through a [`probe::Probe`].
//! 3. [`probe`]: parses smaps, status and stat (pure functions over text) into the
//!    [`model`] types, sizes in bytes.
//! 4. [`experiment`] again: judges its claims from the [`model::ExperimentRecord`].
//!    Experiments that measure separately built programs get those programs' file
//!    facts from [`elf`]; claims about where ELF segments land use [`elf::segments`].
//! 5. [`report`] renders the [`model::RunRecord`]; [`store`] writes it atomically.
//! 6. [`compare`] matches a run with a baseline (another `RunRecord`) and finds
//!    the claims and metrics that changed beyond tolerance.
//! 7. [`outcome`] turns a run (and its comparison) into the results every output
//!    and the exit code share; [`report::ktap`] prints them for kernel CI.
//!
//! [`trace`] measures any program (and `watch` any running process) with the
//! same snapshots, and judges a claims file of the user's on the result.
//!
//! [`matrix`] runs the same pipeline under other kernels in QEMU and compares them.
#![deny(missing_docs)]

pub mod answers;
pub mod app;
pub mod cli;
pub mod compare;
pub mod elf;
pub mod error;
pub mod experiment;
pub mod explain;
pub mod matrix;
pub mod model;
pub mod outcome;
pub mod probe;
pub mod progress;
pub mod report;
pub mod runner;
pub mod scratch;
pub mod selection;
pub mod step;
pub mod store;
pub mod system;
pub mod trace;

pub use error::{ProbeError, RunnerError, StoreError};
pub use model::{ClaimRecord, ExperimentRecord, RunRecord, Verdict};
