//! `harness matrix`: the same experiments under several kernels on one machine,
//! compared in one table.
//!
//! The data flow:
//!
//! 1. [`kernels`] resolves each `--kernel` to an image (fetching and caching
//!    Debian packages) or to `host`.
//! 2. [`qemu`] builds statically linked harness and experiment binaries, and
//!    [`initramfs`] packs them into a cpio archive with the harness as `/init`.
//! 3. [`qemu::boot`] starts one guest per kernel (two at once where the machine
//!    allows); inside, [`guest`] runs the experiments and sends results.json
//!    over a serial port, framed by [`console`]. `host` runs natively.
//! 4. [`compare`] lines the runs up, [`table`] renders the result, and
//!    [`crate::report::ktap`] (the one KTAP writer) prints [`crate::outcome::kernel_cases`].
//!
//! Every kernel's results.json (the normal format, with the virtual machine
//! recorded in its environment) is written as soon as it arrives.

pub mod compare;
pub mod console;
pub mod guest;
pub mod initramfs;
pub mod kernels;
pub mod qemu;
pub mod table;

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use crate::app::UsageError;
use crate::model::RunRecord;
use crate::store;
use crate::system::GuestInfo;
use kernels::{KernelImage, KernelSpec};
use qemu::{Accelerator, GuestEnd, GuestSpec};

/// What `harness matrix` was asked to do (validated).
#[derive(Debug, Clone)]
pub struct MatrixOptions {
    /// The kernels, in column order (the first with results is the reference).
    pub kernels: Vec<KernelSpec>,
    /// Experiment names.
    pub experiments: Vec<String>,
    /// `transparent_hugepage=` for every guest.
    pub thp: String,
    /// Memory of every guest, in bytes.
    pub memory_bytes: u64,
    /// `--size` passed to the experiments (bytes), else their `--quick` size.
    pub size_bytes: Option<u64>,
    /// Longest time one kernel may take, boot to power-off.
    pub timeout: Duration,
    /// Results root (a `<time>-matrix` folder is made inside).
    pub out: PathBuf,
    /// Print KTAP instead of the table.
    pub ktap: bool,
}

/// One kernel's outcome.
#[derive(Debug, Clone)]
pub struct KernelResult {
    /// The kernel as the user named it.
    pub label: String,
    /// Its run, or why there is none (with the console's tail).
    pub run: Result<RunRecord, String>,
}

/// The host's THP mode, the default for `--thp`.
pub fn host_thp_mode() -> String {
    std::fs::read_to_string("/sys/kernel/mm/transparent_hugepage/enabled")
        .map(|t| crate::system::selected_word(t.trim()))
        .unwrap_or_else(|_| "madvise".into())
}

/// Runs the matrix; exit 0 when every kernel produced results, 1 when one did
/// not, an experiment failed, or a claim went from confirmed to refuted (or
/// back) against the reference kernel (the `not ok` lines of its KTAP).
/// Differences of figures between kernels are findings, not failures.
pub fn run(options: &MatrixOptions) -> Result<ExitCode> {
    let started = chrono::Utc::now();
    let guests: Vec<&KernelSpec> = options
        .kernels
        .iter()
        .filter(|k| **k != KernelSpec::Host)
        .collect();
    if !guests.is_empty() {
        qemu::require_qemu().map_err(|e| UsageError(format!("{e:#}")))?;
    }
    let cache = kernels::cache_root()?;
    let host_thp = host_thp_mode();
    if options.kernels.contains(&KernelSpec::Host) && options.thp != host_thp {
        eprintln!(
            "note: --thp {} applies to the guests; the host column runs with the host's own mode ({host_thp})",
            options.thp
        );
    }

    // Resolve every kernel before booting any, so a typo fails in seconds.
    let mut images: Vec<Option<KernelImage>> = Vec::new();
    for spec in &options.kernels {
        let image = match spec {
            KernelSpec::Host => None,
            KernelSpec::Path(p) => Some(KernelImage {
                path: p.clone(),
                release: None,
            }),
            KernelSpec::Debian(v) => Some(
                kernels::resolve_debian(v, &|msg| eprintln!("{spec}: {msg}"))
                    .map_err(|e| UsageError(format!("{e:#}")))?,
            ),
        };
        if let Some(image) = &image {
            eprintln!("{spec}: {}", image.path.display());
        }
        images.push(image);
    }

    let accelerator = images.iter().flatten().next().map(|image| {
        let (accel, why) = qemu::detect_accelerator(&image.path);
        eprintln!("guests run with {why}");
        accel
    });

    let run_dir = store::create_run_dir(
        &options.out,
        &format!("{}-matrix", started.format("%Y%m%dT%H%M%SZ")),
    )
    .map_err(|e| UsageError(format!("{e}; pass --out with a writable folder")))?;
    // The host runs the same static binaries as the guests, so that libc and
    // the loader do not differ between columns; only the kernel does.
    let binaries = qemu::guest_binaries(&options.experiments, &cache)?;
    let initramfs = match accelerator {
        Some(_) => {
            let archive = initramfs::build(
                &binaries.harness,
                &binaries.experiments,
                &binaries.support_files,
            )?;
            let path = run_dir.join("initramfs.cpio");
            store::write_atomic(&path, &archive)?;
            Some(path)
        }
        None => None,
    };

    let parallel = parallel_guests(options.memory_bytes);
    eprintln!(
        "{} kernel(s), up to {parallel} at once; results in {}",
        options.kernels.len(),
        run_dir.display()
    );
    let bars = MultiProgress::new();
    if !std::io::stderr().is_terminal() {
        bars.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let folders = folder_names(&options.kernels);
    let jobs: Vec<Job> = options
        .kernels
        .iter()
        .zip(images)
        .zip(folders)
        .map(|((spec, image), folder)| Job {
            spec: spec.clone(),
            image,
            folder: run_dir.join(folder),
            bar: bars.add(ProgressBar::new_spinner()),
        })
        .collect();
    let results: Arc<Mutex<Vec<Option<KernelResult>>>> =
        Arc::new(Mutex::new(vec![None; jobs.len()]));
    let queue = Arc::new(Mutex::new(jobs.into_iter().enumerate().collect::<Vec<_>>()));
    std::thread::scope(|scope| {
        for _ in 0..parallel {
            let queue = Arc::clone(&queue);
            let results = Arc::clone(&results);
            let initramfs = initramfs.as_deref();
            let binaries = &binaries;
            scope.spawn(move || loop {
                let next = queue
                    .lock()
                    .ok()
                    .and_then(|mut q| (!q.is_empty()).then(|| q.remove(0)));
                let Some((index, job)) = next else { break };
                let result = job.run(options, binaries, accelerator, initramfs);
                if let Ok(mut slot) = results.lock() {
                    slot[index] = Some(result);
                }
            });
        }
    });
    let slots = Arc::try_unwrap(results)
        .ok()
        .and_then(|m| m.into_inner().ok())
        .context("a kernel's worker thread did not finish")?;
    // A kernel whose worker died still gets its column, saying so.
    let results: Vec<KernelResult> = slots
        .into_iter()
        .zip(&options.kernels)
        .map(|(slot, spec)| {
            slot.unwrap_or_else(|| KernelResult {
                label: spec.to_string(),
                run: Err("the harness's worker for this kernel stopped unexpectedly".into()),
            })
        })
        .collect();
    if let Some(path) = &initramfs {
        let _ = std::fs::remove_file(path);
    }

    let columns: Vec<compare::Column<'_>> = results
        .iter()
        .map(|k| compare::Column {
            label: k.label.clone(),
            run: k.run.as_ref().map_err(Clone::clone),
        })
        .collect();
    let matrix = compare::compare(&columns);
    let text = format!(
        "{}\n{}\n{}",
        crate::report::text::layout(&table::kernels(&results)),
        crate::report::text::layout(&table::matrix(&matrix)),
        table::legend(&matrix)
    );
    let markdown = format!(
        "# Kernel matrix\n\n{}\n{}\n{}",
        crate::report::markdown::layout(&table::kernels(&results)),
        crate::report::markdown::layout(&table::matrix(&matrix)),
        table::legend(&matrix)
    );
    // The price list per kernel, if any kernel measured one (timings are shown, not compared).
    let priced: Vec<_> = results
        .iter()
        .filter_map(|k| Some((k.label.as_str(), k.run.as_ref().ok()?)))
        .collect();
    let (text, markdown) = match crate::compare::costs::across_kernels(&priced) {
        Some(t) => (
            format!("{text}\n{}", crate::report::text::layout(&t)),
            format!("{markdown}\n{}", crate::report::markdown::layout(&t)),
        ),
        None => (text, markdown),
    };
    let kernel_runs: Vec<(String, Result<&RunRecord, String>)> = results
        .iter()
        .map(|k| (k.label.clone(), k.run.as_ref().map_err(Clone::clone)))
        .collect();
    let cases = crate::outcome::kernel_cases(&kernel_runs);
    let ktap_text = crate::report::ktap::write(&cases, &[]);
    store::write_atomic(&run_dir.join("matrix.txt"), text.as_bytes())?;
    store::write_atomic(&run_dir.join("matrix.md"), markdown.as_bytes())?;
    store::write_atomic(&run_dir.join("matrix.ktap"), ktap_text.as_bytes())?;
    store::point_latest(&options.out, &run_dir)?;
    print!("{}", if options.ktap { &ktap_text } else { &text });
    for k in &results {
        if let Err(why) = &k.run {
            eprintln!("{}: no results: {why}", k.label);
        }
    }
    eprintln!("matrix written to {}", run_dir.display());
    // The same results as the KTAP's `not ok` lines.
    let failed = cases.iter().any(|c| c.outcome.is_failure());
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// One folder name per kernel, made unique (`vmlinuz`, `vmlinuz-2`) when two
/// images share a file name.
fn folder_names(kernels: &[KernelSpec]) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for spec in kernels {
        let base = spec.folder_name();
        let mut name = base.clone();
        let mut n = 1;
        while names.contains(&name) {
            n += 1;
            name = format!("{base}-{n}");
        }
        names.push(name);
    }
    names
}

/// Turns address-space randomisation off for this process and everything it
/// starts (the personality is inherited across fork and exec). With random
/// placement, how many pages of a program fault-around maps depends on where
/// its text lands, so whole-process figures would differ by several pages from
/// run to run, even on the same kernel, and hide what the kernels change.
pub fn fixed_address_space() {
    // SAFETY: personality(2) only changes flags of the calling process; the
    // query form (0xffffffff) returns the current persona.
    unsafe {
        let current = libc::personality(0xffff_ffff);
        if current != -1 {
            libc::personality(
                (current as libc::c_ulong) | libc::ADDR_NO_RANDOMIZE as libc::c_ulong,
            );
        }
    }
}

/// Two guests at once when there are at least two CPUs and memory for both
/// guests with room to spare; else one.
fn parallel_guests(memory_bytes: u64) -> usize {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let available = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| crate::system::meminfo_bytes(&m, "MemAvailable"))
        .unwrap_or(0);
    if cpus >= 2 && available > 2 * memory_bytes + (1 << 30) {
        2
    } else {
        1
    }
}

/// One kernel's work.
struct Job {
    spec: KernelSpec,
    image: Option<KernelImage>,
    folder: PathBuf,
    bar: ProgressBar,
}

impl Job {
    fn say(&self, message: &str) {
        if self.bar.is_hidden() {
            eprintln!("{}: {message}", self.spec);
        } else {
            self.bar.set_message(message.to_string());
        }
    }

    fn run(
        self,
        options: &MatrixOptions,
        binaries: &qemu::GuestBinaries,
        accelerator: Option<Accelerator>,
        initramfs: Option<&Path>,
    ) -> KernelResult {
        self.bar.set_style(
            ProgressStyle::with_template("{spinner} {prefix} {msg} ({elapsed})")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        self.bar.set_prefix(self.spec.to_string());
        self.bar.enable_steady_tick(Duration::from_millis(120));
        let outcome = std::fs::create_dir_all(&self.folder)
            .with_context(|| format!("cannot create {}", self.folder.display()))
            .and_then(|()| match (&self.image, accelerator, initramfs) {
                (Some(image), Some(accel), Some(initramfs)) => {
                    self.guest(options, image, accel, initramfs)
                }
                _ => self.native(options, binaries),
            });
        let run = match outcome {
            Ok(run) => match store::write_run(&self.folder, &run) {
                Ok(()) => Ok(run),
                Err(e) => Err(format!("{e}")),
            },
            Err(e) => Err(format!("{e:#}")),
        };
        let line = match &run {
            Ok(r) => format!(
                "{}: results ({}) in {}",
                self.spec,
                if r.any_failed() {
                    "an experiment failed"
                } else {
                    "ok"
                },
                self.folder.display()
            ),
            Err(e) => format!("{}: FAILED: {}", self.spec, e.lines().next().unwrap_or("")),
        };
        // Printed above the other kernels' bars, which keep running.
        self.bar.suspend(|| eprintln!("{line}"));
        self.bar.finish_and_clear();
        KernelResult {
            label: self.spec.to_string(),
            run,
        }
    }

    /// The running kernel: `harness run --quick` of the static guest binaries in
    /// a child process. When /dev/shm is a writable tmpfs, the binaries are
    /// copied there and the experiments' files go there too, as in the guests
    /// (whose initramfs and /tmp are in RAM), so that program text and data
    /// files are counted the same way (RssShmem) in every column.
    fn native(&self, options: &MatrixOptions, binaries: &qemu::GuestBinaries) -> Result<RunRecord> {
        self.say("running natively");
        let out = tempfile::tempdir().context("cannot create a temporary folder")?;
        let shm = Path::new("/dev/shm");
        let in_ram = (crate::system::Environment::detect(shm).temp_dir_fs == "tmpfs")
            .then(|| {
                tempfile::Builder::new()
                    .prefix("vmlab-bin-")
                    .tempdir_in(shm)
                    .ok()
            })
            .flatten();
        let bin_dir = match &in_ram {
            Some(dir) => {
                for path in std::iter::once(&binaries.harness)
                    .chain(binaries.experiments.iter().map(|(_, p)| p))
                {
                    let name = path
                        .file_name()
                        .context("a guest binary has no file name")?;
                    std::fs::copy(path, dir.path().join(name)).with_context(|| {
                        format!("cannot copy {} to {}", path.display(), dir.path().display())
                    })?;
                }
                // The separately built programs travel with the binaries; the
                // host's own libraries serve the dynamically linked ones.
                for (inside, path) in &binaries.support_files {
                    if let Some(rest) = inside.strip_prefix("bin/") {
                        let target = dir.path().join(rest);
                        if let Some(parent) = target.parent() {
                            std::fs::create_dir_all(parent)
                                .with_context(|| format!("cannot create {}", parent.display()))?;
                        }
                        std::fs::copy(path, &target).with_context(|| {
                            format!("cannot copy {} to {}", path.display(), target.display())
                        })?;
                    }
                }
                dir.path().to_path_buf()
            }
            None => binaries
                .harness
                .parent()
                .context("the guest harness has no folder")?
                .to_path_buf(),
        };
        let mut command = Command::new(bin_dir.join("harness"));
        // SAFETY: runs in the forked child before exec and only calls
        // personality(2), which is async-signal-safe.
        unsafe {
            std::os::unix::process::CommandExt::pre_exec(&mut command, || {
                fixed_address_space();
                Ok(())
            });
        }
        command
            .env(crate::runner::locate::DIR_VARIABLE, &bin_dir)
            .arg("run")
            .args(&options.experiments)
            .arg("--quick")
            .arg("--timeout")
            .arg(options.timeout.as_secs().to_string())
            .arg("--out")
            .arg(out.path());
        if let Some(size) = options.size_bytes {
            command.arg("--size").arg(size.to_string());
        }
        if in_ram.is_some() {
            command.arg("--dir").arg(shm);
        }
        let output = command
            .output()
            .context("cannot run the harness natively")?;
        let log = self.folder.join("native.log");
        store::write_atomic(&log, &output.stderr)?;
        let results = out.path().join("latest").join("results.json");
        let text = std::fs::read_to_string(&results).with_context(|| {
            format!(
                "the native run left no {} ({}); see {}",
                results.display(),
                output.status,
                log.display()
            )
        })?;
        serde_json::from_str(&text).with_context(|| format!("cannot parse {}", results.display()))
    }

    /// Boots the kernel with the initramfs and takes the results off serial port 1.
    fn guest(
        &self,
        options: &MatrixOptions,
        image: &KernelImage,
        accel: Accelerator,
        initramfs: &Path,
    ) -> Result<RunRecord> {
        let mut params = vec![
            ("experiments".to_string(), options.experiments.join(",")),
            ("memory".to_string(), options.memory_bytes.to_string()),
        ];
        if let Some(size) = options.size_bytes {
            params.push(("size".into(), size.to_string()));
        }
        let spec = GuestSpec {
            kernel: image.path.clone(),
            initramfs: initramfs.to_path_buf(),
            memory_bytes: options.memory_bytes,
            thp: options.thp.clone(),
            params,
            accelerator: accel,
            timeout: options.timeout,
            console_log: self.folder.join("console.log"),
            results_port: self.folder.join("serial1.txt"),
        };
        self.say(&format!("booting ({})", accel.name()));
        let end = qemu::boot(&spec, &|line| self.say(line))?;
        let console = std::fs::read_to_string(&spec.console_log).unwrap_or_default();
        let port = std::fs::read_to_string(&spec.results_port).unwrap_or_default();
        let tail = || qemu::tail(&console, 15);
        let status = match end {
            GuestEnd::TimedOut(after) => anyhow::bail!(
                "the guest did not power off within {} s and was killed; console tail ({}):\n{}",
                after.as_secs(),
                spec.console_log.display(),
                tail()
            ),
            GuestEnd::Exited(status) => status,
        };
        let payload = console::decode(&port)
            .or_else(|first| console::decode(&console).map_err(|_| first))
            .map_err(|e| {
                anyhow::anyhow!(
                    "{e}; QEMU ended with {status}; console tail ({}):\n{}",
                    spec.console_log.display(),
                    tail()
                )
            })?;
        let _ = std::fs::remove_file(&spec.results_port);
        let mut run: RunRecord = serde_json::from_slice(&payload)
            .context("the guest's results are not a results.json")?;
        let cmdline = run
            .environment
            .guest
            .as_ref()
            .map(|g| g.kernel_cmdline.clone())
            .unwrap_or_default();
        run.environment.virtual_machine = true;
        run.environment.guest = Some(GuestInfo {
            kernel_spec: self.spec.to_string(),
            accelerator: accel.name().to_string(),
            memory_bytes: options.memory_bytes,
            thp_cmdline: options.thp.clone(),
            kernel_cmdline: cmdline,
        });
        Ok(run)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernels_with_the_same_file_name_get_distinct_folders() {
        let kernels = [
            KernelSpec::Path("/a/vmlinuz".into()),
            KernelSpec::Host,
            KernelSpec::Path("/b/vmlinuz".into()),
            KernelSpec::Path("/c/vmlinuz".into()),
        ];
        assert_eq!(
            folder_names(&kernels),
            vec!["vmlinuz", "host", "vmlinuz-2", "vmlinuz-3"]
        );
    }
}
