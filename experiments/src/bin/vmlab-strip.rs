//! strip: one program linked with full debug information and linked stripped
//! ("Notes on VM", Kristian Köhntopp, seed 000), each run to the same point.
//!
//! The measured program (`strip-debug` or `strip-stripped`, built by build.rs from
//! one object file) does a fixed piece of work and stops itself; the harness
//! snapshots it there (role `program`).

use std::io;

use clap::{Parser, ValueEnum};
use experiments::program;
use experiments::Session;

/// Which link of the program.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Variant {
    /// Linked with its full debug information (`-g3`).
    Debug,
    /// The same object linked with `-s`: no symbol table, no debug sections.
    Stripped,
}

#[derive(Debug, Parser)]
#[command(about = "a program with and without debug information; run by the vmlab harness")]
struct Args {
    /// Which link to measure.
    #[arg(long, value_enum)]
    variant: Variant,
    /// What every launcher takes from the harness.
    #[command(flatten)]
    launch: program::LaunchArgs,
}

fn main() {
    let args = Args::parse();
    if let Err(e) = run(&args) {
        eprintln!("strip: {e}");
        std::process::exit(1);
    }
}

fn run(args: &Args) -> io::Result<()> {
    let mut session = Session::connect()?;
    let name = match args.variant {
        Variant::Debug => "strip-debug",
        Variant::Stripped => "strip-stripped",
    };
    let path = program::prepare(&mut session, name, args.launch.no_aslr)?;

    let stopped = program::start(&path, &[])?;
    session.checkpoint_with("after-work", &[("program", stopped.pid())])?;
    drop(stopped);
    session.done()
}
