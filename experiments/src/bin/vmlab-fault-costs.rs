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
use std::path::{Path, PathBuf};

use experiments::catalog::fault_costs::{checkpoint, note, region, role, timing, Args};
use experiments::mapping::{FileAccess, Mapping};
use experiments::note::SeriesOf;
use experiments::pages::{self, page_size, Writeback};
use experiments::waiting_child::WaitingChild;
use experiments::Checkpoints;

/// At most this many repetitions: their timings must fit in one protocol line.
const MAX_REPETITIONS: usize = 32;

fn main() {
    experiments::prelude::main::<Args>(
        "fault-costs",
        "time each kind of page fault between checkpoints (anonymous, THP, zero page, file reads and writes, COW, fork, munmap)",
        |start| run(&start.dir, &start.args, start.checkpoints),
    )
}

/// A private anonymous mapping of `len` bytes starting at a multiple of
/// `align`, advised `advice`.
fn advised_anon(len: usize, align: usize, advice: libc::c_int) -> io::Result<Mapping> {
    let map = Mapping::anonymous_aligned(len, align)?;
    map.advise_all(advice)?;
    Ok(map)
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
    /// The samples as a note's series, formatted straight into the protocol line.
    fn as_series(&self) -> SeriesOf<'_> {
        SeriesOf(&self.nanos[..self.len])
    }

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

    /// Sends both series as notes `<stem>_nanos` and `<stem>_cpu_nanos` (keys
    /// formed on the stack: this runs inside the measured phases).
    fn send(&self, session: &mut Checkpoints, stem: &str) -> io::Result<()> {
        session.note(timing::wall_note(stem), self.wall.as_series())?;
        session.note(timing::cpu_note(stem), self.cpu.as_series())
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

fn run(dir: &Path, args: &Args, mut session: Checkpoints) -> io::Result<()> {
    let sizes = Sizes::checked(args, &mut session)?;
    sizes.note(&mut session)?;
    let read = ReadFile::prepare(dir, &sizes, &mut session)?;
    let write = WriteFile::prepare(dir, &sizes, &mut session)?;
    let anon = AnonRegions::map(args, &sizes, &mut session)?;
    announce_regions(&mut session, &anon, &read, &write)?;

    // Warm the code and the clock, so that the phases fault only the measured pages.
    let warm = time_each(1, |_| {
        write_every(anon.anon.ptr(), 0, sizes.page);
        read_every(anon.anon.ptr(), 0, sizes.page);
    });
    black_box(warm.wall.len);
    session.checkpoint(checkpoint::BEFORE_MEASURING)?;

    time_anonymous_faults(&mut session, &sizes, &anon)?;
    time_file_reads(&mut session, &sizes, &read)?;
    time_file_writes(&mut session, &sizes, &write)?;
    let child = time_cow_after_fork(&mut session, &sizes, &anon.cow)?;

    // Only the anonymous region stays resident for the fork and munmap phases.
    drop(child);
    let AnonRegions {
        anon,
        zero,
        cow,
        thp,
    } = anon;
    drop(cow);
    drop(zero);
    drop(thp);
    drop(read.map);
    drop(write.shared);
    drop(write.private);
    // The shared writes' dirty pages go to the disk now, in this untimed phase,
    // not in the background while fork and munmap are timed.
    write.file.sync_data()?;
    session.checkpoint(checkpoint::BEFORE_FORK)?;

    time_fork(&mut session, &sizes)?;
    time_munmap(&mut session, &sizes, anon)?;

    drop(read.file);
    drop(write.file);
    std::fs::remove_file(&read.path)?;
    std::fs::remove_file(&write.path)?;
    session.done()
}

/// The run's sizes, in whole pages, checked before anything is mapped.
struct Sizes {
    page: usize,
    reps: usize,
    block: usize,
    random_block: usize,
    /// One transparent huge page, as the harness read it from the kernel (0: none).
    huge_page: usize,
    thp_block: usize,
}

impl Sizes {
    /// Rounds the arguments to pages (and huge pages), skips the run if any is
    /// unusable, and notes them.
    fn checked(args: &Args, session: &mut Checkpoints) -> io::Result<Sizes> {
        let reps = args.repetitions;
        let block = pages::round_up_to_pages(args.block_bytes);
        let random_block = pages::round_up_to_pages(args.random_block_bytes);
        let huge_page = args.pmd_bytes.unwrap_or(0);
        let thp_block = match huge_page {
            0 => args.thp_block_bytes,
            huge => args.thp_block_bytes.div_ceil(huge) * huge,
        };
        if reps == 0 || reps > MAX_REPETITIONS || block == 0 || random_block == 0 || thp_block == 0
        {
            session.skip(format_args!(
                "--repetitions must be 1 to {MAX_REPETITIONS} and every block size above zero"
            ));
        }
        Ok(Sizes {
            page: page_size(),
            reps,
            block,
            random_block,
            huge_page,
            thp_block,
        })
    }

    fn note(&self, session: &mut Checkpoints) -> io::Result<()> {
        session.note(note::BLOCK_BYTES, self.block as u64)?;
        session.note(note::THP_BLOCK_BYTES, self.thp_block as u64)?;
        session.note(note::RANDOM_BLOCK_BYTES, self.random_block as u64)?;
        session.note(note::REPETITIONS, self.reps as u64)
    }
}

/// The file read through a shared mapping: [warm, for minor faults | cold,
/// read-ahead | cold, MADV_RANDOM].
struct ReadFile {
    path: PathBuf,
    file: File,
    map: Mapping,
    warm_len: usize,
    cold_len: usize,
    random_len: usize,
}

impl ReadFile {
    fn prepare(dir: &Path, sizes: &Sizes, session: &mut Checkpoints) -> io::Result<ReadFile> {
        let warm_len = sizes.reps * sizes.block;
        let cold_len = sizes.reps * sizes.block;
        let random_len = sizes.reps * sizes.random_block;
        let file_len = warm_len + cold_len + random_len;
        let path = dir.join("data");
        let file = prepare_file(session, &path, file_len as u64)?;
        pages::drop_from_page_cache(&file)?;
        pages::read_through(&file, warm_len as u64, 1 << 20)?;
        let in_cache = pages::resident_pages(&file, file_len)?;
        session.note(note::FILE_BYTES, file_len as u64)?;
        session.note(note::FILE_PAGES_CACHED_BEFORE, in_cache as u64)?;
        let map = Mapping::file(&file, 0, file_len, FileAccess::SharedRead)?;
        map.advise(warm_len + cold_len, random_len, libc::MADV_RANDOM)?;
        Ok(ReadFile {
            path,
            file,
            map,
            warm_len,
            cold_len,
            random_len,
        })
    }
}

/// The write file: [shared, written in place | private, copied on write], all
/// of it in the page cache before the phases (written, then read back). A file
/// of its own, so that the cold phases' drops from the page cache never reach it.
struct WriteFile {
    path: PathBuf,
    file: File,
    shared: Mapping,
    private: Mapping,
}

impl WriteFile {
    fn prepare(dir: &Path, sizes: &Sizes, session: &mut Checkpoints) -> io::Result<WriteFile> {
        let half = sizes.reps * sizes.block;
        let write_len = 2 * half;
        let path = dir.join("data-write");
        let file = prepare_file(session, &path, write_len as u64)?;
        pages::read_through(&file, write_len as u64, 1 << 20)?;
        session.note(note::WRITE_FILE_BYTES, write_len as u64)?;
        session.note(
            note::WRITE_FILE_PAGES_CACHED_BEFORE,
            pages::resident_pages(&file, write_len)? as u64,
        )?;
        let shared = Mapping::file(&file, 0, half, FileAccess::SharedWrite)?;
        let private = Mapping::file(&file, half as u64, half, FileAccess::PrivateWrite)?;
        Ok(WriteFile {
            path,
            file,
            shared,
            private,
        })
    }
}

/// The anonymous regions, one per kind of fault, THP only where the kernel
/// gives huge pages.
struct AnonRegions {
    anon: Mapping,
    zero: Mapping,
    cow: Mapping,
    thp: Option<Mapping>,
}

impl AnonRegions {
    fn map(args: &Args, sizes: &Sizes, session: &mut Checkpoints) -> io::Result<AnonRegions> {
        let thp_mode = std::fs::read_to_string("/sys/kernel/mm/transparent_hugepage/enabled")
            .unwrap_or_default();
        let thp_available = sizes.huge_page > 0
            && (thp_mode.contains("[always]") || thp_mode.contains("[madvise]"));
        let len = sizes.reps * sizes.block;
        let anon = advised_anon(len, sizes.page, libc::MADV_NOHUGEPAGE)?;
        let zero = advised_anon(len, sizes.page, libc::MADV_NOHUGEPAGE)?;
        let cow = advised_anon(len, sizes.page, libc::MADV_NOHUGEPAGE)?;
        let thp = if thp_available {
            let len = sizes.reps * sizes.thp_block;
            Some(advised_anon(len, sizes.huge_page, libc::MADV_HUGEPAGE)?)
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
        Ok(AnonRegions {
            anon,
            zero,
            cow,
            thp,
        })
    }
}

/// Asks the harness to follow every region the phases touch.
fn announce_regions(
    session: &mut Checkpoints,
    anon: &AnonRegions,
    read: &ReadFile,
    write: &WriteFile,
) -> io::Result<()> {
    session.region(region::ANON, anon.anon.ptr(), anon.anon.len())?;
    session.region(region::ZERO, anon.zero.ptr(), anon.zero.len())?;
    session.region(region::COW, anon.cow.ptr(), anon.cow.len())?;
    if let Some(thp) = &anon.thp {
        session.region(region::THP, thp.ptr(), thp.len())?;
    }
    let (warm, cold) = (read.warm_len, read.cold_len);
    session.region(region::FILE_WARM, read.map.at(0), warm)?;
    session.region(region::FILE_COLD, read.map.at(warm), cold)?;
    let random = read.map.at(warm + cold);
    session.region(region::FILE_RANDOM, random, read.random_len)?;
    let shared = &write.shared;
    session.region(region::FILE_SHARED_WRITE, shared.at(0), shared.len())?;
    let private = &write.private;
    session.region(region::FILE_PRIVATE_WRITE, private.at(0), private.len())
}

/// The first touch of anonymous memory: a write (a new frame), a read (the
/// zero page) and, where there are huge pages, a THP write.
fn time_anonymous_faults(
    session: &mut Checkpoints,
    sizes: &Sizes,
    anon: &AnonRegions,
) -> io::Result<()> {
    let Sizes {
        page, reps, block, ..
    } = *sizes;
    let t = time_each(reps, |r| {
        write_every(anon.anon.block(r, block), block, page)
    });
    t.send(session, timing::ANON_FIRST_TOUCH)?;
    session.checkpoint(checkpoint::AFTER_ANON_FIRST_TOUCH)?;

    let t = time_each(reps, |r| {
        read_every(anon.zero.block(r, block), block, page);
    });
    t.send(session, timing::ZERO_PAGE_READ)?;
    session.checkpoint(checkpoint::AFTER_ZERO_PAGE_READ)?;

    if let Some(thp) = &anon.thp {
        let (thp_block, huge_page) = (sizes.thp_block, sizes.huge_page);
        let t = time_each(reps, |r| {
            write_every(thp.block(r, thp_block), thp_block, huge_page)
        });
        t.send(session, timing::THP_FIRST_TOUCH)?;
        session.checkpoint(checkpoint::AFTER_THP_FIRST_TOUCH)?;
    }
    Ok(())
}

/// Reads through the shared file mapping: warm pages (minor faults, with
/// fault-around), cold ones with read-ahead, and cold ones without.
fn time_file_reads(session: &mut Checkpoints, sizes: &Sizes, read: &ReadFile) -> io::Result<()> {
    let Sizes {
        page,
        reps,
        block,
        random_block,
        ..
    } = *sizes;
    let (fmap, warm_len, cold_len) = (&read.map, read.warm_len, read.cold_len);
    let t = time_each(reps, |r| {
        read_every(fmap.at(r * block), block, page);
    });
    t.send(session, timing::FILE_MINOR_FAULT_AROUND)?;
    session.checkpoint(checkpoint::AFTER_FILE_MINOR_FAULT)?;

    // Each repetition starts cold: the blocks not mapped yet are dropped again, in
    // case read-ahead of the previous one ran past its end (mapped pages stay).
    let mut drop_failed = false;
    let t = time_with_drop(reps, &read.file, &mut drop_failed, |r| {
        read_every(fmap.at(warm_len + r * block), block, page);
    });
    t.send(session, timing::FILE_MAJOR_READ_AHEAD)?;
    session.checkpoint(checkpoint::AFTER_FILE_MAJOR_FAULT)?;

    let t = time_with_drop(reps, &read.file, &mut drop_failed, |r| {
        read_every(
            fmap.at(warm_len + cold_len + r * random_block),
            random_block,
            page,
        );
    });
    t.send(session, timing::FILE_MAJOR_NO_READ_AHEAD)?;
    if drop_failed {
        session.note(
            note::PAGE_CACHE_DROP_FAILED,
            "posix_fadvise(DONTNEED) returned an error",
        )?;
    }
    session.checkpoint(checkpoint::AFTER_FILE_MAJOR_FAULT_NO_READ_AHEAD)
}

/// Writes to cached file pages, through the shared and the private mapping.
fn time_file_writes(session: &mut Checkpoints, sizes: &Sizes, write: &WriteFile) -> io::Result<()> {
    let Sizes {
        page, reps, block, ..
    } = *sizes;
    // A write to a cached page through a shared mapping: the fault maps the
    // page-cache page writable and the filesystem marks it dirty (no copy, and
    // no fault-around: that is for reads only).
    let t = time_each(reps, |r| {
        write_every(write.shared.at(r * block), block, page)
    });
    t.send(session, timing::FILE_SHARED_WRITE)?;
    session.checkpoint(checkpoint::AFTER_FILE_SHARED_WRITE_FAULT)?;

    // A write to a cached page through a private mapping: the fault copies the
    // page-cache page into a new anonymous page (the file is not changed).
    let t = time_each(reps, |r| {
        write_every(write.private.at(r * block), block, page)
    });
    t.send(session, timing::FILE_PRIVATE_COW)?;
    session.checkpoint(checkpoint::AFTER_FILE_PRIVATE_COW_FAULT)
}

/// Fills `cow`, forks a child that waits, then times the parent's writes (each a
/// copy). Returns the child, still waiting, for the caller to end.
fn time_cow_after_fork(
    session: &mut Checkpoints,
    sizes: &Sizes,
    cow: &Mapping,
) -> io::Result<WaitingChild> {
    let Sizes {
        page, reps, block, ..
    } = *sizes;
    write_every(cow.ptr(), cow.len(), page);
    let child = WaitingChild::fork()?;
    let both = [(role::MAIN, session.pid()), (role::CHILD, child.pid())];
    session.checkpoint_with(checkpoint::AFTER_FORK_CHILD, &both)?;

    let t = time_each(reps, |r| write_every(cow.block(r, block), block, page));
    t.send(session, timing::COW_AFTER_FORK)?;
    session.checkpoint_with(checkpoint::AFTER_COW_FAULT, &both)?;
    Ok(child)
}

/// Times forks of children that exit at once, reaped after the timing.
fn time_fork(session: &mut Checkpoints, sizes: &Sizes) -> io::Result<()> {
    let reps = sizes.reps;
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
    t.send(session, timing::FORK)?;
    session.checkpoint(checkpoint::AFTER_FORK)
}

/// Times unmapping the written anonymous region, a block per repetition.
fn time_munmap(session: &mut Checkpoints, sizes: &Sizes, mut anon: Mapping) -> io::Result<()> {
    // Block r is the front of what is left when repetition r unmaps it.
    let mut unmap_failed = false;
    let t = time_each(sizes.reps, |_| {
        unmap_failed |= anon.unmap_front(sizes.block).is_err()
    });
    if unmap_failed {
        return Err(io::Error::other("munmap failed while timing it"));
    }
    t.send(session, timing::MUNMAP)?;
    session.checkpoint(checkpoint::AFTER_MUNMAP)
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
fn prepare_file(session: &mut Checkpoints, path: &PathBuf, len: u64) -> io::Result<File> {
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
