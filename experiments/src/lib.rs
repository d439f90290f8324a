//! The experiment side of vmlab.
//!
//! Each demonstration from the seed writings is a separate executable under `src/bin/`.
//! The harness starts it, and the experiment stops at named checkpoints while the
//! harness snapshots it from outside. The pieces:
//!
//! - [`protocol`]: the one definition of the line protocol between the two sides
//!   (encoding for the experiment, parsing for the harness).
//! - [`checkpoint::Session`]: the experiment's client of that protocol. It writes
//!   with raw `write(2)` calls from stack buffers, so that stopping at a checkpoint
//!   neither allocates nor faults in new pages.
//! - [`catalog`]: the list of experiments (name, binary, one-line summary, seeds), so
//!   that the harness and the experiments agree on names.
//! - [`pages`]: page-size queries and the file helpers the experiments share.
//! - [`program`]: starting the separately built programs some experiments measure
//!   (static, dynamic, stripped builds), which stop themselves to be snapshotted.
#![deny(missing_docs)]

pub mod catalog;
pub mod checkpoint;
pub mod pages;
pub mod program;
pub mod protocol;
pub mod waiting_child;

pub use catalog::{ExperimentInfo, CATALOG};
pub use checkpoint::Session;
