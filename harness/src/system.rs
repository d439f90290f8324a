//! The machine and kernel a run measures. Detected once at start-up and passed to
//! everything that judges figures, so that a saved run can be judged offline.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The kernel's default `fault_around_bytes` (mm/memory.c), used when debugfs is
/// not readable: 64 KiB.
pub const DEFAULT_FAULT_AROUND_BYTES: u64 = 64 * 1024;

/// Facts about the machine, recorded with every run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
    /// The folder experiments put their files in.
    pub temp_dir: PathBuf,
    /// Its file system type (`ext4`, `tmpfs`, ...).
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
    /// MemTotal in bytes.
    pub mem_total_bytes: u64,
    /// SwapTotal in bytes.
    pub swap_total_bytes: u64,
    /// Whether the harness runs as root (needed for pagemap PFNs and kpagecount).
    pub is_root: bool,
    /// The memory limit of the harness's cgroup (memory.max), if any.
    pub cgroup_memory_max_bytes: Option<u64>,
    /// glibc version, as `gnu_get_libc_version()` reports it.
    pub glibc_version: String,
    /// Set when the run happened inside a `harness matrix` virtual machine: how
    /// that machine was configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guest: Option<GuestInfo>,
}

/// The virtual machine a `harness matrix` guest ran in. The memory size and the
/// THP mode are fixed on the kernel command line so that differences between
/// kernels come from the kernels, not from their defaults.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
}

impl Environment {
    /// Detects the running machine; `temp_dir` is where experiment files will go.
    pub fn detect(temp_dir: &Path) -> Environment {
        let uname = nix::sys::utsname::uname().ok();
        let text = |path: &str| read_trimmed(Path::new(path));
        let meminfo = text("/proc/meminfo").unwrap_or_default();
        let cpuinfo = text("/proc/cpuinfo").unwrap_or_default();
        let (temp_dir_fs, temp_dir_free_bytes, read_ahead) = describe_dir(temp_dir);
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
            thp_enabled: text("/sys/kernel/mm/transparent_hugepage/enabled")
                .map(|t| selected_word(&t))
                .unwrap_or_else(|| "unsupported".into()),
            thp_defrag: text("/sys/kernel/mm/transparent_hugepage/defrag")
                .map(|t| selected_word(&t))
                .unwrap_or_else(|| "unsupported".into()),
            thp_pmd_bytes: text("/sys/kernel/mm/transparent_hugepage/hpage_pmd_size")
                .and_then(|t| t.parse().ok()),
            thp_use_zero_page: text("/sys/kernel/mm/transparent_hugepage/use_zero_page")
                .map(|t| t == "1"),
            thp_sizes: thp_sizes(Path::new("/sys/kernel/mm/transparent_hugepage")),
            damon_pageout: damon_pageout(Path::new("/sys/kernel/mm/damon/admin/kdamonds")),
            overcommit_memory: text("/proc/sys/vm/overcommit_memory").and_then(|t| t.parse().ok()),
            fault_around_bytes: text("/sys/kernel/debug/fault_around_bytes")
                .and_then(|t| t.parse().ok()),
            randomize_va_space: text("/proc/sys/kernel/randomize_va_space")
                .and_then(|t| t.parse().ok()),
            temp_dir: temp_dir.to_path_buf(),
            temp_dir_fs,
            temp_dir_free_bytes,
            temp_dir_read_ahead_kb: read_ahead,
            cpu_model: cpuinfo_field(&cpuinfo, "model name").unwrap_or_else(|| "unknown".into()),
            cpu_count: std::thread::available_parallelism().map_or(1, |n| n.get()),
            virtual_machine: cpuinfo_field(&cpuinfo, "flags")
                .is_some_and(|f| f.split_whitespace().any(|w| w == "hypervisor")),
            mem_total_bytes: meminfo_bytes(&meminfo, "MemTotal").unwrap_or(0),
            swap_total_bytes: meminfo_bytes(&meminfo, "SwapTotal").unwrap_or(0),
            is_root: nix::unistd::geteuid().is_root(),
            cgroup_memory_max_bytes: cgroup_memory_max(),
            glibc_version: glibc_version(),
            guest: None,
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

fn cpuinfo_field(cpuinfo: &str, key: &str) -> Option<String> {
    cpuinfo.lines().find_map(|line| {
        let (k, v) = line.split_once(':')?;
        (k.trim() == key).then(|| v.trim().to_string())
    })
}

/// A `/proc/meminfo` field in bytes (its values are in KiB).
pub fn meminfo_bytes(meminfo: &str, key: &str) -> Option<u64> {
    meminfo.lines().find_map(|line| {
        let (k, v) = line.split_once(':')?;
        if k != key {
            return None;
        }
        let kib: u64 = v.split_whitespace().next()?.parse().ok()?;
        Some(kib * 1024)
    })
}

/// File system type, free bytes and device read-ahead of a folder.
fn describe_dir(dir: &Path) -> (String, u64, Option<u64>) {
    use nix::sys::statfs::statfs;
    use nix::sys::statvfs::statvfs;
    let fs = statfs(dir)
        .map(|s| fs_name(s.filesystem_type().0))
        .unwrap_or_else(|_| "unknown".into());
    let free = statvfs(dir)
        .map(|s| s.blocks_available() * s.fragment_size())
        .unwrap_or(0);
    let read_ahead = nix::sys::stat::stat(dir).ok().and_then(|st| {
        let (major, minor) = (libc::major(st.st_dev), libc::minor(st.st_dev));
        read_trimmed(Path::new(&format!(
            "/sys/class/bdi/{major}:{minor}/read_ahead_kb"
        )))
        .and_then(|t| t.parse().ok())
    });
    (fs, free, read_ahead)
}

/// Names of the file systems an experiment is likely to meet (magic numbers from
/// include/uapi/linux/magic.h).
fn fs_name(magic: i64) -> String {
    match magic {
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

/// The harness's cgroup v2 memory.max, if it is a number.
fn cgroup_memory_max() -> Option<u64> {
    let cgroup = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    let path = cgroup.lines().find_map(|l| l.strip_prefix("0::"))?;
    read_trimmed(
        &Path::new("/sys/fs/cgroup")
            .join(path.trim_start_matches('/'))
            .join("memory.max"),
    )
    .and_then(|t| t.parse().ok())
}

fn glibc_version() -> String {
    extern "C" {
        fn gnu_get_libc_version() -> *const libc::c_char;
    }
    // SAFETY: glibc returns a pointer to a static NUL-terminated string.
    unsafe { std::ffi::CStr::from_ptr(gnu_get_libc_version()) }
        .to_string_lossy()
        .into_owned()
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

    #[test]
    fn meminfo_values_are_converted_from_kib() {
        let text = "MemTotal:       24567296 kB\nSwapTotal:             0 kB\n";
        assert_eq!(meminfo_bytes(text, "MemTotal"), Some(24567296 * 1024));
        assert_eq!(meminfo_bytes(text, "SwapTotal"), Some(0));
        assert_eq!(meminfo_bytes(text, "Committed_AS"), None);
    }
}
