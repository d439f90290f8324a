//! Ctrl-C and SIGTERM for a command that has no handler of its own while one
//! long step runs (the matrix building its guest binaries): for the step's
//! length they mark the run as interrupted, as the session's handler does, so
//! that the step can stop what it started before the harness ends.

use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};

/// The signals the scope catches: Ctrl-C and a polite kill.
const CAUGHT: [Signal; 2] = [Signal::SIGINT, Signal::SIGTERM];

/// While alive, SIGINT and SIGTERM call [`super::request_interrupt`] instead
/// of ending the process; dropping it puts the earlier dispositions back.
#[derive(Debug)]
pub struct InterruptScope {
    earlier: Vec<(Signal, SigAction)>,
}

impl InterruptScope {
    /// Catches the signals from now on.
    pub fn catch() -> nix::Result<InterruptScope> {
        let action = SigAction::new(
            SigHandler::Handler(mark_interrupted),
            SaFlags::SA_RESTART,
            SigSet::empty(),
        );
        let mut scope = InterruptScope {
            earlier: Vec::new(),
        };
        for signal in CAUGHT {
            // SAFETY: the handler only stores to atomics, which is
            // async-signal-safe.
            let earlier = unsafe { sigaction(signal, &action) }?;
            scope.earlier.push((signal, earlier));
        }
        Ok(scope)
    }
}

impl Drop for InterruptScope {
    fn drop(&mut self) {
        for (signal, earlier) in &self.earlier {
            // SAFETY: puts back the disposition sigaction returned above.
            let _ = unsafe { sigaction(*signal, earlier) };
        }
    }
}

extern "C" fn mark_interrupted(_: libc::c_int) {
    super::request_interrupt();
}
