//! tiny-malloc: the five small mallocs of "ten thousand small processes" (D. J.
//! Bernstein and Jeff Roberson, freebsd-performance, 2003), in four builds.
//!
//! The measured program is not this binary but one of the programs build.rs made
//! (`tiny-malloc-static`, `-dynamic`, `-minimal`, `-std`). It stops itself once
//! start-up is over and once after the mallocs; at each stop the harness
//! snapshots it (role `program`).

use std::io;

use experiments::catalog::tiny_malloc::{
    checkpoint, note, role, Args, Variant, MANY_SMALL_BYTES, MANY_SMALL_COUNT,
};
use experiments::program;
use experiments::Checkpoints;

/// The stack limit the seed's program was started with: 4K.
const STACK_LIMIT_BYTES: u64 = 4096;

/// Runs `start` with this process's soft stack limit lowered to `bytes`, so that
/// a program it execs starts with that limit, and restores the limit after.
/// Returns what `start` returned and the limit that was in force.
fn with_stack_limit<T>(bytes: u64, start: impl FnOnce() -> io::Result<T>) -> io::Result<(T, u64)> {
    let mut saved = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the local struct.
    if unsafe { libc::getrlimit(libc::RLIMIT_STACK, &mut saved) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let lowered = libc::rlimit {
        rlim_cur: bytes.min(saved.rlim_max),
        rlim_max: saved.rlim_max,
    };
    // SAFETY: setrlimit reads the local struct; lowering the soft limit is always allowed.
    if unsafe { libc::setrlimit(libc::RLIMIT_STACK, &lowered) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let result = start();
    // SAFETY: as above; the soft limit goes back to its saved value, within the unchanged hard limit.
    let restored = unsafe { libc::setrlimit(libc::RLIMIT_STACK, &saved) } == 0;
    let started = result?;
    if !restored {
        return Err(io::Error::last_os_error());
    }
    Ok((started, lowered.rlim_cur))
}

fn main() {
    experiments::prelude::main::<Args>(
        "tiny-malloc",
        "five small mallocs in one build of a tiny program",
        |start| run(&start.args, start.checkpoints),
    )
}

/// The builds with no C library, whose every page is counted.
fn is_libc_free(variant: Variant) -> bool {
    matches!(
        variant,
        Variant::Minimal | Variant::MinimalStack4k | Variant::MinimalBss | Variant::MinimalRwx
    )
}

fn run(args: &Args, mut session: Checkpoints) -> io::Result<()> {
    // With randomisation on, exec leaves a random gap of up to 8 KiB between
    // the strings it copies to the stack top and the argument pointers and
    // auxiliary vector below them, so the few pages a libc-free build's stack
    // uses are one, two or three by chance. Those builds are there to be counted
    // in pages (and, under a 4 KiB stack limit, must find everything in one page
    // or die of SIGSEGV), so they run with randomisation off: the block is then
    // contiguous at the stack top and placed the same way in every run.
    let no_aslr = args.launch.no_aslr || is_libc_free(args.variant);
    let path = program::prepare(&mut session, args.variant.program(), no_aslr)?;

    let stopped = if args.variant == Variant::MinimalStack4k {
        let limit = with_stack_limit(STACK_LIMIT_BYTES, || program::start(&path, &[]));
        let (stopped, in_force) = limit?;
        session.note(note::STACK_LIMIT_BYTES, in_force)?;
        stopped
    } else if args.variant == Variant::ManySmall {
        let (count, bytes) = (MANY_SMALL_COUNT.to_string(), MANY_SMALL_BYTES.to_string());
        program::start(&path, &[&count, &bytes])?
    } else {
        program::start(&path, &[])?
    };
    let me = [(role::PROGRAM, stopped.pid())];
    session.checkpoint_with(checkpoint::BEFORE_MALLOCS, &me)?;
    stopped.resume_until_stopped()?;
    session.checkpoint_with(checkpoint::AFTER_MALLOCS, &me)?;
    drop(stopped);
    session.done()
}
