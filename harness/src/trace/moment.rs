//! Snapshots that say what the process was doing while it was read.
//!
//! `trace` holds only the processes that wait at the checkpoint; a process
//! that runs on meanwhile (a child only its parent waits for) is **not
//! stopped** for the snapshot: stopping it with SIGSTOP would be seen by its
//! parent (SIGCHLD, a shell's `waitpid(WUNTRACED)` reports it as stopped),
//! and its figures would still depend on how far it had got when the parent
//! reached its wait. Instead every process of a snapshot records its
//! `ProcessState`, judged from a look just before and just after it is read
//! ([`wait::state_over`]), and every view marks a running one. `watch` does
//! the same for the processes it watches.

use crate::error::ProbeError;
use crate::model::{Faults, ProcessRecord};
use crate::probe::{Probe, RawSnapshot};
use crate::runner::snapshot::{snapshot_process, Region};

use super::wait;

/// [`snapshot_process`], with the process's state while it was read;
/// `at_checkpoint` when the harness (or the SDK) holds it at this checkpoint.
pub fn snapshot_with_state(
    probe: &dyn Probe,
    role: &str,
    pid: i32,
    before: Option<Faults>,
    regions: &[Region<'_>],
    page_size: u64,
    at_checkpoint: bool,
) -> Result<(ProcessRecord, RawSnapshot), ProbeError> {
    let first = wait::glance(probe, pid);
    let (mut record, raw) = snapshot_process(probe, role, pid, before, regions, page_size)?;
    record.state = Some(wait::state_over(
        at_checkpoint,
        first,
        wait::glance(probe, pid),
    ));
    Ok((record, raw))
}
