//! A forked child that waits, for measurements that need a second process
//! to share the caller's pages (copy-on-write) without doing anything itself.

use std::io;

/// A forked child that blocks on a pipe until released, keeping the parent's
/// pages shared (so the parent's writes are copy-on-write faults).
pub struct WaitingChild {
    pid: libc::pid_t,
    release: libc::c_int,
}

impl WaitingChild {
    /// The child's process id.
    pub fn pid(&self) -> libc::pid_t {
        self.pid
    }

    /// Forks the child; it waits until this value is dropped.
    pub fn fork() -> io::Result<WaitingChild> {
        let mut fds = [0 as libc::c_int; 2];
        // SAFETY: `fds` has room for the two descriptors.
        if unsafe { libc::pipe(fds.as_mut_ptr()) } != 0 {
            return Err(io::Error::last_os_error());
        }
        let parent = std::process::id() as libc::pid_t;
        // SAFETY: the child only calls async-signal-safe functions (prctl, read, _exit).
        let pid = unsafe { libc::fork() };
        if pid < 0 {
            return Err(io::Error::last_os_error());
        }
        if pid == 0 {
            crate::die_with_parent(parent);
            let mut byte = 0u8;
            // SAFETY: the child reads one byte into a local, then exits without
            // running any of the parent's destructors.
            unsafe {
                libc::close(fds[1]);
                libc::read(fds[0], (&mut byte as *mut u8).cast(), 1);
                libc::_exit(0);
            }
        }
        // SAFETY: the parent does not read; closing its copy of the read end.
        unsafe { libc::close(fds[0]) };
        Ok(WaitingChild {
            pid,
            release: fds[1],
        })
    }
}

impl Drop for WaitingChild {
    fn drop(&mut self) {
        let mut status = 0;
        // SAFETY: closing our write end makes the child's read return; then reap it.
        unsafe {
            libc::close(self.release);
            libc::waitpid(self.pid, &mut status, 0);
        }
    }
}
