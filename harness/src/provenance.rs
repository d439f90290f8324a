//! What a kernel engineer needs to reproduce a run, recorded with it: which
//! harness (version and git commit) ran with which command line, on which
//! kernel build (its command line, its configuration's fingerprint, the
//! compiler that built it) and with which memory settings (swappiness, zswap,
//! MGLRU, KSM, NUMA nodes).
//!
//! Every value is text: a file that cannot be read is recorded as `unknown
//! (not readable as uid N)` and one the kernel does not have as `absent`, never
//! as null, so that a reader can tell "off" from "could not see". The
//! comparison lists a field that differs among the environment differences,
//! beside [`crate::system::Environment`]'s.

use std::io::ErrorKind;
use std::path::Path;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::system::Root;

/// The harness's git commit, as the build script found it (`unknown` outside
/// a git checkout).
pub const GIT_COMMIT: &str = env!("VMLAB_GIT_COMMIT");

/// The provenance of one run (see the module docs).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct Provenance {
    /// vmlab's version.
    pub vmlab_version: String,
    /// The git commit the harness was built from.
    pub vmlab_git_commit: String,
    /// The harness's command line, each argument quoted where a shell needs it.
    pub command_line: String,
    /// /proc/cmdline.
    pub kernel_cmdline: String,
    /// Where the kernel's configuration was read and the FNV-1a 64 hash of
    /// its bytes (`/proc/config.gz fnv1a64:...`), or why not.
    pub kernel_config: String,
    /// The compiler that built the kernel, from /proc/version.
    pub kernel_compiler: String,
    /// vm.swappiness.
    pub swappiness: String,
    /// zswap's `enabled` module parameter (`Y`/`N`).
    pub zswap: String,
    /// MGLRU's /sys/kernel/mm/lru_gen/enabled (a bit mask; `0x0000` is off).
    pub mglru: String,
    /// KSM's /sys/kernel/mm/ksm/run (0 stopped, 1 running, 2 unmerging).
    pub ksm: String,
    /// The online NUMA nodes (/sys/devices/system/node/online).
    pub numa_nodes: String,
}

impl Provenance {
    /// The running machine and this process.
    pub fn detect() -> Provenance {
        let args: Vec<String> = std::env::args().collect();
        Provenance::detect_in(&Root::live(), &args)
    }

    /// The machine whose /proc and /sys are under `root`, run with `args`.
    pub fn detect_in(root: &Root, args: &[String]) -> Provenance {
        let text = |path: &str| read_text(&root.path(path));
        Provenance {
            vmlab_version: env!("CARGO_PKG_VERSION").to_string(),
            vmlab_git_commit: GIT_COMMIT.to_string(),
            command_line: command_line(args),
            kernel_cmdline: text("/proc/cmdline"),
            kernel_config: kernel_config(root),
            kernel_compiler: match read(&root.path("/proc/version")) {
                Ok(version) => compiler(&version).unwrap_or_else(|| "not named".into()),
                Err(why) => why,
            },
            swappiness: text("/proc/sys/vm/swappiness"),
            zswap: text("/sys/module/zswap/parameters/enabled"),
            mglru: text("/sys/kernel/mm/lru_gen/enabled"),
            ksm: text("/sys/kernel/mm/ksm/run"),
            numa_nodes: text("/sys/devices/system/node/online"),
        }
    }

    /// Each field's name and value, in the order they are shown.
    pub fn fields(&self) -> [(&'static str, &str); 11] {
        [
            ("vmlab_version", &self.vmlab_version),
            ("vmlab_git_commit", &self.vmlab_git_commit),
            ("command_line", &self.command_line),
            ("kernel_cmdline", &self.kernel_cmdline),
            ("kernel_config", &self.kernel_config),
            ("kernel_compiler", &self.kernel_compiler),
            ("swappiness", &self.swappiness),
            ("zswap", &self.zswap),
            ("mglru", &self.mglru),
            ("ksm", &self.ksm),
            ("numa_nodes", &self.numa_nodes),
        ]
    }
}

/// The file's text, trimmed, or why it is missing.
fn read_text(path: &Path) -> String {
    read(path).unwrap_or_else(|why| why)
}

fn read(path: &Path) -> Result<String, String> {
    std::fs::read(path)
        .map(|bytes| String::from_utf8_lossy(&bytes).trim().to_string())
        .map_err(|e| unreadable(&e))
}

/// `absent` for a file the kernel does not have, else `unknown (not readable
/// as uid N)`.
fn unreadable(e: &std::io::Error) -> String {
    if e.kind() == ErrorKind::NotFound {
        "absent".into()
    } else {
        format!(
            "unknown (not readable as uid {}: {})",
            nix::unistd::geteuid(),
            e.kind()
        )
    }
}

/// The configuration's source and hash: /proc/config.gz (CONFIG_IKCONFIG_PROC),
/// else /boot/config-RELEASE.
fn kernel_config(root: &Root) -> String {
    let release = nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut why = Vec::new();
    for path in [
        "/proc/config.gz".to_string(),
        format!("/boot/config-{release}"),
    ] {
        match std::fs::read(root.path(&path)) {
            Ok(bytes) => return format!("{path} fnv1a64:{:016x}", fnv1a64(&bytes)),
            Err(e) => why.push(format!("{path} {}", unreadable(&e))),
        }
    }
    why.join("; ")
}

/// The 64-bit FNV-1a hash: stable across Rust versions and machines (std's
/// hasher is not), and enough to tell two configurations apart.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The compiler in /proc/version: the second parenthesised group
/// (`Linux version R (user@host) (gcc (GCC) 15.3.0, GNU ld ...) #1 ...`),
/// parentheses nested inside it kept.
pub fn compiler(version: &str) -> Option<String> {
    let mut groups = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    for (i, c) in version.char_indices() {
        match c {
            '(' => {
                if depth == 0 {
                    start = i + 1;
                }
                depth += 1;
            }
            ')' if depth > 0 => {
                depth -= 1;
                if depth == 0 {
                    groups.push(version[start..i].to_string());
                }
            }
            _ => {}
        }
    }
    groups.into_iter().nth(1)
}

/// The arguments as a shell would need them typed again.
pub fn command_line(args: &[String]) -> String {
    args.iter()
        .map(|a| {
            let plain = !a.is_empty()
                && a.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./=,:@%+".contains(c));
            if plain {
                a.clone()
            } else {
                format!("'{}'", a.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_compiler_is_the_second_group_of_proc_version() {
        let v = "Linux version 6.18.44-fc (builder@sandboxing) (gcc (GCC) 15.3.0, GNU ld (GNU Binutils) 2.46) #1 SMP PREEMPT_DYNAMIC @0";
        assert_eq!(
            compiler(v).as_deref(),
            Some("gcc (GCC) 15.3.0, GNU ld (GNU Binutils) 2.46")
        );
        assert_eq!(compiler("Linux version 6.1"), None);
    }

    #[test]
    fn command_lines_are_quoted_where_a_shell_needs_it() {
        let args: Vec<String> = ["harness", "run", "x y", "it's", "--size=1G"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            command_line(&args),
            r"harness run 'x y' 'it'\''s' --size=1G"
        );
    }

    #[test]
    fn unreadable_and_absent_files_say_so_and_present_ones_are_read() {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = Root::at(dir.path());
        std::fs::create_dir_all(dir.path().join("proc/sys/vm")).unwrap();
        std::fs::write(dir.path().join("proc/sys/vm/swappiness"), "60\n").unwrap();
        std::fs::write(dir.path().join("proc/config.gz"), b"abc").unwrap();
        // A folder where a file is expected cannot be read as one.
        std::fs::create_dir_all(dir.path().join("proc/cmdline")).unwrap();
        let p = Provenance::detect_in(&root, &["harness".into()]);
        assert_eq!(p.swappiness, "60");
        assert_eq!(p.zswap, "absent");
        assert!(
            p.kernel_cmdline
                .starts_with("unknown (not readable as uid "),
            "{}",
            p.kernel_cmdline
        );
        assert_eq!(
            p.kernel_config,
            format!("/proc/config.gz fnv1a64:{:016x}", fnv1a64(b"abc"))
        );
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
    }
}
