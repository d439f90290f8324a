//! vmlab as a kernel gate under `git bisect run`: every usage mistake stops
//! the bisection (128) instead of blaming the commit under test, and a real
//! bisection in a throwaway repository reads 0 as good, 1 as bad, 125 as
//! "cannot test" and 128 as "stop".

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use crate::util::{harness_bin, HarnessRun};

const READY: &str = "echo \"vmlab-protocol 1 ready pid=$$ page_size=4096\"; read go";

// Under --bisect, exit 2 would read as "bad": a typo would blame a commit.
fn every_usage_mistake_under_bisect_exits_128_and_2_without() {
    let mistakes: [&[&str]; 6] = [
        &["--szie", "64MiB"],
        &["--size", "99QB"],
        &["--count", "-5"],
        &["--frobnicate"],
        &["--repeat", "0"],
        &["--tolerance", "memory=lots"],
    ];
    for mistake in mistakes {
        let mut args = vec!["run", "mmap-file", "--quick", "--bisect"];
        args.extend_from_slice(mistake);
        let run = HarnessRun::new(&args);
        run.assert_code(128);
        let stderr = String::from_utf8_lossy(&run.output.stderr);
        assert!(
            stderr.starts_with("harness: ")
                && stderr.contains("--bisect: exit 128, which stops git bisect run"),
            "{}",
            run.describe()
        );
        let without: Vec<&str> = args.iter().copied().filter(|a| *a != "--bisect").collect();
        HarnessRun::new(&without).assert_code(2);
    }
    // The verbosity flags are checked before the command: the same rule.
    HarnessRun::new(&["-q", "-v", "run", "mmap-file", "--bisect"]).assert_code(128);
    // A `--bisect` after `--` is not the flag.
    HarnessRun::new(&["trace", "--szie", "--", "x", "--bisect"]).assert_code(2);
}

/// A throwaway repository whose commits each hold a stand-in
/// `vmlab-mmap-file`: `real` runs the real experiment, `skip` skips every
/// variant, `crash` exits 7 after start. Returns each commit's hash.
fn repository(dir: &Path, commits: &[(&str, &str)]) -> Vec<String> {
    let real = harness_bin()
        .parent()
        .expect("target folder")
        .join("vmlab-mmap-file");
    let git = |args: &[&str]| {
        let out = Command::new("git")
            .args(args)
            .current_dir(dir)
            .env("GIT_AUTHOR_NAME", "demo")
            .env("GIT_AUTHOR_EMAIL", "demo@example.invalid")
            .env("GIT_COMMITTER_NAME", "demo")
            .env("GIT_COMMITTER_EMAIL", "demo@example.invalid")
            .output()
            .expect("run git");
        assert!(out.status.success(), "git {args:?}: {out:?}");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    git(&["init", "-q", "-b", "main"]);
    let mut hashes = Vec::new();
    for (kind, message) in commits {
        let body = match *kind {
            "real" => format!("exec {} \"$@\"", real.display()),
            "skip" => format!("{READY}; echo 'vmlab-protocol 1 skip no disk here'"),
            "crash" => format!("{READY}; echo 'out of cheese' >&2; exit 7"),
            other => panic!("no stand-in {other}"),
        };
        let path = dir.join("vmlab-mmap-file");
        std::fs::write(&path, format!("#!/bin/sh\n# {message}\n{body}\n")).expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        git(&["add", "vmlab-mmap-file"]);
        git(&["commit", "-q", "-m", message]);
        hashes.push(git(&["rev-parse", "HEAD"]));
    }
    hashes
}

/// `git bisect start BAD GOOD` then `git bisect run` of the harness with
/// `extra` arguments; git's output.
fn bisect(dir: &Path, bad: &str, good: &str, extra: &str) -> (bool, String) {
    let out_dir = tempfile::tempdir().expect("temp dir");
    let scratch = tempfile::tempdir().expect("temp dir");
    let start = Command::new("git")
        .args(["bisect", "start", bad, good])
        .current_dir(dir)
        .output()
        .expect("git bisect start");
    assert!(start.status.success(), "{start:?}");
    let script = format!(
        "VMLAB_EXPERIMENTS_DIR=$PWD {} run mmap-file/warm --quick --bisect --format json --out {} --dir {} {extra} > /dev/null",
        harness_bin().display(),
        out_dir.path().display(),
        scratch.path().display()
    );
    let run = Command::new("git")
        .args(["bisect", "run", "sh", "-c", &script])
        .current_dir(dir)
        .output()
        .expect("git bisect run");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    let _ = Command::new("git")
        .args(["bisect", "reset", "-q"])
        .current_dir(dir)
        .output();
    assert!(
        std::fs::read_dir(scratch.path())
            .expect("scratch")
            .next()
            .is_none(),
        "temporary files left behind\n{text}"
    );
    (run.status.success(), text)
}

fn git_bisect_run_reads_good_bad_cannot_test_and_stop_from_the_harness() {
    if Command::new("git").arg("--version").output().is_err() {
        assert!(
            !std::env::var("CI").is_ok_and(|v| v == "true"),
            "git missing under CI; .ci/run installs it"
        );
        crate::trials::skip("git is not installed");
    }
    // The real experiment binaries, built by a first run.
    HarnessRun::new(&["run", "mmap-file/warm", "--quick"]).assert_code(0);

    // 0 good and 1 bad: the first crashing commit is found.
    let dir = tempfile::tempdir().expect("temp dir");
    let c = repository(
        dir.path(),
        &[
            ("real", "the real mmap-file"),
            ("real", "the real mmap-file again"),
            ("crash", "crashes after ready"),
            ("crash", "still crashes"),
        ],
    );
    let (ok, text) = bisect(dir.path(), &c[3], &c[0], "");
    assert!(ok, "{text}");
    assert!(
        text.contains(&format!("{} is the first bad commit", c[2])),
        "{text}"
    );
    assert!(text.contains("bisect: exit 0, good"), "{text}");
    assert!(text.contains("bisect: exit 1, bad"), "{text}");

    // 125: a commit that skips every variant cannot be tested, and git says so.
    let dir = tempfile::tempdir().expect("temp dir");
    let c = repository(
        dir.path(),
        &[
            ("real", "the real mmap-file"),
            ("skip", "skips every variant"),
            ("crash", "crashes after ready"),
        ],
    );
    let (_, text) = bisect(dir.path(), &c[2], &c[0], "");
    assert!(text.contains("bisect: exit 125, cannot test"), "{text}");
    assert!(
        text.contains("only 'skip'ped commits left to test"),
        "git took 125 as skip:\n{text}"
    );
    assert!(!text.contains("is the first bad commit"), "{text}");

    // 128: a typo in the command stops the bisection, blaming no commit.
    let dir = tempfile::tempdir().expect("temp dir");
    let c = repository(
        dir.path(),
        &[
            ("real", "the real mmap-file"),
            ("real", "the real mmap-file again"),
            ("crash", "crashes after ready"),
        ],
    );
    let (ok, text) = bisect(dir.path(), &c[2], &c[0], "--szie 8MiB");
    assert!(!ok, "{text}");
    assert!(text.contains("--bisect: exit 128"), "{text}");
    assert!(text.contains("bisect run failed"), "{text}");
    assert!(!text.contains("is the first bad commit"), "{text}");
}

// A baseline of one run has no spread: identical runs' noise would fail.
fn a_saved_baseline_repeats_every_variant_3_times_unless_told() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("b.json");
    let path = file.to_str().expect("utf-8");
    HarnessRun::new(&[
        "run",
        "tiny-malloc",
        "--quick",
        "--save-baseline-file",
        path,
    ])
    .assert_code(0);
    let saved: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&file).expect("baseline")).expect("json");
    assert_eq!(saved["repeats"]["count"], 3, "{:#}", saved["repeats"]);
    assert!(!saved["repeats"]["spread"]
        .as_array()
        .expect("spread")
        .is_empty());
    HarnessRun::new(&[
        "run",
        "tiny-malloc",
        "--quick",
        "--repeat",
        "1",
        "--save-baseline-file",
        path,
    ])
    .assert_code(0);
    let saved: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&file).expect("baseline")).expect("json");
    assert!(saved.get("repeats").is_none(), "{saved:#}");
}

// What reproduces a run is in results.json, never null, and a difference in it
// is an environment difference of the comparison.
fn provenance_is_recorded_and_compared_as_the_environment() {
    let run = HarnessRun::new(&["run", "tiny-malloc", "--quick", "--format", "json"]);
    run.assert_code(0);
    let json = run.json();
    let p = &json["provenance"];
    for field in [
        "vmlab_version",
        "vmlab_git_commit",
        "command_line",
        "kernel_cmdline",
        "kernel_config",
        "kernel_compiler",
        "swappiness",
        "zswap",
        "mglru",
        "ksm",
        "numa_nodes",
    ] {
        let value = p[field]
            .as_str()
            .unwrap_or_else(|| panic!("{field}: {p:#}"));
        assert!(!value.is_empty(), "{field}: {p:#}");
    }
    assert!(
        p["command_line"]
            .as_str()
            .unwrap()
            .contains("run tiny-malloc --quick --format json"),
        "{p:#}"
    );
    assert_eq!(
        p["swappiness"].as_str().unwrap(),
        std::fs::read_to_string("/proc/sys/vm/swappiness")
            .expect("swappiness")
            .trim()
    );
    let vmstat = &json["experiments"][0]["variants"][0]["checkpoints"][0]["system"]["vmstat"];
    assert!(vmstat["pgmajfault"].is_u64(), "{vmstat:#}");

    let dir = tempfile::tempdir().expect("temp dir");
    let old = dir.path().join("old.json");
    let new = dir.path().join("new.json");
    std::fs::write(&old, serde_json::to_vec(&json).unwrap()).unwrap();
    let mut changed = json.clone();
    changed["provenance"]["kernel_cmdline"] = "quiet transparent_hugepage=never".into();
    changed["provenance"]["command_line"] = "harness run tiny-malloc --baseline x".into();
    std::fs::write(&new, serde_json::to_vec(&changed).unwrap()).unwrap();
    let cmp = Command::new(harness_bin())
        .arg("compare")
        .args([&old, &new])
        .args(["--format", "json"])
        .output()
        .expect("run compare");
    assert_eq!(cmp.status.code(), Some(0), "{cmp:?}");
    let cmp: serde_json::Value = serde_json::from_slice(&cmp.stdout).expect("json");
    let fields: Vec<String> = cmp["environment"]
        .as_array()
        .expect("environment")
        .iter()
        .map(|e| e["field"].as_str().unwrap().to_string())
        .collect();
    assert!(fields.contains(&"kernel_cmdline".to_string()), "{fields:?}");
    assert!(!fields.contains(&"command_line".to_string()), "{fields:?}");
}

crate::tests![
    every_usage_mistake_under_bisect_exits_128_and_2_without,
    git_bisect_run_reads_good_bad_cannot_test_and_stop_from_the_harness,
    a_saved_baseline_repeats_every_variant_3_times_unless_told,
    provenance_is_recorded_and_compared_as_the_environment,
];
