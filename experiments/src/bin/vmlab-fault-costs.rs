//! fault-costs: what each kind of page fault costs, timed inside the process.
//!
//! The writings argue about cost ("major faults go to disk", copy-on-write "only
//! copies what is touched"); this experiment prices each kind. Every kind gets its
//! own phase between two checkpoints, so the harness counts that phase's faults
//! from outside. Inside the phase the same loop runs `--repetitions` times, each
//! time over a fresh block of `--block-bytes` that nothing has touched, with the
//! monotonic clock (and the thread's CPU clock) read right before and right after
//! the loop. Between the two reads nothing is allocated and nothing but the
//! measured pages is touched; the per-repetition nanoseconds go to stack arrays
//! and are sent as notes (`write(2)` from a stack buffer) after the loop. The harness divides them by the faults it
//! counted, so a "fault" is what the kernel counted, fault-around and read-ahead
//! included.

use std::fs::File;
use std::hint::black_box;
use std::io;
use std::os::fd::AsRawFd;
use std::path::PathBuf;

use clap::Parser;
use experiments::catalog::fault_costs::{checkpoint, note, region, role, timing, Args};
use experiments::pages::{self, page_size, Writeback};
use experiments::waiting_child::WaitingChild;
use experiments::Session;

/// At most this many repetitions: their timings must fit in one protocol line.
const MAX_REPETITIONS: usize = 32;

#[derive(Debug, Parser)]
#[command(
    about = "time each kind of page fault between checkpoints (anonymous, THP, zero page, file reads and writes, COW, fork, munmap); run by the vmlab harness"
)]
struct Cli {
    /// Folder for the file (removed by the harness afterwards).
    #[arg(long)]
    dir: PathBuf,
    #[command(flatten)]
    args: Args,
}

fn main() {
    let cli = Cli::parse();
    if let Err(e) = run(&cli) {
        eprintln!("fault-costs: {e}");
        std::process::exit(1);
    }
}

/// A private anonymous mapping, unmapped on drop (unless already unmapped).
struct Anon {
    ptr: *mut u8,
    len: usize,
}

impl Anon {
    /// Maps `len` bytes starting at a multiple of `align`, advised `advice`.
    fn map(len: usize, align: usize, advice: libc::c_int) -> io::Result<Anon> {
        let reserve = len + align;
        // SAFETY: a fresh anonymous mapping; no existing memory is affected.
        let raw = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                reserve,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if raw == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let start = (raw as usize).div_ceil(align) * align;
        let head = start - raw as usize;
        let tail = reserve - head - len;
        // SAFETY: trimming the unaligned head and the tail of the mapping just made;
        // both ranges lie inside it and nothing refers to them.
        unsafe {
            if head > 0 {
                libc::munmap(raw, head);
            }
            if tail > 0 {
                libc::munmap((start + len) as *mut libc::c_void, tail);
            }
        }
        let map = Anon {
            ptr: start as *mut u8,
            len,
        };
        // SAFETY: advising the mapping we own, over its whole length.
        if unsafe { libc::madvise(map.ptr.cast(), len, advice) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(map)
    }

    /// Block `index` of `block` bytes.
    fn block(&self, index: usize, block: usize) -> *mut u8 {
        debug_assert!((index + 1) * block <= self.len);
        // SAFETY: callers stay inside the mapping (index < repetitions, and the
        // mapping holds repetitions blocks).
        unsafe { self.ptr.add(index * block) }
    }
}

impl Drop for Anon {
    fn drop(&mut self) {
        if self.len > 0 {
            // SAFETY: unmapping exactly what `map` kept.
            unsafe { libc::munmap(self.ptr.cast(), self.len) };
        }
    }
}

/// A mapping of part of a file, unmapped on drop.
struct FileMap {
    ptr: *mut u8,
    len: usize,
}

/// How a [`FileMap`] maps its file.
#[derive(Clone, Copy)]
enum FileAccess {
    /// `MAP_SHARED`, read-only: reads see the page cache.
    SharedRead,
    /// `MAP_SHARED`, writable: writes dirty the page cache itself.
    SharedWrite,
    /// `MAP_PRIVATE`, writable: a write copies the page-cache page.
    PrivateWrite,
}

impl FileMap {
    /// Maps `len` bytes of `file` from `offset` (a multiple of the page size).
    fn map(file: &File, offset: usize, len: usize, access: FileAccess) -> io::Result<FileMap> {
        let (prot, flags) = match access {
            FileAccess::SharedRead => (libc::PROT_READ, libc::MAP_SHARED),
            FileAccess::SharedWrite => (libc::PROT_READ | libc::PROT_WRITE, libc::MAP_SHARED),
            FileAccess::PrivateWrite => (libc::PROT_READ | libc::PROT_WRITE, libc::MAP_PRIVATE),
        };
        // SAFETY: mapping a file we hold open (read-write where the mapping is
        // writable); the file lives in the harness's private temp folder and
        // nobody truncates it while it is mapped.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                prot,
                flags,
                file.as_raw_fd(),
                offset as libc::off_t,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(FileMap {
            ptr: ptr.cast(),
            len,
        })
    }

    fn at(&self, offset: usize) -> *mut u8 {
        debug_assert!(offset <= self.len);
        // SAFETY: callers pass offsets inside the mapping.
        unsafe { self.ptr.add(offset) }
    }

    fn advise(&self, offset: usize, len: usize, advice: libc::c_int) -> io::Result<()> {
        // SAFETY: advising a page-aligned range inside the mapping we own.
        if unsafe { libc::madvise(self.at(offset).cast(), len, advice) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

impl Drop for FileMap {
    fn drop(&mut self) {
        // SAFETY: unmapping exactly what `map` mapped.
        unsafe { libc::munmap(self.ptr.cast(), self.len) };
    }
}

/// Per-repetition timings, on the stack so that recording one touches no new page:
/// wall time (the monotonic clock) and the thread's CPU time, which leaves out the
/// time the thread was not running (another process had the CPU, or it slept on
/// the disk): on a busy machine the two differ, and the difference is the load.
struct Timings {
    wall: Samples,
    cpu: Samples,
}

/// Up to [`MAX_REPETITIONS`] nanosecond counts.
struct Samples {
    nanos: [u64; MAX_REPETITIONS],
    len: usize,
}

impl Samples {
    fn push(&mut self, nanos: u64) {
        if self.len < MAX_REPETITIONS {
            self.nanos[self.len] = nanos;
            self.len += 1;
        }
    }
}

impl Timings {
    fn new() -> Timings {
        let empty = || Samples {
            nanos: [0; MAX_REPETITIONS],
            len: 0,
        };
        Timings {
            wall: empty(),
            cpu: empty(),
        }
    }

    /// Runs `work` between two readings of both clocks and records the differences.
    fn time(&mut self, work: impl FnOnce()) {
        let cpu_start = clock_nanos(libc::CLOCK_THREAD_CPUTIME_ID);
        let start = clock_nanos(libc::CLOCK_MONOTONIC);
        work();
        let end = clock_nanos(libc::CLOCK_MONOTONIC);
        let cpu_end = clock_nanos(libc::CLOCK_THREAD_CPUTIME_ID);
        self.wall.push(end - start);
        self.cpu.push(cpu_end - cpu_start);
    }

    /// Sends both series as notes `<key>_nanos` and `<key>_cpu_nanos`.
    fn send(&self, session: &mut Session, key: &str) -> io::Result<()> {
        let mut name = NoteKey::new();
        name.set(key, timing::NANOS);
        session.note(name.as_str(), &self.wall)?;
        name.set(key, timing::CPU_NANOS);
        session.note(name.as_str(), &self.cpu)
    }
}

/// A note key built on the stack (`cost_fork` + `_cpu_nanos`).
struct NoteKey {
    bytes: [u8; 64],
    len: usize,
}

impl NoteKey {
    fn new() -> NoteKey {
        NoteKey {
            bytes: [0; 64],
            len: 0,
        }
    }

    fn set(&mut self, stem: &str, suffix: &str) {
        self.len = 0;
        for b in stem.bytes().chain(suffix.bytes()).take(self.bytes.len()) {
            self.bytes[self.len] = b;
            self.len += 1;
        }
    }

    fn as_str(&self) -> &str {
        // Built from two &str and cut only at the end of the buffer, which the
        // keys used here never reach.
        std::str::from_utf8(&self.bytes[..self.len]).unwrap_or("cost_key_too_long")
    }
}

/// Comma-separated nanoseconds, formatted straight into the protocol line.
impl std::fmt::Display for Samples {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, n) in self.nanos[..self.len].iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{n}")?;
        }
        Ok(())
    }
}

/// A clock in nanoseconds (the monotonic clock is a vDSO call: no system call,
/// no fault once warm; the thread CPU clock is a system call, also fault-free).
fn clock_nanos(clock: libc::clockid_t) -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: writes into a valid local.
    unsafe { libc::clock_gettime(clock, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Times `work` once per repetition (given the repetition's index).
fn time_each(repetitions: usize, mut work: impl FnMut(usize)) -> Timings {
    let mut timings = Timings::new();
    for r in 0..repetitions {
        timings.time(|| work(r));
    }
    timings
}

/// Writes one byte to every `stride` bytes of `[base, base + len)`.
#[inline(never)]
fn write_every(base: *mut u8, len: usize, stride: usize) {
    let mut offset = 0;
    while offset < len {
        // SAFETY: offset < len and callers pass a range inside a writable mapping.
        unsafe { std::ptr::write_volatile(base.add(offset), 1) };
        offset += stride;
    }
}

/// Reads one byte from every `stride` bytes of `[base, base + len)`.
#[inline(never)]
fn read_every(base: *const u8, len: usize, stride: usize) -> u64 {
    let mut sum = 0u64;
    let mut offset = 0;
    while offset < len {
        // SAFETY: offset < len and callers pass a range inside a readable mapping.
        sum = sum.wrapping_add(unsafe { std::ptr::read_volatile(base.add(offset)) } as u64);
        offset += stride;
    }
    black_box(sum)
}

fn run(cli: &Cli) -> io::Result<()> {
    let args = &cli.args;
    let mut session = Session::connect()?;
    let page = page_size();
    let reps = args.repetitions;
    let block = pages::round_up_to_pages(args.block_bytes);
    let random_block = pages::round_up_to_pages(args.random_block_bytes);
    // One transparent huge page, as the harness read it from the kernel.
    let huge_page = args.pmd_bytes.unwrap_or(0);
    let thp_block = match huge_page {
        0 => args.thp_block_bytes,
        huge => args.thp_block_bytes.div_ceil(huge) * huge,
    };
    if reps == 0 || reps > MAX_REPETITIONS || block == 0 || random_block == 0 || thp_block == 0 {
        session.skip(format_args!(
            "--repetitions must be 1 to {MAX_REPETITIONS} and every block size above zero"
        ));
    }
    let thp_mode =
        std::fs::read_to_string("/sys/kernel/mm/transparent_hugepage/enabled").unwrap_or_default();
    let thp_available =
        huge_page > 0 && (thp_mode.contains("[always]") || thp_mode.contains("[madvise]"));
    session.note(note::BLOCK_BYTES, block)?;
    session.note(note::THP_BLOCK_BYTES, thp_block)?;
    session.note(note::RANDOM_BLOCK_BYTES, random_block)?;
    session.note(note::REPETITIONS, reps)?;

    // The file: [warm, for minor faults | cold, read-ahead | cold, MADV_RANDOM].
    let warm_len = reps * block;
    let cold_len = reps * block;
    let random_len = reps * random_block;
    let file_len = warm_len + cold_len + random_len;
    let path = cli.dir.join("data");
    let file = prepare_file(&mut session, &path, file_len as u64)?;
    pages::drop_from_page_cache(&file)?;
    pages::read_through(&file, warm_len as u64, 1 << 20)?;
    let in_cache = pages::resident_pages(&file, file_len)?;
    session.note(note::FILE_BYTES, file_len)?;
    session.note(note::FILE_PAGES_CACHED_BEFORE, in_cache)?;
    let fmap = FileMap::map(&file, 0, file_len, FileAccess::SharedRead)?;
    fmap.advise(warm_len + cold_len, random_len, libc::MADV_RANDOM)?;

    // The write file: [shared, written in place | private, copied on write],
    // all of it in the page cache before the phases (written, then read back).
    // A file of its own, so that the cold phases' drops from the page cache
    // never reach it.
    let write_len = 2 * reps * block;
    let write_path = cli.dir.join("data-write");
    let write_file = prepare_file(&mut session, &write_path, write_len as u64)?;
    pages::read_through(&write_file, write_len as u64, 1 << 20)?;
    session.note(note::WRITE_FILE_BYTES, write_len)?;
    session.note(
        note::WRITE_FILE_PAGES_CACHED_BEFORE,
        pages::resident_pages(&write_file, write_len)?,
    )?;
    let shared_write = FileMap::map(&write_file, 0, reps * block, FileAccess::SharedWrite)?;
    let private_write = FileMap::map(
        &write_file,
        reps * block,
        reps * block,
        FileAccess::PrivateWrite,
    )?;

    let anon = Anon::map(reps * block, page, libc::MADV_NOHUGEPAGE)?;
    let zero = Anon::map(reps * block, page, libc::MADV_NOHUGEPAGE)?;
    let cow = Anon::map(reps * block, page, libc::MADV_NOHUGEPAGE)?;
    let thp = if thp_available {
        Some(Anon::map(reps * thp_block, huge_page, libc::MADV_HUGEPAGE)?)
    } else {
        session.note(
            note::THP_UNAVAILABLE,
            format_args!(
                "transparent huge pages: {} (PMD size: {})",
                thp_mode.trim(),
                args.pmd_bytes
                    .map_or("none".to_string(), |b| format!("{b} bytes"))
            ),
        )?;
        None
    };
    session.region(region::ANON, anon.ptr, anon.len)?;
    session.region(region::ZERO, zero.ptr, zero.len)?;
    session.region(region::COW, cow.ptr, cow.len)?;
    if let Some(thp) = &thp {
        session.region(region::THP, thp.ptr, thp.len)?;
    }
    session.region(region::FILE_WARM, fmap.at(0), warm_len)?;
    session.region(region::FILE_COLD, fmap.at(warm_len), cold_len)?;
    session.region(
        region::FILE_RANDOM,
        fmap.at(warm_len + cold_len),
        random_len,
    )?;
    session.region(
        region::FILE_SHARED_WRITE,
        shared_write.at(0),
        shared_write.len,
    )?;
    session.region(
        region::FILE_PRIVATE_WRITE,
        private_write.at(0),
        private_write.len,
    )?;

    // Warm the code and the clock, so that the phases fault only the measured pages.
    let warm = time_each(1, |_| {
        write_every(anon.ptr, 0, page);
        read_every(anon.ptr, 0, page);
    });
    black_box(warm.wall.len);
    session.checkpoint(checkpoint::BEFORE_MEASURING)?;

    let t = time_each(reps, |r| write_every(anon.block(r, block), block, page));
    t.send(&mut session, timing::ANON_FIRST_TOUCH)?;
    session.checkpoint(checkpoint::AFTER_ANON_FIRST_TOUCH)?;

    let t = time_each(reps, |r| {
        read_every(zero.block(r, block), block, page);
    });
    t.send(&mut session, timing::ZERO_PAGE_READ)?;
    session.checkpoint(checkpoint::AFTER_ZERO_PAGE_READ)?;

    if let Some(thp) = &thp {
        let t = time_each(reps, |r| {
            write_every(thp.block(r, thp_block), thp_block, huge_page)
        });
        t.send(&mut session, timing::THP_FIRST_TOUCH)?;
        session.checkpoint(checkpoint::AFTER_THP_FIRST_TOUCH)?;
    }

    let t = time_each(reps, |r| {
        read_every(fmap.at(r * block), block, page);
    });
    t.send(&mut session, timing::FILE_MINOR_FAULT_AROUND)?;
    session.checkpoint(checkpoint::AFTER_FILE_MINOR_FAULT)?;

    // Each repetition starts cold: the blocks not mapped yet are dropped again, in
    // case read-ahead of the previous one ran past its end (mapped pages stay).
    let mut drop_failed = false;
    let t = time_with_drop(reps, &file, &mut drop_failed, |r| {
        read_every(fmap.at(warm_len + r * block), block, page);
    });
    t.send(&mut session, timing::FILE_MAJOR_READ_AHEAD)?;
    session.checkpoint(checkpoint::AFTER_FILE_MAJOR_FAULT)?;

    let t = time_with_drop(reps, &file, &mut drop_failed, |r| {
        read_every(
            fmap.at(warm_len + cold_len + r * random_block),
            random_block,
            page,
        );
    });
    t.send(&mut session, timing::FILE_MAJOR_NO_READ_AHEAD)?;
    if drop_failed {
        session.note(
            note::PAGE_CACHE_DROP_FAILED,
            "posix_fadvise(DONTNEED) returned an error",
        )?;
    }
    session.checkpoint(checkpoint::AFTER_FILE_MAJOR_FAULT_NO_READ_AHEAD)?;

    // A write to a cached page through a shared mapping: the fault maps the
    // page-cache page writable and the filesystem marks it dirty (no copy, and
    // no fault-around: that is for reads only).
    let t = time_each(reps, |r| {
        write_every(shared_write.at(r * block), block, page)
    });
    t.send(&mut session, timing::FILE_SHARED_WRITE)?;
    session.checkpoint(checkpoint::AFTER_FILE_SHARED_WRITE_FAULT)?;

    // A write to a cached page through a private mapping: the fault copies the
    // page-cache page into a new anonymous page (the file is not changed).
    let t = time_each(reps, |r| {
        write_every(private_write.at(r * block), block, page)
    });
    t.send(&mut session, timing::FILE_PRIVATE_COW)?;
    session.checkpoint(checkpoint::AFTER_FILE_PRIVATE_COW_FAULT)?;

    write_every(cow.ptr, cow.len, page);
    let child = WaitingChild::fork()?;
    let both = [(role::MAIN, session.pid()), (role::CHILD, child.pid())];
    session.checkpoint_with(checkpoint::AFTER_FORK_CHILD, &both)?;

    let t = time_each(reps, |r| write_every(cow.block(r, block), block, page));
    t.send(&mut session, timing::COW_AFTER_FORK)?;
    session.checkpoint_with(checkpoint::AFTER_COW_FAULT, &both)?;

    // Only the anonymous region stays resident for the fork and munmap phases.
    drop(child);
    drop(cow);
    drop(zero);
    drop(thp);
    drop(fmap);
    drop(shared_write);
    drop(private_write);
    // The shared writes' dirty pages go to the disk now, in this untimed phase,
    // not in the background while fork and munmap are timed.
    write_file.sync_data()?;
    session.checkpoint(checkpoint::BEFORE_FORK)?;

    let mut pids = [0 as libc::pid_t; MAX_REPETITIONS];
    let t = time_each(reps, |r| pids[r] = fork_and_exit());
    for pid in &pids[..reps] {
        let mut status = 0;
        // SAFETY: reaping our own children into a local.
        unsafe { libc::waitpid(*pid, &mut status, 0) };
    }
    if pids[..reps].iter().any(|p| *p < 0) {
        return Err(io::Error::other("fork failed while timing it"));
    }
    t.send(&mut session, timing::FORK)?;
    session.checkpoint(checkpoint::AFTER_FORK)?;

    let t = time_each(reps, |r| {
        // SAFETY: unmapping block r of the anonymous region, each exactly once;
        // the region's Drop is disarmed below.
        unsafe { libc::munmap(anon.block(r, block).cast(), block) };
    });
    let mut anon = anon;
    anon.len = 0;
    t.send(&mut session, timing::MUNMAP)?;
    session.checkpoint(checkpoint::AFTER_MUNMAP)?;

    drop(file);
    drop(write_file);
    std::fs::remove_file(&path)?;
    std::fs::remove_file(&write_path)?;
    session.done()
}

/// Like [`time_each`], dropping the file's unmapped pages from the page cache
/// before each repetition (outside the timed part).
fn time_with_drop(
    repetitions: usize,
    file: &File,
    drop_failed: &mut bool,
    mut work: impl FnMut(usize),
) -> Timings {
    let mut timings = Timings::new();
    for r in 0..repetitions {
        // SAFETY: plain syscall on a descriptor we own.
        let rc = unsafe { libc::posix_fadvise(file.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) };
        *drop_failed |= rc != 0;
        timings.time(|| work(r));
    }
    timings
}

/// Writes the file with random bytes and flushes it, before any checkpoint.
fn prepare_file(session: &mut Session, path: &PathBuf, len: u64) -> io::Result<File> {
    let mut file = File::options()
        .read(true)
        .write(true)
        .create_new(true)
        .open(path)?;
    let mut last = 0u64;
    // Writeback started early: each file is dropped from the page cache or
    // read back into it before the phases, so what writing left is not measured.
    pages::write_random_file(&mut file, len, 1 << 20, Writeback::Early, |done| {
        if done == len || done - last >= len / 20 {
            last = done;
            session.progress(done, len, "writing the file")?;
        }
        Ok(())
    })?;
    file.sync_all()?;
    Ok(file)
}

/// Forks a child that exits at once, returning its pid (the parent reaps it later).
fn fork_and_exit() -> libc::pid_t {
    // SAFETY: the child calls only _exit.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        // SAFETY: leaves the child without running the parent's destructors.
        unsafe { libc::_exit(0) };
    }
    pid
}
