//! mmap-file: the 1 GB random file of "Playing with Virtual Memory" (Kristina
//! Chodorow, seed 001).
//!
//! The file is written (a measured phase, between `before-write` and
//! `after-write`) and flushed first (or, with `--reuse-file`, taken over
//! from an earlier variant of the run that kept it), then (variants `cold`,
//! `cold-random`) dropped from the page cache. The measured part maps it read-only and shared,
//! reads one int at offset 0, then one int every 4 bytes, stopping at a
//! checkpoint after each step.

use std::fs::File;
use std::hint::black_box;
use std::io;
use std::path::{Path, PathBuf};

use experiments::catalog::mmap_file::{
    checkpoint, note, region, Args, Cache, FileSource, FILE_NAME, TEST_EVICT_ONCE_ENV,
};
use experiments::pages::{self, page_size, Writeback};
use experiments::Checkpoints;
use memmap2::{Advice, MmapOptions};

fn main() {
    experiments::prelude::main::<Args>(
        "mmap-file",
        "mmap a large random file and read it",
        |start| run(&start.dir, &start.args, start.checkpoints),
    )
}

fn run(dir: &Path, args: &Args, mut session: Checkpoints) -> io::Result<()> {
    if args.map_bytes as u64 > args.file_bytes || args.map_bytes < 4 {
        session.skip(format_args!(
            "--map-bytes {} must be at least 4 and at most --file-bytes {}",
            args.map_bytes, args.file_bytes
        ));
    }
    let path = dir.join(FILE_NAME);
    let file = prepare_file(&mut session, dir, &path, args)?;

    session.checkpoint(checkpoint::BEFORE_MMAP)?;
    // SAFETY: the file lives in the harness's private temp folder and nobody
    // truncates it while it is mapped.
    let map = unsafe { MmapOptions::new().len(args.map_bytes).map(&file)? };
    if args.cache == Cache::ColdRandom {
        map.advise(Advice::Random)?;
    }
    session.region(region::DATA, map.as_ptr(), map.len())?;
    session.checkpoint(checkpoint::AFTER_MMAP)?;

    // SAFETY: the mapping is page aligned and at least 4 bytes long.
    let first = unsafe { std::ptr::read_volatile(map.as_ptr().cast::<i32>()) };
    black_box(first);
    session.checkpoint(checkpoint::AFTER_FIRST_READ)?;

    let sum = read_every_int(&map);
    session.checkpoint(checkpoint::AFTER_READ_ALL)?;

    session.note(note::CHECKSUM, sum)?;
    drop(map);
    if args.keep_file {
        // Out of the page cache, so that the kept file takes no memory while
        // the variants in between measure.
        pages::drop_from_page_cache(&file)?;
        drop(file);
        std::fs::rename(&path, kept_path(dir, args))?;
    } else {
        drop(file);
        std::fs::remove_file(&path)?;
    }
    session.done()
}

/// Where a variant keeps its file for a later one: the name says how it was
/// written, so only a variant that would write it the same way reuses it.
fn kept_path(dir: &Path, args: &Args) -> PathBuf {
    dir.join(format!("{FILE_NAME}.kept-{}", args.write_chunk_bytes))
}

/// The file an earlier variant kept, renamed to `path` and cut to
/// `file_bytes`, if there is one written the same way and long enough.
fn take_kept(dir: &Path, path: &Path, args: &Args) -> io::Result<Option<File>> {
    let kept = kept_path(dir, args);
    match std::fs::metadata(&kept) {
        Ok(meta) if meta.len() >= args.file_bytes => {}
        Ok(_) => return Ok(None),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    }
    std::fs::rename(&kept, path)?;
    let file = File::options().read(true).write(true).open(path)?;
    if file.metadata()?.len() > args.file_bytes {
        file.set_len(args.file_bytes)?;
        file.sync_all()?;
    }
    Ok(Some(file))
}

/// Writes and flushes the file, or takes the one an earlier variant kept
/// (`--reuse-file`), then (for the cold variants) evicts it, and reports how
/// it was done. Runs before `before-mmap`, so its allocations are not in the
/// phases the claims about mapping and reading judge.
fn prepare_file(
    session: &mut Checkpoints,
    dir: &Path,
    path: &Path,
    args: &Args,
) -> io::Result<File> {
    let reused = match args.reuse_file {
        true => take_kept(dir, path, args)?,
        false => None,
    };
    let file = match reused {
        Some(file) => {
            session.note(note::FILE_SOURCE, FileSource::Reused)?;
            file
        }
        None => {
            let file = write_file(session, path, args)?;
            session.note(note::FILE_SOURCE, FileSource::Written)?;
            file
        }
    };
    session.note(note::WRITE_CHUNK_BYTES, args.write_chunk_bytes as u64)?;
    session.note(note::FLUSHED_WITH, "fsync")?;

    let map_pages = args.map_bytes.div_ceil(page_size());
    match args.cache {
        Cache::Warm => {
            // Writing leaves the file in the page cache, but not always all of it;
            // reading the missing pages with read(2) brings them back.
            // Proactive reclaim may take pages again meanwhile, so the read is
            // repeated (a few times at most) until mincore finds every page.
            let missing = map_pages - pages::resident_pages(&file, args.map_bytes)?;
            let mut left = missing;
            for _ in 0..WARM_ATTEMPTS {
                if left == 0 {
                    break;
                }
                pages::read_missing(&file, args.map_bytes, args.write_chunk_bytes)?;
                left = map_pages - pages::resident_pages(&file, args.map_bytes)?;
            }
            session.note(note::PAGES_REREAD_TO_WARM, missing as u64)?;
        }
        Cache::Cold | Cache::ColdRandom => {
            session.note(
                note::CACHE_DROP_METHOD,
                evict(&file, args.map_bytes, map_pages)?,
            )?;
        }
    }
    session.note(
        note::PAGE_CACHE_PAGES_BEFORE_MMAP,
        pages::resident_pages(&file, args.map_bytes)? as u64,
    )?;
    session.note(note::MAPPED_PAGES, map_pages as u64)?;
    if args.cache == Cache::Warm {
        evict_once_for_test(session, &file, args.map_bytes, map_pages)?;
    }
    Ok(file)
}

/// The disturbance a test of the harness's retry asks for with
/// [`TEST_EVICT_ONCE_ENV`]: on the first run only (the one that creates the
/// marker file), the file measured as cached is dropped from the page cache
/// before the read, as proactive reclaim might do, and how many pages went is
/// noted so that the harness knows the disturbance and its cause.
fn evict_once_for_test(
    session: &mut Checkpoints,
    file: &File,
    map_bytes: usize,
    map_pages: usize,
) -> io::Result<()> {
    let Some(marker) = std::env::var_os(TEST_EVICT_ONCE_ENV) else {
        return Ok(());
    };
    match File::options().write(true).create_new(true).open(&marker) {
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Ok(()),
        Err(e) => return Err(e),
    }
    file.sync_data()?;
    pages::drop_from_page_cache(file)?;
    let left = pages::resident_pages(file, map_bytes)?;
    session.note(
        note::TEST_EVICTED_PAGES,
        map_pages.saturating_sub(left) as u64,
    )
}

/// How many times a warm file is read through to bring back pages missing
/// from the page cache before it is mapped.
const WARM_ATTEMPTS: usize = 3;

/// Writes the file with random bytes and flushes it.
fn write_file(session: &mut Checkpoints, path: &Path, args: &Args) -> io::Result<File> {
    // The folder is the run's own, shared by its variants: a file left by an
    // earlier variant that failed before putting it away is not to be trusted.
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let mut file = File::options()
        .read(true)
        .write(true)
        .create_new(true)
        .open(path)?;
    let total = args.file_bytes;
    let mut last_reported = 0u64;
    // The writes are a measured phase of their own, as the seed's dd was a
    // step of its demonstration: the harness reads what they passed to
    // write(2) and how long they took. The fsync after it is not in it.
    session.checkpoint(checkpoint::BEFORE_WRITE)?;
    // Writeback left to the fsync: what writing leaves in the page cache is
    // what the warm variants measure.
    pages::write_random_file(
        &mut file,
        total,
        args.write_chunk_bytes,
        Writeback::Default,
        |done| {
            // About a hundred updates in all, whatever the size.
            if done == total || done - last_reported >= total / 100 {
                last_reported = done;
                session.progress(done, total, "writing random file")?;
            }
            Ok(())
        },
    )?;
    session.checkpoint(checkpoint::AFTER_WRITE)?;
    file.sync_all()?;
    Ok(file)
}

/// Evicts the file from the page cache with fadvise, retried a few times (pages
/// still under writeback are skipped by the kernel). Dropping the whole page
/// cache would also work as root, but it disturbs every other process, including
/// other measurements running at the same time, so an incomplete eviction is
/// reported instead and the cold claims become inconclusive.
fn evict(file: &File, map_bytes: usize, map_pages: usize) -> io::Result<&'static str> {
    const ATTEMPTS: usize = 3;
    for _ in 0..ATTEMPTS {
        file.sync_data()?;
        pages::drop_from_page_cache(file)?;
        if pages::resident_pages(file, map_bytes)? * 100 <= map_pages {
            return Ok("posix_fadvise(DONTNEED)");
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    Ok("posix_fadvise(DONTNEED), incomplete after 3 attempts")
}

/// Reads one int every 4 bytes, as the seed's loop does.
fn read_every_int(map: &[u8]) -> i64 {
    let base = map.as_ptr();
    let mut sum = 0i64;
    let mut offset = 0;
    while offset + 4 <= map.len() {
        // SAFETY: offset + 4 <= len, so the read stays inside the mapping.
        let value = unsafe { std::ptr::read_volatile(base.add(offset).cast::<i32>()) };
        sum = sum.wrapping_add(value as i64);
        offset += 4;
    }
    sum
}
