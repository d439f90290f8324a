//! strip: one program linked with full debug information and linked stripped
//! ("Notes on VM", Kristian Köhntopp, seed 000), each run to the same point.
//!
//! The measured program (`strip-debug` or `strip-stripped`, built by build.rs from
//! one object file) does a fixed piece of work and stops itself; the harness
//! snapshots it there (role `program`). It runs from a private copy in the run's
//! temporary folder, which is dropped from the page cache before the exec, and which of its pages are cached is noted before the exec
//! and at the stop, so that what exec's read-ahead brought in can be told from
//! what the program mapped.

use std::fs::File;
use std::io;
use std::path::Path;

use experiments::catalog::strip::{checkpoint, note, role, Args};
use experiments::pages::{cached_page_ranges, drop_from_page_cache, page_size};
use experiments::program;
use experiments::Checkpoints;

fn main() {
    experiments::prelude::main::<Args>(
        "strip",
        "a program with and without debug information",
        |start| run(&start.args, &start.dir, start.checkpoints),
    )
}

fn run(args: &Args, dir: &Path, mut session: Checkpoints) -> io::Result<()> {
    // A private copy: another run on the machine dropping or reading the shared
    // built file would otherwise change what this run finds cached.
    let path = program::prepare_private_copy(
        &mut session,
        args.variant.program(),
        args.launch.no_aslr,
        dir,
    )?;

    let file = File::open(&path)?;
    let len = usize::try_from(file.metadata()?.len()).map_err(io::Error::other)?;
    file.sync_all()?;
    drop_from_page_cache(&file)?;
    session.note(note::FILE_PAGES, len.div_ceil(page_size()) as u64)?;
    session.note(note::CACHED_BEFORE_EXEC, cached_page_ranges(&file, len)?)?;

    let stopped = program::start(&path, &[])?;
    session.note(note::CACHED_AFTER_WORK, cached_page_ranges(&file, len)?)?;
    session.checkpoint_with(checkpoint::AFTER_WORK, &[(role::PROGRAM, stopped.pid())])?;
    drop(stopped);
    session.done()
}
