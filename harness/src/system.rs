//! The machine and kernel a run measures. Detected once at start-up and passed to
//! everything that judges figures, so that a saved run can be judged offline.

use std::path::{Path, PathBuf};

use procfs_core::process::MountInfo;
use procfs_core::{CpuInfo, FromBufRead, Meminfo, ProcessCGroups};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::ProbeError;

/// The kernel's default `fault_around_bytes` (mm/memory.c), used when debugfs is
/// not readable: 64 KiB.
pub const DEFAULT_FAULT_AROUND_BYTES: u64 = 64 * 1024;

/// Facts about the machine, recorded with every run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Environment {
    /// `uname -r`.
    pub kernel: String,
    /// The full /proc/version line.
    pub kernel_version: String,
    /// Host name.
    pub hostname: String,
    /// CPU architecture (`x86_64`).
    pub arch: String,
    /// Page size in bytes.
    pub page_size: u64,
    /// Transparent huge pages mode: `always`, `madvise` or `never`.
    pub thp_enabled: String,
    /// THP defrag mode.
    pub thp_defrag: String,
    /// The size one PMD maps, a PMD-sized transparent huge page
    /// (`transparent_hugepage/hpage_pmd_size`), in bytes, if THP is built in.
    /// It is 2 MiB on x86-64 with 4 KiB pages but not everywhere (arm64 with
    /// 64 KiB pages maps 512 MiB), so experiments take the huge page size from
    /// here rather than from a 2 MiB literal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thp_pmd_bytes: Option<u64>,
    /// Whether a read fault in a THP-enabled mapping may map the huge zero page
    /// (`transparent_hugepage/use_zero_page`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thp_use_zero_page: Option<bool>,
    /// Each anonymous THP size (mTHP, `hugepages-<size>kB/enabled`) in bytes, with
    /// its mode: `always`, `inherit`, `madvise` or `never`. Empty on kernels
    /// without multi-size THP.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub thp_sizes: std::collections::BTreeMap<u64, String>,
    /// Proactive reclaim running on the machine: each DAMON kdamond that is on
    /// with a `pageout` scheme (`/sys/kernel/mm/damon/admin`), described. Such a
    /// scheme evicts pages it finds idle, page-cache pages of a file being
    /// measured included, without counting them as reclaim (pgsteal).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub damon_pageout: Vec<String>,
    /// `vm.overcommit_memory`: 0 heuristic, 1 always, 2 never.
    pub overcommit_memory: Option<u32>,
    /// `fault_around_bytes` from debugfs, if readable (root with debugfs mounted).
    pub fault_around_bytes: Option<u64>,
    /// `kernel.randomize_va_space`: 0 off, 1 partial, 2 full address-space randomisation.
    pub randomize_va_space: Option<u32>,
    /// True when the run's processes had address-space randomisation off by
    /// their personality (ADDR_NO_RANDOMIZE, from /proc/self/personality), as
    /// a kernel matrix runs them: whole-process figures are then the same from
    /// run to run, and the matrix compares them as they are.
    #[serde(default)]
    pub address_space_fixed: bool,
    /// The folder experiments put their files in.
    pub temp_dir: PathBuf,
    /// Its file system type (`ext4`, `tmpfs`, ...): the type in mountinfo of
    /// the mount that holds it, or, when that cannot be read, the name of the
    /// statfs magic number (which cannot tell ext2, ext3 and ext4 apart).
    pub temp_dir_fs: String,
    /// Free bytes there when the run started.
    pub temp_dir_free_bytes: u64,
    /// Read-ahead of the device behind it, in KiB, if it has one.
    pub temp_dir_read_ahead_kb: Option<u64>,
    /// CPU model name.
    pub cpu_model: String,
    /// Online CPUs.
    pub cpu_count: usize,
    /// Whether the CPU flags say a hypervisor is underneath.
    pub virtual_machine: bool,
    /// MemTotal in bytes (0 when /proc/meminfo could not be read).
    pub mem_total_bytes: u64,
    /// SwapTotal in bytes (0 when /proc/meminfo could not be read).
    pub swap_total_bytes: u64,
    /// What can still be committed when the harness starts: CommitLimit less
    /// Committed_AS, the room that matters under `vm.overcommit_memory = 2`,
    /// where the kernel refuses any mapping beyond it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit_room_bytes: Option<u64>,
    /// Whether the harness runs as root (needed for pagemap PFNs and kpagecount).
    pub is_root: bool,
    /// The memory limit of the harness's cgroup, if any: cgroup v2 `memory.max`
    /// or v1 `memory.limit_in_bytes`, the smallest of its cgroup's and its
    /// ancestors' (the experiments run in the same cgroup).
    pub cgroup_memory_max_bytes: Option<u64>,
    /// Which cgroup version the memory controller is mounted as (1 or 2), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cgroup_version: Option<u8>,
    /// The folder of the harness's memory cgroup (under /sys/fs/cgroup), if found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cgroup_memory_dir: Option<PathBuf>,
    /// `kernel.pid_max`: one more than the largest PID the kernel hands out,
    /// so the most processes and threads that can exist at once. Experiments
    /// that start many processes refuse counts that would not fit under it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid_max: Option<u64>,
    /// The harness's soft RLIMIT_NPROC (`ulimit -u`), which its children
    /// inherit: how many processes its user may have before fork fails with
    /// EAGAIN (root is exempt). `None` when unlimited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rlimit_nproc: Option<u64>,
    /// The process limit of the harness's cgroup (v2 `pids.max` or v1
    /// `pids.max` of the pids controller), which its experiments share: of the
    /// cgroup and its ancestors, the one that leaves the least room. `None` when
    /// no level sets one ("max") or there is no pids controller.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cgroup_pids_max: Option<u64>,
    /// `pids.current` of the cgroup whose limit is [`Environment::cgroup_pids_max`]
    /// (the harness's own cgroup when none is set) at detection: the tasks already
    /// counted against that limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cgroup_pids_current: Option<u64>,
    /// How many processes ran on the machine at detection (the PID folders of
    /// /proc), which take PIDs under `pid_max` and, at most, RLIMIT_NPROC
    /// slots. The harness's experiments leave none behind, so the figure still
    /// holds when a later experiment plans. `None` when /proc lists none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub processes_running: Option<u64>,
    /// glibc version, as `gnu_get_libc_version()` reports it.
    pub glibc_version: String,
    /// Set when the run happened inside a `harness matrix` virtual machine: how
    /// that machine was configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guest: Option<GuestInfo>,
    /// The folder whose /proc and /sys this was detected from, where the
    /// figures read afresh later ([`Environment::memory_room_bytes`]) are read
    /// too: a fixture tree in tests, `/` live. Not recorded: an environment
    /// read back from a results.json reads the running machine.
    #[serde(skip)]
    pub detected_in: Root,
}

/// The personality flag that turns address-space randomisation off.
const ADDR_NO_RANDOMIZE: u64 = 0x0040000;

/// The virtual machine a `harness matrix` guest ran in. The memory size and the
/// THP mode are fixed on the kernel command line so that differences between
/// kernels come from the kernels, not from their defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct GuestInfo {
    /// The kernel as named on the matrix command line (`debian:6.1`, a path).
    pub kernel_spec: String,
    /// `kvm` (hardware virtualisation) or `tcg` (software emulation).
    pub accelerator: String,
    /// Memory given to the virtual machine, in bytes (QEMU's `-m`).
    pub memory_bytes: u64,
    /// The `transparent_hugepage=` value on the kernel command line.
    pub thp_cmdline: String,
    /// The whole kernel command line (/proc/cmdline inside the guest).
    pub kernel_cmdline: String,
    /// The settings the matrix asked of this guest beyond its kernel (`thp`,
    /// sysctls such as `vm.overcommit_memory`), by key.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub asked: std::collections::BTreeMap<String, String>,
    /// The sysctls the guest set, as it read them back afterwards.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub had: std::collections::BTreeMap<String, String>,
}

/// Where detection reads /proc and /sys: `/` on the running machine, a folder
/// of captured files in tests, so that every parser runs on real text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Root(PathBuf);

/// The running machine, the root of anything not told otherwise.
impl Default for Root {
    fn default() -> Root {
        Root::live()
    }
}

impl Root {
    /// The running machine.
    pub fn live() -> Root {
        Root(PathBuf::from("/"))
    }

    /// A folder laid out like `/` (`proc/meminfo`, `sys/kernel/mm/...`).
    pub fn at(dir: impl Into<PathBuf>) -> Root {
        Root(dir.into())
    }

    /// Where the file the kernel shows at `absolute` is under this root.
    pub fn path(&self, absolute: impl AsRef<Path>) -> PathBuf {
        let absolute = absolute.as_ref();
        self.0.join(absolute.strip_prefix("/").unwrap_or(absolute))
    }

    /// The text of the file at `absolute`, trimmed; `None` when unreadable.
    pub fn text(&self, absolute: impl AsRef<Path>) -> Option<String> {
        read_trimmed(&self.path(absolute))
    }

    /// Where a file found under this root is as the kernel shows it (`/` and
    /// the path below the root); a path outside the root is left as it is.
    pub fn kernel_path(&self, found: &Path) -> PathBuf {
        found
            .strip_prefix(&self.0)
            .map_or_else(|_| found.to_path_buf(), |rest| Path::new("/").join(rest))
    }
}

impl Environment {
    /// Detects the running machine; `temp_dir` is where experiment files will go.
    pub fn detect(temp_dir: &Path) -> Environment {
        Environment::detect_in(&Root::live(), temp_dir)
    }

    /// Detects the machine whose /proc and /sys are under `root`. What no file
    /// says (uname, host name, page size, CPU count, free space, user,
    /// RLIMIT_NPROC, glibc) comes from system calls about the running machine
    /// whatever the root.
    pub fn detect_in(root: &Root, temp_dir: &Path) -> Environment {
        let uname = nix::sys::utsname::uname().ok();
        let text = |path: &str| root.text(path);
        let meminfo = text("/proc/meminfo").and_then(|t| parse_meminfo(&t).ok());
        let cpuinfo = text("/proc/cpuinfo").and_then(|t| CpuInfo::from_buf_read(t.as_bytes()).ok());
        let mountinfo = mount_infos(&text("/proc/self/mountinfo").unwrap_or_default());
        let (temp_dir_fs, temp_dir_free_bytes, read_ahead) =
            describe_dir(root, &mountinfo, temp_dir);
        let cgroup = MemoryCgroup::detect_in(root);
        let pids = PidsCgroup::detect_in(root).map(|p| p.headroom());
        let thp = |file: &str| text(&format!("/sys/kernel/mm/transparent_hugepage/{file}"));
        Environment {
            kernel: uname
                .as_ref()
                .map(|u| u.release().to_string_lossy().into_owned())
                .unwrap_or_default(),
            kernel_version: text("/proc/version").unwrap_or_default(),
            hostname: nix::unistd::gethostname()
                .map(|h| h.to_string_lossy().into_owned())
                .unwrap_or_else(|_| "unknown".into()),
            arch: std::env::consts::ARCH.to_string(),
            page_size: experiments::pages::page_size() as u64,
            thp_enabled: thp("enabled")
                .map(|t| selected_word(&t))
                .unwrap_or_else(|| "unsupported".into()),
            thp_defrag: thp("defrag")
                .map(|t| selected_word(&t))
                .unwrap_or_else(|| "unsupported".into()),
            thp_pmd_bytes: thp("hpage_pmd_size").and_then(|t| t.parse().ok()),
            thp_use_zero_page: thp("use_zero_page").map(|t| t == "1"),
            thp_sizes: thp_sizes(&root.path("/sys/kernel/mm/transparent_hugepage")),
            damon_pageout: damon_pageout(&root.path("/sys/kernel/mm/damon/admin/kdamonds")),
            overcommit_memory: text("/proc/sys/vm/overcommit_memory").and_then(|t| t.parse().ok()),
            fault_around_bytes: text("/sys/kernel/debug/fault_around_bytes")
                .and_then(|t| t.parse().ok()),
            address_space_fixed: text("/proc/self/personality")
                .and_then(|p| u64::from_str_radix(p.trim(), 16).ok())
                .is_some_and(|p| p & ADDR_NO_RANDOMIZE != 0),
            randomize_va_space: text("/proc/sys/kernel/randomize_va_space")
                .and_then(|t| t.parse().ok()),
            temp_dir: temp_dir.to_path_buf(),
            temp_dir_fs,
            temp_dir_free_bytes,
            temp_dir_read_ahead_kb: read_ahead,
            cpu_model: cpuinfo
                .as_ref()
                .and_then(|c| c.model_name(0))
                .unwrap_or("unknown")
                .to_string(),
            cpu_count: std::thread::available_parallelism().map_or(1, |n| n.get()),
            virtual_machine: cpuinfo
                .as_ref()
                .and_then(|c| c.flags(0))
                .is_some_and(|f| f.contains(&"hypervisor")),
            mem_total_bytes: meminfo.as_ref().map_or(0, |m| m.mem_total),
            swap_total_bytes: meminfo.as_ref().map_or(0, |m| m.swap_total),
            commit_room_bytes: meminfo
                .as_ref()
                .and_then(|m| Some(m.commit_limit?.saturating_sub(m.committed_as))),
            is_root: nix::unistd::geteuid().is_root(),
            cgroup_memory_max_bytes: cgroup.as_ref().and_then(MemoryCgroup::limit_bytes),
            cgroup_version: cgroup.as_ref().map(|c| c.version),
            cgroup_memory_dir: cgroup.map(|c| root.kernel_path(&c.dir)),
            pid_max: text("/proc/sys/kernel/pid_max").and_then(|t| t.parse().ok()),
            rlimit_nproc: rlimit_nproc(),
            cgroup_pids_max: pids.and_then(|(max, _)| max),
            cgroup_pids_current: pids.and_then(|(_, current)| current),
            processes_running: processes_running(&root.path("/proc")),
            glibc_version: glibc_version(),
            guest: None,
            detected_in: root.clone(),
        }
    }

    /// The machine captured in tests/fixtures/machine (see its NOTES.md), for
    /// unit tests that need an environment and must not read the live one.
    /// What no file says (host name, page size, ...) is still this machine's,
    /// so a test sets the fields it judges by; its memory room is read from the
    /// captured files too.
    #[cfg(test)]
    pub(crate) fn fixture() -> Environment {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/machine");
        Environment::detect_in(&Root::at(root), Path::new("/tmp"))
    }

    /// How much memory an experiment may take now without being killed or
    /// pushing the machine into reclaim: MemAvailable, read afresh, and, under a
    /// cgroup limit, no more than the limit less what the cgroup already uses.
    /// Both are read under the root the environment was detected in. `None`
    /// when neither can be read.
    pub fn memory_room_bytes(&self) -> Option<u64> {
        let available = mem_available_bytes_in(&self.detected_in);
        let cgroup = self.cgroup_memory_max_bytes.map(|limit| {
            let used = self
                .cgroup_memory_dir
                .as_ref()
                .zip(self.cgroup_version)
                .and_then(|(dir, version)| {
                    let dir = self.detected_in.path(dir);
                    MemoryCgroup {
                        version,
                        dir: dir.clone(),
                        mount: dir,
                    }
                    .usage_bytes()
                })
                .unwrap_or(0);
            limit.saturating_sub(used)
        });
        match (available, cgroup) {
            (Some(a), Some(c)) => Some(a.min(c)),
            (a, c) => a.or(c),
        }
    }

    /// `fault_around_bytes` as read, or the kernel default when it is not readable.
    pub fn fault_around_or_default(&self) -> u64 {
        self.fault_around_bytes
            .unwrap_or(DEFAULT_FAULT_AROUND_BYTES)
    }
}

/// The anonymous THP sizes of multi-size THP (`hugepages-<size>kB/enabled`
/// under `dir`) with the mode selected for each.
fn thp_sizes(dir: &Path) -> std::collections::BTreeMap<u64, String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Default::default();
    };
    entries
        .filter_map(|e| {
            let e = e.ok()?;
            let name = e.file_name().into_string().ok()?;
            let kb: u64 = name
                .strip_prefix("hugepages-")?
                .strip_suffix("kB")?
                .parse()
                .ok()?;
            let mode = read_trimmed(&e.path().join("enabled"))?;
            Some((kb * 1024, selected_word(&mode)))
        })
        .collect()
}

/// Every kdamond under `dir` that is on and has a `pageout` scheme, as
/// `kdamond N: pageout of idle <operations> memory` (read only).
fn damon_pageout(dir: &Path) -> Vec<String> {
    let Ok(kdamonds) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for k in kdamonds.flatten() {
        let name = k.file_name().to_string_lossy().into_owned();
        if read_trimmed(&k.path().join("state")).as_deref() != Some("on") {
            continue;
        }
        let Ok(contexts) = std::fs::read_dir(k.path().join("contexts")) else {
            continue;
        };
        for c in contexts.flatten() {
            let ops = read_trimmed(&c.path().join("operations")).unwrap_or_default();
            let pageout = std::fs::read_dir(c.path().join("schemes"))
                .into_iter()
                .flatten()
                .flatten()
                .any(|s| read_trimmed(&s.path().join("action")).as_deref() == Some("pageout"));
            if pageout {
                found.push(format!("kdamond {name}: pageout of idle {ops} memory"));
            }
        }
    }
    found.sort();
    found
}

/// The soft RLIMIT_NPROC of this process; `None` when unlimited or unreadable.
fn rlimit_nproc() -> Option<u64> {
    use nix::sys::resource::{getrlimit, Resource, RLIM_INFINITY};
    let (soft, _hard) = getrlimit(Resource::RLIMIT_NPROC).ok()?;
    (soft != RLIM_INFINITY).then_some(soft)
}

/// How many PID folders `proc` (a /proc) lists; `None` when it cannot be
/// read or lists none (a live /proc always lists the process reading it).
fn processes_running(proc: &Path) -> Option<u64> {
    let count = std::fs::read_dir(proc)
        .ok()?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .count() as u64;
    (count > 0).then_some(count)
}

fn read_trimmed(path: &Path) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|t| t.trim().to_string())
}

/// The word in brackets of a sysfs choice file (`always [madvise] never` → `madvise`).
pub fn selected_word(text: &str) -> String {
    text.split_whitespace()
        .find_map(|w| w.strip_prefix('[').and_then(|w| w.strip_suffix(']')))
        .unwrap_or(text)
        .to_string()
}

/// MemAvailable of the /proc/meminfo under `root`, read now: the kernel's
/// estimate of what can be allocated without swapping. `None` when the file
/// cannot be read or the kernel does not write the field.
pub fn mem_available_bytes_in(root: &Root) -> Option<u64> {
    let text = root.text(MEMINFO)?;
    parse_meminfo(&text).ok()?.mem_available
}

/// Where the kernel shows its memory counters.
pub const MEMINFO: &str = "/proc/meminfo";

/// Parses /proc/meminfo's text. Values in kB that would not fit in a u64 once
/// in bytes are refused here, with their line, before procfs-core multiplies.
pub fn parse_meminfo(text: &str) -> Result<Meminfo, ProbeError> {
    for (index, line) in text.lines().enumerate() {
        // procfs-core slices keys by bytes and panics inside a multi-byte
        // character; the kernel writes ASCII only, so anything else is refused.
        if !line.is_ascii() {
            return Err(ProbeError::Parse {
                path: PathBuf::from(MEMINFO),
                line_no: index + 1,
                line: line.to_string(),
                reason: "not ASCII, as the kernel writes it".into(),
            });
        }
        let mut words = line.split_whitespace().skip(1);
        let (Some(value), Some("kB")) = (words.next(), words.next()) else {
            continue;
        };
        if value
            .parse::<u64>()
            .is_ok_and(|kib| kib.checked_mul(1024).is_none())
        {
            return Err(ProbeError::Parse {
                path: PathBuf::from(MEMINFO),
                line_no: index + 1,
                line: line.to_string(),
                reason: "more bytes than a u64 holds".into(),
            });
        }
    }
    Meminfo::from_buf_read(text.as_bytes()).map_err(|e| ProbeError::Incomplete {
        path: PathBuf::from(MEMINFO),
        reason: e.to_string(),
    })
}

/// The lines of a mountinfo text procfs-core can parse; one it cannot (a
/// kernel with a new optional field) is left out rather than losing them all.
fn mount_infos(text: &str) -> Vec<MountInfo> {
    text.lines()
        .filter_map(|line| MountInfo::from_line(line).ok())
        .collect()
}

/// The mount that holds `dir`: the one with the longest mount point above it,
/// the last listed when several are stacked on the same point (it hides the
/// others).
fn mount_of<'m>(mounts: &'m [MountInfo], dir: &Path) -> Option<&'m MountInfo> {
    mounts
        .iter()
        .filter(|m| dir.starts_with(&m.mount_point))
        .max_by_key(|m| m.mount_point.components().count())
}

/// File system type, free bytes and device read-ahead of a folder.
fn describe_dir(root: &Root, mounts: &[MountInfo], dir: &Path) -> (String, u64, Option<u64>) {
    use nix::sys::statfs::statfs;
    use nix::sys::statvfs::statvfs;
    let real = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    let fs = mount_of(mounts, &real)
        .map(|m| m.fs_type.clone())
        .or_else(|| statfs(dir).ok().map(|s| fs_name(s.filesystem_type().0)))
        .unwrap_or_else(|| "unknown".into());
    let free = statvfs(dir)
        .map(|s| s.blocks_available().saturating_mul(s.fragment_size()))
        .unwrap_or(0);
    let read_ahead = nix::sys::stat::stat(dir).ok().and_then(|st| {
        let (major, minor) = (
            nix::sys::stat::major(st.st_dev),
            nix::sys::stat::minor(st.st_dev),
        );
        root.text(format!("/sys/class/bdi/{major}:{minor}/read_ahead_kb"))
            .and_then(|t| t.parse().ok())
    });
    (fs, free, read_ahead)
}

/// Names of the file systems an experiment is likely to meet (magic numbers from
/// include/uapi/linux/magic.h).
fn fs_name(magic: i64) -> String {
    match magic {
        // ext2, ext3 and ext4 share this magic; ext4 is the likeliest today.
        0xEF53 => "ext4".into(),
        0x0102_1994 => "tmpfs".into(),
        0x5846_5342 => "xfs".into(),
        0x9123_683E => "btrfs".into(),
        0x794C_7630 => "overlayfs".into(),
        0x6969 => "nfs".into(),
        0x2FC1_2FC1 => "zfs".into(),
        0x0102_1997 => "9p".into(),
        0x6573_5546 => "fuse".into(),
        other => format!("unknown (magic {other:#x})"),
    }
}

/// v1 writes "no limit" as the largest page-aligned i64; anything from 2^62 up
/// is taken as no limit.
const V1_NO_LIMIT_FROM: u64 = 1 << 62;

/// The memory cgroup the harness runs in, and with it every experiment (they
/// are not moved elsewhere).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryCgroup {
    /// 1 or 2.
    pub version: u8,
    /// The cgroup's folder.
    pub dir: PathBuf,
    /// Where its hierarchy is mounted (the top of the ancestors looked at).
    pub mount: PathBuf,
}

/// The counters that tell an OOM kill happened, read before and after a variant.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OomCounters {
    /// `oom_kill` of /proc/vmstat: OOM kills anywhere on the machine.
    pub system_kills: Option<u64>,
    /// `oom_kill` of the cgroup (v2 memory.events, v1 memory.oom_control).
    pub cgroup_kills: Option<u64>,
    /// v1 `memory.failcnt`: how often the cgroup hit its limit.
    pub cgroup_failcnt: Option<u64>,
}

impl OomCounters {
    /// Reads the counters now.
    pub fn read(cgroup: Option<&MemoryCgroup>) -> OomCounters {
        OomCounters::read_in(&Root::live(), cgroup)
    }

    /// Reads the counters now from the /proc under `root` and `cgroup`'s folder.
    pub fn read_in(root: &Root, cgroup: Option<&MemoryCgroup>) -> OomCounters {
        let vmstat = root.text("/proc/vmstat").unwrap_or_default();
        OomCounters {
            system_kills: keyed_number(&vmstat, "oom_kill"),
            cgroup_kills: cgroup.and_then(MemoryCgroup::oom_kills),
            cgroup_failcnt: cgroup
                .filter(|c| c.version == 1)
                .and_then(|c| c.number("memory.failcnt")),
        }
    }

    /// What rose since `before`, as a clause for a failure message, if
    /// anything did ("the OOM killer acted: ...").
    pub fn explain_since(&self, before: &OomCounters, limit: Option<u64>) -> Option<String> {
        let rose = |now: Option<u64>, then: Option<u64>| match (now, then) {
            (Some(n), Some(t)) if n > t => Some(n - t),
            _ => None,
        };
        let limit = limit
            .map(|l| format!(" (limit {} MiB)", l >> 20))
            .unwrap_or_default();
        if let Some(n) = rose(self.cgroup_kills, before.cgroup_kills) {
            return Some(format!(
                "killed by the OOM killer: out of memory in its cgroup{limit}, whose oom_kill count rose by {n}"
            ));
        }
        if let Some(n) = rose(self.system_kills, before.system_kills) {
            return Some(format!(
                "killed by the OOM killer, it seems: the machine's oom_kill count (/proc/vmstat) rose by {n} meanwhile"
            ));
        }
        rose(self.cgroup_failcnt, before.cgroup_failcnt).map(|n| {
            format!(
                "probably killed for memory: its cgroup{limit} hit its limit {n} times (memory.failcnt)"
            )
        })
    }
}

/// The number after `key ` on a line of a `key value` file (vmstat, memory.events).
fn keyed_number(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(' ')?;
        (k == key).then(|| v.trim().parse().ok())?
    })
}

/// The folder of this process's cgroup for `controller` (`memory`, `pids`),
/// from the texts of /proc/self/cgroup and /proc/self/mountinfo, as
/// (version, folder, mount point) under `root`: the v1 hierarchy of that
/// controller if one is mounted, else the v2 one if its root offers the
/// controller.
fn locate_controller(
    root: &Root,
    cgroup: &str,
    mountinfo: &str,
    controller: &str,
) -> Option<(u8, PathBuf, PathBuf)> {
    let groups = ProcessCGroups::from_buf_read(cgroup.as_bytes()).ok()?;
    let mounts = mount_infos(mountinfo);
    // The cgroup's path below the mount, as the mount's folder under `root`.
    let join = |mount: &MountInfo, path: &str| -> Option<PathBuf> {
        let rest = path.strip_prefix(mount.root.trim_end_matches('/'))?;
        Some(
            root.path(&mount.mount_point)
                .join(rest.trim_start_matches('/')),
        )
    };
    let v1 = mounts
        .iter()
        .filter(|m| m.fs_type == "cgroup" && m.super_options.contains_key(controller));
    for group in &groups {
        if !group.controllers.iter().any(|c| c == controller) {
            continue;
        }
        if let Some((mount, dir)) = v1
            .clone()
            .find_map(|m| Some((m, join(m, &group.pathname)?)))
        {
            return Some((1, dir, root.path(&mount.mount_point)));
        }
    }
    let path = &groups
        .0
        .iter()
        .find(|g| g.hierarchy == 0 && g.controllers.is_empty())?
        .pathname;
    mounts.iter().find_map(|m| {
        if m.fs_type != "cgroup2" {
            return None;
        }
        let point = root.path(&m.mount_point);
        let controllers = read_trimmed(&point.join("cgroup.controllers"));
        if !controllers.is_some_and(|c| c.split_whitespace().any(|w| w == controller)) {
            return None;
        }
        Some((2, join(m, path)?, point))
    })
}

/// The pids cgroup the harness runs in, and with it every experiment: its
/// `pids.max` caps how many tasks (processes and threads) they may have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PidsCgroup {
    /// 1 or 2.
    pub version: u8,
    /// The cgroup's folder.
    pub dir: PathBuf,
    /// Where its hierarchy is mounted (the top of the ancestors looked at).
    pub mount: PathBuf,
}

impl PidsCgroup {
    /// Finds the pids cgroup named by /proc/self/cgroup and
    /// /proc/self/mountinfo under `root`, by the same search as
    /// [`MemoryCgroup::detect_in`]; its folder must exist there.
    pub fn detect_in(root: &Root) -> Option<PidsCgroup> {
        let cgroup = root.text("/proc/self/cgroup")?;
        let mountinfo = root.text("/proc/self/mountinfo")?;
        let (version, dir, mount) = locate_controller(root, &cgroup, &mountinfo, "pids")?;
        dir.is_dir().then_some(PidsCgroup {
            version,
            dir,
            mount,
        })
    }

    /// (`pids.max`, `pids.current`) of the level, of this cgroup and its
    /// ancestors up to the mount, whose limit leaves the fewest tasks to
    /// start; with no limit set anywhere ("max", or no file: a hierarchy's
    /// root has none), no limit and this cgroup's own count.
    pub fn headroom(&self) -> (Option<u64>, Option<u64>) {
        let number = |dir: &Path, file: &str| -> Option<u64> {
            read_trimmed(&dir.join(file)).and_then(|t| t.parse().ok())
        };
        self.dir
            .ancestors()
            .take_while(|d| d.starts_with(&self.mount))
            .filter_map(|d| Some((number(d, "pids.max")?, number(d, "pids.current")?)))
            .min_by_key(|&(max, current)| max.saturating_sub(current))
            .map_or(
                (None, number(&self.dir, "pids.current")),
                |(max, current)| (Some(max), Some(current)),
            )
    }
}

impl MemoryCgroup {
    /// Finds this process's memory cgroup from /proc/self/cgroup and
    /// /proc/self/mountinfo.
    pub fn detect() -> Option<MemoryCgroup> {
        MemoryCgroup::detect_in(&Root::live())
    }

    /// Finds the memory cgroup named by /proc/self/cgroup and
    /// /proc/self/mountinfo under `root`; its folder must exist there.
    pub fn detect_in(root: &Root) -> Option<MemoryCgroup> {
        let cgroup = root.text("/proc/self/cgroup")?;
        let mountinfo = root.text("/proc/self/mountinfo")?;
        let found = MemoryCgroup::locate_in(root, &cgroup, &mountinfo)?;
        found.dir.is_dir().then_some(found)
    }

    /// The memory cgroup named by the texts of /proc/self/cgroup and
    /// /proc/self/mountinfo: the v1 `memory` hierarchy if one is mounted, else
    /// the v2 one if its root offers the memory controller.
    pub fn locate(cgroup: &str, mountinfo: &str) -> Option<MemoryCgroup> {
        MemoryCgroup::locate_in(&Root::live(), cgroup, mountinfo)
    }

    /// [`MemoryCgroup::locate`] with the cgroup file system under `root`.
    pub fn locate_in(root: &Root, cgroup: &str, mountinfo: &str) -> Option<MemoryCgroup> {
        let (version, dir, mount) = locate_controller(root, cgroup, mountinfo, "memory")?;
        Some(MemoryCgroup {
            version,
            dir,
            mount,
        })
    }

    fn number(&self, file: &str) -> Option<u64> {
        read_trimmed(&self.dir.join(file)).and_then(|t| t.parse().ok())
    }

    /// The smallest memory limit of this cgroup and its ancestors up to the
    /// mount, if any is set.
    pub fn limit_bytes(&self) -> Option<u64> {
        let file = if self.version == 1 {
            "memory.limit_in_bytes"
        } else {
            "memory.max"
        };
        self.dir
            .ancestors()
            .take_while(|d| d.starts_with(&self.mount))
            .filter_map(|d| read_trimmed(&d.join(file)))
            // v2 writes "max" for none.
            .filter_map(|t| t.parse::<u64>().ok())
            .filter(|&l| l < V1_NO_LIMIT_FROM)
            .min()
    }

    /// What the cgroup uses now (v2 memory.current, v1 memory.usage_in_bytes).
    pub fn usage_bytes(&self) -> Option<u64> {
        self.number(if self.version == 1 {
            "memory.usage_in_bytes"
        } else {
            "memory.current"
        })
    }

    /// How many processes the OOM killer has killed in this cgroup (v2
    /// memory.events, v1 memory.oom_control on kernels from 4.13).
    pub fn oom_kills(&self) -> Option<u64> {
        let file = if self.version == 1 {
            "memory.oom_control"
        } else {
            "memory.events"
        };
        keyed_number(&read_trimmed(&self.dir.join(file))?, "oom_kill")
    }
}

/// The C library's version as `gnu_get_libc_version()` reports it.
#[cfg(target_env = "gnu")]
fn glibc_version() -> String {
    // SAFETY: glibc returns a pointer to a static NUL-terminated string that
    // lives as long as the process.
    unsafe { std::ffi::CStr::from_ptr(libc::gnu_get_libc_version()) }
        .to_string_lossy()
        .into_owned()
}

/// Built for another C library: there is no glibc version to report.
#[cfg(not(target_env = "gnu"))]
fn glibc_version() -> String {
    "none (not built for glibc)".into()
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_running_damon_pageout_scheme_is_found() {
        let dir = tempfile::tempdir().unwrap();
        let scheme = dir.path().join("0/contexts/0/schemes/0");
        std::fs::create_dir_all(&scheme).unwrap();
        std::fs::write(dir.path().join("0/state"), "on\n").unwrap();
        std::fs::write(dir.path().join("0/contexts/0/operations"), "paddr\n").unwrap();
        std::fs::write(scheme.join("action"), "pageout\n").unwrap();
        assert_eq!(
            damon_pageout(dir.path()),
            ["kdamond 0: pageout of idle paddr memory"]
        );
        std::fs::write(dir.path().join("0/state"), "off\n").unwrap();
        assert!(damon_pageout(dir.path()).is_empty());
    }

    #[test]
    fn each_mthp_size_is_read_with_its_selected_mode() {
        let dir = tempfile::tempdir().unwrap();
        for (size, mode) in [
            ("64kB", "always inherit madvise [never]"),
            ("2048kB", "always [inherit] madvise never"),
        ] {
            let sub = dir.path().join(format!("hugepages-{size}"));
            std::fs::create_dir(&sub).unwrap();
            std::fs::write(sub.join("enabled"), format!("{mode}\n")).unwrap();
        }
        std::fs::create_dir(dir.path().join("khugepaged")).unwrap();
        let sizes = thp_sizes(dir.path());
        assert_eq!(sizes.len(), 2, "{sizes:?}");
        assert_eq!(sizes[&(64 * 1024)], "never");
        assert_eq!(sizes[&(2 << 20)], "inherit");
    }

    use super::*;

    #[test]
    fn selected_word_is_the_bracketed_one() {
        assert_eq!(selected_word("always [madvise] never"), "madvise");
        assert_eq!(
            selected_word("always defer defer+madvise [madvise] never"),
            "madvise"
        );
        assert_eq!(selected_word("[always] madvise never"), "always");
    }

    /// /proc/self/cgroup and the cgroup lines of mountinfo of a machine with
    /// v1 memory and an unused v2 hierarchy (captured on this project's CI kind).
    const HYBRID_CGROUP: &str = "9:name=systemd:/\n4:memory:/process_api/ac8a\n1:cpu:/\n0::/\n";
    const HYBRID_MOUNTINFO: &str =
        "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n\
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n\
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";

    #[test]
    fn a_v1_memory_cgroup_is_found_from_cgroup_and_mountinfo() {
        let found = MemoryCgroup::locate(HYBRID_CGROUP, HYBRID_MOUNTINFO).expect("found");
        assert_eq!(found.version, 1);
        assert_eq!(
            found.dir,
            Path::new("/sys/fs/cgroup/memory/process_api/ac8a")
        );
    }

    #[test]
    fn a_container_mount_root_is_taken_off_the_cgroup_path() {
        let cgroup = "4:memory:/docker/abc\n";
        let mountinfo =
            "35 31 0:32 /docker/abc /sys/fs/cgroup/memory ro - cgroup cgroup rw,memory\n";
        let found = MemoryCgroup::locate(cgroup, mountinfo).expect("found");
        assert_eq!(found.dir, Path::new("/sys/fs/cgroup/memory"));
    }

    #[test]
    fn limits_are_the_smallest_of_the_cgroup_and_its_ancestors() {
        let mount = tempfile::tempdir().unwrap();
        let dir = mount.path().join("a/b");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            mount.path().join("memory.limit_in_bytes"),
            "9223372036854771712\n",
        )
        .unwrap();
        std::fs::write(mount.path().join("a/memory.limit_in_bytes"), "268435456\n").unwrap();
        std::fs::write(dir.join("memory.limit_in_bytes"), "536870912\n").unwrap();
        std::fs::write(
            dir.join("memory.oom_control"),
            "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n",
        )
        .unwrap();
        let cgroup = MemoryCgroup {
            version: 1,
            dir: dir.clone(),
            mount: mount.path().to_path_buf(),
        };
        assert_eq!(cgroup.limit_bytes(), Some(256 << 20));
        assert_eq!(cgroup.oom_kills(), Some(3));
        let v2 = MemoryCgroup {
            version: 2,
            ..cgroup
        };
        std::fs::write(dir.join("memory.max"), "max\n").unwrap();
        assert_eq!(v2.limit_bytes(), None);
    }

    #[test]
    fn an_oom_kill_is_named_from_the_counters_that_rose() {
        let before = OomCounters {
            system_kills: Some(1),
            cgroup_kills: Some(0),
            cgroup_failcnt: Some(0),
        };
        let after = OomCounters {
            cgroup_kills: Some(1),
            ..before
        };
        let text = after.explain_since(&before, Some(64 << 20)).expect("named");
        assert!(
            text.contains("OOM killer") && text.contains("64 MiB"),
            "{text}"
        );
        assert_eq!(before.explain_since(&before, None), None);
    }

    /// The captured /proc and /sys of the machine described in
    /// tests/fixtures/machine/NOTES.md.
    fn captured() -> Root {
        Root::at(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/machine"))
    }

    const CAPTURED_CGROUP: &str =
        "sys/fs/cgroup/memory/process_api/b35790c61f0defac50ad39f2142ad641";

    #[test]
    fn the_captured_machine_is_detected_from_its_files() {
        let root = captured();
        let env = Environment::detect_in(&root, Path::new("/"));
        assert_eq!(env.thp_enabled, "madvise");
        assert_eq!(env.thp_defrag, "madvise");
        assert_eq!(env.thp_pmd_bytes, Some(2_097_152));
        assert_eq!(env.thp_use_zero_page, Some(true));
        assert_eq!(env.thp_sizes.len(), 8, "{:?}", env.thp_sizes);
        assert_eq!(env.thp_sizes[&(64 * 1024)], "never");
        assert_eq!(env.mem_total_bytes, 24_684_092 * 1024);
        assert_eq!(env.swap_total_bytes, 0);
        assert_eq!(env.cpu_model, "AMD EPYC");
        assert!(env.virtual_machine);
        // The capture's / is ext4 in its mountinfo.
        assert_eq!(env.temp_dir_fs, "ext4");
        assert_eq!(env.cgroup_version, Some(1));
        // Recorded as the kernel shows it, read under the root.
        assert_eq!(
            env.cgroup_memory_dir,
            Some(Path::new("/").join(CAPTURED_CGROUP))
        );
        // v1's "no limit" value at every level.
        assert_eq!(env.cgroup_memory_max_bytes, None);
        assert_eq!(env.pid_max, Some(32_768));
        // The harness runs in the root of the v1 pids hierarchy, which has no
        // pids.max or pids.current.
        assert_eq!((env.cgroup_pids_max, env.cgroup_pids_current), (None, None));
        // No process folders were captured.
        assert_eq!(env.processes_running, None);
    }

    #[test]
    fn the_captured_pids_cgroup_is_the_v1_hierarchy_root() {
        let root = captured();
        let pids = PidsCgroup::detect_in(&root).expect("the v1 pids cgroup");
        assert_eq!(pids.version, 1);
        assert_eq!(pids.dir, root.path("/sys/fs/cgroup/pids"));
        assert_eq!(pids.mount, pids.dir);
        assert_eq!(pids.headroom(), (None, None));
    }

    #[test]
    fn a_v2_pids_cgroup_is_found_when_the_root_offers_the_controller() {
        let root = tempfile::tempdir().unwrap();
        let cgroup = "0::/user.slice/session-2.scope\n";
        let mountinfo = "30 23 0:26 / /sys/fs/cgroup rw,relatime - cgroup2 cgroup2 rw\n";
        let mount = root.path().join("sys/fs/cgroup");
        std::fs::create_dir_all(mount.join("user.slice/session-2.scope")).unwrap();
        std::fs::create_dir_all(root.path().join("proc/self")).unwrap();
        std::fs::write(root.path().join("proc/self/cgroup"), cgroup).unwrap();
        std::fs::write(root.path().join("proc/self/mountinfo"), mountinfo).unwrap();
        std::fs::write(mount.join("cgroup.controllers"), "cpu memory\n").unwrap();
        assert_eq!(PidsCgroup::detect_in(&Root::at(root.path())), None);
        std::fs::write(mount.join("cgroup.controllers"), "cpu memory pids\n").unwrap();
        let pids = PidsCgroup::detect_in(&Root::at(root.path())).expect("found");
        assert_eq!(pids.version, 2);
        assert_eq!(pids.dir, mount.join("user.slice/session-2.scope"));
        assert_eq!(pids.mount, mount);
    }

    #[test]
    fn the_pids_limit_is_the_level_with_the_least_room() {
        let mount = tempfile::tempdir().unwrap();
        let parent = mount.path().join("a");
        let dir = parent.join("b");
        std::fs::create_dir_all(&dir).unwrap();
        let write = |d: &Path, max: &str, current: &str| {
            std::fs::write(d.join("pids.max"), format!("{max}\n")).unwrap();
            std::fs::write(d.join("pids.current"), format!("{current}\n")).unwrap();
        };
        let cgroup = PidsCgroup {
            version: 2,
            dir: dir.clone(),
            mount: mount.path().to_path_buf(),
        };
        write(&dir, "max", "7");
        write(&parent, "max", "40");
        assert_eq!(cgroup.headroom(), (None, Some(7)));
        // The parent's 1000 leaves 960, the cgroup's 500 leaves 493.
        write(&parent, "1000", "40");
        write(&dir, "500", "7");
        assert_eq!(cgroup.headroom(), (Some(500), Some(7)));
        write(&parent, "100", "40");
        assert_eq!(cgroup.headroom(), (Some(100), Some(40)));
    }

    #[test]
    fn an_environment_recorded_before_the_process_limits_still_parses() {
        let mut env = Environment::detect_in(&captured(), Path::new("/"));
        env.pid_max = Some(32_768);
        env.rlimit_nproc = Some(96_365);
        env.cgroup_pids_max = Some(500);
        env.cgroup_pids_current = Some(7);
        env.processes_running = Some(70);
        let mut json = serde_json::to_value(&env).unwrap();
        let fields = json.as_object_mut().unwrap();
        for key in [
            "pid_max",
            "rlimit_nproc",
            "cgroup_pids_max",
            "cgroup_pids_current",
            "processes_running",
        ] {
            assert!(fields.remove(key).is_some(), "{key} is recorded");
        }
        let old: Environment = serde_json::from_value(json).expect("parses");
        assert_eq!(
            (old.pid_max, old.rlimit_nproc, old.cgroup_pids_max),
            (None, None, None)
        );
        assert_eq!(
            (old.cgroup_pids_current, old.processes_running),
            (None, None)
        );
    }

    #[test]
    fn running_processes_are_the_pid_folders_of_proc() {
        let proc = tempfile::tempdir().unwrap();
        for name in ["1", "42", "self", "sys"] {
            std::fs::create_dir(proc.path().join(name)).unwrap();
        }
        std::fs::write(proc.path().join("meminfo"), "").unwrap();
        assert_eq!(processes_running(proc.path()), Some(2));
        assert!(processes_running(Path::new("/proc")).is_some_and(|n| n >= 1));
        assert_eq!(processes_running(&proc.path().join("missing")), None);
    }

    #[test]
    fn the_captured_cgroup_reads_its_usage_and_oom_kills() {
        let cgroup = MemoryCgroup::detect_in(&captured()).expect("the v1 memory cgroup");
        assert_eq!(cgroup.mount, captured().path("/sys/fs/cgroup/memory"));
        assert_eq!(cgroup.usage_bytes(), Some(1_028_464_640));
        assert_eq!(cgroup.oom_kills(), Some(0));
        assert_eq!(cgroup.number("memory.failcnt"), Some(0));
    }

    #[test]
    fn the_file_system_comes_from_the_mount_that_holds_the_folder() {
        let text = captured().text("/proc/self/mountinfo").unwrap();
        // The same machine with / on ext3: the statfs magic would say ext4.
        let ext3 = text.replace(" - ext4 /dev/vda", " - ext3 /dev/vda");
        let mounts = mount_infos(&ext3);
        assert_eq!(mounts.len(), text.lines().count());
        let fs = |dir: &str| mount_of(&mounts, Path::new(dir)).map(|m| m.fs_type.as_str());
        assert_eq!(fs("/tmp/x"), Some("ext3"));
        assert_eq!(fs("/dev/shm/y"), Some("tmpfs"));
        assert_eq!(fs("/sys/fs/cgroup/memory/a"), Some("cgroup"));
        assert_eq!(fs("/proc"), Some("proc"));
    }

    #[test]
    #[cfg(target_env = "gnu")]
    fn the_glibc_version_is_a_dotted_number() {
        let version = glibc_version();
        let (major, minor) = version.split_once('.').expect("major.minor");
        assert!(
            major.parse::<u32>().is_ok() && minor.parse::<u32>().is_ok(),
            "{version}"
        );
    }

    /// A root with the captured meminfo, its MemAvailable set to `kib`.
    fn root_with_mem_available(kib: u64) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let captured = captured().text(MEMINFO).unwrap();
        let meminfo: String = captured
            .lines()
            .map(|l| {
                if l.starts_with("MemAvailable:") {
                    format!("MemAvailable:   {kib} kB\n")
                } else {
                    format!("{l}\n")
                }
            })
            .collect();
        std::fs::create_dir_all(dir.path().join("proc")).unwrap();
        std::fs::write(dir.path().join("proc/meminfo"), meminfo).unwrap();
        dir
    }

    #[test]
    fn the_memory_room_is_read_under_the_root_the_environment_came_from() {
        let captured_env = Environment::fixture();
        assert_eq!(captured_env.memory_room_bytes(), Some(23_826_336 * 1024));
        let dir = root_with_mem_available(64 * 1024);
        let root = Root::at(dir.path());
        let env = Environment::detect_in(&root, Path::new("/tmp"));
        assert_eq!(env.detected_in, root);
        assert_eq!(env.memory_room_bytes(), Some(64 << 20));
        // A results.json read back reads the running machine.
        let json = serde_json::to_string(&env).unwrap();
        assert!(!json.contains(&*dir.path().to_string_lossy()), "{json}");
        let read_back: Environment = serde_json::from_str(&json).unwrap();
        assert_eq!(read_back.detected_in, Root::live());
    }

    #[test]
    fn under_a_cgroup_limit_the_room_is_the_limit_less_the_usage() {
        let dir = root_with_mem_available(64 * 1024);
        let write = |path: &str, text: &str| {
            let path = dir.path().join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        };
        write("proc/self/cgroup", "0::/vmlab\n");
        write(
            "proc/self/mountinfo",
            "30 23 0:26 / /sys/fs/cgroup rw,relatime - cgroup2 cgroup2 rw\n",
        );
        write("sys/fs/cgroup/cgroup.controllers", "cpu memory pids\n");
        write("sys/fs/cgroup/vmlab/memory.max", "50331648\n");
        write("sys/fs/cgroup/vmlab/memory.current", "41943040\n");
        let env = Environment::detect_in(&Root::at(dir.path()), dir.path());
        assert_eq!(env.cgroup_memory_max_bytes, Some(48 << 20));
        assert_eq!(
            env.cgroup_memory_dir.as_deref(),
            Some(Path::new("/sys/fs/cgroup/vmlab"))
        );
        // 48 MiB less 40 MiB used, below the 64 MiB MemAvailable.
        assert_eq!(env.memory_room_bytes(), Some(8 << 20));
        write("sys/fs/cgroup/vmlab/memory.current", "0\n");
        assert_eq!(env.memory_room_bytes(), Some(48 << 20));
    }

    #[test]
    fn without_a_cgroup_file_no_cgroup_is_found() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(MemoryCgroup::detect_in(&Root::at(dir.path())), None);
        let env = Environment::detect_in(&Root::at(dir.path()), dir.path());
        assert_eq!(env.thp_enabled, "unsupported");
        assert_eq!((env.thp_pmd_bytes, env.cgroup_version), (None, None));
        assert_eq!((env.pid_max, env.cgroup_pids_max), (None, None));
        assert_eq!(env.mem_total_bytes, 0);
    }
}
