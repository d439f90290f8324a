//! lazy-alloc: anonymous memory is address space until it is used ("Hey dude,
//! where's my memory?", Frits Hoogland, seed 002; "Some things I've learned about
//! memory", Evan Martin, seed 003).
//!
//! Maps a large private anonymous region, reads one chunk of it that was never
//! written (the kernel maps the shared zero page), writes one chunk and then a
//! second (each page gets its own frame), and unmaps it. With
//! `--overcommit-test` it then asks for one mapping larger than RAM + swap, and
//! for several that are each smaller but together larger, and reports what the
//! kernel said.

use std::hint::black_box;
use std::io;

use experiments::catalog::lazy_alloc::{
    checkpoint, note, region, result, AddressSpaceLimit, Args, Thp,
};
use experiments::mapping::Mapping;
use experiments::pages::page_size;
use experiments::Checkpoints;

fn main() {
    experiments::prelude::main::<Args>(
        "lazy-alloc",
        "map a large anonymous region and use it bit by bit",
        |start| run(&start.args, start.checkpoints),
    )
}

fn run(args: &Args, mut session: Checkpoints) -> io::Result<()> {
    let page = page_size();
    if args.chunk_bytes == 0 || args.map_bytes < 2 * args.chunk_bytes {
        session.skip(format_args!(
            "--map-bytes {} must hold two chunks of --chunk-bytes {}",
            args.map_bytes, args.chunk_bytes
        ));
    }
    if args.variant == Thp::ThpOn {
        let mode = std::fs::read_to_string("/sys/kernel/mm/transparent_hugepage/enabled")
            .unwrap_or_default();
        if !(mode.contains("[always]") || mode.contains("[madvise]")) {
            session.skip(format_args!(
                "transparent huge pages are not available (enabled: {})",
                mode.trim()
            ));
        }
    }
    // Read now: nothing may be read from a file between checkpoints.
    let meminfo = std::fs::read_to_string("/proc/meminfo")?;
    let ram_and_swap = meminfo_bytes(&meminfo, "MemTotal") + meminfo_bytes(&meminfo, "SwapTotal");

    session.checkpoint(checkpoint::BEFORE_MMAP)?;
    let map = match Mapping::anonymous(args.map_bytes) {
        Ok(map) => map,
        Err(e) => session.skip(format_args!(
            "the kernel refused a {} byte anonymous mapping ({e}); use --quick or a smaller --size",
            args.map_bytes
        )),
    };
    let advice = match args.variant {
        Thp::ThpOff => libc::MADV_NOHUGEPAGE,
        Thp::ThpOn => libc::MADV_HUGEPAGE,
    };
    map.advise_all(advice)?;
    // One mapping is one line of smaps, so the chunks are judged by deltas of the
    // whole region between checkpoints.
    session.region(region::ANON, map.ptr(), map.len())?;
    session.note(note::MAP_BYTES, map.len() as u64)?;
    session.note(note::CHUNK_BYTES, args.chunk_bytes as u64)?;
    // chunk_bytes <= map_bytes / 2, so the second chunk is inside the mapping.
    let second = map.at(args.chunk_bytes);
    session.checkpoint(checkpoint::AFTER_MMAP)?;

    let sum = read_pages(map.ptr(), args.chunk_bytes, page);
    session.checkpoint(checkpoint::AFTER_READ_FIRST_CHUNK)?;
    write_pages(map.ptr(), args.chunk_bytes, page);
    session.checkpoint(checkpoint::AFTER_WRITE_FIRST_CHUNK)?;
    write_pages(second, args.chunk_bytes, page);
    session.checkpoint(checkpoint::AFTER_WRITE_SECOND_CHUNK)?;
    drop(map);
    session.checkpoint(checkpoint::AFTER_MUNMAP)?;
    session.note(note::READ_CHECKSUM, sum)?;

    if args.overcommit_test {
        overcommit_test(&mut session, ram_and_swap)?;
    }
    session.done()
}

/// One mapping larger than RAM + swap, then three that are each half of it.
fn overcommit_test(session: &mut Checkpoints, ram_and_swap: u64) -> io::Result<()> {
    let page = page_size() as u64;
    let huge = (ram_and_swap + (1 << 30)).div_ceil(page) * page;
    // A `ulimit -v` refuses mappings before the overcommit policy is asked:
    // the judge must know it to tell the two refusals apart.
    session.note(note::ADDRESS_SPACE_LIMIT, address_space_limit())?;
    session.note(note::OVERCOMMIT_RAM_AND_SWAP_BYTES, ram_and_swap)?;
    session.note(note::OVERCOMMIT_SINGLE_BYTES, huge)?;
    let single = Mapping::anonymous(huge as usize);
    match &single {
        Ok(_) => session.note(note::OVERCOMMIT_SINGLE_RESULT, result::MAPPED)?,
        Err(e) => session.note(note::OVERCOMMIT_SINGLE_RESULT, errno_name(e))?,
    }
    let piece = (ram_and_swap / 2).div_ceil(page) * page;
    session.note(note::OVERCOMMIT_PIECE_BYTES, piece)?;
    let mut pieces = Vec::with_capacity(3);
    let mut refused = String::from("none");
    for _ in 0..3 {
        match Mapping::anonymous(piece as usize) {
            Ok(m) => pieces.push(m),
            Err(e) => {
                refused = errno_name(&e).to_string();
                break;
            }
        }
    }
    session.note(note::OVERCOMMIT_PIECES_REQUESTED, 3)?;
    session.note(note::OVERCOMMIT_PIECES_MAPPED, pieces.len() as u64)?;
    session.note(note::OVERCOMMIT_PIECES_REFUSED_WITH, refused)?;
    session.checkpoint(checkpoint::AFTER_OVERCOMMIT_ATTEMPTS)?;
    drop(pieces);
    drop(single);
    Ok(())
}

/// The soft RLIMIT_AS in bytes, or `unlimited`.
fn address_space_limit() -> AddressSpaceLimit {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one rlimit into the struct it is given.
    if unsafe { libc::getrlimit(libc::RLIMIT_AS, &mut limit) } != 0
        || limit.rlim_cur == libc::RLIM_INFINITY
    {
        return AddressSpaceLimit::Unlimited;
    }
    AddressSpaceLimit::Bytes(limit.rlim_cur)
}

fn errno_name(e: &io::Error) -> &'static str {
    match e.raw_os_error() {
        Some(libc::ENOMEM) => result::ENOMEM,
        Some(libc::EINVAL) => "EINVAL",
        Some(libc::EAGAIN) => "EAGAIN",
        Some(libc::EPERM) => "EPERM",
        _ => "other error",
    }
}

fn meminfo_bytes(text: &str, key: &str) -> u64 {
    text.lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            (k == key).then(|| v.split_whitespace().next()?.parse::<u64>().ok())?
        })
        .unwrap_or(0)
        * 1024
}

/// Reads one byte from every page: each read of an untouched page faults in the
/// shared zero page (or the huge zero page), never a new frame.
fn read_pages(base: *const u8, len: usize, page: usize) -> u64 {
    let mut sum = 0u64;
    let mut offset = 0;
    while offset < len {
        // SAFETY: offset < len, inside the mapping.
        sum = sum.wrapping_add(unsafe { std::ptr::read_volatile(base.add(offset)) } as u64);
        offset += page;
    }
    black_box(sum)
}

/// Writes one byte to every page: each write needs a private frame.
fn write_pages(base: *mut u8, len: usize, page: usize) {
    let mut offset = 0;
    while offset < len {
        // SAFETY: offset < len, inside the mapping.
        unsafe { std::ptr::write_volatile(base.add(offset), 1) };
        offset += page;
    }
}
