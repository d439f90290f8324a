//! many-processes: "ten thousand small processes" (D. J. Bernstein and Jeff
//! Roberson, freebsd-performance, 2003, seed 004). A static program that makes
//! five small mallocs and sleeps had 44 KB of RSS and 168 KB of VSZ on FreeBSD
//! 4.8; the reply lists where a process's pages go (page tables, the stack
//! reservation, separate text, data and bss pages).
//!
//! The experiment starts N such processes and parks them, so the harness can
//! measure each one and the system's counters before, with all of them alive,
//! and after they exited. The worker is the seed's program in C, built static
//! before the first checkpoint when a C compiler and a static libc are at hand;
//! otherwise this executable re-runs itself in worker mode (dynamic, and larger),
//! and says so in a note.

use std::ffi::OsString;
use std::io;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use experiments::catalog::many_processes::{checkpoint, note, role, Args, STATIC_C_WORKER};
use experiments::Checkpoints;

/// The worker's descriptors: it blocks reading `RELEASE_FD` until end of file and
/// writes one byte to `READY_FD` once its mallocs are done.
const RELEASE_FD: libc::c_int = 3;
const READY_FD: libc::c_int = 4;

/// The first argument that makes this executable the worker (the fallback when
/// the C worker cannot be built).
const WORKER_MODE: &str = "--worker";

/// The seed's test program, with the sleep replaced by a wait on a pipe so that the
/// experiment decides when it ends.
const WORKER_C: &str = r#"
#include <stdlib.h>
#include <unistd.h>
int main(void) {
    volatile char *p[5];
    char c = 1;
    p[0] = malloc(360); p[1] = malloc(80); p[2] = malloc(180);
    p[3] = malloc(16); p[4] = malloc(440);
    if (write(4, &c, 1) != 1) _exit(1);
    while (read(3, &c, 1) > 0) {}
    _exit(p[0] && p[1] && p[2] && p[3] && p[4] ? 0 : 2);
}
"#;

fn main() {
    // Worker mode: the seed's five mallocs, then wait; no argument parsing.
    if std::env::args_os().nth(1).as_deref() == Some(std::ffi::OsStr::new(WORKER_MODE)) {
        worker();
    }
    experiments::prelude::main::<Args>(
        "many-processes",
        "start many tiny processes and park them",
        |start| run(&start.dir, &start.args, start.checkpoints),
    )
}

fn worker() -> ! {
    let sizes = [360usize, 80, 180, 16, 440];
    let mut ok = true;
    for size in sizes {
        // SAFETY: plain malloc; the blocks live until the process exits.
        ok &= !unsafe { libc::malloc(size) }.is_null();
    }
    let byte = 1u8;
    // SAFETY: raw reads and writes on the inherited descriptors, then _exit.
    unsafe {
        libc::write(READY_FD, (&byte as *const u8).cast(), 1);
        let mut buf = 0u8;
        while libc::read(RELEASE_FD, (&mut buf as *mut u8).cast(), 1) > 0 {}
        libc::_exit(if ok { 0 } else { 2 })
    }
}

/// Builds the C worker statically in `dir`; `None` if there is no C compiler or
/// no static libc.
fn build_static_worker(dir: &Path) -> Option<PathBuf> {
    let source = dir.join("tiny-worker.c");
    let binary = dir.join("tiny-worker");
    std::fs::write(&source, WORKER_C).ok()?;
    // The compiler's own temporary files go into the experiment's folder too, so
    // that an interrupted build leaves nothing behind when the folder is removed.
    let status = Command::new("cc")
        .env("TMPDIR", dir)
        .args(["-static", "-O2", "-o"])
        .arg(&binary)
        .arg(&source)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .ok()?;
    status.success().then_some(binary)
}

/// A close-on-exec pipe whose descriptors are above the workers' fixed ones, so
/// that moving them into place in a worker never overwrites one with the other.
fn pipe() -> io::Result<[libc::c_int; 2]> {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    for fd in &mut fds {
        // SAFETY: duplicating and closing descriptors this process owns.
        let high = unsafe { libc::fcntl(*fd, libc::F_DUPFD_CLOEXEC, 10) };
        if high < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: as above.
        unsafe { libc::close(*fd) };
        *fd = high;
    }
    Ok(fds)
}

/// The workers: the write end of their release pipe, and their handles. Dropping
/// it releases and reaps every worker, whatever happened.
struct Workers {
    release_write: libc::c_int,
    children: Vec<Child>,
}

impl Workers {
    fn release_and_reap(&mut self) {
        if self.release_write >= 0 {
            // SAFETY: closing our write end; every worker sees end of file.
            unsafe { libc::close(self.release_write) };
            self.release_write = -1;
        }
        for child in &mut self.children {
            let _ = child.wait();
        }
        self.children.clear();
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        self.release_and_reap();
    }
}

/// The program each worker runs.
struct Worker {
    program: PathBuf,
    /// Arguments it needs before any other.
    prefix_args: Vec<OsString>,
    /// What it is, for the note.
    kind: &'static str,
}

/// The seed's C program built static where a C compiler can, else this
/// executable in worker mode.
fn choose_worker(dir: &Path, args: &Args) -> io::Result<Worker> {
    let (program, prefix_args, kind) = match (!args.no_static_worker)
        .then(|| build_static_worker(dir))
        .flatten()
    {
        Some(binary) => (binary, Vec::new(), STATIC_C_WORKER),
        None => (
            std::env::current_exe()?,
            vec![WORKER_MODE.into()],
            if args.no_static_worker {
                "this executable in worker mode (dynamically linked Rust), as --no-static-worker asked"
            } else {
                "this executable in worker mode (dynamically linked Rust): no C compiler with a static libc"
            },
        ),
    };
    Ok(Worker {
        program,
        prefix_args,
        kind,
    })
}

/// The command that starts one worker with the release pipe's read end and the
/// ready pipe's write end on the descriptors it expects.
fn worker_command(
    program: &Path,
    prefix_args: &[OsString],
    release_read: libc::c_int,
    ready_write: libc::c_int,
) -> Command {
    let mut command = Command::new(program);
    command
        .args(prefix_args)
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    // SAFETY: runs in the forked child before exec; dup2, fcntl and prctl are
    // async-signal-safe. dup2 onto the same number keeps close-on-exec, so it
    // is cleared explicitly.
    unsafe {
        command.pre_exec(move || {
            for (from, to) in [(release_read, RELEASE_FD), (ready_write, READY_FD)] {
                if libc::dup2(from, to) < 0 || libc::fcntl(to, libc::F_SETFD, 0) < 0 {
                    return Err(io::Error::last_os_error());
                }
            }
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    command
}

fn run(dir: &Path, args: &Args, mut session: Checkpoints) -> io::Result<()> {
    let worker = choose_worker(dir, args)?;
    session.note(note::WORKER_KIND, worker.kind)?;
    session.note(note::WORKER_MALLOCS, "360 80 180 16 440")?;
    session.note(note::COUNT, args.count as u64)?;

    let release = pipe()?;
    let ready = pipe()?;
    let mut workers = Workers {
        release_write: release[1],
        children: Vec::with_capacity(args.count),
    };
    session.checkpoint(checkpoint::BEFORE_START)?;

    for _ in 0..args.count {
        let mut command =
            worker_command(&worker.program, &worker.prefix_args, release[0], ready[1]);
        match command.spawn() {
            Ok(child) => workers.children.push(child),
            Err(e) => {
                let started = workers.children.len();
                drop(workers);
                session.skip(format_args!(
                    "could only start {started} of {} processes: {e} (a process limit: RLIMIT_NPROC, pids.max or pid_max)",
                    args.count
                ));
            }
        }
    }
    // SAFETY: the parent neither reads the release pipe nor writes the ready pipe.
    unsafe {
        libc::close(release[0]);
        libc::close(ready[1]);
    }
    for _ in 0..args.count {
        let mut byte = 0u8;
        // SAFETY: reading one byte into a local.
        let n = unsafe { libc::read(ready[0], (&mut byte as *mut u8).cast(), 1) };
        if n != 1 {
            return Err(io::Error::other("a worker died before it was ready"));
        }
    }
    session.checkpoint_children(checkpoint::ALL_STARTED, role::WORKER)?;

    workers.release_and_reap();
    session.checkpoint_children(checkpoint::AFTER_EXIT, role::WORKER)?;
    session.done()
}
