//! The table model shared by the terminal and Markdown renderers: which rows and
//! columns each view has, as display strings. Renderers only lay them out.

use crate::model::{ClaimRecord, ExperimentRecord, SummaryTable, VariantRecord, Verdict};
use crate::system::Environment;
use crate::units::human_bytes;

/// A table of display strings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    /// Column headers.
    pub headers: Vec<String>,
    /// Rows, each as long as `headers`.
    pub rows: Vec<Vec<String>>,
    /// Per column: right-aligned (numbers) or not.
    pub numeric: Vec<bool>,
}

impl Table {
    fn new(headers: &[(&str, bool)]) -> Table {
        Table {
            headers: headers.iter().map(|(h, _)| h.to_string()).collect(),
            numeric: headers.iter().map(|(_, n)| *n).collect(),
            rows: Vec::new(),
        }
    }
}

/// One row per checkpoint and process: totals, faults, and each declared region.
pub fn checkpoints(variant: &VariantRecord) -> Table {
    let regions: Vec<String> = variant
        .checkpoints
        .iter()
        .flat_map(|c| {
            c.processes
                .iter()
                .flat_map(|p| p.regions.iter().map(|r| r.name.clone()))
        })
        .fold(Vec::new(), |mut names, name| {
            if !names.contains(&name) {
                names.push(name);
            }
            names
        });
    let mut headers: Vec<(String, bool)> = vec![
        ("checkpoint".into(), false),
        ("process".into(), false),
        ("VmSize".into(), true),
        ("VmRSS".into(), true),
        ("Pss".into(), true),
        ("USS".into(), true),
        ("PTE".into(), true),
        ("minor flt".into(), true),
        ("major flt".into(), true),
    ];
    for r in &regions {
        headers.push((format!("{r} Size"), true));
        headers.push((format!("{r} Rss"), true));
        headers.push((format!("{r} Pss"), true));
        headers.push((format!("{r} Priv_Dirty"), true));
    }
    let mut table = Table {
        headers: headers.iter().map(|(h, _)| h.clone()).collect(),
        numeric: headers.iter().map(|(_, n)| *n).collect(),
        rows: Vec::new(),
    };
    for checkpoint in &variant.checkpoints {
        for p in &checkpoint.processes {
            let t = &p.totals;
            let mut row = vec![
                checkpoint.label.clone(),
                p.who(),
                human_bytes(t.vm_size_bytes),
                human_bytes(t.rss_bytes),
                human_bytes(t.pss_bytes),
                human_bytes(t.uss_bytes),
                human_bytes(t.pte_bytes),
                p.faults.minor.to_string(),
                p.faults.major.to_string(),
            ];
            for name in &regions {
                match p.region(name) {
                    Some(r) => {
                        row.push(human_bytes(r.figures.size_bytes));
                        row.push(human_bytes(r.figures.rss_bytes));
                        row.push(human_bytes(r.figures.pss_bytes));
                        row.push(human_bytes(r.figures.private_dirty_bytes));
                    }
                    None => row.extend(["-", "-", "-", "-"].map(String::from)),
                }
            }
            table.rows.push(row);
        }
    }
    table
}

/// Each phase's page faults (of the first process) beside the machine-wide
/// /proc/vmstat counters' change over the same phase: a fallback from huge
/// pages (`thp_fault_fallback`, `compact_stall`) or a read from storage
/// (`pgmajfault`, `workingset_refault_file`) shows here. `None` when the run
/// recorded no vmstat (older versions).
pub fn vmstat_phases(variant: &VariantRecord) -> Option<Table> {
    let counters: Vec<_> = variant
        .checkpoints
        .iter()
        .map(|c| c.system.as_ref().and_then(|s| s.vmstat))
        .collect();
    if counters.iter().all(Option::is_none) {
        return None;
    }
    let names = crate::model::VmstatCounters::default().fields();
    let mut headers: Vec<(&str, bool)> = vec![
        ("phase to", false),
        ("minor flt", true),
        ("major flt", true),
    ];
    headers.extend(names.iter().map(|(n, _)| (*n, true)));
    let mut table = Table::new(&headers);
    for (i, c) in variant.checkpoints.iter().enumerate().skip(1) {
        let faults = c.processes.first().map(|p| p.faults).unwrap_or_default();
        let mut row = vec![
            c.label.clone(),
            faults.minor.to_string(),
            faults.major.to_string(),
        ];
        match (counters[i - 1], counters[i]) {
            (Some(a), Some(b)) => row.extend(b.fields().iter().zip(a.fields()).map(
                |((_, now), (_, then))| match (now, then) {
                    (Some(x), Some(y)) => format!("{:+}", *x as i128 - y as i128),
                    _ => "-".into(),
                },
            )),
            _ => row.extend(names.iter().map(|_| "-".to_string())),
        }
        table.rows.push(row);
    }
    Some(table)
}

/// An experiment's summary table; columns whose cells all start with a digit
/// (or are `-`) are right-aligned.
pub fn summary(summary: &SummaryTable) -> Table {
    let numeric = (0..summary.headers.len())
        .map(|i| {
            summary.rows.iter().all(|r| {
                r.get(i).is_some_and(|c| {
                    c == "-"
                        || c.starts_with(|ch: char| ch.is_ascii_digit() || ch == '+' || ch == '-')
                })
            }) && !summary.rows.is_empty()
        })
        .collect();
    Table {
        headers: summary.headers.clone(),
        rows: summary
            .rows
            .iter()
            .map(|r| {
                let mut r = r.clone();
                r.resize(summary.headers.len(), String::new());
                r
            })
            .collect(),
        numeric,
    }
}

/// One row per claim: the verdict next to its criterion and what was measured.
pub fn claims(claims: &[ClaimRecord]) -> Table {
    let mut table = Table::new(&[
        ("verdict", false),
        ("variant", false),
        ("claim", false),
        ("criterion", false),
        ("measured", false),
        ("evidence", false),
        ("source", false),
    ]);
    for c in claims {
        table.rows.push(vec![
            super::summary::verdict_cell(c),
            c.variant.clone().unwrap_or_default(),
            c.statement.clone(),
            c.criterion.clone(),
            c.measured.clone(),
            c.evidence.clone(),
            crate::explain::cite(&c.source),
        ]);
    }
    table
}

/// The parameters of an experiment.
pub fn params(experiment: &ExperimentRecord) -> Table {
    let mut table = Table::new(&[("parameter", false), ("value", true)]);
    for (k, v) in &experiment.params {
        table.rows.push(vec![k.clone(), v.to_string()]);
    }
    table
}

/// The machine.
pub fn environment(env: &Environment) -> Table {
    let mut table = Table::new(&[("", false), ("", false)]);
    let opt = |v: Option<u64>| v.map_or_else(|| "not readable".to_string(), |v| v.to_string());
    let rows: Vec<(&str, String)> = vec![
        ("kernel", env.kernel.clone()),
        (
            "machine",
            format!(
                "{} × {} ({}){}",
                env.cpu_count,
                env.cpu_model,
                env.arch,
                if env.virtual_machine {
                    ", virtual machine"
                } else {
                    ""
                }
            ),
        ),
        (
            "memory",
            format!(
                "{} RAM, {} swap",
                human_bytes(env.mem_total_bytes),
                human_bytes(env.swap_total_bytes)
            ),
        ),
        ("page size", format!("{} bytes", env.page_size)),
        (
            "THP enabled / defrag",
            format!("{} / {}", env.thp_enabled, env.thp_defrag),
        ),
        (
            "vm.overcommit_memory",
            env.overcommit_memory.map_or("?".into(), |v| v.to_string()),
        ),
        ("fault_around_bytes", opt(env.fault_around_bytes)),
        (
            "randomize_va_space",
            env.randomize_va_space.map_or("?".into(), |v| v.to_string()),
        ),
        (
            "temp dir",
            format!(
                "{} ({}, {} free, read_ahead_kb {})",
                env.temp_dir.display(),
                env.temp_dir_fs,
                human_bytes(env.temp_dir_free_bytes),
                opt(env.temp_dir_read_ahead_kb)
            ),
        ),
        (
            "cgroup memory.max",
            env.cgroup_memory_max_bytes
                .map_or("none".into(), human_bytes),
        ),
        (
            "pid_max / nproc",
            // Short, so that the row fits 80 columns: kernel.pid_max, the
            // RLIMIT_NPROC soft limit and the cgroup's pids.max.
            format!(
                "{} / {} / cgroup pids.max {}",
                opt(env.pid_max),
                env.rlimit_nproc
                    .map_or("unlimited".into(), |v| v.to_string()),
                env.cgroup_pids_max.map_or("none".into(), |v| v.to_string()),
            ),
        ),
        ("root", env.is_root.to_string()),
        ("glibc", env.glibc_version.clone()),
    ];
    for (k, v) in rows {
        table.rows.push(vec![k.to_string(), v]);
    }
    if let Some(guest) = &env.guest {
        table.rows.push(vec![
            "matrix guest".to_string(),
            format!(
                "{} under QEMU ({}), {} memory, transparent_hugepage={}",
                guest.kernel_spec,
                guest.accelerator,
                human_bytes(guest.memory_bytes),
                guest.thp_cmdline
            ),
        ]);
    }
    table
}

/// The word a verdict is shown as: its `Display`, the one vocabulary (kept as a
/// function for the tables that map over verdicts).
pub fn verdict_word(v: Verdict) -> String {
    v.to_string()
}

/// The null-phase noise of a variant in one line.
pub fn noise_line(variant: &VariantRecord) -> String {
    if variant.noise_floor.is_empty() {
        return "noise floor: not measured".into();
    }
    let parts: Vec<String> = variant
        .noise_floor
        .iter()
        .map(|n| {
            format!(
                "{} minor / {} major faults, {:+} bytes RSS",
                n.minor_faults, n.major_faults, n.rss_delta_bytes
            )
        })
        .collect();
    format!(
        "noise floor (two snapshots, nothing between): {}",
        parts.join("; ")
    )
}
