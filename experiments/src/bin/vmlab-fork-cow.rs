//! fork-cow: copy-on-write after fork, as "Notes on VM" (Kristian Köhntopp, seed
//! 000), "Hey dude, where's my memory?" (Frits Hoogland, seed 002) and "Some
//! things I've learned about memory" (Evan Martin, seed 003) describe it.
//!
//! The parent maps a region, fills it (writes a tag into every page; the
//! `file-private` variant reads every page of a private file mapping instead), and
//! forks. The child then obeys commands sent down a pipe: read every page, write
//! the first quarter, write everything, exit. After each command it answers on a
//! second pipe and blocks on the next read, so both processes are parked (the
//! parent in the checkpoint, the child in `read(2)`) while the harness snapshots
//! them. The `zygote` variant forks several children that each write their own
//! small share, as a Chrome zygote's children would.
//!
//! Content proof, after the manner of the kernel's COW selftest: after the child
//! wrote, both sides read every page's tag back and count pages that do not hold
//! what that side expects. The reads happen at the start of the following phase;
//! they touch only pages already mapped, so they cost no faults.
//!
//! Nothing is printed or allocated between checkpoints. The child uses only
//! `read`, `write`, `close` and `_exit` after fork.

use std::fs::File;
use std::hint::black_box;
use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use experiments::catalog::fork_cow::{
    checkpoint, note, region, role, Args, Variant, MAX_ZYGOTE_CHILDREN,
};
use experiments::mapping::{FileAccess, Mapping};
use experiments::pages::page_size;
use experiments::Checkpoints;

/// Share of the region each zygote child writes: one sixteenth.
const ZYGOTE_SHARE_DIVISOR: usize = 16;

/// Tags written at the start of every page (xor the page index).
const PARENT_TAG: u64 = 0x7061_7265_6e74_0000;
const FILE_TAG: u64 = 0x6669_6c65_0000_0000;
const CHILD_TAG: u64 = 0x6368_696c_6400_0000;

fn main() {
    experiments::prelude::main::<Args>(
        "fork-cow",
        "fork and copy-on-write, parent and child observed",
        |start| run(&start.dir, &start.args, start.checkpoints),
    )
}

fn run(dir: &Path, args: &Args, mut session: Checkpoints) -> io::Result<()> {
    let page = page_size();
    let len = (args.region_bytes as usize).div_ceil(page) * page;
    let pages = len / page;
    if pages < 16 {
        session.skip(format_args!(
            "--region-bytes {} is under 16 pages; nothing to divide in quarters",
            args.region_bytes
        ));
    }
    let children = match (args.variant, args.children) {
        (Variant::Zygote, Some(n)) if (1..=MAX_ZYGOTE_CHILDREN).contains(&n) => n,
        (Variant::Zygote, Some(n)) => session.skip(format_args!(
            "--children {n} must be between 1 and {MAX_ZYGOTE_CHILDREN}"
        )),
        (Variant::Zygote, None) => session.skip("the zygote variant needs --children"),
        _ => 0,
    };
    // Made now, so that no role name is formatted between checkpoints.
    let child_roles: Vec<String> = (1..=children).map(role::zygote_child).collect();
    // Where the `thp-on` region starts: a PMD boundary, or any page if the
    // kernel has no PMD-sized pages to give.
    let align = match args.pmd_bytes {
        Some(pmd) if pmd as usize > page => pmd as usize,
        _ => page,
    };
    let file = match args.variant {
        Variant::FilePrivate => Some(write_tagged_file(&dir.join("data"), len, page)?),
        _ => None,
    };
    let region = Region::map(args.variant, len, align, file.as_ref())?;
    session.note(note::REGION_PAGES, pages as u64)?;
    session.note(
        note::REGION_ALIGNED_TO_PMD,
        args.pmd_bytes
            .is_some_and(|pmd| region.start() as u64 % pmd.max(1) == 0),
    )?;
    session.region(region::DATA, region.start(), len)?;
    let me = std::process::id() as i32;
    let mut proof = Proof::default();

    session.checkpoint_with(checkpoint::AFTER_MMAP, &[(role::PARENT, me)])?;
    let source_tag = match args.variant {
        Variant::FilePrivate => {
            black_box(read_all(&region, page));
            FILE_TAG
        }
        _ => {
            write_tags(&region, page, 0, pages, PARENT_TAG);
            PARENT_TAG
        }
    };
    session.checkpoint_with(checkpoint::AFTER_FILL, &[(role::PARENT, me)])?;

    if args.variant == Variant::Zygote {
        zygote(&mut session, &region, page, &child_roles, &mut proof)?;
    } else {
        fork_one(&mut session, &region, page, source_tag, &mut proof)?;
    }
    proof.report(&mut session)?;
    drop(region);
    if let Some((file, path)) = file {
        drop(file);
        std::fs::remove_file(path)?;
    }
    session.done()
}

/// The one-child run: after-fork, child-read-all, child-write-quarter,
/// child-write-all, after-child-exit.
fn fork_one(
    session: &mut Checkpoints,
    region: &Region,
    page: usize,
    source_tag: u64,
    proof: &mut Proof,
) -> io::Result<()> {
    let pages = region.len / page;
    let quarter = pages / 4;
    let me = std::process::id() as i32;
    let child = Child::fork(region, page, 1)?;
    let both = [(role::PARENT, me), (role::CHILD, child.pid)];
    session.checkpoint_with(checkpoint::AFTER_FORK, &both)?;

    child.command(Command::ReadAll)?;
    session.checkpoint_with(checkpoint::CHILD_READ_ALL, &both)?;

    child.command(Command::Write {
        from: 0,
        to: quarter,
    })?;
    session.checkpoint_with(checkpoint::CHILD_WRITE_QUARTER, &both)?;

    // Content proof of the quarter write (read-only, mapped pages: no faults).
    proof.child_after_quarter = child.command(Command::Verify {
        from: 0,
        to: quarter,
        other_tag: source_tag,
    })?;
    proof.parent_after_quarter = mismatches(region, page, 0, 0, 0, source_tag);
    child.command(Command::Write { from: 0, to: pages })?;
    session.checkpoint_with(checkpoint::CHILD_WRITE_ALL, &both)?;

    proof.child_after_all = child.command(Command::Verify {
        from: 0,
        to: pages,
        other_tag: source_tag,
    })?;
    proof.parent_after_all = mismatches(region, page, 0, 0, 0, source_tag);
    proof.checked_pages = pages;
    child.exit()?;
    session.checkpoint_with(checkpoint::AFTER_CHILD_EXIT, &[(role::PARENT, me)])
}

/// The zygote run: after-fork (all children forked), children-write-share,
/// after-children-exit.
fn zygote(
    session: &mut Checkpoints,
    region: &Region,
    page: usize,
    roles: &[String],
    proof: &mut Proof,
) -> io::Result<()> {
    let count = roles.len();
    let pages = region.len / page;
    let share = pages / ZYGOTE_SHARE_DIVISOR;
    let me = std::process::id() as i32;
    let mut children: [Option<Child>; MAX_ZYGOTE_CHILDREN] = Default::default();
    for (k, slot) in children.iter_mut().take(count).enumerate() {
        *slot = Some(Child::fork(region, page, k as u64 + 1)?);
    }
    // (role, pid) of the parent and every child, on the stack.
    let mut all = [(role::PARENT, me); MAX_ZYGOTE_CHILDREN + 1];
    for (k, child) in children.iter().flatten().enumerate() {
        all[k + 1] = (roles[k].as_str(), child.pid);
    }
    let all = &all[..count + 1];
    session.checkpoint_with(checkpoint::AFTER_FORK, all)?;

    for (k, child) in children.iter().flatten().enumerate() {
        child.command(Command::Write {
            from: k * share,
            to: (k + 1) * share,
        })?;
    }
    session.checkpoint_with(checkpoint::CHILDREN_WRITE_SHARE, all)?;

    for (k, child) in children.iter().flatten().enumerate() {
        proof.child_after_all += child.command(Command::Verify {
            from: k * share,
            to: (k + 1) * share,
            other_tag: PARENT_TAG,
        })?;
    }
    proof.parent_after_all = mismatches(region, page, 0, 0, 0, PARENT_TAG);
    proof.checked_pages = pages;
    for child in children.iter_mut().filter_map(Option::take) {
        child.exit()?;
    }
    proof.zygote = Some((count, share));
    session.checkpoint_with(checkpoint::AFTER_CHILDREN_EXIT, &[(role::PARENT, me)])
}

/// Pages that did not hold what their reader expected, and the zygote's sizes,
/// reported as notes after the last checkpoint (no I/O inside a phase).
#[derive(Debug, Default)]
struct Proof {
    checked_pages: usize,
    child_after_quarter: usize,
    parent_after_quarter: usize,
    child_after_all: usize,
    parent_after_all: usize,
    /// Zygote: children forked, and pages each wrote.
    zygote: Option<(usize, usize)>,
}

impl Proof {
    fn report(&self, session: &mut Checkpoints) -> io::Result<()> {
        if let Some((count, share)) = self.zygote {
            session.note(note::ZYGOTE_CHILDREN, count as u64)?;
            session.note(note::ZYGOTE_SHARE_PAGES, share as u64)?;
        }
        session.note(note::CONTENT_CHECKED_PAGES, self.checked_pages as u64)?;
        session.note(
            note::CONTENT_CHILD_MISMATCHES_AFTER_QUARTER,
            self.child_after_quarter as u64,
        )?;
        session.note(
            note::CONTENT_PARENT_MISMATCHES_AFTER_QUARTER,
            self.parent_after_quarter as u64,
        )?;
        session.note(
            note::CONTENT_CHILD_MISMATCHES_AFTER_ALL,
            self.child_after_all as u64,
        )?;
        session.note(
            note::CONTENT_PARENT_MISMATCHES_AFTER_ALL,
            self.parent_after_all as u64,
        )
    }
}

/// What a child is told to do; sent as three native-endian u64 (24 bytes, far
/// below PIPE_BUF, so each message arrives whole).
#[derive(Debug, Clone, Copy)]
enum Command {
    /// Read the tag of every page.
    ReadAll,
    /// Write the child's tag into pages `from..to`.
    Write { from: usize, to: usize },
    /// Count pages that do not hold the child's tag in `from..to` and
    /// `other_tag` elsewhere.
    Verify {
        from: usize,
        to: usize,
        other_tag: u64,
    },
    /// Exit at once.
    Exit,
    /// Answer and wait again: proves the child is up and has been through its
    /// command loop once, so its stack pages are already copied.
    Ping,
}

impl Command {
    fn encode(self) -> [u8; 24] {
        let words: [u64; 3] = match self {
            Command::ReadAll => [1, 0, 0],
            Command::Write { from, to } => [2, from as u64, to as u64],
            // The tag goes in the op word's upper bits; the ops are small numbers.
            Command::Verify {
                from,
                to,
                other_tag,
            } => [3 | (other_tag & !0xff), from as u64, to as u64],
            Command::Exit => [4, 0, 0],
            Command::Ping => [5, 0, 0],
        };
        let mut out = [0u8; 24];
        for (i, w) in words.iter().enumerate() {
            out[i * 8..i * 8 + 8].copy_from_slice(&w.to_ne_bytes());
        }
        out
    }

    fn decode(bytes: &[u8; 24]) -> Option<Command> {
        let word = |i: usize| {
            let mut w = [0u8; 8];
            w.copy_from_slice(&bytes[i * 8..i * 8 + 8]);
            u64::from_ne_bytes(w)
        };
        let (op, from, to) = (word(0), word(1) as usize, word(2) as usize);
        match op & 0xff {
            1 => Some(Command::ReadAll),
            2 => Some(Command::Write { from, to }),
            3 => Some(Command::Verify {
                from,
                to,
                other_tag: op & !0xff,
            }),
            4 => Some(Command::Exit),
            5 => Some(Command::Ping),
            _ => None,
        }
    }
}

/// A forked child, driven through two pipes.
#[derive(Debug)]
struct Child {
    pid: i32,
    commands: File,
    answers: File,
}

impl Child {
    /// Forks a child that serves commands on `region` with tag number `k`.
    fn fork(region: &Region, page: usize, k: u64) -> io::Result<Child> {
        let (cmd_read, cmd_write) = pipe()?;
        let (ans_read, ans_write) = pipe()?;
        // Nothing may sit in a userspace buffer at fork, or both processes would
        // write it. Checkpoints writes unbuffered; stderr is unbuffered; flush anyway.
        io::stderr().flush()?;
        let parent = std::process::id() as libc::pid_t;
        // SAFETY: the process is single-threaded. The child only touches memory
        // that was mapped before the fork and calls prctl, getppid, read, write,
        // close and _exit, all async-signal-safe, before it exits.
        let pid = unsafe { libc::fork() };
        if pid < 0 {
            return Err(io::Error::last_os_error());
        }
        if pid == 0 {
            experiments::die_with_parent(parent);
            // SAFETY: closing the parent's ends in the child, so that the child
            // sees end of file on its command pipe if the parent dies.
            unsafe {
                libc::close(cmd_write.as_raw_fd());
                libc::close(ans_read.as_raw_fd());
            }
            serve(
                cmd_read.as_raw_fd(),
                ans_write.as_raw_fd(),
                region,
                page,
                CHILD_TAG | (k << 16),
            );
        }
        drop(cmd_read);
        drop(ans_write);
        let child = Child {
            pid,
            commands: cmd_write,
            answers: ans_read,
        };
        // Without this the first checkpoint could catch the child before it ran.
        child.command(Command::Ping)?;
        Ok(child)
    }

    /// Sends a command and waits for the child's answer (a count).
    fn command(&self, command: Command) -> io::Result<usize> {
        experiments::checkpoint::write_all(self.commands.as_raw_fd(), &command.encode())?;
        let mut answer = [0u8; 8];
        read_exact(self.answers.as_raw_fd(), &mut answer)?;
        Ok(u64::from_ne_bytes(answer) as usize)
    }

    /// Tells the child to exit and reaps it.
    fn exit(self) -> io::Result<()> {
        experiments::checkpoint::write_all(self.commands.as_raw_fd(), &Command::Exit.encode())?;
        let mut status = 0;
        // SAFETY: waiting for our own child; `status` is a valid local.
        if unsafe { libc::waitpid(self.pid, &mut status, 0) } < 0 {
            return Err(io::Error::last_os_error());
        }
        if !libc::WIFEXITED(status) || libc::WEXITSTATUS(status) != 0 {
            return Err(io::Error::other(format!(
                "child {} ended with status {status:#x}",
                self.pid
            )));
        }
        Ok(())
    }
}

/// The child's loop: never returns, never allocates.
fn serve(commands: i32, answers: i32, region: &Region, page: usize, tag: u64) -> ! {
    let mut buf = [0u8; 24];
    loop {
        if read_exact(commands, &mut buf).is_err() {
            // SAFETY: _exit has no preconditions.
            unsafe { libc::_exit(2) };
        }
        let answer = match Command::decode(&buf) {
            Some(Command::Ping) => 0,
            Some(Command::ReadAll) => {
                black_box(read_all(region, page));
                0
            }
            Some(Command::Write { from, to }) => {
                write_tags(region, page, from, to, tag);
                0
            }
            Some(Command::Verify {
                from,
                to,
                other_tag,
            }) => mismatches(region, page, from, to, tag, other_tag),
            // SAFETY: _exit skips atexit handlers and stdio, which belong to the parent.
            Some(Command::Exit) => unsafe { libc::_exit(0) },
            // SAFETY: as above.
            None => unsafe { libc::_exit(3) },
        };
        if experiments::checkpoint::write_all(answers, &(answer as u64).to_ne_bytes()).is_err() {
            // SAFETY: as above.
            unsafe { libc::_exit(2) };
        }
    }
}

/// The region the parent fills and the children share, unmapped on drop.
#[derive(Debug)]
struct Region {
    map: Mapping,
    len: usize,
}

impl Region {
    /// Maps `len` bytes as `variant` wants them: anonymous (THP advised off, or
    /// on and starting on an `align` boundary), or a private mapping of `file`.
    fn map(
        variant: Variant,
        len: usize,
        align: usize,
        file: Option<&(File, PathBuf)>,
    ) -> io::Result<Region> {
        let map = match (file, variant) {
            (Some((file, _)), _) => Mapping::file(file, 0, len, FileAccess::PrivateWrite)?,
            (None, Variant::ThpOn) => {
                let map = Mapping::anonymous_aligned(len, align)?;
                map.advise_all(libc::MADV_HUGEPAGE)?;
                map
            }
            (None, _) => {
                let map = Mapping::anonymous(len)?;
                map.advise_all(libc::MADV_NOHUGEPAGE)?;
                map
            }
        };
        Ok(Region { map, len })
    }

    fn start(&self) -> *const u8 {
        self.map.ptr()
    }

    /// The tag word at the start of page `index` (callers pass index < len / page).
    fn word(&self, page: usize, index: usize) -> *mut u64 {
        self.map.at(index * page).cast()
    }
}

/// Reads the tag of every page.
fn read_all(region: &Region, page: usize) -> u64 {
    let mut sum = 0u64;
    for i in 0..region.len / page {
        // SAFETY: i is a page of the region; volatile so the read is not elided.
        sum = sum.wrapping_add(unsafe { std::ptr::read_volatile(region.word(page, i)) });
    }
    sum
}

/// Writes `tag ^ index` into pages `from..to`.
fn write_tags(region: &Region, page: usize, from: usize, to: usize, tag: u64) {
    for i in from..to.min(region.len / page) {
        // SAFETY: i is a page of the region, which is mapped writable.
        unsafe { std::ptr::write_volatile(region.word(page, i), tag ^ i as u64) };
    }
}

/// Pages not holding `own ^ index` in `from..to` and `other ^ index` elsewhere.
fn mismatches(region: &Region, page: usize, from: usize, to: usize, own: u64, other: u64) -> usize {
    (0..region.len / page)
        .filter(|&i| {
            let expected = if (from..to).contains(&i) { own } else { other } ^ i as u64;
            // SAFETY: i is a page of the region.
            unsafe { std::ptr::read_volatile(region.word(page, i)) != expected }
        })
        .count()
}

/// Writes a file of `len` bytes whose every page starts with `FILE_TAG ^ index`.
fn write_tagged_file(path: &PathBuf, len: usize, page: usize) -> io::Result<(File, PathBuf)> {
    let mut file = File::options()
        .read(true)
        .write(true)
        .create_new(true)
        .open(path)?;
    let chunk_pages = 256;
    let mut buf = vec![0u8; chunk_pages * page];
    let pages = len / page;
    let mut done = 0;
    while done < pages {
        let n = chunk_pages.min(pages - done);
        for j in 0..n {
            let tag = FILE_TAG ^ (done + j) as u64;
            buf[j * page..j * page + 8].copy_from_slice(&tag.to_ne_bytes());
        }
        file.write_all(&buf[..n * page])?;
        done += n;
    }
    file.sync_all()?;
    Ok((file, path.clone()))
}

fn pipe() -> io::Result<(File, File)> {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors pipe2 returns.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    use std::os::fd::FromRawFd;
    // SAFETY: both descriptors are new and owned by nothing else.
    Ok(unsafe { (File::from_raw_fd(fds[0]), File::from_raw_fd(fds[1])) })
}

fn read_exact(fd: i32, buf: &mut [u8]) -> io::Result<()> {
    let mut done = 0;
    while done < buf.len() {
        // SAFETY: the destination is the unfilled rest of `buf`.
        let n = unsafe { libc::read(fd, buf[done..].as_mut_ptr().cast(), buf.len() - done) };
        if n < 0 {
            let err = io::Error::last_os_error();
            if err.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(err);
        }
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        done += n as usize;
    }
    Ok(())
}
