//! What an experiment declares about its claims and notes beyond judging them:
//! what a claim needs of the machine, which figures (metric at a phase) it is
//! judged on, and which notes describe the setup rather than a measurement.
//!
//! The declarations live beside the claims they describe (each experiment's
//! `claims.rs`), so that the tools that compare runs across kernels or
//! machines ([`crate::matrix`], [`crate::compare`]) read them instead of
//! listing experiments and claims by name: adding an experiment then changes
//! nothing outside its folder and the catalog.

use super::Claim;

/// Something a claim needs of the machine before its verdict can say anything
/// about the kernel; without it the claim is inconclusive, never refuted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// The experiment's files on a disk-backed file system: page-cache pages
    /// that can be dropped (so that reading them again costs major faults) and
    /// that stay clean while only read. On tmpfs or ramfs the pages are the
    /// file itself: they cannot be dropped and count as dirty shared memory.
    DiskBackedFiles,
    /// `vm.overcommit_memory` set to this mode (0 heuristic, 1 always, 2 strict).
    OvercommitMode(u32),
}

impl Need {
    /// How the need reads in a sentence (`the files on a disk-backed file system`).
    pub fn describe(&self) -> String {
        match self {
            Need::DiskBackedFiles => "the files on a disk-backed file system".into(),
            Need::OvercommitMode(mode) => format!("vm.overcommit_memory = {mode}"),
        }
    }
}

/// A figure of a region the experiment announces (smaps of its mappings).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegionFigure {
    /// smaps Size.
    Size,
    /// smaps Rss.
    Rss,
    /// smaps Pss.
    Pss,
    /// smaps AnonHugePages.
    AnonHugePages,
    /// smaps Shared_Clean, Shared_Dirty, Private_Clean and Private_Dirty.
    Sharing,
}

/// A quantity a claim is judged on. Those that the kernel matrix shows as rows
/// have a [`Metric::row_name`]; the others (storage reads, page tables, flags)
/// are declared all the same, and no row can explain them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// Minor page faults of the phase.
    MinorFaults,
    /// Major page faults of the phase.
    MajorFaults,
    /// VmSize of /proc/PID/status.
    VmSize,
    /// VmRSS of /proc/PID/status (a counter, which lagged before Linux 6.2).
    VmRss,
    /// RssAnon of /proc/PID/status.
    RssAnon,
    /// RssFile of /proc/PID/status.
    RssFile,
    /// Pss summed over the process's smaps.
    Pss,
    /// VmPTE of /proc/PID/status.
    VmPte,
    /// read_bytes of /proc/PID/io.
    ReadBytes,
    /// A figure of the named region.
    Region(&'static str, RegionFigure),
}

impl Metric {
    /// The name of the matrix's row for this metric, if the matrix has one.
    pub fn row_name(&self) -> Option<String> {
        Some(match self {
            Metric::MinorFaults => MINOR_FAULTS.into(),
            Metric::MajorFaults => MAJOR_FAULTS.into(),
            Metric::VmSize => "VmSize".into(),
            Metric::VmRss => "VmRSS".into(),
            Metric::RssAnon => "RssAnon".into(),
            Metric::RssFile => "RssFile".into(),
            Metric::Pss => "Pss".into(),
            Metric::Region(region, RegionFigure::Rss) => format!("{region} Rss"),
            Metric::Region(region, RegionFigure::Pss) => format!("{region} Pss"),
            Metric::Region(region, RegionFigure::AnonHugePages) => {
                format!("{region} AnonHugePages")
            }
            Metric::VmPte
            | Metric::ReadBytes
            | Metric::Region(_, RegionFigure::Size | RegionFigure::Sharing) => return None,
        })
    }

    /// True for the resident-set counters of /proc/PID/status (VmRSS, RssAnon,
    /// RssFile), which the kernel keeps apart from the page tables.
    pub fn is_status_counter(&self) -> bool {
        matches!(self, Metric::VmRss | Metric::RssAnon | Metric::RssFile)
    }
}

/// The row name of the phase's minor faults.
pub const MINOR_FAULTS: &str = "minor faults";
/// The row name of the phase's major faults.
pub const MAJOR_FAULTS: &str = "major faults";

/// One figure a claim is judged on: a metric over the phase that ends at a
/// checkpoint (or its value there).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Figure {
    /// The quantity.
    pub metric: Metric,
    /// The checkpoint that ends the phase.
    pub at: &'static str,
}

/// Shorthand for a [`Figure`] in the experiments' declarations.
pub const fn at(metric: Metric, checkpoint: &'static str) -> Figure {
    Figure {
        metric,
        at: checkpoint,
    }
}

/// A claim that needs nothing of the machine, judged on `judges`.
pub const fn judged(claim: &'static Claim, judges: &'static [Figure]) -> Declared {
    Declared {
        claim,
        needs: &[],
        judges,
    }
}

/// What one claim declares besides its criterion.
#[derive(Debug, Clone, Copy)]
pub struct Declared {
    /// The claim.
    pub claim: &'static Claim,
    /// What it needs of the machine.
    pub needs: &'static [Need],
    /// The figures it is judged on.
    pub judges: &'static [Figure],
}

/// The declaration of claim `id` of `experiment`, if it made one.
pub fn claim(experiment: &str, id: &str) -> Option<&'static Declared> {
    super::find(experiment)?
        .declared()
        .iter()
        .find(|d| d.claim.id == id)
}

/// True when claim `id` of `experiment` declares `need`.
pub fn needs(experiment: &str, id: &str, need: Need) -> bool {
    claim(experiment, id).is_some_and(|d| d.needs.contains(&need))
}

/// The notes of `experiment` that describe its setup (none for an unknown one).
pub fn setup_notes(experiment: &str) -> &'static [&'static str] {
    super::find(experiment).map_or(&[], |e| e.setup_notes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_declaration_names_a_claim_checkpoint_and_region_of_its_experiment() {
        for experiment in super::super::registry() {
            let info = experiment.info();
            for d in experiment.declared() {
                assert!(
                    experiment.claims().iter().any(|c| c.id == d.claim.id),
                    "{}: {} is declared but not judged",
                    info.name,
                    d.claim.id
                );
                for figure in d.judges {
                    assert!(
                        info.checkpoints.contains(&figure.at),
                        "{}: {} is judged at {}, which is no checkpoint",
                        info.name,
                        d.claim.id,
                        figure.at
                    );
                    if let Metric::Region(region, _) = figure.metric {
                        assert!(info.regions.contains(&region), "{}: {region}", info.name);
                    }
                }
            }
            for note in experiment.setup_notes() {
                assert!(info.notes.contains(note), "{}: note {note}", info.name);
            }
        }
    }

    #[test]
    fn the_claims_that_need_a_disk_or_an_overcommit_mode_say_so() {
        let needing = |need: Need| -> usize {
            super::super::registry()
                .iter()
                .flat_map(|e| e.declared())
                .filter(|d| d.needs.contains(&need))
                .count()
        };
        assert_eq!(needing(Need::DiskBackedFiles), 3);
        assert_eq!(needing(Need::OvercommitMode(2)), 1);
    }
}
