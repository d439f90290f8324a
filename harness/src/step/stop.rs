//! What one stop shows, as data: the caption, the processes with the commands
//! to run beside them, the declared regions' figures with their change since
//! the previous stop, and where several processes map a region, how many of
//! its sampled pages share a frame. The terminal's step mode and the lecture
//! page both render a [`Stop`], so the two never disagree on a figure.

use serde::Serialize;

use crate::experiment::Experiment;
use crate::explain::step_caption;
use crate::model::{CheckpointRecord, MemoryFigures, ProcessRecord, RegionPagemap};
use crate::units::{human_bytes, signed_bytes};

/// One checkpoint as a stop of step mode shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Stop {
    /// The experiment's name.
    pub experiment: String,
    /// The variant's name.
    pub variant: String,
    /// The checkpoint's label (`after-fork`).
    pub label: String,
    /// What just happened, from the experiment's explanation, if it says.
    pub caption: Option<String>,
    /// The processes, the main one first.
    pub processes: Vec<StopProcess>,
    /// Page-frame sharing between the first process and each other one.
    pub frames: Vec<FrameShare>,
}

/// One process at a stop.
#[derive(Debug, Clone, Serialize)]
pub struct StopProcess {
    /// Its role (`parent`, `child`).
    pub role: String,
    /// Its process id.
    pub pid: i32,
    /// What to type in another terminal to look at it now.
    pub commands: String,
    /// Not seen at the previous stop.
    pub new: bool,
    /// Minor faults of the phase that ended here.
    pub minor_faults: u64,
    /// Major faults of the phase that ended here.
    pub major_faults: u64,
    /// The declared regions' figures.
    pub regions: Vec<StopRegion>,
}

/// A declared region's figures at a stop.
#[derive(Debug, Clone, Serialize)]
pub struct StopRegion {
    /// The region's name (`data`).
    pub name: String,
    /// The region as every stop names it (`data: the 256 MiB region, [anon]
    /// rw-p`; see [`super::region_title`]).
    pub title: String,
    /// Rss, Pss, Private_Dirty, Shared_Dirty, in that order.
    pub figures: Vec<Figure>,
}

/// One figure of a region, with its change since the previous stop.
#[derive(Debug, Clone, Serialize)]
pub struct Figure {
    /// The smaps field's name (`Private_Dirty`).
    pub name: &'static str,
    /// Its value in bytes.
    pub bytes: u64,
    /// The value as people read it (`16.0 MiB`).
    pub text: String,
    /// The change since the previous stop, in bytes; absent where the process
    /// or region is new.
    pub change_bytes: Option<i64>,
    /// The change as people read it (`+4.0 MiB`, `0`).
    pub change_text: Option<String>,
}

/// How many sampled pages of a region two processes have on the same frame.
#[derive(Debug, Clone, Serialize)]
pub struct FrameShare {
    /// The region's name.
    pub region: String,
    /// The first process's role.
    pub first: String,
    /// The other process's role.
    pub other: String,
    /// Sampled pages present in both on the same frame.
    pub same: usize,
    /// Sampled pages present in both.
    pub compared: usize,
    /// Why the frames could not be read (not root), if so.
    pub unavailable: Option<String>,
}

impl FrameShare {
    /// The one sentence both renderers print.
    pub fn sentence(&self) -> String {
        match &self.unavailable {
            Some(why) => format!("{}: page frames not readable ({why})", self.region),
            None => format!(
                "{}: {} of {} sampled pages on the same frame in {} and {}",
                self.region, self.same, self.compared, self.first, self.other
            ),
        }
    }
}

/// Reads one figure of a region.
pub(super) type Field = fn(&MemoryFigures) -> u64;

/// The region figures a stop shows, by smaps name (the terminal and the
/// lecture page alike).
pub(super) const FIGURES: [(&str, Field); 4] = [
    ("Rss", |f| f.rss_bytes),
    ("Pss", |f| f.pss_bytes),
    ("Private_Dirty", |f| f.private_dirty_bytes),
    ("Shared_Dirty", |f| f.shared_dirty_bytes),
];

impl Stop {
    /// The stop at `checkpoint`; `previous` holds the processes of the
    /// variant's previous stop (empty at its first).
    pub fn of(
        exp: &dyn Experiment,
        variant: &str,
        checkpoint: &CheckpointRecord,
        previous: &[ProcessRecord],
    ) -> Stop {
        let processes = checkpoint
            .processes
            .iter()
            .map(|p| {
                let before = previous.iter().find(|b| b.pid == p.pid);
                StopProcess {
                    role: p.role.clone(),
                    pid: p.pid,
                    commands: format!("pmap -X {pid}; cat /proc/{pid}/smaps_rollup", pid = p.pid),
                    new: before.is_none(),
                    minor_faults: p.faults.minor,
                    major_faults: p.faults.major,
                    regions: p
                        .regions
                        .iter()
                        .map(|r| {
                            let old = before.and_then(|b| b.region(&r.name));
                            StopRegion {
                                name: r.name.clone(),
                                title: super::region_title(p, r),
                                figures: FIGURES
                                    .iter()
                                    .map(|(name, get)| {
                                        let bytes = get(&r.figures);
                                        let change =
                                            old.map(|o| bytes as i64 - get(&o.figures) as i64);
                                        Figure {
                                            name,
                                            bytes,
                                            text: human_bytes(bytes),
                                            change_bytes: change,
                                            change_text: change.map(signed_bytes),
                                        }
                                    })
                                    .collect(),
                            }
                        })
                        .collect(),
                }
            })
            .collect();
        Stop {
            experiment: exp.info().name.to_string(),
            variant: variant.to_string(),
            label: checkpoint.label.clone(),
            caption: step_caption(exp.explanation(), variant, &checkpoint.label).map(String::from),
            processes,
            frames: frame_shares(checkpoint),
        }
    }
}

/// Where several processes map the same declared region (after fork): the
/// first process against each other one, region by region (pagemap).
fn frame_shares(checkpoint: &CheckpointRecord) -> Vec<FrameShare> {
    let Some(first) = checkpoint.processes.first() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for other in &checkpoint.processes[1..] {
        for region in &first.regions {
            let (Some(mine), Some(theirs)) = (
                region.pagemap.as_ref(),
                other.region(&region.name).and_then(|r| r.pagemap.as_ref()),
            ) else {
                continue;
            };
            let unavailable = mine
                .pfn_unavailable
                .clone()
                .or_else(|| theirs.pfn_unavailable.clone());
            let (same, compared) = shared_frames(mine, theirs);
            out.push(FrameShare {
                region: region.name.clone(),
                first: first.role.clone(),
                other: other.role.clone(),
                same,
                compared,
                unavailable,
            });
        }
    }
    out
}

/// How many sampled pages both sides have present on the same frame, out of the
/// pages present in both.
pub fn shared_frames(a: &RegionPagemap, b: &RegionPagemap) -> (usize, usize) {
    let mut same = 0;
    let mut compared = 0;
    for x in &a.sample {
        let Some(y) = b.sample.iter().find(|y| y.page_index == x.page_index) else {
            continue;
        };
        if let (Some(px), Some(py)) = (x.pfn, y.pfn) {
            compared += 1;
            if px == py {
                same += 1;
            }
        }
    }
    (same, compared)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::PageSample;

    fn map(pfns: &[Option<u64>]) -> RegionPagemap {
        RegionPagemap {
            pages: pfns.len() as u64,
            present_pages: pfns.iter().filter(|p| p.is_some()).count() as u64,
            swapped_pages: 0,
            exclusive_pages: 0,
            sample: pfns
                .iter()
                .enumerate()
                .map(|(i, pfn)| PageSample {
                    page_index: i as u64,
                    present: pfn.is_some(),
                    exclusive: false,
                    pfn: *pfn,
                    map_count: None,
                })
                .collect(),
            pfn_unavailable: None,
        }
    }

    #[test]
    fn frames_are_compared_page_by_page_where_both_are_present() {
        let parent = map(&[Some(1), Some(2), Some(3), None]);
        let child = map(&[Some(1), Some(9), Some(3), Some(4)]);
        assert_eq!(shared_frames(&parent, &child), (2, 3));
    }

    #[test]
    fn a_frame_share_reads_as_one_sentence() {
        let share = FrameShare {
            region: "data".into(),
            first: "parent".into(),
            other: "child".into(),
            same: 12,
            compared: 16,
            unavailable: None,
        };
        assert_eq!(
            share.sentence(),
            "data: 12 of 16 sampled pages on the same frame in parent and child"
        );
    }
}
