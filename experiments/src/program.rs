//! Running the separately built programs that some experiments measure (built by
//! `build.rs` into `vmlab-programs/` next to the experiment binaries).
//!
//! `cargo install` installs binaries only, so an installed experiment has no
//! `vmlab-programs/` beside it: it skips the variants that need one, saying in
//! one line how to point it at a built copy (`VMLAB_PROGRAMS_DIR`).
//!
//! Those programs do not speak the protocol: each does its work and stops itself
//! with SIGSTOP. The experiment starts them, waits until they are stopped
//! (`waitpid(WUNTRACED)`, no polling), has the harness snapshot them, and lets
//! [`Stopped`] kill and reap them, whatever happens.

use std::io::{self, BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::catalog::launch_note;

/// Overrides where the programs are looked for.
pub const DIR_VARIABLE: &str = "VMLAB_PROGRAMS_DIR";

/// The folder next to the experiment binaries where build.rs puts the programs.
pub const FOLDER: &str = "vmlab-programs";

/// The folder of the built programs: `$VMLAB_PROGRAMS_DIR`, else `vmlab-programs/`
/// next to the running experiment binary.
pub fn programs_dir() -> io::Result<PathBuf> {
    if let Some(dir) = std::env::var_os(DIR_VARIABLE) {
        return Ok(PathBuf::from(dir));
    }
    let exe = std::env::current_exe()?;
    let dir = exe
        .parent()
        .ok_or_else(|| io::Error::other("the experiment binary has no parent folder"))?;
    Ok(dir.join(FOLDER))
}

/// The path of program `name`, or why it is not there (the build's status file),
/// as a reason to skip with.
pub fn locate(name: &str) -> Result<PathBuf, String> {
    let dir = programs_dir().map_err(|e| format!("cannot find the programs folder: {e}"))?;
    let path = dir.join(name);
    if path.is_file() {
        return Ok(path);
    }
    let status = std::fs::read_to_string(dir.join(format!("{name}.status")));
    Err(match status {
        Ok(text) => format!("program {name} could not be built here: {}", text.trim()),
        Err(_) => format!(
            "program {} is missing; build the programs with `cargo build --release -p \
             experiments` in the vmlab source and set {DIR_VARIABLE} to its \
             target/release/vmlab-programs",
            path.display()
        ),
    })
}

/// Finds the program `name` (skipping the experiment with the reason if it could
/// not be built), turns address-space randomisation off for the programs started
/// from here if asked, and records both for the harness (`aslr`, `program_path`,
/// from which the harness reads the file's ELF facts).
pub fn prepare(session: &mut crate::Checkpoints, name: &str, no_aslr: bool) -> io::Result<PathBuf> {
    let path = match locate(name) {
        Ok(path) => path,
        Err(reason) => session.skip(reason),
    };
    launch_from(session, path, no_aslr)
}

/// Like [`prepare`], but the program runs from a copy of its own in `dir` (the
/// run's temporary folder, which the harness removes after reading the copy's
/// ELF facts). A measurement of the program file's page cache needs that: other
/// runs on the machine exec, read or drop the shared built file at any moment,
/// while nothing but this run knows the copy. The copy is synced, so none of its
/// pages is dirty and all of them can be dropped.
pub fn prepare_private_copy(
    session: &mut crate::Checkpoints,
    name: &str,
    no_aslr: bool,
    dir: &Path,
) -> io::Result<PathBuf> {
    let built = match locate(name) {
        Ok(path) => path,
        Err(reason) => session.skip(reason),
    };
    let copy = dir.join(name);
    std::fs::copy(&built, &copy).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("cannot copy {} to {}: {e}", built.display(), copy.display()),
        )
    })?;
    std::fs::File::open(&copy)?.sync_all()?;
    launch_from(session, copy, no_aslr)
}

/// Turns randomisation off if asked and notes it and the program's path.
fn launch_from(
    session: &mut crate::Checkpoints,
    path: PathBuf,
    no_aslr: bool,
) -> io::Result<PathBuf> {
    if no_aslr {
        match disable_aslr_for_children() {
            Ok(()) => session.note(launch_note::ASLR, "off")?,
            Err(e) => session.note(
                launch_note::ASLR,
                format_args!("on (personality failed: {e})"),
            )?,
        }
    } else {
        session.note(launch_note::ASLR, "on")?;
    }
    session.note(launch_note::PROGRAM_PATH, path.display())?;
    Ok(path)
}

/// Turns address-space randomisation off for this process and every program it
/// starts from now on (personality ADDR_NO_RANDOMIZE is inherited across fork and
/// exec). Returns an error if the kernel refused.
pub fn disable_aslr_for_children() -> io::Result<()> {
    // SAFETY: personality(0xffffffff) only queries the current persona.
    let current = unsafe { libc::personality(0xffff_ffff) };
    if current < 0 {
        return Err(io::Error::last_os_error());
    }
    let wanted = (current | libc::ADDR_NO_RANDOMIZE) as libc::c_ulong;
    // SAFETY: sets a flag of this process's persona; it only affects later execs.
    if unsafe { libc::personality(wanted) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Processes that are stopped and are killed and reaped on drop. The first is
/// the one this process started; any others are its children.
#[derive(Debug)]
pub struct Stopped {
    pids: Vec<i32>,
}

impl Stopped {
    /// The process ids, the started process first.
    pub fn pids(&self) -> &[i32] {
        &self.pids
    }

    /// The started process.
    pub fn pid(&self) -> i32 {
        self.pids[0]
    }

    /// Lets the started process go on until it stops itself again.
    pub fn resume_until_stopped(&self) -> io::Result<()> {
        // SAFETY: sending a signal to our own stopped child.
        if unsafe { libc::kill(self.pid(), libc::SIGCONT) } < 0 {
            return Err(io::Error::last_os_error());
        }
        wait_stopped(self.pid())
    }
}

impl Drop for Stopped {
    fn drop(&mut self) {
        // Children of the started process first, so none is left stopped and orphaned.
        for &pid in self.pids.iter().rev() {
            // SAFETY: SIGKILL to a process we started (or its child, still stopped).
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        // The started process first; once it is reaped, its children have been
        // handed to us (start_group made this process their subreaper).
        for &pid in &self.pids {
            let mut status = 0;
            // SAFETY: reaps a child of ours into a valid local; for a pid that is
            // not our child it fails with ECHILD and does nothing.
            unsafe { libc::waitpid(pid, &mut status, 0) };
        }
    }
}

/// Starts `path` with `args`, an empty environment and no stdin, and waits until
/// it has stopped itself. Its stdout goes to /dev/null (ours is the protocol).
pub fn start(path: &Path, args: &[&str]) -> io::Result<Stopped> {
    let child = command(path, args).stdout(Stdio::null()).spawn()?;
    let stopped = Stopped {
        pids: vec![child.id() as i32],
    };
    wait_stopped(stopped.pid())?;
    Ok(stopped)
}

/// Starts `path` with `args`; it writes the pids of all its processes (its own
/// first) on one line once every one of them has stopped, and then stops too.
pub fn start_group(path: &Path, args: &[&str]) -> io::Result<Stopped> {
    // Orphans of the program come to us, not to init, so Drop can reap them.
    // SAFETY: prctl with an integer argument changes only this process's flag.
    if unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1 as libc::c_ulong) } < 0 {
        return Err(io::Error::last_os_error());
    }
    let mut child = command(path, args).stdout(Stdio::piped()).spawn()?;
    let mut stopped = Stopped {
        pids: vec![child.id() as i32],
    };
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| io::Error::other("the program's stdout was not captured"))?;
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line)?;
    let pids: Vec<i32> = line
        .split_whitespace()
        .map(|p| p.parse::<i32>())
        .collect::<Result<_, _>>()
        .map_err(|e| io::Error::other(format!("bad pid line {line:?} from the program: {e}")))?;
    if pids.first() != Some(&stopped.pid()) {
        return Err(io::Error::other(format!(
            "the program reported pids {line:?}, not starting with its own {}",
            stopped.pid()
        )));
    }
    stopped.pids = pids;
    wait_stopped(stopped.pid())?;
    Ok(stopped)
}

fn command(path: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(path);
    command
        .args(args)
        .env_clear()
        .stdin(Stdio::null())
        .stderr(Stdio::inherit());
    // No process_group(): the program stays in the experiment's process group,
    // which the harness kills, so it dies with the experiment; and should the
    // experiment be killed first (the harness SIGKILLed), its death signal
    // kills the program, which would otherwise stay stopped forever.
    let parent = std::process::id() as libc::pid_t;
    // SAFETY: the closure calls only async-signal-safe functions.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut command, move || {
            crate::die_with_parent(parent);
            Ok(())
        });
    }
    command
}

/// Blocks until our child `pid` stops; an error if it exited instead.
fn wait_stopped(pid: i32) -> io::Result<()> {
    loop {
        let mut status = 0;
        // SAFETY: waits for our own child into a valid local.
        let got = unsafe { libc::waitpid(pid, &mut status, libc::WUNTRACED) };
        if got < 0 {
            let err = io::Error::last_os_error();
            if err.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(err);
        }
        if libc::WIFSTOPPED(status) {
            return Ok(());
        }
        return Err(io::Error::other(format!(
            "program {pid} ended before stopping itself (wait status {status:#x})"
        )));
    }
}

/// Kernel counters of /proc/meminfo that grow with every process, in bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KernelCounters {
    /// AnonPages: anonymous pages mapped into user page tables.
    pub anon_pages_bytes: i64,
    /// PageTables: page-table pages.
    pub page_tables_bytes: i64,
    /// KernelStack: kernel stacks of all tasks.
    pub kernel_stack_bytes: i64,
    /// Slab: kernel object caches (task structs, VMAs, ...).
    pub slab_bytes: i64,
}

impl KernelCounters {
    /// Reads them now.
    pub fn read() -> io::Result<KernelCounters> {
        let text = std::fs::read_to_string("/proc/meminfo")?;
        let mut c = KernelCounters::default();
        for line in text.lines() {
            let mut words = line.split_whitespace();
            let (Some(key), Some(value)) = (words.next(), words.next()) else {
                continue;
            };
            let bytes = value.parse::<i64>().unwrap_or(0) * 1024;
            match key {
                "AnonPages:" => c.anon_pages_bytes = bytes,
                "PageTables:" => c.page_tables_bytes = bytes,
                "KernelStack:" => c.kernel_stack_bytes = bytes,
                "Slab:" => c.slab_bytes = bytes,
                _ => {}
            }
        }
        Ok(c)
    }

    /// `self - earlier`, counter by counter.
    pub fn since(&self, earlier: &KernelCounters) -> KernelCounters {
        KernelCounters {
            anon_pages_bytes: self.anon_pages_bytes - earlier.anon_pages_bytes,
            page_tables_bytes: self.page_tables_bytes - earlier.page_tables_bytes,
            kernel_stack_bytes: self.kernel_stack_bytes - earlier.kernel_stack_bytes,
            slab_bytes: self.slab_bytes - earlier.slab_bytes,
        }
    }
}

/// Reads what `Display` writes: four `name=bytes` pairs, one per counter.
impl std::str::FromStr for KernelCounters {
    type Err = String;

    fn from_str(text: &str) -> Result<KernelCounters, String> {
        let mut c = KernelCounters::default();
        // One bit per counter, so that a name given twice does not stand in
        // for one left out.
        let mut seen = 0u8;
        for pair in text.split_whitespace() {
            let (name, value) = pair
                .split_once('=')
                .ok_or_else(|| format!("'{pair}' is not name=bytes"))?;
            let bytes = value
                .parse::<i64>()
                .map_err(|_| format!("'{value}' of {name} is not a whole number"))?;
            let (bit, field) = match name {
                "AnonPages" => (1, &mut c.anon_pages_bytes),
                "PageTables" => (2, &mut c.page_tables_bytes),
                "KernelStack" => (4, &mut c.kernel_stack_bytes),
                "Slab" => (8, &mut c.slab_bytes),
                _ => return Err(format!("'{name}' is not a counter of these")),
            };
            if seen & bit != 0 {
                return Err(format!("'{text}' gives {name} twice"));
            }
            *field = bytes;
            seen |= bit;
        }
        match seen {
            0b1111 => Ok(c),
            _ => Err(format!("'{text}' does not have the four counters")),
        }
    }
}

impl std::fmt::Display for KernelCounters {
    /// `AnonPages=... PageTables=... KernelStack=... Slab=...`, signed bytes: the
    /// form the harness parses from notes.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "AnonPages={} PageTables={} KernelStack={} Slab={}",
            self.anon_pages_bytes, self.page_tables_bytes, self.kernel_stack_bytes, self.slab_bytes
        )
    }
}

#[cfg(test)]
mod tests {
    use super::KernelCounters;

    #[test]
    fn kernel_counters_read_back_as_they_were_written() {
        let counters = KernelCounters {
            anon_pages_bytes: 4096,
            page_tables_bytes: -8192,
            kernel_stack_bytes: 16384,
            slab_bytes: 0,
        };
        let text = counters.to_string();
        assert_eq!(
            text,
            "AnonPages=4096 PageTables=-8192 KernelStack=16384 Slab=0"
        );
        assert_eq!(text.parse::<KernelCounters>(), Ok(counters));
        assert!("AnonPages=1 PageTables=2"
            .parse::<KernelCounters>()
            .is_err());
        assert!("AnonPages=x PageTables=2 KernelStack=3 Slab=4"
            .parse::<KernelCounters>()
            .is_err());
        let twice = "AnonPages=1 AnonPages=2 AnonPages=3 AnonPages=4".parse::<KernelCounters>();
        assert!(twice.is_err_and(|e| e.contains("AnonPages twice")));
    }
}
