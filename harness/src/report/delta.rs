//! Before/after views: per checkpoint, the mappings whose figures changed since
//! the previous checkpoint of the same process (matched by PID: a new process
//! with an old role is new, not a changed one), so the eye goes straight to what
//! the step did. This module is the one renderer of a change: the tables, the
//! step views of `run --step` and `trace --step` all say it in its words.
//!
//! Mappings are matched by address overlap, not by their start: the kernel
//! grows a mapping downwards when an adjacent mmap merges into it, splits one
//! on an mprotect of part of it, and merges neighbours that become alike. All
//! the mappings before and after that overlap one another form one change
//! ([`Change::Reshaped`]: "extended from 202.0 MiB to 402.0 MiB"); "unmapped"
//! ([`Change::Gone`]) is said only of memory no mapping covers any more.
//!
//! Dirty pages of a file mapping the process cannot write through (no `w` in
//! its permissions) are dirty page cache: the file was written elsewhere or
//! earlier and not yet written back. Such a change says so
//! (`MappingDelta::page_cache_dirty_bytes`), since Private_Dirty otherwise
//! reads as "this process wrote there".
//!
//! By default a view hides what the step did not do: a mapping whose Pss moved
//! while its Rss, Size and dirty pages stayed put (a shared library that another
//! process on the machine mapped or unmapped), and changes smaller than a page.
//! `--all-mappings` ([`DeltaFilter::all`]) shows everything.

use crate::model::{MappingRecord, MemoryFigures, ProcessRecord, VariantRecord};
use crate::units::{human_bytes, signed_bytes};

use super::table::Table;

/// How one mapping (or a group of overlapping ones) changed between two
/// snapshots of a process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappingDelta {
    /// The mapping's name as pmap shows it (`[anon]` for anonymous memory);
    /// for a group of differently named mappings, their names joined by ` + `.
    pub name: String,
    /// Permissions (of every mapping after the change, joined by `,` when they differ).
    pub perms: String,
    /// First address (hex), after the change if the mapping is still there.
    pub start: String,
    /// Whether the mapping appeared, disappeared, changed shape or changed figures.
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
    /// Change of the dirty bytes (private and shared) of file mappings the
    /// process cannot write through: dirty page cache, written elsewhere or
    /// earlier, not by this process through this mapping.
    pub page_cache_dirty_delta_bytes: i64,
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
    /// It was mapped during the phase: no mapping covered its addresses before.
    New,
    /// It was unmapped during the phase: no mapping covers its addresses now.
    Gone,
    /// The same range before and after, and a figure changed.
    Changed,
    /// Mappings before and after overlap but their ranges differ: the mapping
    /// grew or shrank (mremap, brk, an adjacent mmap the kernel merged into
    /// it, a partial munmap), was split (mprotect or madvise on part of it) or
    /// merged with its neighbours.
    Reshaped(Reshape),
}

/// The shape of a [`Change::Reshaped`] group of overlapping mappings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reshape {
    /// How many mappings the addresses were in before.
    pub before_count: usize,
    /// How many they are in after.
    pub after_count: usize,
    /// Their summed Size before, bytes.
    pub before_bytes: u64,
    /// Their summed Size after, bytes.
    pub after_bytes: u64,
}

impl Reshape {
    /// One word for a table cell: `extended`, `shrunk`, `split`, `merged`, `reshaped`.
    pub fn word(&self) -> &'static str {
        match (self.before_count, self.after_count) {
            (1, 1) if self.after_bytes >= self.before_bytes => "extended",
            (1, 1) => "shrunk",
            (1, _) => "split",
            (_, 1) => "merged",
            _ => "reshaped",
        }
    }

    /// What happened, in a phrase: `extended from 202.0 MiB to 402.0 MiB`.
    pub fn phrase(&self) -> String {
        let (from, to) = (
            human_bytes(self.before_bytes),
            human_bytes(self.after_bytes),
        );
        match (self.before_count, self.after_count) {
            (1, 1) => format!("{} from {from} to {to}", self.word()),
            (1, n) => format!("split into {n} mappings, {from} before and {to} after"),
            (n, 1) => format!("merged from {n} mappings ({from}) into one of {to}"),
            (m, n) => format!("{m} mappings ({from}) became {n} ({to})"),
        }
    }
}

impl Change {
    /// The word a table puts after the mapping's name, if any.
    pub fn word(&self) -> Option<&'static str> {
        match self {
            Change::New => Some("new"),
            Change::Gone => Some("unmapped"),
            Change::Changed => None,
            Change::Reshaped(r) => Some(r.word()),
        }
    }
}

impl MappingDelta {
    /// The name with what happened to it, for a table cell: `[anon] (extended)`.
    pub fn tagged_name(&self) -> String {
        let mut tags: Vec<&str> = self.change.word().into_iter().collect();
        if self.page_cache_dirty_delta_bytes != 0 {
            tags.push("dirty page cache");
        }
        if tags.is_empty() {
            self.name.clone()
        } else {
            format!("{} ({})", self.name, tags.join(", "))
        }
    }

    /// Sentences that explain the change beyond its figures (none for a plain
    /// change of figures, a new or an unmapped mapping).
    pub fn explanations(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Change::Reshaped(r) = self.change {
            out.push(format!("{} {}", self.name, r.phrase()));
        }
        if self.page_cache_dirty_delta_bytes < 0 {
            out.push(format!(
                "{}: {} of dirty page cache was written back to the file",
                self.name,
                human_bytes(self.page_cache_dirty_delta_bytes.unsigned_abs())
            ));
        } else if self.page_cache_dirty_delta_bytes > 0 {
            out.push(format!(
                "{}: its dirty pages ({}) are the file's dirty page cache, not writes of this process: the mapping is not writable; the file was written elsewhere or earlier (write(2), another program) and not yet written back",
                self.name,
                signed_bytes(self.page_cache_dirty_delta_bytes)
            ));
        }
        out
    }

    /// The change on one line for a step view: what happened, the name's last
    /// path component, the permissions and every figure that moved.
    pub fn line(&self) -> String {
        let what = match self.change {
            Change::New => "new ".to_string(),
            Change::Gone => "unmapped ".to_string(),
            Change::Changed => String::new(),
            Change::Reshaped(r) => format!("{} ", r.word()),
        };
        let name = self.name.rsplit('/').next().unwrap_or(&self.name);
        let moved: Vec<String> = [
            ("Rss", self.rss_delta_bytes),
            ("Pss", self.pss_delta_bytes),
            ("Shared_Dirty", self.shared_dirty_delta_bytes),
            ("Private_Dirty", self.private_dirty_delta_bytes),
            ("Size", self.size_delta_bytes),
        ]
        .into_iter()
        .filter(|(_, v)| *v != 0)
        .map(|(k, v)| format!("{k} {}", signed_bytes(v)))
        .collect();
        let moved = if moved.is_empty() {
            "no figure moved".to_string()
        } else {
            moved.join(", ")
        };
        format!("{what}{name} {}: {moved}", self.perms)
    }
}

/// Dirty bytes of `m` that are dirty page cache: in a file mapping the process
/// cannot write through, any dirty page that is not an anonymous (copied) one.
pub fn page_cache_dirty_bytes(m: &MappingRecord) -> u64 {
    let file = m.name.starts_with('/');
    let writable = m.perms.as_bytes().get(1) == Some(&b'w');
    if !file || writable {
        return 0;
    }
    (m.figures.private_dirty_bytes)
        .saturating_add(m.figures.shared_dirty_bytes)
        .saturating_sub(m.figures.anonymous_bytes)
}

/// The address range of a mapping; a record without a usable end (hand-made
/// ones) is taken to span its Size.
fn range(m: &MappingRecord) -> (u64, u64) {
    match m.range() {
        (start, end) if end > start => (start, end),
        (start, _) => (start, start.saturating_add(m.figures.size_bytes.max(1))),
    }
}

/// The groups of mappings before and after that overlap one another
/// (transitively), as indexes into `old` and `new`.
fn overlap_groups(old: &[MappingRecord], new: &[MappingRecord]) -> Vec<(Vec<usize>, Vec<usize>)> {
    // Union-find over old (0..n) and new (n..n+m) mappings.
    let n = old.len();
    let mut parent: Vec<usize> = (0..n + new.len()).collect();
    fn root(parent: &mut [usize], mut i: usize) -> usize {
        while parent[i] != i {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        i
    }
    let old_ranges: Vec<(u64, u64)> = old.iter().map(range).collect();
    let new_ranges: Vec<(u64, u64)> = new.iter().map(range).collect();
    for (i, a) in old_ranges.iter().enumerate() {
        for (j, b) in new_ranges.iter().enumerate() {
            if a.0 < b.1 && b.0 < a.1 {
                let (x, y) = (root(&mut parent, i), root(&mut parent, n + j));
                parent[x] = y;
            }
        }
    }
    let mut groups: std::collections::BTreeMap<usize, (Vec<usize>, Vec<usize>)> =
        Default::default();
    for i in 0..n + new.len() {
        let r = root(&mut parent, i);
        let g = groups.entry(r).or_default();
        if i < n {
            g.0.push(i);
        } else {
            g.1.push(i - n);
        }
    }
    groups.into_values().collect()
}

fn sum(mappings: &[&MappingRecord]) -> MemoryFigures {
    let mut total = MemoryFigures::default();
    for m in mappings {
        total.add(&m.figures);
    }
    total
}

fn display_name(name: &str) -> String {
    if name.is_empty() {
        "[anon]".into()
    } else {
        name.to_string()
    }
}

/// Distinct values in order, joined.
fn joined<'a>(values: impl Iterator<Item = &'a str>, by: &str) -> String {
    let mut seen: Vec<&str> = Vec::new();
    for v in values {
        if !seen.contains(&v) {
            seen.push(v);
        }
    }
    seen.join(by)
}

/// The change of one overlap group; `None` when nothing moved.
fn group_delta(before: &[&MappingRecord], after: &[&MappingRecord]) -> Option<MappingDelta> {
    let (b, a) = (sum(before), sum(after));
    let d = |x: u64, y: u64| {
        (i128::from(y) - i128::from(x)).clamp(i64::MIN.into(), i64::MAX.into()) as i64
    };
    let shown = if after.is_empty() { before } else { after };
    let change = match (before.len(), after.len()) {
        (0, _) => Change::New,
        (_, 0) => Change::Gone,
        (1, 1) if range(before[0]) == range(after[0]) => Change::Changed,
        _ => Change::Reshaped(Reshape {
            before_count: before.len(),
            after_count: after.len(),
            before_bytes: b.size_bytes,
            after_bytes: a.size_bytes,
        }),
    };
    let names: Vec<String> = shown.iter().map(|m| display_name(&m.name)).collect();
    let cache = |ms: &[&MappingRecord]| {
        ms.iter()
            .map(|m| page_cache_dirty_bytes(m))
            .fold(0u64, u64::saturating_add)
    };
    let out = MappingDelta {
        name: joined(names.iter().map(String::as_str), " + "),
        perms: joined(shown.iter().map(|m| m.perms.as_str()), ","),
        start: shown[0].start.to_string(),
        change,
        size_delta_bytes: d(b.size_bytes, a.size_bytes),
        rss_delta_bytes: d(b.rss_bytes, a.rss_bytes),
        pss_delta_bytes: d(b.pss_bytes, a.pss_bytes),
        private_dirty_delta_bytes: d(b.private_dirty_bytes, a.private_dirty_bytes),
        shared_dirty_delta_bytes: d(b.shared_dirty_bytes, a.shared_dirty_bytes),
        page_cache_dirty_delta_bytes: d(cache(before), cache(after)),
    };
    let unchanged = change == Change::Changed
        && out.size_delta_bytes == 0
        && out.rss_delta_bytes == 0
        && out.pss_delta_bytes == 0
        && out.private_dirty_delta_bytes == 0
        && out.shared_dirty_delta_bytes == 0
        && before[0].perms == after[0].perms;
    (!unchanged).then_some(out)
}

/// The mappings that changed from `before` (None: the process is new) to `after`
/// and that `filter` shows, in address order, unmapped ones last. Overlapping
/// mappings before and after are one change (see the module's docs).
pub fn mapping_deltas(
    before: Option<&ProcessRecord>,
    after: &ProcessRecord,
    filter: &DeltaFilter,
) -> Vec<MappingDelta> {
    let old: &[MappingRecord] = before.map_or(&[], |p| &p.mappings);
    let mut groups = overlap_groups(old, &after.mappings);
    // Address order of what is mapped now; unmapped ones last, in their order.
    groups.sort_by_key(|(o, n)| match n.first() {
        Some(j) => (0, range(&after.mappings[*j]).0),
        None => (1, o.first().map_or(0, |i| range(&old[*i]).0)),
    });
    let mut out: Vec<MappingDelta> = groups
        .iter()
        .filter_map(|(o, n)| {
            let b: Vec<&MappingRecord> = o.iter().map(|i| &old[*i]).collect();
            let a: Vec<&MappingRecord> = n.iter().map(|j| &after.mappings[*j]).collect();
            group_delta(&b, &a)
        })
        .collect();
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

/// What a process's state means for its figures, in a sentence, when it
/// was not holding still.
pub fn state_note(process: &ProcessRecord) -> Option<String> {
    let state = process.state?;
    state.moving().then(|| {
        format!(
            "{} {} was {state} when it was read: its figures moved while they were read and differ from run to run with the timing",
            process.role, process.pid
        )
    })
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
            let rows = process_rows(&checkpoint.label, process, before, filter);
            table.rows.extend(rows.into_iter().map(|mut row| {
                row.resize(table.headers.len(), String::new());
                row
            }));
        }
    }
    table
}

/// The rows of [`variant_table`] for one process at one checkpoint (cells
/// after the last given are empty): a summary row when it is new or nothing
/// listed changed, else a row per changed mapping and one counting the
/// changes not listed.
fn process_rows(
    label: &str,
    process: &ProcessRecord,
    before: Option<&ProcessRecord>,
    filter: &DeltaFilter,
) -> Vec<Vec<String>> {
    let faults = format!(
        "{} min / {} maj",
        process.faults.minor, process.faults.major
    );
    let summary = |text: String| vec![label.to_string(), process.who(), faults.clone(), text];
    let Some(before) = before else {
        // A first snapshot would list every mapping as new; summarise it.
        return vec![summary(format!(
            "(new process: {} mappings, VmRSS {})",
            process.mappings.len(),
            human_bytes(process.totals.rss_bytes)
        ))];
    };
    let deltas = mapping_deltas(Some(before), process, filter);
    let hidden = hidden_count(Some(before), process, filter);
    if deltas.is_empty() {
        return vec![summary(if hidden == 0 {
            "(no mapping changed)".into()
        } else {
            format!("(only shared-library Pss or sub-page moves: {hidden})")
        })];
    }
    let mut rows = Vec::new();
    for (i, d) in deltas.iter().enumerate() {
        let first = i == 0;
        let name = d.tagged_name();
        rows.push(vec![
            if first {
                label.to_string()
            } else {
                String::new()
            },
            if first { process.who() } else { String::new() },
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
        rows.push(
            [
                "",
                "",
                "",
                &format!("({hidden} more: shared-library Pss, sub-page)"),
            ]
            .map(String::from)
            .to_vec(),
        );
    }
    rows
}

/// The sentences a variant's table needs beside it: per checkpoint and
/// process, a process whose figures moved while read, and every listed change
/// its figures alone do not explain (a mapping extended or split, dirty page
/// cache), each prefixed with where it happened.
pub fn variant_notes(variant: &VariantRecord, filter: &DeltaFilter) -> Vec<String> {
    let mut notes = Vec::new();
    for (index, checkpoint) in variant.checkpoints.iter().enumerate() {
        for process in &checkpoint.processes {
            let at = format!("{}, {} {}", checkpoint.label, process.role, process.pid);
            if let Some(note) = state_note(process) {
                notes.push(format!("{}: {note}", checkpoint.label));
            }
            let Some(before) = previous(variant, index, process.pid) else {
                continue;
            };
            for d in mapping_deltas(Some(before), process, filter) {
                for e in d.explanations() {
                    notes.push(format!("{at}: {e}"));
                }
            }
        }
    }
    notes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Faults, MemoryFigures, Totals};
    use std::collections::BTreeMap;

    fn mapping(start: &str, name: &str, rss: u64) -> MappingRecord {
        MappingRecord {
            start: start.parse().expect("a hex address"),
            end: crate::model::Address(0),
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
            state: None,
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

    /// A mapping `[start, end)` with Size, Rss and Private_Dirty all its length.
    fn span(start: u64, end: u64, name: &str, perms: &str) -> MappingRecord {
        let bytes = end - start;
        MappingRecord {
            start: crate::model::Address(start),
            end: crate::model::Address(end),
            name: name.into(),
            perms: perms.into(),
            offset_bytes: 0,
            figures: MemoryFigures {
                size_bytes: bytes,
                rss_bytes: bytes,
                pss_bytes: bytes,
                private_dirty_bytes: bytes,
                anonymous_bytes: if name.is_empty() { bytes } else { 0 },
                ..Default::default()
            },
            other: BTreeMap::new(),
            vm_flags: String::new(),
        }
    }

    const MIB: u64 = 1 << 20;

    // See: issue 31
    #[test]
    fn a_mapping_the_kernel_extended_downwards_is_one_extended_mapping_not_new_and_gone() {
        // python3's bytes(x) of a 200 MiB bytearray: the new memory lands right
        // below the old and the kernel merges the two; the start moves down.
        let top = 0x7f00_0000_0000;
        let before = process(vec![span(top - 202 * MIB, top, "", "rw-p")]);
        let after = process(vec![span(top - 402 * MIB, top, "", "rw-p")]);
        let deltas = mapping_deltas(Some(&before), &after, &DEFAULT);
        assert_eq!(deltas.len(), 1, "{deltas:?}");
        let d = &deltas[0];
        assert_eq!(d.tagged_name(), "[anon] (extended)");
        assert_eq!(d.rss_delta_bytes, (200 * MIB) as i64);
        assert_eq!(
            d.explanations(),
            vec!["[anon] extended from 202.0 MiB to 402.0 MiB"]
        );
        assert!(d.line().starts_with("extended [anon] rw-p: Rss +200.0 MiB"));
    }

    #[test]
    fn a_split_a_merge_and_a_partial_unmap_are_said_as_such() {
        let a = 0x10_0000;
        let whole = process(vec![span(a, a + 3 * MIB, "", "rw-p")]);
        let split = process(vec![
            span(a, a + MIB, "", "rw-p"),
            span(a + MIB, a + 2 * MIB, "", "r--p"),
            span(a + 2 * MIB, a + 3 * MIB, "", "rw-p"),
        ]);
        let d = mapping_deltas(Some(&whole), &split, &DEFAULT);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].change.word(), Some("split"));
        assert_eq!(d[0].perms, "rw-p,r--p");
        assert_eq!(d[0].line(), "split [anon] rw-p,r--p: no figure moved");
        let merged = mapping_deltas(Some(&split), &whole, &DEFAULT);
        assert_eq!(merged[0].change.word(), Some("merged"));
        // The top third unmapped: the rest still covers the start.
        let shrunk = process(vec![span(a, a + 2 * MIB, "", "rw-p")]);
        let d = mapping_deltas(Some(&whole), &shrunk, &DEFAULT);
        assert_eq!(d[0].tagged_name(), "[anon] (shrunk)");
        assert_eq!(d[0].size_delta_bytes, -(MIB as i64));
        // Unmapped only where nothing covers the addresses any more.
        let elsewhere = process(vec![span(a + 8 * MIB, a + 9 * MIB, "", "rw-p")]);
        let d = mapping_deltas(Some(&whole), &elsewhere, &DEFAULT);
        let words: Vec<_> = d.iter().map(|d| d.change.word()).collect();
        assert_eq!(words, vec![Some("new"), Some("unmapped")]);
    }

    // See: issue 31
    #[test]
    fn dirty_pages_of_a_file_mapping_that_cannot_be_written_are_dirty_page_cache() {
        let a = 0x20_0000;
        let mut unread = span(a, a + 64 * MIB, "/data/fresh.bin", "r--s");
        unread.figures = MemoryFigures {
            size_bytes: 64 * MIB,
            ..Default::default()
        };
        let read = span(a, a + 64 * MIB, "/data/fresh.bin", "r--s");
        let d = &mapping_deltas(
            Some(&process(vec![unread.clone()])),
            &process(vec![read]),
            &DEFAULT,
        )[0];
        assert_eq!(d.page_cache_dirty_delta_bytes, (64 * MIB) as i64);
        assert_eq!(d.tagged_name(), "/data/fresh.bin (dirty page cache)");
        assert!(d.explanations()[0].contains("not writes of this process"));
        // Through a writable mapping the process may have written them itself.
        let mut writable = unread;
        writable.perms = "rw-s".into();
        let mut written = span(a, a + 64 * MIB, "/data/fresh.bin", "rw-s");
        written.figures.anonymous_bytes = 0;
        let d = &mapping_deltas(
            Some(&process(vec![writable])),
            &process(vec![written]),
            &DEFAULT,
        )[0];
        assert_eq!(d.page_cache_dirty_delta_bytes, 0);
        assert!(d.explanations().is_empty());
    }

    // See: issue 31
    #[test]
    fn a_process_read_while_running_is_marked_in_the_table_and_its_notes() {
        let mut child = process(vec![mapping("0x1000", "[heap]", 4096)]);
        child.state = Some(crate::model::ProcessState::Running);
        let mut waiting = child.clone();
        waiting.pid = 2;
        waiting.state = Some(crate::model::ProcessState::Waiting);
        let variant = VariantRecord {
            name: "v".into(),
            status: crate::model::Status::Ok,
            reason: None,
            notes: BTreeMap::new(),
            noise_floor: Vec::new(),
            checkpoints: vec![crate::model::CheckpointRecord {
                label: "a".into(),
                phase_millis: 0,
                processes: vec![waiting, child],
                system: None,
                population: None,
            }],
            rss_samples: Vec::new(),
            binary: None,
        };
        let table = variant_table(&variant, &DEFAULT);
        assert_eq!(table.rows[0][1], "main 2");
        assert_eq!(table.rows[1][1], "main 1 (running)");
        let notes = variant_notes(&variant, &DEFAULT);
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(notes[0].starts_with("a: main 1 was running"), "{notes:?}");
    }
}
