//! Starting a traced program: its standard input is a pipe the harness feeds
//! (a newline resumes a `getchar()`), its standard output a pseudo-terminal so
//! that C's stdio flushes each line as it does for a reader at a terminal (a
//! pipe would hold the output back until exit), its standard error the
//! harness's own. Two more pipes carry the checkpoint protocol for programs that
//! name their checkpoints (the SDK in `experiments/sdk/`); their descriptor
//! numbers are in [`CHANNEL_ENV`].

use std::ffi::OsString;
use std::fs::File;
use std::io::{ErrorKind, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

use crate::error::RunnerError;
use crate::probe::Probe;
use crate::runner::child::ChildGuard;

/// The environment variable that tells a program where the checkpoint protocol
/// runs: `W,R`, the descriptor it writes protocol lines to and the one it reads
/// `go` from. Absent outside the harness, where the SDK's calls return at once.
pub const CHANNEL_ENV: &str = "VMLAB_CHANNEL";

/// A started program and the harness's ends of its streams.
pub struct Launched {
    /// Owns the process group; dropping it kills whatever is left.
    pub guard: ChildGuard,
    /// Its standard input.
    pub stdin: File,
    /// The inode of that pipe, to recognise it behind /proc/PID/fd/0.
    pub stdin_inode: u64,
    /// The pseudo-terminal master its standard output writes to (non-blocking).
    pub output: File,
    /// Protocol lines from the program (blocking; read on a thread).
    pub protocol_in: File,
    /// Where `go` answers go.
    pub protocol_out: File,
}

fn os_error(what: &str, errno: nix::errno::Errno) -> RunnerError {
    let e = std::io::Error::from(errno);
    RunnerError::Io(std::io::Error::new(e.kind(), format!("{what}: {e}")))
}

fn pipe() -> Result<(OwnedFd, OwnedFd), RunnerError> {
    nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .map_err(|e| os_error("cannot create a pipe", e))
}

/// A pseudo-terminal with output processing and echo off (lines arrive as the
/// program wrote them): (master, slave).
fn pty() -> Result<(OwnedFd, OwnedFd), RunnerError> {
    use nix::fcntl::{fcntl, FcntlArg, FdFlag, OFlag};
    use nix::sys::termios::{self, LocalFlags, OutputFlags, SetArg};
    let pty =
        nix::pty::openpty(None, None).map_err(|e| os_error("cannot open a pseudo-terminal", e))?;
    // Best effort, as a terminal that keeps its settings still carries lines.
    if let Ok(mut tio) = termios::tcgetattr(&pty.slave) {
        tio.output_flags.remove(OutputFlags::OPOST);
        tio.local_flags
            .remove(LocalFlags::ECHO | LocalFlags::ICANON);
        let _ = termios::tcsetattr(&pty.slave, SetArg::TCSANOW, &tio);
    }
    let _ = fcntl(&pty.master, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC));
    if let Ok(flags) = fcntl(&pty.master, FcntlArg::F_GETFL) {
        let flags = OFlag::from_bits_retain(flags) | OFlag::O_NONBLOCK;
        let _ = fcntl(&pty.master, FcntlArg::F_SETFL(flags));
    }
    Ok((pty.master, pty.slave))
}

/// The inode of an open descriptor.
fn inode(fd: &OwnedFd) -> Result<u64, RunnerError> {
    nix::sys::stat::fstat(fd)
        .map(|st| st.st_ino)
        .map_err(|e| os_error("cannot stat a pipe", e))
}

/// Starts `program` with `args` as described at the top of this module.
pub fn launch(
    program: &OsString,
    args: &[OsString],
    no_aslr: bool,
) -> Result<Launched, RunnerError> {
    let (stdin_read, stdin_write) = pipe()?;
    let (master, slave) = pty()?;
    let (protocol_read, protocol_write) = pipe()?;
    let (go_read, go_write) = pipe()?;
    let (child_w, child_r) = (protocol_write.as_raw_fd(), go_read.as_raw_fd());
    let mut command = Command::new(program);
    command
        .args(args)
        .env(CHANNEL_ENV, format!("{child_w},{child_r}"))
        .stdin(Stdio::from(stdin_read))
        .stdout(Stdio::from(slave));
    // SAFETY: only fcntl and personality run between fork and exec; both are
    // async-signal-safe system calls, and nix's wrappers of them neither
    // allocate nor lock. `child_w` and `child_r` are the child's copies of the
    // protocol pipes' ends, open from fork until exec.
    unsafe {
        command.pre_exec(move || {
            use nix::fcntl::{fcntl, FcntlArg, FdFlag};
            use nix::sys::personality::{self, Persona};
            for fd in [child_w, child_r] {
                fcntl(
                    BorrowedFd::borrow_raw(fd),
                    FcntlArg::F_SETFD(FdFlag::empty()),
                )?;
            }
            if no_aslr {
                personality::set(Persona::ADDR_NO_RANDOMIZE)?;
            }
            Ok(())
        });
    }
    let stdin_inode = inode(&stdin_write)?;
    let guard = ChildGuard::spawn_command(command)?;
    // The child's ends close here (the command is gone), so end of output and
    // end of protocol are seen when the program and its children exit.
    drop(protocol_write);
    drop(go_read);
    Ok(Launched {
        guard,
        stdin: File::from(stdin_write),
        stdin_inode,
        output: File::from(master),
        protocol_in: File::from(protocol_read),
        protocol_out: File::from(go_write),
    })
}

/// Bytes written to the program's stdin that it has not read yet (FIONREAD).
pub fn unread_input(stdin: &File) -> usize {
    // nix has no FIONREAD function, so its ioctl macro declares one (unsafe, as
    // every ioctl is); the request number is libc's, as nix has no constant for it.
    nix::ioctl_read_bad!(fionread, libc::FIONREAD, std::ffi::c_int);
    let mut n: std::ffi::c_int = 0;
    // SAFETY: FIONREAD writes one int through the pointer, which points at a
    // live local of that type.
    match unsafe { fionread(stdin.as_raw_fd(), &mut n) } {
        Ok(_) => n.max(0) as usize,
        Err(_) => 0,
    }
}

/// Whether fd 0 of `pid` is the pipe with inode `inode`, as `probe` reads the link.
pub fn reads_our_pipe(probe: &dyn Probe, pid: i32, inode: u64) -> bool {
    probe
        .process_link(pid, "fd/0")
        .is_some_and(|target| target.to_string_lossy() == format!("pipe:[{inode}]"))
}

/// Passes the program's output through to `sink` and remembers its last line,
/// the default label of the next checkpoint.
#[derive(Debug, Default)]
pub struct OutputPump {
    partial: Vec<u8>,
    last_line: String,
    closed: bool,
}

impl OutputPump {
    /// Reads everything the program has written so far, without blocking.
    pub fn drain(&mut self, output: &mut File, sink: &mut dyn Write) {
        let mut buf = [0u8; 8192];
        while !self.closed {
            match output.read(&mut buf) {
                Ok(0) => self.closed = true,
                Ok(n) => {
                    let _ = sink.write_all(&buf[..n]);
                    self.take_lines(&buf[..n]);
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                // EIO: every writer of the terminal has closed it.
                Err(_) => self.closed = true,
            }
        }
        let _ = sink.flush();
    }

    fn take_lines(&mut self, bytes: &[u8]) {
        self.partial.extend_from_slice(bytes);
        while let Some(end) = self.partial.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.partial.drain(..=end).collect();
            let text = String::from_utf8_lossy(&line).trim().to_string();
            if !text.is_empty() {
                self.last_line = text;
            }
        }
    }

    /// Drains after giving the terminal up to 10 ms to hand over what the
    /// program wrote just before it began to wait (a pseudo-terminal passes
    /// output on from a kernel worker, not within the program's write).
    pub fn settle(&mut self, output: &mut File, sink: &mut dyn Write) {
        use nix::poll::{poll, PollFd, PollFlags};
        let _ = poll(&mut [PollFd::new(output.as_fd(), PollFlags::POLLIN)], 10u8);
        self.drain(output, sink);
    }

    /// Ends an unfinished line (a prompt) as the Enter a reader types would,
    /// on the terminal too, so the next label comes from what follows it.
    pub fn end_line(&mut self, sink: &mut dyn Write) {
        let partial = String::from_utf8_lossy(&self.partial).trim().to_string();
        if !self.partial.is_empty() {
            let _ = sink.write_all(b"\n");
            let _ = sink.flush();
        }
        if !partial.is_empty() {
            self.last_line = partial;
        }
        self.partial.clear();
    }

    /// The last line with text, or the unfinished one if it has text (a prompt
    /// such as `press enter: ` ends without a line break).
    pub fn last_line(&self) -> String {
        let partial = String::from_utf8_lossy(&self.partial).trim().to_string();
        if partial.is_empty() {
            self.last_line.clone()
        } else {
            partial
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_stdin_that_is_our_pipe_is_ours() {
        let probe = crate::probe::traced();
        assert!(reads_our_pipe(&probe, 29692, 45828));
        assert!(!reads_our_pipe(&probe, 29692, 45829), "another pipe");
        assert!(!reads_our_pipe(&probe, 29691, 45828), "/dev/null");
        assert!(!reads_our_pipe(&probe, 4, 45828), "no such process");
    }

    #[test]
    fn the_last_line_with_text_labels_the_checkpoint_and_a_prompt_counts() {
        let mut pump = OutputPump::default();
        pump.take_lines(b"pid 42\nmapped the file\n\n");
        assert_eq!(pump.last_line(), "mapped the file");
        pump.take_lines(b"press enter: ");
        assert_eq!(pump.last_line(), "press enter:");
        let mut terminal = Vec::new();
        pump.end_line(&mut terminal);
        assert_eq!(terminal, b"\n");
        assert_eq!(pump.last_line(), "press enter:");
        pump.take_lines(b"wrote it ");
        assert_eq!(pump.last_line(), "wrote it");
    }
}
