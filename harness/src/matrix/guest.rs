//! The guest side of the matrix: `harness guest-init` runs as PID 1 (`/init` in
//! the initramfs). It mounts what the experiments need, among them the ext4
//! disk for their files (loading the kernel's own virtio and ext4 modules from
//! the initramfs first, where they are modules), runs the experiments through
//! the same [`crate::session`] as `harness run --quick` (with [`Options`] built
//! from the kernel command line), sends results.json framed over the second
//! serial port, and powers the machine off. Whatever fails, it reports on the
//! console and powers off, so the host never waits for its timeout needlessly.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};

use super::console::{self, PROGRESS};
use crate::error::UsageError;
use crate::model::RunRecord;
use crate::options::Options;
use crate::selection::Selection;
use crate::system::{GuestInfo, Root};

/// Where the initramfs keeps the experiment binaries.
pub const BIN_DIR: &str = "/bin";
/// Where the guest's run writes its results folder.
const RESULTS_DIR: &str = "/results";
/// The serial port reserved for the framed results.
const RESULTS_PORT: &str = "/dev/ttyS1";
/// Where the initramfs keeps the modules to load, with their order file.
pub const MODULES_DIR: &str = "lib/modules/vmlab";
/// The files' disk (the first virtio block device) and where it is mounted.
const DISK: &str = "/dev/vda";
/// Where the ext4 disk is mounted for the experiments' files.
pub const FILES_DIR: &str = "/files";
/// The fallback for the experiments' files when the disk cannot be used.
const RAM_FILES_DIR: &str = "/tmp";
/// How long the disk may take to appear after its driver is loaded.
const DISK_WAIT: std::time::Duration = std::time::Duration::from_secs(10);
/// The console line that says why the files were not on the disk.
pub const FILES_IN_RAM: &str = "files in RAM:";

/// Runs the guest and powers off; returns only if powering off failed.
pub fn main() -> Result<()> {
    // Never power off a real machine: only PID 1 of a guest goes on.
    if std::process::id() != 1 {
        anyhow::bail!(
            "guest-init runs only as PID 1 (/init) inside a `harness matrix` virtual machine"
        );
    }
    // The console is a terminal, which would make the run draw animated
    // progress bars; through a pipe it prints one plain line per variant.
    let relay = StderrRelay::start();
    let outcome = run_guest();
    drop(relay);
    if let Err(e) = &outcome {
        say(&format!("error: {e:#}"));
    }
    power_off();
    outcome
}

/// The kernel command line the guest was booted with (/proc/cmdline): the
/// host passes the column's experiments and settings as `vmlab.*` parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelParams(String);

impl KernelParams {
    /// Reads /proc/cmdline under `root` (`/` in the guest).
    pub fn read_in(root: &Root) -> Result<KernelParams> {
        let path = root.path(CMDLINE);
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        Ok(KernelParams(text.trim().to_string()))
    }

    /// The value of the first `key=value` word, if any.
    pub fn get(&self, key: &str) -> Option<String> {
        self.0
            .split_whitespace()
            .find_map(|w| w.strip_prefix(key)?.strip_prefix('='))
            .map(str::to_string)
    }

    /// The whole line, trimmed.
    pub fn line(&self) -> &str {
        &self.0
    }
}

/// Where the kernel shows its command line.
const CMDLINE: &str = "/proc/cmdline";

/// Prints a progress line on the console (the host shows it).
fn say(text: &str) {
    eprintln!("{PROGRESS} {text}");
}

fn run_guest() -> Result<()> {
    mount_filesystems()?;
    super::fixed_address_space();
    let _ = nix::unistd::sethostname("vmlab-guest");
    let root = Root::live();
    let cmdline = KernelParams::read_in(&root)?;
    let param = |key: &str| cmdline.get(key);
    let experiments =
        param("vmlab.experiments").context("no vmlab.experiments= on the kernel command line")?;
    let (files_dir, in_ram) = match param("vmlab.disk") {
        Some(_) => match mount_disk() {
            Ok(()) => (FILES_DIR, None),
            Err(why) => (RAM_FILES_DIR, Some(why)),
        },
        None => (RAM_FILES_DIR, Some("no disk was attached".to_string())),
    };
    match &in_ram {
        Some(why) => say(&format!("{FILES_IN_RAM} {why}")),
        None => say(&format!("files on {DISK} (ext4) at {FILES_DIR}")),
    }
    // Sysctls asked for this column, set before the run detects its environment.
    let had = param("vmlab.sysctl")
        .map(|p| super::setup::apply_sysctls(&root, &p))
        .unwrap_or_default();
    for (name, value) in &had {
        say(&format!("sysctl {name} = {value}"));
    }
    let names: Vec<String> = experiments.split(',').map(str::to_string).collect();
    let mut options = Options::quick(Selection::parse_all(&names).map_err(UsageError)?);
    options.results_root = RESULTS_DIR.into();
    options.temp_dir = files_dir.into();
    if let Some(size) = param("vmlab.size") {
        let bytes = crate::cli::parse_run_size(&size)
            .map_err(|e| UsageError(format!("vmlab.size={size}: {e}")))?;
        options.size = Some(bytes);
    }
    // No other thread reads the environment (the stderr relay only copies
    // bytes), so changing it cannot race.
    std::env::set_var(crate::runner::locate::DIR_VARIABLE, BIN_DIR);
    std::env::set_var("PATH", BIN_DIR);
    std::env::set_var("HOME", "/tmp");
    quiet_stdout();
    say(&format!("running {experiments}"));
    // The run writes results even when an experiment fails; its exit status is
    // in the results, so it is not needed here.
    let _ = crate::session::run(&options)?;
    let latest = Path::new(RESULTS_DIR).join("latest").join("results.json");
    let text = std::fs::read_to_string(&latest)
        .with_context(|| format!("cannot read {}", latest.display()))?;
    let mut run: RunRecord = serde_json::from_str(&text)
        .with_context(|| format!("cannot parse {}", latest.display()))?;
    run.environment.virtual_machine = true;
    run.environment.guest = Some(GuestInfo {
        kernel_spec: String::new(),
        accelerator: String::new(),
        memory_bytes: param("vmlab.memory")
            .and_then(|m| m.parse().ok())
            .unwrap_or(0),
        thp_cmdline: param("transparent_hugepage").unwrap_or_default(),
        kernel_cmdline: cmdline.line().to_string(),
        asked: Default::default(),
        had,
    });
    if let Some(why) = &in_ram {
        super::files_not_on_disk(&mut run, why);
    }
    let payload = serde_json::to_vec(&run).context("cannot serialise the results")?;
    say(&format!("sending {} bytes of results", payload.len()));
    send(console::encode(&payload).as_bytes())?;
    say("done");
    Ok(())
}

fn mount_filesystems() -> Result<()> {
    let table: [(&str, &str, &str, bool); 6] = [
        ("proc", "/proc", "proc", true),
        ("sysfs", "/sys", "sysfs", true),
        ("devtmpfs", "/dev", "devtmpfs", true),
        ("tmpfs", "/tmp", "tmpfs", true),
        // POSIX shared memory (shm_open), as a distribution mounts it: the
        // shared-file experiment's shm variant maps a file there.
        ("tmpfs", "/dev/shm", "tmpfs", false),
        // fault_around_bytes lives here; the run records it when readable.
        ("debugfs", "/sys/kernel/debug", "debugfs", false),
    ];
    for (source, target, fstype, required) in table {
        // devtmpfs has no shm folder of its own.
        let _ = std::fs::create_dir_all(target);
        match mount(source, target, fstype) {
            Ok(()) => {}
            Err(e) if required => {
                return Err(e).with_context(|| format!("cannot mount {fstype} on {target}"))
            }
            Err(e) => say(&format!("{fstype} not mounted on {target}: {e}")),
        }
    }
    Ok(())
}

/// Loads the modules the initramfs carries (in the order the host wrote), waits
/// for the disk and mounts it; the error says which step failed and why.
fn mount_disk() -> Result<(), String> {
    let folder = Path::new("/").join(MODULES_DIR);
    if let Ok(order) = std::fs::read_to_string(folder.join(super::kernels::MODULE_ORDER)) {
        for line in order.lines() {
            let name = line.trim();
            if name.is_empty() || name.starts_with('#') {
                continue;
            }
            load_module(&folder.join(name)).map_err(|e| format!("cannot load {name}: {e}"))?;
        }
    }
    let deadline = std::time::Instant::now() + DISK_WAIT;
    while !Path::new(DISK).exists() {
        if std::time::Instant::now() > deadline {
            return Err(format!(
                "{DISK} did not appear within {} s (no virtio block driver in this kernel?)",
                DISK_WAIT.as_secs()
            ));
        }
        // The driver probes the device asynchronously; a short sleep between
        // looks, bounded by the deadline above.
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    mount(DISK, FILES_DIR, "ext4").map_err(|e| {
        format!("cannot mount {DISK} as ext4 on {FILES_DIR}: {e} (the kernel's reason is in console.log)")
    })
}

/// Loads one kernel module file with finit_module(2); one that is already
/// loaded is fine.
fn load_module(path: &Path) -> std::io::Result<()> {
    use nix::errno::Errno;
    use nix::kmod::{finit_module, ModuleInitFlags};
    let file = std::fs::File::open(path)?;
    match finit_module(&file, c"", ModuleInitFlags::empty()) {
        Ok(()) | Err(Errno::EEXIST) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Stderr through a pipe to the console, copied by a thread. Dropping it puts
/// the console back on stderr and waits until everything was copied.
struct StderrRelay {
    console: std::os::fd::OwnedFd,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl StderrRelay {
    fn start() -> Option<StderrRelay> {
        let console = nix::unistd::dup(std::io::stderr()).ok()?;
        let (read, write) = nix::unistd::pipe().ok()?;
        // Makes fd 2 a copy of the pipe's write end.
        nix::unistd::dup2_stderr(&write).ok()?;
        drop(write);
        let mut sink = std::fs::File::from(console.try_clone().ok()?);
        let mut source = std::fs::File::from(read);
        let thread = std::thread::spawn(move || {
            let _ = std::io::copy(&mut source, &mut sink);
        });
        Some(StderrRelay {
            console,
            thread: Some(thread),
        })
    }
}

impl Drop for StderrRelay {
    fn drop(&mut self) {
        // This closes the pipe's last write end, so the copying thread sees end
        // of file.
        let _ = nix::unistd::dup2_stderr(&self.console);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Sends the run's own stdout (the whole result table) to /dev/null: the console
/// keeps the kernel's messages and the per-variant progress lines on stderr,
/// which the host shows while the guest runs.
fn quiet_stdout() {
    if let Ok(null) = std::fs::OpenOptions::new().write(true).open("/dev/null") {
        // Rust's stdout handle keeps writing to fd 1 and is unaffected otherwise.
        let _ = nix::unistd::dup2_stdout(&null);
    }
}

/// mount(2) with no flags and no data.
fn mount(source: &str, target: &str, fstype: &str) -> std::io::Result<()> {
    use nix::mount::MsFlags;
    nix::mount::mount(
        Some(source),
        target,
        Some(fstype),
        MsFlags::empty(),
        None::<&str>,
    )
    .map_err(std::io::Error::from)
}

/// Writes the frame to the results port and waits until it has left the UART;
/// falls back to the console when the port is missing.
fn send(frame: &[u8]) -> Result<()> {
    match std::fs::OpenOptions::new().write(true).open(RESULTS_PORT) {
        Ok(mut port) => {
            port.write_all(frame)
                .with_context(|| format!("cannot write to {RESULTS_PORT}"))?;
            nix::sys::termios::tcdrain(&port)
                .with_context(|| format!("cannot drain {RESULTS_PORT}"))?;
        }
        Err(e) => {
            say(&format!(
                "{RESULTS_PORT} unavailable ({e}); sending results on the console"
            ));
            let mut out = std::io::stderr().lock();
            out.write_all(frame)
                .context("cannot write to the console")?;
        }
    }
    Ok(())
}

fn power_off() {
    nix::unistd::sync();
    // If this returns, PID 1 exits next, the kernel panics, and `panic=-1` with
    // QEMU's -no-reboot ends the virtual machine anyway.
    // File systems were synced above and the guest holds nothing else worth
    // saving. reboot(2) returns only when it failed.
    let Err(e) = nix::sys::reboot::reboot(nix::sys::reboot::RebootMode::RB_POWER_OFF);
    say(&format!("power-off failed: {}", std::io::Error::from(e)));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_columns_settings_are_read_from_the_kernel_command_line() {
        let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/guest");
        let params = KernelParams::read_in(&Root::at(fixture)).unwrap();
        use experiments::catalog::{lazy_alloc, tiny_malloc};
        assert_eq!(
            params.get("vmlab.experiments"),
            Some(format!(
                "{},{}",
                tiny_malloc::INFO.name,
                lazy_alloc::INFO.name
            ))
        );
        assert_eq!(params.get("vmlab.memory").as_deref(), Some("1073741824"));
        assert_eq!(params.get("vmlab.disk").as_deref(), Some("vda"));
        assert_eq!(
            params.get("vmlab.sysctl").as_deref(),
            Some("vm.overcommit_memory:2")
        );
        assert_eq!(params.get("transparent_hugepage").as_deref(), Some("never"));
        assert_eq!(params.get("vmlab.size"), None);
        assert!(
            params.line().ends_with("-- guest-init"),
            "{}",
            params.line()
        );
    }

    #[test]
    fn a_root_without_a_command_line_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let err = KernelParams::read_in(&Root::at(dir.path())).unwrap_err();
        assert!(format!("{err:#}").contains("proc/cmdline"), "{err:#}");
    }
}
