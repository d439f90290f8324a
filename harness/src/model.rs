//! The result model: everything a run measured, from which every output format is
//! rendered. Sizes are bytes and counts are counts; the unit is in each field name.
//! `results/README.md` documents the JSON form of these types.

use std::collections::BTreeMap;

use experiments::note::NoteKey;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::provenance::Provenance;
use crate::system::Environment;

/// Version of the results.json layout; bumped on incompatible changes.
pub const FORMAT_VERSION: u32 = 1;

/// One invocation of the harness.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct RunRecord {
    /// Layout version of this record ([`FORMAT_VERSION`]).
    pub format_version: u32,
    /// Version of the harness that wrote it.
    pub vmlab_version: String,
    /// Start of the run, RFC 3339 in UTC.
    pub started_at: String,
    /// Whether `--quick` (small sizes) was in force.
    pub quick: bool,
    /// The machine and kernel the run measured.
    pub environment: Environment,
    /// One record per experiment, in the order they ran.
    pub experiments: Vec<ExperimentRecord>,
    /// With `--repeat N`: how each metric spread over the N runs of each variant,
    /// and which claims were judged differently by different runs. The variants
    /// and claims above are the first run's (with unstable claims made
    /// inconclusive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repeats: Option<Repeats>,
    /// What reproduces the run: the harness's commit and command line, the
    /// kernel's command line, configuration and compiler, the memory settings
    /// (empty in results of older versions).
    #[serde(default)]
    pub provenance: Provenance,
    /// How strictly the run is judged as a gate (`--strict`,
    /// `--require-comparable`).
    #[serde(default)]
    pub gate: Gate,
}

/// How strictly a run is judged when it gates a kernel (see
/// [`crate::outcome`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct Gate {
    /// `--strict`: a refutation not declared in advance fails, and so does a
    /// precondition the kernel's behaviour left unmet.
    pub strict: bool,
    /// `--require-comparable`: a variant or experiment that could not be
    /// compared with the baseline fails instead of being skipped.
    pub require_comparable: bool,
}

/// What running every variant several times showed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Repeats {
    /// How many times each variant ran.
    pub count: u32,
    /// Every compared metric's minimum, median and maximum over the runs.
    pub spread: Vec<MetricSpread>,
    /// Claims whose verdict differed between runs.
    pub unstable: Vec<UnstableClaim>,
}

/// One metric over the repeats of its variant (as `compare` names metrics).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct MetricSpread {
    /// Experiment name.
    pub experiment: String,
    /// Variant name.
    pub variant: String,
    /// Checkpoint label.
    pub checkpoint: String,
    /// Process role.
    pub process: String,
    /// Metric name, with its unit.
    pub metric: String,
    /// Smallest value.
    pub min: i64,
    /// Median value (the lower of the two middle ones for an even count).
    pub median: i64,
    /// Largest value.
    pub max: i64,
    /// How many runs measured it.
    pub runs: usize,
}

/// A claim that different runs of the same variants judged differently.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct UnstableClaim {
    /// Experiment name.
    pub experiment: String,
    /// Variant the claim is judged on, if any.
    pub variant: Option<String>,
    /// Claim id.
    pub id: String,
    /// The verdict of each run, in order.
    pub verdicts: Vec<Verdict>,
}

/// Whether an experiment or variant produced measurements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// It ran to its end.
    Ok,
    /// The environment could not meet a precondition; `reason` says which.
    Skipped,
    /// It crashed, hung or broke the protocol; `reason` says how.
    Failed,
}

/// One experiment: its parameters, variants and judged claims.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ExperimentRecord {
    /// Kebab-case name (`mmap-file`).
    pub name: String,
    /// Ok if every variant ran or was skipped; failed if any failed.
    pub status: Status,
    /// Why it was skipped or failed.
    pub reason: Option<String>,
    /// The sizes and options it ran with.
    pub params: BTreeMap<String, serde_json::Value>,
    /// One record per variant, in the order they ran.
    pub variants: Vec<VariantRecord>,
    /// The seeds' claims with the verdicts this run measured.
    pub claims: Vec<ClaimRecord>,
    /// Tables the experiment derives from its measurements to show its point at a
    /// glance (e.g. Σ Rss against Σ Pss), rendered after the claims.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub summary: Vec<SummaryTable>,
    /// What each kind of page fault cost, timed inside the experiment (the
    /// `fault-costs` experiment; empty for the others). Never judged as a claim.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fault_costs: Vec<FaultCost>,
}

/// The price of one kind of page fault (or of fork, or munmap) on this machine:
/// the experiment timed `repetitions` loops from inside with the monotonic clock,
/// and the harness divided each by the units it counted from outside for the
/// same phase. Timings are information, never a verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct FaultCost {
    /// Kebab-case kind (`anon-first-touch`, `thp-first-touch`, `cow-after-fork`, ...).
    pub kind: String,
    /// The checkpoint that ends the phase the kind was timed in.
    pub phase: String,
    /// How many times the loop ran, each over a fresh block.
    pub repetitions: u64,
    /// Page faults (minor + major) of the whole phase, counted from outside.
    pub faults: u64,
    /// Of those, major faults (the ones that waited for I/O).
    pub major_faults: u64,
    /// Bytes one repetition covered (touched, read, or resident for fork and munmap).
    pub bytes: u64,
    /// What the nanoseconds are per: `fault` (as the kernel counted them, so one
    /// fault-around or read-ahead fault counts once), `fork`, or `page` (unmapped).
    pub unit: String,
    /// Units in one repetition (faults counted over the phase / repetitions, 1 fork,
    /// or resident pages unmapped).
    pub units_per_repetition: f64,
    /// Nanoseconds per unit over the repetitions (wall time, the monotonic clock).
    pub nanos_per_unit: Spread,
    /// The same in CPU time of the timing thread: leaves out the time it did not
    /// run (other processes had the CPU, or it waited for the disk), so on a busy
    /// machine it is the closer figure for what the kernel spent; absent in
    /// results of older versions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_nanos_per_unit: Option<Spread>,
    /// Nanoseconds per KiB of `bytes` over the repetitions.
    pub nanos_per_kib: Spread,
    /// What /proc/vmstat's compaction and huge-page counters did over the
    /// phase, machine-wide: whether the kernel stalled to compact memory or
    /// fell back to base pages, which explains a slow repetition of a THP
    /// kind. Absent where the counters were not read (older results).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compaction: Option<PhaseCompaction>,
}

/// The phase's change of the counters that say whether the kernel had to
/// compact memory (machine-wide: another process's allocations count too).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PhaseCompaction {
    /// `compact_stall`: allocations that stalled to compact memory.
    pub compact_stall: Option<u64>,
    /// `thp_fault_fallback`: faults that wanted a huge page and got base pages.
    pub thp_fault_fallback: Option<u64>,
    /// `thp_fault_alloc`: huge pages allocated at a fault.
    pub thp_fault_alloc: Option<u64>,
}

impl PhaseCompaction {
    /// The change from `before` to `after`; a counter either side lacks is `None`.
    pub fn between(before: &VmstatCounters, after: &VmstatCounters) -> PhaseCompaction {
        let d = |a: Option<u64>, b: Option<u64>| Some(a?.saturating_sub(b?));
        PhaseCompaction {
            compact_stall: d(after.compact_stall, before.compact_stall),
            thp_fault_fallback: d(after.thp_fault_fallback, before.thp_fault_fallback),
            thp_fault_alloc: d(after.thp_fault_alloc, before.thp_fault_alloc),
        }
    }

    /// `compacted (compact_stall +3)`, `no compaction`, or `counters unreadable`.
    pub fn text(&self) -> String {
        match (self.compact_stall, self.thp_fault_fallback) {
            (Some(0), Some(0)) | (Some(0), None) => "no compaction".to_string(),
            (Some(stall), fallback) => {
                let mut out = if stall > 0 {
                    format!("compacted (compact_stall +{stall}")
                } else {
                    "no compaction (compact_stall +0".to_string()
                };
                if let Some(f) = fallback.filter(|f| *f > 0) {
                    out.push_str(&format!(", thp_fault_fallback +{f}"));
                }
                out.push(')');
                out
            }
            (None, _) => "compaction counters unreadable".to_string(),
        }
    }
}

/// Minimum, median and maximum of a set of measurements.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Spread {
    /// The smallest.
    pub min: f64,
    /// The middle one (the mean of the two middle ones for an even count).
    pub median: f64,
    /// The largest.
    pub max: f64,
}

/// A table an experiment derives from its record (display strings, units in the
/// headers), kept in the results so a report can be rebuilt from the JSON alone.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SummaryTable {
    /// One line saying what the table shows.
    pub title: String,
    /// Column headers.
    pub headers: Vec<String>,
    /// Rows, each as long as `headers`.
    pub rows: Vec<Vec<String>>,
}

/// One variant of an experiment (`warm`, `cold`, `thp-on`, ...): one run of its binary.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct VariantRecord {
    /// Kebab-case variant name.
    pub name: String,
    /// Whether it ran, was skipped or failed.
    pub status: Status,
    /// Why it was skipped or failed.
    pub reason: Option<String>,
    /// Facts the experiment reported about itself (`write_chunk_bytes`, ...).
    pub notes: BTreeMap<String, String>,
    /// What two snapshots with nothing between them differed by, per process role.
    /// Anything but zero means the protocol disturbs the measurement.
    pub noise_floor: Vec<NoiseFloor>,
    /// The checkpoints in the order reached.
    pub checkpoints: Vec<CheckpointRecord>,
    /// VmRSS of the main process sampled from outside while it ran between
    /// checkpoints (from /proc/PID/statm), for plots of long phases.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rss_samples: Vec<RssSample>,
    /// The file facts of the program this variant measured, for experiments that
    /// build one program several ways (the experiment notes `program_path`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binary: Option<BinaryFacts>,
}

/// One sample of the main process's resident set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RssSample {
    /// Milliseconds since the experiment said ready.
    pub millis: u64,
    /// VmRSS, in bytes.
    pub rss_bytes: u64,
}

/// What the measured program's file holds, read from its ELF headers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct BinaryFacts {
    /// Where the file is.
    pub path: String,
    /// Its size on disk, in bytes.
    pub file_bytes: u64,
    /// Static (no program interpreter) or dynamic.
    pub linking: Linking,
    /// True if it has neither a symbol table nor debug sections.
    pub stripped: bool,
    /// The PT_LOAD program headers, as `readelf -l` lists them.
    pub load_segments: Vec<LoadSegment>,
    /// `size`'s text: allocated sections that are executable or read-only, in bytes.
    pub text_bytes: u64,
    /// `size`'s data: allocated, writable sections with contents in the file, in bytes.
    pub data_bytes: u64,
    /// `size`'s bss: allocated sections with no contents in the file, in bytes.
    pub bss_bytes: u64,
}

/// How a program finds its libraries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Linking {
    /// Everything is in the file; no program interpreter.
    Static,
    /// The dynamic loader (PT_INTERP) maps shared libraries at start-up.
    Dynamic,
}

/// One PT_LOAD program header: a piece of the file mapped at start-up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct LoadSegment {
    /// Permissions as `readelf -l` shows them (`R E`, `RW `, `R  `).
    pub flags: String,
    /// Offset in the file, in bytes.
    pub offset: u64,
    /// Virtual address (relative to the load base for position-independent files).
    pub vaddr: u64,
    /// Bytes taken from the file.
    pub file_bytes: u64,
    /// Bytes in memory; beyond `file_bytes` they are zero-filled (bss).
    pub mem_bytes: u64,
}

/// The change between the two snapshots of the null phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct NoiseFloor {
    /// Minor faults counted between the two snapshots.
    pub minor_faults: u64,
    /// Major faults counted between the two snapshots.
    pub major_faults: u64,
    /// Change of VmRSS, in bytes (signed).
    pub rss_delta_bytes: i64,
}

/// All processes of an experiment as snapshotted at one checkpoint.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct CheckpointRecord {
    /// Kebab-case name of what has just happened (`after-mmap`).
    pub label: String,
    /// Wall time from the previous checkpoint (or the null phase) to this one,
    /// in milliseconds; for information only, never judged.
    pub phase_millis: u64,
    /// One snapshot per process, the main process first.
    pub processes: Vec<ProcessRecord>,
    /// The system-wide memory counters of /proc/meminfo, read right after the
    /// processes. Other processes on the machine move them too: judge them only
    /// against a noise band measured in the same run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<SystemCounters>,
    /// Brief snapshots of a whole population of processes (every child of a
    /// process), for experiments with too many processes to record each in full.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub population: Option<PopulationRecord>,
}

/// System-wide counters from /proc/meminfo at one moment, in bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SystemCounters {
    /// MemFree.
    pub mem_free_bytes: u64,
    /// MemAvailable: the kernel's estimate of what can be allocated without swapping.
    pub mem_available_bytes: u64,
    /// AnonPages: anonymous pages mapped into user page tables.
    pub anon_pages_bytes: u64,
    /// Mapped: file pages mapped into user page tables.
    pub mapped_bytes: u64,
    /// PageTables: memory holding page tables.
    pub page_tables_bytes: u64,
    /// KernelStack: the kernel stacks of all tasks.
    pub kernel_stack_bytes: u64,
    /// Slab: kernel object caches (task structs, VMAs, ...), reclaimable or not.
    pub slab_bytes: u64,
    /// SUnreclaim: the part of Slab that cannot be reclaimed.
    pub slab_unreclaimable_bytes: u64,
    /// Committed_AS: memory promised to processes (private writable mappings), used or not.
    pub committed_as_bytes: u64,
    /// CommitLimit: the ceiling of Committed_AS under `vm.overcommit_memory=2`.
    pub commit_limit_bytes: u64,
    /// AnonHugePages: anonymous memory in transparent huge pages.
    pub anon_huge_pages_bytes: u64,
    /// Free pages parked on the per-CPU lists (`count` of every pageset in
    /// /proc/zoneinfo): free, but counted in neither MemFree nor MemAvailable.
    #[serde(default)]
    pub pcp_free_bytes: u64,
    /// The /proc/vmstat event counters that explain a phase (read with the
    /// rest; absent in results of older versions or where it was unreadable).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vmstat: Option<VmstatCounters>,
}

/// Cumulative event counters of /proc/vmstat, machine-wide: their change over
/// a phase says why a huge page did not arrive (`thp_fault_fallback`,
/// `compact_stall`) or why a read went to storage (`pgmajfault`,
/// `workingset_refault_file`). A counter this kernel does not write is `None`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct VmstatCounters {
    /// Huge pages allocated at a page fault.
    pub thp_fault_alloc: Option<u64>,
    /// Page faults that wanted a huge page and fell back to base pages.
    pub thp_fault_fallback: Option<u64>,
    /// Major page faults, machine-wide.
    pub pgmajfault: Option<u64>,
    /// Allocations that stalled to compact memory.
    pub compact_stall: Option<u64>,
    /// File pages read again soon after being evicted.
    pub workingset_refault_file: Option<u64>,
}

impl VmstatCounters {
    /// Each counter's name and value.
    pub fn fields(&self) -> [(&'static str, Option<u64>); 5] {
        [
            ("thp_fault_alloc", self.thp_fault_alloc),
            ("thp_fault_fallback", self.thp_fault_fallback),
            ("pgmajfault", self.pgmajfault),
            ("compact_stall", self.compact_stall),
            ("workingset_refault_file", self.workingset_refault_file),
        ]
    }

    /// The change of each counter from `before` to `self`, as
    /// `thp_fault_alloc +0, thp_fault_fallback +12, ...` (machine-wide).
    pub fn delta_text(&self, before: &VmstatCounters) -> String {
        self.fields()
            .iter()
            .zip(before.fields())
            .map(|((name, now), (_, then))| match (now, then) {
                (Some(a), Some(b)) => format!("{name} {:+}", *a as i128 - b as i128),
                _ => format!("{name} unknown"),
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Brief snapshots of every child of one process at one checkpoint
/// (/proc/PID/smaps_rollup and status of each, no per-mapping detail).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PopulationRecord {
    /// The role the experiment gave the population (`worker`).
    pub role: String,
    /// The process whose children these are.
    pub parent_pid: i32,
    /// How many children were found.
    pub count: usize,
    /// Children that exited between being found and being read.
    pub vanished: usize,
    /// Each member's figures, by pid.
    pub members: Vec<MemberRecord>,
    /// The figures summed over all members.
    pub sum: MemberFigures,
}

/// One member of a population.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct MemberRecord {
    /// Its process id.
    pub pid: i32,
    /// Its figures.
    #[serde(flatten)]
    pub figures: MemberFigures,
}

/// The figures of one brief snapshot (status and smaps_rollup), in bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct MemberFigures {
    /// VmSize.
    pub vm_size_bytes: u64,
    /// VmRSS.
    pub rss_bytes: u64,
    /// RssAnon.
    pub rss_anon_bytes: u64,
    /// RssFile.
    pub rss_file_bytes: u64,
    /// Pss (smaps_rollup).
    pub pss_bytes: u64,
    /// Private_Clean + Private_Dirty (smaps_rollup).
    pub uss_bytes: u64,
    /// VmPTE.
    pub pte_bytes: u64,
}

impl MemberFigures {
    /// Adds another member's figures to these.
    pub fn add(&mut self, other: &MemberFigures) {
        self.vm_size_bytes = self.vm_size_bytes.saturating_add(other.vm_size_bytes);
        self.rss_bytes = self.rss_bytes.saturating_add(other.rss_bytes);
        self.rss_anon_bytes = self.rss_anon_bytes.saturating_add(other.rss_anon_bytes);
        self.rss_file_bytes = self.rss_file_bytes.saturating_add(other.rss_file_bytes);
        self.pss_bytes = self.pss_bytes.saturating_add(other.pss_bytes);
        self.uss_bytes = self.uss_bytes.saturating_add(other.uss_bytes);
        self.pte_bytes = self.pte_bytes.saturating_add(other.pte_bytes);
    }
}

/// One process at one checkpoint.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ProcessRecord {
    /// The role the experiment gave it (`main`, `parent`, `child`).
    pub role: String,
    /// Its process id.
    pub pid: i32,
    /// Page faults since the previous snapshot of the same role (for a process seen
    /// for the first time: since it was forked).
    pub faults: Faults,
    /// Cumulative fault counters as /proc/PID/stat shows them.
    pub faults_total: Faults,
    /// Whole-process figures.
    pub totals: Totals,
    /// The regions the experiment declared, each summed over the mappings it overlaps.
    pub regions: Vec<RegionRecord>,
    /// Every mapping of /proc/PID/smaps, in address order.
    pub mappings: Vec<MappingRecord>,
    /// The storage I/O charged to the process so far, from /proc/PID/io (absent
    /// when it could not be read, and in results of older versions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub io: Option<IoCounters>,
    /// What the process was doing when it was read (`trace` and `watch`
    /// record it; absent for the built-in experiments, whose processes always
    /// wait at their checkpoint, and in results of older versions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<ProcessState>,
}

/// What a process was doing at the moment it was snapshotted. Only a process
/// that waits (or is stopped) holds its figures still while they are read; a
/// running one's figures are a moving target, and differ from run to run with
/// the timing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ProcessState {
    /// Waiting at the checkpoint: in the wait the harness detected (its stdin,
    /// pause(), sigsuspend()) or in the SDK's checkpoint call.
    Waiting,
    /// Stopped by a signal (state `T`) it did not get from the harness.
    Stopped,
    /// Asleep in something other than a checkpoint wait (waitpid, poll, a
    /// sleep) and did not run while it was read: its figures are one instant,
    /// though not one the program chose.
    Sleeping,
    /// Running (state `R`, or it used CPU while it was read): a child only its
    /// parent waits for, a process under `watch`. The harness does not stop
    /// it, so its figures moved while they were read and depend on the timing.
    Running,
    /// Exiting: a zombie, or its memory already being given back.
    Exiting,
}

impl ProcessState {
    /// Whether the figures of a process in this state moved while they were read.
    pub fn moving(self) -> bool {
        matches!(self, ProcessState::Running | ProcessState::Exiting)
    }
}

impl std::fmt::Display for ProcessState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ProcessState::Waiting => "waiting",
            ProcessState::Stopped => "stopped",
            ProcessState::Sleeping => "sleeping",
            ProcessState::Running => "running",
            ProcessState::Exiting => "exiting",
        })
    }
}

/// Cumulative I/O counters of /proc/PID/io, in bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct IoCounters {
    /// `rchar`: bytes passed to read(2) and similar, from cache or not.
    pub rchar_bytes: u64,
    /// `wchar`: bytes passed to write(2) and similar.
    pub wchar_bytes: u64,
    /// `read_bytes`: bytes this process caused to be read from storage, including
    /// the read-ahead its page faults started.
    pub read_bytes: u64,
    /// `write_bytes`: bytes this process caused to be sent to storage.
    pub write_bytes: u64,
}

/// Minor and major page fault counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Faults {
    /// Faults served without I/O (page cache hit, zero page, COW copy).
    pub minor: u64,
    /// Faults the kernel counted as major: it waited for I/O, or retried the
    /// fault after waiting for a page another reader held. Read-ahead can read a
    /// file in while the process takes minor faults, so storage reads show in
    /// [`IoCounters::read_bytes`], not here.
    pub major: u64,
}

/// Whole-process memory figures.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Totals {
    /// VmSize: the address space, in bytes.
    pub vm_size_bytes: u64,
    /// VmRSS: resident pages, in bytes.
    pub rss_bytes: u64,
    /// RssAnon: resident anonymous pages, in bytes.
    pub rss_anon_bytes: u64,
    /// RssFile: resident file-backed pages, in bytes.
    pub rss_file_bytes: u64,
    /// RssShmem: resident shared-memory pages, in bytes.
    pub rss_shmem_bytes: u64,
    /// Sum of Rss over all mappings of smaps, in bytes: exact, where VmRSS comes
    /// from counters that may lag or be read approximately.
    #[serde(default)]
    pub mapped_rss_bytes: u64,
    /// Sum of Pss over all mappings, in bytes.
    pub pss_bytes: u64,
    /// Unique set size: Private_Clean + Private_Dirty over all mappings, in bytes.
    pub uss_bytes: u64,
    /// VmPTE: page tables, in bytes.
    pub pte_bytes: u64,
    /// VmStk: the main stack's mapping size, in bytes.
    pub stack_bytes: u64,
    /// VmSwap: swapped-out anonymous memory, in bytes.
    pub swap_bytes: u64,
}

/// The smaps figures of one mapping, or of a region summed over mappings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct MemoryFigures {
    /// Size: the mapping's length, in bytes.
    pub size_bytes: u64,
    /// Rss: resident bytes.
    pub rss_bytes: u64,
    /// Pss: resident bytes, each page divided by the number of processes mapping it.
    pub pss_bytes: u64,
    /// Resident, unmodified, mapped by others too.
    pub shared_clean_bytes: u64,
    /// Resident, modified, mapped by others too (e.g. not yet copied after fork).
    pub shared_dirty_bytes: u64,
    /// Resident, unmodified, mapped only here.
    pub private_clean_bytes: u64,
    /// Resident, modified, mapped only here.
    pub private_dirty_bytes: u64,
    /// Anonymous (not file-backed) resident bytes.
    pub anonymous_bytes: u64,
    /// Anonymous bytes in transparent huge pages.
    pub anon_huge_pages_bytes: u64,
    /// Swapped-out bytes.
    pub swap_bytes: u64,
}

/// One line of /proc/PID/smaps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct MappingRecord {
    /// First address, hex (`0x7f...`).
    #[schemars(with = "String")]
    pub start: Address,
    /// One past the last address, hex.
    #[schemars(with = "String")]
    pub end: Address,
    /// What is mapped: a path (the run's temp folder shown as `<temp dir>`),
    /// `[heap]`, `[stack]`, `[vdso]`, ..., or empty for anonymous memory.
    pub name: String,
    /// Permissions as in /proc/PID/maps (`r--s`).
    pub perms: String,
    /// Offset into the file, in bytes.
    pub offset_bytes: u64,
    /// The figures.
    #[serde(flatten)]
    pub figures: MemoryFigures,
    /// Every other smaps field of this mapping, in bytes (or as counted), so that
    /// fields of newer kernels show up without a code change.
    pub other: BTreeMap<String, u64>,
    /// The VmFlags line's two-letter flags.
    pub vm_flags: String,
}

impl MappingRecord {
    /// The mapping's address range `[start, end)`.
    pub fn range(&self) -> (u64, u64) {
        (self.start.0, self.end.0)
    }
}

/// A virtual address: a number in memory, `0x…` hex in results files and on
/// screen, as smaps and pmap print it; parsed once, where it is read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Address(pub u64);

impl std::fmt::Display for Address {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:#x}", self.0)
    }
}

impl std::str::FromStr for Address {
    type Err = String;

    fn from_str(text: &str) -> Result<Address, String> {
        parse_hex(text)
            .map(Address)
            .ok_or_else(|| format!("'{text}' is not a 0x… hex address"))
    }
}

impl Serialize for Address {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Address {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Address, D::Error> {
        let text = std::borrow::Cow::<'de, str>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Parses a `0x…` hex address.
pub fn parse_hex(text: &str) -> Option<u64> {
    u64::from_str_radix(text.strip_prefix("0x")?, 16).ok()
}

/// A region the experiment declared, at one checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RegionRecord {
    /// Kebab-case region name (`data`).
    pub name: String,
    /// How many mappings overlap it (0 once it is unmapped).
    pub mapping_count: usize,
    /// The figures summed over those mappings.
    #[serde(flatten)]
    pub figures: MemoryFigures,
    /// Where the region's pages physically are, from /proc/PID/pagemap (absent
    /// when pagemap could not be read, and in results of older versions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pagemap: Option<RegionPagemap>,
}

/// A declared region as /proc/PID/pagemap shows it at one checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RegionPagemap {
    /// Pages in the region (its length over the page size).
    pub pages: u64,
    /// Pages present in RAM (pagemap bit 63), over the whole region.
    pub present_pages: u64,
    /// Pages in swap (bit 62), over the whole region.
    pub swapped_pages: u64,
    /// Present pages that no other process maps (bit 56), over the whole region.
    pub exclusive_pages: u64,
    /// A bounded sample of evenly spaced pages, the first at page 0.
    pub sample: Vec<PageSample>,
    /// Why `pfn` or `map_count` are null in the sample (not root), if they are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pfn_unavailable: Option<String>,
}

/// One sampled page of a region.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PageSample {
    /// Index of the page from the region's start (0-based).
    pub page_index: u64,
    /// Present in RAM.
    pub present: bool,
    /// Mapped by this process only.
    pub exclusive: bool,
    /// Page frame number: the physical page (null if absent or hidden).
    pub pfn: Option<u64>,
    /// How many page tables map that frame, from /proc/kpagecount (null if not
    /// readable).
    pub map_count: Option<u64>,
}

/// What a measurement says of a claim.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// The kernel behaved as the seed says.
    Confirmed,
    /// The kernel contradicts the seed; the evidence explains how and why.
    Refuted,
    /// A precondition was not met (no cold cache, variant skipped), so no judgement.
    Inconclusive,
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Verdict::Confirmed => "confirmed",
            Verdict::Refuted => "refuted",
            Verdict::Inconclusive => "inconclusive",
        })
    }
}

/// One claim of a seed and what this run measured of it.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ClaimRecord {
    /// Kebab-case id, unique within the experiment and stable across runs.
    pub id: String,
    /// The variant it was judged on, if it is judged per variant.
    pub variant: Option<String>,
    /// The seed file it comes from.
    pub source: String,
    /// The claim, paraphrased.
    pub statement: String,
    /// What the measurement says.
    pub verdict: Verdict,
    /// The figures behind the verdict, and why where the kernel differs.
    pub evidence: String,
    /// The criterion, declared before measuring: the quantity, the comparison and
    /// the tolerance with where it comes from (pages, the noise floor, the seed's
    /// own figure). Empty in results of older versions.
    #[serde(default)]
    pub criterion: String,
    /// The measured figure the criterion was applied to, in a few words
    /// (`256 pages`), for one-line summaries. Empty when nothing was measured.
    #[serde(default)]
    pub measured: String,
    /// The outcome the experiment expects on current kernels where it differs
    /// from the seed (a known refutation), with the reason; reported as XFAIL
    /// when that is what happened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected: Option<Expectation>,
    /// For an inconclusive claim, whose precondition was not met: the
    /// environment's (no root, files on tmpfs: a skip) or the kernel's
    /// behaviour (THP enabled and asked for, yet no huge page: a failure under
    /// `--strict`). Absent when the verdict is not inconclusive or the reason
    /// was something not measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub precondition: Option<Precondition>,
    /// The claim is judged strictly whatever the run's `--strict`: a
    /// refutation not declared in advance, or a precondition the kernel did
    /// not meet, fails (a claims file's `strict = true`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub strict: bool,
    /// For an inconclusive claim, the transient disturbance measured in the
    /// phase that left it undecided (reclaim evicted pages it needed, THP fell
    /// back): the session measures the variant again. Absent for a permanent
    /// precondition ([`ClaimRecord::precondition`] alone), which no retry
    /// changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disturbance: Option<Disturbance>,
    /// How many times its variant was run before one was not disturbed, when
    /// more than once, with why each earlier run was disturbed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempts: Option<Attempts>,
}

/// A disturbance that passes: measured in the phase, caused by something
/// outside the experiment's plan, and unlikely to recur on the next run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Disturbance {
    /// What disturbed the phase.
    pub cause: DisturbanceCause,
    /// The measured figure that shows it, in a few words
    /// (`6 pages left the page cache between mincore and the read`).
    pub measured: String,
}

/// What disturbed a phase; every cause is transient, which is what makes the
/// session measure the variant again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum DisturbanceCause {
    /// Proactive reclaim (a DAMON pageout scheme) evicted pages the claim
    /// needed while the phase ran.
    Reclaim,
    /// A fault that asked for a transparent huge page got small pages
    /// (/proc/vmstat thp_fault_fallback moved in the phase), e.g. under
    /// memory pressure or fragmentation.
    ThpFallback,
    /// The experiment itself evicted its file between measuring the page
    /// cache and reading, because a test asked it to
    /// (`VMLAB_TEST_EVICT_ONCE`).
    TestEviction,
}

impl DisturbanceCause {
    /// Whose precondition a claim left undecided by this cause names.
    pub fn precondition(self) -> Precondition {
        match self {
            DisturbanceCause::ThpFallback => Precondition::Kernel,
            DisturbanceCause::Reclaim | DisturbanceCause::TestEviction => Precondition::Environment,
        }
    }
}

/// The runs of a variant that a transient disturbance made the session repeat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Attempts {
    /// The run the verdict comes from, 1-based: the first not disturbed, or
    /// the last when every one was.
    pub judged: u32,
    /// How many runs were made.
    pub made: u32,
    /// Why each run before the judged one was disturbed, in order: the
    /// disturbed claims' ids with what was measured.
    pub disturbed: Vec<String>,
}

impl Attempts {
    /// `attempt 2 of 3; attempt 1: reclaim: 6 pages ...`, for the evidence.
    pub fn sentence(&self) -> String {
        let mut text = format!("attempt {} of {}", self.judged, self.made);
        for (i, why) in self.disturbed.iter().enumerate() {
            text.push_str(&format!("; attempt {}: {why}", i + 1));
        }
        text
    }
}

/// Whose precondition was not met, for an inconclusive claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Precondition {
    /// The machine's set-up: no root, files on tmpfs, a knob set otherwise,
    /// a size that does not fit. Not the kernel's doing: always a skip.
    Environment,
    /// The kernel's behaviour: everything was asked for as it should be (THP
    /// enabled, the region aligned, MADV_HUGEPAGE accepted) and the kernel
    /// did not do it. A failure under `--strict`.
    Kernel,
}

/// The start of the reason of a precondition the kernel's behaviour left
/// unmet ([`Precondition::Kernel`]); a judge's `Err` that begins so is
/// recorded as such.
pub const KERNEL_PRECONDITION: &str = "precondition not met by the kernel: ";

/// The start of the reason of any other unmet precondition
/// ([`Precondition::Environment`]).
pub const ENVIRONMENT_PRECONDITION: &str = "precondition not met";

impl Precondition {
    /// Whose precondition an inconclusive claim's reason names, if any.
    pub fn of_reason(reason: &str) -> Option<Precondition> {
        if reason.starts_with(KERNEL_PRECONDITION) {
            Some(Precondition::Kernel)
        } else if reason.starts_with(ENVIRONMENT_PRECONDITION) {
            Some(Precondition::Environment)
        } else {
            None
        }
    }
}

/// An outcome an experiment declares in advance, with its reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Expectation {
    /// The verdict expected on current kernels.
    pub verdict: Verdict,
    /// Why (e.g. "fault-around maps 16 pages per fault since Linux 3.15").
    pub reason: String,
}

impl ClaimRecord {
    /// Records the measured figure the criterion was applied to.
    pub fn with_measured(mut self, measured: impl Into<String>) -> ClaimRecord {
        self.measured = measured.into();
        self
    }

    /// Declares the verdict expected on current kernels, and why.
    pub fn expecting(mut self, verdict: Verdict, reason: impl Into<String>) -> ClaimRecord {
        self.expected = Some(Expectation {
            verdict,
            reason: reason.into(),
        });
        self
    }
}

impl RunRecord {
    /// True if any experiment failed (the run exits 1).
    pub fn any_failed(&self) -> bool {
        self.experiments.iter().any(|e| e.status == Status::Failed)
    }
}

impl VariantRecord {
    /// Note `key`, read as its type; `None` when absent or not a `T`. A
    /// [`Note<T>`](experiments::note::Note) gives its own type.
    pub fn note<T: std::str::FromStr>(&self, key: impl NoteKey<T>) -> Option<T> {
        self.notes.get(key.key())?.trim().parse().ok()
    }

    /// Note `key`, read as its type, or why it cannot be used: not noted, or
    /// a text that is not a `T` (quoted, with the reason), so that a judge
    /// tells a corrupt record from a missing figure.
    pub fn need_note<T>(&self, key: impl NoteKey<T>) -> Result<T, String>
    where
        T: std::str::FromStr,
        T::Err: std::fmt::Display,
    {
        let name = key.key();
        let text = self
            .notes
            .get(name)
            .ok_or_else(|| format!("the experiment did not note {name}"))?;
        text.trim()
            .parse()
            .map_err(|e| format!("note {name} does not read as its type: {text:?} ({e})"))
    }

    /// A variant that has started and measured nothing yet.
    pub fn new(name: impl Into<String>) -> VariantRecord {
        VariantRecord {
            name: name.into(),
            status: Status::Ok,
            reason: None,
            notes: BTreeMap::new(),
            noise_floor: Vec::new(),
            checkpoints: Vec::new(),
            rss_samples: Vec::new(),
            binary: None,
        }
    }

    /// The checkpoint with this label, if it was reached.
    pub fn checkpoint(&self, label: &str) -> Option<&CheckpointRecord> {
        self.checkpoints.iter().find(|c| c.label == label)
    }
}

impl CheckpointRecord {
    /// The process with this role, if it was snapshotted here.
    pub fn process(&self, role: &str) -> Option<&ProcessRecord> {
        self.processes.iter().find(|p| p.role == role)
    }
}

impl ProcessRecord {
    /// `role pid` as the views name the process, with `(running)` when its
    /// figures moved while they were read.
    pub fn who(&self) -> String {
        match self.state {
            Some(state) if state.moving() => format!("{} {} ({state})", self.role, self.pid),
            _ => format!("{} {}", self.role, self.pid),
        }
    }

    /// The declared region with this name, if declared by now.
    pub fn region(&self, name: &str) -> Option<&RegionRecord> {
        self.regions.iter().find(|r| r.name == name)
    }
}

impl MemoryFigures {
    /// Adds another mapping's figures to these.
    pub fn add(&mut self, other: &MemoryFigures) {
        self.size_bytes = self.size_bytes.saturating_add(other.size_bytes);
        self.rss_bytes = self.rss_bytes.saturating_add(other.rss_bytes);
        self.pss_bytes = self.pss_bytes.saturating_add(other.pss_bytes);
        self.shared_clean_bytes = self
            .shared_clean_bytes
            .saturating_add(other.shared_clean_bytes);
        self.shared_dirty_bytes = self
            .shared_dirty_bytes
            .saturating_add(other.shared_dirty_bytes);
        self.private_clean_bytes = self
            .private_clean_bytes
            .saturating_add(other.private_clean_bytes);
        self.private_dirty_bytes = self
            .private_dirty_bytes
            .saturating_add(other.private_dirty_bytes);
        self.anonymous_bytes = self.anonymous_bytes.saturating_add(other.anonymous_bytes);
        self.anon_huge_pages_bytes = self
            .anon_huge_pages_bytes
            .saturating_add(other.anon_huge_pages_bytes);
        self.swap_bytes = self.swap_bytes.saturating_add(other.swap_bytes);
    }
}
