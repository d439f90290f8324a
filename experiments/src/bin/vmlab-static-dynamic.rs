//! static-dynamic: a small server-like program built statically and dynamically
//! linked, run as N instances ("Notes on VM", Kristian Köhntopp, seed 000).
//!
//! For each N the instances are started fresh, either as one program that forks
//! N-1 children after start-up (`prefork`) or as N separately exec'd programs
//! (`exec`). When all are stopped the harness snapshots every one (roles
//! `instance-0`, `instance-1`, ...) at checkpoint `n-N`; then they are killed.
//! The kernel's own counters from /proc/meminfo, read before the instances start
//! and while they are stopped, are noted as `n-N-kernel-delta`.

use std::io;

use experiments::catalog::static_dynamic::{checkpoint, note, role, Args, Mode, MAX_INSTANCES};
use experiments::program::{self, KernelCounters, Stopped};
use experiments::Checkpoints;

fn main() {
    experiments::prelude::main::<Args>(
        "static-dynamic",
        "N instances of a static or dynamic server",
        |start| run(&start.args, start.checkpoints),
    )
}

fn run(args: &Args, mut session: Checkpoints) -> io::Result<()> {
    if let Some(bad) = args.counts.iter().find(|&&n| n == 0 || n > MAX_INSTANCES) {
        session.skip(format_args!(
            "instance count {bad} is outside 1..={MAX_INSTANCES}"
        ));
    }
    let path = program::prepare(&mut session, args.linking.program(), args.launch.no_aslr)?;
    // Role names prepared before anything is measured.
    let roles: Vec<String> = (0..MAX_INSTANCES).map(role::instance).collect();

    for &n in &args.counts {
        let before = KernelCounters::read()?;
        let instances = start(&path, args.mode, n)?;
        let after = KernelCounters::read()?;
        let label = checkpoint::n(n);
        session.note(note::kernel_delta_at(&label), after.since(&before))?;
        let processes: Vec<(&str, i32)> = roles
            .iter()
            .map(String::as_str)
            .zip(instances.iter().flat_map(|s| s.pids().iter().copied()))
            .collect();
        session.checkpoint_with(&label, &processes)?;
        drop(instances);
    }
    session.done()
}

/// Starts `n` instances and returns once all are stopped.
fn start(path: &std::path::Path, mode: Mode, n: usize) -> io::Result<Vec<Stopped>> {
    match mode {
        Mode::Prefork => {
            let count = n.to_string();
            let group = program::start_group(path, &["--prefork", &count])?;
            if group.pids().len() != n {
                return Err(io::Error::other(format!(
                    "asked for {n} instances, the program reported {}",
                    group.pids().len()
                )));
            }
            Ok(vec![group])
        }
        Mode::Exec => (0..n).map(|_| program::start(path, &[])).collect(),
    }
}
