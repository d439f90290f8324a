//! Nothing lost, nothing left behind: every bad input is one line and exit 2
//! with nothing written; an interrupted or killed run leaves no process, no
//! temporary file (after the next run) and no torn result; full, read-only and
//! unwritable folders are found before anything runs, or, mid-run, end in one
//! line that says what to free with the complete results kept; and an
//! experiment killed by the OOM killer is reported as such.
//!
//! Setups that need root (a tmpfs, a memory cgroup, another user) are skipped
//! with the reason printed when the tests do not run as root.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::skip_unless;
use crate::util::harness_bin;

pub(crate) const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/runs/mmap-file-quick.json"
);

/// The folder of the real experiment binaries (beside the harness), so that a
/// test run does not start `cargo build` for each invocation.
pub(crate) fn real_experiments() -> PathBuf {
    harness_bin().parent().expect("bin folder").to_path_buf()
}

pub(crate) fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// One harness invocation in a sandbox of its own: `TMPDIR`, a results folder
/// and a folder of inputs the case may refer to as `{inputs}`.
pub(crate) struct Sandbox {
    pub(crate) root: tempfile::TempDir,
}

impl Sandbox {
    pub(crate) fn new() -> Sandbox {
        let root = tempfile::tempdir().expect("temp dir");
        for sub in ["tmp", "out", "inputs"] {
            std::fs::create_dir(root.path().join(sub)).expect("mkdir");
        }
        let sandbox = Sandbox { root };
        let inputs = sandbox.inputs();
        nix::unistd::mkfifo(&inputs.join("fifo"), nix::sys::stat::Mode::S_IRWXU).expect("fifo");
        std::fs::write(
            inputs.join("garbage.json"),
            "{ \"format_version\": 1, \"experiments\": [",
        )
        .expect("write");
        std::fs::write(inputs.join("file"), "not a folder").expect("write");
        let big = std::fs::File::create(inputs.join("big.json")).expect("create");
        big.set_len(200 << 20).expect("sparse file");
        std::fs::create_dir(inputs.join("readonly")).expect("mkdir");
        sandbox
    }

    pub(crate) fn tmp(&self) -> PathBuf {
        self.root.path().join("tmp")
    }

    pub(crate) fn out(&self) -> PathBuf {
        self.root.path().join("out")
    }

    pub(crate) fn inputs(&self) -> PathBuf {
        self.root.path().join("inputs")
    }

    fn expand(&self, arg: &str) -> String {
        arg.replace("{inputs}", &self.inputs().display().to_string())
            .replace("{out}", &self.out().display().to_string())
            .replace("{fixture}", FIXTURE)
    }

    pub(crate) fn command(&self, args: &[String]) -> Command {
        let mut command = Command::new(harness_bin());
        command
            .args(args)
            .env("TMPDIR", self.tmp())
            .env("VMLAB_EXPERIMENTS_DIR", real_experiments())
            .current_dir(self.inputs())
            .stdin(Stdio::null());
        command
    }

    pub(crate) fn entries(dir: &Path) -> Vec<PathBuf> {
        match std::fs::read_dir(dir) {
            Ok(entries) => entries.map(|e| e.expect("entry").path()).collect(),
            Err(_) => Vec::new(),
        }
    }
}

pub(crate) fn describe(args: &[String], output: &Output) -> String {
    format!(
        "command: harness {}\nstatus: {}\n--- stdout\n{}\n--- stderr\n{}",
        args.join(" "),
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Every bad input, with what the one line must mention. `{out}` gets the
/// sandbox's results folder, so that nothing can land in the workspace's.
const BAD_INPUTS: &[(&[&str], &str)] = &[
    (&[], "a command is needed"),
    (&["bogus"], "unrecognized subcommand"),
    (
        &["all", "--out", "{out}", "--bogus"],
        "unexpected argument '--bogus'",
    ),
    (&["all", "--out", "{out}", "--count", "0"], "use 1 to 10000"),
    (
        &["all", "--out", "{out}", "--count", "-5"],
        "-5 is out of range; use 1 to 10000",
    ),
    (
        &["all", "--out", "{out}", "--count", "10001"],
        "use 1 to 10000",
    ),
    (
        &["all", "--out", "{out}", "--count", "abc"],
        "not a whole number",
    ),
    (
        &["all", "--out", "{out}", "--count", ""],
        "not a whole number",
    ),
    (
        &["all", "--out", "{out}", "--size", "-1"],
        "'-1' is not a size",
    ),
    (
        &["all", "--out", "{out}", "--size", " "],
        "' ' is not a size",
    ),
    (&["all", "--out", "{out}", "--size", "0"], "is zero"),
    (
        &["all", "--out", "{out}", "--size", "18446744073709551615"],
        "use 1 byte to 64TiB",
    ),
    (
        &["all", "--out", "{out}", "--size", "99999999999999999999"],
        "use 1 byte to 64TiB",
    ),
    (
        &["all", "--out", "{out}", "--size", "17000000TiB"],
        "use 1 byte to 64TiB",
    ),
    (
        &["all", "--out", "{out}", "--size", "5 parsecs"],
        "unknown size unit",
    ),
    (
        &["all", "--out", "{out}", "--size", "1.5G"],
        "unknown size unit",
    ),
    (
        &["all", "--out", "{out}", "--timeout", "0"],
        "use 1 to 604800",
    ),
    (
        &["all", "--out", "{out}", "--timeout", "-1"],
        "-1 is out of range",
    ),
    (
        &[
            "all",
            "--out",
            "{out}",
            "--timeout",
            "99999999999999999999999",
        ],
        "out of range",
    ),
    (
        &["all", "--out", "{out}", "--format", "xml"],
        "possible values",
    ),
    (
        &["all", "--out", "{out}", "--format"],
        "a value is required",
    ),
    (
        &["all", "--out", "{out}", "--quick", "extra"],
        "unexpected argument 'extra'",
    ),
    (
        &["all", "--out", "{out}", "--formt", "json"],
        "similar argument exists",
    ),
    (&["run"], "<NAME[/VARIANT,...]>"),
    (
        &["run", "nosuch", "--out", "{out}"],
        "unknown experiment 'nosuch'",
    ),
    (&["explain"], "<NAME>"),
    (&["explain", "nosuch"], "unknown experiment 'nosuch'"),
    (&["compare"], "<OLD.json>"),
    (&["compare", "{fixture}"], "<NEW.json>"),
    (
        &["compare", "/dev/zero", "{fixture}"],
        "a device, not a regular file",
    ),
    (
        &["compare", "{inputs}/fifo", "{fixture}"],
        "a FIFO, not a regular file",
    ),
    (
        &["compare", "{inputs}/big.json", "{fixture}"],
        "more than the",
    ),
    (
        &["compare", "{inputs}/garbage.json", "{fixture}"],
        "not a vmlab results.json",
    ),
    (
        &["compare", "{inputs}/nosuch.json", "{fixture}"],
        "no such file",
    ),
    (
        &[
            "compare",
            "{fixture}",
            "{fixture}",
            "--tolerance",
            "time=5%",
        ],
        "time=5%",
    ),
    (
        &["compare", "{fixture}", "{fixture}", "--tolerance"],
        "a value is required",
    ),
    (
        &["compare", "{fixture}", "{fixture}", "--format", "csv"],
        "no CSV output",
    ),
    (&["matrix"], "--kernel <SPEC>"),
    (
        &["matrix", "--kernel", "host", "--memory", "-1"],
        "'-1' is not a size",
    ),
    (
        &["matrix", "--kernel", "host", "--memory", "64MiB"],
        "too small",
    ),
    (
        &["matrix", "--kernel", "host", "--timeout", "0"],
        "use 1 to 604800",
    ),
    (
        &["matrix", "--kernel", "host", "--thp", "sometimes"],
        "possible values",
    ),
    (
        &["matrix", "--kernel", "host", "--kernel", "host"],
        "given twice",
    ),
    (
        &["all", "--out", "{out}", "--save-baseline", "../evil"],
        "--save-baseline-file",
    ),
    (
        &["all", "--out", "{out}", "--save-baseline", "a/b"],
        "--save-baseline-file",
    ),
    (
        &["all", "--out", "{out}", "--save-baseline", "x.json"],
        "ends in .json",
    ),
    (
        &["all", "--out", "{out}", "--save-baseline", ".hidden"],
        "not usable",
    ),
    (
        &["all", "--out", "{out}", "--save-baseline", ""],
        "not usable",
    ),
    (
        &[
            "all",
            "--out",
            "{out}",
            "--save-baseline",
            "x",
            "--save-baseline-file",
            "y",
        ],
        "cannot be used with",
    ),
    (
        &[
            "all",
            "--out",
            "{out}",
            "--baseline",
            "nosuch",
            "--baseline-dir",
            "{inputs}",
        ],
        "no such file",
    ),
    (
        &["all", "--out", "{out}", "--baseline", "x.json"],
        "ends in .json",
    ),
    (
        &["all", "--out", "{out}", "--baseline", "{inputs}/fifo"],
        "a FIFO",
    ),
    (
        &["all", "--out", "{out}", "--baseline", "/dev/zero"],
        "a device",
    ),
    (
        &["all", "--out", "{out}", "--tolerance", "faults"],
        "KIND=VALUE",
    ),
    (
        &["all", "--out", "{out}", "--dir", "/nonexistent/vmlab"],
        "pass --dir with a writable folder",
    ),
    (
        &["all", "--out", "{out}", "--dir", "{inputs}/file"],
        "pass --dir with a writable folder",
    ),
    (
        &["all", "--out", "/proc/vmlab"],
        "pass --out with a writable folder",
    ),
    (
        &["all", "--out", "{inputs}/file"],
        "pass --out with a writable folder",
    ),
    (
        &[
            "all",
            "--out",
            "{out}",
            "--save-baseline-file",
            "/proc/vmlab/x.json",
        ],
        "pass --save-baseline-file with a writable folder",
    ),
    (
        &[
            "all",
            "--out",
            "{out}",
            "--save-baseline",
            "v1",
            "--baseline-dir",
            "/proc/vmlab",
        ],
        "pass --baseline-dir with a writable folder",
    ),
    (
        &["run", "anatomy", "--out", "{out}", "--step"],
        "--step needs a terminal",
    ),
];

fn every_bad_input_is_one_line_and_exit_2_and_leaves_nothing() {
    assert!(BAD_INPUTS.len() >= 40);
    let mut failures = Vec::new();
    for (args, expected) in BAD_INPUTS {
        let sandbox = Sandbox::new();
        let args: Vec<String> = args.iter().map(|a| sandbox.expand(a)).collect();
        let output = sandbox.command(&args).output().expect("run the harness");
        let stderr = String::from_utf8_lossy(&output.stderr);
        let lines: Vec<&str> = stderr.lines().collect();
        let left_tmp = Sandbox::entries(&sandbox.tmp());
        let left_out = Sandbox::entries(&sandbox.out());
        let ok = output.status.code() == Some(2)
            && lines.len() == 1
            && lines[0].starts_with("harness: ")
            && lines[0].contains(expected)
            && !stderr.contains("panicked")
            // A cause is said once, and the harness's own temp names stay out.
            && lines[0].matches("(os error").count() <= 1
            && !lines[0].contains(" at path ")
            && output.stdout.is_empty()
            && left_tmp.is_empty()
            && left_out.is_empty();
        if !ok {
            failures.push(format!(
                "expected one line with {expected:?}, exit 2, nothing left (tmp: {left_tmp:?}, out: {left_out:?})\n{}",
                describe(&args, &output)
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n\n{}",
        failures.len(),
        BAD_INPUTS.len(),
        failures.join("\n\n")
    );
}

fn help_and_version_print_normally_and_exit_0() {
    for args in [
        &["--help"][..],
        &["--version"],
        &["help"],
        &["run", "--help"],
        &["-h"],
    ] {
        let output = Command::new(harness_bin())
            .args(args)
            .output()
            .expect("run");
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        assert_eq!(
            output.status.code(),
            Some(0),
            "{}",
            describe(&args, &output)
        );
        assert!(output.stderr.is_empty(), "{}", describe(&args, &output));
        assert!(!output.stdout.is_empty(), "{}", describe(&args, &output));
    }
}

fn a_missing_experiment_binary_is_one_line_and_leaves_no_run_folder() {
    let sandbox = Sandbox::new();
    let empty = sandbox.root.path().join("no-binaries");
    std::fs::create_dir(&empty).expect("mkdir");
    let args: Vec<String> = ["run", "anatomy", "--quick", "--out"]
        .iter()
        .map(|s| s.to_string())
        .chain([sandbox.out().display().to_string()])
        .collect();
    let output = sandbox
        .command(&args)
        .env("VMLAB_EXPERIMENTS_DIR", &empty)
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(2),
        "{}",
        describe(&args, &output)
    );
    assert_eq!(stderr.lines().count(), 1, "{}", describe(&args, &output));
    assert!(stderr.contains("not found"), "{}", describe(&args, &output));
    assert_eq!(Sandbox::entries(&sandbox.out()), Vec::<PathBuf>::new());
    assert_eq!(Sandbox::entries(&sandbox.tmp()), Vec::<PathBuf>::new());
}

/// A results.json whose figures are beyond anything measured (only a corrupt
/// or doctored file has them) is refused as implausible, one line and exit 2;
/// one whose every figure is at the largest plausible size is compared both
/// ways without an overflow (tests run with overflow checks on): the increase
/// is a regression (exit 1), the decrease a change that is reported but does
/// not fail (exit 0), as the comparison policy says.
fn a_results_file_with_a_huge_figure_is_compared_without_overflow() {
    let sandbox = Sandbox::new();
    let original = std::fs::read_to_string(FIXTURE).expect("fixture");
    let doctor = |figure: &str, every: bool| {
        let mut doctored = original.clone();
        for key in ["\"anonymous_bytes\": ", "\"rss_bytes\": ", "\"minor\": "] {
            let mut from = 0;
            while let Some(found) = doctored[from..].find(key) {
                let at = from + found + key.len();
                let end = at
                    + doctored[at..]
                        .find(|c: char| !c.is_ascii_digit())
                        .expect("end");
                doctored.replace_range(at..end, figure);
                from = at;
                if !every {
                    break;
                }
            }
        }
        doctored
    };
    let beyond = sandbox.inputs().join("beyond.json");
    std::fs::write(&beyond, doctor("18446744073709551615", false)).expect("write");
    let args: Vec<String> = ["compare", FIXTURE, &beyond.display().to_string()]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let output = sandbox.command(&args).output().expect("run");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(2),
        "{}",
        describe(&args, &output)
    );
    assert!(
        stderr.lines().count() == 1 && stderr.contains("beyond anything a machine measures"),
        "{}",
        describe(&args, &output)
    );
    let huge = sandbox.inputs().join("huge.json");
    std::fs::write(&huge, doctor("1152921504606846976", true)).expect("write");
    for (old, new, code) in [
        (FIXTURE.to_string(), huge.display().to_string(), 1),
        (huge.display().to_string(), FIXTURE.to_string(), 0),
    ] {
        for format in ["table", "markdown", "json", "tap"] {
            let args: Vec<String> = ["compare", &old, &new, "--format", format]
                .iter()
                .map(|s| s.to_string())
                .collect();
            let output = sandbox.command(&args).output().expect("run");
            assert_eq!(
                output.status.code(),
                Some(code),
                "{}",
                describe(&args, &output)
            );
            assert!(
                !String::from_utf8_lossy(&output.stderr).contains("panicked"),
                "{}",
                describe(&args, &output)
            );
        }
    }
}

/// A small pseudo-random sequence (xorshift), seeded from the clock and printed,
/// so that a failing trial can be repeated.
struct Random(u64);

impl Random {
    fn from_clock() -> Random {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64)
            | 1;
        println!("interrupt trials seeded with {seed}");
        Random(seed)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// The processes whose command line mentions `needle` (an experiment started
/// with `--dir <its scratch folder>` does).
pub(crate) fn processes_mentioning(needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let text = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if text.contains(needle) {
            found.push(format!("{}: {text}", entry.file_name().to_string_lossy()));
        }
    }
    found
}

/// Files in `dir`, at any depth.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for path in Sandbox::entries(dir) {
        if path.symlink_metadata().is_ok_and(|m| m.is_dir()) {
            files.push(path.clone());
            files.extend(files_under(&path));
        } else {
            files.push(path);
        }
    }
    files
}

/// What a results folder must look like whatever stopped its runs: every run
/// folder holds a results.json that parses, and nothing unfinished is left.
fn assert_results_whole(out: &Path, context: &str) {
    for entry in Sandbox::entries(out) {
        let name = entry.file_name().unwrap().to_string_lossy().into_owned();
        if name == "latest" {
            continue;
        }
        let json = entry.join("results.json");
        let text = std::fs::read_to_string(&json)
            .unwrap_or_else(|e| panic!("{} has no results.json ({e}): {context}", entry.display()));
        serde_json::from_str::<serde_json::Value>(&text)
            .unwrap_or_else(|e| panic!("{} is torn ({e}): {context}", json.display()));
    }
    let unfinished: Vec<_> = files_under(out)
        .into_iter()
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            name.starts_with(".vmlab-") || name.ends_with(".partial")
        })
        .collect();
    assert!(
        unfinished.is_empty(),
        "unfinished files {unfinished:?}: {context}"
    );
}

pub(crate) fn wait_with_limit(
    child: &mut Child,
    limit: Duration,
) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return Some(status);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn interrupts_at_random_points_leave_no_process_no_temp_file_and_no_torn_result() {
    use nix::sys::signal::{kill, Signal};
    let mut random = Random::from_clock();
    let sandbox = Sandbox::new();
    let scratch = sandbox.tmp();
    let out = sandbox.out();
    let quick_run: Vec<String> = [
        "run",
        "fork-cow",
        "mmap-file",
        "many-processes",
        "--quick",
        "--size",
        "8MiB",
        "--count",
        "20",
        "--format",
        "json",
        "--out",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([
        out.display().to_string(),
        "--dir".into(),
        scratch.display().to_string(),
    ])
    .collect();
    // Three trials per signal, each stopped 50 ms to 2.5 s in; a quick run takes
    // about 2.5 s here, so some land in start-up, some mid-experiment.
    for signal in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGKILL] {
        for _ in 0..3 {
            let delay = Duration::from_millis(50 + random.below(2450));
            let context = format!("{signal} after {delay:?}");
            let mut child = sandbox
                .command(&quick_run)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn");
            std::thread::sleep(delay);
            let _ = kill(nix::unistd::Pid::from_raw(child.id() as i32), signal);
            let status = wait_with_limit(&mut child, Duration::from_secs(30))
                .unwrap_or_else(|| panic!("the harness did not end: {context}"));
            if signal != Signal::SIGKILL {
                // 0 when the run had finished before the signal came.
                assert!(
                    matches!(status.code(), Some(130) | Some(0)),
                    "{status}: {context}"
                );
                assert_eq!(
                    Sandbox::entries(&scratch),
                    Vec::<PathBuf>::new(),
                    "{context}"
                );
            }
            // The kernel delivers PR_SET_PDEATHSIG as the harness dies; give the
            // experiment's group a moment to go.
            let deadline = Instant::now() + Duration::from_secs(5);
            let mut orphans = processes_mentioning(&scratch.display().to_string());
            while !orphans.is_empty() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
                orphans = processes_mentioning(&scratch.display().to_string());
            }
            assert!(orphans.is_empty(), "orphans {orphans:?}: {context}");
            // The next run removes whatever a killed one left, and says so.
            let next: Vec<String> = ["run", "anatomy", "--quick", "--format", "json", "--out"]
                .iter()
                .map(|s| s.to_string())
                .chain([
                    out.display().to_string(),
                    "--dir".into(),
                    scratch.display().to_string(),
                ])
                .collect();
            let left_before = Sandbox::entries(&scratch);
            let output = sandbox.command(&next).output().expect("next run");
            assert_eq!(
                output.status.code(),
                Some(0),
                "{}",
                describe(&next, &output)
            );
            assert_eq!(
                Sandbox::entries(&scratch),
                Vec::<PathBuf>::new(),
                "{context}"
            );
            if !left_before.is_empty() {
                let stderr = String::from_utf8_lossy(&output.stderr);
                assert!(
                    stderr.contains("removed temporary folders"),
                    "left {left_before:?} but nothing said: {context}\n{}",
                    describe(&next, &output)
                );
            }
            assert_results_whole(&out, &context);
        }
    }
}

fn two_runs_started_together_with_one_out_get_a_folder_each() {
    let sandbox = Sandbox::new();
    let args: Vec<String> = ["run", "tiny-malloc", "--quick", "--format", "json", "--out"]
        .iter()
        .map(|s| s.to_string())
        .chain([sandbox.out().display().to_string()])
        .collect();
    let children: Vec<Child> = (0..3)
        .map(|_| {
            sandbox
                .command(&args)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn")
        })
        .collect();
    let outputs: Vec<Output> = children
        .into_iter()
        .map(|c| c.wait_with_output().expect("wait"))
        .collect();
    let mut folders: Vec<String> = Vec::new();
    for (output, n) in outputs.iter().zip(1..) {
        assert_eq!(output.status.code(), Some(0), "{}", describe(&args, output));
        let stderr = String::from_utf8_lossy(&output.stderr);
        let folder = stderr
            .lines()
            .find_map(|l| l.strip_prefix("results written to "))
            .unwrap_or_else(|| panic!("run {n}: {}", describe(&args, output)))
            .to_string();
        let json: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(Path::new(&folder).join("results.json")).expect("read"),
        )
        .expect("json");
        assert_eq!(
            json["experiments"].as_array().map(Vec::len),
            Some(1),
            "{folder}"
        );
        folders.push(folder);
    }
    folders.sort();
    folders.dedup();
    assert_eq!(folders.len(), 3, "{folders:?}");
}

/// A tmpfs mounted for one test, unmounted whatever happens.
struct Tmpfs {
    path: PathBuf,
}

impl Tmpfs {
    fn mount(path: &Path, size: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(path).ok()?;
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(path)
            .status()
            .ok()?;
        status.success().then(|| Tmpfs {
            path: path.to_path_buf(),
        })
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
    }
}

/// Writes an executable stand-in for `name` into `dir`.
pub(crate) fn fake_experiment(dir: &Path, name: &str, body: &str) {
    let path = dir.join(format!("vmlab-{name}"));
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).expect("write script");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

pub(crate) const READY: &str = "echo \"vmlab-protocol 1 ready pid=$$ page_size=4096\"; read go";

fn a_small_or_read_only_results_disk_is_refused_before_anything_runs() {
    skip_unless!(is_root(), "mounting a tmpfs needs root");
    let sandbox = Sandbox::new();
    let mount = sandbox.root.path().join("small");
    let Some(tmpfs) = Tmpfs::mount(&mount, "1m") else {
        crate::trials::skip("mount -t tmpfs failed (no CAP_SYS_ADMIN in this container?)");
    };
    let args: Vec<String> = vec![
        "run".into(),
        "anatomy".into(),
        "--quick".into(),
        "--out".into(),
        mount.join("out").display().to_string(),
    ];
    let output = sandbox.command(&args).output().expect("run");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(2),
        "{}",
        describe(&args, &output)
    );
    assert!(
        stderr.contains("free, and this run needs about"),
        "{}",
        describe(&args, &output)
    );
    assert_eq!(stderr.lines().count(), 1, "{}", describe(&args, &output));
    assert_eq!(Sandbox::entries(&mount.join("out")), Vec::<PathBuf>::new());
    Command::new("mount")
        .args(["-o", "remount,ro"])
        .arg(&tmpfs.path)
        .status()
        .expect("remount");
    let output = sandbox.command(&args).output().expect("run");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(2),
        "{}",
        describe(&args, &output)
    );
    assert!(
        stderr.contains("Read-only file system"),
        "{}",
        describe(&args, &output)
    );
    assert_eq!(stderr.lines().count(), 1, "{}", describe(&args, &output));
}

/// A run whose results disk fills up (or turns read-only) while its second
/// experiment runs: the first experiment's results are kept whole, nothing
/// unfinished is left, and one line says what happened and what to do.
fn disk_trouble_mid_run(trouble: &str, expected: &str) {
    let sandbox = Sandbox::new();
    let mount = sandbox.root.path().join("disk");
    // Room for the up-front check of two experiments (16 MiB) and a little more.
    let Some(_tmpfs) = Tmpfs::mount(&mount, "17m") else {
        crate::trials::skip("mount -t tmpfs failed (no CAP_SYS_ADMIN in this container?)");
    };
    let bins = sandbox.root.path().join("bins");
    std::fs::create_dir(&bins).expect("mkdir");
    std::os::unix::fs::symlink(
        real_experiments().join("vmlab-anatomy"),
        bins.join("vmlab-anatomy"),
    )
    .expect("link");
    let trouble = trouble.replace("{disk}", &mount.display().to_string());
    fake_experiment(
        &bins,
        "lazy-alloc",
        &format!("{READY}; {trouble}; echo 'vmlab-protocol 1 done'"),
    );
    let out = mount.join("out");
    let args: Vec<String> = vec![
        "run".into(),
        "anatomy".into(),
        "lazy-alloc".into(),
        "--quick".into(),
        "--format".into(),
        "json".into(),
        "--out".into(),
        out.display().to_string(),
    ];
    let output = sandbox
        .command(&args)
        .env("VMLAB_EXPERIMENTS_DIR", &bins)
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let last = stderr.lines().last().unwrap_or_default();
    assert_eq!(
        output.status.code(),
        Some(2),
        "{}",
        describe(&args, &output)
    );
    assert!(
        last.starts_with("harness: ") && last.contains(expected) && last.contains("are kept in"),
        "{}",
        describe(&args, &output)
    );
    assert!(
        !last.contains("os error 28): No space") && last.matches("os error").count() <= 1,
        "a cause is repeated: {last}"
    );
    let _ = Command::new("mount")
        .args(["-o", "remount,rw"])
        .arg(&mount)
        .status();
    let _ = std::fs::remove_file(mount.join("filler"));
    // A read-only disk kept the run's owner lock from being removed; the next
    // run, with room again, tidies it away.
    let next: Vec<String> = vec![
        "run".into(),
        "anatomy".into(),
        "--quick".into(),
        "--format".into(),
        "json".into(),
        "--out".into(),
        out.display().to_string(),
    ];
    let again = sandbox
        .command(&next)
        .env("VMLAB_EXPERIMENTS_DIR", &bins)
        .output()
        .expect("run");
    assert_eq!(again.status.code(), Some(0), "{}", describe(&next, &again));
    assert_results_whole(&out, "after the disk trouble and one more run");
    let kept = stderr
        .split("are kept in ")
        .nth(1)
        .and_then(|rest| rest.split(';').next())
        .expect("the kept folder is named");
    // A folder whose owner record could not be removed (read-only disk) was
    // tidied by the next run: marked partial, as it is.
    let partial = PathBuf::from(format!("{kept}-partial"));
    let kept = if partial.is_dir() {
        partial
    } else {
        PathBuf::from(kept)
    };
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(kept.join("results.json")).expect("read"))
            .expect("json");
    assert_eq!(json["experiments"][0]["name"], "anatomy");
    assert_eq!(json["experiments"].as_array().map(Vec::len), Some(1));
}

fn a_disk_that_fills_mid_run_keeps_the_complete_results_and_says_what_to_free() {
    skip_unless!(is_root(), "mounting a tmpfs needs root");
    disk_trouble_mid_run(
        "dd if=/dev/zero of={disk}/filler bs=1M 2>/dev/null",
        "free at least",
    );
}

fn a_disk_remounted_read_only_mid_run_keeps_the_complete_results() {
    skip_unless!(is_root(), "mounting a tmpfs needs root");
    disk_trouble_mid_run("mount -o remount,ro {disk}", "became read-only");
}

fn another_user_without_write_access_gets_one_line_before_anything_runs() {
    skip_unless!(is_root(), "switching to nobody with setpriv needs root");
    let has_setpriv = Command::new("setpriv").arg("--version").output().is_ok();
    skip_unless!(has_setpriv, "setpriv (util-linux) is not installed");
    let sandbox = Sandbox::new();
    // Root's folder, 0755: nobody may look but not write.
    let theirs = sandbox.root.path().join("theirs");
    std::fs::create_dir(&theirs).expect("mkdir");
    std::fs::set_permissions(sandbox.root.path(), std::fs::Permissions::from_mode(0o755))
        .expect("chmod");
    std::fs::set_permissions(sandbox.tmp(), std::fs::Permissions::from_mode(0o777)).expect("chmod");
    for (args, expected) in [
        (
            vec![
                "run",
                "anatomy",
                "--quick",
                "--out",
                theirs.to_str().unwrap(),
            ],
            "pass --out with a writable folder",
        ),
        (
            vec![
                "run",
                "anatomy",
                "--quick",
                "--dir",
                theirs.to_str().unwrap(),
                "--out",
                sandbox.tmp().to_str().unwrap(),
            ],
            "pass --dir with a writable folder",
        ),
    ] {
        let mut full = vec!["--reuid=nobody", "--regid=nogroup", "--clear-groups"];
        let bin = harness_bin();
        full.push(bin.to_str().unwrap());
        full.extend(&args);
        let output = Command::new("setpriv")
            .args(&full)
            .env("TMPDIR", sandbox.tmp())
            .env("VMLAB_EXPERIMENTS_DIR", real_experiments())
            .stdin(Stdio::null())
            .output()
            .expect("setpriv");
        let full: Vec<String> = full.iter().map(|s| s.to_string()).collect();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(
            output.status.code(),
            Some(2),
            "{}",
            describe(&full, &output)
        );
        assert!(
            stderr.contains(expected) && stderr.contains("Permission denied"),
            "{}",
            describe(&full, &output)
        );
        assert_eq!(stderr.lines().count(), 1, "{}", describe(&full, &output));
        assert_eq!(Sandbox::entries(&theirs), Vec::<PathBuf>::new());
    }
}

/// A memory cgroup made for one test under the harness's own, removed after.
struct TestCgroup {
    dir: PathBuf,
}

impl TestCgroup {
    fn create(limit_bytes: u64) -> Option<TestCgroup> {
        let cgroup = harness::system::MemoryCgroup::detect()?;
        let dir = cgroup
            .dir
            .join(format!("vmlab-test-{}", std::process::id()));
        std::fs::create_dir(&dir).ok()?;
        let made = TestCgroup { dir };
        let (limit_file, swap_file) = if cgroup.version == 1 {
            ("memory.limit_in_bytes", "memory.memsw.limit_in_bytes")
        } else {
            ("memory.max", "memory.swap.max")
        };
        std::fs::write(made.dir.join(limit_file), limit_bytes.to_string()).ok()?;
        // No swap to escape into (the file is absent without swap accounting).
        let _ = std::fs::write(made.dir.join(swap_file), limit_bytes.to_string());
        Some(made)
    }
}

impl Drop for TestCgroup {
    fn drop(&mut self) {
        for _ in 0..50 {
            if std::fs::remove_dir(&self.dir).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

fn a_variant_killed_by_the_oom_killer_says_so_and_the_limit_is_recorded() {
    skip_unless!(is_root(), "making a memory cgroup needs root");
    let limit = 96 << 20;
    let Some(cgroup) = TestCgroup::create(limit) else {
        crate::trials::skip(
            "no writable memory cgroup (v1 memory or v2 with the memory controller)",
        );
    };
    let sandbox = Sandbox::new();
    let bins = sandbox.root.path().join("bins");
    std::fs::create_dir(&bins).expect("mkdir");
    // The experiment becomes dd, which fills a 400 MiB buffer from /dev/zero:
    // four times the limit, every page touched.
    fake_experiment(
        &bins,
        "anatomy",
        &format!("{READY}; exec dd if=/dev/zero of=/dev/null bs=400M count=1 2>/dev/null"),
    );
    let args: Vec<String> = ["run", "anatomy", "--quick", "--format", "json", "--out"]
        .iter()
        .map(|s| s.to_string())
        .chain([sandbox.out().display().to_string()])
        .collect();
    // The harness enters the cgroup before it starts (and its experiment with it).
    let output = Command::new("sh")
        .arg("-c")
        .arg("echo $$ > \"$1\"/cgroup.procs && shift && exec \"$@\"")
        .arg("sh")
        .arg(&cgroup.dir)
        .arg(harness_bin())
        .args(&args)
        .env("TMPDIR", sandbox.tmp())
        .env("VMLAB_EXPERIMENTS_DIR", &bins)
        .stdin(Stdio::null())
        .output()
        .expect("run");
    assert_eq!(
        output.status.code(),
        Some(1),
        "{}",
        describe(&args, &output)
    );
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!(
        json["environment"]["cgroup_memory_max_bytes"].as_u64(),
        Some(limit),
        "{}",
        describe(&args, &output)
    );
    let reason = json["experiments"][0]["variants"][0]["reason"]
        .as_str()
        .unwrap_or_default();
    assert!(
        reason.contains("OOM killer"),
        "{reason}\n{}",
        describe(&args, &output)
    );
    assert_eq!(Sandbox::entries(&sandbox.tmp()), Vec::<PathBuf>::new());
}

/// Under `ulimit -v 4G` the overcommit attempts are refused by the limit, not
/// by the kernel's policy: the claims on the policy say inconclusive and name
/// the limit, where they were refuted.
fn an_address_space_limit_makes_the_overcommit_claims_inconclusive_and_named() {
    let sandbox = Sandbox::new();
    let args: Vec<String> = [
        "run",
        "lazy-alloc/thp-off",
        "--quick",
        "--format",
        "json",
        "--out",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([sandbox.out().display().to_string()])
    .collect();
    let output = Command::new("sh")
        .arg("-c")
        .arg("ulimit -v 4194304 && exec \"$@\"")
        .arg("sh")
        .arg(harness_bin())
        .args(&args)
        .env("TMPDIR", sandbox.tmp())
        .env("VMLAB_EXPERIMENTS_DIR", real_experiments())
        .stdin(Stdio::null())
        .output()
        .expect("run");
    let json: serde_json::Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", describe(&args, &output)));
    let claims = json["experiments"][0]["claims"].as_array().expect("claims");
    let overcommit: Vec<_> = claims
        .iter()
        .filter(|c| {
            c["id"].as_str().is_some_and(|id| {
                id.contains("overcommit") || id == "default-kernel-lets-a-process-map-more-than-ram"
            })
        })
        .collect();
    assert_eq!(overcommit.len(), 4, "{}", describe(&args, &output));
    for c in overcommit {
        let evidence = c["evidence"].as_str().unwrap_or_default();
        assert_eq!(c["verdict"], "inconclusive", "{c}");
        assert!(
            evidence.contains("ulimit -v")
                || evidence.contains("precondition not met: this machine runs"),
            "{c}"
        );
    }
    let named = claims.iter().any(|c| {
        c["evidence"]
            .as_str()
            .is_some_and(|e| e.contains("ulimit -v, RLIMIT_AS) is 4.0 GiB"))
    });
    assert!(
        named,
        "the limit is not named: {}",
        describe(&args, &output)
    );
}

crate::tests![
    every_bad_input_is_one_line_and_exit_2_and_leaves_nothing,
    help_and_version_print_normally_and_exit_0,
    a_missing_experiment_binary_is_one_line_and_leaves_no_run_folder,
    a_results_file_with_a_huge_figure_is_compared_without_overflow,
    interrupts_at_random_points_leave_no_process_no_temp_file_and_no_torn_result,
    two_runs_started_together_with_one_out_get_a_folder_each,
    a_small_or_read_only_results_disk_is_refused_before_anything_runs,
    a_disk_that_fills_mid_run_keeps_the_complete_results_and_says_what_to_free,
    a_disk_remounted_read_only_mid_run_keeps_the_complete_results,
    another_user_without_write_access_gets_one_line_before_anything_runs,
    a_variant_killed_by_the_oom_killer_says_so_and_the_limit_is_recorded,
    an_address_space_limit_makes_the_overcommit_claims_inconclusive_and_named,
];
