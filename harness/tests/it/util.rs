//! Running the real harness binary, with failures that print everything needed
//! to debug them.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex, OnceLock};

use harness::model::{ProcessRecord, RegionRecord, RunRecord, VariantRecord};
use serde_json::Value;

/// The harness binary under test.
pub fn harness_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_harness"))
}

/// The folder of the experiment binaries (beside the harness under test),
/// built there first as the harness does under cargo: tests run in any order.
pub fn built_experiments() -> PathBuf {
    let dir = harness_bin().parent().expect("bin folder").to_path_buf();
    let cargo = std::env::var_os("CARGO").expect("tests run under cargo");
    let target = dir.parent().expect("target folder");
    let mut build = Command::new(cargo);
    build
        .args(["build", "-q", "-p", "experiments", "--bins"])
        .arg("--manifest-path")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml"))
        .env("CARGO_TARGET_DIR", target);
    if dir.file_name().is_some_and(|p| p == "release") {
        build.arg("--release");
    }
    let status = build.status().expect("run cargo build");
    assert!(status.success(), "building the experiments failed");
    dir
}

/// Builds the experiments once and points every harness the tests start at
/// them (`VMLAB_EXPERIMENTS_DIR`, unless already set), for a run of the whole
/// suite: under cargo the harness otherwise runs `cargo build` itself on each
/// of the hundred or so invocations, each waiting for the target folder's
/// lock. A test that needs other binaries sets the variable on its command.
/// Called by the runner before any test thread starts.
pub fn point_harness_at_built_experiments() {
    use harness::runner::locate::DIR_VARIABLE;
    if std::env::var_os(DIR_VARIABLE).is_none() {
        std::env::set_var(DIR_VARIABLE, built_experiments());
    }
}

/// A harness invocation with its own results and temp folders.
pub struct HarnessRun {
    /// Where results go (`--out`).
    pub out: tempfile::TempDir,
    /// Where experiment files go (`--dir`); must be empty afterwards.
    pub scratch: tempfile::TempDir,
    /// The command line, for failure messages.
    pub args: Vec<String>,
    /// What the harness did.
    pub output: Output,
}

impl HarnessRun {
    /// Runs `harness ARGS --out OUT --dir SCRATCH`.
    pub fn new(args: &[&str]) -> HarnessRun {
        Self::with_env(args, &[])
    }

    /// Same, with extra environment variables.
    pub fn with_env(args: &[&str], env: &[(&str, &Path)]) -> HarnessRun {
        let out = tempfile::tempdir().expect("temp dir");
        let scratch = tempfile::tempdir().expect("temp dir");
        let mut args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        args.extend([
            "--out".into(),
            out.path().display().to_string(),
            "--dir".into(),
            scratch.path().display().to_string(),
        ]);
        let mut command = Command::new(harness_bin());
        command.args(&args);
        for (k, v) in env {
            command.env(k, v);
        }
        let output = command.output().expect("run the harness");
        HarnessRun {
            out,
            scratch,
            args,
            output,
        }
    }

    /// Everything about the run, for assertion messages.
    pub fn describe(&self) -> String {
        format!(
            "command: harness {}\nstatus: {}\nresults: {}\n--- stdout\n{}\n--- stderr\n{}",
            self.args.join(" "),
            self.output.status,
            self.out.path().display(),
            String::from_utf8_lossy(&self.output.stdout),
            String::from_utf8_lossy(&self.output.stderr)
        )
    }

    /// The exit code.
    pub fn code(&self) -> Option<i32> {
        self.output.status.code()
    }

    /// Stdout parsed as JSON (for `--format json`).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.output.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e})\n{}", self.describe()))
    }

    /// Stdout as a typed run record (for `--format json`).
    pub fn record(&self) -> RunRecord {
        serde_json::from_slice(&self.output.stdout)
            .unwrap_or_else(|e| panic!("stdout is not a run record ({e})\n{}", self.describe()))
    }

    /// Asserts the exit code.
    pub fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code(),
            Some(code),
            "unexpected exit code\n{}",
            self.describe()
        );
        self
    }

    /// The run folder (`<out>/latest`).
    pub fn run_dir(&self) -> PathBuf {
        let latest = self.out.path().join("latest");
        std::fs::canonicalize(&latest).unwrap_or_else(|e| {
            panic!(
                "{} does not resolve ({e})\n{}",
                latest.display(),
                self.describe()
            )
        })
    }

    /// Asserts nothing was left in the scratch folder.
    pub fn assert_scratch_empty(&self) {
        let left: Vec<_> = std::fs::read_dir(self.scratch.path())
            .expect("read scratch")
            .map(|e| e.expect("entry").path())
            .collect();
        assert!(
            left.is_empty(),
            "left behind: {left:?}\n{}",
            self.describe()
        );
    }
}

/// One run per command line (and environment) for the whole test process,
/// shared by the tests that only read its results (stdout, results folder): an
/// experiment's quick run costs seconds, and repeating it per test adds
/// nothing. A test that interrupts, breaks or repeats a run, or writes into its
/// folder, makes its own with [`HarnessRun::new`].
static SHARED: OnceLock<Mutex<HashMap<SharedKey, SharedSlot>>> = OnceLock::new();

/// What makes two shared runs the same: the arguments and the extra
/// environment variables.
type SharedKey = (Vec<String>, Vec<(String, PathBuf)>);

/// A shared run, filled once by the first test that asks for it.
type SharedSlot = Arc<OnceLock<Arc<HarnessRun>>>;

/// The shared run of `harness ARGS` (started by the first test that asks;
/// runs of different command lines go on in parallel).
pub fn shared_run(args: &[&str]) -> Arc<HarnessRun> {
    shared_run_with_env(args, &[])
}

/// The shared run of `harness ARGS` with extra environment variables.
pub fn shared_run_with_env(args: &[&str], env: &[(&str, &Path)]) -> Arc<HarnessRun> {
    let key: SharedKey = (
        args.iter().map(|s| s.to_string()).collect(),
        env.iter()
            .map(|(k, v)| (k.to_string(), v.to_path_buf()))
            .collect(),
    );
    let slot = SHARED
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .entry(key)
        .or_default()
        .clone();
    slot.get_or_init(|| Arc::new(HarnessRun::with_env(args, env)))
        .clone()
}

/// Removes the shared runs' folders; called once the tests are over.
pub fn drop_shared_runs() {
    if let Some(runs) = SHARED.get() {
        runs.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}

/// The page size of this machine.
pub fn page_size() -> u64 {
    experiments::pages::page_size() as u64
}

/// `value[key1][key2]...` as u64, with a helpful panic.
pub fn u64_at(value: &Value, path: &[&str]) -> u64 {
    let mut v = value;
    for key in path {
        v = &v[*key];
    }
    v.as_u64()
        .unwrap_or_else(|| panic!("no number at {path:?} in {value:#}"))
}

/// The variant named `name` of the experiment `experiment` in a results JSON.
pub fn variant<'a>(run: &'a Value, experiment: &str, name: &str) -> &'a Value {
    let exp = run["experiments"]
        .as_array()
        .and_then(|a| a.iter().find(|e| e["name"] == experiment))
        .unwrap_or_else(|| panic!("no experiment {experiment}"));
    exp["variants"]
        .as_array()
        .and_then(|a| a.iter().find(|v| v["name"] == name))
        .unwrap_or_else(|| panic!("no variant {name} in {experiment}"))
}

/// The process `role` at checkpoint `label` of a variant.
pub fn process<'a>(variant: &'a Value, label: &str, role: &str) -> &'a Value {
    let checkpoint = variant["checkpoints"]
        .as_array()
        .and_then(|a| a.iter().find(|c| c["label"] == label))
        .unwrap_or_else(|| panic!("no checkpoint {label} in {variant:#}"));
    checkpoint["processes"]
        .as_array()
        .and_then(|a| a.iter().find(|p| p["role"] == role))
        .unwrap_or_else(|| panic!("no process {role} at {label}"))
}

/// Region `name` of a process snapshot.
pub fn region<'a>(process: &'a Value, name: &str) -> &'a Value {
    process["regions"]
        .as_array()
        .and_then(|a| a.iter().find(|r| r["name"] == name))
        .unwrap_or_else(|| panic!("no region {name} in {process:#}"))
}

/// The variant `name` of the experiment `experiment` in a run record.
pub fn record_variant<'a>(run: &'a RunRecord, experiment: &str, name: &str) -> &'a VariantRecord {
    run.experiments
        .iter()
        .find(|e| e.name == experiment)
        .unwrap_or_else(|| panic!("no experiment {experiment}"))
        .variants
        .iter()
        .find(|v| v.name == name)
        .unwrap_or_else(|| panic!("no variant {name} in {experiment}"))
}

/// The snapshot of the process `role` at checkpoint `label` of a variant.
pub fn snapshot<'a>(variant: &'a VariantRecord, label: &str, role: &str) -> &'a ProcessRecord {
    variant
        .checkpoint(label)
        .unwrap_or_else(|| panic!("no checkpoint {label} in variant {}", variant.name))
        .process(role)
        .unwrap_or_else(|| panic!("no process {role} at {label} in variant {}", variant.name))
}

/// The declared region `name` of a process snapshot.
pub fn record_region<'a>(process: &'a ProcessRecord, name: &str) -> &'a RegionRecord {
    process
        .region(name)
        .unwrap_or_else(|| panic!("no region {name} in process {}", process.role))
}
