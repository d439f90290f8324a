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

use clap::{Parser, ValueEnum};
use experiments::program::{self, KernelCounters, Stopped};
use experiments::Session;

/// How the instances come to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Mode {
    /// One program forks the others after its start-up.
    Prefork,
    /// Every instance is its own exec of the program.
    Exec,
}

/// How the program is linked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Linking {
    /// Statically.
    Static,
    /// Dynamically.
    Dynamic,
}

/// The most instances one checkpoint may hold (its protocol line must fit the
/// line buffer).
const MAX_INSTANCES: usize = 32;

#[derive(Debug, Parser)]
#[command(about = "N instances of a static or dynamic server; run by the vmlab harness")]
struct Args {
    /// How the program is linked.
    #[arg(long, value_enum)]
    linking: Linking,
    /// How the instances are started.
    #[arg(long, value_enum)]
    mode: Mode,
    /// Instance counts, one checkpoint each, e.g. 1,8,32.
    #[arg(long, value_delimiter = ',', required = true)]
    counts: Vec<usize>,
    /// What every launcher takes from the harness.
    #[command(flatten)]
    launch: program::LaunchArgs,
}

fn main() {
    let args = Args::parse();
    if let Err(e) = run(&args) {
        eprintln!("static-dynamic: {e}");
        std::process::exit(1);
    }
}

fn run(args: &Args) -> io::Result<()> {
    let mut session = Session::connect()?;
    if let Some(bad) = args.counts.iter().find(|&&n| n == 0 || n > MAX_INSTANCES) {
        session.skip(format_args!(
            "instance count {bad} is outside 1..={MAX_INSTANCES}"
        ));
    }
    let name = match args.linking {
        Linking::Static => "server-static",
        Linking::Dynamic => "server-dynamic",
    };
    let path = program::prepare(&mut session, name, args.launch.no_aslr)?;
    // Role names prepared before anything is measured.
    let roles: Vec<String> = (0..MAX_INSTANCES)
        .map(|i| format!("instance-{i}"))
        .collect();

    for &n in &args.counts {
        let before = KernelCounters::read()?;
        let instances = start(&path, args.mode, n)?;
        let after = KernelCounters::read()?;
        let label = format!("n-{n}");
        session.note(&format!("{label}-kernel-delta"), after.since(&before))?;
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
