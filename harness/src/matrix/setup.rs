//! The settings of one column beyond its kernel (`--with thp=never`,
//! `--sysctl vm.overcommit_memory=2`), how a guest applies them, and whether
//! what a guest really had is what was asked. A column whose setup differs
//! from what it asked is marked so, and its differences are never put down to
//! a kernel change: a guest too small for the kernel's own THP threshold runs
//! with THP off whatever its command line says.

use std::collections::BTreeMap;
use std::path::Path;

use crate::cli::Placed;
use crate::model::RunRecord;
use crate::system::Root;

/// The key of the THP mode among a column's settings.
pub const THP: &str = "thp";
/// The sysctl `--with overcommit=N` sets.
pub const OVERCOMMIT: &str = "vm.overcommit_memory";

/// The settings one column asks for, by key (`thp`, or a sysctl's dotted name),
/// in the order given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settings(pub Vec<(String, String)>);

impl Settings {
    /// Adds `--with KEY=VALUE`: `thp=always|madvise|never` or `overcommit=0|1|2`.
    pub fn with(&mut self, text: &str) -> Result<(), String> {
        let (key, value) = split(text, "--with")?;
        match key {
            THP => match value {
                "always" | "madvise" | "never" => self.set(THP, value),
                _ => Err(format!(
                    "--with thp={value}: the mode is always, madvise or never"
                )),
            },
            "overcommit" => match value {
                "0" | "1" | "2" => self.set(OVERCOMMIT, value),
                _ => Err(format!(
                    "--with overcommit={value}: the mode is 0 (heuristic), 1 (always) or 2 (strict)"
                )),
            },
            _ => Err(format!(
                "--with {text}: the settings are thp=MODE and overcommit=MODE; \
                 use --sysctl NAME=VALUE for another sysctl"
            )),
        }
    }

    /// Adds `--sysctl NAME=VALUE` (a `vm.` sysctl, written under /proc/sys in
    /// the guest before the experiments run).
    pub fn sysctl(&mut self, text: &str) -> Result<(), String> {
        let (name, value) = split(text, "--sysctl")?;
        let name_ok = name.starts_with("vm.")
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'.');
        let value_ok = !value.is_empty() && value.bytes().all(|b| b.is_ascii_alphanumeric());
        if !name_ok || !value_ok {
            return Err(format!(
                "--sysctl {text}: give a vm. sysctl and a plain value, e.g. vm.overcommit_memory=2"
            ));
        }
        self.set(name, value)
    }

    fn set(&mut self, key: &str, value: &str) -> Result<(), String> {
        if let Some((_, old)) = self.0.iter().find(|(k, _)| k == key) {
            if old != value {
                return Err(format!(
                    "{key} is set twice for one kernel ({old} and {value})"
                ));
            }
            return Ok(());
        }
        self.0.push((key.to_string(), value.to_string()));
        Ok(())
    }

    /// The value asked for `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The sysctls, as the guest's `vmlab.sysctl=` parameter
    /// (`vm.overcommit_memory:2,vm.swappiness:10`), if any.
    pub fn sysctl_param(&self) -> Option<String> {
        let list: Vec<String> = self
            .0
            .iter()
            .filter(|(k, _)| k != THP)
            .map(|(k, v)| format!("{k}:{v}"))
            .collect();
        (!list.is_empty()).then(|| list.join(","))
    }

    /// A few words for the column's name (`overcommit=2`, `thp=never`).
    pub fn label(&self) -> String {
        self.0
            .iter()
            .map(|(k, v)| match k.as_str() {
                OVERCOMMIT => format!("overcommit={v}"),
                _ => format!("{k}={v}"),
            })
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Every setting as recorded in the run (`thp` included).
    pub fn asked(&self) -> BTreeMap<String, String> {
        self.0.iter().cloned().collect()
    }
}

/// Each `--kernel`'s settings: every `--with` and `--sysctl` belongs to the
/// last `--kernel` before it on the command line.
pub fn per_kernel(
    kernels: &[Placed],
    with: &[Placed],
    sysctls: &[Placed],
) -> Result<Vec<Settings>, String> {
    let mut settings = vec![Settings::default(); kernels.len()];
    let owner = |option: &str, p: &Placed| {
        kernels.iter().rposition(|k| k.at < p.at).ok_or_else(|| {
            format!(
                "{option} {}: put it after the --kernel it applies to",
                p.text
            )
        })
    };
    for p in with {
        settings[owner("--with", p)?].with(&p.text)?;
    }
    for p in sysctls {
        settings[owner("--sysctl", p)?].sysctl(&p.text)?;
    }
    Ok(settings)
}

fn split<'a>(text: &'a str, option: &str) -> Result<(&'a str, &'a str), String> {
    text.split_once('=')
        .map(|(k, v)| (k.trim(), v.trim()))
        .filter(|(k, v)| !k.is_empty() && !v.is_empty())
        .ok_or_else(|| format!("{option} {text}: expected NAME=VALUE"))
}

/// Inside the guest: writes each sysctl of a `vmlab.sysctl=` parameter under
/// the /proc/sys of `root` (`/` in the guest) and reads it back; returns what
/// each one had after (or why not).
pub fn apply_sysctls(root: &Root, param: &str) -> BTreeMap<String, String> {
    param
        .split(',')
        .filter_map(|item| item.split_once(':'))
        .map(|(name, value)| {
            let path = root.path(Path::new("/proc/sys").join(name.replace('.', "/")));
            // No O_CREAT: /proc/sys has only the kernel's own files.
            let had = std::fs::OpenOptions::new()
                .write(true)
                .open(&path)
                .and_then(|mut file| std::io::Write::write_all(&mut file, value.as_bytes()))
                .and_then(|()| std::fs::read_to_string(&path))
                .map(|t| t.trim().to_string())
                .unwrap_or_else(|e| format!("not set ({e})"));
            (name.to_string(), had)
        })
        .collect()
}

/// One setting a guest did not have as asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// The setting (`thp`, a sysctl).
    pub key: String,
    /// What was asked.
    pub asked: String,
    /// What the guest reported.
    pub had: String,
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {} (asked {})", self.key, self.had, self.asked)
    }
}

/// The settings a guest run asked for and did not have, from what it reported
/// itself (its environment: THP mode, overcommit mode; its read-back sysctls).
/// Empty for a native run, which asks for nothing.
pub fn mismatches(run: &RunRecord) -> Vec<Mismatch> {
    let Some(guest) = &run.environment.guest else {
        return Vec::new();
    };
    let mut asked = guest.asked.clone();
    if !guest.thp_cmdline.is_empty() {
        asked
            .entry(THP.to_string())
            .or_insert_with(|| guest.thp_cmdline.clone());
    }
    asked
        .into_iter()
        .filter_map(|(key, want)| {
            let had = match key.as_str() {
                THP => run.environment.thp_enabled.clone(),
                OVERCOMMIT => run
                    .environment
                    .overcommit_memory
                    .map_or_else(|| "unknown".to_string(), |m| m.to_string()),
                _ => guest
                    .had
                    .get(&key)
                    .cloned()
                    .unwrap_or_else(|| "unknown".into()),
            };
            (had != want).then_some(Mismatch {
                key,
                asked: want,
                had,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::system::GuestInfo;

    /// A copy of the guest's tree in tests/fixtures/guest (see its NOTES.md),
    /// which a test may write to.
    fn guest_root() -> (tempfile::TempDir, Root) {
        let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/guest");
        let dir = tempfile::tempdir().unwrap();
        let sysctl = "proc/sys/vm/overcommit_memory";
        std::fs::create_dir_all(dir.path().join("proc/sys/vm")).unwrap();
        std::fs::copy(fixture.join(sysctl), dir.path().join(sysctl)).unwrap();
        let root = Root::at(dir.path());
        (dir, root)
    }

    #[test]
    fn a_sysctl_is_written_under_the_root_and_read_back() {
        let (_dir, root) = guest_root();
        assert_eq!(
            root.text("/proc/sys/vm/overcommit_memory").as_deref(),
            Some("0"),
            "the captured default"
        );
        let had = apply_sysctls(&root, "vm.overcommit_memory:2,vm.no_such_setting:1");
        assert_eq!(had["vm.overcommit_memory"], "2");
        assert!(
            had["vm.no_such_setting"].starts_with("not set ("),
            "{had:?}"
        );
        assert_eq!(root.text("/proc/sys/vm/no_such_setting"), None);
    }

    fn guest_run(thp_asked: &str, thp_had: &str) -> RunRecord {
        let mut run = crate::matrix::compare::tests::run(4096, 1, crate::model::Verdict::Confirmed);
        run.environment.thp_enabled = thp_had.into();
        run.environment.overcommit_memory = Some(0);
        run.environment.guest = Some(GuestInfo {
            kernel_spec: "debian:6.1".into(),
            accelerator: "tcg".into(),
            memory_bytes: 512 << 20,
            thp_cmdline: thp_asked.into(),
            kernel_cmdline: String::new(),
            ..Default::default()
        });
        run
    }

    #[test]
    fn a_guest_that_ran_thp_off_while_asked_for_madvise_differs() {
        let run = guest_run("madvise", "never");
        let found = mismatches(&run);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].to_string(), "thp never (asked madvise)");
        assert!(mismatches(&guest_run("madvise", "madvise")).is_empty());
        let mut native = run.clone();
        native.environment.guest = None;
        assert!(mismatches(&native).is_empty());
    }

    #[test]
    fn an_overcommit_mode_asked_is_checked_against_the_guests_own() {
        let mut run = guest_run("madvise", "madvise");
        let mut settings = Settings::default();
        settings.with("overcommit=2").unwrap();
        if let Some(g) = run.environment.guest.as_mut() {
            g.asked = settings.asked();
        }
        assert_eq!(
            mismatches(&run)[0].to_string(),
            "vm.overcommit_memory 0 (asked 2)"
        );
        run.environment.overcommit_memory = Some(2);
        assert!(mismatches(&run).is_empty());
    }

    #[test]
    fn settings_parse_and_refuse_with_one_line() {
        let mut s = Settings::default();
        s.with("thp=never").unwrap();
        s.sysctl("vm.overcommit_memory=2").unwrap();
        s.with("overcommit=2").unwrap();
        assert_eq!(s.label(), "thp=never,overcommit=2");
        assert_eq!(s.sysctl_param().as_deref(), Some("vm.overcommit_memory:2"));
        for bad in ["thp=sometimes", "overcommit=3", "swap=1", "thp"] {
            let e = Settings::default().with(bad).unwrap_err();
            assert!(!e.contains('\n'), "{e}");
        }
        assert!(s.with("overcommit=1").is_err(), "two values for one kernel");
        assert!(Settings::default().sysctl("kernel.pid_max=5").is_err());
        assert!(Settings::default().sysctl("vm.x=1 2").is_err());
    }
}
