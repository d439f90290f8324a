//! many-processes: "ten thousand small processes" (D. J. Bernstein and Jeff
//! Roberson, freebsd-performance mailing list, 2003, seed 004). Bernstein's static
//! program made five small mallocs and had 44 KB of RSS; Roberson answered that
//! even small programs need page tables, that text, data and bss need separate
//! pages, and that most of the virtual size is a stack reservation. Here N such
//! processes run at once, and the harness measures each of them and the kernel's
//! own counters, to find what one more process really costs.
//!
//! [`claims`] states and judges the claims, [`summary`] makes the tables, and
//! this module plans the run and quotes the answers' figures.

mod claims;
mod summary;

use std::collections::BTreeMap;
use std::path::Path;

use experiments::catalog::many_processes::{checkpoint, variant, Args, INFO};
use experiments::ExperimentInfo;
use serde_json::json;

use super::kit::{self, AnswerFigure, Facts};
use super::{human_bytes, Claim, Experiment, Explanation, Plan, PlanContext, PlannedVariant};
use crate::model::{ClaimRecord, ExperimentRecord, PopulationRecord, SummaryTable};
use crate::system::Environment;

/// The experiment.
pub struct ManyProcesses;

/// The registry's handle on it.
pub static EXPERIMENT: ManyProcesses = ManyProcesses;

const FULL_COUNT: u64 = 1000;
const QUICK_COUNT: u64 = 100;
const MAX_COUNT: u64 = 10_000;
/// A worker takes well under this (its private pages, page tables, kernel stack
/// and slab); counts that could squeeze the machine are refused.
const WORKER_BOUND_BYTES: u64 = 256 << 10;

impl Experiment for ManyProcesses {
    fn info(&self) -> &'static ExperimentInfo {
        &INFO
    }

    fn plan(&self, ctx: &PlanContext<'_>) -> Result<Plan, String> {
        let count = ctx
            .count
            .unwrap_or(if ctx.quick { QUICK_COUNT } else { FULL_COUNT });
        if count == 0 || count > MAX_COUNT {
            return Err(format!(
                "--count {count}: many-processes starts 1 to {MAX_COUNT} processes"
            ));
        }
        check_limits(count)?;
        let needed = count * WORKER_BOUND_BYTES;
        let available = ctx
            .env
            .memory_room_bytes()
            .unwrap_or(ctx.env.mem_total_bytes);
        if available > 0 && needed > available / 2 {
            return Err(format!(
                "{count} workers may need {} and this machine or cgroup has {}; use a smaller --count",
                human_bytes(needed),
                human_bytes(available)
            ));
        }
        let args = Args {
            count: count as usize,
            no_static_worker: false,
        };
        let mut params = BTreeMap::new();
        params.insert("count".into(), json!(count));
        Ok(Plan {
            params,
            variants: vec![PlannedVariant {
                name: variant::DEFAULT.into(),
                args: experiments::args::to_args(&args),
            }],
        })
    }

    fn explanation(&self) -> &'static Explanation {
        crate::explanation!()
    }

    fn claims(&self) -> &'static [Claim] {
        &claims::CLAIMS
    }

    fn judge(&self, record: &ExperimentRecord, env: &Environment) -> Vec<ClaimRecord> {
        kit::judge_single_variant(record, env, &claims::CASES)
    }

    fn answer_figures(&self) -> &'static [Option<AnswerFigure>] {
        &ANSWER_FIGURES
    }

    fn summary(&self, record: &ExperimentRecord, _env: &Environment) -> Vec<SummaryTable> {
        summary::tables(record)
    }
}

/// Refuses counts the process limits cannot reach: RLIMIT_NPROC (not for root),
/// pid_max and the cgroup's pids.max.
fn check_limits(count: u64) -> Result<(), String> {
    let running = std::fs::read_dir("/proc")
        .map(|d| {
            d.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
                .count() as u64
        })
        .unwrap_or(0);
    let read_number =
        |path: &str| -> Option<u64> { std::fs::read_to_string(path).ok()?.trim().parse().ok() };
    if let Some(pid_max) = read_number("/proc/sys/kernel/pid_max") {
        if running + count + 64 > pid_max {
            return Err(format!(
                "{count} more processes do not fit under kernel.pid_max {pid_max} with {running} running; use a smaller --count"
            ));
        }
    }
    if !nix::unistd::geteuid().is_root() {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit writes into the local struct.
        let ok = unsafe { libc::getrlimit(libc::RLIMIT_NPROC, &mut limit) } == 0;
        if ok && limit.rlim_cur != libc::RLIM_INFINITY {
            // RLIMIT_NPROC counts every process of this user; the running count is an upper bound.
            if count + running > limit.rlim_cur {
                return Err(format!(
                    "RLIMIT_NPROC is {} and up to {running} processes already run; {count} more may not start. Raise `ulimit -u` or use a smaller --count",
                    limit.rlim_cur
                ));
            }
        }
    }
    for (max, current) in cgroup_pids_files() {
        if let (Some(max), Some(current)) = (read_number(&max), read_number(&current)) {
            if current + count + 8 > max {
                return Err(format!(
                    "the cgroup allows {max} processes (pids.max) and {current} exist; {count} more do not fit. Use a smaller --count"
                ));
            }
        }
    }
    Ok(())
}

/// (pids.max, pids.current) paths of this process's cgroup, v2 and v1.
fn cgroup_pids_files() -> Vec<(String, String)> {
    let Ok(text) = std::fs::read_to_string("/proc/self/cgroup") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for line in text.lines() {
        let mut parts = line.splitn(3, ':');
        let (_, controllers, path) = (
            parts.next(),
            parts.next().unwrap_or(""),
            parts.next().unwrap_or(""),
        );
        let base = if controllers.is_empty() {
            format!("/sys/fs/cgroup{path}")
        } else if controllers.split(',').any(|c| c == "pids") {
            format!("/sys/fs/cgroup/pids{path}")
        } else {
            continue;
        };
        let base = base.trim_end_matches('/').to_string();
        if Path::new(&format!("{base}/pids.max")).exists() {
            out.push((format!("{base}/pids.max"), format!("{base}/pids.current")));
        }
    }
    out
}

/// The workers as the latest run found them with all of them alive.
fn workers<'a>(f: &'a Facts<'_>) -> Option<&'a PopulationRecord> {
    f.variant(variant::DEFAULT)?
        .checkpoint(checkpoint::ALL_STARTED)?
        .population
        .as_ref()
}

/// The figures the answers quote, one per question of explanation.md.
static ANSWER_FIGURES: [Option<AnswerFigure>; 4] = [
    Some(|f| {
        workers(f).filter(|p| p.count > 0).map(|p| {
            let n = p.count as u64;
            format!(
                "{} workers: Pss {} and VmPTE {} each on average",
                p.count,
                human_bytes(p.sum.pss_bytes / n),
                human_bytes(p.sum.pte_bytes / n)
            )
        })
    }),
    Some(|f| {
        workers(f).map(|p| {
            format!(
                "Σ Rss {}, Σ Pss {}",
                human_bytes(p.sum.rss_bytes),
                human_bytes(p.sum.pss_bytes)
            )
        })
    }),
    None,
    Some(|f| {
        let c = f
            .variant(variant::DEFAULT)?
            .checkpoint(checkpoint::ALL_STARTED)?;
        let pss: u64 = c.processes.iter().map(|p| p.totals.pss_bytes).sum();
        Some(format!(
            "Σ Pss of the {} processes snapshotted in full: {}",
            c.processes.len(),
            human_bytes(pss)
        ))
    }),
];
