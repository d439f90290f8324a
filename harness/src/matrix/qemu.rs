//! Booting one kernel under QEMU: the command line, KVM detection, the static
//! guest binaries, and a guest that is killed when it overstays its timeout.
//!
//! Serial port 0 is the guest's console (kernel messages and the guest's
//! progress lines, captured through a pipe); serial port 1 is used only for the
//! framed results, so the kernel's messages cannot interleave with them.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::error::Interrupted;
use crate::runner::child::ChildGuard;
use crate::runner::interrupt::InterruptScope;

/// The QEMU binary the matrix boots kernels with.
pub const QEMU: &str = "qemu-system-x86_64";

/// How the guest's CPU is provided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accelerator {
    /// Hardware virtualisation through /dev/kvm.
    Kvm,
    /// QEMU's software emulation (TCG): slower, works everywhere.
    Tcg,
}

impl Accelerator {
    /// The name QEMU and the results use (`kvm`, `tcg`).
    pub fn name(self) -> &'static str {
        match self {
            Accelerator::Kvm => "kvm",
            Accelerator::Tcg => "tcg",
        }
    }
}

/// True if `tool` is an executable file in a folder of `PATH`.
pub fn on_path(tool: &str) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|dir| {
            std::fs::metadata(dir.join(tool))
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
    })
}

/// Checks that QEMU is installed, with the command that installs it.
pub fn require_qemu() -> Result<()> {
    if !on_path(QEMU) {
        bail!(
            "{QEMU} not found; install it with `apt-get install qemu-system-x86` \
             (or run only `--kernel host`)"
        );
    }
    Ok(())
}

/// How long a KVM trial boot may take to print the kernel's first line.
const KVM_TRIAL: Duration = Duration::from_secs(5);

/// The CPU models tried under KVM, in order: the host's own, then the host's
/// without the ARCH_CAPABILITIES MSR (0x10a), which some nested hypervisors
/// refuse to set ("failed to set MSR 0x10a").
const KVM_CPUS: [&str; 2] = ["host", "host,-arch-capabilities"];
/// The CPU model under software emulation: everything TCG can emulate.
const TCG_CPU: &str = "max";

/// How guests will run: the accelerator and the CPU model QEMU is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Machine {
    /// KVM or TCG.
    pub accelerator: Accelerator,
    /// The `-cpu` model.
    pub cpu: &'static str,
}

/// Detects whether KVM works by trying it: /dev/kvm must open and create a
/// virtual machine, and then `kernel` must actually start under KVM (print its
/// banner) within a few seconds, since nested virtualisation can accept a VM and
/// still fail or hang at the first instruction. Any failure means software
/// emulation; the text says which and why, in QEMU's own words where it said any.
pub fn detect_accelerator(kernel: &Path) -> (Machine, String) {
    let tcg = |why: String| {
        (
            Machine {
                accelerator: Accelerator::Tcg,
                cpu: TCG_CPU,
            },
            format!("software emulation (TCG): {why}"),
        )
    };
    if let Err(why) = kvm_device_works() {
        return tcg(why);
    }
    let mut failures = Vec::new();
    for cpu in KVM_CPUS {
        match kvm_trial_boot(kernel, cpu) {
            Ok(()) => {
                return (
                    Machine {
                        accelerator: Accelerator::Kvm,
                        cpu,
                    },
                    format!("KVM (hardware virtualisation, -cpu {cpu})"),
                )
            }
            Err(why) => failures.push(format!("-cpu {cpu}: {why}")),
        }
    }
    tcg(format!(
        "KVM is present but no trial boot worked ({})",
        failures.join("; ")
    ))
}

fn kvm_device_works() -> Result<(), String> {
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    // nix has no KVM functions, so its ioctl macros declare these two (unsafe,
    // as every ioctl is): KVM_GET_API_VERSION is _IO(0xAE, 0x00) and
    // KVM_CREATE_VM is _IO(0xAE, 0x01), each given an int argument. Not
    // `ioctl_none!` for the first: it passes no argument, so the kernel sees
    // whatever the register holds and refuses anything but 0 with EINVAL.
    nix::ioctl_write_int_bad!(kvm_get_api_version, nix::request_code_none!(0xAE, 0x00));
    nix::ioctl_write_int_bad!(kvm_create_vm, nix::request_code_none!(0xAE, 0x01));
    let kvm = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/kvm")
        .map_err(|e| format!("cannot open /dev/kvm: {e}"))?;
    // SAFETY: KVM_GET_API_VERSION takes 0 as its argument and only returns a
    // number. A failed call reads as -1, what ioctl(2) returns.
    let version = unsafe { kvm_get_api_version(kvm.as_raw_fd(), 0) }.unwrap_or(-1);
    if version != 12 {
        return Err(format!("/dev/kvm reports API version {version}, not 12"));
    }
    // SAFETY: KVM_CREATE_VM with machine type 0 returns a new file descriptor
    // or fails; it reads no memory of ours.
    let vm = unsafe { kvm_create_vm(kvm.as_raw_fd(), 0) }.map_err(|e| {
        format!(
            "KVM cannot create a virtual machine here: {}",
            std::io::Error::from(e)
        )
    })?;
    // SAFETY: `vm` is a descriptor this function just received and owns;
    // dropping it closes it.
    drop(unsafe { OwnedFd::from_raw_fd(vm) });
    Ok(())
}

/// Boots `kernel` under KVM with CPU model `cpu`, without an initramfs, until
/// its banner appears. A failure carries QEMU's own error lines.
fn kvm_trial_boot(kernel: &Path, cpu: &str) -> Result<(), String> {
    let mut command = Command::new(QEMU);
    command
        .args([
            "-nodefaults",
            "-no-user-config",
            "-no-reboot",
            "-display",
            "none",
        ])
        .args(["-accel", "kvm", "-cpu", cpu, "-m", "128M", "-kernel"])
        .arg(kernel)
        .args(["-append", "console=ttyS0 panic=-1", "-serial", "stdio"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command
        .spawn()
        .map_err(|e| format!("cannot start {QEMU}: {e}"))?;
    let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
        return Err("QEMU's output is not a pipe".into());
    };
    let mut guard = QemuGuard(child);
    let (tx, rx) = mpsc::channel::<Line>();
    let err_tx = tx.clone();
    std::thread::spawn(move || forward_lines(stdout, Stream::Console, &tx));
    std::thread::spawn(move || forward_lines(stderr, Stream::Qemu, &err_tx));
    let deadline = Instant::now() + KVM_TRIAL;
    let mut qemu = QemuMessages::default();
    let mut open_streams = 2;
    while open_streams > 0 {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(Line::Text(Stream::Console, line)) => {
                if String::from_utf8_lossy(&line).contains("Linux version") {
                    return Ok(());
                }
            }
            Ok(Line::Text(Stream::Qemu, line)) => qemu.push(&line),
            Ok(Line::End) => open_streams -= 1,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                return Err(format!(
                    "no kernel banner within {} s; {}",
                    KVM_TRIAL.as_secs(),
                    qemu.summary()
                ))
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    let status = guard
        .0
        .wait()
        .map(|s| s.to_string())
        .unwrap_or_else(|e| format!("unknown status ({e})"));
    Err(format!(
        "QEMU ended ({status}) before the kernel's banner; {}",
        qemu.summary()
    ))
}

/// What QEMU printed on its standard error (its own messages, never the
/// guest's), kept for the reports of failed boots.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QemuMessages {
    lines: Vec<String>,
}

impl QemuMessages {
    /// At most this many lines are kept, the first ones: QEMU's error comes
    /// first, details (such as a failed assertion) after it.
    const KEPT: usize = 4;

    fn push(&mut self, raw: &[u8]) {
        let line = String::from_utf8_lossy(raw).trim().to_string();
        // "terminating on signal" is QEMU hearing the harness's own kill.
        let noise = line.is_empty() || line.contains("terminating on signal");
        if !noise && self.lines.len() < Self::KEPT {
            self.lines.push(line);
        }
    }

    /// `QEMU said: ...`, or that it printed nothing, for a failure message.
    pub fn summary(&self) -> String {
        if self.lines.is_empty() {
            "QEMU printed no error".into()
        } else {
            format!("QEMU said: {}", self.lines.join(" / "))
        }
    }
}

/// The statically linked programs that go into the initramfs.
#[derive(Debug, Clone)]
pub struct GuestBinaries {
    /// The harness (runs as /init).
    pub harness: PathBuf,
    /// Experiment binaries by name.
    pub experiments: Vec<(String, PathBuf)>,
    /// Other files the guest needs, by their path inside it (no leading slash):
    /// the programs some experiments build several ways (`bin/vmlab-programs/`)
    /// and, for the dynamically linked ones among them, the host's loader and C
    /// library at the paths they are looked for.
    pub support_files: Vec<(String, PathBuf)>,
}

impl GuestBinaries {
    /// The bytes of every file, about what the initramfs holds in the guest's RAM.
    pub fn total_bytes(&self) -> u64 {
        std::iter::once(&self.harness)
            .chain(self.experiments.iter().map(|(_, p)| p))
            .chain(self.support_files.iter().map(|(_, p)| p))
            .filter_map(|p| std::fs::metadata(p).ok())
            .map(|m| m.len())
            .sum()
    }
}

/// The folder of separately built programs, next to the experiment binaries.
const PROGRAMS_DIR: &str = "vmlab-programs";

/// The dynamic loader and the libraries the dynamically linked programs use,
/// as (path in the guest, path on the host).
const RUNTIME_LIBRARIES: &[(&str, &str)] = &[
    ("lib64/ld-linux-x86-64.so.2", "/lib64/ld-linux-x86-64.so.2"),
    (
        "lib/x86_64-linux-gnu/libc.so.6",
        "/lib/x86_64-linux-gnu/libc.so.6",
    ),
    (
        "lib/x86_64-linux-gnu/libm.so.6",
        "/lib/x86_64-linux-gnu/libm.so.6",
    ),
    (
        "lib/x86_64-linux-gnu/libgcc_s.so.1",
        "/lib/x86_64-linux-gnu/libgcc_s.so.1",
    ),
];

/// The separately built programs in `dir` (with their build status files) and
/// the runtime libraries that exist on this host. Missing pieces are left out:
/// the experiments then skip those variants with the reason, as on any machine.
fn support_files(dir: &Path) -> Vec<(String, PathBuf)> {
    let mut files: Vec<(String, PathBuf)> = std::fs::read_dir(dir.join(PROGRAMS_DIR))
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
                .map(|e| {
                    (
                        format!("bin/{PROGRAMS_DIR}/{}", e.file_name().to_string_lossy()),
                        e.path(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files.extend(
        RUNTIME_LIBRARIES
            .iter()
            .filter(|(_, host)| Path::new(host).is_file())
            .map(|(guest, host)| (guest.to_string(), PathBuf::from(host))),
    );
    files
}

/// Overrides where the static guest binaries are taken from (no build).
pub const GUEST_BIN_VARIABLE: &str = "VMLAB_GUEST_BIN_DIR";

/// Builds (or finds) statically linked harness and experiment binaries. Under
/// cargo they are built with `+crt-static` for x86_64-unknown-linux-gnu into
/// `<cache>/guest-target/<checkout>`, a separate target folder, so the normal
/// build is not disturbed; the build is incremental, so later runs cost
/// nothing. One folder per checkout (named by a hash of its path), so that two
/// checkouts on one machine never boot each other's binaries.
pub fn guest_binaries(names: &[String], cache: &Path) -> Result<GuestBinaries> {
    let dir = if let Some(dir) = std::env::var_os(GUEST_BIN_VARIABLE) {
        PathBuf::from(dir)
    } else {
        let cargo = std::env::var_os("CARGO")
            .map(PathBuf::from)
            .or_else(|| on_path("cargo").then(|| "cargo".into()));
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .context("the harness crate has no parent folder")?;
        let manifest = workspace.join("Cargo.toml");
        let (Some(cargo), true) = (cargo, manifest.is_file()) else {
            bail!(
                "no statically linked guest binaries: build them with \
                 `RUSTFLAGS='-C target-feature=+crt-static' cargo build --release --target x86_64-unknown-linux-gnu --bins` \
                 and point {GUEST_BIN_VARIABLE} at the folder that holds them"
            );
        };
        let static_libc = Path::new("/usr/lib/x86_64-linux-gnu/libc.a");
        if !static_libc.is_file() {
            bail!(
                "{} not found: statically linked guest binaries need glibc's static library; \
                 install it with `apt-get install libc6-dev`",
                static_libc.display()
            );
        }
        let checkout = super::console::fnv1a64(workspace.as_os_str().as_encoded_bytes());
        let target_dir = cache.join("guest-target").join(format!("{checkout:016x}"));
        eprintln!(
            "building statically linked guest binaries in {} (the first time takes a few minutes)",
            target_dir.display()
        );
        let mut command = Command::new(&cargo);
        command
            .args([
                "build",
                "--release",
                "--target",
                "x86_64-unknown-linux-gnu",
                "--bins",
            ])
            .args(["-p", "harness", "-p", "experiments", "--manifest-path"])
            .arg(&manifest)
            .env("CARGO_TARGET_DIR", &target_dir)
            .env_remove("CARGO_ENCODED_RUSTFLAGS")
            .env("RUSTFLAGS", "-C target-feature=+crt-static");
        let status = build_to_end(command, &cargo)?;
        if !status.success() {
            bail!(
                "building the static guest binaries failed ({status}); glibc's static library is \
                 needed: `apt-get install libc6-dev`"
            );
        }
        target_dir.join("x86_64-unknown-linux-gnu").join("release")
    };
    let find = |name: &str| {
        let path = dir.join(name);
        if path.is_file() {
            Ok(path)
        } else {
            Err(anyhow::anyhow!(
                "static guest binary {} not found",
                path.display()
            ))
        }
    };
    Ok(GuestBinaries {
        support_files: support_files(&dir),
        harness: find("harness")?,
        experiments: names
            .iter()
            .map(|n| Ok((n.clone(), find(&experiments::catalog::binary_name(n))?)))
            .collect::<Result<_>>()?,
    })
}

/// Runs the guest build to its end in a process group of its own. Ctrl-C or
/// SIGTERM meanwhile kills the whole build (cargo and its compilers) and ends
/// the matrix as interrupted, instead of leaving the build running on its own.
fn build_to_end(command: Command, cargo: &Path) -> Result<std::process::ExitStatus> {
    let scope = InterruptScope::catch().context("cannot catch Ctrl-C during the build")?;
    let build = ChildGuard::spawn_command(command)
        .with_context(|| format!("cannot run {}", cargo.display()))?;
    let waited = build.wait_unless_interrupted();
    drop(scope);
    // A signal the scope caught, even one after the build ended, ends the
    // matrix as it would have ended it without the scope.
    if crate::runner::interrupted() {
        return Err(Interrupted.into());
    }
    waited.with_context(|| format!("cannot wait for {}", cargo.display()))
}

/// One guest to boot.
#[derive(Debug, Clone)]
pub struct GuestSpec {
    /// The kernel image.
    pub kernel: PathBuf,
    /// The initramfs archive.
    pub initramfs: PathBuf,
    /// Guest memory in bytes.
    pub memory_bytes: u64,
    /// `transparent_hugepage=` for the kernel command line.
    pub thp: String,
    /// Extra `vmlab.*` parameters the guest's init reads from /proc/cmdline.
    pub params: Vec<(String, String)>,
    /// Hardware or software virtualisation, and the CPU model.
    pub machine: Machine,
    /// Longest time from start to power-off.
    pub timeout: Duration,
    /// Where the console (serial port 0) is written.
    pub console_log: PathBuf,
    /// Where serial port 1 (the framed results) is written.
    pub results_port: PathBuf,
    /// A raw disk image attached as the guest's virtio disk, if any.
    pub disk: Option<PathBuf>,
}

impl GuestSpec {
    /// The kernel command line.
    pub fn cmdline(&self) -> String {
        let mut line = format!(
            "console=ttyS0 panic=-1 loglevel=4 rdinit=/init transparent_hugepage={}",
            self.thp
        );
        for (key, value) in &self.params {
            line.push_str(&format!(" vmlab.{key}={value}"));
        }
        // Everything after `--` becomes init's arguments: the harness as /init
        // runs its hidden guest subcommand.
        line.push_str(" -- guest-init");
        line
    }

    /// The QEMU arguments.
    pub fn qemu_args(&self) -> Vec<String> {
        let mut args: Vec<String> = vec![
            "-nodefaults".into(),
            "-no-user-config".into(),
            "-no-reboot".into(),
            "-display".into(),
            "none".into(),
            "-accel".into(),
            self.machine.accelerator.name().into(),
            "-cpu".into(),
            self.machine.cpu.into(),
            "-smp".into(),
            "1".into(),
            "-m".into(),
            format!("{}M", self.memory_bytes >> 20),
            "-kernel".into(),
            self.kernel.display().to_string(),
            "-initrd".into(),
            self.initramfs.display().to_string(),
            "-append".into(),
            self.cmdline(),
            "-serial".into(),
            "stdio".into(),
            "-serial".into(),
            format!("file:{}", self.results_port.display()),
        ];
        if let Some(disk) = &self.disk {
            // The files' disk: a raw ext4 image on a virtio block device. No
            // host cache flushes are waited for: the image is thrown away.
            args.extend([
                "-drive".into(),
                format!("file={},format=raw,if=virtio,cache=unsafe", disk.display()),
            ]);
        }
        args
    }
}

/// How a guest ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GuestEnd {
    /// QEMU exited (the guest powered off, or panicked and `-no-reboot` ended it).
    Exited(String),
    /// It ran past its timeout and was killed.
    TimedOut(Duration),
}

/// A finished boot: how it ended and what QEMU itself said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Booted {
    /// Exit or timeout.
    pub end: GuestEnd,
    /// QEMU's standard error.
    pub qemu: QemuMessages,
}

/// Kills QEMU when dropped, whatever the caller's control flow does.
struct QemuGuard(Child);

impl Drop for QemuGuard {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            let _ = self.0.kill();
        }
        let _ = self.0.wait();
    }
}

/// Boots the guest and waits for it to end. Every console line is written to
/// the console log; lines with the guest's progress prefix also go to
/// `progress`. QEMU's own messages (its standard error) are also kept apart, so
/// that a failure can quote them. The caller reads the captures.
pub fn boot(spec: &GuestSpec, progress: &dyn Fn(&str)) -> Result<Booted> {
    let mut command = Command::new(QEMU);
    command
        .args(spec.qemu_args())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // SAFETY: runs in the forked child before exec and only calls prctl, which is
    // async-signal-safe; it makes QEMU die with the harness.
    unsafe {
        command.pre_exec(|| {
            nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL)?;
            Ok(())
        });
    }
    let mut child = command
        .spawn()
        .with_context(|| format!("cannot start {QEMU}"))?;
    let stdout = child.stdout.take().context("QEMU's stdout is not a pipe")?;
    let stderr = child.stderr.take().context("QEMU's stderr is not a pipe")?;
    let mut guard = QemuGuard(child);
    let mut log = std::fs::File::create(&spec.console_log)
        .with_context(|| format!("cannot create {}", spec.console_log.display()))?;

    let (tx, rx) = mpsc::channel::<Line>();
    let err_tx = tx.clone();
    std::thread::spawn(move || forward_lines(stdout, Stream::Console, &tx));
    std::thread::spawn(move || forward_lines(stderr, Stream::Qemu, &err_tx));
    let deadline = Instant::now() + spec.timeout;
    let mut qemu = QemuMessages::default();
    let mut open_streams = 2;
    while open_streams > 0 {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(Line::Text(stream, line)) => {
                log.write_all(&line)
                    .with_context(|| format!("cannot write {}", spec.console_log.display()))?;
                if stream == Stream::Qemu {
                    qemu.push(&line);
                } else if let Some(what) = progress_text(&String::from_utf8_lossy(&line)) {
                    progress(what);
                }
            }
            Ok(Line::End) => open_streams -= 1,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                drop(guard);
                return Ok(Booted {
                    end: GuestEnd::TimedOut(spec.timeout),
                    qemu,
                });
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    // Both pipes closed: QEMU has exited or is about to.
    let status = guard.0.wait().context("cannot wait for QEMU")?;
    Ok(Booted {
        end: GuestEnd::Exited(status.to_string()),
        qemu,
    })
}

/// What a console line tells the user: the guest's own lines (its progress
/// prefix stripped, or the run's per-variant lines), not the kernel's messages,
/// and not the run's "results written to" line, whose path is inside the guest
/// and means nothing on the host (the host says where it wrote them).
fn progress_text(line: &str) -> Option<&str> {
    let line = line.trim();
    if let Some(at) = line.find(super::console::PROGRESS) {
        return Some(line[at + super::console::PROGRESS.len()..].trim());
    }
    let kernel =
        line.starts_with('[') || line.is_empty() || line.starts_with(super::console::MARKER);
    let guest_path = line.starts_with("results written to ");
    (!kernel && !guest_path).then_some(line)
}

/// Which of QEMU's outputs a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stream {
    /// Standard output: the guest's serial console.
    Console,
    /// Standard error: QEMU's own messages.
    Qemu,
}

/// One message from a reading thread.
enum Line {
    /// A line (with its newline) of one stream.
    Text(Stream, Vec<u8>),
    /// One stream reached its end.
    End,
}

/// Sends each line read from `from` (with its newline), then [`Line::End`].
fn forward_lines(from: impl std::io::Read, stream: Stream, to: &mpsc::Sender<Line>) {
    let mut reader = BufReader::new(from);
    loop {
        let mut line = Vec::new();
        match reader.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) => {
                if to.send(Line::Text(stream, line)).is_err() {
                    return;
                }
            }
        }
    }
    let _ = to.send(Line::End);
}

/// The last `lines` lines of a console capture, for reports of hung or
/// crashed guests.
pub fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().map(|l| l.trim_end_matches('\r')).collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_fixes_thp_and_names_the_console() {
        let spec = GuestSpec {
            kernel: "/k/vmlinuz".into(),
            initramfs: "/k/init.cpio".into(),
            memory_bytes: 512 << 20,
            thp: "never".into(),
            params: vec![("experiments".into(), "an-experiment".into())],
            machine: Machine {
                accelerator: Accelerator::Tcg,
                cpu: TCG_CPU,
            },
            timeout: Duration::from_secs(60),
            console_log: "/r/console.log".into(),
            results_port: "/r/port1".into(),
            disk: Some("/r/files.ext4".into()),
        };
        let args = spec.qemu_args();
        let line = spec.cmdline();
        assert!(line.contains("transparent_hugepage=never"), "{line}");
        assert!(line.contains("vmlab.experiments=an-experiment"), "{line}");
        assert!(args.windows(2).any(|w| w == ["-m", "512M"]), "{args:?}");
        assert!(args.windows(2).any(|w| w == ["-accel", "tcg"]), "{args:?}");
        assert!(args.contains(&"file:/r/port1".to_string()), "{args:?}");
        assert!(
            args.windows(2)
                .any(|w| w[0] == "-drive"
                    && w[1].starts_with("file=/r/files.ext4,format=raw,if=virtio")),
            "{args:?}"
        );
    }

    #[test]
    fn qemus_own_error_lines_are_quoted_without_its_kill_notice() {
        let mut said = QemuMessages::default();
        assert_eq!(said.summary(), "QEMU printed no error");
        said.push(b"qemu-system-x86_64: error: failed to set MSR 0x10a to 0x69\n");
        said.push(b"qemu-system-x86_64: terminating on signal 9 from pid 7\n");
        assert_eq!(
            said.summary(),
            "QEMU said: qemu-system-x86_64: error: failed to set MSR 0x10a to 0x69"
        );
    }

    #[test]
    fn progress_shows_the_guests_lines_not_the_kernels() {
        assert_eq!(
            progress_text("vmlab-guest: running an-experiment\r\n"),
            Some("running an-experiment")
        );
        assert_eq!(
            progress_text("an-experiment/warm ... ok (1.0 s)\n"),
            Some("an-experiment/warm ... ok (1.0 s)")
        );
        assert_eq!(progress_text("[    1.0] Run /init as init process\n"), None);
        assert_eq!(
            progress_text("results written to /results/20261201T202647Z-vmlab-guest-quick\n"),
            None
        );
    }

    #[test]
    fn an_openable_dev_kvm_answers_the_api_version_query() {
        // Where /dev/kvm opens, the query gets the kernel's version (12); one
        // it refuses, as for a stray argument, would read as version -1.
        let kvm = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/kvm");
        if kvm.is_err() {
            return;
        }
        let works = kvm_device_works();
        assert!(
            !works.as_ref().is_err_and(|e| e.contains("API version")),
            "{works:?}"
        );
    }

    #[test]
    fn tails_keep_the_last_lines_without_carriage_returns() {
        assert_eq!(tail("a\r\nb\r\nc\r\n", 2), "b\nc");
        assert_eq!(tail("only", 5), "only");
    }
}
