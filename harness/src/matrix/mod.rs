//! `harness matrix`: the same experiments under several kernels on one machine,
//! compared in one table.
//!
//! The data flow:
//!
//! 1. [`kernels`] resolves each `--kernel` to an image (fetching and caching
//!    Debian packages, with the modules the guest needs for its disk) or to
//!    `host`, and refuses a file that is not a bootable image.
//! 2. [`qemu`] builds statically linked harness and experiment binaries, and
//!    [`initramfs`] packs them into a cpio archive with the harness as `/init`;
//!    [`disk`] makes the ext4 image the guest keeps the experiments' files on.
//! 3. [`qemu::boot`] starts one guest per kernel (two at once where the machine
//!    allows); inside, [`guest`] runs the experiments and sends results.json
//!    over a serial port, framed by [`console`]. `host` runs natively.
//! 4. [`compare`] lines the runs up, [`changes`] names the known kernel changes
//!    behind differences, [`table`] renders the result, and
//!    [`crate::report::ktap`] (the one KTAP writer) prints
//!    [`crate::outcome::kernel_cases`]. `--results` starts at this step, from
//!    result folders made elsewhere.
//!
//! Every kernel's results.json (the normal format, with the virtual machine
//! recorded in its environment) is written as soon as it arrives.

/// A line for the user on stderr (progress, notes), left out under `-q` and
/// fitted to the terminal, as every command's are.
macro_rules! note {
    ($($arg:tt)*) => {
        crate::verbosity::note(format!($($arg)*))
    };
}

pub mod changes;
pub mod compare;
pub mod console;
pub mod disk;
pub mod guest;
pub mod initramfs;
pub mod kernels;
pub mod phases;
pub mod qemu;
pub mod setup;
pub mod table;

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use crate::error::UsageError;
use crate::experiment::declared::{self, Need};
use crate::model::{RunRecord, Status, Verdict};
use crate::store;
use crate::system::{GuestInfo, Root};
use crate::units::human_bytes;
use kernels::{KernelImage, KernelSpec};
use qemu::{GuestEnd, GuestSpec, Machine};

/// What `harness matrix` was asked to do (validated).
#[derive(Debug, Clone)]
pub struct MatrixOptions {
    /// The kernels, in column order (the first with results is the reference).
    pub kernels: Vec<KernelSpec>,
    /// Each kernel's own settings (`--with`, `--sysctl`), in the same order.
    pub settings: Vec<setup::Settings>,
    /// Experiment names.
    pub experiments: Vec<String>,
    /// `transparent_hugepage=` for every guest.
    pub thp: String,
    /// Memory of every guest in bytes, when `--memory` gave it; else it is sized
    /// to the experiments ([`guest_memory`]).
    pub memory_bytes: Option<u64>,
    /// `--size` passed to the experiments (bytes), else their `--quick` size.
    pub size_bytes: Option<u64>,
    /// Longest time one kernel may take, boot to power-off.
    pub timeout: Duration,
    /// Where the matrix goes and how it is shown.
    pub output: MatrixOutput,
    /// The machine the matrix runs on, as the folder its /proc and /sys are
    /// under (`/`; a captured tree in tests): the host column's THP mode and
    /// environment, and the memory left for guests, are read there.
    pub host: Root,
}

/// Where a matrix's results go and how its comparison is printed: as a table
/// (of every row, or only those that differ) or as KTAP.
#[derive(Debug, Clone)]
pub struct MatrixOutput {
    /// Results root (a `<time>-matrix` folder is made inside).
    pub out: PathBuf,
    /// Print KTAP instead of the table.
    pub ktap: bool,
    /// Every row, not only those that differ between kernels.
    pub all_rows: bool,
}

/// One kernel's outcome.
#[derive(Debug, Clone)]
pub struct KernelResult {
    /// The kernel as the user named it.
    pub label: String,
    /// Its run, or why there is none (with the console's tail).
    pub run: Result<RunRecord, String>,
}

/// The THP mode of the machine whose /sys is under `root` (the host: `/`),
/// the default for `--thp`; `madvise` when the kernel does not say.
pub fn host_thp_mode(root: &Root) -> String {
    root.text(THP_ENABLED)
        .map(|t| crate::system::selected_word(&t))
        .unwrap_or_else(|| "madvise".into())
}

/// Where the kernel shows its THP mode.
const THP_ENABLED: &str = "/sys/kernel/mm/transparent_hugepage/enabled";

/// True for the file systems whose files live only in memory.
pub fn files_in_ram(fs: &str) -> bool {
    matches!(fs, "tmpfs" | "ramfs" | "rootfs")
}

/// Makes the claims that declare they need disk-backed files
/// ([`Need::DiskBackedFiles`]) inconclusive, with the reason, in a run whose
/// files were not on a disk: an unmet condition of the setup, never a refutation.
pub fn files_not_on_disk(run: &mut RunRecord, why: &str) {
    let fs = run.environment.temp_dir_fs.clone();
    for experiment in &mut run.experiments {
        for claim in &mut experiment.claims {
            let needs_disk = declared::needs(&experiment.name, &claim.id, Need::DiskBackedFiles);
            if needs_disk && claim.verdict != Verdict::Inconclusive {
                claim.evidence = format!(
                    "needs the files on a disk-backed file system, but they were on {fs} ({why}); \
                     measured: {}",
                    claim.evidence
                );
                claim.verdict = Verdict::Inconclusive;
            }
        }
    }
}

/// Runs the matrix; exit 0 when every kernel produced results, 1 when one did
/// not, an experiment failed, or a claim went from confirmed to refuted (or
/// back) against the reference kernel (the `not ok` lines of its KTAP).
/// Differences of figures between kernels are findings, not failures.
pub fn run(options: &MatrixOptions) -> Result<ExitCode> {
    let started = chrono::Utc::now();
    if options.kernels.iter().any(|k| *k != KernelSpec::Host) {
        qemu::require_qemu().map_err(|e| UsageError(format!("{e:#}")))?;
    }
    let cache = kernels::cache_root()?;
    let host_thp = host_thp_mode(&options.host);
    if options.kernels.contains(&KernelSpec::Host) && options.thp != host_thp {
        note!(
            "note: --thp {} applies to the guests; the host column runs with the host's own mode ({host_thp})",
            options.thp
        );
    }
    // Resolve every kernel before booting any, so a typo fails in seconds.
    let images = resolve_images(&options.kernels)?;
    let mkfs = disk::available();
    if let (Some(_), Err(why)) = (images.iter().flatten().next(), &mkfs) {
        note!(
            "note: {why}: the guests keep their files in RAM, and the claims that need a disk are inconclusive"
        );
    }
    let machine = images.iter().flatten().next().map(|image| {
        let (machine, why) = qemu::detect_accelerator(&image.path);
        note!("guests run with {why}");
        machine
    });
    let run_dir = store::create_run_dir(
        &options.output.out,
        &format!("{}-matrix", started.format("%Y%m%dT%H%M%SZ")),
    )
    .map_err(|e| UsageError(format!("{e}; pass --out with a writable folder")))?;
    // The host runs the same static binaries as the guests, so that libc and
    // the loader do not differ between columns; only the kernel does. A
    // failed or interrupted build takes back the run folder, still empty.
    let binaries = match qemu::guest_binaries(&options.experiments, &cache) {
        Ok(binaries) => binaries,
        Err(e) => {
            let _ = std::fs::remove_dir(&run_dir);
            return Err(e);
        }
    };
    let memory = machine.map(|_| guest_memory(options, binaries.total_bytes()));
    let parallel = parallel_guests(&options.host, memory.as_ref().map_or(0, |m| m.bytes));
    note!(
        "{} kernel(s), up to {parallel} at once{}; results in {}",
        options.kernels.len(),
        memory
            .as_ref()
            .map(|m| format!(", {} per guest", human_bytes(m.bytes)))
            .unwrap_or_default(),
        run_dir.display()
    );
    let bars = MultiProgress::new();
    if !std::io::stderr().is_terminal() {
        bars.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let jobs = jobs(options, images, &run_dir, &bars);
    let setup = Setup {
        options,
        binaries: &binaries,
        machine,
        memory,
        disk: mkfs.is_ok(),
    };
    let results = run_jobs(jobs, &setup, parallel, column_labels(options))?;
    present(&results, &run_dir, &options.output)
}

/// Each `--kernel`'s image (none for `host`), fetched and cached as needed;
/// a kernel that cannot be had is a usage error.
fn resolve_images(kernels: &[KernelSpec]) -> Result<Vec<Option<KernelImage>>> {
    let mut images = Vec::new();
    for spec in kernels {
        let image = match spec {
            KernelSpec::Host => None,
            KernelSpec::Path(p) => Some(KernelImage {
                path: p.clone(),
                release: None,
                modules: None,
            }),
            KernelSpec::Debian(v) => Some(
                kernels::resolve_debian(v, &|msg| eprintln!("{spec}: {msg}"))
                    .map_err(|e| UsageError(format!("{e:#}")))?,
            ),
        };
        if let Some(image) = &image {
            note!("{spec}: {}", image.path.display());
        }
        images.push(image);
    }
    Ok(images)
}

/// One job per column, each with its folder in `run_dir` and its progress bar.
fn jobs(
    options: &MatrixOptions,
    images: Vec<Option<KernelImage>>,
    run_dir: &Path,
    bars: &MultiProgress,
) -> Vec<Job> {
    let folders = folder_names(&options.kernels, &options.settings);
    images
        .into_iter()
        .zip(folders)
        .zip(column_labels(options))
        .enumerate()
        .map(|(i, ((image, folder), label))| Job {
            settings: options.settings.get(i).cloned().unwrap_or_default(),
            label,
            image,
            folder: run_dir.join(folder),
            bar: bars.add(ProgressBar::new_spinner()),
        })
        .collect()
}

/// Runs the jobs on `parallel` worker threads, and returns one result per
/// column in order; a column whose worker died says so.
fn run_jobs(
    jobs: Vec<Job>,
    setup: &Setup<'_>,
    parallel: usize,
    labels: Vec<String>,
) -> Result<Vec<KernelResult>> {
    let results: Arc<Mutex<Vec<Option<KernelResult>>>> =
        Arc::new(Mutex::new(vec![None; jobs.len()]));
    let queue = Arc::new(Mutex::new(jobs.into_iter().enumerate().collect::<Vec<_>>()));
    std::thread::scope(|scope| {
        for _ in 0..parallel {
            let queue = Arc::clone(&queue);
            let results = Arc::clone(&results);
            scope.spawn(move || loop {
                let next = queue
                    .lock()
                    .ok()
                    .and_then(|mut q| (!q.is_empty()).then(|| q.remove(0)));
                let Some((index, job)) = next else { break };
                let result = job.run(setup);
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
    Ok(slots
        .into_iter()
        .zip(labels)
        .map(|(slot, label)| {
            slot.unwrap_or_else(|| KernelResult {
                label,
                run: Err("the harness's worker for this kernel stopped unexpectedly".into()),
            })
        })
        .collect())
}

/// `matrix --results DIR...`: the same matrix from result folders made
/// elsewhere (`harness all` on each kernel of a CI fleet, or kernel folders of
/// an earlier matrix). A folder holds a results.json, or is a results root
/// whose `latest` points at one; a results.json file may be named directly.
pub fn from_results(folders: &[PathBuf], output: &MatrixOutput) -> Result<ExitCode> {
    let mut results = Vec::new();
    let mut labels: Vec<String> = Vec::new();
    for folder in folders {
        let file = results_file(folder).map_err(UsageError)?;
        // Bounded, version-checked and refused if unfinished, as any results.json read back.
        let run: RunRecord =
            crate::store::baseline::load(&file).map_err(|e| UsageError(e.to_string()))?;
        let mut label = column_label(folder, &file, &run);
        let base = label.clone();
        let mut n = 1;
        while labels.contains(&label) {
            n += 1;
            label = format!("{base}-{n}");
        }
        labels.push(label.clone());
        results.push(KernelResult {
            label,
            run: Ok(run),
        });
    }
    let started = chrono::Utc::now();
    let run_dir = store::create_run_dir(
        &output.out,
        &format!("{}-matrix", started.format("%Y%m%dT%H%M%SZ")),
    )
    .map_err(|e| UsageError(format!("{e}; pass --out with a writable folder")))?;
    present(&results, &run_dir, output)
}

/// The results.json a `--results` argument names.
fn results_file(path: &Path) -> Result<PathBuf, String> {
    let candidates = [
        path.to_path_buf(),
        path.join("results.json"),
        path.join("latest").join("results.json"),
    ];
    candidates.into_iter().find(|p| p.is_file()).ok_or_else(|| {
        format!(
            "--results {}: no results.json there (nor in its `latest` folder); \
                 pass a folder written by `harness all`, `harness run` or `harness matrix`",
            path.display()
        )
    })
}

/// A column's name for a run read back: the kernel as the matrix that made it
/// named it, else the folder's name (a CI job's kernel folder), else the
/// kernel's release.
fn column_label(folder: &Path, file: &Path, run: &RunRecord) -> String {
    if let Some(guest) = &run.environment.guest {
        if !guest.kernel_spec.is_empty() {
            return guest.kernel_spec.clone();
        }
    }
    let dir = if folder.is_file() {
        file.parent()
    } else {
        Some(folder)
    };
    match dir
        .and_then(Path::file_name)
        .map(|n| n.to_string_lossy().into_owned())
    {
        Some(name) if name != "latest" && !name.is_empty() => name,
        _ => run.environment.kernel.clone(),
    }
}

/// Compares the runs, writes matrix.txt, matrix.md and matrix.ktap into
/// `run_dir`, prints the table (or KTAP) and picks the exit status.
fn present(results: &[KernelResult], run_dir: &Path, output: &MatrixOutput) -> Result<ExitCode> {
    let columns: Vec<compare::Column<'_>> = results
        .iter()
        .map(|k| compare::Column {
            label: k.label.clone(),
            run: k.run.as_ref().map_err(Clone::clone),
        })
        .collect();
    let matrix = if compare::fixed(&columns) {
        compare::compare(&columns)
    } else {
        phases::compare(&columns)
    };
    let explained = changes::explain(&matrix, &columns);
    let shown = table::Shown {
        all_rows: output.all_rows,
    };
    // Laid out for the terminal (80 columns in a pipe): long cells wrap, none is cut.
    let width = crate::report::width::terminal_width();
    let text = format!(
        "{}\n{}\n{}",
        crate::report::table::layout_fitted(&table::kernels(results), width),
        crate::report::table::layout_fitted(&table::matrix(&matrix, &explained, shown), width),
        crate::report::width::fit_lines(&table::legend(&matrix, &explained, shown), width)
    );
    let markdown = format!(
        "# Kernel matrix\n\n{}\n{}\n{}",
        crate::report::markdown::layout(&table::kernels(results)),
        crate::report::markdown::layout(&table::matrix(&matrix, &explained, shown)),
        table::legend(&matrix, &explained, shown)
    );
    // The price list per kernel, if any kernel measured one (timings are shown, not compared).
    let priced: Vec<_> = results
        .iter()
        .filter_map(|k| Some((k.label.as_str(), k.run.as_ref().ok()?)))
        .collect();
    let (text, markdown) = match crate::report::costs::across_kernels(&priced) {
        Some(t) => (
            format!("{text}\n{}", crate::report::table::layout_fitted(&t, width)),
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
    if let Some(root) = run_dir.parent() {
        store::point_latest(root, run_dir)?;
    }
    // KTAP is a machine format, printed whatever the level; the table is the
    // report, which -q leaves out (matrix.txt has it).
    if output.ktap {
        crate::verbosity::stdout(&ktap_text);
    } else {
        crate::verbosity::out(&text);
    }
    for k in results {
        if let Err(why) = &k.run {
            crate::verbosity::say(format!("{}: no results: {why}", k.label));
        }
    }
    note!("matrix written to {}", run_dir.display());
    // The same results as the KTAP's `not ok` lines.
    let failed = cases.iter().any(|c| c.outcome.is_failure());
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Guest memory for the chosen experiments at the chosen sizes, and who needs it.
#[derive(Debug, Clone)]
pub struct GuestMemory {
    /// `-m` of every guest.
    pub bytes: u64,
    /// True when `--memory` gave it.
    pub chosen: bool,
    /// Experiments that need more than `bytes`, with what they need.
    pub short: Vec<(String, u64)>,
}

/// The smallest guest memory (a multiple of [`MEMORY_STEP`]) under which the
/// guest kernel reports so much memory that no chosen experiment declines to
/// run for lack of it, found by asking each experiment's own plan, on top of
/// the initramfs (which stays in RAM as the root file system).
const MEMORY_STEP: u64 = 128 << 20;
/// The smallest guest: a kernel, the initramfs and small experiments, with
/// enough memory that the kernel keeps THP on. Linux turns THP off by itself at
/// boot when it has less than 512 MiB of RAM (`hugepage_init` in
/// mm/huge_memory.c), whatever `transparent_hugepage=` says: a guest of 512 MiB
/// (MemTotal 457 MiB under Debian's 6.1) ran with THP off while asked for
/// madvise. 768 MiB leaves the kernel over 512 MiB beside the initramfs.
const MEMORY_FLOOR: u64 = 768 << 20;
/// The largest guest a default may pick.
const MEMORY_CEILING: u64 = 16 << 30;

/// What the guest kernel reports as MemTotal for `-m bytes`: less by what the
/// kernel keeps for itself (its image, reserved areas, and a page struct per
/// page, about 1/64 of memory). Debian 6.1 with 512 MiB reports 457 MiB.
fn guest_mem_total(bytes: u64) -> u64 {
    bytes.saturating_sub((64 << 20) + bytes / 64)
}

/// Sizes the guests' memory: `--memory` if given (with the experiments it is
/// too small for), else the smallest that suits every experiment, limited by
/// what this machine has available.
pub fn guest_memory(options: &MatrixOptions, initramfs_bytes: u64) -> GuestMemory {
    let available = crate::system::mem_available_bytes_in(&options.host).unwrap_or(u64::MAX);
    let memory = size_guests(
        memory_needs(options, initramfs_bytes),
        options.memory_bytes,
        available,
    );
    for (name, need) in &memory.short {
        eprintln!("note: {}", memory.advice(name, *need));
    }
    memory
}

/// Per experiment, the least guest memory under which it does not decline for
/// lack of memory; experiments that decline even at [`MEMORY_CEILING`] (for
/// another reason) are left out.
fn memory_needs(options: &MatrixOptions, initramfs_bytes: u64) -> Vec<(String, u64)> {
    let env = crate::system::Environment::detect_in(&options.host, &std::env::temp_dir());
    let declines = |name: &str, memory: u64| -> bool {
        let Some(experiment) = crate::experiment::find(name) else {
            return false;
        };
        let mem_total_bytes = guest_mem_total(memory.saturating_sub(initramfs_bytes));
        // Every column's guest, with the settings it asks for (a column in
        // strict overcommit needs room to commit what the experiment maps).
        let columns = options.settings.iter().map(|settings| {
            let (overcommit_memory, commit_room_bytes) = guest_commit(settings, mem_total_bytes);
            crate::system::Environment {
                mem_total_bytes,
                cgroup_memory_max_bytes: None,
                overcommit_memory,
                commit_room_bytes,
                ..env.clone()
            }
        });
        let default_guest = crate::system::Environment {
            mem_total_bytes,
            cgroup_memory_max_bytes: None,
            overcommit_memory: Some(0),
            commit_room_bytes: None,
            ..env.clone()
        };
        std::iter::once(default_guest)
            .chain(columns)
            .any(|guest_env| {
                let ctx = crate::experiment::PlanContext {
                    quick: true,
                    size_bytes: options.size_bytes,
                    count: None,
                    env: &guest_env,
                    no_aslr: false,
                };
                experiment.plan(&ctx).is_err()
            })
    };
    // Per experiment: the least memory it runs in, if some memory suffices
    // (one that declines even at the ceiling declines for another reason).
    options
        .experiments
        .iter()
        .filter(|name| !declines(name, MEMORY_CEILING))
        .map(|name| {
            let mut memory = MEMORY_FLOOR;
            while memory < MEMORY_CEILING && declines(name, memory) {
                memory += MEMORY_STEP;
            }
            (name.clone(), memory)
        })
        .collect()
}

/// What a guest with `settings` and `mem_total` bytes of memory will have for
/// `vm.overcommit_memory` and, in strict mode, room to commit: CommitLimit
/// (no swap in a guest: MemTotal times `vm.overcommit_ratio`, 50 % unless
/// asked) less what the guest's own processes commit before an experiment.
fn guest_commit(settings: &setup::Settings, mem_total: u64) -> (Option<u32>, Option<u64>) {
    /// Committed_AS of a booted guest before the experiments: its init and
    /// the harness.
    const GUEST_COMMITTED: u64 = 64 << 20;
    let mode = settings
        .get(setup::OVERCOMMIT)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    if mode != 2 {
        return (Some(mode), None);
    }
    let ratio: u64 = settings
        .get("vm.overcommit_ratio")
        .and_then(|v| v.parse().ok())
        .unwrap_or(50);
    let limit = mem_total / 100 * ratio;
    (Some(2), Some(limit.saturating_sub(GUEST_COMMITTED)))
}

/// The guests' memory from the experiments' needs: `given` (`--memory`) if
/// any, else the largest need, within what is `available` beyond 1 GiB left
/// for the machine's other work.
fn size_guests(needs: Vec<(String, u64)>, given: Option<u64>, available: u64) -> GuestMemory {
    let wanted = needs.iter().map(|(_, m)| *m).max().unwrap_or(MEMORY_FLOOR);
    let (bytes, chosen) = match given {
        Some(given) => (given, true),
        None => {
            let room =
                (available.saturating_sub(1 << 30) / MEMORY_STEP * MEMORY_STEP).max(MEMORY_FLOOR);
            (wanted.min(room), false)
        }
    };
    let short: Vec<(String, u64)> = needs.into_iter().filter(|(_, m)| *m > bytes).collect();
    GuestMemory {
        bytes,
        chosen,
        short,
    }
}

impl GuestMemory {
    /// What to do about an experiment that needs `need` bytes of guest memory.
    fn advice(&self, name: &str, need: u64) -> String {
        let fix = if self.chosen {
            format!(
                "pass --memory {}MiB (or leave --memory out)",
                need.div_ceil(1 << 20)
            )
        } else {
            format!(
                "this machine has too little memory available for that; free some, or pass \
                 --memory {}MiB to insist",
                need.div_ceil(1 << 20)
            )
        };
        format!(
            "{name} needs about {} of guest memory at these sizes but the guests get {}, so it \
             will decline to run; {fix}",
            human_bytes(need),
            human_bytes(self.bytes)
        )
    }

    /// Puts the advice that helps (`--memory`) into the skip reasons of the
    /// experiments that declined for lack of guest memory: the experiment's own
    /// advice (`--quick`, a smaller `--size`) does not apply to a guest.
    fn advise(&self, run: &mut RunRecord) {
        for e in &mut run.experiments {
            let Some((_, need)) = self.short.iter().find(|(n, _)| *n == e.name) else {
                continue;
            };
            if e.status == Status::Skipped {
                let own = e.reason.clone().unwrap_or_default();
                let what = own.split("; use ").next().unwrap_or(&own).to_string();
                e.reason = Some(format!(
                    "{what}; in the matrix: {}",
                    self.advice(&e.name, *need)
                ));
            }
        }
    }
}

/// Each column's name: its kernel, and its settings after a space when it has
/// any (`debian:6.1 overcommit=2`).
fn column_labels(options: &MatrixOptions) -> Vec<String> {
    options
        .kernels
        .iter()
        .enumerate()
        .map(
            |(i, spec)| match options.settings.get(i).map(setup::Settings::label) {
                Some(label) if !label.is_empty() => format!("{spec} {label}"),
                _ => spec.to_string(),
            },
        )
        .collect()
}

/// One folder name per column (the kernel's, with its settings), made unique
/// (`vmlinuz`, `vmlinuz-2`) when two images share a file name.
fn folder_names(kernels: &[KernelSpec], settings: &[setup::Settings]) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for (i, spec) in kernels.iter().enumerate() {
        let base = match settings.get(i).map(setup::Settings::label) {
            Some(label) if !label.is_empty() => {
                format!("{}-{}", spec.folder_name(), label.replace([',', '='], "-"))
            }
            _ => spec.folder_name(),
        };
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
    // libc rather than nix::sys::personality: nix's get() keeps only the flags
    // it names (from_bits_truncate), which would drop the execution domain in
    // the low byte (PER_LINUX32 under `setarch linux32`) when set back.
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
fn parallel_guests(host: &Root, memory_bytes: u64) -> usize {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let available = crate::system::mem_available_bytes_in(host).unwrap_or(0);
    if cpus >= 2 && available > 2 * memory_bytes + (1 << 30) {
        2
    } else {
        1
    }
}

/// What every kernel's job shares.
struct Setup<'a> {
    options: &'a MatrixOptions,
    binaries: &'a qemu::GuestBinaries,
    /// How guests run (None when only `host` is asked for).
    machine: Option<Machine>,
    /// The guests' memory.
    memory: Option<GuestMemory>,
    /// True when an ext4 image can be made for the guests' files.
    disk: bool,
}

/// One kernel's work.
struct Job {
    /// The column's own settings.
    settings: setup::Settings,
    /// The column's name: the kernel, and its settings if any.
    label: String,
    image: Option<KernelImage>,
    folder: PathBuf,
    bar: ProgressBar,
}

/// Removes a file when dropped (the initramfs and disk image of one guest).
struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

impl Job {
    fn say(&self, message: &str) {
        if self.bar.is_hidden() {
            note!("{}: {message}", self.label);
        } else {
            self.bar.set_message(message.to_string());
        }
    }

    fn run(self, setup: &Setup<'_>) -> KernelResult {
        let started = Instant::now();
        self.bar.set_style(
            ProgressStyle::with_template("{spinner} {prefix} {msg} ({elapsed})")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        self.bar.set_prefix(self.label.clone());
        self.bar.enable_steady_tick(Duration::from_millis(120));
        let outcome = std::fs::create_dir_all(&self.folder)
            .with_context(|| format!("cannot create {}", self.folder.display()))
            .and_then(|()| match (&self.image, setup.machine, &setup.memory) {
                (Some(image), Some(machine), Some(memory)) => {
                    self.guest(setup, image, machine, memory)
                }
                _ => self.native(setup.options, setup.binaries),
            });
        let run = match outcome {
            Ok(run) => match store::write_run(&self.folder, &crate::report::run_files(&run)) {
                Ok(()) => Ok(run),
                Err(e) => Err(format!("{e}")),
            },
            Err(e) => Err(format!("{e:#}")),
        };
        let took = human_duration(started.elapsed());
        let line = match &run {
            Ok(r) => format!(
                "{}: results ({}) in {}; took {took}",
                self.label,
                if r.any_failed() {
                    "an experiment failed"
                } else {
                    "ok"
                },
                self.folder.display()
            ),
            Err(e) => format!(
                "{}: FAILED after {took}: {}",
                self.label,
                e.lines().next().unwrap_or("")
            ),
        };
        // Printed above the other kernels' bars, which keep running.
        self.bar.suspend(|| note!("{line}"));
        self.bar.finish_and_clear();
        KernelResult {
            label: self.label.clone(),
            run,
        }
    }

    /// The running kernel: `harness run --quick` of the static guest binaries in
    /// a child process. When /dev/shm is a writable tmpfs, the binaries are
    /// copied there, as in the guests (whose initramfs is in RAM), so that
    /// program text is counted the same way (RssShmem) in every column. The
    /// experiments' files go to the host's temporary folder, on its disk as the
    /// guests' files are on theirs.
    fn native(&self, options: &MatrixOptions, binaries: &qemu::GuestBinaries) -> Result<RunRecord> {
        self.say("running natively");
        let out = tempfile::tempdir().context("cannot create a temporary folder")?;
        let in_ram = binaries_in_ram(&options.host, binaries)?;
        let bin_dir = match &in_ram {
            Some(dir) => dir.path().to_path_buf(),
            None => binaries
                .harness
                .parent()
                .context("the guest harness has no folder")?
                .to_path_buf(),
        };
        let files = tempfile::Builder::new()
            .prefix("vmlab-files-")
            .tempdir()
            .context("cannot create a temporary folder for the experiments' files")?;
        let mut command = native_command(&bin_dir, options, out.path(), files.path());
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
        let mut run: RunRecord = serde_json::from_str(&text)
            .with_context(|| format!("cannot parse {}", results.display()))?;
        let fs = run.environment.temp_dir_fs.clone();
        if files_in_ram(&fs) {
            files_not_on_disk(
                &mut run,
                &format!(
                    "the host's temporary folder is on {fs}; point TMPDIR at a folder on a disk"
                ),
            );
        }
        Ok(run)
    }

    /// Boots the kernel with an initramfs (and the files' disk) and takes the
    /// results off serial port 1.
    fn guest(
        &self,
        setup: &Setup<'_>,
        image: &KernelImage,
        machine: Machine,
        memory: &GuestMemory,
    ) -> Result<RunRecord> {
        let options = setup.options;
        let mut support = setup.binaries.support_files.clone();
        if let Some(modules) = &image.modules {
            support.extend(modules_for_initramfs(modules)?);
        }
        let archive = initramfs::build(
            &setup.binaries.harness,
            &setup.binaries.experiments,
            &support,
        )?;
        let initramfs = RemoveOnDrop(self.folder.join("initramfs.cpio"));
        store::write_atomic(&initramfs.0, &archive)?;
        drop(archive);
        let disk = if setup.disk {
            self.say("making the ext4 disk for the files");
            let path = self.folder.join("files.ext4");
            let guard = RemoveOnDrop(path.clone());
            disk::make(&path, disk::size_for(options.size_bytes))?;
            Some(guard)
        } else {
            None
        };
        let thp = self
            .settings
            .get(setup::THP)
            .map_or_else(|| options.thp.clone(), str::to_string);
        let spec = GuestSpec {
            kernel: image.path.clone(),
            initramfs: initramfs.0.clone(),
            memory_bytes: memory.bytes,
            thp: thp.clone(),
            params: self.guest_params(options, memory, disk.is_some()),
            machine,
            timeout: options.timeout,
            console_log: self.folder.join("console.log"),
            results_port: self.folder.join("serial1.txt"),
            disk: disk.as_ref().map(|d| d.0.clone()),
        };
        self.say(&format!("booting ({})", machine.accelerator.name()));
        let booted = qemu::boot(&spec, &|line| self.say(line))?;
        drop(disk);
        drop(initramfs);
        let payload = results_payload(&spec, &booted)?;
        let mut run: RunRecord = serde_json::from_slice(&payload)
            .context("the guest's results are not a results.json")?;
        self.record_guest(&mut run, machine, memory, thp);
        memory.advise(&mut run);
        Ok(run)
    }

    /// The `vmlab.*` parameters of this column's guest.
    fn guest_params(
        &self,
        options: &MatrixOptions,
        memory: &GuestMemory,
        disk: bool,
    ) -> Vec<(String, String)> {
        let mut params = vec![
            ("experiments".to_string(), options.experiments.join(",")),
            ("memory".to_string(), memory.bytes.to_string()),
        ];
        if let Some(size) = options.size_bytes {
            params.push(("size".into(), size.to_string()));
        }
        if disk {
            params.push(("disk".into(), "vda".into()));
        }
        if let Some(sysctls) = self.settings.sysctl_param() {
            params.push(("sysctl".into(), sysctls));
        }
        params
    }

    /// Records in the run how its guest ran and what it asked for (the guest
    /// itself recorded its command line and the sysctls it read back).
    fn record_guest(
        &self,
        run: &mut RunRecord,
        machine: Machine,
        memory: &GuestMemory,
        thp: String,
    ) {
        let (cmdline, had) = run
            .environment
            .guest
            .as_ref()
            .map(|g| (g.kernel_cmdline.clone(), g.had.clone()))
            .unwrap_or_default();
        let mut asked = self.settings.asked();
        asked.insert(setup::THP.into(), thp.clone());
        run.environment.virtual_machine = true;
        run.environment.guest = Some(GuestInfo {
            kernel_spec: self.label.clone(),
            accelerator: machine.accelerator.name().to_string(),
            memory_bytes: memory.bytes,
            thp_cmdline: thp,
            kernel_cmdline: cmdline,
            asked,
            had,
        });
    }
}

/// The guest's framed results, from its results port or else its console;
/// a timeout or a damaged frame is an error quoting QEMU and the console.
fn results_payload(spec: &GuestSpec, booted: &qemu::Booted) -> Result<Vec<u8>> {
    let console = std::fs::read_to_string(&spec.console_log).unwrap_or_default();
    let port = std::fs::read_to_string(&spec.results_port).unwrap_or_default();
    let tail = || qemu::tail(&console, 15);
    let status = match &booted.end {
        GuestEnd::TimedOut(after) => anyhow::bail!(
            "the guest did not power off within {} s and was killed ({}); console tail ({}):\n{}",
            after.as_secs(),
            booted.qemu.summary(),
            spec.console_log.display(),
            tail()
        ),
        GuestEnd::Exited(status) => status,
    };
    let payload = console::decode(&port)
        .or_else(|first| console::decode(&console).map_err(|_| first))
        .map_err(|e| {
            anyhow::anyhow!(
                "{e}; QEMU ended with {status}; {}; console tail ({}):\n{}",
                booted.qemu.summary(),
                spec.console_log.display(),
                tail()
            )
        })?;
    let _ = std::fs::remove_file(&spec.results_port);
    let _ = std::fs::remove_file(&spec.results_port);
    Ok(payload)
}

/// The static binaries copied to a fresh folder on /dev/shm, when it is a
/// writable tmpfs (program text in RAM, as in the guests' initramfs); None
/// where it is not.
fn binaries_in_ram(
    host: &Root,
    binaries: &qemu::GuestBinaries,
) -> Result<Option<tempfile::TempDir>> {
    let shm = Path::new("/dev/shm");
    if crate::system::Environment::detect_in(host, shm).temp_dir_fs != "tmpfs" {
        return Ok(None);
    }
    let Ok(dir) = tempfile::Builder::new()
        .prefix("vmlab-bin-")
        .tempdir_in(shm)
    else {
        return Ok(None);
    };
    for path in
        std::iter::once(&binaries.harness).chain(binaries.experiments.iter().map(|(_, p)| p))
    {
        let name = path
            .file_name()
            .context("a guest binary has no file name")?;
        std::fs::copy(path, dir.path().join(name)).with_context(|| {
            format!("cannot copy {} to {}", path.display(), dir.path().display())
        })?;
    }
    // The separately built programs travel with the binaries; the host's own
    // libraries serve the dynamically linked ones.
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
    Ok(Some(dir))
}

/// `harness run --quick` of the binaries in `bin_dir`, with address-space
/// randomisation off, results into `out` and the experiments' files into `files`.
fn native_command(bin_dir: &Path, options: &MatrixOptions, out: &Path, files: &Path) -> Command {
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
        .env(crate::runner::locate::DIR_VARIABLE, bin_dir)
        .arg("run")
        .args(&options.experiments)
        .arg("--quick")
        .arg("--timeout")
        .arg(options.timeout.as_secs().to_string())
        .arg("--out")
        .arg(out)
        .arg("--dir")
        .arg(files);
    if let Some(size) = options.size_bytes {
        command.arg("--size").arg(size.to_string());
    }
    command
}

/// The modules of a cached kernel as initramfs entries (path inside, file).
fn modules_for_initramfs(folder: &Path) -> Result<Vec<(String, PathBuf)>> {
    let order = folder.join(kernels::MODULE_ORDER);
    let text = std::fs::read_to_string(&order)
        .with_context(|| format!("cannot read {}", order.display()))?;
    let mut entries = vec![(
        format!("{}/{}", guest::MODULES_DIR, kernels::MODULE_ORDER),
        order.clone(),
    )];
    for name in text.lines().map(str::trim) {
        if !name.is_empty() && !name.starts_with('#') {
            entries.push((format!("{}/{name}", guest::MODULES_DIR), folder.join(name)));
        }
    }
    Ok(entries)
}

/// A duration as people read it: `48 s`, `2 min 05 s`.
fn human_duration(d: Duration) -> String {
    let s = d.as_secs();
    if s < 60 {
        format!("{s} s")
    } else {
        format!("{} min {:02} s", s / 60, s % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The machine captured in tests/fixtures/machine (see its NOTES.md).
    fn captured() -> Root {
        Root::at(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/machine"))
    }

    #[test]
    fn two_guests_run_at_once_only_where_the_hosts_meminfo_leaves_room() {
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        // The captured machine has about 23 GiB available.
        assert_eq!(
            crate::system::mem_available_bytes_in(&captured()),
            Some(23_826_336 * 1024)
        );
        let both = if cpus >= 2 { 2 } else { 1 };
        assert_eq!(parallel_guests(&captured(), 4 << 30), both);
        assert_eq!(parallel_guests(&captured(), 12 << 30), 1, "no room for two");
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            parallel_guests(&Root::at(dir.path()), 1 << 20),
            1,
            "no meminfo"
        );
    }

    #[test]
    fn the_host_thp_mode_is_the_selected_word_of_its_root() {
        assert_eq!(host_thp_mode(&captured()), "madvise");
        // The captured line with another mode selected, and no line at all.
        let dir = tempfile::tempdir().unwrap();
        let root = Root::at(dir.path());
        let captured = captured().text(THP_ENABLED).unwrap();
        let file = root.path(THP_ENABLED);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(
            &file,
            captured.replace("[madvise] never", "madvise [never]"),
        )
        .unwrap();
        assert_eq!(host_thp_mode(&root), "never");
        std::fs::remove_file(&file).unwrap();
        assert_eq!(
            host_thp_mode(&root),
            "madvise",
            "the default without a file"
        );
    }

    #[test]
    fn kernels_with_the_same_file_name_get_distinct_folders() {
        let kernels = [
            KernelSpec::Path("/a/vmlinuz".into()),
            KernelSpec::Host,
            KernelSpec::Path("/b/vmlinuz".into()),
            KernelSpec::Path("/c/vmlinuz".into()),
        ];
        assert_eq!(
            folder_names(&kernels, &[]),
            vec!["vmlinuz", "host", "vmlinuz-2", "vmlinuz-3"]
        );
    }

    fn options(experiments: &[&str], memory: Option<u64>) -> MatrixOptions {
        MatrixOptions {
            kernels: vec![],
            settings: vec![],
            experiments: experiments.iter().map(|s| s.to_string()).collect(),
            thp: "never".into(),
            memory_bytes: memory,
            size_bytes: None,
            timeout: Duration::from_secs(1),
            output: MatrixOutput {
                out: "/nonexistent".into(),
                ktap: false,
                all_rows: false,
            },
            host: captured(),
        }
    }

    /// Every experiment's name, and those that need more than the smallest guest.
    fn all_and_hungry() -> (Vec<String>, Vec<(String, u64)>) {
        let all: Vec<String> = crate::experiment::registry()
            .iter()
            .map(|e| e.info().name.to_string())
            .collect();
        let names: Vec<&str> = all.iter().map(String::as_str).collect();
        let hungry = memory_needs(&options(&names, None), 64 << 20)
            .into_iter()
            .filter(|(_, need)| *need > MEMORY_FLOOR)
            .collect();
        (all, hungry)
    }

    #[test]
    fn guest_memory_is_sized_so_that_every_experiment_runs_at_quick_size() {
        let (all, hungry) = all_and_hungry();
        // At quick size one experiment (writing half of a 1 GiB mapping)
        // declines in the smallest guest: the sizing must see it.
        assert!(
            !hungry.is_empty(),
            "no experiment needs more than the floor"
        );
        let names: Vec<&str> = all.iter().map(String::as_str).collect();
        let needs = memory_needs(&options(&names, None), 64 << 20);
        let memory = size_guests(needs, None, 64 << 30);
        let most = hungry.iter().map(|(_, n)| *n).max().unwrap_or(0);
        assert_eq!(memory.bytes, most, "{memory:?}");
        assert!(memory.bytes <= 2 << 30, "no more than needed: {memory:?}");
        assert!(memory.short.is_empty(), "{memory:?}");
        let modest: Vec<&str> = names
            .iter()
            .copied()
            .filter(|n| !hungry.iter().any(|(h, _)| h == n))
            .collect();
        let small = size_guests(
            memory_needs(&options(&modest, None), 64 << 20),
            None,
            64 << 30,
        );
        assert_eq!(small.bytes, MEMORY_FLOOR);
        // A machine without the room gets what it has, and says who is short.
        let one = [hungry[0].0.as_str()];
        let squeezed = size_guests(
            memory_needs(&options(&one, None), 64 << 20),
            None,
            (1 << 30) + MEMORY_FLOOR,
        );
        assert_eq!(squeezed.bytes, MEMORY_FLOOR);
        assert_eq!(squeezed.short.len(), 1, "{squeezed:?}");
    }

    #[test]
    fn a_column_in_strict_overcommit_gets_a_guest_that_can_commit_what_is_mapped() {
        let all: Vec<String> = crate::experiment::registry()
            .iter()
            .map(|e| e.info().name.to_string())
            .collect();
        let names: Vec<&str> = all.iter().map(String::as_str).collect();
        let default = size_guests(memory_needs(&options(&names, None), 0), None, 64 << 30);
        let mut strict = setup::Settings::default();
        strict.with("overcommit=2").unwrap();
        let mut asked = options(&names, None);
        asked.settings = vec![setup::Settings::default(), strict.clone()];
        let sized = size_guests(memory_needs(&asked, 0), None, 64 << 30);
        // Half of MemTotal (the default ratio) must hold what an experiment
        // maps: more than the default guest, whose mode does not refuse.
        assert!(sized.bytes > default.bytes, "{sized:?} vs {default:?}");
        let (mode, room) = guest_commit(&strict, guest_mem_total(sized.bytes));
        assert_eq!(mode, Some(2));
        assert!(room.is_some_and(|r| r >= 1 << 30), "{room:?}");
        // A higher ratio needs less.
        strict.sysctl("vm.overcommit_ratio=120").unwrap();
        asked.settings = vec![strict];
        let generous = size_guests(memory_needs(&asked, 0), None, 64 << 30);
        assert!(generous.bytes < sized.bytes, "{generous:?} vs {sized:?}");
    }

    #[test]
    fn too_little_memory_is_named_with_the_option_that_helps() {
        let (_, hungry) = all_and_hungry();
        let memory = size_guests(
            memory_needs(&options(&[hungry[0].0.as_str()], None), 64 << 20),
            Some(MEMORY_FLOOR),
            64 << 30,
        );
        assert_eq!(memory.short.len(), 1, "{memory:?}");
        let (name, need) = &memory.short[0];
        let advice = memory.advice(name, *need);
        assert!(advice.contains("--memory"), "{advice}");
        assert!(!advice.contains("--quick"), "{advice}");
    }

    #[test]
    fn claims_that_need_a_disk_are_inconclusive_when_files_were_in_ram() {
        // A claim that declares the need, and one of the same experiment that does not.
        let experiment = crate::experiment::registry()
            .into_iter()
            .find(|e| {
                e.declared()
                    .iter()
                    .any(|d| d.needs.contains(&Need::DiskBackedFiles))
            })
            .expect("a claim declares that it needs disk-backed files");
        let needing = |need: bool| {
            experiment
                .claims()
                .iter()
                .find(|c| {
                    declared::needs(experiment.info().name, c.id, Need::DiskBackedFiles) == need
                })
                .expect("a claim")
                .id
        };
        let mut run = compare::tests::run(4096, 1, Verdict::Refuted);
        run.environment.temp_dir_fs = "tmpfs".into();
        run.experiments[0].name = experiment.info().name.into();
        run.experiments[0].claims[0].id = needing(true).into();
        let mut other = run.clone();
        other.experiments[0].claims[0].id = needing(false).into();
        files_not_on_disk(&mut run, "no disk was attached");
        files_not_on_disk(&mut other, "no disk was attached");
        let claim = &run.experiments[0].claims[0];
        assert_eq!(claim.verdict, Verdict::Inconclusive);
        assert!(
            claim.evidence.contains("on tmpfs (no disk was attached)"),
            "{}",
            claim.evidence
        );
        assert_eq!(other.experiments[0].claims[0].verdict, Verdict::Refuted);
    }
}
