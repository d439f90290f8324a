//! many-processes: "ten thousand small processes" (D. J. Bernstein and Jeff
//! Roberson, freebsd-performance mailing list, 2003, seed 004). Bernstein's static
//! program made five small mallocs and had 44 KB of RSS; Roberson answered that
//! even small programs need page tables, that text, data and bss need separate
//! pages, and that most of the virtual size is a stack reservation. Here N such
//! processes run at once, and the harness measures each of them and the kernel's
//! own counters, to find what one more process really costs.
//!
//! `claims` states and judges the claims, `summary` makes the tables, and
//! this module plans the run and quotes the answers' figures.

mod claims;
mod summary;

use std::collections::BTreeMap;

use experiments::catalog::many_processes::{checkpoint, variant, Args, INFO};
use experiments::ExperimentInfo;
use serde_json::json;

use super::kit::{self, AnswerFigure, Facts};
use super::{human_bytes, room, Claim, Experiment, Lesson, Plan, PlanContext, PlannedVariant};
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
        check_limits(count, ctx.env)?;
        let workers = format!("{count} workers");
        room::check_half_of_room(
            ctx.env,
            count * WORKER_BOUND_BYTES,
            &workers,
            "use a smaller --count",
        )?;
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

    fn explanation(&self) -> &'static Lesson {
        crate::explanation!()
    }

    fn claims(&self) -> &'static [Claim] {
        &claims::CLAIMS
    }

    fn declared(&self) -> &'static [super::declared::Declared] {
        &claims::DECLARED
    }

    /// The worker measured (the seed's static C program, or the harness's own
    /// Rust worker where no C compiler built it) is the setup, not a measurement.
    fn setup_notes(&self) -> &'static [&'static str] {
        const SETUP: &[&str] = &[experiments::catalog::many_processes::note::WORKER_KIND.key()];
        SETUP
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
/// pid_max and the cgroup's pids.max, as the environment recorded them.
fn check_limits(count: u64, env: &Environment) -> Result<(), String> {
    let running = env.processes_running.unwrap_or(0);
    if let Some(pid_max) = env.pid_max {
        if running + count + 64 > pid_max {
            return Err(format!(
                "{count} more processes do not fit under kernel.pid_max {pid_max} with {running} running; use a smaller --count"
            ));
        }
    }
    if let (false, Some(limit)) = (env.is_root, env.rlimit_nproc) {
        // RLIMIT_NPROC counts every process of this user; the running count is an upper bound.
        if count + running > limit {
            return Err(format!(
                "RLIMIT_NPROC is {limit} and up to {running} processes already run; {count} more may not start. Raise `ulimit -u` or use a smaller --count"
            ));
        }
    }
    if let (Some(max), Some(current)) = (env.cgroup_pids_max, env.cgroup_pids_current) {
        if current + count + 8 > max {
            return Err(format!(
                "the cgroup allows {max} processes (pids.max) and {current} exist; {count} more do not fit. Use a smaller --count"
            ));
        }
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiment::testkit;

    /// A machine with room for anything: no limits, nothing else running.
    fn unlimited() -> Environment {
        Environment {
            pid_max: Some(4_194_304),
            rlimit_nproc: None,
            cgroup_pids_max: None,
            cgroup_pids_current: Some(10),
            processes_running: Some(100),
            is_root: false,
            ..testkit::env()
        }
    }

    #[test]
    fn a_count_within_every_limit_passes() {
        assert_eq!(check_limits(MAX_COUNT, &unlimited()), Ok(()));
        let tight = Environment {
            pid_max: Some(100 + 1000 + 64),
            rlimit_nproc: Some(100 + 1000),
            cgroup_pids_max: Some(10 + 1000 + 8),
            ..unlimited()
        };
        assert_eq!(check_limits(1000, &tight), Ok(()));
    }

    #[test]
    fn a_count_beyond_pid_max_is_refused() {
        let env = Environment {
            pid_max: Some(1000),
            ..unlimited()
        };
        let reason = check_limits(900, &env).unwrap_err();
        assert_eq!(
            reason,
            "900 more processes do not fit under kernel.pid_max 1000 with 100 running; use a smaller --count"
        );
    }

    #[test]
    fn a_count_beyond_rlimit_nproc_is_refused_unless_root() {
        let env = Environment {
            rlimit_nproc: Some(500),
            ..unlimited()
        };
        let reason = check_limits(401, &env).unwrap_err();
        assert!(
            reason.starts_with("RLIMIT_NPROC is 500 and up to 100 processes already run; 401 more"),
            "{reason}"
        );
        assert_eq!(check_limits(400, &env), Ok(()));
        let root = Environment {
            is_root: true,
            ..env
        };
        assert_eq!(check_limits(401, &root), Ok(()));
    }

    #[test]
    fn a_count_beyond_the_cgroup_pids_max_is_refused() {
        let env = Environment {
            cgroup_pids_max: Some(200),
            cgroup_pids_current: Some(50),
            ..unlimited()
        };
        let reason = check_limits(143, &env).unwrap_err();
        assert_eq!(
            reason,
            "the cgroup allows 200 processes (pids.max) and 50 exist; 143 more do not fit. Use a smaller --count"
        );
        assert_eq!(check_limits(142, &env), Ok(()));
    }

    #[test]
    fn unknown_figures_refuse_nothing() {
        let env = Environment {
            pid_max: None,
            rlimit_nproc: None,
            cgroup_pids_max: Some(5),
            cgroup_pids_current: None,
            processes_running: None,
            ..unlimited()
        };
        assert_eq!(check_limits(MAX_COUNT, &env), Ok(()));
    }
}
