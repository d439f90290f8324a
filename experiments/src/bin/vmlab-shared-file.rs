//! shared-file: "Some things I've learned about memory" (Evan Martin, seed 003)
//! calls PSS the fair share of memory that several processes map, and notes its
//! surprise: when one sharer exits, the others' PSS goes up, though nothing was
//! freed. Chrome maps one resource file into all its processes for this reason.
//!
//! The main process writes a file (variant `shm`: a POSIX shared-memory object,
//! Martin's first way to share pages) and maps it without touching it, then forks N
//! sharers that inherit the mapping, each reads every page of it and parks on a
//! pipe. At each checkpoint every sharer is parked (not allocating, not reading);
//! between checkpoints the main process releases one sharer, which exits, and
//! reaps it.

use std::fs::File;
use std::hint::black_box;
use std::io;
use std::path::Path;

use experiments::catalog::shared_file::{checkpoint, note, region, role, Args};
use experiments::pages::{self, page_size, Writeback};
use experiments::Checkpoints;
use memmap2::MmapOptions;

/// Longest role name: `sharer-` and up to five digits.
const ROLE_NAMES: usize = 64;

fn main() {
    experiments::prelude::main::<Args>(
        "shared-file",
        "N processes map and read one file",
        |start| run(&start.dir, &start.args, start.checkpoints),
    )
}

/// One forked sharer, parked on the read end of its own pipe.
struct Sharer {
    pid: i32,
    /// Write end of the pipe the sharer waits on; closing it lets the sharer exit.
    release_fd: libc::c_int,
    /// Whether it has been released and reaped.
    gone: bool,
}

impl Sharer {
    /// Lets the sharer exit and reaps it, so that it is gone from /proc.
    fn release(&mut self) -> io::Result<()> {
        if self.gone {
            return Ok(());
        }
        self.gone = true;
        // SAFETY: closing a descriptor this process owns; the sharer sees end of file.
        unsafe { libc::close(self.release_fd) };
        let mut status = 0;
        // SAFETY: waiting for our own child.
        if unsafe { libc::waitpid(self.pid, &mut status, 0) } < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

impl Drop for Sharer {
    fn drop(&mut self) {
        let _ = self.release();
    }
}

fn pipe() -> io::Result<[libc::c_int; 2]> {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(fds)
}

fn run(dir: &Path, args: &Args, mut session: Checkpoints) -> io::Result<()> {
    if args.sharers < 3 || args.sharers > 1000 {
        session.skip(format_args!(
            "--sharers {} must be between 3 and 1000 (two of them exit)",
            args.sharers
        ));
    }
    let page = page_size();
    let path = dir.join("shared");
    let file = create_file(&path, args, &mut session)?;
    let len = args.file_bytes as usize;
    // SAFETY: the file lives in the harness's private temp folder; nobody truncates it.
    let map = unsafe { MmapOptions::new().len(len).map(&file)? };
    session.region(region::FILE, map.as_ptr(), len)?;
    session.note(note::FILE_PAGES, len.div_ceil(page) as u64)?;

    let mut sharers = start_sharers(args.sharers, map.as_ptr(), len, page)?;

    // Role names, formatted now so that nothing allocates between checkpoints.
    let roles: Vec<String> = (1..=args.sharers).map(role::sharer).collect();
    debug_assert!(roles.iter().all(|r| r.len() < ROLE_NAMES));
    let mut procs: Vec<(&str, i32)> = Vec::with_capacity(args.sharers + 1);
    let cached = |file: &File| pages::resident_pages(file, len).map(|n| n as u64);

    session.note(note::PAGE_CACHE_PAGES_ALL_READING, cached(&file)?)?;
    fill(&mut procs, session.pid(), &roles, &sharers);
    session.checkpoint_with(checkpoint::ALL_READING, &procs)?;

    sharers[args.sharers - 1].release()?;
    session.note(note::PAGE_CACHE_PAGES_AFTER_ONE_EXITS, cached(&file)?)?;
    fill(&mut procs, session.pid(), &roles, &sharers);
    session.checkpoint_with(checkpoint::AFTER_ONE_EXITS, &procs)?;

    sharers[args.sharers - 2].release()?;
    session.note(note::PAGE_CACHE_PAGES_AFTER_TWO_EXIT, cached(&file)?)?;
    fill(&mut procs, session.pid(), &roles, &sharers);
    session.checkpoint_with(checkpoint::AFTER_TWO_EXIT, &procs)?;

    for s in &mut sharers {
        s.release()?;
    }
    drop(map);
    drop(file);
    if !args.shm {
        std::fs::remove_file(&path)?;
    }
    session.done()
}

/// The file the sharers map, written in full and flushed: a POSIX shared-memory
/// object with `--shm` (skipped where there is none), else a new file at `path`.
fn create_file(path: &Path, args: &Args, session: &mut Checkpoints) -> io::Result<File> {
    let mut file = if args.shm {
        match shared_memory_object() {
            Ok(file) => file,
            // No POSIX shared memory here (no /dev/shm in a container):
            // the environment's doing, so the variant is skipped with it.
            Err(e) => session.skip(format_args!("shm_open failed: {e}; is /dev/shm mounted?")),
        }
    } else {
        File::options()
            .read(true)
            .write(true)
            .create_new(true)
            .open(path)?
    };
    let total = args.file_bytes;
    pages::write_random_file(&mut file, total, 1 << 20, Writeback::Default, |done| {
        session.progress(done, total, "writing the shared file")
    })?;
    file.sync_all()?;
    Ok(file)
}

/// Forks `count` sharers that each read all `len` bytes from `map` and park;
/// returns once every one has read the whole file.
fn start_sharers(count: usize, map: *const u8, len: usize, page: usize) -> io::Result<Vec<Sharer>> {
    // The ready pipe: each sharer writes one byte once it has read the whole file.
    let ready = pipe()?;
    let mut sharers: Vec<Sharer> = Vec::with_capacity(count);
    for _ in 0..count {
        let release = pipe()?;
        // SAFETY: this process is single-threaded; the child only reads the mapping
        // and calls async-signal-safe functions (read, write, _exit).
        let parent = std::process::id() as libc::pid_t;
        let pid = unsafe { libc::fork() };
        if pid < 0 {
            return Err(io::Error::last_os_error());
        }
        if pid == 0 {
            experiments::die_with_parent(parent);
            // Only the parent may hold write ends of release pipes, or a sharer
            // would never see end of file on its own.
            // SAFETY: closing inherited descriptors in the child.
            unsafe {
                libc::close(release[1]);
                libc::close(ready[0]);
                for earlier in &sharers {
                    libc::close(earlier.release_fd);
                }
            }
            sharer(map, len, page, ready[1], release[0]);
        }
        // SAFETY: the parent keeps only the write end of the release pipe.
        unsafe { libc::close(release[0]) };
        sharers.push(Sharer {
            pid,
            release_fd: release[1],
            gone: false,
        });
    }
    // SAFETY: the parent does not write to the ready pipe.
    unsafe { libc::close(ready[1]) };
    for _ in 0..count {
        let mut byte = 0u8;
        // SAFETY: reading one byte into a local.
        let n = unsafe { libc::read(ready[0], (&mut byte as *mut u8).cast(), 1) };
        if n != 1 {
            return Err(io::Error::other(
                "a sharer died before it had read the file",
            ));
        }
    }

    Ok(sharers)
}

/// A new POSIX shared-memory object, open for reading and writing, its name
/// already removed (shm_unlink): it lives as long as a descriptor or a mapping
/// of it does, so nothing is left in /dev/shm whatever happens to the run.
fn shared_memory_object() -> io::Result<File> {
    use std::os::fd::FromRawFd;
    let name = std::ffi::CString::new(format!("/vmlab-shared-file-{}", std::process::id()))
        .map_err(io::Error::other)?;
    // SAFETY: a valid NUL-terminated name; the flags create a new object or fail.
    let fd = unsafe {
        libc::shm_open(
            name.as_ptr(),
            libc::O_RDWR | libc::O_CREAT | libc::O_EXCL | libc::O_CLOEXEC,
            0o600,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` was just opened here and nothing else owns it.
    let file = unsafe { File::from_raw_fd(fd) };
    // SAFETY: the same valid name; the open descriptor keeps the object alive.
    if unsafe { libc::shm_unlink(name.as_ptr()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(file)
}

/// The processes to snapshot: main, then every sharer still alive.
fn fill<'a>(procs: &mut Vec<(&'a str, i32)>, main: i32, roles: &'a [String], sharers: &[Sharer]) {
    procs.clear();
    procs.push((role::MAIN, main));
    for (role, s) in roles.iter().zip(sharers) {
        if !s.gone {
            procs.push((role.as_str(), s.pid));
        }
    }
}

/// The sharer's life: read one byte of every page, say so, wait for the release
/// (end of file on its pipe), exit. Never returns.
fn sharer(base: *const u8, len: usize, page: usize, ready: libc::c_int, release: libc::c_int) -> ! {
    let mut sum = 0u8;
    let mut offset = 0;
    while offset < len {
        // SAFETY: offset < len, inside the inherited mapping.
        sum = sum.wrapping_add(unsafe { std::ptr::read_volatile(base.add(offset)) });
        offset += page;
    }
    black_box(sum);
    let byte = 1u8;
    // SAFETY: writing one byte from a local; reading into one.
    unsafe {
        libc::write(ready, (&byte as *const u8).cast(), 1);
        let mut buf = 0u8;
        while libc::read(release, (&mut buf as *mut u8).cast(), 1) > 0 {}
        libc::_exit(0)
    }
}
