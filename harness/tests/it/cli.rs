//! The command line: help, listing, and bad input.

use std::process::Command;

use crate::util::{harness_bin, HarnessRun};

fn run(args: &[&str]) -> std::process::Output {
    Command::new(harness_bin())
        .args(args)
        .output()
        .expect("run the harness")
}

fn assert_one_line_error(output: &std::process::Output, needle: &str) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "stderr: {stderr}");
    assert!(stderr.contains(needle), "expected {needle:?} in: {stderr}");
    assert!(!stderr.contains("panicked"), "a panic: {stderr}");
}

fn help_explains_the_commands_and_exit_codes() {
    let output = run(&["--help"]);
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success());
    for word in ["all", "run", "list", "Exit status"] {
        assert!(text.contains(word), "no {word:?} in help:\n{text}");
    }
}

fn list_names_every_experiment() {
    let output = run(&["list"]);
    assert!(output.status.success());
    let text = String::from_utf8_lossy(&output.stdout);
    for e in experiments::CATALOG {
        assert!(text.contains(e.name), "{} missing from:\n{text}", e.name);
    }
}

fn unknown_experiment_exits_with_code_2() {
    let output = run(&["run", "no-such-thing"]);
    assert_one_line_error(&output, "unknown experiment 'no-such-thing'");
}

fn bad_format_exits_with_code_2() {
    let output = run(&["run", "mmap-file", "--format", "yaml"]);
    assert_one_line_error(&output, "yaml");
}

fn bad_size_exits_with_code_2() {
    let output = run(&["run", "mmap-file", "--size", "lots"]);
    assert_one_line_error(&output, "not a size");
}

fn unwritable_out_exits_with_code_2() {
    let file = tempfile::NamedTempFile::new().expect("temp file");
    let out = file.path().join("results");
    let output = run(&[
        "run",
        "mmap-file",
        "--quick",
        "--out",
        &out.display().to_string(),
    ]);
    assert_one_line_error(&output, "--out");
}

fn missing_temp_dir_exits_with_code_2() {
    let output = run(&["run", "mmap-file", "--quick", "--dir", "/nonexistent/vmlab"]);
    assert_one_line_error(&output, "--dir");
}

fn a_temp_dir_without_room_skips_the_experiment_with_a_reason() {
    // 1 TiB does not fit in any temp dir this suite runs on; the plan skips before
    // writing anything.
    let run = HarnessRun::new(&["run", "mmap-file", "--size", "1024GiB", "--format", "json"]);
    // The only experiment was skipped: kselftest's KSFT_SKIP.
    run.assert_code(4);
    let json = run.json();
    assert_eq!(
        json["experiments"][0]["status"],
        "skipped",
        "{}",
        run.describe()
    );
    let reason = json["experiments"][0]["reason"]
        .as_str()
        .unwrap_or_default();
    assert!(reason.contains("free"), "{reason}");
    run.assert_scratch_empty();
}

crate::tests![
    help_explains_the_commands_and_exit_codes,
    list_names_every_experiment,
    unknown_experiment_exits_with_code_2,
    bad_format_exits_with_code_2,
    bad_size_exits_with_code_2,
    unwritable_out_exits_with_code_2,
    missing_temp_dir_exits_with_code_2,
    a_temp_dir_without_room_skips_the_experiment_with_a_reason,
];
