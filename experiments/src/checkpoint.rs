//! The experiment's side of the checkpoint protocol.
//!
//! Stopping at a checkpoint must not change what is measured, so nothing here
//! allocates: lines are formatted into a buffer on the stack and written with one
//! `write(2)` to fd 1, and the answer is read with `read(2)` from fd 0 into another.
//! Rust's `std::io::stdout()` is avoided on purpose: its line buffer is allocated
//! on first use and would show up as a heap fault in the first measured phase.
//!
//! The first checkpoint is preceded by a null phase (two snapshots with nothing in
//! between), so every run measures the noise the protocol itself adds.

use std::fmt::{self, Write};
use std::io;

use crate::note::NoteKey;
use crate::protocol;

/// Size of the stack buffer for one protocol line; longer lines are an error.
const LINE_CAPACITY: usize = 1024;

/// The main process's role name in every checkpoint.
pub const MAIN_ROLE: &str = "main";

/// A connection to the harness over the inherited stdin/stdout.
#[derive(Debug)]
pub struct Checkpoints {
    pid: i32,
    null_phase_done: bool,
}

impl Checkpoints {
    /// Announces the experiment and waits until the harness lets it start.
    pub fn connect() -> io::Result<Checkpoints> {
        let pid = std::process::id() as i32;
        let session = Checkpoints {
            pid,
            null_phase_done: false,
        };
        send(|w| protocol::encode_ready(w, pid, crate::pages::page_size() as u64))?;
        wait_for_go()?;
        Ok(session)
    }

    /// The experiment's own process id, as reported to the harness.
    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// Records a fact about the run (how the file was written, an address, ...).
    /// A typed key ([`crate::note::Note`]) takes only its own type of value.
    pub fn note<T: fmt::Display>(&mut self, key: impl NoteKey<T>, value: T) -> io::Result<()> {
        send(|w| protocol::encode_note(w, key.key(), format_args!("{value}")))
    }

    /// Asks the harness to follow an address range in every later snapshot.
    pub fn region(&mut self, name: &str, start: *const u8, len: usize) -> io::Result<()> {
        send(|w| protocol::encode_region(w, name, start as u64, len as u64))
    }

    /// Reports progress of preparation work. Never call this inside a measured phase.
    pub fn progress(&mut self, done: u64, total: u64, what: &str) -> io::Result<()> {
        send(|w| protocol::encode_progress(w, done, total, what))
    }

    /// Stops at a checkpoint with only this process, until the harness says go.
    pub fn checkpoint(&mut self, label: &str) -> io::Result<()> {
        let me = [(MAIN_ROLE, self.pid)];
        self.checkpoint_with(label, &me)
    }

    /// Stops at a checkpoint and has the harness snapshot all of `processes`
    /// (role, pid); they must be stopped too, by the experiment's own means.
    pub fn checkpoint_with(&mut self, label: &str, processes: &[(&str, i32)]) -> io::Result<()> {
        if !self.null_phase_done {
            self.null_phase_done = true;
            for begin in [true, false] {
                send(|w| protocol::encode_null_phase(w, begin, processes))?;
                wait_for_go()?;
            }
        }
        send(|w| protocol::encode_checkpoint(w, label, processes))?;
        wait_for_go()
    }

    /// Stops at a checkpoint where the harness snapshots this process in full and
    /// every child of it briefly, as one population named `role`: for more
    /// children than one protocol line can name. The children must be stopped too.
    pub fn checkpoint_children(&mut self, label: &str, role: &str) -> io::Result<()> {
        let me = [(MAIN_ROLE, self.pid)];
        if !self.null_phase_done {
            self.null_phase_done = true;
            for begin in [true, false] {
                send(|w| protocol::encode_null_phase(w, begin, &me))?;
                wait_for_go()?;
            }
        }
        send(|w| protocol::encode_checkpoint_children(w, label, role, &me))?;
        wait_for_go()
    }

    /// Tells the harness the experiment cannot run here, and why, then exits 0.
    pub fn skip(&mut self, reason: impl fmt::Display) -> ! {
        // The harness reads the reason; if it is gone there is nobody to tell.
        let _ = send(|w| protocol::encode_skip(w, format_args!("{reason}")));
        std::process::exit(0)
    }

    /// Tells the harness all checkpoints are done.
    pub fn done(self) -> io::Result<()> {
        send(protocol::encode_done)
    }
}

/// A fixed-size line buffer on the stack.
struct StackLine {
    bytes: [u8; LINE_CAPACITY],
    len: usize,
}

impl Write for StackLine {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len + s.len();
        if end > self.bytes.len() {
            return Err(fmt::Error);
        }
        self.bytes[self.len..end].copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

fn send(encode: impl FnOnce(&mut StackLine) -> fmt::Result) -> io::Result<()> {
    let mut line = StackLine {
        bytes: [0; LINE_CAPACITY],
        len: 0,
    };
    encode(&mut line).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "protocol line longer than the line buffer",
        )
    })?;
    write_all(libc::STDOUT_FILENO, &line.bytes[..line.len])
}

/// Writes all of `bytes` to `fd` with write(2), retrying on EINTR; allocates
/// nothing, so it may run inside a measured phase.
pub fn write_all(fd: libc::c_int, mut bytes: &[u8]) -> io::Result<()> {
    while !bytes.is_empty() {
        // SAFETY: `bytes` is a valid, initialised slice for the whole call.
        let n = unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) };
        if n < 0 {
            let err = io::Error::last_os_error();
            if err.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(err);
        }
        bytes = &bytes[n as usize..];
    }
    Ok(())
}

/// Blocks until the harness writes `go`. End of input means the harness is gone:
/// the experiment exits at once rather than run unobserved.
fn wait_for_go() -> io::Result<()> {
    let mut buf = [0u8; 64];
    let mut len = 0;
    loop {
        let mut byte = 0u8;
        // SAFETY: reading one byte into a valid local.
        let n = unsafe { libc::read(libc::STDIN_FILENO, (&mut byte as *mut u8).cast(), 1) };
        if n < 0 {
            let err = io::Error::last_os_error();
            if err.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(err);
        }
        if n == 0 {
            std::process::exit(3);
        }
        if byte == b'\n' {
            break;
        }
        if len < buf.len() {
            buf[len] = byte;
            len += 1;
        }
    }
    if &buf[..len] == protocol::GO.as_bytes() {
        Ok(())
    } else {
        Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "the harness answered something other than 'go'",
        ))
    }
}

#[cfg(test)]
mod line_tests {
    use super::*;
    use crate::catalog::shared_file::{self, checkpoint, role, MAX_SHARERS};

    #[test]
    fn the_longest_shared_file_checkpoint_fits_the_line_buffer() {
        // The largest pid Linux hands out (pid_max at most 2^22).
        let roles: Vec<String> = (1..=MAX_SHARERS).map(role::sharer).collect();
        let mut procs = vec![(shared_file::role::MAIN, 4_194_304)];
        procs.extend(roles.iter().map(|r| (r.as_str(), 4_194_304)));
        let mut line = StackLine {
            bytes: [0; LINE_CAPACITY],
            len: 0,
        };
        protocol::encode_checkpoint(&mut line, checkpoint::AFTER_ONE_EXITS, &procs).expect("fits");
    }
}
