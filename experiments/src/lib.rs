//! The experiment side of vmlab.
//!
//! Each demonstration from the seed writings is a separate executable under `src/bin/`.
//! The harness starts it, and the experiment stops at named checkpoints while the
//! harness snapshots it from outside. The pieces:
//!
//! - [`protocol`]: the one definition of the line protocol between the two sides
//!   (encoding for the experiment, parsing for the harness).
//! - [`checkpoint::Checkpoints`]: the experiment's client of that protocol. It writes
//!   with raw `write(2)` calls from stack buffers, so that stopping at a checkpoint
//!   neither allocates nor faults in new pages.
//! - [`catalog`]: every experiment's contract with the harness: name, summary,
//!   seeds, and the variant, checkpoint, role, region and note names both sides
//!   use, with its typed arguments ([`args`] turns them into a command line).
//! - [`prelude`]: what every binary does around its work (command line with
//!   `--dir`, connecting, exiting), written once.
//! - [`mapping::Mapping`]: the one owned mmap (anonymous or a file range),
//!   unmapped on drop.
//! - [`note::Note`]: a note key with the type of its value, shared by the
//!   experiment that writes it and the judge that reads it.
//! - [`pages`]: page-size queries and the file helpers the experiments share.
//! - [`statements`]: every checkable statement of the five writings and the
//!   claims that judge it (what the tally counts).
//! - [`program`]: starting the separately built programs some experiments measure
//!   (static, dynamic, stripped builds), which stop themselves to be snapshotted.
//! - [`examples`]: the slide-sized C program of each demonstration, for teachers
//!   and for `harness trace`.
#![deny(missing_docs)]

pub mod args;
pub mod catalog;
pub mod checkpoint;
pub mod examples;
pub mod mapping;
pub mod note;
pub mod pages;
pub mod prelude;
pub mod program;
pub mod protocol;
pub mod statements;
pub mod waiting_child;

pub use catalog::{ExperimentInfo, CATALOG};
pub use checkpoint::Checkpoints;

/// In a child just forked or about to exec: asks the kernel to SIGKILL this
/// process when its parent dies, and exits at once if `parent` has already
/// died (the request would come too late). Every process an experiment starts
/// calls it, so that none outlives a killed harness. Async-signal-safe.
pub fn die_with_parent(parent: libc::pid_t) {
    // SAFETY: prctl, getppid and _exit are async-signal-safe and touch only
    // this process.
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
        if libc::getppid() != parent {
            libc::_exit(1);
        }
    }
}
