//! What a session reads of the machine it runs on, behind one seam: the
//! [`Probe`] its experiments are read through, the environment and provenance
//! it records, the clock that names the run folder, and where the experiment
//! binaries are. [`Live`] is the running machine; a test passes a machine of
//! fixture trees and fixed facts, so a whole session runs deterministically.

use std::path::{Path, PathBuf};

use anyhow::Result;
use chrono::{DateTime, Utc};

use crate::probe::{Probe, ProcProbe};
use crate::provenance::Provenance;
use crate::runner::locate;
use crate::system::Environment;

/// The machine a session measures.
pub trait Machine {
    /// Reads the experiments' processes and the system-wide counters.
    fn probe(&self) -> &dyn Probe;

    /// The environment recorded with the run; `temp_dir` is where the
    /// experiments' files go.
    fn environment(&self, temp_dir: &Path) -> Environment;

    /// What reproduces the run.
    fn provenance(&self) -> Provenance;

    /// Now: the run's start, which names its folder.
    fn now(&self) -> DateTime<Utc>;

    /// The folder that holds the experiment binaries.
    fn experiments_dir(&self) -> Result<PathBuf>;
}

/// The running machine: its /proc and /sys, its clock, and the experiment
/// binaries found as [`locate::experiments_dir`] finds them.
#[derive(Debug, Clone, Copy, Default)]
pub struct Live;

impl Machine for Live {
    fn probe(&self) -> &dyn Probe {
        &ProcProbe
    }

    fn environment(&self, temp_dir: &Path) -> Environment {
        Environment::detect(temp_dir)
    }

    fn provenance(&self) -> Provenance {
        Provenance::detect()
    }

    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    fn experiments_dir(&self) -> Result<PathBuf> {
        locate::experiments_dir()
    }
}
