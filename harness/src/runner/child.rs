//! Ownership of an experiment's processes: whatever happens to the harness's
//! control flow (error, timeout, Ctrl-C), dropping the guard kills the experiment's
//! whole process group and reaps the main process.

use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, ChildStderr, ChildStdin, ChildStdout, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

use crate::error::RunnerError;

/// A running experiment in a process group of its own.
#[derive(Debug)]
pub struct ChildGuard {
    child: Child,
    reaped: bool,
}

/// The three pipes to a freshly spawned experiment.
#[derive(Debug)]
pub struct ChildPipes {
    /// Where `go` is written.
    pub stdin: ChildStdin,
    /// Where protocol lines come from.
    pub stdout: ChildStdout,
    /// Diagnostics.
    pub stderr: ChildStderr,
}

impl ChildGuard {
    /// Starts `bin` with `args` in a new process group. The child also gets
    /// SIGKILL should the harness die without cleaning up, so no experiment
    /// outlives it.
    pub fn spawn(bin: &Path, args: &[OsString]) -> Result<(ChildGuard, ChildPipes), RunnerError> {
        let mut command = Command::new(bin);
        command
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // SAFETY: the closure runs in the forked child before exec and calls only
        // async-signal-safe functions (setpgid, prctl).
        unsafe {
            command.pre_exec(own_group_killed_with_parent);
        }
        let mut child = command.spawn().map_err(|source| RunnerError::Spawn {
            bin: bin.to_path_buf(),
            source,
        })?;
        let pipes = match (child.stdin.take(), child.stdout.take(), child.stderr.take()) {
            (Some(stdin), Some(stdout), Some(stderr)) => ChildPipes {
                stdin,
                stdout,
                stderr,
            },
            _ => {
                return Err(RunnerError::Protocol {
                    expected: "piped stdin, stdout and stderr".into(),
                    got: format!("a child without them ({}:{})", file!(), line!()),
                })
            }
        };
        Ok((
            ChildGuard {
                child,
                reaped: false,
            },
            pipes,
        ))
    }

    /// The main process's pid (also the process group id).
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Waits up to `limit` for the main process to exit by itself.
    pub fn wait_for_exit(&mut self, limit: Duration) -> std::io::Result<Option<ExitStatus>> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait()? {
                self.reaped = true;
                return Ok(Some(status));
            }
            if Instant::now() >= deadline {
                return Ok(None);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        // The group may hold forked children even after the main process exited.
        let _ = killpg(Pid::from_raw(self.pid()), Signal::SIGKILL);
        if !self.reaped {
            let _ = self.child.wait();
        }
    }
}

impl ChildGuard {
    /// Starts a `command` whose standard streams the caller has already chosen,
    /// in a new process group and with the same death signal as
    /// [`ChildGuard::spawn`], for programs that do not speak the protocol on
    /// stdin and stdout (a traced program).
    pub fn spawn_command(mut command: Command) -> Result<ChildGuard, RunnerError> {
        let bin = Path::new(command.get_program()).to_path_buf();
        // SAFETY: as in `spawn`: only async-signal-safe calls between fork and exec.
        unsafe {
            command.pre_exec(own_group_killed_with_parent);
        }
        let child = command
            .spawn()
            .map_err(|source| RunnerError::Spawn { bin, source })?;
        Ok(ChildGuard {
            child,
            reaped: false,
        })
    }
}
impl ChildGuard {
    /// The main process's stderr, when the command piped it.
    pub fn take_stderr(&mut self) -> Option<ChildStderr> {
        self.child.stderr.take()
    }

    /// Waits for the main process to exit, waking as often as the runner's
    /// other waits to see whether the run was interrupted (Ctrl-C or SIGTERM
    /// marked it): then the guard is dropped, which kills the whole group, and
    /// the wait says [`RunnerError::Interrupted`]. For long steps that are not
    /// experiments (a build), so that an interrupted harness leaves nothing
    /// running.
    pub fn wait_unless_interrupted(mut self) -> Result<ExitStatus, RunnerError> {
        loop {
            if let Some(status) = self.child.try_wait()? {
                self.reaped = true;
                return Ok(status);
            }
            if super::interrupted() {
                return Err(RunnerError::Interrupted);
            }
            std::thread::sleep(super::POLL);
        }
    }
}

/// Run in the forked child between fork and exec: a process group of its own
/// (so the whole group can be killed) and SIGKILL should the harness die. Both
/// calls are async-signal-safe.
fn own_group_killed_with_parent() -> std::io::Result<()> {
    let this = nix::unistd::Pid::from_raw(0);
    nix::unistd::setpgid(this, this)?;
    nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL)?;
    Ok(())
}
