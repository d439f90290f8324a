//! tiny-malloc: the five small mallocs of "ten thousand small processes" (D. J.
//! Bernstein and Jeff Roberson, freebsd-performance, 2003), in four builds.
//!
//! The measured program is not this binary but one of the programs build.rs made
//! (`tiny-malloc-static`, `-dynamic`, `-minimal`, `-std`). It stops itself once
//! start-up is over and once after the mallocs; at each stop the harness
//! snapshots it (role `program`).

use std::io;

use clap::{Parser, ValueEnum};
use experiments::program;
use experiments::Session;

/// How the measured program was built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Variant {
    /// C, statically linked against the system C library.
    Static,
    /// C, dynamically linked.
    Dynamic,
    /// C with no C library: its own start-up, a bump allocator over brk.
    Minimal,
    /// Ordinary Rust with the standard library.
    Std,
}

#[derive(Debug, Parser)]
#[command(about = "five small mallocs in one build of a tiny program; run by the vmlab harness")]
struct Args {
    /// Which build to measure.
    #[arg(long, value_enum)]
    variant: Variant,
    /// What every launcher takes from the harness.
    #[command(flatten)]
    launch: program::LaunchArgs,
}

fn main() {
    let args = Args::parse();
    if let Err(e) = run(&args) {
        eprintln!("tiny-malloc: {e}");
        std::process::exit(1);
    }
}

fn run(args: &Args) -> io::Result<()> {
    let mut session = Session::connect()?;
    let name = match args.variant {
        Variant::Static => "tiny-malloc-static",
        Variant::Dynamic => "tiny-malloc-dynamic",
        Variant::Minimal => "tiny-malloc-minimal",
        Variant::Std => "tiny-malloc-std",
    };
    let path = program::prepare(&mut session, name, args.launch.no_aslr)?;

    let stopped = program::start(&path, &[])?;
    let me = [("program", stopped.pid())];
    session.checkpoint_with("before-mallocs", &me)?;
    stopped.resume_until_stopped()?;
    session.checkpoint_with("after-mallocs", &me)?;
    drop(stopped);
    session.done()
}
