//! Before/after views: per checkpoint, the mappings whose figures changed since
//! the previous checkpoint of the same process (matched by PID: a new process
//! with an old role is new, not a changed one), so the eye goes straight to what
//! the step did.
//!
//! By default a view hides what the step did not do: a mapping whose Pss moved
//! while its Rss, Size and dirty pages stayed put (a shared library that another
//! process on the machine mapped or unmapped), and changes smaller than a page.
//! `--all-mappings` ([`DeltaFilter::all`]) shows everything.

use crate::model::{MappingRecord, ProcessRecord, VariantRecord};
use crate::units::{human_bytes, signed_bytes};

use super::table::Table;

/// How one mapping changed between two snapshots of a process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappingDelta {
    /// The mapping's name as pmap shows it (`[anon]` for anonymous memory).
    pub name: String,
    /// Permissions.
    pub perms: String,
    /// First address (hex).
    pub start: String,
    /// Whether the mapping appeared, disappeared or changed.
    pub change: Change,
    /// Change of Size, bytes.
    pub size_delta_bytes: i64,
    /// Change of Rss, bytes.
    pub rss_delta_bytes: i64,
    /// Change of Pss, bytes.
    pub pss_delta_bytes: i64,
    /// Change of Private_Dirty, bytes.
    pub private_dirty_delta_bytes: i64,
    /// Change of Shared_Dirty, bytes (pages both sides of a fork still share).
    pub shared_dirty_delta_bytes: i64,
}

/// Which changed mappings a view lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeltaFilter {
    /// The page size: changes below it are wobble.
    pub page_size: u64,
    /// List every mapping that moved at all.
    pub all: bool,
}

impl DeltaFilter {
    /// Whether a view lists this change.
    pub fn shows(&self, d: &MappingDelta) -> bool {
        if self.all || d.change != Change::Changed {
            return true;
        }
        let page = self.page_size.max(1) as i64;
        let moved = |x: i64| x.abs() >= page;
        let own_figures = moved(d.size_delta_bytes)
            || moved(d.rss_delta_bytes)
            || moved(d.private_dirty_delta_bytes)
            || moved(d.shared_dirty_delta_bytes);
        // Pss alone moving on a shared library is other processes at work; on the
        // experiment's own memory it is the sharing the experiment shows (fork).
        own_figures || (moved(d.pss_delta_bytes) && !is_shared_library(&d.name))
    }
}

/// A mapping of a shared object (`libc.so.6`, `ld-linux-x86-64.so.2`).
fn is_shared_library(name: &str) -> bool {
    name.starts_with('/') && name.contains(".so")
}

/// What happened to a mapping between two snapshots.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// It was mapped during the phase.
    New,
    /// It was unmapped during the phase.
    Gone,
    /// It existed before and after, and a figure changed.
    Changed,
}

fn same_mapping(a: &MappingRecord, b: &MappingRecord) -> bool {
    a.start == b.start && a.name == b.name
}

fn delta(before: Option<&MappingRecord>, after: Option<&MappingRecord>) -> Option<MappingDelta> {
    let figures = |m: Option<&MappingRecord>| m.map(|m| m.figures.clone()).unwrap_or_default();
    let (b, a) = (figures(before), figures(after));
    let d = |x: u64, y: u64| {
        (i128::from(y) - i128::from(x)).clamp(i64::MIN.into(), i64::MAX.into()) as i64
    };
    let m = after.or(before)?;
    let change = match (before, after) {
        (None, Some(_)) => Change::New,
        (Some(_), None) => Change::Gone,
        _ => Change::Changed,
    };
    let out = MappingDelta {
        name: if m.name.is_empty() {
            "[anon]".into()
        } else {
            m.name.clone()
        },
        perms: m.perms.clone(),
        start: m.start.clone(),
        change,
        size_delta_bytes: d(b.size_bytes, a.size_bytes),
        rss_delta_bytes: d(b.rss_bytes, a.rss_bytes),
        pss_delta_bytes: d(b.pss_bytes, a.pss_bytes),
        private_dirty_delta_bytes: d(b.private_dirty_bytes, a.private_dirty_bytes),
        shared_dirty_delta_bytes: d(b.shared_dirty_bytes, a.shared_dirty_bytes),
    };
    let unchanged = change == Change::Changed
        && out.size_delta_bytes == 0
        && out.rss_delta_bytes == 0
        && out.pss_delta_bytes == 0
        && out.private_dirty_delta_bytes == 0
        && out.shared_dirty_delta_bytes == 0;
    (!unchanged).then_some(out)
}

/// The mappings that changed from `before` (None: the process is new) to `after`
/// and that `filter` shows, in address order, unmapped ones last.
pub fn mapping_deltas(
    before: Option<&ProcessRecord>,
    after: &ProcessRecord,
    filter: &DeltaFilter,
) -> Vec<MappingDelta> {
    let old: &[MappingRecord] = before.map_or(&[], |p| &p.mappings);
    let mut out: Vec<MappingDelta> = after
        .mappings
        .iter()
        .filter_map(|a| delta(old.iter().find(|b| same_mapping(b, a)), Some(a)))
        .collect();
    out.extend(
        old.iter()
            .filter(|b| !after.mappings.iter().any(|a| same_mapping(b, a)))
            .filter_map(|b| delta(Some(b), None)),
    );
    out.retain(|d| filter.shows(d));
    out
}

/// How many changed mappings `filter` hides between two snapshots.
pub fn hidden_count(
    before: Option<&ProcessRecord>,
    after: &ProcessRecord,
    filter: &DeltaFilter,
) -> usize {
    let all = DeltaFilter {
        all: true,
        ..*filter
    };
    mapping_deltas(before, after, &all).len() - mapping_deltas(before, after, filter).len()
}

/// The previous snapshot of process `pid` before checkpoint `index` of a variant.
pub fn previous(variant: &VariantRecord, index: usize, pid: i32) -> Option<&ProcessRecord> {
    variant.checkpoints[..index]
        .iter()
        .rev()
        .find_map(|c| c.processes.iter().find(|p| p.pid == pid))
}

/// One table for a whole variant: per checkpoint and process, the faults of the
/// phase and every mapping that changed (as `filter` shows them).
pub fn variant_table(variant: &VariantRecord, filter: &DeltaFilter) -> Table {
    let mut table = Table {
        headers: [
            "checkpoint",
            "process",
            "faults",
            "mapping",
            "perms",
            "Size",
            "Rss",
            "Pss",
            "Shared_Dirty",
            "Private_Dirty",
        ]
        .map(String::from)
        .to_vec(),
        numeric: vec![
            false, false, true, false, false, true, true, true, true, true,
        ],
        rows: Vec::new(),
    };
    for (index, checkpoint) in variant.checkpoints.iter().enumerate() {
        for process in &checkpoint.processes {
            let before = previous(variant, index, process.pid);
            let faults = format!(
                "{} min / {} maj",
                process.faults.minor, process.faults.major
            );
            let summary = |text: String| {
                let mut row = vec![
                    checkpoint.label.clone(),
                    format!("{} {}", process.role, process.pid),
                    faults.clone(),
                    text,
                ];
                row.resize(table.headers.len(), String::new());
                row
            };
            let Some(before) = before else {
                // A first snapshot would list every mapping as new; summarise it.
                table.rows.push(summary(format!(
                    "(new process: {} mappings, VmRSS {})",
                    process.mappings.len(),
                    human_bytes(process.totals.rss_bytes)
                )));
                continue;
            };
            let deltas = mapping_deltas(Some(before), process, filter);
            let hidden = hidden_count(Some(before), process, filter);
            if deltas.is_empty() {
                table.rows.push(summary(if hidden == 0 {
                    "(no mapping changed)".into()
                } else {
                    format!("(only shared-library Pss or sub-page moves: {hidden})")
                }));
                continue;
            }
            for (i, d) in deltas.iter().enumerate() {
                let first = i == 0;
                let name = match d.change {
                    Change::New => format!("{} (new)", d.name),
                    Change::Gone => format!("{} (unmapped)", d.name),
                    Change::Changed => d.name.clone(),
                };
                table.rows.push(vec![
                    if first {
                        checkpoint.label.clone()
                    } else {
                        String::new()
                    },
                    if first {
                        format!("{} {}", process.role, process.pid)
                    } else {
                        String::new()
                    },
                    if first { faults.clone() } else { String::new() },
                    name,
                    d.perms.clone(),
                    signed_bytes(d.size_delta_bytes),
                    signed_bytes(d.rss_delta_bytes),
                    signed_bytes(d.pss_delta_bytes),
                    signed_bytes(d.shared_dirty_delta_bytes),
                    signed_bytes(d.private_dirty_delta_bytes),
                ]);
            }
            if hidden > 0 {
                table.rows.push(
                    [
                        "",
                        "",
                        "",
                        &format!("({hidden} more: shared-library Pss, sub-page)"),
                    ]
                    .map(String::from)
                    .into_iter()
                    .chain(std::iter::repeat(String::new()))
                    .take(table.headers.len())
                    .collect(),
                );
            }
        }
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Faults, MemoryFigures, Totals};
    use std::collections::BTreeMap;

    fn mapping(start: &str, name: &str, rss: u64) -> MappingRecord {
        MappingRecord {
            start: start.into(),
            end: "0x0".into(),
            name: name.into(),
            perms: "rw-p".into(),
            offset_bytes: 0,
            figures: MemoryFigures {
                size_bytes: 8192,
                rss_bytes: rss,
                ..Default::default()
            },
            other: BTreeMap::new(),
            vm_flags: String::new(),
        }
    }

    fn process(mappings: Vec<MappingRecord>) -> ProcessRecord {
        ProcessRecord {
            role: "main".into(),
            pid: 1,
            faults: Faults::default(),
            faults_total: Faults::default(),
            totals: Totals::default(),
            regions: Vec::new(),
            mappings,
            io: None,
        }
    }

    #[test]
    fn only_changed_new_and_unmapped_mappings_are_listed() {
        let before = process(vec![
            mapping("0x1000", "[heap]", 4096),
            mapping("0x9000", "/lib/libc.so.6", 8192),
            mapping("0x5000", "", 0),
        ]);
        let after = process(vec![
            mapping("0x1000", "[heap]", 8192),
            mapping("0x9000", "/lib/libc.so.6", 8192),
            mapping("0x7000", "", 4096),
        ]);
        let deltas = mapping_deltas(Some(&before), &after, &ALL);
        let summary: Vec<(&str, Change, i64)> = deltas
            .iter()
            .map(|d| (d.start.as_str(), d.change, d.rss_delta_bytes))
            .collect();
        assert_eq!(
            summary,
            vec![
                ("0x1000", Change::Changed, 4096),
                ("0x7000", Change::New, 4096),
                ("0x5000", Change::Gone, 0)
            ]
        );
        assert_eq!(deltas[1].name, "[anon]");
    }

    const ALL: DeltaFilter = DeltaFilter {
        page_size: 4096,
        all: true,
    };
    const DEFAULT: DeltaFilter = DeltaFilter {
        page_size: 4096,
        all: false,
    };

    fn with_pss(mut m: MappingRecord, pss: u64) -> MappingRecord {
        m.figures.pss_bytes = pss;
        m
    }

    #[test]
    fn shared_library_pss_wobble_is_hidden_unless_all_mappings_are_asked_for() {
        let before = process(vec![
            with_pss(mapping("0x9000", "/usr/lib/libc.so.6", 8192), 4096),
            with_pss(mapping("0x1000", "", 8192), 8192),
            mapping("0x3000", "[heap]", 4096),
        ]);
        let after = process(vec![
            // Another process mapped libc: Pss halves, nothing else moves.
            with_pss(mapping("0x9000", "/usr/lib/libc.so.6", 8192), 2048),
            // A fork shares the experiment's anonymous memory: Pss halves.
            with_pss(mapping("0x1000", "", 8192), 4096),
            // A sub-page move.
            with_pss(mapping("0x3000", "[heap]", 4096), 100),
        ]);
        let shown: Vec<String> = mapping_deltas(Some(&before), &after, &DEFAULT)
            .into_iter()
            .map(|d| d.name)
            .collect();
        assert_eq!(shown, vec!["[anon]"]);
        assert_eq!(hidden_count(Some(&before), &after, &DEFAULT), 2);
        assert_eq!(mapping_deltas(Some(&before), &after, &ALL).len(), 3);
    }

    #[test]
    fn processes_are_matched_by_pid_not_by_role() {
        let mut first = process(vec![mapping("0x1000", "[heap]", 4096)]);
        first.pid = 10;
        let mut second = process(vec![mapping("0x5000", "[heap]", 4096)]);
        second.pid = 11;
        let variant = VariantRecord {
            name: "v".into(),
            status: crate::model::Status::Ok,
            reason: None,
            notes: BTreeMap::new(),
            noise_floor: Vec::new(),
            checkpoints: ["a", "b"]
                .into_iter()
                .zip([first, second])
                .map(|(label, p)| crate::model::CheckpointRecord {
                    label: label.into(),
                    phase_millis: 0,
                    processes: vec![p],
                    system: None,
                    population: None,
                })
                .collect(),
            rss_samples: Vec::new(),
            binary: None,
        };
        assert!(previous(&variant, 1, 11).is_none());
        let table = variant_table(&variant, &DEFAULT);
        let text: Vec<&str> = table.rows.iter().map(|r| r[3].as_str()).collect();
        assert!(text[1].starts_with("(new process:"), "{text:?}");
        assert_eq!(table.rows[1][1], "main 11");
    }
}
