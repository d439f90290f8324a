//! Experiments that crash, hang or break the protocol are marked failed, the run
//! goes on and exits 1, and nothing is left behind. Stand-in experiment binaries
//! (shell scripts) play the misbehaving part.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::util::HarnessRun;

/// Writes an executable `mmap-file` script into `dir`.
fn fake_experiment(dir: &Path, body: &str) {
    let path = dir.join("vmlab-mmap-file");
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).expect("write script");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

const READY: &str = "echo \"vmlab-protocol 1 ready pid=$$ page_size=4096\"; read go";

fn run_with(body: &str, extra: &[&str]) -> HarnessRun {
    let bins = tempfile::tempdir().expect("temp dir");
    fake_experiment(bins.path(), body);
    let mut args = vec!["run", "mmap-file", "--quick", "--format", "json"];
    args.extend(extra);
    HarnessRun::with_env(&args, &[("VMLAB_EXPERIMENTS_DIR", bins.path())])
}

fn first_variant_reason(run: &HarnessRun) -> String {
    let json = run.json();
    assert_eq!(
        json["experiments"][0]["status"],
        "failed",
        "{}",
        run.describe()
    );
    json["experiments"][0]["variants"][0]["reason"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn a_crashing_experiment_is_failed_with_its_stderr() {
    let run = run_with(&format!("{READY}; echo 'out of cheese' >&2; exit 7"), &[]);
    run.assert_code(1);
    let reason = first_variant_reason(&run);
    assert!(reason.contains("out of cheese"), "{reason}");
    run.assert_scratch_empty();
}

fn a_hanging_experiment_times_out_and_is_killed() {
    let run = run_with(&format!("{READY}; sleep 600"), &["--timeout", "1"]);
    run.assert_code(1);
    let reason = first_variant_reason(&run);
    assert!(reason.contains("timed out"), "{reason}");
    run.assert_scratch_empty();
}

fn a_protocol_violation_is_failed_naming_the_line() {
    let run = run_with(&format!("{READY}; echo 'hello there'"), &[]);
    run.assert_code(1);
    let reason = first_variant_reason(&run);
    assert!(reason.contains("hello there"), "{reason}");
}

fn a_skipping_experiment_is_recorded_with_its_reason() {
    let run = run_with(
        &format!("{READY}; echo 'vmlab-protocol 1 skip no disk here'"),
        &[],
    );
    // Every variant skipped: nothing ran, so kselftest's KSFT_SKIP.
    run.assert_code(4);
    let json = run.json();
    let variant = &json["experiments"][0]["variants"][0];
    assert_eq!(variant["status"], "skipped");
    assert_eq!(variant["reason"], "no disk here");
}

fn ctrl_c_leaves_no_process_and_no_temp_file_behind() {
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};

    let bins = tempfile::tempdir().expect("temp dir");
    // The stand-in writes a file into its --dir and its pid beside it, then waits
    // as if in a long phase.
    fake_experiment(
        bins.path(),
        &format!(
            "{READY}\nwhile [ $# -gt 0 ]; do [ \"$1\" = --dir ] && dir=$2; shift; done\n\
             head -c 1048576 /dev/zero > \"$dir/data\"; echo $$ > \"$dir/pid\"; sleep 600"
        ),
    );
    let out = tempfile::tempdir().expect("temp dir");
    let scratch = tempfile::tempdir().expect("temp dir");
    let harness = Command::new(crate::util::harness_bin())
        .args(["run", "mmap-file", "--quick", "--out"])
        .arg(out.path())
        .arg("--dir")
        .arg(scratch.path())
        .env("VMLAB_EXPERIMENTS_DIR", bins.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the harness");

    let deadline = Instant::now() + Duration::from_secs(60);
    let pid_file = loop {
        let found = std::fs::read_dir(scratch.path())
            .expect("read scratch")
            .filter_map(|e| e.ok())
            .map(|e| e.path().join("pid"))
            .find(|p| std::fs::read_to_string(p).is_ok_and(|t| t.ends_with('\n')));
        if let Some(p) = found {
            break p;
        }
        assert!(
            Instant::now() < deadline,
            "the stand-in experiment never started"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let experiment_pid: i32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();

    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(harness.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .expect("send SIGINT");
    let output = harness.wait_with_output().expect("wait for the harness");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(130), "stderr: {stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    let left: Vec<_> = std::fs::read_dir(scratch.path()).unwrap().collect();
    assert!(left.is_empty(), "left behind: {left:?}");
    // The experiment (and its sleeping child) were killed and reaped.
    let alive = std::path::Path::new(&format!("/proc/{experiment_pid}")).exists();
    assert!(!alive, "experiment process {experiment_pid} survived");
}

crate::tests![
    a_crashing_experiment_is_failed_with_its_stderr,
    a_hanging_experiment_times_out_and_is_killed,
    a_protocol_violation_is_failed_naming_the_line,
    a_skipping_experiment_is_recorded_with_its_reason,
    ctrl_c_leaves_no_process_and_no_temp_file_behind,
];
